"""Risk per site and time slot: the attacker's payoff, with every factor kept.

The model
---------
For site ``i`` and slot ``j`` (starting at ``t_j``, local hour ``h_j``)::

    value[i, j] = base(i) * occupancy(i, h_j) * threat
                  * prod_e  event_e(i, t_j)        (decaying after the event)
                  * prod_c  calendar_c(i, t_j)     (weekly windows, festivals, user events)
                  * tension(i)                     (level 1..5 of the site's area)
                  * prod_p  playbook_p(i, t_j)     (while the playbook is in force)

- ``base``: value of a successful attack on the site at a busy time, by site
  kind, overridden by category (crowded places graded by capacity class).
- ``occupancy``: usual occupancy by local hour, by kind/category (24 values).
- ``threat``: national threat level multiplier (substantial = 1).
- event factors, each with a configured initial multiplier ``m0`` that decays
  with the time ``t`` (days) since the event,
  ``m(t) = 1 + (m0 - 1) * 2 ** (-t / half_life_days)``, and is 1 before it:
  places of the targeted community, of the backlash community, the same
  category / kind of place as the one attacked, the kinds of place the attack's
  modus operandi favours, and proximity to the event place (``m0`` at the
  place, falling linearly to 1 at ``proximity_radius_m``).
- calendar windows (Friday prayers, Ramadan iftar at the site's sunset, Sunday
  services, Shabbat, festivals, night-time economy hours, school hours in
  term, user-added events): a slot that overlaps a window by a fraction ``f``
  gets ``1 + (m - 1) * f``.
- tension: a multiplier per level of the site's area, with the alert's text.
- playbook: step multipliers and extra windows from the event until
  ``duration_days`` after it; its ``half_life_days`` replaces the default.

Every factor that is not 1 in a cell is recorded as a reason of that cell
(factor id, text, multiplier); the base value is always the first reason, so
the product of a cell's reasons is its value. Multiplicative combination keeps
each factor's meaning independent of the others ("twice as attractive during
Friday prayers") and keeps values positive, as the security game needs.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InvalidInputError
from watchfloor.geo import haversine_m
from watchfloor.posture.calendar import (
    LONDON,
    computed_festival_dates,
    is_school_holiday,
    sunset_utc,
)
from watchfloor.posture.config import (
    WEEKDAYS,
    Factors,
    Selector,
    UserEvent,
    default_factors,
)
from watchfloor.posture.event import THREAT_LEVELS, Event
from watchfloor.posture.playbooks import Playbook
from watchfloor.posture.result import Factor, FactorSource, Posture
from watchfloor.types import BoolArray, FloatArray, IntArray

__all__ = [
    "SLOT_MINUTES",
    "SiteTable",
    "TensionInput",
    "TensionLevel",
    "TensionLike",
    "compute_posture",
    "tension_by_area",
]

log = logging.getLogger(__name__)

#: Slot lengths accepted (they divide a day).
SLOT_MINUTES: tuple[int, ...] = (10, 15, 20, 30, 60, 120)
_MAX_SLOTS = 7 * 24 * 6
_EPS = 1e-12
_ATTACHED_M = 250.0  # an event point this close to a site is taken to be that site


class SiteTable(Protocol):
    """The site columns the posture reads (those of ``watchfloor.sites.register.SiteRegister``)."""

    @property
    def site_id(self) -> Sequence[str]: ...
    @property
    def kind(self) -> Sequence[str]: ...
    @property
    def category(self) -> Sequence[str]: ...
    @property
    def name(self) -> Sequence[str]: ...
    @property
    def religion(self) -> Sequence[str]: ...
    @property
    def denomination(self) -> Sequence[str]: ...
    @property
    def lon(self) -> FloatArray: ...
    @property
    def lat(self) -> FloatArray: ...


@dataclass(frozen=True)
class TensionLevel:
    """Community-tension level (1..5) of a site's area and the alert text behind it."""

    level: int
    reason: str


