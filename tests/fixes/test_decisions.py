import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from answerprint.audit.models import AuditEvent
from answerprint.fixes import services, signatures
from answerprint.fixes.errors import Conflict
from answerprint.fixes.models import Decision, FixRequest, ProposalState, RequestState
from tests.factories import PASSWORD, authenticator_code
from tests.fixes.conftest import World, consent_for


@pytest.fixture
def proposal(world, tmp_path):
    return world.propose(world.removal(), tmp_path)


def test_a_producer_signs_and_the_signature_binds_to_the_exact_result(world, proposal):
    # when the producer re-enters their password and approves, meaning approval
    decision = world.sign(proposal, world.producer, reason="Clean, no trace of the boom")

    # then the signature carries the printed name, role, time and meaning, and the hashes of the media and card
    assert decision.printed_name == world.producer.printed_name and decision.role == "producer"
    assert decision.meaning == "approval" and decision.counts_as == "approval" and decision.final
    assert decision.media_sha256 == proposal.media_sha256
    assert decision.model_card_sha256 == proposal.model_card_sha256
    assert decision.record_hash == signatures.proposal_record_hash(proposal)
    assert signatures.verify_decision(decision) == []
    assert f"{world.producer.printed_name} — Approval — {decision.signed_at:%Y-%m-%d %H:%M:%S} UTC" \
        == decision.manifestation
    # and the default policy's one approval settles it
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED
    assert proposal.request.state == RequestState.APPROVED


def test_a_signature_does_not_verify_on_another_proposal(world, proposal, tmp_path):
    # given a signed proposal and a second proposal
    decision = world.sign(proposal, world.producer)
    other = world.propose(world.removal(reason="Second pass"), tmp_path, content=b"other bytes")

    # when the signature row is pointed at the other proposal (a copied signature)
    decision.proposal = other

    # then it no longer verifies
    assert "the signature is bound to a different record than this proposal" in signatures.verify_decision(decision)


def test_a_wrong_password_signs_nothing_and_is_audited(world, proposal):
    # when the producer gets their password wrong
    with pytest.raises(ValidationError, match="password is not correct"):
        world.sign(proposal, world.producer, password="not-my-password")

    # then nothing is signed, and the attempt is in the log
    assert not Decision.objects.exists()
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PENDING
    assert AuditEvent.objects.get(action="signature.refused").actor == world.producer


def test_signing_is_blocked_after_five_failed_attempts(world, proposal):
    for _ in range(5):
        with pytest.raises(ValidationError):
            world.sign(proposal, world.producer, password="guess")
    # then even the right password is refused for a while
    with pytest.raises(ValidationError, match="Too many failed signing attempts"):
        world.sign(proposal, world.producer)
    assert not Decision.objects.exists()


def test_a_second_factor_is_asked_for_when_the_user_has_one(world, proposal, settings):
    # given a deployment whose second factor for this user is the code 123456
    settings.SIGNATURE_SECOND_FACTOR_VERIFIER = "tests.fixes.test_decisions.fake_second_factor"

    # when the producer signs with a wrong code, then nothing is signed
    with pytest.raises(ValidationError, match="second-factor code is not correct"):
        world.sign(proposal, world.producer, second_factor="000000")

    # and with the right code the signature is applied
    assert world.sign(proposal, world.producer, second_factor="123456").final


def fake_second_factor(user, code):
    return code == "123456"


def test_the_requester_may_not_approve_their_own_request(world, tmp_path):
    # given a removal a producer asked for themselves
    proposal = world.propose(world.removal(actor=world.producer), tmp_path)

    # when they try to approve it, then the policy refuses
    with pytest.raises(ValidationError, match="someone else must sign it"):
        world.sign(proposal, world.producer)

    # and another producer may
    assert world.sign(proposal, world.second_producer).final


def test_a_supervisor_may_recommend_but_not_approve_under_the_default_policy(world, proposal):
    with pytest.raises(ValidationError, match="a Supervisor may not approve fixes; Producer may. You may recommend"):
        world.sign(proposal, world.second_supervisor)


