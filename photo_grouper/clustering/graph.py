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

from ..progress import NO_METER, Meter
from .knn import KnnGraph, knn_graph

EDGE_FEATURES = 12
PROFILE_K = 10  # similarities to this many nearest neighbours describe a node's neighbourhood
NODE_PROFILE = PROFILE_K + 3


@dataclass
class LevelGraph:
    x: torch.Tensor | None  # (N, 2d) node input [feature ‖ mean member feature]; None for a profile model
    edge_index: torch.Tensor  # (2, E) long: source j, target i
    weight: torch.Tensor  # (E,) a_ij, rows (per target) sum to 1
    sim: torch.Tensor  # (E,) raw cosine similarity
    edge_attr: torch.Tensor  # (E, EDGE_FEATURES)
    profile: torch.Tensor  # (N, NODE_PROFILE) identity-free description of each node's neighbourhood
    k: int

    @property
    def num_nodes(self) -> int:
        return self.profile.shape[0]

    def to(self, device) -> LevelGraph:
        return LevelGraph(None if self.x is None else self.x.to(device), self.edge_index.to(device),
                          self.weight.to(device), self.sim.to(device), self.edge_attr.to(device),
                          self.profile.to(device), self.k)


def edge_features(knn: KnnGraph, meter: Meter = NO_METER) -> np.ndarray:
    """(N*k, EDGE_FEATURES) for the edges j -> i in row-major order of ``knn.indices`` (row i, column rank);
    ``meter`` hears each block of edges."""
    idx, sims = knn.indices, knn.sims.astype(np.float32)
    n, k = idx.shape
    rows = np.repeat(np.arange(n), k)
    cols = idx.ravel()
    s = sims.ravel()
    rank = np.tile(np.arange(k, dtype=np.float32) / max(1, k - 1), n)

    mutual, shared = _mutual_and_shared(idx, rows, cols, meter.part(0.0, 0.9))
    shared /= k

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
    meter(1.0)
    return feats


def _centre_features(features, centres, sizes, knn: KnnGraph) -> np.ndarray:
    """What supernodes add: similarities between the members' means, across peak and mean, and both sizes."""
    n, k = knn.indices.shape
    rows, cols = np.repeat(np.arange(n), k), knn.indices.ravel()
    logs = np.log1p(sizes) / 5.0
    centre_centre = rowdot(centres, centres, rows, cols)
    # On the first level the features are the centres: one product instead of three equal ones (the row gathers
    # are memory-bound: about 0.15 s per product for a million links, 2026-12-03).
    if features is centres:
        feature_centre = centre_feature = centre_centre
    else:
        feature_centre = rowdot(features, centres, rows, cols)
        centre_feature = rowdot(centres, features, rows, cols)
    return np.stack([centre_centre, feature_centre, centre_feature, logs[rows], logs[cols]], axis=1).astype(np.float32)


PAIR_BLOCK_NUMBERS = 4_000_000  # comparisons of neighbour lists per block of edges (k * k an edge)


