"""Every write to productions, memberships and users: validated, audited, atomic."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from answerprint.audit.services import record_event

from .models import Membership, Production, Role


def _membership_state(membership):
    return {
        "user": membership.user.username,
        "role": membership.role,
        "expires_at": membership.expires_at,
        "revoked_at": membership.revoked_at,
    }


@transaction.atomic
def create_production(*, actor, code, title, description="", fps_num=24, fps_den=1, producer=None):
    production = Production(code=code, title=title, description=description, fps_num=fps_num, fps_den=fps_den)
    production.full_clean()
    production.save()
    record_event("production.created", actor=actor, production=production, target=production,
                 after={"code": code, "title": title, "fps": f"{fps_num}/{fps_den}"})
    if producer is not None:
        add_member(actor=actor, production=production, user=producer, role=Role.PRODUCER)
    return production


@transaction.atomic
def update_production(*, actor, production, reason="", **changes):
    allowed = {"title", "description", "fps_num", "fps_den"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))}.")
    before = {name: getattr(production, name) for name in changes}
    for name, value in changes.items():
        setattr(production, name, value)
    production.full_clean()
    production.save(update_fields=list(changes))
    record_event("production.updated", actor=actor, production=production, target=production,
                 before=before, after=changes, reason=reason)
    return production


def _keep_a_producer(membership, *, stays_producer):
    """Refuse a change that would leave the production with no producer for good.

    Only a producer can manage members and the policy, so a production without one could never
    be managed again. The other producers' rows are locked, so two producers demoting each other
    at the same moment cannot both succeed.
    """
    if membership.pk is None or not (membership.is_active and membership.role == Role.PRODUCER) or stays_producer:
        return
    others = (Membership.objects.active().select_for_update()
              .filter(production_id=membership.production_id, role=Role.PRODUCER, expires_at__isnull=True)
              .exclude(pk=membership.pk))
    if not list(others):
        raise ValidationError(f"{membership.user} is the last producer of {membership.production}: make someone "
                              "else a producer (without an expiry) first.")


@transaction.atomic
def add_member(*, actor, production, user, role, expires_at=None, reason=""):
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(Role.values)}."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    membership = Membership.objects.select_for_update().filter(production=production, user=user).first()
    before = _membership_state(membership) if membership else None
    if membership is None:
        membership = Membership(production=production, user=user)
    elif membership.is_active and membership.role == role and membership.expires_at == expires_at:
        raise ValidationError(f"{user} is already a {membership.get_role_display()} on {production}.")
    _keep_a_producer(membership, stays_producer=role == Role.PRODUCER and expires_at is None)
    membership.role, membership.expires_at, membership.revoked_at = role, expires_at, None
    membership.save()
    record_event("membership.granted" if before is None else "membership.changed", actor=actor,
                 production=production, target=membership, before=before,
                 after=_membership_state(membership), reason=reason)
    return membership


@transaction.atomic
def revoke_member(*, actor, membership, reason=""):
    membership = Membership.objects.select_for_update().select_related("user", "production").get(pk=membership.pk)
    if membership.revoked_at is not None:
        raise ValidationError(f"{membership.user}'s access was already revoked.")
    _keep_a_producer(membership, stays_producer=False)
    before = _membership_state(membership)
    membership.revoked_at = timezone.now()
    membership.save(update_fields=["revoked_at"])
    record_event("membership.revoked", actor=actor, production=membership.production, target=membership,
                 before=before, after=_membership_state(membership), reason=reason)
    return membership
