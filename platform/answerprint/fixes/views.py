"""Server-rendered pages of the fix workflow: request a fix, follow its job, compare and sign the
proposal, the approvals queue and the consent registry. Thin: parse the form, check permission,
call a service, redirect with a message."""
import json
from datetime import datetime, timezone as dt_timezone

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from answerprint.errors import error_text
from answerprint.accounts.permissions import can, require
from answerprint.accounts.selectors import production_and_membership
from answerprint.media.models import AssetStatus, Version
from answerprint.media.serving import media_response
from answerprint.outbox import services as outbox
from answerprint.review.models import Annotation

from . import inputs, selectors, services
from .errors import Conflict
from .kinds import KINDS, ConsentType
from .masks import MASK_SHAPES, render_mask_png
from .models import (ATTESTATIONS, Guild, JobState, Meaning, Origin, Outcome, ProposalState, RequestState,
                     SignerCapacity)
from .policy import needs_consent, policy_for, standing, what_signature_counts_as
from .signatures import proposal_record_hash


def _parse_time(value, field):
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError({field: f"{value!r} is not a date and time like 2026-05-01T14:30."}) from None
    return timezone.make_aware(moment, dt_timezone.utc) if timezone.is_naive(moment) else moment


# ---------------------------------------------------------------- requests


@login_required
@require_GET
def request_list(request, code):
    production, membership = production_and_membership(request.user, code)
    return render(request, "fixes/request_list.html", {
        "production": production, "membership": membership, "requests": selectors.requests_of(production),
        "can_request": can(membership, "request_fix"),
    })


def _form_context(production, membership, version, values=None):
    policy = policy_for(production)
    kinds = [{"kind": kind, "needs_consent": needs_consent(policy, kind)} for kind in KINDS.values()]
    drawings = (Annotation.objects.filter(version__shot=version.shot, deleted_at__isnull=True, shape__in=MASK_SHAPES)
                .select_related("author", "version").order_by("-created_at")) if version else []
    plates = (Version.objects.filter(shot__production=production, asset__status=AssetStatus.READY)
              .select_related("shot").order_by("shot__name", "number"))
    shots = production.shots.order_by("name")
    return {"production": production, "membership": membership, "version": version, "kinds": kinds,
            "drawings": drawings, "plates": plates, "shots": shots, "values": values or {},
            "asset": getattr(version, "asset", None) if version else None}


@login_required
@require_http_methods(["GET", "POST"])
def request_new(request, code):
    production, membership = production_and_membership(request.user, code)
    require(membership, "request_fix")
    data = request.POST if request.method == "POST" else request.GET
    version = None
    try:
        version = inputs.version_in(production, data.get("source_version") or data.get("version"), "source_version")
    except ValidationError as error:
        messages.error(request, error_text(error))
    if request.method == "POST":
        values = {key: data.get(key, "") for key in ("source_version", "kind", "mask_annotation", "frame_in",
                                                     "frame_out", "reference_shot", "replacement_version",
                                                     "performer", "reason", "params", "region",
                                                     "start_from_cdl")}
        try:
            params = json.loads(values["params"]) if values["params"].strip() else {}
            # The form takes frame numbers as the player shows them; the request stores indexes.
            indexes = {name: inputs.frame_index(version, values[name], name) if version is not None else None
                       for name in ("frame_in", "frame_out")}
            if values["region"].strip() and not values["mask_annotation"] and version is not None:
                # A region dragged on the poster becomes a drawing of its own first, so it stays
                # on the shot (and in this form) whatever happens to the request.
                drawing = _draw_region(request.user, membership, version, values["region"], indexes["frame_in"])
                values["mask_annotation"], values["region"] = str(drawing.pk), ""
            arguments = inputs.request_arguments(production, {**values, **indexes, "params": params})
            fix = services.request_fix(actor=request.user, origin=Origin.UI, **arguments)
        except json.JSONDecodeError:
            messages.error(request, "Parameters must be JSON, for example {\"iterations\": 300}.")
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, f"Fix #{fix.pk} queued on the GPU queue.")
            return redirect("fix-detail", code=code, request_id=fix.pk)
        return render(request, "fixes/request_new.html", _form_context(production, membership, version, values),
                      status=400)
    # A link from a drawing carries its mask and frame range; the form starts from them.
    values = {key: data[key] for key in ("kind", "mask_annotation", "frame_in", "frame_out") if data.get(key)}
    return render(request, "fixes/request_new.html", _form_context(production, membership, version, values))


