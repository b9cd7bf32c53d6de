"""The indexing pipeline as plain stages: scan -> analyse (detect + embed) -> check (a second look at the boxes
the detector was unsure of). The CLI and the GUI call the same code.

Every stage takes a progress callback ``(done, total)`` and a cancel flag, writes through a single writer (this
thread), and commits in small batches: a cancelled or killed run leaves a consistent library, and the next run
picks up the photos that have no analysis yet.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import exists, func, select, update

from .clustering.knn import usable_cpus
from .media import ScanReport, check_folder, scan_folder, under
from .progress import Cancelled, CancelFlag, Progress, no_progress
from .store import Analysis, Assignment, Detection, Embedding, IndexRun, Library, Photo, PhotoStatus
from .store.models import utcnow
from .vision import Encoder, EncoderSpec, Found, Outcome, make_encoder

COMMIT_EVERY_S = 1.0  # at most this much finished work is redone after a kill
COMMIT_EVERY_N = 64


class JobError(Exception):
    """A job cannot start or go on; the message is meant for the user."""


@dataclass
class AnalyseReport:
    pending: int = 0  # photos that needed analysis when the stage started
    analysed: int = 0
    reused: int = 0  # copies of a photo already analysed (same bytes): results copied, not recomputed
    replaced: int = 0  # of those analysed, photos whose older pipeline's vectors were replaced in place
    failed: int = 0
    found: int = 0
    fallback: str | None = None  # why the work ran elsewhere than asked (a GPU out of memory: on the CPU)
    complete: bool = False


@dataclass
class CheckReport:
    pending: int = 0  # unsure detections that needed the check when the stage started
    confirmed: int = 0
    rejected: int = 0  # not what the detector took them for: kept in the library, left out of the groups
    unreadable: int = 0  # their photo could not be read again: checked on a later run
    complete: bool = False


@dataclass
class IndexReport:
    root: str
    mode: str
    pipeline: str
    scan: ScanReport = field(default_factory=ScanReport)
    analyse: AnalyseReport = field(default_factory=AnalyseReport)
    check: CheckReport = field(default_factory=CheckReport)
    cluster: dict | None = None  # the cluster stage's report, when it ran
    cluster_note: str | None = None  # why it did not run
    seconds: float = 0.0
    status: str = "running"
    run_id: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def default_workers() -> int:
    """One worker per CPU this process may use."""
    return usable_cpus()


# ---- analyse -----------------------------------------------------------------------------------------------

_worker_encoder: Encoder | None = None


def _init_worker(spec: EncoderSpec) -> None:
    # Ctrl-C reaches the whole process group; only the main process decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker_encoder
    _worker_encoder = make_encoder(spec)


def _in_worker(task: Callable, items: Sequence):
    assert _worker_encoder is not None
    return task(_worker_encoder, items)


def _analyse_chunk(encoder: Encoder, items: Sequence[tuple[int, str, str]]) -> list[Outcome]:
    return encoder.analyse([Path(p) for _, p, _ in items])


def _each_chunk(encoder: Encoder, spec: EncoderSpec, workers: int, items: Sequence, task: Callable,
                collect: Callable[[Sequence, list], None], cancel: CancelFlag | None,
                chunk_sizes: tuple[int, int] = (2, 16)) -> None:
    """Run ``task(encoder, chunk)`` over ``items`` in small chunks (``chunk_sizes``: items a chunk in worker
    processes, and in this process), in worker processes when the encoder holds the GIL, and hand each result to
    ``collect(chunk, result)`` in this thread (the single writer). Once ``cancel`` is set no new chunk starts; the
    ones running finish and are collected."""
    use_processes = encoder.wants_processes and workers > 1 and len(items) > 1
    chunks = list(_chunks(items, chunk_sizes[0] if use_processes else chunk_sizes[1]))

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    if not use_processes:
        for chunk in chunks:
            if cancelled():
                break
            collect(chunk, task(encoder, chunk))
        return
    if not chunks:
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a parent that may hold torch or Qt threads
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=ctx,
                             initializer=_init_worker, initargs=(spec,)) as pool:
        todo = iter(chunks)
        running: dict[Future, Sequence] = {}
        while True:
            while not cancelled() and len(running) < 2 * workers:
                chunk = next(todo, None)
                if chunk is None:
                    break
                running[pool.submit(_in_worker, task, chunk)] = chunk
            if not running:
                break
            finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in finished:
                collect(running.pop(fut), fut.result())


class _Batches:
    """Finished chunks held until COMMIT_EVERY_N items or COMMIT_EVERY_S seconds of them have gathered, then written
    in one transaction by ``store(session, chunk, result)``: a kill loses at most that much finished work."""

    def __init__(self, library: Library, store: Callable[[object, Sequence, list], None]):
        self.library, self.store = library, store
        self.held: list[tuple[Sequence, list]] = []
        self.last_commit = time.monotonic()

    def add(self, chunk: Sequence, result: list) -> None:
        self.held.append((chunk, result))
        if sum(len(c) for c, _ in self.held) >= COMMIT_EVERY_N or \
                time.monotonic() - self.last_commit >= COMMIT_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if not self.held:
            return
        with self.library.session() as s:
            for chunk, result in self.held:
                self.store(s, chunk, result)
        self.held = []
        self.last_commit = time.monotonic()


def _pending_photos(library: Library, root: Path, encoder: Encoder) -> list[tuple[int, str, str]]:
    """Photos under ``root`` this pipeline has not analysed, and those anywhere in the library with results of a
    pipeline it replaces (all at once: a grouping must not mix the vectors of two pipelines)."""
    done = exists().where(Analysis.photo_id == Photo.id, Analysis.pipeline == encoder.pipeline)
    where = under(root)
    if encoder.replaces:
        where = where | exists().where(Analysis.photo_id == Photo.id, Analysis.pipeline.in_(encoder.replaces))
    with library.session() as s:
        return [tuple(r) for r in s.execute(
            select(Photo.id, Photo.path, Photo.content_hash)
            .where(where, Photo.status == PhotoStatus.OK, ~done).order_by(Photo.path)).all()]


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _store_outcome(s, photo_id: int, outcome: Outcome, encoder: Encoder, report: AnalyseReport) -> int:
    """Record one photo's analysis; returns the number of detections. Skips a photo analysed meanwhile."""
    earlier = s.scalars(select(Analysis).where(
        Analysis.photo_id == photo_id, Analysis.pipeline.in_((encoder.pipeline, *encoder.replaces)))).all()
    if any(a.pipeline == encoder.pipeline for a in earlier):
        return 0
    old = earlier[0] if earlier else None  # one of a pipeline this one replaces
    if old is not None:
        if _replace_in_place(old, outcome, encoder):
            report.replaced += 1
            return len(outcome.found)
        s.delete(old)  # other boxes now: what was found before no longer applies
        s.flush()
    if outcome.error is not None:
        s.execute(update(Photo).where(Photo.id == photo_id)
                  .values(status=PhotoStatus.FAILED, error=outcome.error))
        s.add(Analysis(photo_id=photo_id, pipeline=encoder.pipeline, status="failed", error=outcome.error))
        return 0
    analysis = Analysis(photo_id=photo_id, pipeline=encoder.pipeline, status="done", found=len(outcome.found))
    s.add(analysis)
    for f in outcome.found:
        x, y, w, h = f.box
        det = Detection(photo_id=photo_id, kind=encoder.kind, x=x, y=y, w=w, h=h, score=f.score,
                        verified=f.verified)
        det.embeddings.append(Embedding(model=encoder.model, model_version=encoder.model_version,
                                        dim=int(f.vector.shape[0]), vector=Embedding.pack(f.vector)))
        analysis.detections.append(det)
    return len(outcome.found)


