"""POST /api/arv/dispatch on the Rutland region: ranking, login, field-level 422s."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

with warnings.catch_warnings():
    # starlette's TestClient warns that it wants httpx2; httpx is what is installed.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from tests.ops.conftest import SECRET, log_in, small_room
from watchfloor.roads.speeds import blue_light_travel_time_s
from watchfloor.services.arv import PlanUnits, dispatch_advice
from watchfloor.settings import Settings
from watchfloor.storage.db import upgrade_database
from watchfloor.storage.regions import Region
from watchfloor.traveltime import TravelTimeEngine
from watchfloor.web.app import WebOptions, create_app


@pytest.fixture
def settings(rutland_region: Region, tmp_path: Any) -> Settings:
    home = rutland_region.path.parent.parent
    result = Settings(home=home, database_url=f"sqlite:///{tmp_path / 'arv.db'}", secret_key=SECRET)
    upgrade_database(result)
    return result


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, options=WebOptions(rate_limit_per_minute=10_000))
    app.state.ops_room = small_room(settings)
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client
    app.state.ops_room.close()


def _units(
    region: Region, nodes: list[int], busy: frozenset[int] = frozenset()
) -> list[dict[str, Any]]:
    g = region.graph
    return [
        {
            "unit": f"ARV{i + 1}",
            "lon": float(g.lon[n]),
            "lat": float(g.lat[n]),
            "state": "busy" if i in busy else "available",
        }
        for i, n in enumerate(nodes)
    ]


def test_dispatch_needs_a_staff_login(client: TestClient, rutland_region: Region) -> None:
    g = rutland_region.graph
    body = {
        "region": "rutland",
        "incident": {"lon": float(g.lon[0]), "lat": float(g.lat[0])},
        "units": _units(rutland_region, [1, 2]),
    }
    response = client.post("/api/arv/dispatch", json=body)
    assert response.status_code == 401


def test_dispatch_ranks_by_road_eta_like_the_cli(
    client: TestClient, settings: Settings, rutland_region: Region
) -> None:
    log_in(client, settings, "duty", "supervisor")
    g = rutland_region.graph
    w = blue_light_travel_time_s(g)
    rng = np.random.default_rng(8)
    nodes = [int(n) for n in rng.choice(g.n_nodes, 8, replace=False)]
    adj = csr_array((w, g.indices, g.indptr), shape=(g.n_nodes, g.n_nodes))
    dist = dijkstra(adj, indices=nodes)
    engine = TravelTimeEngine(g, weights=w)
    for target in rng.choice(g.n_nodes, 3, replace=False).tolist():
        lon, lat = float(g.lon[target]), float(g.lat[target])
        body = {
            "region": "rutland",
            "incident": {"lon": lon, "lat": lat},
            "units": _units(rutland_region, nodes, busy=frozenset({2, 5})),
        }
        response = client.post("/api/arv/dispatch", json=body)
        assert response.status_code == 200, response.text
        out = response.json()
        assert out["busy"] == ["ARV3", "ARV6"]
        # Dijkstra from each unit's node to the incident's node, busy units left out
        expected = sorted(
            (float(dist[i, target]), i, f"ARV{i + 1}") for i in range(8) if i not in (2, 5)
        )
        assert [r["unit"] for r in out["ranking"]] == [u for _, _, u in expected]
        np.testing.assert_allclose(
            [r["eta_s"] for r in out["ranking"]], [e for e, _, _ in expected], rtol=1e-9
        )
        assert [r["rank"] for r in out["ranking"]] == list(range(1, 7))
        # after the first answer the units' times are kept: the next ones are lookups
        kept = client.app.state.arv_unit_times["rutland"]  # type: ignore[attr-defined]
        assert len(kept) == 8
        assert kept.etas(np.array(nodes), target) is not None
        # the very function behind `watchfloor arv dispatch`
        plan = PlanUnits(
            unit=tuple(f"ARV{i + 1}" for i in range(8)),
            lon=g.lon[nodes],
            lat=g.lat[nodes],
            region="rutland",
        )
        cli = dispatch_advice(engine, plan, lon=lon, lat=lat, busy=["ARV3", "ARV6"])
        # (forward and reverse searches add the same edges in another order: equal to
        # the last bits)
        assert [r["unit"] for r in out["ranking"]] == [r["unit"] for r in cli]
        np.testing.assert_allclose(
            [r["eta_s"] for r in out["ranking"]], [r["eta_s"] for r in cli], rtol=1e-12
        )


def _problem(response: Any) -> tuple[str, str]:
    body = response.json()
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return body["errors"][0]["field"], body["detail"]


def test_bad_dispatch_input_is_422_with_the_field(
    client: TestClient, settings: Settings, rutland_region: Region
) -> None:
    log_in(client, settings, "duty", "supervisor")
    g = rutland_region.graph
    inside = {"lon": float(g.lon[10]), "lat": float(g.lat[10])}
    units = _units(rutland_region, [100, 200])

    def post(**change: Any) -> Any:
        return client.post(
            "/api/arv/dispatch",
            json={"region": "rutland", "incident": inside, "units": units} | change,
        )

    # incident in Sheffield, ~100 km from Rutland's roads
    field, detail = _problem(post(incident={"lon": -1.47, "lat": 53.38}))
    assert field == "incident"
    assert "give a location inside the region" in detail
    # a unit without a position that the (not yet planned) region does not know
    field, detail = _problem(post(units=[{"unit": "ARV9", "state": "busy"}]))
    assert field == "units[0].unit"
    assert "unknown unit ARV9" in detail
    field, detail = _problem(post(units=[]))
    assert field == "units"
    field, detail = _problem(post(units=[units[0], units[0]]))
    assert field == "units[1]"
    assert "listed twice" in detail
    far = {**units[1], "lon": 0.5, "lat": 51.5}  # the Thames estuary
    field, detail = _problem(post(units=[units[0], far]))
    assert field == "units[1]"
    assert "unit ARV2" in detail
    field, detail = _problem(post(units=[{"unit": "ARV1", "lon": -0.7}]))
    assert field == "units.0"
    assert "both lon and lat" in detail
    field, detail = _problem(post(region="bedfordshire"))
    assert field == "region"
    assert "not built" in detail
    field, _ = _problem(post(incident={"lon": 200, "lat": 52.6}))
    assert field == "incident.lon"
    every_busy = [{**u, "state": "busy"} for u in units]
    response = post(units=every_busy)
    assert response.status_code == 422
    assert "every unit is busy" in response.json()["detail"]


def test_units_without_position_take_their_planned_base(
    client: TestClient, settings: Settings, rutland_region: Region
) -> None:
    from tests.ops.test_dashboard_api import declare, wait_job  # noqa: PLC0415

    log_in(client, settings, "duty", "supervisor")
    job = wait_job(client, declare(client).json()["job_id"])
    assert job["status"] == "done", job["error"]
    bases = client.get("/api/ops/rutland/arv/bases").json()["features"]
    assert len(bases) == 2  # the small test force has two ARVs
    first = bases[0]
    lon, lat = first["geometry"]["coordinates"]
    unit = first["properties"]["unit"]
    other = bases[1]["properties"]["unit"]
    response = client.post(
        "/api/arv/dispatch",
        json={
            "region": "rutland",
            "incident": {"lon": lon, "lat": lat},
            "units": [{"unit": other}, {"unit": unit}],
        },
    )
    assert response.status_code == 200, response.text
    ranking = response.json()["ranking"]
    # the incident is at the first unit's base: it comes first, 0 s away
    assert ranking[0]["unit"] == unit
    assert ranking[0]["eta_s"] == pytest.approx(0.0, abs=1e-6)
    assert [r["unit"] for r in ranking] == [unit, other]
