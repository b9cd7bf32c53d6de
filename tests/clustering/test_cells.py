import numpy as np
import pytest

from photo_grouper.clustering import cells
from photo_grouper.clustering.cells import CellSearch, cell_self_knn
from photo_grouper.clustering.knn import exact_knn, knn_graph, l2_normalise, recall_at_k

from ..conftest import cancelled_at
from .test_knn import _clustered


@pytest.fixture
def small_cells(monkeypatch):
    """Cells of 100 items, so that a few thousand items make dozens of cells, as a million make a thousand."""
    monkeypatch.setattr(cells, "CELL_SIZE", 100)


def test_cells_find_the_neighbours_of_clustered_items(small_cells):
    x = l2_normalise(_clustered(300, 20))
    search, graph = cell_self_knn(x, 10)
    assert search.cells == 60 and graph.indices.shape == (6000, 10)
    exact = exact_knn(x, 10)
    assert recall_at_k(graph, exact) >= 0.95
    assert not np.any(graph.indices == np.arange(6000)[:, None])
    np.testing.assert_allclose(graph.sims, np.einsum("id,ikd->ik", x, x[graph.indices]), atol=1e-5)
    assert np.all(np.diff(graph.sims, axis=1) <= 1e-6)  # most similar first
    again = cell_self_knn(x, 10)[1]  # no threads racing, no random order: the same graph every time
    assert np.array_equal(again.indices, graph.indices) and np.array_equal(again.sims, graph.sims)


def test_an_item_answers_in_every_cell_it_is_near(small_cells):
    """Items answer in their nearest cells within the margin, never in more than CELL_SPREAD; each item asks in
    its own (nearest) cell, among whose answering items it is."""
    x = l2_normalise(_clustered(600, 10))
    search = CellSearch(x)
    answers = np.diff(search.bounds)
    assert answers.sum() > x.shape[0]  # items near a border answer on both sides
    times = np.bincount(search.members, minlength=x.shape[0])
    assert times.min() >= 1 and times.max() <= cells.CELL_SPREAD
    for cell in range(search.cells):
        members = search.members[search.bounds[cell]:search.bounds[cell + 1]]
        assert set(np.flatnonzero(search.home == cell)) <= set(members.tolist())


def test_items_without_cluster_structure_are_refused_and_go_to_hnswlib(small_cells, monkeypatch):
    """Uniformly random vectors have no cells to speak of: the sampled recall falls short, cell_self_knn says
    so, and the search goes to hnswlib."""
    import photo_grouper.clustering.knn as knn

    x = l2_normalise(np.random.default_rng(1).standard_normal((5000, 128)))
    assert cell_self_knn(x, 10) is None
    used = []
    real = knn.hnsw_self_knn
    monkeypatch.setattr(knn, "hnsw_self_knn", lambda *a, **kw: (used.append(1), real(*a, **kw))[1])
    graph = knn_graph(x, 10, method="cells")
    assert used and recall_at_k(graph, exact_knn(x, 10)) >= 0.95 and graph.search == "hnswlib"


def test_the_margin_widens_where_the_neighbours_sit_far(small_cells, monkeypatch):
    """Looser clusters (each item's neighbours further off, as the species encoder's are) are missed across cell
    borders at the first margin; the check widens it until the sampled recall is met, and gives up only after
    the last."""
    from photo_grouper.clustering.knn import rows_recall

    x = l2_normalise(_clustered(300, 10, spread=0.8))
    assert rows_recall(x, np.arange(3000), CellSearch(x).ask(np.arange(3000), 10).indices, near_only=True)[1] < 0.95
    search, graph = cell_self_knn(x, 10)
    assert search.margin > cells.CELL_MARGIN and search.margin in cells.CELL_MARGINS
    assert graph.search == f"cells, margin {search.margin:g}"
    assert rows_recall(x, np.arange(3000), graph.indices, near_only=True)[1] >= 0.95
    monkeypatch.setattr(cells, "CELL_MARGINS", (cells.CELL_MARGIN,))
    assert cell_self_knn(x, 10) is None


def test_real_species_features_stay_in_cells_at_a_wider_margin(pets_data, monkeypatch):
    """The species encoder's features of the shared pet photos, in cells of 20 (as a large library's are in
    cells of 1,000): neighbours at cosine 0.5-0.7, not dlib's 0.95, so the first margin misses them and a wider
    one finds them (docs/hilander-ablation.md, "The cells on real descriptors")."""
    from photo_grouper.clustering.knn import rows_recall
    from photo_grouper.labelled import embed_labelled
    from photo_grouper.vision import EncoderSpec

    x = l2_normalise(embed_labelled(pets_data, EncoderSpec.of("species")).x)
    monkeypatch.setattr(cells, "CELL_SIZE", 20)
    rows = np.arange(x.shape[0])
    assert rows_recall(x, rows, CellSearch(x).ask(rows, 10).indices, near_only=True)[1] < 0.95
    search, graph = cell_self_knn(x, 10)
    assert search.cells == 10 and search.margin > cells.CELL_MARGIN
    assert rows_recall(x, rows, graph.indices, near_only=True)[1] >= 0.95


