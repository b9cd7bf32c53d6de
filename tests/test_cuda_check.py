"""tests/cuda_check.sh, the checks a GPU machine runs, kept runnable: its steps on the CPU, at small sizes."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "cuda_check.sh"


def test_the_cuda_check_runs_its_steps_on_the_cpu(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DEVICE": "cpu", "SIZES": "2000", "OUT": str(tmp_path)}
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600)
    log = (tmp_path / "cuda-check.log").read_text()
    assert done.returncode == 0, log[-3000:]
    assert "passed" in log and "skipped" in log  # the CUDA tests themselves skip without a GPU
    assert "2000 embeddings" in log and "progress reported" in log and log.rstrip().endswith("== exit 0")
