"""Probe (docs/hilander-ablation.md, "The lone leaves' bar learned from the training identities"): the lone
leaves' bar as a low percentile (3rd) of the training identities' photos' mean similarity to the rest of their
identity, a bar on each encoder's own scale, against the default (the join floor less a quarter of its distance:
0.90 for faces, where the two agree, but 0.26-0.31 for species, far below any breed's own photos).

Reads kept fold models (`bench --folds 3 --seed S --fold-models DIR`) and scores each fold's test identities as
`bench` scores the default (near copies on), with all photos and with half the identities seen once (`bench
--seen-once 0.5`'s draw), both ways; the bar is computed from the fold's training identities.

    .venv/bin/python docs/probes/lone_bar.py species 24,25,26,27 MODELS
"""
import sys
from pathlib import Path
import numpy as np
from photo_grouper.clustering.decode import LONE_SLACK
from photo_grouper.clustering.hilander import HiLander
from photo_grouper.clustering.metrics import evaluate
from photo_grouper.bench.quality import NEAR_COPY
from photo_grouper.clustering.weights import load_weights
from photo_grouper.labelled import embed_labelled
from photo_grouper.vision import EncoderSpec

PCT = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0


class Variant(HiLander):
    lone_bar = None

    def _below_floor(self, share):
        if share == LONE_SLACK and self.lone_bar is not None:
            return self.lone_bar
        return super()._below_floor(share)


def own_bar(x, y, pct=PCT):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    out = []
    for name in np.unique(y):
        rows = np.flatnonzero(y == name)
        if rows.size < 2:
            continue
        s = x[rows] @ x[rows].T
        out.extend((s.sum(1) - np.diag(s)) / (rows.size - 1))
    return float(np.percentile(out, pct))


def alone(y, labels):
    names, counts = np.unique(y, return_counts=True)
    once = names[counts == 1]
    if not len(once):
        return float("nan")
    return float(np.mean([np.sum(labels == labels[np.flatnonzero(y == n)[0]]) == 1 for n in once]))


mode, seeds, fm = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], Path(sys.argv[3])
data = embed_labelled(Path("/tmp/shared/data") / ("pets-oxford" if mode == "species" else "faces-celeba"),
                      EncoderSpec.of(mode))
names = np.unique(data.labels)
for seed in seeds:
    parts = np.array_split(np.random.default_rng(seed).permutation(names), 3)
    res = {k: [] for k in ("all0", "all1", "once0", "once1")}
    for f, part in enumerate(parts):
        model, card = load_weights(fm / f"{mode}-seed{seed}-fold{f + 1}of3.pt")
        held = np.isin(data.labels, part)
        bar = own_bar(data.x[~held], data.labels[~held])
        for kind, test in (("all", data.subset(held)), ("once", data.subset(held).seen_once(0.5, seed + f))):
            for v in (0, 1):
                h = Variant(model=model, tau=card["tau"], join_floor=card["join_floor"], near_copy=NEAR_COPY.get(mode), device="cpu")
                if v:
                    h.lone_bar = bar
                lab = h.fit_predict(test.x)
                m = evaluate(test.labels, lab)
                res[f"{kind}{v}"].append((m["fp"], m["fb"], alone(test.labels, lab)))
        default_bar = card["join_floor"] - LONE_SLACK * (1 - card["join_floor"])
        print(f"{mode} seed {seed} fold {f + 1}: bar {default_bar:.3f} -> {bar:.3f}; all {res['all0'][-1][:2]} -> "
              f"{res['all1'][-1][:2]}; once {res['once0'][-1]} -> {res['once1'][-1]}", flush=True)
    for k, v in res.items():
        a = np.array(v)
        print(f"  {mode} seed {seed} {k}: Fp {a[:, 0].mean():.4f} Fb {a[:, 1].mean():.4f} alone {np.nanmean(a[:, 2]):.3f}")
