"""Trained LANDER weights: where the shipped ones live, and how a model and its JSON card are saved and loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from . import WeightsError
from .lander import Lander, LanderEnsemble


def resources_folder() -> Path:
    """The project's resources/: installed as the package photo_grouper.resources (pyproject maps the folder),
    so the same lookup serves a wheel and an editable install; a checkout run without installing it (on a
    machine with a GPU and no registry, say) reads the folder beside the package."""
    from importlib.resources import files

    try:
        return Path(str(files("photo_grouper.resources")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "resources"


def default_weights(mode: str) -> Path:
    path = resources_folder() / f"hilander-{mode}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no trained Hi-LANDER weights for {mode} mode (expected {path})")
    return path


def save_weights(model: Lander | LanderEnsemble, path: Path, card: dict) -> None:
    """The weights and their card, each written whole or not at all: a stopped or failed write (a full disk)
    leaves any earlier file at ``path`` as it was."""
    path = Path(path)
    members = model.members if isinstance(model, LanderEnsemble) else [model]
    weights_tmp, card_tmp = path.with_name(path.name + ".part"), path.with_suffix(".json.part")
    try:
        torch.save({"members": [{"config": m.config(), "state": m.state_dict()} for m in members]}, weights_tmp)
        card_tmp.write_text(json.dumps(card, indent=2, default=str))
        os.replace(weights_tmp, path)
        os.replace(card_tmp, path.with_suffix(".json"))
    finally:
        weights_tmp.unlink(missing_ok=True)
        card_tmp.unlink(missing_ok=True)


def load_weights(path: Path) -> tuple[Lander | LanderEnsemble, dict]:
    path = Path(path)
    card_path = path.with_suffix(".json")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        members = []
        for entry in blob.get("members", [blob]):  # files from before ensembles hold one model at the top
            model = Lander(**entry["config"])
            model.load_state_dict(entry["state"], strict=True)
            members.append(model)
        card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch.load's errors on a damaged file vary (unpickling, zip, key errors)
        raise WeightsError(f"{path} (or its card {card_path.name}) is not Hi-LANDER weights that this version "
                           f"can read: {type(exc).__name__}: {exc}") from exc
    model = members[0] if len(members) == 1 else LanderEnsemble(members)
    return model.eval(), card
