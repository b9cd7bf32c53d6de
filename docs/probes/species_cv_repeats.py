"""Probe (docs/hilander-ablation.md, "Tau from cross-validation repeated"): does the species recipe choose a
better tau when its cross-validation is repeated over a second partition of the training breeds (8 curves
instead of 4)?

It reuses a `bench --folds 3` run with the people added and its kept fold models, whose cards hold the first
four curves and whose JSON holds each fold's test curve (`tau_curve_test`); only the second repeat's four
cross-validation models are trained here. The final model is the same either way: only tau moves.

    photo-grouper bench ../shared/data/pets-oxford --mode species --folds 3 --seed 0 \\
        --add ../shared/data/faces-celeba --fold-models /tmp/fm --json /tmp/folds-seed0.json
    .venv/bin/python docs/probes/species_cv_repeats.py /tmp/fm /tmp/folds-seed0.json 0
"""

import json
import sys
from pathlib import Path

import numpy as np

from photo_grouper.clustering.training import pick_tau, train_models, validation_scores
from photo_grouper.labelled import embed_labelled
from photo_grouper.learn import recipe
from photo_grouper.vision import EncoderSpec

DATA = Path(__file__).resolve().parents[3] / "shared/data"


def main(models: Path, bench_json: Path, seed: int) -> None:
    spec = EncoderSpec.of("species")
    pets = embed_labelled(DATA / "pets-oxford", spec)
    people = embed_labelled(DATA / "faces-celeba", spec)
    bench = json.loads(bench_json.read_text())
    parts = np.array_split(np.random.default_rng(seed).permutation(np.unique(pets.labels)), 3)
    scores = []
    for f, part in enumerate(parts):
        card = json.loads((models / f"species-seed{seed}-fold{f + 1}of3.json").read_text())
        held = np.isin(pets.labels, part)
        x, y = pets.x[~held], pets.labels[~held]
        cfg = recipe(seed, "species")
        first = [{float(t): m for t, m in curve.items()} for curve in card["fold_tau_scores"]]
        names = np.unique(y)
        # The second repeat: another partition of the same training breeds into as many folds.
        n_folds = min(cfg.folds, len(names) // 2)
        folds = np.array_split(np.random.default_rng(cfg.seed + 101).permutation(names), n_folds)
        more = []
        for fold in folds:
            val = np.isin(y, fold)
            model, _ = train_models(x[~val], y[~val], cfg, added=(people.x, people.labels))
            more.append(validation_scores(model, x, y, val, cfg))
        taus = pick_tau(first), pick_tau(first + more)
        test = [bench["folds"][f]["tau_curve_test"][f"{t:g}"] for t in taus]
        scores.append([(s["fp"], s["fb"]) for s in test])
        print(f"seed {seed} fold {f + 1}: tau {taus[0]:g} -> {taus[1]:g}; test Fp/Fb {test[0]['fp']:.3f}/"
              f"{test[0]['fb']:.3f} -> {test[1]['fp']:.3f}/{test[1]['fb']:.3f}", flush=True)
    s = np.array(scores)
    print(f"seed {seed} mean: {s[:, 0, 0].mean():.3f}/{s[:, 0, 1].mean():.3f} -> "
          f"{s[:, 1, 0].mean():.3f}/{s[:, 1, 1].mean():.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
