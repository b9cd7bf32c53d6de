"""Probe (docs/grouping-quality.md, "Cat breeds together"): the shipped species weights on a library of cats only,
against the heuristics. The README's species split holds one cat breed among ten; a cat owner's library may hold
several. Embeds ../shared/data/pets-oxford (cached as `bench` caches it), keeps the photos of the chosen breeds and
groups them with the shipped weights at their card's tau and at other taus, and with the heuristics at the
thresholds `bench` tuned on the training breeds (docs/bench-species.txt). Three of the four cat breeds are among
the weights' training breeds (Abyssinian, Bombay, Siamese; Egyptian_Mau is held out): this describes, it judges
nothing.

    .venv/bin/python docs/probes/species_cats.py [BREED,BREED,...]
"""
import sys
from pathlib import Path

import numpy as np

from photo_grouper.clustering.copies import NEAR_COPY
from photo_grouper.clustering.baselines import AverageLinkage, ChineseWhispers, HDBSCANFaces
from photo_grouper.clustering.hilander import HiLander
from photo_grouper.clustering.metrics import evaluate
from photo_grouper.clustering.weights import default_weights, load_weights
from photo_grouper.labelled import embed_labelled
from photo_grouper.vision import EncoderSpec

CATS = ["Abyssinian", "Bombay", "Egyptian_Mau", "Siamese"]


def score(name, y, labels):
    m = evaluate(y, labels)
    print(f"  {name:34s} Fp {m['fp']:.3f}  Fb {m['fb']:.3f}  groups {int(m['clusters'])}")


if __name__ == "__main__":
    breeds = sys.argv[1].split(",") if len(sys.argv) > 1 else CATS
    data = embed_labelled(Path(__file__).resolve().parents[3] / "shared/data/pets-oxford", EncoderSpec.of("species"))
    keep = np.isin(data.labels, breeds)
    x, y = data.x[keep], data.labels[keep]
    model, card = load_weights(default_weights("species"))
    print(f"{len(y)} photos of {len(set(y))} breeds: {', '.join(sorted(set(y)))}")
    for tau in sorted({card["tau"], 0.5, 0.7, 0.9}):
        h = HiLander(model=model, tau=tau, join_floor=card.get("join_floor"),
                     near_copy=NEAR_COPY.get("species")).fit(x)
        score(f"Hi-LANDER tau {tau}" + (" (card)" if tau == card["tau"] else ""), y, h.labels_)
    # Thresholds as bench tuned them on the training breeds (docs/bench-species.txt).
    score("average linkage 1.04", y, AverageLinkage(max_distance=1.04).fit_predict(x))
    score("Chinese Whispers 0.88", y, ChineseWhispers(max_distance=0.88).fit_predict(x))
    score("HDBSCAN min size 3", y, HDBSCANFaces(min_cluster_size=3).fit_predict(x))
