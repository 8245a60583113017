"""Every write of the fix workflow: validated, changed and audited in one transaction, sent to the
review rooms and the GPU queue after commit.

request_fix -> a FixRequest and a queued Job; the `gpu` queue's task then calls
    start_job(job_id)             -> a JobSpec (what to read, which model, where frames start) or None
    report_job_progress(job_id, fraction, stage)   raises JobCancelled / JobTimedOut to stop the model
    ingest_job_result(job_id, output_path=..., model_card=..., metrics=...)  -> the Proposal (idempotent)
    fail_job(job_id, reason) / requeue_job(job_id, reason)
approve_proposal / reject_proposal / request_changes -> a Decision (approval: an e-signature)
promote_to_delivery -> a delivery Version, for an approved proposal only.
record_consent / revoke_consent / update_fix_policy keep the rules the above check.
"""
import hashlib
import logging
import os
import posixpath
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from answerprint.accounts.models import Membership, Role
from answerprint.accounts.permissions import require
from answerprint.audit.services import record_event
from answerprint.delivery import services as delivery_services
from answerprint.media import services as media_services
from answerprint.media.models import AssetStatus, MediaAsset, Version, VersionKind
from answerprint.media.services import new_version
from answerprint.media.storage import production_root, safe_filename, sha256_of
from answerprint.outbox import services as outbox
from answerprint.review import notifications

from . import broadcast, signatures
from .errors import Conflict, JobCancelled, JobTimedOut
from .kinds import CONSENT_TYPES_FOR, ConsentType, kind_named
from .masks import check_mask_shape, render_mask_png, shape_snapshot
from .models import (Consent, Decision, FixPolicy, FixPolicyChange, FixRequest, Guild, Job, JobState, Meaning, Origin,
                     Outcome, PolicyChangeState, Proposal, ProposalState, RequestState, SignerCapacity)
from .policy import clean_policy, find_consent, needs_consent, normalise_performer, policy_for, policy_for_request, \
    relaxed_settings, standing, what_signature_counts_as

log = logging.getLogger(__name__)

CHUNK = 4 * 1024 * 1024
MAX_REASON = 5000


def job_time_limit():
    return int(getattr(settings, "FIX_JOB_TIME_LIMIT", 3600))


# ---------------------------------------------------------------------------------------------
# Helpers


def _membership(actor, production):
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return Membership.objects.active().filter(user=actor, production=production).first()


def _require(actor, production, capability):
    membership = _membership(actor, production)
    require(membership, capability)
    return membership


def _clean_reason(reason, *, field="reason", required=True, what="Say why"):
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationError({field: f"{what}: the reason is kept with the request and in the audit log."})
    if len(reason) > MAX_REASON:
        raise ValidationError({field: f"At most {MAX_REASON} characters."})
    return reason


def _audit_alone(action, **kwargs):
    """An event that must be kept although the change it describes was refused and rolled back."""
    with transaction.atomic():
        record_event(action, **kwargs)


def _ready_asset(version, field):
    asset = getattr(version, "asset", None)
    if asset is None or asset.status != AssetStatus.READY or not asset.frame_count or not asset.width:
        raise ValidationError({field: f"{version} has no ingested picture yet: wait until its ingest is ready."})
    return asset


def _hash_local_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _enqueue_ingest(asset_id):
    media_services.send_ingest(asset_id)


def _version_folder(version):
    from answerprint.media.services import version_folder

    return version_folder(version.shot, version)


def _store_local(name, local_path):
    with open(local_path, "rb") as stream:
        return default_storage.save(name, File(stream, name=posixpath.basename(name)))


# ---------------------------------------------------------------------------------------------
# Requests


def _resolve_reference(production, shot, reference_shot, reference_version, kind):
    if reference_version is not None:
        if reference_version.shot.production_id != production.pk:
            raise ValidationError({"reference_shot": "The reference must be a shot of this production."})
        reference_shot = reference_version.shot
    if reference_shot is None:
        raise ValidationError({"reference_shot": f"{kind.label} needs a reference shot to match to."})
    if reference_shot.production_id != production.pk:
        raise ValidationError({"reference_shot": "The reference must be a shot of this production."})
    if reference_shot.pk == shot.pk:
        raise ValidationError({"reference_shot": "Choose another shot as the reference, not the shot itself."})
    if reference_version is None:
        reference_version = (Version.objects.filter(shot=reference_shot, asset__status=AssetStatus.READY)
                             .exclude(kind=VersionKind.PROPOSAL).select_related("asset").order_by("-number").first())
        if reference_version is None:
            raise ValidationError({"reference_shot": f"{reference_shot.name} has no ingested plate to match to."})
    _ready_asset(reference_version, "reference_shot")
    return reference_shot, reference_version


