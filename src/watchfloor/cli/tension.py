"""``watchfloor tension``: ingest incidents, record liaison notes, scan, show levels."""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from watchfloor.cli._app import console, err_console, new_app, print_json
from watchfloor.errors import InvalidInputError
from watchfloor.services.tension.files import scan_files
from watchfloor.services.tension.ingest import ingest_file
from watchfloor.services.tension.levels import tension_levels
from watchfloor.services.tension.notes import NOTE_INDICATORS, add_note
from watchfloor.services.tension.outputs import alerts_geojson
from watchfloor.services.tension.stored import TensionReport, event_window_report, run_scan
from watchfloor.settings import DEFAULT_REGION, load_settings

__all__ = ["app"]

app = new_app("Watch community tension: incidents by area and day, scan statistics, alerts.")

RegionOpt = Annotated[str, typer.Option("--region", help="Region the incidents belong to.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _day(text: str | None, what: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        msg = f"{what} {text!r} is not a date; write it as YYYY-MM-DD"
        raise InvalidInputError(msg) from None


def _write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, default=str)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fmt(v: Any, spec: str = ".2f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, spec)


@app.command("ingest")
def ingest_cmd(
    files: Annotated[
        list[Path], typer.Argument(help="data.police.uk CSV(s) or one incidents CSV.")
    ],
    areas: Annotated[
        Path | None, typer.Option("--areas", help="LSOA or ward boundaries (GeoJSON[.gz]).")
    ] = None,
    region: RegionOpt = DEFAULT_REGION,
    h3_resolution: Annotated[
        int, typer.Option("--h3-resolution", help="H3 cells when no boundaries exist.")
    ] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Store incidents with the area each one falls in (nothing is stored on bad input)."""
    settings = load_settings()
    with err_console.status("reading and assigning incidents"):
        summary = ingest_file(
            settings, files, region=region, areas_path=areas, h3_resolution=h3_resolution
        )
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"tension ingest into {region}")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("rows read", f"{summary['rows_read']:,}")
    table.add_row("stored", f"{summary['stored']:,}")
    for kind, n in sorted(summary["by_kind"].items()):
        table.add_row(f"  {kind}", f"{n:,}")
    table.add_row("without location (not stored)", f"{summary['rows_without_location']:,}")
    table.add_row("other crime types (not stored)", f"{summary['rows_of_other_crime_types']:,}")
    table.add_row("outside every area (stored, not analysed)", f"{summary['outside_every_area']:,}")
    table.add_row(f"areas ({summary['areas_source']})", f"{summary['areas']:,}")
    console.print(table)
    console.print(
        f"{summary['resolution']}ly data from {summary['first_day']} to {summary['last_day']}"
    )


@app.command("note")
def note_cmd(  # noqa: PLR0917 (typer options)
    area: Annotated[str, typer.Option("--area", help="Area code, e.g. E01015692.")],
    day: Annotated[str, typer.Option("--date", help="Day of the observation, YYYY-MM-DD.")],
    indicator: Annotated[str, typer.Option("--indicator", help=", ".join(NOTE_INDICATORS))],
    severity: Annotated[int, typer.Option("--severity", help="1 (minor) to 5 (severe).")],
    text: Annotated[str, typer.Option("--text", help="What was seen or heard.")],
    region: RegionOpt = DEFAULT_REGION,
    as_json: JsonOpt = False,
) -> None:
    """Record a community liaison note; it counts towards the area's tension level."""
    parsed = _day(day, "--date") or date.today()
    out = add_note(
        load_settings(),
        region=region,
        area_code=area,
        day=parsed,
        indicator=indicator,
        severity=severity,
        text=text,
    )
    if as_json:
        print_json(out)
    else:
        console.print(
            f"note {out['id']} stored: {out['area']} {out['day']} {out['indicator']} "
            f"severity {out['severity']}"
        )


@app.command("scan")
def scan_cmd(  # noqa: PLR0917 (typer options)
    incidents: Annotated[
        Path | None,
        typer.Option("--incidents", help="Scan this cases CSV alone (no database)."),
    ] = None,
    locations: Annotated[
        Path | None, typer.Option("--locations", help="location_id, lat, lon (with --incidents).")
    ] = None,
    model: Annotated[
        str, typer.Option("--model", help="space-time-permutation or poisson (file mode).")
    ] = "space-time-permutation",
    analysis: Annotated[
        str,
        typer.Option(
            "--analysis", help="prospective (windows ending on --end) or retrospective (file mode)."
        ),
    ] = "prospective",
    start: Annotated[str | None, typer.Option("--start", help="Study start (file mode).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last day of the study period.")] = None,
    max_days: Annotated[
        int | None,
        typer.Option("--max-days", help="Longest window (days; months for monthly data)."),
    ] = None,
    max_share: Annotated[float, typer.Option("--max-share", help="Largest share of cases.")] = 0.5,
    max_radius_km: Annotated[
        float | None, typer.Option("--max-radius-km", help="Largest circle radius.")
    ] = None,
    min_cases: Annotated[int, typer.Option("--min-cases", help="Fewest cases in a cluster.")] = 2,
    replicates: Annotated[int, typer.Option("--replicates", help="Monte Carlo replicates.")] = 999,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (recorded).")] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only these kinds (repeatable).")
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Alert when p <= alpha.")] = 0.05,
    region: RegionOpt = DEFAULT_REGION,
    out: Annotated[Path | None, typer.Option("--out", help="Write alerts as GeoJSON.")] = None,
    plots: Annotated[
        Path | None, typer.Option("--plots", help="Folder for PNG time series and a map.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Scan stored incidents (or, with --incidents, a CSV alone) for rises in tension."""
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    if incidents is not None:
        _scan_file_cmd(
            incidents, locations=locations, model=model, analysis=analysis, start=start, end=end,
            max_days=max_days, max_share=max_share, max_radius_km=max_radius_km,
            min_cases=min_cases, replicates=replicates, seed=seed, as_json=as_json,
        )  # fmt: skip
        return
    settings = load_settings()
    with err_console.status("scanning stored incidents"):
        report = run_scan(
            settings,
            region=region,
            end=_day(end, "--end"),
            kinds=kind,
            max_days=max_days,
            max_share=max_share,
            max_radius_km=max_radius_km,
            min_cases=min_cases,
            replicates=replicates,
            seed=seed,
            alpha=alpha,
        )
    written: list[str] = []
    if out is not None:
        _write_json_atomic(out, alerts_geojson(settings, report))
        written.append(str(out))
    if plots is not None:
        from watchfloor.services.tension.plots import plot_report  # noqa: PLC0415 (matplotlib loads in about a second; only --plots needs it)

        written.extend(str(p) for p in plot_report(report, plots))
    _print_report(report, seed=seed, written=written, as_json=as_json)


def _print_report(report: TensionReport, *, seed: int, written: list[str], as_json: bool) -> None:
    """Print a stored scan's report: JSON, or alerts and the areas above level 1."""
    if as_json:
        doc = report.to_json()
        doc["files"] = written
        print_json(doc)
        return
    console.print(
        f"{report.region}: {report.n_incidents:,} incidents ({report.resolution}ly), "
        f"{report.start} to {report.end}; {len(report.alerts)} alert(s); seed {seed}"
    )
    for a in report.alerts:
        console.print(f"- [{a.method}] {a.reason}")
    raised = sorted(((v[0], k, v[1]) for k, v in report.levels.items() if v[0] > 1), reverse=True)
    if raised:
        table = Table(title="areas above level 1")
        table.add_column("area")
        table.add_column("level", justify="right")
        table.add_column("reason")
        for lvl, code, why in raised[:30]:
            table.add_row(code, str(lvl), why)
        console.print(table)
    for w in written:
        console.print(f"wrote {w}")


def _scan_file_cmd(
    incidents: Path,
    *,
    locations: Path | None,
    model: str,
    analysis: str,
    start: str | None,
    end: str | None,
    max_days: int | None,
    max_share: float,
    max_radius_km: float | None,
    min_cases: int,
    replicates: int,
    seed: int,
    as_json: bool,
) -> None:
    """Scan a cases CSV alone (``--incidents``) and print its clusters."""
    if model not in {"space-time-permutation", "poisson"}:
        msg = f"--model {model!r} is not space-time-permutation or poisson"
        raise InvalidInputError(msg)
    if analysis not in {"prospective", "retrospective"}:
        msg = f"--analysis {analysis!r} is not prospective or retrospective"
        raise InvalidInputError(msg)
    with err_console.status("scanning"):
        result = scan_files(
            incidents,
            locations_path=locations,
            model="poisson" if model == "poisson" else "space-time-permutation",
            start=_day(start, "--start"),
            end=_day(end, "--end"),
            max_days=max_days or 7,
            max_share=max_share,
            max_radius_km=max_radius_km,
            min_cases=min_cases,
            replicates=replicates,
            seed=seed,
            analysis="retrospective" if analysis == "retrospective" else "prospective",
        )
    if as_json:
        print_json(result)
        return
    period = f"{result['study_start']} to {result['study_end']}"
    table = Table(title=f"{analysis} {model} scan, {period}")
    for col in ("#", "locations", "window", "obs", "exp", "LLR", "p", "recurrence (days)"):
        table.add_column(col)
    for n, c in enumerate(result["clusters"], start=1):
        locs = ", ".join(c["locations"][:4]) + (" ..." if len(c["locations"]) > 4 else "")
        table.add_row(
            str(n), locs, f"{c['start']} to {c['end']}", str(c["observed"]),
            _fmt(c["expected"]), _fmt(c["llr"], ".6f"), _fmt(c["p_value"], ".3f"),
            _fmt(c["recurrence_days"], ".1f"),
        )  # fmt: skip
    console.print(table)


@app.command("levels")
def levels_cmd(region: RegionOpt = DEFAULT_REGION, as_json: JsonOpt = False) -> None:
    """Show the tension level (1-5) and reason of every area from the latest scan and notes."""
    levels = tension_levels(load_settings(), region)
    if as_json:
        print_json({k: {"level": v[0], "reason": v[1]} for k, v in levels.items()})
        return
    table = Table(title=f"tension levels in {region}")
    table.add_column("area")
    table.add_column("level", justify="right")
    table.add_column("reason")
    for code, (lvl, why) in sorted(levels.items(), key=lambda kv: (-kv[1][0], kv[0])):
        table.add_row(code, str(lvl), why)
    console.print(table)


@app.command("event-window")
def event_window_cmd(  # noqa: PLR0917 (typer options)
    since: Annotated[str, typer.Option("--since", help="Day of the event, YYYY-MM-DD.")],
    days: Annotated[int, typer.Option("--days", help="Days from the event.")] = 7,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only these kinds (repeatable).")
    ] = None,
    region: RegionOpt = DEFAULT_REGION,
    top: Annotated[int, typer.Option("--top", help="Areas to list.")] = 15,
    as_json: JsonOpt = False,
) -> None:
    """Compare each area's incidents after an event with what was expected."""
    day = _day(since, "--since") or date.today()
    with err_console.status("comparing with the baseline"):
        doc = event_window_report(load_settings(), region=region, event_day=day, days=days,
                                  kinds=kind)  # fmt: skip
    if as_json:
        print_json(doc)
        return
    console.print(
        f"{region} {doc['start']} to {doc['end']}: {doc['observed']:.0f} incidents against "
        f"{doc['expected']:.1f} expected"
    )
    table = Table(title="areas by how unusual their count is")
    for col in ("area", "observed", "expected", "ratio (95 % CI)", "p"):
        table.add_column(col)
    for a in doc["areas"][:top]:
        table.add_row(
            f"{a['name']} ({a['code']})", f"{a['observed']:.0f}", f"{a['expected']:.1f}",
            f"{a['ratio']:.2f} ({a['ratio_lower']:.2f}-{a['ratio_upper']:.2f})",
            f"{a['p_value']:.3g}",
        )  # fmt: skip
    console.print(table)
