"""Every write to shots, versions and media assets — validated, audited, atomic — and ingest.

Ingest in brief: an upload or a registered path becomes a plate Version with a MediaAsset in
`queued`; on commit the `media` queue's task runs `process_asset`, which probes the original,
makes the browser proxy, poster and filmstrip in one ffmpeg pass, and leaves the asset `ready`
or `failed` with a reason a person can act on. The original is never modified or removed.
"""
import hashlib
import logging
import os
import posixpath
import re
import tempfile
import time
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from answerprint.accounts.models import Membership
from answerprint.audit.services import record_event
from answerprint.outbox import services as outbox

from . import ffmpeg
from .models import AssetStatus, MediaAsset, Shot, ShotStatus, Version, VersionKind, VersionState
from .storage import (lies_in_production, local_files, path_in_production, production_root, replace_file,
                      safe_filename, sequence_frames, sequence_pattern, sha256_of)
from .timecode import parse_rate
from .uploads import UploadRefusal

log = logging.getLogger(__name__)

# A worker killed mid-ingest (out of memory, redeployed) gets its message delivered again; an
# original that kills it every time must still end up failed, not loop for ever.
MAX_INGEST_ATTEMPTS = 6
PROGRESS_SAVE_SECONDS = 1.0

# What a timeline import sets on a shot (see Shot for their meaning).
EDITORIAL_FIELDS = ("source_name", "reel", "clip_name", "source_timecode_in", "source_timecode_out",
                    "record_timecode_in", "record_timecode_out", "handles", "time_scalar", "cdl", "editorial_notes",
                    "timeline_id")
_SHOT_FIELDS = ("name", "sequence", "episode", "description", "first_frame", "last_frame", "status",
                *EDITORIAL_FIELDS)
_UPDATABLE_SHOT_FIELDS = set(_SHOT_FIELDS) - {"name"}


# ---------------------------------------------------------------------------------------------
# Shots

def _shot_state(shot):
    return {name: getattr(shot, name) for name in _SHOT_FIELDS}


def _check_frame_range(first_frame, last_frame):
    if first_frame is None or first_frame < 0:
        raise ValidationError({"first_frame": "The first frame must be 0 or more."})
    if last_frame is not None and last_frame < first_frame:
        raise ValidationError({"last_frame": f"The last frame ({last_frame}) comes before the first frame "
                                             f"({first_frame})."})


def _check_name_free(production, name, exclude_pk=None):
    clash = Shot.objects.filter(production=production, name__iexact=name).exclude(pk=exclude_pk).first()
    if clash is not None:
        raise ValidationError({"name": f"A shot named {clash.name} already exists in this production."})


@transaction.atomic
def create_shot(*, actor, production, name, sequence="", episode="", first_frame=1001, last_frame=None,
                description="", reason="", **editorial):
    """A new shot. `editorial` may carry the EDITORIAL_FIELDS of a timeline import."""
    unknown = set(editorial) - set(EDITORIAL_FIELDS)
    if unknown:
        raise ValidationError(f"Cannot set {', '.join(sorted(unknown))} on a shot.")
    name = (name or "").strip()
    _check_frame_range(first_frame, last_frame)
    _check_name_free(production, name)
    shot = Shot(production=production, name=name, sequence=sequence or "", episode=episode or "",
                first_frame=first_frame, last_frame=last_frame, description=description or "", **editorial)
    shot.full_clean()
    shot.save()
    record_event("shot.created", actor=actor, production=production, target=shot, after=_shot_state(shot),
                 reason=reason)
    return shot


@transaction.atomic
def update_shot(*, actor, shot, reason="", **changes):
    unknown = set(changes) - _UPDATABLE_SHOT_FIELDS
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))} on a shot.")
    shot = Shot.objects.select_for_update().select_related("production").get(pk=shot.pk)
    changes = {name: value for name, value in changes.items() if getattr(shot, name) != value}
    if not changes:
        return shot
    if "status" in changes and changes["status"] not in ShotStatus.values:
        raise ValidationError({"status": f"Unknown status {changes['status']!r}."})
    before = {name: getattr(shot, name) for name in changes}
    for name, value in changes.items():
        setattr(shot, name, value)
    _check_frame_range(shot.first_frame, shot.last_frame)
    shot.full_clean()
    shot.save(update_fields=list(changes))
    record_event("shot.updated", actor=actor, production=shot.production, target=shot, before=before,
                 after=changes, reason=reason)
    return shot


