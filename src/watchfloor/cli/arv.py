"""``watchfloor arv``: plan armed-response bases, evaluate a plan, advise on dispatch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from watchfloor.cli._app import console, err_console, new_app, print_json
from watchfloor.errors import InvalidInputError
from watchfloor.geo import parse_lonlat
from watchfloor.services.arv import (
    MODELS,
    ArvProblem,
    DemandOptions,
    bases_from_plan,
    build_problem,
    calls_by_hour,
    dispatch_advice,
    evaluate_bases,
    parse_duration_s,
    plan_bases,
    plan_to_geojson,
    read_plan,
    write_plan,
    write_plan_png,
)
from watchfloor.services.regions import open_region, region_engine, region_view
from watchfloor.settings import load_settings

__all__ = ["app"]

app = new_app("Armed response: bases that keep response short with units busy; dispatch advice.")

RegionOpt = Annotated[str, typer.Option("--region", help="Region name (see `region list`).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
StandardOpt = Annotated[
    str | None,
    typer.Option(
        "--standard",
        help="One response standard for every area (e.g. 8m); default urban 8m, rural 15m, "
        "remote 20m.",
    ),
]
StandardsOpt = Annotated[
    str | None,
    typer.Option("--standards", help="Per area type, e.g. urban=8m,rural=15m,remote=20m."),
]
CallsOpt = Annotated[float, typer.Option("--calls-per-day", help="ARV calls per day.")]
ProfileOpt = Annotated[
    str,
    typer.Option(
        "--hour-profile",
        help="How --calls-per-day spreads over the day: flat, night (an assumed "
        "night-heavy shape) or 24 comma-separated weights, hour 0 first.",
    ),
]
ServiceOpt = Annotated[
    str, typer.Option("--service", help="Mean time a unit is busy per call (e.g. 45m).")
]


def _standards(standard: str | None, standards: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    if standards:
        for part in standards.split(","):
            key, _, value = part.partition("=")
            if not value:
                msg = f"--standards item {part!r} is not TYPE=DURATION (e.g. urban=8m)"
                raise InvalidInputError(msg)
            out[key.strip()] = parse_duration_s(value)
    if standard:
        s = parse_duration_s(standard)
        out = {"urban": s, "rural": s, "remote": s}
    return out


def _problem(
    region: str,
    *,
    standard: str | None,
    standards: str | None,
    candidates: Path | None,
    areas: Path | None,
    population: Path | None,
    incidents: list[Path] | None,
    hour: int | None,
) -> ArvProblem:
    if (areas is None) != (population is None):
        msg = "give --areas and --population together (boundaries and the census table)"
        raise InvalidInputError(msg)
    if hour is not None and not 0 <= hour <= 23:
        msg = f"--hour must be 0-23, got {hour}"
        raise InvalidInputError(msg)
    loaded = open_region(region, load_settings())
    with console.status("building demand, candidates and travel times", spinner="dots"):
        return build_problem(
            loaded,
            demand=DemandOptions(
                areas_path=areas,
                population_path=population,
                incidents_paths=tuple(incidents or ()),
                hour=hour,
            ),
            standards_s=_standards(standard, standards),
            candidates_path=candidates,
        )


def _summary_table(title: str, problem: ArvProblem, ev: dict[str, Any], bases: Any) -> Table:
    table = Table(title=title)
    table.add_column("unit")
    table.add_column("base")
    table.add_column("kind")
    table.add_column("workload", justify="right")
    work = (
        ev.get("hypercube_by_hour", {}).get("workload")
        or ev.get("hypercube", {}).get("workload")
        or [None] * len(bases)
    )
    for u, c in enumerate(list(bases)):
        w = work[u]
        table.add_row(
            f"ARV{u + 1}",
            problem.candidate_name[int(c)],
            problem.candidate_kind[int(c)],
            "-" if w is None else f"{100 * w:.1f} %",
        )
    return table


def _print_evaluation(problem: ArvProblem, ev: dict[str, Any]) -> None:
    table = Table(title="response")
    table.add_column("figure")
    table.add_column("value", justify="right")
    std = ", ".join(f"{k} {v / 60:.1f} min" for k, v in problem.standards.items())
    table.add_row("standards", std)
    table.add_row("coverage within standard", f"{100 * ev['coverage']:.1f} %")
    for k, v in ev["coverage_by_area_type"].items():
        table.add_row(f"  {k}", f"{100 * v:.1f} %")
    table.add_row(
        "coverage with any one unit busy (worst / mean)",
        f"{100 * ev['coverage_one_unit_busy_min']:.1f} % / "
        f"{100 * ev['coverage_one_unit_busy_mean']:.1f} %",
    )
    hq = ev.get("hypercube") or {}
    if hq:
        table.add_row(
            f"hypercube ({hq['method']}): within standard",
            f"{100 * hq['fraction_within_standard']:.1f} %",
        )
        table.add_row("expected response", f"{hq['mean_response_s'] / 60:.1f} min")
        table.add_row("p90 response", f"{hq['p90_response_s'] / 60:.1f} min")
        table.add_row("all units busy", f"{100 * hq['prob_all_busy']:.2f} %")
    _hourly_rows(table, ev.get("hypercube_by_hour") or {})
    sim = ev.get("simulation")
    if sim:
        table.add_row(
            f"simulation ({sim['days']} days, {sim['n_calls']} calls): p90",
            f"{sim['p90_response_s'] / 60:.1f} min",
        )
    console.print(table)
    hours = (ev.get("hypercube_by_hour") or {}).get("hours")
    if hours and len({h["calls"] for h in hours}) > 1:
        console.print(_hours_table(hours))
    for s in problem.demand_sources:
        console.print(f"demand: {s}")


def _hourly_rows(table: Table, hb: dict[str, Any]) -> None:
    if "note" in hb:
        table.add_row("by hour", hb["note"])
        return
    if not hb:
        return
    table.add_row(
        f"by hour ({hb['n_solves']} steady states, weighted by calls): within standard",
        f"{100 * hb['fraction_within_standard']:.1f} %",
    )
    table.add_row("  expected response", f"{hb['mean_response_s'] / 60:.1f} min")
    table.add_row("  p90 response", f"{hb['p90_response_s'] / 60:.1f} min")
    table.add_row("  calls finding all units busy", f"{100 * hb['prob_all_busy']:.2f} %")
    if len({h["calls"] for h in hb["hours"]}) == 1:
        return  # a flat day: every hour is the steady state above
    peak = hb["hours"][hb["busiest_hour"]]
    table.add_row(
        f"  busiest hour {peak['hour']:02d}:00 ({peak['calls']:.2f} calls): p90, all busy",
        f"{peak['p90_response_s'] / 60:.1f} min, {100 * peak['prob_all_busy']:.2f} %",
    )


def _hours_table(hours: list[dict[str, Any]]) -> Table:
    table = Table(title="hypercube by hour")
    for name in ("hour", "calls", "within standard", "mean", "p90", "all busy"):
        table.add_column(name, justify="right")
    for h in hours:
        if h["fraction_within_standard"] is None:
            table.add_row(f"{h['hour']:02d}:00", "0", "-", "-", "-", "-")
            continue
        table.add_row(
            f"{h['hour']:02d}:00",
            f"{h['calls']:.2f}",
            f"{100 * h['fraction_within_standard']:.1f} %",
            f"{h['mean_response_s'] / 60:.1f} min",
            f"{h['p90_response_s'] / 60:.1f} min",
            f"{100 * h['prob_all_busy']:.2f} %",
        )
    return table


@app.command("plan")
def plan_cmd(  # noqa: PLR0917 (typer options)
    region: RegionOpt,
    units: Annotated[int, typer.Option("--units", help="Number of ARVs on duty.")],
    model: Annotated[str, typer.Option("--model", help=f"One of {', '.join(MODELS)}.")] = "mexclp",
    standard: StandardOpt = None,
    standards: StandardsOpt = None,
    calls_per_day: CallsOpt = 6.0,
    hour_profile: ProfileOpt = "flat",
    service: ServiceOpt = "45m",
    candidates: Annotated[
        Path | None, typer.Option("--candidates", help="Extra candidate bases (CSV/GeoJSON).")
    ] = None,
    areas: Annotated[Path | None, typer.Option("--areas", help="LSOA boundaries GeoJSON.")] = None,
    population: Annotated[
        Path | None, typer.Option("--population", help="Census population CSV by area code.")
    ] = None,
    incidents: Annotated[
        list[Path] | None, typer.Option("--incidents", help="data.police.uk street-crime CSV.")
    ] = None,
    hour: Annotated[
        int | None, typer.Option("--hour", help="Hour of day for site weights.")
    ] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver seconds.")] = 60.0,
    simulate_days: Annotated[int, typer.Option("--simulate-days", help="Days to simulate.")] = 7,
    out: Annotated[Path | None, typer.Option("--out", help="Write the plan GeoJSON here.")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write a PNG map here.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Choose ARV standby bases and report coverage, busy-unit coverage and response."""
    if units < 1:
        msg = f"--units must be at least 1, got {units}"
        raise InvalidInputError(msg)
    mean_service_s = parse_duration_s(service)
    hourly = calls_by_hour(hour_profile, calls_per_day)
    problem = _problem(
        region,
        standard=standard,
        standards=standards,
        candidates=candidates,
        areas=areas,
        population=population,
        incidents=incidents,
        hour=hour,
    )
    with console.status(f"solving {model} for {units} units", spinner="dots"):
        placement = plan_bases(
            problem,
            n_units=units,
            model=model,
            calls_per_day=calls_per_day,
            mean_service_s=mean_service_s,
            time_limit_s=time_limit,
        )
        ev = evaluate_bases(
            problem,
            placement.sites,
            calls_per_day=calls_per_day,
            mean_service_s=mean_service_s,
            simulate_days=simulate_days,
            calls_per_hour=hourly,
        )
    doc = plan_to_geojson(problem, placement.sites, model=model, evaluation=ev, placement=placement)
    if out is not None:
        write_plan(doc, out)
    if png is not None:
        write_plan_png(problem, placement.sites, png)
    if json_out:
        print_json(
            {
                "region": problem.region,
                "model": model,
                "status": placement.status,
                "gap": placement.gap,
                "bases": [
                    f["properties"] for f in doc["features"] if f["properties"]["role"] == "base"
                ],
                "evaluation": ev,
                "demand_sources": list(problem.demand_sources),
            }
        )
        return
    console.print(
        _summary_table(f"{region}: {units} ARV bases ({model})", problem, ev, placement.sites)
    )
    console.print(
        f"solver: {placement.status}, gap {100 * placement.gap:.3f} %, "
        f"{placement.solve_time_s:.2f} s"
    )
    _print_evaluation(problem, ev)
    if out is not None:
        err_console.print(f"plan written to {out}")


