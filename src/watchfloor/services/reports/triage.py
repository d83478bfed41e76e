"""Triage policy: queue and priority of a new report, high-risk sites, near-duplicate signatures.

Pure CPU work, no database: :func:`triage` (the rules, with a plain-language
reason for each step), :class:`SiteIndex` of the region's high-risk sites
(:data:`HIGH_RISK_KINDS`; :func:`load_site_index` builds it from a built
region), and the MinHash signatures that :mod:`.duplicates` compares after
the commit. Imports the schemas, the foundation and, lazily, the region loader.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from watchfloor.errors import NotFoundError
from watchfloor.geo import haversine_m
from watchfloor.services.reports.schemas import ReportCreate
from watchfloor.settings import Settings
from watchfloor.types import FloatArray, ReportQueue

if TYPE_CHECKING:
    from watchfloor.sites.register import SiteRegister

__all__ = [
    "HIGH_RISK_KINDS",
    "SiteIndex",
    "Triage",
    "load_site_index",
    "minhash_signature",
    "similarity",
    "site_index_from_register",
    "triage",
]

log = logging.getLogger(__name__)

#: Site kinds whose closeness raises a report's priority.
HIGH_RISK_KINDS = frozenset({"place_of_worship", "crowded_place", "nte_zone"})

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
    lon: FloatArray
    lat: FloatArray

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


def site_index_from_register(register: SiteRegister) -> SiteIndex:
    """Return the :data:`HIGH_RISK_KINDS` sites of a site register as a :class:`SiteIndex`."""
    keep = [i for i, kind in enumerate(register.kind) if kind in HIGH_RISK_KINDS]
    return SiteIndex(
        site_id=[register.site_id[i] for i in keep],
        name=[register.name[i] or register.category[i] for i in keep],
        kind=[register.kind[i] for i in keep],
        lon=np.asarray(register.lon, dtype=np.float64)[keep],
        lat=np.asarray(register.lat, dtype=np.float64)[keep],
    )


def load_site_index(settings: Settings, region: str | None) -> SiteIndex:
    """Return the high-risk sites of ``region`` (empty when none is set or built)."""
    if not region:
        return SiteIndex.empty()
    from watchfloor.services.regions import open_region  # noqa: PLC0415 (scipy, pyarrow: seconds)

    try:
        loaded = open_region(region, settings)
    except NotFoundError:
        log.warning("report region %s is not built; priorities ignore site closeness", region)
        return SiteIndex.empty()
    index = site_index_from_register(loaded.sites)
    log.info("report triage uses %d high-risk sites of %s", len(index.site_id), region)
    return index


@dataclass(frozen=True)
class Triage:
    """Queue and priority (1 = most urgent, 5 = least) of a report, with the reasons."""

    queue: ReportQueue
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
        queue = ReportQueue.HATE_CRIME
    elif data.kind == "prevent_concern":
        queue = ReportQueue.PREVENT
    elif data.kind == "past_incident":
        queue = ReportQueue.CT if weight >= 2 else ReportQueue.NEIGHBOURHOOD
    else:
        queue = ReportQueue.CT
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
