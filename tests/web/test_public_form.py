"""The public HTML form never loses the reporter's text (issue 12, point 4).

Every refusal of a form a person filled in re-renders it with what they typed
and one error summary; the form's own token, not a cookie, proves it came from
this site; a double submit or a refresh stores one report.
"""

from __future__ import annotations

import re
import time
import warnings

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_of_hypothesis
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from watchfloor.settings import WebOptions
from watchfloor.web.app import create_app
from watchfloor.web.security import FORM_TOKEN_MAX_AGE_S, new_form_token

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def settings(any_settings):
    """Every test here runs on SQLite, then on the local PostgreSQL server."""
    return any_settings


@pytest.fixture
def client(any_client):
    """The app on the backend of ``settings``."""
    return any_client


FIELDS = {
    "kind": "suspicious_item",
    "description": "A holdall left under a bench with wires",
    "place_text": "Oakham station",
    "anonymous": "yes",
}


def _form_token(client, kind: str = "suspicious_item") -> str:
    page = client.get(f"/report?kind={kind}")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert match, "the form has no token"
    return match.group(1)


def _kept(response) -> None:
    """The form came back with the typed text and one error summary."""
    assert response.status_code == 422, response.text[:300]
    assert response.text.count('class="error-summary"') == 1
    assert "A holdall left under a bench with wires" in response.text
    assert "Oakham station" in response.text


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"occurred_at": "2999-01-01T10:00"}, "occurred_at"),
        ({"lon": "-0.72"}, "where"),
        ({"lat": "52.67"}, "where"),
        ({"lon": "999", "lat": "52.67"}, "where"),
        ({"lon": "nan", "lat": "inf"}, "where"),
        ({"occurred_at": "0001-01-01T00:30"}, "occurred_at"),
        ({"contact_email": "x"}, "contact_email"),
    ],
)
def test_bad_values_re_render_the_form_with_the_text_kept(client, extra, field) -> None:
    token = _form_token(client)
    data = {**FIELDS, **extra, "csrf_token": token}
    if "contact_email" in extra:
        data["anonymous"] = "no"
    response = client.post("/report", data=data)
    _kept(response)
    assert f'href="#{field}"' in response.text


def _count_reports(settings) -> int:
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM reports")).scalar_one()
    engine.dispose()
    return int(count)


class _Cookieless:
    """A client of the same app that never sends a cookie back, as a browser with cookies off."""

    def __init__(self, client) -> None:
        self._client = TestClient(client.app, raise_server_exceptions=False, follow_redirects=False)

    def get(self, url: str, **kwargs):
        self._client.cookies.clear()
        return self._client.get(url, **kwargs)

    def post(self, url: str, **kwargs):
        self._client.cookies.clear()
        return self._client.post(url, **kwargs)


def test_a_browser_without_cookies_can_report_and_check(client, settings) -> None:
    bare = _Cookieless(client)
    token = _form_token(bare)
    response = bare.post("/report", data={**FIELDS, "csrf_token": token})
    assert response.status_code == 303
    page = bare.get(response.headers["location"])
    assert page.status_code == 200
    reference = re.search(r'id="reference">(WF\w+)<', page.text).group(1)
    code = re.search(r'id="receipt-code">([\w-]+)<', page.text).group(1)
    receipt_page = bare.get("/receipt")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', receipt_page.text).group(1)
    answer = bare.post(
        "/receipt",
        data={
            "reference": reference,
            "receipt_code": code,
            "information": "He came back at 3 pm",
            "csrf_token": token,
        },
    )
    assert answer.status_code == 303, answer.text
    status = bare.get(answer.headers["location"])
    assert status.status_code == 200, status.text
    assert "added your information" in status.text
    assert "waiting to be reviewed" in status.text
    assert _count_reports(settings) == 1


