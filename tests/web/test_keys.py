"""Keys through the web app: a rotation on a live server, and no silent key creation.

Before the fix a running server kept sealing contacts with the key ``keys
rotate`` deleted (500 on opening them after a restart), and a server that found
no key file made a new key even though the database held contacts under another
(a second host, a restore without ``keys/``): each instance then got 500 opening
what the other stored.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.postgres import empty_postgres
from tests.web.conftest import StaffLogin, _client
from watchfloor.cli.main import app
from watchfloor.errors import ConfigurationError
from watchfloor.settings import ReportingOptions, Settings
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.storage.keys import key_file_path, load_keyring
from watchfloor.storage.models import Report
from watchfloor.web.app import create_app

runner = CliRunner()
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PURPOSE = {"purpose": "call back the witness about the car seen"}


def _report(name: str) -> dict[str, Any]:
    return {
        "kind": "suspicious_behaviour",
        "description": f"Two people filming the entrance of the mosque, seen by {name}",
        "place_text": "Station Road",
        "anonymous": False,
        "contact": {"name": name},
        "photos": [{"data_base64": base64.b64encode(PNG).decode()}],
    }


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("WATCHFLOOR_HOME", str(settings.home))
    if settings.database_url:
        monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", settings.database_url)
    return runner.invoke(app, list(args))


def _opened(staff: Any, report_id: int) -> tuple[int, int]:
    contact = staff.post(f"/api/staff/reports/{report_id}/contact", json=PURPOSE)
    aid = staff.get(f"/api/staff/reports/{report_id}").json()["attachment_ids"][0]
    photo = staff.post(f"/api/staff/reports/{report_id}/attachments/{aid}", json=PURPOSE)
    return contact.status_code, photo.status_code


def _stored(any_client: Any, staff: Any, name: str) -> int:
    assert any_client.post("/api/reports", json=_report(name)).status_code == 201
    items = staff.get("/api/staff/reports?limit=500").json()["items"]
    return int(max(i["id"] for i in items))


def test_a_live_server_follows_rotations(
    any_settings: Settings,
    any_client: Any,
    any_staff: StaffLogin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    staff = any_staff("supervisor")
    before = _stored(any_client, staff, "Ann Before")
    first = _cli(any_settings, monkeypatch, "keys", "rotate", "--grace", "0", "--json")
    assert first.exit_code == 0, first.output
    after = _stored(any_client, staff, "Ben After")
    second = _cli(any_settings, monkeypatch, "keys", "rotate", "--grace", "0", "--json")
    assert second.exit_code == 0, second.output
    body = json.loads(second.stdout.strip().splitlines()[-1])
    # The second rotation found everything under the first rotation's key: 2 contacts, 2 photos.
    assert body["reencrypted"] == 4
    assert body["unreadable"] == []
    assert _opened(staff, before) == (200, 200)
    assert _opened(staff, after) == (200, 200)
    # A restarted server opens them too.
    with _client(any_settings) as restarted:
        del restarted  # started and stopped: the key ring passed its check
    assert list(json.loads(key_file_path(any_settings.home).read_text())["keys"]) == [
        body["key_id"]
    ]


def test_a_server_without_the_key_of_stored_contacts_refuses_to_start(
    any_settings: Settings, any_client: Any, tmp_path: Path
) -> None:
    assert any_client.post("/api/reports", json=_report("Cat Stored")).status_code == 201
    key_file = key_file_path(any_settings.home)
    key_id = json.loads(key_file.read_text())["current"]
    # A restore without keys/, or a second host without the shared key file.
    shutil.move(key_file, tmp_path / "kept.json")
    with pytest.raises(ConfigurationError, match=rf"key id\(s\) {key_id} \(2 item\(s\)\)"):
        create_app(any_settings)
    assert not key_file.exists()
    # Another host's own key file is no better.
    other = Settings(home=tmp_path / "other", secret_key="x" * 32)
    other_keys = key_file_path(other.home)
    other_keys.parent.mkdir(parents=True)
    runner_env = {"WATCHFLOOR_HOME": str(other.home)}
    assert runner.invoke(app, ["keys", "init"], env=runner_env).exit_code == 0
    key_file.parent.mkdir(exist_ok=True)
    shutil.copy(other_keys, key_file)
    with pytest.raises(ConfigurationError, match="Restore the key file"):
        create_app(any_settings)
    # With the right file back, it starts and opens them.
    shutil.move(tmp_path / "kept.json", key_file)
    with _client(any_settings):
        pass


def test_keys_from_the_setting_are_checked_too(any_settings: Settings, any_client: Any) -> None:
    assert any_client.post("/api/reports", json=_report("Dan Setting")).status_code == 201
    setting = "k1:" + base64.b64encode(bytes(32)).decode()
    reporting = ReportingOptions(report_keys=setting)
    wrong = any_settings.model_copy(update={"reporting": reporting})
    with pytest.raises(ConfigurationError, match="WATCHFLOOR_REPORT_KEYS does not hold"):
        create_app(wrong)


def test_keys_init_creates_once_and_never_over_stored_data(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh = Settings(home=tmp_path / "fresh", secret_key="x" * 32)
    made = _cli(fresh, monkeypatch, "keys", "init", "--json")
    assert made.exit_code == 0, made.output
    key_file = key_file_path(fresh.home)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    again = _cli(fresh, monkeypatch, "keys", "init")
    assert again.exit_code == 2
    assert "already exists" in again.output
    assert (
        json.loads(made.stdout.strip().splitlines()[-1])["key_id"]
        == json.loads(key_file.read_text())["current"]
    )
    # A database with contacts under a key the home lacks: init refuses, naming it.
    with _client(settings) as client:
        assert client.post("/api/reports", json=_report("Eve Init")).status_code == 201
    key_file_path(settings.home).unlink()
    refused = _cli(settings, monkeypatch, "keys", "init")
    assert refused.exit_code == 2
    assert "does not hold" in refused.output
    assert "Traceback" not in refused.output
    assert not key_file_path(settings.home).exists()


# docs/deploy.md: every shell block is run here, in order, in a temporary home.
DEPLOY_DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
VENV_BIN = Path(sys.executable).parent


def _doc_blocks(tag: str) -> list[str]:
    text = DEPLOY_DOC.read_text()
    tagged = re.findall(r"<!-- test: (\w+) -->\n```sh\n(.*?)```", text, flags=re.DOTALL)
    assert len(tagged) == text.count("```sh"), "every sh block of docs/deploy.md needs a test tag"
    return [body for name, body in tagged if name == tag]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_doc(blocks: list[str], cwd: Path, env: dict[str, str]) -> None:
    # A block that fails must not leave a server behind.
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    script += "\n".join(blocks)
    base = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env={**base, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_deploy_doc_one_host(tmp_path: Path) -> None:
    port = _free_port()
    blocks = [b.replace("8000", str(port)) for b in _doc_blocks("sqlite")]
    report = tmp_path / "report.json"
    report.write_text(json.dumps({**_report("Fay Backup"), "photos": []}))
    post = (
        "curl --silent --fail -H 'content-type: application/json' --data @report.json "
        f"http://127.0.0.1:{port}/api/reports\n"
    )
    # A reporter leaves contact details before the rotation, another after it,
    # to the same server process (not restarted).
    blocks.insert(1, post)
    blocks.insert(3, post)
    home = tmp_path / "home"
    env = {"WATCHFLOOR_HOME": str(home), "WATCHFLOOR_SECRET_KEY": "doc-secret-" + "x" * 32}
    _run_doc(blocks, tmp_path, env)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "watchfloor.db").stat().st_mode) == 0o600
    # The restored database and key file open both contacts; both are under the new key.
    settings = Settings(home=home, secret_key="x" * 32)
    database = open_database(settings)
    try:
        ring = load_keyring(home, database=database)
        with database.sessions() as session:
            rows = session.execute(
                select(Report.id, Report.contact_key_id, Report.contact_ciphertext).where(
                    Report.contact_ciphertext.is_not(None)
                )
            ).all()
    finally:
        database.dispose()
    names = [
        json.loads(ring.decrypt(kid, blob, aad=f"contact:{rid}".encode()))["name"]
        for rid, kid, blob in rows
    ]
    assert names == ["Fay Backup", "Fay Backup"]
    assert {kid for _, kid, _ in rows} == {ring.current_id}
    assert (tmp_path / "backup" / "report-keys.json").exists()


@pytest.mark.postgres
def test_deploy_doc_postgresql(tmp_path: Path, pg_url: str) -> None:
    settings = Settings(home=tmp_path / "home", secret_key="x" * 32, database_url=pg_url)
    upgrade_database(settings)
    empty_postgres(pg_url)
    database = open_database(settings)
    try:
        load_keyring(settings.home, database=database)
    finally:
        database.dispose()
    plain_url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    env = {"WATCHFLOOR_HOME": str(settings.home), "PG_URL": plain_url}
    _run_doc(_doc_blocks("postgresql"), tmp_path, env)
    assert (tmp_path / "backup" / "watchfloor.pgdump").stat().st_size > 0
