"""Choosing where torch runs, what CUDA needs to give the same groups twice, and telling a card that ran out of
memory."""

import os

import pytest
import torch

from photo_grouper import device
from photo_grouper.device import CUBLAS_DETERMINISTIC, DeviceError, choose_device, cuda_problem, gpu_ran_out


def test_cpu_unless_a_gpu_is_seen_or_named(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device().type == "cpu" and choose_device("cpu").type == "cpu"
    with pytest.raises(DeviceError, match="CUDA was asked for, but torch sees no CUDA GPU"):
        choose_device("cuda")
    with pytest.raises(DeviceError, match="unknown device 'gpu': use cpu, or cuda where there is a GPU"):
        choose_device("gpu")


def test_a_gpu_torch_sees_but_cannot_run_work_on_is_left_for_the_cpu(monkeypatch):
    """torch.cuda.is_available() says yes to a card older than the build's kernels (a GTX 1080 with torch's CUDA 13
    build), whose every kernel then fails. Here, without a GPU, torch is told it has one and the trial fails for
    real (no driver, or no CUDA in the build)."""
    if torch.cuda.is_available():
        pytest.skip("this machine's GPU works: the check is of one that does not")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cuda_problem().startswith("torch cannot run work on its GPU here (")
    assert choose_device().type == "cpu"
    with pytest.raises(DeviceError, match=r"CUDA was asked for, but torch cannot run work on its GPU here \("):
        choose_device("cuda")


def test_choosing_cuda_fixes_the_cublas_workspace_for_determinism(monkeypatch):
    # Checked without a card: only the choice and the setting, which must come before cuBLAS's first use.
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    choose_device()
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ  # the CPU needs nothing
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(device, "cuda_problem", lambda on="cuda": None)  # a card that works
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
