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

from .knn import EXACT_MAX_N_CPU, KnnGraph, exact_knn, hnsw_index, hnsw_query

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
    """Rows with the same bytes (np.unique over whole rows: 1.7 s at a million)."""
    if x.shape[0] < 2:
        return None
    rows = np.ascontiguousarray(x).view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
    return firsts(rows)


def compose(outer: Copies | None, inner: Copies | None) -> Copies | None:
    """``inner`` found among the firsts of ``outer``, as copies of the original items."""
    if outer is None or inner is None:
        return inner if outer is None else outer
    return outer[0][inner[0]], inner[1][outer[1]]


def near_copies(graph: KnnGraph, near: float) -> Copies | None:
    """Items joined by a chain of neighbour links of at least ``near`` cosine similarity."""
    rows, cols = np.nonzero(graph.sims >= near)
    if rows.size == 0:
        return None
    n = graph.indices.shape[0]
    links = sparse.coo_matrix((np.ones(rows.size, np.int8), (rows, graph.indices[rows, cols])), shape=(n, n))
    return firsts(connected_components(links, directed=False)[1])


def knn_without_near_copies(x: np.ndarray, k: int, near: float, *, method: str = "auto", device=None
                            ) -> tuple[KnnGraph, Copies | None]:
    """The kNN graph of ``x`` (L2-normalised) with near copies (``near_copies``) taken out: (graph, None) where
    there are none, else the graph of ``x[first]`` and the copies. Costs one kNN search where there are none; with
    hnswlib, the index is searched again only for the rows whose neighbours held a copy taken out."""
    n = x.shape[0]
    if method == "auto":
        on_gpu = device is not None and str(device).startswith("cuda")
        method = "exact" if on_gpu or n <= EXACT_MAX_N_CPU else "hnsw"
    if method == "exact":
        graph = exact_knn(x, k, device=device)
        copies = near_copies(graph, near)
        return (graph, None) if copies is None else (exact_knn(x[copies[0]], k, device=device), copies)
    index = hnsw_index(x)
    graph = hnsw_query(index, x, np.arange(n), k)
    copies = near_copies(graph, near)
    if copies is None:
        return graph, None
    first, position = copies
    if first.size <= max(EXACT_MAX_N_CPU, 4 * k):
        return exact_knn(x[first], k, device=device), copies
    kept = np.zeros(n, dtype=bool)
    kept[first] = True
    for item in np.flatnonzero(~kept):
        index.mark_deleted(int(item))  # searches no longer return it
    indices, sims = graph.indices[first], graph.sims[first]
    stale = np.flatnonzero(~kept[indices].all(axis=1))
    if stale.size:
        again = hnsw_query(index, x[first[stale]], first[stale], k, alive=first.size)
        indices[stale], sims[stale] = again.indices, again.sims
    return KnnGraph(position[indices], sims), copies
