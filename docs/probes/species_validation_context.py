"""Probe (docs/hilander-ablation.md, "Species tau with the training breeds around"): does the species recipe
(people added) choose a better tau when each cross-validation fold's breeds are clustered among the fold's
training breeds (``TrainConfig(validation="with_training")``) instead of alone?

Both rules read the same cross-validation models: training runs once, as the recipe trains (``validation``
"alone"), and a hook scores each fold's model the other way too. The final model is the same for both; only tau
moves. Each rule's tau is then looked up on the final model's test curve (its unseen breeds, at every tau, as
``bench`` writes ``tau_curve_test``).

    # the shipped weights' split (10 breeds trained, 10 held out; seen data)
    .venv/bin/python docs/probes/species_validation_context.py readme OUT.json
    # a partition of `bench --folds 3 --seed S --add faces-celeba`: the bench JSON (heuristics' rows included),
    # fold models kept in MODELS, and the probe's own JSON beside it
    .venv/bin/python docs/probes/species_validation_context.py S OUT.json MODELS
"""

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from photo_grouper.bench import quality
from photo_grouper.clustering import training
from photo_grouper.labelled import embed_labelled
from photo_grouper.learn import recipe
from photo_grouper.vision import EncoderSpec

DATA = Path(__file__).resolve().parents[3] / "shared/data"
PETS, PEOPLE = DATA / "pets-oxford", DATA / "faces-celeba"


class Recorder:
    """Wraps ``training.train``: each call also scores its cross-validation models with the training breeds
    around, and keeps both rules' taus."""

    def __init__(self):
        self.calls = []
        self.own = training.train

    def train(self, x, y, cfg, **kwargs):
        around = replace(cfg, validation="with_training")
        curves = []

        def hook(f, model, val):
            curves.append(training.validation_scores(model, np.asarray(x, np.float32), np.asarray(y), val, around))

        result = self.own(x, y, cfg, fold_hook=hook, **kwargs)
        self.calls.append({"alone": result.tau, "with_training": training.pick_tau(curves),
                           "curve_alone": training.curve_json(result.tau_scores),
                           "curve_with_training": training.curve_json(
                               {t: {k: float(np.mean([c[t][k] for c in curves])) for k in ("fp", "fb")}
                                for t in curves[0]}),
                           "model": result})
        return result


def summary(calls, test_curves) -> dict:
    rows = []
    for call, curve in zip(calls, test_curves):
        rows.append({rule: {"tau": call[rule], **curve[f"{call[rule]:g}"]} for rule in ("alone", "with_training")})
        rows[-1]["curve_alone"], rows[-1]["curve_with_training"] = call["curve_alone"], call["curve_with_training"]
        rows[-1]["test_curve"] = curve
    mean = {rule: {key: float(np.mean([r[rule][key] for r in rows])) for key in ("fp", "fb")}
            for rule in ("alone", "with_training")}
    return {"folds": rows, "mean": mean}


def readme(out: Path) -> None:
    spec = EncoderSpec.of("species")
    pets, people = embed_labelled(PETS, spec), embed_labelled(PEOPLE, spec)
    card = json.loads((Path(__file__).resolve().parents[2] / "resources/hilander-species.json").read_text())
    held = np.isin(pets.labels, card["held_out_labels"])
    cfg = recipe(0, "species")
    rec = Recorder()
    result = rec.train(pets.x[~held], pets.labels[~held], cfg, added=(people.x, people.labels))
    print(f"alone tau {result.tau:g} (the shipped card: {card['tau']:g})", flush=True)
    curve = training.curve_json(training.tau_scores(result.model, pets.x[held], pets.labels[held], cfg,
                                                    join_floor=result.join_floor, evidence_merge=None))
    report(summary(rec.calls, [curve]), out)


def partition(seed: int, out: Path, models: Path) -> None:
    rec = Recorder()
    training.train = rec.train  # run_cross_bench imports it from the module when called
    try:
        bench = quality.run_cross_bench(PETS, "species", folds=3, seed=seed, fold_models=models, added_dir=PEOPLE)
    finally:
        training.train = rec.own
    if len(rec.calls) != 3:
        raise SystemExit(f"{3 - len(rec.calls)} fold model(s) came from {models}: the probe needs them trained here")
    quality.write_json(bench, out.with_name(out.stem + "-bench.json"))
    print(quality.format_table(bench), flush=True)
    report(summary(rec.calls, [fold["tau_curve_test"] for fold in bench["folds"]]), out)


def report(result: dict, out: Path) -> None:
    for i, row in enumerate(result["folds"]):
        print(f"fold {i + 1}: " + "; ".join(f"{rule} tau {row[rule]['tau']:g} -> {row[rule]['fp']:.3f} / "
                                           f"{row[rule]['fb']:.3f}" for rule in ("alone", "with_training")))
    print("mean: " + "; ".join(f"{rule} {m['fp']:.4f} / {m['fb']:.4f}" for rule, m in result["mean"].items()))
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    if sys.argv[1] == "readme":
        readme(Path(sys.argv[2]))
    else:
        partition(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