def post_locator_comments(*, actor, shot: Shot) -> None:
    """Put the shot's editor's locators that have no comment yet on its latest version, at their
    frames, written in the name of whoever imported the timeline. A locator on a frame outside
    the version stays on the shot only. Called by the timeline import and when a plate arrives.
    """
    pending = list(shot.locators.filter(comment__isnull=True).select_related("timeline__imported_by"))
    version = shot.versions.order_by("-number").first()
    if not pending or version is None:
        return
    # review builds on media, not the other way round
    from answerprint.review.services import create_comment, frame_count

    count = frame_count(version) or 0
    for locator in pending:
        if not 0 <= locator.frame - shot.first_frame < count:
            continue
        colour = f" ({locator.color})" if locator.color else ""
        author = (locator.timeline.imported_by if locator.timeline else None) or actor
        comment = create_comment(actor=author, version=version, frame=locator.frame - shot.first_frame,
                                 body=f"Editor's locator{colour} at {locator.timecode}: {locator.text}").obj
        locator.comment = comment
        locator.save(update_fields=["comment"])


# ---------------------------------------------------------------------------------------------
# New versions: upload and register

def new_version(*, shot, actor, note, kind=VersionKind.PLATE, parent=None, numbering=None):
    """A new version numbered after the shot's last, inside the caller's transaction (the shot's
    row is locked here so two at once get two numbers). `numbering` is (first frame, start
    timecode) from its source; a plate without one starts at the shot's first frame."""
    shot = _locked_shot(shot)
    last = Version.objects.filter(shot=shot).aggregate(last=Max("number"))["last"] or 0
    first_frame, start_timecode = numbering or (shot.first_frame, "")
    return Version.objects.create(shot=shot, number=last + 1, kind=kind, parent=parent, first_frame=first_frame,
                                  start_timecode=start_timecode, state=VersionState.PROCESSING, note=note or "",
                                  created_by=actor)


def version_folder(shot, version):
    return f"productions/{shot.production.code}/shots/{shot.name}/v{version.number:03d}"


def _locked_shot(shot):
    return Shot.objects.select_for_update().select_related("production").get(pk=shot.pk)


INGEST_TASK = "answerprint.media.tasks.process_asset"


def record_ingest(asset):
    """Put the asset's ingest on record, in the caller's transaction (see answerprint/outbox)."""
    outbox.record_task(INGEST_TASK, [asset.pk])


def send_ingest(asset_id):
    """Publish a recorded ingest (after commit). If the queue cannot be reached the asset stays
    queued and says so; the outbox sweep publishes it again."""
    if not outbox.publish(INGEST_TASK, [asset_id]):
        MediaAsset.objects.filter(pk=asset_id, status=AssetStatus.QUEUED).update(
            status_reason="The ingest queue could not be reached; it is sent again automatically.",
            updated_at=timezone.now())


def _enqueue_on_commit(asset):
    record_ingest(asset)
    transaction.on_commit(partial(send_ingest, asset.pk))


def _sha256_of_upload(uploaded_file):
    digest = hashlib.sha256()
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)
    return digest.hexdigest()


def ingest_upload(*, actor, shot, uploaded_file, note=""):
    """Store an uploaded original as a new plate version of `shot` and queue its ingest.

    `uploaded_file` normally comes from HashingUploadHandler, which already computed `.sha256`
    while the bytes arrived; the original is stored as received, under the version's folder.
    """
    size = uploaded_file.size or 0
    if size > settings.UPLOAD_MAX_BYTES:  # normally the upload handler has stopped it already
        refusal = UploadRefusal(limit=settings.UPLOAD_MAX_BYTES, file_name=uploaded_file.name or "",
                                declared_bytes=size)
        record_upload_refused(actor=actor, production=shot.production, refusal=refusal, shot=shot)
        raise ValidationError({"file": refusal.message})
    sha256 = getattr(uploaded_file, "sha256", None) or _sha256_of_upload(uploaded_file)
    original_name = posixpath.basename((uploaded_file.name or "").replace("\\", "/"))[:300] or "original"
    stored = None
    try:
        with transaction.atomic():
            shot = _locked_shot(shot)
            version = new_version(shot=shot, actor=actor, note=note)
            stored = default_storage.save(f"{version_folder(shot, version)}/original/{safe_filename(original_name)}",
                                          uploaded_file)
            _close_if_moved(uploaded_file)
            asset = MediaAsset.objects.create(version=version, original=stored, original_name=original_name,
                                              sha256=sha256, size_bytes=size)
            record_event("media.uploaded", actor=actor, production=shot.production, target=asset, after={
                "shot": shot.name, "version": version.number, "file": original_name, "stored_as": stored,
                "sha256": sha256, "size_bytes": size, "note": version.note,
            })
            post_locator_comments(actor=actor, shot=shot)
            _enqueue_on_commit(asset)
    except BaseException:
        if stored is not None:
            default_storage.delete(stored)  # the version it belonged to was rolled back
        raise
    return version


