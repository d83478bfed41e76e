"""Triage, near-duplicate signatures and photo checks: known answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchfloor.errors import InvalidInputError
from watchfloor.services.reports import (
    ReportCreate,
    SiteIndex,
    check_photo,
    minhash_signature,
    similarity,
    triage,
)

NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
# One mosque at Oakham market place.
SITES = SiteIndex(
    site_id=["n1"],
    name=["Oakham mosque"],
    kind=["place_of_worship"],
    lon=np.array([-0.7270]),
    lat=np.array([52.6700]),
)


def _report(**fields) -> ReportCreate:
    base = {"kind": "suspicious_behaviour", "description": "someone watching", "place_text": "x"}
    return ReportCreate.model_validate({**base, **fields})


def test_queue_follows_the_kind() -> None:
    assert triage(_report(kind="suspicious_item"), now=NOW, sites=SITES).queue == "ct"
    hate = _report(
        kind="hate_incident", protected_characteristic="religion", victim_or_witness="victim"
    )
    assert triage(hate, now=NOW, sites=SITES).queue == "hate_crime"
    assert triage(_report(kind="prevent_concern"), now=NOW, sites=SITES).queue == "prevent"
    assert triage(_report(kind="past_incident"), now=NOW, sites=SITES).queue == "neighbourhood"
    # Past incident mentioning a gun (weight 2) goes to counter-terrorism.
    gun = _report(kind="past_incident", description="he showed a gun")
    assert triage(gun, now=NOW, sites=SITES).queue == "ct"


def test_priority_known_answers() -> None:
    # Behaviour starts at 3; nothing else applies.
    assert triage(_report(), now=NOW, sites=SITES).priority == 3
    # Item 2, "bomb" + "wires" weigh 3 -> two steps up -> 0, clamped to 1.
    item = _report(kind="suspicious_item", description="a bomb with wires")
    assert triage(item, now=NOW, sites=SITES).priority == 1
    # Behaviour 3, seen 30 minutes ago (-1), 50 m from the mosque (-1) -> 1.
    near = _report(occurred_at=NOW - timedelta(minutes=30), lon=-0.7270, lat=52.67045)
    result = triage(near, now=NOW, sites=SITES)
    assert result.priority == 1
    assert any("place of worship" in r for r in result.reasons)
    # 5 km away, three hours ago: stays at 3.
    far = _report(occurred_at=NOW - timedelta(hours=3), lon=-0.65, lat=52.67)
    assert triage(far, now=NOW, sites=SITES).priority == 3


def test_site_choice_counts_as_a_place_near_that_site() -> None:
    result = triage(_report(place_text="", site_id="n1"), now=NOW, sites=SITES)
    assert result.priority == 2


def test_similar_texts_have_high_minhash_similarity() -> None:
    a = minhash_signature("a man in a red coat was filming the entrance of the mosque")
    b = minhash_signature("man in a red coat was filming the entrance of the mosque today")
    c = minhash_signature("a blue car parked on the pavement all afternoon near the school")
    # True Jaccard of a and b shingles is 9/11 = 0.82; of a and c it is 0.
    assert similarity(a, b) > 0.6
    assert similarity(a, c) < 0.1


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_a_text_is_identical_to_itself(text: str) -> None:
    assert similarity(minhash_signature(text), minhash_signature(text)) == 1.0


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"RIFF\x00\x00\x00\x00WEBP", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic", "image/heic"),
    ],
)
def test_photo_type_comes_from_the_content(head: bytes, content_type: str) -> None:
    assert check_photo(head + b"\x00" * 64, max_bytes=1024).content_type == content_type


def test_photo_refusals() -> None:
    with pytest.raises(InvalidInputError, match="not a photo"):
        check_photo(b"%PDF-1.7 pretending.jpg", max_bytes=1024)
    with pytest.raises(InvalidInputError, match="larger than"):
        check_photo(b"\xff\xd8\xff" + b"0" * 2048, max_bytes=1024)
    with pytest.raises(InvalidInputError, match="empty"):
        check_photo(b"", max_bytes=1024)
