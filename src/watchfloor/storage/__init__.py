"""Adapters for what watchfloor keeps: the database, region files, encryption keys.

``db`` opens the database (SQLAlchemy 2; SQLite in WAL mode by default,
PostgreSQL by URL) and runs the Alembic ``migrations``; ``models``,
``ops_models`` and ``tension_models`` declare its tables; ``keys`` holds the
AES key ring of reporter contact details and photos; ``regions`` and ``files``
read and write built regions (Parquet, NPZ) atomically. It may import the
foundation and the models (:mod:`watchfloor.roads`, :mod:`watchfloor.sites`),
never services or the edges.
"""
