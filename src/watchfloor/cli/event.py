"""``watchfloor event``: declare an event, change the threat level, list the situation.

Each change is recorded in the database, re-plans the region (posture, patrols,
ARVs) and prints the new plan's timing and what changed; a failed re-plan
prints its message and leaves the last good plan in force.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from watchfloor.cli._app import console, new_app, print_json
from watchfloor.errors import InfeasibleError
from watchfloor.services import operations as ops
from watchfloor.services.posture import load_event, parse_local_time
from watchfloor.services.regions import pick_region
from watchfloor.settings import DEFAULT_REGION, Settings, load_settings
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.types import Role, ThreatLevel

__all__ = ["app", "open_room"]

app = new_app("Declare events and change the threat level; each change re-plans the region.")

RegionOpt = Annotated[
    str, typer.Option("--region", help="Region name (see `watchfloor region list`).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def open_room(settings: Settings) -> ops.OperationsRoom:
    """Return the operations room of the installation, backed by its (migrated) database."""
    upgrade_database(settings)
    return ops.OperationsRoom(settings, store=ops.OpsStore(open_database(settings)))


@contextmanager
def region_room(settings: Settings, region: str) -> Iterator[tuple[ops.OperationsRoom, str]]:
    """Yield the operations room and the resolved region name; close the room after."""
    room = open_room(settings)
    try:
        yield room, pick_region(settings, region)
    finally:
        room.close()


def _operator() -> ops.Actor:
    # Whoever runs the command line on the server is its operator.
    return ops.Actor(f"cli:{getpass.getuser()}", frozenset({Role.ADMIN}))


def _finish(room: ops.OperationsRoom, job: ops.Job, *, as_json: bool) -> None:
    done = room.wait(job.job_id, timeout_s=600)
    plan = room.plan(job.region)
    diff = room.diff(job.region)
    if as_json:
        print_json(
            {
                "job": done,
                "plan": {
                    "plan_id": plan.plan_id,
                    "timings_s": plan.timings_s,
                    "top": [ops.ranked_site_json(s) for s in plan.body.sites[:10]],
                    "notes": list(plan.body.notes),
                }
                if plan
                else None,
                "diff": ops.plan_diff_json(diff) if diff and done["status"] == "done" else None,
            }
        )
    else:
        _print_result(done, plan, diff)
    if done["status"] == "failed":
        msg = f"re-plan failed: {done['error']} (the last good plan stays in force)"
        raise InfeasibleError(msg)


def _print_result(done: dict[str, Any], plan: ops.Plan | None, diff: ops.PlanDiff | None) -> None:
    if done["status"] != "done" or plan is None:
        return
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in plan.timings_s.items() if k != "total")
    console.print(
        f"[bold]New plan for {plan.region}[/bold] in {plan.timings_s['total']:.2f} s ({timings})"
    )
    for note in plan.body.notes:
        console.print(f"  note: {note}")
    table = Table(title="Sites that matter most this shift")
    for col in ("rank", "site", "kind", "risk", "why"):
        table.add_column(col)
    for site in plan.body.sites[:10]:
        table.add_row(
            str(site.rank),
            site.name,
            site.kind,
            f"{site.risk:.2f}",
            "; ".join(site.reasons[:2]),
        )
    console.print(table)
    if diff is not None:
        console.print(
            f"{len(diff.risen)} sites rose in rank; {len(diff.changed_units)} unit routes changed"
        )
    for shift in plan.body.shifts:
        console.print(f"{shift.key} shift {shift.label}: {len(shift.units)} units")


@app.command("declare")
def declare(
    *,
    region: RegionOpt = DEFAULT_REGION,
    file: Annotated[
        Path | None, typer.Option("--file", help="Event file (YAML) instead of the options.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="vehicle_attack, stabbing, bombing, ...")
    ] = None,
    place: Annotated[str | None, typer.Option("--place", help="Where: text, or LON,LAT.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="When, ISO 8601 (UK time without an offset).")
    ] = None,
    targeted: Annotated[
        str | None, typer.Option("--targeted-community", help="e.g. muslim, jewish, none.")
    ] = None,
    backlash: Annotated[
        str | None, typer.Option("--backlash-community", help="Community at risk of backlash.")
    ] = None,
    threat_level: Annotated[
        str | None, typer.Option("--threat-level", help="low ... critical.")
    ] = None,
    playbook: Annotated[
        str | None, typer.Option("--playbook", help="Playbook name (`posture playbooks`).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare an event (what, where, when, who is at risk) and re-plan the region."""
    settings = load_settings()
    if file is not None:
        event = load_event(file)
        declaration = ops.EventDeclaration(
            kind=event.kind,
            place=event.place,
            at=event.at,
            targeted_community=event.targeted_community,
            backlash_community=event.backlash_community,
            threat_level=event.threat_level,
            playbook=event.playbook,
        )
    else:
        missing = [n for n, v in (("--kind", kind), ("--place", place), ("--at", at)) if not v]
        if missing:
            msg = f"give {', '.join(missing)} (or --file event.yaml)"
            raise typer.BadParameter(msg)
        declaration = ops.EventDeclaration(
            kind=str(kind),
            place=str(place),
            at=parse_local_time(str(at)),
            targeted_community=targeted,
            backlash_community=backlash,
            threat_level=threat_level,
            playbook=playbook,
        )
    with region_room(settings, region) as (room, name):
        job = room.declare_event(name, declaration, actor=_operator())
        _finish(room, job, as_json=as_json)


@app.command("threat")
def threat(
    level: Annotated[str, typer.Argument(help=", ".join(ThreatLevel) + ".")],
    *,
    region: RegionOpt = DEFAULT_REGION,
    as_json: JsonOpt = False,
) -> None:
    """Change the national threat level used for a region and re-plan it."""
    settings = load_settings()
    with region_room(settings, region) as (room, name):
        job = room.set_threat_level(name, level, actor=_operator())
        _finish(room, job, as_json=as_json)


@app.command("list")
def list_events(
    *,
    region: RegionOpt = DEFAULT_REGION,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many entries.")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """List a region's event timeline (newest first) and the plan in force."""
    settings = load_settings()
    with region_room(settings, region) as (room, name):
        entries = room.timeline(name, limit=limit)
        plan = room.plan(name)
        situation = room.situation(name)
    if as_json:
        print_json(
            {
                "region": name,
                "threat_level": situation.threat_level,
                "plan": {
                    "plan_id": plan.plan_id,
                    "created_at": plan.created_at.isoformat(),
                    "trigger": plan.trigger,
                    "timings_s": plan.timings_s,
                }
                if plan
                else None,
                "timeline": [ops.log_entry_json(e) for e in entries],
            }
        )
        return
    console.print(f"[bold]{name}[/bold]: threat level {situation.threat_level.upper()}")
    if plan is not None:
        console.print(
            f"plan in force since {plan.created_at:%Y-%m-%d %H:%M} UTC "
            f"({plan.timings_s['total']:.2f} s): {plan.trigger}"
        )
    table = Table(title="Timeline")
    for col in ("when", "what", "by"):
        table.add_column(col)
    for e in entries:
        table.add_row(f"{e.recorded_at:%Y-%m-%d %H:%M}", e.summary, e.recorded_by)
    console.print(table)
