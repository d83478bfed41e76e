"""Region use-cases: build, fetch, open, list, and the one cached picture of a region.

A region is built once (about a second for a county extract) and stored by
:mod:`watchfloor.storage.regions`. :func:`open_region` reads it afresh (the
CLI's region commands); everything that plans on a region reads it through
the picture kept here, so a re-plan does not read it again:

- :func:`region_view` returns the region loaded once per region folder and
  reloaded when ``region.json`` changes (a rebuild); a :class:`RegionCache`
  holds the views and takes the loader, so a test can count the reads;
- :func:`region_engine` / :func:`graph_engine` return one travel-time engine
  per road graph and profile (``blue_light``, ``normal`` driving, ``foot``);
- :func:`travel_matrix` returns travel times between node lists, computed
  once per graph, profile and node list.

Every cache here is a :class:`~watchfloor.services.cache.BoundedCache`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import watchfloor
from watchfloor.errors import IngestError, InvalidInputError, NotFoundError
from watchfloor.ingest.boundary import read_boundary
from watchfloor.ingest.osm import OsmExtract, extract_from_osm
from watchfloor.roads.graph import RoadGraph
from watchfloor.roads.speeds import SPEED_PROFILE_VERSION, blue_light_travel_time_s
from watchfloor.services.cache import BoundedCache
from watchfloor.settings import DEFAULT_REGION, Settings
from watchfloor.sites.register import SiteRegister, snap_to_graph
from watchfloor.storage.regions import Region, list_region_dirs, read_region, write_region
from watchfloor.traveltime import TravelTimeEngine
from watchfloor.types import FloatArray, IntArray

__all__ = [
    "DEFAULT_EXTRACT",
    "ENGINE_PROFILES",
    "Progress",
    "RegionCache",
    "RegionLoader",
    "RegionView",
    "build_region",
    "built_regions",
    "ensure_default_region",
    "fetch_region",
    "graph_engine",
    "list_regions",
    "open_region",
    "pick_region",
    "region_engine",
    "region_summary",
    "region_view",
    "travel_matrix",
]

log = logging.getLogger(__name__)

#: ``progress(description, done, total)``; ``total`` is None when unknown.
Progress = Callable[[str, int, int | None], None]

#: The Rutland extract the demo builds when ``WATCHFLOOR_DATA_DIR`` holds it.
DEFAULT_EXTRACT = "rutland-2022-07-20.osm.pbf"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CHUNK = 1 << 16


def _check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        msg = (
            f"region name {name!r} is not allowed; use lower-case letters, digits, "
            "'-' and '_' (e.g. bedfordshire, west-midlands)"
        )
        raise InvalidInputError(msg)
    return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _region_meta(
    pbf: Path, extract: OsmExtract, sites: SiteRegister, *, boundary: Path | None
) -> dict[str, Any]:
    """Return the metadata of a region built from ``pbf`` (what ``region.json`` holds)."""
    graph = extract.graph
    bbox = [
        float(graph.lon.min()),
        float(graph.lat.min()),
        float(graph.lon.max()),
        float(graph.lat.max()),
    ]
    meta: dict[str, Any] = {
        "source_file": pbf.name,
        "source_sha256": _sha256(pbf),
        "source_bytes": pbf.stat().st_size,
        "osm_replication_timestamp": extract.header.get("replication_timestamp", ""),
        "header_bbox": extract.header.get("bbox"),
        "bbox": bbox,
        "boundary_file": boundary.name if boundary is not None else None,
        "nodes": graph.n_nodes,
        "edges": graph.n_edges,
        "road_length_km": round(float(graph.length_m.sum()) / 1000.0, 1),
        "scc_share": round(float(extract.stats["scc_share"]), 4),
        "sites": len(sites),
        "sites_by_kind": sites.counts_by_kind(),
        "speed_profile_version": SPEED_PROFILE_VERSION,
        "ingest_stats": extract.stats,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "watchfloor_version": watchfloor.__version__,
    }
    return meta


def build_region(
    pbf: Path,
    *,
    name: str,
    settings: Settings,
    boundary: Path | None = None,
    progress: Progress | None = None,
) -> Region:
    """Return the region built from an OSM extract and stored as ``settings.regions_dir/name``.

    An existing region of that name is replaced only when the build succeeds.

    Parameters
    ----------
    pbf
        The ``.osm.pbf`` extract.
    name
        Region name (lower-case letters, digits, ``-``, ``_``).
    settings
        Installation settings (where regions live).
    boundary
        Optional GeoJSON polygon file: roads and sites are clipped to it.
    progress
        Called with ``(stage, done, total)`` as the build advances.

    Raises
    ------
    IngestError
        For a missing, damaged or road-less extract, or a boundary that
        does not intersect it.
    InvalidInputError
        For a bad region name.
    """
    _check_name(name)
    pbf = Path(pbf)
    started = time.perf_counter()
    steps = 4

    def report(stage: str, done: int) -> None:
        if progress is not None:
            progress(stage, done, steps)

    report("reading boundary", 0)
    shape = read_boundary(boundary) if boundary is not None else None
    report("reading OpenStreetMap data", 1)
    extract = extract_from_osm(pbf, boundary=shape)
    report("snapping sites to roads", 2)
    sites = snap_to_graph(extract.sites, extract.graph)
    report("writing region", 3)
    meta = _region_meta(pbf, extract, sites, boundary=boundary)
    graph = extract.graph
    target = settings.regions_dir / name
    meta["build_seconds"] = round(time.perf_counter() - started, 3)
    write_region(target, graph=graph, sites=sites, meta=meta)
    report("done", 4)
    log.info(
        "built region %s from %s in %.2f s: %d nodes, %d sites",
        name,
        pbf.name,
        meta["build_seconds"],
        graph.n_nodes,
        len(sites),
    )
    return read_region(target)


def open_region(name: str, settings: Settings) -> Region:
    """Return the stored region ``name``.

    Raises
    ------
    NotFoundError
        When no region of that name has been built.
    """
    _check_name(name)
    path = settings.regions_dir / name
    if not (path / "region.json").is_file():
        raise NotFoundError(_not_built(name))
    return read_region(path)


def _not_built(name: str) -> str:
    return (
        f"region {name!r} is not built; run `watchfloor region build FILE.osm.pbf "
        f"--name {name}` or `watchfloor region fetch {name}`"
    )


def region_summary(meta: dict[str, Any]) -> dict[str, Any]:
    """Return the headline facts of a region's metadata (for listings)."""
    keys = (
        "name",
        "source_file",
        "osm_replication_timestamp",
        "nodes",
        "edges",
        "road_length_km",
        "scc_share",
        "sites",
        "sites_by_kind",
        "bbox",
        "build_seconds",
        "built_at",
    )
    return {k: meta.get(k) for k in keys}


