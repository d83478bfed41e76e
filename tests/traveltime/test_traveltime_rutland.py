"""Travel times on real Rutland roads (OpenStreetMap, 2022) and the ``travel`` commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from typer.testing import CliRunner

from tests.traveltime.traveltime_graphs import scipy_reference
from watchfloor.cli.main import app
from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.roads.speeds import blue_light_travel_time_s
from watchfloor.services.regions import open_region
from watchfloor.services.travel import (
    engine_with_hierarchy,
    isochrone_between,
    travel_time_between,
)
from watchfloor.settings import Settings
from watchfloor.storage.regions import Region
from watchfloor.traveltime import TravelTimeEngine

OAKHAM = (-0.7333, 52.6705)
UPPINGHAM = (-0.7230, 52.5870)
LEICESTER = (-1.1300, 52.6300)

runner = CliRunner()


@pytest.fixture(scope="module")
def settings(rutland_region: Region) -> Settings:
    return Settings(home=rutland_region.path.parent.parent)


@pytest.fixture
def cli_home(rutland_region: Region, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = rutland_region.path.parent.parent
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    return home


def test_oakham_to_uppingham_is_a_plausible_drive(settings: Settings) -> None:
    answer = travel_time_between("rutland", settings, origin=OAKHAM, destination=UPPINGHAM)
    # About 10 km by the A6003: between 8 and 20 minutes by car, 9-14 km of road.
    assert answer.status == "ok"
    assert 8 * 60 <= answer.travel_time_s <= 20 * 60
    assert 9_000 <= answer.length_m <= 14_000
    assert answer.from_snap_m < 200
    assert answer.to_snap_m < 200
    back = travel_time_between("rutland", settings, origin=UPPINGHAM, destination=OAKHAM)
    assert back.travel_time_s == pytest.approx(answer.travel_time_s, rel=0.25)
    blue = travel_time_between(
        "rutland", settings, origin=OAKHAM, destination=UPPINGHAM, profile="blue_light"
    )
    # Blue lights are never slower.
    assert blue.travel_time_s <= answer.travel_time_s


def test_rutland_agrees_with_scipy(rutland_region: Region) -> None:
    engine = TravelTimeEngine(rutland_region.graph)
    ip, ix, w = engine.csr()
    rng = np.random.default_rng(5)
    sources = rng.integers(0, engine.n_nodes, 25)
    targets = rng.integers(0, engine.n_nodes, 200)
    want = scipy_reference(ip, ix, w, sources)
    # The region is one strongly connected component: every pair is reachable.
    assert np.isfinite(want).all()
    np.testing.assert_allclose(engine.many_to_all(sources), want, rtol=0, atol=1e-6)
    for method in ("dijkstra", "ch"):
        got = engine.matrix(sources, targets, method=method)  # type: ignore[arg-type]
        np.testing.assert_allclose(got, want[:, targets], rtol=0, atol=1e-6)
    blue = TravelTimeEngine(
        rutland_region.graph, weights=blue_light_travel_time_s(rutland_region.graph)
    )
    bip, bix, bw = blue.csr()
    np.testing.assert_allclose(
        blue.matrix(sources, targets, method="ch"),
        scipy_reference(bip, bix, bw, sources)[:, targets],
        rtol=0,
        atol=1e-6,
    )


def test_sites_snap_to_the_nodes_the_engine_finds(rutland_region: Region) -> None:
    sites = rutland_region.sites
    engine = TravelTimeEngine(rutland_region.graph)
    _node, dist = engine.nearest_nodes_xy(sites.x_m, sites.y_m)
    np.testing.assert_allclose(dist, sites.snap_m, atol=0.5)


def test_route_geometry_follows_the_roads(settings: Settings) -> None:
    answer = travel_time_between("rutland", settings, origin=OAKHAM, destination=UPPINGHAM)
    coords = np.array(answer.route["geometry"]["coordinates"])
    assert coords.shape[0] > 20
    lon, lat = coords.T
    assert abs(lon[0] - OAKHAM[0]) < 0.005
    assert abs(lat[-1] - UPPINGHAM[1]) < 0.005


def test_isochrone_bands_around_oakham(settings: Settings, rutland_region: Region) -> None:
    fc = isochrone_between("rutland", settings, origin=OAKHAM, minutes=[5, 10])
    five, ten = (shape(f["geometry"]) for f in fc["features"])
    engine = TravelTimeEngine(rutland_region.graph)
    start = fc["properties"]["from"]["node"]
    time_s = engine.one_to_all(start)
    g = rutland_region.graph
    within = time_s <= 600
    both = shapely.union_all([five, ten])
    assert shapely.contains_xy(both, g.lon[within], g.lat[within]).all()
    # Uppingham is more than 10 minutes away: outside both bands.
    assert not both.contains(shapely.Point(UPPINGHAM))
    assert five.contains(shapely.Point(OAKHAM))


def test_service_errors(settings: Settings) -> None:
    with pytest.raises(InvalidInputError, match="--minutes must be positive"):
        isochrone_between("rutland", settings, origin=OAKHAM, minutes=[-5])
    with pytest.raises(InvalidInputError, match=r"--to: point -1\.13000,52\.63000 is 2\d\.\d km"):
        travel_time_between("rutland", settings, origin=OAKHAM, destination=LEICESTER)
    with pytest.raises(InvalidInputError, match="profile 'bike' is unknown"):
        travel_time_between(
            "rutland", settings, origin=OAKHAM, destination=UPPINGHAM, profile="bike"
        )
    with pytest.raises(NotFoundError, match="region 'atlantis' is not built"):
        travel_time_between("atlantis", settings, origin=OAKHAM, destination=UPPINGHAM)


def test_hierarchy_is_cached_in_the_region_folder(rutland_region: Region, tmp_path: Path) -> None:
    # Work on a copy: the shared region stays untouched.
    home = tmp_path / "home"
    shutil.copytree(rutland_region.path, home / "regions" / "rutland")
    region = open_region("rutland", Settings(home=home))
    first = engine_with_hierarchy(region, profile="blue_light")
    cached = region.path / "traveltime" / "ch-blue_light.npz"
    assert cached.is_file()
    again = engine_with_hierarchy(region, profile="blue_light")
    assert again.has_hierarchy
    assert again.hierarchy().fingerprint == first.hierarchy().fingerprint
    nodes = np.arange(0, region.graph.n_nodes, 97)
    np.testing.assert_allclose(
        again.matrix(nodes, nodes), first.matrix(nodes, nodes, method="dijkstra"), atol=1e-6
    )
    # A stale cache (other weights) is rebuilt, not trusted.
    normal = engine_with_hierarchy(region, profile="normal")
    cached.replace(region.path / "traveltime" / "ch-normal.npz")
    rebuilt = engine_with_hierarchy(region, profile="normal")
    assert rebuilt.hierarchy().fingerprint == normal.hierarchy().fingerprint


def test_cli_time_table_json_and_route_file(cli_home: Path, tmp_path: Path) -> None:
    args = ["travel", "time", "--region", "rutland", "--from", "-0.7333,52.6705"]
    args += ["--to", "-0.7230,52.5870"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "min" in table.output
    assert "km" in table.output
    out = tmp_path / "route.geojson"
    result = runner.invoke(
        app, ["-q", *args, "--json", "--profile", "blue_light", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    assert data["status"] == "ok"
    assert data["profile"] == "blue_light"
    assert 5 <= data["travel_time_min"] <= 20
    route = json.loads(out.read_text())
    assert route["features"][0]["geometry"]["type"] == "LineString"


def test_cli_isochrone_writes_nested_bands(cli_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "iso.geojson"
    args = ["-q", "travel", "isochrone", "--region", "rutland", "--from", "-0.7333,52.6705"]
    result = runner.invoke(
        app, [*args, "--minutes", "4", "--minutes", "8", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert [b["minutes"] for b in summary["bands"]] == [4, 8]
    fc = json.loads(out.read_text())
    assert [f["properties"]["budget_s"] for f in fc["features"]] == [240.0, 480.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["isochrone", "--from", "-0.7333,52.6705", "--minutes", "-5", "--out", "x.geojson"],
            "--minutes must be positive",
        ),
        (["time", "--from", "-1.5,52.67", "--to", "-0.7230,52.5870"], "km from the nearest road"),
        (["time", "--from", "52.67", "--to", "-0.7230,52.5870"], "is not LON,LAT"),
        (
            ["time", "--from", "-0.7333,52.6705", "--to", "-0.72,52.58", "--region", "nowhere"],
            "region 'nowhere' is not built",
        ),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(
    cli_home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["-q", "travel", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.geojson").exists()
