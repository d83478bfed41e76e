"""Ingest of real and bad files, the tension service and the CLI, end to end."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from watchfloor.cli.main import app
from watchfloor.errors import IngestError, InvalidInputError
from watchfloor.ingest.areas import areas_from_geojson, assign_points, h3_areas
from watchfloor.ingest.policeuk import DEFAULT_GROUPS, read_incidents_csv, read_street_crime
from watchfloor.services.tension.ingest import ingest_file
from watchfloor.services.tension.levels import tension_levels
from watchfloor.services.tension.stored import event_window_report, run_scan
from watchfloor.settings import load_settings
from watchfloor.storage.db import open_database
from watchfloor.storage.tension_models import TensionIncidentRow

runner = CliRunner()
N_ROWS = 12_000


@pytest.fixture(scope="module")
def beds_subset(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 12,000 rows of the real Bedfordshire street-level file, gzipped."""
    out = tmp_path_factory.mktemp("beds") / "beds-subset.csv.gz"
    src = data_dir / "bedfordshire-street-crime-2021-05_2024-04.csv.gz"
    with gzip.open(src, "rt", encoding="utf-8") as fh, gzip.open(out, "wt") as dst:
        for i, line in enumerate(fh):
            if i > N_ROWS:
                break
            dst.write(line)
    return out


def _expected_counts(path: Path) -> dict[str, int]:
    """Counts computed independently with the csv module."""
    kept = no_loc = other = 0
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["Crime type"] not in DEFAULT_GROUPS:
                other += 1
            elif not row["Longitude"]:
                no_loc += 1
            else:
                kept += 1
    return {"kept": kept, "no_loc": no_loc, "other": other}


def test_read_real_bedfordshire_subset(beds_subset: Path, data_dir: Path) -> None:
    want = _expected_counts(beds_subset)
    inc = read_street_crime(beds_subset)
    assert inc.rows_read == N_ROWS
    assert len(inc) == want["kept"]
    assert inc.rows_no_location == want["no_loc"]
    assert inc.rows_other_kind == want["other"]
    assert set(inc.kind) <= set(DEFAULT_GROUPS.values())
    assert inc.resolution == "month"
    assert str(inc.day.min()) == "2021-05-01"
    areas = areas_from_geojson(data_dir / "bedfordshire-lsoa2011.geojson.gz")
    assert len(areas) == 381
    idx = assign_points(areas, inc.lon, inc.lat)
    # data.police.uk points are snapped to map points; a few lie just outside the
    # generalised boundaries: they are counted, never silently dropped
    assert 0 < (idx < 0).sum() < 0.02 * len(inc)


def test_wards_and_h3(data_dir: Path) -> None:
    wards = areas_from_geojson(data_dir / "bedfordshire-wards2013.geojson.gz")
    assert len(wards) == 77
    assert wards.codes[0].startswith("E05")
    hexes = h3_areas([-0.4, -0.41, -0.7], [52.1, 52.1, 51.9], resolution=7)
    assert (assign_points(hexes, [-0.4, -0.41, -0.7], [52.1, 52.1, 51.9]) >= 0).all()
    # the representative point of every area is inside it
    assert (assign_points(wards, wards.lon, wards.lat) == np.arange(len(wards))).all()


def test_bad_police_files(tmp_path: Path) -> None:
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("Crime ID,Month,Lon,Lat,Crime type\n,2021-05,-0.4,52.1,Public order\n")
    with pytest.raises(IngestError, match=r"lacks column\(s\) Longitude, Latitude"):
        read_street_crime(renamed)
    bad_month = tmp_path / "month.csv"
    bad_month.write_text(
        "Month,Longitude,Latitude,Crime type\n"
        "2021-05,-0.4,52.1,Public order\n2021-13,-0.4,52.1,Public order\n"
        "May 2021,-0.4,52.1,Violence and sexual offences\n"
    )
    with pytest.raises(IngestError, match=r"2 rows with a Month .* row 3 \('2021-13'\), row 4"):
        read_street_crime(bad_month)
    bad_day = tmp_path / "inc.csv"
    bad_day.write_text(
        "occurred_at,lon,lat,kind\n2024-01-02,-0.4,52.1,hate\nyesterday,-0.4,52.1,hate\n"
    )
    with pytest.raises(IngestError, match=r"row 3 \('yesterday'\)"):
        read_incidents_csv(bad_day)


def test_non_polygon_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "points.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": "A"},
                        "geometry": {"type": "Point", "coordinates": [-0.4, 52.1]},
                    }
                ],
            }
        )
    )
    with pytest.raises(IngestError, match="feature 0 is Point"):
        areas_from_geojson(path)


def _count_incidents() -> int:
    db = open_database(load_settings())
    try:
        with db.session() as s:
            return int(s.scalar(select(func.count()).select_from(TensionIncidentRow)) or 0)
    finally:
        db.dispose()


