import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, text

from photo_grouper.store import (
    SCHEMA_VERSION, Analysis, Detection, Embedding, Library, LibraryError, Photo, PhotoStatus,
    default_library_path, fetch_all,
)
from photo_grouper.store.migrations import Migration


def _photo(path="/photos/a.jpg", **kw) -> Photo:
    values = dict(path=path, size=10, mtime_ns=1_700_000_000_123_456_789, content_hash="ab" * 32,
                  width=640, height=480, orientation=1)
    values.update(kw)
    return Photo(**values)


def test_round_trip_photo_detection_embedding(library_path):
    vec = np.linspace(-1, 1, 128, dtype=np.float32)
    with Library(library_path) as lib:
        with lib.session() as s:
            photo = _photo()
            analysis = Analysis(photo=photo, pipeline="faces:test", status="done", found=1)
            det = Detection(photo=photo, analysis=analysis, kind="face", x=0.1, y=0.2, w=0.3, h=0.4, score=1.5)
            det.embeddings.append(Embedding(model="m", model_version="1", dim=128, vector=Embedding.pack(vec)))
            s.add(photo)
    with Library(library_path) as lib, lib.session() as s:
        photo = s.scalars(select(Photo)).one()
        assert photo.mtime_ns == 1_700_000_000_123_456_789  # 64-bit integers survive
        assert (photo.width, photo.height, photo.status) == (640, 480, PhotoStatus.OK)
        det = photo.detections[0]
        assert (det.kind, det.x, det.y, det.w, det.h, det.score) == ("face", 0.1, 0.2, 0.3, 0.4, 1.5)
        np.testing.assert_array_equal(det.embeddings[0].array, vec)
        assert det.analysis.pipeline == "faces:test"


def test_deleting_a_photo_cascades_to_its_detections(library_path):
    with Library(library_path) as lib:
        with lib.session() as s:
            photo = _photo()
            analysis = Analysis(photo=photo, pipeline="p", status="done", found=1)
            det = Detection(photo=photo, analysis=analysis, kind="face", x=0, y=0, w=1, h=1)
            det.embeddings.append(Embedding(model="m", model_version="1", dim=1, vector=b"\0\0\0\0"))
            s.add(photo)
        with lib.session() as s:
            s.execute(text("DELETE FROM photos"))  # foreign keys are on: SQLite itself cascades
        with lib.session() as s:
            for table in (Analysis, Detection, Embedding):
                assert s.scalar(select(func.count()).select_from(table)) == 0


def test_the_grouping_revision_counts_changes_to_photos_faces_and_groupings_only(library_path):
    """Kept by triggers, so every writer counts (an index job in another process too); the user's corrections
    and a rescan that finds a photo unchanged do not count (a window keeps what it read while it stands)."""
    from photo_grouper.store import GROUPING, Assignment, ClusterRun, Person, Revision

    with Library(library_path) as lib:
        def revision():
            with lib.session() as s:
                return s.scalar(select(Revision.value).where(Revision.name == GROUPING))

        counts = [revision()]
        with lib.session() as s:  # a photo with a face: counted
            photo = _photo()
            analysis = Analysis(photo=photo, pipeline="p", status="done", found=1)
            s.add(Detection(photo=photo, analysis=analysis, kind="face", x=0, y=0, w=1, h=1))
        counts.append(revision())
        with lib.session() as s:  # the user names the face: not counted
            person = Person(mode="faces", name="Ada")
            s.add(person)
            s.flush()
            s.add(Assignment(detection_id=s.scalars(select(Detection.id)).one(), person_id=person.id))
        with lib.session() as s:  # a rescan finds the photo unchanged: not counted
            s.scalars(select(Photo)).one().seen_at = __import__("datetime").datetime(2026, 12, 1)
        counts.append(revision())
        for change in (lambda s: setattr(s.scalars(select(Photo)).one(), "status", PhotoStatus.MISSING),
                       lambda s: setattr(s.scalars(select(Photo)).one(), "path", "/photos/b.jpg"),
                       lambda s: s.add(ClusterRun(mode="faces", model="m", weights="w", tau=0.8, items=1,
                                                  levels=1)),
                       lambda s: s.execute(text("DELETE FROM detections"))):
            with lib.session() as s:
                change(s)
            counts.append(revision())
    assert counts[0] == 0 and counts[1] > counts[0] and counts[2] == counts[1]
    assert all(later > earlier for earlier, later in zip(counts[2:], counts[3:])), counts


