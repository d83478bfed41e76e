"""The reporting service end to end on SQLite: store, duplicates, workflow, audit, retention."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from watchfloor.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from watchfloor.services import reports as svc
from watchfloor.services.reports import deliver_outbox
from watchfloor.settings import ReportingOptions
from watchfloor.storage.models import AuditEntry, OutboxMessage, Report, utc_now

SECRET = b"test-secret-key-0123456789abcdef"

CANARY = "Zebulon Quartermaine-7731"


def _submit(database, keyring, **fields):
    base = {
        "kind": "suspicious_behaviour",
        "description": "a man in a red coat was filming the entrance of the mosque",
        "lon": -0.7270,
        "lat": 52.6700,
    }
    data = svc.ReportCreate.model_validate({**base, **fields})
    return svc.submit_report(
        database,
        data,
        keyring=keyring,
        secret=SECRET,
        options=ReportingOptions(forward_url="http://127.0.0.1:9/"),
    )


def _id(database, reference: str) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(Report.id).where(Report.reference == reference)))


def test_near_duplicates_are_linked_to_the_first(database, keyring) -> None:
    first = _submit(database, keyring)
    second = _submit(
        database, keyring, description="man in a red coat was filming the entrance of the mosque"
    )
    other = _submit(database, keyring, description="a van parked across the road all day long")
    far = _submit(database, keyring, lon=-0.60)
    with database.sessions() as session:
        rows = {r.reference: r for r in session.scalars(select(Report))}
    assert rows[second.reference].duplicate_of_id == rows[first.reference].id
    assert rows[other.reference].duplicate_of_id is None
    assert rows[far.reference].duplicate_of_id is None


def test_workflow_notes_and_transitions(database, keyring, users) -> None:
    report_id = _id(database, _submit(database, keyring).reference)
    reviewer = users["reviewer"]
    with database.sessions() as session:
        detail = svc.change_status(session, reviewer, report_id, "assigned", note="to PCSO")
        assert detail.status == "assigned"
        with pytest.raises(InvalidInputError, match="can become"):
            svc.change_status(session, reviewer, report_id, "new")
        svc.add_note(session, reviewer, report_id, "spoke to the caretaker")
        detail = svc.retriage(session, reviewer, report_id, queue="neighbourhood", priority=4)
        assert (detail.queue, detail.priority) == ("neighbourhood", 4)
        assert [e.kind for e in detail.events] == ["status", "note", "triage"]
        with pytest.raises(PermissionDeniedError, match="planner"):
            svc.add_note(session, users["planner"], report_id, "no")


def _rows(database, n: int) -> None:
    """Store ``n`` triaged-as-new reports in one transaction (a surge, quickly)."""
    with database.session() as session:
        for i in range(n):
            session.add(
                Report(
                    reference=f"WFT{i:07d}",
                    receipt_hash="",
                    kind="suspicious_behaviour",
                    queue="ct",
                    priority=1 + i % 5,
                    description=f"report number {i} of a surge",
                )
            )


def test_bulk_close_of_hundreds(database, keyring, users) -> None:
    _rows(database, 300)
    with database.sessions() as session:
        ids = list(session.scalars(select(Report.id)))
        result = svc.bulk_action(session, users["supervisor"], [*ids, 999_999], action="close")
        assert result.changed == 300
        assert result.skipped == [999_999]
        assert session.scalar(select(func.count()).where(Report.status != "closed")) == 0


def test_keyset_pages_cover_every_report_once(database, keyring, users) -> None:
    _rows(database, 23)
    seen: list[int] = []
    after = None
    with database.sessions() as session:
        while True:
            page = svc.list_queue(session, users["reviewer"], queue="ct", after=after, limit=5)
            seen.extend(item.id for item in page.items)
            if page.next_after is None:
                break
            after = page.next_after
    assert sorted(seen) == list(range(1, 24))


def test_contact_needs_role_and_purpose_and_is_audited(database, keyring, users) -> None:
    receipt = _submit(database, keyring, anonymous=False, contact={"name": CANARY})
    report_id = _id(database, receipt.reference)
    with database.sessions() as session:
        with pytest.raises(PermissionDeniedError):
            svc.open_contact(
                session, users["reviewer"], report_id, purpose="x" * 20, keyring=keyring
            )
        with pytest.raises(InvalidInputError, match="purpose"):
            svc.open_contact(
                session, users["ct_analyst"], report_id, purpose="why", keyring=keyring
            )
        contact = svc.open_contact(
            session,
            users["ct_analyst"],
            report_id,
            purpose="call back the witness",
            keyring=keyring,
        )
        assert contact.name == CANARY
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "report.contact.open"))
        assert entry.purpose == "call back the witness"
        assert entry.actor_id == users["ct_analyst"].id


def test_audit_log_is_append_only(database, users) -> None:
    with database.session() as session:
        session.add(AuditEntry(actor_id=users["supervisor"].id, action="test.entry"))
    with database.sessions() as session:
        entry = session.scalar(select(AuditEntry))
        entry.detail = "rewritten"
        with pytest.raises(PermissionError, match="append-only"):
            session.commit()
        session.rollback()
    # The database refuses too, whatever the client.
    with database.engine.connect() as conn, pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text("DELETE FROM audit_log"))


def test_retention_anonymises_closed_reports_only(database, keyring, users) -> None:
    old = _submit(database, keyring, anonymous=False, contact={"name": CANARY})
    kept = _submit(database, keyring, description="a different report entirely", lon=-0.5)
    old_id = _id(database, old.reference)
    with database.sessions() as session:
        svc.change_status(session, users["supervisor"], old_id, "closed")
        # Closed just now: a 30-day period leaves it alone; 40 days later it goes.
        assert svc.anonymise_closed_reports(session, older_than=timedelta(days=30)) == 0
        later = utc_now() + timedelta(days=40)
        assert svc.anonymise_closed_reports(session, older_than=timedelta(days=30), now=later) == 1
        row = session.get(Report, old_id)
        assert (row.description, row.contact_ciphertext, row.receipt_hash) == ("", None, "")
        assert session.get(Report, _id(database, kept.reference)).description
    # The receipt code no longer opens anything.
    with database.sessions() as session, pytest.raises(NotFoundError):
        svc.receipt_status(session, old.reference, old.receipt_code)


def test_key_rotation_reencrypts_everything(database, keyring, users) -> None:
    receipt = _submit(database, keyring, anonymous=False, contact={"email": "a@b.example"})
    report_id = _id(database, receipt.reference)
    new_ring = keyring.with_new_key()
    with database.sessions() as session:
        assert svc.reencrypt_all(session, new_ring) == 1
    only_new = new_ring.without_keys_except_current()
    with database.sessions() as session:
        contact = svc.open_contact(
            session, users["supervisor"], report_id, purpose="checking rotation", keyring=only_new
        )
    assert contact.email == "a@b.example"


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    up = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if type(self).up:
            type(self).received.append(json.loads(body))
            self.send_response(202)
        else:
            self.send_response(503)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "up": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/reports", handler
    server.shutdown()
    server.server_close()


def test_outbox_retries_flags_stuck_and_delivers_when_back(database, keyring, receiver) -> None:
    url, handler = receiver
    receipt = _submit(database, keyring, anonymous=False, contact={"name": CANARY})
    now = utc_now()
    with httpx.Client() as client:
        # Receiver down: three passes, each after the backoff, make it stuck (stuck_after=3).
        for i in range(3):
            result = deliver_outbox(
                database, url, client=client, stuck_after=3, now=now + timedelta(hours=i)
            )
            assert result.failed == 1
        assert result.stuck == 1
        with database.sessions() as session:
            assert session.scalar(select(OutboxMessage.status)) == "stuck"
        handler.up = True
        result = deliver_outbox(database, url, client=client, now=now + timedelta(hours=5))
    assert result.sent == 1
    assert [m["reference"] for m in handler.received] == [receipt.reference]
    # Contact details are never forwarded.
    assert CANARY not in json.dumps(handler.received)
