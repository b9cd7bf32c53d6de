"""Clustering quality on labelled photos: Hi-LANDER with trained weights against the heuristics apps use.

Baseline thresholds are tuned on labelled data other than the test photos: ``--train DATA2``, or else the part of
DATA whose identities trained the weights (the weights' card lists them); the test set is always the identities
the weights never saw. Prints method, parameters, Fp, Fb, NMI, cluster count and seconds, then checks that every
Hi-LANDER level is purer than a same-count cut of the average-linkage tree.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..clustering.baselines import TUNABLE, OracleKMeans, tune
from ..clustering.copies import NEAR_COPY
from ..clustering.hilander import HiLander, tau_band
from ..clustering.metrics import alone, evaluate
from ..clustering.weights import default_weights, load_weights
from ..clustering.zoom import ZOOM_OUT, zoom_out_levels
from ..labelled import LabelledEmbeddings, embed_labelled
from ..vision import EncoderSpec


def split_for_weights(data: LabelledEmbeddings, card: dict) -> tuple[LabelledEmbeddings, LabelledEmbeddings]:
    """(photos of identities the weights trained on, photos of the others)."""
    seen = set(card.get("train_labels", [])) | set(card.get("validation_labels", []))
    mask = np.isin(data.labels, list(seen))
    return data.subset(mask), data.subset(~mask)


def _row(method: str, params: str, test: LabelledEmbeddings, labels, seconds: float) -> dict:
    """A table row for ``labels``, a partition of ``test``."""
    truth, photo = test.labels, test.photo
    m = evaluate(truth, labels)
    row = {"method": method, "params": params, "fp": m["fp"], "fb": m["fb"], "nmi": m["nmi"],
           "pp": m["pp"], "rp": m["rp"], "clusters": m["clusters"], "seconds": seconds}
    once = alone(truth, labels)
    if once is not None:  # the test set has people seen once (``seen_once``)
        row["alone"] = once
    if photo is not None:  # the test set has group photos (``group_photos``)
        row["clashes"] = clashes(labels, photo)
    return row


def clashes(labels: np.ndarray, photo: np.ndarray) -> int:
    """How many faces share a group with another face of their photo (each photo's faces in one group count all
    but one): what a user would have to part by hand, since two faces in one photo are two people."""
    pairs = np.unique(np.stack([photo, labels]), axis=1)  # each (photo, group) once
    return int(len(labels) - pairs.shape[1])


def run_bench(data_dir: Path, mode: str = "faces", train_dir: Path | None = None, weights: Path | None = None,
              device=None, progress=None, seen_once: float = 0.0, seed: int = 0, group_photos: float = 0.0,
              forced: bool = False, zoom_out: int | None = 0) -> dict:
    """The shipped (or given) weights on the identities they never saw. ``seen_once``: that share of the test
    identities keep one photo each, drawn with ``seed`` (``LabelledEmbeddings.seen_once``); ``group_photos``:
    that share of the test faces are put in group photos of 2-4 people (``LabelledEmbeddings.in_group_photos``),
    which Hi-LANDER is told (``HiLander.fit(apart=...)``) and the table scores as "clashes"; ``forced``: also
    ``forced_clashes`` on the default run; ``zoom_out``: that many zoom-out levels past the stop
    (``HiLander.zoom_out``; None: as many as the app makes, ``zoom.zoom_out_levels``, which `bench` asks for
    unless told otherwise), listed and checked against the same-count cut with the others."""
    spec = EncoderSpec.of(mode)
    weights = Path(weights) if weights else default_weights(mode)
    model, card = load_weights(weights)
    if zoom_out is None:
        zoom_out = zoom_out_levels(mode, card)
    data = embed_labelled(data_dir, spec, progress=progress)
    if train_dir is not None:
        tuning = embed_labelled(train_dir, spec, progress=progress)
        test = data
        if set(card.get("train_labels", [])) & set(np.unique(data.labels).tolist()):
            _, test = split_for_weights(data, card)
        tuned_on = str(train_dir)
    else:
        tuning, test = split_for_weights(data, card)
        tuned_on = f"{data_dir} (the {len(np.unique(tuning.labels))} identities the weights trained on)"
    if len(test.labels) == 0 or len(tuning.labels) == 0:
        raise ValueError("no labelled photos left to test or tune on: pass --train with other labelled data")
    test = test.seen_once(seen_once, seed)
    if group_photos:
        test = test.in_group_photos(group_photos, seed, mode)

    rows, hl, searched = score_methods(test, tuning, model, card.get("tau"), mode, device, card.get("join_floor"),
                                       zoom_out)
    return {
        "data": str(data_dir), "mode": mode, "weights": str(weights), "tuned_on": tuned_on, "zoom_out": zoom_out,
        "test_identities": len(np.unique(test.labels)), "test_items": int(len(test.labels)),
        "seen_once": seen_once, "group_photos": group_photos, "photos": data.photos,
        "detection_misses": len(data.misses), "failed": len(data.failed), "rows": rows,
        "purity_vs_average_linkage": purity_check(test, hl),
        "tau_search": tau_search_check(test, model, card.get("tau"), searched, device),
        **({"forced_clashes": forced_clashes(test, hl)} if forced else {}),
    }


def score_methods(test: LabelledEmbeddings, tuning: LabelledEmbeddings, model, tau, mode: str, device=None,
                  join_floor: float | None = None, zoom_out: int = 0) -> tuple[list[dict], HiLander, HiLander]:
    """One row per method on ``test``: Hi-LANDER (and its finer levels) with ``model`` and its ``join_floor``, every
    baseline with its parameter tuned on ``tuning`` (never on ``test``), dlib's example as it is (faces) and the
    k-means oracle; with ``zoom_out``, the default run's zoom-out levels too. Also returns the default Hi-LANDER
    and the one that ran the per-library tau search (for ``tau_search_check``)."""
    near = NEAR_COPY.get(mode)
    row, hl = _variant("hi-lander", test, model, tau, device, join_floor=join_floor, near_copy=near,
                       zoom_out=zoom_out)
    rows = [row]
    for i, level in enumerate(hl.levels_[:hl.default_level_]):
        rows.append(_row(f"hi-lander level {i}", "finer level of the same run", test, level, 0.0))
    # Named by step, not by level: folds stop at different depths.
    for step, level in enumerate(hl.levels_[hl.default_level_ + 1:], 1):
        rows.append(_row(f"hi-lander zoom out {step}", "coarser level of the same run", test, level, 0.0))
    if test.photo is not None:  # group photos: the faces of one photo not kept apart
        rows.append(_variant("hi-lander (photos not told)", test, model, tau, device, join_floor=join_floor,
                             near_copy=near, photos=False)[0])
    # The per-library tau search (the default from 2026-11-29 to 11-30), set the other way than the default.
    search = not hl.tau_search
    row, other = _variant("hi-lander (tau per library)" if search else "hi-lander (trained tau)", test, model, tau,
                          device, tau_search=search, join_floor=join_floor, near_copy=near)
    rows.append(row)
    searched = other if search else hl
    # The link rules (check and merge, docs/hilander-ablation.md), set the other way than the default, to compare.
    rules = not (hl.link_check and hl.evidence_merge_)
    rows.append(_variant("hi-lander (link rules)" if rules else "hi-lander (no link rules)", test, model, tau,
                         device, link_check=rules, evidence_merge=rules, join_floor=join_floor,
                         near_copy=near)[0])
    if hl.evidence_merge_:  # the default before the merge was (2026-11-30)
        rows.append(_variant("hi-lander (no merge)", test, model, tau, device, join_floor=join_floor,
                             evidence_merge=False, near_copy=near)[0])
    if join_floor is not None:
        # The floor on whole trees (docs/hilander-ablation.md), set the other way than the default; and the
        # default before 2026-11-30: upper-level joins not held to the floor, no merge.
        rows.append(_variant("hi-lander (no tree floor)" if hl.tree_floor_ else "hi-lander (tree floor)", test,
                             model, tau, device, join_floor=join_floor, tree_floor=not hl.tree_floor_,
                             near_copy=near)[0])
        rows.append(_variant("hi-lander (no join floor)", test, model, tau, device)[0])
        # Lone leaves (docs/hilander-ablation.md, "A photo held by one link"), set the other way than the default.
        rows.append(_variant("hi-lander (no lone leaves)" if hl.lone_leaves_ else "hi-lander (lone leaves)", test,
                             model, tau, device, join_floor=join_floor, lone_leaves=not hl.lone_leaves_,
                             near_copy=near)[0])
    if near is not None:  # near copies clustered once (docs/hilander-ablation.md, "Near copies"), and not
        rows.append(_variant("hi-lander (no near copies)", test, model, tau, device, join_floor=join_floor)[0])
    for name, (cls, param, grid) in TUNABLE.items():
        value, _ = tune(cls, param, grid, tuning.x, tuning.labels)
        t = time.perf_counter()
        labels = cls(**{param: value}).fit_predict(test.x)
        rows.append(_row(name, f"{param}={value}", test, labels, time.perf_counter() - t))
    if mode == "faces":
        # dlib's example exactly: 0.5 Euclidean on the raw descriptors (not tuned).
        from ..clustering.baselines import ChineseWhispers

        t = time.perf_counter()
        labels = ChineseWhispers(max_distance=0.5, normalise=False).fit_predict(test.x)
        rows.append(_row("chinese-whispers (dlib)", "max_distance=0.5 raw", test, labels, time.perf_counter() - t))
    k_true = len(np.unique(test.labels))
    t = time.perf_counter()
    labels = OracleKMeans(n_clusters=k_true).fit_predict(test.x)
    rows.append(_row("k-means (oracle)", f"k={k_true} (true)", test, labels, time.perf_counter() - t))
    return rows, hl, searched


def _variant(label: str, test: LabelledEmbeddings, model, tau, device, photos: bool = True, **options
             ) -> tuple[dict, HiLander]:
    """A row for Hi-LANDER with ``options`` set, and the fitted estimator; told the test's group photos, as the
    app tells it a library's, unless ``photos`` is false."""
    t = time.perf_counter()
    h = HiLander(model=model, tau=tau, device=device, **options).fit(test.x, apart=test.photo if photos else None)
    return _row(label, _hl_params(h), test, h.labels_, time.perf_counter() - t), h


