"""Partitioned exact search: the k nearest neighbours of many L2-normalised items by matrix products within cells.

The items are split into cells by spherical k-means (on a sample). Each item asks only its own (nearest) cell;
each item answers in its nearest cells, up to CELL_SPREAD of them and only those within CELL_MARGIN of cosine
of its nearest, so that an item near a border is found from both sides. Within a cell every question is an
exact matrix product, which two cores do at tens of GFLOP/s, where a graph index (hnswlib) spends its time
waiting on memory: a million synthetic faces (bench/scale.py, 2 cores, 2026-12-05), first level 72.5 s against
hnswlib's 277.6 s on the same machine, recall@10 0.968 either way. Every setting measured:
docs/hilander-ablation.md, "Partitioned exact search instead of hnswlib".

It is only as good as the items are clustered (uniformly random vectors have no cells to speak of), so
``cell_self_knn`` checks its recall on sampled items against exact search, widening the margin where it falls
short (an encoder's similarities have their own scale), and says when it still does; the caller then uses
hnswlib.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..progress import NO_METER, Meter
from .knn import KnnGraph, _drop_self, exact_rows, nearest_centre, rows_recall

CELL_SIZE = 1000  # items per cell, on average
CELL_SPREAD = 16  # an item answers in at most this many of its nearest cells ...
CELL_MARGIN = 0.07  # ... those within this much cosine of its nearest (dlib's faces: see cell_self_knn)
CELL_MARGINS = (CELL_MARGIN, 0.14, 0.28, 0.56)  # tried in turn until the sampled recall is met
CELL_MIN_RECALL = 0.95  # tolerant recall@k of the near neighbours of sampled items; below it, hnswlib
CELL_CHECK_QUERIES = 500
KMEANS_SAMPLE = 64  # items drawn per cell for k-means
KMEANS_ROUNDS = 8
BLOCK_NUMBERS = 1 << 22  # similarities in one product (16 MB: fresh larger blocks cost page faults, see knn.py)
QUERY_BLOCK = 1024  # questions in one product
# A cell's answering items' vectors are gathered once for all its questions up to this many numbers (128 MB),
# else again for each block of questions: a hub cell of 1280-d species features would otherwise take gigabytes.
GATHER_NUMBERS = 1 << 25


def spherical_kmeans(x: np.ndarray, cells: int, rng: np.random.Generator, rounds: int = KMEANS_ROUNDS
                     ) -> np.ndarray:
    """``cells`` unit centres fitted to a sample of the rows of ``x`` ((cells, dim))."""
    import torch

    sample = x[np.sort(rng.choice(x.shape[0], min(x.shape[0], KMEANS_SAMPLE * cells), replace=False))]
    centres = sample[rng.choice(sample.shape[0], cells, replace=False)]
    for _ in range(rounds):
        nearest = torch.from_numpy(nearest_centre(sample, centres))
        sums = torch.zeros(centres.shape).index_add_(0, nearest, torch.from_numpy(sample)).numpy()
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        filled = norms[:, 0] > 0
        centres[filled] = sums[filled] / norms[filled]  # an empty cell keeps its centre
    return centres


@dataclass
class NearestCells:
    """Each item's ``near`` cells (of ``count``, by spherical k-means), nearest first, and its ``sims`` to them."""

    count: int
    near: np.ndarray  # (n, min(CELL_SPREAD, count)) int32
    sims: np.ndarray  # the same shape, float32


