"""Synthetic libraries for the benchmarks: rows as `photo-grouper index` leaves them, written in bulk."""

from __future__ import annotations

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..store import Analysis, Detection, Embedding, Photo

CHUNK = 100_000  # rows per insert: a million rows' dicts at once would hold about a gigabyte


def insert_faces(s: Session, n: int, vectors: np.ndarray | None = None, model: str = "dlib-resnet-v1",
                 model_version: str = "1", photo: np.ndarray | None = None) -> None:
    """Faces 1..n (detection ids), in photos 1..n with one face each or, given ``photo`` (n values 0..), face i in
    photo ``photo[i - 1] + 1``; given ``vectors`` (n rows), their embeddings."""
    photo = np.arange(n) if photo is None else np.asarray(photo)
    found = np.bincount(photo)
    for start in range(0, len(found), CHUNK):
        ids = [i for i in range(start + 1, min(len(found), start + CHUNK) + 1) if found[i - 1]]
        s.execute(insert(Photo), [dict(id=i, path=f"/photos/{i - 1}.jpg", size=1, mtime_ns=1, content_hash=f"h{i - 1}",
                                       width=100, height=100) for i in ids])
        s.execute(insert(Analysis), [dict(id=i, photo_id=i, pipeline="faces:bench", status="done",
                                          found=int(found[i - 1])) for i in ids])
    for start in range(0, n, CHUNK):
        ids = range(start + 1, min(n, start + CHUNK) + 1)
        s.execute(insert(Detection), [dict(id=i, photo_id=int(photo[i - 1]) + 1, analysis_id=int(photo[i - 1]) + 1,
                                           kind="face", x=0.1, y=0.1, w=0.3, h=0.3) for i in ids])
        if vectors is not None:
            s.execute(insert(Embedding), [dict(id=i, detection_id=i, model=model, model_version=model_version,
                                               dim=vectors.shape[1], vector=vectors[i - 1].astype("<f4").tobytes())
                                          for i in ids])