def _hl_params(h: HiLander) -> str:
    band = f" of {min(h.agreement_):g}-{max(h.agreement_):g}" if h.agreement_ else ""
    floor = f", floor={h.join_floor_:g}" if h.join_floor_ is not None else ""
    merge = ", merge" if h.evidence_merge_ else ""
    tree = ", tree floor" if h.tree_floor_ else ""
    near = f", near copies {h.near_copy:g}" if h.near_copy is not None else ""
    lone = ", lone leaves" if h.lone_leaves_ else ""
    zoom = len(h.levels_) - 1 - h.default_level_
    levels = h.default_level_ + 1
    return (f"tau={h.tau_:g}{band}{floor}{merge}{tree}{lone}{near}, k=10, {levels} level{'s' if levels > 1 else ''}"
            + (f" + {zoom} zoom out" if zoom else ""))


def run_cross_bench(data_dir: Path, mode: str = "faces", folds: int = 3, seed: int = 0, device=None,
                    progress=None, fold_models: Path | None = None, seen_once: float = 0.0, group_photos: float = 0.0,
                    forced: bool = False, zoom_out: int | None = 0, added_dir: Path | None = None, **overrides) -> dict:
    """Every labelled identity tested once: the identities are split into ``folds`` folds; for each, weights are
    trained with the shipped recipe (``overrides`` change it) on the other folds, the baselines are tuned on them,
    and every method is scored on the fold. Rows are the mean over the folds (clusters and seconds: the sum).
    One split of a few dozen people moves by more than the methods differ (docs/hilander-ablation.md).
    ``fold_models``: a folder where each fold's trained weights are kept and, on a later run with the same data,
    partition and recipe, reused (training is nearly all of the time: 4-10 minutes a fold on 2 cores, by machine).
    ``seen_once``: that share of each fold's test identities keep one photo each (the weights and the baselines'
    tuning still see all the photos of the other folds), as people seen once are in a personal library;
    ``group_photos``: that share of each fold's test faces in group photos, ``forced``: forced clashes on each
    fold, ``zoom_out``: zoom-out levels (see ``run_bench``). ``added_dir``: a second labelled folder whose
    episodes join every fold's training (``learn.train_folder``)."""
    from ..learn import embed_added, recipe
    from ..clustering.training import curve_json, learn_join_floor, tau_scores, train

    spec = EncoderSpec.of(mode)
    added = embed_added(added_dir, data_dir, spec, progress)
    added_xy = None if added is None else (added.x, added.labels)
    data = embed_labelled(data_dir, spec, progress=progress)
    names = np.unique(data.labels)
    if folds < 2 or len(names) < 2 * folds:
        raise ValueError(f"{len(names)} labels cannot make {folds} folds of two labels or more (and at least 2 folds)")
    parts = np.array_split(np.random.default_rng(seed).permutation(names), folds)
    cfg = recipe(seed, mode, **overrides)
    if zoom_out is None:  # every fold model has a join floor (below)
        zoom_out = ZOOM_OUT.get(mode, 0)
    per_fold = []
    for f, part in enumerate(parts):
        held = np.isin(data.labels, part)
        tuning, test = data.subset(~held), data.subset(held)
        test = test.seen_once(seen_once, seed + f)
        if group_photos:
            test = test.in_group_photos(group_photos, seed + f, mode)
        step = (lambda what, done, total, _f=f: progress(f"{what} (fold {_f + 1}/{folds})", done, total)) \
            if progress else None
        trained = _fold_model(fold_models, data_dir, mode, seed, folds, f, part, cfg,
                              lambda: train(tuning.x, tuning.labels, cfg, progress=step, added=added_xy),
                              added_dir)
        # Fold models kept from before the floor existed get it from the same training people.
        floor = trained.join_floor if trained.join_floor is not None else \
            learn_join_floor(tuning.x, tuning.labels, seed=cfg.seed)
        rows, hl, searched = score_methods(test, tuning, trained.model, trained.tau, mode, device, floor, zoom_out)
        per_fold.append({"labels": sorted(str(v) for v in part), "items": int(len(test.labels)),
                         "tau": trained.tau, "join_floor": floor, "train_seconds": trained.seconds, "rows": rows,
                         "purity_vs_average_linkage": purity_check(test, hl),
                         "tau_search": tau_search_check(test, trained.model, trained.tau, searched, device),
                         **({"forced_clashes": forced_clashes(test, hl)} if forced else {}),
                         "tau_curve_validation": curve_json(trained.tau_scores),
                         "tau_curve_validation_folds": [curve_json(curve) for curve in trained.fold_scores],
                         # Diagnostic, nothing is chosen from it: what the tau that cross-validation chose (on
                         # training identities only) costs against the best one in hindsight.
                         "tau_curve_test": curve_json(tau_scores(trained.model, test.x, test.labels, cfg,
                                                                 join_floor=floor, evidence_merge=None))})
    rows = []
    for first in per_fold[0]["rows"]:
        # By method: folds may stop at different depths, so a finer level's row is kept only where every fold has it.
        fold_rows = [next((r for r in fold["rows"] if r["method"] == first["method"]), None) for fold in per_fold]
        if None in fold_rows:
            continue
        row = {"method": first["method"], "params": _merge_params([r["params"] for r in fold_rows])}
        for key in ("fp", "fb", "nmi", "pp", "rp") + (("alone",) if all("alone" in r for r in fold_rows) else ()):
            row[key] = float(np.mean([r[key] for r in fold_rows]))
            row[f"{key}_folds"] = [r[key] for r in fold_rows]
        if all("clashes" in r for r in fold_rows):
            row["clashes"] = int(sum(r["clashes"] for r in fold_rows))
        row["clusters"] = int(sum(r["clusters"] for r in fold_rows))
        row["seconds"] = float(sum(r["seconds"] for r in fold_rows))
        rows.append(row)
    return {
        "data": str(data_dir), "mode": mode, "weights": f"trained per fold ({folds} folds, seed {seed})",
        "tuned_on": "the other folds", "folds": per_fold, "zoom_out": zoom_out, "test_identities": int(len(names)),
        "test_items": int(sum(fold["items"] for fold in per_fold)), "seen_once": seen_once,
        "group_photos": group_photos, "photos": data.photos,
        "added": None if added is None else {"data": str(Path(added_dir).resolve()),
                                             "labels": int(len(np.unique(added.labels))),
                                             "items": int(len(added.labels))},
        "detection_misses": len(data.misses), "failed": len(data.failed), "rows": rows,
        "purity_vs_average_linkage": [{**p, "fold": f + 1} for f, fold in enumerate(per_fold)
                                      for p in fold["purity_vs_average_linkage"]],
        "config": asdict(cfg),
    }