@app.command("evaluate")
def evaluate_cmd(  # noqa: PLR0917 (typer options)
    region: RegionOpt,
    plan: Annotated[Path, typer.Option("--plan", help="Plan GeoJSON from `arv plan --out`.")],
    standard: StandardOpt = None,
    standards: StandardsOpt = None,
    calls_per_day: CallsOpt = 6.0,
    hour_profile: ProfileOpt = "flat",
    service: ServiceOpt = "45m",
    simulate_days: Annotated[int, typer.Option("--simulate-days", help="Days to simulate.")] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate a stored plan: coverage, one-unit-busy coverage, hypercube and simulation."""
    hourly = calls_by_hour(hour_profile, calls_per_day)
    units = read_plan(plan)
    problem = _problem(
        region,
        standard=standard,
        standards=standards,
        candidates=None,
        areas=None,
        population=None,
        incidents=None,
        hour=None,
    )
    bases = bases_from_plan(problem, units)
    ev = evaluate_bases(
        problem,
        bases,
        calls_per_day=calls_per_day,
        mean_service_s=parse_duration_s(service),
        simulate_days=simulate_days,
        calls_per_hour=hourly,
    )
    if json_out:
        print_json({"region": region, "units": list(units.unit), "evaluation": ev})
        return
    console.print(_summary_table(f"{region}: plan {plan.name}", problem, ev, bases))
    _print_evaluation(problem, ev)


@app.command("dispatch")
def dispatch_cmd(
    region: RegionOpt,
    plan: Annotated[Path, typer.Option("--plan", help="Plan GeoJSON from `arv plan --out`.")],
    at: Annotated[str, typer.Option("--at", help="Incident location LON,LAT.")],
    busy: Annotated[str, typer.Option("--busy", help="Busy units, e.g. ARV1,ARV3.")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Rank the available units by blue-light road ETA to an incident."""
    lon, lat = parse_lonlat(at, what="--at")
    units = read_plan(plan)
    engine = region_engine(region_view(load_settings(), region), profile="blue_light")
    busy_ids = [b.strip() for b in busy.split(",") if b.strip()]
    ranking = dispatch_advice(engine, units, lon=lon, lat=lat, busy=busy_ids)
    if json_out:
        print_json({"incident": [lon, lat], "busy": busy_ids, "ranking": ranking})
        return
    table = Table(title=f"dispatch to {lon:.5f},{lat:.5f}")
    table.add_column("rank", justify="right")
    table.add_column("unit")
    table.add_column("ETA", justify="right")
    for row in ranking:
        table.add_row(str(row["rank"]), row["unit"], f"{row['eta_s'] / 60:.1f} min")
    console.print(table)
