"""The cluster stage: Hi-LANDER over every detection of a mode, stored as a hierarchy that replaces the previous
automatic result in one transaction (organize/view.py reads the groups back, at any level)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import delete, exists, func, insert, select

from .clustering.copies import NEAR_COPY
from .clustering.hilander import HiLander
from .clustering.weights import default_weights, load_weights
from .clustering.zoom import zoom_out_levels
from .device import gpu_ran_out
from .organize.reconcile import suggest_again
from .organize.view import current_run
from .progress import Cancelled, CancelFlag, Meter, Progress, no_progress
from .store import (KIND_OF_MODE, Cluster, ClusterMember, ClusterRun, Detection, Embedding, Ignored, Library, Photo,
                    PhotoStatus)
from .vision import EncoderSpec, make_encoder

# Modes whose detections of one photo are never grouped together: two faces in one photo are two people (two
# animals in one photo may well be one species).
APART_MODES = {"faces"}


@dataclass
class ClusterReport:
    items: int = 0
    levels: int = 0  # up to the default level, where the hierarchy stopped (the level the app shows first)
    zoom_out: int = 0  # levels stored above the default one, for zooming out (clustering.zoom)
    groups: int = 0  # at the default level
    seconds: float = 0.0
    run_id: int | None = None
    suggested: int = 0  # faces suggested to the people the user made (waiting for a yes or a no)
    new_suggested: int = 0  # of them, those not suggested before this grouping
    damaged: int = 0  # stored vectors that are not finite numbers: left out of the groups
    copies: int = 0  # items clustered as copies of another (a photo kept or saved twice)
    parted: int = 0  # joins not made because they would have put two faces of one photo in one group
    unchanged: bool = False  # nothing the grouping reads had changed: the stored groups were kept
    fallback: str | None = None  # why the grouping ran elsewhere than asked (a GPU out of memory: on the CPU)


def load_vectors(library: Library, mode: str, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(detection ids, vectors, photo ids) of the mode's detections in photos still on disk, less what is not a
    face: boxes the face check turned down (jobs.check_faces) and those the user marked so (a box that is not a
    face would still link faces in the neighbour graph; one brought back joins the groups at the next grouping)."""
    not_a_face = exists().where(Ignored.detection_id == Detection.id, Ignored.reason == "not-a-face")
    with library.session() as s:
        rows = s.execute(
            select(Detection.id, Embedding.vector, Detection.photo_id)
            .join(Embedding, Embedding.detection_id == Detection.id)
            .join(Photo, Photo.id == Detection.photo_id)
            .where(Detection.kind == KIND_OF_MODE[mode], Embedding.model == model,
                   Photo.status == PhotoStatus.OK, Detection.verified.is_not(False), ~not_a_face)
            .order_by(Detection.id)).all()
    if not rows:
        return np.empty(0, np.int64), np.empty((0, 0), np.float32), np.empty(0, np.int64)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    photos = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
    return ids, np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows]), photos


def grouping_inputs(mode: str, model: str, weights: Path, card: dict, ids: np.ndarray, x: np.ndarray,
                    photos: np.ndarray) -> str:
    """A digest of everything a grouping reads: the detections and their vectors and photos, the encoder, the
    weights file's bytes and its card (tau, join floor), how many zoom-out levels it makes, and photo-grouper's
    version (a new version may group differently)."""
    from . import __version__

    digest = hashlib.blake2b(digest_size=20)
    for part in (mode, model, __version__, hashlib.blake2b(Path(weights).read_bytes()).hexdigest(),
                 json.dumps(card, sort_keys=True, default=str), f"zoom out {zoom_out_levels(mode, card)}"):
        digest.update(part.encode() + b"\0")
    for array in (ids.astype("<i8"), photos.astype("<i8"), np.ascontiguousarray(x, dtype="<f4")):
        digest.update(array)  # the buffer itself: no copy (half a gigabyte at a million faces)
    return digest.hexdigest()