def _fold_model(folder: Path | None, data_dir: Path, mode: str, seed: int, folds: int, fold: int, part, cfg,
                trainer, added_dir: Path | None = None):
    """A fold's trained weights: from ``folder`` when a file there was trained on the same data, partition,
    recipe and added folder (its card says), otherwise trained now and, with a folder, saved there."""
    from ..clustering.weights import load_weights, save_weights
    from ..clustering.training import TrainResult, curve_json

    if folder is None:
        return trainer()
    what = {"data": str(Path(data_dir).resolve()), "mode": mode, "seed": seed, "folds": folds, "fold": fold,
            "test_labels": sorted(str(v) for v in part), "config": json.loads(json.dumps(asdict(cfg), default=str))}
    if added_dir is not None:  # only then, so that weights kept before the option existed still match
        what["added"] = str(Path(added_dir).resolve())
    path = Path(folder) / f"{mode}-seed{seed}-fold{fold + 1}of{folds}.pt"
    if path.is_file():
        model, card = load_weights(path)
        if _same_training(card.get("trained_for"), what):
            return TrainResult(model=model, tau=float(card["tau"]), seconds=float(card["train_seconds"]),
                               tau_scores={float(t): m for t, m in card["tau_scores"].items()},
                               fold_scores=[{float(t): m for t, m in curve.items()}
                                            for curve in card.get("fold_tau_scores", [])],
                               join_floor=card.get("join_floor"))
    trained = trainer()
    Path(folder).mkdir(parents=True, exist_ok=True)
    save_weights(trained.model, path, {"trained_for": what, "tau": trained.tau, "join_floor": trained.join_floor,
                                       "train_seconds": trained.seconds,
                                       "tau_scores": {f"{t:g}": m for t, m in trained.tau_scores.items()},
                                       "fold_tau_scores": [curve_json(curve) for curve in trained.fold_scores]})
    return trained