@pytest.mark.parametrize("role", ["editor", "compliance", "viewer"])
def test_roles_without_the_right_to_decide_cannot_sign(world, proposal, role):
    with pytest.raises(PermissionDenied):
        world.sign(proposal, getattr(world, role))


def test_a_quorum_of_supervisor_recommendation_then_producer_approval(world, proposal):
    # given a production where a supervisor recommends and a producer approves
    services.update_fix_policy(actor=world.producer, production=world.production, required_recommendations=1,
                               reason="Supervisor signs off first")

    # when the producer tries to approve first, then the order of steps is enforced
    with pytest.raises(ValidationError, match="first needs 1 more recommendation"):
        world.sign(proposal, world.producer)

    # when a supervisor (not the requester) recommends, it stays pending
    recommendation = world.sign(proposal, world.second_supervisor, meaning="review")
    proposal.refresh_from_db()
    assert recommendation.counts_as == "recommendation" and not recommendation.final
    assert proposal.state == ProposalState.PENDING

    # and the producer's approval then settles it
    approval = world.sign(proposal, world.producer, meaning="responsibility")
    proposal.refresh_from_db()
    assert approval.final and proposal.state == ProposalState.APPROVED
    settled = AuditEvent.objects.get(action="proposal.approved")
    assert [s["printed_name"] for s in settled.after["signatures"]] == [
        world.second_supervisor.printed_name, world.producer.printed_name]


def test_the_requesting_supervisor_cannot_recommend_their_own_request(world, proposal):
    services.update_fix_policy(actor=world.producer, production=world.production, required_recommendations=1,
                               reason="Supervisor signs off first")
    with pytest.raises(ValidationError, match="someone else must sign it"):
        world.sign(proposal, world.supervisor, meaning="review")


def test_signing_a_result_other_than_the_one_opened_is_a_conflict(world, proposal):
    with pytest.raises(Conflict, match="This is not the result you opened"):
        world.sign(proposal, world.producer, record_hash="0" * 64)
    assert not Decision.objects.exists()


def test_media_changed_in_storage_cannot_be_signed(world, proposal):
    # given the proposal's bytes replaced behind the platform's back
    name = proposal.version.asset.original.name
    default_storage.delete(name)
    default_storage.save(name, ContentFile(b"tampered"))

    # when the producer signs, then it is refused
    with pytest.raises(Conflict, match="not the media that was proposed"):
        world.sign(proposal, world.producer)


def test_a_proposal_whose_picture_cannot_be_seen_yet_cannot_be_signed(world, tmp_path):
    proposal = world.propose(world.removal(), tmp_path, ingested=False)
    with pytest.raises(ValidationError, match="not ready to review yet"):
        world.sign(proposal, world.producer)
    assert not Decision.objects.exists()


def test_a_settled_proposal_refuses_another_decision_naming_who_settled_it(world, proposal):
    world.sign(proposal, world.producer)
    with pytest.raises(Conflict, match=f"already approved by {world.producer.printed_name}"):
        services.reject_proposal(actor=world.second_producer, proposal=proposal, reason="Too soft")


def test_a_rejection_needs_a_reason_and_settles_the_proposal(world, proposal):
    with pytest.raises(ValidationError, match="Say why you reject it"):
        services.reject_proposal(actor=world.producer, proposal=proposal, reason="")
    decision = services.reject_proposal(actor=world.producer, proposal=proposal, reason="Edge shimmer at 1012")
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.REJECTED and decision.final and decision.meaning == ""
    assert proposal.request.state == RequestState.REJECTED


def test_requested_changes_become_a_new_request_in_the_same_step(world, proposal):
    # when the producer asks for changes, with a stronger fit as the follow-up
    decision = services.request_changes(actor=world.producer, proposal=proposal, reason="Grow the mask, fit longer",
                                        follow_up={"params": {"grow": 8, "iterations": 20}})

    # then the proposal is sent back and a new request, linked to the old, is queued with the notes
    follow_up = decision.follow_up
    assert proposal.request.follow_ups.get() == follow_up
    assert follow_up.state == RequestState.QUEUED and follow_up.reason == "Grow the mask, fit longer"
    assert follow_up.params["grow"] == 8 and follow_up.mask_sha256 == proposal.request.mask_sha256
    assert follow_up.jobs.count() == 1


