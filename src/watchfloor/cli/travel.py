"""``watchfloor travel``: drive times, routes and isochrones on a region's roads."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from watchfloor.cli._app import console, new_app, print_json
from watchfloor.geo import parse_lonlat
from watchfloor.services.travel import isochrone_between, travel_time_between, write_geojson
from watchfloor.settings import DEFAULT_REGION, load_settings

__all__ = ["app"]

app = new_app("Drive times, routes and isochrones on a region's roads.")

RegionOpt = Annotated[str, typer.Option("--region", help="Region name (see `region list`).")]
ProfileOpt = Annotated[
    str,
    typer.Option("--profile", help="normal (ordinary driving) or blue_light (emergency response)."),
]


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unreachable"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s"


@app.command("time")
def time_command(
    *,
    from_: Annotated[str, typer.Option("--from", help="Start point as LON,LAT.")],
    to: Annotated[str, typer.Option("--to", help="End point as LON,LAT.")],
    region: RegionOpt = DEFAULT_REGION,
    profile: ProfileOpt = "normal",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the route as GeoJSON to this file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the fastest drive time and distance between two points."""
    origin = parse_lonlat(from_, what="--from")
    destination = parse_lonlat(to, what="--to")
    answer = travel_time_between(
        region, load_settings(), origin=origin, destination=destination, profile=profile
    )
    if out is not None:
        write_geojson({"type": "FeatureCollection", "features": [answer.route]}, out)
    if as_json:
        print_json(answer.to_dict() | ({"route_file": str(out)} if out else {}))
        return
    table = Table(title=f"Drive on {answer.region} ({answer.profile})")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("time", _clock(answer.travel_time_s))
    if math.isfinite(answer.length_m):
        table.add_row("distance", f"{answer.length_m / 1000:.2f} km")
    table.add_row("from snapped", f"{answer.from_snap_m:.0f} m to node {answer.from_node}")
    table.add_row("to snapped", f"{answer.to_snap_m:.0f} m to node {answer.to_node}")
    if out is not None:
        table.add_row("route file", str(out))
    console.print(table)


@app.command("isochrone")
def isochrone_command(
    *,
    from_: Annotated[str, typer.Option("--from", help="Start point as LON,LAT.")],
    minutes: Annotated[
        list[float],
        typer.Option("--minutes", help="Time budget in minutes; repeat for nested bands."),
    ],
    out: Annotated[Path, typer.Option("--out", help="GeoJSON file to write.")],
    region: RegionOpt = DEFAULT_REGION,
    profile: ProfileOpt = "normal",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Write the area reachable within each time budget as GeoJSON bands."""
    origin = parse_lonlat(from_, what="--from")
    collection = isochrone_between(
        region, load_settings(), origin=origin, minutes=minutes, profile=profile
    )
    write_geojson(collection, out)
    bands = [
        {
            "minutes": f["properties"]["minutes"],
            "n_nodes": f["properties"]["n_nodes"],
            "empty": f["geometry"] is None,
        }
        for f in collection["features"]
    ]
    if as_json:
        print_json({"file": str(out), "region": region, "profile": profile, "bands": bands})
        return
    table = Table(title=f"Isochrone on {region} ({profile}) -> {out}")
    table.add_column("within", justify="right")
    table.add_column("road nodes reached", justify="right")
    for band in bands:
        table.add_row(f"{band['minutes']:g} min", f"{band['n_nodes']:,}")
    console.print(table)
