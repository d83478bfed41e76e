"""``watchfloor demo``: build the default region (Rutland) and show what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from watchfloor.cli._app import console, print_json
from watchfloor.cli.region import progress_bar, region_table
from watchfloor.services.region_map import write_region_map
from watchfloor.services.regions import ensure_default_region, region_summary
from watchfloor.settings import load_settings

__all__ = ["register"]


def demo(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the map files (default: <data home>/demo)."),
    ] = None,
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Build the default region (from WATCHFLOOR_DATA_DIR or Geofabrik) and write its map."""
    settings = load_settings()
    with progress_bar(quiet=json_out) as progress:
        region = ensure_default_region(settings, progress=progress)
    png, page = write_region_map(region, out or settings.home / "demo")
    if json_out:
        print_json({**region_summary(region.meta), "map_png": str(png), "map_html": str(page)})
        return
    console.print(region_table(region))
    console.print(f"map (PNG):  {png}")
    console.print(f"map (HTML): {page}")


def register(app: typer.Typer) -> None:
    """Add the top-level ``demo`` command to the ``watchfloor`` app."""
    app.command("demo")(demo)