class TensionLike(Protocol):
    """Anything with a tension ``level`` (1..5) and its ``reason`` (e.g. tension's own type)."""

    @property
    def level(self) -> int: ...
    @property
    def reason(self) -> str: ...


#: Tension of a site: an object with ``level`` and ``reason``, or a ``(level, reason)`` pair.
TensionInput = TensionLike | tuple[int, str]


def _tension_pair(value: TensionInput) -> tuple[int, str]:
    if isinstance(value, tuple):
        level, reason = value
        return level, str(reason)
    return value.level, str(value.reason)


def tension_by_area(
    area_of_site: Sequence[str | None],
    site_id: Sequence[str],
    levels: Mapping[str, TensionInput],
) -> dict[str, TensionInput]:
    """Return tension per site from tension per area.

    Parameters
    ----------
    area_of_site
        Area code (LSOA, ward ...) of each site, or None when outside every area.
    site_id
        Site identifiers, parallel to ``area_of_site``.
    levels
        Tension level per area code.
    """
    if len(area_of_site) != len(site_id):
        msg = f"area_of_site has {len(area_of_site)} entries for {len(site_id)} sites"
        raise InvalidInputError(msg)
    return {
        sid: levels[area]
        for sid, area in zip(site_id, area_of_site, strict=True)
        if area is not None and area in levels
    }


# --- reasons ---------------------------------------------------------------------


