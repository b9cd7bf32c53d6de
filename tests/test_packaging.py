"""A wheel carries the trained weights: resources/ installs as the package photo_grouper.resources."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package():
    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    in_tree = find_packages(str(REPO), include=["photo_grouper*"])
    assert sorted(listed) == sorted(in_tree + ["photo_grouper.resources"])


def test_wheel_carries_and_loads_the_weights(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("photo_grouper-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    for mode in ("faces", "species"):
        assert f"photo_grouper/resources/hilander-{mode}.pt" in names
        assert f"photo_grouper/resources/hilander-{mode}.json" in names
    assert "photo_grouper/resources/photo-grouper.desktop" in names

    # Imported from the unpacked wheel (first on the path), the weights are found and load there.
    probe = ("from photo_grouper.clustering.weights import default_weights, load_weights\n"
             "p = default_weights('faces'); model, card = load_weights(p); print(p); print(card['tau'])")
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert Path(out[0]).is_relative_to(tmp_path / "site")
    assert 0.0 < float(out[1]) < 1.0
