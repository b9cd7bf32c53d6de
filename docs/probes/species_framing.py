"""Probe (docs/hilander-ablation.md, "The species photo framed as ImageNet's evaluation frames it"): `bench --folds
3 --seed S --add ../shared/data/faces-celeba` in species mode with the species encoder's framing chosen, every
photo (the breeds' and the people's) embedded with it, fold models kept in MODELS (one folder per framing: a
fold model's card does not name the framing). Writes OUT.txt and OUT.json as `bench --json` does.

    .venv/bin/python docs/probes/species_framing.py center 28 MODELS OUT
"""
import sys
from pathlib import Path

import platformdirs

from photo_grouper import labelled
from photo_grouper.bench import quality
from photo_grouper.vision import EncoderSpec


class FramedSpec:
    framing = "squash"

    @classmethod
    def of(cls, mode, **options):
        return EncoderSpec.of(mode, framing=cls.framing, **options) if mode == "species" else \
            EncoderSpec.of(mode, **options)


if __name__ == "__main__":
    framing, seed, models, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    FramedSpec.framing = framing
    quality.EncoderSpec = FramedSpec  # bench's embedding of the breeds and of the added people
    if framing != "squash":  # a cache library per framing: one library takes one species pipeline
        cached = labelled.cache_library_path
        base = Path(platformdirs.user_cache_dir("photo-grouper", appauthor=False)) / f"labelled-{framing}"
        labelled.cache_library_path = lambda folder, cache_dir=None: cached(folder, cache_dir or base)
    shared = Path(__file__).resolve().parents[3] / "shared/data"
    result = quality.run_cross_bench(shared / "pets-oxford", "species", folds=3, seed=seed, fold_models=models,
                                     added_dir=shared / "faces-celeba",
                                     progress=lambda what, done, total: None)
    result["framing"] = framing
    text = f"species framing: {framing}\n" + quality.format_table(result)
    out.with_suffix(".txt").write_text(text)
    quality.write_json(result, out.with_suffix(".json"))
    print(text)