def list_regions(settings: Settings) -> list[dict[str, Any]]:
    """Return a summary of every built region, sorted by name."""
    out = []
    for path in list_region_dirs(settings.regions_dir):
        try:
            meta = json.loads((path / "region.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("region folder %s has unreadable metadata; skipped", path)
            continue
        out.append(region_summary({**meta, "name": path.name}))
    return out


def _no_extract(url: str) -> str:
    return (
        f"no extract at {url}; check the name on download.geofabrik.de "
        "(e.g. bedfordshire, west-midlands, rutland)"
    )


def _download(client: httpx.Client, url: str, dest: Path, *, progress: Progress | None) -> str:
    """Stream ``url`` into ``dest``; return the MD5 hex digest of what was written."""
    md5 = hashlib.md5(usedforsecurity=False)
    with client.stream("GET", url) as response:
        if response.status_code == 404:
            raise NotFoundError(_no_extract(url))
        if response.status_code != 200:
            msg = f"download of {url} failed with HTTP {response.status_code}; try again later"
            raise IngestError(msg)
        total_text = response.headers.get("content-length")
        total = int(total_text) if total_text and total_text.isdigit() else None
        done = 0
        with dest.open("wb") as fh:
            for chunk in response.iter_bytes(_CHUNK):
                fh.write(chunk)
                md5.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(f"downloading {url.rsplit('/', 1)[-1]}", done, total)
    return md5.hexdigest()


def _file_md5(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            md5.update(chunk)
    return md5.hexdigest()


def fetch_region(
    name: str,
    settings: Settings,
    *,
    progress: Progress | None = None,
    timeout_s: float = 60.0,
) -> Region:
    """Return the region built from Geofabrik's ``{name}-latest.osm.pbf``, downloading it if needed.

    The extract is checked against the ``.md5`` file Geofabrik publishes next
    to it and cached under ``settings.cache_dir``; a cached file whose MD5
    still matches is not downloaded again.

    Raises
    ------
    NotFoundError
        When Geofabrik has no extract of that name.
    IngestError
        When the download fails or its MD5 does not match.
    """
    _check_name(name)
    base = settings.geofabrik_base_url.rstrip("/")
    url = f"{base}/{name}-latest.osm.pbf"
    cache = settings.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    dest = cache / f"{name}-latest.osm.pbf"
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=True) as client:
            md5_response = client.get(url + ".md5")
            if md5_response.status_code == 404:
                raise NotFoundError(_no_extract(url))
            if md5_response.status_code != 200:
                msg = (
                    f"download of {url}.md5 failed with HTTP {md5_response.status_code}; "
                    "try again later"
                )
                raise IngestError(msg)
            expected = (
                md5_response.text.strip().split()[0].lower() if md5_response.text.strip() else ""
            )
            if not re.fullmatch(r"[0-9a-f]{32}", expected):
                msg = (
                    f"{url}.md5 does not hold an MD5 checksum; check WATCHFLOOR_GEOFABRIK_BASE_URL"
                )
                raise IngestError(msg)
            if dest.is_file() and _file_md5(dest) == expected:
                log.info("using cached %s (MD5 matches)", dest)
            else:
                part = dest.with_name(dest.name + ".part")
                try:
                    got = _download(client, url, part, progress=progress)
                    if got != expected:
                        msg = (
                            f"downloaded {url} has MD5 {got}, Geofabrik publishes {expected}; "
                            "the download is damaged or the extract changed meanwhile: "
                            "run the fetch again"
                        )
                        raise IngestError(msg)
                    part.replace(dest)
                finally:
                    part.unlink(missing_ok=True)
                log.info("downloaded %s (%d bytes, MD5 ok)", url, dest.stat().st_size)
    except httpx.HTTPError as exc:
        msg = (
            f"could not download {url} ({exc}); check the network or WATCHFLOOR_GEOFABRIK_BASE_URL"
        )
        raise IngestError(msg) from None
    return build_region(dest, name=name, settings=settings, progress=progress)


def ensure_default_region(settings: Settings, *, progress: Progress | None = None) -> Region:
    """Return the default region (Rutland), building or fetching it the first time.

    It is built from ``settings.data_dir / DEFAULT_EXTRACT`` when that file
    exists, otherwise fetched from Geofabrik.
    """
    path = settings.regions_dir / DEFAULT_REGION
    if (path / "region.json").is_file():
        return read_region(path)
    if settings.data_dir is not None and (settings.data_dir / DEFAULT_EXTRACT).is_file():
        return build_region(
            settings.data_dir / DEFAULT_EXTRACT,
            name=DEFAULT_REGION,
            settings=settings,
            progress=progress,
        )
    return fetch_region(DEFAULT_REGION, settings, progress=progress)


# -- the one picture of a region ----------------------------------------------------------

#: ``loader(region_folder) -> Region``; :func:`watchfloor.storage.regions.read_region` by default.
RegionLoader = Callable[[Path], Region]

#: Travel-time profiles of :func:`graph_engine`: blue-light driving, ordinary driving, walking.
ENGINE_PROFILES: tuple[str, ...] = ("blue_light", "normal", "foot")

#: Regions kept loaded per :class:`RegionCache` (a room plans on one or two).
MAX_REGIONS = 4
#: Engines kept (three profiles of about three graphs).
MAX_ENGINES = 9
#: Travel-time matrices kept (a few per region: patrol sites and bases per mode).
MAX_MATRICES = 16


@dataclass(frozen=True, eq=False)
class RegionView:
    """A loaded region with what the room needs to draw and plan on it."""

    name: str
    region: Region
    bbox: tuple[float, float, float, float]
    mtime_ns: int

    @property
    def bounds(self) -> list[list[float]]:
        """Return ``[[west, south], [east, north]]`` for the map."""
        w, s, e, n = self.bbox
        return [[w, s], [e, n]]


def _file_stamp(path: Path) -> tuple[int, int, int]:
    """Return ``(mtime_ns, inode, size)`` of a file, ``(-1, -1, -1)`` when it is missing.

    The inode changes on every rebuild (the folder is renamed into place), so
    a rebuild within the file system's timestamp granularity is still seen.
    """
    try:
        st = path.stat()
    except OSError:
        return (-1, -1, -1)
    return (st.st_mtime_ns, st.st_ino, st.st_size)


class RegionCache:
    """Regions loaded once per region folder and reloaded when their ``region.json`` changes.

    Parameters
    ----------
    loader
        Reads a region folder; :func:`watchfloor.storage.regions.read_region`
        unless a test injects a counting one.
    max_regions
        Regions kept loaded (least recently used dropped first).
    """

    def __init__(self, *, loader: RegionLoader = read_region, max_regions: int = MAX_REGIONS):
        self.loader = loader
        self._views: BoundedCache[tuple[str, str], tuple[tuple[int, int, int], RegionView]]
        self._views = BoundedCache(max_regions, name="regions")

    def view(self, settings: Settings, name: str) -> RegionView:
        """Return the region ``name``, loaded once and reloaded when it is rebuilt.

        Raises
        ------
        NotFoundError
            When the region is not built.
        InvalidInputError
            For a bad region name.
        """
        _check_name(name)
        folder = settings.regions_dir / name
        stamp = _file_stamp(folder / "region.json")

        def load() -> tuple[tuple[int, int, int], RegionView]:
            if stamp[0] < 0:
                raise NotFoundError(_not_built(name))
            region = self.loader(folder)
            graph = region.graph
            bbox = (
                float(graph.lon.min()),
                float(graph.lat.min()),
                float(graph.lon.max()),
                float(graph.lat.max()),
            )
            view = RegionView(name=name, region=region, bbox=bbox, mtime_ns=stamp[0])
            log.info("loaded region %s: %d nodes, %d sites", name, graph.n_nodes, len(region.sites))
            return stamp, view

        key = (str(settings.regions_dir), name)
        _, view = self._views.get_or_build(key, load, valid=lambda hit: hit[0] == stamp)
        return view

    def clear(self) -> None:
        """Forget every loaded region."""
        self._views.clear()


#: The process's region picture (the web room, the CLI and the planning services share it).
_REGIONS = RegionCache()


def built_regions(settings: Settings) -> list[str]:
    """Return the names of the built regions, sorted."""
    root = settings.regions_dir
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "region.json").is_file())


