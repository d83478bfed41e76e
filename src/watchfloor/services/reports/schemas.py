"""What reports look like at the service's edges: the vocabulary, input and output schemas.

:class:`ReportCreate` is what a member of the public sends (the form and the
JSON API share it) and is validated here once; :class:`ReportReceipt` and
:class:`ReceiptStatus` are all the public ever gets back. The staff schemas
(:class:`ReportSummary`, :class:`QueuePage`, :class:`ReportDetail`,
:class:`BulkResult`, :class:`OutboxState`) are what the staff pages and API
return. Photos are checked here by their content, never their name.

Imports only pydantic, :mod:`watchfloor.types`, :mod:`watchfloor.errors` and
the clock of :mod:`watchfloor.storage.models`.
"""

from __future__ import annotations

import base64
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from watchfloor.errors import FieldError, InvalidInputError
from watchfloor.storage.models import utc_now
from watchfloor.types import ReportKind, ReportQueue, ReportStatus

__all__ = [
    "EARLIEST_UTC",
    "KINDS",
    "LATEST_UTC",
    "MAX_PHOTO_PIXELS",
    "MAX_SHORT",
    "MAX_TEXT",
    "PROTECTED_CHARACTERISTICS",
    "QUEUES",
    "STATUSES",
    "BulkResult",
    "CleanText",
    "Contact",
    "LineText",
    "OutboxState",
    "Photo",
    "PhotoUpload",
    "QueuePage",
    "ReceiptStatus",
    "ReportCreate",
    "ReportDetail",
    "ReportEventOut",
    "ReportReceipt",
    "ReportSummary",
    "check_photo",
    "clean_text",
    "control_character",
    "decode_photo_uploads",
    "has_photo_metadata",
    "refuse_controls",
    "stored_utc",
    "strip_photo_metadata",
    "unstorable_field",
]

#: Report kinds and their plain-English labels.
KINDS: dict[str, str] = {kind.value: kind.label for kind in ReportKind}

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

#: Queues and the names staff read (from :class:`~watchfloor.types.ReportQueue`).
QUEUES: dict[ReportQueue, str] = {queue: queue.label for queue in ReportQueue}

#: Statuses in the order of a report's life (from :class:`~watchfloor.types.ReportStatus`).
STATUSES: tuple[ReportStatus, ...] = tuple(ReportStatus)

#: Longest free text (description, notes, information), characters.
MAX_TEXT = 5000
#: Longest short text (place), characters.
MAX_SHORT = 500


def clean_text(value: str) -> str:
    """Return ``value`` in NFC without control characters (tab and newline kept), stripped."""
    value = unicodedata.normalize("NFC", value)
    value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return value.strip()


CleanText = Annotated[str, AfterValidator(clean_text)]

#: The first and last moment (UTC) a stored date-time may name; outside them it is a typing slip.
EARLIEST_UTC = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_UTC = datetime(2100, 1, 1, tzinfo=UTC)

# C0 controls but tab, newline and carriage return (a form's text area sends CRLF), DEL,
# C1 controls and lone surrogates; on one line, tab and the line breaks too.
_CONTROL_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def control_character(value: str, *, multiline: bool = False) -> str | None:
    """Return the first control character of ``value`` as ``U+XXXX``, or None when it has none.

    Tab, newline and carriage return are allowed when ``multiline``.
    """
    match = (_CONTROL_TEXT if multiline else _CONTROL_LINE).search(value)
    return None if match is None else f"U+{ord(match.group()):04X}"


def refuse_controls(value: str, *, field: str, multiline: bool = False) -> str:
    """Return ``value`` when it holds no control character (see :func:`control_character`).

    Raises
    ------
    FieldError
        Naming ``field`` and the character, when it holds one (PostgreSQL
        refuses NUL, and none of them belongs in a stored string).
    """
    found = control_character(value, multiline=multiline)
    if found is not None:
        msg = f"{field}: contains the control character {found}; remove it and send again"
        raise FieldError(msg, field=field)
    return value


