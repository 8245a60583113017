"""ASC CDL (slope, offset, power, saturation) as the editor set it, and as a browser viewing grade.

The browser applies it to the proxy with an SVG filter on encoded values (as a grading system
shows a CDL on a display-referred picture): one lookup table per channel for slope/offset/power,
then a colour matrix for saturation with Rec. 709 luma weights, as the ASC CDL specifies.
"""
import math

REC709_LUMA = (0.2126, 0.7152, 0.0722)
TABLE_SIZE = 256


def cdl_problem(cdl) -> str | None:
    """What is wrong with a CDL as data ({"slope", "offset", "power": three numbers each, optional
    "saturation"}), or None. Mirrors inference.colour.check_cdl, so a bad one is refused before it
    is queued rather than failing on the GPU."""
    if not isinstance(cdl, dict):
        return "an ASC CDL is an object of slope, offset, power and saturation"
    unknown = sorted(set(cdl) - {"slope", "offset", "power", "saturation"})
    if unknown:
        return f"an ASC CDL has no {', '.join(map(str, unknown))}"

    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    for name in ("slope", "offset", "power"):
        values = cdl.get(name)
        if not isinstance(values, (list, tuple)) or len(values) != 3 or not all(map(number, values)):
            return f"its {name} must be three numbers (red, green, blue)"
    # a negative slope inverts a channel; a power of 0 or less is undefined on black
    if min(cdl["slope"]) < 0:
        return "its slope must be at least 0"
    if min(cdl["power"]) <= 0:
        return "its power must be above 0"
    saturation = cdl.get("saturation", 1.0)
    if not number(saturation) or saturation < 0:
        return "its saturation must be a number of at least 0"
    return None


def sop(value: float, slope: float, offset: float, power: float) -> float:
    """out = clamp(in × slope + offset) ^ power, clamped to 0..1 as the ASC CDL does."""
    graded = min(max(value * slope + offset, 0.0), 1.0)
    return min(graded ** power, 1.0)


def channel_table(cdl: dict, channel: int, size: int = TABLE_SIZE) -> str:
    """The slope/offset/power of one channel as feFuncX tableValues: `size` samples over 0..1."""
    slope, offset, power = cdl["slope"][channel], cdl["offset"][channel], cdl["power"][channel]
    return " ".join(f"{sop(i / (size - 1), slope, offset, power):.5f}" for i in range(size))


def saturation_matrix(saturation: float) -> str:
    """feColorMatrix values: luma + saturation × (colour − luma), per channel, alpha kept."""
    rows = []
    for channel in range(3):
        row = [(1 - saturation) * weight + (saturation if i == channel else 0.0) for i, weight in enumerate(REC709_LUMA)]
        rows.append(" ".join(f"{v:.6f}" for v in row) + " 0 0")
    rows.append("0 0 0 1 0")
    return "  ".join(rows)


def viewing_filter(cdl: dict | None) -> dict | None:
    """What the shot page's SVG filter needs, or None without a CDL."""
    if not cdl:
        return None
    return {"red": channel_table(cdl, 0), "green": channel_table(cdl, 1), "blue": channel_table(cdl, 2),
            "saturation": saturation_matrix(float(cdl.get("saturation", 1.0)))}
