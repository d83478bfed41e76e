"""``watchfloor region``: build, fetch, inspect and list regions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from watchfloor.cli._app import console, err_console, new_app, print_json
from watchfloor.services.regions import (
    build_region,
    fetch_region,
    list_regions,
    open_region,
    region_summary,
)
from watchfloor.settings import load_settings
from watchfloor.storage.regions import Region

__all__ = ["app", "progress_bar", "region_table"]

app = new_app("Build a region (roads and sites) from OpenStreetMap, and inspect it.")


@contextmanager
def progress_bar(*, quiet: bool = False) -> Iterator[Callable[[str, int, int | None], None]]:
    """Yield a ``progress(stage, done, total)`` callback drawing a rich progress bar on stderr.

    Byte counts (totals above 1,000) are shown as a download with its speed.
    """
    if quiet:
        yield lambda stage, done, total: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    steps = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    tasks: dict[tuple[int, str], TaskID] = {}
    active: list[Progress] = []

    def update(stage: str, done: int, total: int | None) -> None:
        is_bytes = total is None or total > 1000
        chosen = bar if is_bytes else steps
        if chosen not in active:
            chosen.start()
            active.append(chosen)
        key = (id(chosen), "download" if is_bytes else "steps")
        if key not in tasks:
            tasks[key] = chosen.add_task(stage, total=total)
        chosen.update(tasks[key], description=stage, completed=done, total=total)

    try:
        yield update
    finally:
        for progress in active:
            progress.stop()


def region_table(region: Region) -> Table:
    """Return a rich table summarising a region (roads, sites by kind, source)."""
    meta = region.meta
    table = Table(title=f"region {region.name}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row(
        "source", f"{meta.get('source_file')} (sha256 {meta.get('source_sha256', '')[:12]}…)"
    )
    table.add_row("OSM data as of", str(meta.get("osm_replication_timestamp") or "unknown"))
    table.add_row(
        "roads",
        f"{region.graph.n_nodes:,} nodes, {region.graph.n_edges:,} edges, "
        f"{meta.get('road_length_km', 0):,} km",
    )
    table.add_row("largest SCC", f"{100.0 * float(meta.get('scc_share', 0.0)):.1f} % of road nodes")
    bbox = meta.get("bbox") or []
    table.add_row("bbox (lon/lat)", ", ".join(f"{v:.4f}" for v in bbox))
    for kind, count in region.sites.counts_by_kind().items():
        table.add_row(f"sites: {kind}", str(count))
    table.add_row("build time", f"{meta.get('build_seconds', 0):.2f} s")
    table.add_row("folder", str(region.path))
    return table


def _summary_json(region: Region) -> dict[str, Any]:
    return {**region_summary(region.meta), "name": region.name, "path": str(region.path)}


@app.command("build")
def build(
    file: Annotated[Path, typer.Argument(help="OpenStreetMap extract (.osm.pbf).")],
    name: Annotated[str, typer.Option("--name", help="Region name, e.g. bedfordshire.")],
    boundary: Annotated[
        Path | None,
        typer.Option("--boundary", help="GeoJSON polygon to clip roads and sites to."),
    ] = None,
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Build a region from an OSM extract (replaces an existing one only on success)."""
    settings = load_settings()
    with progress_bar(quiet=json_out) as progress:
        region = build_region(
            file, name=name, settings=settings, boundary=boundary, progress=progress
        )
    if json_out:
        print_json(_summary_json(region))
    else:
        console.print(region_table(region))


@app.command("fetch")
def fetch(
    name: str = typer.Argument(..., help="Geofabrik England county name, e.g. rutland."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Download a Geofabrik county extract (MD5-checked, cached) and build it."""
    settings = load_settings()
    with progress_bar(quiet=json_out) as progress:
        region = fetch_region(name, settings, progress=progress)
    if json_out:
        print_json(_summary_json(region))
    else:
        console.print(region_table(region))


@app.command("info")
def info(
    name: str = typer.Argument(..., help="Region name."),
    json_out: bool = typer.Option(False, "--json", help="Print the full metadata as JSON."),
) -> None:
    """Show a region's source, road graph and site counts."""
    region = open_region(name, load_settings())
    if json_out:
        print_json({**region.meta, "name": region.name, "path": str(region.path)})
    else:
        console.print(region_table(region))


@app.command("list")
def list_(
    json_out: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the built regions."""
    regions = list_regions(load_settings())
    if json_out:
        print_json(regions)
        return
    if not regions:
        console.print("no regions yet: run `watchfloor region fetch rutland` or `region build`")
        return
    table = Table(title="regions")
    for column in ("name", "source", "OSM as of", "nodes", "sites", "built"):
        table.add_column(column)
    for r in regions:
        table.add_row(
            str(r["name"]),
            str(r["source_file"]),
            str(r["osm_replication_timestamp"]),
            f"{r['nodes']:,}",
            str(r["sites"]),
            str(r["built_at"]),
        )
    console.print(table)
