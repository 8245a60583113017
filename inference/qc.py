"""Quality control that every proposal carries: the model's own estimate of how good its result
is, measured without ground truth on what the model can check, and a verdict in plain words.

A fit reports an Estimate: its headline error measured where the answer is known (pixels of
the shot aligned with the reference and kept out of the fit, copies of the hole cut where the
shot is seen, ...) next to the same measure for the untouched source, whether it could be
checked at all, and notes a reviewer should read. assess() adds what can be said of any output
(temporal steadiness against the source's, flicker, brightness per frame) and turns it into the
card's `qc` block:

    {"verdict": "recommended" | "review" | "not_recommended",
     "summary": "<plain words with the numbers>",
     "metrics": [{"name", "value", "source_value", "lower_is_better", "explanation"}],
     "curve": {"frames": [...], "before": [...], "after": [...]}}   # exposure and deflicker

The verdict says "not recommended" only when the estimate says the result is probably worse than
the source; "review" when it is better but not by enough, or could not be checked.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

RECOMMENDED, REVIEW, NOT_RECOMMENDED = "recommended", "review", "not_recommended"
VERDICTS = (RECOMMENDED, REVIEW, NOT_RECOMMENDED)

# A result this much less steady than its source (warp error ratio) shimmers where it did not.
# Only for kinds that change pixels locally: a colour or exposure change alters contrast, and
# with it the warp error, without making anything less steady (flicker is their measure).
UNSTEADY_RATIO = 1.15
LOCAL_KINDS = {"removal", "background"}
# Colour error (CIEDE2000) left after a match above which a colourist should look closely:
# about the difference two neighbouring shots may show before a viewer notices a cut.
COLOUR_REVIEW_DELTA_E = 3.0
# Flicker left over the source's above which a deflicker did not do its job.
FLICKER_REVIEW_FRACTION = 0.5


@dataclass
class Metric:
    name: str
    value: float
    source_value: float | None
    lower_is_better: bool
    explanation: str

    def line(self) -> str:
        """One line a producer can read: "warp error vs source: 0.86 — lower is steadier; the source scores 0.91"."""
        text = f"{self.name}: {_number(self.value)} — {self.explanation}"
        if self.source_value is not None:
            text += f"; the source scores {_number(self.source_value)}"
        return text


@dataclass
class Estimate:
    """What a model measured about its own result."""

    error: Metric  # the headline estimate, next to the source's value on the same pixels
    checked: bool  # measured where the answer is known (not only on statistics)
    review_above: float | None = None  # error above this asks for a close look
    notes: list[str] = field(default_factory=list)  # how it was fitted, in words, when it matters
    extra: list[Metric] = field(default_factory=list)


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _differences(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    from skimage.color import deltaE_ciede2000, rgb2lab

    x = a.clamp(0, 1).reshape(1, -1, 3).numpy()
    y = b.clamp(0, 1).reshape(1, -1, 3).numpy()
    return deltaE_ciede2000(rgb2lab(x), rgb2lab(y))[0]


def delta_e_pairs(a: torch.Tensor, b: torch.Tensor, limit: int = 20_000) -> float:
    """Mean CIEDE2000 between two colour lists [N, 3] (sRGB 0..1), on at most `limit` of them."""
    if len(a) == 0:
        return float("nan")
    step = max(1, len(a) // limit)
    return float(_differences(a[::step], b[::step]).mean())


def systematic_delta_e(a: torch.Tensor, b: torch.Tensor, blocks: torch.Tensor, min_pixels: int = 24) -> float:
    """The part of the CIELAB difference between colour pairs [N, 3] that is systematic within each
    block (blocks [N]: which patch of which frame a pair is in), the rest being noise: in each
    block the differences are fitted by an affine function of the colour (a mapping wrong there
    is such a function; a slip on texture or a person who moved is not), what the fit leaves is
    the noise (its variance corrected for the fit's 12 parameters), and the systematic part is
    what remains of the mean squared difference once that is taken out. Mean over blocks."""
    from skimage.color import rgb2lab

    if len(a) == 0:
        return float("nan")
    lab_a = rgb2lab(a.clamp(0, 1).reshape(1, -1, 3).numpy().astype(np.float64))[0]
    lab_b = rgb2lab(b.clamp(0, 1).reshape(1, -1, 3).numpy().astype(np.float64))[0]
    difference = lab_a - lab_b
    ids, inverse, counts = np.unique(blocks.numpy(), return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    parameters = 4 * 3
    values = []
    for start, count in zip(starts, counts):
        if count < min_pixels:
            continue
        rows = order[start:start + count]
        design = np.concatenate([lab_a[rows], np.ones((count, 1))], 1)
        coefficients, *_ = np.linalg.lstsq(design, difference[rows], rcond=None)
        noise = ((difference[rows] - design @ coefficients) ** 2).sum() / max(count - parameters, 1)
        total = (difference[rows] ** 2).sum(1).mean()
        values.append(np.sqrt(max(total - noise, 0.0)))
    return float(np.mean(values)) if values else float(np.sqrt((difference ** 2).sum(1).mean()))


def brightness_curve(frames: torch.Tensor) -> list[float]:
    """Mean Rec.709 luma of each frame, in percent of full scale."""
    weights = torch.tensor([0.2126, 0.7152, 0.0722], dtype=frames.dtype)
    return [round(float(v) * 100, 3) for v in (frames.clamp(0, 1) * weights).sum(-1).mean((1, 2))]


def _temporal(metrics: dict) -> Metric | None:
    ratio, source = metrics.get("warp_error"), metrics.get("source_warp_error")
    if ratio is None or source is None:
        return None
    return Metric("warp error", metrics["warp_error"], source, True,
                  "how much each frame differs from the next along the motion (0..1); lower is steadier")


def _flicker(metrics: dict) -> Metric | None:
    if "flicker_index" not in metrics:
        return None
    return Metric("flicker", metrics["flicker_index"], metrics.get("source_flicker_index"), True,
                  "frame-to-frame brightness jitter in % of full scale; lower is steadier")


def default_estimate(kind: str, metrics: dict) -> Estimate:
    """For a kind whose model reports no estimate of its own: what the self-metrics support. A
    deflicker is judged on the flicker left against the source's. Removal and background replace
    pixels, so steadiness against the source's is the check; it cannot show the fill is right,
    so the verdict is at best "review"."""
    flicker = _flicker(metrics)
    if kind in {"exposure", "deflicker"} and flicker is not None and flicker.source_value is not None:
        # levelled to the shot itself: the flicker left is measured on the result directly
        return Estimate(flicker, checked=True, review_above=FLICKER_REVIEW_FRACTION * flicker.source_value)
    temporal = _temporal(metrics)
    if temporal is None:
        temporal = Metric("warp error", float("nan"), None, True, "not measured (a single frame)")
    return Estimate(temporal, checked=False,
                    notes=[f"the {kind.replace('_', ' ')} model gave no estimate of its own error; "
                           "only the result's steadiness against the source's was measured"])


def verdict(kind: str, estimate: Estimate, metrics: dict) -> tuple[str, str]:
    """(verdict, summary in plain words with the numbers)."""
    error = estimate.error
    reasons_worse, reasons_review = [], []
    if error.source_value is not None and math.isfinite(error.value) and estimate.checked:
        worse = error.value >= error.source_value if error.lower_is_better else error.value <= error.source_value
        if worse:
            reasons_worse.append(f"{error.name} {_number(error.value)} against {_number(error.source_value)} "
                                 "for the source left alone")
    if estimate.review_above is not None and math.isfinite(error.value) and error.value > estimate.review_above:
        reasons_review.append(f"{error.name} is {_number(error.value)}, above {_number(estimate.review_above)}")
    if not estimate.checked:
        reasons_review.append("the result could not be checked against pixels with a known answer")
    temporal, flicker = _temporal(metrics), _flicker(metrics)
    if kind in LOCAL_KINDS and temporal is not None and temporal.source_value \
            and temporal.value > UNSTEADY_RATIO * temporal.source_value:
        reasons_review.append(f"it is less steady than the source (warp error {_number(temporal.value)} "
                              f"against {_number(temporal.source_value)})")
    if kind not in LOCAL_KINDS and flicker is not None and flicker.source_value is not None \
            and flicker.value > UNSTEADY_RATIO * flicker.source_value + 0.05 and estimate.error.name != flicker.name:
        reasons_review.append(f"it flickers more than the source (flicker {_number(flicker.value)} "
                              f"against {_number(flicker.source_value)})")
    notes = "; ".join(estimate.notes)
    if reasons_worse:
        summary = "Not recommended: the result is probably worse than the source (" + "; ".join(reasons_worse) + ")."
        return NOT_RECOMMENDED, summary + (f" {notes[0].upper()}{notes[1:]}." if notes else "")
    if reasons_review:
        summary = "Review closely: " + "; ".join(reasons_review) + "."
        return REVIEW, summary + (f" {notes[0].upper()}{notes[1:]}." if notes else "")
    summary = f"Recommended: {error.name} {_number(error.value)}"
    if error.source_value is not None:
        summary += f" against {_number(error.source_value)} for the source"
    return RECOMMENDED, summary + "."


def assess(kind: str, estimate: Estimate | None, metrics: dict, source: torch.Tensor | None = None,
           output: torch.Tensor | None = None) -> dict:
    """The card's `qc` block for a result. `metrics`: inference.metrics.self_metrics of the output
    against its source; source/output frames give the brightness curve for exposure and deflicker."""
    estimate = estimate or default_estimate(kind, metrics)
    chosen, summary = verdict(kind, estimate, metrics)
    listed = [estimate.error, *estimate.extra]
    temporal = _temporal(metrics)
    if temporal is not None and all(m.name != temporal.name for m in listed):
        listed.append(temporal)
    flicker = _flicker(metrics)
    if flicker is not None and kind in {"exposure", "deflicker"} and all(m.name != flicker.name for m in listed):
        listed.append(flicker)
    block = {"verdict": chosen, "summary": summary, "metrics": [_json_metric(m) for m in listed],
             "checked": estimate.checked}
    if kind in {"exposure", "deflicker"} and source is not None and output is not None and len(source) > 1:
        block["curve"] = {"frames": list(range(len(source))), "before": brightness_curve(source),
                          "after": brightness_curve(output)}
    return block


def _json_metric(metric: Metric) -> dict:
    out = asdict(metric)
    for key in ("value", "source_value"):
        value = out[key]
        if value is not None:
            value = float(value)
            out[key] = round(value, 4) if math.isfinite(value) else None
    return out


def spearman(predicted, true) -> float:
    """Rank correlation of two lists (average ranks for ties)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(predicted, float), np.asarray(true, float)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        return float("nan")
    return float(spearmanr(a[keep], b[keep]).statistic)


__all__ = ["Metric", "Estimate", "assess", "verdict", "default_estimate", "delta_e_pairs", "systematic_delta_e",
           "brightness_curve",
           "spearman", "VERDICTS", "RECOMMENDED", "REVIEW", "NOT_RECOMMENDED"]
