"""Cosine k-nearest-neighbour graph of L2-normalised embeddings.

Exact search is a blocked matrix product in torch (small N, or any N on CUDA). Large N on the CPU is searched
exactly within cells (cells.py: several times faster than a graph index on clustered items, and as good), or,
where the items have no cluster structure for that to work, with hnswlib, whose parameters keep recall@k >= 0.95
against exact search (checked in tests). The item itself is never among its neighbours.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..progress import NO_METER, Meter

EXACT_MAX_N_CPU = 30_000  # above this the CPU searches within cells (or uses hnswlib) instead of all N^2 pairs
# hnswlib is the search for items without cluster structure (cells.py says when). Its parameters were chosen for
# a million items when it was the only search above EXACT_MAX_N_CPU: on bench/scale.py's synthetic face-like
# embeddings (2 threads, sampled against exact search), with the items inserted in locality order (below), M=24,
# ef_construction=200, ef=192 reach recall@10 0.964 at 1,000,000 for 171 + 174 s of building and querying on a
# slow machine, where M=32 (the setting before, 2026-12-01) reached 0.975 for 205 + 187 s and M=32 with ef=128
# 0.962 for 205 + 148 s; ef_construction=100 fell to 0.943 (ef=192) and 0.952 (ef=256, 97 + 232 s), and M=16,
# ef_construction=100, ef=128 to 0.82. The largest groups there are tens of thousands of near-equidistant photos.
# Every setting measured: docs/hilander-ablation.md, "The kNN's parameters chosen at a million" and "The kNN's
# parameters again, in locality order".
HNSW_M = 24
HNSW_EF_CONSTRUCTION = 200
HNSW_EF = 192
# Numbers (items x dimensions) per call when building or searching the index: between calls progress is reported
# and a cancel is seen. 16,384 128-d faces a call: at a million on a slow machine a call of 12 s at most with
# 32,768 (2026-12-03; 3-5 s on a faster one, where 65,536 took up to 9 s); at 300,000 the longest call 4.9-5.2 s
# against 7.0-9.1 s with 32,768, the total the same (109-110 s against 105-115 s, alternating runs). 1280-d
# species features take ten times as long an item, so a tenth as many items a call.
HNSW_CHUNK_NUMBERS = 1 << 21


# hnswlib's search hops between items all over its index (about 720 bytes an item at M = 24): inserted and asked
# for in the library's order, where one person's faces are spread through it, nearly every hop misses the cache.
# Items go in, and queries are asked, grouped by the nearest of LOCALITY_CELLS items drawn at random and, within
# each such cell, by the nearest of LOCALITY_FINE of its own items, so that neighbours lie near each other in
# memory and one query's hops warm the next one's. Synthetic faces in a random order, 2 cores (2026-12-03):
# 200,000, build + query 44.5 + 49.0 s -> 31.2 + 28.6 s with 256 cells (4,096 cells: the same), recall@10
# 0.9918 -> 0.9914; 500,000, 88.7 + 89.0 s with 256 cells, 78.5 + 78.2 s with 64 finer cells in each (16: no
# gain), recall 0.984 either way.
LOCALITY_CELLS = 256
LOCALITY_FINE = 64


def nearest_centre(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """For each row of ``x`` the index of its most similar row of ``centres`` (as many similarities at a time as
    exact search's blocks on the CPU)."""
    nearest = np.empty(x.shape[0], dtype=np.int64)
    step = max(1, EXACT_BLOCK_NUMBERS_CPU // centres.shape[0])
    for start in range(0, x.shape[0], step):
        nearest[start:start + step] = np.argmax(x[start:start + step] @ centres.T, axis=1)
    return nearest


def _nearest_cell(x: np.ndarray, cells: int, rng: np.random.Generator) -> np.ndarray:
    """For each row of ``x`` the nearest of ``cells`` rows drawn at random."""
    return nearest_centre(x, x[rng.choice(x.shape[0], cells, replace=False)])


def locality_order(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """A permutation of the rows of ``x`` (L2-normalised) that puts similar rows next to each other: by coarse
    cell, then by fine cell within it (the nearest of rows drawn at random)."""
    n = x.shape[0]
    if n <= 4 * LOCALITY_CELLS:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    cell = _nearest_cell(x, LOCALITY_CELLS, rng)
    order = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[order], np.arange(LOCALITY_CELLS + 1))
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b - a > 4 * LOCALITY_FINE:
            rows = order[a:b]
            order[a:b] = rows[np.argsort(_nearest_cell(x[rows], LOCALITY_FINE, rng), kind="stable")]
    return order


def _chunk_items(dim: int) -> int:
    return max(1, HNSW_CHUNK_NUMBERS // max(1, dim))


@dataclass(frozen=True)
class KnnGraph:
    """Row i lists the k nearest other items of item i, most similar first."""

    indices: np.ndarray  # (N, k) int64
    sims: np.ndarray  # (N, k) float32 cosine similarity
    search: str = ""  # how it was found: "exact", "cells, margin m" or "hnswlib"

    @property
    def k(self) -> int:
        return self.indices.shape[1]


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _drop_self(idx: np.ndarray, sims: np.ndarray, k: int, ids: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index (``ids``: the item each row asks for, by default the row number; not always
    in column 0 when items repeat), keep k columns."""
    n = idx.shape[0]
    is_self = idx == (np.arange(n) if ids is None else ids)[:, None]
    # Rows where self was not returned lose their last (least similar) column instead.
    no_self = ~is_self.any(axis=1)
    is_self[no_self, -1] = True
    keep = ~is_self
    return idx[keep].reshape(n, -1)[:, :k], sims[keep].reshape(n, -1)[:, :k]


# Exact search compares a block of rows with every item at once: the block holds at most this many similarities.
# On a card 1 GiB of float32 (4096 rows against a million items would be 16 GB, more than most cards have); on
# the CPU 16 MB: larger fresh blocks cost more in page faults than the product (16,705 items on 2 cores: 1.0 s
# in blocks of 2^22 similarities, 1.8-5.2 s in blocks of 2^28; 30,000: 2.8 s against 6.1-7.7 s; 2026-12-03).
EXACT_BLOCK_NUMBERS = 1 << 28
EXACT_BLOCK_NUMBERS_CPU = 1 << 22


def exact_knn(x: np.ndarray, k: int, *, device=None, block: int | None = None, meter: Meter = NO_METER
              ) -> KnnGraph:
    import torch

    n = x.shape[0]
    dev = torch.device(device) if device is not None else torch.device("cpu")
    numbers = EXACT_BLOCK_NUMBERS_CPU if dev.type == "cpu" else EXACT_BLOCK_NUMBERS
    block = block or max(1, min(4096, numbers // max(1, n)))
    xt = torch.from_numpy(l2_normalise(x)).to(dev)
    kk = min(k + 1, n)
    out_idx = np.empty((n, kk), dtype=np.int64)
    out_sim = np.empty((n, kk), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, n, block):
            sims = xt[start:start + block] @ xt.T
            val, idx = torch.topk(sims, kk, dim=1)
            out_idx[start:start + block] = idx.cpu().numpy()
            out_sim[start:start + block] = val.float().cpu().numpy()
            meter(min(n, start + block) / n)
    idx, sims = _drop_self(out_idx, out_sim, min(k, n - 1))
    return KnnGraph(idx, sims, "exact")


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity: a container's or a taskset's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def hnsw_self_knn(x: np.ndarray, k: int, *, ef: int | None = None, threads: int | None = None, seed: int = 100,
                  meter: Meter = NO_METER):
    """(index, graph): an hnswlib index of the (L2-normalised) rows of ``x`` and each row's k nearest others
    from it. The rows go in, and are asked for, in one locality order: that makes hnswlib's graph better."""
    order = locality_order(x)
    index = hnsw_index(x, threads=threads, seed=seed, order=order, meter=meter.part(0.0, 0.5))
    return index, hnsw_query(index, x, np.arange(x.shape[0]), k, ef=ef, order=order, meter=meter.part(0.5, 1.0))


def hnsw_index(x: np.ndarray, *, threads: int | None = None, seed: int = 100, order: np.ndarray | None = None,
               meter: Meter = NO_METER):
    """An hnswlib index of the (L2-normalised) rows of ``x``, labelled by row number, inserted in ``order``
    (``locality_order(x)`` unless given)."""
    import hnswlib

    n, dim = x.shape
    index = hnswlib.Index(space="ip", dim=dim)
    index.init_index(max_elements=n, ef_construction=HNSW_EF_CONSTRUCTION, M=HNSW_M, random_seed=seed)
    # hnswlib's own default (-1) starts one thread per CPU of the host, however few this process may use:
    # on 2 usable cores that made building and querying 1,000,000 items take twice as long (measured).
    index.set_num_threads(threads or usable_cpus())
    order = locality_order(x) if order is None else order
    meter(0.0)  # a cancel is heard before the first chunk (at a million the order takes 1-2 s)
    step = _chunk_items(dim)
    for start in range(0, n, step):
        stop = min(n, start + step)
        rows = order[start:stop]
        index.add_items(x[rows], rows)
        meter(stop / n)
    return index


def hnsw_query(index, queries: np.ndarray, ids: np.ndarray, k: int, *, alive: int | None = None,
               ef: int | None = None, order: np.ndarray | None = None, meter: Meter = NO_METER) -> KnnGraph:
    """The k nearest other items of each query, an item of the index (``ids``: its label); ``alive``: how many
    items are not marked deleted (all, by default); queries are asked in ``order`` (``locality_order(queries)``
    unless given)."""
    n = index.get_current_count() if alive is None else alive
    kk = min(k + 1, n)
    index.set_ef(max(ef or HNSW_EF, 2 * kk))
    m = queries.shape[0]
    labels, dist = np.empty((m, kk), np.uint64), np.empty((m, kk), np.float32)
    order = locality_order(queries) if order is None else order
    step = _chunk_items(queries.shape[1])
    for start in range(0, m, step):
        stop = min(m, start + step)
        rows = order[start:stop]
        labels[rows], dist[rows] = index.knn_query(queries[rows], k=kk)
        meter(stop / m)
    idx, sims = _drop_self(labels.astype(np.int64), (1.0 - dist).astype(np.float32), min(k, n - 1), ids)
    return KnnGraph(idx, sims, "hnswlib")


def search_method(n: int, method: str = "auto", device=None) -> str:
    """"exact", "cells" or "hnsw": what "auto" means for n items on ``device`` (exact on CUDA or up to
    EXACT_MAX_N_CPU, else cells)."""
    if method != "auto":
        return method
    on_gpu = device is not None and str(device).startswith("cuda")
    return "exact" if on_gpu or n <= EXACT_MAX_N_CPU else "cells"


def approximate_self_knn(x: np.ndarray, k: int, *, method: str = "cells", meter: Meter = NO_METER):
    """(ask, graph): each row's k nearest others among the (L2-normalised) rows of ``x``, by ``method`` ("cells",
    which falls back to "hnsw" where its sampled recall is short, or "hnsw"), and ``ask(rows, k, alive, meter)``
    searching again among the items in the mask ``alive`` only."""
    if method == "cells":
        from .cells import CHECK_SHARE, cell_self_knn

        found = cell_self_knn(x, k, meter=meter)
        if found is not None:
            search, graph = found
            return search.ask, graph
        meter = meter.part(CHECK_SHARE, 1.0)  # no cluster structure: hnswlib
    elif method != "hnsw":
        raise ValueError(f"unknown kNN method {method!r}")
    index, graph = hnsw_self_knn(x, k, meter=meter)

    def ask(rows: np.ndarray, k: int, alive: np.ndarray, meter: Meter = NO_METER) -> KnnGraph:
        for item in np.flatnonzero(~alive):
            index.mark_deleted(int(item))  # searches no longer return it
        return hnsw_query(index, x[rows], rows, k, alive=int(alive.sum()), meter=meter)
    return ask, graph


def knn_graph(x: np.ndarray, k: int, *, method: str = "auto", device=None, meter: Meter = NO_METER) -> KnnGraph:
    """k nearest neighbours by cosine similarity. ``method``: "auto", "exact", "cells" or "hnsw"; ``meter``:
    progress and cancel between blocks."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array, got shape {x.shape}")
    if k < 1:
        raise ValueError("k must be at least 1")
    if x.shape[0] < 2:
        return KnnGraph(np.empty((x.shape[0], 0), np.int64), np.empty((x.shape[0], 0), np.float32), "exact")
    method = search_method(x.shape[0], method, device)
    if method == "exact":
        return exact_knn(x, k, device=device, meter=meter)
    return approximate_self_knn(l2_normalise(x), k, method=method, meter=meter)[1]


def recall_at_k(approx: KnnGraph, exact: KnnGraph) -> float:
    """Share of the exact k neighbours that the approximate search found."""
    hits = sum(len(set(a) & set(e)) for a, e in zip(approx.indices.tolist(), exact.indices.tolist()))
    return hits / exact.indices.size


def sampled_recall(x: np.ndarray, graph: KnnGraph, queries: int = 2000, *, seed: int = 0, tolerance: float = 1e-3,
                   block: int = 256) -> tuple[float, float]:
    """recall@k of ``graph`` on ``queries`` items drawn at random, against exact search over all of ``x`` (too
    slow in full at a million). Returns (strict, tolerant): tolerant also counts a found neighbour as near as the
    k-th exact one within ``tolerance`` of similarity (ann-benchmarks' convention: ties are not misses)."""
    n = graph.indices.shape[0]
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(queries, n), replace=False))
    return rows_recall(x, rows, graph.indices[rows], tolerance=tolerance, block=block)


def exact_rows(x: np.ndarray, rows: np.ndarray, k: int, *, block: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(sims, indices): the k most similar other rows of ``x`` (L2-normalised) to each of its rows ``rows``, most
    similar first, by exact search over all of ``x``."""
    import torch

    m = rows.size
    sims_out = np.empty((m, k), np.float32)
    idx_out = np.empty((m, k), np.int64)
    xt = torch.from_numpy(x)
    with torch.inference_mode():
        for start in range(0, m, block):
            q = torch.from_numpy(rows[start:start + block])
            sims = xt[q] @ xt.T
            sims[torch.arange(len(q)), q] = -2.0  # an item is not its own neighbour
            top = torch.topk(sims, k, dim=1)
            sims_out[start:start + block], idx_out[start:start + block] = top.values.numpy(), top.indices.numpy()
    return sims_out, idx_out


def rows_recall(x: np.ndarray, rows: np.ndarray, found: np.ndarray, *, tolerance: float = 1e-3, block: int = 256,
                near_only: bool = False, exact: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[float, float]:
    """(strict, tolerant) recall of ``found`` (the neighbours found for the items ``rows``, k a row) against
    exact search over all of ``x``; tolerant also counts a found neighbour as near as the least similar exact
    one counted, within ``tolerance``. ``near_only``: count only the exact neighbours at least as similar as
    the median of the rows' k-th exact similarity, the near ones, where the grouping links (a person seen once
    has only far neighbours: near ties whose order joins no one). ``exact``: ``exact_rows`` of ``x``, where it
    is already known (``x`` is then taken as L2-normalised, and not copied)."""
    m, k = found.shape
    if exact is None:
        x = l2_normalise(x)
        exact = exact_rows(x, rows, k, block=block)
    exact_sims, exact_idx = exact
    found_sims = np.empty((m, k), np.float32)
    for start in range(0, m, block):
        part = slice(start, start + block)
        found_sims[part] = np.einsum("md,mkd->mk", x[rows[part]], x[found[part]])
    found_sims[found == rows[:, None]] = -2.0  # an item is not its own neighbour
    counted = exact_sims >= (np.median(exact_sims[:, -1]) if near_only else -np.inf)  # a prefix of each row
    total = int(counted.sum())
    if total == 0:
        return 1.0, 1.0
    strict = sum(len(set(f) & set(e[c])) for f, e, c in zip(found.tolist(), exact_idx, counted))
    least = np.min(np.where(counted, exact_sims, np.inf), axis=1)  # inf where a row counts none
    tolerant = np.minimum((found_sims >= least[:, None] - tolerance).sum(axis=1), counted.sum(axis=1)).sum()
    return strict / total, min(1.0, int(tolerant) / total)
