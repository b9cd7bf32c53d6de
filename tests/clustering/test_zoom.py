import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage

from photo_grouper.clustering.knn import l2_normalise
from photo_grouper.clustering.metrics import evaluate
from photo_grouper.clustering.zoom import linkage_levels


def _all_pairs(n):
    src, dst = np.triu_indices(n, 1)
    return src, dst


def _same_partition(a, b):
    return evaluate(a, b)["fp"] == pytest.approx(1.0) and len(np.unique(a)) == len(np.unique(b))


@pytest.mark.parametrize("seed", range(5))
def test_on_single_items_with_every_pair_linked_it_is_average_linkage(seed):
    # Every item a group of its own and every pair linked: the levels are SciPy's average-linkage tree (cosine
    # distance, 1 - similarity) cut at 1 - floor.
    rng = np.random.default_rng(seed)
    centres = l2_normalise(rng.normal(size=(6, 16)))
    x = l2_normalise(np.repeat(centres, 8, axis=0) + 0.35 * rng.normal(size=(48, 16)))
    floors = [0.8, 0.6, 0.4, 0.2]
    src, dst = _all_pairs(len(x))
    levels = linkage_levels(np.arange(len(x)), x, src, dst, floors)
    tree = linkage(x, method="average", metric="cosine")
    assert len(levels) == len(floors)
    for floor, merged in zip(floors, levels):
        expected = fcluster(tree, t=1.0 - floor, criterion="distance")
        assert _same_partition(expected, merged), floor


def test_levels_coarsen_and_start_from_the_groups_given():
    rng = np.random.default_rng(3)
    x = l2_normalise(rng.normal(size=(60, 8)))
    labels = np.arange(60) % 20  # 20 groups of 3
    src, dst = _all_pairs(60)
    levels = linkage_levels(labels, x, src, dst, [0.3, 0.1, -0.1, -1.0])
    previous = np.arange(20)
    for merged in levels:
        assert merged.shape == (20,)
        # Each level joins whole groups of the one before.
        for group in np.unique(previous):
            assert len(np.unique(merged[previous == group])) == 1
        previous = merged
    assert previous.max() == 0  # at a floor of -1 every linked group joins


def test_groups_without_a_link_between_them_stay_apart():
    x = l2_normalise(np.array([[1.0, 0.0], [1.0, 0.01], [1.0, 0.02], [1.0, 0.03]]))
    labels = np.array([0, 1, 2, 3])
    # Links 0-1 and 2-3 only: 1 and 2 are as alike, but nothing links them.
    levels = linkage_levels(labels, x, np.array([0, 2]), np.array([1, 3]), [0.5])
    assert levels[0].tolist() == [0, 0, 1, 1]


def test_items_of_one_photo_never_share_a_group():
    rng = np.random.default_rng(0)
    x = l2_normalise(np.ones((6, 4)) + 0.01 * rng.normal(size=(6, 4)))
    src, dst = _all_pairs(6)
    # Items 0 and 5 were found in one photo: at any floor they end apart; the rest join one of them.
    merged = linkage_levels(np.arange(6), x, src, dst, [-1.0], apart=(np.array([0, 5]), np.array([7, 7])))[0]
    assert merged[0] != merged[5]
    assert len(np.unique(merged)) == 2


def test_floors_are_taken_highest_first_and_none_gives_none():
    x = l2_normalise(np.eye(3) + 0.5)
    src, dst = _all_pairs(3)
    assert linkage_levels(np.arange(3), x, src, dst, []) == []
    low_first = linkage_levels(np.arange(3), x, src, dst, [-1.0, 0.99])
    assert low_first[0].max() == 2 and low_first[1].max() == 0


def test_no_items_give_empty_levels():
    empty = np.zeros(0, dtype=np.int64)
    levels = linkage_levels(empty, np.zeros((0, 4), np.float32), empty, empty, [0.9, 0.8])
    assert [level.shape for level in levels] == [(0,), (0,)]