def _check_frames(asset, frame_in, frame_out):
    last = asset.frame_count - 1
    frame_in = 0 if frame_in is None else frame_in
    frame_out = last if frame_out is None else frame_out
    for name, value in (("frame_in", frame_in), ("frame_out", frame_out)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= last:
            raise ValidationError({name: f"Frames run from 0 (the shot's first frame) to {last}; {value!r} is "
                                         f"outside the source."})
    if frame_out < frame_in:
        raise ValidationError({"frame_out": "The range ends before it starts."})
    return frame_in, frame_out


def request_fix(*, actor, source_version, kind, reason, params=None, mask_annotation=None, frame_in=None,
                frame_out=None, reference_shot=None, reference_version=None, replacement_version=None,
                performer="", origin=Origin.UI, follow_up_of=None, client_op=None, start_from_cdl: bool = False):
    """Ask for a fix of `source_version`. Returns the FixRequest, its job queued on commit.

    Refused with a ValidationError that says why: bad parameters, a mask or reference that does
    not fit, or -- for a kind that alters a performance or likeness -- no consent in force that
    covers this performer, shot and kind (checked before anything else about the model).

    With `start_from_cdl` a colour match starts from the editor's CDL on the source's shot: the
    parameter is filled here from the shot, so it is always that shot's own grade.
    """
    shot = source_version.shot
    production = shot.production
    _require(actor, production, "request_fix")
    if client_op:
        earlier = FixRequest.objects.filter(requested_by=actor, client_op=client_op).first()
        if earlier is not None:  # a retried send: answer with what the first one made
            earlier.duplicate = True
            return earlier
    kind = kind_named(kind)
    reason = _clean_reason(reason, what="Say why this fix is needed")
    if origin not in Origin.values:
        raise ValidationError({"origin": f"Unknown origin {origin!r}."})
    source_asset = _ready_asset(source_version, "source_version")
    if source_version.kind == VersionKind.DELIVERY:
        raise ValidationError({"source_version": "A delivery is final: fix the plate or proposal it came from."})
    frame_in, frame_out = _check_frames(source_asset, frame_in, frame_out)
    clean_params = kind.clean_params(_with_shot_cdl(kind, shot, params, start_from_cdl))

    snapshot = None
    if mask_annotation is not None:
        if mask_annotation.version.shot_id != shot.pk or mask_annotation.deleted_at is not None:
            raise ValidationError({"mask_annotation": "The mask must be a drawing on this shot that is not deleted."})
        check_mask_shape(mask_annotation.shape)
        snapshot = shape_snapshot(mask_annotation)
    elif kind.needs_mask:
        raise ValidationError({"mask_annotation": f"{kind.label} needs a mask: draw over what should change and "
                                                  f"choose that drawing."})
    if kind.needs_reference or (kind.reference_optional and (reference_shot or reference_version)):
        reference_shot, reference_version = _resolve_reference(production, shot, reference_shot, reference_version,
                                                               kind)
    else:
        reference_shot = reference_version = None
    if kind.needs_replacement:
        if replacement_version is None:
            raise ValidationError({"replacement_version": f"{kind.label} needs a replacement plate."})
        if replacement_version.shot.production_id != production.pk:
            raise ValidationError({"replacement_version": "The replacement plate must belong to this production."})
        _ready_asset(replacement_version, "replacement_version")
    else:
        replacement_version = None

    # Consent comes before anything about the model: a use nobody consented to is refused as such.
    policy = policy_for(production)
    performer = normalise_performer(performer)
    consent = None
    if needs_consent(policy, kind):
        consent, refusal = find_consent(production=production, shot=shot, performer=performer, kind=kind)
        if consent is None:
            _audit_alone("fix_request.refused", actor=actor, production=production, target=source_version,
                         after={"kind": kind.name, "performer": performer, "shot": shot.name}, reason=refusal)
            raise ValidationError({"consent": refusal}, code="consent_required")
    if not kind.available:
        refusal = (f"No model for {kind.label.lower()} runs on this platform: its models do techniques, not "
                   f"performances. Nothing was queued.")
        _audit_alone("fix_request.refused", actor=actor, production=production, target=source_version,
                     after={"kind": kind.name, "performer": performer, "consent": consent.pk if consent else None},
                     reason=refusal)
        raise ValidationError({"kind": refusal}, code="no_model")

    mask_png = render_mask_png(snapshot, source_asset.width, source_asset.height) if snapshot else None
    try:
        return _create_request(actor=actor, production=production, shot=shot, source_version=source_version,
                               kind=kind, policy=policy, params=clean_params, mask_annotation=mask_annotation,
                               snapshot=snapshot, mask_png=mask_png, frame_in=frame_in, frame_out=frame_out,
                               reference_shot=reference_shot, reference_version=reference_version,
                               replacement_version=replacement_version, performer=performer, consent=consent,
                               reason=reason, origin=origin, follow_up_of=follow_up_of, client_op=client_op)
    except IntegrityError:
        earlier = FixRequest.objects.filter(requested_by=actor, client_op=client_op).first() if client_op else None
        if earlier is None:
            raise
        earlier.duplicate = True  # the same send arrived twice at once; the other one made it
        return earlier


def _with_shot_cdl(kind, shot, params, start_from_cdl: bool):
    """The parameters with start_cdl set from the shot's own CDL when asked. A CDL sent by a client
    is taken only when it is this shot's (a follow-up carries its request's): a grade from another
    shot, or a typed one, would start the match from something the editor never set here."""
    if start_from_cdl:
        if "start_cdl" not in kind.params:
            raise ValidationError({"start_from_cdl": f"{kind.label} does not start from a CDL."})
        if not shot.cdl:
            raise ValidationError({"start_from_cdl": f"{shot.name} has no CDL from the editor's timeline."})
        return {**(params or {}), "start_cdl": shot.cdl}
    if isinstance(params, dict) and params.get("start_cdl") is not None and params["start_cdl"] != shot.cdl:
        raise ValidationError({"params": f"start_cdl is filled from {shot.name}'s own CDL (start from the editor's "
                                         f"CDL); another CDL is not taken."})
    return params


def _create_request(*, actor, production, shot, source_version, kind, policy, params, mask_annotation, snapshot,
                    mask_png, frame_in, frame_out, reference_shot, reference_version, replacement_version, performer,
                    consent, reason, origin, follow_up_of, client_op):
    stored_mask = None
    try:
        with transaction.atomic():
            fix = FixRequest(
                production=production, shot=shot, source_version=source_version, kind=kind.name,
                category=kind.category, params=params, mask_annotation=mask_annotation, mask_shape=snapshot,
                frame_in=frame_in, frame_out=frame_out, reference_shot=reference_shot,
                reference_version=reference_version, replacement_version=replacement_version,
                performer=performer if needs_consent(policy, kind) or performer else "", consent=consent,
                reason=reason, origin=origin, follow_up_of=follow_up_of, requested_by=actor,
                state=RequestState.QUEUED, client_op=client_op or None)
            if mask_png is not None:
                stored_mask = default_storage.save(f"fixes/masks/{uuid.uuid4().hex}/mask.png", ContentFile(mask_png))
                fix.mask, fix.mask_sha256 = stored_mask, hashlib.sha256(mask_png).hexdigest()
            fix.save()
            record_event("fix_request.created", actor=actor, production=production, target=fix,
                         after=_request_state(fix), reason=reason)
            job = _queue_job(fix, actor=actor)
            broadcast.request_changed(fix, "fix.request.created")
    except BaseException:
        if stored_mask:
            default_storage.delete(stored_mask)
        raise
    fix.latest_job, fix.duplicate = job, False
    return fix


def _request_state(fix):
    return {
        "kind": fix.kind, "category": fix.category, "shot": fix.shot.name, "source_version": fix.source_version_id,
        "params": fix.params, "frames": [fix.frame_in, fix.frame_out], "mask_sha256": fix.mask_sha256,
        "mask_annotation": str(fix.mask_annotation_id) if fix.mask_annotation_id else None,
        "reference_version": fix.reference_version_id, "replacement_version": fix.replacement_version_id,
        "performer": fix.performer, "consent": fix.consent_id, "origin": fix.origin,
        "follow_up_of": fix.follow_up_of_id, "state": fix.state,
    }


RUN_JOB_TASK = "answerprint.fixes.job_tasks.run_fix_job"


def _queue_job(fix, *, actor):
    job = Job.objects.create(request=fix, state=JobState.QUEUED, task_id=uuid.uuid4().hex,
                             time_limit_s=job_time_limit(), seed=int.from_bytes(os.urandom(4), "big"),
                             created_by=actor)
    record_event("fix_job.queued", actor=actor, production=fix.production, target=job,
                 after={"request": fix.pk, "queue": job.queue, "task_id": job.task_id,
                        "time_limit_s": job.time_limit_s, "seed": job.seed})
    outbox.record_task(RUN_JOB_TASK, [job.pk], task_id=job.task_id, queue=job.queue,
                       soft_time_limit=job.time_limit_s, time_limit=job.time_limit_s + 60)
    transaction.on_commit(partial(_enqueue_job, job.pk))
    return job


def _enqueue_job(job_id):
    """Publish a recorded job (after commit). If the GPU queue cannot be reached the job stays
    queued and says so; the outbox sweep publishes it again."""
    if not outbox.publish(RUN_JOB_TASK, [job_id]):
        Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
            stage="The GPU queue could not be reached; the job is sent again automatically.")


