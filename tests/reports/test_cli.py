"""The reporting commands: users add/list, keys rotate, reports retention."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from watchfloor.cli.main import app
from watchfloor.storage.keys import KEY_FILE_NAME

runner = CliRunner()


def test_users_add_and_list(home: Path) -> None:
    result = runner.invoke(
        app,
        ["users", "add", "rita", "--role", "reviewer", "--password-stdin"],
        input="a long password 1\n",
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["users", "list", "--json"])
    assert json.loads(listed.stdout.strip().splitlines()[-1]) == [
        {"username": "rita", "role": "reviewer"}
    ]


def test_users_add_refuses_unknown_role_in_one_line(home: Path) -> None:
    result = runner.invoke(
        app,
        ["users", "add", "bob", "--role", "wizard", "--password-stdin"],
        input="a long password 1\n",
    )
    assert result.exit_code == 2
    assert "unknown role 'wizard'" in result.output
    assert "Traceback" not in result.output


def test_keys_rotate_keeps_one_owner_only_key(home: Path) -> None:
    result = runner.invoke(app, ["keys", "rotate", "--json"])
    assert result.exit_code == 0, result.output
    key_file = home / "keys" / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    body = json.loads(key_file.read_text())
    assert list(body["keys"]) == [body["current"]]


def test_reports_retention(home: Path) -> None:
    result = runner.invoke(app, ["reports", "retention", "--days", "30", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "anonymised": 0,
        "retention_days": 30,
    }
