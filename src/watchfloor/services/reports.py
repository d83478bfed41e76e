"""Public reports: submission, receipts, triage, staff workflow, export and retention.

A submission is validated once (:class:`ReportCreate`), triaged (queue and
priority with reasons), linked to a near-duplicate when one exists, and stored
in one transaction with its photos (encrypted), its contact details (encrypted),
its idempotency key and, for counter-terrorism reports, an outbox message for
forwarding. The reference and receipt code are returned only after the commit.

Nothing here logs report text or reporter identity: log lines carry counts,
kinds and queues only.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from watchfloor.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    WatchfloorError,
)
from watchfloor.geo import haversine_m
from watchfloor.services.auth import StaffUser
from watchfloor.settings import ReportingOptions
from watchfloor.storage.db import Database
from watchfloor.storage.keys import KeyRing
from watchfloor.storage.models import (
    AuditEntry,
    Report,
    ReportAttachment,
    ReportEvent,
    utc_now,
)

__all__ = [
    "BULK_ROLES",
    "CONTACT_ROLES",
    "EXPORT_ROLES",
    "KINDS",
    "PROTECTED_CHARACTERISTICS",
    "QUEUES",
    "READ_ROLES",
    "STATUSES",
    "WORK_ROLES",
    "BulkResult",
    "Contact",
    "Photo",
    "PhotoUpload",
    "QueuePage",
    "ReceiptStatus",
    "ReportCreate",
    "ReportDetail",
    "ReportReceipt",
    "ReportSummary",
    "ReportingOptions",
    "SiteIndex",
    "Triage",
    "add_information",
    "add_note",
    "anonymise_closed_reports",
    "bulk_action",
    "change_status",
    "check_photo",
    "export_csv",
    "export_geojson",
    "get_report",
    "list_queue",
    "minhash_signature",
    "open_attachment",
    "open_contact",
    "receipt_status",
    "reencrypt_all",
    "retriage",
    "similarity",
    "submit_report",
    "triage",
]

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

#: Report kinds and their plain-English labels.
KINDS: dict[str, str] = {
    "suspicious_behaviour": "Suspicious behaviour",
    "suspicious_item": "A suspicious item or vehicle",
    "online_content": "Online extremist or terrorist content",
    "hate_incident": "A hate incident or hate crime",
    "past_incident": "Information about something that has already happened",
    "prevent_concern": "Worried someone is being drawn into extremism",
}

#: Protected characteristics for hate incidents.
PROTECTED_CHARACTERISTICS: dict[str, str] = {
    "race": "Race or ethnicity",
    "religion": "Religion or belief",
    "sexual_orientation": "Sexual orientation",
    "disability": "Disability",
    "transgender": "Transgender identity",
    "alternative_subculture": "Alternative subculture",
    "other": "Something else",
}

QUEUES: dict[str, str] = {
    "ct": "Counter-terrorism",
    "hate_crime": "Hate crime",
    "neighbourhood": "Neighbourhood",
    "prevent": "Prevent",
}

STATUSES: tuple[str, ...] = ("new", "triaged", "assigned", "actioned", "closed")

_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"triaged", "assigned", "actioned", "closed"}),
    "triaged": frozenset({"assigned", "actioned", "closed"}),
    "assigned": frozenset({"triaged", "actioned", "closed"}),
    "actioned": frozenset({"assigned", "closed"}),
    "closed": frozenset({"triaged"}),
}

#: Roles that may read queues and reports.
READ_ROLES: tuple[str, ...] = (
    "reviewer",
    "ct_analyst",
    "hate_crime_officer",
    "neighbourhood_officer",
    "supervisor",
    "regional_ct",
)
#: Roles that may change status, add notes and re-triage.
WORK_ROLES: tuple[str, ...] = (
    "reviewer",
    "ct_analyst",
    "hate_crime_officer",
    "neighbourhood_officer",
    "supervisor",
)
#: Roles that may route or close many reports at once.
BULK_ROLES: tuple[str, ...] = ("reviewer", "supervisor")
#: Roles that may open reporter contact details and photos (with a purpose).
CONTACT_ROLES: tuple[str, ...] = ("ct_analyst", "hate_crime_officer", "supervisor")
#: Roles that may export reports for analysis.
EXPORT_ROLES: tuple[str, ...] = ("ct_analyst", "hate_crime_officer", "supervisor", "regional_ct")

_MAX_TEXT = 5000
_MAX_SHORT = 500


# ---------------------------------------------------------------------------
# Input schema
# ---------------------------------------------------------------------------


def _clean_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value)
    value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return value.strip()


CleanText = Annotated[str, AfterValidator(_clean_text)]


def _check_link(value: str) -> str:
    if value and not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        msg = "give the full web address, starting with http:// or https://"
        raise ValueError(msg)
    return value


class Contact(BaseModel):
    """Optional contact details of the reporter (stored encrypted)."""

    model_config = ConfigDict(extra="forbid")

    name: CleanText = Field(default="", max_length=200)
    phone: CleanText = Field(default="", max_length=40, pattern=r"^[0-9 +()\-]*$")
    email: str = Field(default="", max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")

    def is_empty(self) -> bool:
        """Return whether no detail was given."""
        return not (self.name or self.phone or self.email)


class PhotoUpload(BaseModel):
    """A photo sent through the JSON API as base64."""

    model_config = ConfigDict(extra="forbid")

    data_base64: str = Field(max_length=12 * 1024 * 1024, description="The image file, base64.")


class ReportCreate(BaseModel):
    """What a member of the public tells us (the form and the JSON API share it)."""

    model_config = ConfigDict(extra="forbid", str_max_length=_MAX_TEXT)

    kind: Literal[
        "suspicious_behaviour",
        "suspicious_item",
        "online_content",
        "hate_incident",
        "past_incident",
        "prevent_concern",
    ]
    happening_now: bool = Field(
        default=False, description="True stops the report: call 999 instead."
    )
    description: CleanText = Field(min_length=1, max_length=_MAX_TEXT)
    occurred_at: datetime | None = Field(default=None, description="When it happened (ISO 8601).")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    place_text: CleanText = Field(default="", max_length=_MAX_SHORT)
    site_id: str = Field(default="", max_length=32, pattern=r"^[a-z0-9]*$")
    people_description: CleanText = Field(default="", max_length=_MAX_TEXT)
    vehicle_description: CleanText = Field(default="", max_length=_MAX_TEXT)
    link: Annotated[str, AfterValidator(_check_link)] = Field(default="", max_length=2000)
    protected_characteristic: Literal[
        "",
        "race",
        "religion",
        "sexual_orientation",
        "disability",
        "transgender",
        "alternative_subculture",
        "other",
    ] = ""
    victim_or_witness: Literal["", "victim", "witness"] = ""
    prevent_relationship: Literal["", "family", "friend", "colleague", "teacher", "other"] = ""
    anonymous: bool = True
    contact: Contact | None = None
    photos: list[PhotoUpload] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _check(self) -> ReportCreate:
        if self.happening_now:
            msg = (
                "happening_now: if it is happening now, call 999 straight away; "
                "do not use this form"
            )
            raise ValueError(msg)
        if (self.lon is None) != (self.lat is None):
            msg = "give both lon and lat, or neither"
            raise ValueError(msg)
        if self.occurred_at is not None:
            if self.occurred_at.tzinfo is None:
                self.occurred_at = self.occurred_at.replace(tzinfo=UTC)
            if self.occurred_at > utc_now() + timedelta(minutes=10):
                msg = "occurred_at is in the future; give the date and time it happened"
                raise ValueError(msg)
        has_place = self.lon is not None or bool(self.place_text) or bool(self.site_id)
        if self.kind == "online_content":
            if not self.link:
                msg = "link: give the web address of the content"
                raise ValueError(msg)
        elif self.kind != "prevent_concern" and not has_place:
            msg = "where: pick a place on the map, type a place or address, or choose a site"
            raise ValueError(msg)
        if self.kind == "hate_incident":
            if not self.protected_characteristic:
                msg = "protected_characteristic: say what you think the hostility was about"
                raise ValueError(msg)
            if not self.victim_or_witness:
                msg = "victim_or_witness: say whether it happened to you or you saw it"
                raise ValueError(msg)
        if not self.anonymous and (self.contact is None or self.contact.is_empty()):
            msg = "contact: give a name, phone or email, or choose to stay anonymous"
            raise ValueError(msg)
        return self


class ReportReceipt(BaseModel):
    """What the reporter gets back: keep the receipt code, it is shown only once."""

    reference: str
    receipt_code: str
    status: Literal["received"] = "received"
    received_at: datetime


class ReceiptStatus(BaseModel):
    """All a receipt code discloses: whether the report was received and reviewed."""

    reference: str
    status: Literal["received", "reviewed"]
    received_at: datetime


@dataclass(frozen=True)
class Photo:
    """A checked image: its bytes and the content type found from its magic bytes."""

    data: bytes
    content_type: str


def check_photo(data: bytes, *, max_bytes: int) -> Photo:
    """Return ``data`` as a :class:`Photo` after checking its size and real type.

    The type comes from the file's content (magic bytes), never from its name:
    JPEG, PNG, WebP and HEIC/HEIF are accepted.

    Raises
    ------
    InvalidInputError
        When the file is empty, too large or not one of those image types.
    """
    if not data:
        msg = "photos: the file is empty; choose a photo"
        raise InvalidInputError(msg)
    if len(data) > max_bytes:
        msg = f"photos: a photo is larger than {max_bytes // (1024 * 1024)} MB; send a smaller one"
        raise InvalidInputError(msg)
    content_type = ""
    if data[:3] == b"\xff\xd8\xff":
        content_type = "image/jpeg"
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        content_type = "image/png"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        content_type = "image/webp"
    elif data[4:8] == b"ftyp" and data[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"hevc"}:
        content_type = "image/heic"
    if not content_type:
        msg = "photos: a file is not a photo (JPEG, PNG, WebP or HEIC); choose a photo"
        raise InvalidInputError(msg)
    return Photo(data=data, content_type=content_type)


# ---------------------------------------------------------------------------
# Triage
# ---------------------------------------------------------------------------

_KEYWORDS: dict[str, int] = {
    "bomb": 2,
    "explosive": 2,
    "device": 1,
    "gun": 2,
    "firearm": 2,
    "rifle": 2,
    "knife": 1,
    "machete": 2,
    "weapon": 2,
    "acid": 1,
    "attack": 1,
    "kill": 1,
    "threat": 1,
    "wires": 1,
    "rucksack": 1,
    "abandoned": 1,
    "filming": 1,
    "photographing": 1,
    "reconnaissance": 1,
    "martyr": 1,
    "chemical": 1,
    "fertiliser": 1,
    "fertilizer": 1,
}

_BASE_PRIORITY: dict[str, int] = {
    "suspicious_item": 2,
    "suspicious_behaviour": 3,
    "hate_incident": 3,
    "online_content": 3,
    "prevent_concern": 3,
    "past_incident": 4,
}


@dataclass(frozen=True)
class SiteIndex:
    """High-risk sites (places of worship, crowded places, night-time zones) of a region."""

    site_id: list[str]
    name: list[str]
    kind: list[str]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]

    @classmethod
    def empty(cls) -> SiteIndex:
        """Return an index without sites."""
        return cls([], [], [], np.zeros(0), np.zeros(0))

    def nearest(self, lon: float, lat: float) -> tuple[int, float]:
        """Return ``(index, distance_m)`` of the site nearest to a point (-1 if none)."""
        if not self.site_id:
            return -1, float("inf")
        dist_m = haversine_m(lon, lat, self.lon, self.lat)
        i = int(np.argmin(dist_m))
        return i, float(dist_m[i])

    def position(self, site_id: str) -> tuple[float, float] | None:
        """Return ``(lon, lat)`` of ``site_id``, or None when not in the index."""
        try:
            i = self.site_id.index(site_id)
        except ValueError:
            return None
        return float(self.lon[i]), float(self.lat[i])


@dataclass(frozen=True)
class Triage:
    """Queue and priority (1 = most urgent, 5 = least) of a report, with the reasons."""

    queue: str
    priority: int
    reasons: list[str] = field(default_factory=list)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def triage(
    data: ReportCreate, *, now: datetime, sites: SiteIndex, near_site_m: float = 250.0
) -> Triage:
    """Return the queue and priority of a new report, with plain-language reasons.

    Queue: hate incidents to hate crime, Prevent concerns to Prevent, suspicious
    activity, items and online content to counter-terrorism, information about
    past incidents to neighbourhood unless it mentions weapons or attack words.
    Priority starts from the kind (items 2, most others 3, past incidents 4) and
    goes up one step for attack keywords (two for two or more distinct ones),
    for something seen within the last two hours, and for a place within
    ``near_site_m`` of a place of worship, crowded place or night-time zone.
    """
    text = " ".join((data.description, data.people_description, data.vehicle_description))
    found = sorted({w for w in _words(text) if w in _KEYWORDS})
    weight = sum(_KEYWORDS[w] for w in found)
    reasons: list[str] = [f"kind: {data.kind.replace('_', ' ')}"]
    if data.kind == "hate_incident":
        queue = "hate_crime"
    elif data.kind == "prevent_concern":
        queue = "prevent"
    elif data.kind == "past_incident":
        queue = "ct" if weight >= 2 else "neighbourhood"
    else:
        queue = "ct"
    priority = _BASE_PRIORITY[data.kind]
    if weight >= 3:
        priority -= 2
    elif weight >= 1:
        priority -= 1
    if found:
        reasons.append(f"{len(found)} attack-related word(s)")
    if data.occurred_at is not None and now - data.occurred_at <= timedelta(hours=2):
        priority -= 1
        reasons.append("seen in the last two hours")
    point: tuple[float, float] | None = None
    if data.lon is not None and data.lat is not None:
        point = (data.lon, data.lat)
    elif data.site_id:
        point = sites.position(data.site_id)
    if point is not None:
        i, dist_m = sites.nearest(*point)
        if i >= 0 and dist_m <= near_site_m:
            priority -= 1
            reasons.append(f"{dist_m:.0f} m from {sites.kind[i].replace('_', ' ')}")
    return Triage(queue=queue, priority=min(5, max(1, priority)), reasons=reasons)


# ---------------------------------------------------------------------------
# Near-duplicates: MinHash over word 3-shingles
# ---------------------------------------------------------------------------

_N_HASHES = 64
_MERSENNE = (1 << 31) - 1
_rng = np.random.default_rng(20240601)  # fixed: signatures must be comparable forever
_HASH_A = _rng.integers(1, _MERSENNE, size=_N_HASHES, dtype=np.uint64)
_HASH_B = _rng.integers(0, _MERSENNE, size=_N_HASHES, dtype=np.uint64)


def _shingles(text: str) -> set[int]:
    words = _words(text)
    if len(words) < 3:
        grams = {" ".join(words)} if words else set()
    else:
        grams = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
    return {
        int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") % _MERSENNE
        for g in grams
    }


def minhash_signature(text: str) -> bytes:
    """Return the 64-value MinHash signature of the word 3-shingles of ``text``."""
    shingles = _shingles(text)
    if not shingles:
        return np.full(_N_HASHES, np.iinfo(np.uint64).max, dtype=np.uint64).tobytes()
    x = np.fromiter(shingles, dtype=np.uint64, count=len(shingles))
    # Universal hashing (a*x + b) mod p with p = 2**31 - 1: a, x < 2**31 fit in uint64.
    hashed = (np.multiply.outer(_HASH_A, x) + _HASH_B[:, None]) % np.uint64(_MERSENNE)
    return np.asarray(hashed.min(axis=1), dtype=np.uint64).tobytes()


def similarity(sig_a: bytes, sig_b: bytes) -> float:
    """Return the MinHash estimate of the Jaccard similarity of two signatures."""
    a = np.frombuffer(sig_a, dtype=np.uint64)
    b = np.frombuffer(sig_b, dtype=np.uint64)
    if a.shape != b.shape:
        return 0.0
    return float(np.mean(a == b))


# ---------------------------------------------------------------------------
# Submission and receipts
# ---------------------------------------------------------------------------

# Receipt codes are 16 Crockford base32 characters = 80 random bits (report_intake).
# Checking a code against an unknown reference costs one hash at the default cost.
_probe_hasher = PasswordHasher(
    time_cost=ReportingOptions.model_fields["receipt_hash_time_cost"].default,
    memory_cost=ReportingOptions.model_fields["receipt_hash_memory_kib"].default,
    parallelism=1,
)


def _format_receipt(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _normalise_receipt(code: str) -> str:
    table = str.maketrans({"O": "0", "I": "1", "L": "1"})
    return re.sub(r"[\s-]", "", code.upper()).translate(table)


def _idempotency_cipher(secret: bytes, key: str) -> AESGCM:
    derived = HKDF(algorithm=SHA256(), length=32, salt=secret, info=b"idempotency").derive(
        key.encode()
    )
    return AESGCM(derived)


def _request_hash(data: ReportCreate, photos: Sequence[Photo]) -> str:
    digest = hashlib.sha256(data.model_dump_json(exclude={"photos"}).encode())
    for photo in photos:
        digest.update(hashlib.sha256(photo.data).digest())
    return digest.hexdigest()


def _check_idempotency_key(key: str) -> None:
    if not 8 <= len(key) <= 200 or not re.match(r"^[A-Za-z0-9._:\-]+$", key):
        msg = "Idempotency-Key must be 8-200 characters of letters, digits, '.', '_', ':', '-'"
        raise InvalidInputError(msg)


def submit_report(
    database: Database,
    data: ReportCreate,
    *,
    keyring: KeyRing,
    secret: bytes,
    photos: Sequence[Photo] = (),
    idempotency_key: str | None = None,
    sites: SiteIndex | None = None,
    options: ReportingOptions | None = None,
    now: datetime | None = None,
) -> ReportReceipt:
    """Return the receipt of a new report, after it is durably committed and checked.

    The one-at-a-time form of the server's path (:mod:`watchfloor.services.report_intake`):
    the report is stored in its own transaction, then the near-duplicate pass
    runs before returning. With an ``idempotency_key`` a retried submission
    returns the first receipt and stores nothing new.

    Raises
    ------
    InvalidInputError
        For too many photos or a malformed idempotency key.
    IdempotencyConflictError
        When the key was used before for a different submission.
    """
    # Imported here: the intake module builds on this one.
    from watchfloor.services.report_intake import (  # noqa: PLC0415
        link_pending_duplicates,
        prepare_submission,
        store_submissions,
    )

    options = options or ReportingOptions()
    sub = prepare_submission(
        data,
        secret=secret,
        options=options,
        sites=sites or SiteIndex.empty(),
        photos=photos,
        idempotency_key=idempotency_key,
        now=now,
    )
    (outcome,) = store_submissions(database, [sub], keyring=keyring, secret=secret)
    if isinstance(outcome, WatchfloorError):
        raise outcome
    link_pending_duplicates(database, options=options)
    return outcome


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
    text = _clean_text(text)
    if not text or len(text) > _MAX_TEXT:
        msg = f"information: write between 1 and {_MAX_TEXT} characters"
        raise InvalidInputError(msg)
    report = _report_for_receipt(session, reference, receipt_code)
    session.add(ReportEvent(report_id=report.id, kind="reporter_info", text=text))
    report.updated_at = utc_now()
    session.commit()
    log.info("reporter added information to a report")


# ---------------------------------------------------------------------------
# Staff side
# ---------------------------------------------------------------------------


class ReportSummary(BaseModel):
    """One row of a queue."""

    id: int
    reference: str
    kind: str
    queue: str
    status: str
    priority: int
    received_at: datetime
    place: str
    duplicate_of: int | None


class QueuePage(BaseModel):
    """A keyset page of a queue; pass ``next_after`` back to get the next page."""

    items: list[ReportSummary]
    next_after: str | None


class ReportEventOut(BaseModel):
    """One history entry of a report."""

    at: datetime
    kind: str
    actor_id: int | None
    from_value: str
    to_value: str
    text: str


class ReportDetail(BaseModel):
    """A report as staff see it (without contact details: those need a purpose)."""

    id: int
    reference: str
    kind: str
    queue: str
    status: str
    priority: int
    priority_reasons: list[str]
    received_at: datetime
    occurred_at: datetime | None
    lon: float | None
    lat: float | None
    place_text: str
    site_id: str
    description: str
    people_description: str
    vehicle_description: str
    link: str
    details: dict[str, str]
    anonymous: bool
    has_contact: bool
    attachment_ids: list[int]
    duplicate_of: int | None
    duplicates: list[int]
    anonymised: bool
    events: list[ReportEventOut]


class BulkResult(BaseModel):
    """How many reports a bulk action changed, and which ids were skipped."""

    changed: int
    skipped: list[int]


def _summary(report: Report) -> ReportSummary:
    place = report.place_text or (f"site {report.site_id}" if report.site_id else "")
    if not place and report.lat is not None and report.lon is not None:
        place = f"{report.lat:.4f}, {report.lon:.4f}"
    return ReportSummary(
        id=report.id,
        reference=report.reference,
        kind=report.kind,
        queue=report.queue,
        status=report.status,
        priority=report.priority,
        received_at=report.received_at,
        place=place[:80],
        duplicate_of=report.duplicate_of_id,
    )


def _check_role(user: StaffUser, roles: Iterable[str], what: str) -> None:
    allowed = tuple(roles)
    if user.role not in allowed:
        msg = f"your role ({user.role}) cannot {what}; it needs one of: {', '.join(allowed)}"
        raise PermissionDeniedError(msg)


def _parse_after(after: str | None) -> tuple[int, int] | None:
    if not after:
        return None
    match = re.fullmatch(r"(\d)\.(\d{1,18})", after)
    if not match:
        msg = "after: use the next_after value of the previous page"
        raise InvalidInputError(msg)
    return int(match.group(1)), int(match.group(2))


def list_queue(
    session: Session,
    user: StaffUser,
    *,
    queue: str | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> QueuePage:
    """Return one page of reports, most urgent first, then in order of arrival (keyset paging).

    Pages are read through the indexes ``(queue, status, priority, id)``,
    ``(queue, priority, id)``, ``(status, priority, id)`` or ``(priority, id)``,
    so a page costs the same
    with 100 or 100,000 reports stored.

    Raises
    ------
    InvalidInputError
        For an unknown queue or status or a malformed ``after``.
    """
    _check_role(user, READ_ROLES, "read reports")
    if queue is not None and queue not in QUEUES:
        msg = f"queue: unknown queue {queue!r}; use one of {', '.join(QUEUES)}"
        raise InvalidInputError(msg)
    if status is not None and status not in STATUSES:
        msg = f"status: unknown status {status!r}; use one of {', '.join(STATUSES)}"
        raise InvalidInputError(msg)
    limit = max(1, min(500, limit))
    query = select(Report)
    if queue is not None:
        query = query.where(Report.queue == queue)
    if status is not None:
        query = query.where(Report.status == status)
    key = _parse_after(after)
    if key is not None:
        priority, report_id = key
        query = query.where(
            or_(
                Report.priority > priority,
                and_(Report.priority == priority, Report.id > report_id),
            )
        )
    rows = list(session.scalars(query.order_by(Report.priority, Report.id).limit(limit)))
    next_after = None
    if len(rows) == limit:
        last = rows[-1]
        next_after = f"{last.priority}.{last.id}"
    return QueuePage(items=[_summary(r) for r in rows], next_after=next_after)


def _load(session: Session, report_id: int) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        msg = f"there is no report {report_id}"
        raise NotFoundError(msg)
    return report


def get_report(session: Session, user: StaffUser, report_id: int) -> ReportDetail:
    """Return the report ``report_id`` for staff, marking it reviewed on first view.

    Raises
    ------
    NotFoundError
        When there is no such report.
    """
    _check_role(user, READ_ROLES, "read reports")
    report = _load(session, report_id)
    if report.reviewed_at is None and user.role in WORK_ROLES:
        report.reviewed_at = utc_now()
        session.commit()
    events = session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id)
    )
    attachment_ids = list(
        session.scalars(
            select(ReportAttachment.id)
            .where(ReportAttachment.report_id == report.id)
            .order_by(ReportAttachment.id)
        )
    )
    duplicates = list(
        session.scalars(
            select(Report.id).where(Report.duplicate_of_id == report.id).order_by(Report.id)
        )
    )
    return ReportDetail(
        id=report.id,
        reference=report.reference,
        kind=report.kind,
        queue=report.queue,
        status=report.status,
        priority=report.priority,
        priority_reasons=list(report.priority_reasons),
        received_at=report.received_at,
        occurred_at=report.occurred_at,
        lon=report.lon,
        lat=report.lat,
        place_text=report.place_text,
        site_id=report.site_id,
        description=report.description,
        people_description=report.people_description,
        vehicle_description=report.vehicle_description,
        link=report.link,
        details=dict(report.details),
        anonymous=report.anonymous,
        has_contact=report.contact_ciphertext is not None,
        attachment_ids=attachment_ids,
        duplicate_of=report.duplicate_of_id,
        duplicates=duplicates,
        anonymised=report.anonymised_at is not None,
        events=[
            ReportEventOut(
                at=e.at,
                kind=e.kind,
                actor_id=e.actor_id,
                from_value=e.from_value,
                to_value=e.to_value,
                text=e.text,
            )
            for e in events
        ],
    )


def _set_status(report: Report, user: StaffUser, status: str, note: str, now: datetime) -> Any:
    if status not in STATUSES:
        msg = f"status: unknown status {status!r}; use one of {', '.join(STATUSES)}"
        raise InvalidInputError(msg)
    if status not in _TRANSITIONS[report.status]:
        allowed = ", ".join(sorted(_TRANSITIONS[report.status]))
        msg = f"status: a {report.status} report can become {allowed}, not {status}"
        raise InvalidInputError(msg)
    event = ReportEvent(
        report_id=report.id,
        kind="status",
        actor_id=user.id,
        from_value=report.status,
        to_value=status,
        text=note,
        at=now,
    )
    report.status = status
    report.updated_at = now
    report.closed_at = now if status == "closed" else None
    if report.reviewed_at is None:
        report.reviewed_at = now
    return event


def change_status(
    session: Session, user: StaffUser, report_id: int, status: str, *, note: str = ""
) -> ReportDetail:
    """Return the report after moving it to ``status`` with an optional note (committed).

    Raises
    ------
    InvalidInputError
        For an unknown status or a transition the workflow does not allow.
    """
    _check_role(user, WORK_ROLES, "change reports")
    report = _load(session, report_id)
    session.add(_set_status(report, user, status, _clean_text(note)[:_MAX_TEXT], utc_now()))
    session.commit()
    return get_report(session, user, report_id)


def add_note(session: Session, user: StaffUser, report_id: int, text: str) -> ReportDetail:
    """Return the report after adding a staff note (committed).

    Raises
    ------
    InvalidInputError
        When the note is empty or too long.
    """
    _check_role(user, WORK_ROLES, "add notes")
    text = _clean_text(text)
    if not text or len(text) > _MAX_TEXT:
        msg = f"note: write between 1 and {_MAX_TEXT} characters"
        raise InvalidInputError(msg)
    report = _load(session, report_id)
    session.add(ReportEvent(report_id=report.id, kind="note", actor_id=user.id, text=text))
    report.updated_at = utc_now()
    session.commit()
    return get_report(session, user, report_id)


def retriage(
    session: Session,
    user: StaffUser,
    report_id: int,
    *,
    queue: str,
    priority: int,
    reason: str = "",
) -> ReportDetail:
    """Return the report after moving it to ``queue`` with ``priority`` (committed).

    Raises
    ------
    InvalidInputError
        For an unknown queue or a priority outside 1-5.
    """
    _check_role(user, WORK_ROLES, "re-triage reports")
    if queue not in QUEUES:
        msg = f"queue: unknown queue {queue!r}; use one of {', '.join(QUEUES)}"
        raise InvalidInputError(msg)
    if not 1 <= priority <= 5:
        msg = "priority: use 1 (most urgent) to 5"
        raise InvalidInputError(msg)
    report = _load(session, report_id)
    now = utc_now()
    session.add(
        ReportEvent(
            report_id=report.id,
            kind="triage",
            actor_id=user.id,
            from_value=f"{report.queue}/{report.priority}",
            to_value=f"{queue}/{priority}",
            text=_clean_text(reason)[:_MAX_TEXT],
            at=now,
        )
    )
    report.queue, report.priority, report.updated_at = queue, priority, now
    if report.status == "new":
        report.status = "triaged"
    if report.reviewed_at is None:
        report.reviewed_at = now
    session.commit()
    return get_report(session, user, report_id)


def bulk_action(
    session: Session,
    user: StaffUser,
    report_ids: Sequence[int],
    *,
    action: Literal["route", "close"],
    queue: str | None = None,
    note: str = "",
) -> BulkResult:
    """Return how many of ``report_ids`` were routed to ``queue`` or closed (committed).

    Reports that cannot make the change (already closed, already in the queue,
    unknown ids) are skipped and listed.

    Raises
    ------
    InvalidInputError
        For an unknown action or queue, or more than 5,000 ids.
    """
    _check_role(user, BULK_ROLES, "act on many reports at once")
    if len(report_ids) > 5000:
        msg = "report_ids: act on at most 5,000 reports at once"
        raise InvalidInputError(msg)
    if action == "route" and (queue is None or queue not in QUEUES):
        msg = f"queue: choose a queue to route to: {', '.join(QUEUES)}"
        raise InvalidInputError(msg)
    if action not in ("route", "close"):
        msg = "action: use route or close"
        raise InvalidInputError(msg)
    note = _clean_text(note)[:_MAX_TEXT]
    wanted = sorted(set(report_ids))
    now = utc_now()
    changed: list[int] = []
    skipped: list[int] = []
    found: dict[int, Report] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update({r.id: r for r in session.scalars(select(Report).where(Report.id.in_(chunk)))})
    for report_id in wanted:
        report = found.get(report_id)
        if report is None:
            skipped.append(report_id)
            continue
        if action == "close":
            if report.status == "closed":
                skipped.append(report_id)
                continue
            session.add(_set_status(report, user, "closed", note, now))
        else:
            assert queue is not None
            if report.queue == queue or report.status == "closed":
                skipped.append(report_id)
                continue
            session.add(
                ReportEvent(
                    report_id=report.id,
                    kind="triage",
                    actor_id=user.id,
                    from_value=f"{report.queue}/{report.priority}",
                    to_value=f"{queue}/{report.priority}",
                    text=note,
                    at=now,
                )
            )
            report.queue, report.updated_at = queue, now
            if report.status == "new":
                report.status = "triaged"
        changed.append(report_id)
    session.commit()
    log.info("bulk %s: %d changed, %d skipped", action, len(changed), len(skipped))
    return BulkResult(changed=len(changed), skipped=skipped)


def _check_purpose(purpose: str) -> str:
    purpose = _clean_text(purpose)
    if len(purpose) < 10 or len(purpose) > 500:
        msg = "purpose: say in 10 to 500 characters why you need to see this"
        raise InvalidInputError(msg)
    return purpose


def open_contact(
    session: Session, user: StaffUser, report_id: int, *, purpose: str, keyring: KeyRing
) -> Contact:
    """Return the reporter's contact details, writing the opening and its purpose to the audit log.

    Raises
    ------
    PermissionDeniedError
        When the user's role may not open contact details.
    InvalidInputError
        When no adequate purpose is given.
    NotFoundError
        When the report has no contact details (anonymous or anonymised).
    """
    _check_role(user, CONTACT_ROLES, "open contact details")
    purpose = _check_purpose(purpose)
    report = _load(session, report_id)
    if report.contact_ciphertext is None:
        msg = "this report has no contact details (anonymous or anonymised)"
        raise NotFoundError(msg)
    session.add(
        AuditEntry(
            actor_id=user.id, action="report.contact.open", report_id=report.id, purpose=purpose
        )
    )
    session.commit()
    plaintext = keyring.decrypt(
        report.contact_key_id, report.contact_ciphertext, aad=f"contact:{report.id}".encode()
    )
    return Contact.model_validate_json(plaintext)


def open_attachment(
    session: Session,
    user: StaffUser,
    report_id: int,
    attachment_id: int,
    *,
    purpose: str,
    keyring: KeyRing,
) -> Photo:
    """Return a decrypted photo of a report, writing the opening to the audit log.

    Raises
    ------
    PermissionDeniedError
        When the user's role may not open photos.
    NotFoundError
        When the report has no such photo.
    """
    _check_role(user, CONTACT_ROLES, "open photos")
    purpose = _check_purpose(purpose)
    attachment = session.get(ReportAttachment, attachment_id)
    if attachment is None or attachment.report_id != report_id:
        msg = f"report {report_id} has no photo {attachment_id}"
        raise NotFoundError(msg)
    session.add(
        AuditEntry(
            actor_id=user.id,
            action="report.attachment.open",
            report_id=report_id,
            purpose=purpose,
            detail=f"attachment {attachment_id}",
        )
    )
    session.commit()
    data = keyring.decrypt(
        attachment.key_id, attachment.ciphertext, aad=f"attachment:{attachment.id}".encode()
    )
    return Photo(data=data, content_type=attachment.content_type)


_EXPORT_COLUMNS = (
    "id",
    "reference",
    "kind",
    "queue",
    "status",
    "priority",
    "received_at",
    "occurred_at",
    "lon",
    "lat",
    "place_text",
    "site_id",
    "duplicate_of_id",
    "description",
)


def _export_rows(
    session: Session, user: StaffUser, queue: str | None, status: str | None
) -> Iterable[Report]:
    _check_role(user, EXPORT_ROLES, "export reports")
    if queue is not None and queue not in QUEUES:
        msg = f"queue: unknown queue {queue!r}; use one of {', '.join(QUEUES)}"
        raise InvalidInputError(msg)
    if status is not None and status not in STATUSES:
        msg = f"status: unknown status {status!r}; use one of {', '.join(STATUSES)}"
        raise InvalidInputError(msg)
    query = select(Report).order_by(Report.id)
    if queue is not None:
        query = query.where(Report.queue == queue)
    if status is not None:
        query = query.where(Report.status == status)
    session.add(
        AuditEntry(
            actor_id=user.id, action="report.export", detail=f"queue={queue} status={status}"
        )
    )
    session.commit()
    return session.scalars(query.execution_options(yield_per=1000))


def export_csv(
    session: Session, user: StaffUser, *, queue: str | None = None, status: str | None = None
) -> str:
    """Return reports as CSV (no contact details), written to the audit log as an export."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_EXPORT_COLUMNS)
    for r in _export_rows(session, user, queue, status):
        row = [getattr(r, c) for c in _EXPORT_COLUMNS]
        # Defuse spreadsheet formulas in free text.
        writer.writerow(
            ["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row]
        )
    return out.getvalue()


def export_geojson(
    session: Session, user: StaffUser, *, queue: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """Return located reports as a GeoJSON FeatureCollection (no contact details)."""
    features = []
    for r in _export_rows(session, user, queue, status):
        if r.lon is None or r.lat is None:
            continue
        props = {c: getattr(r, c) for c in _EXPORT_COLUMNS if c not in ("lon", "lat")}
        for key in ("received_at", "occurred_at"):
            props[key] = props[key].isoformat() if props[key] else None
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


# ---------------------------------------------------------------------------
# Retention and key rotation
# ---------------------------------------------------------------------------


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
                Report.status == "closed",
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


def decode_photo_uploads(uploads: Sequence[PhotoUpload], *, max_bytes: int) -> list[Photo]:
    """Return the checked photos of base64 uploads from the JSON API.

    Raises
    ------
    InvalidInputError
        When an upload is not base64 or not an acceptable photo.
    """
    photos = []
    for upload in uploads:
        try:
            data = base64.b64decode(upload.data_base64, validate=True)
        except ValueError:
            msg = "photos: data_base64 is not valid base64"
            raise InvalidInputError(msg) from None
        photos.append(check_photo(data, max_bytes=max_bytes))
    return photos


def dumps_geojson(collection: dict[str, Any]) -> str:
    """Return a GeoJSON document as compact JSON text."""
    return json.dumps(collection, separators=(",", ":"), default=str)
