from answerprint.audit.exports import signature_text
from answerprint.audit.models import AuditEvent
from answerprint.audit.selectors import verify_chain
from answerprint.fixes import services
from answerprint.fixes.models import Decision


def test_every_step_from_request_to_delivery_is_in_the_trail_with_the_signature(world, tmp_path):
    # given a production where a supervisor recommends and a producer approves
    services.update_fix_policy(actor=world.producer, production=world.production, required_recommendations=1,
                               reason="Supervisor signs off first")
    start = AuditEvent.objects.last().pk

    # when a removal goes all the way: request, job, proposal, recommendation, approval, delivery
    fix = world.removal()
    proposal = world.propose(fix, tmp_path)
    world.sign(proposal, world.second_supervisor, meaning="review", reason="Checked frame by frame")
    world.sign(proposal, world.producer, meaning="approval", reason="Approved for the conform")
    services.promote_to_delivery(actor=world.editor, version=proposal.version, reason="Conform")

    # then each transition wrote its event, in order, by who did it
    events = list(AuditEvent.objects.filter(pk__gt=start))
    assert [(e.action, e.actor_name) for e in events] == [
        ("fix_request.created", world.supervisor.printed_name),
        ("fix_job.queued", world.supervisor.printed_name),
        ("fix_job.started", "worker test-worker"),
        ("fix_job.succeeded", "worker test-worker"),
        ("proposal.created", "worker test-worker"),
        ("proposal.signed", world.second_supervisor.printed_name),
        ("proposal.signed", world.producer.printed_name),
        ("proposal.approved", world.producer.printed_name),
        ("proposal.promoted", world.editor.printed_name),
        ("delivery.queued", world.editor.printed_name),
    ]
    by_action = {e.action: e for e in events}
    # and the request's event holds what was asked and why; the proposal's holds its hashes and model
    assert by_action["fix_request.created"].after["kind"] == "object_removal"
    assert by_action["fix_request.created"].reason == "Boom dips into frame"
    assert by_action["proposal.created"].after["media_sha256"] == proposal.media_sha256
    assert by_action["proposal.created"].after["model"]["method"] == "flow-propagation+internal-cnn"
    # and each signature event shows the printed name, time and meaning, bound to the record
    producer_signature = Decision.objects.get(signer=world.producer)
    signed = [e for e in events if e.action == "proposal.signed"][1]
    assert signed.after["printed_name"] == world.producer.printed_name and signed.after["meaning"] == "approval"
    assert signed.after["signed_at"].startswith(producer_signature.signed_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert signed.after["record_hash"] == producer_signature.record_hash
    assert signed.after["manifestation"] == producer_signature.manifestation
    # and the approval and the promotion carry both signatures, which the audit export prints
    printed = signature_text(by_action["proposal.promoted"].after)
    assert f"Signed by {world.second_supervisor.printed_name}" in printed and "meaning: review" in printed
    assert f"Signed by {world.producer.printed_name}" in printed and "meaning: approval" in printed
    # and the whole chain still verifies
    assert verify_chain().ok