def _same_training(stored: dict | None, wanted: dict) -> bool:
    """Whether weights kept with ``stored`` (their card's ``trained_for``) were trained as ``wanted``. A recipe
    field added since they were kept counts as the same where it is at its default (the recipe then was it)."""
    if not stored or set(stored) != set(wanted):
        return False
    if any(stored[key] != wanted[key] for key in wanted if key != "config"):
        return False
    from ..clustering.training import TrainConfig

    defaults = json.loads(json.dumps(asdict(TrainConfig()), default=str))
    config = {key: value for key, value in wanted["config"].items()
              if key in stored["config"] or value != defaults.get(key)}
    return stored["config"] == config


def _merge_params(params: list[str]) -> str:
    """One parameter text for the folds: "tau=0.8, k=10" and "tau=0.75, k=10" give "tau=0.8/0.75, k=10"."""
    split = [p.split(", ") for p in params]
    if len({len(parts) for parts in split}) != 1:
        return " / ".join(dict.fromkeys(params))
    merged = []
    for values in zip(*split):
        if len(set(values)) == 1:
            merged.append(values[0])
        elif all("=" in v and v.split("=")[0] == values[0].split("=")[0] for v in values):
            merged.append(values[0].split("=")[0] + "=" + "/".join(v.split("=", 1)[1] for v in values))
        else:
            merged.append("/".join(values))
    return ", ".join(merged)


