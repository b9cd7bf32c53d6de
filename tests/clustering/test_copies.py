import numpy as np
import pytest

from photo_grouper.clustering.copies import compose, exact_copies, knn_without_near_copies, near_copies
from photo_grouper.clustering.knn import exact_knn, l2_normalise, recall_at_k


def test_exact_copies_lists_first_copies_in_input_order():
    x = np.array([[1, 0], [0, 1], [1, 0], [2, 2], [0, 1], [1, 0]], dtype=np.float32)
    first, position = exact_copies(x)
    assert first.tolist() == [0, 1, 3] and position.tolist() == [0, 1, 0, 2, 1, 0]
    assert np.array_equal(x[first][position], x)
    assert exact_copies(x[:2]) is None and exact_copies(x[:1]) is None


def test_exact_copies_are_rows_of_the_same_bytes_even_where_hashes_collide(monkeypatch):
    """The rows' hashes only propose sets: rows are compared byte for byte, and a hash shared by rows that differ
    falls back to comparing whole rows. -0.0 and 0.0 differ in their bytes, so they are not copies."""
    import photo_grouper.clustering.copies as copies_module

    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 7)).astype(np.float32)  # 28 bytes a row: 32-bit words
    source = rng.choice(500, 40)
    x = np.concatenate([x, x[source], np.array([[0.0] * 7, [-0.0] + [0.0] * 6], dtype=np.float32)])
    rows = x.view(np.dtype((np.void, x.itemsize * x.shape[1]))).ravel()
    _, expected_first = np.unique(rows, return_index=True)
    for hashes in (copies_module._row_hashes, lambda x: np.zeros(x.shape[0], np.uint64)):  # real, all colliding
        monkeypatch.setattr(copies_module, "_row_hashes", hashes)
        first, position = exact_copies(x)
        assert np.array_equal(first, np.sort(expected_first)) and np.array_equal(x[first][position], x)
    odd = np.arange(15, dtype=np.uint8).reshape(5, 3)  # 3 bytes a row: compared byte by byte
    first, position = exact_copies(np.concatenate([odd, odd[:2]]))
    assert first.tolist() == [0, 1, 2, 3, 4] and position.tolist() == [0, 1, 2, 3, 4, 0, 1]


def test_compose_maps_copies_of_copies_to_the_original_items():
    outer = (np.array([0, 1, 3]), np.array([0, 1, 0, 2, 1, 0]))  # items 2 and 5 copy 0, 4 copies 1
    inner = (np.array([0, 2]), np.array([0, 0, 1]))  # among 0, 1, 3: 1 copies 0
    first, position = compose(outer, inner)
    assert first.tolist() == [0, 3] and position.tolist() == [0, 0, 0, 1, 0, 0]
    assert compose(None, inner) is inner and compose(outer, None) is outer


