"""``watchfloor demo``: the operations room on a real region, end to end.

1. Gets the region (the default, Rutland, is built from ``WATCHFLOOR_DATA_DIR``
   or downloaded from Geofabrik) and writes its map.
2. Creates a fresh demo database under ``<data home>/demo`` and a staff login
   (printed).
3. Plans the day before anything happens, then declares a scenario event: a
   vehicle attack on worshippers elsewhere in the country, three days ago.
4. Simulates the public reports and hate incidents of the four weeks before
   and the days after it, through the reporting service, with the post-attack
   rise shaped like the real one of June 2017 (London anti-Muslim offences
   138 in May, 368 in June) and concentrated near one place.
5. Runs tension monitoring on them; each alert re-plans the region.
6. Serves the dashboard on http://127.0.0.1:8000 (``--no-serve`` to stop
   after the plans, for scripts).
"""

from __future__ import annotations

import csv
import math
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import shapely
import typer

from watchfloor.cli._app import console, err_console, print_json
from watchfloor.cli.region import progress_bar, region_table
from watchfloor.services import operations as ops
from watchfloor.services.auth import create_user
from watchfloor.services.region_map import write_region_map
from watchfloor.services.regions import ensure_default_region, open_region, region_summary
from watchfloor.services.reports import ReportCreate, submit_report
from watchfloor.services.tension.ingest import ingest_file
from watchfloor.services.tension.outputs import alerts_geojson
from watchfloor.services.tension.stored import run_scan
from watchfloor.settings import DEFAULT_REGION, Settings, load_settings
from watchfloor.storage.db import Database, open_database, upgrade_database
from watchfloor.storage.keys import load_keyring
from watchfloor.types import LONDON, Role, ThreatLevel

__all__ = ["SPIKE_RATIO", "daily_rate", "register"]

#: Month-on-month rise after the June 2017 attacks: London anti-Muslim offences 138 -> 368.
SPIKE_RATIO = 368 / 138
#: Decay time (days) of the post-attack rise; with it the month's mean matches SPIKE_RATIO.
SPIKE_TAU_DAYS = 7.0
DEMO_USER = "duty.inspector"
HISTORY_DAYS = 28


def spike_amplitude(*, ratio: float = SPIKE_RATIO, tau_days: float = SPIKE_TAU_DAYS) -> float:
    """Return ``A`` such that ``1 + A exp(-t / tau)`` averages ``ratio`` over the first 30 days."""
    return (ratio - 1.0) * 30.0 / (tau_days * (1.0 - math.exp(-30.0 / tau_days)))


def daily_rate(
    days_since_event: npt.NDArray[np.float64], *, base_per_day: float
) -> npt.NDArray[np.float64]:
    """Return the expected incidents per day: ``base`` before the event, then the decaying rise."""
    t = np.asarray(days_since_event, dtype=np.float64)
    rise = spike_amplitude() * np.exp(-np.clip(t, 0.0, None) / SPIKE_TAU_DAYS)
    return base_per_day * np.where(t >= 0, 1.0 + rise, 1.0)


_HATE_TEXT = (
    "Shouted abuse about religion at people leaving prayers",
    "Graffiti with a religious slur painted on the wall near the entrance",
    "Woman had her headscarf pulled in the street, attacker ran off",
    "Leaflets blaming local Muslims for the attack pushed through doors",
    "Group of men followed a family and shouted threats",
    "Bacon left on the steps of the building",
    "Abuse shouted from a passing car at a man in traditional dress",
    "Window of the community centre smashed overnight",
)
_SUSPICIOUS_TEXT = (
    "Man filming the entrances and asking when it is busiest",
    "Van parked for hours on double yellow lines by the market square",
    "Unattended rucksack left by the bus shelter",
    "Someone asking staff about the security and the camera positions",
    "Person in a parked car watching the building for a long time",
)