def _replace_in_place(old: Analysis, outcome: Outcome, encoder: Encoder) -> bool:
    """An older pipeline's analysis given this one's vectors where the boxes are the same (their ids, and the names
    and corrections that hang on them, stay). False where they are not: the caller replaces it whole."""
    boxes = [(d.x, d.y, d.w, d.h) for d in old.detections]
    if outcome.error is not None or old.status != "done" or boxes != [tuple(f.box) for f in outcome.found]:
        return False
    for det, found in zip(old.detections, outcome.found):
        emb = next(e for e in det.embeddings if e.model == encoder.model)
        emb.model_version, emb.dim, emb.vector = encoder.model_version, int(found.vector.shape[0]), \
            Embedding.pack(found.vector)
    old.pipeline, old.finished_at = encoder.pipeline, utcnow()
    return True


def _copy_twins(library: Library, pending: list[tuple[int, str, str]], encoder: Encoder,
                report: AnalyseReport) -> list[tuple[int, str, str]]:
    """Photos with the same bytes as one already analysed get a copy of its results. Returns the rest."""
    rest = []
    with library.session() as s:
        for photo_id, path, digest in pending:
            twin = s.scalars(select(Analysis).join(Photo, Photo.id == Analysis.photo_id).where(
                Photo.content_hash == digest, Photo.id != photo_id, Analysis.pipeline == encoder.pipeline,
                Analysis.status == "done").limit(1)).first() if digest else None
            if twin is None:
                rest.append((photo_id, path, digest))
                continue
            copy = Outcome(found=[])
            for det in twin.detections:
                emb = next(e for e in det.embeddings if e.model == encoder.model)
                copy.found.append(Found((det.x, det.y, det.w, det.h), det.score, emb.array.copy(), det.verified))
            report.found += _store_outcome(s, photo_id, copy, encoder, report)
            report.reused += 1
    return rest


