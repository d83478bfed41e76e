"""Key rotation on a live service, on SQLite and PostgreSQL.

A running server holds its key ring for as long as it runs. Before the fix it
kept sealing contacts with the key that ``keys rotate`` had just deleted from
the key file: after a restart those contacts could not be opened (500), and the
next rotation stopped at them ("encryption key ... is missing").
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from watchfloor.cli.main import app
from watchfloor.errors import ConfigurationError
from watchfloor.services import reports as svc
from watchfloor.services.reports.retention import rotate_keys
from watchfloor.settings import ReportingOptions, Settings
from watchfloor.storage.db import Database
from watchfloor.storage.keys import KeyRing, key_file_path, load_keyring
from watchfloor.storage.models import Report

SECRET = b"test-secret-key-0123456789abcdef"
runner = CliRunner()


def _submit(database: Database, keyring: KeyRing, name: str) -> int:
    data = svc.ReportCreate.model_validate(
        {
            "kind": "suspicious_behaviour",
            "description": f"someone filming the entrance, reported by {name}",
            "lon": -0.7270,
            "lat": 52.6700,
            "anonymous": False,
            "contact": {"name": name},
        }
    )
    receipt = svc.submit_report(
        database, data, keyring=keyring, secret=SECRET, options=ReportingOptions()
    )
    with database.sessions() as session:
        return int(session.scalar(select(Report.id).where(Report.reference == receipt.reference)))


def _contact_name(database: Database, keyring: KeyRing, report_id: int) -> str:
    with database.sessions() as session:
        row = session.get(Report, report_id)
        assert row is not None
        assert row.contact_ciphertext is not None
        plain = keyring.decrypt(
            row.contact_key_id, row.contact_ciphertext, aad=f"contact:{report_id}".encode()
        )
    return str(json.loads(plain)["name"])


def _rotate_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("WATCHFLOOR_HOME", str(settings.home))
    if settings.database_url:
        monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", settings.database_url)
    result = runner.invoke(app, ["keys", "rotate", "--grace", "0", "--json"])
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return body


def test_a_running_server_seals_under_the_new_key_after_rotation(
    any_settings: Settings,
    any_database: Database,
    any_keyring: KeyRing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ``any_keyring`` is the ring a server loaded at start; it keeps running.
    before = _submit(any_database, any_keyring, "Ada Before")
    first = _rotate_cli(any_settings, monkeypatch)
    assert first["reencrypted"] == 1
    assert first["unreadable"] == []
    during = _submit(any_database, any_keyring, "Bea After")
    with any_database.sessions() as session:
        row = session.get(Report, during)
        assert row is not None
        assert row.contact_key_id == first["key_id"]
    # A restart (a fresh ring from the file) opens everything, and rotates again.
    restarted = load_keyring(any_settings.home, database=any_database)
    assert _contact_name(any_database, restarted, before) == "Ada Before"
    assert _contact_name(any_database, restarted, during) == "Bea After"
    second = _rotate_cli(any_settings, monkeypatch)
    assert second["reencrypted"] == 2
    assert second["unreadable"] == []
    assert second["retired"] == [first["key_id"]]
    body = json.loads(key_file_path(any_settings.home).read_text())
    assert list(body["keys"]) == [second["key_id"]]
    assert _contact_name(any_database, any_keyring, during) == "Bea After"


def test_writes_during_the_grace_period_are_moved_before_the_old_key_goes(
    any_database: Database, any_keyring: KeyRing
) -> None:
    # A process that read the ring before the rotation and writes during it.
    stale = KeyRing(dict(any_keyring.keys), any_keyring.current_id)
    old_id = any_keyring.current_id
    written: list[int] = []

    def meanwhile(_seconds: float) -> None:
        written.append(_submit(any_database, stale, "Cy Midway"))

    outcome = rotate_keys(any_database, any_keyring, grace_s=1.0, sleep=meanwhile)
    assert outcome.retired == (old_id,)
    fresh = KeyRing(dict(any_keyring.keys), any_keyring.current_id)
    assert old_id not in fresh.keys
    assert _contact_name(any_database, fresh, written[0]) == "Cy Midway"


def test_rotation_reports_rows_it_cannot_open_and_keeps_their_key(
    any_settings: Settings,
    any_database: Database,
    any_keyring: KeyRing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = _submit(any_database, any_keyring, "Dee Good")
    damaged = _submit(any_database, any_keyring, "Eve Damaged")
    old_id = any_keyring.current_id
    with any_database.session() as session:
        session.execute(
            update(Report).where(Report.id == damaged).values(contact_ciphertext=b"\0" * 40)
        )
    monkeypatch.setenv("WATCHFLOOR_HOME", str(any_settings.home))
    if any_settings.database_url:
        monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", any_settings.database_url)
    result = runner.invoke(app, ["keys", "rotate", "--grace", "0", "--json"])
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert body["reencrypted"] == 1
    assert [(u["table"], u["id"], u["key_id"]) for u in body["unreadable"]] == [
        ("reports", damaged, old_id)
    ]
    # The damaged row still refers to the old key: it stays in the file.
    assert body["kept"] == [old_id]
    assert body["retired"] == []
    assert old_id in any_keyring.keys
    assert _contact_name(any_database, any_keyring, good) == "Dee Good"


def test_rotation_with_keys_from_the_setting_is_refused(any_database: Database) -> None:
    ring = KeyRing({"k1": bytes(range(32))}, "k1")
    with pytest.raises(ConfigurationError, match="WATCHFLOOR_REPORT_KEYS cannot be rotated"):
        rotate_keys(any_database, ring, grace_s=0)