def _with_near_copies(n, dim, seed, sets, noise, clustered=False):
    """n random items (``clustered``: around n / 20 random centres), then ``sets`` of near copies (0 to 40
    each) of some of them, slightly moved."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    if clustered:  # searching in cells needs clusters: uniformly random items go to hnswlib
        x = rng.standard_normal((n // 20, dim))[rng.integers(0, n // 20, n)] + 0.3 * x
    x = l2_normalise(x)
    copied = rng.choice(n, sets, replace=False)
    source = np.repeat(copied, rng.integers(0, 41, sets))
    extra = l2_normalise(x[source] + noise * rng.standard_normal((source.size, dim)))
    return np.concatenate([x, extra]), np.concatenate([np.arange(n), source])


def test_near_copies_are_joined_and_others_kept_apart():
    x, source = _with_near_copies(500, 32, 0, 20, 0.01)  # copies at cosine about 0.998
    graph = exact_knn(x, 10)
    first, position = near_copies(graph, x, 0.99)
    assert first.tolist() == list(range(500))  # the originals come first
    assert np.array_equal(position, source)  # every copy found, nothing else joined
    assert near_copies(exact_knn(x[:500], 10), x[:500], 0.99) is None


def test_a_chain_of_alike_items_is_not_one_set():
    """Five items 7 degrees apart in turn (cosine 0.9925 to the next, 0.970 to the one after): each set holds the
    items alike to its first, and what is left forms sets again."""
    angles = np.radians(7.0 * np.arange(5))
    chain = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x = np.zeros((25, 24), dtype=np.float32)
    x[:5, :2] = chain
    x[5:, 2:] = l2_normalise(np.random.default_rng(0).standard_normal((20, 22)))  # unrelated items
    first, position = near_copies(exact_knn(x, 4), x, 0.99)
    assert position[:5].tolist() == [0, 0, 1, 1, 2] and first[:3].tolist() == [0, 2, 4]
    assert first[3:].tolist() == list(range(5, 25))


@pytest.mark.parametrize("method", ["exact", "cells", "hnsw"])
def test_knn_without_near_copies_is_the_knn_of_the_originals(method):
    x, source = _with_near_copies(3000, 32, 1, 60, 0.01, clustered=method == "cells")
    graph, copies = knn_without_near_copies(x, 10, 0.99, method=method)
    assert copies is not None and np.array_equal(copies[1], source)
    assert graph.indices.shape == (3000, 10)
    # Exact: every row as exact search over the originals (ties aside); cells, hnswlib: their usual recall.
    assert recall_at_k(graph, exact_knn(x[:3000], 10)) >= (0.999 if method == "exact" else 0.95)
    plain, none = knn_without_near_copies(x[:3000], 10, 0.99, method=method)
    assert none is None and recall_at_k(plain, exact_knn(x[:3000], 10)) >= (0.999 if method == "exact" else 0.95)


def test_a_cancel_is_heard_before_the_index_is_built(monkeypatch):
    """At a million photos the locality order and building hnswlib's first chunk take seconds: a cancel set by
    then stops the search before the index is built."""
    import threading

    import photo_grouper.clustering.copies as copies_module
    import photo_grouper.clustering.knn as knn_module
    from photo_grouper.progress import Cancelled, Meter

    import hnswlib

    added, cancel = [], threading.Event()
    real_order, real_index = knn_module.locality_order, hnswlib.Index

    class Index(real_index):  # hnswlib's own index, noting every chunk put in
        def add_items(self, *args, **kwargs):
            added.append(1)
            return super().add_items(*args, **kwargs)

    monkeypatch.setattr(hnswlib, "Index", Index)
    monkeypatch.setattr(knn_module, "locality_order", lambda x: (cancel.set(), real_order(x))[1])  # pressed
    x, _ = _with_near_copies(3000, 32, 1, 60, 0.01)
    with pytest.raises(Cancelled):
        copies_module.knn_without_near_copies(x, 10, 0.99, method="hnsw", meter=Meter(cancel=cancel))
    assert not added


@pytest.mark.parametrize("method", ["cells", "hnsw"])
def test_searches_again_only_where_a_copy_was_taken_out(monkeypatch, method):
    """Past the exact-search size the cells (or hnswlib's index) are searched again for the stale rows alone,
    with the copies no longer answering (their own rows included)."""
    import photo_grouper.clustering.cells as cells_module
    import photo_grouper.clustering.copies as copies_module
    import photo_grouper.clustering.knn as knn_module

    monkeypatch.setattr(copies_module, "EXACT_MAX_N_CPU", 100)
    asked = []
    if method == "hnsw":
        real = knn_module.hnsw_query
        monkeypatch.setattr(knn_module, "hnsw_query", lambda index, q, ids, k, **kw: (
            asked.append(ids.size), real(index, q, ids, k, **kw))[1])  # the first search, then the search again
    else:
        real = cells_module.CellSearch.ask
        monkeypatch.setattr(cells_module, "CELL_SIZE", 300)
        monkeypatch.setattr(cells_module.CellSearch, "ask", lambda self, rows, *a, **kw: (
            asked.append(rows.size), real(self, rows, *a, **kw))[1])
    x, source = _with_near_copies(3000, 32, 2, 60, 0.01, clustered=method == "cells")
    graph, copies = copies_module.knn_without_near_copies(x, 10, 0.99, method=method)
    assert np.array_equal(copies[1], source)
    if method == "cells":
        assert asked.pop(0) == cells_module.CELL_CHECK_QUERIES  # the recall check
    assert asked[0] == x.shape[0] and 60 <= asked[1] < 1000  # every item once, then the stale rows only
    assert graph.indices.max() < 3000 and recall_at_k(graph, exact_knn(x[:3000], 10)) >= 0.95


def test_scale_bench_adds_near_copies_and_clusters_them_once(capsys):
    from photo_grouper.bench.scale import main

    assert main(["--n", "3000", "--copies", "0.05", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    added = int(out.split(" near copies)")[0].split("(")[-1])
    assert 150 <= added <= 1500 and f"; {added} items clustered as copies" in out
    assert main(["--n", "3000", "--copies", "0.05", "--threads", "1", "--near-copy", "0"]) == 0
    assert "; 0 items clustered as copies" in capsys.readouterr().out
