"""Logins cannot exhaust the server, cannot be guessed without end, and are audited.

Behaviour only (counts, statuses, audit rows), never durations. Known answers:
- a username locks after FREE_FAILURES (5) failed log-ins in a row, known or not;
  while locked no password is checked, the right one included (429 + Retry-After);
- the lock lasts 30 s after the 5th failure and doubles per further failure;
- with every slot of the password gate taken, a log-in is refused at once (429)
  while a public report is still stored (201).
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.web._server import PASSWORD, add_user
from watchfloor.errors import PermissionDeniedError, ThrottledError
from watchfloor.services.auth import (
    FREE_FAILURES,
    MAX_CONCURRENT_PASSWORD_CHECKS,
    PasswordGate,
    authenticate,
    password_gate,
)
from watchfloor.settings import WebOptions
from watchfloor.storage.db import open_database
from watchfloor.storage.models import AuditEntry, LoginThrottle, utc_now
from watchfloor.web.app import create_app
from watchfloor.web.security import csrf_token_for

from .conftest import SECRET, TestClient

REPORT = {
    "kind": "suspicious_item",
    "description": "A rucksack with wires showing left under a bench by the bus station",
    "place_text": "Oakham bus station",
}
WRONG = "not the password at all"


def _audit_counts(settings) -> dict[str, int]:
    database = open_database(settings)
    try:
        with database.sessions() as session:
            rows = session.execute(
                select(AuditEntry.action, func.count()).group_by(AuditEntry.action)
            ).all()
    finally:
        database.dispose()
    return {action: int(n) for action, n in rows}


def _login(client, username: str, password: str):
    return client.post("/api/staff/session", json={"username": username, "password": password})


def test_a_thousand_wrong_passwords_then_the_right_one_is_refused(any_client, any_settings):
    add_user(any_settings, "rita", "reviewer")
    codes = [_login(any_client, "rita", WRONG).status_code for _ in range(1000)]
    assert codes[:FREE_FAILURES] == [403] * FREE_FAILURES
    assert codes[FREE_FAILURES] == 429
    # A lock that ran out while the test ran (30 s, then 60 s, ...) lets one more
    # password be checked, which locks the name again for twice as long.
    assert set(codes) == {403, 429}
    assert codes.count(403) <= FREE_FAILURES + 4
    right = _login(any_client, "rita", PASSWORD)
    assert right.status_code == 429
    assert "too many failed log-ins for this username" in right.json()["detail"]
    assert int(right.headers["retry-after"]) >= 1
    audit = _audit_counts(any_settings)
    # Every attempt is audited: the checked and wrong ones, and those refused while locked.
    assert audit["session.login_failed"] == codes.count(403)
    assert audit["session.login_locked"] == codes.count(429) + 1
    assert "session.login" not in audit


def test_unknown_usernames_lock_alike(client, settings):
    # The same answers for a name that does not exist: a lockout reveals no names.
    codes = [_login(client, "nobody", WRONG).status_code for _ in range(FREE_FAILURES + 1)]
    assert codes == [403] * FREE_FAILURES + [429]
    assert "too many failed log-ins" in _login(client, "nobody", WRONG).json()["detail"]


def test_audit_names_the_username_and_time_but_no_address(client, settings):
    add_user(settings, "rita", "reviewer")
    _login(client, "rita", WRONG)
    database = open_database(settings)
    try:
        with database.sessions() as session:
            entry = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "session.login_failed")
            ).one()
    finally:
        database.dispose()
    assert entry.detail == "rita"
    assert entry.actor_id is None
    assert abs((utc_now() - entry.at).total_seconds()) < 600
    assert "testclient" not in entry.detail + entry.purpose


def test_lock_grows_then_expires_and_a_success_clears_it(settings):
    add_user(settings, "rita", "reviewer")
    database = open_database(settings)
    t0 = utc_now()
    try:
        with database.sessions() as session:
            for _ in range(FREE_FAILURES):
                with pytest.raises(PermissionDeniedError):
                    authenticate(session, "rita", WRONG, now=t0)
            with pytest.raises(ThrottledError) as locked:
                authenticate(session, "rita", PASSWORD, now=t0 + timedelta(seconds=29))
            assert locked.value.retry_after_s <= 2
            # After 30 s one more wrong password locks for 60 s.
            with pytest.raises(PermissionDeniedError):
                authenticate(session, "rita", WRONG, now=t0 + timedelta(seconds=31))
            with pytest.raises(ThrottledError):
                authenticate(session, "rita", PASSWORD, now=t0 + timedelta(seconds=90))
            user = authenticate(session, "rita", PASSWORD, now=t0 + timedelta(seconds=92))
            session.commit()
            assert user.username == "rita"
            assert session.get(LoginThrottle, "rita") is None
    finally:
        database.dispose()


def test_a_full_password_gate_refuses_logins_at_once_and_reports_still_go_in(client, settings):
    add_user(settings, "rita", "reviewer")
    gate = password_gate()
    held = [gate.slot() for _ in range(gate.max_concurrent)]
    for slot in held:
        slot.__enter__()
    try:
        with ThreadPoolExecutor(max_workers=40) as pool:
            logins = [pool.submit(_login, client, "rita", PASSWORD) for _ in range(40)]
            report = pool.submit(client.post, "/api/reports", json=REPORT)
            responses = [f.result() for f in logins]
        assert [r.status_code for r in responses] == [429] * 40
        assert all(int(r.headers["retry-after"]) >= 1 for r in responses)
        assert "too many log-ins are being checked" in responses[0].json()["detail"]
        assert report.result().status_code == 201
    finally:
        for slot in held:
            slot.__exit__(None, None, None)
    # Refused at the gate is not a failed password: nothing is locked or audited as one.
    assert "session.login_failed" not in _audit_counts(settings)
    assert _login(client, "rita", PASSWORD).status_code == 200


def test_concurrent_logins_never_run_more_checks_than_the_gate_allows(settings):
    add_user(settings, "rita", "reviewer")
    gate = PasswordGate(max_concurrent=2)
    database = open_database(settings)
    start = threading.Barrier(12)

    def attempt(i: int) -> str:
        start.wait()
        with database.sessions() as session:
            try:
                authenticate(session, f"user{i}", WRONG, gate=gate)
            except ThrottledError:
                return "refused"
            except PermissionDeniedError:
                return "wrong"
        return "ok"

    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(attempt, range(12)))
    finally:
        database.dispose()
    assert gate.peak <= 2
    assert results.count("wrong") + results.count("refused") == 12
    assert results.count("refused") == gate.refused
    assert MAX_CONCURRENT_PASSWORD_CHECKS >= 1


def test_login_form_says_too_many_log_in_attempts_with_retry_after(settings):
    app = create_app(settings, options=WebOptions(rate_limit_per_minute=2))
    with TestClient(app) as browser:
        page = browser.get("/staff/login")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
        form = {"username": "nobody", "password": WRONG, "csrf_token": token}
        codes = [browser.post("/staff/login", data=form) for _ in range(3)]
    assert [r.status_code for r in codes] == [403, 403, 429]
    assert "too many log-in attempts" in codes[2].text
    assert "too many reports" not in codes[2].text
    assert int(codes[2].headers["retry-after"]) >= 1


def test_locked_login_form_shows_the_wait(client, settings):
    add_user(settings, "rita", "reviewer")
    client.cookies.set("wf_csrf", "c" * 20)
    token = csrf_token_for(SECRET.encode(), "c" * 20)
    form = {"username": "rita", "password": WRONG, "csrf_token": token}
    for _ in range(FREE_FAILURES):
        assert client.post("/staff/login", data=form).status_code == 403
    page = client.post("/staff/login", data={**form, "password": PASSWORD})
    assert page.status_code == 429
    assert "too many failed log-ins" in page.text
    assert '<form method="post" action="/staff/login">' in page.text
    assert int(page.headers["retry-after"]) >= 1
