"""Delivery packages: queued when an approved proposal is promoted, built on the `media` queue.

A package is a folder on media storage, `<delivery version>/package/<shot>_v<NNN>/`:

- the conform-ready media (conform.py): the camera original with only the approved range replaced;
- content credentials (provenance.py): embedded in a movie; for an image sequence, a signed PNG
  still of the first replaced frame and the same manifest as a `.c2pa` sidecar;
- `<name>.delivery.json` and `<name>.otio` (sidecar.py): shot, range, versions, signatures, model card;
- `ascmhl/` (mhl.py): the ASC MHL manifest of everything above.

When it is built the delivery Version gets the media as its asset and goes through ingest like any
other picture. A package that cannot be built is failed with the reason, never left running.
"""
import hashlib
import logging
import posixpath
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path, PurePosixPath

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from answerprint.audit.services import record_event
from answerprint.media import ffmpeg
from answerprint.media import services as media_services
from answerprint.media.models import MediaAsset, Version, VersionState
from answerprint.media.storage import local_files, local_path_of, replace_file, sequence_frames, sequence_pattern
from answerprint.outbox import services as outbox

from . import conform, mhl, provenance, sidecar
from .models import DeliveryPackage, PackageState

log = logging.getLogger(__name__)

MAX_BUILD_ATTEMPTS = 3
BUILD_TASK = "answerprint.delivery.tasks.build_package"
CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class ApprovedRange:
    """The source frames an approved proposal replaces (0-based, inclusive) and the source's
    start timecode and rate, which place them in the editor's timeline."""

    first: int
    last: int
    rate: Fraction
    start_timecode: str

    @property
    def frames(self) -> int:
        return self.last - self.first + 1


def approved_range(proposal) -> ApprovedRange:
    """Where the proposal sits in its source: the fix request's frames, the source asset's start
    timecode and rate. The one place that answers it, so that it can read a version's own first
    frame and timecode once versions carry them."""
    fix = proposal.request
    source = fix.source_version.asset
    first = proposal.first_frame if proposal.first_frame is not None else fix.frame_in
    return ApprovedRange(first=first, last=first + fix.frame_count - 1, rate=source.fps or Fraction(24),
                         start_timecode=source.start_timecode or "")


def package_folder(delivery) -> str:
    return f"{media_services.version_folder(delivery.shot, delivery)}/package/{delivery.shot.name}_v{delivery.number:03d}"


def open_package(*, actor, proposal, delivery) -> DeliveryPackage:
    """Queue the package of a delivery Version just made from `proposal`; the caller's transaction
    holds the promotion, and the build starts after it commits."""
    span = approved_range(proposal)
    package = DeliveryPackage.objects.create(
        production=delivery.shot.production, proposal=proposal, version=delivery, frame_in=span.first,
        frame_out=span.last, start_timecode=span.start_timecode, folder=package_folder(delivery))
    record_event("delivery.queued", actor=actor, production=package.production, target=package, after={
        "delivery_version": delivery.pk, "frame_in": span.first, "frame_out": span.last,
        "start_timecode": span.start_timecode})
    # On record with the promotion: the outbox sweep publishes it again if the broker loses it.
    outbox.record_task(BUILD_TASK, [package.pk])
    transaction.on_commit(partial(outbox.publish, BUILD_TASK, [package.pk]))
    return package


# ---------------------------------------------------------------------------------------------
# Building


def _claim(package_id: int) -> DeliveryPackage | None:
    with transaction.atomic():
        package = DeliveryPackage.objects.select_for_update().get(pk=package_id)
        if package.state in (PackageState.READY, PackageState.FAILED):
            return None  # a redelivered task: the package was built or given up already
        package.state = PackageState.RENDERING
        package.attempts += 1
        package.save(update_fields=["state", "attempts"])
    return DeliveryPackage.objects.select_related(
        "version__shot__production", "proposal__request__source_version__asset", "proposal__version__asset",
    ).get(pk=package_id)