def cancel_fix_request(*, actor, fix, reason=""):
    """Stop a request whose job has not finished. A running job stops at its next progress report."""
    _require(actor, fix.production, "request_fix")
    reason = _clean_reason(reason, required=False)
    with transaction.atomic():
        fix = FixRequest.objects.select_for_update().select_related("production", "shot").get(pk=fix.pk)
        jobs = list(Job.objects.select_for_update().filter(request=fix, state__in=[JobState.QUEUED, JobState.RUNNING]))
        if not jobs:
            raise Conflict(f"This request is {fix.get_state_display().lower()}: there is no job to cancel.",
                           current_state=fix.state)
        before = fix.state
        now = timezone.now()
        for job in jobs:
            job.state, job.finished_at, job.error = JobState.CANCELLED, now, f"Cancelled by {actor.printed_name}."
            job.save(update_fields=["state", "finished_at", "error"])
            record_event("fix_job.cancelled", actor=actor, production=fix.production, target=job,
                         before={"state": before}, after={"state": job.state}, reason=reason)
            transaction.on_commit(partial(_revoke_task, job.task_id))
            outbox.mark_finished(job.task_id, error="cancelled")  # nothing for the sweep to send again
            broadcast.job_changed(job, fix)
        fix.state = RequestState.CANCELLED
        fix.save(update_fields=["state", "updated_at"])
        record_event("fix_request.cancelled", actor=actor, production=fix.production, target=fix,
                     before={"state": before}, after={"state": fix.state}, reason=reason)
    return fix


def _revoke_task(task_id):
    # A queued message is dropped by the worker that gets it; start_job refuses a cancelled job anyway.
    try:
        from answerprint.celery import app

        app.control.revoke(task_id)
    except Exception:
        log.warning("Could not revoke task %s", task_id, exc_info=True)


def retry_fix_request(*, actor, fix, reason=""):
    """Run a failed request again, as a new job; or send again the job of one that is stuck: never
    picked up by a worker, or left by a worker that stopped (see answerprint/outbox)."""
    _require(actor, fix.production, "request_fix")
    reason = _clean_reason(reason, required=False)
    with transaction.atomic():
        fix = FixRequest.objects.select_for_update().select_related("production", "shot").get(pk=fix.pk)
        if fix.state in (RequestState.QUEUED, RequestState.RUNNING):
            return _resend_stuck_job(actor, fix, reason)
        if fix.state != RequestState.FAILED:
            raise Conflict(f"Only a failed request can be run again; this one is {fix.get_state_display().lower()}.",
                           current_state=fix.state)
        kind = kind_named(fix.kind)
        if needs_consent(policy_for(fix.production), kind):
            consent, refusal = find_consent(production=fix.production, shot=fix.shot, performer=fix.performer,
                                            kind=kind)
            if consent is None:
                raise ValidationError({"consent": refusal})
        fix.state = RequestState.QUEUED
        fix.save(update_fields=["state", "updated_at"])
        job = _queue_job(fix, actor=actor)
        record_event("fix_request.retried", actor=actor, production=fix.production, target=fix,
                     before={"state": RequestState.FAILED}, after={"state": fix.state, "job": job.pk}, reason=reason)
        broadcast.request_changed(fix, "fix.request.changed")
    return fix


def _resend_stuck_job(actor, fix, reason):
    job = Job.objects.select_for_update().filter(request=fix, state__in=[JobState.QUEUED, JobState.RUNNING]).first()
    if job is None:
        raise Conflict(f"This request is {fix.get_state_display().lower()} but has no job to send again.",
                       current_state=fix.state)
    # No record at all: a job queued before the outbox existed; it is recorded now.
    task = outbox.unfinished(RUN_JOB_TASK, [job.pk])
    if task is not None and not outbox.task_is_stuck(task):
        raise Conflict(f"This one is {fix.get_state_display().lower()}. " + outbox.stuck_explanation("request"),
                       current_state=fix.state)
    task = task or outbox.record_task(RUN_JOB_TASK, [job.pk], task_id=job.task_id, queue=job.queue,
                                      soft_time_limit=job.time_limit_s, time_limit=job.time_limit_s + 60)
    record_event("fix_job.resent", actor=actor, production=fix.production, target=job,
                 before={"state": job.state, "task": task.state}, after={"task_id": task.task_id}, reason=reason)
    transaction.on_commit(partial(_enqueue_job, job.pk))
    return fix


# ---------------------------------------------------------------------------------------------
# Jobs: what the `gpu` queue's task calls


