"""Fix requests, decisions and promotion from a review room, through the real ASGI stack."""
import pytest
from channels.db import database_sync_to_async

from answerprint.fixes.models import Decision, FixRequest, ProposalState
from answerprint.fixes.signatures import proposal_record_hash
from answerprint.media.models import Version
from tests.factories import PASSWORD, authenticator_code
from tests.fixes.conftest import World
from tests.review.conftest import joined, run_async, session_cookie


@pytest.fixture
def room_world(transactional_db, settings, monkeypatch, tmp_path):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    monkeypatch.setattr("answerprint.fixes.services._enqueue_job", lambda job_id: None)  # no GPU queue here
    world = World()
    world.cookies = {user.pk: session_cookie(user) for user in
                     (world.producer, world.second_producer, world.supervisor, world.viewer, world.editor)}
    world.tmp_path = tmp_path
    return world


def _path(version):
    return f"/ws/review/versions/{version.pk}/"


class Listener:
    """Reads a client's frames, keeping every one, so an event that arrives before the reply it
    follows is not lost."""

    def __init__(self, client):
        self.client, self.seen = client, []

    async def reply(self):
        while True:
            frame = await self.client.receive()
            self.seen.append(frame)
            if frame["type"] in ("fix.ack", "error"):
                return frame

    async def event(self, name, **data):
        return await self._first("event", name, data)

    async def live(self, name):
        return await self._first("live", name, {})

    async def _first(self, type_, name, data):
        def matches(frame):
            return (frame["type"] == type_ and frame["event"] == name
                    and all(frame["data"].get(k) == v for k, v in data.items()))

        for frame in self.seen:
            if matches(frame):
                return frame
        while True:
            frame = await self.client.receive()
            self.seen.append(frame)
            if matches(frame):
                return frame


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_drawn_region_becomes_a_fix_request_from_the_room(room_world):
    world = room_world
    # given the supervisor in the plate's room, with their drawing over the boom
    client, _ = await joined(_path(world.plate), world.cookies[world.supervisor.pk])
    listener = Listener(client)

    # when they ask for its removal from the room, and their client sends it twice
    message = dict(type="fix.request", op="fix-1", request={
        "kind": "object_removal", "mask_annotation": str(world.boom.pk), "params": {"iterations": 0},
        "reason": "Boom in the top left"})
    await client.send(**message)
    ack = await listener.reply()
    await client.send(**message)
    again = await listener.reply()

    # then one request is made from the room for the room's version, and the retry is told so
    assert ack["type"] == "fix.ack" and ack["state"] == "queued" and not ack["duplicate"], ack
    assert again["request"] == ack["request"] and again["duplicate"]
    fix = await database_sync_to_async(FixRequest.objects.get)()
    assert fix.origin == "room" and fix.source_version_id == world.plate.pk
    # and everyone in the room is told, as a stored event
    created = await listener.event("fix.request.created")
    assert created["data"]["request"] == fix.pk and created["data"]["requested_by"] == world.supervisor.printed_name
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_likeness_fix_without_consent_is_refused_in_the_room(room_world):
    world = room_world
    client, _ = await joined(_path(world.plate), world.cookies[world.supervisor.pk])
    await client.send(type="fix.request", op="fix-2", request={
        "kind": "performance_alteration", "mask_annotation": str(world.boom.pk), "performer": "Mara Quell",
        "reason": "Re-recorded line"})
    error = await client.receive_type("fix.ack", "error")
    assert error["type"] == "error" and error["code"] == "invalid" and error["in"] == "fix.request"
    assert "No consent from Mara Quell is on file" in error["message"]
    assert not await database_sync_to_async(FixRequest.objects.exists)()
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_a_viewer_cannot_request_a_fix_from_the_room(room_world):
    world = room_world
    client, _ = await joined(_path(world.plate), world.cookies[world.viewer.pk])
    await client.send(type="fix.request", op="fix-3", request={"kind": "exposure", "reason": "Dark"})
    error = await client.receive_type("fix.ack", "error")
    assert error["code"] == "forbidden"
    await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_deciding_and_promoting_from_the_room(room_world):
    world = room_world
    # given a proposal made for the supervisor's removal, and two producers in the proposal's room
    proposal = await database_sync_to_async(lambda: world.propose(world.removal(), world.tmp_path))()
    record_hash = await database_sync_to_async(proposal_record_hash)(proposal)
    code = await database_sync_to_async(authenticator_code)(world.producer)
    first, _ = await joined(_path(proposal.version), world.cookies[world.producer.pk])
    second, _ = await joined(_path(proposal.version), world.cookies[world.second_producer.pk])
    editor, _ = await joined(_path(proposal.version), world.cookies[world.editor.pk])
    first_l, second_l, editor_l = Listener(first), Listener(second), Listener(editor)

    # when the editor tries to promote it before anyone approved it, then it is refused
    await editor.send(type="fix.promote", op="p-1", proposal=proposal.pk)
    refused = await editor_l.reply()
    assert refused["type"] == "error" and "not approved" in refused["message"]

    # when the first producer signs from the room
    await first.send(type="fix.decide", op="d-1", proposal=proposal.pk, outcome="approve", meaning="approval",
                     password=PASSWORD, second_factor=code, record_hash=record_hash)
    signed = await first_l.reply()

    # then the signature is applied and everyone in the room sees it, with name, meaning and time
    assert signed["type"] == "fix.ack" and signed["state"] == ProposalState.APPROVED, signed
    assert signed["manifestation"].startswith(f"{world.producer.printed_name} — Approval — ")
    made = await second_l.event("fix.decision.made")
    assert made["data"]["manifestation"] == signed["manifestation"]

    # and the second producer, deciding after, gets a conflict that names who decided
    await second.send(type="fix.decide", op="d-2", proposal=proposal.pk, outcome="reject", reason="Too soft")
    conflict = await second_l.reply()
    assert conflict["code"] == "conflict" and world.producer.printed_name in conflict["message"]
    assert await database_sync_to_async(Decision.objects.count)() == 1

    # and now the editor can promote it
    await editor.send(type="fix.promote", op="p-2", proposal=proposal.pk)
    promoted = await editor_l.reply()
    assert promoted["type"] == "fix.ack", promoted
    delivery = await database_sync_to_async(Version.objects.get)(pk=promoted["delivery_version"])
    assert delivery.kind == "delivery" and delivery.parent_id == proposal.version_id
    for client in (first, second, editor):
        await client.close()


@pytest.mark.django_db(transaction=True)
@run_async
async def test_job_progress_and_its_end_stream_to_the_room(room_world):
    from answerprint.fixes import services

    world = room_world
    # given the producer watching the plate's room, and a removal queued on it
    client, _ = await joined(_path(world.plate), world.cookies[world.producer.pk])
    listener = Listener(client)
    fix = await database_sync_to_async(world.removal)()
    job = await database_sync_to_async(fix.jobs.get)()

    # when a worker claims it and reports how far it is, then fails
    await database_sync_to_async(services.start_job)(job.pk, worker="gpu-01")
    await database_sync_to_async(services.report_job_progress)(job.pk, 0.4, "training")
    await database_sync_to_async(services.fail_job)(job.pk, "CUDA error: an illegal memory access")

    # then the room sees the progress live, and the failure with its reason as a stored event
    progress = await listener.live("fix.job.progress")
    assert progress["data"]["progress"] == 40 and progress["data"]["stage"] == "training"
    failed = await listener.event("fix.job.changed", state="failed")
    assert failed["data"]["error"] == "CUDA error: an illegal memory access"
    await client.close()
