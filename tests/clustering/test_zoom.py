"""Zoom-out levels past the stop: the default groups joined two at a time, the cheapest join first."""

import numpy as np
import pytest

from photo_grouper.clustering.knn import l2_normalise
from photo_grouper.clustering.zoom import cheapest_levels


def _all_pairs(n):
    src, dst = np.triu_indices(n, 1)
    return src, dst


def _on_a_circle(degrees):
    angles = np.radians(np.asarray(degrees, dtype=float))
    return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


def test_levels_make_the_joins_asked_and_coarsen_the_groups_given():
    rng = np.random.default_rng(3)
    x = l2_normalise(rng.normal(size=(60, 8)))
    labels = np.arange(60) % 20  # 20 groups of 3
    src, dst = _all_pairs(60)
    levels = cheapest_levels(labels, x, src, dst, [12, 2, 5], floor=0.2)  # any order: taken ascending
    previous = np.arange(20)
    for merged, joins in zip(levels, [2, 5, 12]):
        assert merged.shape == (20,) and merged.max() + 1 == 20 - joins
        # Each level joins whole groups of the one before.
        for group in np.unique(previous):
            assert len(np.unique(merged[previous == group])) == 1
        previous = merged


def test_a_stray_item_joins_before_two_large_groups_do():
    """Two groups of ten, alike (mean similarity above the floor), and one item as alike to the second as the two
    groups are to each other: joining the groups risks 100 pairs, the item 10, so the item joins first (average
    linkage would take either first: the similarities are equal)."""
    x = np.concatenate([_on_a_circle(np.zeros(10)), _on_a_circle(np.full(10, 20.0)), _on_a_circle([40.0])])
    labels = np.repeat([0, 1, 2], [10, 10, 1])
    # cos 20 = 0.94 between neighbours (0 and 20 degrees, 20 and 40), cos 40 = 0.77 from the first group to the item.
    src, dst = _all_pairs(21)
    first, second = cheapest_levels(labels, x, src, dst, [1, 2], floor=0.8)
    assert first.tolist()[1] == first.tolist()[2] != first.tolist()[0]
    assert second.max() == 0


def test_cost_weighs_the_chance_of_one_person_against_the_floor():
    """Three single items: with a floor below both similarities the nearer pair joins first (its chance is
    higher); what decides is size times the chance of two people, so at equal sizes the nearer pair wins."""
    x = _on_a_circle([0.0, 10.0, 35.0])
    src, dst = _all_pairs(3)
    (merged,) = cheapest_levels(np.arange(3), x, src, dst, [1], floor=0.9)
    assert merged.tolist() == [0, 0, 1]


def test_groups_without_a_link_between_them_stay_apart_and_the_levels_end_early():
    x = l2_normalise(np.array([[1.0, 0.0], [1.0, 0.01], [1.0, 0.02], [1.0, 0.03]]))
    labels = np.array([0, 1, 2, 3])
    # Links 0-1 and 2-3 only: 1 and 2 are as alike, but nothing links them; a third join has no link left.
    levels = cheapest_levels(labels, x, np.array([0, 2]), np.array([1, 3]), [1, 2, 3], floor=0.5)
    assert len(levels) == 2 and levels[1].tolist() == [0, 0, 1, 1]


def test_items_of_one_photo_never_share_a_group():
    rng = np.random.default_rng(0)
    x = l2_normalise(np.ones((6, 4)) + 0.01 * rng.normal(size=(6, 4)))
    src, dst = _all_pairs(6)
    # Items 0 and 5 were found in one photo: they end apart however many joins are asked; the rest join one of them.
    levels = cheapest_levels(np.arange(6), x, src, dst, [4, 5], floor=0.5, apart=(np.array([0, 5]), np.array([7, 7])))
    assert len(levels) == 1
    assert levels[0][0] != levels[0][5] and len(np.unique(levels[0])) == 2


@pytest.mark.parametrize("fewer", [[], [0]])
def test_no_join_asked_or_no_items_give_no_levels(fewer):
    x = l2_normalise(np.eye(3) + 0.5)
    src, dst = _all_pairs(3)
    assert cheapest_levels(np.arange(3), x, src, dst, fewer, floor=0.5) == []
    empty = np.zeros(0, dtype=np.int64)
    assert cheapest_levels(empty, np.zeros((0, 4), np.float32), empty, empty, [1, 2], floor=0.5) == []