def _draw_region(user, membership, version, region, frame_in):
    from answerprint.review.services import create_annotation

    require(membership, "annotate")
    try:
        x0, y0, x1, y1 = (float(part) for part in region.split(","))
    except ValueError:
        raise ValidationError({"region": "Drag a rectangle on the picture to mark the region."}) from None
    frame = frame_in or 0
    return create_annotation(actor=user, version=version, frame=frame, shape="rectangle",
                             points=[[x0, y0], [x1, y1]], color="#f2b544", width=0.004).obj


def _compare_context(production, fix, proposal):
    """What the fix page's compare needs: the source as the B side, paired by frame number, and
    the region the fix was asked for, on the frames it covers."""
    source = fix.source_version
    asset = source.asset
    first = source.first_frame
    mask = ({key: fix.mask_shape[key] for key in ("shape", "points", "width")} if fix.mask_shape else None)
    return {
        "compare_source_json": json.dumps({
            "id": source.pk, "label": f"Source v{source.number:03d}", "first_frame": first,
            "frame_count": asset.frame_count, "src": reverse("media-file", args=[asset.pk, "proxy"])}),
        "mask_json": json.dumps(mask),
        "mask_frames_json": json.dumps([first + fix.frame_in, first + fix.frame_out]),
        # The tracked matte, frame by frame (by frame number), once the job has tracked it.
        "matte_url": reverse("fix-matte", args=[production.code, fix.pk, 0]).replace("/0.png", "/{frame}.png")
        if fix.matte_track else "",
    }


def _signing_position(user, membership, proposal, policy):
    """For the signature dialog: the meanings this person's signature may have now, each with
    what it would do under the policy; or, when none, why they may not sign."""
    fix, decisions = proposal.request, proposal.decision_list
    current = standing(policy, decisions)
    meanings, refusals = [], {}
    for value, label in Meaning.choices:
        try:
            counts_as = what_signature_counts_as(policy=policy, role=membership.role, meaning=value, user=user,
                                                 request=fix, decisions=decisions)
        except ValidationError as error:
            refusals[value] = " ".join(error.messages)
            continue
        if counts_as == "approval":
            done, needed = len(current.approvals) + 1, current.needed_approvals
            effect = (f"{done} of {needed} approval{'s' if needed > 1 else ''} — approves the fix and allows "
                      f"delivery" if done >= needed else
                      f"{done} of {needed} approvals — {needed - done} more needed before delivery")
        else:
            done, needed = len(current.recommendations) + 1, current.needed_recommendations
            effect = f"{done} of {max(needed, done)} recommendation{'s' if needed > 1 else ''} — then it waits for approval"
        meanings.append({"value": value, "label": label, "attestation": ATTESTATIONS[value], "effect": effect})
    # Why not approve is what a person reaching for the Sign button wants to know.
    return {"sign_meanings": meanings, "sign_refusal": "" if meanings else refusals[Meaning.APPROVAL]}


def _run_text(job):
    """'It ran 2 min 5 s on cuda:0 (NVIDIA H200).' from what the job recorded."""
    took = ""
    if job.started_at and job.finished_at:
        minutes, seconds = divmod(round((job.finished_at - job.started_at).total_seconds()), 60)
        took = f" {minutes} min {seconds} s" if minutes else f" {seconds} s"
    where = f" on {job.device}" if job.device else ""
    return f"It ran{took}{where}." if took or where else ""


def _detail_context(request, production, membership, fix, *, decide_values=None):
    proposal = fix.current_proposal
    job = fix.latest_job
    proposal_ready = bool(proposal and proposal.version.asset.status == AssetStatus.READY)
    busy = bool((job and job.state in (JobState.QUEUED, JobState.RUNNING))
                or (proposal and proposal.version.asset.status not in (AssetStatus.READY, AssetStatus.FAILED)))
    context = {
        "production": production, "membership": membership, "fix": fix, "job": job, "proposal": proposal,
        "kind": KINDS[fix.kind], "busy": busy, "proposal_ready": proposal_ready,
        "source_asset": fix.source_version.asset,
        "record_hash": proposal_record_hash(proposal) if proposal else "",
        "can_request": can(membership, "request_fix"), "can_decide": can(membership, "decide"),
        "can_promote": can(membership, "ingest"),
        "meanings": Meaning.choices, "decisions": proposal.decision_list if proposal else [],
        "standing": proposal.standing if proposal else None,
        "pending": bool(proposal and proposal.state == ProposalState.PENDING),
        "approved": bool(proposal and proposal.state == ProposalState.APPROVED),
        "model_card_json": json.dumps(proposal.model_card, indent=2, sort_keys=True) if proposal else "",
        "can_cancel": bool(job and job.is_active), "can_retry": fix.state == RequestState.FAILED or bool(
            job and job.is_active and outbox.is_stuck(services.RUN_JOB_TASK, [job.pk])),
        "decide": decide_values or {},
        "frames": (fix.source_version.first_frame + fix.frame_in, fix.source_version.first_frame + fix.frame_out),
        "matte_frames": _matte_frames(fix),
    }
    if proposal:
        if proposal_ready:
            context.update(_compare_context(production, fix, proposal))
        if context["pending"] and context["can_decide"]:
            context.update(_signing_position(request.user, membership, proposal, policy_for(production)))
        context["run_text"] = _run_text(proposal.job)
    return context


