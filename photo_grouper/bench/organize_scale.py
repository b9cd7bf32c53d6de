"""How long the organize reads and writes that the window makes on every correction take on a big library:

    python -m photo_grouper.bench.organize_scale --faces 100000

Builds a library of FACES faces (one photo each) in a temporary folder with a two-level grouping (a fine group per
20 faces, a coarse one per 100), then times listing the groups, showing the largest, naming it, listing again and
showing another group (each is one call the window makes). Prints seconds per call.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from ..organize import Organizer
from ..store import Cluster, ClusterMember, ClusterRun, Library
from .library import insert_faces


def build(path: Path, n: int, seed: int = 0) -> Library:
    library = Library(path)
    rng = np.random.default_rng(seed)
    coarse, fine = max(1, n // 100), max(1, n // 20)
    with library.session() as s:
        insert_faces(s, n)
        s.add(ClusterRun(id=1, mode="faces", model="bench", weights="bench", tau=0.8, items=n, levels=2))
        s.flush()
        s.execute(insert(Cluster), [dict(id=c + 1, run_id=1, level=1, size=0, peak_detection_id=c + 1)
                                    for c in range(coarse)])
        s.execute(insert(Cluster), [dict(id=coarse + f + 1, run_id=1, level=0, size=0, parent_id=f % coarse + 1,
                                         peak_detection_id=f + 1) for f in range(fine)])
        of = rng.integers(0, fine, n)
        s.execute(insert(ClusterMember), [dict(detection_id=i + 1, run_id=1, cluster_id=coarse + int(of[i]) + 1)
                                          for i in range(n)])
    return library


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m photo_grouper.bench.organize_scale",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        library = build(Path(tmp) / "library.sqlite3", args.faces)
        org = Organizer(library, "faces")
        timings = []
        start = time.perf_counter()
        _, groups = org.groups()
        timings.append(("list the groups", time.perf_counter() - start))
        start = time.perf_counter()
        _, members = org.show(groups[0].ref)
        timings.append((f"show the largest group ({len(members)} faces)", time.perf_counter() - start))
        start = time.perf_counter()
        org.name(groups[0].ref, "Ada")
        timings.append(("name it", time.perf_counter() - start))
        start = time.perf_counter()
        _, groups = org.groups()
        timings.append(("list the groups again (read anew: the library changed)", time.perf_counter() - start))
        start = time.perf_counter()
        org.show(groups[-1].ref)
        timings.append(("show another group (the listing is reused)", time.perf_counter() - start))
        org.close()
        library.close()
    print(f"{args.faces} faces, {len(groups)} groups")
    for what, seconds in timings:
        print(f"{what}: {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
