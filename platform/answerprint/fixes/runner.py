"""A job on a GPU worker, end to end: claim it, fetch its inputs from media storage, run the fix
(inference.jobs.run_fix), and hand the result back as a proposal.

Runs only in the worker, inside the `gpu` queue's task (job_tasks.py); the inference package (and
so torch) is imported here lazily, never by the web process.
"""
import logging
import os
import posixpath
import re
import shutil
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.core.files.storage import default_storage

from answerprint.media.storage import local_files, local_path_of

from . import services

log = logging.getLogger(__name__)


@contextmanager
def _local_media(media, scratch):
    """A local path the inference package can read for a StoredMedia: the file, or for an image
    sequence the folder holding its frames."""
    if media.is_sequence:
        path = local_path_of(media.name)
        if path is not None:
            yield str(Path(path).parent)
            return
        folder = Path(scratch) / f"sequence-{media.version_id}"
        folder.mkdir()
        directory = posixpath.dirname(media.name)
        for name in default_storage.listdir(directory)[1]:
            with default_storage.open(f"{directory}/{name}", "rb") as source, open(folder / name, "wb") as out:
                shutil.copyfileobj(source, out)
        yield str(folder)
        return
    with local_files([media.name]) as paths:
        yield str(paths[media.name])


def _keyframe_masks(mask_path, spec, scratch):
    """A folder of masks, one per frame of the range, blank except on the frames the hint was
    drawn on; and those frames' indices in the range. Background replacement learns from these."""
    from PIL import Image

    drawn = Image.open(mask_path).convert("L")
    blank = Image.new("L", drawn.size, 0)
    folder = Path(scratch) / "keyframes"
    folder.mkdir()
    first = spec.mask_frame - spec.frame_in
    keys = [k for k in range(first, first + max(spec.mask_duration, 1)) if 0 <= k <= spec.frame_out - spec.frame_in]
    for index in range(spec.frame_out - spec.frame_in + 1):
        (drawn if index in keys else blank).save(folder / f"{index:06d}.png")
    return str(folder), keys


def _shown_name(media) -> str:
    """A stored file as a model card names it: relative to its production's folder."""
    name = media if isinstance(media, str) else (posixpath.dirname(media.name) if media.is_sequence else media.name)
    return re.sub(r"^productions/[^/]+/", "", name)


def _without_local_paths(card: dict, names: dict[str, str]) -> dict:
    """The card with every local path of an input replaced by the stored file it was made from.

    Members read model cards: a worker's folders and temporary directories are none of theirs.
    A path with no stored name left is cut to its file name.
    """
    inputs = dict(card.get("inputs") or {})
    for key, value in inputs.items():
        if key.endswith("_path") and isinstance(value, str):
            inputs[key] = names.get(value, posixpath.basename(value))
    if isinstance(inputs.get("source"), dict) and isinstance(inputs["source"].get("path"), str):
        path = inputs["source"]["path"]
        inputs["source"] = {**inputs["source"], "path": names.get(path, posixpath.basename(path))}
    return {**card, "inputs": inputs}


def _tracked_matte(spec, source, drawn, scratch):
    """The region drawn on one frame, tracked through the job's range and kept with the request
    before the fix is fitted: the per-frame matte folder the removal is given."""
    from inference.tracking import track_files

    services.report_job_progress(spec.job_id, 0.0, "tracking the mask")
    track = track_files(source, drawn, spec.mask_frame, spec.frame_in, spec.frame_out - spec.frame_in + 1,
                        Path(scratch) / "matte")
    services.record_matte_track(spec.job_id, files=track["files"], sha256=track["sha256"],
                                keyframes=track["keyframes"])
    return track["folder"]


def _device_name():
    from inference.device import device_name, pick_device

    return device_name(pick_device())


def run_job(job_id, *, worker=""):
    """Run one job; returns the Proposal, or None when there was nothing to run.

    Errors the inference package raises for bad input (InferenceError) fail the job with their
    message; a JobStopped (cancelled, out of time) ends it quietly; anything else propagates so the
    task can retry it with backoff.
    """
    from inference.errors import InferenceError
    from inference.jobs import run_fix

    spec = services.start_job(job_id, worker=worker, device=_device_name())
    if spec is None:
        return None
    with ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"answerprint-job-{job_id}-"))
        source = stack.enter_context(_local_media(spec.source, scratch))
        reference = stack.enter_context(_local_media(spec.reference, scratch)) if spec.reference else None
        plate = stack.enter_context(_local_media(spec.replacement, scratch)) if spec.replacement else None
        mask = keyframes = None
        if spec.mask:
            mask = str(stack.enter_context(local_files([spec.mask]))[spec.mask])
        output = os.path.join(scratch, "out")
        try:
            if spec.mask and spec.mask_frame is not None:
                if spec.model == "background":
                    mask, keyframes = _keyframe_masks(mask, spec, scratch)
                elif spec.model == "removal":
                    mask = _tracked_matte(spec, source, mask, scratch)
            result = run_fix(spec.model, source, output, spec.params, spec.seed, reference_path=reference,
                             mask_path=mask, plate_path=plate, keyframes=keyframes, start=spec.frame_in,
                             count=spec.frame_out - spec.frame_in + 1,
                             progress=lambda fraction, stage="": services.report_job_progress(job_id, fraction, stage))
        except InferenceError as error:
            services.fail_job(job_id, f"{type(error).__name__}: {error}")
            return None
        stored = {source: spec.source, reference: spec.reference, plate: spec.replacement}
        names = {local: _shown_name(media) for local, media in stored.items() if local and media}
        if spec.mask:
            names[mask] = _shown_name(spec.mask) + (" (one mask per frame, made from it)" if keyframes else "")
        card = _without_local_paths(result["card"], names)
        return services.ingest_job_result(job_id, output_path=result["paths"]["clip"], model_card=card,
                                          metrics=card.get("metrics") or {}, first_frame=spec.frame_in)
