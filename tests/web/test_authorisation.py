"""Authorisation matrix: every role against every staff endpoint (200, 403; 401 unseen).

The matrix runs on SQLite and on the local PostgreSQL server.
"""

from __future__ import annotations

import base64

import pytest

from tests.web._server import PASSWORD, add_user
from watchfloor.types import Role

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
REPORT = {
    "kind": "suspicious_behaviour",
    "description": "Two people filming the entrance of the mosque for a long time",
    "place_text": "Station Road",
    "anonymous": False,
    "contact": {"name": "A Witness", "phone": "01572 000000"},
    "photos": [{"data_base64": base64.b64encode(PNG).decode()}],
}
PURPOSE = {"purpose": "call back the witness about the car seen"}

READ = {
    "reviewer",
    "ct_analyst",
    "hate_crime_officer",
    "neighbourhood_officer",
    "supervisor",
    "regional_ct",
}
WORK = {"reviewer", "ct_analyst", "hate_crime_officer", "neighbourhood_officer", "supervisor"}
BULK = {"reviewer", "supervisor"}
OPEN = {"ct_analyst", "hate_crime_officer", "supervisor"}
EXPORT = {"ct_analyst", "hate_crime_officer", "supervisor", "regional_ct"}

# (name, method, path with {id} and {aid}, JSON body, roles allowed)
ENDPOINTS = [
    ("queue", "GET", "/api/staff/reports?queue=ct", None, READ),
    ("detail", "GET", "/api/staff/reports/{id}", None, READ),
    ("status", "POST", "/api/staff/reports/{id}/status", {"status": "triaged"}, WORK),
    ("note", "POST", "/api/staff/reports/{id}/notes", {"text": "called the site manager"}, WORK),
    ("triage", "POST", "/api/staff/reports/{id}/triage", {"queue": "ct", "priority": 2}, WORK),
    ("bulk", "POST", "/api/staff/reports/bulk", {"report_ids": ["{id}"], "action": "close"}, BULK),
    ("contact", "POST", "/api/staff/reports/{id}/contact", PURPOSE, OPEN),
    ("photo", "POST", "/api/staff/reports/{id}/attachments/{aid}", PURPOSE, OPEN),
    ("csv", "GET", "/api/staff/export.csv", None, EXPORT),
    ("geojson", "GET", "/api/staff/export.geojson", None, EXPORT),
    ("outbox", "GET", "/api/staff/outbox", None, {"supervisor", "admin"}),
    ("users", "GET", "/api/staff/users", None, {"admin"}),
    ("admin enable", "POST", "/api/admin/users/target-user/enable", None, {"admin"}),
    ("admin role", "POST", "/api/admin/users/target-user/role", {"role": "reviewer"}, {"admin"}),
    ("admin end", "POST", "/api/admin/users/target-user/end-sessions", None, {"admin"}),
    ("queue page", "GET", "/staff/queues", None, READ),
    ("report page", "GET", "/staff/reports/{id}", None, READ),
]


def _fill(value, report_id: int, attachment_id: int):
    if isinstance(value, str):
        if value == "{id}":
            return report_id
        return value.replace("{id}", str(report_id)).replace("{aid}", str(attachment_id))
    if isinstance(value, dict):
        return {k: _fill(v, report_id, attachment_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, report_id, attachment_id) for v in value]
    return value


def _new_report(client, reader) -> tuple[int, int]:
    assert client.post("/api/reports", json=REPORT).status_code == 201
    report_id = max(i["id"] for i in reader.get("/api/staff/reports?limit=500").json()["items"])
    aid = reader.get(f"/api/staff/reports/{report_id}").json()["attachment_ids"][0]
    return report_id, aid


def test_every_role_against_every_staff_endpoint(any_client, any_staff, any_settings) -> None:
    client = any_client
    add_user(any_settings, "target-user", "reviewer")
    clients = {role: any_staff(role) for role in Role}
    reader = clients["supervisor"]
    table: list[tuple[str, str, int, int]] = []
    report_id, aid = _new_report(client, reader)
    for name, method, path, body, allowed in ENDPOINTS:
        for role in [*Role, None]:
            if method == "POST" and name not in ("contact", "photo") and "admin" not in name:
                # A fresh report per changing cell, so that no cell depends on another.
                report_id, aid = _new_report(client, reader)
            url = _fill(path, report_id, aid)
            caller = client if role is None else clients[role]
            kwargs = {} if body is None else {"json": _fill(body, report_id, aid)}
            response = caller.request(method, url, **kwargs)
            expected = 401 if role is None else 200 if role in allowed else 403
            if role is None and url.startswith("/staff/"):
                # Pages send a browser without a session to the login page.
                response = caller.request(
                    method, url, headers={"accept": "text/html"}, follow_redirects=False
                )
                expected = 303 if response.status_code == 303 else 401
                assert response.status_code in (303, 401)
            table.append((name, str(role), expected, response.status_code))
    wrong = [row for row in table if row[2] != row[3]]
    assert not wrong, f"{len(wrong)} cells differ (endpoint, role, expected, got): {wrong}"
    assert len(table) == len(ENDPOINTS) * (len(Role) + 1)


@pytest.mark.parametrize("role", ["reviewer", "supervisor"])
def test_state_change_without_csrf_token_is_403(staff, role) -> None:
    staff_client = staff(role)
    del staff_client.headers["x-csrf-token"]
    response = staff_client.post(
        "/api/staff/reports/bulk", json={"report_ids": [1], "action": "close"}
    )
    assert response.status_code == 403
    assert "reload the page" in response.json()["detail"]


def test_wrong_password_is_403_with_one_message(client, settings) -> None:
    add_user(settings, "rita", "reviewer")
    for username, password in (("nobody", "x"), ("rita", "not the password")):
        response = client.post(
            "/api/staff/session", json={"username": username, "password": password}
        )
        assert response.status_code == 403
        assert response.json()["detail"] == "the username or password is not right; try again"
    # The right password opens a session that can read the queues.
    response = client.post("/api/staff/session", json={"username": "rita", "password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/api/staff/reports").status_code == 200
