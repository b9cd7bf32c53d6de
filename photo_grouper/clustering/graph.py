"""One level's graph for LANDER: the kNN graph as PyG tensors, with edge weights and neighbourhood edge features.

Edges run j -> i for each of i's k nearest neighbours j (PyG's ``edge_index[0]`` is the source j, ``[1]`` the
target i), so a node aggregates over its own neighbourhood. Besides the row-normalised weight ``a_ij`` of the
paper, each edge carries features that the node embeddings alone do not hold and that decide most links between
photos of unseen people: the raw similarity, its rank, whether the link is mutual, how many neighbours the two
share, and how the similarity compares to each end's own neighbourhood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .knn import KnnGraph, knn_graph

EDGE_FEATURES = 7


@dataclass
class LevelGraph:
    x: torch.Tensor  # (N, 2d) node input [feature ‖ mean member feature]
    edge_index: torch.Tensor  # (2, E) long: source j, target i
    weight: torch.Tensor  # (E,) a_ij, rows (per target) sum to 1
    sim: torch.Tensor  # (E,) raw cosine similarity
    edge_attr: torch.Tensor  # (E, EDGE_FEATURES)
    k: int

    @property
    def num_nodes(self) -> int:
        return self.x.shape[0]

    def to(self, device) -> LevelGraph:
        return LevelGraph(self.x.to(device), self.edge_index.to(device), self.weight.to(device),
                          self.sim.to(device), self.edge_attr.to(device), self.k)


def edge_features(knn: KnnGraph) -> np.ndarray:
    """(N*k, EDGE_FEATURES) for the edges j -> i in row-major order of ``knn.indices`` (row i, column rank)."""
    idx, sims = knn.indices, knn.sims.astype(np.float32)
    n, k = idx.shape
    rows = np.repeat(np.arange(n), k)
    cols = idx.ravel()
    s = sims.ravel()
    rank = np.tile(np.arange(k, dtype=np.float32) / max(1, k - 1), n)

    # Mutual: is i among j's neighbours? Shared: |N(i) ∩ N(j)| / k, both through sorted edge keys.
    key = rows.astype(np.int64) * n + cols
    back = cols.astype(np.int64) * n + rows
    sorted_keys = np.sort(key)
    pos = np.searchsorted(sorted_keys, back)
    mutual = (sorted_keys[np.minimum(pos, len(sorted_keys) - 1)] == back).astype(np.float32)
    shared = _shared_neighbours(idx, rows, cols) / k

    mean_i = sims.mean(axis=1)
    last = sims[:, -1]  # each node's k-th similarity: its local scale
    feats = np.stack([
        s,
        rank,
        mutual,
        shared,
        s - mean_i[rows],
        s - last[rows],
        s - last[cols],
    ], axis=1).astype(np.float32)
    return feats


def _shared_neighbours(idx: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Count of common kNN members of each edge's two ends, in blocks to bound memory."""
    n, k = idx.shape
    out = np.empty(rows.shape[0], dtype=np.float32)
    sets = np.sort(idx, axis=1)
    block = max(1, 4_000_000 // (k * k))
    for start in range(0, rows.shape[0], block):
        a = sets[rows[start:start + block]]
        b = sets[cols[start:start + block]]
        out[start:start + block] = (a[:, :, None] == b[:, None, :]).sum(axis=(1, 2))
    return out


def build_level_graph(features: np.ndarray, centres: np.ndarray, k: int, *, knn: KnnGraph | None = None,
                      device=None) -> tuple[LevelGraph, KnnGraph]:
    """The graph of one level: nodes are (super)nodes with their feature and their members' mean feature."""
    knn = knn or knn_graph(features, k, device=device)
    n, kk = knn.indices.shape
    sims = np.maximum(knn.sims, 0.0)  # negative similarities carry no weight
    weight = sims / np.maximum(sims.sum(axis=1, keepdims=True), 1e-12)
    targets = np.repeat(np.arange(n), kk)
    graph = LevelGraph(
        x=torch.from_numpy(np.concatenate([features, centres], axis=1).astype(np.float32)),
        edge_index=torch.from_numpy(np.stack([knn.indices.ravel(), targets]).astype(np.int64)),
        weight=torch.from_numpy(weight.ravel().astype(np.float32)),
        sim=torch.from_numpy(knn.sims.ravel().astype(np.float32)),
        edge_attr=torch.from_numpy(edge_features(knn)),
        k=kk,
    )
    return graph, knn
