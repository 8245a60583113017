"""The editor's ASC CDL as the starting point of a colour match."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from inference.colour import ColourParams, apply_cdl, apply_lut, fit, identity_lut, start_lut
from inference.errors import ParameterError
from inference.qc import delta_e_pairs

CDL = {"slope": [1.1, 0.95, 0.9], "offset": [0.02, 0.0, -0.01], "power": [0.9, 1.0, 1.1], "saturation": 0.85}


def _shot(seed: int = 0) -> torch.Tensor:
    # smooth gradients plus texture, so the colours spread over the whole cube as real footage does
    generator = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, 36), torch.linspace(0, 1, 48), indexing="ij")
    base = torch.stack([x, y, (x + y) / 2], -1)
    return (0.8 * base + 0.2 * torch.rand(3, 36, 48, 3, generator=generator)).clamp(0, 1)


def test_the_cdl_table_is_the_asc_cdl_and_without_one_the_start_is_identity():
    # given a few colours and the editor's CDL
    rgb = torch.rand(500, 3)
    # when the starting tables are built with and without it
    with_cdl, without = start_lut(CDL, 33), start_lut(None, 33)
    # then with it the table grades as the CDL does, and without it nothing changes
    assert delta_e_pairs(apply_lut(with_cdl, rgb), apply_cdl(CDL, rgb)) < 0.5
    assert torch.equal(without, identity_lut(33))


def test_a_match_started_from_the_cdl_reproduces_that_grade_when_the_reference_carries_it():
    # given a shot and a reference that is the same shot with the editor's CDL applied
    frames = _shot()
    reference = apply_cdl(CDL, frames)
    params = ColourParams.from_dict({"mode": "statistics", "start_cdl": CDL})
    # when the colour match starts from that CDL
    model = fit(SimpleNamespace(frames=frames), params, reference=reference, rng=np.random.default_rng(0))
    # then the fitted table gives the reference back closely and says where it started
    assert delta_e_pairs(apply_lut(model.lut, frames.reshape(-1, 3)), reference.reshape(-1, 3)) < 1.0
    assert model.info["started_from"] == "the editor's CDL"
    assert params.as_dict()["start_cdl"] == CDL  # so the model card records it as used


def test_without_a_cdl_the_match_starts_from_the_untouched_shot():
    # given the same shot and graded reference, and no CDL
    frames = _shot()
    params = ColourParams.from_dict({"mode": "statistics"})
    # when it is matched
    model = fit(SimpleNamespace(frames=frames), params, reference=apply_cdl(CDL, frames), rng=np.random.default_rng(0))
    # then nothing says it started from a CDL, and the parameter is recorded as absent
    assert "started_from" not in model.info
    assert params.start_cdl is None


@pytest.mark.parametrize("cdl", [
    "1.1 0.9 0.9",
    {"slope": [1, 1], "offset": [0, 0, 0], "power": [1, 1, 1]},
    {"slope": [1, 1, 1], "offset": [0, 0, "a"], "power": [1, 1, 1]},
    {"slope": [1, 1, 1], "offset": [0, 0, 0], "power": [1, 0, 1]},
    {"slope": [-1, 1, 1], "offset": [0, 0, 0], "power": [1, 1, 1]},
    {"slope": [1, 1, 1], "offset": [0, 0, 0], "power": [1, 1, 1], "saturation": float("nan")},
    {"slope": [1, 1, 1], "offset": [0, 0, 0], "power": [1, 1, 1], "gamma": 2.2},
])
def test_a_malformed_cdl_is_refused_with_a_clear_error(cdl):
    # given a CDL that is not three finite numbers per channel and a saturation
    # when it is passed as the starting point / then it is refused naming start_cdl
    with pytest.raises(ParameterError, match="start_cdl"):
        ColourParams.from_dict({"start_cdl": cdl})
