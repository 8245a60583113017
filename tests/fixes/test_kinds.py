"""The platform checks parameters without importing the models (the web process never imports
torch); these tests hold its tables to the models' own parameter classes."""
import dataclasses
import importlib

import pytest

from answerprint.fixes.kinds import KINDS, Category

# kind -> the model's parameter class, "module:Class"
MODEL_PARAMS = {
    "object_removal": "inference.removal:RemovalParams",
    "colour_match": "inference.colour:ColourParams",
    "exposure": "inference.exposure:ExposureParams",
    "deflicker": "inference.exposure:ExposureParams",
    "background_replacement": "inference.matte:MatteParams",
}


@pytest.mark.parametrize("kind_name, target", sorted(MODEL_PARAMS.items()))
def test_every_parameter_the_platform_takes_is_one_the_model_knows_with_the_same_default(kind_name, target):
    module, name = target.split(":")
    fields = {f.name: f.default for f in dataclasses.fields(getattr(importlib.import_module(module), name))}
    kind = KINDS[kind_name]
    assert set(kind.params) <= set(fields), set(kind.params) - set(fields)
    assert {p: spec.default for p, spec in kind.params.items()} == {p: fields[p] for p in kind.params}


def test_every_model_the_platform_names_is_a_kind_the_inference_package_resolves():
    from inference.api import resolve_kind

    for kind in KINDS.values():
        if kind.available:
            assert resolve_kind(kind.model).value == kind.model


def test_every_kind_has_a_change_category_and_the_likeness_ones_have_no_model():
    assert {kind.category for kind in KINDS.values()} == {Category.TECHNICAL, Category.DIGITAL_ALTERATION,
                                                          Category.DIGITAL_REPLICA}
    for kind in KINDS.values():
        assert (kind.category == Category.TECHNICAL) == kind.available, kind.name


def test_the_web_side_of_fixes_never_imports_torch():
    import os
    import subprocess
    import sys

    from django.conf import settings

    code = ("import django, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'answerprint.settings'); "
            "django.setup(); import answerprint.fixes.api, answerprint.fixes.views, answerprint.fixes.services, "
            "answerprint.fixes.room; print('torch' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(settings.BASE_DIR / "platform"), str(settings.BASE_DIR)])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
