"""The library schema: photos, what was looked for in them, what was found, and index runs.

Bump ``SCHEMA_VERSION`` and add a step to ``store.migrations.MIGRATIONS`` whenever a table changes.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA_VERSION = 7


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class PhotoStatus:
    OK = "ok"  # on disk and readable as an image
    FAILED = "failed"  # on disk but not a readable image; ``error`` says why
    MISSING = "missing"  # was indexed, no longer found; its detections are kept


class Photo(Base):
    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String, unique=True)
    size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # Pixel size of the upright image (after EXIF orientation).
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    orientation: Mapped[int | None] = mapped_column(Integer)  # EXIF 1..8
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)  # EXIF DateTimeOriginal, local time
    status: Mapped[str] = mapped_column(String(16), default=PhotoStatus.OK, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    analyses: Mapped[list[Analysis]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )
    detections: Mapped[list[Detection]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Detection.id",
    )

    def __repr__(self) -> str:
        return f"Photo(id={self.id}, path={self.path!r}, status={self.status!r})"


class Analysis(Base):
    """One pipeline (detector + encoder) run over one photo: done, or failed with a reason.

    It records that a photo was looked at even when nothing was found, so it is not looked at again.
    """

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("photo_id", "pipeline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    pipeline: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # "done" | "failed"
    error: Mapped[str | None] = mapped_column(Text)
    found: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    photo: Mapped[Photo] = relationship(back_populates="analyses")
    detections: Mapped[list[Detection]] = relationship(
        back_populates="analysis", cascade="all, delete-orphan", passive_deletes=True
    )


# The detections each mode groups, by their ``Detection.kind``.
KIND_OF_MODE = {"faces": "face", "species": "photo"}


class Detection(Base):
    """A face (or a whole photo, in species mode), boxed in normalised coordinates of the upright image."""

    __tablename__ = "detections"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "face" | "photo"
    x: Mapped[float] = mapped_column(Float)  # left, 0..1 of upright width
    y: Mapped[float] = mapped_column(Float)  # top, 0..1 of upright height
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    # The face check (jobs.check_faces) on a box the detector was unsure of: True a face, False not one (left out of
    # the groups); None not checked (a confident box, a species photo, or not yet).
    verified: Mapped[bool | None] = mapped_column(Boolean)

    photo: Mapped[Photo] = relationship(back_populates="detections")
    analysis: Mapped[Analysis] = relationship(back_populates="detections")
    embeddings: Mapped[list[Embedding]] = relationship(
        back_populates="detection", cascade="all, delete-orphan", passive_deletes=True
    )


class Embedding(Base):
    __tablename__ = "embeddings"
    __table_args__ = (UniqueConstraint("detection_id", "model", "model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    detection_id: Mapped[int] = mapped_column(ForeignKey("detections.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(32))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little endian

    detection: Mapped[Detection] = relationship(back_populates="embeddings")

    @property
    def array(self) -> np.ndarray:
        return np.frombuffer(self.vector, dtype="<f4")

    @staticmethod
    def pack(vector: np.ndarray) -> bytes:
        return np.asarray(vector, dtype="<f4").tobytes()


class IndexRun(Base):
    __tablename__ = "index_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    root: Mapped[str] = mapped_column(String)
    mode: Mapped[str] = mapped_column(String(16))
    pipeline: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int | None] = mapped_column(Integer)  # of the process doing it, to tell a live run from a killed one
    host: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # "running" until it ends; a run still "running" when the next one starts was killed.
    status: Mapped[str] = mapped_column(String(16), default="running")
    new: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    modified: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    analysed: Mapped[int] = mapped_column(Integer, default=0)
    found: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class ClusterRun(Base):
    """One automatic grouping of a mode's detections by Hi-LANDER. A new run replaces the previous one whole."""

    __tablename__ = "cluster_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[str] = mapped_column(String(16), index=True)
    model: Mapped[str] = mapped_column(String(64))  # embedding model the vectors came from
    weights: Mapped[str] = mapped_column(String)  # Hi-LANDER weights file
    tau: Mapped[float] = mapped_column(Float)
    items: Mapped[int] = mapped_column(Integer)
    levels: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A digest of everything the grouping read (grouping.grouping_inputs): `index` keeps the groups where it is
    # unchanged. None for runs stored before schema version 5.
    inputs: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The level where the hierarchy stopped, which the app shows first; the levels above it are zoom-out levels
    # (joins the model did not make, cheapest first: clustering.zoom). None: the top level (runs stored before
    # schema version 7, which had no zoom-out levels).
    default_level: Mapped[int | None] = mapped_column(Integer, nullable=True)

    @property
    def shown_level(self) -> int:
        """The level the app shows first."""
        return self.levels - 1 if self.default_level is None else self.default_level

    clusters: Mapped[list[Cluster]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True)