def _matte_frames(fix, most=6):
    """Shot frame numbers spread over the request's range at which the page shows the matte."""
    if not (fix.matte_track or fix.mask):
        return []
    last = fix.frame_count - 1
    offsets = sorted({round(i * last / (most - 1)) for i in range(most)})
    return [fix.shot.first_frame + fix.frame_in + offset for offset in offsets]


@login_required
@require_GET
def request_detail(request, code, request_id):
    production, membership = production_and_membership(request.user, code)
    fix = selectors.request_in(production, request_id)
    return render(request, "fixes/request_detail.html", _detail_context(request, production, membership, fix))


@login_required
@require_GET
def request_matte(request, code, request_id, frame):
    """One frame's matte (frame: the shot's frame number, e.g. 1012): the region as tracked
    through the range once the job has tracked it, else the region as drawn, which then holds
    on every frame."""
    production, _ = production_and_membership(request.user, code)
    fix = selectors.request_in(production, request_id)
    offset = frame - fix.shot.first_frame - fix.frame_in
    if not 0 <= offset < fix.frame_count:
        raise Http404(f"Frame {frame} is outside this request's frames.")
    if fix.matte_track:
        return media_response(request, f"{fix.matte_track}/{offset:06d}.png", production=production)
    if fix.mask_shape:
        asset = fix.source_version.asset
        return HttpResponse(render_mask_png(fix.mask_shape, asset.width, asset.height), content_type="image/png")
    raise Http404("This request has no mask.")


@login_required
@require_POST
def request_cancel(request, code, request_id):
    production, membership = production_and_membership(request.user, code)
    fix = selectors.request_in(production, request_id)
    require(membership, "request_fix")
    try:
        services.cancel_fix_request(actor=request.user, fix=fix, reason=request.POST.get("reason", ""))
        messages.success(request, f"Fix #{fix.pk} cancelled.")
    except (ValidationError, Conflict) as error:
        messages.error(request, error.message if isinstance(error, Conflict) else error_text(error))
    return redirect("fix-detail", code=code, request_id=fix.pk)


@login_required
@require_POST
def request_retry(request, code, request_id):
    production, membership = production_and_membership(request.user, code)
    fix = selectors.request_in(production, request_id)
    require(membership, "request_fix")
    try:
        services.retry_fix_request(actor=request.user, fix=fix, reason=request.POST.get("reason", ""))
        messages.success(request, f"Fix #{fix.pk} queued again.")
    except (ValidationError, Conflict) as error:
        messages.error(request, error.message if isinstance(error, Conflict) else error_text(error))
    return redirect("fix-detail", code=code, request_id=fix.pk)


# ---------------------------------------------------------------- proposals


@login_required
@require_POST
def proposal_decide(request, code, proposal_id):
    production, membership = production_and_membership(request.user, code)
    proposal = selectors.proposal_in(production, proposal_id)
    require(membership, "decide")
    data = request.POST
    follow_up = None
    try:
        if data.get("outcome") == Outcome.REQUEST_CHANGES and data.get("follow_up"):
            params = json.loads(data["follow_up_params"]) if data.get("follow_up_params", "").strip() else {}
            follow_up = inputs.follow_up_arguments(production, {"params": params})
        decision = services.decide_proposal(
            actor=request.user, proposal=proposal, outcome=data.get("outcome", ""), meaning=data.get("meaning", ""),
            password=data.get("password", ""), second_factor=data.get("second_factor", ""),
            record_hash=data.get("record_hash", ""), reason=data.get("reason", ""), follow_up=follow_up,
            acknowledge_warning=data.get("acknowledge_warning") == "1")
    except (json.JSONDecodeError, Conflict, ValidationError) as error:
        # The dialog opens again with its error and what was typed (never the password).
        problem = ("Follow-up parameters must be JSON, for example {\"grow\": 8}."
                   if isinstance(error, json.JSONDecodeError)
                   else error.message if isinstance(error, Conflict) else error_text(error))
        values = {"outcome": data.get("outcome", ""), "meaning": data.get("meaning", ""),
                  "reason": data.get("reason", ""), "follow_up_params": data.get("follow_up_params", ""),
                  "error": problem}
        fix = selectors.request_in(production, proposal.request_id)
        return render(request, "fixes/request_detail.html",
                      _detail_context(request, production, membership, fix, decide_values=values), status=400)
    else:
        if decision.outcome == Outcome.APPROVE:
            messages.success(request, f"Signed: {decision.manifestation}.")
        else:
            messages.success(request, f"Recorded: {decision.manifestation}.")
        if decision.follow_up_id:
            return redirect("fix-detail", code=code, request_id=decision.follow_up_id)
    return redirect("fix-detail", code=code, request_id=proposal.request_id)


