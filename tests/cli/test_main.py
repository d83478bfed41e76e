"""The CLI shell: help works and domain errors become one line with exit code 2."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from watchfloor.cli._app import new_app
from watchfloor.cli.main import app
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
