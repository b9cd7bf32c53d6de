"""Where torch work runs: CUDA where torch's GPU can do it, else the CPU; a user may name one. Shared by the encoders
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


class DeviceError(RuntimeError):
    """A device was asked for that torch cannot use here."""


def choose_device(name: str | None = None):
    """The torch device named, or where none is, CUDA where torch's GPU can do the work, else the CPU."""
    import torch

    if name:
        try:
            device = torch.device(name)
        except RuntimeError as exc:
            raise DeviceError(f"unknown device {name!r}: use cpu, or cuda where there is a GPU") from exc
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise DeviceError("CUDA was asked for, but torch sees no CUDA GPU")
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_DETERMINISTIC)
            problem = cuda_problem(device)
            if problem:
                raise DeviceError(f"CUDA was asked for, but {problem}")
    elif torch.cuda.is_available():
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_DETERMINISTIC)
        device = torch.device("cuda" if cuda_problem() is None else "cpu")
    else:
        device = torch.device("cpu")
    return device


def cuda_problem(device="cuda") -> str | None:
    """Why torch cannot do work on the GPU ``device``, found by trying a little (a matrix product), or None where
    it can. torch.cuda.is_available() says yes to a card whose kernels this torch build does not hold (its CUDA
    13 builds start at Turing, sm_75: a GTX 1080 is seen, then every kernel on it fails), and to a card another
    program has filled. The trial's product makes cuBLAS's first handle, which reads the workspace setting:
    choose_device fixes it before calling this."""
    import torch

    try:
        a = torch.ones(2, 2, device=device)
        (a @ a).sum().item()
    except Exception as exc:  # whatever it is, the work cannot be done there in this run
        said = str(exc).strip().splitlines()
        return f"torch cannot run work on its GPU here ({said[0] if said else type(exc).__name__})"
    return None


def gpu_ran_out(exc: BaseException) -> bool:
    """Whether ``exc`` is torch running out of GPU memory, after which the card's cache is let go (for the work
    to be done on the CPU instead)."""
    import torch

    if not isinstance(exc, torch.OutOfMemoryError) and not _OUT_OF_GPU_MEMORY.search(str(exc)):
        return False
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return True
