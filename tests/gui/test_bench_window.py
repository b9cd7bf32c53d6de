"""The window scale benchmark groups a synthetic library and times the real window on it (in a process of its own:
it sets the application's name and settings path for itself)."""

import os
import subprocess
import sys


def test_window_scale_prints_seconds_per_step(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "photo_grouper.bench.window_scale", "--faces", "400"], env=env,
                         capture_output=True, text=True, timeout=600, check=True).stdout.splitlines()
    assert out[0].startswith("400 faces grouped in ")
    steps = [line.strip() for line in out[2:]]
    assert [s.split(":")[0] for s in steps] == [
        "open the library", "zoom in to the finest level", "zoom out to where the grouping stopped",
        "name the selected group", "undo it", "list the groups of one face too"]
    seconds = [float(s.split(": ")[1].split(" s,")[0]) for s in steps]
    rows = [int(s.split(" s, ")[1].split(" rows")[0]) for s in steps]
    assert all(t >= 0 for t in seconds) and all(r > 0 for r in rows)
    assert rows[0] == rows[2] == rows[4]  # zooming back and undoing show the same tree again
