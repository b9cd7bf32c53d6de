"""Where torch work runs: CUDA when torch sees a GPU, else the CPU; a user may name one. Shared by the encoders
and the clustering core, and light to import (the clustering core needs no photo, database or Qt package)."""

from __future__ import annotations

import os
import re

# cuBLAS gives the same result twice only with a fixed workspace, read when its first handle is made (so before
# any matrix product on the card): without it, deterministic mode (lander.deterministic) only warns on CUDA and
# two groupings of one library could differ (PyTorch's notes on reproducibility).
CUBLAS_DETERMINISTIC = ":4096:8"

# How running out of GPU memory reaches torch's caller: its caching allocator's OutOfMemoryError ("CUDA out of
# memory. Tried to allocate ..."), or, where memory runs out outside that allocator (a card another program
# holds), a CUDA error: cudaMalloc's "out of memory", or a library's handle or workspace that could not be made
# ("CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`", on a process's first matrix product).
_OUT_OF_GPU_MEMORY = re.compile(r"CUDA out of memory|CUDA error: out of memory|CU[A-Z]+_STATUS_ALLOC_FAILED")


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


def gpu_ran_out(exc: BaseException) -> bool:
    """Whether ``exc`` is torch running out of GPU memory, after which the card's cache is let go (for the work
    to be done on the CPU instead)."""
    import torch

    if not isinstance(exc, torch.OutOfMemoryError) and not _OUT_OF_GPU_MEMORY.search(str(exc)):
        return False
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return True
