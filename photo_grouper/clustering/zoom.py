"""Zoom-out levels past the stop (``HiLander(zoom_out=N)``; the app asks for ``ZOOM_OUT[mode]``): the default
groups joined two at a time, the pair whose join costs the fewest expected wrong pairs first.

The hierarchy stops where the model predicts no more links, and that level is what the app shows. Zooming out
from it has to join groups, and every join of two people costs pairwise precision |A| |B| pairs: joining first
what is cheapest (a stray photo or a small piece to the group it most likely belongs to, before two large groups)
kept the zoom-out levels purer than a same-count cut of the average-linkage tree on 24 of 24 levels of face
partitions never used to make it (docs/hilander-ablation.md, "Zoom-out levels that join the cheapest pairs
first"). Three rules before it, joining the groups most alike first (the last of them average linkage over the
default groups), stayed purer on too few levels.
"""

from __future__ import annotations

import heapq

import numpy as np

from ..progress import NO_METER, Meter
from .decode import group_sums, linked_group_pairs, photos_of_groups

# How many zoom-out levels the app stores above the default one (grouping.cluster_library), step s with s * 10%
# fewer groups (hilander.ZOOM_STEP). Each mode's count was judged on partitions never used before (faces above;
# species: docs/hilander-ablation.md, "Zoom-out levels for species").
ZOOM_OUT = {"faces": 4, "species": 4}


def zoom_out_levels(mode: str, card: dict) -> int:
    """How many zoom-out levels the app makes with weights of this ``card``: ``ZOOM_OUT[mode]``, where the card
    has a join floor to weigh the joins against (weights trained before join floors have none)."""
    return ZOOM_OUT.get(mode, 0) if card.get("join_floor") is not None else 0


# Pairs joined between two reports of progress.
TICK_JOINS = 1 << 12


# The temperature of the chance that two groups are one person, from their mean photo similarity s against the
# join floor (cheapest_levels): p = 1 / (1 + exp(-(s - floor) / ZOOM_TEMPERATURE)).
ZOOM_TEMPERATURE = 0.02


def cheapest_levels(labels: np.ndarray, x: np.ndarray, src: np.ndarray, dst: np.ndarray, fewer: list[int],
                    floor: float, apart: tuple[np.ndarray, np.ndarray] | None = None, meter: Meter = NO_METER
                    ) -> list[np.ndarray]:
    """Joins of the groups of ``labels`` (the group of each item; ``x``: the items' unit vectors), two at a time
    among pairs with a link (``src``, ``dst``: item pairs, the first level's kNN links) between them, always the
    pair whose join costs the fewest expected wrong pairs: |A| |B| (1 - p), p the chance they are one person from
    their items' mean similarity against ``floor`` (``ZOOM_TEMPERATURE``). Pairwise precision counts pairs, so a
    stray photo or a small piece is joined where it most likely belongs before two large groups are. For each of
    ``fewer`` (ascending joins made), the merged group (0..m'-1) of each of ``labels``' groups once that many
    joins are made; fewer levels where the links run out first. ``apart`` (items, photos): two groups holding
    items of one photo are never joined. Judged on face partitions never used to make it: purer than a same-count
    cut of the average-linkage tree on 24 of 24 zoom-out levels (docs/hilander-ablation.md, "Zoom-out levels that
    join the cheapest pairs first")."""
    fewer = sorted(f for f in fewer if f > 0)
    if labels.size == 0 or not fewer:
        return []
    g = int(labels.max()) + 1
    vectors = group_sums(x, labels, g).astype(np.float64)
    sizes = np.bincount(labels, minlength=g).astype(np.float64)
    keys, _, _ = linked_group_pairs(labels, src, dst, g)
    lo, hi = np.divmod(keys, g)
    neighbours: dict[int, set[int]] = {}
    for a, b in zip(lo.tolist(), hi.tolist()):
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)

    def costs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """|A| |B| (1 - p) for each pair (a, b), p from their items' mean similarity against the floor."""
        pairs = sizes[a] * sizes[b]
        mean = np.einsum("ij,ij->i", vectors[a], vectors[b]) / pairs
        return pairs / (1.0 + np.exp(np.minimum((mean - floor) / ZOOM_TEMPERATURE, 700.0)))

    # Every pair touching a joined group is pushed again with its new cost (a join can lower a cost as well as
    # raise it), and the entries of the groups before the join are dropped when popped (their version is old).
    version = [0] * g
    heap = [(c, a, b, 0, 0) for c, a, b in zip(costs(lo, hi).tolist(), lo.tolist(), hi.tolist())]
    heapq.heapify(heap)
    photos = photos_of_groups(labels, apart)
    owner = np.arange(g)
    members = {i: [i] for i in range(g)}
    out: list[np.ndarray] = []
    joins = 0
    while heap and len(out) < len(fewer):
        _, i, j, vi, vj = heapq.heappop(heap)
        if i not in members or j not in members or (vi, vj) != (version[i], version[j]):
            continue  # a group joined since: its pairs were pushed again
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
        around = (neighbours.pop(big, set()) | neighbours.pop(small, set())) - {big, small}
        neighbours[big] = around
        if around:
            others = np.fromiter(around, dtype=np.int64, count=len(around))
            for c, cost in zip(others.tolist(), costs(np.full(len(others), big), others).tolist()):
                neighbours[c].discard(small)
                neighbours[c].add(big)
                a, b = min(big, c), max(big, c)
                heapq.heappush(heap, (cost, a, b, version[a], version[b]))
        joins += 1
        while len(out) < len(fewer) and joins == fewer[len(out)]:
            out.append(np.unique(owner, return_inverse=True)[1])
        if joins % TICK_JOINS == 0:
            meter(min(0.99, joins / fewer[-1]))
    meter(1.0)
    return out
