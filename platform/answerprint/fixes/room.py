"""Fix messages in a review room: a drawn region becomes a request without leaving the room, and a
proposal is decided or promoted from where it is being looked at.

The review consumer dispatches on its MESSAGES table; `register()` (called when the app is ready)
adds these types to it. Client to server:

  fix.request  {op, request: {version?, kind, params?, mask_annotation?, frame_in?, frame_out?,
                reference_shot?, replacement_version?, performer?, reason}}      needs request_fix
               `version` defaults to the room's version; `op` makes a retried send one request.
  fix.decide   {op, proposal, outcome, meaning?, password?, second_factor?, record_hash?, reason?, acknowledge_warning?,
                follow_up?: {params?, frame_in?, frame_out?, mask_annotation?}}   needs decide
  fix.promote  {op, proposal, reason?}                                             needs ingest
  fix.cancel   {op, request, reason?}                                              needs request_fix

Server to client: `fix.ack {op, in, ...result}` to the sender; a refusal is the room's usual
`error` frame (invalid, forbidden, not_found, and `conflict` when someone else decided first).
Everyone in the room then gets the stored events fix.request.created, fix.job.changed,
fix.proposal.ready, fix.decision.made, fix.proposal.promoted and the live fix.job.progress.
"""
from dataclasses import dataclass

from rest_framework import serializers

from . import inputs, services
from .errors import Conflict
from .models import FixRequest, Origin, Proposal
from .serializers import DecisionInputSerializer, FixRequestInputSerializer

_OP = r"^[A-Za-z0-9._:-]{1,64}$"


class RoomRequestSerializer(FixRequestInputSerializer):
    source_version = None
    op = None
    version = serializers.IntegerField(required=False, help_text="The version to fix; the room's own by default.")


class FixRequestMessage(serializers.Serializer):
    op = serializers.RegexField(_OP)
    request = RoomRequestSerializer()


class FixDecideMessage(DecisionInputSerializer):
    op = serializers.RegexField(_OP)
    proposal = serializers.IntegerField()


class FixPromoteMessage(serializers.Serializer):
    op = serializers.RegexField(_OP)
    proposal = serializers.IntegerField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class FixCancelMessage(serializers.Serializer):
    op = serializers.RegexField(_OP)
    request = serializers.IntegerField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)


@dataclass(frozen=True)
class RoomAction:
    """What the review consumer needs to dispatch a message type (the shape of its own specs)."""

    schema: type
    handler: object
    capability: str
    live: bool = False


def _room_production(consumer):
    return consumer.room.production


def _version_in_room(consumer, version_id):
    if version_id is None:
        if len(consumer.version_ids) != 1:
            raise serializers.ValidationError({"version": "Name the version of the playlist this is about."})
        version_id = next(iter(consumer.version_ids))
    if version_id not in consumer.version_ids:
        raise serializers.ValidationError({"version": "Not a version of this room."})
    return inputs.version_in(_room_production(consumer), version_id, "version")


def _proposal_in_room(consumer, proposal_id):
    """A proposal shown in this room: its own version, or the version it was made from."""
    return (Proposal.objects.select_related("request__production", "version__shot__production")
            .filter(pk=proposal_id, request__production=consumer.room.production_id)
            .filter(version_id__in=consumer.version_ids)
            .first()) or (Proposal.objects.select_related("request__production", "version__shot__production")
                          .get(pk=proposal_id, request__production=consumer.room.production_id,
                               request__source_version_id__in=consumer.version_ids))


async def _run(consumer, capability, kind, op, fn):
    """Apply `fn` through the consumer's checked database hop; a Conflict becomes an error frame
    the client can act on (everything else the consumer already turns into error frames)."""
    try:
        result = await consumer._db(capability, fn)
    except serializers.ValidationError as error:
        await consumer.error("invalid", str(error.detail), kind=kind, ref=op, errors=error.detail)
        return
    except Conflict as error:
        await consumer.error("conflict", error.message, kind=kind, ref=op, state=error.current_state)
        return
    await consumer.send_frame({"type": "fix.ack", "op": op, "in": kind, **result})


async def on_fix_request(consumer, data, capability):
    fields = dict(data["request"])

    def apply():
        production = _room_production(consumer)
        version = _version_in_room(consumer, fields.pop("version", None))
        arguments = inputs.request_arguments(production, {**fields, "source_version": version.pk})
        arguments["client_op"] = data["op"]
        fix = services.request_fix(actor=consumer.user, origin=Origin.ROOM, **arguments)
        job = fix.jobs.order_by("-pk").first()
        return {"request": fix.pk, "state": fix.state, "job": job.pk if job else None, "duplicate": fix.duplicate}

    await _run(consumer, capability, "fix.request", data["op"], apply)


async def on_fix_decide(consumer, data, capability):
    def apply():
        proposal = _proposal_in_room(consumer, data["proposal"])
        decision = services.decide_proposal(
            actor=consumer.user, proposal=proposal, outcome=data["outcome"], meaning=data.get("meaning", ""),
            password=data.get("password", ""), second_factor=data.get("second_factor", ""),
            record_hash=data.get("record_hash", ""), reason=data.get("reason", ""),
            follow_up=inputs.follow_up_arguments(proposal.request.production, data.get("follow_up")),
            origin=Origin.ROOM, acknowledge_warning=data.get("acknowledge_warning", False))
        proposal.refresh_from_db()
        return {"proposal": proposal.pk, "state": proposal.state, "decision": decision.pk,
                "outcome": decision.outcome, "meaning": decision.meaning, "manifestation": decision.manifestation,
                "signature_hash": decision.signature_hash, "follow_up": decision.follow_up_id}

    await _run(consumer, capability, "fix.decide", data["op"], apply)


async def on_fix_promote(consumer, data, capability):
    def apply():
        proposal = _proposal_in_room(consumer, data["proposal"])
        delivery = services.promote_to_delivery(actor=consumer.user, version=proposal.version,
                                                reason=data.get("reason", ""))
        return {"proposal": proposal.pk, "delivery_version": delivery.pk, "number": delivery.number}

    await _run(consumer, capability, "fix.promote", data["op"], apply)


async def on_fix_cancel(consumer, data, capability):
    def apply():
        fix = FixRequest.objects.select_related("production", "shot").get(
            pk=data["request"], production=consumer.room.production_id, source_version_id__in=consumer.version_ids)
        fix = services.cancel_fix_request(actor=consumer.user, fix=fix, reason=data.get("reason", ""))
        return {"request": fix.pk, "state": fix.state}

    await _run(consumer, capability, "fix.cancel", data["op"], apply)


MESSAGES = {
    "fix.request": RoomAction(FixRequestMessage, on_fix_request, "request_fix"),
    "fix.decide": RoomAction(FixDecideMessage, on_fix_decide, "decide"),
    "fix.promote": RoomAction(FixPromoteMessage, on_fix_promote, "ingest"),
    "fix.cancel": RoomAction(FixCancelMessage, on_fix_cancel, "request_fix"),
}


def register():
    """Add the fix messages to the review rooms' dispatch table (once the review app exists)."""
    try:
        from answerprint.review import consumers
    except ImportError:
        return
    consumers.MESSAGES.update(MESSAGES)