def _simulate(
    database: Database,
    settings: Settings,
    region: Any,
    *,
    event_at: datetime,
    now: datetime,
    rng: np.random.Generator,
) -> tuple[int, list[dict[str, Any]]]:
    """Submit simulated reports through the reporting service; return the count and incidents."""

    keyring = load_keyring(settings.home, setting=settings.reporting.report_keys, database=database)
    secret = secrets.token_bytes(32)
    sites = region.sites
    kinds = np.asarray(sites.kind)
    worship = np.flatnonzero(kinds == "place_of_worship")
    busy = np.flatnonzero(np.isin(kinds, ["town_centre", "crowded_place", "nte_venue"]))
    # The rise concentrates near one place (the county town's centre or first place of worship).
    hot = int(busy[0]) if busy.size else int(worship[0]) if worship.size else 0
    start = event_at - timedelta(days=HISTORY_DAYS)
    n_days = math.ceil((now - start).total_seconds() / 86_400)
    days = np.arange(n_days, dtype=np.float64)
    day_start = [start + timedelta(days=int(d)) for d in days]
    since = np.array([(d - event_at).total_seconds() / 86_400 for d in day_start])
    hate_n = rng.poisson(daily_rate(since, base_per_day=1.2))
    susp_n = rng.poisson(daily_rate(since, base_per_day=0.5))
    incidents: list[dict[str, Any]] = []
    count = 0
    for d, n_hate, n_susp in zip(range(n_days), hate_n.tolist(), susp_n.tolist(), strict=True):
        for k in range(n_hate + n_susp):
            hate = k < n_hate
            when = day_start[d] + timedelta(seconds=float(rng.uniform(0, 86_400)))
            if when >= now:
                continue
            after = when >= event_at
            if hate and after and rng.random() < 0.6:
                i = hot
                spread_m = 400.0
            else:
                pool = (
                    worship
                    if hate and worship.size
                    else busy
                    if busy.size
                    else np.arange(len(sites))
                )
                i = int(rng.choice(pool))
                spread_m = 300.0
            lon = float(sites.lon[i]) + rng.normal(0, spread_m) / 68_000.0
            lat = float(sites.lat[i]) + rng.normal(0, spread_m) / 111_000.0
            data = ReportCreate(
                kind="hate_incident" if hate else "suspicious_behaviour",
                description=str(rng.choice(_HATE_TEXT if hate else _SUSPICIOUS_TEXT)),
                occurred_at=when,
                lon=round(lon, 6),
                lat=round(lat, 6),
                protected_characteristic="religion" if hate else "",
                victim_or_witness=str(rng.choice(["victim", "witness"])) if hate else "",
            )
            submit_report(
                database,
                data,
                keyring=keyring,
                secret=secret,
                now=when,
                options=settings.reporting,
            )
            count += 1
            if hate:
                incidents.append(
                    {"occurred_at": when.isoformat(), "lon": lon, "lat": lat, "kind": "hate"}
                )
    return count, incidents


def _tension(
    settings: Settings, region: str, incidents: list[dict[str, Any]], out_dir: Path, end: datetime
) -> list[dict[str, Any]]:
    """Run tension monitoring on the simulated incidents; return located alerts for the room."""

    path = out_dir / "incidents.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["occurred_at", "lon", "lat", "kind"])
        writer.writeheader()
        writer.writerows(incidents)
    ingest_file(settings, path, region=region)
    report = run_scan(
        settings, region=region, end=end.date(), replicates=199, seed=2017, history_days=60
    )
    grouped: dict[int, list[dict[str, Any]]] = {}
    for feature in alerts_geojson(settings, report)["features"]:
        if feature["geometry"] is not None:
            grouped.setdefault(int(feature["properties"]["alert"]), []).append(feature)
    alerts = []
    for features in grouped.values():
        props = features[0]["properties"]
        area = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in features])
        centre = area.centroid
        alerts.append(
            {
                "summary": props.get("reason") or f"rise in {props.get('name', '')}",
                "area": ", ".join(str(f["properties"].get("name", "")) for f in features),
                "level": max(int(f["properties"].get("level", 3)) for f in features),
                "lon": float(centre.x),
                "lat": float(centre.y),
                "geometry": shapely.geometry.mapping(area),
                "p_value": props.get("p_value"),
            }
        )
    # Strongest evidence first: the room re-plans for the first few.
    alerts.sort(key=lambda a: 1.0 if a["p_value"] is None else float(a["p_value"]))
    return alerts


