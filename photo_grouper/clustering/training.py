"""Training LANDER on labelled embeddings (identities disjoint from any test set).

Each training graph is one level of a ground-truth hierarchy: level 0 is the kNN graph of the items; each next
level links every node to its most similar denser neighbour of the same label and turns the resulting trees into
supernodes. Instead of one fixed graph, training draws many episodes: a random subset of the identities and of
their photos, at each k of ``k_values``, so the model sees groups of every size and neighbourhoods of every purity.
tau is chosen by cross-validation over folds of identities, by the pairwise + BCubed F of the hierarchy's default
partition, and the final models train on every identity.

Above level 0 the ground truth shows the model whole people only, while at inference it meets the pieces its own
first level left and the look-alikes it wrongly joined. With ``TrainConfig.predicted_episodes`` training runs in
two stages: models trained without one fold of the identities build the levels of that fold as they really would
(each supernode labelled by the majority of its members), and the final models learn from those levels too. The
shipped recipe leaves it off: on 64 training people it was no better on average (docs/hilander-ablation.md, row 22).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .decode import decode, peak_forest, roots_of
from .graph import LevelGraph, build_level_graph
from .hilander import MIN_LEVEL_K, NODES_PER_NEIGHBOUR, TAU_GRID, HiLander, next_nodes
from .knn import l2_normalise
from .lander import Lander, LanderEnsemble, deterministic, lander_loss, true_density
from .metrics import evaluate, evaluate_among


def walk_levels(x: np.ndarray, k_of: Callable[[int], int], choose_parents, max_levels: int) -> None:
    """Build a hierarchy over the items ``x``: at each level the kNN graph (k = ``k_of(nodes)``) of the current
    (super)nodes; ``choose_parents(level, graph, node_of_item)`` gives each node's parent (itself for a root), and
    the trees become the next level's supernodes. Stops when no node links, one node is left, or at
    ``max_levels``."""
    node_of_item = np.arange(x.shape[0])
    peak_item = np.arange(x.shape[0])
    nodes = {"features": x, "centres": x}
    for level in range(max_levels):
        m = nodes["features"].shape[0]
        if m < 2:
            return
        graph, _ = build_level_graph(k=k_of(m), **nodes)
        parent = choose_parents(level, graph, node_of_item)
        if (parent == np.arange(m)).all():
            return
        uniq, cluster_of_node = np.unique(roots_of(parent), return_inverse=True)
        node_of_item = cluster_of_node[node_of_item]
        peak_item = peak_item[uniq]
        nodes = next_nodes(x, node_of_item, peak_item)


def majority_labels(node_of_item: np.ndarray, item_labels: np.ndarray, nodes: int) -> torch.Tensor:
    """Each node's label: the one most of its items have (items' labels are 0..L-1)."""
    counts = np.zeros((nodes, item_labels.max() + 1), np.int64)
    np.add.at(counts, (node_of_item, item_labels), 1)
    return torch.from_numpy(counts.argmax(axis=1))


def ground_truth_levels(x: np.ndarray, labels: np.ndarray, k: int, max_levels: int = 10,
                        link_keep: float = 1.0, rng: np.random.Generator | None = None
                        ) -> list[tuple[LevelGraph, torch.Tensor]]:
    """The training graphs of one episode, with each node's label.

    With ``link_keep`` < 1 each true link survives only with that probability, so people stay in several pieces
    for a level or more: the higher levels then learn to join fragments, which is what they meet at inference,
    where the first level never merges everyone it should."""
    item_labels = np.unique(labels, return_inverse=True)[1].ravel()
    out = []

    def true_links(level, graph, node_of_item):
        lab = majority_labels(node_of_item, item_labels, graph.num_nodes)  # every node is pure here
        out.append((graph, lab))
        dens = true_density(graph, lab).numpy()
        ei, node_labels = graph.edge_index.numpy(), lab.numpy()
        keep = (node_labels[ei[0]] == node_labels[ei[1]]) & (dens[ei[0]] > dens[ei[1]])
        if link_keep < 1.0:
            keep &= (rng or np.random.default_rng(0)).random(keep.shape[0]) < link_keep
        return peak_forest(ei, graph.sim.numpy(), keep, graph.num_nodes)

    walk_levels(l2_normalise(x), lambda m: k, true_links, max_levels)
    return out


def predicted_levels(model: Lander | LanderEnsemble, x: np.ndarray, labels: np.ndarray, k: int, tau: float,
                     max_levels: int = 6) -> list[tuple[LevelGraph, torch.Tensor]]:
    """The graphs above level 0 as ``model`` builds them from ``x`` (people it was not trained on), each node
    labelled with the identity most of its items have: fragments of one person and impure groups included."""
    item_labels = np.unique(labels, return_inverse=True)[1].ravel()
    out = []

    def predicted_links(level, graph, node_of_item):
        if level > 0:
            out.append((graph, majority_labels(node_of_item, item_labels, graph.num_nodes)))
        with torch.inference_mode():
            logits, dens = model(graph)
        return decode(graph, torch.softmax(logits, dim=-1)[:, 1].numpy(), dens.numpy(), tau)

    walk_levels(l2_normalise(x), lambda m: min(k, max(MIN_LEVEL_K, m // NODES_PER_NEIGHBOUR)), predicted_links,
                max_levels)
    return out


@dataclass
class TrainConfig:
    hidden: int = 512
    edge_hidden: int = 256  # width of the edge head (the reference: 256)
    num_conv: int = 1
    dropout: float = 0.0
    edge_features: bool = True
    pair_product: bool = True
    node_input: str = "embedding"
    conv: str = "mean"  # lander.CONVS: LANDER's weighted mean, or graph attention (the reference's for species)
    k_values: tuple[int, ...] = (10, 5, 3)
    episodes: int = 24
    epochs: int = 40
    optimizer: str = "sgd"  # "sgd" (the reference) or "adam"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-5
    identity_fraction: tuple[float, float] = (0.5, 1.0)
    link_keep: tuple[float, float] = (1.0, 1.0)  # share of true links kept per level, drawn per episode
    photo_fraction: tuple[float, float] = (0.6, 1.0)
    # Share of an episode's people kept to one photo, drawn per episode: a library has people seen once.
    once_fraction: tuple[float, float] = (0.0, 0.0)
    balance: bool = True
    hard_negatives: float = 0.0  # extra weight on look-alike negative links (lander_loss)
    seed: int = 0
    tau_grid: tuple[float, ...] = TAU_GRID
    infer_k: int = 10
    ensemble: int = 1  # models trained from seeds seed, seed+1, ...; their probabilities are averaged
    folds: int = 4  # folds of identities: tau by cross-validation, and out-of-fold levels for the second stage
    # How a validation fold is scored: "alone" (its people clustered by themselves) or "with_training" (clustered
    # together with the fold's training people, scored on the validation people: a library as large as the
    # training set, with more look-alikes than a fold alone; see ``evaluate_among``). "with_training" stops the
    # flat curves of small folds from choosing very low taus, but failed its tests on fresh partitions
    # (docs/hilander-ablation.md, row 31), so it is not the default.
    validation: str = "alone"  # one of VALIDATIONS
    # Score each validation fold as the default Hi-LANDER runs: with a join floor learned from that fold's training
    # people, and the evidence merge. Since 2026-11-30 (docs/hilander-ablation.md, "Tau chosen as the model is
    # used"): without them cross-validation chose taus too low for faces (0.6-0.75 where 0.85-0.9 did better).
    validate_as_used: bool = True
    # Each validation fold is also scored with this share of its people seen once (one photo each), and tau is
    # chosen on the mean of both: a library has people seen once, and a tau that glues them should lose.
    validation_once: float = 0.0
    predicted_episodes: int = 0  # per fold: levels built by a model that never saw the fold (0: one stage only)
    predicted_taus: tuple[float, ...] = (0.7, 0.75, 0.8, 0.85, 0.9)  # the tau each such episode decodes with
    # With a second labelled set (``train(..., added=...)``, the species weights with people): this many episodes
    # of it join each model's training graphs, each of ``added_labels`` (fewest, most) of its labels drawn at
    # random, their photos kept as ``photo_fraction`` says: few, so that hundreds of its photos do not drown a
    # small first set (docs/hilander-ablation.md, "Species weights with people added").
    added_episodes: int = 18
    added_labels: tuple[int, int] = (8, 16)


VALIDATIONS = ("alone", "with_training")


@dataclass
class TrainResult:
    model: Lander | LanderEnsemble
    tau: float
    validation: dict = field(default_factory=dict)
    tau_scores: dict = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    train_labels: list = field(default_factory=list)
    validation_labels: list = field(default_factory=list)
    folds: list = field(default_factory=list)  # the cross-validation folds of labels
    fold_scores: list = field(default_factory=list)  # per fold: tau -> metrics of the out-of-fold model
    join_floor: float | None = None  # see ``learn_join_floor``


def seen_once(y: np.ndarray, names, rng: np.random.Generator, keep: np.ndarray | None = None) -> np.ndarray:
    """``keep`` (default: every item) with each of ``names`` cut to one of its kept items, drawn at random: a
    library's people seen once."""
    keep = np.ones(len(y), dtype=bool) if keep is None else keep.copy()
    for name in names:
        rows = np.flatnonzero(keep & (y == name))
        if rows.size:
            keep[rows] = False
            keep[rng.choice(rows)] = True
    return keep


