from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from answerprint.errors import error_text
from answerprint.accounts.permissions import can, require
from answerprint.accounts.selectors import membership_for, production_and_membership
from answerprint.outbox import services as outbox

from . import services, timeline_import
from .cdl import viewing_filter
from .models import AssetStatus, NameCollision, ShotNameRule
from .selectors import asset_for_user, shot_by_name, shots_with_latest_version, timeline_of, timelines_of, versions_of
from .serving import media_response
from .uploads import upload_refusal


def _grid_context(production, membership):
    shots = list(shots_with_latest_version(production))
    busy = any(
        v.asset.status not in (AssetStatus.READY, AssetStatus.FAILED)
        for shot in shots for v in shot.versions_newest_first[:1] if hasattr(v, "asset")
    )
    return {"production": production, "membership": membership, "shots": shots, "busy": busy,
            "can_ingest": can(membership, "ingest")}


@login_required
@require_GET
def production_page(request, code):
    production, membership = production_and_membership(request.user, code)
    return render(request, "media/production.html", {**_grid_context(production, membership),
                                                     "timelines": timelines_of(production)[:5],
                                                     "name_rules": ShotNameRule.choices,
                                                     "collisions": NameCollision.choices})


@login_required
@require_GET
def shot_grid(request, code):
    """The grid alone, polled by the production page while anything is still ingesting."""
    production, membership = production_and_membership(request.user, code)
    return render(request, "media/_shot_grid.html", _grid_context(production, membership))


def _ingest_stuck(asset):
    return asset is not None and asset.status not in (AssetStatus.READY, AssetStatus.FAILED) \
        and outbox.is_stuck(services.INGEST_TASK, [asset.pk])


@login_required
@require_GET
def shot_page(request, code, name):
    production, membership = production_and_membership(request.user, code)
    shot = shot_by_name(production, name)
    versions = list(versions_of(shot))
    selected = versions[0] if versions else None
    if "v" in request.GET:
        selected = next((v for v in versions if str(v.number) == request.GET["v"]), None)
        if selected is None:
            raise Http404("No such version.")
    return render(request, "media/shot.html", {
        "production": production, "membership": membership, "shot": shot, "versions": versions,
        "version": selected, "asset": getattr(selected, "asset", None) if selected else None,
        "can_ingest": can(membership, "ingest"),
        "ingest_stuck": _ingest_stuck(getattr(selected, "asset", None) if selected else None),
        "can_download": can(membership, "download_original"),
        "can_request_fix": can(membership, "request_fix"),
        "cdl_filter": viewing_filter(shot.cdl),
        **_review_context(request, production, membership, selected, versions),
    })


def _review_context(request, production, membership, selected, versions):
    """What the review island needs beyond the page: who can do what in the room, the versions
    it can compare with (their proxies), the members to mention and, for a proposal, its fix."""
    from answerprint.accounts.models import Membership
    from answerprint.fixes.models import Proposal

    compare = []
    for v in versions:
        asset = getattr(v, "asset", None)
        if asset is not None and asset.proxy:
            compare.append({"id": v.pk, "label": f"v{v.number:03d} {v.get_kind_display().lower()}",
                            "src": reverse("media-file", args=[asset.pk, "proxy"])})
    # The version shown is the A side; B defaults to its nearest relative (parent, or newest other).
    if selected is not None:
        preferred = selected.parent_id or next((v.pk for v in versions if v.pk != selected.pk), None)
        compare.sort(key=lambda o: (o["id"] != preferred, o["id"] == selected.pk))
    members = [{"username": m.user.username, "name": m.user.printed_name}
               for m in Membership.objects.active().filter(production=production).select_related("user")]
    proposal = (Proposal.objects.select_related("request").filter(version=selected).first()
                if selected is not None else None)
    return {
        "can_annotate": can(membership, "annotate"), "can_comment": can(membership, "comment"),
        "can_decide": can(membership, "decide"),
        "compare_options": compare, "mention_members": members, "proposal": proposal,
    }


