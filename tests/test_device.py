"""Choosing where torch runs, what CUDA needs to give the same groups twice, and telling a card that ran out of
memory."""

import os

import pytest
import torch

from photo_grouper.device import CUBLAS_DETERMINISTIC, choose_device, gpu_ran_out


def test_cpu_unless_a_gpu_is_seen_or_named(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device().type == "cpu" and choose_device("cpu").type == "cpu"
    with pytest.raises(RuntimeError, match="CUDA was asked for"):
        choose_device("cuda")


def test_choosing_cuda_fixes_the_cublas_workspace_for_determinism(monkeypatch):
    # Checked without a card: only the choice and the setting, which must come before cuBLAS's first use.
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    choose_device()
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ  # the CPU needs nothing
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert choose_device().type == "cuda" and choose_device("cuda:0").type == "cuda"
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_DETERMINISTIC
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # a user's own setting is kept
    choose_device()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


@pytest.mark.parametrize("exc, ran_out", [
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)"),
     True),
    # Memory that ran out outside torch's caching allocator, as a card another program holds gives it.
    (torch.AcceleratorError("CUDA error: out of memory"), True),
    (RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"), True),
    (RuntimeError("CUDA error: an illegal memory access was encountered"), False),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: can't allocate memory"), False),
    (RuntimeError("something else"), False),
])
def test_running_out_of_gpu_memory_is_told_from_other_errors(exc, ran_out):
    assert gpu_ran_out(exc) is ran_out


def test_a_real_out_of_memory_on_the_card_is_told_and_the_card_works_after():
    """The card filled (as another program would hold it): grouping on it runs out, and says so in a way
    gpu_ran_out knows (the index then groups on the CPU); once the memory is back, the card groups again."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine (CI has none); the device tool runs this check")
    from photo_grouper.bench.scale import synthetic_library
    from photo_grouper.clustering.hilander import HiLander
    from photo_grouper.clustering.metrics import evaluate

    x, _ = synthetic_library(20000)
    filler = []
    for mib in (256, 16, 1):  # until not a MiB is left
        try:
            while True:
                filler.append(torch.empty(mib << 20, dtype=torch.uint8, device="cuda"))
        except torch.OutOfMemoryError:
            pass
    try:
        with pytest.raises(RuntimeError) as raised:
            HiLander(device="cuda").fit(x)
        assert gpu_ran_out(raised.value), repr(raised.value)
    finally:
        filler.clear()
        torch.cuda.empty_cache()
    cpu, gpu = HiLander(device="cpu").fit(x), HiLander(device="cuda").fit(x)
    assert evaluate(cpu.labels_, gpu.labels_)["fp"] >= 0.99  # as test_hilander's CUDA check holds them