def _refuse_a_second_pipeline(library: Library, encoder: Encoder) -> None:
    """Two pipelines of one mode (another detector, other detector settings, other species weights) would each
    find and embed the same faces or photos again, and the grouping would take both: refused, with what to do."""
    with library.session() as s:
        other = s.scalar(select(Analysis.pipeline).where(
            Analysis.pipeline != encoder.pipeline, Analysis.pipeline.not_in(encoder.replaces),
            Analysis.pipeline.startswith(f"{encoder.mode}:")).limit(1))
    if other is not None:
        what = "faces were found" if encoder.mode == "faces" else "photos were embedded"
        raise JobError(f"this library's {what} with other settings ({other.split(':', 1)[1]}); indexing with "
                       f"{encoder.pipeline.split(':', 1)[1]} would take each of them again and group it twice. "
                       "Index with the settings used before, or into another library (--library)")


def analyse_photos(library: Library, root: Path | str, spec: EncoderSpec, *, workers: int | None = None,
                   progress: Progress = no_progress, cancel: CancelFlag | None = None,
                   encoder: Encoder | None = None) -> AnalyseReport:
    """Detect and embed every readable photo under ``root`` that this pipeline has not analysed yet."""
    root = check_folder(root)
    encoder = encoder or make_encoder(spec)
    _refuse_a_second_pipeline(library, encoder)
    workers = workers or default_workers()
    report = AnalyseReport()
    if encoder.replaces:  # a photo that could not be read could not be read either way: no need to try again
        with library.session() as s:
            s.execute(update(Analysis).where(Analysis.pipeline.in_(encoder.replaces), Analysis.status == "failed")
                      .values(pipeline=encoder.pipeline))
    pending = _pending_photos(library, root, encoder)
    report.pending = total = len(pending)
    progress(0, total)
    pending = _copy_twins(library, pending, encoder, report)
    done = total - len(pending)
    progress(done, total)

    def store(s, items: Sequence, outcomes: list[Outcome]) -> None:
        for (photo_id, _, _), outcome in zip(items, outcomes):
            report.found += _store_outcome(s, photo_id, outcome, encoder, report)
            report.analysed += outcome.error is None
            report.failed += outcome.error is not None

    batches = _Batches(library, store)

    def collect(items: Sequence, outcomes: list[Outcome]) -> None:
        nonlocal done
        batches.add(items, outcomes)
        done += len(items)
        progress(done, total)

    _each_chunk(encoder, spec, workers, pending, _analyse_chunk, collect, cancel)
    batches.flush()
    report.fallback = encoder.fallback
    if cancel is not None and cancel.is_set():
        raise Cancelled(report)
    report.complete = True
    return report


# ---- check: a second look at the boxes the detector was unsure of ---------------------------------------------

def _unchecked(library: Library, root: Path, encoder: Encoder) -> list[tuple[str, list[tuple[int, tuple]]]]:
    """(photo path, [(detection id, box), ...]) of this pipeline's detections under ``root`` scored under the
    encoder's check and not checked yet; a face the user confirmed is theirs to judge and is not checked."""
    confirmed = exists().where(Assignment.detection_id == Detection.id)
    with library.session() as s:
        rows = s.execute(
            select(Photo.path, Detection.id, Detection.x, Detection.y, Detection.w, Detection.h)
            .join(Photo, Photo.id == Detection.photo_id).join(Analysis, Analysis.id == Detection.analysis_id)
            .where(under(root), Photo.status == PhotoStatus.OK, Analysis.pipeline == encoder.pipeline,
                   Detection.score < encoder.check_below, Detection.verified.is_(None), ~confirmed)
            .order_by(Photo.path, Detection.id)).all()
    photos: dict[str, list[tuple[int, tuple]]] = {}
    for path, det, x, y, w, h in rows:
        photos.setdefault(path, []).append((det, (x, y, w, h)))
    return list(photos.items())