def test_wal_mode_and_schema_version(library_path):
    with Library(library_path) as lib:
        assert lib.schema_version() == SCHEMA_VERSION
        with lib.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one().lower() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_failed_transaction_leaves_nothing(library_path):
    with Library(library_path) as lib:
        with pytest.raises(RuntimeError):
            with lib.session() as s:
                s.add(_photo())
                s.flush()
                raise RuntimeError("boom")
        with lib.session() as s:
            assert s.scalar(select(func.count()).select_from(Photo)) == 0


def test_migrations_step_an_old_library_up(library_path):
    with Library(library_path):
        pass

    def add_rating(conn):
        conn.exec_driver_sql("ALTER TABLE photos ADD COLUMN rating INTEGER DEFAULT 0")

    def add_notes(conn):
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")

    steps = [Migration(SCHEMA_VERSION + 1, add_rating), Migration(SCHEMA_VERSION + 2, add_notes)]
    with Library(library_path, migrations=steps, version=SCHEMA_VERSION + 2) as lib:
        assert lib.schema_version() == SCHEMA_VERSION + 2
        with lib.engine.connect() as conn:
            cols = [r[1] for r in conn.execute(text("PRAGMA table_info(photos)"))]
            assert "rating" in cols
            assert conn.execute(text("SELECT count(*) FROM notes")).scalar_one() == 0


def test_a_failing_migration_changes_nothing(library_path):
    with Library(library_path) as lib, lib.session() as s:
        s.add(_photo())

    def good(conn):
        conn.exec_driver_sql("ALTER TABLE photos ADD COLUMN rating INTEGER")

    def bad(conn):
        conn.exec_driver_sql("ALTER TABLE no_such_table ADD COLUMN x INTEGER")

    steps = [Migration(SCHEMA_VERSION + 1, good), Migration(SCHEMA_VERSION + 2, bad)]
    with pytest.raises(LibraryError):
        Library(library_path, migrations=steps, version=SCHEMA_VERSION + 2)
    with Library(library_path) as lib:
        assert lib.schema_version() == SCHEMA_VERSION
        with lib.engine.connect() as conn:
            assert "rating" not in [r[1] for r in conn.execute(text("PRAGMA table_info(photos)"))]
            assert conn.execute(text("SELECT count(*) FROM photos")).scalar_one() == 1


