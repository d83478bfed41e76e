"""Retention and key rotation: what happens to stored reports after they are closed.

:func:`anonymise_closed_reports` blanks the free text, contact details,
photos, receipt and exact place of reports closed longer than the retention
period (``settings.reporting.retention_days``; ``watchfloor reports
retention``), keeping kind, queue, dates and the audit trail for statistics.
:func:`reencrypt_all` moves every contact detail and photo to the key ring's
current key (``watchfloor keys rotate``).

Imports storage and the foundation.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from watchfloor.storage.keys import KeyRing
from watchfloor.storage.models import AuditEntry, Report, ReportAttachment, ReportEvent, utc_now
from watchfloor.types import ReportStatus

__all__ = ["anonymise_closed_reports", "reencrypt_all"]

log = logging.getLogger(__name__)


def anonymise_closed_reports(
    session: Session, *, older_than: timedelta, now: datetime | None = None
) -> int:
    """Return how many closed reports were anonymised (committed).

    Reports closed longer than ``older_than`` ago lose their free text, contact
    details, photos, exact location (rounded to about 1 km) and receipt code;
    kind, queue, dates and the audit trail stay for statistics.
    """
    now = now or utc_now()
    cutoff = now - older_than
    ids = list(
        session.scalars(
            select(Report.id).where(
                Report.status == ReportStatus.CLOSED,
                Report.closed_at < cutoff,
                Report.anonymised_at.is_(None),
            )
        )
    )
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.execute(delete(ReportAttachment).where(ReportAttachment.report_id.in_(chunk)))
        session.execute(update(ReportEvent).where(ReportEvent.report_id.in_(chunk)).values(text=""))
        session.execute(
            update(Report)
            .where(Report.id.in_(chunk))
            .values(
                description="",
                people_description="",
                vehicle_description="",
                link="",
                place_text="",
                details={},
                contact_ciphertext=None,
                contact_key_id="",
                receipt_hash="",
                minhash=None,
                lon=func.round(Report.lon, 2),
                lat=func.round(Report.lat, 2),
                anonymised_at=now,
            )
        )
        session.add(AuditEntry(action="report.retention.anonymise", detail=f"{len(chunk)} reports"))
    session.commit()
    log.info("retention: anonymised %d closed report(s)", len(ids))
    return len(ids)


def reencrypt_all(session: Session, keyring: KeyRing) -> int:
    """Return how many ciphertexts were re-encrypted under the ring's current key (committed)."""
    count = 0
    for report in session.scalars(
        select(Report).where(
            Report.contact_ciphertext.is_not(None), Report.contact_key_id != keyring.current_id
        )
    ):
        assert report.contact_ciphertext is not None
        aad = f"contact:{report.id}".encode()
        plaintext = keyring.decrypt(report.contact_key_id, report.contact_ciphertext, aad=aad)
        report.contact_key_id, report.contact_ciphertext = keyring.encrypt(plaintext, aad=aad)
        count += 1
    for attachment in session.scalars(
        select(ReportAttachment).where(ReportAttachment.key_id != keyring.current_id)
    ):
        aad = f"attachment:{attachment.id}".encode()
        plaintext = keyring.decrypt(attachment.key_id, attachment.ciphertext, aad=aad)
        attachment.key_id, attachment.ciphertext = keyring.encrypt(plaintext, aad=aad)
        count += 1
    session.add(AuditEntry(action="keys.rotate", detail=f"{count} ciphertexts re-encrypted"))
    session.commit()
    log.info("re-encrypted %d ciphertext(s) under the current key", count)
    return count
