"""A drawn annotation as a matte the model can use: white where the fix applies.

Annotation geometry is normalised (x, y in 0..1 from the top-left; stroke width a fraction of the
frame height), so the matte is drawn at the source's own resolution whatever size the drawing
was made at. The region applies to every frame of the request's range: a garbage matte, which
the removal model grows and tracks itself.
"""
import io
import math

from django.core.exceptions import ValidationError
from PIL import Image, ImageDraw

MASK_SHAPES = ("polygon", "stroke", "rectangle", "ellipse")


def shape_snapshot(annotation):
    """The parts of an annotation that make the matte, as they were when the fix was requested."""
    return {"annotation": str(annotation.pk), "shape": annotation.shape, "points": annotation.points,
            "width": annotation.width, "frame": annotation.frame, "duration": annotation.duration,
            "revision": annotation.revision}


def check_mask_shape(shape):
    if shape not in MASK_SHAPES:
        raise ValidationError({"mask_annotation": f"A {shape} cannot be a mask: draw a polygon, a brush stroke, a "
                                                  f"rectangle or an ellipse over what the fix should change."})


def _smooth(points, passes=2):
    for _ in range(passes):
        if len(points) <= 2:
            break
        points = [points[0], *([(a[k] + 2 * b[k] + c[k]) / 4 for k in range(3)]
                               for a, b, c in zip(points, points[1:], points[2:])), points[-1]]
    return points


def brush_radius(size, pressure):
    """Half the brush's width at a pressure: `size` is its full width at pressure 0.5. The same
    formula as frontend/static/js/stroke.js, so the matte is the stroke the person saw."""
    return size / 2 * (0.35 + 1.3 * min(max(pressure, 0.0), 1.0))


def stroke_pieces(points, size):
    """A pressure stroke (points [x, y, pressure] in pixels, `size` in pixels) as (discs, quads)
    whose union is its outline: a disc (x, y, radius) at every smoothed point and, between
    neighbours, the quadrilateral joining their offset edges — the shape stroke.js outlines."""
    smoothed = _smooth([[p[0], p[1], p[2] if len(p) > 2 else 1.0] for p in points])
    discs, edges = [], []
    for index, (x, y, pressure) in enumerate(smoothed):
        before, after = smoothed[max(index - 1, 0)], smoothed[min(index + 1, len(smoothed) - 1)]
        dx, dy = after[0] - before[0], after[1] - before[1]
        length = math.hypot(dx, dy) or 1.0
        radius = brush_radius(size, pressure)
        normal = (-dy / length * radius, dx / length * radius)
        discs.append((x, y, radius))
        edges.append(((x + normal[0], y + normal[1]), (x - normal[0], y - normal[1])))
    quads = [[left0, left1, right1, right0] for (left0, right0), (left1, right1) in zip(edges, edges[1:])]
    return discs, quads


def _supersampling(width, height):
    # Drawn finer and averaged down, the matte's edge falls where the browser's antialiased edge
    # crosses half coverage; 4x4 samples a pixel up to 2K frames, 2x2 beyond (memory).
    return 4 if width * height <= 2048 * 1152 else 2


def render_mask_png(snapshot, width, height):
    """PNG bytes (8-bit grey, width x height) of the snapshot's region."""
    check_mask_shape(snapshot["shape"])
    scale = _supersampling(width, height)
    image = Image.new("L", (width * scale, height * scale), 0)
    draw = ImageDraw.Draw(image)
    # A normalised point is a position on the picture, pixel edges included (1.0 is the far edge),
    # as in the browser's drawing layer.
    points = [(x * width * scale, y * height * scale, *rest) for x, y, *rest in snapshot["points"]]
    corners = [(x, y) for x, y, *_ in points]
    shape = snapshot["shape"]
    if shape == "polygon":
        draw.polygon(corners, fill=255)
    elif shape in ("rectangle", "ellipse"):
        (x0, y0), (x1, y1) = corners
        box = [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]
        (draw.rectangle if shape == "rectangle" else draw.ellipse)(box, fill=255)
    else:
        # PIL also fills the samples an edge touches: half a sample more on each side than the shape.
        discs, quads = stroke_pieces(points, snapshot["width"] * height * scale - 1)
        for x, y, radius in discs:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
        for quad in quads:
            draw.polygon(quad, fill=255)
    image = image.resize((width, height), Image.Resampling.BOX).point(lambda level: 255 if level >= 128 else 0)
    if image.getbbox() is None:
        raise ValidationError({"mask_annotation": "The drawn region covers no pixels: draw a larger region."})
    if image.getextrema() == (255, 255):
        raise ValidationError({"mask_annotation": "The drawn region covers the whole frame: nothing would be left "
                                                  "to take the fix from."})
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
