"""Region folders: files written, read back, atomic replacement, GeoParquet metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import shapely

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.services.region_map import write_region_map
from watchfloor.services.regions import list_regions, open_region
from watchfloor.settings import Settings
from watchfloor.storage.regions import Region, read_region, write_region


def test_rutland_region_folder(rutland_region: Region) -> None:
    names = sorted(p.name for p in rutland_region.path.iterdir())
    assert names == ["graph.npz", "region.json", "sites.csv", "sites.geojson", "sites.parquet"]
    meta = rutland_region.meta
    assert meta["source_file"] == "rutland-2022-07-20.osm.pbf"
    assert len(meta["source_sha256"]) == 64
    assert meta["osm_replication_timestamp"] == "2022-07-20T20:21:45Z"
    assert meta["nodes"] == rutland_region.graph.n_nodes
    assert meta["sites_by_kind"] == rutland_region.sites.counts_by_kind()
    assert 0.9 < meta["scc_share"] <= 1.0
    assert meta["speed_profile_version"]
    assert meta["build_seconds"] > 0


def test_region_reads_back_identically(rutland_region: Region) -> None:
    again = read_region(rutland_region.path)
    g1, g2 = rutland_region.graph, again.graph
    for name in ("indptr", "indices", "travel_time_s", "geometry_offsets", "geometry_lonlat"):
        np.testing.assert_array_equal(getattr(g1, name), getattr(g2, name))
    assert again.sites.records() == rutland_region.sites.records()


def test_sites_geoparquet_has_wkb_points_and_geo_metadata(rutland_region: Region) -> None:
    table = pq.read_table(rutland_region.path / "sites.parquet")
    geo = json.loads(table.schema.metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    points = shapely.from_wkb(table.column("geometry").to_pylist())
    np.testing.assert_allclose(shapely.get_x(points), rutland_region.sites.lon)
    np.testing.assert_allclose(shapely.get_y(points), rutland_region.sites.lat)


def test_sites_geojson_and_csv_hold_every_site(rutland_region: Region) -> None:
    doc = json.loads((rutland_region.path / "sites.geojson").read_text())
    assert len(doc["features"]) == len(rutland_region.sites)
    lines = (rutland_region.path / "sites.csv").read_text().splitlines()
    assert len(lines) == len(rutland_region.sites) + 1
    assert lines[0].startswith("site_id,kind,category,name")


def test_failed_write_leaves_the_existing_region(rutland_region: Region, tmp_path: Path) -> None:
    target = tmp_path / "regions" / "copy"
    write_region(
        target,
        graph=rutland_region.graph,
        sites=rutland_region.sites,
        meta={"note": "first"},
    )
    before = (target / "region.json").read_bytes()

    def fail(_tmp: Path) -> None:
        raise InvalidInputError("stop before the rename")

    with pytest.raises(InvalidInputError, match="stop before"):
        write_region(
            target,
            graph=rutland_region.graph,
            sites=rutland_region.sites,
            meta={"note": "second"},
            before_commit=fail,
        )
    assert (target / "region.json").read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy"]
    # A successful write replaces it, leaving no temporary folders.
    write_region(
        target, graph=rutland_region.graph, sites=rutland_region.sites, meta={"note": "third"}
    )
    assert read_region(target).meta["note"] == "third"
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy"]


def test_open_missing_region_names_the_build_command(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with pytest.raises(NotFoundError, match="watchfloor region build"):
        open_region("bedfordshire", settings)
    with pytest.raises(InvalidInputError, match="not allowed"):
        open_region("../etc", settings)
    assert list_regions(settings) == []


def test_damaged_region_is_reported(rutland_region: Region, tmp_path: Path) -> None:
    target = tmp_path / "regions" / "broken"
    write_region(target, graph=rutland_region.graph, sites=rutland_region.sites, meta={})
    (target / "graph.npz").write_bytes(b"not a zip")
    with pytest.raises(InvalidInputError, match="damaged"):
        open_region("broken", Settings(home=tmp_path))


def test_region_map_is_a_png_and_a_self_contained_page(
    rutland_region: Region, tmp_path: Path
) -> None:
    png, page = write_region_map(rutland_region, tmp_path / "maps")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.read_text()
    assert "data:image/png;base64," in text
    # Nothing is loaded from the network: no URLs at all.
    assert "http://" not in text
    assert "https://" not in text
    assert text.count("<tr><td>") >= len(rutland_region.sites)