def fail_package(package_id: int, reason: str) -> None:
    with transaction.atomic():
        package = DeliveryPackage.objects.select_for_update().get(pk=package_id)
        before = package.state
        package.state, package.status_reason, package.finished_at = PackageState.FAILED, reason, timezone.now()
        package.save(update_fields=["state", "status_reason", "finished_at"])
        # The delivery version will get no media: it shows as failed, with the package's reason.
        Version.objects.filter(pk=package.version_id).update(state=VersionState.FAILED)
        record_event("delivery.failed", production=package.production, target=package, actor_name="media worker",
                     actor_role="", before={"state": before}, after={"state": package.state, "reason": reason})


def note_build_crash(package_id: int, error: Exception, *, final: bool) -> None:
    """An unexpected error (not the media's fault): retried, and failed visibly after the last try."""
    log.exception("Building delivery package %s failed", package_id, exc_info=error)
    if final:
        fail_package(package_id, f"The build stopped with an unexpected error after {MAX_BUILD_ATTEMPTS} tries: "
                                 f"{type(error).__name__}: {error}")
    else:
        DeliveryPackage.objects.filter(pk=package_id, state=PackageState.RENDERING).update(state=PackageState.QUEUED)


def _signatures(proposal) -> list[dict]:
    from answerprint.fixes.models import Outcome

    return [{"printed_name": d.printed_name, "role": d.role, "meaning": d.meaning,
             "signed_at": d.signed_at.isoformat(), "record_hash": d.record_hash,
             "signature_hash": d.signature_hash, "manifestation": d.manifestation}
            for d in proposal.decisions.filter(outcome=Outcome.APPROVE).order_by("signed_at", "pk")]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _source_names(asset) -> list[str]:
    if not asset.is_sequence:
        return [asset.original.name]
    pattern, regex = sequence_pattern(asset.original.name)
    return [name for _, name in sequence_frames(pattern, regex)]


def _still(media: str, index: int, output: Path, *, rate: Fraction, sequence_start=None) -> Path:
    """Frame `index` as a 16-bit PNG: what carries credentials beside the media, and its
    ingredient. A sequence opens at that frame's file; a movie seeks to half a frame before it,
    which lands on it whatever the rate's rounding."""
    if sequence_start is not None:
        source = ffmpeg.input_args(media, sequence_start=sequence_start + index, sequence_rate=rate)
    else:
        seek = ["-ss", f"{float((index - Fraction(1, 2)) / rate):.6f}"] if index > 0 else []
        source = [*seek, "-i", media]
    result = ffmpeg.run(["-y", *source, "-map", "0:v:0", "-frames:v", "1", "-pix_fmt", "rgb48be", str(output)])
    if result.returncode != 0 or not output.is_file():
        raise conform.ConformError(f"A still of frame {index} could not be made: "
                                   f"{ffmpeg.classify_failure(result.stderr).reason}")
    return output


def build_package(package_id: int) -> DeliveryPackage | None:
    """Render, credential, describe and hash one package, store it and hand the delivery's media
    to ingest. Bad media or keys fail the package with the reason; anything else propagates."""
    package = _claim(package_id)
    if package is None:
        return None
    try:
        return _build(package)
    except (conform.ConformError, provenance.ProvenanceError) as error:
        fail_package(package.pk, str(error))
        return None


