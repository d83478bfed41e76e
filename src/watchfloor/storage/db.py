"""Database engine, sessions and migrations (SQLAlchemy 2 + Alembic).

SQLite is the embedded default (``home/watchfloor.db``), opened in WAL mode with
``synchronous=FULL`` so that a committed transaction survives a crash or power
loss, and ``secure_delete=ON`` so that deleted or overwritten report text is
zeroed in the file rather than left in free pages (not left to how SQLite was
compiled). The database file, its ``-wal``/``-shm`` files and the folder that
holds them are created owner-only (0600 files, 0700 folder): they hold police
material. PostgreSQL is used when ``WATCHFLOOR_DATABASE_URL`` says so
(``postgresql+psycopg://user@host/db``).

Tables are declared on :class:`Base`; the schema is only ever created by the
Alembic migrations in ``watchfloor/storage/migrations/versions`` (one branch per
area, each with its own ``branch_labels``): :func:`upgrade_database` runs
``alembic upgrade heads``. Nothing here is built at import time.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from watchfloor.errors import ConfigurationError
from watchfloor.settings import Settings

__all__ = [
    "MIGRATIONS_DIR",
    "Base",
    "Database",
    "alembic_config",
    "begin_write",
    "open_database",
    "owner_only_home",
    "upgrade_database",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Stable constraint names, so that migrations can refer to them on every backend.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table of watchfloor (typed ORM, SQLAlchemy 2)."""

    metadata = MetaData(naming_convention=_NAMING)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA secure_delete=ON")
    finally:
        cursor.close()


def _owner_only_sqlite(database: Path) -> None:
    """Create the file ``database`` 0600 (its folder 0700 when missing); tighten existing ones.

    SQLite gives the ``-wal`` and ``-shm`` files the mode of the database file,
    so a database created 0600 keeps its log owner-only too.
    """
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists() and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


def owner_only_home(home: Path) -> None:
    """Create the data home ``home`` with mode 0700, or take group and other access off it.

    It holds the database, the key file, plans and routes: police material.
    """
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if home.stat().st_mode & 0o077:
        os.chmod(home, 0o700)


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        msg = "WATCHFLOOR_DATABASE_URL is not a database URL; use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        raise ConfigurationError(msg) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _owner_only_sqlite(Path(database))
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
            # Error messages must never quote report text or identity.
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True
        )
    msg = f"database backend {backend!r} is not supported; use SQLite or PostgreSQL"
    raise ConfigurationError(msg)


class _FileWriteLock:
    """A lock shared by the threads of this process and, through ``flock``, by every
    process that opens the same SQLite file (the workers of ``serve --workers N``).

    A waiting writer wakes as soon as the lock is released, instead of sleeping in
    SQLite's busy handler (which backs off to 100 ms between tries).
    """

    def __init__(self, path: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = path
        self._fd: int | None = None

    def __enter__(self) -> _FileWriteLock:
        self._thread_lock.acquire()
        if self._path is not None:
            try:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


def _write_lock_for(engine: Engine) -> AbstractContextManager[object]:
    if engine.dialect.name != "sqlite":
        return nullcontext()
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return _FileWriteLock(None)
    return _FileWriteLock(Path(database).with_name(Path(database).name + "-writer.lock"))


@dataclass(frozen=True)
class Database:
    """An engine and its session factory; build it with :func:`open_database`."""

    engine: Engine
    sessions: sessionmaker[Session]
    _write_lock: AbstractContextManager[object] = field(default_factory=nullcontext, repr=False)

    def write_guard(self) -> AbstractContextManager[object]:
        """Return a context that serialises write transactions on SQLite.

        SQLite allows one writer; queueing writers on a lock (threads of this
        process, and other processes on the same file through ``flock``) is
        fairer and faster than letting them sleep in SQLite's busy handler. On
        PostgreSQL it does nothing.
        """
        return self._write_lock

    @property
    def backend(self) -> str:
        """Return the backend name: ``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def begin_write(conn: Connection) -> None:
    """Begin a write transaction on ``conn`` that holds SQLite's write lock from its first read.

    On SQLite (``BEGIN IMMEDIATE``) a check and the inserts that depend on it see
    one state even with several server processes; on PostgreSQL the
    transaction begins as usual.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def open_database(settings: Settings) -> Database:
    """Return the database of ``settings`` (engine and session factory), not migrated.

    Raises
    ------
    ConfigurationError
        When the database URL names an unsupported backend.
    """
    owner_only_home(settings.home)
    engine = _make_engine(settings.resolved_database_url)
    return Database(
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        _write_lock=_write_lock_for(engine),
    )


def alembic_config(url: str) -> Config:
    """Return an Alembic ``Config`` for the package's migrations and the database ``url``."""
    config = Config()
    config.set_main_option("path_separator", "os")
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade_database(settings: Settings) -> None:
    """Apply every migration of every branch (``alembic upgrade heads``).

    Raises
    ------
    ConfigurationError
        When the database cannot be reached or the URL is not supported.
    """
    url = settings.resolved_database_url
    owner_only_home(settings.home)
    engine = _make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
    except OperationalError as exc:
        msg = (
            f"cannot open the database ({type(exc.orig).__name__}); "
            "check WATCHFLOOR_DATABASE_URL and that the server is running"
        )
        raise ConfigurationError(msg) from None
    finally:
        engine.dispose()
    log.info("database at %s is up to date", make_url(url).render_as_string(hide_password=True))
