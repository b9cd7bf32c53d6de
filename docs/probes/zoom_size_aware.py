"""Probe (docs/hilander-ablation.md, "Zoom-out levels that join the cheapest pairs first"): zoom-out levels past
the stop made by joining, among the default groups with a first-level link between them, always the pair whose
join costs the fewest expected wrong pairs, |A| |B| (1 - p), p = sigmoid((s - floor) / 0.02) from the pair's
mean photo similarity s and the weights' join floor; against average linkage over the default groups (zoom.py's
rule) and the same-count average-linkage cut over the photos. Zoom-out step 1-4 has ceil(step * n0 / 10) groups
fewer than the default's n0. Reads the fold models `bench --folds 3 --seed S --fold-models DIR` kept; trains
nothing. A probe: one pass over the linked pairs per join (quadratic), and two faces of one photo are not kept
apart (CelebA photos hold one face).

    .venv/bin/python docs/probes/zoom_size_aware.py DIR SEED[,SEED...]
"""
import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from photo_grouper.bench.quality import _fold_model, _variant
from photo_grouper.clustering.copies import NEAR_COPY
from photo_grouper.clustering.knn import knn_graph, l2_normalise
from photo_grouper.clustering.metrics import evaluate
from photo_grouper.labelled import embed_labelled
from photo_grouper.learn import recipe
from photo_grouper.vision import EncoderSpec

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "faces-celeba"
STEPS = (1, 2, 3, 4)
TEMPERATURE = 0.02


def joined(labels: np.ndarray, x: np.ndarray, cost, fewer: list[int]) -> dict[int, np.ndarray]:
    """The default groups ``labels`` joined two at a time, the linked pair of lowest ``cost(s, na, nb)`` first;
    the partition once each of ``fewer`` joins is made."""
    g = int(labels.max()) + 1
    sums = np.zeros((g, x.shape[1]))
    np.add.at(sums, labels, x)
    sizes = np.bincount(labels, minlength=g).astype(float)
    graph = knn_graph(x, 10)
    pairs = {(min(a, b), max(a, b)) for i in range(len(x)) for a, b in
             ((labels[i], labels[j]) for j in graph.indices[i]) if a != b}
    owner = np.arange(g)

    def root(a):
        while owner[a] != a:
            a = owner[a]
        return a

    out, made = {}, 0
    while made < max(fewer):
        best = None
        for a, b in {(min(root(a), root(b)), max(root(a), root(b))) for a, b in pairs}:
            if a == b:
                continue
            c = cost(sums[a] @ sums[b] / (sizes[a] * sizes[b]), sizes[a], sizes[b])
            if best is None or c < best[0]:
                best = (c, a, b)
        if best is None:
            break
        _, a, b = best
        owner[b] = a
        sums[a] += sums[b]
        sizes[a] += sizes[b]
        made += 1
        if made in fewer:
            out[made] = np.unique([root(c) for c in labels], return_inverse=True)[1]
    return out


def main(folder: Path, seeds: list[int]) -> None:
    data = embed_labelled(DATA, EncoderSpec.of("faces"))
    names = np.unique(data.labels)
    tally = {"cheapest": [0, 0, 0], "average linkage over the groups": [0, 0, 0]}  # above, below by 0.005, all
    for seed in seeds:
        cfg = recipe(seed, "faces")
        for f, part in enumerate(np.array_split(np.random.default_rng(seed).permutation(names), 3)):
            held = np.isin(data.labels, part)
            test = data.subset(held)
            trained = _fold_model(folder, DATA, "faces", seed, 3, f, part, cfg, None)
            _, hl = _variant("hi-lander", test, trained.model, trained.tau, None, join_floor=trained.join_floor,
                             near_copy=NEAR_COPY.get("faces"))
            default, x, y = hl.labels_, l2_normalise(test.x), test.labels
            n0 = int(default.max()) + 1
            fewer = [int(np.ceil(s * n0 / 10)) for s in STEPS]
            floor = trained.join_floor
            rules = {"cheapest": joined(default, x, lambda s, na, nb: na * nb * (
                         1 - 1 / (1 + np.exp(-(s - floor) / TEMPERATURE))), fewer),
                     "average linkage over the groups": joined(default, x, lambda s, na, nb: -s, fewer)}
            m = evaluate(y, default)
            print(f"seed {seed} fold {f + 1}: tau {trained.tau:g}, floor {floor:g}, {n0} groups of "
                  f"{len(np.unique(y))} people, Pp {m['pp']:.3f} Fp {m['fp']:.3f}")
            for step, k in zip(STEPS, fewer):
                cut = evaluate(y, AgglomerativeClustering(n_clusters=n0 - k, linkage="average").fit_predict(x))
                said = [f"  step {step}, {n0 - k} groups: cut Pp {cut['pp']:.3f} Fp {cut['fp']:.3f}"]
                for name, levels in rules.items():
                    if k not in levels:
                        said.append(f"{name}: no linked pair left")
                        continue
                    ours = evaluate(y, levels[k])
                    tally[name][0] += ours["pp"] > cut["pp"] + 5e-4
                    tally[name][1] += ours["pp"] < cut["pp"] - 5e-3
                    tally[name][2] += 1
                    said.append(f"{name} Pp {ours['pp']:.3f} Fp {ours['fp']:.3f}")
                print(" | ".join(said), flush=True)
    for name, (above, below, n) in tally.items():
        print(f"{name}: purer than the cut on {above} of {n} zoom-out levels, below it by more than 0.005 on {below}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")])