def _close_if_moved(uploaded_file):
    # File-system storage moves a TemporaryUploadedFile into place; closing it now keeps its
    # temporary-file wrapper from trying to delete the moved file later.
    path = getattr(uploaded_file, "temporary_file_path", None)
    if path is not None and not os.path.exists(path()):
        uploaded_file.close()


def _sequence_sha256(frame_names):
    """The sha256 of a sequence: over each frame's sha256 (hex, then a newline), in frame order.

    The same from a shell:  for f in $(ls frame.*.exr | sort); do sha256sum "$f" | cut -c1-64; done | sha256sum
    """
    digest = hashlib.sha256()
    for name in frame_names:
        digest.update(sha256_of(name).encode() + b"\n")
    return digest.hexdigest()


def _describe_gaps(numbers):
    missing, runs = [], []
    for previous, current in zip(numbers, numbers[1:]):
        if current > previous + 1:
            runs.append((previous + 1, current - 1))
            missing.append(current - previous - 1)
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:10])
    more = f" and {len(runs) - 10} more gaps" if len(runs) > 10 else ""
    return text + more


def _inspect_sequence(production, given, pattern, regex):
    # A frame that is a link out of the production counts as absent, so the answer is the same
    # whether or not something exists where it points.
    frames = [(number, name) for number, name in sequence_frames(pattern, regex) if lies_in_production(production, name)]
    if not frames:
        raise ValidationError({"path": f"No frames in this production's media match {given}."})
    numbers = [number for number, _ in frames]
    if len(set(numbers)) != len(numbers):
        raise ValidationError({"path": f"{given} matches two files with the same frame number (padding differs)."})
    if numbers[-1] - numbers[0] + 1 != len(numbers):
        raise ValidationError({"path": f"The sequence has gaps: frames {_describe_gaps(numbers)} are missing."})
    names = [name for _, name in frames]
    return {
        "original": pattern, "original_name": posixpath.basename(pattern), "is_sequence": True,
        "sequence_start": numbers[0], "size_bytes": sum(default_storage.size(name) for name in names),
        "sha256": _sequence_sha256(names), "frames": len(names), "first": numbers[0], "last": numbers[-1],
    }


def _inspect_file(production, given, name):
    if not lies_in_production(production, name) or not default_storage.exists(name):
        raise ValidationError({"path": f"No file at {given} in this production's media."})
    try:
        sha256 = sha256_of(name)
    except IsADirectoryError:
        raise ValidationError({"path": f"{given} is a folder: give a file, or a sequence as frame.%04d.exr."}) from None
    return {"original": name, "original_name": posixpath.basename(name), "is_sequence": False,
            "sequence_start": None, "size_bytes": default_storage.size(name), "sha256": sha256}