def test_a_cross_site_visit_in_another_tab_does_not_spoil_the_form(client) -> None:
    token = _form_token(client)
    # Another site links here: the SameSite=Strict cookie is not sent, a new one comes back.
    client.cookies.clear()
    client.get("/", headers={"sec-fetch-site": "cross-site"})
    response = client.post(
        "/report",
        data={**FIELDS, "csrf_token": token},
        headers={"sec-fetch-site": "same-origin", "origin": "null"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:300]


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},
    ],
)
def test_a_post_from_another_site_is_refused(client, settings, headers) -> None:
    token = _form_token(client)
    response = client.post(
        "/report",
        data={**FIELDS, "csrf_token": token},
        headers={**headers, "accept": "text/html"},
    )
    assert response.status_code == 403
    assert "another website" in response.text
    assert _count_reports(settings) == 0


def test_an_expired_or_altered_token_keeps_the_text(client, settings) -> None:
    secret = settings.secret_key.get_secret_value().encode()
    old = new_form_token(secret, now_s=time.time() - FORM_TOKEN_MAX_AGE_S - 60)
    for token in (old, "0" * 72, "abc"):
        response = client.post("/report", data={**FIELDS, "csrf_token": token})
        _kept(response)
        assert 'href="#form"' in response.text
        assert token not in response.text
    assert _count_reports(settings) == 0


