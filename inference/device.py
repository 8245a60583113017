"""Device, precision, threads and seeding: one place, so every fix behaves the same way."""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

_configured_threads: int | None = None


def configure_threads(threads: int | None = None) -> int:
    """Half the machine's cores, at most 8, or INFERENCE_THREADS when set. CPU workers share
    machines: OpenMP threads that spin while another process holds the core make small tensor
    operations tens of times slower, and these fits are made of small operations. The count is
    fixed rather than read from the load, so the same seed gives the same floats."""
    global _configured_threads
    if threads is None:
        threads = int(os.environ.get("INFERENCE_THREADS", "0")) or max(1, min((os.cpu_count() or 2) // 2, 8))
    if threads != _configured_threads:
        torch.set_num_threads(threads)
        import cv2

        cv2.setNumThreads(threads)
        _configured_threads = threads
    return threads


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def autocast(device: torch.device):
    """Mixed precision for the convolutional models on CUDA (bf16 where the card has it):
    they are memory-bound and bf16 halves the traffic. CPU stays float32, where autocast
    is slower than plain float32 for these small networks."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def seed_everything(seed: int) -> np.random.Generator:
    """Same seed, same result: seeds torch, numpy's legacy state, random and OpenCV, and
    returns a Generator for the caller's own draws."""
    import cv2

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    cv2.setRNGSeed(seed % 2**31)
    return np.random.default_rng(seed)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} threads)"


def warm_cosine(optimiser, steps: int):
    """Learning rate: a linear warm-up over the first tenth, then a cosine down to zero.
    Short fits (a handful of steps in tests) work too."""
    import math

    warm = max(1, steps // 10)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, steps - warm))))

    return torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
