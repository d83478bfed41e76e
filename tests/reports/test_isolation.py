"""The report writer isolates a submission it cannot store: the rest of its batch is stored.

Each bad submission here is built past the schema's checks (``model_copy``), as
if a value the boundary let through reached the writer: the writer must answer
it alone with a 4xx naming the field, and store and acknowledge the others.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from watchfloor.errors import FieldError, IdempotencyConflictError, InvalidInputError
from watchfloor.services import reports as svc
from watchfloor.services.reports import prepare_submission, store_submissions
from watchfloor.settings import ReportingOptions
from watchfloor.storage.models import IdempotencyKey, Report

SECRET = b"test-secret-key-0123456789abcdef"
OLD_SECRET = b"an-older-secret-key-0123456789ab"
OPTIONS = ReportingOptions(receipt_hash_memory_kib=64, receipt_hash_time_cost=1)
BASE = {
    "kind": "suspicious_behaviour",
    "description": "a man in a red coat was filming the entrance of the mosque",
    "lon": -0.7270,
    "lat": 52.6700,
}
YEAR_ONE_PLUS_5 = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))


def _sub(key: str | None = None, *, secret: bytes = SECRET, unchecked: dict | None = None, **f):
    data = svc.ReportCreate.model_validate({**BASE, **f})
    if unchecked:
        data = data.model_copy(update=unchecked)  # past the schema's checks, on purpose
    return prepare_submission(
        data, secret=secret, options=OPTIONS, sites=svc.SiteIndex.empty(), idempotency_key=key
    )


def _count(database, model=Report) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _genuine(n: int, tag: str) -> list:
    return [_sub(f"{tag}-{i:04d}", description=f"genuine report {i} by the gate") for i in range(n)]


@pytest.mark.parametrize(
    ("field", "unchecked"),
    [
        ("occurred_at", {"occurred_at": YEAR_ONE_PLUS_5}),
        ("occurred_at", {"occurred_at": datetime(1, 1, 1, tzinfo=UTC)}),
        ("description", {"description": "a parcel\x00 left by the door"}),
        ("link", {"link": "https://example.org/\x00x"}),
        ("place_text", {"place_text": "Oakham\x00"}),
        ("vehicle_description", {"vehicle_description": "\x00"}),
    ],
)
def test_one_unstorable_submission_fails_alone(any_database, any_keyring, field, unchecked) -> None:
    before = _genuine(3, "before")
    bad = _sub("bad-key-0001", unchecked=unchecked)
    after = _genuine(3, "after")
    outcomes = store_submissions(
        any_database, [*before, bad, *after], keyring=any_keyring, secret=SECRET
    )
    assert all(isinstance(o, svc.ReportReceipt) for o in outcomes[:3] + outcomes[4:])
    error = outcomes[3]
    assert isinstance(error, FieldError)
    assert error.http_status == 422
    assert error.field == field
    assert field in str(error)
    assert _count(any_database) == 6
    assert _count(any_database, IdempotencyKey) == 6  # nothing of the bad one stored half-way


def test_a_batch_of_only_unstorable_submissions_stores_nothing(any_database, any_keyring) -> None:
    bad = [
        _sub(unchecked={"occurred_at": YEAR_ONE_PLUS_5}),
        _sub(unchecked={"description": "\x00"}),
    ]
    outcomes = store_submissions(any_database, bad, keyring=any_keyring, secret=SECRET)
    assert all(isinstance(o, InvalidInputError) for o in outcomes)
    assert _count(any_database) == 0


def test_a_retry_sealed_under_an_older_secret_is_a_conflict_for_it_alone(
    any_database, any_keyring
) -> None:
    first = _sub("rotated-key-0001", secret=OLD_SECRET, description="the first copy")
    (receipt,) = store_submissions(any_database, [first], keyring=any_keyring, secret=OLD_SECRET)
    assert isinstance(receipt, svc.ReportReceipt)
    # The service's secret changed; the client retries with the same key and content.
    retry = _sub("rotated-key-0001", description="the first copy")
    others = _genuine(3, "fresh")
    outcomes = store_submissions(
        any_database, [others[0], retry, *others[1:]], keyring=any_keyring, secret=SECRET
    )
    assert isinstance(outcomes[1], IdempotencyConflictError)
    assert outcomes[1].http_status == 409
    assert receipt.reference in str(outcomes[1])  # it was received: do not send it again
    assert all(isinstance(o, svc.ReportReceipt) for o in (outcomes[0], *outcomes[2:]))
    assert _count(any_database) == 4


@pytest.mark.parametrize(
    "unchecked",
    [{"occurred_at": YEAR_ONE_PLUS_5}, {"description": "\x00"}],
    ids=["overflowing-date", "nul"],
)
def test_what_the_writer_did_not_foresee_still_fails_alone(
    any_database, any_keyring, any_settings, monkeypatch, unchecked
) -> None:
    # Without the writer's own check, the database (or the driver) refuses the row:
    # the batch is stored one by one and only the bad one fails, with a 422.
    monkeypatch.setattr("watchfloor.services.reports.intake.unstorable_field", lambda _data: None)
    if "description" in unchecked and not any_settings.resolved_database_url.startswith(
        "postgresql"
    ):
        pytest.skip("SQLite stores NUL in text")
    subs = [*_genuine(2, "one"), _sub(unchecked=unchecked), *_genuine(2, "two")]
    outcomes = store_submissions(any_database, subs, keyring=any_keyring, secret=SECRET)
    assert isinstance(outcomes[2], InvalidInputError)
    assert outcomes[2].http_status == 422
    assert all(isinstance(o, svc.ReportReceipt) for o in outcomes[:2] + outcomes[3:])
    assert _count(any_database) == 4


@pytest.mark.parametrize("key", ["abcdefgh\n", "abcdefgh\x00", "abcdéfgh", "２２２２２２２２"])
def test_idempotency_keys_are_ascii_without_a_trailing_newline(key) -> None:
    with pytest.raises(InvalidInputError, match="Idempotency-Key"):
        _sub(key)