def _mutual_and_shared(idx: np.ndarray, rows: np.ndarray, cols: np.ndarray, meter: Meter = NO_METER
                       ) -> tuple[np.ndarray, np.ndarray]:
    """For each edge j -> i: whether i is among j's neighbours (mutual), and how many neighbours the two share;
    from the two ends' neighbour lists, a block of edges at a time (bounded memory, a report after each block).
    (Looking each edge's reverse up among the sorted edge keys took 19 s of 37 at a million photos in a random
    order: 23 cache misses an edge; 2026-12-03.)"""
    k = idx.shape[1]
    mutual = np.empty(rows.shape[0], dtype=np.float32)
    shared = np.empty(rows.shape[0], dtype=np.float32)
    sets = np.sort(idx, axis=1)
    block = max(1, PAIR_BLOCK_NUMBERS // (k * k))
    for start in range(0, rows.shape[0], block):
        r, c = rows[start:start + block], cols[start:start + block]
        theirs = sets[c]
        mutual[start:start + block] = (theirs == r[:, None]).any(axis=1)
        shared[start:start + block] = (sets[r][:, :, None] == theirs[:, None, :]).sum(axis=(1, 2))
        meter(min(rows.shape[0], start + block) / rows.shape[0])
    return mutual, shared


# Rows gathered per block by rowdot: 2^20 numbers (4 MB), 8,192 rows of 128-d. Fresh large blocks cost more in
# page faults than in arithmetic: at 2^27 numbers (512 MB) one product over the million links of 100,000 photos
# took 8.8-12.4 s on a 2-core virtual machine, at 2^20 0.15 s, the same numbers to the bit (2026-12-03).
ROWDOT_NUMBERS = 1 << 20


def rowdot(a: np.ndarray, b: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``a[rows[e]] · b[cols[e]]`` for each e, a block at a time."""
    out = np.empty(rows.shape[0], dtype=np.float32)
    block = max(1, ROWDOT_NUMBERS // max(1, a.shape[1]))
    for start in range(0, rows.shape[0], block):
        r, c = rows[start:start + block], cols[start:start + block]
        out[start:start + block] = np.einsum("ij,ij->i", a[r], b[c])
    return out


def node_profile(knn: KnnGraph, sizes: np.ndarray, tightness: np.ndarray) -> np.ndarray:
    """Similarities to the nearest PROFILE_K neighbours (padded with the last), log size, tightness, mean sim."""
    sims = knn.sims[:, :PROFILE_K]
    if sims.shape[1] < PROFILE_K:
        pad = np.repeat(sims[:, -1:] if sims.shape[1] else np.zeros((sims.shape[0], 1), np.float32),
                        PROFILE_K - sims.shape[1], axis=1)
        sims = np.concatenate([sims, pad], axis=1)
    return np.concatenate([sims, np.log1p(sizes)[:, None] / 5.0, tightness[:, None],
                           knn.sims.mean(axis=1, keepdims=True)], axis=1).astype(np.float32)


def build_level_graph(features: np.ndarray, centres: np.ndarray, k: int, *, knn: KnnGraph | None = None,
                      sizes: np.ndarray | None = None, tightness: np.ndarray | None = None,
                      device=None, embeddings: bool = True, meter: Meter = NO_METER) -> tuple[LevelGraph, KnnGraph]:
    """The graph of one level: nodes are (super)nodes with their feature and their members' mean feature;
    ``sizes`` counts each node's members and ``tightness`` is their mean similarity to the mean (1 for one item).
    ``embeddings``: keep ``[feature ‖ centre]`` as node input (a model on profiles does not read it: 1 GB at a
    million 128-d photos, 10 GB at 1280-d). ``meter`` hears each step (a million photos: 2-3 s apart, 8-9 s in all),
    which is also where a cancel is heard."""
    n_nodes = features.shape[0]
    sizes = np.ones(n_nodes, np.float32) if sizes is None else np.asarray(sizes, np.float32)
    tightness = np.ones(n_nodes, np.float32) if tightness is None else np.asarray(tightness, np.float32)
    knn = knn or knn_graph(features, k, device=device)
    n, kk = knn.indices.shape
    sims = np.maximum(knn.sims, 0.0)  # negative similarities carry no weight
    weight = sims / np.maximum(sims.sum(axis=1, keepdims=True), 1e-12)
    targets = np.repeat(np.arange(n), kk)
    neighbourhood = edge_features(knn, meter.part(0.0, 0.45))
    centre = _centre_features(features, centres, sizes, knn)
    meter(0.75)
    graph = LevelGraph(
        x=torch.from_numpy(np.concatenate([features, centres], axis=1).astype(np.float32)) if embeddings else None,
        edge_index=torch.from_numpy(np.stack([knn.indices.ravel(), targets]).astype(np.int64)),
        weight=torch.from_numpy(weight.ravel().astype(np.float32)),
        sim=torch.from_numpy(knn.sims.ravel().astype(np.float32)),
        edge_attr=torch.from_numpy(np.concatenate([neighbourhood, centre], axis=1)),
        profile=torch.from_numpy(node_profile(knn, sizes, tightness)),
        k=kk,
    )
    meter(1.0)
    return graph, knn