def _build(package: DeliveryPackage) -> DeliveryPackage:
    proposal, delivery = package.proposal, package.version
    fix, shot = proposal.request, delivery.shot
    source_asset, result_asset = fix.source_version.asset, proposal.version.asset
    span = approved_range(proposal)
    base_name = posixpath.basename(package.folder)
    signatures = _signatures(proposal)
    source_names = _source_names(source_asset)
    with tempfile.TemporaryDirectory(prefix="answerprint-delivery-") as scratch, \
            local_files(source_names) as sources, local_files([result_asset.original.name]) as results:
        folder = Path(scratch) / base_name
        folder.mkdir()
        if source_asset.is_sequence:
            first_local = sources[source_names[0]]
            pattern = posixpath.basename(sequence_pattern(source_asset.original.name)[0])
            source = conform.Source(str(first_local.parent / pattern), span.rate, source_asset.sequence_start)
            media_name = pattern
        else:
            source = conform.Source(str(sources[source_names[0]]), span.rate)
            media_name = f"{base_name}{Path(source_asset.original_name).suffix.lower() or '.mov'}"
        made = conform.conform(source, str(results[result_asset.original.name]), first=span.first, last=span.last,
                               output_folder=str(folder), name=media_name, timecode=span.start_timecode,
                               reel_name=(shot.reel or PurePosixPath(shot.source_name).stem)[:120])
        fix_summary = {"id": fix.pk, "kind": fix.kind, "kind_label": fix.get_kind_display(), "reason": fix.reason}
        data = sidecar.record(
            production=shot.production.code, shot=shot.name,
            source={"version": fix.source_version.number, "name": source_asset.original_name,
                    "sha256": source_asset.sha256},
            proposal={"version": proposal.version.number, "sha256": proposal.media_sha256},
            delivery={"version": delivery.number, "created_at": delivery.created_at.isoformat()},
            replaced=sidecar.replaced_range(span.first, span.last, span.rate, made.timecode),
            media={"name": made.media, "codec": made.codec, "profile": made.profile,
                   "pixel_format": made.pixel_format, "width": made.width, "height": made.height,
                   "rate": f"{span.rate.numerator}/{span.rate.denominator}", "frames": made.frame_count,
                   "start_timecode": made.timecode, "reel_name": made.reel_name,
                   "copied_frames": made.copied_frames, "encoded_frames": made.encoded_frames},
            signatures=signatures, model_card_sha256=proposal.model_card_sha256, fix=fix_summary)
        credentials = provenance.Credentials(
            title=made.media, fix_kind=fix.get_kind_display(),
            model=f"{proposal.model_card.get('method', '')} {proposal.model_card.get('method_version', '')}".strip(),
            model_card_sha256=proposal.model_card_sha256, source_name=source_asset.original_name,
            source_sha256=source_asset.sha256,
            approvals=[{k: s[k] for k in ("printed_name", "meaning", "signed_at")} for s in signatures],
            delivery={"production": shot.production.code, "shot": shot.name, "delivery_version": delivery.number,
                      "frame_in": span.first, "frame_out": span.last})
        credentialed = _add_credentials(folder, made, source, span, credentials, base_name)
        sidecar.write(folder, base_name, data, sidecar.otio_clip(
            data, media_name=made.media, is_sequence=source.is_sequence, sequence_start=source.sequence_start,
            frame_count=made.frame_count, rate=span.rate, timecode=made.timecode))
        generation = mhl.write_manifest(folder)
        return _store(package, folder, made, credentialed, generation, source)


def _add_credentials(folder: Path, made, source, span, credentials, base_name) -> list[str]:
    """Sign what C2PA can carry: the movie itself, and a PNG still of the first replaced frame
    (for a sequence, or a container C2PA cannot carry, the still's manifest is also written as a
    `.c2pa` sidecar for the package). Returns the files that carry credentials."""
    media = folder / made.media
    in_place = not source.is_sequence and provenance.mime_type(media) is not None
    with tempfile.TemporaryDirectory(prefix="answerprint-ingredient-") as scratch:
        original = _still(source.path, span.first, Path(scratch) / "source.png",
                          sequence_start=source.sequence_start, rate=span.rate)
        still = _still(str(media), span.first, folder / f"{base_name}.poster.png",
                       sequence_start=source.sequence_start, rate=span.rate)
        sidecar_manifest = None if in_place else folder / f"{base_name}.c2pa"
        provenance.sign_file(still, credentials, ingredient=original, sidecar=sidecar_manifest)
    if in_place:
        provenance.sign_file(media, credentials, ingredient=source.path)
        return [made.media, still.name]
    return [still.name, sidecar_manifest.name]


