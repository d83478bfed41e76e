"""Entry point of the ``watchfloor`` command.

Each capability has its own command module; the root group imports a module
only when one of its commands runs, so ``watchfloor --help`` and every command
start without loading the solvers, the web stack and the plotting libraries of
the others.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from watchfloor.cli._app import WatchfloorGroup, new_app, setup_logging

__all__ = ["COMMANDS", "app", "main"]


#: name -> (module, attribute, one-line help). ``attribute`` is a typer app (a command
#: group) or a ``register(app)`` function that adds one top-level command.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "region": ("watchfloor.cli.region", "app", "Build, fetch and describe regions."),
    "sites": ("watchfloor.cli.sites", "app", "List the register of sites at risk."),
    "travel": ("watchfloor.cli.travel", "app", "Travel times, routes and isochrones by road."),
    "posture": ("watchfloor.cli.posture", "app", "Risk per site and hour, with reasons."),
    "patrol": ("watchfloor.cli.patrol", "app", "Security games and randomised patrol routes."),
    "arv": ("watchfloor.cli.arv", "app", "Armed response bases, evaluation and dispatch."),
    "tension": ("watchfloor.cli.tension", "app", "Community tension: incidents, scans, alerts."),
    "event": ("watchfloor.cli.event", "app", "Declare events and change the threat level."),
    "reports": ("watchfloor.cli.reports", "app", "Public reports: forwarding and retention."),
    "users": ("watchfloor.cli.users", "app", "Staff accounts and roles."),
    "keys": ("watchfloor.cli.keys", "app", "Encryption keys for reporter details."),
    "serve": ("watchfloor.cli.serve", "register", "Serve the public pages, staff pages and API."),
    "demo": ("watchfloor.cli.demo", "register", "Run the demo on the default region."),
}


def _load_command(name: str) -> Any:
    module_name, attr, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attr)
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
        command.name = name
        return command
    holder = typer.Typer()
    target(holder)
    group = typer.main.get_group(holder)
    return group.commands[name]


class LazyRootGroup(WatchfloorGroup):
    """The root group: commands are imported on first use, listed from :data:`COMMANDS`."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            command = _load_command(cmd_name)
            self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # typer's rich help would import every command module for its short help
        super(TyperGroup, self).format_help(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = new_app("watchfloor: the operations room for protective policing after an attack.")
app.info.cls = LazyRootGroup


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log warnings only."),
) -> None:
    """Plan protective patrols and armed response, take public reports, watch tension."""
    setup_logging("DEBUG" if verbose else "WARNING" if quiet else "INFO")


def main() -> None:
    """Run the ``watchfloor`` command line."""
    app()