def test_bad_follow_up_parameters_lose_nothing(world, proposal):
    with pytest.raises(ValidationError, match="grow must be between"):
        services.request_changes(actor=world.producer, proposal=proposal, reason="Grow",
                                 follow_up={"params": {"grow": 999}})
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PENDING and not Decision.objects.exists()
    assert FixRequest.objects.count() == 1


# ---------------------------------------------------------------- consent at approval


@pytest.fixture
def consented_proposal(world, tmp_path):
    """A removal on a performer shot in a production that puts removal under consent."""
    services.update_fix_policy(actor=world.producer, production=world.production, consent_kinds=["object_removal"],
                               reason="Lead's contract")
    consent = consent_for(world, kinds=["object_removal"])
    proposal = world.propose(world.removal(performer="Mara Quell"), tmp_path)
    return consent, proposal


def test_a_revoked_consent_blocks_the_approval(world, consented_proposal):
    # given the performer withdrew her consent after the fix was made
    consent, proposal = consented_proposal
    services.revoke_consent(actor=world.compliance, consent=consent, reason="Performer withdrew consent")

    # when the producer approves, then the consent check runs again and refuses, saying why
    with pytest.raises(ValidationError, match="Approval refused: .*revoked on"):
        world.sign(proposal, world.producer)

    # and nothing was signed, the proposal waits, and the refusal is in the log
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PENDING and not Decision.objects.exists()
    assert "revoked" in AuditEvent.objects.get(action="proposal.approval_refused").reason


def test_an_expired_consent_blocks_the_approval(world, consented_proposal):
    from datetime import timedelta

    from django.utils import timezone

    consent, proposal = consented_proposal
    type(consent).objects.filter(pk=consent.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationError, match="expired on"):
        world.sign(proposal, world.producer)


def test_a_consent_in_force_lets_the_approval_through(world, consented_proposal):
    _, proposal = consented_proposal
    assert world.sign(proposal, world.producer).final


# ---------------------------------------------------------------- two people at once


@pytest.mark.django_db(transaction=True)
def test_two_people_deciding_at_once_one_wins_and_the_other_gets_a_409(postgres_only, tmp_path, monkeypatch):
    from django.test import Client

    monkeypatch.setattr("answerprint.fixes.services._enqueue_job", lambda job_id: None)  # no GPU queue here
    # given a proposal, and two producers who press their buttons at the same moment
    world = World()
    proposal = world.propose(world.removal(), tmp_path)
    url = f"/api/productions/{world.production.code}/proposals/{proposal.pk}/decisions/"
    approver, rejecter = Client(), Client()
    approver.force_login(world.producer)
    rejecter.force_login(world.second_producer)
    bodies = {
        "approve": (approver, {"outcome": "approve", "meaning": "approval", "password": PASSWORD,
                               "second_factor": authenticator_code(world.producer),
                               "record_hash": signatures.proposal_record_hash(proposal)}),
        "reject": (rejecter, {"outcome": "reject", "reason": "Not good enough"}),
    }
    barrier = threading.Barrier(2)
    responses = {}

    def decide(name):
        client, body = bodies[name]
        try:
            barrier.wait()
            responses[name] = client.post(url, body, content_type="application/json")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(name,)) for name in bodies]

    # when both requests run at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly one decision was recorded; the other got a 409 that names who decided first
    codes = sorted(r.status_code for r in responses.values())
    assert codes == [201, 409], {name: r.content for name, r in responses.items()}
    winner = next(r.json() for r in responses.values() if r.status_code == 201)
    loser = next(r.json() for r in responses.values() if r.status_code == 409)
    assert winner["printed_name"] in loser["detail"] and loser["state"] in ("approved", "rejected")
    assert Decision.objects.count() == 1
    proposal.refresh_from_db()
    assert proposal.state == loser["state"]
    assert AuditEvent.objects.filter(action__in=["proposal.approved", "proposal.rejected"]).count() == 1
