"""Scale benchmark: Hi-LANDER on synthetic clustered embeddings with a realistic spread of group sizes.

    python -m photo_grouper.bench.scale --n 100000 [--dim 128] [--threads 2] [--copies 0.05] [--group-photos 0.3]
                                        [--zoom-out N] [--library]

Groups follow a Zipf-like law (a few people in thousands of photos, most in a handful, many alone), spread around
their centres about as much as dlib descriptors of one person are. Prints time per stage (kNN, graph features,
GNN, decode) for every level (the zoom-out levels the app makes past the stop too), total time, peak resident
memory, and the quality against the generating labels (of the default level).
With ``--library`` the embeddings are written into a temporary library instead and grouped as ``index`` groups
them (``grouping.cluster_library``: read the vectors, group, store every level in one transaction).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np


def synthetic_library(n: int, dim: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings with the geometry of dlib face descriptors measured on the shared CelebA photos: all share a
    strong common direction (identity centres at cosine ~0.87 to each other) and photos sit at cosine ~0.975
    from their identity's centre."""
    rng = np.random.default_rng(seed)
    sizes = []
    # Zipf-like sizes, the largest capped at 3% of the library (a family's most photographed person).
    cap = max(2, n * 3 // 100)
    while sum(sizes) < n:
        sizes.append(int(min(n - sum(sizes), cap, max(1, rng.zipf(1.8)))))
    sizes = np.array(sizes)

    def unit(a):
        return a / np.linalg.norm(a, axis=-1, keepdims=True)

    common = unit(rng.standard_normal(dim))
    centres = unit(0.933 * common + 0.36 * unit(rng.standard_normal((len(sizes), dim))))
    labels = np.repeat(np.arange(len(sizes)), sizes)
    scale = rng.uniform(0.15, 0.30, (n, 1))  # tan of the angle to the centre: cosine 0.96 to 0.99
    x = unit(centres[labels] + scale * unit(rng.standard_normal((n, dim))))
    # In a library's order one person's faces are spread through it, not one after another: listed by person,
    # hnswlib's search found its neighbours in memory already cached and ran 1.8 times faster than on the same
    # faces in a random order (200,000 faces, 2026-12-03).
    spread = rng.permutation(n)
    return x[spread].astype(np.float32), labels[spread]


def add_near_copies(x: np.ndarray, labels: np.ndarray, share: float, seed: int = 1
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``share`` of the items get 1 to 10 near copies each (a photo saved again: cosine about 0.998), appended."""
    rng = np.random.default_rng(seed)
    copied = rng.choice(len(x), int(share * len(x)), replace=False)
    source = np.repeat(copied, rng.integers(1, 11, copied.size))
    extra = x[source] + 0.006 * rng.standard_normal((source.size, x.shape[1])).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.concatenate([x, extra]), np.concatenate([labels, labels[source]])


def group_photos(labels: np.ndarray, share: float, seed: int = 2) -> np.ndarray:
    """A photo (0..) for each item: ``share`` of them, drawn at random, in photos of 2 to 4 (no group twice in a
    photo: a second face of one person goes to a photo of its own), the rest one a photo."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    chosen = rng.permutation(n)[:int(share * n)]
    sizes = rng.integers(2, 5, max(1, len(chosen) // 2))
    ends = np.cumsum(sizes)
    photo = np.arange(n) + n  # one a photo, numbered after the group photos
    photo[chosen] = np.searchsorted(ends, np.arange(len(chosen)), side="right")
    _, first = np.unique(np.stack([photo, labels]), axis=1, return_index=True)
    twice = np.setdiff1d(np.arange(n), first)
    photo[twice] = twice + n
    return np.unique(photo, return_inverse=True)[1]


REFERENCE_N = 20_000


def reference_seconds() -> float:
    """This machine's speed at the moment, so that runs on machines (or at moments) that differ can be compared: the
    seconds to build and query an hnswlib index of 20,000 synthetic faces with fixed settings (M 24,
    ef_construction 200, ef 192, the kNN's threads), the kind of work most of a million's time goes to. Fixed here,
    not the kNN's own settings, so that a change to those shows in the ratio."""
    import hnswlib

    from ..clustering.knn import usable_cpus

    x, _ = synthetic_library(REFERENCE_N, seed=7)
    start = time.perf_counter()
    index = hnswlib.Index(space="ip", dim=x.shape[1])
    index.init_index(max_elements=len(x), ef_construction=200, M=24, random_seed=100)
    index.set_num_threads(usable_cpus())
    index.add_items(x)
    index.set_ef(192)
    index.knn_query(x, k=11)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m photo_grouper.bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--weights", default=None, help="Hi-LANDER weights (default: the shipped faces weights)")
    parser.add_argument("--recall", type=int, default=0, metavar="QUERIES",
                        help="afterwards, recall@10 of the first level's kNN search on this many sampled items "
                             "against exact search")
    parser.add_argument("--copies", type=float, default=0.0, metavar="SHARE",
                        help="give this share of the photos 1 to 10 near copies each (saved again), on top of --n")
    parser.add_argument("--near-copy", type=float, default=None, metavar="COSINE",
                        help="cluster near copies once from this similarity (default: the faces setting; 0: off)")
    parser.add_argument("--tau-search", action="store_true",
                        help="choose tau per library (HiLander.tau_search; off by default) instead of the weights' tau")
    parser.add_argument("--group-photos", type=float, default=0.0, metavar="SHARE",
                        help="put this share of the faces in photos of 2 to 4 faces, drawn at random: the faces of "
                             "one photo are kept apart (HiLander.fit's apart, as `index` does)")
    parser.add_argument("--library", action="store_true",
                        help="write the embeddings into a temporary library (one photo and face each) and time "
                             "grouping it as `index` does, storing the hierarchy (128-d faces only)")
    parser.add_argument("--zoom-out", type=int, default=None, metavar="N",
                        help="zoom-out levels past the stop (default: as many as the app makes of faces)")
    parser.add_argument("--reference", action=argparse.BooleanOptionalAction, default=None,
                        help="time a fixed reference work before and after (this machine's speed at the moment) and "
                             "print the total as a multiple of it (default: from 100,000 embeddings)")
    args = parser.parse_args(argv)
    if args.library and (args.dim != 128 or args.copies or args.near_copy is not None or args.tau_search
                         or args.recall or args.zoom_out is not None):
        parser.error("--library groups as the app does: no --dim, --copies, --near-copy, --tau-search, --recall "
                     "or --zoom-out")

    import torch

    from ..clustering.copies import NEAR_COPY

    if args.threads:
        torch.set_num_threads(args.threads)
    x, y = synthetic_library(args.n, args.dim)
    if args.copies:
        x, y = add_near_copies(x, y, args.copies)
    near = NEAR_COPY["faces"] if args.near_copy is None else (args.near_copy or None)
    photo = group_photos(y, args.group_photos) if args.group_photos else None
    print(f"{len(x)} embeddings ({len(x) - args.n} near copies), {args.dim}-d, {len(np.unique(y))} groups "
          f"(largest {np.bincount(y).max()}), {torch.get_num_threads()} torch threads, near copies from {near}"
          + (f", {(np.bincount(photo)[photo] > 1).sum()} faces in a photo with others" if photo is not None else ""))
    reference = args.n >= 100_000 if args.reference is None else args.reference
    before = reference_seconds() if reference else None
    total = _group_a_library(x, args, photo) if args.library else _group(x, y, args, near, photo)
    if reference:
        after = reference_seconds()
        print(f"reference work (hnswlib on {REFERENCE_N} synthetic faces, fixed settings): {before:.2f} s before, "
              f"{after:.2f} s after; the total is {2 * total / (before + after):.1f} times their mean")
    return 0


def _group(x: np.ndarray, y: np.ndarray, args, near: float | None, photo: np.ndarray | None) -> float:
    """Groups ``x`` as HiLander.fit does and prints each level's stages, the total and the quality; returns the
    total seconds."""
    from ..clustering.hilander import HiLander
    from ..clustering.metrics import evaluate
    from ..clustering.zoom import ZOOM_OUT

    start = time.perf_counter()
    reports = []  # (seconds, thousandths done): the longest gap bounds how long a cancel waits to be heard
    zoom_out = ZOOM_OUT["faces"] if args.zoom_out is None else args.zoom_out
    h = HiLander(device=args.device, weights=args.weights, tau_search=args.tau_search, near_copy=near,
                 zoom_out=zoom_out).fit(
        x, apart=photo, progress=lambda done, total: reports.append((time.perf_counter(), done)))
    total = time.perf_counter() - start
    if h.agreement_:
        print("tau per library: " + ", ".join(f"{t:g}: {a:.0f}" for t, a in h.agreement_.items())
              + f" (agreement); kept {h.tau_:g}; the levels below are the kept candidate's")
    print(f"{'level':>5} {'nodes':>9} {'kNN s':>8} {'graph s':>8} {'GNN s':>8} {'decode s':>9}  kNN search")
    for t in h.timings_:
        print(f"{t['level']:>5} {t['nodes']:>9} {t['knn']:>8.2f} {t['graph']:>8.2f} {t['gnn']:>8.2f} "
              f"{t['decode']:>9.2f}  {t.get('search') or '-'}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    m = evaluate(y, h.labels_)
    print(f"total {total:.1f} s, peak memory {peak_mb:.0f} MB; Fp {m['fp']:.3f} Fb {m['fb']:.3f} "
          f"groups {m['clusters']} (true {len(np.unique(y))}) at level {h.default_level_}, where it stopped, and "
          f"{len(h.levels_) - 1 - h.default_level_} zoom-out level(s) past it; {h.copies_} items clustered as copies")
    print(longest_gap(reports))
    if args.recall:
        from ..clustering.knn import knn_graph, sampled_recall

        graph = knn_graph(x, h.k, device=args.device)  # the search the first level ran, again (not timed above)
        strict, tolerant = sampled_recall(x, graph, args.recall)
        print(f"kNN recall@{h.k} on {min(args.recall, len(x))} sampled items: {strict:.3f} "
              f"({tolerant:.3f} counting ties within 0.001 of the k-th exact similarity)")
    return total


def longest_gap(reports: list[tuple[float, int]]) -> str:
    """How often progress was reported, and the longest time between two reports (where a cancel waits)."""
    gaps = [(b[0] - a[0], a[1], b[1]) for a, b in zip(reports, reports[1:])]
    if not gaps:
        return f"progress reported {len(reports)} time(s)"
    gap, before, after = max(gaps)
    return (f"progress reported {len(reports)} times; longest gap {gap:.1f} s "
            f"(from {before} to {after} thousandths): a cancel is heard within it")


def _group_a_library(x: np.ndarray, args, photo: np.ndarray | None = None) -> float:
    """Writes ``x`` into a temporary library and groups it as ``index`` does; returns the grouping's seconds
    (storing included, writing the library not)."""
    import tempfile
    from pathlib import Path

    from sqlalchemy import func, select

    from ..grouping import cluster_library
    from ..store import Cluster, ClusterMember, Library
    from .library import insert_faces

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        library = Library(Path(folder) / "library.sqlite3")
        with library.session() as s:
            insert_faces(s, len(x), x, photo=photo)
        print(f"library written in {time.perf_counter() - start:.1f} s (not part of the grouping)")
        start = time.perf_counter()
        report = cluster_library(library, "faces", weights=args.weights, device=args.device)
        total = time.perf_counter() - start
        with library.session() as s:
            members = s.scalar(select(func.count()).select_from(ClusterMember))
            per_level = dict(s.execute(select(Cluster.level, func.count()).group_by(Cluster.level)).all())
        library.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"grouped a library of {report.items} faces in {total:.1f} s: reading the vectors and grouping "
          f"{report.seconds:.1f} s, storing the hierarchy {total - report.seconds:.1f} s; peak memory {peak_mb:.0f} MB")
    print(f"stored: {members} faces in groups; groups per level "
          f"{' / '.join(str(per_level[level]) for level in sorted(per_level))} (the default, level "
          f"{report.levels - 1}: {report.groups}; {report.zoom_out} zoom-out level(s) above it)")
    return total


if __name__ == "__main__":
    sys.exit(main())