class Cluster(Base):
    """A group at one level of the hierarchy; ``parent_id`` is the group of the next level that contains it."""

    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("cluster_runs.id", ondelete="CASCADE"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("clusters.id", ondelete="SET NULL"), index=True)
    # The peak: the detection Hi-LANDER found densest in the group, shown as its face.
    peak_detection_id: Mapped[int | None] = mapped_column(ForeignKey("detections.id", ondelete="SET NULL"))

    run: Mapped[ClusterRun] = relationship(back_populates="clusters")


class ClusterMember(Base):
    """A detection's group at the finest level; coarser levels follow the groups' parent links."""

    __tablename__ = "cluster_members"

    detection_id: Mapped[int] = mapped_column(ForeignKey("detections.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("cluster_runs.id", ondelete="CASCADE"), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), index=True)


# ---- what the user decided (schema 3): facts that no re-clustering changes -------------------------------------

class Person(Base):
    """A person (or, in species mode, a species) the user made: named, or not yet named (a group the user merged,
    split off or corrected). It owns the faces confirmed to it; automatic groups are only suggestions."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Assignment(Base):
    """A face the user confirmed to a person."""

    __tablename__ = "assignments"

    detection_id: Mapped[int] = mapped_column(ForeignKey("detections.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)


class Rejection(Base):
    """"Not this person": the face is never confirmed or suggested to that person again."""

    __tablename__ = "rejections"

    detection_id: Mapped[int] = mapped_column(ForeignKey("detections.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)


class Ignored(Base):
    """A detection the user set aside: not a face, or not wanted in any group."""

    __tablename__ = "ignored"

    detection_id: Mapped[int] = mapped_column(ForeignKey("detections.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))  # "not-a-face" | "ignored"


class Suggestion(Base):
    """A face the last re-clustering proposes for a person the user made (shown with them, not confirmed)."""

    __tablename__ = "suggestions"

    detection_id: Mapped[int] = mapped_column(ForeignKey("detections.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)


class Operation(Base):
    """One user operation, with the row changes that undo and redo it (JSON), kept so undo survives restarts."""

    __tablename__ = "operations"

    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    changes: Mapped[str] = mapped_column(Text)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---- counts of changes (schema 6) ---------------------------------------------------------------------------

class Revision(Base):
    """A count of changes, kept by triggers (``REVISION_TRIGGERS``) so that every writer counts, in this process
    or another. ``grouping``: what a group listing reads besides the user's corrections (photos added, removed,
    gone missing or moved; faces found or dropped; a new grouping). A window keeps what it read of those while
    the count stands: at a million faces reading them again took 1.6 s after each correction."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


GROUPING = "grouping"
_COUNTED = {  # table -> the changes that count: inserts and deletes always, updates of these columns (all: None)
    "photos": "status, path",
    "detections": "photo_id, kind",
    "cluster_runs": None,
}
REVISION_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS count_{table}_{event.split()[0].lower()} AFTER {event} ON {table} "
    f"BEGIN UPDATE revisions SET value = value + 1 WHERE name = '{GROUPING}'; END"
    for table, columns in _COUNTED.items()
    for event in ("INSERT", "DELETE", f"UPDATE OF {columns}" if columns else "UPDATE")]
