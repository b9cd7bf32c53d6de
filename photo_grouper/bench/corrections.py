"""How many corrections a user needs, with and without the hierarchy.

    python -m photo_grouper.bench.corrections ../shared/data/faces-celeba [--mode faces] [--target 0.99]

A simulated user starts from Hi-LANDER's groups of labelled photos (by default the identities the shipped weights
never saw) and repeatedly makes the single correction that raises BCubed F the most, until it reaches the target:

- hierarchy-aware: starts at the level the app shows; may merge two groups, split a group by moving some of its
  finer sub-groups (the hierarchy's finest level inside it) to another or a new group, or move one face;
- flat: starts at the finest level; may only merge two groups or move one face.

Each counts as one operation, as a drag or a menu action in the app does. The difference is what the zoomable
hierarchy saves.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np


def bcubed_f(truth: np.ndarray, labels: np.ndarray) -> float:
    pairs, counts = np.unique(np.stack([labels, truth]), axis=1, return_counts=True)
    _, cluster_size = np.unique(labels, return_counts=True)
    size_of_cluster = dict(zip(np.unique(labels).tolist(), cluster_size.tolist()))
    size_of_class = Counter(truth.tolist())
    n = len(truth)
    p = sum(c * c / size_of_cluster[k] for (k, _), c in zip(pairs.T.tolist(), counts.tolist())) / n
    r = sum(c * c / size_of_class[t] for (_, t), c in zip(pairs.T.tolist(), counts.tolist())) / n
    return 2 * p * r / (p + r)


def _majority(truth, labels) -> dict[int, int]:
    votes: dict[int, Counter] = defaultdict(Counter)
    for c, t in zip(labels.tolist(), truth.tolist()):
        votes[c][t] += 1
    return {c: v.most_common(1)[0][0] for c, v in votes.items()}


def candidates(truth: np.ndarray, labels: np.ndarray, finest: np.ndarray | None, limit: int = 60):
    """Corrections worth trying now, as (kind, new labels)."""
    major = _majority(truth, labels)
    sizes = Counter(labels.tolist())
    by_label: dict[int, list[int]] = defaultdict(list)
    for c, t in major.items():
        by_label[t].append(c)
    out = []
    fresh = int(labels.max()) + 1
    # Merge the two largest groups that are mostly the same person.
    for groups in by_label.values():
        if len(groups) > 1:
            a, b = sorted(groups, key=lambda c: -sizes[c])[:2]
            out.append(("merge", sizes[a] * sizes[b], np.where(labels == b, a, labels)))
    # Move one face that is not its group's person to the largest group of its person (or alone).
    wrong = np.flatnonzero(truth != np.array([major[c] for c in labels.tolist()]))
    for i in wrong.tolist():
        home = max(by_label.get(int(truth[i]), []), key=lambda c: sizes[c], default=None)
        new = labels.copy()
        new[i] = home if home is not None else fresh
        out.append(("move", sizes.get(home, 1), new))
    # Split: move the finer sub-groups of a group that are mostly another person to that person's group.
    if finest is not None:
        for c in set(labels.tolist()):
            inside = labels == c
            subs = set(finest[inside].tolist())
            if len(subs) < 2:
                continue
            sub_major = _majority(truth[inside], finest[inside])
            for person in set(sub_major.values()) - {major[c]}:
                chosen = inside & np.isin(finest, [s for s, p in sub_major.items() if p == person])
                home = max((g for g in by_label.get(person, []) if g != c), key=lambda g: sizes[g], default=None)
                new = labels.copy()
                new[chosen] = home if home is not None else fresh
                out.append(("split", int(chosen.sum()), new))
    out.sort(key=lambda o: -o[1])
    return [(kind, new) for kind, _, new in out[:limit]]


def simulate(truth: np.ndarray, start: np.ndarray, finest: np.ndarray | None, target: float = 0.99,
             max_ops: int = 5000) -> tuple[int, float, Counter]:
    """Greedy corrections until BCubed F >= target; returns (operations, final F, operations by kind)."""
    labels = np.unique(start, return_inverse=True)[1].ravel()
    score = bcubed_f(truth, labels)
    ops: Counter = Counter()
    while score < target and sum(ops.values()) < max_ops:
        best = None
        for kind, new in candidates(truth, labels, finest):
            s = bcubed_f(truth, new)
            if best is None or s > best[0]:
                best = (s, kind, new)
        if best is None or best[0] <= score:
            break
        score, kind, labels = best[0], best[1], np.unique(best[2], return_inverse=True)[1].ravel()
        ops[kind] += 1
    return sum(ops.values()), score, ops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m photo_grouper.bench.corrections",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--mode", choices=["faces", "species"], default="faces")
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--all", action="store_true", help="every labelled identity, not only the held-out ones")
    args = parser.parse_args(argv)

    from ..bench.quality import split_for_weights
    from ..clustering.copies import NEAR_COPY
    from ..clustering.hilander import HiLander
    from ..clustering.weights import default_weights, load_weights
    from ..labelled import embed_labelled
    from ..vision import EncoderSpec

    data = embed_labelled(args.data, EncoderSpec.of(args.mode))
    weights = default_weights(args.mode)
    model, card = load_weights(weights)
    if not args.all:
        _, data = split_for_weights(data, card)
    truth = np.unique(data.labels, return_inverse=True)[1].ravel()
    h = HiLander(model=model, tau=card.get("tau"), join_floor=card.get("join_floor"),
                 near_copy=NEAR_COPY.get(args.mode)).fit(data.x)
    print(f"{len(truth)} items of {truth.max() + 1} identities; Hi-LANDER levels: "
          + ", ".join(f"{lv.max() + 1} groups" for lv in h.levels_))
    rows = [("hierarchy-aware", h.labels_, h.levels_[0]), ("flat (finest level)", h.levels_[0], None)]
    print(f"{'flow':<22} {'start Fb':>8} {'operations':>10} {'final Fb':>8}  by kind")
    for name, start, finest in rows:
        n, final, ops = simulate(truth, start, finest, args.target)
        print(f"{name:<22} {bcubed_f(truth, start):>8.3f} {n:>10} {final:>8.3f}  "
              + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
