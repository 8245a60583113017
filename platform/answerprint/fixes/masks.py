"""A drawn annotation as a matte the model can use: white where the fix applies.

Annotation geometry is normalised (x, y in 0..1 from the top-left; stroke width a fraction of the
frame height), so the matte is drawn at the source's own resolution whatever size the drawing
was made at. The region applies to every frame of the request's range: a garbage matte, which
the removal model grows and tracks itself.
"""
import io

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


def render_mask_png(snapshot, width, height):
    """PNG bytes (8-bit grey, width x height) of the snapshot's region."""
    check_mask_shape(snapshot["shape"])
    image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(image)
    points = [(x * (width - 1), y * (height - 1)) for x, y, *_ in snapshot["points"]]
    shape = snapshot["shape"]
    if shape == "polygon":
        draw.polygon(points, fill=255, outline=255)
    elif shape in ("rectangle", "ellipse"):
        (x0, y0), (x1, y1) = points
        box = [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]
        (draw.rectangle if shape == "rectangle" else draw.ellipse)(box, fill=255, outline=255)
    else:  # a brush stroke: each segment as wide as the brush at that point's pressure
        base = max(1.0, snapshot["width"] * height)
        pressures = [p[2] if len(p) > 2 else 1.0 for p in snapshot["points"]]
        for index, (x, y) in enumerate(points):
            radius = max(0.5, base * max(pressures[index], 0.05) / 2)
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
            if index:
                draw.line([points[index - 1], (x, y)], fill=255, width=max(1, round(2 * radius)))
    if image.getbbox() is None:
        raise ValidationError({"mask_annotation": "The drawn region covers no pixels: draw a larger region."})
    if image.getextrema() == (255, 255):
        raise ValidationError({"mask_annotation": "The drawn region covers the whole frame: nothing would be left "
                                                  "to take the fix from."})
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
