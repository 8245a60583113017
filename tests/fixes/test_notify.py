"""The person who asked for a fix hears when its proposal is ready and what was decided."""
import pytest

from answerprint.review.models import Notification

pytestmark = pytest.mark.django_db


def test_the_requester_is_told_when_the_proposal_is_ready_and_when_it_is_signed(world, tmp_path):
    # given a removal asked for by the supervisor
    fix = world.removal()

    # when its proposal arrives and the producer signs it
    proposal = world.propose(fix, tmp_path)
    decision = world.sign(proposal, world.producer)

    # then the supervisor has both in the inbox, each linked to the fix
    ready, signed = Notification.objects.filter(recipient=world.supervisor).order_by("pk")
    assert ready.kind == "proposal_ready" and ready.url == f"/p/{world.production.code}/fixes/{fix.pk}/"
    assert f"Proposal v{proposal.version.number:03d} for fix #{fix.pk}" in ready.text
    assert signed.kind == "decision" and decision.manifestation in signed.text
    assert signed.url.endswith(f"#proposal-{proposal.pk}")
    # and the signer is not told about their own signature
    assert not Notification.objects.filter(recipient=world.producer).exists()


def test_a_request_for_changes_is_its_own_kind(world, tmp_path):
    from answerprint.fixes import services

    proposal = world.propose(world.removal(), tmp_path)
    services.request_changes(actor=world.producer, proposal=proposal, reason="Grow the mask by 8 px")
    changes = Notification.objects.get(recipient=world.supervisor, kind="changes_requested")
    assert "Grow the mask by 8 px" in changes.text
