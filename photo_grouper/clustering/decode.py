"""From one level's link predictions to its partition: each node keeps its best link to a denser neighbour (a
forest whose trees are the groups), held where asked by a floor on the mean similarity between the groups joined.
"""

from __future__ import annotations

import numpy as np
import torch

from .graph import ROWDOT_NUMBERS, LevelGraph, rowdot

# The tree floor (HiLander.tree_floor): a join of two sides of at least TREE_MIN_SIDE items each needs their mean
# similarity to reach the join floor less TREE_SLACK of the floor's distance (1 - floor).
TREE_MIN_SIDE = 3
TREE_SLACK = 0.125
# Lone leaves (HiLander.lone_leaves): a photo its tree holds by one link above tau is let go under the join floor
# less LONE_SLACK of the floor's distance (faces: 0.90).
LONE_SLACK = 0.25


def peak_forest(edge_index: np.ndarray, score: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """Each node i keeps at most one kept edge j -> i, the one with the highest score: its parent.
    Returns parent (n,), parent[i] == i for roots (peaks)."""
    parent = np.arange(n)
    src, dst = edge_index[0][keep], edge_index[1][keep]
    s = score[keep]
    if src.size:
        order = np.lexsort((-s, dst))  # by target, best score first
        first = np.ones(order.size, dtype=bool)
        first[1:] = dst[order][1:] != dst[order][:-1]
        chosen = order[first]
        parent[dst[chosen]] = src[chosen]
    return parent


def roots_of(parent: np.ndarray) -> np.ndarray:
    """Follow parent links to the root (terminates: parents always have strictly higher density)."""
    root = parent.copy()
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt


def decode(graph: LevelGraph, prob: np.ndarray, dens: np.ndarray, tau: float,
           allowed: np.ndarray | None = None) -> np.ndarray:
    """Keep edge j -> i when j is denser than i and the link probability passes tau (and ``allowed``, if given);
    one parent per node."""
    ei = graph.edge_index.cpu().numpy()
    keep = (dens[ei[0]] > dens[ei[1]]) & (prob > tau)
    if allowed is not None:
        keep &= allowed
    return peak_forest(ei, prob, keep, graph.num_nodes)


def group_sums(x: np.ndarray, group_of_item: np.ndarray, m: int) -> np.ndarray:
    """(m, d) float64 sum of each group's items."""
    sums = torch.zeros((m, x.shape[1]), dtype=torch.float64)
    index = torch.from_numpy(np.ascontiguousarray(group_of_item, dtype=np.int64))
    for start in range(0, x.shape[0], 1 << 16):  # a slice at a time (np.add.at took 1.7 s at 100,000)
        sums.index_add_(0, index[start:start + (1 << 16)], torch.from_numpy(x[start:start + (1 << 16)]).double())
    return sums.numpy()


def linked_group_pairs(group_of_item: np.ndarray, src: np.ndarray, dst: np.ndarray, m: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of groups (of m) with item links (``src``, ``dst``) between them: (keys lo * m + hi, each link across
    groups' key index, which links go across groups)."""
    a, b = group_of_item[src], group_of_item[dst]
    across = a != b
    key = np.minimum(a[across], b[across]).astype(np.int64) * m + np.maximum(a[across], b[across])
    keys, inverse = np.unique(key, return_inverse=True)
    return keys, inverse, across


def photos_of_groups(group_of_item: np.ndarray, apart: tuple[np.ndarray, np.ndarray] | None) -> dict[int, set[int]]:
    """The photos of each group's items kept apart (``apart``: items, photos), for the groups holding any."""
    photos: dict[int, set[int]] = {}
    if apart is not None:
        for group, photo in zip(group_of_item[apart[0]].tolist(), apart[1].tolist()):
            photos.setdefault(group, set()).add(photo)
    return photos


def group_similarity(nodes: dict, edge_index: np.ndarray) -> np.ndarray:
    """For each link between two groups, the mean similarity between their members (their average linkage):
    the cosine of the normalised mean vectors times both tightnesses (each the length of a mean vector)."""
    src, dst = edge_index
    c, t = nodes["centres"], nodes["tightness"]
    return rowdot(c, c, src, dst) * t[src] * t[dst]


def subtree_sums(parent: np.ndarray, sums: np.ndarray, sizes: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(root, below, count) of the forest ``parent``: each node's root, and the sum of item vectors (``sums``: each
    node's) and the item count (``sizes``) of the subtree under each node, itself included."""
    n = parent.shape[0]
    root, depth = parent.copy(), (parent != np.arange(n)).astype(np.int64)
    while True:  # pointer doubling: depth[i] is the number of links from i up to root[i]
        up = root[root]
        if np.array_equal(up, root):
            break
        depth += depth[root]
        root = up
    below = torch.from_numpy(np.array(sums, dtype=np.float64))  # each node's subtree sum, built bottom-up
    count = torch.from_numpy(np.array(sizes, dtype=np.float64))
    tparent = torch.from_numpy(parent.astype(np.int64))
    order = np.argsort(-depth, kind="stable")  # deepest first
    per_depth = np.bincount(depth)[::-1]
    ends = np.cumsum(per_depth)
    for start, stop in zip(ends[:-1] - per_depth[:-1], ends[:-1]):  # every depth but the roots'
        at = torch.from_numpy(order[start:stop])  # the nodes of one depth: their parents are one level up
        below.index_add_(0, tparent[at], below[at])
        count.index_add_(0, tparent[at], count[at])
    return root, below.numpy(), count.numpy()


def cut_weak_joins(parent: np.ndarray, sums: np.ndarray, sizes: np.ndarray, floor: float,
                   min_side: int = TREE_MIN_SIDE) -> np.ndarray:
    """``parent`` with the tree links cut whose two sides, the subtree below the link and the rest of its tree,
    hold at least ``min_side`` items each and a mean similarity between them under ``floor``. ``sums``: each
    node's sum of item vectors (unit vectors), ``sizes``: its item count. A link's own two ends can pass the join
    floor while the trees it joins do not: a person's few photos hung on a look-alike's at level 0, or a chain of
    joins above it (docs/hilander-ablation.md, "The floor on whole trees"). Every link is judged at once on the
    tree as decoded (cutting each tree's weakest link first and judging again was measured: lower on faces and
    species alike)."""
    root, below, count = subtree_sums(parent, sums, sizes)
    child = np.flatnonzero(parent != np.arange(parent.shape[0]))
    rest_count = count[root[child]] - count[child]
    sides = (count[child] >= min_side) & (rest_count >= min_side)
    child, rest_count = child[sides], rest_count[sides]
    # A block of links at a time: at a million photos the whole gathers were gigabytes of fresh memory, whose page
    # faults took 21-27 s against 1.8 s (2026-12-03; the same cuts).
    mean = np.empty(child.shape[0])
    step = max(1, ROWDOT_NUMBERS // below.shape[1])
    for start in range(0, child.shape[0], step):
        c = child[start:start + step]
        mine = below[c]
        mean[start:start + step] = np.einsum("ij,ij->i", mine, below[root[c]] - mine) / \
            (count[c] * rest_count[start:start + step])
    cut = child[mean < floor]
    out = parent.copy()
    out[cut] = cut
    return out


def cut_lone_leaves(parent: np.ndarray, x: np.ndarray, edge_index: np.ndarray, prob: np.ndarray, tau: float,
                    floor: float) -> np.ndarray:
    """``parent`` (level 0's forest over the unit vectors ``x``) with each leaf let go that its tree holds by one
    link alone (of its kNN links above ``tau``, either way, one reaches its tree: the one to its parent) and whose
    mean similarity to the rest of its tree is under ``floor``. A person seen once in a library has no photo of
    their own to link to, and their best link, to a look-alike, passes tau (the model never saw a person with one
    photo); a person's own odd photo is held by links to several of its own (docs/hilander-ablation.md, "A photo
    held by one link")."""
    n = parent.shape[0]
    nodes = np.arange(n)
    linked = parent != nodes
    leaf = linked & (np.bincount(parent[linked], minlength=n) == 0)
    if not leaf.any():
        return parent
    root = roots_of(parent)
    src, dst = edge_index
    held = (prob > tau) & (root[src] == root[dst]) & (src != dst) & (leaf[src] | leaf[dst])
    a = np.concatenate([src[held], dst[held]]).astype(np.int64)
    b = np.concatenate([dst[held], src[held]]).astype(np.int64)
    pairs = np.unique(a * n + b)
    support = np.bincount(pairs // n, minlength=n)
    lone = np.flatnonzero(leaf & (support <= 1))
    if not lone.size:
        return parent
    trees, of_lone = np.unique(root[lone], return_inverse=True)
    members = np.flatnonzero(np.isin(root, trees))  # only the trees holding a candidate: a few at a million
    tree_of = np.searchsorted(trees, root[members])
    sums = group_sums(x[members], tree_of, trees.size)
    sizes = np.bincount(tree_of, minlength=trees.size)
    mean = (np.einsum("ij,ij->i", sums[of_lone], x[lone]) - 1.0) / (sizes[of_lone] - 1)
    cut = lone[mean < floor]
    out = parent.copy()
    out[cut] = cut
    return out


def keep_apart(parent: np.ndarray, sums: np.ndarray, sizes: np.ndarray, node: np.ndarray, photo: np.ndarray,
               floor: float | None = None) -> np.ndarray:
    """``parent`` with tree links cut until no tree holds two of the ``node``s that share a ``photo`` (two faces
    found in one photo are two people). Each clash cuts one link on the path between the two nodes
    (``_parting_link``, judged against ``floor``, the join floor); nodes that are one node already (copies of a
    photo) are left together. ``sums``, ``sizes``: each node's sum of item vectors and item count;
    ``node``/``photo``: one entry per constrained item, its node at this level and its photo."""
    out = parent.copy()
    if node.size < 2:
        return out
    while True:  # a pass for each face of a photo more than two in one tree, at most
        tree = roots_of(out)[node]
        order = np.lexsort((node, tree, photo))
        a, b = node[order][:-1], node[order][1:]
        clash = (photo[order][1:] == photo[order][:-1]) & (tree[order][1:] == tree[order][:-1]) & (a != b)
        if not clash.any():
            return out
        _, below, count = subtree_sums(out, sums, sizes)  # only where there is a clash (a million nodes: ~1 s)
        for u, v in zip(a[clash].tolist(), b[clash].tolist()):
            up_u, up_v = _path_to_root(out, u), _path_to_root(out, v)
            if up_u[-1] != up_v[-1]:
                continue  # an earlier cut in this pass parted them
            on_v = set(up_v)
            meet = next(w for w in up_u if w in on_v)
            # The path's links, each named by its lower end: u's side up to the meeting node, then v's.
            links = np.array(up_u[:up_u.index(meet)] + up_v[:up_v.index(meet)])
            cut = _parting_link(links, below, count, up_u[-1], floor)
            above = np.array(_path_to_root(out, int(out[cut])))  # the cut takes its subtree from these
            below[above] -= below[cut]
            count[above] -= count[cut]
            out[cut] = cut


def _parting_link(links: np.ndarray, below: np.ndarray, count: np.ndarray, top: int, floor: float | None) -> int:
    """Of the tree links ``links`` (each named by its lower end; ``top``: their tree's root), the one whose two
    sides, the subtree below it and the rest of its tree, weigh most against being one group: the sum over the
    pairs of items across it of their similarity less ``floor`` (average linkage's objective at the join floor;
    without a floor, the lowest mean similarity between the sides). Chosen against the least alike sides and
    the fewest items parted on clashes made from strays (docs/hilander-ablation.md, "Faces of one photo kept
    apart")."""
    rest = below[top] - below[links]
    pairs = count[links] * (count[top] - count[links])
    total = np.einsum("ij,ij->i", below[links], rest)
    weight = total / pairs if floor is None else total - floor * pairs
    return int(links[np.lexsort((links, weight))[0]])


def _path_to_root(parent: np.ndarray, node: int) -> list[int]:
    path = [node]
    while parent[path[-1]] != path[-1]:
        path.append(int(parent[path[-1]]))
    return path
