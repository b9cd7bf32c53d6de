"""Probe (docs/hilander-ablation.md, "Species weights with people added"): do the species weights group unseen
breeds better when training also sees the CelebA people through the species encoder?

For each partition (seed) the 20 pets-oxford breeds are split into three folds as `photo-grouper bench --folds 3
--mode species` splits them; each fold is scored by weights trained on the other two folds' breeds, once with the
shipped species recipe ("breeds") and once with episodes of CelebA people added to every model's training graphs
("breeds + people"). Tau (cross-validation) and the join floor come from the breeds alone in both, so only the
link model differs. The people's episodes are drawn like the breeds' random ones, but small (8 to 16 people,
60-100% of their photos) so that a few hundred photos of one kind do not drown the breeds' 130.

    .venv/bin/python docs/probes/species_with_faces.py 0 2      # partitions (seeds) 0 and 1

Kept as run for the test. The product now does the same with `train --add` / `training.train(..., added=...)`
(``training.added_episodes``), drawing episodes of the same kind but not the same draws.
"""

import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from photo_grouper.bench.quality import score_methods
from photo_grouper.clustering import training
from photo_grouper.clustering.training import ground_truth_levels
from photo_grouper.labelled import embed_labelled
from photo_grouper.learn import recipe
from photo_grouper.vision import EncoderSpec

DATA = Path(__file__).resolve().parents[3] / "shared/data"
PEOPLE_EPISODES = 18
PEOPLE_PER_EPISODE = (8, 16)


@contextmanager
def people_added(people):
    """Every model trained inside also learns from episodes of ``people`` (drawn from the model's own seed)."""
    own = training._episodes

    def episodes(x, y, cfg, rng, progress=None):
        graphs = own(x, y, cfg, rng, progress)
        their = np.random.default_rng(cfg.seed + 1000)
        names = np.unique(people.labels)
        for e in range(PEOPLE_EPISODES):
            chosen = their.choice(names, size=int(their.integers(PEOPLE_PER_EPISODE[0], PEOPLE_PER_EPISODE[1] + 1)),
                                  replace=False)
            keep = np.isin(people.labels, chosen) & (their.random(len(people.labels)) < their.uniform(0.6, 1.0))
            k = cfg.k_values[e % len(cfg.k_values)]
            graphs.extend(ground_truth_levels(people.x[keep], people.labels[keep], k, rng=their))
        return graphs

    training._episodes = episodes
    try:
        yield
    finally:
        training._episodes = own


def main(first: int, last: int) -> None:
    spec = EncoderSpec.of("species")
    pets = embed_labelled(DATA / "pets-oxford", spec)
    people = embed_labelled(DATA / "faces-celeba", spec)
    print(f"breeds: {len(pets.labels)} photos of {len(np.unique(pets.labels))}; people: {len(people.labels)} "
          f"photos of {len(np.unique(people.labels))}", flush=True)
    totals = {}
    for seed in range(first, last):
        parts = np.array_split(np.random.default_rng(seed).permutation(np.unique(pets.labels)), 3)
        for f, part in enumerate(parts):
            held = np.isin(pets.labels, part)
            tuning, test = pets.subset(~held), pets.subset(held)
            for variant in ("breeds", "breeds + people"):
                with people_added(people) if variant != "breeds" else nullcontext():
                    trained = training.train(tuning.x, tuning.labels, recipe(seed, "species"))
                rows, _, _ = score_methods(test, tuning, trained.model, trained.tau, "species",
                                           join_floor=trained.join_floor)
                row = rows[0]
                totals.setdefault(variant, []).append((row["fp"], row["fb"]))
                print(f"seed {seed} fold {f + 1} {variant:16s} tau {trained.tau:.2f} floor {trained.join_floor:.2f} "
                      f"Fp {row['fp']:.3f} Fb {row['fb']:.3f} groups {row['clusters']} "
                      f"({trained.seconds:.0f} s training)", flush=True)
        for variant, scores in totals.items():
            mine = np.array(scores[-3:])
            print(f"seed {seed} mean {variant:16s} Fp {mine[:, 0].mean():.3f} Fb {mine[:, 1].mean():.3f}", flush=True)
    for variant, scores in totals.items():
        s = np.array(scores)
        print(f"all {len(s)} folds {variant:16s} Fp {s[:, 0].mean():.3f} Fb {s[:, 1].mean():.3f}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
