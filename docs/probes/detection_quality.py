"""Probe (docs/hilander-ablation.md, "The detector's score as a link input"): does the detector's score, or the
face's size, help a learned link classifier tell wrong links between photos of people it never saw?

For each partition (seed), 64 of the 96 faces-celeba people train a gradient-boosted classifier on their kNN
links (k = 10; the model's own neighbourhood features, graph.edge_features), with and without the two ends'
detection scores (and their minimum) and log face widths; the other 32 people are scored. Reads the labelled
cache that `photo-grouper bench` builds (run it once first).

    .venv/bin/python docs/probes/detection_quality.py 0 12
"""

import sqlite3
import sys
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss, roc_auc_score

from photo_grouper.clustering.graph import edge_features
from photo_grouper.clustering.knn import knn_graph, l2_normalise
from photo_grouper.labelled import cache_library_path

FOLDER = Path(__file__).resolve().parents[3] / "shared/data/faces-celeba"

db = sqlite3.connect(str(cache_library_path(FOLDER)))
best = {}  # as labelled.embed_labelled: the most confident box the face check kept, one per photo
for pid, path, score, width, vec in db.execute(
        "select d.photo_id, p.path, d.score, d.w * p.width, e.vector from detections d join photos p on "
        "p.id = d.photo_id join embeddings e on e.detection_id = d.id where d.kind = 'face' and "
        "(d.verified is null or d.verified = 1)"):
    score = score or 0.0
    if pid not in best or score > best[pid][1]:
        best[pid] = (path, score, width, vec)
photos = sorted(best)
label = np.array([Path(best[p][0]).parent.name for p in photos])
x = np.stack([np.frombuffer(best[p][3], "<f4") for p in photos])
score = np.array([best[p][1] for p in photos], np.float32)
log_width = np.array([np.log(max(best[p][2] or 1, 1)) for p in photos], np.float32)


def links(rows):
    g = knn_graph(l2_normalise(x[rows]), 10, method="exact")
    n, k = g.indices.shape
    i, j = np.repeat(np.arange(n), k), g.indices.ravel()
    s, w = score[rows], log_width[rows]
    quality = np.stack([s[i], s[j], np.minimum(s[i], s[j]), w[i], w[j]], axis=1)
    return edge_features(g), quality, (label[rows][i] == label[rows][j]).astype(int)


for seed in range(int(sys.argv[1]), int(sys.argv[2])):
    rng = np.random.default_rng(seed)
    train = np.isin(label, rng.choice(np.unique(label), 64, replace=False))
    f_tr, q_tr, y_tr = links(np.flatnonzero(train))
    f_te, q_te, y_te = links(np.flatnonzero(~train))
    nearest = f_te[:, 1] == 0  # each photo's nearest neighbour: the link level 0 mostly rests on
    for name, cols in (("similarities only", 0), ("+ score", 3), ("+ score + size", 5)):
        a, b = np.c_[f_tr, q_tr[:, :cols]], np.c_[f_te, q_te[:, :cols]]
        p = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0).fit(a, y_tr
                                                                                                ).predict_proba(b)[:, 1]
        sure = p > 0.9
        print(f"seed {seed} {name:18s} AUC {roc_auc_score(y_te, p):.4f} log-loss {log_loss(y_te, p):.4f} "
              f"links p>0.9: {int((sure & (y_te == 0)).sum())} wrong {int((sure & (y_te == 1)).sum())} right; "
              f"nearest p>0.8: {int((nearest & (p > 0.8) & (y_te == 0)).sum())} wrong", flush=True)
