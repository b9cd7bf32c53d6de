"""Does a group of 10,000 faces scroll smoothly? Times the thumbnail grid on real photos:

    python -m photo_grouper.gui.bench_grid ../shared/data/faces-celeba [--faces 10000]

Builds a grid of N faces (the folder's photos, each used with several boxes so every face needs a thumbnail of its
own), then scrolls it a page at a time from top to bottom, repainting after each step as the screen would. Prints
the time to load the group into the model, each repaint (median and worst: the event loop is blocked that long),
how many thumbnails were asked for (the first screen's on loading: lazy), and how fast the pool made them. Runs
offscreen when there is no display; the thumbnail cache is a temporary folder, so every thumbnail is made fresh.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def members_for(photos: list[Path], n: int):
    from ..media.images import content_hash, read_info
    from ..organize.view import Member

    facts = []
    for path in photos:
        info = read_info(path)
        facts.append((path, content_hash(path), (info.width, info.height)))
    out = []
    for i in range(n):
        path, digest, size = facts[i % len(facts)]
        shift = (i // len(facts)) * 0.01  # another box on the same photo: another thumbnail
        out.append(Member(i, str(path), (0.2 + shift, 0.25, 0.5, 0.45), "auto", None, digest, size))
    return out


def measure(photo_folder: Path, faces: int, size: int = 112) -> dict:
    from PySide6.QtWidgets import QApplication

    from ..media.images import is_image_path
    from ..media.thumbnails import ThumbnailCache
    from .face_grid import FaceGrid, FaceListModel, ThumbnailLoader

    photos = sorted(p for p in photo_folder.rglob("*") if p.is_file() and is_image_path(p))[:500]
    members = members_for(photos, faces)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        loader = ThumbnailLoader(ThumbnailCache(Path(tmp)))
        model = FaceListModel(loader)
        grid = FaceGrid(model, size)
        grid.resize(1200, 800)
        grid.show()
        app.processEvents()

        start = time.perf_counter()
        model.set_members("g1", members)
        grid.doItemsLayout()
        grid.viewport().repaint()
        load_s = time.perf_counter() - start
        asked_at_load = loader.requested
        # The rest is laid out in batches while the event loop runs (the first screen shows at once).
        bar = grid.verticalScrollBar()
        stable, last = 0, -1
        while stable < 20:
            app.processEvents()
            time.sleep(0.002)
            stable = stable + 1 if bar.maximum() == last else 0
            last = bar.maximum()
        layout_s = time.perf_counter() - start

        frames, events = [], []
        scroll_start = time.perf_counter()
        value = 0
        while True:
            value = min(value + bar.pageStep(), bar.maximum())
            t = time.perf_counter()
            bar.setValue(value)
            grid.viewport().repaint()
            t_paint = time.perf_counter()
            app.processEvents()  # thumbnails that arrived meanwhile, as the running app would take them
            frames.append(t_paint - t)
            events.append(time.perf_counter() - t_paint)
            if value >= bar.maximum():
                break
        scroll_s = time.perf_counter() - scroll_start
        made_before = loader.requested
        wait_start = time.perf_counter()
        while loader.is_loading() and time.perf_counter() - wait_start < 120:
            app.processEvents()
            time.sleep(0.005)
        drain_s = time.perf_counter() - wait_start
        made = loader.requested
        loader.shutdown()

    ms = [f * 1000 for f in frames]
    ev = [f * 1000 for f in events]
    return {"faces": len(members), "photos": len(photos), "size": size, "threads": loader.background.threads,
            "load_ms": load_s * 1000, "layout_ms": layout_s * 1000, "asked_at_load": asked_at_load, "pages": len(frames), "scroll_s": scroll_s,
            "repaint_median_ms": statistics.median(ms), "repaint_worst_ms": max(ms),
            "events_median_ms": statistics.median(ev), "events_worst_ms": max(ev),
            "asked_during_scroll": made_before, "asked": made, "drain_s": drain_s,
            "per_second": made / max(scroll_s + drain_s, 1e-9)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m photo_grouper.gui.bench_grid", description=__doc__.split("\n")[0])
    parser.add_argument("photos", type=Path, help="a folder of photos (searched recursively)")
    parser.add_argument("--faces", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=112, help="thumbnail side in the grid")
    args = parser.parse_args(argv)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    r = measure(args.photos, args.faces, args.size)
    print(f"{r['faces']} faces from {r['photos']} photos, {r['size']}px thumbnails, grid 1200x800, "
          f"{r['threads']} pool threads")
    print(f"load the group into the model and show the first screen: {r['load_ms']:.0f} ms, asking "
          f"{r['asked_at_load']} thumbnails; the whole group laid out after {r['layout_ms']:.0f} ms")
    print(f"scroll top to bottom, {r['pages']} pages in {r['scroll_s']:.1f} s: repaint median "
          f"{r['repaint_median_ms']:.1f} ms, worst {r['repaint_worst_ms']:.1f} ms; taking in the thumbnails that "
          f"arrived meanwhile: median {r['events_median_ms']:.1f} ms, worst {r['events_worst_ms']:.1f} ms")
    print(f"thumbnails asked for: {r['asked_during_scroll']} by the end of the scroll, {r['asked']} in all, of "
          f"{r['faces']} faces")
    print(f"the pool made them at {r['per_second']:.0f} per second ({r['drain_s']:.1f} s after the scroll ended)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
