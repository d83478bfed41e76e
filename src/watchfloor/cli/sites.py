"""``watchfloor sites``: the site register of a region."""

from __future__ import annotations

import csv
import sys
from dataclasses import fields
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from watchfloor.cli._app import console, new_app, print_json
from watchfloor.services.regions import open_region
from watchfloor.settings import load_settings
from watchfloor.sites.register import SiteRegister

__all__ = ["app"]

app = new_app("List the sites of a region: places of worship, crowded places, NTE, ...")


class OutputFormat(StrEnum):
    """Output formats of ``sites list``."""

    table = "table"
    json = "json"
    geojson = "geojson"
    csv = "csv"


def _table(sites: SiteRegister, title: str) -> Table:
    table = Table(title=title)
    for column in ("site", "kind", "category", "name", "religion", "lon", "lat", "snap m"):
        table.add_column(column, justify="right" if column in {"lon", "lat", "snap m"} else "left")
    for rec in sites.records():
        table.add_row(
            rec["site_id"],
            rec["kind"],
            rec["category"],
            rec["name"],
            "/".join(v for v in (rec["religion"], rec["denomination"]) if v),
            f"{rec['lon']:.5f}",
            f"{rec['lat']:.5f}",
            "" if rec["snap_m"] is None else f"{rec['snap_m']:.0f}",
        )
    return table


@app.command("list")
def list_(
    region: str = typer.Option(..., "--region", help="Region name."),
    kind: str | None = typer.Option(
        None, "--kind", help="Only this kind, e.g. place_of_worship, crowded_place, nte_zone."
    ),
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
) -> None:
    """List a region's sites (optionally of one kind) as a table, JSON, GeoJSON or CSV."""
    loaded = open_region(region, load_settings())
    sites = loaded.sites.select(kind=kind)
    if fmt is OutputFormat.json:
        print_json(sites.records())
    elif fmt is OutputFormat.geojson:
        print_json(sites.to_geojson())
    elif fmt is OutputFormat.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=[f.name for f in fields(SiteRegister)])
        writer.writeheader()
        for rec in sites.records():
            writer.writerow({k: ("" if v is None else v) for k, v in rec.items()})
        sys.stdout.flush()
    else:
        title = f"{len(sites)} sites in {region}" + (f" of kind {kind}" if kind else "")
        console.print(_table(sites, title))
