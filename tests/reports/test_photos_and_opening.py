"""Photo metadata is stripped at intake and never returned; an opening is audited once it worked."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from sqlalchemy import select

from watchfloor.errors import ConfigurationError, InvalidInputError
from watchfloor.services import reports as svc
from watchfloor.services.reports.schemas import (
    Photo,
    PhotoUpload,
    check_photo,
    has_photo_metadata,
    strip_photo_metadata,
)
from watchfloor.settings import ReportingOptions
from watchfloor.storage.models import AuditEntry, Report, ReportAttachment

SECRET = b"test-secret-key-0123456789abcdef"
OPTIONS = ReportingOptions(receipt_hash_memory_kib=64, receipt_hash_time_cost=1)
SERIAL = "SERIAL-CANARY-90210"
MODEL = "CanaryPhone Pro"
PURPOSE = "to call the witness back about the parcel"


def _jpeg_with_gps(*, orientation: int = 1) -> bytes:
    """A 64 x 48 red JPEG whose EXIF holds a camera model, a body serial and a GPS position."""
    image = Image.new("RGB", (64, 48), (200, 20, 20))
    exif = Image.Exif()
    exif[0x0110] = MODEL  # Model
    exif[0x0112] = orientation  # Orientation
    exif.get_ifd(0x8769)[0xA431] = SERIAL  # Exif IFD: BodySerialNumber
    gps = exif.get_ifd(0x8825)  # GPS IFD: 52 deg 40' 12" N, 0 deg 43' 37" W (Oakham)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 40.0, 12.0), "W", (0.0, 43.0, 37.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"taken by " + SERIAL.encode())
    return out.getvalue()


def _png_with_text() -> bytes:
    from PIL.PngImagePlugin import PngInfo  # noqa: PLC0415 (only this helper writes PNG text)

    info = PngInfo()
    info.add_text("Comment", SERIAL)
    out = io.BytesIO()
    Image.new("RGBA", (5, 3), (0, 0, 255, 128)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_the_test_jpeg_really_carries_gps_and_a_serial() -> None:
    data = _jpeg_with_gps()
    assert SERIAL.encode() in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.getexif().get_ifd(0x8825)[1] == "N"
    assert has_photo_metadata(Photo(data=data, content_type="image/jpeg"))


@pytest.mark.parametrize(
    ("make", "content_type"), [(_jpeg_with_gps, "image/jpeg"), (_png_with_text, "image/png")]
)
def test_stripping_keeps_the_pixels_and_drops_the_metadata(make, content_type) -> None:
    data = make()
    clean = strip_photo_metadata(check_photo(data, max_bytes=1 << 20))
    assert clean.stripped
    assert clean.content_type == content_type
    assert SERIAL.encode() not in clean.data
    assert MODEL.encode() not in clean.data
    assert not has_photo_metadata(clean)
    with Image.open(io.BytesIO(clean.data)) as image, Image.open(io.BytesIO(data)) as before:
        assert image.size == before.size
        assert not image.getexif()
        assert "exif" not in image.info


def test_orientation_is_applied_before_the_tag_goes() -> None:
    # Orientation 6: the camera was turned; the upright picture is 48 wide, 64 high.
    clean = strip_photo_metadata(
        Photo(data=_jpeg_with_gps(orientation=6), content_type="image/jpeg")
    )
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.size == (48, 64)


@pytest.mark.parametrize(
    ("photo", "fragment"),
    [
        (Photo(data=b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, content_type="image/heic"), "HEIC"),
        (Photo(data=b"\xff\xd8\xff" + b"0" * 64, content_type="image/jpeg"), "cannot be read"),
    ],
)
def test_photos_that_cannot_be_cleaned_are_refused(photo, fragment) -> None:
    with pytest.raises(InvalidInputError, match=fragment):
        strip_photo_metadata(photo)


def test_the_json_api_path_strips_before_storing(database, keyring, users) -> None:
    upload = PhotoUpload(data_base64=base64.b64encode(_jpeg_with_gps()).decode())
    photos = svc.decode_photo_uploads([upload], max_bytes=1 << 20)
    assert photos[0].stripped
    data = svc.ReportCreate.model_validate(
        {
            "kind": "suspicious_item",
            "description": "a rucksack left by the gate",
            "place_text": "Oakham",
        }
    )
    svc.submit_report(
        database, data, keyring=keyring, secret=SECRET, photos=photos, options=OPTIONS
    )
    with database.sessions() as session:
        report_id = session.scalar(select(Report.id))
        attachment_id = session.scalar(select(ReportAttachment.id))
        opened = svc.open_attachment(
            session, users["supervisor"], report_id, attachment_id, purpose=PURPOSE, keyring=keyring
        )
    assert SERIAL.encode() not in opened.data
    assert not has_photo_metadata(opened)


def test_a_photo_given_unstripped_is_stripped_at_intake(database, keyring, users) -> None:
    data = svc.ReportCreate.model_validate(
        {
            "kind": "suspicious_item",
            "description": "a rucksack left by the gate",
            "place_text": "Oakham",
        }
    )
    raw = check_photo(_jpeg_with_gps(), max_bytes=1 << 20)  # the form's path: checked, not stripped
    svc.submit_report(database, data, keyring=keyring, secret=SECRET, photos=[raw], options=OPTIONS)
    with database.sessions() as session:
        attachment = session.scalar(select(ReportAttachment))
        plain = keyring.decrypt(
            attachment.key_id, attachment.ciphertext, aad=f"attachment:{attachment.id}".encode()
        )
    assert SERIAL.encode() not in plain
    assert not has_photo_metadata(Photo(data=plain, content_type="image/jpeg"))


def test_a_contact_that_cannot_be_decrypted_is_not_audited_as_opened(
    database, keyring, users
) -> None:
    data = svc.ReportCreate.model_validate(
        {
            "kind": "suspicious_item",
            "description": "a rucksack left by the gate",
            "place_text": "Oakham",
            "anonymous": False,
            "contact": {"name": "Ada Witness"},
        }
    )
    svc.submit_report(database, data, keyring=keyring, secret=SECRET, options=OPTIONS)
    with database.sessions() as session:
        report = session.scalar(select(Report))
        report.contact_ciphertext = b"\x00" * 12 + b"damaged ciphertext....."
        session.commit()
        with pytest.raises(ConfigurationError):
            svc.open_contact(
                session, users["supervisor"], report.id, purpose=PURPOSE, keyring=keyring
            )
        session.rollback()
        actions = list(session.scalars(select(AuditEntry.action)))
    assert "report.contact.open" not in actions
