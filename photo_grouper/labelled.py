"""Labelled photo folders (one subfolder per identity or species) turned into embedding arrays, for training and
benchmarks. The embeddings come from the project's own index pipeline into a cache library, so a second run
re-embeds nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import platformdirs
from sqlalchemy import select

from .clustering.training import seen_once
from .jobs import StageProgress, index_folder
from .media import check_folder, under
from .store import Analysis, Detection, Embedding, Library, Photo, PhotoStatus
from .vision import EncoderSpec, make_encoder


@dataclass
class LabelledEmbeddings:
    x: np.ndarray  # (N, dim) float32, one row per photo that gave a detection
    labels: np.ndarray  # (N,) label = name of the photo's top-level subfolder
    paths: list[str]
    photos: int = 0  # labelled photos seen
    misses: list[str] = field(default_factory=list)  # photos where nothing was detected
    failed: list[str] = field(default_factory=list)  # photos that could not be read
    # The photo of each row where rows share photos (``in_group_photos``); None: each row a photo of its own.
    photo: np.ndarray | None = None

    def subset(self, keep: np.ndarray) -> LabelledEmbeddings:
        """The rows where the boolean mask ``keep`` is true."""
        keep = np.asarray(keep, dtype=bool)
        return LabelledEmbeddings(self.x[keep], self.labels[keep], [self.paths[i] for i in np.flatnonzero(keep)],
                                  photo=None if self.photo is None else self.photo[keep])

    def split_by_label(self, fraction: float, seed: int = 0) -> tuple[LabelledEmbeddings, LabelledEmbeddings]:
        """Disjoint label sets: ``fraction`` of the labels in the first part, the rest in the second."""
        names = np.unique(self.labels)
        rng = np.random.default_rng(seed)
        first = rng.choice(names, size=max(1, round(fraction * len(names))), replace=False)
        mask = np.isin(self.labels, first)
        return self.subset(mask), self.subset(~mask)

    def seen_once(self, fraction: float, seed: int = 0) -> LabelledEmbeddings:
        """A library with people seen once, as personal ones have (a face in the crowd, a guest): ``fraction`` of
        the labels keep one photo each, drawn at random, the others all of theirs."""
        if not 0 <= fraction <= 1:
            raise ValueError(f"the share of labels seen once must be between 0 and 1, got {fraction:g}")
        rng = np.random.default_rng(seed)
        names = np.unique(self.labels)
        return self.subset(seen_once(self.labels, rng.choice(names, size=round(fraction * len(names)),
                                                              replace=False), rng))

    def in_group_photos(self, share: float, seed: int = 0, mode: str = "faces", most: int = 4) -> LabelledEmbeddings:
        """A library with group photos: ``share`` of the rows, drawn at random, become faces of photos that hold
        2 to ``most`` faces of different people (no one twice in a photo); every other row is a photo of its
        own. The labelled photos each show one person, so the group photos are simulated at the level of the
        descriptors: which people share a photo is drawn at random, not by who looks alike. Sets ``photo``."""
        if mode != "faces":
            raise ValueError("group photos are for faces: in species mode a photo is one item")
        if not 0 <= share <= 1:
            raise ValueError(f"the share of faces in group photos must be between 0 and 1, got {share:g}")
        rng = np.random.default_rng(seed)
        n = len(self.labels)
        photo = np.arange(n)  # each row its own photo, until placed in a group photo (ids from n up)
        pool = rng.permutation(n)[:round(share * n)].tolist()
        next_id = n
        while len(pool) >= 2:
            size, taken, people, rest = int(rng.integers(2, most + 1)), [], set(), []
            for row in pool:
                if len(taken) < size and self.labels[row] not in people:
                    taken.append(row)
                    people.add(self.labels[row])
                else:
                    rest.append(row)
            if len(taken) < 2:
                break  # what is left is one person's
            photo[taken] = next_id
            next_id, pool = next_id + 1, rest
        out = self.subset(np.ones(n, dtype=bool))
        out.photo = photo
        return out


def cache_library_path(folder: Path, cache_dir: Path | None = None) -> Path:
    folder = Path(folder).resolve()
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:10]
    base = cache_dir or Path(platformdirs.user_cache_dir("photo-grouper", appauthor=False)) / "labelled"
    return base / f"{folder.name}-{digest}.sqlite3"


def embed_labelled(folder: Path | str, spec: EncoderSpec, *, library: Path | None = None,
                   cache_dir: Path | None = None, workers: int | None = None,
                   progress: StageProgress | None = None) -> LabelledEmbeddings:
    """Index ``folder`` into a cache library (incremental) and read one embedding per photo with its label.

    A labelled photo shows its subject, so where several faces are found the most confident one is taken (of those
    the face check kept: a photo whose only box it turned down counts as a miss)."""
    folder = check_folder(folder)
    path = library or cache_library_path(folder, cache_dir)
    encoder = make_encoder(spec)
    with Library(path) as lib:
        index_folder(lib, folder, spec, workers=workers, progress=progress)
        with lib.session() as s:
            photos = s.execute(select(Photo.id, Photo.path, Photo.status).where(under(folder))
                               .order_by(Photo.path)).all()
            rows = s.execute(
                select(Detection.photo_id, Detection.score, Embedding.vector)
                .join(Analysis, Analysis.id == Detection.analysis_id)
                .join(Embedding, Embedding.detection_id == Detection.id)
                .where(Analysis.pipeline == encoder.pipeline, Embedding.model == encoder.model,
                       Embedding.model_version == encoder.model_version,
                       Detection.verified.is_not(False))).all()
    best: dict[int, tuple[float, bytes]] = {}
    for photo_id, score, vector in rows:
        score = score if score is not None else 0.0
        if photo_id not in best or score > best[photo_id][0]:
            best[photo_id] = (score, vector)
    out = LabelledEmbeddings(np.empty((0, encoder.dim), np.float32), np.empty(0, dtype=object), [])
    xs, labels = [], []
    for photo_id, photo_path, status in photos:
        rel = Path(photo_path).relative_to(folder)
        if len(rel.parts) < 2 or status == PhotoStatus.MISSING:
            continue  # not inside a label folder, or gone
        out.photos += 1
        if status == PhotoStatus.FAILED:
            out.failed.append(photo_path)
        elif photo_id not in best:
            out.misses.append(photo_path)
        else:
            xs.append(np.frombuffer(best[photo_id][1], dtype="<f4"))
            labels.append(rel.parts[0])
            out.paths.append(photo_path)
    if xs:
        out.x = np.stack(xs).astype(np.float32)
        out.labels = np.array(labels)
    return out