def _check_chunk(encoder: Encoder, items):
    return encoder.confirm_photos(items)


def check_faces(library: Library, root: Path | str, spec: EncoderSpec, *, workers: int | None = None,
                progress: Progress = no_progress, cancel: CancelFlag | None = None,
                encoder: Encoder | None = None) -> CheckReport:
    """Confirm (or turn down) every detection under ``root`` that the detector scored under the encoder's
    ``check_below``; progress counts detections. A detection turned down stays in the library (``verified`` False)
    and is left out of the groups. Encoders without a check have nothing to do here."""
    root = check_folder(root)
    encoder = encoder or make_encoder(spec)
    report = CheckReport()
    if encoder.check_below is None:
        report.complete = True
        return report
    pending = _unchecked(library, root, encoder)
    report.pending = total = sum(len(dets) for _, dets in pending)
    done = 0
    progress(0, total)
    def store(s, items: Sequence, verdicts: list) -> None:
        for (_, dets), verdict in zip(items, verdicts):
            if verdict is None:
                report.unreadable += len(dets)
                continue
            for det, ok in verdict.items():
                s.execute(update(Detection).where(Detection.id == det).values(verified=ok))
                report.confirmed += ok
                report.rejected += not ok

    batches = _Batches(library, store)

    def collect(items: Sequence, verdicts: list) -> None:
        nonlocal done
        batches.add(items, verdicts)
        done += sum(len(dets) for _, dets in items)
        progress(done, total)

    # A photo a chunk: a check is up to a second of CNN a box, so a cancel is seen within about that.
    _each_chunk(encoder, spec, workers or default_workers(), pending, _check_chunk, collect, cancel, (1, 1))
    batches.flush()
    if cancel is not None and cancel.is_set():
        raise Cancelled(report)
    report.complete = True
    return report


# ---- index: the whole pipeline ------------------------------------------------------------------------------

StageProgress = Callable[[str, int, int], None]


def _start_run(library: Library, root: Path, mode: str, pipeline: str) -> int:
    with library.session() as s:
        for run in s.scalars(select(IndexRun).where(IndexRun.status == "running")):
            if run.host == socket.gethostname() and run.pid and _alive(run.pid) and run.pid != os.getpid():
                raise JobError(f"another photo-grouper (pid {run.pid}) is indexing this library; "
                               "wait for it or stop it first")
            run.status, run.error = "interrupted", "the process stopped before the run ended"
        run = IndexRun(root=str(root), mode=mode, pipeline=pipeline, pid=os.getpid(), host=socket.gethostname())
        s.add(run)
        s.flush()
        return run.id


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _end_run(library: Library, report: IndexReport, error: str | None = None) -> None:
    sc, an = report.scan, report.analyse
    with library.session() as s:
        run = s.get(IndexRun, report.run_id)
        run.status, run.error, run.finished_at = report.status, error, utcnow()
        run.new, run.unchanged, run.modified, run.moved = sc.new, sc.unchanged, sc.modified, sc.moved
        run.missing, run.failed = sc.missing, sc.failed + an.failed
        run.analysed, run.found = an.analysed + an.reused, an.found


