"""What the fix workflow tells the review rooms, through the review app's publishing functions.

State changes (request created, job started/failed/done, proposal ready, decision made, promoted)
are stored room events, numbered, so a client that reconnects gets them; progress ticks are live
only. Everything is sent after the caller's transaction commits, and never raises into it.
"""
import logging

log = logging.getLogger(__name__)


def _publish(version, type, payload, *, durable=True):
    try:
        from answerprint.review.services import publish_to_version_room
    except ImportError:  # a deployment without review rooms still makes and approves fixes
        return
    try:
        publish_to_version_room(version, type, payload, durable=durable)
    except Exception:
        log.exception("Could not publish %s for version %s", type, version.pk)


def _request_payload(fix):
    return {"request": fix.pk, "kind": fix.kind, "state": fix.state, "shot": fix.shot.name,
            "source_version": fix.source_version_id, "requested_by": fix.requested_by.printed_name,
            "reason": fix.reason}


def request_changed(fix, type):
    _publish(fix.source_version, type, _request_payload(fix))


def _job_payload(job, fix):
    return {"job": job.pk, "request": fix.pk, "kind": fix.kind, "state": job.state, "progress": job.progress,
            "stage": job.stage, "error": job.error, "deliveries": job.deliveries, "device": job.device,
            "request_state": fix.state}


def job_changed(job, fix):
    _publish(fix.source_version, "fix.job.changed", _job_payload(job, fix))


def job_progress(job, fix):
    _publish(fix.source_version, "fix.job.progress", _job_payload(job, fix), durable=False)


def proposal_ready(proposal):
    fix = proposal.request
    payload = {**_request_payload(fix), "proposal": proposal.pk, "proposal_version": proposal.version_id,
               "proposal_version_number": proposal.version.number, "metrics": proposal.metrics,
               "model": {k: proposal.model_card.get(k) for k in ("kind", "method", "method_version")
                         if k in proposal.model_card}}
    _publish(fix.source_version, "fix.proposal.ready", payload)


def decision_made(proposal, decision):
    fix = proposal.request
    payload = {"request": fix.pk, "proposal": proposal.pk, "proposal_version": proposal.version_id,
               "state": proposal.state, "outcome": decision.outcome, "meaning": decision.meaning,
               "counts_as": decision.counts_as, "printed_name": decision.printed_name,
               "signed_at": decision.signed_at, "manifestation": decision.manifestation,
               "reason": decision.reason, "follow_up": decision.follow_up_id}
    _publish(fix.source_version, "fix.decision.made", payload)
    _publish(proposal.version, "fix.decision.made", payload)


def promoted(proposal, delivery):
    fix = proposal.request
    payload = {"request": fix.pk, "proposal": proposal.pk, "proposal_version": proposal.version_id,
               "delivery_version": delivery.pk, "delivery_version_number": delivery.number}
    _publish(proposal.version, "fix.proposal.promoted", payload)
