import numpy as np
import pytest

from photo_grouper.clustering.knn import KnnGraph, exact_knn, knn_graph, l2_normalise, recall_at_k, sampled_recall

from ..conftest import cancelled_at


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
    # 20,000 random 128-d vectors, the hardest case for a graph index (no structure to follow): M=16 with ef=128,
    # the parameters before 2026-12-01, found 0.83 of the neighbours here.
    x = (np.random.default_rng(1).standard_normal((20000, 128)).astype(np.float32) if data == "random"
         else _clustered(600, 10))
    r = recall_at_k(knn_graph(x, 10, method="hnsw"), exact_knn(x, 10))
    assert r >= 0.95, r


def test_self_is_never_a_neighbour_even_with_duplicates():
    x = np.repeat(_clustered(20, 1, 16), 4, axis=0)  # every vector four times
    for g in (exact_knn(x, 5), knn_graph(x, 5, method="hnsw")):
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


def test_sampled_recall_agrees_with_full_recall():
    x = _clustered(300, 10)
    exact = exact_knn(x, 10)
    assert sampled_recall(x, exact, 500) == (pytest.approx(1.0), pytest.approx(1.0))
    # Replace each item's two nearest neighbours with far items: recall 0.8, strict and tolerant alike.
    worse = exact.indices.copy()
    worse[:, :2] = np.argsort(l2_normalise(x) @ l2_normalise(x).T, axis=1)[:, :2]
    broken = KnnGraph(worse, exact.sims)
    strict, tolerant = sampled_recall(x, broken, 1000, seed=3)
    assert strict == pytest.approx(recall_at_k(broken, exact)) == pytest.approx(0.8)
    assert tolerant == pytest.approx(0.8)


def test_exact_search_bounds_its_blocks_and_gives_the_same_graph(monkeypatch):
    """A block of rows is compared with every item at once; its size is bounded so that a million items on a
    graphics card do not need 16 GB (4096 rows) and, on the CPU, so that fresh blocks stay cheap to allocate (16 MB);
    the graph does not depend on it."""
    import torch

    import photo_grouper.clustering.knn as knn

    x = np.random.default_rng(3).standard_normal((3000, 16)).astype(np.float32)
    shapes = []
    topk = torch.topk

    def recording_topk(sims, *args, **kwargs):
        shapes.append(tuple(sims.shape))
        return topk(sims, *args, **kwargs)

    monkeypatch.setattr(torch, "topk", recording_topk)
    cpu = exact_knn(x, 10)
    assert [rows for rows, _ in shapes] == [1398, 1398, 204]  # 2^22 similarities a block at most, on the CPU
    shapes.clear()
    monkeypatch.setattr(knn, "EXACT_BLOCK_NUMBERS_CPU", knn.EXACT_BLOCK_NUMBERS)  # as on a card
    whole = exact_knn(x, 10)
    assert shapes == [(3000, 3000)]  # 9 million similarities: one block
    assert np.array_equal(cpu.indices, whole.indices) and np.allclose(cpu.sims, whole.sims)
    shapes.clear()
    monkeypatch.setattr(knn, "EXACT_BLOCK_NUMBERS_CPU", 3000 * 7)
    small = exact_knn(x, 10)
    assert max(rows for rows, _ in shapes) == 7 and sum(rows for rows, _ in shapes) == 3000
    assert np.array_equal(small.indices, whole.indices) and np.allclose(small.sims, whole.sims)


