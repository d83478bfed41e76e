"""The region and sites commands, and bad input: one line, exit 2, region untouched."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchfloor.cli.main import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["-q", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def built_home(home: Path, data_dir: Path) -> Path:
    """A data home holding region "rutland", built from the 2018 extract."""
    code, out, err = run(
        "region", "build", str(data_dir / "rutland-2018-02-27.osm.pbf"), "--name", "rutland"
    )
    assert code == 0, err
    assert "region rutland" in out
    return home


def test_build_info_list_and_sites(built_home: Path) -> None:
    code, out, _ = run("region", "info", "rutland", "--json")
    assert code == 0
    meta = json.loads(out)
    assert meta["osm_replication_timestamp"] == "2018-02-27T21:43:02Z"
    assert meta["sites_by_kind"]["place_of_worship"] == 65
    code, out, _ = run("region", "list", "--json")
    assert [r["name"] for r in json.loads(out)] == ["rutland"]
    code, out, _ = run("region", "info", "rutland")
    assert code == 0
    assert "place_of_worship" in out


def test_sites_list_formats(built_home: Path) -> None:
    code, out, _ = run(
        "sites", "list", "--region", "rutland", "--kind", "nte_zone", "--format", "json"
    )
    assert code == 0
    zones = json.loads(out)
    assert {z["kind"] for z in zones} == {"nte_zone"}
    code, out, _ = run("sites", "list", "--region", "rutland", "--format", "geojson")
    assert (
        len(json.loads(out)["features"])
        == json.loads(run("region", "info", "rutland", "--json")[1])["sites"]
    )
    code, out, _ = run(
        "sites", "list", "--region", "rutland", "--kind", "place_of_worship", "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 65
    assert {r["kind"] for r in rows} == {"place_of_worship"}
    code, out, _ = run("sites", "list", "--region", "rutland", "--kind", "hospital")
    assert code == 0
    assert "hospital" in out


def assert_refused(built_home: Path, args: list[str], match: str) -> None:
    region = built_home / "regions" / "rutland"
    before = {p.name: p.read_bytes() for p in region.iterdir()}
    code, out, err = run(*args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert match in lines[0]
    assert "Traceback" not in out + err
    assert {p.name: p.read_bytes() for p in region.iterdir()} == before
    assert sorted(p.name for p in region.parent.iterdir()) == ["rutland"]


def test_missing_file(built_home: Path, tmp_path: Path) -> None:
    assert_refused(
        built_home,
        ["region", "build", str(tmp_path / "nope.osm.pbf"), "--name", "rutland"],
        "does not exist",
    )


def test_not_a_pbf(built_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "readme.osm.pbf"
    path.write_text("hello\n")
    assert_refused(
        built_home, ["region", "build", str(path), "--name", "rutland"], "not an OpenStreetMap PBF"
    )


def test_truncated_pbf(built_home: Path, tmp_path: Path, data_dir: Path) -> None:
    raw = (data_dir / "rutland-2022-07-20.osm.pbf").read_bytes()
    path = tmp_path / "half.osm.pbf"
    path.write_bytes(raw[: len(raw) // 2])
    assert_refused(built_home, ["region", "build", str(path), "--name", "rutland"], "truncated")


def test_no_roads(built_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "shop.osm"
    path.write_text(
        '<?xml version="1.0"?><osm version="0.6"><node id="1" version="1" lat="52.6" '
        'lon="-0.7"><tag k="shop" v="bakery"/></node></osm>'
    )
    assert_refused(
        built_home, ["region", "build", str(path), "--name", "rutland"], "no drivable roads"
    )


def test_boundary_outside_the_data(built_home: Path, tmp_path: Path, data_dir: Path) -> None:
    london = {
        "type": "Polygon",
        "coordinates": [[[-0.2, 51.4], [0.0, 51.4], [0.0, 51.6], [-0.2, 51.6], [-0.2, 51.4]]],
    }
    path = tmp_path / "london.geojson"
    path.write_text(json.dumps(london))
    assert_refused(
        built_home,
        [
            "region",
            "build",
            str(data_dir / "rutland-2022-07-20.osm.pbf"),
            "--name",
            "rutland",
            "--boundary",
            str(path),
        ],
        "boundary does not contain",
    )


def test_bad_region_name(built_home: Path, data_dir: Path) -> None:
    assert_refused(
        built_home,
        ["region", "build", str(data_dir / "rutland-2022-07-20.osm.pbf"), "--name", "Rut land"],
        "not allowed",
    )


def test_unknown_region_and_kind(built_home: Path) -> None:
    assert_refused(built_home, ["region", "info", "bedfordshire"], "watchfloor region build")
    assert_refused(
        built_home,
        ["sites", "list", "--region", "rutland", "--kind", "castle"],
        "unknown site kind",
    )


def test_boundary_clips_the_region(home: Path, tmp_path: Path, data_dir: Path) -> None:
    # A box around Oakham (the county town, about -0.73, 52.67).
    box = {
        "type": "Feature",
        "properties": {},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[-0.76, 52.65], [-0.70, 52.65], [-0.70, 52.69], [-0.76, 52.69], [-0.76, 52.65]]
            ],
        },
    }
    path = tmp_path / "oakham.geojson"
    path.write_text(json.dumps(box))
    code, out, err = run(
        "region",
        "build",
        str(data_dir / "rutland-2022-07-20.osm.pbf"),
        "--name",
        "oakham",
        "--boundary",
        str(path),
        "--json",
    )
    assert code == 0, err
    meta = json.loads(out)
    west, south, east, north = meta["bbox"]
    assert west >= -0.76
    assert east <= -0.70
    assert south >= 52.65
    assert north <= 52.69
    assert 0 < meta["nodes"] < 6488
    sites = json.loads(run("sites", "list", "--region", "oakham", "--format", "json")[1])
    assert sites
    assert all(-0.76 <= s["lon"] <= -0.70 and 52.65 <= s["lat"] <= 52.69 for s in sites)
