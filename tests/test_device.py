"""Choosing where torch runs, and what CUDA needs to give the same groups twice."""

import os

import pytest
import torch

from photo_grouper.device import CUBLAS_DETERMINISTIC, choose_device


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
