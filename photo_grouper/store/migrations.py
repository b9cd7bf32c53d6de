"""Schema versions, kept in SQLite's ``PRAGMA user_version``, and the steps between them.

A new library gets the current tables at once. An older one is brought up step by step, all steps in one
transaction, so a failure leaves it exactly as it was. A library from a newer photo-grouper is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import Engine

from .models import Base


@dataclass(frozen=True)
class Migration:
    """Brings a library from version ``to - 1`` to version ``to``."""

    to: int
    apply: Callable[[Connection], None]
    what: str = ""


def _add_clusters(conn: Connection) -> None:
    from .models import Cluster, ClusterMember, ClusterRun

    Base.metadata.create_all(conn, tables=[ClusterRun.__table__, Cluster.__table__, ClusterMember.__table__])


def _add_people(conn: Connection) -> None:
    from .models import Assignment, Ignored, Operation, Person, Rejection, Suggestion

    Base.metadata.create_all(conn, tables=[t.__table__ for t in
                                           (Person, Assignment, Rejection, Ignored, Suggestion, Operation)])


def _add_verified(conn: Connection) -> None:
    if "verified" not in {c["name"] for c in inspect(conn).get_columns("detections")}:
        conn.exec_driver_sql("ALTER TABLE detections ADD COLUMN verified BOOLEAN")


def _add_run_inputs(conn: Connection) -> None:
    if "inputs" not in {c["name"] for c in inspect(conn).get_columns("cluster_runs")}:
        conn.exec_driver_sql("ALTER TABLE cluster_runs ADD COLUMN inputs VARCHAR(64)")


def _add_default_level(conn: Connection) -> None:
    if "default_level" not in {c["name"] for c in inspect(conn).get_columns("cluster_runs")}:
        conn.exec_driver_sql("ALTER TABLE cluster_runs ADD COLUMN default_level INTEGER")


def add_revisions(conn: Connection) -> None:
    """The change counts and the triggers that keep them (also made with a new library's tables)."""
    from .models import GROUPING, REVISION_TRIGGERS, Revision

    Base.metadata.create_all(conn, tables=[Revision.__table__])
    conn.exec_driver_sql(f"INSERT OR IGNORE INTO revisions (name, value) VALUES ('{GROUPING}', 0)")
    for trigger in REVISION_TRIGGERS:
        conn.exec_driver_sql(trigger)


# Step n brings version n-1 to n.
MIGRATIONS: list[Migration] = [
    Migration(2, _add_clusters, "the Hi-LANDER hierarchy: cluster_runs, clusters, cluster_members"),
    Migration(3, _add_people, "user corrections: people, assignments, rejections, ignored, suggestions, operations"),
    Migration(4, _add_verified, "the face check's verdict on unsure detections: detections.verified"),
    Migration(5, _add_run_inputs, "what a grouping read, so that an unchanged library keeps its groups: "
                                  "cluster_runs.inputs"),
    Migration(6, add_revisions, "a count of changes to photos, faces and groupings, kept by triggers, so that "
                                "a window lists groups again without reading all of them: revisions"),
    Migration(7, _add_default_level, "the level where the hierarchy stopped, below the zoom-out levels: "
                                     "cluster_runs.default_level"),
]


def migrate(engine: Engine, migrations: list[Migration], version: int) -> int:
    """Create or upgrade the schema to ``version``; return the version found before."""
    # Imported here to avoid a cycle: library imports this module.
    from .library import LibraryError

    with engine.begin() as conn:
        found = conn.execute(text("PRAGMA user_version")).scalar_one()
        if found > version:
            raise LibraryError(
                f"this library has schema version {found}, newer than this photo-grouper understands "
                f"({version}); update photo-grouper")
        if found == version:
            return found
        if found == 0:
            if inspect(conn).get_table_names():
                raise LibraryError("this SQLite file holds other tables and is not a photo-grouper library")
            Base.metadata.create_all(conn)
            add_revisions(conn)
        else:
            steps = {m.to: m for m in migrations}
            for to in range(found + 1, version + 1):
                if to not in steps:
                    raise LibraryError(f"no migration from schema version {to - 1} to {to}")
                steps[to].apply(conn)
        # PRAGMA takes no bound parameters; version is an int we own.
        conn.exec_driver_sql(f"PRAGMA user_version = {int(version)}")
        return found
