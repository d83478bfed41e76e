"""ARV service and CLI on the real Rutland region: plan, evaluate, dispatch, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from typer.testing import CliRunner

from watchfloor.cli.main import app
from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.ingest.demand import read_population_csv
from watchfloor.roads.speeds import blue_light_travel_time_s
from watchfloor.services.arv import (
    ArvProblem,
    PlanUnits,
    UnitTimeCache,
    build_problem,
    calls_by_hour,
    dispatch_advice,
    evaluate_bases,
    parse_duration_s,
    plan_bases,
    read_plan,
    station_bases,
)
from watchfloor.storage.regions import Region
from watchfloor.traveltime import TravelTimeEngine


@pytest.fixture(scope="module")
def problem(rutland_region: Region) -> ArvProblem:
    return build_problem(rutland_region, standards_s={"urban": 480, "rural": 480, "remote": 480})


@pytest.fixture
def rutland_home(rutland_region: Region, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = rutland_region.path.parent.parent
    monkeypatch.setenv("WATCHFLOOR_HOME", str(home))
    return home


def test_problem_states_its_demand_proxy(problem: ArvProblem) -> None:
    # Rutland has no census or crime data here: the proxy must be named in the output.
    assert any("residential road length" in s for s in problem.demand_sources)
    assert problem.demand.sum() == pytest.approx(1.0)
    assert "police_station" in problem.candidate_kind
    assert problem.travel_s.shape == (problem.candidate_node.size, problem.atom_node.size)


def test_mexclp_beats_or_equals_stations_on_coverage(problem: ArvProblem) -> None:
    plan = plan_bases(problem, n_units=3, model="mexclp", time_limit_s=30)
    assert plan.status == "optimal"
    ours = evaluate_bases(problem, plan.sites)
    naive = evaluate_bases(problem, station_bases(problem, 3))
    # MEXCLP maximises expected coverage over all candidates, stations included,
    # so its plain coverage can't be far below the stations' (and is usually above).
    assert ours["coverage"] >= naive["coverage"] - 0.02
    assert 0 <= ours["coverage_one_unit_busy_min"] <= ours["coverage"] <= 1
    hq = ours["hypercube"]
    assert hq["method"] == "exact"
    assert sum(hq["workload"]) == pytest.approx(6.0 * 2700 / 86400, rel=1e-6)


@pytest.mark.parametrize("model", ["mclp", "pmedian", "pcenter", "backup"])
def test_other_models_plan(problem: ArvProblem, model: str) -> None:
    plan = plan_bases(problem, n_units=3, model=model, time_limit_s=30)
    assert plan.sites.size == 3
    assert plan.gap <= 0.01


def test_dispatch_matches_dijkstra(rutland_region: Region, tmp_path: Path) -> None:
    g = rutland_region.graph
    w = blue_light_travel_time_s(g)
    engine = TravelTimeEngine(g, weights=w)
    rng = np.random.default_rng(3)
    unit_nodes = rng.choice(g.n_nodes, 12, replace=False)
    plan = PlanUnits(
        unit=tuple(f"ARV{i + 1}" for i in range(12)),
        lon=g.lon[unit_nodes],
        lat=g.lat[unit_nodes],
        region="rutland",
    )
    adj = csr_array((w, g.indices, g.indptr), shape=(g.n_nodes, g.n_nodes))
    dist = dijkstra(adj, indices=unit_nodes)
    for target in rng.choice(g.n_nodes, 5, replace=False):
        ranking = dispatch_advice(
            engine, plan, lon=float(g.lon[target]), lat=float(g.lat[target]), busy=["ARV2"]
        )
        expected = sorted((float(dist[i, target]), f"ARV{i + 1}") for i in range(12) if i != 1)
        got = [(r["eta_s"], r["unit"]) for r in ranking]
        assert [u for _, u in got] == [u for _, u in expected]
        np.testing.assert_allclose([e for e, _ in got], [e for e, _ in expected], rtol=1e-9)


def test_unit_time_cache_is_exact_and_bounded(rutland_region: Region) -> None:
    g = rutland_region.graph
    w = blue_light_travel_time_s(g)
    engine = TravelTimeEngine(g, weights=w)
    # room for two rows: a third evicts the least recently used
    cache = UnitTimeCache(engine, max_bytes=2 * 8 * g.n_nodes)
    a, b, c = 10, 2000, 4000
    assert cache.etas(np.array([a, b]), 5) is None
    assert cache.add(np.array([a, b, a])) == 2
    dist = dijkstra(csr_array((w, g.indices, g.indptr), shape=(g.n_nodes,) * 2), indices=[a, b, c])
    np.testing.assert_allclose(cache.etas(np.array([b, a]), 77), dist[[1, 0], 77], rtol=1e-12)
    cache.etas(np.array([a]), 0)  # a is now the most recently used
    assert cache.add(np.array([c])) == 1
    assert len(cache) == 2
    assert cache.etas(np.array([b]), 0) is None  # b was dropped
    np.testing.assert_allclose(cache.etas(np.array([c, a]), 9), dist[[2, 0], 9], rtol=1e-12)


def test_service_errors(problem: ArvProblem) -> None:
    with pytest.raises(InvalidInputError, match="candidate bases"):
        plan_bases(problem, n_units=problem.candidate_node.size + 1)
    with pytest.raises(InvalidInputError, match="unknown model"):
        plan_bases(problem, n_units=2, model="nearest")
    tight = ArvProblem(**{**problem.__dict__, "standard_s": problem.standard_s * 0 + 5.0})
    with pytest.raises(InfeasibleError, match="raise the standard"):
        plan_bases(tight, n_units=2)
    with pytest.raises(InvalidInputError, match="cannot read duration"):
        parse_duration_s("eight minutes")
    assert parse_duration_s("8m") == 480.0


def test_calls_by_hour() -> None:
    flat = calls_by_hour("flat", 12.0)
    assert flat.tolist() == [0.5] * 24
    custom = calls_by_hour(",".join(["0"] * 23 + ["1"]), 6.0)
    assert custom[23] == 6.0
    assert custom[:23].sum() == 0.0
    night = calls_by_hour("night", 24.0)
    assert night.sum() == pytest.approx(24.0)
    with pytest.raises(InvalidInputError, match="not all zero"):
        calls_by_hour(",".join(["0"] * 24), 6.0)
    with pytest.raises(InvalidInputError, match="neither flat nor night"):
        calls_by_hour("evening", 6.0)


def test_evaluate_flat_day_by_hour_equals_steady_state(problem: ArvProblem) -> None:
    ev = evaluate_bases(problem, station_bases(problem, 2), calls_per_day=10.0)
    hq, hb = ev["hypercube"], ev["hypercube_by_hour"]
    assert hb["n_solves"] == 1
    assert hb["fraction_within_standard"] == pytest.approx(hq["fraction_within_standard"])
    assert hb["p90_response_s"] == pytest.approx(hq["p90_response_s"], abs=2e-3)
    overloaded = evaluate_bases(
        problem,
        station_bases(problem, 2),
        calls_per_hour=calls_by_hour("night", 60.0),
        mean_service_s=2700.0,
    )
    # 60 calls a day, 45 min each: 2.5 Erlang at the night peak on 2 units
    assert "no steady state in hour(s) 00:00" in overloaded["hypercube_by_hour"]["note"]


def test_read_population_csv(data_dir: Path) -> None:
    people = read_population_csv(data_dir / "census2011-population-households-lsoa2011-ew.csv.gz")
    # County Durham 001A: 1,563 usual residents (first data row of the census table)
    assert people["E01020634"] == 1563.0


def test_cli_end_to_end(rutland_home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "plan.geojson"
    png = tmp_path / "plan.png"
    res = runner.invoke(
        app,
        [
            "-q",
            "arv",
            "plan",
            "--region",
            "rutland",
            "--units",
            "3",
            "--standard",
            "8m",
            "--json",
            "--out",
            str(out),
            "--png",
            str(png),
            "--simulate-days",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(doc["bases"]) == 3
    assert 0 < doc["evaluation"]["coverage"] <= 1
    assert png.stat().st_size > 10_000
    plan = read_plan(out)
    assert plan.unit == ("ARV1", "ARV2", "ARV3")
    geo = json.loads(out.read_text())
    assert any(f["properties"]["role"] == "isochrone" for f in geo["features"])
    res = runner.invoke(
        app,
        [
            "-q",
            "arv",
            "evaluate",
            "--region",
            "rutland",
            "--plan",
            str(out),
            "--hour-profile",
            "night",
            "--calls-per-day",
            "12",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    ev = json.loads(res.stdout.strip().splitlines()[-1])["evaluation"]
    hb = ev["hypercube_by_hour"]
    hours = hb["hours"]
    calls = np.array([h["calls"] for h in hours])
    assert calls.sum() == pytest.approx(12.0)
    assert calls.max() == pytest.approx(2 * calls[12])  # night peak twice the midday rate
    assert hb["n_solves"] == np.unique(calls).size
    # the day's figures are the hours' weighted by their calls
    within = np.array([h["fraction_within_standard"] for h in hours])
    assert hb["fraction_within_standard"] == pytest.approx(float(calls @ within / calls.sum()))
    busy = np.array([h["prob_all_busy"] for h in hours])
    assert busy[hb["busiest_hour"]] == busy.max() > busy[6]
    assert sum(hb["workload"]) == pytest.approx(12.0 * 2700 / 86400, rel=1e-6)
    assert ev["calls_per_day"] == pytest.approx(12.0)
    text = runner.invoke(
        app,
        [
            "-q",
            "arv",
            "evaluate",
            "--region",
            "rutland",
            "--plan",
            str(out),
            "--hour-profile",
            "night",
            "--simulate-days",
            "2",
        ],
    )
    assert text.exit_code == 0, text.output
    assert "by hour" in text.stdout
    assert "busiest hour 00:00" in text.stdout
    lon, lat = plan.lon[0], plan.lat[0]
    res = runner.invoke(
        app,
        [
            "-q",
            "arv",
            "dispatch",
            "--region",
            "rutland",
            "--plan",
            str(out),
            "--at",
            f"{lon},{lat}",
            "--busy",
            "ARV2",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    ranking = json.loads(res.stdout.strip().splitlines()[-1])["ranking"]
    assert ranking[0]["unit"] == "ARV1"
    assert ranking[0]["eta_s"] == pytest.approx(0.0, abs=1e-6)
    assert [r["unit"] for r in ranking] == ["ARV1", "ARV3"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--region", "rutland", "--units", "999"], "candidate bases"),
        (
            ["plan", "--region", "rutland", "--units", "2", "--standard", "10s"],
            "raise the standard",
        ),
        (["plan", "--region", "rutland", "--units", "0"], "at least 1"),
        (
            [
                "dispatch",
                "--region",
                "rutland",
                "--plan",
                "PLAN",
                "--at",
                "-0.7,52.6",
                "--busy",
                "ARV9",
            ],
            "unknown unit",
        ),
        (
            ["dispatch", "--region", "rutland", "--plan", "PLAN", "--at", "-1.5,53.5"],
            "give a location inside the region",
        ),
        (["evaluate", "--region", "rutland", "--plan", "missing.geojson"], "does not exist"),
        (
            ["evaluate", "--region", "rutland", "--plan", "PLAN", "--hour-profile", "1,2,3"],
            "24 comma-separated weights",
        ),
    ],
)
def test_cli_bad_input_exit_2(
    rutland_home: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    plan = tmp_path / "p.geojson"
    plan.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [-0.72, 52.66]},
                        "properties": {"role": "base", "unit": "ARV1"},
                    }
                ],
            }
        )
    )
    args = [str(plan) if a == "PLAN" else a for a in args]
    res = CliRunner().invoke(app, ["-q", "arv", *args])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output
