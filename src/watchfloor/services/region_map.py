"""A map of a region a person can open: a PNG and a self-contained HTML page.

Roads are drawn by class (their full polylines), sites by kind. The HTML
page embeds the PNG and lists the sites; it loads nothing from the network.
"""

from __future__ import annotations

import base64
import html
import logging
import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from watchfloor.roads.graph import ROAD_CLASSES
from watchfloor.sites.register import SITE_KINDS
from watchfloor.storage.regions import Region

__all__ = ["write_region_map"]

log = logging.getLogger(__name__)

# (classes, colour, line width, label), drawn bottom to top.
_ROAD_STYLES: tuple[tuple[tuple[str, ...], str, float, str], ...] = (
    (("service", "living_street", "road"), "#c8c8c8", 0.3, "service / living street"),
    (("residential", "unclassified"), "#9a9a9a", 0.5, "residential / unclassified"),
    (("tertiary", "tertiary_link", "secondary", "secondary_link"), "#d9a400", 0.9, "B roads"),
    (("primary", "primary_link"), "#e06c00", 1.3, "A roads"),
    (("trunk", "trunk_link", "motorway", "motorway_link"), "#c0143c", 1.7, "trunk / motorway"),
)

_SITE_STYLES: dict[str, tuple[str, str, float]] = {
    "place_of_worship": ("#6a3d9a", "^", 28.0),
    "crowded_place": ("#e31a1c", "s", 30.0),
    "nte_venue": ("#1f78b4", "o", 14.0),
    "nte_zone": ("#1f78b4", "o", 160.0),
    "town_centre": ("#000000", "*", 40.0),
    "school": ("#33a02c", "D", 20.0),
    "hospital": ("#ff7f00", "P", 60.0),
    "police_station": ("#0b2a6f", "X", 60.0),
}


def _render_png(region: Region, path: Path) -> None:
    graph = region.graph
    fig = Figure(figsize=(11, 11), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if graph.geometry_offsets is not None and graph.geometry_lonlat is not None:
        lines = np.split(graph.geometry_lonlat, graph.geometry_offsets[1:-1])
    else:
        tails = graph.edge_tails()
        lines = [
            np.array([[graph.lon[t], graph.lat[t]], [graph.lon[h], graph.lat[h]]])
            for t, h in zip(tails, graph.indices, strict=True)
        ]
    codes = graph.road_class
    for classes, colour, width, label in _ROAD_STYLES:
        wanted = np.isin(codes, [ROAD_CLASSES.index(c) for c in classes])
        chosen = [lines[i] for i in np.flatnonzero(wanted)]
        if chosen:
            ax.add_collection(LineCollection(chosen, colors=colour, linewidths=width, label=label))
    sites = region.sites
    kinds = np.array(sites.kind)
    for kind in SITE_KINDS:
        mask = kinds == kind
        if not mask.any():
            continue
        colour, marker, size = _SITE_STYLES[kind]
        face = "none" if kind == "nte_zone" else colour
        ax.scatter(
            sites.lon[mask],
            sites.lat[mask],
            s=size,
            marker=marker,
            c=face,
            edgecolors=colour,
            linewidths=1.2,
            label=f"{kind.replace('_', ' ')} ({int(mask.sum())})",
            zorder=3,
        )
    ax.autoscale()
    mid_lat = float(np.mean(graph.lat)) if graph.n_nodes else 52.0
    ax.set_aspect(1.0 / math.cos(math.radians(mid_lat)))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    stamp = region.meta.get("osm_replication_timestamp") or "unknown date"
    ax.set_title(f"{region.name}: roads and sites (OSM data as of {stamp})")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    fig.text(0.99, 0.005, "© OpenStreetMap contributors (ODbL)", ha="right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


def _render_html(region: Region, png: Path, path: Path) -> None:
    image = base64.b64encode(png.read_bytes()).decode("ascii")
    counts = region.sites.counts_by_kind()
    count_rows = "".join(
        f"<tr><td>{html.escape(k.replace('_', ' '))}</td><td>{v}</td></tr>"
        for k, v in counts.items()
    )
    site_rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (
                r["site_id"],
                r["kind"],
                r["category"],
                r["name"],
                r["religion"],
                f"{r['lon']:.5f}, {r['lat']:.5f}",
                "" if r["snap_m"] is None else f"{r['snap_m']:.0f}",
            )
        )
        + "</tr>"
        for r in region.sites.records()
    )
    meta = region.meta
    title = html.escape(f"watchfloor: region {region.name}")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1rem auto; max-width: 70rem; padding: 0 1rem; }}
img {{ max-width: 100%; height: auto; border: 1px solid #ccc; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; }}
</style></head>
<body>
<h1>{title}</h1>
<p>Source {html.escape(str(meta.get("source_file")))}, OpenStreetMap data as of
{html.escape(str(meta.get("osm_replication_timestamp") or "unknown"))};
{region.graph.n_nodes:,} road nodes, {region.graph.n_edges:,} road edges,
{html.escape(str(meta.get("road_length_km")))} km of drivable road.</p>
<img alt="map of roads and sites of {html.escape(region.name)}"
 src="data:image/png;base64,{image}">
<h2>Sites by kind</h2>
<table><tbody>{count_rows}</tbody></table>
<h2>Sites</h2>
<table><thead><tr><th>site</th><th>kind</th><th>category</th><th>name</th><th>religion</th>
<th>lon, lat</th><th>snap m</th></tr></thead><tbody>{site_rows}</tbody></table>
<p><small>© OpenStreetMap contributors (ODbL).</small></p>
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def write_region_map(region: Region, out_dir: Path) -> tuple[Path, Path]:
    """Return the paths of the PNG map and the HTML page written for a region.

    Files are ``out_dir/<name>-map.png`` and ``out_dir/<name>-map.html``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{region.name}-map.png"
    page = out_dir / f"{region.name}-map.html"
    _render_png(region, png)
    _render_html(region, png, page)
    log.info("wrote map of region %s to %s and %s", region.name, png, page)
    return png, page
