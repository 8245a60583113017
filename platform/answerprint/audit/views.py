"""Compliance pages: the event list with filters, chain status, verification and exports."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from answerprint.accounts.permissions import require
from answerprint.accounts.selectors import production_and_membership

from . import services
from .actions import ACTIONS, describe
from .exports import FORMATS, aiter_chunks, export_filename, signature_text, start_export
from .forms import ExportFilterForm, ExportForm
from .selectors import filtered_events, latest_checkpoint, timestamp_of

PAGE_SIZE = 100


def _scope(request, code):
    production, membership = production_and_membership(request.user, code)
    require(membership, "view_audit")
    return production, membership


def consent_registry_url(production):
    """The fixes app's consent registry page, when it is there."""
    for name in ("consent-registry", "consent-list"):
        try:
            return reverse(name, kwargs={"code": production.code})
        except NoReverseMatch:
            continue
    return ""


def export_response(*, actor, production, form, fmt, reason=""):
    content_type, _ = FORMATS[fmt]
    chunks = start_export(actor=actor, fmt=fmt, request=form.export_request(), production=production, reason=reason)
    response = StreamingHttpResponse(aiter_chunks(chunks), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{export_filename(fmt, production)}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def audit_page(request, code):
    production, membership = _scope(request, code)
    services.seal_pending()  # so the page numbers every event it shows
    form = ExportFilterForm(request.GET or None, production=production)
    # An invalid filter shows its error above the unfiltered list rather than an empty page.
    events = form.events() if form.is_bound and form.is_valid() else filtered_events(production=production)
    before = request.GET.get("before", "")
    if before.isdigit():
        events = events.filter(sequence__lt=int(before))
    page = list(events.order_by("-sequence")[:PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    for event in page:
        event.signature_line = signature_text(event.after)
        event.description = describe(event.action)
    query = request.GET.copy()
    query.pop("before", None)
    checkpoint = latest_checkpoint()
    return render(request, "audit/events.html", {
        "production": production, "membership": membership, "form": form, "events": page,
        "older": f"?{query.urlencode()}&before={page[-1].sequence}" if more and page else "",
        "filter_query": query.urlencode(), "checkpoint": checkpoint, "checkpoint_timestamp": timestamp_of(checkpoint),
        "formats": list(FORMATS), "consent_url": consent_registry_url(production),
        "actions": sorted(ACTIONS),
    })


@login_required
@require_http_methods(["GET", "POST"])
def audit_export(request, code, fmt):
    production, _ = _scope(request, code)
    if request.method == "GET":
        # A followed link only fills in the export form; the person presses the button.
        query = request.GET.copy()
        query.pop("reason", None)
        return redirect(f"{reverse('audit-page', args=[production.code])}?{query.urlencode()}#export-head")
    if fmt not in FORMATS:
        return HttpResponseBadRequest(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    form = ExportForm(request.POST, production=production)
    if not form.is_valid():
        return HttpResponseBadRequest(" ".join(f"{f}: {' '.join(e)}" for f, e in form.errors.items()))
    return export_response(actor=request.user, production=production, form=form, fmt=fmt,
                           reason=form.cleaned_data["reason"])


@login_required
@require_POST
def audit_verify(request, code):
    production, _ = _scope(request, code)
    report, missing = services.verify_audit_log(actor=request.user, production=production)
    if report.ok and not missing:
        messages.success(request, f"The audit log verifies: {report.events_checked} events and "
                                  f"{report.checkpoints_checked} signed checkpoints, and its tables refuse changes.")
    else:
        for problem in ([report.problem] if report.problem else []) + missing:
            messages.error(request, problem)
    return redirect("audit-page", code=production.code)


@login_required
@require_POST
def audit_checkpoint(request, code):
    production, _ = _scope(request, code)
    try:
        checkpoint = services.create_checkpoint(actor=request.user, reason=request.POST.get("reason", "")[:500])
    except services.ChainBroken as exc:
        messages.error(request, f"No checkpoint was signed: the chain does not verify ({exc}).")
    else:
        if checkpoint is None:
            messages.info(request, "Every event is in a signed checkpoint already.")
        else:
            messages.success(request, f"Checkpoint {checkpoint.number} signed: events "
                                      f"#{checkpoint.first_sequence}–#{checkpoint.last_sequence}.")
    return redirect("audit-page", code=production.code)

