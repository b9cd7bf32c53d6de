"""Layering rules from DESIGN.md that are cheap to break by accident."""

import pkgutil
import subprocess
import sys

import photo_grouper


def _core_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(photo_grouper.__path__, "photo_grouper.")]
    return [n for n in names if not n.startswith("photo_grouper.gui") and not n.endswith("__main__")]


def test_core_imports_no_qt():
    modules = _core_modules()
    assert "photo_grouper.jobs" in modules and "photo_grouper.vision.faces" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6'))\n"
        "print(','.join(qt))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"Qt imported outside photo_grouper.gui: {result.stdout}"


def test_store_imports_no_torch():
    code = "import sys, photo_grouper.store, photo_grouper.media; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_corrections_and_listings_import_no_torch():
    """`groups`, `people`, `group name` and the like read and write the library only: importing torch (and PyG)
    for them made each command take 5 s longer and 0.75 GB more (2026-12-03: `groups` on a library of 100,000
    faces 5.5 s -> 1.3 s)."""
    code = ("import sys, photo_grouper.organize, photo_grouper.organize.export, photo_grouper.cli_organize\n"
            "print(sorted({'torch', 'torch_geometric', 'photo_grouper.grouping'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_clustering_core_imports_no_database_photos_or_qt():
    # The clustering core runs where only torch, PyG, numpy and scipy are (tests/cuda_check.sh on a GPU machine).
    code = ("import sys, photo_grouper.clustering.hilander, photo_grouper.clustering.training, "
            "photo_grouper.bench.scale\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'PIL', 'PySide6', 'dlib', "
            "'hnswlib'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
