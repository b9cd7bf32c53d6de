"""Where torch work runs: CUDA when torch sees a GPU, else the CPU; a user may name one."""

from __future__ import annotations


def choose_device(name: str | None = None):
    import torch

    if name:
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA was asked for, but torch sees no CUDA GPU")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
