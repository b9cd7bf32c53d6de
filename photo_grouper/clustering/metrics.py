"""Clustering quality against ground truth: pairwise F, BCubed F and NMI (as reported by the Hi-LANDER paper).

All take two label arrays of the same length (any integer or string labels) and work from their contingency table,
so they stay linear in the number of items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f: float


def _codes(labels) -> np.ndarray:
    return np.unique(np.asarray(labels), return_inverse=True)[1].ravel()


@dataclass(frozen=True)
class _Table:
    """The contingency table of two labelings, kept sparse: one entry per non-empty (class, cluster) cell."""

    t: np.ndarray  # class code of each item
    p: np.ndarray  # cluster code of each item
    cell_of: np.ndarray  # cell of each item
    cell_size: np.ndarray
    cell_class: np.ndarray
    cell_cluster: np.ndarray

    @property
    def class_size(self) -> np.ndarray:
        return np.bincount(self.t).astype(np.float64)

    @property
    def cluster_size(self) -> np.ndarray:
        return np.bincount(self.p).astype(np.float64)


def _table(truth, pred) -> _Table:
    t, p = _codes(truth), _codes(pred)
    if t.shape != p.shape:
        raise ValueError(f"label arrays differ in length: {t.shape[0]} and {p.shape[0]}")
    width = int(p.max(initial=0)) + 1
    cells, cell_of, cell_size = np.unique(t.astype(np.int64) * width + p, return_inverse=True, return_counts=True)
    return _Table(t, p, cell_of.ravel(), cell_size.astype(np.float64), cells // width, cells % width)


def _f(precision: float, recall: float) -> PRF:
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return PRF(float(precision), float(recall), float(f))


def _pairs(n: np.ndarray) -> np.ndarray:
    """Pairs among n items, per entry."""
    return n * (n - 1) / 2


def pairwise(truth, pred) -> PRF:
    """Precision and recall over pairs of items put in one cluster. No predicted pairs: precision 1."""
    tab = _table(truth, pred)
    tp, pred_pairs, true_pairs = (float(_pairs(n).sum()) for n in (tab.cell_size, tab.cluster_size, tab.class_size))
    return _f(tp / pred_pairs if pred_pairs else 1.0, tp / true_pairs if true_pairs else 1.0)


def bcubed(truth, pred) -> PRF:
    """Per item: the share of its cluster that has its label (precision), and of its label in its cluster (recall),
    averaged over items."""
    tab = _table(truth, pred)
    if tab.t.shape[0] == 0:
        return PRF(1.0, 1.0, 1.0)
    same = tab.cell_size[tab.cell_of]
    return _f(np.mean(same / tab.cluster_size[tab.p]), np.mean(same / tab.class_size[tab.t]))


def nmi(truth, pred) -> float:
    """Normalised mutual information, arithmetic-mean normalisation (scikit-learn's default)."""
    tab = _table(truth, pred)
    n = tab.t.shape[0]
    if n == 0:
        return 1.0
    a, b, nij = tab.class_size, tab.cluster_size, tab.cell_size
    mi = float(np.sum(nij / n * np.log(n * nij / (a[tab.cell_class] * b[tab.cell_cluster]))))

    def entropy(counts):
        q = counts[counts > 0] / n
        return float(-(q * np.log(q)).sum())

    ht, hp = entropy(a), entropy(b)
    if ht == 0 and hp == 0:
        return 1.0  # one class, one cluster: identical partitions
    return max(0.0, mi / ((ht + hp) / 2))


def evaluate(truth, pred) -> dict[str, float]:
    """The three numbers the benchmark prints, plus cluster count."""
    pw, bc = pairwise(truth, pred), bcubed(truth, pred)
    return {"fp": pw.f, "pp": pw.precision, "rp": pw.recall, "fb": bc.f, "pb": bc.precision, "rb": bc.recall,
            "nmi": nmi(truth, pred), "clusters": int(np.unique(np.asarray(pred)).shape[0])}


def alone(truth, pred) -> float | None:
    """Of the items whose label has no other item (a person seen once), the share left in a group of their own;
    None when there is no such item."""
    truth, pred = np.asarray(truth).ravel(), np.asarray(pred).ravel()
    _, t, t_count = np.unique(truth, return_inverse=True, return_counts=True)
    _, p, p_count = np.unique(pred, return_inverse=True, return_counts=True)
    once = t_count[t] == 1
    return float(np.mean(p_count[p][once] == 1)) if once.any() else None


def evaluate_among(truth, pred, focus_labels) -> dict[str, float]:
    """Pairwise and BCubed scores of the items whose label is in ``focus_labels``, clustered among other items:
    every pair with a focus item counts and a focus item's cluster counts all its members, so joining a focus
    person to anyone else costs precision while the others' own groups do not count. (Validation people
    clustered together with training people: the library then has as many people as the whole training set.)"""
    tab = _table(truth, pred)
    focus_item = np.isin(np.asarray(truth).ravel(), list(focus_labels))
    if not focus_item.any():
        raise ValueError("no item has a focus label")
    focus_class = np.bincount(tab.t[focus_item], minlength=tab.class_size.shape[0]) > 0
    f = np.bincount(tab.p[focus_item], minlength=tab.cluster_size.shape[0]).astype(np.float64)
    pred_pairs = float((_pairs(f) + f * (tab.cluster_size - f)).sum())
    tp = float(_pairs(tab.cell_size)[focus_class[tab.cell_class]].sum())
    true_pairs = float(_pairs(tab.class_size)[focus_class].sum())
    pw = _f(tp / pred_pairs if pred_pairs else 1.0, tp / true_pairs if true_pairs else 1.0)
    same = tab.cell_size[tab.cell_of][focus_item]
    bc = _f(np.mean(same / tab.cluster_size[tab.p[focus_item]]), np.mean(same / tab.class_size[tab.t[focus_item]]))
    return {"fp": pw.f, "pp": pw.precision, "rp": pw.recall, "fb": bc.f, "pb": bc.precision, "rb": bc.recall,
            "clusters": int(np.unique(tab.p[focus_item]).shape[0])}
