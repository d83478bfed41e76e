"""Patrol service and CLI: shifts, pins, payoff tables, plans on the real Rutland region."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import watchfloor.services.patrol as patrol_service
from watchfloor.cli.main import app
from watchfloor.errors import InfeasibleError, InvalidInputError
from watchfloor.services.patrol import (
    game_from_csv_text,
    parse_pin,
    parse_shift,
    plan_for_region,
    plan_patrols,
    plan_to_dict,
    plan_to_geojson,
    write_briefings,
)
from watchfloor.services.regions import RegionCache
from watchfloor.settings import Settings
from watchfloor.storage.regions import Region, read_region
from watchfloor.types import LONDON

runner = CliRunner()

GAME = """target,defender_covered,defender_uncovered,attacker_covered,attacker_uncovered
mosque,0,-10,-5,10
church,0,-5,-2,5
station,0,-8,-4,8
"""


def test_parse_shift_forms() -> None:
    start, end = parse_shift("2026-06-19T06:00/14:00")
    assert start == datetime(2026, 6, 19, 6, 0, tzinfo=LONDON)
    assert end - start == timedelta(hours=8)
    _, end = parse_shift("2026-06-19T22:00/2026-06-20T06:00")
    assert end == datetime(2026, 6, 20, 6, 0, tzinfo=LONDON)
    _, end = parse_shift("2026-06-19T22:00/20T06:00")
    assert end == datetime(2026, 6, 20, 6, 0, tzinfo=LONDON)
    start, end = parse_shift("2026-06-19T06:00+01:00/PT8H")
    assert end - start == timedelta(hours=8)
    with pytest.raises(InvalidInputError, match=r"ends .* before it starts"):
        parse_shift("2026-06-19T14:00/06:00")
    with pytest.raises(InvalidInputError, match="not an ISO 8601 interval"):
        parse_shift("2026-06-19T06:00")
    with pytest.raises(InvalidInputError, match="more than 24 hours"):
        parse_shift("2026-06-19T06:00/2026-06-21T06:00")


def test_parse_pin() -> None:
    pin = parse_pin("P03:Oakham Methodist Church:19:30-20:30")
    assert (pin.unit_id, pin.site, pin.start_hhmm, pin.end_hhmm) == (
        "P03",
        "Oakham Methodist Church",
        "19:30",
        "20:30",
    )
    with pytest.raises(InvalidInputError, match=r"UNIT:SITE:HH:MM-HH:MM"):
        parse_pin("P03:n1:1930")
    with pytest.raises(InvalidInputError, match="not a time of day"):
        parse_pin("P03:n1:25:00-26:00")


def test_game_csv_errors_name_the_problem() -> None:
    with pytest.raises(InvalidInputError, match=r"missing column.*attacker_uncovered"):
        game_from_csv_text(
            "target,defender_covered,defender_uncovered,attacker_covered\na,0,-1,0\n"
        )
    with pytest.raises(InvalidInputError, match="line 3: attacker_covered 'x' is not a number"):
        game_from_csv_text(GAME.replace("-2,5", "x,5"))
    with pytest.raises(InvalidInputError, match="appears twice"):
        game_from_csv_text(GAME + "mosque,0,-1,0,1\n")
    with pytest.raises(InvalidInputError, match="no targets"):
        game_from_csv_text(GAME.splitlines()[0] + "\n")
    bayes = (
        "target,defender_covered,defender_uncovered,attacker_covered,attacker_uncovered,"
        "attacker_type,type_probability\n"
        "a,0,-5,-1,5,x,0.6\nb,0,-1,-1,1,x,0.6\na,0,-1,-1,1,y,0.4\n"
    )
    with pytest.raises(InvalidInputError, match="type 'y' has no row for target"):
        game_from_csv_text(bayes)
    game = game_from_csv_text(bayes + "b,0,-5,-1,5,y,0.4\n")
    assert game.n_types == 2
    np.testing.assert_allclose(game.type_probability, [0.6, 0.4])


def test_cli_game_json(tmp_path: Path) -> None:
    path = tmp_path / "game.csv"
    path.write_text(GAME, encoding="utf-8")
    result = runner.invoke(
        app, ["patrol", "game", "--payoffs", str(path), "--units", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(data) >= {"coverage", "attacker_target", "defender_utility", "attacker_utility"}
    # u* = 440/123 (see tests/patrol/test_game.py), the church is attacked
    assert data["attacker_target"] == "church"
    assert data["attacker_utility"] == pytest.approx(440 / 123)
    bad = tmp_path / "bad.csv"
    bad.write_text("target,foo\na,1\n", encoding="utf-8")
    result = runner.invoke(app, ["patrol", "game", "--payoffs", str(bad), "--units", "1"])
    assert result.exit_code == 2
    assert "missing column" in result.output
    result = runner.invoke(app, ["patrol", "game", "--payoffs", str(path), "--units", "0"])
    assert result.exit_code == 2
    assert "at least 1" in result.output


def _risk(region: Region, n_slots: int) -> np.ndarray:
    # A simple risk array: places of worship 3, crowded places and town centres 2, others 1,
    # with a midday peak.
    weight = {"place_of_worship": 3.0, "crowded_place": 2.0, "town_centre": 2.0}
    base = np.array([weight.get(k, 1.0) for k in region.sites.kind])
    peak = 1.0 + 0.5 * np.sin(np.linspace(0, np.pi, n_slots))
    return base[:, None] * peak[None, :]


def test_plan_on_rutland(rutland_region: Region, tmp_path: Path) -> None:
    start = datetime(2026, 6, 19, 9, 0, tzinfo=LONDON)
    end = start + timedelta(hours=3)
    slots = [start + timedelta(hours=h) for h in range(3)]
    value = _risk(rutland_region, 3)
    plan = plan_for_region(
        rutland_region,
        value,
        slots,
        slot_minutes=60,
        n_units=3,
        n_foot=1,
        shift_start=start,
        shift_end=end,
        seed=42,
    )
    assert plan.seed == 42
    assert all(c.status == "feasible" for c in plan.checks)
    data = plan_to_dict(plan)
    assert data["seed"] == 42
    assert len(data["units"]) == 3
    for unit in data["units"]:
        for visit in unit["route"]["visits"]:
            assert set(visit) >= {"site_id", "arrive", "depart", "dwell_s"}
            assert 600 <= visit["dwell_s"] <= 960
            assert start.isoformat() <= visit["arrive"] < end.isoformat()
    assert data["guarantee"] <= float(value.max()) + 1e-9
    geo = plan_to_geojson(plan)
    lines = [f for f in geo["features"] if f["geometry"]["type"] == "LineString"]
    assert lines
    assert all(len(f["geometry"]["coordinates"]) >= 2 for f in lines)
    files = write_briefings(plan, tmp_path / "brief")
    page = files[0].read_text(encoding="utf-8")
    assert "<svg" in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # the same seed draws the same routes
    again = plan_for_region(
        rutland_region,
        value,
        slots,
        slot_minutes=60,
        n_units=3,
        n_foot=1,
        shift_start=start,
        shift_end=end,
        seed=42,
    )
    assert plan_to_dict(again)["units"] == data["units"]


def test_plan_errors_on_rutland(rutland_region: Region) -> None:
    start = datetime(2026, 6, 19, 9, 0, tzinfo=LONDON)
    slots = [start, start + timedelta(hours=1)]
    value = _risk(rutland_region, 2)
    kw = {"slot_minutes": 60, "shift_start": start, "shift_end": start + timedelta(hours=2)}
    with pytest.raises(InvalidInputError, match="--units must be at least 1"):
        plan_for_region(rutland_region, value, slots, n_units=0, **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="--foot must be between"):
        plan_for_region(rutland_region, value, slots, n_units=1, n_foot=2, **kw)  # type: ignore[arg-type]
    far = int(np.argmax(rutland_region.sites.lon))  # the easternmost site, far from Oakham
    pin = parse_pin(f"P01:{rutland_region.sites.site_id[far]}:09:00-09:20")
    with pytest.raises(InfeasibleError, match="cannot be met"):
        plan_for_region(
            rutland_region,
            value,
            slots,
            n_units=1,
            n_foot=1,
            pins=[pin],
            **kw,  # type: ignore[arg-type]
        )


def test_plan_patrols_reads_the_region_once(rutland_region: Region) -> None:
    """The posture and the plan share one read of the region; a second plan reads nothing."""
    reads: list[Path] = []

    def counting_loader(path: Path) -> Region:
        reads.append(path)
        return read_region(path)

    regions = RegionCache(loader=counting_loader)
    settings = Settings(home=rutland_region.path.parent.parent)
    kw = {"region": "rutland", "event_path": None, "n_units": 2, "seed": 3, "regions": regions}
    first = plan_patrols(settings, shift="2026-06-19T12:00/14:00", **kw)  # type: ignore[arg-type]
    assert reads == [rutland_region.path]
    second = plan_patrols(settings, shift="2026-06-19T14:00/16:00", **kw)  # type: ignore[arg-type]
    assert reads == [rutland_region.path]
    assert first.region == second.region == "rutland"
    assert first.shift_end == second.shift_start


@pytest.mark.slow
def test_cli_plan_on_rutland(
    rutland_region: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHFLOOR_HOME", str(rutland_region.path.parent.parent))
    event = tmp_path / "event.yaml"
    event.write_text(
        "kind: vehicle attack\nat: 2026-06-18T22:10:00+01:00\nplace: London\n"
        "targeted_community: muslim\nthreat_level: severe\n",
        encoding="utf-8",
    )
    out = tmp_path / "routes.geojson"
    result = runner.invoke(
        app,
        [
            "-q",
            "patrol",
            "plan",
            "--region",
            "rutland",
            "--event",
            str(event),
            "--units",
            "2",
            "--shift",
            "2026-06-19T12:00/14:00",
            "--seed",
            "5",
            "--json",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["seed"] == 5
    assert {"guarantee", "coverage", "units"} <= set(data)
    assert json.loads(out.read_text(encoding="utf-8"))["type"] == "FeatureCollection"
    result = runner.invoke(
        app,
        [
            "patrol",
            "plan",
            "--region",
            "rutland",
            "--event",
            str(event),
            "--units",
            "2",
            "--shift",
            "2026-06-19T14:00/12:00",
        ],
    )
    assert result.exit_code == 2
    assert "before it starts" in result.output


def test_patrol_service_public_surface_is_pinned() -> None:
    assert set(patrol_service.__all__) == {
        "DEFAULT_DETERRENCE",
        "GAME_COLUMNS",
        "PatrolPlan",
        "PinRequest",
        "game_from_csv_text",
        "game_solution_to_dict",
        "parse_pin",
        "parse_shift",
        "plan_for_region",
        "plan_patrols",
        "plan_to_dict",
        "plan_to_geojson",
        "solve_game_csv",
        "write_briefings",
        "write_geojson",
    }
    assert all(getattr(patrol_service, name) is not None for name in patrol_service.__all__)