def register_media(*, actor, shot, path, note=""):
    """Make a file already in the production's media (or an image sequence there) a new plate version.

    `path` is relative to the production's media folder (`productions/<code>/` on storage; a
    vendor's delivery lands in its `incoming/`), and nothing outside that folder can be named:
    another production's path, a way up or a link out are all answered as "no file there". A
    sequence is given as a printf pattern ("incoming/x/frame.%04d.exr") or with hashes
    ("incoming/x/frame.####.exr"); it must be complete (no missing frame numbers). The file is
    left where it is and hashed by streaming it.
    """
    production = shot.production
    name = path_in_production(production, path)
    given = name.removeprefix(production_root(production) + "/")
    sequence = sequence_pattern(name)
    found = _inspect_sequence(production, given, *sequence) if sequence else _inspect_file(production, given, name)
    with transaction.atomic():
        shot = _locked_shot(shot)
        version = new_version(shot=shot, actor=actor, note=note)
        asset = MediaAsset.objects.create(
            version=version, original=found["original"], original_name=found["original_name"],
            is_sequence=found["is_sequence"], sequence_start=found["sequence_start"], sha256=found["sha256"],
            size_bytes=found["size_bytes"])
        after = {"shot": shot.name, "version": version.number, "path": found["original"], "sha256": found["sha256"],
                 "size_bytes": found["size_bytes"], "note": version.note}
        if found["is_sequence"]:
            after.update(frames=found["frames"], first_frame=found["first"], last_frame=found["last"])
        record_event("media.registered", actor=actor, production=shot.production, target=asset, after=after)
        post_locator_comments(actor=actor, shot=shot)
        _enqueue_on_commit(asset)
    return version


# ---------------------------------------------------------------------------------------------
# Ingest (the `media` queue's task)

def _group(production_id):
    return f"production-{production_id}"


def _send(group, message):
    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # the database is the truth; a browser that missed this polls or reloads
        log.warning("Could not publish %s to %s", message.get("type"), group, exc_info=True)


def publish_asset(asset):
    """After commit: tell the production's browsers where this asset's ingest stands."""
    version = asset.version
    message = {
        "type": "asset.progress", "asset": asset.pk, "version": version.pk, "version_number": version.number,
        "shot": version.shot_id, "shot_name": version.shot.name, "status": asset.status,
        "progress": asset.progress, "reason": asset.status_reason, "version_state": version.state,
    }
    transaction.on_commit(partial(_send, _group(version.shot.production_id), message))


def _asset_for_update(asset_id):
    return (MediaAsset.objects.select_for_update(of=("self",))
            .select_related("version__shot__production").filter(pk=asset_id).first())


def _claim(asset_id):
    """Mark the asset as being ingested; None when there is nothing to do (done, or gone)."""
    with transaction.atomic():
        asset = _asset_for_update(asset_id)
        if asset is None:
            log.warning("Ingest of asset %s skipped: it no longer exists", asset_id)
            return None
        if asset.status in (AssetStatus.READY, AssetStatus.FAILED):
            return None  # already finished: a redelivered or repeated task changes nothing
        if asset.attempts >= MAX_INGEST_ATTEMPTS:
            _mark_failed(asset, f"Ingest was started {asset.attempts} times without finishing (the worker stopped "
                                "each time). The original is kept; retry once the cause is fixed.",
                         code="interrupted")
            return None
        asset.status, asset.progress, asset.status_reason = AssetStatus.PROBING, 0, ""
        asset.attempts += 1
        asset.save(update_fields=["status", "progress", "status_reason", "attempts", "updated_at"])
        publish_asset(asset)
    return asset


class _ProgressReporter:
    """Saves the asset's progress at most once a second (and at every change of status)."""

    def __init__(self, asset):
        self.asset = asset
        self.saved_at = 0.0

    def __call__(self, progress, status=None):
        progress = max(0, min(100, int(progress)))
        changed_status = status is not None and status != self.asset.status
        if not changed_status and (progress == self.asset.progress
                                   or time.monotonic() - self.saved_at < PROGRESS_SAVE_SECONDS):
            return
        self.asset.progress = progress
        self.asset.status = status or self.asset.status
        self.asset.updated_at = timezone.now()
        MediaAsset.objects.filter(pk=self.asset.pk).update(progress=progress, status=self.asset.status,
                                                           updated_at=self.asset.updated_at)
        self.saved_at = time.monotonic()
        publish_asset(self.asset)


def _sequence_rate(production):
    # Image files carry no reliable rate: a sequence plays at the production's rate.
    return parse_rate((production.fps_num, production.fps_den))


def _source_names(asset):
    """The stored names ffmpeg must read: the file, or every frame of the sequence."""
    name = asset.original.name
    production = asset.version.shot.production
    if not asset.is_sequence:
        if not name or not default_storage.exists(name):
            raise ffmpeg.MediaError("missing", "The original is missing from media storage.")
        names = [name]
    else:
        pattern, regex = sequence_pattern(name)
        names = [stored for _, stored in sequence_frames(pattern, regex)]
        if not names:
            raise ffmpeg.MediaError("missing", "The original frames are missing from media storage.")
    # Checked again here, not only when registered: a file may have been replaced by a link since.
    if not all(lies_in_production(production, stored) for stored in names):
        raise ffmpeg.MediaError("outside", "The original is not in this production's media.")
    return names


