import numpy as np
import pytest

from photo_grouper.clustering.knn import exact_knn, hnsw_knn, knn_from_members, knn_graph, l2_normalise, recall_at_k


def _clustered(n_clusters=300, per=10, dim=128, spread=0.6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim))
    return (np.repeat(centres, per, axis=0) + spread * rng.standard_normal((n_clusters * per, dim))).astype(np.float32)


def test_exact_matches_brute_force():
    x = _clustered(50, 6, 32)
    g = exact_knn(x, 5, block=64)  # several blocks
    xn = l2_normalise(x)
    sims = xn @ xn.T
    np.fill_diagonal(sims, -np.inf)
    expected = np.argsort(-sims, axis=1)[:, :5]
    assert g.indices.shape == (300, 5) and g.sims.dtype == np.float32
    np.testing.assert_allclose(g.sims, np.take_along_axis(sims, expected, 1), atol=1e-5)
    assert recall_at_k(g, type(g)(expected, g.sims)) > 0.99  # ties may swap order
    assert np.all(np.diff(g.sims, axis=1) <= 1e-6)  # most similar first


@pytest.mark.parametrize("data", ["random", "clustered"])
def test_hnsw_recall_at_10_is_at_least_095(data):
    x = (np.random.default_rng(1).standard_normal((6000, 128)).astype(np.float32) if data == "random"
         else _clustered(600, 10))
    r = recall_at_k(hnsw_knn(x, 10), exact_knn(x, 10))
    assert r >= 0.95, r


def test_self_is_never_a_neighbour_even_with_duplicates():
    x = np.repeat(_clustered(20, 1, 16), 4, axis=0)  # every vector four times
    for g in (exact_knn(x, 5), hnsw_knn(x, 5)):
        assert not np.any(g.indices == np.arange(len(x))[:, None])
        assert g.indices.shape == (80, 5)


def test_auto_and_small_inputs():
    x = _clustered(5, 2, 8)
    assert knn_graph(x, 20).k == 9  # at most N-1 neighbours
    assert knn_graph(x[:1], 5).indices.shape == (1, 0)
    with pytest.raises(ValueError):
        knn_graph(x[0], 3)
    with pytest.raises(ValueError):
        knn_graph(x, 3, method="magic")


def test_supernode_neighbours_from_the_members_graph():
    """Higher levels find their neighbours through the members' graph (plus exact search for groups whose
    members only neighbour each other); close to an exact search of the supernodes, never the node itself."""
    x = l2_normalise(_clustered(400, 10, 64, spread=0.9))
    member_knn = exact_knn(x, 10)
    node_of_member = np.arange(len(x)) // 2  # supernodes: pairs of photos of one identity
    sums = np.zeros((2000, x.shape[1]), np.float32)
    np.add.at(sums, node_of_member, x)
    features = l2_normalise(sums)
    got = knn_from_members(features, 10, member_knn, node_of_member)
    exact = exact_knn(features, 10)
    assert got.indices.shape == (2000, 10)
    assert not (got.indices == np.arange(2000)[:, None]).any()
    assert recall_at_k(got, exact) >= 0.9
    np.testing.assert_allclose(got.sims, np.take_along_axis(l2_normalise(features) @ l2_normalise(features).T,
                                                            got.indices, 1), atol=1e-5)
    # Groups whose members neighbour only each other still get their neighbours, from the exact search.
    from photo_grouper.clustering.knn import KnnGraph

    node = np.repeat(np.arange(3), 4)
    own = np.array([[j for j in range(12) if node[j] == node[i] and j != i] for i in range(12)])
    centres = l2_normalise(np.array([[1, 0, 0], [0.9, 0.1, 0], [0.1, 0.3, 1]], np.float32))
    alone = knn_from_members(centres, 10, KnnGraph(own, np.ones(own.shape, np.float32)), node)
    assert alone.indices.tolist() == [[1, 2], [0, 2], [1, 0]]
