"""Receipt codes and idempotency: what lets a reporter come back, and a retry be stored once.

A receipt code is 80 random bits (16 Crockford base32 characters), shown once
and stored only as its argon2id hash (:func:`receipt_hasher`). With the
reference and the code a reporter sees whether the report was reviewed
(:func:`receipt_status`) and adds information (:func:`add_information`); a
wrong code and an unknown reference cost the same and say the same.

A submission with an Idempotency-Key stores the key's SHA-256, the request's
hash (:func:`request_hash`) and the receipt sealed under a key derived from the
idempotency key and the app's secret (:func:`seal_receipt`), so that a retry is
answered with the first receipt (:func:`open_receipt`) and nothing else.

Imports the schemas, storage models and the foundation.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from collections.abc import Sequence
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.services.reports.schemas import (
    MAX_TEXT,
    Photo,
    ReceiptStatus,
    ReportCreate,
    clean_text,
)
from watchfloor.settings import ReportingOptions
from watchfloor.storage.models import Report, ReportEvent, utc_now

__all__ = [
    "RECEIPT_BYTES",
    "add_information",
    "check_idempotency_key",
    "format_receipt",
    "idempotency_cipher",
    "open_receipt",
    "random_code",
    "receipt_hasher",
    "receipt_status",
    "request_hash",
    "seal_receipt",
]

log = logging.getLogger(__name__)

# Crockford base32 (no I, L, O, U) in the order of RFC 4648's alphabet.
_TO_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)
#: Receipt codes: 10 random bytes = 80 bits = 16 Crockford characters.
RECEIPT_BYTES = 10

# Checking a code against an unknown reference costs one hash at the default cost.
_probe_hasher = PasswordHasher(
    time_cost=ReportingOptions.model_fields["receipt_hash_time_cost"].default,
    memory_cost=ReportingOptions.model_fields["receipt_hash_memory_kib"].default,
    parallelism=1,
)


def random_code(n_bytes: int) -> str:
    """Return ``n_bytes`` of OS entropy as Crockford base32 (8 bits -> 1.6 characters)."""
    return base64.b32encode(secrets.token_bytes(n_bytes)).translate(_TO_CROCKFORD).decode()


def format_receipt(code: str) -> str:
    """Return a receipt code in groups of four characters (``ABCD-EFGH-...``), as shown."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _normalise_receipt(code: str) -> str:
    table = str.maketrans({"O": "0", "I": "1", "L": "1"})
    return re.sub(r"[\s-]", "", code.upper()).translate(table)


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def receipt_hasher(options: ReportingOptions) -> PasswordHasher:
    """Return the argon2id hasher of receipt codes for ``options`` (cost from the settings)."""
    return _hasher(options.receipt_hash_time_cost, options.receipt_hash_memory_kib)


def idempotency_cipher(secret: bytes, key: str) -> AESGCM:
    """Return the AES-GCM cipher of an idempotency key (HKDF of the key, salted by the secret)."""
    derived = HKDF(algorithm=SHA256(), length=32, salt=secret, info=b"idempotency").derive(
        key.encode()
    )
    return AESGCM(derived)


def seal_receipt(secret: bytes, key: str, receipt_code: str) -> bytes:
    """Return ``receipt_code`` encrypted under idempotency ``key`` (nonce first)."""
    nonce = secrets.token_bytes(12)
    return nonce + idempotency_cipher(secret, key).encrypt(nonce, receipt_code.encode(), None)


def open_receipt(secret: bytes, key: str, blob: bytes) -> str:
    """Return the receipt code sealed by :func:`seal_receipt` under ``key``."""
    return idempotency_cipher(secret, key).decrypt(blob[:12], blob[12:], None).decode()


def request_hash(data: ReportCreate, photos: Sequence[Photo]) -> str:
    """Return the SHA-256 of a submission (its fields and its photos' bytes), hex."""
    digest = hashlib.sha256(data.model_dump_json(exclude={"photos"}).encode())
    for photo in photos:
        digest.update(hashlib.sha256(photo.data).digest())
    return digest.hexdigest()


def check_idempotency_key(key: str) -> None:
    """Refuse a malformed Idempotency-Key.

    Raises
    ------
    InvalidInputError
        Unless the key is 8-200 characters of letters, digits, '.', '_', ':', '-'.
    """
    if not 8 <= len(key) <= 200 or not re.fullmatch(r"[A-Za-z0-9._:\-]+", key):
        msg = "Idempotency-Key must be 8-200 characters of letters, digits, '.', '_', ':', '-'"
        raise InvalidInputError(msg)


_WRONG_RECEIPT = (
    "the reference and receipt code do not match a report we hold; check both and try again"
)


def _report_for_receipt(session: Session, reference: str, receipt_code: str) -> Report:
    reference = reference.strip().upper()
    report = session.scalar(select(Report).where(Report.reference == reference))
    code = _normalise_receipt(receipt_code)
    if report is None or not report.receipt_hash:
        # Same work and message as a wrong code, so references cannot be probed.
        _probe_hasher.hash(code or "x")
        raise NotFoundError(_WRONG_RECEIPT)
    try:
        _probe_hasher.verify(report.receipt_hash, code)
    except (VerificationError, InvalidHashError):
        raise NotFoundError(_WRONG_RECEIPT) from None
    return report


def receipt_status(session: Session, reference: str, receipt_code: str) -> ReceiptStatus:
    """Return whether the report was received or reviewed (nothing more).

    Raises
    ------
    NotFoundError
        When the reference and code do not match (or the report was anonymised).
    """
    report = _report_for_receipt(session, reference, receipt_code)
    return ReceiptStatus(
        reference=report.reference,
        status="reviewed" if report.reviewed_at is not None else "received",
        received_at=report.received_at,
    )


def add_information(session: Session, reference: str, receipt_code: str, text: str) -> None:
    """Add the reporter's further information to their report (committed here).

    Raises
    ------
    NotFoundError
        When the reference and code do not match.
    InvalidInputError
        When the text is empty or too long.
    """
    text = clean_text(text)
    if not text or len(text) > MAX_TEXT:
        msg = f"information: write between 1 and {MAX_TEXT} characters"
        raise InvalidInputError(msg)
    report = _report_for_receipt(session, reference, receipt_code)
    session.add(ReportEvent(report_id=report.id, kind="reporter_info", text=text))
    report.updated_at = utc_now()
    session.commit()
    log.info("reporter added information to a report")
