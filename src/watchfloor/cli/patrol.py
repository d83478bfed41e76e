"""``watchfloor patrol``: security games and randomised, feasible shift patrols."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from watchfloor.cli._app import console, err_console, new_app, print_json
from watchfloor.errors import InvalidInputError
from watchfloor.services.patrol import (
    game_solution_to_dict,
    plan_patrols,
    plan_to_dict,
    solve_game_csv,
    write_briefings,
    write_geojson,
)
from watchfloor.settings import load_settings

__all__ = ["app"]

app = new_app("Patrols as a security game: solve games, plan randomised shift routes.")


@app.command("game")
def game(
    *,
    payoffs: Annotated[
        Path,
        typer.Option(
            "--payoffs",
            help="CSV: target, defender_covered, defender_uncovered, attacker_covered, "
            "attacker_uncovered [, attacker_type, type_probability].",
        ),
    ],
    units: Annotated[int, typer.Option("--units", help="Resources, each covering one target.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Solve a security game given as a payoff table (strong Stackelberg equilibrium)."""
    if units < 1:
        msg = f"--units must be at least 1 (got {units})"
        raise InvalidInputError(msg)
    security_game, solution = solve_game_csv(payoffs, n_units=units)
    result = game_solution_to_dict(security_game, solution)
    if as_json:
        print_json(result)
        return
    table = Table(title=f"Coverage with {units} unit(s)")
    table.add_column("target")
    table.add_column("coverage", justify="right")
    for target, c in sorted(result["coverage"].items(), key=lambda kv: -kv[1]):
        table.add_row(target, f"{c:.4f}")
    console.print(table)
    console.print(f"attacker attacks: {result['attacker_target']}")
    console.print(f"attacker utility: {result['attacker_utility']}")
    console.print(f"defender utility: {result['defender_utility']:.6g}")


@app.command("plan")
def plan(
    *,
    region: Annotated[str, typer.Option("--region", help="Region name (see `region list`).")],
    event: Annotated[
        Path | None, typer.Option("--event", help="Event file (YAML), as for `posture show`.")
    ] = None,
    units: Annotated[int, typer.Option("--units", help="Number of patrol units.")] = 12,
    shift: Annotated[
        str,
        typer.Option("--shift", help="ISO 8601 interval, e.g. 2026-06-19T06:00/14:00."),
    ] = "",
    foot: Annotated[int, typer.Option("--foot", help="How many of the units walk.")] = 0,
    pin: Annotated[
        list[str] | None,
        typer.Option("--pin", help="UNIT:SITE:HH:MM-HH:MM keeps a unit at a site (repeatable)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the route draw (default: OS entropy).")
    ] = None,
    max_entropy: Annotated[
        bool, typer.Option("--max-entropy", help="Draw routes by the maximum-entropy walk.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the routes as GeoJSON to this file.")
    ] = None,
    briefing: Annotated[
        Path | None, typer.Option("--briefing", help="Write per-unit HTML briefings here.")
    ] = None,
) -> None:
    """Plan one shift of randomised, feasible patrol routes for a region."""
    if not shift:
        msg = "--shift is required, e.g. --shift 2026-06-19T06:00/14:00"
        raise InvalidInputError(msg)
    settings = load_settings()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as progress:
        progress.add_task("solving the patrol game", total=None)
        result = plan_patrols(
            settings,
            region=region,
            event_path=event,
            n_units=units,
            shift=shift,
            n_foot=foot,
            pins=pin or [],
            seed=seed,
            method="max_entropy" if max_entropy else "decomposition",
        )
    if out is not None:
        write_geojson(result, out)
    written = write_briefings(result, briefing) if briefing is not None else []
    data = plan_to_dict(result)
    if as_json:
        print_json(data)
        return
    _print_plan(data, n_units=units)
    if out is not None:
        console.print(f"routes written to {out}")
    if written:
        console.print(f"briefings written to {briefing}")


def _print_plan(data: dict[str, Any], *, n_units: int) -> None:
    """Print a plan's headline figures and one row per unit's route."""
    console.print(
        f"[bold]{data['region']}[/] shift {data['shift']['start']} - {data['shift']['end']}: "
        f"{n_units} units, seed {data['seed']}"
    )
    best = data["attacker_best_response"]
    console.print(
        f"guarantee (attacker's best expected payoff): {data['guarantee']:.4g} "
        f"at {best['name'] or best['site_id']} from {best['slot_start']}"
    )
    if data["greedy_guarantee"] is not None:
        console.print(
            f"schedule LP alone {data['lp_guarantee']:.4g}, "
            f"'highest risk first' rota {data['greedy_guarantee']:.4g}"
        )
    console.print(
        f"entropy {data['entropy_bits']:.2f} bits, "
        f"{data['visits_per_unit_hour']:.2f} visits per unit-hour in this draw"
    )
    if data["pin_cost"] is not None:
        console.print(f"pins cost {data['pin_cost']:.4g} in guarantee")
    table = Table(title="Routes")
    table.add_column("unit")
    table.add_column("mode")
    table.add_column("visits")
    table.add_column("travel (min)", justify="right")
    for u in data["units"]:
        stops = ", ".join(
            f"{v['arrive'][11:16]} {v['name'] or v['site_id']}" for v in u["route"]["visits"]
        )
        table.add_row(
            u["unit_id"],
            u["mode"],
            stops or "(stand by)",
            f"{u['route']['total_travel_s'] / 60:.0f}",
        )
    console.print(table)
    if data["excluded_sites"]:
        console.print(f"{len(data['excluded_sites'])} site(s) without road access left out")