def index_folder(library: Library, root: Path | str, spec: EncoderSpec, *, workers: int | None = None,
                 progress: StageProgress | None = None, cancel: CancelFlag | None = None,
                 cluster: bool = False, device=None, regroup: bool = False) -> IndexReport:
    """Scan ``root``, analyse what is new and, with ``cluster``, regroup the library's detections of this mode
    (where nothing the grouping reads has changed the stored groups are kept, unless ``regroup``).
    Returns the report; a cancelled run returns it with ``status == "cancelled"`` (everything done is kept)."""
    root = check_folder(root)
    encoder = make_encoder(spec)
    _refuse_a_second_pipeline(library, encoder)  # before anything is scanned or logged
    report = IndexReport(root=str(root), mode=spec.mode, pipeline=encoder.pipeline)
    report.run_id = _start_run(library, root, spec.mode, encoder.pipeline)
    started = time.monotonic()

    def stage(name: str) -> Progress:
        return (lambda done, total: progress(name, done, total)) if progress else no_progress

    try:
        try:
            report.scan = scan_folder(library, root, progress=stage("scan"), cancel=cancel,
                                      threads=max(2, workers or default_workers()))
            report.analyse = analyse_photos(library, root, spec, workers=workers, progress=stage("analyse"),
                                            cancel=cancel, encoder=encoder)
            report.check = check_faces(library, root, spec, workers=workers, progress=stage("check"),
                                       cancel=cancel, encoder=encoder)
            if cluster:
                _cluster_stage(library, spec.mode, report, device, stage("cluster"), cancel, regroup)
            report.status = "completed"
        except Cancelled as exc:
            if isinstance(exc.partial, ScanReport):
                report.scan = exc.partial
            elif isinstance(exc.partial, AnalyseReport):
                report.analyse = exc.partial
            elif isinstance(exc.partial, CheckReport):
                report.check = exc.partial
            report.status = "cancelled"
    except BaseException as exc:
        report.status = "failed"
        report.seconds = time.monotonic() - started
        try:
            _end_run(library, report, error=str(exc) or type(exc).__name__)
        except Exception:
            pass  # the library itself may be what failed; the original error matters more
        raise
    report.seconds = time.monotonic() - started
    _end_run(library, report)
    return report


def _cluster_stage(library, mode, report: IndexReport, device, progress, cancel, regroup: bool = False) -> None:
    from .clustering.weights import default_weights
    from .grouping import cluster_library

    try:
        default_weights(mode)
    except FileNotFoundError as exc:
        report.cluster_note = f"not grouped: {exc}"
        return
    try:
        report.cluster = asdict(cluster_library(library, mode, device=device, progress=progress, cancel=cancel,
                                                keep_unchanged=not regroup))
    except Cancelled:
        report.cluster_note = "grouping stopped before the end: the groups are still the last grouping's"
        raise


# ---- status -----------------------------------------------------------------------------------------------

def library_status(library: Library) -> dict:
    """Counts for `photo-grouper status`: photos by status, analyses and detections per pipeline, last runs."""
    with library.session() as s:
        photos = dict(s.execute(select(Photo.status, func.count()).group_by(Photo.status)).all())
        pipelines = {}
        for pipeline, status, n, found in s.execute(
                select(Analysis.pipeline, Analysis.status, func.count(), func.sum(Analysis.found))
                .group_by(Analysis.pipeline, Analysis.status)).all():
            entry = pipelines.setdefault(pipeline, {"analysed": 0, "failed": 0, "found": 0})
            entry["analysed" if status == "done" else "failed"] += n
            entry["found"] += int(found or 0)
        ok = photos.get(PhotoStatus.OK, 0)
        for pipeline, entry in pipelines.items():
            entry["pending"] = max(0, ok - s.scalar(
                select(func.count()).select_from(Analysis).join(Photo, Photo.id == Analysis.photo_id)
                .where(Analysis.pipeline == pipeline, Photo.status == PhotoStatus.OK)))
        detections = dict(s.execute(select(Detection.kind, func.count()).group_by(Detection.kind)).all())
        not_faces = s.scalar(select(func.count()).select_from(Detection).where(Detection.verified.is_(False)))
        runs = [{
            "id": r.id, "root": r.root, "mode": r.mode, "status": r.status,
            "started_at": r.started_at.isoformat() if r.started_at else None,
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            "new": r.new, "unchanged": r.unchanged, "modified": r.modified, "moved": r.moved,
            "missing": r.missing, "failed": r.failed, "analysed": r.analysed, "found": r.found,
        } for r in s.scalars(select(IndexRun).order_by(IndexRun.id.desc()).limit(5))]
    return {
        "library": str(library.path),
        "schema_version": library.schema_version(),
        "photos": {
            "total": sum(photos.values()),
            "ok": ok,
            "failed": photos.get(PhotoStatus.FAILED, 0),
            "missing": photos.get(PhotoStatus.MISSING, 0),
        },
        "faces": detections.get("face", 0),
        "not_faces": not_faces,  # boxes the face check turned down (counted in "faces", left out of the groups)
        "whole_photos": detections.get("photo", 0),
        "pipelines": pipelines,
        "runs": runs,
    }
