"""Clustering quality on labelled photos: Hi-LANDER with trained weights against the heuristics apps use.

Baseline thresholds are tuned on labelled data other than the test photos: ``--train DATA2``, or else the part of
DATA whose identities trained the weights (the weights' card lists them); the test set is always the identities
the weights never saw. Prints method, parameters, Fp, Fb, NMI, cluster count and seconds, then checks that every
Hi-LANDER level is purer than a same-count cut of the average-linkage tree.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..clustering.baselines import TUNABLE, OracleKMeans, tune
from ..clustering.hilander import HiLander, default_weights, load_weights
from ..clustering.metrics import evaluate
from ..labelled import LabelledEmbeddings, embed_labelled
from ..vision import EncoderSpec


def split_for_weights(data: LabelledEmbeddings, card: dict) -> tuple[LabelledEmbeddings, LabelledEmbeddings]:
    """(photos of identities the weights trained on, photos of the others)."""
    seen = set(card.get("train_labels", [])) | set(card.get("validation_labels", []))
    mask = np.isin(data.labels, list(seen))
    return data.subset(mask), data.subset(~mask)


def _row(method: str, params: str, truth, labels, seconds: float) -> dict:
    m = evaluate(truth, labels)
    return {"method": method, "params": params, "fp": m["fp"], "fb": m["fb"], "nmi": m["nmi"],
            "pp": m["pp"], "rp": m["rp"], "clusters": m["clusters"], "seconds": seconds}


def run_bench(data_dir: Path, mode: str = "faces", train_dir: Path | None = None, weights: Path | None = None,
              device=None, progress=None) -> dict:
    spec = EncoderSpec.of(mode)
    weights = Path(weights) if weights else default_weights(mode)
    model, card = load_weights(weights)
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

    rows = []
    t = time.perf_counter()
    hl = HiLander(model=model, tau=card.get("tau"), device=device).fit(test.x)
    seconds = time.perf_counter() - t
    rows.append(_row("hi-lander", f"tau={hl.tau_:g}, k=10, {len(hl.levels_)} levels", test.labels, hl.labels_,
                     seconds))
    for i, level in enumerate(hl.levels_[:-1]):
        rows.append(_row(f"hi-lander level {i}", "finer level of the same run", test.labels, level, 0.0))
    for name, (cls, param, grid) in TUNABLE.items():
        value, _ = tune(cls, param, grid, tuning.x, tuning.labels)
        t = time.perf_counter()
        labels = cls(**{param: value}).fit_predict(test.x)
        rows.append(_row(name, f"{param}={value}", test.labels, labels, time.perf_counter() - t))
    if mode == "faces":
        # dlib's example exactly: 0.5 Euclidean on the raw descriptors (not tuned).
        from ..clustering.baselines import ChineseWhispers

        t = time.perf_counter()
        labels = ChineseWhispers(max_distance=0.5, normalise=False).fit_predict(test.x)
        rows.append(_row("chinese-whispers (dlib)", "max_distance=0.5 raw", test.labels, labels,
                         time.perf_counter() - t))
    k_true = len(np.unique(test.labels))
    t = time.perf_counter()
    labels = OracleKMeans(n_clusters=k_true).fit_predict(test.x)
    rows.append(_row("k-means (oracle)", f"k={k_true} (true)", test.labels, labels, time.perf_counter() - t))

    return {
        "data": str(data_dir), "mode": mode, "weights": str(weights), "tuned_on": tuned_on,
        "test_identities": k_true, "test_items": int(len(test.labels)),
        "photos": data.photos, "detection_misses": len(data.misses), "failed": len(data.failed),
        "rows": rows, "purity_vs_average_linkage": purity_check(test, hl),
    }


def purity_check(test: LabelledEmbeddings, hl: HiLander) -> list[dict]:
    """Pairwise precision of each Hi-LANDER level against average linkage cut at the same number of clusters."""
    from sklearn.cluster import AgglomerativeClustering

    from ..clustering.knn import l2_normalise

    out = []
    x = l2_normalise(test.x)
    for i, level in enumerate(hl.levels_):
        count = int(level.max()) + 1
        if count >= len(x) or count < 1:
            continue
        cut = AgglomerativeClustering(n_clusters=count, linkage="average").fit_predict(x)
        out.append({"level": i, "clusters": count, "hi_lander_precision": evaluate(test.labels, level)["pp"],
                    "average_linkage_precision": evaluate(test.labels, cut)["pp"]})
    return out


def format_table(result: dict) -> str:
    lines = [
        f"{result['data']} ({result['mode']}): {result['test_items']} items of {result['test_identities']} "
        f"identities the weights never saw; baselines tuned on {result['tuned_on']}",
        f"photos: {result['photos']}, nothing detected in {result['detection_misses']}, unreadable "
        f"{result['failed']}",
        "",
        f"| {'method':<24} | {'parameters':<30} | {'Fp':>6} | {'Fb':>6} | {'NMI':>6} | {'clusters':>8} | {'seconds':>7} |",
        f"| {'-' * 24} | {'-' * 30} | {'-' * 6}:| {'-' * 6}:| {'-' * 6}:| {'-' * 8}:| {'-' * 7}:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['method']:<24} | {r['params']:<30} | {r['fp']:6.3f} | {r['fb']:6.3f} | "
                     f"{r['nmi']:6.3f} | {r['clusters']:8d} | {r['seconds']:7.2f} |")
    if result["purity_vs_average_linkage"]:
        lines += ["", "pairwise precision per level vs average linkage cut at the same count:"]
        for p in result["purity_vs_average_linkage"]:
            lines.append(f"  level {p['level']}: {p['clusters']} clusters, hi-lander {p['hi_lander_precision']:.3f}"
                         f" vs average linkage {p['average_linkage_precision']:.3f}")
    return "\n".join(lines)


def write_json(result: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(result, indent=2))
