"""Risk per site and slot: stated answers on a five-site hand-built register."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchfloor.errors import InvalidInputError
from watchfloor.posture import (
    Posture,
    TensionLevel,
    UserEvent,
    compute_posture,
    event_from_dict,
    factors_from_dict,
    shipped_playbooks,
    tension_by_area,
)
from watchfloor.services.posture import posture_for_sites, window_start
from watchfloor.sites.register import SiteRegister
from watchfloor.types import LONDON

ANTI_MUSLIM = {
    "kind": "vehicle attack",
    "at": "2026-06-18T22:10:00+01:00",  # Thursday night, elsewhere in the country
    "place": "Finsbury Park, London",
    "targeted_community": "muslim",
    "threat_level": "severe",
}


def _reason(posture: Posture, site: str, at: datetime, prefix: str) -> float:
    i = posture.site_id.index(site)
    j = posture.slot_index(at)
    found = [r.multiplier for r in posture.reasons(i, j) if r.factor_id.startswith(prefix)]
    return found[0] if found else 1.0


def test_mosque_ranks_first_at_friday_prayers_after_an_anti_muslim_attack(
    hand_register: SiteRegister,
) -> None:
    event = event_from_dict(ANTI_MUSLIM)
    friday_13 = datetime(2026, 6, 19, 13, 0, tzinfo=LONDON)
    posture = posture_for_sites(hand_register, event, at=friday_13, hours=24)
    top = posture.top(5, at=friday_13)
    assert top[0].site_id == "n1"  # Oakham Mosque
    texts = [str(r) for r in top[0].reasons]
    assert texts[0] == "place of worship (muslim): base 5.0"
    assert "Friday prayers (Jumu'ah) 12:30-14:30 x2.0" in texts
    assert "national threat level severe x1.3" in texts
    assert any(
        t.startswith(
            "targeted community (muslim) after vehicle attack 2026-06-18, day 1 of decay x"
        )
        for t in texts
    )
    # Known answer: base 5 x occupancy 0.8 x severe 1.3 x Friday prayers 2.0 x targeted
    # 1 + 2 * 2^(-t/3) with t = 15 h 20 min since the event (22:10 Thu to 13:30 Fri,
    # the middle of the slot).
    t_days = (15 + 20 / 60) / 24
    expected = 5 * 0.8 * 1.3 * 2.0 * (1 + 2 * 2 ** (-t_days / 3))
    assert top[0].value == pytest.approx(expected, rel=1e-9)
    # The church and the synagogue are not raised by the event: the mosque is worth more
    # than twice either of them at 13:00.
    assert top[0].value > 2 * max(c.value for c in top[1:])


def test_mosque_on_friday_outranks_the_same_mosque_on_thursday(hand_register: SiteRegister) -> None:
    posture = posture_for_sites(
        hand_register, None, at=datetime(2026, 6, 18, 0, 0, tzinfo=LONDON), hours=48
    )
    i = posture.site_id.index("n1")
    thu = posture.value[i, posture.slot_index(datetime(2026, 6, 18, 13, 0, tzinfo=LONDON))]
    fri = posture.value[i, posture.slot_index(datetime(2026, 6, 19, 13, 0, tzinfo=LONDON))]
    assert fri == pytest.approx(2.0 * thu)  # Friday prayers x2.0, nothing else differs


def test_event_factor_halves_at_the_half_life(hand_register: SiteRegister) -> None:
    # Event at 12:30 = the middle of the 12:00 slot, so the age there is exactly 0.
    event = event_from_dict({**ANTI_MUSLIM, "at": "2026-06-15T12:30:00+01:00"})
    start = datetime(2026, 6, 15, 12, 0, tzinfo=LONDON)
    posture = compute_posture(hand_register, event, start=start, n_slots=24 * 7)
    m0 = _reason(posture, "n1", start, "event:targeted_community")
    m1 = _reason(posture, "n1", start + timedelta(days=3), "event:targeted_community")
    m2 = _reason(posture, "n1", start + timedelta(days=6), "event:targeted_community")
    # targeted_community 3.0, half-life 3 days: excess 2.0 -> 1.0 -> 0.5.
    assert m0 == pytest.approx(3.0)
    assert m1 == pytest.approx(2.0)
    assert m2 == pytest.approx(1.5)
    # Before the event, no event factor at all.
    early = compute_posture(hand_register, event, start=start - timedelta(days=1), n_slots=12)
    assert not any(f.source == "event" for f in early.factors)


def test_half_life_from_the_factor_file(hand_register: SiteRegister) -> None:
    event = event_from_dict({**ANTI_MUSLIM, "at": "2026-06-15T12:30:00+01:00"})
    start = datetime(2026, 6, 15, 12, 0, tzinfo=LONDON)
    factors = factors_from_dict({"event": {"half_life_days": 1.0}})
    posture = compute_posture(hand_register, event, start=start, n_slots=48, factors=factors)
    assert _reason(posture, "n1", start + timedelta(days=1), "event:targeted") == pytest.approx(2.0)


def test_nte_zone_peaks_friday_at_23(hand_register: SiteRegister) -> None:
    start = datetime(2026, 6, 19, 6, 0, tzinfo=LONDON)  # Friday 06:00 to Saturday 06:00
    posture = compute_posture(hand_register, None, start=start, n_slots=24)
    i = posture.site_id.index("z1")
    peak = posture.slot_start[int(np.argmax(posture.value[i]))].astimezone(LONDON)
    assert (peak.weekday(), peak.hour) == (4, 23)
    reasons = [str(r) for r in posture.reasons(i, int(np.argmax(posture.value[i])))]
    assert "night-time economy 21:00-03:00 x2.5" in reasons


def test_slot_partly_inside_a_window_gets_a_share(hand_register: SiteRegister) -> None:
    # The 12:00 slot is half inside Friday prayers (12:30-14:30): 1 + (2 - 1) / 2.
    start = datetime(2026, 6, 19, 12, 0, tzinfo=LONDON)
    posture = compute_posture(hand_register, None, start=start, n_slots=3)
    assert _reason(posture, "n1", start, "calendar:friday_prayers") == pytest.approx(1.5)
    assert _reason(posture, "n1", start + timedelta(hours=1), "calendar:friday") == 2.0


def test_shabbat_runs_from_friday_sunset_to_saturday_nightfall(
    hand_register: SiteRegister,
) -> None:
    start = datetime(2026, 6, 19, 12, 0, tzinfo=LONDON)
    posture = compute_posture(hand_register, None, start=start, n_slots=72, slot_minutes=30)
    i = posture.site_id.index("n3")
    shabbat = np.array([_reason(posture, "n3", s, "calendar:shabbat") for s in posture.slot_start])
    on = [posture.slot_start[j].astimezone(LONDON) for j in np.flatnonzero(shabbat > 1.0)]
    # Sunset in Oakham on 19/20 June 2026 is about 21:30 BST: Shabbat from about
    # 21:12 on Friday to about 22:12 on Saturday.
    assert on[0] == datetime(2026, 6, 19, 21, 0, tzinfo=LONDON)
    assert on[-1] == datetime(2026, 6, 20, 22, 0, tzinfo=LONDON)
    assert i == 2


def test_ramadan_iftar_window_follows_the_sunset(hand_register: SiteRegister) -> None:
    # 2026-03-06 is in Ramadan 1447; sunset in Oakham about 17:53 GMT.
    start = datetime(2026, 3, 6, 12, 0, tzinfo=LONDON)
    posture = compute_posture(hand_register, None, start=start, n_slots=12)
    iftar = [_reason(posture, "n1", s, "calendar:ramadan_iftar") for s in posture.slot_start]
    hours_on = [posture.slot_start[j].astimezone(LONDON).hour for j, m in enumerate(iftar) if m > 1]
    assert hours_on == [17, 18, 19, 20]  # sunset-30m 17:2x to sunset+150m 20:2x
    # Outside Ramadan, no iftar window.
    posture = compute_posture(hand_register, None, start=start + timedelta(days=30), n_slots=12)
    assert not any(f.factor_id == "calendar:ramadan_iftar" for f in posture.factors)


def test_user_event_raises_the_stadium_for_the_match(hand_register: SiteRegister) -> None:
    match = UserEvent(
        text="Rutland v Leicester",
        site_name="Rutland Stadium",
        start=datetime(2026, 6, 20, 15, 0, tzinfo=LONDON),
        end=datetime(2026, 6, 20, 17, 0, tzinfo=LONDON),
        multiplier=6.0,
    )
    start = datetime(2026, 6, 20, 12, 0, tzinfo=LONDON)
    posture = compute_posture(hand_register, None, start=start, n_slots=8, user_events=[match])
    top = posture.top(1, at=datetime(2026, 6, 20, 15, 30, tzinfo=LONDON))
    assert top[0].site_id == "w5"
    assert "Rutland v Leicester Sat 20 Jun 15:00-17:00 x6.0" in [str(r) for r in top[0].reasons]
    bad = UserEvent(
        text="gig", site_name="Nowhere Arena", start=match.start, end=match.end, multiplier=2.0
    )
    with pytest.raises(InvalidInputError, match="no site named 'Nowhere Arena'"):
        compute_posture(hand_register, None, start=start, n_slots=8, user_events=[bad])


def test_tension_level_raises_the_site_with_the_alert_text(hand_register: SiteRegister) -> None:
    tension = tension_by_area(
        ["E01", "E01", "E02", None, None],
        hand_register.site_id,
        {"E01": TensionLevel(4, "hate incidents 3x the baseline (p=0.002)")},
    )
    assert set(tension) == {"n1", "n2"}
    start = datetime(2026, 6, 19, 12, 0, tzinfo=LONDON)
    plain = compute_posture(hand_register, None, start=start, n_slots=2)
    tense = compute_posture(hand_register, None, start=start, n_slots=2, tension=tension)
    assert tense.value[0, 0] == pytest.approx(2.0 * plain.value[0, 0])  # level 4: x2.0
    assert tense.value[2, 0] == pytest.approx(plain.value[2, 0])
    assert "community tension level 4: hate incidents 3x the baseline (p=0.002) x2.0" in [
        str(r) for r in tense.reasons(0, 0)
    ]
    with pytest.raises(InvalidInputError, match="allowed levels: 1, 2, 3, 4, 5"):
        compute_posture(
            hand_register, None, start=start, n_slots=2, tension={"n1": TensionLevel(9, "x")}
        )


def test_playbook_reasons_carry_name_and_version(hand_register: SiteRegister) -> None:
    event = event_from_dict({**ANTI_MUSLIM, "playbook": "place-of-worship-attack"})
    book = shipped_playbooks()["place-of-worship-attack"]
    start = datetime(2026, 6, 19, 12, 0, tzinfo=LONDON)
    posture = compute_posture(hand_register, event, start=start, n_slots=4, playbook=book)
    texts = [str(r) for r in posture.reasons(0, 1)]
    expected = "places of worship of the targeted community for 7 days x1.5"
    assert f"playbook place-of-worship-attack v1: {expected}" in texts
    assert posture.playbook == "place-of-worship-attack v1"
    assert "hate_crime_officer" in posture.brief_roles
    # Eight days later the playbook is no longer in force.
    later = compute_posture(
        hand_register, event, start=start + timedelta(days=8), n_slots=4, playbook=book
    )
    assert not any(f.source == "playbook" for f in later.factors)


def test_proximity_to_the_event_place(hand_register: SiteRegister) -> None:
    # An attack at the stadium itself (lon,lat): the stadium gets the full proximity
    # multiplier 2.0 on day 1 at age 0, the mosque 1.75 km away a smaller one.
    event = event_from_dict(
        {
            **ANTI_MUSLIM,
            "place": "-0.7050,52.6600",
            "targeted_community": "none",
            "at": "2026-06-20T15:30:00+01:00",
        }
    )
    start = datetime(2026, 6, 20, 15, 0, tzinfo=LONDON)
    posture = compute_posture(hand_register, event, start=start, n_slots=2)
    assert _reason(posture, "w5", start, "event:proximity") == pytest.approx(2.0)
    assert 1.0 < _reason(posture, "n1", start, "event:proximity") < 2.0
    # The stadium is a site: "same type of place" applies to stadiums.
    assert _reason(posture, "w5", start, "event:same_category") == pytest.approx(1.8)


def test_window_and_validation(hand_register: SiteRegister) -> None:
    at = datetime(2026, 6, 19, 13, 40, tzinfo=LONDON)
    assert window_start(at, 30) == datetime(2026, 6, 19, 13, 30, tzinfo=LONDON)
    posture = posture_for_sites(hand_register, None, at=at, hours=8, slot_minutes=30)
    assert posture.n_slots == 16
    assert posture.slot_start[0].tzinfo is not None
    assert posture.value.shape == (5, 16)
    assert not posture.value.flags.writeable
    with pytest.raises(InvalidInputError, match="has no UTC offset"):
        compute_posture(hand_register, None, start=datetime(2026, 6, 19), n_slots=2)
    with pytest.raises(InvalidInputError, match="slot length 45 min"):
        compute_posture(hand_register, None, start=at, n_slots=2, slot_minutes=45)
    with pytest.raises(InvalidInputError, match="outside the posture window"):
        posture.slot_index(at + timedelta(days=2))
    empty = compute_posture(SiteRegister.empty(), None, start=at, n_slots=2)
    assert empty.status == "no_sites"
    assert empty.top(3) == []


def test_to_dict_is_json_ready(hand_register: SiteRegister) -> None:
    posture = compute_posture(
        hand_register,
        event_from_dict(ANTI_MUSLIM),
        start=datetime(2026, 6, 19, 12, 0, tzinfo=LONDON),
        n_slots=3,
    )
    doc = posture.to_dict()
    assert len(doc["reason_ptr"]) == 5 * 3 + 1
    lo, hi = doc["reason_ptr"][0], doc["reason_ptr"][1]
    assert doc["factors"][doc["reason_factor"][lo]]["source"] == "base"
    product = math.prod(doc["reason_multiplier"][lo:hi])
    assert product == pytest.approx(doc["value"][0][0], rel=1e-5)
    json.dumps(doc)


# The register fixture is frozen, so sharing it between examples is safe.
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hour=st.integers(min_value=0, max_value=24 * 14),
    threat=st.sampled_from(["low", "moderate", "substantial", "severe", "critical"]),
    slot=st.sampled_from([30, 60]),
    community=st.sampled_from(["muslim", "jewish", "christian", "none"]),
    lag_h=st.integers(min_value=-12, max_value=24 * 10),
)
def test_value_is_the_product_of_its_reasons(
    hand_register: SiteRegister, hour: int, threat: str, slot: int, community: str, lag_h: int
) -> None:
    start = datetime(2026, 12, 1, 0, 0, tzinfo=LONDON) + timedelta(hours=hour)
    event = event_from_dict(
        {
            **ANTI_MUSLIM,
            "threat_level": threat,
            "targeted_community": community,
            "at": (start - timedelta(hours=lag_h)).isoformat(),
        }
    )
    posture = compute_posture(
        hand_register, event, start=start, n_slots=48 * 60 // slot // 2, slot_minutes=slot
    )
    assert np.all(np.isfinite(posture.value))
    assert np.all(posture.value >= 0.0)
    for i in range(posture.n_sites):
        for j in range(posture.n_slots):
            reasons = posture.reasons(i, j)
            assert reasons[0].source == "base"
            assert math.prod(r.multiplier for r in reasons) == pytest.approx(
                posture.value[i, j], rel=1e-12
            )


def test_tension_from_pairs_and_from_tension_levels(hand_register: SiteRegister) -> None:
    from watchfloor.tension.alerts import TensionLevel as AreaTension  # noqa: PLC0415

    start = datetime(2026, 6, 19, 12, 0, tzinfo=LONDON)
    plain = compute_posture(hand_register, None, start=start, n_slots=1)
    as_pairs = compute_posture(
        hand_register, None, start=start, n_slots=1, tension={"n3": (3, "graffiti cluster")}
    )
    as_objects = compute_posture(
        hand_register,
        None,
        start=start,
        n_slots=1,
        tension={"n3": AreaTension("E01", 3, "graffiti cluster")},
    )
    # Level 3: x1.5 on the synagogue only.
    assert as_pairs.value[2, 0] == pytest.approx(1.5 * plain.value[2, 0])
    np.testing.assert_allclose(as_pairs.value, as_objects.value)
    assert "community tension level 3: graffiti cluster x1.5" in [
        str(r) for r in as_objects.reasons(2, 0)
    ]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hour=st.integers(min_value=0, max_value=24 * 7),
    lower=st.integers(min_value=0, max_value=3),
    raise_by=st.integers(min_value=1, max_value=4),
)
def test_a_higher_threat_level_never_lowers_a_value(
    hand_register: SiteRegister, hour: int, lower: int, raise_by: int
) -> None:
    levels = ["low", "moderate", "substantial", "severe", "critical"]
    higher = min(4, lower + raise_by)
    start = datetime(2026, 6, 15, 0, 0, tzinfo=LONDON) + timedelta(hours=hour)
    event = event_from_dict({**ANTI_MUSLIM, "at": start.isoformat()})
    low = compute_posture(hand_register, event, start=start, n_slots=6, threat_level=levels[lower])
    high = compute_posture(
        hand_register, event, start=start, n_slots=6, threat_level=levels[higher]
    )
    assert np.all(high.value >= low.value)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(days=st.floats(min_value=0.0, max_value=20.0), later=st.floats(min_value=0.01, max_value=5))
def test_event_factors_only_fade(hand_register: SiteRegister, days: float, later: float) -> None:
    event = event_from_dict({**ANTI_MUSLIM, "at": "2026-06-01T12:30:00+01:00"})
    at = event.at + timedelta(days=days)
    first = compute_posture(hand_register, event, start=at, n_slots=1)
    second = compute_posture(hand_register, event, start=at + timedelta(days=later), n_slots=1)
    m1 = _reason(first, "n1", first.slot_start[0], "event:targeted_community")
    m2 = _reason(second, "n1", second.slot_start[0], "event:targeted_community")
    assert 1.0 <= m2 <= m1 <= 3.0


def test_kol_nidre_raises_the_synagogue_on_the_eve_of_yom_kippur(
    hand_register: SiteRegister,
) -> None:
    # Yom Kippur 5787 is Monday 21 Sep 2026; Kol Nidre is on the Sunday evening
    # (sunset in Oakham about 19:05 BST): the 19:00 slot of 20 Sep is raised x2.5.
    start = datetime(2026, 9, 20, 12, 0, tzinfo=LONDON)
    posture = compute_posture(hand_register, None, start=start, n_slots=12)
    at_19 = datetime(2026, 9, 20, 19, 0, tzinfo=LONDON)
    assert _reason(posture, "n3", at_19, "festival:kol_nidre") == pytest.approx(2.5)
    assert _reason(posture, "n3", start, "festival:kol_nidre") == 1.0
    assert _reason(posture, "n1", at_19, "festival:kol_nidre") == 1.0