@dataclass(frozen=True)
class StoredMedia:
    """A version's original on media storage, as the worker must read it."""

    version_id: int
    name: str  # storage name; a printf pattern for an image sequence
    is_sequence: bool
    sequence_start: int | None
    fps: str  # "24000/1001"
    frame_count: int
    width: int
    height: int
    sha256: str

    @classmethod
    def of(cls, version):
        asset = version.asset
        return cls(version_id=version.pk, name=asset.original.name, is_sequence=asset.is_sequence,
                   sequence_start=asset.sequence_start, fps=f"{asset.fps_num}/{asset.fps_den}",
                   frame_count=asset.frame_count, width=asset.width, height=asset.height, sha256=asset.sha256)


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs to run a job, with no Django objects in it.

    Frames: the model gets source frames `frame_in`..`frame_out` (0 = the shot's first frame = the
    source media's first frame). `mask` is a grey PNG on media storage at the source's size,
    white where the fix applies. For removal it holds on every frame of the range; for background
    replacement it is a keyframe hint, drawn on frames `mask_frame`..`mask_frame + mask_duration - 1`.
    """

    job_id: int
    request_id: int
    kind: str
    model: str
    params: dict
    seed: int
    source: StoredMedia
    frame_in: int
    frame_out: int
    mask: str | None
    mask_sha256: str
    mask_frame: int | None
    mask_duration: int
    reference: StoredMedia | None
    replacement: StoredMedia | None
    time_limit_s: int
    deliveries: int

    def as_dict(self):
        return asdict(self)


def _locked_job(job_id):
    return (Job.objects.select_for_update(of=("self",))
            .select_related("request__production", "request__shot", "request__source_version__asset")
            .get(pk=job_id))


def _worker_name(worker):
    return f"worker {worker}" if worker else "worker"


def start_job(job_id, *, worker="", device=""):
    """Claim a job for a worker. Returns its JobSpec, or None when there is nothing to run: the
    job was cancelled, already made its proposal (a duplicate delivery) or failed for good.

    A job found `running` was being run by a worker that died (or the broker delivered it again):
    this delivery takes over, up to `max_deliveries` in all.
    """
    with transaction.atomic():
        try:
            job = _locked_job(job_id)
        except Job.DoesNotExist:
            log.warning("Fix job %s does not exist; dropping its message", job_id)
            return None
        fix = job.request
        if job.state not in (JobState.QUEUED, JobState.RUNNING):
            log.info("Fix job %s is %s; nothing to run", job_id, job.state)
            return None
        now = timezone.now()
        if job.state == JobState.RUNNING and job.heartbeat_at \
                and job.heartbeat_at > now - timedelta(seconds=settings.OUTBOX_HEARTBEAT_SECONDS):
            log.info("Fix job %s is running on %s, which reported %s ago; dropping a duplicate delivery",
                     job_id, job.worker or "a worker", now - job.heartbeat_at)
            return None
        before = {"state": job.state, "deliveries": job.deliveries, "worker": job.worker}
        taking_over = job.state == JobState.RUNNING
        job.deliveries += 1
        if job.deliveries > job.max_deliveries:
            job.save(update_fields=["deliveries"])
            _finish_failed(job, fix, f"Given up after {job.max_deliveries} attempts: the worker running it stopped "
                                     f"each time (last: {job.worker or 'unknown'}).", actor_name=_worker_name(worker))
            return None
        job.state, job.worker, job.device = JobState.RUNNING, worker[:200], device[:200]
        job.heartbeat_at = now
        job.started_at = now  # the time limit counts from this delivery
        job.progress, job.stage = 0, "Starting"
        job.save(update_fields=["state", "worker", "device", "heartbeat_at", "started_at", "progress", "stage",
                                "deliveries"])
        if fix.state != RequestState.RUNNING:
            fix.state = RequestState.RUNNING
            fix.save(update_fields=["state", "updated_at"])
        record_event("fix_job.taken_over" if taking_over else "fix_job.started", production=fix.production,
                     target=job, actor_name=_worker_name(worker), actor_role="",
                     before=before, after={"state": job.state, "deliveries": job.deliveries, "worker": job.worker,
                                           "device": job.device})
        broadcast.job_changed(job, fix)
        source = fix.source_version
        return JobSpec(
            job_id=job.pk, request_id=fix.pk, kind=fix.kind, model=kind_named(fix.kind).model, params=fix.params,
            seed=job.seed, source=StoredMedia.of(source), frame_in=fix.frame_in, frame_out=fix.frame_out,
            mask=fix.mask.name or None, mask_sha256=fix.mask_sha256,
            mask_frame=fix.mask_shape["frame"] if fix.mask_shape else None,
            mask_duration=fix.mask_shape["duration"] if fix.mask_shape else 0,
            reference=StoredMedia.of(Version.objects.select_related("asset").get(pk=fix.reference_version_id))
            if fix.reference_version_id else None,
            replacement=StoredMedia.of(Version.objects.select_related("asset").get(pk=fix.replacement_version_id))
            if fix.replacement_version_id else None,
            time_limit_s=job.time_limit_s, deliveries=job.deliveries)


def report_job_progress(job_id, fraction, stage=""):
    """Record how far a running job is (fraction 0..1) and tell the room. Raises JobCancelled when
    the job was cancelled, JobTimedOut past its time limit: the model stops where it is."""
    percent = max(0, min(100, int(round(float(fraction) * 100))))
    now = timezone.now()
    job = Job.objects.select_related("request__source_version__shot__production").get(pk=job_id)
    if job.state != JobState.RUNNING:
        raise JobCancelled(f"Job {job_id} is {job.state}; stopping.")
    if job.deadline and now > job.deadline:
        fail_job(job_id, f"Stopped at its time limit of {job.time_limit_s} s ({job.progress}% done).")
        raise JobTimedOut(f"Job {job_id} passed its time limit of {job.time_limit_s} s.")
    stage = (stage or job.stage)[:200]
    changed = Job.objects.filter(pk=job_id, state=JobState.RUNNING).update(progress=percent, stage=stage,
                                                                            heartbeat_at=now)
    if not changed:
        raise JobCancelled(f"Job {job_id} stopped running; stopping.")
    if percent != job.progress or stage != job.stage:
        job.progress, job.stage = percent, stage
        broadcast.job_progress(job, job.request)


def record_matte_track(job_id, *, files, sha256, keyframes):
    """Keep the drawn region as tracked through a running job's range (grey PNGs, one per frame in
    order from frame_in) as an asset of its request, and record its hash: the model card of the
    proposal names the same hash as the mask it was given. keyframes: the frames the region was
    drawn on (0 = the shot's first frame). A job delivered again replaces the
    track it made before. Raises JobCancelled when the job stopped running meanwhile."""
    production = Job.objects.select_related("request__production").get(pk=job_id).request.production
    folder = f"{production_root(production)}/fixes/mattes/{uuid.uuid4().hex}"
    for index, path in enumerate(files):
        with open(path, "rb") as stream:
            default_storage.save(f"{folder}/{index:06d}.png", File(stream))
    with transaction.atomic():
        job = _locked_job(job_id)
        if job.state != JobState.RUNNING:
            transaction.on_commit(partial(_delete_matte_track, folder, len(files)))
            raise JobCancelled(f"Job {job_id} is {job.state}; stopping.")
        fix = job.request
        replaced = fix.matte_track
        before = {"matte_track_sha256": fix.matte_track_sha256 or None}
        fix.matte_track, fix.matte_track_sha256 = folder, sha256
        fix.save(update_fields=["matte_track", "matte_track_sha256", "updated_at"])
        record_event("fix_request.matte_tracked", production=fix.production, target=fix, actor_name="worker",
                     actor_role="", before=before,
                     after={"matte_track_sha256": sha256, "frames": len(files),
                            "keyframes": list(keyframes)})
        if replaced:
            transaction.on_commit(partial(_delete_matte_track, replaced, fix.frame_count))
    return fix


def _delete_matte_track(folder, frames):
    for index in range(frames):
        default_storage.delete(f"{folder}/{index:06d}.png")


def requeue_job(job_id, reason):
    """A worker hit a passing problem and the task will be retried (with backoff): the job goes
    back to queued, visibly, with the reason."""
    with transaction.atomic():
        job = _locked_job(job_id)
        if job.state not in (JobState.QUEUED, JobState.RUNNING):
            return job
        before = job.state
        job.state, job.stage = JobState.QUEUED, f"Waiting to retry: {reason}"[:200]
        job.save(update_fields=["state", "stage"])
        record_event("fix_job.retrying", production=job.request.production, target=job, actor_name="worker",
                     actor_role="", before={"state": before}, after={"state": job.state, "deliveries": job.deliveries},
                     reason=reason)
        broadcast.job_changed(job, job.request)
    return job


def _finish_failed(job, fix, reason, *, actor_name="worker"):
    before = job.state
    job.state, job.error, job.finished_at = JobState.FAILED, reason, timezone.now()
    job.save(update_fields=["state", "error", "finished_at"])
    record_event("fix_job.failed", production=fix.production, target=job, actor_name=actor_name, actor_role="",
                 before={"state": before}, after={"state": job.state, "deliveries": job.deliveries}, reason=reason)
    if fix.state in (RequestState.QUEUED, RequestState.RUNNING):
        fix.state = RequestState.FAILED
        fix.save(update_fields=["state", "updated_at"])
    broadcast.job_changed(job, fix)


def fail_job(job_id, reason):
    """The job cannot succeed: keep the reason for people to read. A finished job is left alone."""
    reason = (str(reason) or "The job failed without a message.")[:MAX_REASON]
    with transaction.atomic():
        job = _locked_job(job_id)
        if job.state not in (JobState.QUEUED, JobState.RUNNING):
            return job
        _finish_failed(job, job.request, reason)
    return job


MODEL_SUMMARY_KEYS = ("kind", "method", "method_version", "package")


def _model_card_with_inputs(model_card, job, fix):
    """The model's own card plus what the platform gave it (which versions, hashes, frames, seed),
    under "platform", so the card alone says how to redo the result."""
    source = fix.source_version.asset
    inputs = {
        "request": fix.pk, "kind": fix.kind, "params": fix.params, "seed": job.seed,
        "frames": [fix.frame_in, fix.frame_out],
        "source": {"version": fix.source_version_id, "sha256": source.sha256},
        "mask_sha256": fix.mask_sha256 or None,
        "reference": {"version": fix.reference_version_id, "sha256": fix.reference_version.asset.sha256}
        if fix.reference_version_id else None,
        "replacement": {"version": fix.replacement_version_id, "sha256": fix.replacement_version.asset.sha256}
        if fix.replacement_version_id else None,
        "worker": job.worker, "device": job.device,
    }
    return {**(model_card or {}), "platform": inputs}


def ingest_job_result(job_id, *, output_path, model_card, metrics=None, preview_path=None, first_frame=None):
    """Turn a job's output file into its Proposal: a new Version of kind proposal (parent: the
    source), its MediaAsset queued for ingest like any other, the model card as provenance.

    Idempotent: a job delivered twice, or a result ingested twice, gives one proposal; the second
    call returns the first proposal and stores nothing. A cancelled or failed job's late result is
    dropped (returns None).
    """
    if not output_path or not os.path.isfile(output_path):
        raise ValidationError({"output_path": f"No result file at {output_path!r}."})
    if not isinstance(model_card, dict) or not model_card:
        raise ValidationError({"model_card": "A proposal needs the model card that made it."})
    metrics = metrics or {}
    existing = Proposal.objects.filter(job_id=job_id).first()
    if existing is not None:
        return existing
    media_sha256 = _hash_local_file(output_path)
    size = os.path.getsize(output_path)
    stored = []
    made_preview = None
    if not preview_path:
        preview_path = made_preview = _difference_preview(job_id, output_path, first_frame)
    try:
        with transaction.atomic():
            job = _locked_job(job_id)
            fix = job.request
            existing = Proposal.objects.filter(job=job).first()
            if existing is not None:  # another delivery won while this one hashed its file
                return existing
            if job.state not in (JobState.RUNNING, JobState.QUEUED):
                log.info("Dropping the result of fix job %s: it is %s", job_id, job.state)
                return None
            source = fix.source_version
            first_index = fix.frame_in if first_frame is None else first_frame
            version = new_version(shot=fix.shot, kind=VersionKind.PROPOSAL, parent=source, actor=None,
                                  numbering=source.numbering_at(first_index),
                                  note=f"{kind_named(fix.kind).label} proposal for fix #{fix.pk}: {fix.reason}"[:2000])
            folder = _version_folder(version)
            original_name = f"{fix.shot.name}_v{version.number:03d}_{fix.kind}{os.path.splitext(output_path)[1]}"
            name = _store_local(f"{folder}/original/{original_name}", output_path)
            stored.append(name)
            asset = MediaAsset.objects.create(version=version, original=name, original_name=original_name,
                                              sha256=media_sha256, size_bytes=size)
            preview = ""
            if preview_path and os.path.isfile(preview_path):
                preview = _store_local(f"{folder}/fix/preview{os.path.splitext(preview_path)[1] or '.png'}",
                                       preview_path)
                stored.append(preview)
            card = _model_card_with_inputs(model_card, job, fix)
            proposal = Proposal.objects.create(
                request=fix, job=job, version=version, model_card=card,
                model_card_sha256=signatures.model_card_hash(card), metrics=metrics, media_sha256=media_sha256,
                first_frame=first_index, preview=preview)
            now = timezone.now()
            before = job.state
            job.state, job.progress, job.stage, job.finished_at = JobState.SUCCEEDED, 100, "Done", now
            job.save(update_fields=["state", "progress", "stage", "finished_at"])
            fix.state = RequestState.PROPOSED
            fix.save(update_fields=["state", "updated_at"])
            worker = _worker_name(job.worker)
            record_event("fix_job.succeeded", production=fix.production, target=job, actor_name=worker, actor_role="",
                         before={"state": before}, after={"state": job.state, "deliveries": job.deliveries})
            record_event("proposal.created", production=fix.production, target=proposal, actor_name=worker,
                         actor_role="", after={
                             "request": fix.pk, "version": version.pk, "version_number": version.number,
                             "parent_version": source.pk, "media_sha256": media_sha256, "size_bytes": size,
                             "model_card_sha256": proposal.model_card_sha256,
                             "model": {k: card[k] for k in MODEL_SUMMARY_KEYS if k in card},
                             "metrics": metrics})
            media_services.record_ingest(asset)
            transaction.on_commit(partial(_enqueue_ingest, asset.pk))
            broadcast.job_changed(job, fix)
            broadcast.proposal_ready(proposal)
            notifications.proposal_made(proposal)
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise
    finally:
        if made_preview:
            os.unlink(made_preview)
    return proposal


def _difference_preview(job_id, output_path, first_frame):
    """A preview PNG made from the stored source and the result (a temporary file), or None
    when it cannot be made: the proposal is still valid without one."""
    from fractions import Fraction

    from answerprint.media.storage import local_files, local_path_of

    from .preview import make_preview

    job = Job.objects.select_related("request__source_version__asset").get(pk=job_id)
    fix = job.request
    source = fix.source_version.asset
    middle = (fix.frame_in + fix.frame_out) // 2
    offset = fix.frame_in if first_frame is None else first_frame
    handle, out_path = tempfile.mkstemp(prefix="answerprint-preview-", suffix=".png")
    os.close(handle)
    try:
        mask_path = local_path_of(fix.mask.name) if fix.mask else None
        arguments = dict(source_index=middle, result_path=output_path, result_index=middle - offset,
                         fps=Fraction(source.fps_num, source.fps_den), width=source.width, height=source.height,
                         out_path=out_path, mask_path=mask_path)
        if source.is_sequence:
            path = local_path_of(source.original.name)
            if path is None:
                raise ValueError("a sequence on remote storage")
            make_preview(source_path=path, source_sequence_start=source.sequence_start, **arguments)
        else:
            with local_files([source.original.name]) as paths:
                make_preview(source_path=paths[source.original.name], **arguments)
        return out_path
    except Exception as error:  # noqa: BLE001 - a preview is a convenience, never a reason to lose a result
        log.warning("No difference preview for fix job %s: %s", job_id, error)
        os.unlink(out_path)
        return None


# ---------------------------------------------------------------------------------------------
# Decisions


def _locked_proposal(proposal):
    return (Proposal.objects.select_for_update(of=("self",))
            .select_related("request__production", "request__shot", "request__requested_by", "version__shot",
                            "version__asset")
            .get(pk=proposal.pk))


def _settled_message(proposal):
    final = proposal.decisions.filter(final=True).first()
    if final is None:
        return f"This proposal is already {proposal.get_state_display().lower()}."
    return (f"This proposal was already {proposal.get_state_display().lower()} by {final.printed_name} at "
            f"{final.signed_at:%Y-%m-%d %H:%M:%S} UTC; your decision was not recorded.")


def _check_pending(proposal):
    if proposal.state != ProposalState.PENDING:
        raise Conflict(_settled_message(proposal), current_state=proposal.state)


def _check_consent_still_holds(proposal, *, actor, action):
    fix = proposal.request
    kind = kind_named(fix.kind)
    if not needs_consent(policy_for_request(fix), kind):
        return
    consent, refusal = find_consent(production=fix.production, shot=fix.shot, performer=fix.performer, kind=kind)
    if consent is None:
        raise ValidationError({"consent": f"{action} refused: {refusal}"}, code="consent_required")


def _stored_media_sha256(proposal):
    asset = proposal.version.asset
    if asset.is_sequence:
        return asset.sha256
    return sha256_of(asset.original.name)


def _decision_hashes(proposal):
    return {"media_sha256": proposal.media_sha256, "model_card_sha256": proposal.model_card_sha256,
            "record_hash": signatures.proposal_record_hash(proposal)}


def _manifestation(decision):
    return {"printed_name": decision.printed_name, "signed_at": decision.signed_at, "meaning": decision.meaning,
            "outcome": decision.outcome, "role": decision.role, "record_hash": decision.record_hash,
            "signature_hash": decision.signature_hash, "media_sha256": decision.media_sha256,
            "model_card_sha256": decision.model_card_sha256, "manifestation": decision.manifestation,
            "acknowledged_warning": decision.acknowledged_warning}


def approve_proposal(*, actor, proposal, password, meaning, record_hash, second_factor="", reason="",
                     acknowledge_warning=False):
    """Sign a proposal. The signer re-enters their password (and second factor), states the
    meaning, and names the record they saw (`record_hash`); the signature binds to that record.

    Counts as a recommendation or an approval as the production's policy says; the proposal is
    approved once the quorum is met. A second person settling it at the same moment gets a
    Conflict; a consent that no longer covers the request refuses the approval. A proposal its own
    quality check does not recommend is signed only with `acknowledge_warning`: the warning the
    signer saw is then sealed into the signature and recorded in the audit event.
    """
    production = proposal.request.production
    _require(actor, production, "decide")
    reason = _clean_reason(reason, required=False)
    if meaning not in Meaning.values:
        raise ValidationError({"meaning": f"Choose what your signature means: {', '.join(Meaning.values)}."})
    if signatures.recent_failures(actor) >= signatures.MAX_FAILED_ATTEMPTS:
        _audit_alone("signature.refused", actor=actor, production=production, target=proposal,
                     after={"why": "too many failed attempts"})
        raise ValidationError({"password": "Too many failed signing attempts: signing is blocked for "
                                           f"{int(signatures.FAILED_ATTEMPT_WINDOW.total_seconds() // 60)} minutes."})
    try:
        factors = signatures.check_credentials(actor, password, second_factor)
    except ValidationError as error:
        _audit_alone("signature.refused", actor=actor, production=production, target=proposal,
                     after={"why": "; ".join(error.messages)})
        raise
    stored_sha256 = _stored_media_sha256(proposal)  # outside the lock: the bytes do not change
    try:
        return _sign(actor=actor, proposal=proposal, meaning=meaning, record_hash=record_hash, reason=reason,
                     stored_sha256=stored_sha256, acknowledge_warning=acknowledge_warning, factors=factors)
    except ValidationError as error:
        if getattr(error, "code", None) == "consent_required" or "consent" in getattr(error, "error_dict", {}):
            _audit_alone("proposal.approval_refused", actor=actor, production=production, target=proposal,
                         after={"meaning": meaning}, reason="; ".join(error.messages))
        raise


def _acknowledged_warning(proposal, acknowledge_warning):
    """The warning text the signer confirms, or "" when the proposal's check raised none."""
    quality = proposal.quality
    if not quality.needs_acknowledgement:
        return ""
    if not acknowledge_warning:
        raise ValidationError({"acknowledge_warning": f"{quality.summary} Confirm that you saw this warning to sign; "
                                                      "nothing was signed."})
    return quality.summary