def test_many_people_seen_once_keep_the_search_in_cells(small_cells):
    """A third of the items far from everything (people seen once): the cells miss more of their far
    neighbours, which join no one, so the check counts the near neighbours only and keeps the cells."""
    from photo_grouper.clustering.knn import sampled_recall

    rng = np.random.default_rng(2)
    x = l2_normalise(np.concatenate([_clustered(150, 20), rng.standard_normal((1500, 128))]).astype(np.float32))
    found = cell_self_knn(x, 10)
    assert found is not None
    graph = found[1]
    assert sampled_recall(x, graph, 1000)[1] < 0.95  # all neighbours: short of the check's bar
    exact = exact_knn(x, 10)
    assert recall_at_k(type(graph)(graph.indices[:3000], graph.sims[:3000]),
                       type(exact)(exact.indices[:3000], exact.sims[:3000])) >= 0.95  # the clustered items'


def test_auto_searches_large_inputs_in_cells(monkeypatch):
    import photo_grouper.clustering.knn as knn

    monkeypatch.setattr(knn, "EXACT_MAX_N_CPU", 1000)
    assert knn.search_method(1000) == "exact" and knn.search_method(1001) == "cells"
    assert knn.search_method(10**6, device="cuda:0") == "exact"
    made = []
    real = cells.nearest_cells
    monkeypatch.setattr(cells, "nearest_cells", lambda *a, **kw: (made.append(1), real(*a, **kw))[1])
    monkeypatch.setattr(knn, "hnsw_self_knn", None)  # not asked
    x = _clustered(300, 10)
    graph = knn_graph(x, 10)
    assert recall_at_k(graph, exact_knn(x, 10)) >= 0.95 and made == [1]
    assert graph.search.startswith("cells, margin ") and knn_graph(x[:1000], 10).search == "exact"


def test_asking_again_among_the_items_still_alive(small_cells):
    """Items not alive never answer; an item whose cell has too few alive items left is searched among all of
    them; with fewer alive items than k, each row gets all the others."""
    x = l2_normalise(_clustered(100, 30))
    search = CellSearch(x)
    alive = np.zeros(3000, dtype=bool)
    alive[::3] = True  # ten of each cluster
    rows = np.flatnonzero(alive)
    graph = search.ask(rows, 5, alive=alive)
    assert alive[graph.indices].all() and not np.any(graph.indices == rows[:, None])
    exact = exact_knn(x[rows], 5)
    assert recall_at_k(type(graph)(np.searchsorted(rows, graph.indices), graph.sims), exact) >= 0.95
    few = np.zeros(3000, dtype=bool)
    few[[5, 500, 1500, 2999]] = True
    tiny = search.ask(np.array([5, 500]), 10, alive=few)
    assert tiny.indices.shape == (2, 3) and set(tiny.indices[0]) == {500, 1500, 2999}


def test_a_large_cell_is_searched_in_tiles_with_the_same_answer(monkeypatch):
    """A cell's answering items are compared in tiles of at most BLOCK_NUMBERS / QUERY_BLOCK (16 MB of fresh
    similarities at a time); the best of each tile are merged. Their vectors are gathered once, or for each
    block of questions where a cell's would exceed GATHER_NUMBERS."""
    x = l2_normalise(_clustered(300, 10))
    whole = CellSearch(x).ask(np.arange(3000), 10)
    monkeypatch.setattr(cells, "BLOCK_NUMBERS", 64 * 128)  # tiles of 128 items, blocks of 64 questions
    monkeypatch.setattr(cells, "QUERY_BLOCK", 64)
    tiled = CellSearch(x).ask(np.arange(3000), 10)
    assert np.array_equal(tiled.indices, whole.indices) and np.allclose(tiled.sims, whole.sims)
    monkeypatch.setattr(cells, "GATHER_NUMBERS", 100 * x.shape[1])
    again = CellSearch(x).ask(np.arange(3000), 10)
    assert np.array_equal(again.indices, whole.indices) and np.allclose(again.sims, whole.sims)


def test_cells_report_progress_and_stop_on_cancel(small_cells):
    from photo_grouper.progress import Cancelled, Meter

    x = l2_normalise(_clustered(150, 20))
    heard = []
    assert cell_self_knn(x, 10, meter=Meter(lambda done, total: heard.append(done)))
    assert len(heard) > 30 and heard == sorted(heard) and heard[-1] == 1000
    meter, heard = cancelled_at(10)
    with pytest.raises(Cancelled):
        cell_self_knn(x, 10, meter=meter)
    assert len(heard) == 10


def test_a_cancel_is_heard_within_a_large_cell(monkeypatch):
    """One cell of 3,000 items, asked in blocks of 64 against tiles of 128: progress moves, and a cancel is
    heard, between tiles, not only between cells."""
    from photo_grouper.progress import Cancelled, Meter

    monkeypatch.setattr(cells, "CELL_SIZE", 5000)
    monkeypatch.setattr(cells, "BLOCK_NUMBERS", 64 * 128)
    monkeypatch.setattr(cells, "QUERY_BLOCK", 64)
    x = l2_normalise(_clustered(150, 20))
    search = CellSearch(x)
    assert search.cells == 1
    heard = []
    search.ask(np.arange(3000), 10, meter=Meter(lambda done, total: heard.append(done)))
    assert len(set(heard)) > 100 and heard == sorted(heard) and heard[-1] == 1000
    meter, heard = cancelled_at(50)
    with pytest.raises(Cancelled):
        search.ask(np.arange(3000), 10, meter=meter)
    assert len(heard) == 50
