"""Report intake: group commit, idempotency within a batch, near-duplicates after the commit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from watchfloor.errors import IdempotencyConflictError
from watchfloor.services import reports as svc
from watchfloor.services.reports import (
    ReportWriter,
    link_pending_duplicates,
    prepare_submission,
    random_code,
    store_submissions,
)
from watchfloor.settings import ReportingOptions
from watchfloor.storage.models import IdempotencyKey, Report

SECRET = b"test-secret-key-0123456789abcdef"
OPTIONS = ReportingOptions()
BASE = {
    "kind": "suspicious_behaviour",
    "description": "a man in a red coat was filming the entrance of the mosque",
    "lon": -0.7270,
    "lat": 52.6700,
}


def _sub(key: str | None = None, **fields):
    data = svc.ReportCreate.model_validate({**BASE, **fields})
    return prepare_submission(
        data, secret=SECRET, options=OPTIONS, sites=svc.SiteIndex.empty(), idempotency_key=key
    )


def _count(database, model=Report) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_random_codes_are_crockford_base32_of_the_asked_bits() -> None:
    codes = {random_code(10) for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 16 and set(c) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for c in codes)


def test_receipt_hash_cost_comes_from_the_settings() -> None:
    options = ReportingOptions(receipt_hash_memory_kib=64, receipt_hash_time_cost=2)
    data = svc.ReportCreate.model_validate(BASE)
    sub = prepare_submission(data, secret=SECRET, options=options, sites=svc.SiteIndex.empty())
    assert sub.receipt_hash.startswith("$argon2id$v=19$m=64,t=2,p=1$")
    with pytest.raises(ValueError, match="receipt_hash_memory_kib"):
        ReportingOptions(receipt_hash_memory_kib=4)


def test_one_batch_stores_many_and_answers_a_retry_in_the_same_batch(database, keyring) -> None:
    subs = [
        _sub(f"batch-key-{i:04d}", description=f"report number {i} by the gate") for i in range(5)
    ]
    retry = _sub("batch-key-0002", description="report number 2 by the gate")
    clash = _sub("batch-key-0003", description="something else entirely")
    outcomes = store_submissions(database, [*subs, retry, clash], keyring=keyring, secret=SECRET)
    receipts = outcomes[:5]
    assert all(isinstance(r, svc.ReportReceipt) for r in receipts)
    # The retry gets the first copy's receipt; the reused key with other content is refused.
    assert outcomes[5] == receipts[2]
    assert isinstance(outcomes[6], IdempotencyConflictError)
    assert _count(database) == 5
    assert _count(database, IdempotencyKey) == 5
    # A later retry is answered from the stored receipt, still once.
    again = store_submissions(
        database,
        [_sub("batch-key-0004", description="report number 4 by the gate")],
        keyring=keyring,
        secret=SECRET,
    )
    assert again == [receipts[4]]
    assert _count(database) == 5


def test_near_duplicates_wait_for_the_pass_after_the_commit(database, keyring) -> None:
    first, copy = (
        _sub(),
        _sub(description="man in a red coat was filming the entrance of the mosque"),
    )
    store_submissions(database, [first, copy], keyring=keyring, secret=SECRET)
    with database.sessions() as session:
        pending = session.scalars(select(Report).where(Report.duplicate_checked_at.is_(None)))
        assert len(list(pending)) == 2  # stored and acknowledged, not yet checked
    assert link_pending_duplicates(database, options=OPTIONS) == 2
    assert link_pending_duplicates(database, options=OPTIONS) == 0
    with database.sessions() as session:
        rows = list(session.scalars(select(Report).order_by(Report.id)))
    assert rows[0].duplicate_of_id is None
    assert rows[1].duplicate_of_id == rows[0].id
    assert all(r.duplicate_checked_at is not None and r.minhash for r in rows)


def test_writer_group_commits_concurrent_submissions(database, keyring) -> None:
    writer = ReportWriter(database, keyring=keyring, secret=SECRET, options=OPTIONS)

    async def send_all() -> list[svc.ReportReceipt]:
        subs = [
            _sub(f"writer-key-{i:04d}", description=f"bag {i} left by bench") for i in range(60)
        ]
        # Each one sent twice at once, as a client retrying a slow answer would.
        return await asyncio.gather(*(writer.store(s) for s in subs + subs))

    try:
        receipts = asyncio.run(send_all())
    finally:
        writer.close()
    assert receipts[:60] == receipts[60:]
    assert len({r.reference for r in receipts}) == 60
    assert _count(database) == 60
    # The writer ran the near-duplicate pass when it had nothing left to store.
    with database.sessions() as session:
        pending = session.scalar(
            select(func.count()).select_from(Report).where(Report.duplicate_checked_at.is_(None))
        )
    assert pending == 0
