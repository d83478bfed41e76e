"""The operations room's report layer per role: readers see reports, others only coarsely.

Before the fix planner and admin, who may not read reports, got every located
report's exact position, id, kind and queue from ``/api/ops/{region}/reports``
(the dashboard's report layer).
"""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from tests.ops.conftest import log_in
from watchfloor.services.operations.store import COARSE_CELL_M, coarse_position
from watchfloor.services.reports import READ_ROLES
from watchfloor.settings import Settings
from watchfloor.types import Role

# Oakham, Rutland: one report in each queue at a known position (lon, lat).
POINT = (-0.72871, 52.66993)
REPORTS = [
    {"kind": "suspicious_behaviour", "description": "A man filming the mosque entrance for ages"},
    {
        "kind": "hate_incident",
        "description": "Abuse shouted at worshippers leaving prayers",
        "protected_characteristic": "religion",
        "victim_or_witness": "witness",
    },
    {"kind": "prevent_concern", "description": "A neighbour's son talks of joining a group"},
]


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (a[1] - b[1]) * 111_320.0
    dx = (a[0] - b[0]) * 111_320.0 * math.cos(math.radians(a[1]))
    return math.hypot(dx, dy)


@pytest.fixture
def located(app_client: TestClient) -> TestClient:
    for body in REPORTS:
        sent = {**body, "lon": POINT[0], "lat": POINT[1], "anonymous": True}
        response = app_client.post("/api/reports", json=sent)
        assert response.status_code == 201, response.text
    return app_client


@pytest.mark.parametrize("role", sorted(Role))
def test_report_layer_per_role(located: TestClient, region_settings: Settings, role: Role) -> None:
    log_in(located, region_settings, f"user-{role.value}", role.value)
    response = located.get("/api/ops/rutland/reports")
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    assert len(features) == len(REPORTS)
    queues = {f["properties"]["queue"] for f in features}
    if role in READ_ROLES:
        assert all(f["geometry"]["coordinates"] == list(POINT) for f in features)
        assert all("id" in f["properties"] for f in features)
        assert queues == {"ct", "hate_crime", "prevent"}
        return
    for feature in features:
        props, where = feature["properties"], tuple(feature["geometry"]["coordinates"])
        assert where != POINT
        assert _metres(where, POINT) <= COARSE_CELL_M
        assert "id" not in props
        assert props["received_at"].endswith(":00:00+00:00")
        assert props["queue"] not in {"hate_crime", "prevent"}
        if props["queue"] is None:
            assert props["kind"] is None
    # The counter-terrorism report keeps its queue; the hate and Prevent reports have none.
    assert sorted(map(str, [f["properties"]["queue"] for f in features])) == ["None", "None", "ct"]


def test_coarse_cells_are_about_the_stated_size() -> None:
    # Two points 40 m apart in one cell give its centre; a point across the grid line does not.
    centre = coarse_position(*POINT)
    assert _metres(centre, POINT) <= COARSE_CELL_M / math.sqrt(2) + 1
    assert coarse_position(POINT[0] + 0.0003, POINT[1]) in {centre, coarse_position(-0.7284, 52.67)}
    far = coarse_position(POINT[0], POINT[1] + 2 * COARSE_CELL_M / 111_320.0)
    assert 1.5 * COARSE_CELL_M <= _metres(far, centre) <= 2.5 * COARSE_CELL_M