def demo(
    *,
    region_name: Annotated[
        str | None, typer.Option("--region", help="A built region (default: Rutland).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the map files (default: <data home>/demo)."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the dashboard at the end.")
    ] = True,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated reports.")] = 2017,
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run the operations room on a region: event, reports, tension, patrols, ARVs, dashboard."""
    base = load_settings()
    with progress_bar(quiet=json_out) as progress:
        if region_name and region_name != DEFAULT_REGION:
            region = open_region(region_name, base)
        else:
            region = ensure_default_region(base, progress=progress)
    out_dir = out or base.home / "demo"
    png, page = write_region_map(region, out_dir)
    if not json_out:
        console.print(region_table(region))
        console.print(f"map (PNG):  {png}")
        console.print(f"map (HTML): {page}")

    db_path = out_dir / "watchfloor-demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    settings = base.model_copy(update={"demo": True, "database_url": f"sqlite:///{db_path}"})
    upgrade_database(settings)
    database = open_database(settings)
    password = _create_login(database)

    now = datetime.now(UTC)
    event_day = (now - timedelta(days=3)).astimezone(LONDON)
    event_at = event_day.replace(hour=0, minute=20, second=0, microsecond=0)
    room = ops.OperationsRoom(settings, store=ops.OpsStore(database))
    timings: list[tuple[str, float]] = []
    try:
        actor = ops.Actor(DEMO_USER, frozenset({Role.SUPERVISOR}))
        _step(room, room.replan(region.name, actor=actor, reason="routine plan"), timings)
        event = ops.EventDeclaration(
            kind="vehicle_attack",
            place="Finsbury Park, London",
            at=event_at,
            targeted_community="muslim",
            threat_level=ThreatLevel.SEVERE.value,
            playbook="place-of-worship-attack",
        )
        _step(room, room.declare_event(region.name, event, actor=actor), timings)
        rng = np.random.default_rng(seed)
        n_reports, incidents = _simulate(
            database, settings, region, event_at=event_at, now=now, rng=rng
        )
        alerts: list[dict[str, Any]] = []
        try:
            alerts = _tension(settings, region.name, incidents, out_dir, now)
        except Exception as exc:
            err_console.print(f"tension monitoring skipped: {exc}")
        for alert in alerts[:3]:
            _step(room, room.raise_alert(region.name, alert), timings)
        for job in ops.watch_report_clusters(room, database, region.name):
            _step(room, job, timings)
        room.publish_message(region.name, ops.DEFAULT_MESSAGE, actor=actor)
        plan = room.plan(region.name)
    finally:
        room.close()
        database.dispose()

    summary = {
        **region_summary(region.meta),
        "map_png": str(png),
        "map_html": str(page),
        "database": str(db_path),
        "login": {"username": DEMO_USER, "password": password},
        "event": {"kind": event.kind, "place": event.place, "at": event_at.isoformat()},
        "reports": n_reports,
        "hate_incidents": len(incidents),
        "alerts": [a["summary"] for a in alerts],
        "replans": [{"trigger": t, "total_s": round(s, 3)} for t, s in timings],
        "notes": list(plan.body.notes) if plan else [],
        "url": f"http://127.0.0.1:{port}/dashboard?region={region.name}",
    }
    if json_out:
        print_json(summary)
    else:
        _print_summary(summary, port=port, region=region.name)
    if serve:
        _serve(settings, port)


def _step(room: ops.OperationsRoom, job: ops.Job, timings: list[tuple[str, float]]) -> None:
    done = room.wait(job.job_id, timeout_s=600)
    if done["status"] != "done":
        err_console.print(f"re-plan failed: {done['error']} (the last good plan stays in force)")
        return
    timings.append((done["trigger"], float(done["timings_s"].get("total", 0.0))))


def _create_login(database: Database) -> str:

    password = secrets.token_urlsafe(12)
    with database.session() as session:
        create_user(session, DEMO_USER, role=Role.SUPERVISOR, password=password)
    return password


def _print_summary(summary: dict[str, Any], *, port: int, region: str) -> None:
    console.print()
    console.print(f"[bold]Demo database[/bold]: {summary['database']}")
    console.print(
        f"Simulated {summary['reports']} public reports "
        f"({summary['hate_incidents']} hate incidents) around the event."
    )
    for alert in summary["alerts"]:
        console.print(f"  tension alert: {alert}")
    for step in summary["replans"]:
        console.print(f"  re-plan in {step['total_s']:.2f} s: {step['trigger']}")
    for note in summary["notes"]:
        console.print(f"  note: {note}")
    login = summary["login"]
    console.print()
    console.print(f"[bold]Open[/bold] http://127.0.0.1:{port}/staff/login")
    console.print(
        f"  log in as [bold]{login['username']}[/bold] "
        f"with password [bold]{login['password']}[/bold]"
    )
    console.print(f"  then open {summary['url']}")
    console.print(
        "  click a site for its risk and reasons; click anywhere for ARV dispatch advice;"
    )
    console.print("  'Declare an event' or 'Change the threat level' re-plans in seconds;")
    console.print(
        "  a unit's 'briefing' link prints its shift; 'public page' shows the community update"
    )
    console.print(f"  (public, no login: http://127.0.0.1:{port}/community?region={region})")


def _serve(settings: Settings, port: int) -> None:
    import uvicorn  # noqa: PLC0415 (heavy; only serving needs it)

    from watchfloor.web.app import create_app  # noqa: PLC0415 (FastAPI and every router; only serving needs them)

    app = create_app(settings)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        log_config=None,
    )


def register(app: typer.Typer) -> None:
    """Add the top-level ``demo`` command to the ``watchfloor`` app."""
    app.command("demo")(demo)