def tau_search_check(test: LabelledEmbeddings, model, tau, searched: HiLander, device=None) -> dict:
    """What the per-library search (``searched``, a run with ``tau_search``) kept and the part of the band its
    climb scored, and the whole band scored as well: whether the climb kept the band's best (it can stop at a
    local best). The band is built with the search's own join floor, so the two score the same hierarchies."""
    whole = HiLander(model=model, tau=tau, tau_candidates=tau_band(searched.trained_tau_), device=device,
                     join_floor=searched.join_floor_).fit(test.x, apart=test.photo) if searched.agreement_ else None
    return {"kept": searched.tau_, "climb": {f"{t:g}": a for t, a in searched.agreement_.items()},
            "band": {f"{t:g}": a for t, a in whole.agreement_.items()} if whole else {},
            "band_best": whole.tau_ if whole else searched.tau_}


def forced_clashes(test: LabelledEmbeddings, hl: HiLander, per_stray: int = 5, seed: int = 0) -> dict:
    """How keeping the faces of one photo apart does where it has something to do. The labelled photos each show
    one person, so clashes are made: each item of ``hl``'s default partition that sits in a group of mostly
    another label (a stray, or a piece of a look-alike) is declared one photo with up to ``per_stray`` of that
    group's other items, one at a time (moved into that item's photo, where ``test`` has group photos, as ``hl``
    was told them), and the test set is grouped again with the same settings. Returns the
    number of clashes, the mean change of Fp and Fb, how many lost nothing, and the worst change of Fp."""
    rng = np.random.default_rng(seed)
    labels = hl.labels_
    cases = []
    for group in np.unique(labels):
        members = np.flatnonzero(labels == group)
        names, counts = np.unique(test.labels[members], return_counts=True)
        most = names[np.argmax(counts)]
        mates = members[test.labels[members] == most]
        for stray in members[test.labels[members] != most]:
            cases += [(int(stray), int(mate)) for mate in rng.choice(mates, min(per_stray, mates.size), replace=False)]
    before = evaluate(test.labels, labels)
    changes = []
    for stray, mate in cases:
        photo = np.arange(len(test.labels)) if test.photo is None else test.photo.copy()
        photo[stray] = photo[mate]
        again = HiLander(**hl.get_params()).fit(test.x, apart=photo)
        if any(level[stray] == level[mate] for level in again.levels_):
            raise AssertionError(f"faces {stray} and {mate} of one photo share a group")
        after = evaluate(test.labels, again.labels_)
        changes.append((after["fp"] - before["fp"], after["fb"] - before["fb"]))
    fp, fb = (np.array([c[i] for c in changes]) for i in (0, 1))
    return {"clashes": len(cases), "fp_change": float(fp.mean()) if cases else 0.0,
            "fb_change": float(fb.mean()) if cases else 0.0, "no_loss": int((fp >= -1e-9).sum()),
            "worst_fp_change": float(fp.min()) if cases else 0.0}