def _episodes(x, y, cfg: TrainConfig, rng: np.random.Generator, progress=None, whole: bool = True):
    names = np.unique(y)
    graphs = []
    first = len(cfg.k_values) if whole else 0
    for e in range(cfg.episodes):
        # The first episodes are the whole set, once at each k (with ``whole``); the rest are random subsets.
        if e < first:
            keep = np.ones(len(y), dtype=bool)
        else:
            frac = rng.uniform(*cfg.identity_fraction)
            chosen = rng.choice(names, size=max(2, round(frac * len(names))), replace=False)
            keep = np.isin(y, chosen) & (rng.random(len(y)) < rng.uniform(*cfg.photo_fraction))
            if cfg.once_fraction[1] > 0:
                once = rng.choice(chosen, size=round(rng.uniform(*cfg.once_fraction) * len(chosen)), replace=False)
                keep = seen_once(y, once, rng, keep)
        k = cfg.k_values[e % len(cfg.k_values)]
        link_keep = 1.0 if e < first else rng.uniform(*cfg.link_keep)
        graphs.extend(ground_truth_levels(x[keep], y[keep], k, link_keep=link_keep, rng=rng))
        if progress:
            progress("episodes", e + 1, cfg.episodes)
    return graphs


def added_episodes(added: tuple[np.ndarray, np.ndarray], cfg: TrainConfig) -> list:
    """The training graphs of a second labelled set ``added`` (x, y): ``cfg.added_episodes`` random subsets of
    ``cfg.added_labels`` of its labels each, never the whole set, drawn from their own seed (so the first set's
    episodes are drawn as without it)."""
    x, y = np.asarray(added[0], np.float32), np.asarray(added[1])
    n = len(np.unique(y))
    share = tuple(min(1.0, v / n) for v in cfg.added_labels)
    return _episodes(x, y, replace(cfg, episodes=cfg.added_episodes, identity_fraction=share),
                     np.random.default_rng(cfg.seed + 1000), whole=False)