@login_required
@require_POST
def upload_version(request, code):
    production, membership = production_and_membership(request.user, code)
    require(membership, "ingest")
    refusal = upload_refusal(request, actor=request.user, production=production)
    if refusal:
        messages.error(request, refusal)
        return redirect("production-page", code=code)
    uploaded = request.FILES.get("file")
    shot_name = request.POST.get("shot", "").strip()
    if uploaded is None or not shot_name:
        messages.error(request, "Choose a file and a shot name.")
        return redirect("production-page", code=code)
    try:
        shot = production.shots.filter(name=shot_name).first() or services.create_shot(
            actor=request.user, production=production, name=shot_name)
        version = services.ingest_upload(actor=request.user, shot=shot, uploaded_file=uploaded,
                                         note=request.POST.get("note", ""))
    except ValidationError as error:
        messages.error(request, error_text(error))
        return redirect("production-page", code=code)
    messages.success(request, f"{uploaded.name} received as {version}; ingest has started.")
    return redirect("shot-page", code=code, name=shot.name)


@login_required
@require_POST
def import_timeline(request, code):
    production, membership = production_and_membership(request.user, code)
    require(membership, "ingest")
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, "Choose a timeline file (.edl, .otio, .aaf or .fcpxml).")
        return redirect("production-page", code=code)
    try:
        timeline = timeline_import.import_timeline(
            actor=request.user, production=production, uploaded_file=uploaded, fps=request.POST.get("fps", "").strip(),
            handles=request.POST.get("handles", "").strip() or timeline_import.DEFAULT_HANDLES,
            name_rule=request.POST.get("name_rule") or ShotNameRule.AUTO,
            on_collision=request.POST.get("on_collision") or NameCollision.REFUSE)
    except ValidationError as error:
        messages.error(request, error_text(error))
        return redirect("production-page", code=code)
    summary = (f"{timeline.file_name} imported: {timeline.created} shot{pluralize(timeline.created)} created, "
               f"{timeline.updated} updated, {timeline.unchanged} unchanged, "
               f"{timeline.skipped} event{pluralize(timeline.skipped)} skipped.")
    (messages.warning if timeline.skipped else messages.success)(request, summary)
    return redirect("timeline-page", code=code, timeline_id=timeline.pk)


@login_required
@require_GET
def timeline_page(request, code, timeline_id):
    production, membership = production_and_membership(request.user, code)
    timeline = timeline_of(production, timeline_id)
    return render(request, "media/timeline.html", {"production": production, "membership": membership,
                                                   "timeline": timeline, "events": timeline.report.get("events", [])})


@login_required
@require_POST
def retry_asset(request, code, asset_id):
    production, membership = production_and_membership(request.user, code)
    asset = asset_for_user(request.user, asset_id)
    if asset.version.shot.production_id != production.pk:
        raise Http404("No such media.")
    require(membership, "ingest")
    try:
        services.retry_ingest(actor=request.user, asset=asset)
        messages.success(request, "Ingest restarted.")
    except ValidationError as error:
        messages.error(request, error_text(error))
    return redirect(f"/p/{code}/shots/{asset.version.shot.name}/?v={asset.version.number}")


_PARTS = {"proxy", "poster", "filmstrip", "original"}


@login_required
@require_GET
def media_file(request, asset_id, part):
    if part not in _PARTS:
        raise Http404("No such media.")
    asset = asset_for_user(request.user, asset_id)
    membership = membership_for(request.user, asset.version.shot.production)
    if part == "original":
        require(membership, "download_original")
        if asset.is_sequence:
            return HttpResponse("An image sequence has no single file to download; fetch it from media storage.",
                                status=409, content_type="text/plain")
        services.record_original_download(actor=request.user, asset=asset)
        return media_response(request, asset.original.name, production=asset.version.shot.production,
                              download_name=asset.original_name)
    field = getattr(asset, part)
    if not field:
        raise Http404(f"The {part} is not ready.")
    return media_response(request, field.name, production=asset.version.shot.production)
