"""The removal's own estimate of its quality, in plain words, with no ground truth.

Two measurements, both made on the shot itself while fitting:

- fill error: copies of the hole are cut, moving as it moves, into parts of the shot that are
  seen, and filled as the real hole is; how far the fill lands from the true pixels (PSNR), next
  to what per-frame Telea inpainting puts there (the classical tool's value);
- temporal stability: the result's warp error (each frame against the next one brought back
  along the source's flow) relative to the source's own; a fill that boils shows up here.
"""
from __future__ import annotations

import math

# A fill must beat the classical tool by this much on the copies to be recommended outright.
MARGIN_DB = 1.0
# Warp error the result may have relative to the source before the fill reads as unsteady.
STEADY, UNSTEADY = 1.5, 2.5


def _psnr(mse: float | None) -> float | None:
    if mse is None or not math.isfinite(mse):
        return None
    return 99.0 if mse <= 1e-10 else 10.0 * math.log10(1.0 / mse)


def removal_qc(fill_mse: float | None, telea_mse: float | None, warp_ratio: float | None) -> dict:
    """{"verdict", "summary", "metrics": [...]}: fill_mse / telea_mse are the mean squared errors
    of our fill and of Telea on copies of the hole cut where the shot is seen (None when the shot
    left nowhere to cut them); warp_ratio the result's warp error over the source's."""
    ours, telea = _psnr(fill_mse), _psnr(telea_mse)
    metrics = []
    if ours is not None:
        metrics.append({"name": "fill PSNR on copies of the hole (dB)", "value": ours, "source_value": telea,
                        "lower_is_better": False,
                        "explanation": "The hole's shape cut into parts of the shot that are seen, filled the same "
                                       "way; higher is closer to the true pixels. The source value is what "
                                       "per-frame Telea inpainting puts there."})
    if warp_ratio is not None and math.isfinite(warp_ratio):
        metrics.append({"name": "warp error vs the source", "value": warp_ratio, "source_value": 1.0,
                        "lower_is_better": True,
                        "explanation": "How much the result changes from frame to frame along the shot's motion, "
                                       "relative to the source; above 1.5 the fill may boil or flicker."})
    problems, doubts = [], []
    if ours is not None and telea is not None:
        if ours < telea:
            problems.append(f"the fill lands further from the truth than Telea's on copies of the hole "
                            f"({ours:.1f} dB against {telea:.1f} dB)")
        elif ours < telea + MARGIN_DB:
            doubts.append(f"the fill is little better than Telea's on copies of the hole ({ours:.1f} dB against "
                          f"{telea:.1f} dB)")
    else:
        doubts.append("the shot left nowhere to test the fill on copies of the hole")
    if warp_ratio is not None and math.isfinite(warp_ratio):
        if warp_ratio > UNSTEADY:
            problems.append(f"the result is {warp_ratio:.1f}x as unsteady as the source")
        elif warp_ratio > STEADY:
            doubts.append(f"the result is {warp_ratio:.1f}x as unsteady as the source")
    if problems:
        verdict, summary = "not_recommended", "Not recommended: " + "; ".join(problems + doubts) + "."
    elif doubts:
        verdict, summary = "review", "Review closely: " + "; ".join(doubts) + "."
    else:
        verdict = "recommended"
        summary = (f"Recommended: the fill puts back seen pixels {ours - telea:.1f} dB better than Telea and the "
                   f"result is as steady as the source ({warp_ratio:.2f}x).") if warp_ratio is not None else \
            f"Recommended: the fill puts back seen pixels {ours - telea:.1f} dB better than Telea."
    return {"verdict": verdict, "summary": summary, "metrics": metrics}
