"""Hi-LANDER: the LANDER model applied level after level, each level's clusters becoming the next level's nodes,
until it predicts no more links. The result is a hierarchy of partitions, finest first, each a coarsening of the
one before; the app zooms through it.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..device import choose_device
from ..progress import NO_METER, CancelFlag, Meter, Progress, no_progress
from .copies import compose, exact_copies, knn_without_near_copies
from .decode import (LONE_SLACK, TREE_SLACK, cut_lone_leaves, cut_weak_joins, decode, group_similarity, group_sums,
                     keep_apart, roots_of)
from .evidence import LinkEvidence, agreement
from .graph import LevelGraph, build_level_graph
from .knn import knn_graph, l2_normalise
from .lander import Lander, LanderEnsemble, deterministic
from .weights import default_weights, load_weights
from .zoom import cheapest_levels

# The taus training's cross-validation scores (TrainConfig.tau_grid); the per-library search stays inside them.
TAU_GRID = tuple(float(t) for t in np.round(np.arange(0.30, 0.96, 0.05), 2))
MIN_LEVEL_K = 3
NODES_PER_NEIGHBOUR = 4
# The per-library tau search builds the upper levels 3-4 times: +30% at 100,000 items, but a million took 870 s
# with it (the target is 600), so larger libraries keep the trained tau.
SEARCH_MAX_ITEMS = 300_000
# Progress: the share of fit's time that level 0's kNN search takes (a million items on 2 cores: 186 of 283 s).
LEVEL0_KNN_SHARE = 0.66
# Zoom-out levels past the stop (``HiLander.zoom_out``; the app's count: ``zoom.ZOOM_OUT``): step s has
# ceil(s * ZOOM_STEP * n) groups fewer than the stop's n (``zoom.cheapest_levels``).
ZOOM_STEP = 0.1
# Progress: the share of fit's time the zoom-out levels take.
ZOOM_SHARE = 0.05


@dataclass
class Level:
    """One level of the hierarchy over the n input items."""

    labels: np.ndarray  # (n,) cluster of each item, 0..m-1
    peaks: np.ndarray  # (m,) item index of each cluster's peak (its representative)
    edges_added: int


def next_nodes(x: np.ndarray, node_of_item: np.ndarray, peak_item: np.ndarray) -> dict[str, np.ndarray]:
    """Supernodes: the peak's own feature, the members' mean level-0 feature (normalised), how many members, and
    how tight they are (mean similarity to their mean)."""
    m = peak_item.shape[0]
    sums = group_sums(x, node_of_item, m)
    sizes = np.bincount(node_of_item, minlength=m).astype(np.float32)
    norms = np.linalg.norm(sums, axis=1)
    return {"features": x[peak_item], "centres": l2_normalise(sums.astype(np.float32)), "sizes": sizes,
            "tightness": (norms / np.maximum(sizes, 1)).astype(np.float32)}


class HiLander:
    """Learned hierarchical clustering (scikit-learn estimator conventions).

    Parameters are stored as given; ``fit(X)`` sets ``labels_`` (the default partition: the level where the
    hierarchy stopped, which is the paper's prediction and the finest level that is not over-split: every level
    below it still splits people the model would join; the app shows it by default and zooms from there),
    ``levels_`` (one partition per level, finest first), ``tau_`` (the tau it used; ``trained_tau_``: the one it
    started from, ``agreement_``: the candidates it scored), ``peaks_``
    (representative item of each cluster, per level) and ``parents_`` (for each level but the last, the cluster of
    the next level that contains each cluster). No labels are needed. ``link_check`` and ``evidence_merge`` let
    the first level's links arbitrate joins of groups (``LinkEvidence``); a link speaks for a join only above
    max(tau, ``evidence_floor``), so a low tau does not count links the model thinks more likely wrong.
    ``evidence_merge`` (None: on whenever there is a join floor, which holds it; ``evidence_merge_`` says what ran)
    adds a last level that joins the top groups while those links speak for it: people the upper levels' GNN left
    in pieces. Unheld by a floor it joined look-alikes; held, it was judged on partitions not used to find it
    (docs/hilander-ablation.md, "The evidence merge on by default"). ``link_check`` stays opt-in.

    ``join_floor``: above level 0 a link joins two groups only if the mean similarity between their members is at
    least this ("trained": the weights card's, learned from the training people as the threshold at which average
    linkage groups them best; None: no floor). On their summary features the upper levels joined whole
    look-alike people whose photos average linkage keeps apart (mean similarity 0.87-0.90 against a learned 0.92;
    pieces of one person: 0.96); judged on partitions not used to find it (docs/hilander-ablation.md, "Upper-level
    joins held to the training people's average-linkage floor"). The merge level is held to it too.

    ``tree_floor`` (None: on wherever a join floor holds it; ``tree_floor_`` says what ran): at every level, a
    tree link whose two sides hold at least ``TREE_MIN_SIDE`` items each is cut where the mean similarity
    between the sides is under the join floor less ``TREE_SLACK`` of its distance (``cut_weak_joins``): level 0
    hung a person's few photos on a look-alike's by one link, and upper levels joined through chains of links
    that each pass the floor (docs/hilander-ablation.md, "The floor on whole trees").

    ``lone_leaves`` (on by default; it needs a join floor; ``lone_leaves_`` says what ran): at level 0, after the
    tree floor, a photo that no other hangs on is let go where, of its kNN links above tau, only the one to its
    parent reaches its tree and its mean similarity to the rest of the tree is under the join floor less
    ``LONE_SLACK`` of its distance (``decode.cut_lone_leaves``): a person seen once had been glued to a look-alike
    by their best link. Judged on face and species partitions not used to make it (docs/hilander-ablation.md, "A
    photo held by one link"): more of the people seen once left alone, nothing lower.

    ``zoom_out`` (0 by default; the app asks for ``zoom.ZOOM_OUT[mode]``): that many levels past the stop, for
    zooming out from the default view (``default_level_`` is the stop's index in ``levels_``; ``labels_`` is that
    level): step s has ceil(s * ``ZOOM_STEP`` * n) groups fewer than the stop's n, made by joining, among groups
    the first level's links join, always the pair whose join costs the fewest expected wrong pairs
    (``zoom.cheapest_levels``, its chance of one person from the pair's mean similarity against the join floor,
    so it needs one). Judged on face partitions not used to make it: purer than a same-count cut of the
    average-linkage tree on 24 of 24 zoom-out levels (docs/hilander-ablation.md, "Zoom-out levels that join the
    cheapest pairs first"); three rules before it, joining the groups most alike first, were not. Links that run
    out end the steps early (fewer levels).

    Copies of one photo are clustered once and share a group at every level (``copies_`` counts them): exact
    copies always, and with ``near_copy`` items whose descriptors reach that cosine similarity to the first of
    their set (a photo saved again: resized, re-compressed; ``copies.near_copies``). None by default, as the
    threshold belongs to the encoder; the app and the benchmarks pass ``copies.NEAR_COPY[mode]``.
    """

    def __init__(self, k: int = 10, tau: float | None = None, max_levels: int = 10, early_stop: bool = True,
                 device=None, weights: str | Path | None = None, model: Lander | LanderEnsemble | None = None,
                 tau_search: bool = False, tau_candidates: tuple[float, ...] | None = None, link_check: bool = False,
                 evidence_merge: bool | None = None, evidence_floor: float = 0.5,
                 join_floor: float | str | None = "trained", tree_floor: bool | None = None,
                 near_copy: float | None = None, zoom_out: int = 0, lone_leaves: bool = True):
        self.k = k
        self.tau = tau
        self.max_levels = max_levels
        self.early_stop = early_stop
        self.device = device
        self.weights = weights
        self.model = model
        self.tau_search = tau_search
        self.tau_candidates = tau_candidates
        self.link_check = link_check
        self.evidence_merge = evidence_merge
        self.evidence_floor = evidence_floor
        self.join_floor = join_floor
        self.tree_floor = tree_floor
        self.near_copy = near_copy
        self.zoom_out = zoom_out
        self.lone_leaves = lone_leaves

    def get_params(self, deep: bool = True) -> dict:
        """The parameters as given (scikit-learn's convention): ``HiLander(**h.get_params())`` groups alike."""
        return {name: getattr(self, name) for name in inspect.signature(HiLander.__init__).parameters
                if name != "self"}

    def _load(self) -> tuple[Lander | LanderEnsemble, float, float | None]:
        """The model, its tau and the join floor ("trained": the card's, if it has one; a given model has none)."""
        if self.model is not None:
            card = {}
            model = self.model
        else:
            model, card = load_weights(self.weights or default_weights("faces"))
        floor = card.get("join_floor") if self.join_floor == "trained" else self.join_floor
        tau = self.tau if self.tau is not None else float(card.get("tau", 0.8))
        return model, tau, None if floor is None else float(floor)

    def fit(self, X, y=None, *, apart=None, progress: Progress = no_progress, cancel: CancelFlag | None = None):
        """``apart``: for each item the photo it was found in (faces), or None. Items of one photo are never put in
        one group, at any level (two faces in one photo are two people; a negative value: no photo): where a
        level's links would join two of them, one link on the path between them is cut, the one whose two sides
        weigh most against being one group (``decode.keep_apart``), and the merge level does not join their
        groups; ``parted_`` counts both. Copies of one picture (below) share a group all the same.

        ``progress(done, total)`` hears how far it is (``Meter.STEPS`` in all); when ``cancel`` is set it stops
        within seconds, raising ``progress.Cancelled`` (a million items on 2 cores: within about 5 s).

        The trained (or given) tau is where links joined people on the training people's validation folds, and
        by default it is used as it is. With ``tau_search`` (up to ``SEARCH_MAX_ITEMS`` items) it is chosen per
        library among ``tau_band(tau)``: the hierarchy is built at a candidate and the one kept is the one whose
        default partition agrees best with the first level's link predictions (``agreement``, undecided at the
        trained tau), climbing from the trained tau outwards on each side while agreement does not fall;
        ``tau_candidates`` instead scores every tau it lists. No labels are used, and the first level's kNN and GNN
        run once. The search was the default from 2026-11-29 (rows 28-30 of docs/hilander-ablation.md); judged on
        face and species partitions never used before, it did not beat the trained tau and costs about 30% of the
        time ("The trained tau against the per-library search")."""
        x = np.asarray(X, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"embeddings must be a 2-D array, got shape {x.shape}")
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        if bad.size:
            raise ValueError(f"embeddings must be finite numbers: {bad.size} row(s) hold NaN or infinity "
                             f"(the first: {bad[:5].tolist()})")
        meter = Meter(progress, cancel)
        meter(0.0)
        n = x.shape[0]
        x = l2_normalise(x)
        copies = exact_copies(x)  # each distinct descriptor is clustered once; its copies share its group
        meter(0.0)  # a cancel is heard after it (0.7-0.9 s at a million)
        if copies is not None:
            x = x[copies[0]]
        model, tau, self.join_floor_ = self._load()
        self.evidence_merge_ = self.join_floor_ is not None if self.evidence_merge is None else self.evidence_merge
        self.tree_floor_ = self.join_floor_ is not None and self.tree_floor is not False
        self.lone_leaves_ = self.join_floor_ is not None and self.lone_leaves
        if self.zoom_out and self.join_floor_ is None:
            raise ValueError("zoom-out levels need a join floor: their joins are weighed against it (weights whose "
                             "card has none, or join_floor=None)")
        device = choose_device(self.device)
        model = model.to(device).eval()
        knn0, rest = None, meter  # rest: the meter for what follows the near copies' search, if there is one
        if self.near_copy is not None and x.shape[0] > 1:
            t0 = time.perf_counter()
            graph, near = knn_without_near_copies(x, self._level_k(x.shape[0]), self.near_copy, device=device,
                                                  meter=meter.part(0.0, LEVEL0_KNN_SHARE))
            rest = meter.part(LEVEL0_KNN_SHARE, 1.0)
            if near is not None:
                x, copies = x[near[0]], compose(copies, near)
            # Level 0's kNN graph, unless the copies left so few items that their k is smaller.
            knn0 = (graph, time.perf_counter() - t0) if graph.k == self._level_k(x.shape[0]) else None
        self.copies_ = 0 if copies is None else int(copies[1].shape[0] - copies[0].shape[0])
        kept = _kept_apart(apart, copies, n)
        self.trained_tau_ = tau
        self.agreement_ = {}
        climbing = rest.part(0.0, 1.0 - ZOOM_SHARE) if self.zoom_out else rest
        if x.shape[0] < 2 or not (self.tau_candidates or (self.tau_search and x.shape[0] <= SEARCH_MAX_ITEMS)):
            # Level 0 is predicted inside the climb, so its graph is freed before the next level (memory at 1M).
            levels, self.timings_, evidence = self._climb(x, model, device, tau, None, knn0, climbing, kept)
        else:
            tau, levels, self.timings_, evidence = self._search(x, model, device, tau, knn0, climbing, kept)
        self.default_level_ = len(levels) - 1
        if self.zoom_out and evidence is not None:
            self._zoom_out(levels, evidence, x, rest.part(1.0 - ZOOM_SHARE, 1.0), kept)
        self.tau_ = tau
        # Joins not made because they would have put two faces of one photo in one group: links cut at every
        # level, and pairs of groups the merge did not join.
        self.parted_ = sum(t.get("parted", 0) for t in self.timings_)
        self.levels_ = [lv.labels for lv in levels]
        self.peaks_ = [lv.peaks for lv in levels]
        if copies is not None:
            first, position = copies
            self.levels_ = [labels[position] for labels in self.levels_]
            self.peaks_ = [first[peaks] for peaks in self.peaks_]
        self.parents_ = [_parents(a, b) for a, b in zip(self.levels_[:-1], self.levels_[1:])]
        self.labels_ = self.levels_[self.default_level_]
        meter(1.0)
        return self

    def _search(self, x, model, device, tau: float, knn0=None, meter: Meter = NO_METER, apart=None
                ) -> tuple[float, list[Level], list[dict], LinkEvidence | None]:
        """The candidate tau whose hierarchy agrees best with level 0's links, its levels, timings and link
        evidence."""
        # Level 0's prediction (with its kNN search unless that was done), then each climb half of what is left:
        # how many climbs there will be is not known.
        done = 0.5 if knn0 is None else 0.15
        first = self._predict_level(model, device, {"features": x, "centres": x}, knn0, meter.part(0.0, done))
        graph, prob, dens, _ = first
        built: dict[bytes, tuple] = {}
        best = None

        def score(candidate: float) -> float:
            nonlocal best, done
            candidate = float(candidate)
            if candidate not in self.agreement_:
                # Taus that decode level 0 alike build the same hierarchy (common in small libraries): built once.
                key = hashlib.blake2b(decode(graph, prob, dens, candidate).tobytes(), digest_size=16).digest()
                if key not in built:
                    levels, timings, evidence = self._climb(x, model, device, candidate, first,
                                                            meter=meter.part(done, (done + 1.0) / 2), apart=apart)
                    done = (done + 1.0) / 2
                    # Each candidate's link evidence is kept only for the zoom-out levels (it is the size of the
                    # first level's links).
                    built[key] = (agreement(graph, prob, levels[-1].labels, boundary=tau), levels, timings,
                                  evidence if self.zoom_out else None)
                value, levels, timings, evidence = built[key]
                self.agreement_[candidate] = value
                # On a tie (the same hierarchy) the tau nearer the trained one is named.
                if best is None or (value, -abs(candidate - tau)) > (best[0], -abs(best[1] - tau)):
                    best = (value, candidate, levels, timings, evidence)
            return self.agreement_[candidate]

        if self.tau_candidates:
            for candidate in self.tau_candidates:
                score(candidate)
        else:
            # From the trained tau outwards on each side, while agreement does not fall: the whole band when it is
            # flat, 3-4 climbs when it has one peak (each climb at a million photos costs a minute or more).
            band = tau_band(tau)
            at = band.index(round(tau, 4))  # the band always holds tau itself
            for side in (-1, 1):
                i, last = at + side, score(band[at])
                while 0 <= i < len(band) and score(band[i]) >= last:
                    last, i = self.agreement_[band[i]], i + side
        _, chosen, levels, timings, evidence = best
        return chosen, levels, timings, evidence

    def _predict_level(self, model, device, nodes: dict, knn=None, meter: Meter = NO_METER
                       ) -> tuple[LevelGraph, np.ndarray, np.ndarray, dict]:
        """One level's graph, link probabilities and densities, with the time each stage took; ``knn``: its kNN
        graph if already found, and the seconds that took."""
        m = nodes["features"].shape[0]
        k = self._level_k(m)
        t0 = time.perf_counter() - (knn[1] if knn else 0.0)
        graph_start, graph_done, gnn_done = _level_shares(knn_found=knn is not None)
        knn = knn[0] if knn else knn_graph(nodes["features"], k, device=device, meter=meter.part(0.0, graph_start))
        t1 = time.perf_counter()
        graph, _ = build_level_graph(k=k, knn=knn, embeddings=model.uses_embeddings,
                                     meter=meter.part(graph_start, graph_done), **nodes)
        t2 = time.perf_counter()
        with torch.inference_mode(), deterministic():
            logits, dens = model(graph.to(device), meter.part(graph_done, gnn_done))
            prob = torch.softmax(logits, dim=-1)[:, 1].cpu().numpy()
            dens = dens.cpu().numpy()
        meter(gnn_done)
        t3 = time.perf_counter()
        return graph, prob, dens, {"nodes": m, "knn": t1 - t0, "graph": t2 - t1, "gnn": t3 - t2,
                                   "search": knn.search}

    def _climb(self, x, model, device, tau: float, first, knn0=None, meter: Meter = NO_METER, apart=None
               ) -> tuple[list[Level], list[dict], LinkEvidence | None]:
        """Levels until no link is predicted (or the early stop); ``first``, if given, is level 0's prediction,
        ``knn0`` its kNN graph (and seconds); ``meter``: level 0 takes most of it, each level above half of what
        is left.
        With ``link_check``, a join above level 0 is kept only where the first level's links between the two
        groups do not speak against it; with ``evidence_merge``, a last level joins the top groups while those
        links speak for it (``LinkEvidence``, returned for the zoom-out levels). ``apart`` (items, photos): items
        of one photo kept in different groups (``_kept_apart``)."""
        n = x.shape[0]
        evidence = None
        levels: list[Level] = []
        timings: list[dict] = []
        node_of_item = np.arange(n)
        peak_item = np.arange(n)
        nodes = {"features": x, "centres": x}
        prev_added = None
        done = 0.0
        for depth in range(self.max_levels):
            m = nodes["features"].shape[0]
            if m < 2:
                break
            # Level 0 without its kNN graph found yet is most of the work (a million items: 80%).
            share = (0.8 if first is None and knn0 is None else 0.4) if depth == 0 else (1.0 - done) / 2
            level_meter, done = meter.part(done, done + share), done + share
            knn = knn0 if depth == 0 else None
            predicted = first if depth == 0 and first is not None else None
            graph, prob, dens, times = predicted or self._predict_level(model, device, nodes, knn, level_meter)
            t3 = time.perf_counter()
            # The decode's share of the level: what the prediction left (all of it where level 0 came predicted).
            decoding = level_meter.part(0.0 if predicted else _level_shares(knn is not None)[2], 1.0)
            if depth == 0 and (self.link_check or self.evidence_merge_ or self.zoom_out):
                evidence = LinkEvidence(graph, prob, max(tau, self.evidence_floor))
            edges = graph.edge_index.cpu().numpy()
            allowed = evidence.allows(node_of_item, edges) if self.link_check and depth > 0 else None
            if depth > 0 and self.join_floor_ is not None:
                passes = group_similarity(nodes, edges) >= self.join_floor_
                allowed = passes if allowed is None else allowed & passes
            parent = decode(graph, prob, dens, tau, allowed)
            decoding(0.3)
            if self.tree_floor_ or apart is not None:  # each node's sum of item vectors, and its item count
                sums, sizes = (x, np.ones(m)) if depth == 0 else \
                    (nodes["centres"] * (nodes["tightness"] * nodes["sizes"])[:, None], nodes["sizes"])
            if self.tree_floor_:
                parent = cut_weak_joins(parent, sums, sizes, self._below_floor(TREE_SLACK))
                decoding(0.6)
            lone = None
            if depth == 0 and self.lone_leaves_:
                held = parent
                parent = cut_lone_leaves(parent, x, edges, prob, tau, self._below_floor(LONE_SLACK))
                lone = int((parent != held).sum())
            parted = 0
            if apart is not None:
                kept = keep_apart(parent, sums, sizes, apart[0] if depth == 0 else node_of_item[apart[0]],
                                  apart[1], self.join_floor_)
                parted, parent = int((kept != parent).sum()), kept
            added = int((parent != np.arange(m)).sum())
            if added == 0:
                break
            root = roots_of(parent)
            uniq, cluster_of_node = np.unique(root, return_inverse=True)
            node_of_item = cluster_of_node[node_of_item]
            peak_item = peak_item[uniq]
            decoding(0.7)
            levels.append(Level(node_of_item.copy(), peak_item.copy(), added))
            stop = self.early_stop and prev_added is not None and added < prev_added / max(1, self.k - 1)
            if not stop:  # the next level's nodes, only if there is a next level
                nodes = next_nodes(x, node_of_item, peak_item)
            timings.append({"level": len(levels) - 1, **times, "decode": time.perf_counter() - t3, "parted": parted,
                            **({"lone": lone} if lone is not None else {})})
            level_meter(1.0)
            if stop:
                break
            prev_added = added
        if self.evidence_merge_ and evidence is not None and levels:
            t0 = time.perf_counter()
            top = levels[-1]
            refused: set = set()
            merged = evidence.merge(top.labels, x, self.join_floor_, meter.part(done, 1.0), apart, refused)
            if merged.max() < top.labels.max():
                levels.append(_merged_level(top, merged))
                timings.append(_merge_timing(len(levels) - 1, top, t0))
            if refused:  # where the merge adds no level, its refusals are counted with the top level
                timings[-1]["parted"] = timings[-1].get("parted", 0) + len(refused)
        if not levels:
            levels.append(Level(np.arange(n), np.arange(n), 0))
        meter(1.0)
        return levels, timings, evidence

    def _zoom_out(self, levels: list[Level], evidence: LinkEvidence, x: np.ndarray, meter: Meter = NO_METER,
                  apart=None) -> None:
        """Appends up to ``zoom_out`` levels past the stop (see the class docstring), with their timings."""
        t0 = time.perf_counter()
        top = levels[-1]
        groups = int(top.labels.max()) + 1 if top.labels.size else 0
        fewer = [math.ceil(step * groups * ZOOM_STEP) for step in range(1, self.zoom_out + 1)]
        for merged in cheapest_levels(top.labels, x, evidence.src, evidence.dst, fewer, self.join_floor_, apart,
                                      meter):
            below = levels[-1]
            if merged.max() < below.labels.max():
                # ``merged`` says where each of the stop's groups goes; the level below is a coarsening of them.
                of_group = np.empty(below.labels.max() + 1, dtype=np.int64)
                of_group[below.labels] = merged[top.labels]
                levels.append(_merged_level(below, of_group))
                self.timings_.append(_merge_timing(len(levels) - 1, below, t0))
                t0 = time.perf_counter()
        meter(1.0)

    def _below_floor(self, share: float) -> float:
        """The join floor less ``share`` of its distance to 1 (the tree floor's, lone leaves' and zoom-out's bars)."""
        return self.join_floor_ - share * (1.0 - self.join_floor_)

    def _level_k(self, m: int) -> int:
        """k for a level of m nodes: at most a quarter of them (at least 3). In a graph of few nodes, the
        neighbourhood features saturate (every node shares every neighbour, every link is mutual), a regime
        training never shows; there the model joined different people (8 people with 10 photos each: Fp 0.70,
        with this cap 0.88; libraries of hundreds of nodes per level are unchanged)."""
        return min(self.k, max(MIN_LEVEL_K, m // NODES_PER_NEIGHBOUR))

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_


def tau_band(tau: float, width: float = 0.1, step: float = 0.05, lo: float = TAU_GRID[0], hi: float = TAU_GRID[-1]
             ) -> tuple[float, ...]:
    """Candidate taus within ``width`` of ``tau`` (the per-library search of ablation rows 29-30), inside the range
    training's cross-validation scores (``TAU_GRID``): below 0.3 no validation people ever showed how a model joins,
    and on the species folds 0.2 joined breeds that 0.3 kept apart."""
    count = int(round(width / step))
    lo, hi = min(lo, tau), max(hi, tau)  # a given tau outside the grid is still a candidate
    return tuple(t for t in (round(tau + i * step, 4) for i in range(-count, count + 1)) if lo - 1e-9 <= t <= hi + 1e-9)


def _level_shares(knn_found: bool) -> tuple[float, float, float]:
    """Where a level's graph features start and end and where its GNN ends, as shares of the level's progress (the
    decode takes the rest). At a million items on 2 cores the kNN search is 83% of a level; with it found already
    (level 0 with near copies), graph features 30%, GNN 60%, decode 10%."""
    return (0.0, 0.3, 0.9) if knn_found else (0.83, 0.88, 0.98)


def _merged_level(top: Level, merged: np.ndarray) -> Level:
    """The level that joins ``top``'s groups as ``merged`` says (the new group of each of them); each joined group
    is represented by the peak of its largest part."""
    sizes = np.bincount(top.labels)
    order = np.lexsort((-sizes, merged))  # by merged group, largest part first
    first_part = order[np.r_[True, np.diff(merged[order]) != 0]]
    return Level(merged[top.labels], top.peaks[first_part], int(top.labels.max() - merged.max()))


def _merge_timing(level: int, top: Level, start: float) -> dict:
    """The timings row of a level made by a merge of ``top``'s groups, begun at ``start``: no kNN, graph or GNN."""
    return {"level": level, "nodes": int(top.labels.max()) + 1, "knn": 0.0, "graph": 0.0, "gnn": 0.0,
            "decode": time.perf_counter() - start}


def _kept_apart(apart, copies, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(items, photos) for ``fit``'s ``apart``: each item clustered (copies as their first) with its photo, once,
    for the photos that hold two or more of them; None when no photo does."""
    if apart is None:
        return None
    photo = np.asarray(apart)
    if photo.shape != (n,) or not np.issubdtype(photo.dtype, np.integer):
        raise ValueError(f"apart must hold one whole number (a photo) per item: {n} items, got {photo.dtype} "
                         f"of shape {photo.shape}")
    item = np.flatnonzero(photo >= 0)
    node = item if copies is None else copies[1][item]
    photos, node = np.unique(np.stack([photo[item].astype(np.int64), node]), axis=1)
    found, count = np.unique(photos, return_counts=True)
    shared = np.isin(photos, found[count > 1])
    return (node[shared], photos[shared]) if shared.any() else None


def _parents(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    parent = np.empty(fine.max() + 1, dtype=np.int64)
    parent[fine] = coarse
    return parent