def pick_region(settings: Settings, name: str | None) -> str:
    """Return ``name`` when that region is built, else the default or first built region.

    Raises
    ------
    NotFoundError
        When ``name`` is given and not built, or no region is built at all.
    """
    names = built_regions(settings)
    if name:
        if name not in names:
            have = ", ".join(names) if names else "none"
            msg = (
                f"region {name!r} is not built (built: {have}); run "
                f"`watchfloor region fetch {name}` or `watchfloor region build FILE --name {name}`"
            )
            raise NotFoundError(msg)
        return name
    if not names:
        msg = "no region is built; run `watchfloor demo` or `watchfloor region fetch NAME`"
        raise NotFoundError(msg)
    return DEFAULT_REGION if DEFAULT_REGION in names else names[0]


def region_view(settings: Settings, name: str, *, regions: RegionCache | None = None) -> RegionView:
    """Return the region ``name``, loaded once and reloaded when it is rebuilt.

    Parameters
    ----------
    settings
        Installation settings (where regions live).
    name
        Region name.
    regions
        The cache to read through; the process's own unless given.

    Raises
    ------
    NotFoundError
        When the region is not built.
    """
    return (regions or _REGIONS).view(settings, name)


_ENGINES: BoundedCache[tuple[int, str], tuple[RoadGraph, TravelTimeEngine]] = BoundedCache(
    MAX_ENGINES, name="engines"
)
_MATRICES: BoundedCache[tuple[int, str, bytes], tuple[RoadGraph, FloatArray]] = BoundedCache(
    MAX_MATRICES, name="travel-time matrices"
)


