"""`photo-grouper train`: Hi-LANDER weights from a labelled folder (one subfolder per identity or species)."""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from .clustering.weights import save_weights
from .clustering.training import TrainConfig, TrainResult, curve_json, train
from .labelled import embed_labelled
from .organize.words import WORDS
from .vision import EncoderSpec, make_encoder

# The recipe the shipped weights use; docs/hilander-ablation.md says what each choice did.
RECIPE = TrainConfig(hidden=64, node_input="profile", edge_features=True, pair_product=True, optimizer="adam",
                     lr=1e-3, epochs=30, episodes=18, ensemble=3, edge_hidden=128)
RECIPES = {"faces": RECIPE, "species": replace(RECIPE)}


def recipe(seed: int = 0, mode: str = "faces", **overrides) -> TrainConfig:
    """The shipped recipe of ``mode`` with another seed and any fields changed (``None`` values are ignored)."""
    return TrainConfig(**{**asdict(RECIPES[mode]), "seed": seed,
                          **{k: v for k, v in overrides.items() if v is not None}})


def embed_added(added_dir: Path | None, data_dir: Path, spec: EncoderSpec, progress=None):
    """The second labelled folder whose episodes join the training (``training.added_episodes``), embedded as
    the first; None without one. It must be another folder: its labels are never held out or cross-validated."""
    if added_dir is None:
        return None
    if Path(added_dir).resolve() == Path(data_dir).resolve():
        raise ValueError(f"{added_dir} is the folder being trained on: name another labelled folder to add")
    # A label of both would be trained on through the added folder while held out of the first (by --holdout
    # or a bench fold): the test would no longer be on labels never seen. Told before any embedding.
    shared = sorted(_label_folders(added_dir) & _label_folders(data_dir))
    if shared:
        names = ", ".join(shared[:5]) + (f" and {len(shared) - 5} more" if len(shared) > 5 else "")
        raise ValueError(f"{added_dir} and {data_dir} both have label folders named {names}: a label held out of "
                         f"{data_dir} would be trained on through {added_dir}; add a folder whose labels are all "
                         "others")
    added = embed_labelled(added_dir, spec, progress=progress)
    if len(np.unique(added.labels)) < 2:
        raise ValueError(f"{added_dir} has fewer than 2 labelled folders with detections; nothing to add")
    return added


def _label_folders(folder: Path) -> set[str]:
    """The names of ``folder``'s label subfolders (nothing where it is not a folder: that is told later)."""
    folder = Path(folder)
    return {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()


def train_folder(data_dir: Path, mode: str, out: Path, *, holdout: float = 0.0, seed: int = 0,
                 progress=None, added_dir: Path | None = None, **overrides) -> tuple[TrainResult, dict]:
    """Embed (cached), keep ``holdout`` of the labels out entirely (for an honest benchmark), train on the rest
    (tau by cross-validation over folds of identities), and write the weights and their JSON card. ``overrides``
    change fields of the shipped recipe of ``mode`` (``RECIPES``). ``added_dir``: a second labelled folder whose
    episodes join every model's training (the shipped species weights add the people of faces-celeba); tau and
    the join floor still come from ``data_dir`` alone."""
    cfg = recipe(seed, mode, **overrides)
    # Checked before minutes of training, not after: a folder that cannot be written would lose them.
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, say
        raise ValueError(f"could not write {out}: {exc.strerror or exc}") from exc
    if not os.access(Path(out).parent, os.W_OK):
        raise ValueError(f"could not write {out}: its folder is not writable")
    spec = EncoderSpec.of(mode)
    added = embed_added(added_dir, data_dir, spec, progress)  # first: a wrong folder is told before minutes of work
    data = embed_labelled(data_dir, spec, progress=progress)
    if len(np.unique(data.labels)) < 4:
        raise ValueError(f"{data_dir} has fewer than 4 labelled folders with detections; nothing to learn from")
    # Links are learned from two photos of one label: labels of one photo each teach only to link nothing (and
    # cross-validation would score that as perfect, on folds of such labels).
    counts = np.unique(data.labels, return_counts=True)[1]
    if (counts >= 2).sum() < 4:
        raise ValueError(f"{data_dir} has fewer than 4 labelled folders with two or more {WORDS[mode].many} "
                         f"({int((counts < 2).sum())} of {len(counts)} hold one); nothing to learn links from")
    held_out: list[str] = []
    if holdout > 0:
        data, rest = data.split_by_label(1 - holdout, seed=seed)
        held_out = sorted(np.unique(rest.labels).tolist())
    result = train(data.x, data.labels, cfg, progress=progress,
                   added=None if added is None else (added.x, added.labels))
    encoder = make_encoder(spec)
    card = {
        "model": "Hi-LANDER (LANDER with neighbourhood edge features and similarity-profile node inputs)",
        "photo_grouper": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": str(Path(data_dir).resolve()),
        "mode": mode,
        "encoder": encoder.pipeline,
        "items": int(len(data.labels)),
        "labels": int(len(np.unique(data.labels))),
        "train_labels": sorted(result.train_labels),
        "validation_labels": sorted(result.validation_labels),
        "folds": result.folds,
        "held_out_labels": held_out,
        # Episodes of these labels joined every model's training (config: added_episodes, added_labels).
        **({"added": {"data": str(Path(added_dir).resolve()), "items": int(len(added.labels)),
                      "labels": sorted(np.unique(added.labels).tolist())}} if added is not None else {}),
        "tau": result.tau,
        # Joins above level 0 need at least this mean similarity between the groups (``HiLander.join_floor``).
        "join_floor": result.join_floor,
        "validation": result.validation,
        "tau_scores": curve_json(result.tau_scores),
        # Each cross-validation fold's curve: what the mean above hides (one fold can pull the choice alone).
        "fold_tau_scores": [curve_json(curve) for curve in result.fold_scores],
        "losses": result.losses,
        "train_seconds": result.seconds,
        "config": asdict(cfg),
    }
    try:
        save_weights(result.model, Path(out), card)
    except OSError as exc:  # a full disk
        raise ValueError(f"could not write {out}: {exc.strerror or exc} (any earlier file there is kept)") from exc
    return result, card
