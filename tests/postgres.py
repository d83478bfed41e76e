"""Throwaway databases on the local PostgreSQL server for the tests that run on both backends."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, text

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """Yield the SQLAlchemy URL of a new, empty database named ``prefix`` + random; drop it after.

    Skips the test when the server at 127.0.0.1:5432 does not answer.
    """
    name = prefix + secrets.token_hex(4)
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip(
            "PostgreSQL at 127.0.0.1:5432 is not reachable (start it: scripts/install --dev)"
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_postgres(url: str) -> None:
    """Empty every table of the database at ``url`` but Alembic's version table."""
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        if names:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
