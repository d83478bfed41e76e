"""Alembic migrations: the only way the schema is created or changed.

``env.py`` runs them on the configured database; ``versions/`` holds one branch
per area (``reports_*``, ``ops_*``, ``tension_*``, each with its own
``branch_labels``), applied together by
:func:`watchfloor.storage.db.upgrade_database` (``alembic upgrade heads``).
The migrations import only Alembic and SQLAlchemy (``env.py`` also the metadata of
:mod:`watchfloor.storage.db`).
"""
