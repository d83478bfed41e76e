"""Public JSON API: submit a report, check it and add information with the receipt code."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from watchfloor.services.reports import (
    ReceiptStatus,
    ReportCreate,
    ReportReceipt,
    add_information,
    decode_photo_uploads,
    prepare_submission,
    receipt_status,
)
from watchfloor.services.reports.schemas import LineText
from watchfloor.web.deps import DbSession
from watchfloor.web.reporting import ReportingDep, WriterDep, rate_limit

__all__ = ["router"]

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {"schema": {"type": "object"}}}}

router = APIRouter(
    prefix="/api/reports",
    tags=["public reports"],
    dependencies=[Depends(rate_limit)],
    responses={
        413: {"description": "Request too large", **_PROBLEM},
        422: {"description": "A field is missing or not valid", **_PROBLEM},
        429: {"description": "Too many requests from this client", **_PROBLEM},
    },
)

Reference = Annotated[str, Path(max_length=20, pattern=r"^[A-Za-z0-9]+$")]


class ReceiptCheck(BaseModel):
    """The receipt code given when the report was sent."""

    model_config = ConfigDict(extra="forbid")

    receipt_code: LineText = Field(min_length=1, max_length=40)


class InformationAdd(BaseModel):
    """Further information from the reporter."""

    model_config = ConfigDict(extra="forbid")

    receipt_code: LineText = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=5000)


@router.post(
    "",
    status_code=201,
    responses={
        409: {"description": "Idempotency-Key reused for another report", **_PROBLEM},
        503: {"description": "Not stored just now: send it again (same key)", **_PROBLEM},
    },
)
async def create_report(
    body: ReportCreate,
    reporting: ReportingDep,
    writer: WriterDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            description="A random key per report; a retry with the same key is stored once.",
        ),
    ] = None,
) -> ReportReceipt:
    """Send a report. The answer comes only once the report is stored for good.

    Keep the receipt code: it is shown once. Choosing ``happening_now`` is refused:
    call 999 instead.
    """
    photos = []
    if body.photos:
        photos = await run_in_threadpool(
            decode_photo_uploads, body.photos, max_bytes=reporting.options.max_photo_bytes
        )
    # CPU only (triage, the receipt code's argon2id hash): cheaper here than a thread hop.
    submission = prepare_submission(
        body,
        secret=reporting.secret,
        options=reporting.options,
        sites=reporting.sites,
        photos=photos,
        idempotency_key=idempotency_key,
    )
    return await writer.store(submission)


@router.post(
    "/{reference}/status",
    responses={404: {"description": "Reference and code do not match", **_PROBLEM}},
)
def check_report(reference: Reference, body: ReceiptCheck, session: DbSession) -> ReceiptStatus:
    """Whether the report was received or reviewed; nothing more is disclosed."""
    return receipt_status(session, reference, body.receipt_code)


@router.post(
    "/{reference}/information",
    responses={404: {"description": "Reference and code do not match", **_PROBLEM}},
)
def add_report_information(
    reference: Reference, body: InformationAdd, session: DbSession
) -> ReceiptStatus:
    """Add information to a report with its receipt code."""
    add_information(session, reference, body.receipt_code, body.text)
    return receipt_status(session, reference, body.receipt_code)
