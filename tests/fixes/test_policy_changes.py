"""Separation of duties cannot be switched off by one person, nor for a request already made."""
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from answerprint.accounts import services as accounts
from answerprint.accounts.models import Membership, Role
from answerprint.audit.models import AuditEvent
from answerprint.fixes import services
from answerprint.fixes.models import FixPolicyChange, PolicyChangeState
from answerprint.fixes.policy import policy_for
from tests.factories import member


def _api(world, path=""):
    return f"/api/productions/{world.production.code}/{path}"


def _relax(client, world, actor):
    client.force_login(actor)
    return client.patch(_api(world, "fix-policy/"), {"requester_may_approve": True, "reason": "Small crew this week"},
                        content_type="application/json")


def test_one_producer_switching_off_separation_of_duties_changes_nothing_until_someone_confirms(client, world,
                                                                                               tmp_path):
    # given a producer's own request with a proposal
    proposal = world.propose(world.removal(actor=world.producer), tmp_path)

    # when that producer relaxes the policy so that requesters may approve, and then signs
    response = _relax(client, world, world.producer)

    # then the change waits for a second person, the policy is unchanged, and the signature is refused
    assert response.status_code == 202 and response.json()["state"] == "pending"
    assert policy_for(world.production).requester_may_approve is False
    with pytest.raises(ValidationError, match="someone else must sign it"):
        world.sign(proposal, world.producer)
    assert AuditEvent.objects.filter(action="fix_policy.change_proposed").count() == 1
    assert not AuditEvent.objects.filter(action="fix_policy.changed").exists()


def test_the_proposer_cannot_confirm_their_own_relaxation(client, world):
    # given a relaxation proposed by a producer
    change_id = _relax(client, world, world.producer).json()["id"]

    # when the same producer confirms it
    response = client.post(_api(world, f"fix-policy/changes/{change_id}/confirm/"), {}, content_type="application/json")

    # then it is refused and still pending
    assert response.status_code == 403
    assert FixPolicyChange.objects.get(pk=change_id).state == PolicyChangeState.PENDING


@pytest.mark.parametrize("confirmer", ["second_producer", "compliance"])
def test_a_confirmed_relaxation_holds_only_for_requests_made_after_it_and_shows_on_them(client, world, tmp_path,
                                                                                      confirmer):
    # given a producer's request made before a relaxation that a second person confirmed
    earlier = world.propose(world.removal(actor=world.producer), tmp_path)
    change_id = _relax(client, world, world.producer).json()["id"]
    client.force_login(getattr(world, confirmer))
    confirmed = client.post(_api(world, f"fix-policy/changes/{change_id}/confirm/"), {"reason": "Agreed"},
                            content_type="application/json")
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "applied"

    # when the producer makes a new request, and signs both
    later = world.propose(world.removal(actor=world.producer), tmp_path, content=b"other bytes")
    with pytest.raises(ValidationError, match="someone else must sign it"):
        world.sign(earlier, world.producer)
    world.sign(later, world.producer)

    # then only the later one is approved, and the relaxation is shown with it, not with the earlier one
    later.refresh_from_db()
    assert later.state == "approved"
    client.force_login(world.viewer)
    shown = client.get(_api(world, f"proposals/{later.pk}/")).json()["policy_relaxations"]
    assert [(r["relaxes"], r["proposed_by"], r["confirmed_by"]) for r in shown] == [
        (["requester_may_approve"], world.producer.printed_name, getattr(world, confirmer).printed_name)]
    assert client.get(_api(world, f"proposals/{earlier.pk}/")).json()["policy_relaxations"] == []
    page = client.get(f"/p/{world.production.code}/fixes/{later.request_id}/").content.decode()
    assert "Decided under a relaxed policy (requester_may_approve)" in page
    event = AuditEvent.objects.get(action="fix_policy.changed")
    assert event.after["relaxes"] == ["requester_may_approve"] and event.actor == getattr(world, confirmer)


def test_a_tightening_applies_at_once_and_to_requests_already_made(client, world, tmp_path):
    # given a proposal waiting for one approval
    proposal = world.propose(world.removal(), tmp_path)

    # when a producer alone raises the quorum to two approvals
    client.force_login(world.producer)
    response = client.patch(_api(world, "fix-policy/"), {"required_approvals": 2, "reason": "Studio asks for two"},
                            content_type="application/json")
    world.sign(proposal, world.producer)

    # then it applied at once, and the earlier proposal needs the second approval too
    assert response.status_code == 200 and response.json()["required_approvals"] == 2
    proposal.refresh_from_db()
    assert proposal.state == "pending"


def test_the_last_producer_can_neither_leave_nor_be_demoted_nor_expire(world):
    # given a production with exactly one producer
    lone = member(world.production, Role.PRODUCER)
    world.producer.memberships.update(role=Role.SUPERVISOR)
    world.second_producer.memberships.update(role=Role.SUPERVISOR)
    membership = Membership.objects.get(user=lone)

    # when they demote themselves, give themselves an expiry, or revoke themselves, then each is refused
    for change in (lambda: accounts.add_member(actor=lone, production=world.production, user=lone, role="viewer"),
                   lambda: accounts.add_member(actor=lone, production=world.production, user=lone, role="producer",
                                               expires_at=timezone.now() + timedelta(days=1)),
                   lambda: accounts.revoke_member(actor=lone, membership=membership)):
        with pytest.raises(ValidationError, match="last producer"):
            change()
    membership.refresh_from_db()
    assert membership.role == Role.PRODUCER and membership.is_active and membership.expires_at is None

    # and once someone else is a producer, they may step down
    accounts.add_member(actor=lone, production=world.production, user=world.supervisor, role="producer")
    accounts.add_member(actor=lone, production=world.production, user=lone, role="viewer")
    assert Membership.objects.get(user=lone).role == Role.VIEWER


def test_only_a_producer_or_compliance_confirms(world):
    # given a pending relaxation
    change = services.update_fix_policy(actor=world.producer, production=world.production, required_approvals=1,
                                        approver_roles=["producer", "supervisor"], reason="Sups may approve")
    assert change.state == PolicyChangeState.PENDING

    # when a supervisor confirms it, then it is refused
    with pytest.raises(PermissionDenied):
        services.confirm_fix_policy_change(actor=world.supervisor, change=change)
