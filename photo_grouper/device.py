"""Where torch work runs: CUDA when torch sees a GPU, else the CPU; a user may name one. Shared by the encoders
and the clustering core, and light to import (the clustering core needs no photo, database or Qt package)."""

from __future__ import annotations

import os

# cuBLAS gives the same result twice only with a fixed workspace, read when its first handle is made (so before
# any matrix product on the card): without it, deterministic mode (lander.deterministic) only warns on CUDA and
# two groupings of one library could differ (PyTorch's notes on reproducibility).
CUBLAS_DETERMINISTIC = ":4096:8"


def choose_device(name: str | None = None):
    import torch

    if name:
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA was asked for, but torch sees no CUDA GPU")
    else:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_DETERMINISTIC)
    return device
