"""The CLI shell: help works and domain errors become one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import typer
from typer.testing import CliRunner

from watchfloor.cli._app import new_app
from watchfloor.cli.main import COMMANDS, app
from watchfloor.errors import InvalidInputError

runner = CliRunner()


def test_help_lists_the_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "watchfloor" in result.output


def test_domain_error_is_one_line_and_exit_code_2() -> None:
    sub = new_app("test group")

    @sub.command()
    def boom() -> None:
        raise InvalidInputError("--minutes must be positive; give a number above 0")

    @sub.command()
    def other() -> None:
        typer.echo("ok")

    result = runner.invoke(sub, ["boom"])
    assert result.exit_code == 2
    assert "error: --minutes must be positive" in result.output
    assert "Traceback" not in result.output


def test_every_listed_command_loads_and_shows_its_help() -> None:
    for name in COMMANDS:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage" in result.output


def test_root_help_lists_every_command_without_importing_them() -> None:
    code = (
        "import sys\n"
        "from watchfloor.cli.main import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('watchfloor.cli.')"
        " and m not in ('watchfloor.cli.main', 'watchfloor.cli._app'))\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    for name in COMMANDS:
        assert f"  {name} " in out
    assert "LOADED []" in out


def test_unknown_command_is_a_usage_error() -> None:
    result = runner.invoke(app, ["teleport"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_a_group_with_one_command_keeps_its_subcommand_name() -> None:
    # `sites` has the single sub-command `list`: it must stay `sites list`
    result = runner.invoke(app, ["sites", "list", "--help"])
    assert result.exit_code == 0, result.output
    assert "--region" in result.output