def _sign(*, actor, proposal, meaning, record_hash, reason, stored_sha256, acknowledge_warning=False,
          factors=("password",)):
    with transaction.atomic():
        proposal = _locked_proposal(proposal)
        fix = proposal.request
        membership = _require(actor, fix.production, "decide")
        _check_pending(proposal)
        hashes = _decision_hashes(proposal)
        if record_hash != hashes["record_hash"]:
            raise Conflict("This is not the result you opened: the proposal's record is "
                           f"{hashes['record_hash'][:16]}…, you signed for {str(record_hash)[:16] or 'nothing'}. "
                           "Reload it and look again before you sign.", current_state=proposal.state)
        if stored_sha256 != proposal.media_sha256:
            raise Conflict("The proposal's media in storage is not the media that was proposed: it cannot be signed.",
                           current_state=proposal.state)
        asset = proposal.version.asset
        if asset.status != AssetStatus.READY:
            # Nobody can have looked at a picture the browser cannot play yet.
            raise ValidationError({"proposal": f"The proposal's picture is not ready to review yet ("
                                               f"{asset.get_status_display().lower()}"
                                               f"{': ' + asset.status_reason if asset.status_reason else ''}); "
                                               f"sign it once it can be seen."})
        _check_consent_still_holds(proposal, actor=actor, action="Approval")
        warning = _acknowledged_warning(proposal, acknowledge_warning)
        policy = policy_for_request(fix)
        decisions = list(proposal.decisions.all())
        counts_as = what_signature_counts_as(policy=policy, role=membership.role, meaning=meaning, user=actor,
                                             request=fix, decisions=decisions)
        decision = Decision(proposal=proposal, outcome=Outcome.APPROVE, meaning=meaning, counts_as=counts_as,
                            signer=actor, printed_name=actor.printed_name, role=membership.role,
                            signed_at=timezone.now(), reason=reason, acknowledged_warning=warning, **hashes)
        decision.signature_hash = signatures.signature_hash(decision)
        now_standing = standing(policy, decisions + [decision])
        decision.final = now_standing.approved
        try:
            with transaction.atomic():
                decision.save()
        except IntegrityError:
            raise Conflict(_settled_message(proposal), current_state=proposal.state) from None
        record_event("proposal.signed", actor=actor, production=fix.production, target=proposal,
                     after={**_manifestation(decision), "counts_as": counts_as, "standing": now_standing.describe(),
                            "factors": list(factors)},
                     reason=reason)
        if decision.final:
            _settle(proposal, ProposalState.APPROVED, RequestState.APPROVED, actor=actor, decision=decision)
        broadcast.decision_made(proposal, decision)
        notifications.decision_made(proposal, decision)
    return decision


