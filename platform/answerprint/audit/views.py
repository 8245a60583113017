"""Compliance pages: the event list with filters, chain status, verification and exports."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from answerprint.accounts.permissions import require
from answerprint.accounts.selectors import production_and_membership
from answerprint.media.models import Version, VersionKind

from . import disclosure, services, stored_exports
from .actions import ACTIONS, describe
from .disclosure import DisclosureScope, start_disclosure
from .exports import FORMATS, aiter_chunks, export_filename, signature_text, start_export
from .forms import ExportFilterForm, ExportForm, ReasonForm
from .models import AuditEvent, ExportFrequency, ExportReport, ExportSchedule, StoredExport
from .selectors import filtered_events, latest_checkpoint, timestamp_of

PAGE_SIZE = 100


def _scope(request, code):
    production, membership = production_and_membership(request.user, code)
    require(membership, "view_audit")
    return production, membership


def streamed_download(chunks, *, content_type, filename):
    response = StreamingHttpResponse(aiter_chunks(chunks), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def export_response(*, actor, production, form, fmt, reason=""):
    chunks = start_export(actor=actor, fmt=fmt, request=form.export_request(), production=production, reason=reason)
    return streamed_download(chunks, content_type=FORMATS[fmt][0], filename=export_filename(fmt, production))


def disclosure_scope(production, delivery_id):
    """The production, or one of its delivery versions; a bad or foreign id is a 404."""
    if not delivery_id:
        return DisclosureScope(production)
    if not str(delivery_id).isdigit():
        raise Http404("No such delivery.")
    delivery = get_object_or_404(Version, pk=int(delivery_id), shot__production=production, kind=VersionKind.DELIVERY)
    return DisclosureScope(production, delivery)


def disclosure_response(*, actor, production, fmt, delivery_id="", reason=""):
    scope = disclosure_scope(production, delivery_id)
    chunks = start_disclosure(actor=actor, fmt=fmt, scope=scope, reason=reason)
    return streamed_download(chunks, content_type=disclosure.FORMATS[fmt][0],
                             filename=disclosure.disclosure_filename(fmt, scope))


@login_required
@require_GET
def audit_page(request, code):
    production, membership = _scope(request, code)
    services.seal_pending()  # so the page numbers every event it shows
    form = ExportFilterForm(request.GET or None, production=production)
    # A filter that does not validate shows its error and no events: an unfiltered list under it
    # would read as the filtered one.
    filter_refused = form.is_bound and not form.is_valid()
    events = (AuditEvent.objects.none() if filter_refused
              else form.events() if form.is_bound else filtered_events(production=production))
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
        "formats": list(FORMATS), "disclosure_formats": list(disclosure.FORMATS), "consent_url": reverse("fix-consents", kwargs={"code": production.code}),
        "actions": sorted(ACTIONS), "filter_refused": filter_refused,
        "schedules": ExportSchedule.objects.filter(production=production, active=True).select_related("created_by"),
        "stored_exports": StoredExport.objects.filter(production=production)[:20],
        "report_choices": ExportReport.choices, "frequency_choices": ExportFrequency.choices,
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


def _typed_reason(request):
    """The reason typed into the form, or a 400 saying it is needed."""
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return None, HttpResponseBadRequest(" ".join(form.errors["reason"]))
    return form.cleaned_data["reason"], None


@login_required
@require_http_methods(["GET", "POST"])
def disclosure_export(request, code, fmt):
    production, _ = _scope(request, code)
    if request.method == "GET":  # a followed link shows the form; it never makes a report
        return redirect(f"{reverse('audit-page', args=[production.code])}#disclosure-head")
    if fmt not in disclosure.FORMATS:
        return HttpResponseBadRequest(f"Unknown format {fmt!r}; choose one of {', '.join(disclosure.FORMATS)}.")
    reason, refusal = _typed_reason(request)
    if refusal:
        return refusal
    return disclosure_response(actor=request.user, production=production, fmt=fmt,
                               delivery_id=request.POST.get("delivery", ""), reason=reason)


@login_required
@require_POST
def schedule_create(request, code):
    production, _ = _scope(request, code)
    try:
        schedule = stored_exports.create_export_schedule(
            actor=request.user, production=production, report=request.POST.get("report", ""),
            frequency=request.POST.get("frequency", ""), reason=request.POST.get("reason", ""))
    except ValidationError as error:
        for problem in error.messages:
            messages.error(request, f"No schedule was set: {problem}")
    else:
        messages.success(request, f"{schedule} is set; the first export is made within minutes.")
    return redirect("audit-page", code=production.code)


@login_required
@require_POST
def schedule_stop(request, code, schedule_id):
    production, _ = _scope(request, code)
    schedule = get_object_or_404(ExportSchedule, pk=schedule_id, production=production)
    stored_exports.stop_export_schedule(actor=request.user, schedule=schedule, reason=request.POST.get("reason", ""))
    messages.success(request, f"{schedule} is stopped; its stored exports are kept.")
    return redirect("audit-page", code=production.code)


def stored_export_response(*, actor, export, reason=""):
    """The stored bytes, once checked against their recorded SHA-256; 409 when they were altered."""
    try:
        chunks = stored_exports.open_stored_export(actor=actor, export=export, reason=reason)
    except stored_exports.StoredExportAltered as error:
        return HttpResponse(str(error), status=409, content_type="text/plain; charset=utf-8")
    family, fmt = export.report.split(".")
    content_type = (FORMATS if family == "audit" else disclosure.FORMATS)[fmt][0]
    return streamed_download(chunks, content_type=content_type, filename=export.file_name)


@login_required
@require_http_methods(["GET", "POST"])
def stored_export_download(request, code, export_id):
    production, _ = _scope(request, code)
    export = get_object_or_404(StoredExport, pk=export_id, production=production)
    if request.method == "GET":  # a followed link shows the form; the download is a POST with its reason
        return redirect(f"{reverse('audit-page', args=[production.code])}#schedule-head")
    reason, refusal = _typed_reason(request)
    if refusal:
        return refusal
    return stored_export_response(actor=request.user, export=export, reason=reason)


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