def _store(package, folder: Path, made, credentialed, generation: Path, source) -> DeliveryPackage:
    """Copy the package onto media storage, then, in one transaction, mark it ready, give the
    delivery Version its media and record the event; ingest starts after commit."""

    files, stored = [], []
    try:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            files.append({"path": relative, "size": path.stat().st_size, "sha256": _file_sha256(path)})
            stored.append(replace_file(f"{package.folder}/{relative}", str(path)))
        manifest_sha256 = next(f["sha256"] for f in files if f["path"] == f"{mhl.MHL_FOLDER}/{generation.name}")
        if source.is_sequence:
            frame_names = [f"{package.folder}/{name}" for name in made.files]
            media_sha256, original = media_services._sequence_sha256(frame_names), f"{package.folder}/{made.media}"
        else:
            media_sha256 = next(f["sha256"] for f in files if f["path"] == made.media)
            original = f"{package.folder}/{made.media}"
        size = sum(f["size"] for f in files if f["path"] in set(made.files))
        with transaction.atomic():
            locked = DeliveryPackage.objects.select_for_update().get(pk=package.pk)
            if locked.state != PackageState.RENDERING:
                raise conform.ConformError(f"The package was {locked.state} while it was being built.")
            asset = MediaAsset.objects.create(
                version=package.version, original=original, original_name=made.media.replace("%", "#"),
                is_sequence=source.is_sequence, sequence_start=source.sequence_start, sha256=media_sha256,
                size_bytes=size)
            locked.state, locked.finished_at, locked.status_reason = PackageState.READY, timezone.now(), ""
            locked.media_name, locked.is_sequence, locked.codec, locked.profile = (
                made.media, source.is_sequence, made.codec, made.profile)
            locked.reel_name, locked.start_timecode = made.reel_name[:120], made.timecode
            locked.files, locked.manifest_sha256, locked.credentials = files, manifest_sha256, credentialed
            locked.save()
            record_event("delivery.packaged", production=locked.production, target=locked,
                         actor_name="media worker", actor_role="", after={
                             "delivery_version": package.version_id, "media_sha256": media_sha256,
                             "manifest_sha256": manifest_sha256, "codec": made.codec, "profile": made.profile,
                             "frames": made.frame_count, "copied_frames": made.copied_frames,
                             "encoded_frames": made.encoded_frames, "credentials": credentialed,
                             "files": len(files)})
            media_services.record_ingest(asset)
            transaction.on_commit(partial(media_services.send_ingest, asset.pk))
        return locked
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise


# ---------------------------------------------------------------------------------------------
# Verifying


def verify_package(package: DeliveryPackage) -> mhl.Verification:
    """Check a stored package against its ASC MHL manifest (a copy is made when storage has no
    local paths)."""
    local = local_path_of(package.folder)
    if local is not None:
        return mhl.verify_manifest(local)
    with tempfile.TemporaryDirectory(prefix="answerprint-verify-") as scratch:
        target = Path(scratch) / posixpath.basename(package.folder)
        for entry in package.files:
            path = target / entry["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with default_storage.open(f"{package.folder}/{entry['path']}", "rb") as stream, \
                        open(path, "wb") as out:
                    shutil.copyfileobj(stream, out, CHUNK)
            except FileNotFoundError:
                continue  # verification names it as missing
        return mhl.verify_manifest(target)



# ---------------------------------------------------------------------------------------------
# Reads that matter


def record_notes_export(*, actor, production, fmt: str, scope: str, markers: int) -> None:
    """An export of review notes leaves the platform: it is logged."""
    record_event("notes.exported", actor=actor, production=production, target=production,
                 after={"format": fmt, "scope": scope, "markers": markers})


def record_package_download(*, actor, package: DeliveryPackage, path: str) -> None:
    """A delivered file left the platform: logged with the package's manifest hash, which names
    exactly what was delivered."""
    entry = next(f for f in package.files if f["path"] == path)
    record_event("delivery.downloaded", actor=actor, production=package.production, target=package, after={
        "file": path, "sha256": entry["sha256"], "size_bytes": entry["size"],
        "manifest_sha256": package.manifest_sha256, "delivery_version": str(package.version)})