def test_a_library_from_a_newer_version_is_refused(library_path):
    with Library(library_path):
        pass
    with sqlite3.connect(library_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(LibraryError, match="newer than this photo-grouper"):
        Library(library_path)


def test_a_file_that_is_not_a_database_is_refused_and_kept(library_path):
    library_path.parent.mkdir(parents=True)
    library_path.write_bytes(b"these are my holiday notes, not a database\n" * 100)
    before = library_path.read_bytes()
    with pytest.raises(LibraryError, match="not a photo-grouper library"):
        Library(library_path)
    assert library_path.read_bytes() == before


def test_another_applications_sqlite_file_is_refused(library_path):
    library_path.parent.mkdir(parents=True)
    with sqlite3.connect(library_path) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
    with pytest.raises(LibraryError, match="other tables"):
        Library(library_path)
    with sqlite3.connect(library_path) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["contacts"]


def test_a_full_disk_rolls_back_and_says_so(library_path):
    with Library(library_path) as lib:
        with lib.session() as s:
            s.add(_photo("/keep.jpg"))

        # SQLite answers SQLITE_FULL once the file reaches max_page_count: the same error as a full disk.
        @__import__("sqlalchemy").event.listens_for(lib.engine, "connect")
        def _tiny(dbapi_conn, _):
            dbapi_conn.execute("PRAGMA max_page_count = 12")

        lib.engine.dispose()
        with pytest.raises(LibraryError, match="disk holding .* is full"):
            with lib.session() as s:
                for i in range(2000):
                    s.add(_photo(f"/photos/{i:05d}-{'x' * 200}.jpg"))
    with Library(library_path) as lib, lib.session() as s:
        assert s.scalars(select(Photo.path)).all() == ["/keep.jpg"]


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody can write to. Root ignores permission bits, so as root the folder is made immutable
    (chattr +i), on the temporary folder's file system or, where that has no such flag (tmpfs), beside the tests."""
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        yield ro
        ro.chmod(0o755)
        return
    errors = []
    for parent in (tmp_path, Path(__file__).resolve().parents[2] / ".pytest_cache"):
        parent.mkdir(exist_ok=True)
        ro = Path(tempfile.mkdtemp(prefix="ro-", dir=parent))
        result = subprocess.run(["chattr", "+i", str(ro)], capture_output=True, text=True)
        if result.returncode == 0:
            yield ro
            subprocess.run(["chattr", "-i", str(ro)], check=True)
            ro.rmdir()
            return
        errors.append(result.stderr.strip())
        ro.rmdir()
    pytest.fail(f"cannot make a read-only folder as root here: {errors}")


def test_a_read_only_location_is_refused_clearly(read_only_dir):
    with pytest.raises(LibraryError, match="read-only"):
        Library(read_only_dir / "lib.sqlite3")
    assert not (read_only_dir / "lib.sqlite3").exists()


def test_default_library_path_is_in_user_data_dir():
    path = default_library_path()
    assert path.name.endswith(".sqlite3")
    assert "photo-grouper" in str(path)


A_PHOTO = ("INSERT INTO photos (id, path, size, mtime_ns, content_hash, status, added_at, seen_at) "
           "VALUES (1, '/a.jpg', 1, 1, 'h', 'ok', '2026-01-01', '2026-01-01')")
NO_FACE_CHECK = "ALTER TABLE detections DROP COLUMN verified"  # detections as schemas 1-3 had them


def _write_old_library(path, version: int, statements: list[str], tables=None) -> None:
    """A library as an older photo-grouper left it: today's ``tables`` (all by default), then ``statements``."""
    from photo_grouper.store.models import Base

    path.parent.mkdir(parents=True)
    engine = __import__("sqlalchemy").create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        Base.metadata.create_all(conn, tables=tables)
        for statement in statements:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql(f"PRAGMA user_version = {version}")
    engine.dispose()


def test_a_version_1_library_is_migrated_to_the_current_schema(library_path):
    from photo_grouper.store import Assignment, ClusterRun, Person
    from photo_grouper.store.models import Base

    later = {"cluster_runs", "clusters", "cluster_members",  # version 2
             "people", "assignments", "rejections", "ignored", "suggestions", "operations",  # version 3
             "revisions"}  # version 6
    _write_old_library(library_path, 1, [NO_FACE_CHECK, A_PHOTO],
                       [t for t in Base.metadata.sorted_tables if t.name not in later])
    with Library(library_path) as lib:
        assert lib.schema_version() == SCHEMA_VERSION >= 2
        with lib.session() as s:
            assert s.scalars(select(Photo.path)).all() == ["/a.jpg"]
            assert s.scalar(select(func.count()).select_from(ClusterRun)) == 0
            assert s.scalar(select(func.count()).select_from(Person)) == 0
            assert s.scalar(select(func.count()).select_from(Assignment)) == 0
            # Step 4 added the face check's column to the detections table it found; step 5 is a no-op here, as
            # step 2 made cluster_runs with the current columns.
            assert "verified" in {row[1] for row in s.execute(text("PRAGMA table_info(detections)"))}
            assert "inputs" in {row[1] for row in s.execute(text("PRAGMA table_info(cluster_runs)"))}


def test_a_version_3_library_gets_the_face_checks_column_and_keeps_its_detections(library_path):
    _write_old_library(library_path, 3, [
        NO_FACE_CHECK, A_PHOTO,
        "INSERT INTO analyses (id, photo_id, pipeline, status, found, finished_at) "
        "VALUES (1, 1, 'p', 'done', 1, '2026-01-01')",
        "INSERT INTO detections (photo_id, analysis_id, kind, x, y, w, h, score) "
        "VALUES (1, 1, 'face', 0.1, 0.1, 0.2, 0.2, -0.1)"])
    with Library(library_path) as lib:
        assert lib.schema_version() == SCHEMA_VERSION >= 4
        with lib.session() as s:
            # Not checked yet: the next index run checks it.
            assert s.execute(select(Detection.score, Detection.verified)).all() == [(-0.1, None)]


@pytest.mark.parametrize("version, column", [(4, "inputs"), (6, "default_level")])
def test_an_old_librarys_grouping_stays_and_gets_the_new_run_column(library_path, version, column):
    """Version 4 had no digest of what a grouping read (the next `index` groups again); version 6 no default
    level (its runs had no zoom-out levels: read as the top level)."""
    from photo_grouper.store import ClusterRun

    _write_old_library(library_path, version, [
        f"ALTER TABLE cluster_runs DROP COLUMN {column}",
        "INSERT INTO cluster_runs (id, mode, model, weights, tau, items, levels, seconds, created_at) "
        "VALUES (1, 'faces', 'm', 'w', 0.8, 0, 3, 0.0, '2026-01-01')"])
    with Library(library_path) as lib:
        assert lib.schema_version() == SCHEMA_VERSION > version
        with lib.session() as s:
            run = s.scalars(select(ClusterRun)).one()
            assert (run.id, run.tau, run.levels, run.inputs, run.default_level, run.shown_level) == \
                (1, 0.8, 3, None, None, 2)


def test_a_version_5_library_gets_the_revision_count_and_its_triggers(library_path):
    from photo_grouper.store import GROUPING, Revision
    from photo_grouper.store.models import Base

    _write_old_library(library_path, 5, [A_PHOTO],
                       [t for t in Base.metadata.sorted_tables if t.name != "revisions"])
    with Library(library_path) as lib:
        assert lib.schema_version() == SCHEMA_VERSION >= 6
        with lib.session() as s:
            assert s.scalars(select(Photo.path)).all() == ["/a.jpg"]
            assert s.scalar(select(Revision.value).where(Revision.name == GROUPING)) == 0
            s.execute(text("UPDATE photos SET status = 'missing'"))
            assert s.scalar(select(Revision.value).where(Revision.name == GROUPING)) == 1


def test_fetch_all_reads_what_the_session_would(library_path):
    """The fast read of big listings: the same rows as SQLAlchemy's, with IN lists and bound text, inside the
    session's transaction (rows it has not committed yet are seen)."""
    with Library(library_path) as lib, lib.session() as s:
        for i in range(5):
            s.add(Photo(path=f"/p/{i}.jpg", size=i, mtime_ns=1, content_hash=f"h{i}",
                        status="ok" if i % 2 else "failed"))
        s.flush()
        query = (select(Photo.id, Photo.path).where(Photo.id.in_([1, 2, 4, 5]), Photo.status == "ok")
                 .order_by(Photo.id))
        assert fetch_all(s, query) == [tuple(r) for r in s.execute(query).all()] == [(2, "/p/1.jpg"), (4, "/p/3.jpg")]
        assert fetch_all(s, select(Photo.id).where(Photo.id.in_([]))) == []


def test_an_immediate_session_holds_the_write_lock_from_its_start(library_path):
    with Library(library_path) as lib:
        other = sqlite3.connect(lib.path, timeout=0, isolation_level=None)
        with lib.session(immediate=True) as s:
            s.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        with lib.session() as s:  # a plain session only reads until it writes
            s.execute(text("SELECT 1"))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        other.close()