def test_a_double_submit_or_a_resend_stores_one_report(client, settings) -> None:
    token = _form_token(client)
    data = {**FIELDS, "csrf_token": token}
    first = client.post("/report", data=data, follow_redirects=False)
    second = client.post("/report", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    pages = [client.get(r.headers["location"]).text for r in (first, second)]
    references = [re.search(r'id="reference">(WF\w+)<', p).group(1) for p in pages]
    codes = [re.search(r'id="receipt-code">([\w-]+)<', p).group(1) for p in pages]
    assert references[0] == references[1]
    assert codes[0] == codes[1]
    # A refresh of the receipt page sends nothing and shows the same receipt.
    again = client.get(first.headers["location"])
    assert references[0] in again.text
    assert _count_reports(settings) == 1


def test_the_same_form_resent_with_other_text_keeps_it(client, settings) -> None:
    token = _form_token(client)
    client.post("/report", data={**FIELDS, "csrf_token": token}, follow_redirects=False)
    edited = {**FIELDS, "place_text": "Oakham station, platform 2", "csrf_token": token}
    response = client.post("/report", data=edited, follow_redirects=False)
    assert response.status_code == 409
    assert "platform 2" in response.text
    assert "already sent a report from this form" in response.text
    new_token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', response.text).group(1)
    assert new_token[:32] != token[:32]
    stored = client.post(
        "/report", data={**edited, "csrf_token": new_token}, follow_redirects=False
    )
    assert stored.status_code == 303
    assert _count_reports(settings) == 2


def test_a_tampered_receipt_page_address_is_a_404_page(client) -> None:
    response = client.get("/report/sent?r=AAAA", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "not complete" in response.text


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63fccf30000003000160f5f1a90000000049454e44ae426082"
)


def test_the_advertised_photos_fit_in_the_body_limit(client) -> None:
    # The form says: up to 3 photos, each under 8 MB. Three of 7.9 MB must not be a 413.
    page = client.get("/report?kind=suspicious_item")
    assert "Up to 3 photos" in page.text
    assert "each under 8 MB" in page.text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    big = PNG + b"\0" * (7_900_000 - len(PNG))
    files = [("photos", (f"p{i}.png", big, "image/png")) for i in range(3)]
    response = client.post(
        "/report", data={**FIELDS, "csrf_token": token}, files=files, follow_redirects=False
    )
    assert response.status_code != 413
    assert response.status_code in (303, 422)


def test_too_large_a_form_gets_an_html_page_saying_the_text_is_kept(client) -> None:
    token = _form_token(client)
    files = [("photos", (f"p{i}.png", b"\0" * 9_000_000, "image/png")) for i in range(3)]
    response = client.post(
        "/report",
        data={**FIELDS, "csrf_token": token},
        files=files,
        headers={"accept": "text/html"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "call\n999" in response.text or "call 999" in response.text
    assert "back button" in response.text
    assert "25 MB" in response.text  # 3 x 8 MiB + 1 MiB


def test_a_refresh_after_adding_information_adds_nothing(client, settings) -> None:
    token = _form_token(client)
    sent = client.post("/report", data={**FIELDS, "csrf_token": token}, follow_redirects=False)
    page = client.get(sent.headers["location"]).text
    reference = re.search(r'id="reference">(WF\w+)<', page).group(1)
    code = re.search(r'id="receipt-code">([\w-]+)<', page).group(1)
    form = client.get("/receipt").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form).group(1)
    data = {
        "reference": reference,
        "receipt_code": code,
        "information": "A second man was with him",
        "csrf_token": token,
    }
    answer = client.post("/receipt", data=data, follow_redirects=False)
    assert answer.status_code == 303
    for _ in range(2):  # the answer page, then a refresh of it
        status = client.get(answer.headers["location"])
        assert status.status_code == 200
        assert "added your information" in status.text
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        added = conn.execute(
            text("SELECT count(*) FROM report_events WHERE kind = 'reporter_info'")
        ).scalar_one()
    engine.dispose()
    assert added == 1
    assert client.get("/receipt/status?r=AAAA").status_code == 404


def test_over_the_rate_limit_the_form_comes_back_with_the_text(settings) -> None:
    app = create_app(settings, options=WebOptions(rate_limit_per_minute=1))
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as limited:
        first = limited.post("/report", data={**FIELDS, "csrf_token": _form_token(limited)})
        assert first.status_code == 303
        second = limited.post("/report", data={**FIELDS, "csrf_token": _form_token(limited)})
        assert second.status_code == 429
        assert int(second.headers["retry-after"]) >= 1
        assert "A holdall left under a bench with wires" in second.text
        assert "wait a minute" in second.text
        receipt = limited.get("/receipt").text
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', receipt).group(1)
        data = {"reference": "WF00000000", "receipt_code": "x", "information": "More detail"}
        check = limited.post("/receipt", data={**data, "csrf_token": token})
        assert check.status_code == 429
        assert "More detail" in check.text
    assert _count_reports(settings) == 1


def test_a_fault_of_ours_while_storing_keeps_the_text(client, settings, monkeypatch) -> None:
    async def broken(submission):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(client.app.state.report_writer, "store", broken)
    response = client.post("/report", data={**FIELDS, "csrf_token": _form_token(client)})
    assert response.status_code == 500
    assert "A holdall left under a bench with wires" in response.text
    assert "Press Send report again" in response.text
    assert "disk on fire" not in response.text
    assert _count_reports(settings) == 0


_HOSTILE_TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\u202e\u0000",
            "²",
            "9" * 400,
            "-0",
            "nan",
            "inf",
            "1e309",
            "0001-01-01T00:30",
            "9999-12-31T23:59",
            "2026-02-30T10:00",
            "<script>alert(1)</script>",
            "{{ 7*7 }}",
            "x" * 6000,
        ]
    ),
)
_FORM_NAMES = (
    "description",
    "place_text",
    "site_id",
    "people_description",
    "vehicle_description",
    "link",
    "protected_characteristic",
    "victim_or_witness",
    "prevent_relationship",
    "occurred_at",
    "lon",
    "lat",
    "anonymous",
    "contact_name",
    "contact_phone",
    "contact_email",
)


@settings_of_hypothesis(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(["suspicious_item", "hate_incident", "online_content", "x", ""]),
    fields=st.dictionaries(st.sampled_from(_FORM_NAMES), _HOSTILE_TEXT, max_size=8),
)
def test_hostile_form_values_never_get_a_5xx_and_are_kept(client, settings, kind, fields) -> None:
    before = _count_reports(settings)
    data = {**FIELDS, "kind": kind, **fields, "csrf_token": _form_token(client)}
    response = client.post("/report", data=data, follow_redirects=False)
    assert response.status_code < 500, response.text[:500]
    stored = _count_reports(settings) - before
    if response.status_code == 303:
        assert stored == 1
        return
    assert stored == 0
    if kind in ("suspicious_item", "hate_incident", "online_content"):
        assert response.text.count('class="error-summary"') == 1
        place = str(data.get("place_text", ""))
        # Kept as typed (escaping aside); an online-content form has no place field.
        if kind != "online_content" and place.isalnum() and place.isascii():
            assert place in response.text