@login_required
@require_POST
def proposal_promote(request, code, proposal_id):
    production, membership = production_and_membership(request.user, code)
    proposal = selectors.proposal_in(production, proposal_id)
    require(membership, "ingest")
    try:
        delivery = services.promote_to_delivery(actor=request.user, version=proposal.version,
                                                reason=request.POST.get("reason", ""))
        messages.success(request, f"Promoted to delivery as {delivery}.")
    except Conflict as error:
        messages.error(request, error.message)
    except ValidationError as error:
        messages.error(request, error_text(error))
    return redirect("fix-detail", code=code, request_id=proposal.request_id)


@login_required
@require_GET
def proposal_preview(request, code, proposal_id):
    production, _ = production_and_membership(request.user, code)
    proposal = selectors.proposal_in(production, proposal_id)
    if not proposal.preview:
        raise Http404("This proposal has no preview.")
    return media_response(request, proposal.preview.name, production=production)


@login_required
@require_GET
def approvals(request, code):
    production, membership = production_and_membership(request.user, code)
    waiting = selectors.approvals_waiting_on(request.user, membership, production)
    return render(request, "fixes/approvals.html", {
        "production": production, "membership": membership, "waiting": waiting,
        "policy": policy_for(production),
    })


# ---------------------------------------------------------------- consent registry


def _consent_page(request, production, membership, values=None, status=200):
    return render(request, "fixes/consents.html", {
        "production": production, "membership": membership, "consents": selectors.consents_of(production),
        "consent_types": ConsentType.CHOICES, "guilds": Guild.choices, "capacities": SignerCapacity.choices,
        "consent_kinds": [kind for kind in KINDS.values()], "shots": production.shots.order_by("name"),
        "values": values or {}, "policy": policy_for(production),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def consents(request, code):
    production, membership = production_and_membership(request.user, code)
    require(membership, "manage_consent")
    if request.method == "GET":
        return _consent_page(request, production, membership)
    data = request.POST
    try:
        shots = [inputs.shot_in(production, name, "shots") for name in data.getlist("shots")]
        services.record_consent(
            actor=request.user, production=production, performer=data.get("performer", ""),
            guild=data.get("guild", Guild.SAG_AFTRA), consent_type=data.get("consent_type", ""),
            scope=data.get("scope", ""), kinds=data.getlist("kinds"), shots=shots,
            signed_by=data.get("signed_by", ""),
            signer_capacity=data.get("signer_capacity", SignerCapacity.PERFORMER),
            signed_at=_parse_time(data.get("signed_at"), "signed_at"),
            notice_given_at=_parse_time(data.get("notice_given_at"), "notice_given_at"),
            expires_at=_parse_time(data.get("expires_at"), "expires_at"),
            document=request.FILES.get("document"), document_sha256=data.get("document_sha256", ""),
            reason=data.get("reason", ""))
    except ValidationError as error:
        messages.error(request, error_text(error))
        return _consent_page(request, production, membership, values=data, status=400)
    messages.success(request, f"Consent from {data.get('performer', '').strip()} recorded.")
    return redirect("fix-consents", code=code)


@login_required
@require_POST
def consent_revoke(request, code, consent_id):
    production, membership = production_and_membership(request.user, code)
    consent = selectors.consent_in(production, consent_id)
    require(membership, "manage_consent")
    try:
        services.revoke_consent(actor=request.user, consent=consent, reason=request.POST.get("reason", ""))
        messages.success(request, f"Consent #{consent.pk} from {consent.performer} revoked.")
    except Conflict as error:
        messages.error(request, error.message)
    except ValidationError as error:
        messages.error(request, error_text(error))
    return redirect("fix-consents", code=code)
