"""The public JSON API on SQLite and PostgreSQL: submit, retry, receipts, bad input."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from watchfloor.storage.db import open_database
from watchfloor.storage.models import Report, ReportAttachment

# The smallest valid PNG: 1x1 pixel.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

ITEM = {
    "kind": "suspicious_item",
    "description": "A rucksack with wires showing left under a bench by the bus station",
    "place_text": "Oakham bus station",
}


def _count(settings, model=Report) -> int:
    database = open_database(settings)
    try:
        with database.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        database.dispose()


def test_submit_returns_reference_and_80_bit_receipt(any_client, any_settings) -> None:
    response = any_client.post("/api/reports", json=ITEM)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["reference"].startswith("WF")
    # 16 Crockford base32 characters = 80 bits, shown in groups of four.
    assert len(body["receipt_code"].replace("-", "")) == 16
    assert body["status"] == "received"
    assert _count(any_settings) == 1


def test_receipt_code_is_stored_only_as_a_slow_hash(any_client, any_settings) -> None:
    code = any_client.post("/api/reports", json=ITEM).json()["receipt_code"]
    database = open_database(any_settings)
    with database.sessions() as session:
        stored = session.scalar(select(Report.receipt_hash))
    database.dispose()
    assert stored.startswith("$argon2id$")
    assert code.replace("-", "") not in stored


def test_idempotency_key_stores_a_retry_once(any_client, any_settings) -> None:
    headers = {"Idempotency-Key": "retry-key-0001"}
    first = any_client.post("/api/reports", json=ITEM, headers=headers)
    second = any_client.post("/api/reports", json=ITEM, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert _count(any_settings) == 1


def test_idempotency_key_reused_for_other_content_is_409(any_client, any_settings) -> None:
    headers = {"Idempotency-Key": "retry-key-0002"}
    any_client.post("/api/reports", json=ITEM, headers=headers)
    other = any_client.post("/api/reports", json={**ITEM, "description": "x"}, headers=headers)
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]
    assert _count(any_settings) == 1


def test_receipt_shows_status_and_nothing_more(any_client) -> None:
    receipt = any_client.post("/api/reports", json=ITEM).json()
    ref, code = receipt["reference"], receipt["receipt_code"]
    status = any_client.post(f"/api/reports/{ref}/status", json={"receipt_code": code})
    assert status.status_code == 200
    assert set(status.json()) == {"reference", "status", "received_at"}
    assert status.json()["status"] == "received"
    added = any_client.post(
        f"/api/reports/{ref}/information", json={"receipt_code": code, "text": "a grey van too"}
    )
    assert added.status_code == 200


def test_wrong_receipt_code_is_404_and_changes_nothing(any_client) -> None:
    ref = any_client.post("/api/reports", json=ITEM).json()["reference"]
    wrong = any_client.post(
        f"/api/reports/{ref}/information", json={"receipt_code": "AAAA-BBBB", "text": "x"}
    )
    assert wrong.status_code == 404
    assert "do not match" in wrong.json()["detail"]


def test_photo_is_checked_by_content_and_stored_encrypted(client, settings) -> None:
    photo = {"data_base64": base64.b64encode(PNG).decode()}
    response = client.post("/api/reports", json={**ITEM, "photos": [photo]})
    assert response.status_code == 201
    database = open_database(settings)
    with database.sessions() as session:
        attachment = session.scalar(select(ReportAttachment))
    database.dispose()
    assert attachment.content_type == "image/png"
    assert PNG not in attachment.ciphertext


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"kind": "suspicious_item"}, "description", "required"),
        ({**ITEM, "kind": "alien_landing"}, "kind", "Input should be"),
        ({**ITEM, "lon": 200.0, "lat": 52.6}, "lon", "less than or equal to 180"),
        ({**ITEM, "lon": -0.7}, "body", "both lon and lat"),
        ({**ITEM, "happening_now": True}, "happening_now", "call 999"),
        ({**ITEM, "kind": "hate_incident"}, "protected_characteristic", "hostility"),
        ({**ITEM, "kind": "online_content"}, "link", "web address"),
        ({"kind": "suspicious_behaviour", "description": "x"}, "where", "place"),
        ({**ITEM, "anonymous": False}, "contact", "name, phone or email"),
        ({**ITEM, "occurred_at": "2999-01-01T00:00:00Z"}, "body", "future"),
        ({**ITEM, "photos": [{"data_base64": "bm90IGFuIGltYWdl"}]}, "photos", "not a photo"),
        ({**ITEM, "photos": [{"data_base64": "***"}]}, "photos", "base64"),
        ({**ITEM, "surprise": 1}, "surprise", "Extra inputs"),
    ],
)
def test_bad_input_is_422_with_the_field(client, settings, body, field, fragment) -> None:
    response = client.post("/api/reports", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert any(
        e["field"] == field and fragment in e["message"] for e in problem.get("errors", [])
    ) or (fragment in problem["detail"]), problem
    assert _count(settings) == 0


def test_malformed_json_is_422(client) -> None:
    response = client.post(
        "/api/reports", content=b'{"kind": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


def test_oversize_photo_is_refused(client, settings) -> None:
    big = b"\xff\xd8\xff" + b"0" * (9 * 1024 * 1024)
    body = {**ITEM, "photos": [{"data_base64": base64.b64encode(big).decode()}]}
    response = client.post("/api/reports", json=body)
    assert response.status_code in (413, 422)
    assert _count(settings) == 0


def test_openapi_documents_the_report_api(client) -> None:
    schema = client.get("/api/openapi.json").json()
    assert "/api/reports" in schema["paths"]
    assert "Idempotency-Key" in str(schema["paths"]["/api/reports"]["post"]["parameters"])
