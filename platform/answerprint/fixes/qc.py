"""A proposal's quality check as people see it: the verdict its model card carries (written by
inference.qc on the worker), in words, with one line per metric and a small brightness plot.

The card is what the signature binds to, so the verdict shown is exactly the one signed for.
A card without a `qc` block (a model that gives none) reads as "review closely".
"""
from dataclasses import dataclass, field

RECOMMENDED, REVIEW, NOT_RECOMMENDED = "recommended", "review", "not_recommended"
LABELS = {RECOMMENDED: "Recommended", REVIEW: "Review closely", NOT_RECOMMENDED: "Not recommended"}
NO_ESTIMATE = "Review closely: the model gave no estimate of its own quality for this result."

PLOT_WIDTH, PLOT_HEIGHT, PLOT_PAD = 320, 90, 6


@dataclass
class QualityCheck:
    verdict: str
    summary: str
    metrics: list = field(default_factory=list)  # one line each
    plot: dict | None = None  # SVG polylines of brightness per frame, before and after

    @property
    def label(self):
        return LABELS[self.verdict]

    @property
    def needs_acknowledgement(self):
        """Approving a result estimated worse than its source asks the signer to say they saw why."""
        return self.verdict == NOT_RECOMMENDED

    def as_dict(self):
        return {"verdict": self.verdict, "label": self.label, "summary": self.summary, "metrics": self.metrics,
                "needs_acknowledgement": self.needs_acknowledgement}


def _number(value):
    if value is None:
        return "n/a"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def _metric_line(metric):
    text = f"{metric.get('name', 'metric')}: {_number(metric.get('value'))}"
    if metric.get("explanation"):
        text += f" — {metric['explanation']}"
    if metric.get("source_value") is not None:
        text += f"; the source scores {_number(metric['source_value'])}"
    return text


def _polyline(values, low, high, count):
    span = (high - low) or 1.0
    step = (PLOT_WIDTH - 2 * PLOT_PAD) / max(count - 1, 1)
    points = []
    for i, value in enumerate(values):
        x = PLOT_PAD + i * step
        y = PLOT_HEIGHT - PLOT_PAD - (value - low) / span * (PLOT_HEIGHT - 2 * PLOT_PAD)
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)


def _plot(curve):
    """Two polylines on one scale (brightness in % of full scale), or None when there is no curve."""
    if not isinstance(curve, dict):
        return None
    before, after = curve.get("before") or [], curve.get("after") or []
    values = [float(v) for v in before + after if isinstance(v, (int, float))]
    if len(before) < 2 or len(before) != len(after) or len(values) != len(before) + len(after):
        return None
    low, high = min(values), max(values)
    margin = max((high - low) * 0.1, 0.5)
    low, high = low - margin, high + margin
    return {"width": PLOT_WIDTH, "height": PLOT_HEIGHT, "before": _polyline(before, low, high, len(before)),
            "after": _polyline(after, low, high, len(after)), "low": f"{low:.1f}", "high": f"{high:.1f}",
            "frames": len(before)}


def quality_check(model_card):
    block = (model_card or {}).get("qc") if isinstance(model_card, dict) else None
    if not isinstance(block, dict) or block.get("verdict") not in LABELS:
        return QualityCheck(REVIEW, NO_ESTIMATE)
    metrics = [_metric_line(m) for m in block.get("metrics") or [] if isinstance(m, dict)]
    return QualityCheck(block["verdict"], str(block.get("summary") or LABELS[block["verdict"]]), metrics,
                        _plot(block.get("curve")))
