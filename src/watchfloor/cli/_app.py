"""Shared pieces of the command line: the error-handling group and output helpers."""

from __future__ import annotations

import json
import logging
import math
import sys
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from watchfloor.errors import WatchfloorError

__all__ = [
    "ERROR_EXIT_CODE",
    "WatchfloorGroup",
    "console",
    "err_console",
    "new_app",
    "print_json",
    "setup_logging",
]

ERROR_EXIT_CODE = 2

console = Console()
err_console = Console(stderr=True)


class WatchfloorGroup(TyperGroup):
    """A command group that turns domain errors into one line and exit code 2."""

    def invoke(self, ctx: Any) -> Any:  # click.Context of the click bundled in typer
        try:
            return super().invoke(ctx)
        except WatchfloorError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=ERROR_EXIT_CODE) from None


def new_app(help_text: str) -> typer.Typer:
    """Return a typer app (sub-command group) wired to the shared error handling."""
    return typer.Typer(
        cls=WatchfloorGroup,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )


def _strict(obj: Any) -> Any:
    """Return ``obj`` with non-finite floats as ``None`` (JSON has no NaN or Infinity)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_strict(v) for v in obj]
    return obj


def print_json(obj: Any) -> None:
    """Print one strict JSON document to stdout (for scripts: no colour, no wrapping).

    Not-a-number and infinite figures (e.g. a p-value without replicates) print as
    ``null``, so ``jq`` and other strict parsers read every document.
    """
    text = json.dumps(_strict(obj), default=str, ensure_ascii=False, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def setup_logging(level: str) -> None:
    """Configure standard-library logging to stderr for the CLI."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    if level.upper() != "DEBUG":
        # migrations and HTTP clients narrate every step at INFO: keep them for --verbose
        for name in ("alembic", "httpx", "httpcore", "numba"):
            logging.getLogger(name).setLevel(logging.WARNING)