def train_lander(x: np.ndarray, y: np.ndarray, cfg: TrainConfig | None = None, *,
                 progress: Callable[[str, int, int], None] | None = None, extra: list | None = None,
                 added: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Lander, list[float]]:
    """One model on the episodes of (x, y), plus ``extra`` training graphs (see ``predicted_levels``) and the
    episodes of a second labelled set ``added`` (see ``added_episodes``)."""
    with deterministic():
        return _train_lander(x, y, cfg or TrainConfig(), progress, extra or [], added)


def _train_lander(x, y, cfg: TrainConfig, progress, extra, added) -> tuple[Lander, list[float]]:
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    graphs = _episodes(np.asarray(x, np.float32), np.asarray(y), cfg, rng, progress) + list(extra)
    if added is not None:
        graphs += added_episodes(added, cfg)
    model = Lander(x.shape[1], hidden=cfg.hidden, num_conv=cfg.num_conv, dropout=cfg.dropout,
                   edge_features=cfg.edge_features, pair_product=cfg.pair_product,
                   node_input=cfg.node_input, edge_hidden=cfg.edge_hidden, conv=cfg.conv)
    if cfg.optimizer == "adam":
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * len(graphs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    losses = []
    model.train()
    for epoch in range(cfg.epochs):
        total = 0.0
        for i in rng.permutation(len(graphs)):
            g, lab = graphs[i]
            logits, dens = model(g)
            loss, _ = lander_loss(logits, dens, g, lab, balance=cfg.balance,
                                  hard_negatives=cfg.hard_negatives)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        losses.append(total / len(graphs))
        if progress:
            progress("epochs", epoch + 1, cfg.epochs)
    return model.eval(), losses


def train_models(x: np.ndarray, y: np.ndarray, cfg: TrainConfig, *, progress=None, extra: list | None = None,
                 added: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Lander | LanderEnsemble, list[float]]:
    """``cfg.ensemble`` models from seeds ``cfg.seed``, ``cfg.seed + 1``, ...; one model is returned as is."""
    members, losses = [], []
    n = max(1, cfg.ensemble)
    for i in range(n):
        step = (lambda what, done, total, _i=i: progress(f"{what} (model {_i + 1}/{n})" if n > 1 else what,
                                                        done, total)) if progress else None
        member, member_losses = train_lander(x, y, replace(cfg, seed=cfg.seed + i), progress=step, extra=extra,
                                             added=added)
        members.append(member)
        losses.append(member_losses)
    model = members[0] if n == 1 else LanderEnsemble(members).eval()
    return model, np.mean(losses, axis=0).tolist()  # per epoch, averaged over the members


def _predicted_episodes(model, x, y, cfg: TrainConfig, rng: np.random.Generator) -> list:
    graphs = []
    for e in range(cfg.predicted_episodes):
        keep = np.ones(len(y), dtype=bool) if e == 0 else rng.random(len(y)) < rng.uniform(*cfg.photo_fraction)
        tau = float(rng.choice(cfg.predicted_taus))
        with deterministic():
            graphs += predicted_levels(model, x[keep], y[keep], cfg.k_values[e % len(cfg.k_values)], tau)
    return graphs


def tau_scores(model, x, y, cfg: TrainConfig, focus=None, join_floor: float | None = None,
               evidence_merge: bool | None = False, tree_floor: bool | None = None) -> dict[float, dict]:
    """Metrics of Hi-LANDER with ``model`` on labelled (x, y) at every tau of ``cfg.tau_grid``; with ``focus``
    (labels), of those labels' items only, clustered among all (``evaluate_among``); with the given join floor,
    evidence merge and tree floor (see ``validation_scores``; None: ``HiLander``'s default, on wherever a floor
    holds it)."""
    def score(pred):
        return evaluate(y, pred) if focus is None else evaluate_among(y, pred, focus)

    return {float(tau): score(HiLander(k=cfg.infer_k, tau=float(tau), model=model, device="cpu",
                                       tau_search=False, join_floor=join_floor, evidence_merge=evidence_merge,
                                       tree_floor=tree_floor
                                       ).fit_predict(x))
            for tau in cfg.tau_grid}


def curve_json(curve: dict[float, dict]) -> dict[str, dict]:
    """A tau -> metrics curve as JSON keys with the two F-scores (for cards and bench output)."""
    return {f"{t:g}": {"fp": m["fp"], "fb": m["fb"]} for t, m in curve.items()}


def validation_scores(model, x, y, val: np.ndarray, cfg: TrainConfig) -> dict[float, dict]:
    """The tau curve of one cross-validation fold (``val``: its items) as ``cfg.validation`` says; with
    ``cfg.validate_as_used``, decoded with a join floor learned from the fold's training people and the evidence
    merge, as the default runs, but without the tree floor: with it the curve of the face weights went flat and
    cross-validation chose tau 0.4, which scored lower on the README's split (0.960 / 0.957 against 0.969 / 0.967
    at the 0.8 chosen without it), and judged on fresh partitions it lost (faces seeds 19-20: 0.959 / 0.957 ->
    0.957 / 0.954; docs/hilander-ablation.md, "Tau chosen with the tree floor in cross-validation")."""
    used = {}
    if cfg.validate_as_used:
        used = {"join_floor": learn_join_floor(x[~val], y[~val], seed=cfg.seed), "evidence_merge": True,
                "tree_floor": False}
    if cfg.validation not in VALIDATIONS:
        raise ValueError(f"unknown validation {cfg.validation!r}: one of {', '.join(VALIDATIONS)}")

    def curve(keep):
        if cfg.validation == "alone":
            return tau_scores(model, x[val & keep], y[val & keep], cfg, **used)
        return tau_scores(model, x[keep], y[keep], cfg, focus=np.unique(y[val]), **used)

    everyone = np.ones(len(y), dtype=bool)
    if not cfg.validation_once:
        return curve(everyone)
    rng = np.random.default_rng(cfg.seed + 20)
    people = np.unique(y[val])
    once = seen_once(y, rng.choice(people, size=round(cfg.validation_once * len(people)), replace=False), rng)
    curves = (curve(everyone), curve(once))
    return {tau: {key: (curves[0][tau][key] + curves[1][tau][key]) / 2 for key in curves[0][tau]}
            for tau in curves[0]}


def train(x: np.ndarray, y: np.ndarray, cfg: TrainConfig | None = None, *, progress=None,
          fold_hook: Callable | None = None, added: tuple[np.ndarray, np.ndarray] | None = None) -> TrainResult:
    """Cross-validated over ``cfg.folds`` folds of the identities (fewer if a fold would get one): each fold's
    people are scored by models trained without them, and tau is the one with the best mean score (one fold of
    16 people gave a jumpy curve whose best tau did not carry over: row 21 of docs/hilander-ablation.md). With
    ``predicted_episodes`` the first stage's out-of-fold models also build the levels the second stage learns
    from. The returned model is trained on every identity. ``fold_hook(fold, model, val)`` is called with each
    fold's scored model (for experiments on the curves). ``added``: a second labelled set (x, y) whose episodes
    join every model's training, cross-validation's included; tau and the join floor come from (x, y) alone,
    the set the weights are for."""
    cfg = cfg or TrainConfig()
    start = time.monotonic()
    x, y = np.asarray(x, np.float32), np.asarray(y)
    names = np.unique(y)
    n_folds = min(cfg.folds, len(names) // 2)  # a fold needs two labels at least, so a wrong merge can show
    if n_folds < 2:
        raise ValueError(f"{len(names)} labels are too few: cross-validation needs at least 4")
    if cfg.validation not in VALIDATIONS:
        raise ValueError(f"unknown validation {cfg.validation!r}: one of {', '.join(VALIDATIONS)}")
    rng = np.random.default_rng(cfg.seed + 1)
    folds = np.array_split(rng.permutation(names), n_folds)
    in_fold = [np.isin(y, f) for f in folds]
    stages = 2 if cfg.predicted_episodes else 1
    step = 0

    def fit(xs, ys, extra=None):
        nonlocal step
        step += 1
        tag = f"model set {step}/{n_folds * stages + 1}"
        sub = (lambda what, done, total: progress(f"{what} ({tag})", done, total)) if progress else None
        return train_models(xs, ys, cfg, progress=sub, extra=extra, added=added)

    scores: list[dict[float, dict]] = []

    def score(f, model, val):
        scores.append(validation_scores(model, x, y, val, cfg))
        if fold_hook:
            fold_hook(f, model, val)

    predicted: list[list] = [[] for _ in folds]
    for f, val in enumerate(in_fold):
        model, _ = fit(x[~val], y[~val])
        if stages == 2:
            predicted[f] = _predicted_episodes(model, x[val], y[val], cfg, np.random.default_rng(cfg.seed + 10 + f))
        else:
            score(f, model, val)
    if stages == 2:
        for f, val in enumerate(in_fold):
            score(f, fit(x[~val], y[~val], [g for h, p in enumerate(predicted) if h != f for g in p])[0], val)
    mean = {tau: {key: float(np.mean([s[tau][key] for s in scores])) for key in scores[0][tau]} for tau in scores[0]}
    tau = pick_tau(scores)
    model, losses = fit(x, y, [g for p in predicted for g in p])
    return TrainResult(model, tau, mean[tau], mean, losses, time.monotonic() - start,
                       train_labels=[str(v) for v in names], validation_labels=[str(v) for v in names],
                       folds=[[str(v) for v in f] for f in folds], fold_scores=scores,
                       join_floor=learn_join_floor(x, y, seed=cfg.seed))


JOIN_FLOOR_GRID = tuple(float(v) for v in np.round(np.arange(0.05, 0.99, 0.01), 2))
JOIN_FLOOR_ITEMS = 5000  # average linkage needs all pairwise distances: larger sets are subsampled by identity


def learn_join_floor(x: np.ndarray, y: np.ndarray, grid=JOIN_FLOOR_GRID, seed: int = 0) -> float:
    """The mean similarity at which average linkage (cosine) groups the labelled people best (pairwise +
    BCubed F): Hi-LANDER holds its joins above level 0 to it (``HiLander.join_floor``). One tree, cut at every
    value of the grid."""
    from scipy.cluster.hierarchy import fcluster, linkage

    x, y = l2_normalise(np.asarray(x, np.float32)), np.asarray(y)
    if len(y) > JOIN_FLOOR_ITEMS:  # whole identities, so each keeps all its photos
        names, counts = np.unique(y, return_counts=True)
        order = np.random.default_rng(seed).permutation(names.size)
        names, counts = names[order], counts[order]
        keep = np.isin(y, names[:max(2, int(np.searchsorted(np.cumsum(counts), JOIN_FLOOR_ITEMS)))])
        x, y = x[keep], y[keep]
    tree = linkage(x.astype(np.float64), method="average", metric="cosine")
    scores = [(lambda m: m["fp"] + m["fb"])(evaluate(y, fcluster(tree, 1.0 - floor, criterion="distance")))
              for floor in grid]
    return float(grid[int(np.argmax(scores))])


def pick_tau(fold_scores: list[dict[float, dict]]) -> float:
    """The tau with the best mean score (pairwise + BCubed F) over the folds. (Leaning to the purer side by the
    one-standard-error rule was measured: with folds of 16 people the error is as wide as the whole plateau and
    the rule picked the tau where the curve already falls: row 23 of docs/hilander-ablation.md.)"""
    taus = sorted(fold_scores[0])
    mean = [np.mean([(s[t]["fp"] + s[t]["fb"]) / 2 for s in fold_scores]) for t in taus]
    return float(taus[int(np.argmax(mean))])
