"""The removal's own estimate of its error, for the proposal's QC verdict (inference.qc).

Measured on the shot itself while fitting: copies of the hole are cut, moving as it moves, into
parts of the shot that are seen (the object copied along, so its motion disturbs the flow as it
really does) and filled as the real hole is. How far the fill lands from the true pixels there is
the headline error, next to how far the source left alone is (the object still in place); per-frame
Telea inpainting on the same copies is listed too, and a fill no closer than Telea's asks for a
close look. Steadiness against the source is added by inference.qc from the self-metrics.
"""
from __future__ import annotations

import math

from .qc import Estimate, Metric


def _rmse(mse: float | None) -> float | None:
    return math.sqrt(mse) if mse is not None and math.isfinite(mse) else None


def removal_estimate(trials: dict | None) -> Estimate | None:
    """The Estimate from the setting trials of removal.choose_settings (mean squared errors on the
    copies: "chosen" for our fill, "telea", "source"); None when the shot left nowhere to cut them."""
    trials = trials or {}
    ours, telea, source = (_rmse(trials.get(k)) for k in ("chosen", "telea", "source"))
    if ours is None:
        return None
    error = Metric("fill error on copies of the hole (RMS, 0..1)", ours, source, True,
                   "the hole's shape cut where the shot is seen and filled the same way; lower is closer to the "
                   "true pixels, and the source value is the object left in place")
    extra, notes = [], []
    if telea is not None:
        extra.append(Metric("Telea inpainting on the same copies (RMS, 0..1)", telea, None, True,
                            "the classical per-frame tool, for comparison"))
        if ours >= telea:
            notes.append(f"the fill is no closer to the true pixels than per-frame Telea inpainting "
                         f"({ours:.3f} against {telea:.3f})")
    return Estimate(error, checked=True, review_above=telea, notes=notes, extra=extra)
