"""The 3D LUT: trilinear lookup in the (channel, blue, green, red) layout and a .cube file that
Resolve and Nuke read."""
import torch

from inference.colour import apply_lut, identity_lut, interpolation_matrix, read_cube, write_cube


def test_the_identity_table_changes_nothing():
    rgb = torch.rand(1000, 3)
    assert torch.allclose(apply_lut(identity_lut(17), rgb), rgb, atol=1e-6)


def test_the_layout_puts_red_on_the_fastest_axis():
    lut = identity_lut(5)
    lut[0] = lut[0] ** 2  # square the red channel only
    out = apply_lut(lut, torch.tensor([[0.5, 0.25, 0.75]]))
    assert torch.allclose(out, torch.tensor([[0.25 + 0.0625 / 4 * 0, 0.25, 0.75]]), atol=0.02)
    assert abs(float(out[0, 0]) - 0.25) < 0.02 and abs(float(out[0, 1]) - 0.25) < 1e-6


def test_the_sparse_lookup_used_for_fitting_matches_grid_sample():
    lut = torch.rand(3, 9, 9, 9)
    rgb = torch.rand(500, 3)
    sparse = interpolation_matrix(rgb, 9)(lut.reshape(3, -1).T)
    assert torch.allclose(sparse, apply_lut(lut, rgb), atol=1e-5)


def test_a_cube_file_has_the_header_and_red_varying_fastest(tmp_path):
    lut = identity_lut(3)
    path = write_cube(tmp_path / "match.cube", lut)
    lines = (tmp_path / "match.cube").read_text().splitlines()
    assert "LUT_3D_SIZE 3" in lines
    rows = [line for line in lines if line[0].isdigit()]
    assert len(rows) == 27
    assert rows[0] == "0.000000 0.000000 0.000000"
    assert rows[1] == "0.500000 0.000000 0.000000"  # red moves first
    assert rows[3] == "0.000000 0.500000 0.000000"  # then green
    assert rows[9] == "0.000000 0.000000 0.500000"  # then blue
    assert torch.allclose(read_cube(path), lut, atol=1e-6)
