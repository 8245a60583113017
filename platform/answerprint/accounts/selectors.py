from django.http import Http404

from .models import Membership, Production


def productions_for(user):
    """Productions the user can see: those with an active membership."""
    return Production.objects.filter(
        pk__in=Membership.objects.active().filter(user=user).values("production_id"), archived_at__isnull=True
    )


def membership_for(user, production):
    if not user.is_authenticated:
        return None
    return Membership.objects.active().filter(user=user, production=production).first()


def production_and_membership(user, code):
    """The production with this code and the user's membership in it.

    A production the user does not belong to is answered exactly like one that does not exist.
    """
    membership = (
        Membership.objects.active()
        .select_related("production")
        .filter(user=user, production__code=code, production__archived_at__isnull=True)
        .first()
        if user.is_authenticated
        else None
    )
    if membership is None:
        raise Http404("No such production.")
    return membership.production, membership
