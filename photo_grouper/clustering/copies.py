"""Copies of one picture among the items to cluster: one photo kept twice (byte-identical, from a backup folder)
or saved again (resized, re-compressed, brightened: its descriptor within a hair of the first). Each copy is
clustered once, through its first occurrence, and shares its group at every level: copies tie on density, so no
link joins them, and more copies than k fill each other's neighbour lists and hide their person
(docs/hilander-ablation.md, "Copies of a photo").
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from ..progress import NO_METER, Meter
from .knn import EXACT_MAX_N_CPU, KnnGraph, approximate_self_knn, exact_knn, search_method

# The similarity at which two items count as one picture saved twice, per encoder: most re-saves of a photo
# (resized, re-compressed, brightened) reach it, and no two different photos of the shared data do (faces: two
# people at most 0.976; pets: two photos at most 0.857). Judged on partitions never used before
# (docs/hilander-ablation.md, "Near copies").
NEAR_COPY = {"faces": 0.995, "species": 0.95}

# (first, position): the index of each distinct item's first copy, in input order, and for every item the
# position of its first copy among them (so x[first][position] stands for x).
Copies = tuple[np.ndarray, np.ndarray]


def firsts(group: np.ndarray) -> Copies | None:
    """Copies from a group label per item (equal labels: copies); None where every item is its own."""
    _, first, inverse = np.unique(group, return_index=True, return_inverse=True)
    if first.size == group.shape[0]:
        return None
    order = np.argsort(first)
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    return first[order], position[inverse.ravel()]


def exact_copies(x: np.ndarray) -> Copies | None:
    """Rows with the same bytes. Found by a 64-bit hash of each row and checked byte for byte (a hash shared by
    rows that differ, never seen, falls back to comparing whole rows): at a million 128-d rows 0.7-0.9 s, where
    np.unique over whole rows sorted half a gigabyte of them in 1.7-3.9 s (2026-12-03, the same process), most
    of the wait for a cancel at the start."""
    if x.shape[0] < 2:
        return None
    x = np.ascontiguousarray(x)
    copies = firsts(_row_hashes(x))
    if copies is None:
        return None
    first, position = copies
    copy = np.flatnonzero(first[position] != np.arange(x.shape[0]))  # rows that are not their set's first
    if (_words(x[copy]) == _words(x[first[position[copy]]])).all():
        return copies
    return firsts(x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel())


def _words(x: np.ndarray) -> np.ndarray:
    """The bytes of each row of ``x`` (C-contiguous) as 32-bit words, or as bytes where a row's are not a multiple
    of four."""
    rows = x.view(np.uint8).reshape(x.shape[0], -1)
    return rows.view(np.uint32) if rows.shape[1] % 4 == 0 else rows


def _row_hashes(x: np.ndarray, step: int = 16384) -> np.ndarray:
    """A 64-bit hash of each row's bytes: the sum of its words times fixed random odd numbers, mod 2**64 (rows
    with the same bytes always share it)."""
    words = _words(x)
    multipliers = np.random.default_rng(0).integers(0, 2**63, words.shape[1], dtype=np.uint64) * 2 + 1
    out = np.empty(x.shape[0], dtype=np.uint64)
    for start in range(0, x.shape[0], step):
        out[start:start + step] = (words[start:start + step].astype(np.uint64) * multipliers).sum(axis=1)
    return out


def compose(outer: Copies | None, inner: Copies | None) -> Copies | None:
    """``inner`` found among the firsts of ``outer``, as copies of the original items."""
    if outer is None or inner is None:
        return inner if outer is None else outer
    return outer[0][inner[0]], inner[1][outer[1]]


def near_copies(graph: KnnGraph, x: np.ndarray, near: float) -> Copies | None:
    """Items at least ``near`` alike (cosine) to the first of their set. Sets are found along neighbour links of at
    least ``near``, but a chain of such links is not enough: where photos are alike anyway (a burst drifting,
    whole photos of one scene) a chain can reach from one subject to another. Items of a set that are not that
    alike to its first form sets again among themselves, and so on."""
    rows, cols = np.nonzero(graph.sims >= near)
    if rows.size == 0:
        return None
    n = x.shape[0]
    src, dst = rows, graph.indices[rows, cols]
    group = np.arange(n)  # each item's first copy
    open_ = np.zeros(n, dtype=bool)
    open_[src] = open_[dst] = True  # items with a link; the others are their own
    while open_.any():
        keep = open_[src] & open_[dst]
        links = sparse.coo_matrix((np.ones(int(keep.sum()), np.int8), (src[keep], dst[keep])), shape=(n, n))
        items = np.flatnonzero(open_)
        component = connected_components(links, directed=False)[1][items]
        _, at = np.unique(component, return_index=True)  # the first open item of each set (items are sorted)
        first = np.empty(component.max() + 1, dtype=np.int64)
        first[component[at]] = items[at]
        first = first[component]
        alike = np.einsum("ij,ij->i", x[items], x[first]) >= near  # the first itself: 1
        group[items[alike]] = first[alike]
        open_[items[alike]] = False  # each round settles at least every set's first
    return firsts(group)


def knn_without_near_copies(x: np.ndarray, k: int, near: float, *, method: str = "auto", device=None,
                            meter: Meter = NO_METER) -> tuple[KnnGraph, Copies | None]:
    """The kNN graph of ``x`` (L2-normalised) with near copies (``near_copies``) taken out: (graph, None) where
    there are none, else the graph of ``x[first]`` and the copies. Costs one kNN search where there are none; with
    approximate search (cells or hnswlib), it searches again only for the rows whose neighbours held a copy taken
    out."""
    n = x.shape[0]
    if search_method(n, method, device) == "exact":
        graph = exact_knn(x, k, device=device, meter=meter.part(0.0, 0.8))
        copies = near_copies(graph, x, near)
        return (graph, None) if copies is None else \
            (exact_knn(x[copies[0]], k, device=device, meter=meter.part(0.8, 1.0)), copies)
    ask, graph = approximate_self_knn(x, k, method=search_method(n, method, device), meter=meter.part(0.0, 0.95))
    copies = near_copies(graph, x, near)
    if copies is None:
        return graph, None
    first, position = copies
    if first.size <= max(EXACT_MAX_N_CPU, 4 * k):
        return exact_knn(x[first], k, device=device, meter=meter.part(0.95, 1.0)), copies
    kept = np.zeros(n, dtype=bool)
    kept[first] = True
    indices, sims = graph.indices[first], graph.sims[first]
    stale = np.flatnonzero(~kept[indices].all(axis=1))
    if stale.size:
        again = ask(first[stale], k, kept, meter=meter.part(0.95, 1.0))
        indices[stale], sims[stale] = again.indices, again.sims
    return KnnGraph(position[indices], sims, graph.search), copies
