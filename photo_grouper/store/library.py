"""Opening a library: the SQLite file, its pragmas, its schema version, and clear errors when it cannot be used."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .migrations import MIGRATIONS, Migration, migrate
from .models import SCHEMA_VERSION

LIBRARY_FILENAME = "library.sqlite3"


class LibraryError(Exception):
    """A library cannot be opened or written; the message is meant for the user."""


def fetch_all(session: Session, query) -> list[tuple]:
    """The rows of a select of plain columns (numbers, text), read straight off the SQLite cursor in the session's
    transaction: no SQLAlchemy row objects, about 3.5 times faster for the 100,000-row reads of a big library
    (each correction reads them anew). Values come as SQLite stores them: no type conversion."""
    compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    args = [params[name] for name in compiled.positiontup or ()]
    return session.connection().connection.driver_connection.execute(compiled.string, args).fetchall()


IN_CHUNK = 10_000  # ids bound in one statement: SQLite allows 32,766 on most builds


def id_chunks(ids: list[int]) -> Iterator[list[int]]:
    """``ids`` in slices small enough to bind in one ``IN (...)``."""
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start:start + IN_CHUNK]


def fetch_in(session: Session, query, column, ids: list[int]) -> list[tuple]:
    """``fetch_all`` of ``query`` restricted to ``column`` in ``ids``, any number of them."""
    return [row for chunk in id_chunks(ids) for row in fetch_all(session, query.where(column.in_(chunk)))]


def default_library_path() -> Path:
    return Path(platformdirs.user_data_dir("photo-grouper", appauthor=False)) / LIBRARY_FILENAME


def explain_db_error(exc: BaseException, path: Path | str) -> str:
    """Turn a SQLite error into one sentence a user can act on."""
    orig = getattr(exc, "orig", exc)
    message = str(orig).lower()
    code = getattr(orig, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_NOTADB or "not a database" in message:
        return f"{path} is not a photo-grouper library (the file is not a SQLite database); nothing was changed"
    if code == sqlite3.SQLITE_FULL or "disk is full" in message:
        return f"the disk holding {path} is full; the last change was rolled back, free some space and run again"
    if code == sqlite3.SQLITE_READONLY or "readonly" in message or "read-only" in message:
        return f"the library {path} is read-only; choose a writable location with --library"
    if code == sqlite3.SQLITE_BUSY or "locked" in message:
        return f"the library {path} is locked by another photo-grouper; close it and try again"
    if code == sqlite3.SQLITE_CORRUPT or "malformed" in message:
        return f"the library {path} is damaged ({orig}); restore it from a backup"
    if code == sqlite3.SQLITE_CANTOPEN or "unable to open" in message:
        return f"cannot open the library {path}: check that its folder exists and is writable"
    return f"library {path}: {orig}"


class Library:
    """A photo library in one SQLite file (WAL mode), migrated to the current schema on open."""

    def __init__(self, path: Path | str, *, migrations: list[Migration] = MIGRATIONS,
                 version: int = SCHEMA_VERSION, create: bool = True):
        self.path = Path(path).expanduser().resolve()
        if not self.path.exists():
            if not create:
                raise LibraryError(f"no library at {self.path}")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LibraryError(f"cannot create the library folder {self.path.parent}: {exc.strerror}") from exc
            if not os.access(self.path.parent, os.W_OK):
                raise LibraryError(
                    f"cannot create a library in {self.path.parent}: the folder is read-only; "
                    "choose a writable location with --library")
        elif self.path.is_dir():
            raise LibraryError(f"{self.path} is a folder, not a library file")
        self.engine = _make_engine(self.path)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        try:
            migrate(self.engine, migrations, version)
        except DBAPIError as exc:
            self.engine.dispose()
            raise LibraryError(explain_db_error(exc, self.path)) from exc
        except LibraryError:
            self.engine.dispose()
            raise

    @contextmanager
    def session(self, *, immediate: bool = False) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error. ``immediate``: the
        transaction takes the write lock as it begins (BEGIN IMMEDIATE), so that nothing else commits between
        what it reads and what it writes."""
        with self._sessions() as session:
            try:
                if immediate:
                    session.connection(execution_options={"immediate": True})
                yield session
                session.commit()
            except DBAPIError as exc:
                session.rollback()
                raise LibraryError(explain_db_error(exc, self.path)) from exc
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("PRAGMA user_version")).scalar_one()


def _make_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 10})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        # pysqlite's own transaction handling is switched off so that BEGIN below really starts
        # a transaction (SQLAlchemy's documented recipe for SQLite).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        if mode and str(mode[0]).lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch the library to WAL mode (got {mode[0]})")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")

    return engine