def test_cli_ingest_note_scan_levels(
    home: Path, beds_subset: Path, data_dir: Path, tmp_path: Path
) -> None:
    lsoa = data_dir / "bedfordshire-lsoa2011.geojson.gz"
    res = runner.invoke(
        app,
        ["tension", "ingest", str(beds_subset), "--areas", str(lsoa), "--region", "beds", "--json"],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    want = _expected_counts(beds_subset)
    assert summary["stored"] == want["kept"]
    assert summary["rows_without_location"] == want["no_loc"]
    assert summary["outside_every_area"] > 0
    stored = _count_incidents()
    assert stored == want["kept"]

    # a bad file stores nothing
    bad = tmp_path / "bad.csv"
    bad.write_text("Month,Longitude,Latitude,Crime type\nxx,-0.4,52.1,Public order\n")
    res = runner.invoke(app, ["tension", "ingest", str(bad), "--region", "beds"])
    assert res.exit_code == 2
    assert "row 2 ('xx')" in res.output
    assert _count_incidents() == stored

    # non-polygon boundaries: nothing stored either
    pts = tmp_path / "pts.geojson"
    pts.write_text('{"type":"FeatureCollection","features":[{"type":"Feature",'
                   '"properties":{"code":"A"},"geometry":{"type":"LineString",'
                   '"coordinates":[[0,0],[1,1]]}}]}')  # fmt: skip
    res = runner.invoke(app, ["tension", "ingest", str(beds_subset), "--areas", str(pts)])
    assert res.exit_code == 2
    assert "LineString" in res.output
    assert _count_incidents() == stored

    res = runner.invoke(
        app,
        ["tension", "note", "--region", "beds", "--area", "E01017453", "--date", "2021-07-20",
         "--indicator", "leaflets", "--severity", "5", "--text", "Leaflets at the mosque"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        ["tension", "note", "--region", "beds", "--area", "NOPE", "--date", "2021-07-20",
         "--indicator", "leaflets", "--severity", "3", "--text", "x"],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "not an area" in res.output

    out = tmp_path / "alerts.geojson"
    res = runner.invoke(
        app,
        ["tension", "scan", "--region", "beds", "--replicates", "99", "--seed", "1",
         "--json", "--out", str(out), "--plots", str(tmp_path / "png")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert doc["resolution"] == "month"
    assert doc["levels"]["E01017453"]["level"] >= 4  # severity-5 note within 14 days
    assert json.loads(out.read_text())["type"] == "FeatureCollection"
    assert (tmp_path / "png" / "tension-map.png").stat().st_size > 0

    levels = tension_levels(load_settings(), "beds")
    assert len(levels) == 381
    assert levels["E01017453"][0] >= 4
    areas = areas_from_geojson(lsoa)
    i = areas.codes.index("E01017453")
    sites = SimpleNamespace(
        site_id=["n1", "n2"],
        lon=np.array([areas.lon[i], 10.0]),
        lat=np.array([areas.lat[i], 10.0]),
    )
    by_site = tension_levels(load_settings(), "beds", sites=sites)
    assert set(by_site) == {"n1"}  # the second site is outside every area
    assert by_site["n1"] == levels["E01017453"]


def test_daily_scan_finds_an_injected_cluster(home: Path, data_dir: Path, tmp_path: Path) -> None:
    areas = areas_from_geojson(data_dir / "bedfordshire-wards2013.geojson.gz")
    rng = np.random.default_rng(11)
    end = date(2024, 4, 30)
    rows = []
    for d in range(120):
        day = end - timedelta(days=119 - d)
        for i in rng.integers(0, len(areas), size=rng.poisson(40)):
            rows.append((day.isoformat(), areas.lon[i], areas.lat[i], "public_order"))
    target = 5
    for d in range(3):
        day = end - timedelta(days=d)
        rows.extend((day.isoformat(), areas.lon[target], areas.lat[target], "public_order")
                    for _ in range(8))  # fmt: skip
    path = tmp_path / "incidents.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["occurred_at", "lon", "lat", "kind"])
        w.writerows(rows)
    settings = load_settings()
    ingest_file(
        settings, path, region="daily", areas_path=data_dir / "bedfordshire-wards2013.geojson.gz"
    )
    report = run_scan(settings, region="daily", replicates=99, seed=3, history_days=120)
    assert report.resolution == "day"
    top = report.alerts[0]
    assert top.method == "space-time-permutation"
    assert areas.codes[target] in top.area_codes
    assert top.p_value <= 0.01
    assert report.levels[areas.codes[target]][0] >= 3
    assert "public order incidents" in top.reason
    # event window from 3 days before the end: the target area leads, 24 against ~3
    ew = event_window_report(settings, region="daily", event_day=end - timedelta(days=2), days=3)
    first = ew["areas"][0]
    assert first["code"] == areas.codes[target]
    assert first["observed"] >= 24
    assert first["ratio_lower"] > 1.0
    assert ew["start"] == (end - timedelta(days=2)).isoformat()
    with pytest.raises(InvalidInputError, match="longer than half"):
        run_scan(settings, region="daily", max_days=80, replicates=0, history_days=120)
