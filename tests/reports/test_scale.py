"""Queue pages stay index-only-cheap with 100,000 reports stored (SQLite query plans)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, text

from watchfloor.services import reports as svc
from watchfloor.services.auth import StaffUser
from watchfloor.settings import Settings
from watchfloor.storage.db import Database, open_database, upgrade_database
from watchfloor.storage.models import Report
from watchfloor.types import Role

N_REPORTS = 100_000
QUEUES = ("ct", "hate_crime", "neighbourhood", "prevent")
STATUSES = ("new", "triaged", "assigned", "actioned", "closed")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One database for the module, holding 100,000 reports."""
    settings = Settings(home=tmp_path_factory.mktemp("scale") / "home")
    upgrade_database(settings)
    db = open_database(settings)
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def many_reports(database: Database) -> int:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        {
            "reference": f"WFS{i:07d}",
            "receipt_hash": "",
            "kind": "suspicious_behaviour",
            "status": STATUSES[i % 5],
            "queue": QUEUES[i % 4],
            "priority": 1 + (i * 7) % 5,
            "priority_reasons": [],
            "received_at": start + timedelta(seconds=i),
            "updated_at": start + timedelta(seconds=i),
            "place_text": "",
            "site_id": "",
            "description": f"report {i}",
            "people_description": "",
            "vehicle_description": "",
            "link": "",
            "details": {},
            "anonymous": True,
            "contact_key_id": "",
        }
        for i in range(N_REPORTS)
    ]
    # Core executemany on the table: the ORM's bulk path costs twice as much here.
    with database.engine.begin() as conn:
        conn.execute(insert(Report.__table__), rows)
    return N_REPORTS


@pytest.mark.parametrize(
    ("queue", "status"), [("ct", "new"), (None, "new"), (None, None), ("prevent", None)]
)
def test_queue_page_uses_an_index_and_no_sort(database, many_reports, queue, status) -> None:
    reviewer = StaffUser(id=1, username="rita", role=Role.REVIEWER)
    with database.sessions() as session:
        t0 = time.perf_counter()
        first = svc.list_queue(session, reviewer, queue=queue, status=status, limit=100)
        deep = first
        for _ in range(20):
            assert deep.next_after is not None
            deep = svc.list_queue(
                session, reviewer, queue=queue, status=status, after=deep.next_after, limit=100
            )
        elapsed_ms = (time.perf_counter() - t0) * 1000
        print(f"21 pages of 100 of {many_reports} reports ({queue}, {status}): {elapsed_ms:.0f} ms")
        assert len(deep.items) == 100
        keys = [(r.priority, r.id) for r in first.items + deep.items]
        assert keys == sorted(keys)
        # The plan of the same statement: an index search, never a full scan or a sort.
        conditions = []
        if queue:
            conditions.append(f"queue = '{queue}'")
        if status:
            conditions.append(f"status = '{status}'")
        conditions.append("(priority > 2 OR (priority = 2 AND id > 500))")
        sql = (
            "EXPLAIN QUERY PLAN SELECT * FROM reports WHERE "
            + " AND ".join(conditions)
            + " ORDER BY priority, id LIMIT 100"
        )
        plan = " | ".join(row[3] for row in session.execute(text(sql)))
    assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