class _Collector:
    """Multiplies factors into the value matrix and records them as reasons."""

    def __init__(self, n_sites: int, n_slots: int) -> None:
        self.n_slots = n_slots
        self.value = np.ones((n_sites, n_slots), dtype=np.float64)
        self.factors: list[Factor] = []
        self._index: dict[str, int] = {}
        self._cells: list[IntArray] = []
        self._fidx: list[npt.NDArray[np.int32]] = []
        self._mult: list[FloatArray] = []

    def _factor(self, factor_id: str, source: FactorSource, text: str) -> int:
        k = self._index.get(factor_id)
        if k is None:
            k = len(self.factors)
            self.factors.append(Factor(factor_id, source, text))
            self._index[factor_id] = k
        return k

    def apply(
        self,
        factor_id: str,
        source: FactorSource,
        text: str,
        rows: IntArray,
        mult: FloatArray,
        *,
        keep_ones: bool = False,
    ) -> int:
        """Multiply ``mult`` (len(rows) x n_slots) into ``value[rows]``; return cells changed."""
        if rows.size == 0:
            return 0
        mult = np.broadcast_to(mult, (rows.size, self.n_slots))
        hit = np.ones(mult.shape, dtype=bool) if keep_ones else np.abs(mult - 1.0) > _EPS
        if not hit.any():
            return 0
        k = self._factor(factor_id, source, text)
        r, c = np.nonzero(hit)
        self.value[rows[r], c] *= mult[r, c]
        self._cells.append(rows[r].astype(np.int64) * self.n_slots + c)
        self._fidx.append(np.full(r.size, k, dtype=np.int32))
        self._mult.append(mult[r, c].astype(np.float64))
        return int(r.size)

    def reasons_csr(self) -> tuple[IntArray, npt.NDArray[np.int32], FloatArray]:
        n_cells = self.value.size
        if not self._cells:
            return np.zeros(n_cells + 1, np.int64), np.zeros(0, np.int32), np.zeros(0)
        cells = np.concatenate(self._cells)
        order = np.argsort(cells, kind="stable")  # stable: base stays first in its cell
        counts = np.bincount(cells, minlength=n_cells)
        ptr = np.zeros(n_cells + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        return ptr, np.concatenate(self._fidx)[order], np.concatenate(self._mult)[order]


# --- helpers ---------------------------------------------------------------------


def _lower(values: Sequence[str]) -> npt.NDArray[np.str_]:
    return np.array([str(v or "").strip().lower() for v in values], dtype=str)


@dataclass(frozen=True)
class _Sites:
    site_id: tuple[str, ...]
    kind: npt.NDArray[np.str_]
    category: npt.NDArray[np.str_]
    name: npt.NDArray[np.str_]
    religion: npt.NDArray[np.str_]
    denomination: npt.NDArray[np.str_]
    lon: FloatArray
    lat: FloatArray

    def match(self, sel: Selector) -> BoolArray:
        mask = np.ones(len(self.site_id), dtype=bool)
        for field in ("kind", "category", "religion", "denomination"):
            wanted = [w.lower() for w in getattr(sel, field)]
            if wanted:
                mask &= np.isin(getattr(self, field), wanted)
        if sel.site_id:
            mask &= np.isin(np.array(self.site_id, dtype=str), list(sel.site_id))
        return mask


def _sites_from(table: SiteTable) -> _Sites:
    n = len(table.site_id)
    lon = np.asarray(table.lon, dtype=np.float64)
    lat = np.asarray(table.lat, dtype=np.float64)
    columns = (table.kind, table.category, table.name, table.religion, table.denomination)
    if lon.shape != (n,) or lat.shape != (n,) or any(len(c) != n for c in columns):
        msg = f"the site register's columns do not all have {n} entries; rebuild the region"
        raise InvalidInputError(msg)
    return _Sites(
        site_id=tuple(str(s) for s in table.site_id),
        kind=_lower(table.kind),
        category=_lower(table.category),
        name=_lower(table.name),
        religion=_lower(table.religion),
        denomination=_lower(table.denomination),
        lon=lon,
        lat=lat,
    )


@dataclass(frozen=True)
class _Slots:
    start_s: FloatArray  # POSIX seconds, UTC
    length_s: float
    local_hour: IntArray

    @property
    def end_s(self) -> FloatArray:
        return self.start_s + self.length_s

    @property
    def mid_s(self) -> FloatArray:
        return self.start_s + self.length_s / 2.0

    def overlap(self, start_s: FloatArray, end_s: FloatArray) -> FloatArray:
        """Fraction of each slot inside [start, end) for each row (rows x slots)."""
        lo = np.maximum(start_s[:, None], self.start_s[None, :])
        hi = np.minimum(end_s[:, None], self.end_s[None, :])
        frac: FloatArray = np.clip(hi - lo, 0.0, None) / self.length_s
        return frac


_TIME_RE = re.compile(r"^(?:(\d{1,2}):(\d{2})|sunset(?:([+-])(\d+)m)?)$")


class _Clock:
    """Local wall-clock and sunset times as UTC seconds, cached per date."""

    def __init__(self, sites: _Sites) -> None:
        self.sites = sites
        self._sunset: dict[date, FloatArray] = {}

    def sunset(self, day: date) -> FloatArray:
        if day not in self._sunset:
            # Sunset moves about 2.4 s per 0.01 degree of longitude: compute it once per
            # 0.01-degree cell, not once per site.
            cells = np.round(np.column_stack([self.sites.lon, self.sites.lat]), 2)
            unique, inverse = np.unique(cells, axis=0, return_inverse=True)
            times = sunset_utc(day, unique[:, 0], unique[:, 1])
            self._sunset[day] = times[inverse.reshape(-1)]
        return self._sunset[day]

    def at(self, day: date, spec: str, rows: IntArray) -> FloatArray:
        m = _TIME_RE.match(spec)
        if m is None:
            msg = f"time {spec!r} is not HH:MM or sunset[+-NNm]"
            raise InvalidInputError(msg)
        if m.group(1) is not None:
            hh, mm = int(m.group(1)), int(m.group(2))
            local = datetime(day.year, day.month, day.day, hh, mm, tzinfo=LONDON)
            return np.full(rows.size, local.timestamp())
        shift = 0.0
        if m.group(3):
            shift = (1.0 if m.group(3) == "+" else -1.0) * 60.0 * int(m.group(4))
        return self.sunset(day)[rows] + shift


def _window_text(text: str, start: str, end: str) -> str:
    if ":" in start and ":" in end:
        return f"{text} {start}-{end}"
    return f"{text} ({start} to {end})"


def _describe_kind(kind: str) -> str:
    return kind.replace("_", " ")


# --- the model -------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    text: str
    days: tuple[str, ...]
    during: str
    start: str
    end: str
    end_day_offset: int


class _Model:
    def __init__(
        self,
        sites: _Sites,
        slots: _Slots,
        factors: Factors,
        collector: _Collector,
    ) -> None:
        self.sites = sites
        self.slots = slots
        self.factors = factors
        self.out = collector
        self.clock = _Clock(sites)
        first = datetime.fromtimestamp(float(slots.start_s[0]), LONDON).date()
        last = datetime.fromtimestamp(float(slots.end_s[-1]), LONDON).date()
        # Windows may start up to a week before the first slot (Shabbat ends a day later).
        self.dates = [first + timedelta(days=k) for k in range(-8, (last - first).days + 1)]
        self.date_set = set(self.dates)
        years = sorted({d.year for d in self.dates})
        self.ramadan_days = {d for y in years for d in computed_festival_dates("ramadan", y)}

    def _day_allowed(self, day: date, days: tuple[str, ...], during: str) -> bool:
        if WEEKDAYS[day.weekday()] not in days:
            return False
        if during == "ramadan":
            return day in self.ramadan_days
        if during == "school_term":
            school = self.factors.school
            return not is_school_holiday(
                day, [(a, b) for a, b in school.holidays], easter_days=school.easter_days
            )
        return True

    def window_overlap(
        self, window: _Window, rows: IntArray, dates: Sequence[date] | None = None
    ) -> FloatArray:
        """Overlap (rows x slots) of a window repeated on its allowed dates."""
        best = np.zeros((rows.size, self.slots.start_s.size))
        for day in dates if dates is not None else self.dates:
            if not self._day_allowed(day, window.days, window.during):
                continue
            start = self.clock.at(day, window.start, rows)
            end_day = day + timedelta(days=window.end_day_offset)
            end = self.clock.at(end_day, window.end, rows)
            wrap = end <= start
            if wrap.any():
                end = np.where(
                    wrap, self.clock.at(end_day + timedelta(days=1), window.end, rows), end
                )
            if end.max() <= self.slots.start_s[0] or start.min() >= self.slots.end_s[-1]:
                continue
            np.maximum(best, self.slots.overlap(start, end), out=best)
        return best

    # -- factors --

    def base(self) -> None:
        cfg = self.factors.base_value
        kinds = {k.lower(): v for k, v in cfg.kind.items()}
        cats = {k.lower(): v for k, v in cfg.category.items()}
        groups: dict[tuple[str, str, str], list[int]] = {}
        for i in range(len(self.sites.site_id)):
            key = (
                str(self.sites.kind[i]),
                str(self.sites.category[i]),
                str(self.sites.religion[i]),
            )
            groups.setdefault(key, []).append(i)
        for (kind, category, religion), members in sorted(groups.items()):
            value = cats.get(category, kinds.get(kind, cfg.default))
            label = _describe_kind(kind or "site")
            detail = ", ".join(x for x in (category, religion) if x and x != kind)
            text = f"{label} ({detail})" if detail else label
            rows = np.asarray(members, dtype=np.int64)
            self.out.apply(
                f"base:{kind}:{category}:{religion}",
                "base",
                text,
                rows,
                np.full((rows.size, 1), value),
                keep_ones=True,
            )

    def occupancy(self) -> None:
        cfg = self.factors.occupancy
        kinds = {k.lower(): v for k, v in cfg.kind.items()}
        cats = {k.lower(): v for k, v in cfg.category.items()}
        for key, table, field in (
            *((k, cats, "category") for k in cats),
            *((k, kinds, "kind") for k in kinds),
        ):
            mask = getattr(self.sites, field) == key
            if field == "kind":
                mask &= ~np.isin(self.sites.category, list(cats))
            rows = np.flatnonzero(mask)
            profile = np.asarray(table[key], dtype=np.float64)[self.slots.local_hour]
            self.out.apply(
                f"occupancy:{field}:{key}",
                "occupancy",
                f"usual occupancy of {_describe_kind(key)} at this hour",
                rows,
                profile[None, :],
            )

    def threat(self, level: str) -> None:
        mult = self.factors.threat_level[level]  # type: ignore[index]
        rows = np.arange(len(self.sites.site_id), dtype=np.int64)
        self.out.apply(
            f"threat:{level}",
            "threat",
            f"national threat level {level}",
            rows,
            np.full((1, 1), mult),
        )

    def calendar(self) -> None:
        for key, rule in self.factors.calendar.items():
            rows = np.flatnonzero(self.sites.match(rule.applies_to))
            if rows.size == 0:
                continue
            window = _Window(
                rule.text, rule.days, rule.during, rule.start, rule.end, rule.end_day_offset
            )
            frac = self.window_overlap(window, rows)
            text = _window_text(rule.text, rule.start, rule.end)
            self.out.apply(
                f"calendar:{key}", "calendar", text, rows, 1.0 + (rule.multiplier - 1.0) * frac
            )

    def festivals(self) -> None:
        years = sorted({d.year for d in self.dates})
        for key, fest in self.factors.festivals.items():
            rows = np.flatnonzero(self.sites.match(fest.applies_to))
            if rows.size == 0:
                continue
            days: set[date] = set(fest.dates)
            if fest.rule:
                for y in years:
                    days.update(computed_festival_dates(fest.rule, y))
            # day_offset -1: the window is on the eve (a Jewish festival begins at sunset).
            shifted = {d + timedelta(days=fest.day_offset) for d in days}
            in_range = sorted(shifted & self.date_set)
            if not in_range:
                continue
            window = _Window(fest.text, WEEKDAYS, "always", fest.start, fest.end, 0)
            frac = self.window_overlap(window, rows, in_range)
            text = _window_text(fest.text, fest.start, fest.end)
            self.out.apply(
                f"festival:{key}", "calendar", text, rows, 1.0 + (fest.multiplier - 1.0) * frac
            )

    def user_events(self, events: Sequence[UserEvent]) -> None:
        for k, ev in enumerate(events):
            if ev.site_id is not None:
                mask = np.array([s == ev.site_id for s in self.sites.site_id], dtype=bool)
                if not mask.any():
                    msg = f"user event {ev.text!r}: no site with id {ev.site_id!r} in the region"
                    raise InvalidInputError(msg)
            elif ev.site_name is not None:
                mask = self.sites.name == ev.site_name.strip().lower()
                if not mask.any():
                    msg = (
                        f"user event {ev.text!r}: no site named {ev.site_name!r} in the region; "
                        "check the name with `watchfloor sites list` or give site_id"
                    )
                    raise InvalidInputError(msg)
            elif ev.applies_to is not None:
                mask = self.sites.match(ev.applies_to)
            else:
                msg = f"user event {ev.text!r} needs site_id, site_name or applies_to"
                raise InvalidInputError(msg)
            if ev.end <= ev.start:
                msg = f"user event {ev.text!r} ends ({ev.end.isoformat()}) before it starts"
                raise InvalidInputError(msg)
            rows = np.flatnonzero(mask)
            frac = self.slots.overlap(
                np.array([ev.start.timestamp()]), np.array([ev.end.timestamp()])
            )
            s_loc, e_loc = ev.start.astimezone(LONDON), ev.end.astimezone(LONDON)
            text = f"{ev.text} {s_loc:%a %d %b %H:%M}-{e_loc:%H:%M}"
            self.out.apply(f"user:{k}", "calendar", text, rows, 1.0 + (ev.multiplier - 1.0) * frac)

    def tension(self, tension: Mapping[str, TensionInput]) -> None:
        mult = self.factors.tension.level_multiplier
        index = {s: i for i, s in enumerate(self.sites.site_id)}
        groups: dict[tuple[int, str], list[int]] = {}
        for sid, entry in tension.items():
            level, reason = _tension_pair(entry)
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
                msg = f"tension level of site {sid!r} is {level!r}; allowed levels: 1, 2, 3, 4, 5"
                raise InvalidInputError(msg)
            if sid in index:
                groups.setdefault((level, reason), []).append(index[sid])
        for n, ((level, reason), members) in enumerate(sorted(groups.items())):
            text = f"community tension level {level}" + (f": {reason}" if reason else "")
            rows = np.asarray(sorted(members), dtype=np.int64)
            self.out.apply(f"tension:{n}", "tension", text, rows, np.full((1, 1), mult[level]))

    def _attacked_place(self, event: Event) -> tuple[str, str, str, tuple[float, float] | None]:
        """Kind, category, religion and location of the place attacked, as far as known."""
        if event.place_lonlat is not None:
            lon, lat = event.place_lonlat
            if self.sites.lon.size:
                dist = haversine_m(self.sites.lon, self.sites.lat, lon, lat)
                i = int(np.argmin(dist))
                if dist[i] <= _ATTACHED_M:
                    return (*self._type_of(i), (lon, lat))
            return "", "", "", (lon, lat)
        text = event.place.strip().lower()
        named = np.flatnonzero(self.sites.name == text)
        if named.size:
            i = int(named[0])
            return (*self._type_of(i), (float(self.sites.lon[i]), float(self.sites.lat[i])))
        words = self.factors.event.place_words
        for word in sorted(words, key=len, reverse=True):
            if re.search(rf"\b{re.escape(word.lower())}\b", text):
                pw = words[word]
                return pw.kind.lower(), pw.category.lower(), pw.religion.lower(), None
        return "", "", "", None

    def _type_of(self, i: int) -> tuple[str, str, str]:
        kind, category = str(self.sites.kind[i]), str(self.sites.category[i])
        return kind, "" if category == kind else category, str(self.sites.religion[i])

    def event_factors(self, event: Event, *, half_life_days: float) -> None:
        cfg = self.factors.event
        at_s = event.at.timestamp()
        age_d = (self.slots.mid_s - at_s) / 86_400.0
        active = age_d >= 0.0
        if not active.any():
            log.info("the event is after the posture window: no event factors")
            return
        decay = np.where(active, 2.0 ** (-np.clip(age_d, 0.0, None) / half_life_days), 0.0)
        day_no = np.where(active, np.floor(np.clip(age_d, 0.0, None)).astype(np.int64) + 1, 0)
        when = f"{_describe_kind(event.kind)} {event.at.astimezone(LONDON):%Y-%m-%d}"

        def decaying(key: str, text: str, rows: IntArray, m0: FloatArray | float) -> None:
            m0_col = np.broadcast_to(np.asarray(m0, dtype=np.float64), (rows.size,))[:, None]
            for d in np.unique(day_no[day_no > 0]):
                in_day = (day_no == d).astype(np.float64)
                mult = 1.0 + (m0_col - 1.0) * (decay * in_day)[None, :]
                self.out.apply(
                    f"event:{key}:day{d}",
                    "event",
                    f"{text} after {when}, day {d} of decay",
                    rows,
                    mult,
                )

        communities = self.factors.communities
        for role, community, m0 in (
            ("targeted", event.targeted_community, cfg.targeted_community),
            ("backlash", event.backlash_community, cfg.backlash_community),
        ):
            if community and community in communities:
                rows = np.flatnonzero(self.sites.match(communities[community]))
                decaying(f"{role}_community", f"{role} community ({community})", rows, m0)

        kind, category, religion, where = self._attacked_place(event)
        same_cat = np.zeros(len(self.sites.site_id), dtype=bool)
        if kind and (category or religion):
            same_cat = self.sites.kind == kind
            if category:
                same_cat &= self.sites.category == category
            if religion:
                same_cat &= self.sites.religion == religion
            label = ", ".join(x for x in (_describe_kind(kind), category, religion) if x)
            decaying(
                "same_category",
                f"same type of place as attacked ({label})",
                np.flatnonzero(same_cat),
                cfg.same_category,
            )
        if kind:
            rows = np.flatnonzero((self.sites.kind == kind) & ~same_cat)
            decaying(
                "same_kind",
                f"same kind of place as attacked ({_describe_kind(kind)})",
                rows,
                cfg.same_kind,
            )

        for site_kind, m0 in cfg.modus_operandi.get(event.kind, {}).items():
            rows = np.flatnonzero(self.sites.kind == site_kind.lower())
            decaying(
                f"modus_operandi:{site_kind}",
                f"{_describe_kind(event.kind)} modus operandi favours {_describe_kind(site_kind)}",
                rows,
                m0,
            )

        if where is not None and self.sites.lon.size:
            dist = haversine_m(self.sites.lon, self.sites.lat, where[0], where[1])
            near = dist < cfg.proximity_radius_m
            rows = np.flatnonzero(near)
            m0_site = 1.0 + (cfg.proximity - 1.0) * (1.0 - dist[rows] / cfg.proximity_radius_m)
            decaying(
                "proximity",
                f"within {cfg.proximity_radius_m / 1000:g} km of the event place",
                rows,
                m0_site,
            )

    def playbook(self, book: Playbook, event: Event) -> None:
        age_d = (self.slots.mid_s - event.at.timestamp()) / 86_400.0
        in_force = ((age_d >= 0.0) & (age_d < book.duration_days)).astype(np.float64)
        if not in_force.any():
            return
        label = f"playbook {book.label}"

        def rows_for(sel: Selector, community: str | None) -> IntArray | None:
            mask = self.sites.match(sel)
            if community is not None:
                name = {
                    "targeted": event.targeted_community,
                    "backlash": event.backlash_community,
                }.get(community, community)
                if not name or name not in self.factors.communities:
                    return None
                mask &= self.sites.match(self.factors.communities[name])
            return np.flatnonzero(mask)

        for k, item in enumerate(book.raise_):
            rows = rows_for(item.applies_to, item.community)
            if rows is None:
                continue
            mult = 1.0 + (item.multiplier - 1.0) * in_force
            self.out.apply(
                f"playbook:{book.name}:raise{k}",
                "playbook",
                f"{label}: {item.text} for {book.duration_days:g} days",
                rows,
                mult[None, :],
            )
        for k, win in enumerate(book.windows):
            rows = rows_for(win.applies_to, win.community)
            if rows is None or rows.size == 0:
                continue
            window = _Window(win.text, win.days, win.during, win.start, win.end, win.end_day_offset)
            frac = self.window_overlap(window, rows) * in_force[None, :]
            self.out.apply(
                f"playbook:{book.name}:window{k}",
                "playbook",
                f"{label}: {_window_text(win.text, win.start, win.end)}",
                rows,
                1.0 + (win.multiplier - 1.0) * frac,
            )


def _slots(start: datetime, n_slots: int, slot_minutes: int) -> _Slots:
    start_s = start.timestamp() + 60.0 * slot_minutes * np.arange(n_slots, dtype=np.float64)
    hours = np.array(
        [datetime.fromtimestamp(float(s), LONDON).hour for s in start_s], dtype=np.int64
    )
    return _Slots(start_s=start_s, length_s=60.0 * slot_minutes, local_hour=hours)


def compute_posture(
    sites: SiteTable,
    event: Event | None,
    *,
    start: datetime,
    n_slots: int,
    slot_minutes: int = 60,
    factors: Factors | None = None,
    playbook: Playbook | None = None,
    tension: Mapping[str, TensionInput] | None = None,
    threat_level: str | None = None,
    user_events: Sequence[UserEvent] = (),
) -> Posture:
    """Return the risk value of every site in every slot, with its reasons.

    Parameters
    ----------
    sites
        The region's site register (or any table with its columns).
    event
        The declared event, or None for the calendar-only posture.
    start
        Start of the first slot (timezone-aware).
    n_slots
        Number of slots.
    slot_minutes
        Slot length, one of :data:`SLOT_MINUTES`.
    factors
        Factor table; the shipped defaults when omitted.
    playbook
        Playbook to apply (the one the event names, resolved by the caller).
    tension
        Community-tension level and reason per site id: :class:`TensionLevel`,
        tension's own level objects, or ``(level, reason)`` pairs (see
        :func:`tension_by_area`).
    threat_level
        National threat level; defaults to the event's, else ``substantial``.
    user_events
        Added calendar events (matches, marches, vigils), on top of those in
        ``factors.user_events``.

    Raises
    ------
    InvalidInputError
        On a naive ``start``, a slot length or count out of range, an unknown
        threat level, or a user event that names no site.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        msg = f"posture start {start.isoformat()} has no UTC offset; give one, e.g. +01:00"
        raise InvalidInputError(msg)
    if slot_minutes not in SLOT_MINUTES:
        msg = f"slot length {slot_minutes} min is not allowed; use one of {SLOT_MINUTES}"
        raise InvalidInputError(msg)
    if not 1 <= n_slots <= _MAX_SLOTS or n_slots * slot_minutes > 7 * 24 * 60:
        msg = f"{n_slots} slots of {slot_minutes} min: give between 1 slot and 7 days"
        raise InvalidInputError(msg)
    level = threat_level or (event.threat_level if event is not None else "substantial")
    if level not in THREAT_LEVELS:
        msg = f"threat level {level!r} is not allowed; allowed values: {', '.join(THREAT_LEVELS)}"
        raise InvalidInputError(msg)
    if playbook is not None and event is None:
        msg = "a playbook needs a declared event (its raises count from the event's time)"
        raise InvalidInputError(msg)
    cfg = factors if factors is not None else default_factors()

    table = _sites_from(sites)
    slots = _slots(start.astimezone(UTC), n_slots, slot_minutes)
    collector = _Collector(len(table.site_id), n_slots)
    model = _Model(table, slots, cfg, collector)
    model.base()
    model.occupancy()
    model.threat(level)
    if event is not None:
        half_life = (
            playbook.half_life_days
            if playbook is not None and playbook.half_life_days is not None
            else cfg.event.half_life_days
        )
        model.event_factors(event, half_life_days=half_life)
    model.calendar()
    model.festivals()
    model.user_events([*cfg.user_events, *user_events])
    if tension:
        model.tension(tension)
    if playbook is not None and event is not None:
        model.playbook(playbook, event)

    ptr, fidx, mult = collector.reasons_csr()
    slot_start = tuple(datetime.fromtimestamp(float(s), UTC) for s in slots.start_s)
    log.info(
        "posture: %d sites x %d slots of %d min, %d factors, %d reasons, max value %.3g",
        len(table.site_id),
        n_slots,
        slot_minutes,
        len(collector.factors),
        fidx.size,
        float(collector.value.max()) if collector.value.size else math.nan,
    )
    return Posture(
        status="ok" if table.site_id else "no_sites",
        site_id=table.site_id,
        slot_start=slot_start,
        slot_minutes=slot_minutes,
        value=collector.value,
        factors=tuple(collector.factors),
        reason_ptr=ptr,
        reason_factor=fidx,
        reason_multiplier=mult,
        threat_level=level,
        playbook=playbook.label if playbook is not None else "",
        brief_roles=playbook.brief_roles if playbook is not None else (),
    )
