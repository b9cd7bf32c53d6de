"""The heuristics photo apps group faces with today, as estimators of the same shape as ``HiLander``.

All work on L2-normalised embeddings with Euclidean distance (a monotone function of cosine similarity:
d^2 = 2 - 2 cos), so a threshold means the same for every method. Points a method leaves as noise become
singletons: nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .knn import knn_graph, l2_normalise


class _Clusterer:
    labels_: np.ndarray

    def fit(self, x: np.ndarray):  # pragma: no cover - each subclass defines it
        raise NotImplementedError

    def fit_predict(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:  # as HiLander: no items, no groups (scikit-learn's estimators refuse an empty array)
            self.labels_ = np.zeros(0, dtype=np.int64)
            return self.labels_
        return self.fit(x).labels_

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def _noise_to_singletons(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels).copy()
    noise = labels < 0
    labels[noise] = labels.max(initial=-1) + 1 + np.arange(noise.sum())
    return np.unique(labels, return_inverse=True)[1].ravel()


def threshold_graph(x: np.ndarray, max_distance: float, k: int = 50, normalise: bool = True) -> sparse.csr_matrix:
    """Symmetric graph linking items closer than ``max_distance``, searched among each item's k nearest (by
    cosine). ``normalise=False`` measures Euclidean distance on the vectors as given, as dlib's example does."""
    g = knn_graph(x, k)
    n = x.shape[0]
    if normalise:
        dist = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * g.sims))
    else:
        dist = np.linalg.norm(x[:, None, :] - x[g.indices], axis=2)
    rows = np.repeat(np.arange(n), g.k)
    keep = (dist < max_distance).ravel()
    a = sparse.csr_matrix((np.ones(keep.sum(), np.float32), (rows[keep], g.indices.ravel()[keep])), shape=(n, n))
    return ((a + a.T) > 0).astype(np.float32).tocsr()


def chinese_whispers(adjacency: sparse.csr_matrix, iterations: int = 20, seed: int = 0) -> np.ndarray:
    """dlib's Chinese Whispers: every node repeatedly takes the label with the largest edge weight around it."""
    n = adjacency.shape[0]
    labels = np.arange(n)
    rng = np.random.default_rng(seed)
    indptr, indices, weights = adjacency.indptr, adjacency.indices, adjacency.data
    for _ in range(iterations):
        changed = 0
        for i in rng.permutation(n):
            lo, hi = indptr[i], indptr[i + 1]
            if lo == hi:
                continue
            neigh = labels[indices[lo:hi]]
            uniq, inv = np.unique(neigh, return_inverse=True)
            best = uniq[np.argmax(np.bincount(inv, weights=weights[lo:hi]))]
            if best != labels[i]:
                labels[i] = best
                changed += 1
        if changed == 0:
            break
    return np.unique(labels, return_inverse=True)[1].ravel()


@dataclass(repr=False)
class ChineseWhispers(_Clusterer):
    """dlib's face clustering example: link faces closer than 0.5, then Chinese Whispers."""

    max_distance: float = 0.5
    k: int = 50
    iterations: int = 20
    seed: int = 0
    normalise: bool = True

    def fit(self, x):
        x = l2_normalise(x) if self.normalise else np.asarray(x, dtype=np.float32)
        graph = threshold_graph(x, self.max_distance, self.k, normalise=self.normalise)
        self.labels_ = chinese_whispers(graph, self.iterations, self.seed)
        return self


@dataclass(repr=False)
class DBSCANFaces(_Clusterer):
    """Immich-style: DBSCAN with a maximum distance and a minimum number of faces; noise stays alone."""

    max_distance: float = 0.5
    min_faces: int = 3

    def fit(self, x):
        from sklearn.cluster import DBSCAN

        labels = DBSCAN(eps=self.max_distance, min_samples=self.min_faces).fit_predict(l2_normalise(x))
        self.labels_ = _noise_to_singletons(labels)
        return self


@dataclass(repr=False)
class AverageLinkage(_Clusterer):
    """Agglomerative clustering, average linkage, cut at a distance threshold."""

    max_distance: float = 0.6

    def fit(self, x):
        from sklearn.cluster import AgglomerativeClustering

        x = l2_normalise(x)
        if x.shape[0] < 2:
            self.labels_ = np.zeros(x.shape[0], dtype=np.int64)
            return self
        model = AgglomerativeClustering(n_clusters=None, distance_threshold=self.max_distance, linkage="average")
        self.labels_ = model.fit_predict(x)
        return self


@dataclass(repr=False)
class HDBSCANFaces(_Clusterer):
    min_cluster_size: int = 2
    min_samples: int | None = None

    def fit(self, x):
        from sklearn.cluster import HDBSCAN

        if len(x) < max(2, self.min_cluster_size, self.min_samples or 0):
            # Too few items to make one cluster of the smallest size: all noise, so singletons (HDBSCAN refuses).
            self.labels_ = np.arange(len(x))
            return self
        labels = HDBSCAN(min_cluster_size=self.min_cluster_size, min_samples=self.min_samples,
                         copy=True).fit_predict(l2_normalise(x))
        self.labels_ = _noise_to_singletons(labels)
        return self


@dataclass(repr=False)
class OracleKMeans(_Clusterer):
    """k-means told the true number of groups: an oracle, for reference only."""

    n_clusters: int = 8
    seed: int = 0

    def fit(self, x):
        from sklearn.cluster import KMeans

        self.labels_ = KMeans(n_clusters=self.n_clusters, n_init=3, random_state=self.seed).fit_predict(
            l2_normalise(x))
        return self


# What the benchmark tunes on labelled data that is not the test set: (estimator class, parameter, grid).
# Distances on unit vectors run from 0 to 2; the grids cover what faces (~0.3-0.5) and species (~0.8-1.1) need.
TUNABLE = {
    "chinese-whispers": (ChineseWhispers, "max_distance", np.round(np.arange(0.20, 1.30, 0.02), 2)),
    "dbscan": (DBSCANFaces, "max_distance", np.round(np.arange(0.20, 1.30, 0.02), 2)),
    "average-linkage": (AverageLinkage, "max_distance", np.round(np.arange(0.20, 1.40, 0.02), 2)),
    "hdbscan": (HDBSCANFaces, "min_cluster_size", [2, 3, 4, 5]),
}


def tune(cls, param: str, grid, x: np.ndarray, y: np.ndarray, score=None, **fixed):
    """The grid value that scores best on labelled (x, y); returns (best value, its score)."""
    from .metrics import evaluate

    score = score or (lambda m: m["fp"] + m["fb"])
    best = None
    for value in grid:
        value = value.item() if hasattr(value, "item") else value
        s = score(evaluate(y, cls(**{param: value}, **fixed).fit_predict(x)))
        if best is None or s > best[1]:
            best = (value, s)
    return best
