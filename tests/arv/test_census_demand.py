"""ARV demand from real census data on a region where the boundaries match.

The only real road data here is Rutland, and Rutland's LSOAs are not in the
boundary files; Bedfordshire's are (with census 2011 and 2021 populations). So
the region here is a small generated road network (``synthetic_county``) moved
to lie over Bedford: its roads are made up, the LSOA boundaries and census counts
are real. Known answer: the population part of the demand, summed over the road
nodes of each LSOA, is that LSOA's census population over the total of the LSOAs
that hold a node (read here straight from the files, point-in-polygon by shapely).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from watchfloor.geo import bng_to_lonlat
from watchfloor.roads.synthetic import synthetic_county
from watchfloor.services.arv import (
    ArvProblem,
    DemandOptions,
    build_problem,
    evaluate_bases,
    plan_bases,
)
from watchfloor.sites.register import SiteRegister
from watchfloor.storage.regions import Region

#: Bedford town centre in British National Grid metres (the generated county is moved here).
BEDFORD_M = (505_000.0, 249_500.0)
LSOA = "bedfordshire-lsoa2011.geojson.gz"
CENSUS_2011 = "census2011-population-households-lsoa2011-ew.csv.gz"


@pytest.fixture(scope="module")
def bedford(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Region:
    g = synthetic_county(3000, seed=4)
    dx = BEDFORD_M[0] - float(np.mean(g.x_m))
    dy = BEDFORD_M[1] - float(np.mean(g.y_m))
    x, y = g.x_m + dx, g.y_m + dy
    lon, lat = bng_to_lonlat(x, y)
    moved = dataclasses.replace(
        g,
        x_m=x,
        y_m=y,
        lon=np.asarray(lon, dtype=np.float64),
        lat=np.asarray(lat, dtype=np.float64),
    )
    return Region(
        name="bedford-generated",
        graph=moved,
        sites=SiteRegister.empty(),
        meta={},
        path=tmp_path_factory.mktemp("bedford"),
    )


@pytest.fixture(scope="module")
def census_problem(bedford: Region, data_dir: Path) -> ArvProblem:
    return build_problem(
        bedford,
        demand=DemandOptions(
            areas_path=data_dir / LSOA,
            population_path=data_dir / CENSUS_2011,
        ),
        standards_s={"urban": 480, "rural": 480, "remote": 480},
        n_generated=40,
        spacing_m=800.0,
    )


def _census_2011(path: Path) -> dict[str, float]:
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows)
        code = header.index("LSOA Code")
        persons = header.index("Persons")  # the first: all usual residents
        return {r[code]: float(r[persons].replace(",", "")) for r in rows}


def _lsoa_of_nodes(path: Path, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    codes = np.array([f["properties"]["LSOA11CD"] for f in features])
    tree = shapely.STRtree([shape(f["geometry"]) for f in features])
    point_idx, area_idx = tree.query(shapely.points(lon, lat), predicate="intersects")
    out = np.full(lon.size, "", dtype=object)
    out[point_idx] = codes[area_idx]
    return out


def test_census_population_is_the_demand(
    census_problem: ArvProblem, bedford: Region, data_dir: Path
) -> None:
    g = bedford.graph
    node_lsoa = _lsoa_of_nodes(data_dir / LSOA, g.lon, g.lat)
    people = _census_2011(data_dir / CENSUS_2011)
    held = sorted({c for c in node_lsoa.tolist() if c})
    assert len(held) >= 10  # a 7 x 6 km network over Bedford crosses many LSOAs
    source = census_problem.demand_sources[0]
    assert source.startswith(f"100% census population of {len(held)} areas ({CENSUS_2011})")
    total = sum(people[c] for c in held)
    demand = np.zeros(g.n_nodes)
    demand[census_problem.atom_node] = census_problem.demand
    for code in held:
        got = float(demand[node_lsoa == code].sum())
        assert got == pytest.approx(people[code] / total, rel=1e-9, abs=1e-12), code
    # nodes outside every LSOA carry no demand
    assert demand[node_lsoa == ""].sum() == pytest.approx(0.0, abs=1e-15)


def test_plan_and_evaluate_on_census_demand(census_problem: ArvProblem) -> None:
    plan = plan_bases(census_problem, n_units=3, model="mexclp", time_limit_s=30)
    assert plan.status == "optimal"
    ev = evaluate_bases(census_problem, plan.sites, calls_per_day=8.0, simulate_days=60)
    assert 0.5 <= ev["coverage"] <= 1.0
    assert ev["hypercube"]["method"] == "exact"
    # the hourly model (flat day: one steady state) and a 60-day simulation agree
    # on the share within the 8-minute standard to within 3 points (~480 calls)
    hb = ev["hypercube_by_hour"]
    assert hb["n_solves"] == 1
    assert abs(hb["fraction_within_standard"] - ev["simulation"]["fraction_within_standard"]) < 0.03