def _settle(proposal, state, request_state, *, actor, decision, reason=""):
    before = proposal.state
    proposal.state, proposal.decided_at = state, decision.signed_at
    proposal.save(update_fields=["state", "decided_at"])
    fix = proposal.request
    fix.state = request_state
    fix.save(update_fields=["state", "updated_at"])
    signed = [_manifestation(d) for d in proposal.decisions.filter(outcome=Outcome.APPROVE)]
    record_event(f"proposal.{state}", actor=actor, production=fix.production, target=proposal,
                 before={"state": before}, after={"state": state, "signatures": signed,
                                                  "record_hash": decision.record_hash}, reason=reason)


def _unsigned_decision(*, actor, proposal, outcome, state, request_state, reason, follow_up=None):
    production = proposal.request.production
    _require(actor, production, "decide")
    what = "Say why you reject it" if outcome == Outcome.REJECT else "Say what should change"
    reason = _clean_reason(reason, what=what)
    with transaction.atomic():
        proposal = _locked_proposal(proposal)
        fix = proposal.request
        membership = _require(actor, fix.production, "decide")
        _check_pending(proposal)
        decision = Decision(proposal=proposal, outcome=outcome, final=True, signer=actor,
                            printed_name=actor.printed_name, role=membership.role, signed_at=timezone.now(),
                            reason=reason, **_decision_hashes(proposal))
        try:
            with transaction.atomic():
                decision.save()
        except IntegrityError:
            raise Conflict(_settled_message(proposal), current_state=proposal.state) from None
        _settle(proposal, state, request_state, actor=actor, decision=decision, reason=reason)
        if follow_up is not None:
            new = request_fix(actor=actor, source_version=follow_up.get("source_version") or fix.source_version,
                              kind=follow_up.get("kind") or fix.kind,
                              params={**fix.params, **(follow_up.get("params") or {})},
                              mask_annotation=follow_up.get("mask_annotation", fix.mask_annotation),
                              frame_in=follow_up.get("frame_in", fix.frame_in),
                              frame_out=follow_up.get("frame_out", fix.frame_out),
                              reference_version=fix.reference_version, replacement_version=fix.replacement_version,
                              performer=fix.performer, reason=reason, origin=follow_up.get("origin", fix.origin),
                              follow_up_of=fix)
            decision.follow_up = new
            decision.save(update_fields=["follow_up"])
        broadcast.decision_made(proposal, decision)
        notifications.decision_made(proposal, decision)
    return decision


