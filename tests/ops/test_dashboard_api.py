"""The operations-room web API and pages on the Rutland region."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.ops.conftest import log_in
from watchfloor.settings import Settings
from watchfloor.storage.db import upgrade_database
from watchfloor.storage.regions import Region
from watchfloor.web.app import create_app
from watchfloor.web.routes import ops as dashboard

EVENT = {
    "kind": "vehicle attack",
    "place": "Finsbury Park, London",
    "targeted_community": "muslim",
    "threat_level": "severe",
    "playbook": "place-of-worship-attack",
}


def wait_job(client: TestClient, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        job = client.get(f"/api/ops/jobs/{job_id}").json()
        if job["status"] in {"done", "failed"}:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def declare(client: TestClient, **overrides: Any) -> Any:
    at = (datetime.now(UTC) - timedelta(hours=6)).isoformat()
    return client.post("/api/ops/rutland/events", json={**EVENT, "at": at, **overrides})


def test_pages_and_api_need_a_staff_login(app_client: TestClient) -> None:
    response = app_client.get("/api/ops/rutland/status")
    assert response.status_code == 401
    assert response.json()["detail"] == "log in to see this page"
    page = app_client.get("/dashboard", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/staff/login"


def test_declare_event_replans_and_every_layer_is_served(
    app_client: TestClient, region_settings: Settings, rutland_region: Region
) -> None:
    log_in(app_client, region_settings, "duty", "supervisor")
    before = app_client.get("/api/ops/rutland/status").json()
    assert before["plan"] is None
    response = declare(app_client)
    assert response.status_code == 202, response.text
    job = wait_job(app_client, response.json()["job_id"])
    assert job["status"] == "done", job["error"]
    status = app_client.get("/api/ops/rutland/status").json()
    assert status["plan"]["plan_id"] == job["plan_id"]
    assert status["plan"]["timings_s"]["total"] > 0
    assert status["situation"]["threat_level"] == "severe"
    assert status["timeline"][0]["kind"] == "event"
    assert status["diff"]["risen"]
    assert {q["queue"] for q in status["queues"]} >= {"ct", "hate_crime"}

    sites = app_client.get("/api/ops/rutland/sites").json()
    assert len(sites["features"]) == len(rutland_region.sites)
    ranks = sorted(f["properties"]["rank"] for f in sites["features"])
    assert ranks == list(range(1, len(rutland_region.sites) + 1))
    top = max(sites["features"], key=lambda f: f["properties"]["risk"])
    assert top["properties"]["risk_norm"] == 1.0
    assert top["properties"]["reasons"]

    basemap = app_client.get("/api/ops/rutland/basemap")
    assert basemap.headers["content-type"] == "application/geo+json"
    groups = {f["properties"]["group"] for f in basemap.json()["features"]}
    assert groups == {"major", "middle", "minor"}
    for layer in ("patrols", "arv/bases", "arv/isochrones", "tension", "reports"):
        body = app_client.get(f"/api/ops/rutland/{layer}").json()
        assert body["type"] == "FeatureCollection"

    # Dispatch advice on a clicked point: the ARV API's ranking of the planned
    # bases (one function for the CLI, the API and the dashboard), busy units last.
    bases = app_client.get("/api/ops/rutland/arv/bases").json()["features"]
    units = [b["properties"]["unit"] for b in bases]
    assert len(units) >= 2
    lon, lat = rutland_region.graph.lon[100], rutland_region.graph.lat[100]
    click = {"lon": float(lon), "lat": float(lat), "busy": units[0]}
    advice = app_client.get("/api/ops/rutland/dispatch", params=click)
    assert advice.status_code == 200, advice.text
    api = app_client.post(
        "/api/arv/dispatch",
        json={
            "region": "rutland",
            "incident": {"lon": float(lon), "lat": float(lat)},
            "units": [{"unit": u, "state": "busy" if u == units[0] else "available"}
                      for u in units],
        },
    )  # fmt: skip
    assert api.status_code == 200, api.text
    got = [(u["unit"], u["eta_s"]) for u in advice.json()["units"]]
    want = [(r["unit"], round(r["eta_s"], 1)) for r in api.json()["ranking"]]
    assert got == [*want, (units[0], None)]
    assert advice.json()["recommended"] == want[0][0]
    unknown = app_client.get("/api/ops/rutland/dispatch", params={**click, "busy": "ARV99"})
    assert unknown.status_code == 422
    assert "unknown unit(s) ARV99" in unknown.json()["detail"]


def test_plan_layers_come_in_one_compressed_cacheable_response(
    app_client: TestClient, region_settings: Settings, rutland_region: Region
) -> None:
    log_in(app_client, region_settings, "duty", "supervisor")
    before = app_client.get("/api/ops/rutland/layers").json()
    assert before["plan_id"] is None
    assert len(before["sites"]["features"]) == len(rutland_region.sites)
    job = wait_job(app_client, declare(app_client).json()["job_id"])
    assert job["status"] == "done", job["error"]

    response = app_client.get("/api/ops/rutland/layers", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    layers = response.json()
    assert layers["plan_id"] == job["plan_id"]
    # The same visits as the patrol layer, unit by unit; sites without their reasons.
    served = app_client.get("/api/ops/rutland/patrols").json()

    def visits(fc: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [
            (f["properties"]["unit"], f["properties"]["site_id"], f["properties"]["arrive"])
            for f in fc["features"]
            if f["properties"]["type"] == "visit"
        ]

    assert visits(layers["patrols"]) == visits(served)
    assert len(layers["arv"]["features"]) == len(
        app_client.get("/api/ops/rutland/arv/bases").json()["features"]
    )
    assert all("reasons" not in f["properties"] for f in layers["sites"]["features"])
    top = max(layers["sites"]["features"], key=lambda f: f["properties"]["risk"])
    detail = app_client.get(f"/api/ops/rutland/sites/{top['properties']['site_id']}").json()
    assert detail["rank"] == 1
    assert detail["reasons"]
    missing = app_client.get("/api/ops/rutland/sites/no-such-site")
    assert missing.status_code == 404
    assert "no site 'no-such-site'" in missing.json()["detail"]

    # An unchanged plan costs a 304.
    again = app_client.get(
        "/api/ops/rutland/layers", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    assert app_client.get("/api/ops/rutland/layers?shift=tomorrow").status_code == 422


def test_minor_roads_are_served_for_a_small_area(
    app_client: TestClient, region_settings: Settings, rutland_region: Region
) -> None:
    log_in(app_client, region_settings, "duty", "planner")
    graph = rutland_region.graph
    # A box around the middle of the region: minor roads only, each with an end inside.
    lon, lat = float(graph.lon.mean()), float(graph.lat.mean())
    box = {"west": lon - 0.02, "south": lat - 0.015, "east": lon + 0.02, "north": lat + 0.015}
    minor = app_client.get("/api/ops/rutland/basemap/minor", params=box).json()
    assert [f["properties"]["group"] for f in minor["features"]] == ["minor"]
    coords = [c for line in minor["features"][0]["geometry"]["coordinates"] for c in line]
    inside = [
        box["west"] <= x <= box["east"] and box["south"] <= y <= box["north"] for x, y in coords
    ]
    assert any(inside)
    # Lines reach at most one (simplified) road beyond the box.
    assert min(x for x, _ in coords) > box["west"] - 0.05
    too_big = {"west": -1.0, "south": 52.4, "east": -0.4, "north": 52.8}
    response = app_client.get("/api/ops/rutland/basemap/minor", params=too_big)
    assert response.status_code == 422
    assert "zoom in" in response.json()["detail"]


def test_bad_requests_get_clear_messages(app_client: TestClient, region_settings: Settings) -> None:
    log_in(app_client, region_settings, "duty", "supervisor")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = declare(app_client, at=future)
    assert response.status_code == 422
    assert "is in the future" in response.json()["detail"]
    response = declare(app_client, playbook="no-such-plan")
    assert response.status_code == 422
    assert "unknown playbook 'no-such-plan'" in response.json()["detail"]
    response = app_client.post("/api/ops/rutland/events", json={**EVENT, "at": "yesterday"})
    assert response.status_code == 422
    response = app_client.post("/api/ops/bedfordshire/threat", json={"level": "severe"})
    assert response.status_code == 404
    assert "region 'bedfordshire' is not built" in response.json()["detail"]
    response = app_client.post("/api/ops/rutland/threat", json={"level": "elevated"})
    assert response.status_code == 422
    assert "unknown threat level 'elevated'" in response.json()["detail"]
    response = app_client.get("/api/ops/rutland/dispatch", params={"lon": 200, "lat": 52.6})
    assert response.status_code == 422


def test_roles_are_checked_on_changes(app_client: TestClient, region_settings: Settings) -> None:
    log_in(app_client, region_settings, "handler", "reviewer")
    assert app_client.get("/api/ops/rutland/status").status_code == 200
    response = declare(app_client)
    assert response.status_code == 403
    assert "planner, supervisor or regional_ct" in response.json()["detail"]


def test_state_changes_need_the_csrf_token(
    app_client: TestClient, region_settings: Settings
) -> None:
    log_in(app_client, region_settings, "duty", "supervisor")
    del app_client.headers["X-CSRF-Token"]
    response = declare(app_client)
    assert response.status_code == 403


def test_published_message_shows_on_the_public_page(
    app_client: TestClient, region_settings: Settings
) -> None:
    log_in(app_client, region_settings, "duty", "supervisor")
    text = "Officers are visiting every place of worship in Rutland today."
    response = app_client.post("/api/ops/rutland/message", json={"text": text})
    assert response.status_code == 200, response.text
    app_client.cookies.clear()
    page = app_client.get("/community?region=rutland")
    assert page.status_code == 200
    assert text in page.text
    assert "0800 789 321" in page.text
    assert "101" in page.text
    assert "999" in page.text


def test_dashboard_page_renders_for_staff(
    app_client: TestClient, region_settings: Settings
) -> None:
    log_in(app_client, region_settings, "duty", "planner")
    page = app_client.get("/dashboard")
    assert page.status_code == 200
    assert 'data-region="rutland"' in page.text
    assert "/static/vendor/maplibre/maplibre-gl-csp.js" in page.text
    assert "Declare an event" in page.text
    # Everything the page loads is served by the app itself.
    for path in (
        "/static/vendor/maplibre/maplibre-gl-csp.js",
        "/static/vendor/maplibre/maplibre-gl-csp-worker.js",
        "/static/vendor/maplibre/maplibre-gl.css",
        "/static/dashboard/dashboard.js",
        "/static/dashboard/dashboard.css",
    ):
        assert app_client.get(path).status_code == 200, path
    assert "https://" not in app_client.get("/static/dashboard/dashboard.js").text


def test_serve_opens_the_room_and_prepares_the_basemap_at_start(
    region_settings: Settings,
) -> None:
    # As `watchfloor serve` builds it: the room exists before the first request and
    # the region's basemap is encoded in the background (memory, then disk cache).
    upgrade_database(region_settings)
    cached = region_settings.cache_dir / "dashboard"
    for old in cached.glob("rutland-*.json.gz"):
        old.unlink()
    dashboard._BASEMAPS.clear()  # earlier tests of this process encoded it already
    plain = create_app(region_settings)
    with TestClient(plain):
        assert getattr(plain.state, "ops_room", None) is None
    app = create_app(region_settings, prepare_dashboard=True)
    with TestClient(app):
        room = app.state.ops_room
        try:
            for _ in range(300):
                if list(cached.glob("rutland-*.json.gz")):
                    break
                time.sleep(0.1)
            assert list(cached.glob("rutland-*.json.gz")), "basemap not prepared at start"
        finally:
            room.close()