def cluster_library(library: Library, mode: str, *, weights: Path | None = None, device=None,
                    progress: Progress = no_progress, cancel: CancelFlag | None = None,
                    keep_unchanged: bool = False) -> ClusterReport:
    """Group every detection of ``mode`` with Hi-LANDER and store the hierarchy (all levels, parent links, peaks),
    with ``zoom.zoom_out_levels`` zoom-out levels above the level where it stopped (which the run records as its
    default level). With ``keep_unchanged``, where nothing the grouping reads has changed since the stored grouping
    (``grouping_inputs``), that grouping is kept (a million faces: minutes saved; and where the search falls
    back to hnswlib, its threaded index would not give exactly the same groups twice); suggestions are made
    again either way."""
    encoder = make_encoder(EncoderSpec.of(mode))
    weights = Path(weights) if weights else default_weights(mode)
    model, card = load_weights(weights)
    started = time.monotonic()
    ids, x, photos = load_vectors(library, mode, encoder.model)
    # A damaged vector (NaN or infinity) would leave every item alone; it is left out, and said so.
    finite = np.isfinite(x).all(axis=1)
    ids, x, photos = ids[finite], x[finite], photos[finite]
    report = ClusterReport(items=len(ids), damaged=int((~finite).sum()))
    meter = Meter(progress, cancel)
    meter(0.0)
    if len(ids) == 0:
        progress(Meter.STEPS, Meter.STEPS)
        return report
    inputs = grouping_inputs(mode, encoder.model, weights, card, ids, x, photos)
    if keep_unchanged and _keep_stored(library, mode, inputs, ids, x, report):
        report.seconds = time.monotonic() - started
        progress(Meter.STEPS, Meter.STEPS)
        return report

    def group(on):
        return HiLander(model=model, tau=card.get("tau"), join_floor=card.get("join_floor"), device=on,
                        near_copy=NEAR_COPY.get(mode), zoom_out=zoom_out_levels(mode, card)).fit(
            x, apart=photos if mode in APART_MODES else None, progress=meter.part(0.0, 0.95).report, cancel=cancel)

    try:
        # Grouping is nearly all of the time (a million faces: 327 s of 346; storing the hierarchy 19 s).
        try:
            h = group(device)
        except RuntimeError as exc:  # torch's OutOfMemoryError is one
            if str(device or "").startswith("cpu") or not gpu_ran_out(exc):
                raise
            # A small card, or one another program holds: the grouping is done on the CPU rather than not at all
            # (every later index would run out again).
            report.fallback = "the GPU ran out of memory: grouped on the CPU instead"
            h = group("cpu")
        meter(0.95)  # a cancel that came after the last report: the stored hierarchy is left as it was
    except Cancelled:
        raise Cancelled(report) from None
    report.levels = h.default_level_ + 1
    report.zoom_out = len(h.levels_) - report.levels
    report.copies = h.copies_
    report.parted = h.parted_
    report.groups = int(h.labels_.max()) + 1
    report.seconds = time.monotonic() - started
    # Storing reports as it goes (a million faces: 19 s) but is not stopped: the grouping is done by now, and a
    # cancel would throw it away at its last step.
    storing, rows, stored = Meter(progress).part(0.95, 1.0), sum(len(p) for p in h.peaks_) + len(ids), 0
    with library.session() as s:
        # One transaction: readers see the old hierarchy or the new one, never a mix. Its ids follow the old
        # one's, never reuse them: a group the user listed before (g12) must not name another group now.
        last_run = s.scalar(select(func.coalesce(func.max(ClusterRun.id), 0)))
        next_id = s.scalar(select(func.coalesce(func.max(Cluster.id), 0))) + 1
        s.execute(delete(ClusterRun).where(ClusterRun.mode == mode))
        run = ClusterRun(id=last_run + 1, mode=mode, model=encoder.model, weights=str(weights), tau=float(h.tau_),
                         items=len(ids), levels=len(h.levels_), default_level=h.default_level_,
                         seconds=report.seconds, inputs=inputs)
        s.add(run)
        s.flush()
        report.run_id = run.id
        # Coarsest level first, so each level can point at its parents' row ids.
        row_ids: list[np.ndarray] = [None] * len(h.levels_)  # type: ignore[list-item]
        for level in range(len(h.levels_) - 1, -1, -1):
            labels, peaks = h.levels_[level], h.peaks_[level]
            sizes = np.bincount(labels, minlength=len(peaks))
            parents = (row_ids[level + 1][h.parents_[level]] if level + 1 < len(h.levels_)
                       else np.full(len(peaks), None, dtype=object))
            first, next_id = next_id, next_id + len(peaks)
            s.execute(insert(Cluster), [
                {"id": first + c, "run_id": run.id, "level": level, "size": int(sizes[c]),
                 "parent_id": None if parents[c] is None else int(parents[c]),
                 "peak_detection_id": int(ids[peaks[c]])}
                for c in range(len(peaks))])
            row_ids[level] = first + np.arange(len(peaks))
            stored += len(peaks)
            storing(stored / rows)
        s.execute(insert(ClusterMember), [
            {"detection_id": int(d), "run_id": run.id, "cluster_id": int(row_ids[0][c])}
            for d, c in zip(ids, h.levels_[0])])
        # Suggestions for named people follow the new groups in the same transaction.
        report.suggested, report.new_suggested = suggest_again(s, mode, ids, x)
    progress(Meter.STEPS, Meter.STEPS)  # stored: too late to cancel
    return report


def _keep_stored(library: Library, mode: str, inputs: str, ids: np.ndarray, x: np.ndarray,
                 report: ClusterReport) -> bool:
    """Where the mode's stored grouping read ``inputs``: its suggestions made again, ``report`` filled from it, and
    True; else False."""
    with library.session() as s:
        run = current_run(s, mode)
        if run is None or run.inputs != inputs:
            return False
        report.unchanged, report.run_id = True, run.id
        report.levels, report.zoom_out = run.shown_level + 1, run.levels - run.shown_level - 1
        report.groups = s.scalar(select(func.count()).select_from(Cluster)
                                 .where(Cluster.run_id == run.id, Cluster.level == run.shown_level))
        report.suggested, report.new_suggested = suggest_again(s, mode, ids, x)
    return True