def reject_proposal(*, actor, proposal, reason):
    return _unsigned_decision(actor=actor, proposal=proposal, outcome=Outcome.REJECT, state=ProposalState.REJECTED,
                              request_state=RequestState.REJECTED, reason=reason)


def request_changes(*, actor, proposal, reason, follow_up=None):
    """Send a proposal back. With `follow_up` (a dict: params, mask_annotation, frame_in,
    frame_out; anything left out is taken from the request) the notes become a new request,
    queued in the same transaction."""
    if follow_up is not None:
        _require(actor, proposal.request.production, "request_fix")
    return _unsigned_decision(actor=actor, proposal=proposal, outcome=Outcome.REQUEST_CHANGES,
                              state=ProposalState.CHANGES_REQUESTED, request_state=RequestState.CHANGES_REQUESTED,
                              reason=reason, follow_up=follow_up)


def decide_proposal(*, actor, proposal, outcome, meaning="", password="", second_factor="", record_hash="",
                    reason="", follow_up=None, origin=Origin.UI, acknowledge_warning=False):
    """One entry for pages, the API and the room: approve (a signature), reject or request changes."""
    if outcome == Outcome.APPROVE:
        return approve_proposal(actor=actor, proposal=proposal, password=password, meaning=meaning,
                                record_hash=record_hash, second_factor=second_factor, reason=reason,
                                acknowledge_warning=acknowledge_warning)
    if outcome == Outcome.REJECT:
        return reject_proposal(actor=actor, proposal=proposal, reason=reason)
    if outcome == Outcome.REQUEST_CHANGES:
        if follow_up is not None:
            follow_up = {**follow_up, "origin": origin}
        return request_changes(actor=actor, proposal=proposal, reason=reason, follow_up=follow_up)
    raise ValidationError({"outcome": f"Choose one of {', '.join(Outcome.values)}."})


# ---------------------------------------------------------------------------------------------
# Delivery


def promote_to_delivery(*, actor, version, reason=""):
    """Make an approved proposal a delivery Version. Everything else is refused: a plate, a
    proposal not (yet) approved, one whose signatures no longer hold, one promoted already."""
    production = version.shot.production
    _require(actor, production, "ingest")
    reason = _clean_reason(reason, required=False)
    if version.kind != VersionKind.PROPOSAL:
        raise ValidationError({"version": f"{version} is a {version.get_kind_display().lower()}: only an approved "
                                          f"proposal can be promoted to delivery."}, code="not_a_proposal")
    proposal = Proposal.objects.filter(version=version).first()
    if proposal is None:
        raise ValidationError({"version": f"{version} was not made by a fix job: nothing approved it."},
                              code="not_a_proposal")
    stored_sha256 = _stored_media_sha256(proposal)
    with transaction.atomic():
        proposal = _locked_proposal(proposal)
        fix = proposal.request
        if proposal.state != ProposalState.APPROVED:
            raise ValidationError({"version": f"{version} is {proposal.get_state_display().lower()}, not approved: "
                                              f"only an approved proposal can be promoted to delivery."},
                                  code="not_approved")
        if proposal.delivery_version_id:
            raise Conflict(f"{version} was already promoted (delivery v{proposal.delivery_version.number:03d}).",
                           current_state="promoted")
        signed = list(proposal.decisions.filter(outcome=Outcome.APPROVE).select_related("proposal"))
        problems = [f"{d.printed_name}'s signature: {problem}" for d in signed
                    for problem in signatures.verify_decision(d, media_sha256=stored_sha256)]
        if problems:
            raise ValidationError({"version": "The approval no longer holds: " + "; ".join(problems) + "."},
                                  code="signature_broken")
        _check_consent_still_holds(proposal, actor=actor, action="Delivery")
        delivery = new_version(shot=fix.shot, kind=VersionKind.DELIVERY, parent=proposal.version, actor=actor,
                               numbering=proposal.version.numbering_at(0), note=f"Delivery of approved fix #{fix.pk}")
        proposal.delivery_version = delivery
        proposal.save(update_fields=["delivery_version"])
        record_event("proposal.promoted", actor=actor, production=fix.production, target=proposal, after={
            "delivery_version": delivery.pk, "delivery_number": delivery.number, "media_sha256": proposal.media_sha256,
            "signatures": [_manifestation(d) for d in signed]}, reason=reason)
        # The conform-ready media, its credentials and manifest are built on the media queue.
        delivery_services.open_package(actor=actor, proposal=proposal, delivery=delivery)
        broadcast.promoted(proposal, delivery)
    return delivery


# ---------------------------------------------------------------------------------------------
# Consent registry


def _consent_state(consent):
    return {
        "performer": consent.performer, "guild": consent.guild, "consent_type": consent.consent_type,
        "scope": consent.scope, "kinds": consent.kinds, "shots": sorted(s.name for s in consent.shots.all()),
        "signed_by": consent.signed_by, "signer_capacity": consent.signer_capacity,
        "document_sha256": consent.document_sha256, "signed_at": consent.signed_at,
        "notice_given_at": consent.notice_given_at, "expires_at": consent.expires_at,
        "revoked_at": consent.revoked_at, "revocation_reason": consent.revocation_reason,
    }