def test_hnsw_builds_and_searches_in_chunks_reporting_progress_and_stops_on_cancel(monkeypatch):
    from photo_grouper.clustering import knn
    from photo_grouper.progress import Cancelled, Meter

    monkeypatch.setattr(knn, "HNSW_CHUNK_NUMBERS", 500 * 16)  # 500 items
    x = l2_normalise(np.random.default_rng(3).standard_normal((3000, 16)).astype(np.float32))
    heard = []
    graph = knn_graph(x, 10, method="hnsw", meter=Meter(lambda done, total: heard.append(done)))
    # Once after the locality order (before the index is built), then 6 chunks added and 6 searched.
    assert heard == [0] + [round(1000 * (i / 12)) for i in range(1, 13)]
    assert recall_at_k(graph, exact_knn(x, 10)) >= 0.95

    meter, heard = cancelled_at(3)
    with pytest.raises(Cancelled):
        knn_graph(x, 10, method="hnsw", meter=meter)
    assert len(heard) == 3  # the build stopped at its next chunk (the order, then two chunks, were heard)


def test_locality_order_puts_similar_items_together_and_hnsw_answers_in_the_callers_order():
    """hnswlib gets the items grouped by a coarse cell (memory locality); its answers still come back row for
    row in the order the items were given."""
    from photo_grouper.clustering.knn import LOCALITY_CELLS, locality_order

    rng = np.random.default_rng(4)
    x = _clustered(50, 100, 32)
    person = np.repeat(np.arange(50), 100)
    spread = rng.permutation(len(x))
    x, person = x[spread], person[spread]
    assert (person[1:] != person[:-1]).sum() > 4500  # in the library's order nearly every neighbour differs
    order = locality_order(l2_normalise(x))
    assert np.array_equal(np.sort(order), np.arange(len(x)))
    # 5,000 items: 256 coarse cells of about 20 (too few to order further), each within one person
    assert (person[order][1:] != person[order][:-1]).sum() < LOCALITY_CELLS
    assert np.array_equal(locality_order(x[:100]), np.arange(100))  # too few items to bother
    graph = knn_graph(x, 10, method="hnsw")
    assert recall_at_k(graph, exact_knn(x, 10)) >= 0.95
    assert (person[graph.indices] == person[:, None]).mean() > 0.99


def test_locality_order_orders_each_coarse_cell_by_finer_ones(monkeypatch):
    from photo_grouper.clustering import knn

    x = l2_normalise(_clustered(50, 100, 32))
    person = np.repeat(np.arange(50), 100)
    spread = np.random.default_rng(5).permutation(len(x))
    x, person = x[spread], person[spread]
    # Two coarse cells of about 2,500 items (two random centres split the 50 people by noise), each ordered by
    # 200 finer cells: nearly every person has some of them and its items follow each other.
    monkeypatch.setattr(knn, "LOCALITY_CELLS", 2)
    monkeypatch.setattr(knn, "LOCALITY_FINE", 200)
    order = knn.locality_order(x)
    assert np.array_equal(np.sort(order), np.arange(len(x)))
    assert (person[order][1:] != person[order][:-1]).sum() < 1000  # 97% of a fine cell is one person
    monkeypatch.setattr(knn, "LOCALITY_FINE", 10_000)  # too few items in a cell to order further
    coarse = knn.locality_order(x)
    assert (person[coarse][1:] != person[coarse][:-1]).sum() > 4000


def test_near_only_recall_counts_the_neighbours_nearer_than_the_median_kth():
    """Items in close pairs and as many items far from everything: a search that finds every partner but
    misses the far items' neighbours has a near-only recall of 1 and a full recall of about a half."""
    from photo_grouper.clustering.knn import rows_recall

    rng = np.random.default_rng(6)
    pairs = np.repeat(rng.standard_normal((200, 64)), 2, axis=0) + 0.05 * rng.standard_normal((400, 64))
    x = l2_normalise(np.concatenate([pairs, rng.standard_normal((400, 64))]))
    exact = exact_knn(x, 5)
    found = exact.indices[:, :1].copy()
    found[400:] = exact.indices[400:, 4:5]  # the far items get their fifth nearest instead of the first
    rows = np.arange(800)
    assert rows_recall(x, rows, found, near_only=True) == (1.0, 1.0)
    strict, tolerant = rows_recall(x, rows, found)
    assert strict == 0.5 and tolerant < 0.6
    assert rows_recall(x, rows, exact.indices[:, :1]) == (1.0, 1.0)