def nearest_cells(x: np.ndarray, *, seed: int = 0, meter: Meter = NO_METER) -> NearestCells:
    """The cells of the rows of ``x`` (about CELL_SIZE each) and each row's nearest CELL_SPREAD of them."""
    import torch

    xt = torch.from_numpy(x)
    n = x.shape[0]
    cells = max(1, n // CELL_SIZE)
    spread = min(CELL_SPREAD, cells)
    centres = torch.from_numpy(spherical_kmeans(x, cells, np.random.default_rng(seed)))
    meter(0.3)
    near = np.empty((n, spread), dtype=np.int32)
    sims = np.empty((n, spread), dtype=np.float32)
    step = max(1, BLOCK_NUMBERS // cells)
    with torch.inference_mode():
        for start in range(0, n, step):
            top = torch.topk(xt[start:start + step] @ centres.T, spread, dim=1)
            near[start:start + step], sims[start:start + step] = top.indices.numpy(), top.values.numpy()
            meter(0.3 + 0.7 * min(n, start + step) / n)
    return NearestCells(cells, near, sims)


class CellSearch:
    """The cells of the rows of ``x`` (L2-normalised, float32); ``ask`` finds neighbours among them. Each item
    answers in its nearest cells within ``margin`` of cosine of its nearest; ``nearest``: the cells, where they
    are already found (else they are found here)."""

    def __init__(self, x: np.ndarray, *, seed: int = 0, margin: float | None = None,
                 nearest: NearestCells | None = None, meter: Meter = NO_METER):
        import torch

        self.xt = torch.from_numpy(x)
        nearest = nearest or nearest_cells(x, seed=seed, meter=meter)
        near, sims = nearest.near, nearest.sims
        self.cells = nearest.count
        self.margin = CELL_MARGIN if margin is None else margin
        self.home = near[:, 0].copy()  # not a view: the rest of near is not kept
        # Each cell's answering items: those with it among their nearest cells, within the margin.
        answers = np.where(sims >= sims[:, :1] - self.margin, near, self.cells).ravel()
        order = np.argsort(answers, kind="stable")
        self.members = (order // near.shape[1]).astype(np.int64)
        self.bounds = np.searchsorted(answers[order], np.arange(self.cells + 1))

    def ask(self, rows: np.ndarray, k: int, alive: np.ndarray | None = None, meter: Meter = NO_METER
            ) -> KnnGraph:
        """The k nearest other items of the items ``rows`` (at most k; fewer only where fewer items are
        ``alive``, a mask of the items that may answer: all by default)."""
        import torch

        rows = np.asarray(rows, dtype=np.int64)
        m = rows.size
        answering = self.xt.shape[0] if alive is None else int(alive.sum())
        kk = min(k + 1, answering)
        out_idx = np.full((m, kk), -1, dtype=np.int64)
        out_sim = np.full((m, kk), -np.inf, dtype=np.float32)
        by_cell = np.argsort(self.home[rows], kind="stable")
        starts = np.searchsorted(self.home[rows][by_cell], np.arange(self.cells + 1))
        done = 0
        with torch.inference_mode():
            for cell in np.flatnonzero(np.diff(starts)):
                asked = by_cell[starts[cell]:starts[cell + 1]]  # positions in rows
                members = self.members[self.bounds[cell]:self.bounds[cell + 1]]
                if alive is not None:
                    members = members[alive[members]]
                if members.size:  # a cancel is heard between the tiles of a large cell
                    idx, sim = self._best(rows[asked], members, kk,
                                          lambda share: meter((done + share * asked.size) / m))
                    out_idx[asked, :idx.shape[1]], out_sim[asked, :idx.shape[1]] = idx, sim
                done += asked.size
                meter(done / m)
        # Too few answers in the cell (a small cell, or most of it not alive): exact search over every item.
        short = np.flatnonzero(out_idx[:, -1] < 0) if kk else np.empty(0, np.int64)
        alive_rows = np.arange(self.xt.shape[0]) if alive is None else np.flatnonzero(alive)
        if short.size and alive_rows.size:
            idx, sim = self._best(rows[short], alive_rows, kk)
            out_idx[short], out_sim[short] = -1, -np.inf
            out_idx[short, :idx.shape[1]], out_sim[short, :idx.shape[1]] = idx, sim
        idx, sim = _drop_self(out_idx, out_sim, min(k, answering - 1), rows)
        return KnnGraph(idx, sim, f"cells, margin {self.margin:g}")

    def _best(self, queries: np.ndarray, members: np.ndarray, kk: int, heard=lambda share: None
              ) -> tuple[np.ndarray, np.ndarray]:
        """The kk most similar of ``members`` (item numbers) to each of ``queries``, most similar first;
        ``heard(share)``: the share of the work done, after each tile."""
        import torch

        keep = min(kk, members.size)
        tile = max(keep, BLOCK_NUMBERS // QUERY_BLOCK)
        out_idx = np.empty((queries.size, keep), dtype=np.int64)
        out_sim = np.empty((queries.size, keep), dtype=np.float32)
        tiles = [members[t:t + tile] for t in range(0, members.size, tile)]
        gathered = ([self.xt[torch.from_numpy(numbers)] for numbers in tiles]
                    if members.size * self.xt.shape[1] <= GATHER_NUMBERS else None)
        for start in range(0, queries.size, QUERY_BLOCK):
            q = self.xt[torch.from_numpy(queries[start:start + QUERY_BLOCK])]
            best_sim = best_idx = None
            for i, numbers in enumerate(tiles):
                vectors = gathered[i] if gathered is not None else self.xt[torch.from_numpy(numbers)]
                top = torch.topk(q @ vectors.T, min(keep, numbers.size), dim=1)
                sim, idx = top.values, torch.from_numpy(numbers)[top.indices]
                if best_sim is not None:  # merge with the tiles before
                    sim, at = torch.topk(torch.cat([best_sim, sim], 1), keep, dim=1)
                    idx = torch.gather(torch.cat([best_idx, idx], 1), 1, at)
                best_sim, best_idx = sim, idx
                heard((start + (i + 1) / len(tiles) * q.shape[0]) / queries.size)
            out_idx[start:start + q.shape[0]], out_sim[start:start + q.shape[0]] = best_idx.numpy(), best_sim.numpy()
        return out_idx, out_sim


CHECK_SHARE = 0.05  # of the progress bar: the cells and the check


def cell_self_knn(x: np.ndarray, k: int, *, seed: int = 0, meter: Meter = NO_METER
                  ) -> tuple[CellSearch, KnnGraph] | None:
    """(search, graph): each row's k nearest others by partitioned exact search, or None where its recall on
    CELL_CHECK_QUERIES rows drawn at random falls below CELL_MIN_RECALL at every margin of CELL_MARGINS (items
    without cluster structure); that is found before the search of every row, after the first CHECK_SHARE of
    ``meter``. The recall counts the near neighbours only (``rows_recall``'s near_only): many people seen once,
    whose far neighbours the cells miss more often, left the groups the same (docs/hilander-ablation.md). The
    margin widens until the check passes, as the encoder's similarities set the scale: the species encoder's
    neighbours sit at cosine 0.5-0.7 where dlib's sit at 0.95, and needed 0.28 where faces need 0.07."""
    check = meter.part(0.0, CHECK_SHARE)
    nearest = nearest_cells(x, seed=seed, meter=check.part(0.0, 0.6))
    n = x.shape[0]
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(CELL_CHECK_QUERIES, n), replace=False))
    exact = exact_rows(x, rows, min(k, n - 1))  # once for every margin
    for i, margin in enumerate(CELL_MARGINS):
        search = CellSearch(x, margin=margin, nearest=nearest)
        recall = rows_recall(x, rows, search.ask(rows, k).indices, near_only=True, exact=exact)[1]
        check(0.6 + 0.4 * (i + 1) / len(CELL_MARGINS))
        if recall >= CELL_MIN_RECALL:
            break
    else:
        return None
    del nearest  # the search keeps what it needs
    check(1.0)
    return search, search.ask(np.arange(n), k, meter=meter.part(CHECK_SHARE, 1.0))