def record_consent(*, actor, production, performer, consent_type, scope, kinds, shots, signed_by, signed_at,
                   guild=Guild.SAG_AFTRA, signer_capacity=SignerCapacity.PERFORMER, notice_given_at=None,
                   expires_at=None, document=None, document_sha256="", reason=""):
    """Put a signed consent on the register. `document` (an uploaded file) is stored and hashed;
    without it, `document_sha256` is the hash of the signed document kept elsewhere."""
    _require(actor, production, "manage_consent")
    errors = {}
    performer = normalise_performer(performer)
    if not performer:
        errors["performer"] = "Name the performer."
    if consent_type not in dict(ConsentType.CHOICES):
        errors["consent_type"] = f"Choose one of {', '.join(dict(ConsentType.CHOICES))}."
    if guild not in Guild.values:
        errors["guild"] = f"Choose one of {', '.join(Guild.values)}."
    if signer_capacity not in SignerCapacity.values:
        errors["signer_capacity"] = f"Choose one of {', '.join(SignerCapacity.values)}."
    scope = (scope or "").strip()
    if not scope:
        errors["scope"] = "Copy the written scope of use from the signed document."
    if not (signed_by or "").strip():
        errors["signed_by"] = "Name who signed: the performer or their authorised representative."
    kinds = list(dict.fromkeys(kinds or []))
    for name in kinds:
        try:
            kind = kind_named(name)
        except ValidationError:
            errors["kinds"] = f"Unknown fix kind {name!r}."
            break
        if consent_type in dict(ConsentType.CHOICES) and consent_type not in CONSENT_TYPES_FOR[kind.category]:
            errors["kinds"] = f"A {dict(ConsentType.CHOICES)[consent_type].lower()} consent cannot cover {kind.label.lower()}."
            break
    if not kinds and "kinds" not in errors:
        errors["kinds"] = "Name the fix kinds the scope allows."
    shots = list(shots or [])
    if not shots:
        errors["shots"] = "Name the shots the consent covers."
    elif any(shot.production_id != production.pk for shot in shots):
        errors["shots"] = "Every shot must belong to this production."
    now = timezone.now()
    if signed_at is None:
        errors["signed_at"] = "Give the time the document was signed."
    elif signed_at > now:
        errors["signed_at"] = "The signing time cannot be in the future."
    if consent_type == ConsentType.EMPLOYMENT_REPLICA and notice_given_at is None:
        errors["notice_given_at"] = "An employment-based replica needs the time notice was given (48 hours ahead)."
    if expires_at is not None and signed_at is not None and expires_at <= signed_at:
        errors["expires_at"] = "The expiry must come after the signing."
    document_sha256 = (document_sha256 or "").strip().lower()
    if document is not None:
        digest = hashlib.sha256()
        for chunk in document.chunks():
            digest.update(chunk)
        document.seek(0)
        if document_sha256 and document_sha256 != digest.hexdigest():
            errors["document_sha256"] = "The hash given does not match the uploaded document."
        document_sha256 = digest.hexdigest()
    elif len(document_sha256) != 64 or any(c not in "0123456789abcdef" for c in document_sha256):
        errors["document_sha256"] = "Upload the signed document, or give its sha256 (64 hexadecimal characters)."
    if errors:
        raise ValidationError(errors)
    stored = None
    try:
        with transaction.atomic():
            consent = Consent(production=production, performer=performer, guild=guild, consent_type=consent_type,
                              scope=scope, kinds=kinds, signed_by=signed_by.strip(), signer_capacity=signer_capacity,
                              document_sha256=document_sha256, signed_at=signed_at, notice_given_at=notice_given_at,
                              expires_at=expires_at, recorded_by=actor)
            if document is not None:
                stored = default_storage.save(
                    f"{production_root(production)}/consents/{uuid.uuid4().hex}/{safe_filename(document.name)}",
                    document)
                consent.document = stored
            consent.save()
            consent.shots.set(shots)
            record_event("consent.recorded", actor=actor, production=production, target=consent,
                         after=_consent_state(consent), reason=reason)
    except BaseException:
        if stored:
            default_storage.delete(stored)
        raise
    return consent


def revoke_consent(*, actor, consent, reason):
    """Withdraw a consent. Requests it covered can no longer be approved or delivered."""
    _require(actor, consent.production, "manage_consent")
    reason = _clean_reason(reason, what="Say why the consent is withdrawn")
    with transaction.atomic():
        consent = Consent.objects.select_for_update().select_related("production").get(pk=consent.pk)
        if consent.revoked_at is not None:
            raise Conflict(f"This consent was already revoked on {consent.revoked_at:%Y-%m-%d %H:%M} UTC.",
                           current_state="revoked")
        before = _consent_state(consent)
        consent.revoked_at, consent.revoked_by, consent.revocation_reason = timezone.now(), actor, reason
        consent.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])
        record_event("consent.revoked", actor=actor, production=consent.production, target=consent,
                     before=before, after=_consent_state(consent), reason=reason)
    return consent


# ---------------------------------------------------------------------------------------------
# Policy


def update_fix_policy(*, actor, production, reason="", **values):
    """Change the production's approval policy; returns the FixPolicyChange.

    A change that only tightens applies at once. One that relaxes anything waits, pending, for
    confirm_fix_policy_change by a second person; a newer proposal supersedes a pending one.
    """
    _require(actor, production, "edit_production")
    unknown = set(values) - set(FixPolicy.DEFAULTS)
    if unknown:
        raise ValidationError(f"No policy setting named {', '.join(sorted(unknown))}.")
    reason = _clean_reason(reason, what="Say why the policy changes")
    with transaction.atomic():
        policy = FixPolicy.objects.select_for_update().filter(production=production).first()
        before = policy.as_dict() if policy else policy_for(production).as_dict()
        after = clean_policy({**before, **values})
        relaxes = relaxed_settings(before, after)
        FixPolicyChange.objects.filter(production=production, state=PolicyChangeState.PENDING).update(
            state=PolicyChangeState.SUPERSEDED)
        change = FixPolicyChange.objects.create(
            production=production, before=before, after=after, relaxes=relaxes, reason=reason, proposed_by=actor,
            state=PolicyChangeState.PENDING if relaxes else PolicyChangeState.APPLIED)
        if relaxes:
            record_event("fix_policy.change_proposed", actor=actor, production=production, target=change,
                         before=before, after=after, reason=reason)
        else:
            _apply_policy_change(change, actor=actor)
    return change


def confirm_fix_policy_change(*, actor, change, reason=""):
    """A second producer, or compliance, confirms a relaxing change; it applies from now on."""
    production = change.production
    membership = _require(actor, production, "view")
    if membership.role not in (Role.PRODUCER, Role.COMPLIANCE):
        raise PermissionDenied("Only another producer or compliance may confirm a change of the approval policy.")
    if actor.pk == change.proposed_by_id:
        raise PermissionDenied("You proposed this change: a second person must confirm it.")
    reason = _clean_reason(reason, required=False)
    with transaction.atomic():
        change = FixPolicyChange.objects.select_for_update().get(pk=change.pk)
        if change.state != PolicyChangeState.PENDING:
            raise Conflict(f"This change is {change.get_state_display().lower()}: there is nothing to confirm.",
                           current_state=change.state)
        policy = FixPolicy.objects.select_for_update().filter(production=production).first()
        if (policy.as_dict() if policy else policy_for(production).as_dict()) != change.before:
            change.state = PolicyChangeState.SUPERSEDED
            change.save(update_fields=["state"])
            raise Conflict("The policy changed after this was proposed: propose the change again.",
                           current_state=change.state)
        change.confirmed_by = actor
        _apply_policy_change(change, actor=actor, reason=reason)
    return change


def _apply_policy_change(change, *, actor, reason=""):
    policy = FixPolicy.objects.filter(production=change.production).first() or FixPolicy(production=change.production)
    for name, value in change.after.items():
        setattr(policy, name, value)
    policy.updated_by = actor
    policy.save()
    change.state = PolicyChangeState.APPLIED
    change.applied_at = timezone.now()
    change.save()
    after = dict(change.after)
    if change.relaxes:
        after.update(relaxes=change.relaxes, proposed_by=change.proposed_by.printed_name,
                     confirmed_by=change.confirmed_by.printed_name if change.confirmed_by else None,
                     holds_for="fix requests made from now on")
    record_event("fix_policy.changed", actor=actor, production=change.production, target=policy,
                 before=change.before, after=after, reason=change.reason if not reason else f"{change.reason} — {reason}")
