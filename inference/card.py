"""The model card that goes with every result: what was run, on what, how, and how well."""
from __future__ import annotations

import datetime
import hashlib
import platform
import sys

import numpy as np
import torch

CARD_VERSION = 1


def frame_hashes(frames) -> list[str]:
    """sha256 of each frame's float32 RGB values (little-endian, row-major): the exact pixels
    the fix was fitted on, whatever file or decoder they came from."""
    out = []
    for frame in frames:
        array = frame.detach().cpu().numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)
        out.append(hashlib.sha256(np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest())
    return out


def tensor_hash(value) -> str | None:
    if value is None:
        return None
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def file_sha256(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _clean(value):
    """JSON-safe: floats rounded, NaN/inf as None, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return round(value, 6) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def model_card(*, kind: str, method: str, version: str, params: dict, seed: int, device: str, fps,
               size: tuple[int, int], fitted_frames: list[str], fit_seconds: float, apply_seconds: float | None,
               metrics: dict, details: dict, inputs: dict, qc: dict | None = None) -> dict:
    from . import __version__

    combined = hashlib.sha256("".join(fitted_frames).encode()).hexdigest()
    return _clean({
        "card_version": CARD_VERSION,
        "kind": kind,
        "method": method,
        "method_version": version,
        "package": f"inference {__version__}",
        "parameters": params,
        "seed": seed,
        "device": device,
        "software": {"python": sys.version.split()[0], "torch": torch.__version__, "platform": platform.platform()},
        "trained_on": "this shot's own frames only; no pretrained weights",
        "frame_rate": f"{fps.numerator}/{fps.denominator}",
        "size": {"height": size[0], "width": size[1]},
        "fitted_on": {"frames": len(fitted_frames), "sha256": fitted_frames, "sha256_of_all": combined},
        "inputs": inputs,
        "timing": {"fit_seconds": fit_seconds, "apply_seconds": apply_seconds},
        "metrics": metrics,
        **({"qc": qc} if qc is not None else {}),
        "details": details,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })
