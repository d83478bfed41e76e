"""Hostile input against every JSON API: a clear 4xx, never a 5xx, and no genuine report lost.

Two parts:

* Known cases (each a defect found by a probe, issue 12): a date that
  overflows once in UTC, control characters in stored strings, odd Unicode
  digits as numbers, on the public, staff, ARV and operations APIs, through
  the app in process, on SQLite and PostgreSQL.
* schemathesis: valid and invalid cases drawn from the OpenAPI spec for every
  public, staff and ARV operation, in process, on SQLite and PostgreSQL.
* Property-based traffic (:mod:`tests.web.hostile_values`): hypothesis draws
  hostile bodies for every field of the public and staff APIs and the ARV
  dispatch, sent to a real server on 127.0.0.1 while threads send genuine
  reports; it passes only when no request gets a 5xx and every genuine report
  is acknowledged and stored exactly once (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy import select

from tests.ops.conftest import SMALL, log_in
from tests.web._server import PASSWORD, SECRET, Server, add_user
from tests.web.hostile_values import GENUINE, HostileRequest, hostile_requests
from watchfloor.errors import FieldError
from watchfloor.services import operations as ops
from watchfloor.services.operations.situation import event_from_payload
from watchfloor.settings import Settings, WebOptions
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.storage.models import Report, ReportEvent
from watchfloor.storage.regions import Region
from watchfloor.web.app import create_app

with warnings.catch_warnings():
    # starlette's TestClient warns that it wants httpx2; httpx is what is installed.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ITEM = {
    "kind": "suspicious_item",
    "description": "A rucksack with wires showing left under a bench by the bus station",
    "place_text": "Oakham bus station",
}
OPS_SECRET = "ops-test-secret-key-0123456789abcdef"
YEAR_ONE_PLUS_14 = "0001-01-01T00:00:00+14:00"
YEAR_9999_MINUS_14 = "9999-12-31T23:59:59-14:00"


def _post_raw(client: TestClient, url: str, body: Any) -> Any:
    """POST ``body`` as JSON with every non-ASCII character escaped (lone surrogates too)."""
    content = json.dumps(body, ensure_ascii=True)
    return client.post(url, content=content, headers={"content-type": "application/json"})


def _fields(response: Any) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


# -- public API ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ITEM, "occurred_at": YEAR_ONE_PLUS_14}, "occurred_at"),
        ({**ITEM, "occurred_at": "1850-06-01T12:00:00Z"}, "occurred_at"),
        ({**ITEM, "occurred_at": YEAR_9999_MINUS_14}, "body"),  # the future: its own message
        ({**ITEM, "link": "https://example.org/\x00"}, "link"),
        ({**ITEM, "anonymous": False, "contact": {"email": "a\x00@b.org"}}, "contact.email"),
        ({**ITEM, "lon": 1e308, "lat": 52.6}, "lon"),
        ({**ITEM, "site_id": "²"}, "site_id"),
        ({**ITEM, "description": "\ud800"}, "description"),
    ],
)
def test_public_hostile_values_are_422_naming_the_field(any_client, body, field) -> None:
    response = _post_raw(any_client, "/api/reports", body)
    assert response.status_code == 422, response.text
    assert field in _fields(response) | {response.json()["detail"].split(":")[0]}


def test_control_characters_in_free_text_are_removed_not_stored(any_client, any_settings) -> None:
    body = {**ITEM, "description": "a bag\x00 left\x1b[31m by the door", "place_text": "Oak\x00ham"}
    response = _post_raw(any_client, "/api/reports", body)
    assert response.status_code == 201, response.text
    database = open_database(any_settings)
    with database.sessions() as session:
        report = session.scalar(select(Report))
    database.dispose()
    assert report.description == "a bag left[31m by the door"
    assert report.place_text == "Oakham"


def test_information_with_control_characters_is_stored_clean(any_client, any_settings) -> None:
    receipt = any_client.post("/api/reports", json=ITEM).json()
    url = f"/api/reports/{receipt['reference']}/information"
    bad_code = _post_raw(any_client, url, {"receipt_code": "\x00", "text": "more"})
    assert bad_code.status_code == 422
    response = _post_raw(
        any_client, url, {"receipt_code": receipt["receipt_code"], "text": "it was\x00 blue"}
    )
    assert response.status_code == 200, response.text
    database = open_database(any_settings)
    with database.sessions() as session:
        texts = list(session.scalars(select(ReportEvent.text)))
    database.dispose()
    assert texts == ["it was blue"]


# -- staff API -----------------------------------------------------------------------------


@pytest.fixture
def supervisor(any_staff, any_client) -> TestClient:
    """A supervisor's client (every staff report route admits the role) and one report."""
    assert any_client.post("/api/reports", json=ITEM).status_code == 201
    return any_staff("supervisor")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/staff/reports/1/triage", {"queue": "ct", "priority": "²"}),
        ("/api/staff/reports/1/triage", {"queue": "ct", "priority": "٣"}),
        ("/api/staff/reports/1/triage", {"queue": "ct", "priority": 1e308}),
        ("/api/staff/reports/1/triage", {"queue": "ct", "priority": 2**70}),
        ("/api/staff/reports/bulk", {"report_ids": ["²"], "action": "close"}),
        ("/api/staff/reports/bulk", {"report_ids": [2**70], "action": "close"}),
        ("/api/staff/reports/bulk", {"report_ids": [1], "action": "route", "queue": "\x00"}),
        ("/api/staff/reports/1/status", {"status": "closed\x00"}),
        ("/api/staff/session", {"username": "admin\x00", "password": "x"}),
    ],
)
def test_staff_hostile_values_are_422(supervisor, path, body) -> None:
    response = _post_raw(supervisor, path, body)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("after", ["²", "١.١", "1.99999999999999999999", "\x00"])
def test_staff_queue_paging_key_is_ascii_digits(supervisor, after) -> None:
    response = supervisor.get("/api/staff/reports", params={"after": after})
    assert response.status_code == 422, response.text


def test_staff_text_with_control_characters_is_stored_clean(supervisor, any_settings) -> None:
    for path, body in [
        ("/api/staff/reports/1/notes", {"text": "called\x00 back\x07"}),
        ("/api/staff/reports/1/status", {"status": "triaged", "note": "seen\x00"}),
        ("/api/staff/reports/1/triage", {"queue": "ct", "priority": 2, "reason": "why\x00"}),
        ("/api/staff/reports/bulk", {"report_ids": [1], "action": "close", "note": "\x00x"}),
    ]:
        response = _post_raw(supervisor, path, body)
        assert response.status_code == 200, (path, response.text)
    database = open_database(any_settings)
    with database.sessions() as session:
        texts = set(session.scalars(select(ReportEvent.text)))
    database.dispose()
    assert texts == {"called back", "seen", "why", "x"}


# -- operations room and ARV dispatch --------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ops_client(
    request: pytest.FixtureRequest, rutland_region: Region, tmp_path: Path
) -> Iterator[TestClient]:
    """A planner's client of the app over the built Rutland region (SQLite, then PostgreSQL)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ops.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    home = rutland_region.path.parent.parent
    settings = Settings(home=home, database_url=url, secret_key=OPS_SECRET)
    upgrade_database(settings)
    if request.param == "postgresql":
        from tests.postgres import empty_postgres  # noqa: PLC0415 (only the PG variant)

        empty_postgres(settings.resolved_database_url)
    app = create_app(settings, options=WebOptions(rate_limit_per_minute=10_000))
    store_db = open_database(settings)
    room = ops.OperationsRoom(settings, store=ops.OpsStore(store_db), config=SMALL)
    app.state.ops_room = room
    with TestClient(app, raise_server_exceptions=False) as client:
        log_in(client, settings, "hostile-planner", "supervisor")
        yield client
    room.close()
    store_db.dispose()


EVENT = {
    "kind": "vehicle attack",
    "place": "Finsbury Park, London",
    "at": "2024-06-01T12:00:00+01:00",
    "targeted_community": "muslim",
}
CALENDAR = {
    "name": "Oakham v Stamford",
    "start": "2026-01-01T15:00:00Z",
    "end": "2026-01-01T17:00:00Z",
}
DISPATCH = {
    "region": "rutland",
    "incident": {"lon": -0.72, "lat": 52.67},
    "units": [{"unit": "A1", "lon": -0.7, "lat": 52.65}],
}


@pytest.mark.slow
def test_ops_and_arv_hostile_values_are_422(ops_client) -> None:
    cases = [
        ("/api/ops/rutland/events", {**EVENT, "at": YEAR_ONE_PLUS_14}),
        ("/api/ops/rutland/events", {**EVENT, "at": YEAR_9999_MINUS_14}),
        ("/api/ops/rutland/events", {**EVENT, "at": "1066-10-14T09:00:00+00:00"}),
        ("/api/ops/rutland/events", {**EVENT, "place": "Finsbury\x00 Park"}),
        ("/api/ops/rutland/events", {**EVENT, "kind": "vehicle\x00attack"}),
        ("/api/ops/rutland/calendar", {**CALENDAR, "start": YEAR_ONE_PLUS_14}),
        ("/api/ops/rutland/calendar", {**CALENDAR, "end": YEAR_9999_MINUS_14}),
        ("/api/ops/rutland/calendar", {**CALENDAR, "name": "match\x00"}),
        ("/api/ops/rutland/calendar", {**CALENDAR, "site_id": "\x00"}),
        ("/api/ops/rutland/calendar", {**CALENDAR, "weight": "²"}),
        ("/api/ops/rutland/threat", {"level": "severe\x00"}),
        ("/api/arv/dispatch", {**DISPATCH, "region": "rut\x00land"}),
        (
            "/api/arv/dispatch",
            {**DISPATCH, "units": [{"unit": "A\x001", "lon": -0.7, "lat": 52.6}]},
        ),
        ("/api/arv/dispatch", {**DISPATCH, "incident": {"lon": "²", "lat": 52.6}}),
        ("/api/arv/dispatch", {**DISPATCH, "incident": {"lon": 1e308, "lat": 52.6}}),
    ]
    for path, body in cases:
        response = _post_raw(ops_client, path, body)
        assert response.status_code == 422, (path, body, response.text)
    # NaN and Infinity literals (Python's JSON reader accepts them)
    raw = (
        '{"region": "rutland", "incident": {"lon": NaN, "lat": Infinity}, '
        '"units": [{"unit": "A1"}]}'
    )
    response = ops_client.post(
        "/api/arv/dispatch", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text


# -- property-based traffic against a real server, with genuine reports interleaved ----------

GENUINE_THREADS = 4
MIN_GENUINE_PER_THREAD = 15
HOSTILE_EXAMPLES = 150


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hostile_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Server, Settings]]:
    """A ``watchfloor.web`` server on 127.0.0.1 (SQLite, then PostgreSQL) with a supervisor."""
    home = tmp_path / "home"
    extra: dict[str, str] = {}
    url = None
    if request.param == "postgresql":
        from tests.postgres import empty_postgres  # noqa: PLC0415 (only the PG variant)

        url = request.getfixturevalue("pg_url")
        extra["WATCHFLOOR_DATABASE_URL"] = url
    settings = Settings(home=home, secret_key=SECRET, database_url=url)
    upgrade_database(settings)
    if url is not None:
        empty_postgres(settings.resolved_database_url)
    add_user(settings, "hostile-sup", "supervisor")
    server = Server(home, extra_env=extra)
    server.start()
    try:
        yield server, settings
    finally:
        server.stop()


def _send(client: httpx.Client, req: HostileRequest) -> httpx.Response:
    content = None if req.body is None else json.dumps(req.body, ensure_ascii=True)
    headers = dict(req.headers)
    if content is not None:
        headers["content-type"] = "application/json"
    return client.request(req.method, req.path, params=req.params, content=content, headers=headers)


def _genuine_reporter(
    url: str, tag: str, stop: threading.Event, results: list[tuple[str, int, str]]
) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        i = 0
        while i < MIN_GENUINE_PER_THREAD or not stop.is_set():
            description = f"genuine report {tag}-{i}: a rucksack left by the gate"
            response = client.post(
                "/api/reports",
                json={**GENUINE, "description": description},
                headers={"idempotency-key": f"genuine-{tag}-{i:05d}"},
            )
            reference = response.json().get("reference", "") if response.status_code == 201 else ""
            results.append((description, response.status_code, reference))
            i += 1


@pytest.mark.slow
def test_hostile_traffic_never_gets_a_5xx_and_genuine_reports_are_stored_once(
    hostile_server,
) -> None:
    server, settings = hostile_server
    staff = httpx.Client(base_url=server.url, timeout=60)
    login = staff.post("/api/staff/session", json={"username": "hostile-sup", "password": PASSWORD})
    assert login.status_code == 200, login.text
    staff.headers["x-csrf-token"] = login.json()["csrf_token"]
    public = httpx.Client(base_url=server.url, timeout=60)
    stop = threading.Event()
    genuine: list[tuple[str, int, str]] = []
    threads = [
        threading.Thread(target=_genuine_reporter, args=(server.url, f"t{n}", stop, genuine))
        for n in range(GENUINE_THREADS)
    ]
    for thread in threads:
        thread.start()

    @settings_(
        max_examples=HOSTILE_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(req=hostile_requests())
    def hostile(req: HostileRequest) -> None:
        client = staff if req.path.startswith(("/api/staff", "/api/arv", "/api/ops")) else public
        response = _send(client, req)
        assert response.status_code < 500, (req, response.status_code, response.text[:500])

    try:
        hostile()
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
        staff.close()
        public.close()
    assert all(status == 201 for _, status, _ in genuine), [g for g in genuine if g[1] != 201][:5]
    database = open_database(settings)
    with database.sessions() as session:
        rows = session.execute(
            select(Report.description, Report.reference).where(
                Report.description.like("genuine report %")
            )
        ).all()
    database.dispose()
    stored = Counter(description for description, _ in rows)
    assert len(genuine) >= GENUINE_THREADS * MIN_GENUINE_PER_THREAD
    assert {d for d, _, _ in genuine} == set(stored)
    assert set(stored.values()) == {1}  # exactly once each
    assert {r for _, r in rows} == {r for _, _, r in genuine}


# -- schemathesis: the OpenAPI spec drives the JSON APIs in process -----------------------------

SCHEMATHESIS_EXAMPLES = 200


@pytest.mark.slow
def test_schemathesis_cases_from_the_openapi_spec_never_get_a_5xx(any_staff, any_client) -> None:
    """Valid and invalid cases of every public, staff and ARV operation in the spec."""
    supervisor = any_staff("supervisor")
    assert any_client.post("/api/reports", json=GENUINE).status_code == 201
    cookies = dict(supervisor.cookies)
    headers = {"x-csrf-token": supervisor.headers["x-csrf-token"]}
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", any_client.app)
    operations = [
        result.ok()
        for result in schema.include(path_regex="^/api/(reports|staff|arv)").get_all_operations()
    ]
    # Logging in costs a 64 MiB password hash and logging out ends the test's session:
    # the login's hostile values are in test_staff_hostile_values_are_422.
    operations = [op for op in operations if op.path != "/api/staff/session"]
    assert len(operations) >= 15
    strategy = st.one_of(
        *[
            op.as_strategy(generation_mode=mode)
            for op in operations
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
    )

    @settings_(
        max_examples=SCHEMATHESIS_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        response = case.call(cookies=cookies, headers=headers)
        assert response.status_code < 500, (case.method, case.path, response.text[:300])

    run()


def test_an_event_stored_before_the_checks_is_still_read() -> None:
    """A place with a NUL stored earlier (SQLite took it) restores without it; a new one is 422."""
    payload = {**EVENT, "place": "Finsbury\x00 Park", "at": "2024-06-01T12:00:00+01:00"}
    assert event_from_payload(payload).place == "Finsbury Park"
    with pytest.raises(FieldError, match="place"):
        ops.EventDeclaration(kind="vehicle attack", place="x\x00", at=datetime.now(UTC))


@pytest.mark.slow
def test_a_public_message_is_published_without_control_characters(ops_client) -> None:
    response = _post_raw(
        ops_client, "/api/ops/rutland/message", {"text": "Calm\x00 please.\nWe are here.\x1b"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "Calm please.\nWe are here."