def _check_profile(profile: str) -> str:
    if profile not in ENGINE_PROFILES:
        msg = f"travel-time profile {profile!r} is unknown; use one of {', '.join(ENGINE_PROFILES)}"
        raise InvalidInputError(msg)
    return profile


def graph_engine(graph: RoadGraph, *, profile: str = "normal") -> TravelTimeEngine:
    """Return the travel-time engine of a road graph for a profile, built once per graph.

    Parameters
    ----------
    graph
        The road graph (a region's, as loaded by :func:`region_view`).
    profile
        ``"blue_light"`` (emergency driving), ``"normal"`` (ordinary driving)
        or ``"foot"`` (walking).

    Raises
    ------
    InvalidInputError
        For an unknown profile.
    """
    _check_profile(profile)

    def build() -> tuple[RoadGraph, TravelTimeEngine]:
        if profile == "foot":
            return graph, TravelTimeEngine.for_walking(graph)
        weights = blue_light_travel_time_s(graph) if profile == "blue_light" else None
        return graph, TravelTimeEngine(graph, weights=weights)

    # The entry holds the graph, so its id() cannot be reused while the entry lives.
    _, engine = _ENGINES.get_or_build((id(graph), profile), build)
    return engine


def region_engine(view: RegionView, *, profile: str = "blue_light") -> TravelTimeEngine:
    """Return the region's travel-time engine (``blue_light`` or ``normal`` driving), cached.

    Raises
    ------
    InvalidInputError
        For an unknown profile.
    """
    return graph_engine(view.region.graph, profile=profile)


def travel_matrix(graph: RoadGraph, nodes: IntArray, *, profile: str = "normal") -> FloatArray:
    """Return travel times (s) between ``nodes`` (rows origins), once per graph, profile and list.

    Repeated nodes are routed once. The caller gets its own copy.

    Raises
    ------
    InvalidInputError
        For an unknown profile.
    """
    _check_profile(profile)
    nodes = np.asarray(nodes, dtype=np.int64)

    def build() -> tuple[RoadGraph, FloatArray]:
        uniq, inverse = np.unique(nodes, return_inverse=True)
        small = graph_engine(graph, profile=profile).matrix(uniq, uniq)
        log.info(
            "travel-time matrix (%s): %d locations, %d distinct nodes",
            profile,
            nodes.size,
            uniq.size,
        )
        return graph, small[np.ix_(inverse, inverse)]

    _, mat = _MATRICES.get_or_build((id(graph), profile, nodes.tobytes()), build)
    return mat.copy()
