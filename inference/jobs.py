"""Run a fix from media paths and write the results: what the gpu Celery task calls.

The shot is read twice, streaming: once at a working size (long side at most max_side) to fit
on, then at full size frame by frame through the fitted fix into the encoder. So a 4K plate
never sits in memory whole; only the small working copy does.

Writes into output_dir:
  result.mov        the fixed shot, ProRes 4444 at the source's size and exact frame rate
  matte/            background: the alpha, 16-bit PNG per frame (000000.png ...)
  frames/           with frames=True: the fixed shot as 16-bit PNG per frame
  match.cube        colour match: the 3D LUT, for Resolve or Nuke
  card.json         the model card
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from .api import fit, resolve_kind
from .card import file_sha256
from .clip import ClipWriter, iter_frames, probe, read_clip, read_masks, write_frames
from .errors import FrameRateMismatchError


def run_fix(kind: str, source_path, output_dir, params: dict | None = None, seed: int = 0, *,
            reference_path=None, mask_path=None, plate_path=None, keyframes=None, start: int = 0,
            count: int | None = None, max_side: int = 1280, device=None, frames: bool = False,
            progress=None) -> dict:
    """Fit `kind` on frames start .. start+count-1 of the shot at source_path and write the
    results; returns the paths and the card. mask_path: one image (every frame) or a folder or
    video whose first frame goes with frame `start`; for background, blank except on the
    keyframes. reference_path: the shot (colour) or frame (exposure) to match. plate_path: what
    goes behind the subject, at the shot's rate (scaled to its size on the way in)."""
    kind = resolve_kind(kind)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    info = probe(source_path)
    if count is None:
        count = info.frame_count - start
    work = read_clip(source_path, start, count, max_side)
    reference = read_clip(reference_path, max_side=max_side) if reference_path else None
    mask = read_masks(mask_path, size=work.size, count=work.T) if mask_path else None
    plate = None
    if plate_path:
        plate_info = probe(plate_path)
        if plate_info.fps != info.fps:
            raise FrameRateMismatchError(f"the plate runs at {plate_info.fps} fps but the shot at {info.fps}")
        plate = read_clip(plate_path, 0, work.T, max_side)
        if plate.size != work.size:
            plate = _resized(plate, work.size)
    if mask is not None and kind.value == "removal" and len(mask) == 1:
        mask = mask[0]
    report = progress or (lambda *_: None)
    fitted = fit(kind, work, params, mask=mask, reference=reference, plate=plate, keyframes=keyframes,
                 device=device, seed=seed, progress=lambda f, stage="": report(0.8 * f, stage))

    # quality, measured on the working copy (the same frames the fit saw)
    preview = torch.stack([fitted.model.apply(t, work.frames[t])[0] for t in range(work.T)])
    quality, check = fitted.assess(preview, work.frames)
    del preview

    written = {"clip": str(output / "result.mov")}
    has_alpha = kind.value == "background"
    plates = _held(iter_frames(plate_path, 0, count, size=(info.height, info.width))) if plate_path else None
    begin = time.perf_counter()
    matte_frames, png_frames = [], []
    with ClipWriter(written["clip"], info.fps, info.width, info.height) as writer:
        for t, frame in enumerate(iter_frames(source_path, start, count, info=info)):
            plate_frame = torch.from_numpy(next(plates)) if plates is not None else None
            out, alpha = fitted.model.apply(t, torch.from_numpy(frame), plate_frame)
            writer.write(out)
            if has_alpha and alpha is not None:
                matte_frames.append(write_frames(output / "matte", [alpha], start_number=t, grey=True)[0])
            if frames:
                png_frames.append(write_frames(output / "frames", [out], start_number=t)[0])
            report(0.8 + 0.2 * (t + 1) / count, "writing")
    apply_seconds = time.perf_counter() - begin
    if matte_frames:
        written["matte"] = str(output / "matte")
    if png_frames:
        written["frames"] = str(output / "frames")
    if hasattr(fitted.model, "write"):
        written.update(fitted.model.write(output))
    inputs = {"source": {"path": str(source_path), "sha256": file_sha256(source_path) if Path(source_path).is_file()
                         else None, "start": start, "count": count, "width": info.width, "height": info.height,
                         "pixel_format": info.pix_fmt, "bit_depth": info.bit_depth},
              "working_size": {"height": work.size[0], "width": work.size[1]}}
    for name, path in (("reference", reference_path), ("mask", mask_path), ("plate", plate_path)):
        if path:
            inputs[f"{name}_path"] = str(path)
            if Path(path).is_file():
                inputs[f"{name}_file_sha256"] = file_sha256(path)
    card = fitted.card(work, quality, apply_seconds, inputs, quality=check)
    card["outputs"] = {k: Path(v).name for k, v in written.items()}
    card_path = output / "card.json"
    card_path.write_text(json.dumps(card, indent=1))
    report(1.0, "done")
    return {"kind": kind.value, "paths": {**written, "card": str(card_path)}, "card": card}


def _resized(clip, size):
    from .clip import Clip

    frames = torch.nn.functional.interpolate(clip.frames.permute(0, 3, 1, 2), size=size, mode="area")
    return Clip(frames.permute(0, 2, 3, 1), clip.fps, clip.bit_depth, clip.source)


def _held(frames):
    """Frames of a plate, its last one held if it is shorter than the shot."""
    last = None
    for last in frames:
        yield last
    while last is not None:
        yield last
