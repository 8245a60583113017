"""Reads of shots, versions and assets, always scoped to what the user may see."""
from django.db.models import Count, Prefetch
from django.http import Http404

from answerprint.accounts.models import Membership

from .models import MediaAsset, Shot, TimelineImport, Version


def _visible_production_ids(user):
    if not user.is_authenticated:
        return Membership.objects.none().values("production_id")
    return Membership.objects.active().filter(user=user, production__archived_at__isnull=True).values("production_id")


def shots_with_latest_version(production):
    """Shots for the grid: each with its version count and its versions (asset joined), newest first."""
    versions = Version.objects.select_related("asset").order_by("-number")
    return (
        Shot.objects.filter(production=production)
        .annotate(version_count=Count("versions"))
        .prefetch_related(Prefetch("versions", queryset=versions, to_attr="versions_newest_first"), "locators")
        .order_by("sequence", "name")
    )


def shot_by_name(production, name):
    try:
        return Shot.objects.get(production=production, name=name)
    except Shot.DoesNotExist:
        raise Http404("No such shot.") from None


def versions_of(shot):
    return (
        Version.objects.filter(shot=shot)
        .select_related("asset", "created_by", "parent")
        .order_by("-number")
    )


def version_for_user(user, version_id):
    """The version, if the user belongs to its production; else a 404 as if it did not exist."""
    version = (
        Version.objects.select_related("shot__production", "asset", "created_by")
        .filter(pk=version_id, shot__production_id__in=_visible_production_ids(user))
        .first()
    )
    if version is None:
        raise Http404("No such version.")
    return version


def asset_for_user(user, asset_id):
    asset = (
        MediaAsset.objects.select_related("version__shot__production")
        .filter(pk=asset_id, version__shot__production_id__in=_visible_production_ids(user))
        .first()
    )
    if asset is None:
        raise Http404("No such media.")
    return asset


def timelines_of(production):
    return TimelineImport.objects.filter(production=production).select_related("imported_by")


def timeline_of(production, timeline_id):
    try:
        return timelines_of(production).get(pk=timeline_id)
    except TimelineImport.DoesNotExist:
        raise Http404("No such timeline import.") from None
