"""Privacy at rest on one host (SQLite): file modes, secure_delete, nothing left after retention.

Before the fix the database was created 0644, ``secure_delete`` was left to how
SQLite was compiled, and text blanked by retention stayed readable in the
``-wal`` file until some later checkpoint.
"""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text, update

from watchfloor.services.reports import anonymise_closed_reports
from watchfloor.settings import Settings
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.storage.models import Report, utc_now
from watchfloor.types import ReportStatus

CANARY = "Quillon-Marchbanks-58213"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_home_and_database_files_are_owner_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "new-home", secret_key="x" * 32)
    upgrade_database(settings)
    database = open_database(settings)
    try:
        with database.session() as session:
            session.execute(text("SELECT 1"))
        db_file = settings.home / "watchfloor.db"
        assert _mode(settings.home) == 0o700
        assert _mode(db_file) == 0o600
        assert _mode(db_file.with_name("watchfloor.db-wal")) == 0o600
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        database.dispose()


def test_existing_loose_files_are_tightened(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "old-home", secret_key="x" * 32)
    upgrade_database(settings)
    db_file = settings.home / "watchfloor.db"
    settings.home.chmod(0o755)
    db_file.chmod(0o644)
    upgrade_database(settings)
    assert _mode(settings.home) == 0o700
    assert _mode(db_file) == 0o600


def test_retention_leaves_no_text_in_the_database_or_its_log(
    settings: Settings, client: TestClient
) -> None:
    report = {
        "kind": "suspicious_behaviour",
        "description": f"A man filming the mosque entrance, told by {CANARY} at the door",
        "place_text": f"outside {CANARY}'s shop",
        "anonymous": True,
    }
    for _ in range(20):
        assert client.post("/api/reports", json=report).status_code == 201
    database = open_database(settings)
    db_file = settings.home / "watchfloor.db"
    wal = db_file.with_name("watchfloor.db-wal")
    try:
        with database.session() as session:
            session.execute(
                update(Report).values(
                    status=ReportStatus.CLOSED, closed_at=utc_now() - timedelta(days=400)
                )
            )
        assert CANARY.encode() in db_file.read_bytes() + wal.read_bytes()
        with database.sessions() as session:
            assert anonymise_closed_reports(session, older_than=timedelta(days=365)) == 20
    finally:
        database.dispose()
    stored = db_file.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert CANARY.encode() not in stored
