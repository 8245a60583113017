import math

import torch

from inference import metrics


def test_psnr_and_ssim_of_a_perfect_output_and_of_a_noisy_one():
    truth = torch.linspace(0.2, 0.8, 32)[None, :, None, None].expand(2, 32, 32, 3).contiguous()
    noisy = (truth + 0.05 * torch.randn_like(truth)).clamp(0, 1)
    assert metrics.psnr(truth, truth) == 99.0 and abs(metrics.ssim(truth, truth) - 1) < 1e-5
    assert 20 < metrics.psnr(noisy, truth) < 30 and metrics.ssim(noisy, truth) < 0.9


def test_psnr_inside_a_mask_only_counts_the_mask():
    truth = torch.zeros(1, 8, 8, 3)
    output = truth.clone()
    output[0, :4] = 0.1
    mask = torch.zeros(1, 8, 8, dtype=torch.bool)
    mask[0, 4:] = True
    assert metrics.psnr(output, truth, mask) == 99.0
    assert abs(metrics.psnr(output, truth, ~mask) - 20.0) < 1e-4


def test_delta_e_is_zero_for_the_same_colours_and_about_two_for_a_small_shift():
    truth = torch.rand(1, 16, 16, 3) * 0.8 + 0.1
    assert metrics.delta_e(truth, truth) < 1e-6
    assert 0.5 < metrics.delta_e((truth + 0.02).clamp(0, 1), truth) < 4


def test_flicker_index_sees_jitter_but_not_a_slow_fade():
    base = torch.rand(1, 48, 64, 3).expand(12, -1, -1, -1) * 0.6 + 0.2
    fade = base * torch.linspace(0.8, 1.1, 12)[:, None, None, None]
    jitter = base * (1 + 0.05 * torch.tensor([1, -1] * 6, dtype=torch.float32))[:, None, None, None]
    assert metrics.flicker_index(fade) < 0.1 * metrics.flicker_index(jitter)


def test_alpha_sad_is_in_thousands_of_pixels():
    alpha = torch.zeros(2, 50, 40)
    truth = torch.ones(2, 50, 40)
    assert math.isclose(metrics.alpha_sad(alpha, truth), 2.0) and metrics.alpha_mse(alpha, truth) == 1.0
