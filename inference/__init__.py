"""Per-shot fix models in PyTorch. Never imports Django.

    from inference import propose, read_clip
    result = propose("removal", read_clip("plate.mov"), mask=masks, seed=0)
    result.frames, result.metrics, result.card

Kinds: removal, colour_match, exposure, deflicker, background. Everything is fitted on the
shot's own frames; nothing is downloaded. The evaluation harness: python -m inference.evaluate.
"""
__version__ = "1.0.0"

from .api import FixKind, Fitted, Result, fit, propose, resolve_kind  # noqa: E402
from .clip import Clip, ClipWriter, MediaInfo, iter_frames, probe, read_clip, read_masks, write_clip, write_frames  # noqa: E402
from .errors import (  # noqa: E402
    EmptyClipError,
    FrameRateMismatchError,
    InferenceError,
    MaskError,
    MediaError,
    NonFiniteError,
    ParameterError,
    UnknownKindError,
)

__all__ = [
    "propose", "fit", "Result", "Fitted", "FixKind", "resolve_kind",
    "Clip", "ClipWriter", "MediaInfo", "probe", "iter_frames", "read_clip", "read_masks", "write_clip", "write_frames",
    "InferenceError", "UnknownKindError", "EmptyClipError", "NonFiniteError", "MaskError", "FrameRateMismatchError",
    "ParameterError", "MediaError",
]
