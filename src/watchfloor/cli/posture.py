"""``watchfloor posture``: risk per site and time slot after a declared event."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from watchfloor.cli._app import console, new_app, print_json
from watchfloor.services.posture import (
    available_playbooks,
    parse_local_time,
    parse_slot_minutes,
    posture_for_region,
    ranked_records,
)
from watchfloor.settings import load_settings
from watchfloor.types import LONDON

__all__ = ["app"]

app = new_app("Risk per site and time slot after a declared event, with the reasons.")


@app.command("show")
def show(
    *,
    region: Annotated[str, typer.Option("--region", help="Region name (see `region list`).")],
    event: Annotated[
        Path | None,
        typer.Option("--event", help="Event file (YAML: kind, at, place, targeted_community ...)."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Time to rank at, e.g. 2026-06-19T13:00 (UK time if no offset)."),
    ] = None,
    hours: Annotated[float, typer.Option("--hours", help="Window length in hours.")] = 24.0,
    slot: Annotated[str, typer.Option("--slot", help="Slot length: 15m, 30m, 60m, 2h.")] = "60m",
    top: Annotated[int, typer.Option("--top", min=1, help="How many sites to list.")] = 20,
    factors: Annotated[
        Path | None,
        typer.Option("--factors", help="The force's factor file, merged over the defaults."),
    ] = None,
    tension: Annotated[
        bool, typer.Option("--tension", help="Raise sites by the region's stored tension levels.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (values, reasons).")] = False,
) -> None:
    """Show the sites that matter most at a time, and why."""
    settings = load_settings()
    now = datetime.now(UTC)
    when = parse_local_time(at) if at else now
    run = posture_for_region(
        region,
        event,
        settings=settings,
        at=when,
        hours=hours,
        slot_minutes=parse_slot_minutes(slot),
        factors_path=factors,
        with_tension=tension,
        now=now,
    )
    posture = run.posture
    ranked = ranked_records(run, top, at=when)
    if as_json:
        print_json(
            {
                "region": run.region,
                "at": when.isoformat(),
                "event": run.event.to_dict() if run.event else None,
                "top": ranked,
                "posture": posture.to_dict(),
            }
        )
        return
    local = when.astimezone(LONDON)
    title = (
        f"{run.region}: top {len(ranked)} of {posture.n_sites} sites at {local:%a %d %b %Y %H:%M}"
    )
    table = Table(title=title, show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("site / name", max_width=24)
    table.add_column("value", justify="right")
    table.add_column("reasons", ratio=1)
    for rec in ranked:
        reasons = "\n".join(r["label"] for r in rec["reasons"])
        table.add_row(
            str(rec["rank"]),
            f"{rec['site_id']}\n{rec['name'] or '-'}\n"
            + "/".join(x for x in (rec["category"], rec["religion"]) if x),
            f"{rec['value']:.2f}",
            reasons,
        )
    console.print(table)
    footer = [f"threat level {posture.threat_level}"]
    if posture.playbook:
        footer.append(f"playbook {posture.playbook}")
    if posture.brief_roles:
        footer.append("brief: " + ", ".join(posture.brief_roles))
    console.print("; ".join(footer))


@app.command("playbooks")
def playbooks(
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the playbooks an event can name (shipped and the force's own)."""
    books = available_playbooks(load_settings())
    if as_json:
        print_json(
            [
                {
                    "name": b.name,
                    "version": b.version,
                    "title": b.title,
                    "duration_days": b.duration_days,
                    "brief_roles": list(b.brief_roles),
                    "description": b.description.strip(),
                }
                for b in books.values()
            ]
        )
        return
    table = Table(title="Playbooks")
    table.add_column("name", no_wrap=True)
    for column in ("version", "title", "days", "brief"):
        table.add_column(column)
    for b in sorted(books.values(), key=lambda b: b.name):
        table.add_row(
            b.name, str(b.version), b.title, f"{b.duration_days:g}", ", ".join(b.brief_roles)
        )
    console.print(table)