def purity_check(test: LabelledEmbeddings, hl: HiLander) -> list[dict]:
    """Pairwise precision of each Hi-LANDER level against average linkage cut at the same number of clusters.

    The pairwise F of both comes with it: a cut given the level's count may buy its precision with recall (people
    left in more pieces), so precision alone does not say which partition is better."""
    from sklearn.cluster import AgglomerativeClustering

    from ..clustering.knn import l2_normalise

    out = []
    x = l2_normalise(test.x)
    for i, level in enumerate(hl.levels_):
        count = int(level.max()) + 1
        if count >= len(x) or count < 1:
            continue
        cut = AgglomerativeClustering(n_clusters=count, linkage="average").fit_predict(x)
        ours, theirs = evaluate(test.labels, level), evaluate(test.labels, cut)
        out.append({"level": i, "clusters": count, "zoom_out": max(0, i - hl.default_level_),
                    "hi_lander_precision": ours["pp"], "average_linkage_precision": theirs["pp"],
                    "hi_lander_fp": ours["fp"], "average_linkage_fp": theirs["fp"]})
    return out


def purity_summary(checks: list[dict]) -> str:
    """How many levels are purer, and how many score a higher pairwise F, than the same-count cut."""
    def count(key):  # equal to the printed third decimal counts as level
        ahead = sum(c[f"hi_lander_{key}"] > c[f"average_linkage_{key}"] + 5e-4 for c in checks)
        level = sum(abs(c[f"hi_lander_{key}"] - c[f"average_linkage_{key}"]) <= 5e-4 for c in checks)
        return f"{ahead} of {len(checks)} levels" + (f" (level on {level})" if level else "")

    return f"hi-lander ahead on precision on {count('precision')}, on Fp on {count('fp')}"


