"""Alembic environment: runs the package's migrations on the configured database.

On PostgreSQL the migrations run under a transaction-scoped advisory lock
(:data:`MIGRATION_LOCK_ID`): when several hosts or processes start at once, one
migrates and the others wait, then find the schema up to date (under READ
COMMITTED they read the version table after the first has committed). SQLite
serialises writers itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from watchfloor.storage.db import Base

#: Key of the advisory lock held while migrating ("watchfloor" in ASCII, as a bigint).
MIGRATION_LOCK_ID = 0x7761746368666C6F

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":  # type: ignore[attr-defined]
            # Held until this transaction ends: one migrator at a time.
            connection.execute(  # type: ignore[attr-defined]
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_ID}
            )
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL of the migrations without a database connection."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the connection given by the caller, or a new one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(str(config.get_main_option("sqlalchemy.url")), poolclass=pool.NullPool)
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
