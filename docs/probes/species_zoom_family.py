"""Species zoom-out levels judged as a user sorting cats from dogs would: pairwise precision of each zoom-out level
with the family (cat: a capitalised breed folder of the pets data, dog: the others) as the label, against the
same-count average-linkage cut (docs/hilander-ablation.md, "Zoom-out levels for species"). Fold models as kept by
`bench --folds 3 --seed S --add ../shared/data/faces-celeba --fold-models DIR`:

    .venv/bin/python docs/probes/species_zoom_family.py DIR
"""
import sys
import numpy as np
from pathlib import Path
from sklearn.cluster import AgglomerativeClustering
from photo_grouper.vision import EncoderSpec
from photo_grouper.labelled import embed_labelled
from photo_grouper.clustering.weights import load_weights
from photo_grouper.clustering.hilander import HiLander
from photo_grouper.clustering.copies import NEAR_COPY
from photo_grouper.clustering.knn import l2_normalise
from photo_grouper.clustering.metrics import evaluate

data = embed_labelled(Path("/work/shared/data/pets-oxford"), EncoderSpec.of("species"))
names = np.unique(data.labels)
tot = {"hl": 0, "level": 0, "cut": 0}
for seed in (32, 33):
    parts = np.array_split(np.random.default_rng(seed).permutation(names), 3)
    for f, part in enumerate(parts):
        model, card = load_weights(Path(sys.argv[1]) / f"species-seed{seed}-fold{f+1}of3.pt")
        test = data.subset(np.isin(data.labels, part))
        fam = np.array(["cat" if l[0].isupper() else "dog" for l in test.labels])
        hl = HiLander(model=model, tau=card["tau"], join_floor=card["join_floor"], near_copy=NEAR_COPY["species"], zoom_out=4, device="cpu").fit(test.x)
        x = l2_normalise(test.x)
        cats = sorted(set(test.labels[fam == "cat"]))
        for lv in range(hl.default_level_ + 1, len(hl.levels_)):
            L = hl.levels_[lv]; k = int(L.max()) + 1
            cut = AgglomerativeClustering(n_clusters=k, linkage="average").fit_predict(x)
            a, b = evaluate(fam, L)["pp"], evaluate(fam, cut)["pp"]
            side = "hl" if round(a, 3) > round(b, 3) else "level" if round(a, 3) == round(b, 3) else "cut"
            tot[side] += 1
            print(seed, f + 1, "zoom", lv - hl.default_level_, k, f"family precision {a:.3f} vs cut {b:.3f}", "cats:", cats)
print(tot)