def _derive_all(asset, report):
    """Probe, then make proxy, poster and filmstrip; store them. Returns the fields to save."""
    shot = asset.version.shot
    production = shot.production
    folder = f"{version_folder(shot, asset.version)}/derived"
    names = _source_names(asset)
    sequence_rate = _sequence_rate(production) if asset.is_sequence else None
    with local_files(names) as local, tempfile.TemporaryDirectory(prefix="answerprint-ingest-") as work:
        if asset.is_sequence:
            source = os.path.join(os.path.dirname(str(local[names[0]])), posixpath.basename(asset.original.name))
            start = asset.sequence_start if asset.sequence_start is not None else 0
        else:
            source, start = str(local[names[0]]), None
        probe = ffmpeg.probe(source, sequence_start=start, sequence_rate=sequence_rate,
                             file_name=asset.original_name)
        report(5, AssetStatus.TRANSCODING)
        outputs = ffmpeg.DeriveOutputs(proxy=os.path.join(work, "proxy.mp4"), poster=os.path.join(work, "poster.jpg"),
                                       filmstrip=os.path.join(work, "filmstrip.jpg"))
        expected = probe.packet_count
        result = ffmpeg.derive(
            ffmpeg.input_args(source, sequence_start=start, sequence_rate=sequence_rate), probe, outputs,
            expected_frames=expected, file_name=asset.original_name,
            on_frames=lambda done: report(5 + 90 * min(done, expected) // max(expected, 1)),
        )
        report(96)
        stored = {
            "proxy": replace_file(f"{folder}/proxy.mp4", outputs.proxy),
            "poster": replace_file(f"{folder}/poster.jpg", outputs.poster),
            "filmstrip": replace_file(f"{folder}/filmstrip.jpg", outputs.filmstrip),
        }
    warnings = []
    if result.dup_frames or result.drop_frames:
        warnings.append(f"The source's timestamps are not constant-rate: the proxy repeats {result.dup_frames} "
                        f"and drops {result.drop_frames} frames to play at {probe.rate}.")
    rate = probe.rate
    return {
        "fps_num": rate.numerator if rate else None, "fps_den": rate.denominator if rate else None,
        "frame_count": result.frames_decoded, "start_timecode": probe.timecode[:16], "width": probe.width,
        "height": probe.height, "codec": probe.codec[:40], "pixel_format": probe.pixel_format[:40],
        "bit_depth": probe.bit_depth, "color_primaries": probe.color_primaries[:40],
        "color_transfer": probe.color_transfer[:40], "color_space": probe.color_space[:40],
        "color_range": probe.color_range[:20],
        "probe": {**probe.as_json(), "frames_decoded": result.frames_decoded,
                  "proxy_frames": result.frames_encoded, "poster_frame": result.poster_frame,
                  "filmstrip_step": result.filmstrip.step, "warnings": warnings},
        "proxy": stored["proxy"], "proxy_width": result.proxy_width, "proxy_height": result.proxy_height,
        "poster": stored["poster"], "filmstrip": stored["filmstrip"], "filmstrip_tiles": result.filmstrip.tiles,
        "filmstrip_tile_width": result.filmstrip.tile_width, "filmstrip_tile_height": result.filmstrip.tile_height,
    }


def _mark_failed(asset, reason, *, code, detail=""):
    """Inside the caller's transaction: the asset, its version and the log say it failed."""
    asset.status, asset.status_reason = AssetStatus.FAILED, reason
    asset.probe = {**(asset.probe or {}), "error": {"code": code, "detail": detail[-4000:]}}
    asset.save(update_fields=["status", "status_reason", "probe", "updated_at"])
    version = asset.version
    version.state = VersionState.FAILED
    version.save(update_fields=["state"])
    record_event("media.ingest_failed", actor=None, production=version.shot.production, target=asset,
                 after={"status": asset.status, "code": code, "attempts": asset.attempts}, reason=reason)
    publish_asset(asset)


def _fail_asset(asset_id, reason, *, code, detail=""):
    with transaction.atomic():
        asset = _asset_for_update(asset_id)
        if asset is None or asset.status in (AssetStatus.READY, AssetStatus.FAILED):
            return asset
        _mark_failed(asset, reason, code=code, detail=detail)
        return asset


def _mark_ready(asset_id, fields):
    with transaction.atomic():
        asset = _asset_for_update(asset_id)
        if asset is None or asset.status in (AssetStatus.READY, AssetStatus.FAILED):
            return asset  # another run finished first; its result stands
        for name, value in fields.items():
            setattr(asset, name, value)
        asset.status, asset.progress, asset.status_reason = AssetStatus.READY, 100, ""
        asset.save()
        version = asset.version
        version.state = VersionState.READY
        shot = version.shot
        if version.kind == VersionKind.PLATE and not version.start_timecode:
            # A proposal's numbering comes from its source; a plate's from its own timecode track.
            version.start_timecode = asset.start_timecode or shot.source_timecode_in
        version.save(update_fields=["state", "start_timecode"])
        record_event("media.ingested", actor=None, production=shot.production, target=asset, after={
            "shot": shot.name, "version": version.number, "frames": asset.frame_count,
            "fps": f"{asset.fps_num}/{asset.fps_den}" if asset.fps_num else None,
            "start_timecode": asset.start_timecode, "size": f"{asset.width}x{asset.height}", "codec": asset.codec,
            "pixel_format": asset.pixel_format, "sha256": asset.sha256, "proxy": asset.proxy.name,
            "attempts": asset.attempts,
        })
        if shot.last_frame is None and asset.frame_count:
            update_shot(actor=None, shot=shot, reason=f"Frame range from the frame count of {version}",
                        last_frame=shot.first_frame + asset.frame_count - 1)
        publish_asset(asset)
        return asset


def process_asset(asset_id):
    """Ingest one asset: the body of the `answerprint.media.tasks.process_asset` task.

    Bad media ends as a failed asset with a reason and raises nothing. Anything else (storage
    or database down, ffmpeg killed) propagates, so that Celery retries it. Running it again
    on a finished asset changes nothing.
    """
    asset = _claim(asset_id)
    if asset is None:
        return MediaAsset.objects.filter(pk=asset_id).first()
    report = _ProgressReporter(asset)
    try:
        fields = _derive_all(asset, report)
    except ffmpeg.MediaError as error:
        log.info("Ingest of asset %s failed: %s", asset_id, error.reason)
        return _fail_asset(asset_id, error.reason, code=error.code, detail=error.detail)
    return _mark_ready(asset_id, fields)


def note_ingest_crash(asset_id, error, *, final):
    """An unexpected error in ingest: say so on the asset; on the last attempt, fail it."""
    what = f"{type(error).__name__}: {error}"[:500]
    if final:
        asset = MediaAsset.objects.filter(pk=asset_id).only("attempts").first()
        attempts = asset.attempts if asset else 0
        return _fail_asset(asset_id, f"Ingest stopped on an unexpected error after {attempts} attempts ({what}). "
                                     "The original is kept; retry once the cause is fixed.", code="crashed")
    MediaAsset.objects.filter(pk=asset_id).exclude(status__in=[AssetStatus.READY, AssetStatus.FAILED]).update(
        status_reason=f"An attempt stopped on an unexpected error ({what}); retrying.", updated_at=timezone.now())
    return None


def _original_present(asset):
    if asset.is_sequence:
        pattern, regex = sequence_pattern(asset.original.name)
        return bool(sequence_frames(pattern, regex))
    return bool(asset.original.name) and default_storage.exists(asset.original.name)


@transaction.atomic
def retry_ingest(*, actor, asset):
    """Run a failed ingest again, or send again one that is stuck: never picked up by a worker,
    or left by a worker that stopped (see answerprint/outbox)."""
    asset = _asset_for_update(asset.pk)
    if asset.status not in (AssetStatus.FAILED, AssetStatus.READY):
        return _resend_stuck_ingest(actor, asset)
    if asset.status != AssetStatus.FAILED:
        raise ValidationError(f"Only a failed ingest can be retried; this one is {asset.get_status_display().lower()}.")
    if not _original_present(asset):
        raise ValidationError("The original is no longer on media storage, so ingest cannot be retried; "
                              "upload it again.")
    before = {"status": asset.status, "reason": asset.status_reason, "attempts": asset.attempts}
    asset.status, asset.status_reason, asset.progress, asset.attempts = AssetStatus.QUEUED, "", 0, 0
    asset.save(update_fields=["status", "status_reason", "progress", "attempts", "updated_at"])
    version = asset.version
    version.state = VersionState.PROCESSING
    version.save(update_fields=["state"])
    record_event("media.ingest_retried", actor=actor, production=version.shot.production, target=asset,
                 before=before, after={"status": asset.status})
    publish_asset(asset)
    _enqueue_on_commit(asset)
    return asset


def delete_failed_version(*, actor, version, reason=""):
    """Take a failed upload off its shot, so that it stops holding a version number (the next one
    takes it again). Only the person who uploaded it may, and only while it is failed. Its
    original's bytes are moved under retained/, where the event recording the deletion points to
    them with their sha256; what ingest derived is removed."""
    production = version.shot.production
    if not Membership.objects.active().filter(user=actor, production=production).exists():
        raise ValidationError("Only a member of this production may delete its versions.")
    with transaction.atomic():
        shot = _locked_shot(version.shot)
        version = Version.objects.select_for_update(of=("self",)).select_related("created_by").get(pk=version.pk)
        if version.state != VersionState.FAILED:
            raise ValidationError(f"{version} is {version.get_state_display().lower()}: only a failed upload can be "
                                  f"deleted.")
        if version.created_by_id != actor.pk:
            who = version.created_by.printed_name if version.created_by else "the system"
            raise ValidationError(f"Only {who}, who uploaded {version}, may delete it.")
        asset = MediaAsset.objects.filter(version=version).first()
        kept = _retain_original(shot, version, asset)
        derived = [f.name for f in (asset.proxy, asset.poster, asset.filmstrip) if f] if asset else []
        record_event("media.version_deleted", actor=actor, production=shot.production, target=version, before={
            "shot": shot.name, "version": version.number, "state": version.state,
            "file": asset.original_name if asset else None, "sha256": asset.sha256 if asset else None,
            "reason": asset.status_reason if asset else None,
        }, after={"original_kept_as": kept}, reason=reason)
        version.delete()
        removed = derived + ([asset.original.name] if kept and asset and not asset.is_sequence else [])
        transaction.on_commit(partial(_delete_files, removed))
    return kept


def _retain_original(shot, version, asset):
    """A copy of a version's original under retained/ (its name there), or "" when there is none
    to keep (never received, or registered in place as a sequence, which stays where it is)."""
    if asset is None or asset.is_sequence or not asset.original.name or not default_storage.exists(asset.original.name):
        return ""
    with default_storage.open(asset.original.name, "rb") as stream:
        return default_storage.save(f"retained/{shot.production.code}/{shot.name}/v{version.number:03d}-"
                                    f"{asset.sha256[:12] or 'unhashed'}/{safe_filename(asset.original_name)}",
                                    File(stream, name=safe_filename(asset.original_name)))


def _delete_files(names):
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("Could not delete %s from media storage", name, exc_info=True)


def _resend_stuck_ingest(actor, asset):
    # No record at all: an ingest queued before the outbox existed; it is recorded now.
    task = outbox.unfinished(INGEST_TASK, [asset.pk])
    if task is not None and not outbox.task_is_stuck(task):
        raise ValidationError(f"This one is {asset.get_status_display().lower()}. " + outbox.stuck_explanation("ingest"))
    task = task or outbox.record_task(INGEST_TASK, [asset.pk])
    record_event("media.ingest_resent", actor=actor, production=asset.version.shot.production, target=asset,
                 before={"status": asset.status, "task": task.state}, after={"task_id": task.task_id})
    transaction.on_commit(partial(send_ingest, asset.pk))
    return asset


def record_original_download(*, actor, asset):
    """Downloading an original is a read that matters: it is logged."""
    production = asset.version.shot.production
    return record_event("media.original_downloaded", actor=actor, production=production, target=asset, after={
        "file": asset.original_name, "sha256": asset.sha256, "size_bytes": asset.size_bytes,
        "version": str(asset.version),
    })


def record_upload_refused(*, actor, production, refusal, shot=None):
    """An upload stopped at the size limit: nothing was stored, but the attempt is on record."""
    return record_event("media.upload_refused", actor=actor, production=production,
                        target=shot if shot is not None else production, after=refusal.as_audit(),
                        reason=refusal.message)
