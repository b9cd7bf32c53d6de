"""Benchmark: indexing in faces mode against the obvious script a user would write with `face_recognition`.

    python -m photo_grouper.bench.index FOLDER [--large 12] [--limit 24] [--workers N]

Both sides run on the same photos in the same run, each in its own process so that peak memory is its own:
photo-grouper as `photo-grouper index` (all cores), the baseline as a loop of `load_image_file`,
`face_locations`, `face_encodings` (the same dlib models). With ``--large MP`` the photos are first upscaled to
about MP megapixels (JPEG, quality 92), the size of a phone or camera photo. Prints photos/s, faces found and peak
resident memory for each, and the speed ratio.

The baseline needs `pip install --no-deps face_recognition==1.3.0` (its declared dependencies would rebuild dlib
from source). face_recognition_models finds its files through `pkg_resources`, which setuptools >= 81 no longer
ships; the baseline then gets a one-function stand-in (`resource_filename`), which changes no timing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

from ..jobs import default_workers
from ..media import is_image_path

BASELINE = r"""
import json, os, sys, time, types
try:
    import pkg_resources  # noqa: F401
except ImportError:
    shim = types.ModuleType("pkg_resources")
    def resource_filename(package, name):
        import importlib.util
        return os.path.join(next(iter(importlib.util.find_spec(package).submodule_search_locations)), name)
    shim.resource_filename = resource_filename
    sys.modules["pkg_resources"] = shim
import face_recognition
paths = json.loads(sys.stdin.read())
start = time.perf_counter()
faces = 0
for path in paths:
    image = face_recognition.load_image_file(path)
    locations = face_recognition.face_locations(image)
    faces += len(face_recognition.face_encodings(image, locations))
print(json.dumps({"seconds": time.perf_counter() - start, "faces": faces}))
"""


def _tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def run_measured(cmd: list[str], stdin: str | None = None) -> tuple[subprocess.CompletedProcess, float, int]:
    """Run a command; return its result, wall seconds and peak resident memory of its process tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_bytes(proc.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate(stdin)
    stop.set()
    sampler.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), time.perf_counter() - start, peak


def make_photos(folder: Path, limit: int, large_mp: float, out: Path) -> list[Path]:
    sources = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))[:limit]
    if not sources:
        raise SystemExit(f"no photos in {folder}")
    photos = []
    for i, src in enumerate(sources):
        dst = out / f"{i:04d}{src.suffix.lower()}"
        with Image.open(src) as im:
            im = im.convert("RGB")
            if large_mp:
                scale = math.sqrt(large_mp * 1e6 / (im.width * im.height))
                im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BICUBIC)
                dst = dst.with_suffix(".jpg")
            im.save(dst, "JPEG", quality=92)
        photos.append(dst)
    return photos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m photo_grouper.bench.index", description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--large", type=float, default=12, help="upscale to this many megapixels (0: as they are)")
    parser.add_argument("--limit", type=int, default=24, help="number of photos")
    parser.add_argument("--workers", type=int, default=0, help="photo-grouper workers (default: all cores)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    workers = args.workers or default_workers()

    with tempfile.TemporaryDirectory(prefix="pg-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "photos").mkdir()
        photos = make_photos(args.folder, args.limit, args.large, tmp / "photos")
        mp = sum(Image.open(p).width * Image.open(p).height for p in photos) / len(photos) / 1e6
        print(f"{len(photos)} photos, {mp:.1f} MP on average, {workers} workers, {os.cpu_count()} cores")

        ours, ours_s, ours_peak = run_measured(
            [sys.executable, "-m", "photo_grouper", "index", str(tmp / "photos"), "--library",
             str(tmp / "lib.sqlite3"), "--workers", str(workers), "--json", "--quiet"])
        if ours.returncode != 0:
            print(ours.stderr, file=sys.stderr)
            return 1
        report = json.loads(ours.stdout)
        ours_faces = report["analyse"]["found"]

        base, base_s, base_peak = run_measured([sys.executable, "-c", BASELINE],
                                               json.dumps([str(p) for p in photos]))
        if base.returncode != 0:
            print(base.stderr.strip().splitlines()[-1] if base.stderr.strip() else "baseline failed",
                  file=sys.stderr)
            print("install the baseline with: pip install --no-deps face_recognition==1.3.0", file=sys.stderr)
            return 1
        baseline = json.loads(base.stdout)

    n = len(photos)
    rows = [
        ("photo-grouper index", n / ours_s, ours_faces, ours_peak, ours_s),
        ("face_recognition loop", n / base_s, baseline["faces"], base_peak, base_s),
    ]
    print(f"{'method':<24}{'photos/s':>10}{'faces':>8}{'peak MB':>10}{'seconds':>10}")
    for name, rate, faces, peak, secs in rows:
        print(f"{name:<24}{rate:>10.2f}{faces:>8}{peak / 2**20:>10.0f}{secs:>10.1f}")
    ratio = (n / ours_s) / (n / base_s)
    print(f"speed ratio: {ratio:.1f}x (target >= 3x); faces: {ours_faces} vs {baseline['faces']}")
    if args.json:
        args.json.write_text(json.dumps({
            "photos": n, "megapixels": mp, "workers": workers, "ratio": ratio,
            "rows": [dict(zip(["method", "photos_per_s", "faces", "peak_bytes", "seconds"], r)) for r in rows],
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
