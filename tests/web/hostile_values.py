"""Hypothesis strategies of hostile values and hostile requests for the JSON APIs.

A *hostile value* is what a careless or malicious client puts in a field:
control characters (NUL, escape, C1, lone surrogates), huge and tiny numbers,
Unicode digits that are not ASCII (``"²"``, ``"٣"``), date-times that overflow
once converted to UTC (year 1 with ``+14:00``), values of the wrong type and
very long strings. :func:`hostile_requests` draws one request (method, path,
query, JSON body, headers) against the public, staff, ARV and operations APIs,
with one field (or the whole body) replaced by a hostile value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

__all__ = ["GENUINE", "HostileRequest", "hostile_requests", "hostile_values"]

#: A genuine report (the description is made unique per report by the caller).
GENUINE: dict[str, Any] = {
    "kind": "suspicious_item",
    "description": "A rucksack with wires showing left under a bench by the bus station",
    "place_text": "Oakham bus station",
}

_CONTROLS = st.sampled_from(
    ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\u2028", "\ufeff", "\ud800", "\udfff"]
)
_ODD_DIGITS = st.sampled_from(
    ["²", "٣", "１２", "1_000", "0x10", "+1", " 1 ", "1e3", "-0", "١.١", "1.5", "", "NaN"]
)
_NUMBERS = st.one_of(
    st.sampled_from([1e308, -1e308, 5e-324, 2**63, -(2**63) - 1, 2**70, 10**400, 0, -1]),
    st.integers(),
    st.floats(),  # NaN and infinities become NaN / Infinity literals
)
_DATES = st.builds(
    lambda year, offset: f"{year:04d}-01-01T00:00:00{offset}",
    st.sampled_from([0, 1, 2, 1899, 2100, 9999]),
    st.sampled_from(["+14:00", "-14:00", "+23:59", "-23:59", "Z", "", "+99:00"]),
) | st.datetimes().map(lambda d: d.isoformat() + "+14:00")
_WRONG_TYPES = st.sampled_from([None, True, False, [], {}, [[]], {"a": 1}, ["x"], 0, ""])
_LONG = st.sampled_from([5001, 20_000, 200_000]).map(lambda n: "x" * n)
_TEXT_WITH_CONTROLS = st.lists(st.one_of(_CONTROLS, st.characters()), min_size=1, max_size=12).map(
    "".join
)


def hostile_values() -> st.SearchStrategy[Any]:
    """Return the strategy of hostile JSON values."""
    return st.one_of(
        _TEXT_WITH_CONTROLS, _CONTROLS, _ODD_DIGITS, _NUMBERS, _DATES, _WRONG_TYPES, _LONG
    )


# Path segments and query values: no lone surrogates (a URL cannot carry them).
_PATH_VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    _ODD_DIGITS,
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30),
)
# Header values an HTTP client will send: printable ASCII, no space at either end.
_HEADER_VALUES = st.from_regex(r"\A[!-~]([ -~]{0,248}[!-~])?\Z")


@dataclass(frozen=True)
class HostileRequest:
    """One request: method, path, query parameters, JSON body and headers."""

    method: str
    path: str
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _replace_one(valid: dict[str, Any], names: list[str]) -> st.SearchStrategy[Any]:
    """Bodies equal to ``valid`` with one field (or an extra one) hostile, or a hostile body."""
    one = st.sampled_from([*names, "surprise"]).flatmap(
        lambda name: hostile_values().map(lambda value: {**valid, name: value})
    )
    return st.one_of(one, one, one, hostile_values())


_REPORT_FIELDS = [
    "kind", "happening_now", "description", "occurred_at", "lon", "lat", "place_text",
    "site_id", "people_description", "vehicle_description", "link",
    "protected_characteristic", "victim_or_witness", "prevent_relationship", "anonymous",
    "contact", "photos",
]  # fmt: skip


def _report_bodies() -> st.SearchStrategy[Any]:
    contact = st.sampled_from(["name", "phone", "email"]).flatmap(
        lambda name: hostile_values().map(
            lambda value: {**GENUINE, "anonymous": False, "contact": {name: value}}
        )
    )
    photos = hostile_values().map(lambda value: {**GENUINE, "photos": [{"data_base64": value}]})
    return st.one_of(_replace_one(GENUINE, _REPORT_FIELDS), contact, photos)


def _public() -> st.SearchStrategy[HostileRequest]:
    create = st.builds(
        lambda body, key: HostileRequest(
            "POST", "/api/reports", body, headers={"idempotency-key": key} if key else {}
        ),
        _report_bodies(),
        st.none() | _HEADER_VALUES,
    )
    receipt = st.builds(
        lambda ref, what, body: HostileRequest(
            "POST", f"/api/reports/{quote(ref, safe='')}/{what}", body
        ),
        st.just("WF00000000") | _PATH_VALUES,
        st.sampled_from(["status", "information"]),
        _replace_one(
            {"receipt_code": "ABCD-EFGH-JKMN-PQRS", "text": "more"}, ["receipt_code", "text"]
        ),
    )
    return st.one_of(create, create, receipt)


_STAFF_BODIES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "status": ({"status": "triaged", "note": "seen"}, ["status", "note"]),
    "notes": ({"text": "called back"}, ["text"]),
    "triage": ({"queue": "ct", "priority": 2, "reason": "why"}, ["queue", "priority", "reason"]),
    "contact": ({"purpose": "to call the witness back"}, ["purpose"]),
}


def _staff() -> st.SearchStrategy[HostileRequest]:
    report_id = st.just("1") | _PATH_VALUES
    per_report = st.sampled_from(sorted(_STAFF_BODIES)).flatmap(
        lambda what: st.builds(
            lambda rid, body: HostileRequest(
                "POST", f"/api/staff/reports/{quote(rid, safe='')}/{what}", body
            ),
            report_id,
            _replace_one(*_STAFF_BODIES[what]),
        )
    )
    bulk = _replace_one(
        {"report_ids": [1], "action": "route", "queue": "hate_crime", "note": "n"},
        ["report_ids", "action", "queue", "note"],
    ).map(lambda body: HostileRequest("POST", "/api/staff/reports/bulk", body))
    bulk_ids = st.lists(hostile_values(), min_size=1, max_size=3).map(
        lambda ids: HostileRequest(
            "POST", "/api/staff/reports/bulk", {"report_ids": ids, "action": "close"}
        )
    )
    queue = st.fixed_dictionaries(
        {},
        optional={
            "queue": _PATH_VALUES,
            "status": _PATH_VALUES,
            "after": _PATH_VALUES,
            "limit": _PATH_VALUES,
        },
    ).map(lambda params: HostileRequest("GET", "/api/staff/reports", params=params))
    detail = report_id.map(
        lambda rid: HostileRequest("GET", f"/api/staff/reports/{quote(rid, safe='')}")
    )
    export = st.fixed_dictionaries(
        {}, optional={"queue": _PATH_VALUES, "status": _PATH_VALUES}
    ).map(lambda params: HostileRequest("GET", "/api/staff/export.csv", params=params))
    return st.one_of(per_report, per_report, bulk, bulk_ids, queue, detail, export)


_DISPATCH = {
    "region": "rutland",
    "incident": {"lon": -0.72, "lat": 52.67},
    "units": [{"unit": "A1", "lon": -0.7, "lat": 52.65}],
}
_EVENT = {"kind": "vehicle attack", "place": "Oakham", "at": "2024-06-01T12:00:00+01:00"}
_CALENDAR = {"name": "match", "start": "2026-01-01T15:00:00Z", "end": "2026-01-01T17:00:00Z"}


def _ops() -> st.SearchStrategy[HostileRequest]:
    dispatch = st.one_of(
        _replace_one(_DISPATCH, ["region", "incident", "units"]),
        hostile_values().map(lambda v: {**_DISPATCH, "incident": {"lon": v, "lat": 52.6}}),
        st.sampled_from(["unit", "state", "lon", "lat"]).flatmap(
            lambda name: hostile_values().map(
                lambda v: {
                    **_DISPATCH,
                    "units": [{"unit": "A1", "lon": -0.7, "lat": 52.6, name: v}],
                }
            )
        ),
    ).map(lambda body: HostileRequest("POST", "/api/arv/dispatch", body))
    event = _replace_one(_EVENT, ["kind", "place", "at", "targeted_community", "playbook"]).map(
        lambda body: HostileRequest("POST", "/api/ops/rutland/events", body)
    )
    calendar = _replace_one(_CALENDAR, ["name", "start", "end", "site_id", "weight"]).map(
        lambda body: HostileRequest("POST", "/api/ops/rutland/calendar", body)
    )
    return st.one_of(dispatch, event, calendar)


def hostile_requests(*, ops: bool = True) -> st.SearchStrategy[HostileRequest]:
    """Return the strategy of hostile requests (public, staff and, with ``ops``, ARV and ops)."""
    parts = [_public(), _public(), _staff(), _staff()]
    if ops:
        parts.append(_ops())
    return st.one_of(*parts)
