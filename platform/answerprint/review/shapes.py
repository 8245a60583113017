"""The rules a drawn shape must follow, in one place for the REST API, the room and the services.

Points are [x, y, pressure] with every value 0..1, x from the left edge and y from the top edge of
the picture. Two-number points are accepted and get pressure 1.
"""
import math
import re

from django.core.exceptions import ValidationError

from .models import ShapeKind

MAX_POINTS = 4096
MAX_TEXT = 2000
COLOR_PATTERN = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")

# How many points each kind takes: (fewest, most).
POINT_COUNTS = {
    ShapeKind.STROKE: (1, MAX_POINTS),
    ShapeKind.LINE: (2, 2),
    ShapeKind.ARROW: (2, 2),  # from the tail to the head
    ShapeKind.RECTANGLE: (2, 2),  # two opposite corners
    ShapeKind.ELLIPSE: (2, 2),  # two opposite corners of the bounding box
    ShapeKind.POLYGON: (3, MAX_POINTS),  # closed: the last point joins the first
    ShapeKind.TEXT: (1, 1),  # the top-left corner of the text
}


def _unit(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1


def clean_points(points):
    """The points as a list of [x, y, pressure] floats, or a ValidationError naming the bad one."""
    if not isinstance(points, list):
        raise ValidationError({"points": "Points are a list of [x, y] or [x, y, pressure]."})
    if len(points) > MAX_POINTS:
        raise ValidationError({"points": f"A shape has at most {MAX_POINTS} points."})
    cleaned = []
    for index, point in enumerate(points):
        if not isinstance(point, (list, tuple)) or len(point) not in (2, 3) or not all(_unit(v) for v in point):
            raise ValidationError(
                {"points": f"Point {index} must be [x, y] or [x, y, pressure] with every value between 0 and 1."}
            )
        x, y, *rest = point
        cleaned.append([float(x), float(y), float(rest[0]) if rest else 1.0])
    return cleaned


def clean_color(color):
    if not isinstance(color, str) or not COLOR_PATTERN.match(color):
        raise ValidationError({"color": "A colour is #rrggbb or #rrggbbaa."})
    return color.lower()


def clean_width(width):
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not math.isfinite(width) \
            or not 0 < width <= 0.5:
        raise ValidationError({"width": "The width is a fraction of the frame height, above 0 and at most 0.5."})
    return float(width)


def check_shape(shape, points, text):
    """Refuse a shape whose points or text do not fit its kind."""
    if shape not in ShapeKind.values:
        raise ValidationError({"shape": f"Unknown shape {shape!r}; use one of {', '.join(ShapeKind.values)}."})
    fewest, most = POINT_COUNTS[shape]
    if not fewest <= len(points) <= most:
        wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
        raise ValidationError({"points": f"A {shape} takes {wanted} points, not {len(points)}."})
    if shape == ShapeKind.TEXT:
        if not text or not text.strip():
            raise ValidationError({"text": "A text shape needs its text."})
        if len(text) > MAX_TEXT:
            raise ValidationError({"text": f"Text is at most {MAX_TEXT} characters."})
    elif text:
        raise ValidationError({"text": "Only a text shape carries text."})
