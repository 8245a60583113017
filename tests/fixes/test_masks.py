"""The matte the model is given is the region the person painted, as the browser drew it."""
import io

import numpy as np
from PIL import Image

from answerprint.fixes.masks import render_mask_png


def _matte(snapshot, width=640, height=360):
    return np.asarray(Image.open(io.BytesIO(render_mask_png(snapshot, width, height)))) > 127


def test_a_mouse_brush_stroke_is_as_wide_as_the_brush():
    # given a horizontal mouse stroke (pressure 0.5) with a brush 0.05 of the frame height wide
    stroke = {"shape": "stroke", "width": 0.05, "points": [[0.2 + 0.01 * i, 0.5, 0.5] for i in range(41)]}

    # when the server renders it at 640x360
    matte = _matte(stroke)

    # then it is 18 pixels tall in its middle, as the browser draws it (size/2 at pressure 0.5)
    assert matte[:, 320].sum() == 18


def test_pen_pressure_widens_the_stroke_as_in_the_browser():
    light = {"shape": "stroke", "width": 0.05, "points": [[0.2 + 0.01 * i, 0.5, 0.2] for i in range(41)]}
    heavy = {**light, "points": [[x, y, 1.0] for x, y, _ in light["points"]]}
    # radius = size/2 * (0.35 + 1.3 p): 0.61 of the brush at p=0.2, 1.65 at p=1
    assert abs(_matte(light)[:, 320].sum() - 0.61 * 18) <= 1.5
    assert abs(_matte(heavy)[:, 320].sum() - 1.65 * 18) <= 1.5


def test_a_rectangle_covers_exactly_its_pixels():
    matte = _matte({"shape": "rectangle", "width": 0.004, "points": [[0.25, 0.0, 1.0], [0.75, 0.5, 1.0]]})
    assert matte.sum() == 320 * 180 and matte[0:180, 160:480].all()
