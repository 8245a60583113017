"""propose(): one call from a clip (and a mask, a reference or a plate) to a fixed clip, its
matte when there is one, quality metrics and a model card."""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import colour, exposure, matte, qc, removal
from .card import frame_hashes, model_card, tensor_hash
from .clip import Clip
from .device import configure_threads, device_name, pick_device, seed_everything
from .errors import FrameRateMismatchError, ParameterError, UnknownKindError
from .metrics import self_metrics


class FixKind(str, enum.Enum):
    REMOVAL = "removal"
    COLOUR_MATCH = "colour_match"
    EXPOSURE = "exposure"
    DEFLICKER = "deflicker"
    BACKGROUND = "background"


ALIASES = {
    "object_removal": FixKind.REMOVAL, "rig_removal": FixKind.REMOVAL, "remove": FixKind.REMOVAL,
    "colour": FixKind.COLOUR_MATCH, "color": FixKind.COLOUR_MATCH, "color_match": FixKind.COLOUR_MATCH,
    "relight": FixKind.EXPOSURE, "white_balance": FixKind.EXPOSURE,
    "background_replacement": FixKind.BACKGROUND, "matte": FixKind.BACKGROUND,
}

# kind -> (module, params class, fixed parameters)
_FIXES = {
    FixKind.REMOVAL: (removal, removal.RemovalParams, {}),
    FixKind.COLOUR_MATCH: (colour, colour.ColourParams, {}),
    FixKind.EXPOSURE: (exposure, exposure.ExposureParams, {}),
    FixKind.DEFLICKER: (exposure, exposure.ExposureParams, {"target": "median"}),
    FixKind.BACKGROUND: (matte, matte.MatteParams, {}),
}


def resolve_kind(kind) -> FixKind:
    if isinstance(kind, FixKind):
        return kind
    name = str(kind).strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return FixKind(name)
    except ValueError:
        if name in ALIASES:
            return ALIASES[name]
    known = ", ".join(k.value for k in FixKind)
    raise UnknownKindError(f"unknown fix kind {kind!r}; known kinds: {known}")


@dataclass
class Result:
    kind: FixKind
    frames: torch.Tensor  # [T, H, W, 3]
    alpha: torch.Tensor | None  # [T, H, W] for background replacement
    metrics: dict
    card: dict
    model: object = field(repr=False)  # the fitted fix (LUT, gains, fill, matte) for apply()

    @property
    def lut(self) -> torch.Tensor | None:
        return getattr(self.model, "lut", None)


@dataclass
class Fitted:
    """A fix fitted on a clip, ready to apply to that clip's frames at any size."""

    kind: FixKind
    model: object
    params: object
    method: str
    version: str
    device: torch.device
    seed: int
    fit_seconds: float
    fitted_frames: list[str]
    inputs: dict

    def card(self, clip: Clip, metrics: dict, apply_seconds: float | None, inputs: dict | None = None,
             quality: dict | None = None) -> dict:
        return model_card(kind=self.kind.value, method=self.method, version=self.version,
                          params=self.params.as_dict(), seed=self.seed, device=device_name(self.device),
                          fps=clip.fps, size=clip.size, fitted_frames=self.fitted_frames,
                          fit_seconds=self.fit_seconds, apply_seconds=apply_seconds, metrics=metrics,
                          details=getattr(self.model, "info", {}), inputs={**self.inputs, **(inputs or {})},
                          qc=quality)

    def assess(self, output: torch.Tensor, source: torch.Tensor) -> tuple[dict, dict]:
        """What can be said of the output without ground truth: its self-metrics against the
        source, and the QC block (verdict, numbers, brightness curve) built on the model's own
        estimate of its error."""
        measured = self_metrics(output, source) if len(source) > 1 else {}
        return measured, qc.assess(self.kind.value, getattr(self.model, "estimate", None), measured, source, output)


def _as_clip(value, name: str) -> Clip | None:
    if value is None or isinstance(value, Clip):
        return value
    if isinstance(value, torch.Tensor) or hasattr(value, "shape"):
        return Clip(value)
    raise ParameterError(f"{name} must be a Clip or frames [T, H, W, 3]")


def fit(kind, clip: Clip, params: dict | None = None, *, mask=None, reference=None, plate=None, keyframes=None,
        device=None, seed: int = 0, progress: Callable | None = None) -> Fitted:
    """Check the inputs and fit the fix to the clip; apply it with fitted.model.apply(t, frame)."""
    kind = resolve_kind(kind)
    clip = _as_clip(clip, "clip")
    if clip is None:
        raise ParameterError("a clip is needed")
    module, params_class, fixed = _FIXES[kind]
    given = dict(params or {})
    for name, value in fixed.items():
        if given.get(name, value) != value:
            raise ParameterError(f"{kind.value} always uses {name}={value!r}")
    parsed = params_class.from_dict({**given, **fixed})
    reference, plate = _as_clip(reference, "reference"), _as_clip(plate, "plate")
    if isinstance(mask, Clip):
        if mask.fps != clip.fps:
            raise FrameRateMismatchError(f"the mask clip runs at {mask.fps} fps but the shot at {clip.fps}")
        mask = mask.frames[..., 0] >= 0.5
    if plate is not None and plate.fps != clip.fps:
        raise FrameRateMismatchError(f"the plate runs at {plate.fps} fps but the shot at {clip.fps}: "
                                     "conform it first (frames are composited one for one)")
    configure_threads()
    device = pick_device(device)
    rng = seed_everything(seed)
    report = (lambda f, stage="": progress(0.9 * f, stage)) if progress else None
    start = time.perf_counter()
    model = module.fit(clip, parsed, mask=mask, reference=reference, plate=plate, keyframes=keyframes,
                       device=device, rng=rng, progress=report, seed=seed)
    elapsed = time.perf_counter() - start
    inputs = {"mask_sha256": tensor_hash(mask),
              "reference_frames_sha256": frame_hashes(reference.frames) if reference is not None else None,
              "plate_sha256": tensor_hash(plate.frames) if plate is not None else None}
    return Fitted(kind, model, parsed, module.METHOD, module.VERSION, device, seed, elapsed,
                  frame_hashes(clip.frames), {k: v for k, v in inputs.items() if v is not None})


def propose(kind, clip: Clip, params: dict | None = None, *, mask=None, reference=None, plate=None,
            keyframes=None, device=None, seed: int = 0, progress: Callable | None = None,
            metrics: bool = True) -> Result:
    """Fit a fix of this kind on the clip's own frames and apply it.

    mask: removal -- the pixels to remove, [T, H, W] or one [H, W]; background -- masks drawn on
    keyframes ([T, H, W], empty on other frames). reference: colour match -- the shot to match;
    exposure -- the frame that looks right (optional: without it the shot's own steady level is
    the target). plate: background -- what goes behind the foreground."""
    clip = _as_clip(clip, "clip")
    fitted = fit(kind, clip, params, mask=mask, reference=reference, plate=plate, keyframes=keyframes,
                 device=device, seed=seed, progress=progress)
    start = time.perf_counter()
    outputs = [fitted.model.apply(t, clip.frames[t]) for t in range(clip.T)]
    apply_seconds = time.perf_counter() - start
    frames = torch.stack([o[0] for o in outputs])
    alpha = torch.stack([o[1] for o in outputs]) if outputs[0][1] is not None else None
    quality, check = fitted.assess(frames, clip.frames) if metrics else ({}, None)
    if progress:
        progress(1.0, "done")
    return Result(fitted.kind, frames, alpha, quality, fitted.card(clip, quality, apply_seconds, quality=check),
                  fitted.model)
