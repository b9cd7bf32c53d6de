"""What the first level's photo-to-photo links say about joining groups: the evidence that the upper levels' joins
and the merge level are weighed against.
"""

from __future__ import annotations

import numpy as np

from ..progress import NO_METER, Meter
from .decode import group_sums, linked_group_pairs, photos_of_groups
from .graph import LevelGraph

# Pairs popped from the merge's heap between two reports of progress (at a million photos about 0.3 s apart).
MERGE_TICK_POPS = 1 << 16


class LinkEvidence:
    """What the first level's links say about joining two groups of items: the sum over the kNN links between
    them of logit(p) - logit(boundary), the change a join makes to ``agreement``. Above level 0 a link joins
    whole groups on their summary features, and a group of one person could join a look-alike's although the
    photo-to-photo links between them say no (measured on unseen people: the wrong joins had sums of -129, the
    right ones +106 to +116; docs/hilander-ablation.md, "Upper-level joins checked against the photo links").
    Both uses are opt-in: judged on partitions not used to make them, they joined breeds at the species models'
    low tau (hence the floor, ``HiLander.evidence_floor``) and, with it, look-alikes on a face fold whose trained
    tau is 0.4 (docs/hilander-ablation.md, "The link rules with a floor of 0.5").
    Kept compact (int32 ends, float32 terms): at a million photos the first level has ten million links."""

    def __init__(self, graph: LevelGraph, prob: np.ndarray, boundary: float):
        src, dst = graph.edge_index.cpu().numpy()
        self.src, self.dst = src.astype(np.int32), dst.astype(np.int32)
        self.terms = link_log_odds(prob, boundary).astype(np.float32)
        self.boundary = boundary

    def _pair_sums(self, node_of_item: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys lo * m + hi, sums) for every pair of groups lo < hi with first-level links between them."""
        keys, inverse, across = linked_group_pairs(node_of_item, self.src, self.dst, m)
        return keys, np.bincount(inverse, weights=self.terms[across], minlength=keys.size)

    def between(self, node_of_item: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """For each column (a, b) of ``pairs``, the sum over first-level links between a's and b's items (0 when
        there are none)."""
        m = max(int(node_of_item.max()) + 1, int(pairs.max(initial=0)) + 1)
        keys, sums = self._pair_sums(node_of_item, m)
        query = np.minimum(pairs[0], pairs[1]).astype(np.int64) * m + np.maximum(pairs[0], pairs[1])
        out = np.zeros(query.shape, dtype=np.float64)
        if keys.size:
            at = np.minimum(np.searchsorted(keys, query), keys.size - 1)
            found = keys[at] == query
            out[found] = sums[at[found]]
        return out

    def merge(self, labels: np.ndarray, x: np.ndarray | None = None, floor: float | None = None,
              meter: Meter = NO_METER, apart: tuple[np.ndarray, np.ndarray] | None = None,
              refused: set | None = None) -> np.ndarray:
        """Groups joined greedily while a join raises ``agreement``: the pair whose first-level links between them
        sum highest is joined first, and sums add up as groups join (a group's sum with a third is its parts'),
        so a chain of positive pairs does not pull in a group that the joined whole's links speak against.
        With ``floor`` (and the items' unit vectors ``x``), a join also needs the mean similarity between the two
        groups' items to reach it, as every join above level 0 does (``HiLander.join_floor``); a pair held back
        by it is tried again when either side grows. ``meter`` hears it every ``MERGE_TICK_POPS`` pairs taken from
        the heap (a cancel is heard there: a million photos pop some 2 million). ``apart`` (items, photos): two
        groups holding items of one photo are never joined (two faces in one photo are two people); ``refused``, if
        given, gets each such pair of (merged) groups whose join the links spoke for.
        Returns the merged group (0..m'-1) of each of ``labels``' groups."""
        import heapq

        g = int(labels.max()) + 1
        keys, sums = self._pair_sums(labels, g)
        # Only a group in some positive pair can join: a group's sum with a joined whole is its parts' sums, so
        # one with no positive pair never gets one. Pairs touching such a group are left out (exact).
        lo, hi = np.divmod(keys, g)
        active = np.zeros(g, dtype=bool)
        active[lo[sums > 0]] = active[hi[sums > 0]] = True
        both = active[lo] & active[hi]
        lo, hi, sums = lo[both], hi[both], sums[both]
        if floor is not None:  # each group's vector sum and size, updated as groups join
            vectors = group_sums(x, labels, g)
            sizes = np.bincount(labels, minlength=g).astype(float)
        adjacent: dict[int, dict[int, float]] = {i: {} for i in np.flatnonzero(active).tolist()}
        heap = []
        for i, j, total in zip(lo.tolist(), hi.tolist(), sums.tolist()):
            adjacent[i][j] = adjacent[j][i] = total
            if total > 0:
                heap.append((-total, i, j))
        heapq.heapify(heap)
        meter(0.3)
        # A hot loop (at a million photos, 2.2 million pops for 49,000 joins, most of them stale): plain lists
        # and local names rather than NumPy scalars.
        pop, push = heapq.heappop, heapq.heappush
        owner = list(range(g))  # each group's current merged group (a root of itself)
        members = {i: [i] for i in adjacent}
        held: dict[int, set[int]] = {}  # each group's partners held back by the floor
        photos = photos_of_groups(labels, apart)  # the photos of each group's items kept apart
        pops, share = 0, 0.0
        while heap:
            neg, i, j = pop(heap)
            pops += 1
            if pops % MERGE_TICK_POPS == 0:
                # Popped against what is left: a guess, as joins push pairs, and kept from going back.
                share = max(share, pops / (pops + len(heap)))
                meter(0.3 + 0.7 * share)
            if owner[i] != i or owner[j] != j or adjacent[i].get(j) != -neg:
                continue  # stale: one side has joined another, or the sum has changed since
            if floor is not None and vectors[i] @ vectors[j] < floor * sizes[i] * sizes[j]:
                held.setdefault(i, set()).add(j)  # the links speak for it, the photos' mean similarity does not
                held.setdefault(j, set()).add(i)
                continue
            if i in photos and j in photos and not photos[i].isdisjoint(photos[j]):
                if refused is not None:
                    refused.add((i, j))
                continue  # a photo has a face in each: never (groups only grow, so no retry)
            big, small = (i, j) if len(members[i]) >= len(members[j]) else (j, i)
            if floor is not None:
                vectors[big] += vectors[small]
                sizes[big] += sizes[small]
            near_big = adjacent[big]
            del near_big[small]
            for other, total in adjacent.pop(small).items():
                if other == big:
                    continue
                new = near_big.get(other, 0.0) + total
                near_big[other] = new
                near_other = adjacent[other]
                near_other[big] = new
                del near_other[small]
                if new > 0:
                    push(heap, (-new, big, other) if big < other else (-new, other, big))
            moved = members.pop(small)
            for item in moved:
                owner[item] = big
            members[big] += moved
            if small in photos:
                photos.setdefault(big, set()).update(photos.pop(small))
            # The whole's mean similarity differs from its parts': pairs held back by the floor are tried again.
            for other in {owner[o] for o in held.pop(big, set()) | held.pop(small, set())} - {big}:
                total = near_big.get(other, 0.0)
                if total > 0:
                    push(heap, (-total, big, other) if big < other else (-total, other, big))
        _, merged = np.unique(owner, return_inverse=True)
        return merged

    def allows(self, node_of_item: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Joins the first level's links do not speak against (no links between the groups: no objection)."""
        return self.between(node_of_item, pairs) >= 0


def agreement(graph: LevelGraph, prob: np.ndarray, labels: np.ndarray, boundary: float = 0.5) -> float:
    """How well a partition of the items agrees with the first level's link predictions: the sum over the kNN
    links inside its groups of logit(p) - logit(boundary) (a link between groups counts 0). Joining two groups
    adds their links' terms, so a join the links between them speak against lowers it. ``boundary`` is the
    probability that counts as undecided: 0.5, or the model's own tau, where it joins on validation people."""
    src, dst = graph.edge_index.cpu().numpy()
    inside = labels[src] == labels[dst]
    return float(link_log_odds(prob[inside], boundary).sum())


def link_log_odds(prob: np.ndarray, boundary: float) -> np.ndarray:
    """logit(p) - logit(boundary) for each link (both kept off 0 and 1): how much it speaks for joining its ends."""
    p = np.clip(prob, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p)) - _logit(boundary)


def _logit(boundary: float) -> float:
    b = min(max(boundary, 1e-4), 1 - 1e-4)
    return float(np.log(b / (1 - b)))
