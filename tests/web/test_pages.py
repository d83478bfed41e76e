"""Server-rendered pages without JavaScript: the form, CSRF, receipts and staff bulk actions."""

from __future__ import annotations

import re

import pytest

from tests.web._server import PASSWORD, add_user
from watchfloor.web.security import CSRF_COOKIE

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63fccf30000003000160f5f1a90000000049454e44ae426082"
)


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert match, "the form has no CSRF token"
    return match.group(1)


def _form(client, kind: str = "suspicious_item") -> str:
    response = client.get(f"/report?kind={kind}")
    assert response.status_code == 200
    assert client.cookies.get(CSRF_COOKIE)
    return _token(response.text)


FIELDS = {
    "kind": "suspicious_item",
    "description": "A holdall left under a bench with wires",
    "place_text": "Oakham station",
    "anonymous": "yes",
}


def test_form_submission_shows_reference_and_code_once(client) -> None:
    token = _form(client)
    response = client.post(
        "/report",
        data={**FIELDS, "csrf_token": token},
        files={"photos": ("looks-like.txt", PNG, "text/plain")},
    )
    assert response.status_code == 200, response.text
    reference = re.search(r'id="reference">(WF\w+)<', response.text).group(1)
    code = re.search(r'id="receipt-code">([\w-]+)<', response.text).group(1)
    page = client.get("/receipt")
    status = client.post(
        "/receipt",
        data={"reference": reference, "receipt_code": code, "csrf_token": _token(page.text)},
    )
    assert status.status_code == 200
    assert "waiting to be reviewed" in status.text


def test_form_without_csrf_token_is_refused(client) -> None:
    _form(client)
    response = client.post("/report", data=FIELDS, headers={"accept": "text/html"})
    assert response.status_code == 403
    assert "reload the page" in response.text


def test_form_errors_are_shown_next_to_fields(client) -> None:
    token = _form(client)
    response = client.post(
        "/report",
        data={**FIELDS, "description": "", "csrf_token": token},
        files={"photos": ("photo.jpg", b"GIF89a not allowed", "image/jpeg")},
    )
    assert response.status_code == 422
    assert 'href="#description"' in response.text
    assert "not a photo" in response.text
    # What was typed is kept.
    assert "Oakham station" in response.text


def test_happening_now_in_the_form_says_call_999(client) -> None:
    token = _form(client)
    response = client.post("/report", data={**FIELDS, "happening_now": "yes", "csrf_token": token})
    assert response.status_code == 422
    assert "Call 999 now" in response.text


def test_wrong_receipt_code_on_the_page(client) -> None:
    page = client.get("/receipt")
    response = client.post(
        "/receipt",
        data={"reference": "WF00000000", "receipt_code": "AAAA", "csrf_token": _token(page.text)},
    )
    assert response.status_code == 404
    assert "do not match" in response.text


def test_staff_login_form_and_bulk_close(client, settings) -> None:
    for i in range(3):
        client.post("/api/reports", json={**FIELDS, "anonymous": True, "place_text": f"bench {i}"})
    add_user(settings, "sam", "supervisor")
    login = client.get("/staff/login")
    response = client.post(
        "/staff/login",
        data={"username": "sam", "password": PASSWORD, "csrf_token": _token(login.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    queues = client.get("/staff/queues?status=new")
    ids = re.findall(r'name="report_id" value="(\d+)"', queues.text)
    assert len(ids) == 3
    response = client.post(
        "/staff/bulk",
        data={"report_id": ids[:2], "action": "close", "csrf_token": _token(queues.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    still_new = client.get("/staff/queues?status=new")
    assert re.findall(r'name="report_id" value="(\d+)"', still_new.text) == [ids[2]]


@pytest.mark.parametrize("digit", ["²", "٣", "１"])
def test_staff_forms_refuse_unicode_digits_with_a_message(client, settings, digit) -> None:
    # str.isdigit() accepts these, int() does not: a bulk id or a priority of "²" was a 500
    client.post("/api/reports", json={**FIELDS, "anonymous": True, "place_text": "bench"})
    add_user(settings, "sam", "supervisor")
    login = client.get("/staff/login")
    client.post(
        "/staff/login",
        data={"username": "sam", "password": PASSWORD, "csrf_token": _token(login.text)},
        follow_redirects=False,
    )
    queues = client.get("/staff/queues?status=new")
    report_id = re.findall(r'name="report_id" value="(\d+)"', queues.text)[0]
    token = _token(queues.text)
    bulk = client.post(
        "/staff/bulk", data={"report_id": [digit], "action": "close", "csrf_token": token}
    )
    assert bulk.status_code == 422
    assert "report_id" in bulk.text
    triage = client.post(
        f"/staff/reports/{report_id}/triage",
        data={"queue": "ct", "priority": digit, "reason": "x", "csrf_token": token},
    )
    assert triage.status_code == 422
    assert "priority" in triage.text
