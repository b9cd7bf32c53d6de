"""Zoom-out levels past the stop (``HiLander(zoom_out=N)``, opt-in): average linkage over the default groups.

The hierarchy stops where the model predicts no more links, and that level is what the app shows. Zooming out
from it joins the groups whose photos are most alike on average first (average linkage, the heuristic whose
threshold the join floor is learned as), one level for each floor under the join floor. Judged on face
partitions never used to make it, these levels were purer than a same-count cut of the average-linkage tree on 11
of 17 (docs/hilander-ablation.md, "Zoom-out levels by average linkage over the default groups"), not often
enough for the app to ask for them.
"""

from __future__ import annotations

import heapq

import numpy as np

from ..progress import NO_METER, Meter
from .decode import group_sums, linked_group_pairs, photos_of_groups

# Pairs joined between two reports of progress.
TICK_JOINS = 1 << 12


def linkage_levels(labels: np.ndarray, x: np.ndarray, src: np.ndarray, dst: np.ndarray, floors: list[float],
                   apart: tuple[np.ndarray, np.ndarray] | None = None, meter: Meter = NO_METER
                   ) -> list[np.ndarray]:
    """Average linkage over the groups of ``labels`` (the group of each item; ``x``: the items' unit vectors),
    among pairs of groups with a link (``src``, ``dst``: item pairs, the first level's kNN links) between them:
    the pair whose items' mean similarity is highest is joined first, and a joined group's mean similarity to a
    third is recomputed from its members. For each of ``floors`` (highest first in the result), the merged group
    (0..m'-1) of each of ``labels``' groups once no linked pair reaches it. ``apart`` (items, photos): two groups
    holding items of one photo are never joined (two faces in one photo are two people)."""
    floors = sorted(floors, reverse=True)
    if not floors:
        return []
    if labels.size == 0:
        return [np.zeros(0, dtype=np.int64) for _ in floors]
    g = int(labels.max()) + 1
    vectors = group_sums(x, labels, g).astype(np.float64)
    sizes = np.bincount(labels, minlength=g).astype(np.float64)
    keys, _, _ = linked_group_pairs(labels, src, dst, g)
    lo, hi = np.divmod(keys, g)
    mean = np.einsum("ij,ij->i", vectors[lo], vectors[hi]) / (sizes[lo] * sizes[hi])
    last = floors[-1]
    keep = mean >= last
    # Lazy: a group joined since a pair was pushed makes the pair stale; it is weighed again when popped. A joined
    # group's mean to a third is a weighted mean of its parts' means, so a stale value is never below the pair's
    # current one (where each part has a link to the third) and no pair is popped later than it should be.
    version = [0] * g
    heap = [(-s, i, j, 0, 0) for s, i, j in zip(mean[keep].tolist(), lo[keep].tolist(), hi[keep].tolist())]
    heapq.heapify(heap)
    photos = photos_of_groups(labels, apart)
    owner = np.arange(g)  # each group's current merged group (the root it belongs to)
    members = {i: [i] for i in range(g)}
    out: list[np.ndarray] = []
    at = 0  # the floor being filled
    joins, planned = 0, max(1, len(heap))

    def snapshot():
        return np.unique(owner, return_inverse=True)[1]

    while heap:
        neg, i, j, vi, vj = heapq.heappop(heap)
        ri, rj = int(owner[i]), int(owner[j])
        if ri == rj:
            continue
        if (ri, rj, vi, vj) != (i, j, version[i], version[j]):  # stale: weigh the pair of roots again
            value = float(vectors[ri] @ vectors[rj]) / (sizes[ri] * sizes[rj])
            if value >= last:
                ri, rj = min(ri, rj), max(ri, rj)
                heapq.heappush(heap, (-value, ri, rj, version[ri], version[rj]))
            continue
        while at < len(floors) and -neg < floors[at]:
            out.append(snapshot())
            at += 1
        if at == len(floors):
            break
        if i in photos and j in photos and not photos[i].isdisjoint(photos[j]):
            continue  # a photo has an item in each: never (groups only grow)
        big, small = (i, j) if len(members[i]) >= len(members[j]) else (j, i)
        vectors[big] += vectors[small]
        sizes[big] += sizes[small]
        version[big] += 1
        moved = members.pop(small)
        owner[moved] = big
        members[big] += moved
        if small in photos:
            photos.setdefault(big, set()).update(photos.pop(small))
        joins += 1
        if joins % TICK_JOINS == 0:
            meter(min(0.99, joins / planned))
    while at < len(floors):
        out.append(snapshot())
        at += 1
    meter(1.0)
    return out
