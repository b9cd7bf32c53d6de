"""The finer levels refined until the default (docs/hilander-ablation.md, "Finer levels that let go of their least
sure photos"): levels below the default met with a partition M of the default level, in which the photos a rule
doubts are alone, so that they join their group only at the default level (the default and the zoom-out levels
unchanged, each level still a coarsening of the one before). Each refined level's pairwise precision against the
same-count cut of the average-linkage tree, on fold models kept by `bench --folds 3 --seed S --fold-models DIR`.

    .venv/bin/python docs/probes/finer_levels_refined.py 35,36,38,39,40,41 DIR [DIR ...]

Rules: sim-D, a photo whose mean similarity to the rest of its default group is under the group's median by more
than D; links<0, a photo whose first-level links inside its default group sum below 0 in log-odds against tau.
"""
import sys
from pathlib import Path
import numpy as np
import torch
from sklearn.cluster import AgglomerativeClustering
from photo_grouper.vision import EncoderSpec
from photo_grouper.labelled import embed_labelled
from photo_grouper.clustering.weights import load_weights
from photo_grouper.clustering.hilander import HiLander
from photo_grouper.clustering.copies import NEAR_COPY
from photo_grouper.clustering.knn import l2_normalise
from photo_grouper.clustering.metrics import evaluate
from photo_grouper.clustering.zoom import ZOOM_OUT

torch.set_num_threads(1)
DATA = Path("/work/shared/data/faces-celeba")
data = embed_labelled(DATA, EncoderSpec.of("faces"))
names = np.unique(data.labels)

def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))

def meet(a, b):
    return np.unique(np.stack([a, b]), axis=1, return_inverse=True)[1].ravel()

def rule_masks(hl, x, prob, graph, default):
    n = len(x)
    out = {}
    # R1: mean similarity to the rest of the default group vs the group's median
    sims = x @ x.T
    G = default
    mean_to_group = np.zeros(n)
    for g in np.unique(G):
        m = np.flatnonzero(G == g)
        if len(m) < 3:
            mean_to_group[m] = np.inf
            continue
        s = (sims[np.ix_(m, m)].sum(1) - 1) / (len(m) - 1)
        mean_to_group[m] = s - np.median(s)
    for d in (0.02, 0.03, 0.05):
        out[f"sim-{d}"] = mean_to_group < -d
    # R2: sum of link log-odds to own default group
    src, dst = graph.edge_index.numpy()
    same = (G[src] == G[dst]) & (src != dst)
    term = logit(prob) - logit(hl.tau_)
    s2 = np.bincount(src[same], term[same], minlength=n) + np.bincount(dst[same], term[same], minlength=n)
    sizes = np.bincount(G)[G]
    out["links<0"] = (s2 < 0) & (sizes >= 3)
    return out

def main(seeds, fmdirs):
    tot = {}
    for seed in seeds:
        parts = np.array_split(np.random.default_rng(seed).permutation(names), 3)
        for f, part in enumerate(parts):
            path = next(Path(d) / f"faces-seed{seed}-fold{f+1}of3.pt" for d in fmdirs if (Path(d) / f"faces-seed{seed}-fold{f+1}of3.pt").exists())
            model, card = load_weights(path)
            test = data.subset(np.isin(data.labels, part))
            y = test.labels
            hl = HiLander(model=model, tau=card["tau"], join_floor=card.get("join_floor"), near_copy=NEAR_COPY["faces"],
                          zoom_out=ZOOM_OUT["faces"], device="cpu").fit(test.x)
            x = l2_normalise(test.x)
            graph, prob, dens, _ = hl._predict_level(model.eval(), torch.device("cpu"), {"features": x, "centres": x})
            d = hl.default_level_
            default = hl.levels_[d]
            masks = rule_masks(hl, x, prob, graph, default)
            maj = {}
            for g in np.unique(default):
                lab, c = np.unique(y[default == g], return_counts=True)
                maj[g] = lab[np.argmax(c)]
            wrong = np.array([y[i] != maj[default[i]] for i in range(len(y))])
            cuts = {}
            def cut_prec(count):
                if count not in cuts:
                    cuts[count] = evaluate(y, AgglomerativeClustering(n_clusters=count, linkage="average").fit_predict(x))["pp"]
                return cuts[count]
            for name, mask in [("base", np.zeros(len(y), bool))] + list(masks.items()):
                M = default.copy()
                M[mask] = default.max() + 1 + np.arange(mask.sum())
                res = []
                for lv in range(d):
                    R = meet(hl.levels_[lv], M)
                    count = int(R.max()) + 1
                    ours = evaluate(y, R)["pp"]
                    theirs = cut_prec(count)
                    side = "hl" if round(ours, 3) > round(theirs, 3) else "level" if round(ours, 3) == round(theirs, 3) else "cut"
                    t = tot.setdefault(name, {"l0": {"hl": 0, "level": 0, "cut": 0}, "up": {"hl": 0, "level": 0, "cut": 0}, "wrong": 0, "right": 0, "diff": []})
                    t["l0" if lv == 0 else "up"][side] += 1
                    t["diff"].append(ours - theirs)
                    res.append(f"L{lv}:{count}:{ours:.3f}/{theirs:.3f}")
                t = tot.setdefault(name, {"l0": {"hl": 0, "level": 0, "cut": 0}, "up": {"hl": 0, "level": 0, "cut": 0}, "wrong": 0, "right": 0, "diff": []})
                t["wrong"] += int((mask & wrong).sum()); t["right"] += int((mask & ~wrong).sum())
                print(seed, f + 1, name, f"detached wrong {int((mask & wrong).sum())} right {int((mask & ~wrong).sum())} (wrong in default {int(wrong.sum())})", " ".join(res), flush=True)
    for name, t in tot.items():
        print(name, "level0", t["l0"], "above", t["up"], "detached wrong", t["wrong"], "right", t["right"], "mean diff %.4f" % np.mean(t["diff"]))

if __name__ == "__main__":
    main([int(s) for s in sys.argv[1].split(",")], sys.argv[2:])