def format_table(result: dict) -> str:
    folds = result.get("folds")
    if folds:
        taus = ", ".join(f"{fold['tau']:g}" for fold in folds)
        head = (f"{result['data']} ({result['mode']}): {result['test_items']} items of {result['test_identities']} "
                f"identities in {len(folds)} folds; each fold scored by weights trained, and baselines tuned, on the "
                f"other folds (tau per fold: {taus}); "
                "mean over the folds")
        if result.get("added"):
            head += (f"; every fold's training also saw episodes of the {result['added']['labels']} labels of "
                     f"{result['added']['data']}")
    else:
        head = (f"{result['data']} ({result['mode']}): {result['test_items']} items of {result['test_identities']} "
                f"identities the weights never saw; baselines tuned on {result['tuned_on']}")
    if result.get("seen_once"):
        head += (f"; {result['seen_once']:.0%} of the test identities seen once (one photo each, drawn at random), "
                 "the column alone: the share of them left in a group of their own")
    if result.get("zoom_out"):
        head += (f"; up to {result['zoom_out']} zoom-out levels past the stop (the app stores "
                 f"{ZOOM_OUT.get(result['mode'], 0)})")
    if result.get("group_photos"):
        head += (f"; {result['group_photos']:.0%} of the test faces in group photos of 2-4 people (drawn at random), "
                 "the column clashes: faces in a group with another face of their photo")
    per_fold = f" {'Fp per fold':<20} |" if folds else ""
    once = all("alone" in r for r in result["rows"])
    shared = all("clashes" in r for r in result["rows"])
    lines = [
        head,
        f"photos: {result['photos']}, nothing detected in {result['detection_misses']}, unreadable "
        f"{result['failed']}",
        "",
        f"| {'method':<24} | {'parameters':<30} | {'Fp':>6} | {'Fb':>6} | {'NMI':>6} | {'clusters':>8} | "
        f"{'seconds':>7} |" + (f" {'alone':>6} |" if once else "") + (f" {'clashes':>7} |" if shared else "")
        + per_fold,
        f"| {'-' * 24} | {'-' * 30} | {'-' * 6}:| {'-' * 6}:| {'-' * 6}:| {'-' * 8}:| {'-' * 7}:|"
        + (f" {'-' * 6}:|" if once else "") + (f" {'-' * 7}:|" if shared else "") + (f" {'-' * 20} |" if folds else ""),
    ]
    for r in result["rows"]:
        line = (f"| {r['method']:<24} | {r['params']:<30} | {r['fp']:6.3f} | {r['fb']:6.3f} | "
                f"{r['nmi']:6.3f} | {r['clusters']:8d} | {r['seconds']:7.2f} |")
        if once:
            line += f" {r['alone']:6.3f} |"
        if shared:
            line += f" {r['clashes']:7d} |"
        if folds:
            line += f" {' '.join(f'{v:.3f}' for v in r['fp_folds']):<20} |"
        lines.append(line)
    if folds:
        lines.append("")
    for i, fold in enumerate(folds or []):
        curve = fold["tau_curve_test"]
        best = max(curve, key=lambda t: curve[t]["fp"] + curve[t]["fb"])
        chosen = curve.get(f"{fold['tau']:g}")
        if chosen:
            lines.append(f"fold {i + 1}: tau {fold['tau']:g} by cross-validation on the training identities gives Fp "
                         f"{chosen['fp']:.3f}; the best tau in hindsight, {best}, {curve[best]['fp']:.3f}")
    for i, check in enumerate([fold.get("tau_search") for fold in folds] if folds else [result.get("tau_search")]):
        if check and check["climb"]:
            where = f"fold {i + 1}: " if folds else ""
            lines.append(f"{where}with the per-library search (opt-in) tau {check['kept']:g}, climbing over "
                         f"{', '.join(check['climb'])}; the best of the whole band {', '.join(check['band'])}: "
                         f"{check['band_best']:g}")
    forced = [(f"fold {i + 1}: ", fold["forced_clashes"]) for i, fold in enumerate(folds or [])
              if "forced_clashes" in fold] or ([("", result["forced_clashes"])] if "forced_clashes" in result else [])
    if forced:
        lines += ["", "forced clashes (each stray at the default level declared one photo with up to 5 faces of "
                      "its group, one at a time, and grouped again):"]
        for where, f in forced:
            lines.append(f"  {where}{f['clashes']} clashes: Fp {f['fp_change']:+.4f}, Fb {f['fb_change']:+.4f} a "
                         f"clash on average; {f['no_loss']} lost nothing; the worst Fp {f['worst_fp_change']:+.4f}")
    if result["purity_vs_average_linkage"]:
        checks = result["purity_vs_average_linkage"]
        lines += ["", "pairwise precision per level vs average linkage cut at the same count (and the Fp of both):"]
        for p in checks:
            where = f"fold {p['fold']} " if "fold" in p else ""
            zoom = f" (zoom out {p['zoom_out']})" if p.get("zoom_out") else ""
            lines.append(f"  {where}level {p['level']}{zoom}: {p['clusters']} clusters, hi-lander "
                         f"{p['hi_lander_precision']:.3f} vs average linkage {p['average_linkage_precision']:.3f} "
                         f"(Fp {p['hi_lander_fp']:.3f} vs {p['average_linkage_fp']:.3f})")
        lines.append(f"  {purity_summary(checks)}")
        zoomed = [p for p in checks if p.get("zoom_out")]
        if zoomed:
            lines.append(f"  the zoom-out levels alone: {purity_summary(zoomed)}")
    return "\n".join(lines)


def write_json(result: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(result, indent=2))
