"""The heuristic baselines: each an estimator of HiLander's shape, checked on cases whose answer is known."""

import numpy as np
import pytest
from scipy import sparse

from photo_grouper.clustering.baselines import (TUNABLE, AverageLinkage, ChineseWhispers, DBSCANFaces,
                                                HDBSCANFaces, OracleKMeans, chinese_whispers, threshold_graph,
                                                tune)
from photo_grouper.clustering.metrics import evaluate

BASELINES = [ChineseWhispers(), DBSCANFaces(min_faces=2), AverageLinkage(max_distance=0.6), HDBSCANFaces(),
             OracleKMeans(n_clusters=4)]


def blobs(sizes=(6, 5, 4, 3), spread=0.05, dim=32, seed=0):
    """Groups of unit vectors around random directions: within a group at distance ~0.1-0.3, between groups ~1.4
    (nearly orthogonal directions); labels 0..len(sizes)-1."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dim))
    x = np.concatenate([c + spread * np.linalg.norm(c) * rng.normal(size=(n, dim)) for c, n in zip(centres, sizes)])
    return x.astype(np.float32), np.repeat(np.arange(len(sizes)), sizes)


def same_partition(a, b) -> bool:
    return evaluate(a, b)["fp"] == pytest.approx(1.0) and len(set(a)) == len(set(b))


@pytest.mark.parametrize("method", BASELINES, ids=lambda m: type(m).__name__)
def test_each_baseline_finds_well_separated_groups_as_an_estimator_would(method):
    x, y = blobs()
    labels = method.fit_predict(x)
    assert labels.shape == (len(x),) and labels.dtype.kind == "i"
    assert sorted(set(labels.tolist())) == list(range(labels.max() + 1))  # 0..k-1, none dropped
    assert same_partition(y, labels)
    assert np.array_equal(method.labels_, labels)
    assert type(method)(**method.get_params()).fit_predict(x).tolist() == labels.tolist()  # parameters as given
    assert repr(method).startswith(type(method).__name__ + "(")


@pytest.mark.parametrize("method", BASELINES, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_each_baseline_takes_a_library_of_a_few_photos(method, n):
    """As HiLander does: no photo, no group; one photo, one group; fewer photos than HDBSCAN's smallest cluster
    (scikit-learn refuses them) stay alone."""
    x = np.random.default_rng(n).normal(size=(n, 16)).astype(np.float32)
    if isinstance(method, OracleKMeans):
        method = OracleKMeans(n_clusters=max(n, 1))
    labels = method.fit_predict(x)
    assert len(labels) == n
    if n == 1:
        assert labels.tolist() == [0]
    assert HDBSCANFaces(min_cluster_size=4).fit_predict(x).tolist() == list(range(n))


def test_noise_is_left_alone_not_dropped():
    """DBSCAN calls an item far from every group noise (label -1): it becomes a group of its own, as does each
    noise label HDBSCAN gives."""
    from photo_grouper.clustering.baselines import _noise_to_singletons

    x, y = blobs(sizes=(6, 5))
    lone = np.random.default_rng(9).normal(size=(1, x.shape[1])).astype(np.float32)
    x, y = np.concatenate([x, lone]), np.append(y, 2)
    labels = DBSCANFaces(max_distance=0.5, min_faces=3).fit_predict(x)
    assert same_partition(y, labels) and (labels == labels[-1]).sum() == 1
    assert _noise_to_singletons(np.array([1, -1, 1, 0, -1])).tolist() == [1, 2, 1, 0, 3]


def test_chinese_whispers_on_a_graph_of_two_triangles_and_a_loner():
    edges = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)]
    rows, cols = zip(*edges)
    a = sparse.csr_matrix((np.ones(len(edges)), (rows, cols)), shape=(7, 7))
    labels = chinese_whispers((a + a.T).tocsr())
    assert same_partition([0, 0, 0, 1, 1, 1, 2], labels)


def test_threshold_graph_links_only_what_is_closer_than_the_distance():
    # Unit vectors at angles 0, 20 and 90 degrees: distances 2 sin(10 deg) = 0.35 and more than 1.
    angles = np.radians([0.0, 20.0, 90.0])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    g = threshold_graph(x, max_distance=0.5, k=2).toarray()
    assert g.tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
    # dlib's example measures the raw vectors: scaled by 3 the pair is 1.04 apart, no longer linked.
    assert threshold_graph(3 * x, max_distance=0.5, k=2, normalise=False).nnz == 0


def test_tune_picks_the_threshold_that_parts_the_groups():
    """Tuned on labelled groups, the distance threshold lands between the within-group and between-group
    distances: the tuned estimator then finds the groups."""
    x, y = blobs(seed=3)
    cls, param, grid = TUNABLE["average-linkage"]
    value, score = tune(cls, param, grid, x, y)
    assert score == pytest.approx(2.0) and 0.3 < value < 1.3
    assert same_partition(y, cls(max_distance=value).fit_predict(x))
    # A grid of thresholds all too small leaves every item alone, alike: the first of equals is kept.
    value, score = tune(cls, param, [0.01, 0.02], x, y)
    assert value == 0.01 and score < 1.0
