"""A proposal carries its model's quality verdict; one estimated worse than its source is shown,
marked, and signed only by someone who confirms they saw the warning."""
import pytest
from django.core.exceptions import ValidationError

from answerprint.audit.models import AuditEvent
from answerprint.fixes import signatures
from answerprint.fixes.models import Decision, ProposalState
from answerprint.fixes.signatures import proposal_record_hash
from tests.factories import PASSWORD, authenticator_code
from tests.fixes.conftest import MODEL_CARD
from tests.fixes.test_pages import _page, _ready

WORSE = ("Not recommended: the result is probably worse than the source (estimated colour error (ΔE2000) 6.2 "
         "against 4 for the source left alone).")


def _card(verdict, summary, **extra):
    return {**MODEL_CARD, "kind": "colour_match", "qc": {
        "verdict": verdict, "summary": summary, "checked": True,
        "metrics": [{"name": "estimated colour error (ΔE2000)", "value": 6.2, "source_value": 4.0,
                     "lower_is_better": True, "explanation": "lower is closer"}], **extra}}


@pytest.fixture
def worse(world, tmp_path):
    return world.propose(world.removal(), tmp_path, card=_card("not_recommended", WORSE))


def test_a_proposal_estimated_worse_than_its_source_is_not_signed_without_the_acknowledgement(world, worse):
    # when the producer signs without confirming the warning
    with pytest.raises(ValidationError, match="Confirm that you saw this warning"):
        world.sign(worse, world.producer)

    # then nothing is signed and it stays pending
    assert not Decision.objects.exists()
    worse.refresh_from_db()
    assert worse.state == ProposalState.PENDING


def test_the_acknowledged_warning_is_sealed_into_the_signature_and_recorded_in_the_audit_event(world, worse):
    # when the producer confirms they saw the warning and signs
    decision = world.sign(worse, world.producer, acknowledge_warning=True)

    # then the warning they saw is part of the signature and of the audit event
    assert decision.acknowledged_warning == WORSE and decision.final
    assert signatures.verify_decision(decision) == []
    event = AuditEvent.objects.get(action="proposal.signed")
    assert event.after["acknowledged_warning"] == WORSE
    # and a signature whose acknowledgement is removed afterwards no longer verifies
    decision.acknowledged_warning = ""
    assert "the signature's seal does not match its printed name, meaning or time" in \
        signatures.verify_decision(decision)


def test_a_recommended_proposal_needs_no_acknowledgement_and_records_none(world, tmp_path):
    proposal = world.propose(world.removal(), tmp_path, card=_card("recommended", "Recommended: 1.2 against 9."))
    decision = world.sign(proposal, world.producer)
    assert decision.acknowledged_warning == "" and signatures.verify_decision(decision) == []


def test_the_fix_page_shows_the_verdict_each_metric_and_the_brightness_plot(client, world, tmp_path):
    # given an exposure proposal whose card carries a brightness curve
    card = _card("review", "Review closely: estimated colour error (ΔE2000) is 3.4, above 3.",
                 curve={"frames": [0, 1, 2, 3], "before": [40.0, 44.0, 39.0, 45.0], "after": [42.0, 42.1, 41.9, 42.0]})
    proposal = _ready(world.propose(world.removal(), tmp_path, card=card))
    client.force_login(world.producer)

    # when the producer opens the fix page
    page = client.get(_page(world, f"fixes/{proposal.request_id}/")).content.decode()

    # then the verdict, its reason, one line per metric and the before/after plot are there
    assert 'data-qc-verdict="review"' in page and "Review closely: estimated colour error" in page
    assert "estimated colour error (ΔE2000): 6.2 — lower is closer; the source scores 4" in page
    assert 'data-series="before"' in page and 'data-series="after"' in page
    # and no acknowledgement is asked for
    assert 'name="acknowledge_warning"' not in page


def test_the_sign_dialog_asks_to_confirm_the_warning_and_the_page_signs_with_it(client, world, worse):
    _ready(worse)
    client.force_login(world.producer)
    page = client.get(_page(world, f"fixes/{worse.request_id}/")).content.decode()
    assert 'data-qc-verdict="not_recommended"' in page and 'name="acknowledge_warning"' in page

    # when the dialog is sent with the box ticked
    client.post(_page(world, f"proposals/{worse.pk}/decide/"), {
        "outcome": "approve", "meaning": "approval", "password": PASSWORD, "acknowledge_warning": "1",
        "second_factor": authenticator_code(world.producer), "record_hash": proposal_record_hash(worse)})

    # then it is signed with the warning sealed in
    assert Decision.objects.get().acknowledged_warning == WORSE


def test_the_api_shows_the_verdict_and_signs_only_with_the_acknowledgement(client, world, worse):
    client.force_login(world.producer)
    url = f"/api/productions/{world.production.code}/proposals/{worse.pk}/"
    shown = client.get(url).json()["qc"]
    assert shown["verdict"] == "not_recommended" and shown["needs_acknowledgement"]

    body = {"outcome": "approve", "meaning": "approval", "password": PASSWORD,
            "record_hash": proposal_record_hash(worse)}
    refused = client.post(url + "decisions/", {**body, "second_factor": authenticator_code(world.producer)},
                          content_type="application/json")
    assert refused.status_code == 400 and "acknowledge_warning" in refused.json()
    signed = client.post(url + "decisions/", {**body, "acknowledge_warning": True,
                                              "second_factor": authenticator_code(world.producer)},
                         content_type="application/json")
    assert signed.status_code == 201 and signed.json()["acknowledged_warning"] == WORSE


def test_a_card_without_a_quality_check_reads_as_review_closely(world, tmp_path):
    proposal = world.propose(world.removal(), tmp_path)
    assert proposal.quality.verdict == "review" and not proposal.quality.needs_acknowledgement
