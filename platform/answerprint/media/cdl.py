"""ASC CDL (slope, offset, power, saturation) as the editor set it, and as a browser viewing grade.

The browser applies it to the proxy with an SVG filter on encoded values (as a grading system
shows a CDL on a display-referred picture): one lookup table per channel for slope/offset/power,
then a colour matrix for saturation with Rec. 709 luma weights, as the ASC CDL specifies.
"""
REC709_LUMA = (0.2126, 0.7152, 0.0722)
TABLE_SIZE = 256


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
