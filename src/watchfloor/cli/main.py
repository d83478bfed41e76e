"""Entry point of the ``watchfloor`` command.

Each capability registers its command group here; commands stay thin and call
:mod:`watchfloor.services`.
"""

from __future__ import annotations

import importlib
import logging

import typer

from watchfloor.cli._app import new_app, setup_logging

__all__ = ["app", "main"]

log = logging.getLogger(__name__)

app = new_app("watchfloor: the operations room for protective policing after an attack.")

# (module, attribute, group name) for each command group; a group is added once its
# module exists in this installation.
_GROUPS: tuple[tuple[str, str, str | None], ...] = (
    ("watchfloor.cli.region", "app", "region"),
    ("watchfloor.cli.sites", "app", "sites"),
    ("watchfloor.cli.travel", "app", "travel"),
    ("watchfloor.cli.arv", "app", "arv"),
    ("watchfloor.cli.posture", "app", "posture"),
    ("watchfloor.cli.patrol", "app", "patrol"),
    ("watchfloor.cli.tension", "app", "tension"),
    ("watchfloor.cli.users", "app", "users"),
    ("watchfloor.cli.keys", "app", "keys"),
    ("watchfloor.cli.reports", "app", "reports"),
    ("watchfloor.cli.event", "app", "event"),
    ("watchfloor.cli.serve", "register", None),
    ("watchfloor.cli.demo", "register", None),
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log warnings only."),
) -> None:
    """Plan protective patrols and armed response, take public reports, watch tension."""
    setup_logging("DEBUG" if verbose else "WARNING" if quiet else "INFO")


def _register_groups() -> None:
    for module_name, attr, name in _GROUPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        target = getattr(module, attr)
        if name is None:
            target(app)
        else:
            app.add_typer(target, name=name)


_register_groups()


def main() -> None:
    """Run the ``watchfloor`` command line."""
    app()