def _line_text(value: str) -> str:
    found = control_character(value)
    if found is not None:
        msg = f"contains the control character {found}; remove it and send again"
        raise ValueError(msg)
    return value


#: A one-line string without control characters (identifiers, names, addresses).
LineText = Annotated[str, AfterValidator(_line_text)]


def stored_utc(moment: datetime, *, field: str) -> datetime:
    """Return ``moment`` in UTC when it is aware and lies in 1900-2100 once converted.

    Raises
    ------
    FieldError
        Naming ``field`` when ``moment`` has no offset, or overflows or falls
        outside :data:`EARLIEST_UTC` .. :data:`LATEST_UTC` once in UTC (year 1
        with ``+14:00`` is before year 1 in UTC).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"{field}: {moment.isoformat()} has no time zone; add an offset, e.g. +01:00"
        raise FieldError(msg, field=field)
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST_UTC <= utc < LATEST_UTC:
        msg = (
            f"{field}: {moment.isoformat()} is not between 1900 and 2100 in UTC; "
            "check the year and the offset"
        )
        raise FieldError(msg, field=field)
    return utc


def _check_link(value: str) -> str:
    _line_text(value)
    if value and not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        msg = "give the full web address, starting with http:// or https://"
        raise ValueError(msg)
    return value


class Contact(BaseModel):
    """Optional contact details of the reporter (stored encrypted)."""

    model_config = ConfigDict(extra="forbid")

    name: CleanText = Field(default="", max_length=200)
    phone: CleanText = Field(default="", max_length=40, pattern=r"^[0-9 +()\-]*$")
    email: LineText = Field(default="", max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")

    def is_empty(self) -> bool:
        """Return whether no detail was given."""
        return not (self.name or self.phone or self.email)


class PhotoUpload(BaseModel):
    """A photo sent through the JSON API as base64."""

    model_config = ConfigDict(extra="forbid")

    data_base64: str = Field(max_length=12 * 1024 * 1024, description="The image file, base64.")


class ReportCreate(BaseModel):
    """What a member of the public tells us (the form and the JSON API share it)."""

    model_config = ConfigDict(extra="forbid", str_max_length=MAX_TEXT)

    kind: ReportKind
    happening_now: bool = Field(
        default=False, description="True stops the report: call 999 instead."
    )
    description: CleanText = Field(min_length=1, max_length=MAX_TEXT)
    occurred_at: datetime | None = Field(default=None, description="When it happened (ISO 8601).")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    place_text: CleanText = Field(default="", max_length=MAX_SHORT)
    site_id: str = Field(default="", max_length=32, pattern=r"^[a-z0-9]*$")
    people_description: CleanText = Field(default="", max_length=MAX_TEXT)
    vehicle_description: CleanText = Field(default="", max_length=MAX_TEXT)
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
            stored_utc(self.occurred_at, field="occurred_at")
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


#: The stored text fields of a report (the contact is stored encrypted, as JSON).
_STORED_TEXT = (
    "description",
    "people_description",
    "vehicle_description",
    "place_text",
    "site_id",
    "link",
)


def unstorable_field(data: ReportCreate) -> FieldError | None:
    """Return why ``data`` cannot be stored as it is (naming the field), or None when it can.

    The writer's own check of what the schema checks too (a report built past
    the schema, e.g. with ``model_copy``, must still fail alone): the date in
    range once in UTC, no control character in a stored string.
    """
    try:
        if data.occurred_at is not None:
            stored_utc(data.occurred_at, field="occurred_at")
        for name in _STORED_TEXT:
            refuse_controls(getattr(data, name), field=name, multiline=True)
    except FieldError as exc:
        return exc
    return None


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
    """A checked image: its bytes and the content type found from its magic bytes.

    ``stripped`` is True once :func:`strip_photo_metadata` has re-encoded it
    without its metadata (only such photos are stored).
    """

    data: bytes
    content_type: str
    stripped: bool = False


#: Most pixels a photo may have (a 50-megapixel camera); more is refused before decoding.
MAX_PHOTO_PIXELS = 50_000_000
_SAVE_AS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def strip_photo_metadata(photo: Photo) -> Photo:
    """Return ``photo`` re-encoded from its pixels alone: no EXIF (GPS, device serial), no comments.

    The picture is first turned upright by its EXIF orientation, which goes
    with the rest. JPEG is re-encoded at quality 90, PNG and WebP losslessly
    where they were. HEIC cannot be decoded here and is refused.

    Raises
    ------
    InvalidInputError
        When the photo is HEIC, cannot be decoded, or has more than
        :data:`MAX_PHOTO_PIXELS` pixels.
    """
    if photo.stripped:
        return photo
    fmt = _SAVE_AS.get(photo.content_type)
    if fmt is None:
        msg = (
            "photos: HEIC photos cannot be cleaned of their location data here; "
            "send the photo as JPEG, PNG or WebP"
        )
        raise InvalidInputError(msg)
    try:
        with Image.open(io.BytesIO(photo.data), formats=[fmt]) as image:
            width, height = image.size
            if width * height > MAX_PHOTO_PIXELS:
                msg = f"photos: a photo has more than {MAX_PHOTO_PIXELS // 1_000_000} megapixels"
                raise InvalidInputError(msg)
            upright = ImageOps.exif_transpose(image)
            pixels = upright.copy()
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        msg = "photos: a photo cannot be read; send it again or choose another"
        raise InvalidInputError(msg) from None
    pixels.info = {}
    if fmt == "JPEG" and pixels.mode not in ("RGB", "L", "CMYK"):
        pixels = pixels.convert("RGB")
    if fmt == "WEBP" and pixels.mode not in ("RGB", "RGBA"):
        pixels = pixels.convert("RGBA")
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 90} if fmt == "JPEG" else {}
    if fmt == "WEBP":
        options = {"lossless": True} if _is_lossless_webp(photo.data) else {"quality": 90}
    pixels.save(out, format=fmt, **options)
    return Photo(data=out.getvalue(), content_type=photo.content_type, stripped=True)


#: Image info keys that carry no identifying metadata (how the pixels are laid out).
_LAYOUT_INFO = frozenset(
    {
        "dpi",
        "jfif",
        "jfif_version",
        "jfif_unit",
        "jfif_density",
        "progressive",
        "progression",
        "gamma",
        "transparency",
        "aspect",
        "loop",
        "duration",
        "background",
        "interlace",
    }
)


def has_photo_metadata(photo: Photo) -> bool:
    """Return whether ``photo`` carries metadata (EXIF, XMP, comments, text) or cannot be read."""
    try:
        with Image.open(io.BytesIO(photo.data)) as image:
            return bool(image.getexif()) or bool(set(image.info) - _LAYOUT_INFO)
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return True


def _is_lossless_webp(data: bytes) -> bool:
    return data[12:16] == b"VP8L"


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


def decode_photo_uploads(uploads: Sequence[PhotoUpload], *, max_bytes: int) -> list[Photo]:
    """Return the checked photos of base64 uploads from the JSON API, without their metadata.

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
        photos.append(strip_photo_metadata(check_photo(data, max_bytes=max_bytes)))
    return photos


# ---------------------------------------------------------------------------
# Staff side
# ---------------------------------------------------------------------------


class ReportSummary(BaseModel):
    """One row of a queue."""

    id: int
    reference: str
    kind: str
    queue: ReportQueue
    status: ReportStatus
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
    queue: ReportQueue
    status: ReportStatus
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


class OutboxState(BaseModel):
    """Forwarding outbox counts; ``stuck`` > 0 needs someone to look at the receiver."""

    pending: int
    sent: int
    stuck: int
