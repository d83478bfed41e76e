"""Areas for tension monitoring: LSOA/ward boundaries from GeoJSON, or H3 hexagons.

Points are assigned to areas with a shapely STRtree query over all points at
once; a point on a shared boundary goes to the first area found. Points outside
every area get index -1 and are counted by the caller.
"""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3
import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from watchfloor.errors import IngestError, InvalidInputError

__all__ = ["AreaSet", "areas_from_geojson", "assign_points", "h3_areas"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_CODE_FIELDS = ("LSOA11CD", "LSOA21CD", "WD13CD", "lad17cd", "LAD17CD", "code", "id")
_NAME_FIELDS = ("LSOA11NM", "LSOA21NM", "WD13NM", "lad17nm", "LAD17NM", "name")


@dataclass(frozen=True)
class AreaSet:
    """Areas with codes, names, geometries (WGS84) and representative points."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    geometries: tuple[BaseGeometry, ...]
    lon: FloatArray
    """Longitude of a point inside each area (centroid when inside)."""
    lat: FloatArray
    source: str

    def __len__(self) -> int:
        return len(self.codes)

    def to_geojson(self) -> dict[str, Any]:
        """Return the areas as a GeoJSON FeatureCollection (code and name properties)."""
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": c, "name": n},
                    "geometry": shapely.geometry.mapping(g),
                }
                for c, n, g in zip(self.codes, self.names, self.geometries, strict=True)
            ],
        }


def _read_json(path: Path) -> Any:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return json.load(fh)
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        msg = f"boundary file {path} does not exist"
        raise IngestError(msg) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        msg = f"boundary file {path} is not readable GeoJSON ({exc.__class__.__name__}: {exc})"
        raise IngestError(msg) from None


def _pick(props: dict[str, Any], wanted: str | None, candidates: tuple[str, ...]) -> str | None:
    if wanted is not None:
        return wanted if wanted in props else None
    for key in candidates:
        if key in props:
            return key
    return None


def areas_from_geojson(
    path: str | Path,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
) -> AreaSet:
    """Return the areas of a GeoJSON FeatureCollection of (Multi)Polygons.

    Parameters
    ----------
    path
        ``.geojson`` / ``.json`` file, optionally gzipped (``.gz``).
    code_field, name_field
        Property names of the area code and name; found automatically
        (LSOA11CD, WD13CD, lad17cd, code ...) when not given.

    Raises
    ------
    IngestError
        When the file is not a FeatureCollection, a feature is not a polygon,
        or the code property is missing.
    """
    p = Path(path)
    doc = _read_json(p)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        msg = f"{p.name} is not a GeoJSON FeatureCollection; give LSOA or ward boundaries"
        raise IngestError(msg)
    features = doc.get("features") or []
    if not features:
        msg = f"{p.name} has no features"
        raise IngestError(msg)
    props0 = features[0].get("properties") or {}
    code_key = _pick(props0, code_field, _CODE_FIELDS)
    if code_key is None:
        msg = (
            f"{p.name}: no area code property "
            f"(looked for {code_field or ', '.join(_CODE_FIELDS)}); "
            f"the first feature has {', '.join(props0) or 'no properties'}: pass --code-field"
        )
        raise IngestError(msg)
    name_key = _pick(props0, name_field, _NAME_FIELDS)
    codes: list[str] = []
    names: list[str] = []
    geoms: list[BaseGeometry] = []
    bad: list[str] = []
    for i, feat in enumerate(features):
        geom = feat.get("geometry") or {}
        gtype = geom.get("type")
        if gtype not in {"Polygon", "MultiPolygon"}:
            bad.append(f"feature {i} is {gtype or 'empty'}")
            continue
        props = feat.get("properties") or {}
        if props.get(code_key) in (None, ""):
            bad.append(f"feature {i} has no {code_key}")
            continue
        try:
            g = shape(geom)
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            bad.append(f"feature {i} has broken coordinates ({exc})")
            continue
        if not g.is_valid:
            g = g.buffer(0)
        codes.append(str(props[code_key]))
        names.append(str(props.get(name_key) or props[code_key]) if name_key else codes[-1])
        geoms.append(g)
    if bad:
        shown = "; ".join(bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        msg = f"{p.name}: {len(bad)} of {len(features)} features are not usable polygons: {shown}"
        raise IngestError(msg)
    if len(set(codes)) != len(codes):
        msg = f"{p.name}: area codes in {code_key} are not unique"
        raise IngestError(msg)
    garr = np.array(geoms, dtype=object)
    cent = shapely.centroid(garr)
    inside = shapely.contains(garr, cent)
    rep = np.where(inside, cent, shapely.point_on_surface(garr))
    lon = shapely.get_x(rep).astype(np.float64)
    lat = shapely.get_y(rep).astype(np.float64)
    log.info("read %d areas from %s (code %s)", len(codes), p.name, code_key)
    return AreaSet(
        codes=tuple(codes),
        names=tuple(names),
        geometries=tuple(geoms),
        lon=lon,
        lat=lat,
        source=p.name,
    )


def assign_points(areas: AreaSet, lon: npt.ArrayLike, lat: npt.ArrayLike) -> IntArray:
    """Return the area index of each point, -1 when it is outside every area.

    Parameters
    ----------
    areas
        Areas to assign to.
    lon, lat
        Point coordinates in degrees (NaN for missing: index -1).
    """
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    out = np.full(x.size, -1, dtype=np.int64)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return out
    pts = shapely.points(x[ok], y[ok])
    tree = shapely.STRtree(np.array(areas.geometries, dtype=object))
    pi, ai = tree.query(pts, predicate="intersects")
    # A point on a shared edge matches twice: keep the first area found.
    first = np.full(pts.size, -1, dtype=np.int64)
    order = np.lexsort((ai, pi))
    pi, ai = pi[order], ai[order]
    keep = np.r_[True, pi[1:] != pi[:-1]] if pi.size else np.zeros(0, dtype=bool)
    first[pi[keep]] = ai[keep]
    out[np.flatnonzero(ok)] = first
    return out


def h3_areas(lon: npt.ArrayLike, lat: npt.ArrayLike, *, resolution: int = 8) -> AreaSet:
    """Return H3 hexagons covering the given points (for forces without boundaries).

    Parameters
    ----------
    lon, lat
        Incident coordinates (degrees); NaNs are ignored.
    resolution
        H3 resolution (8: about 0.74 km² per cell; 7: about 5.2 km²).
    """
    if not 0 <= resolution <= 15:
        msg = f"H3 resolution {resolution} is outside 0..15"
        raise InvalidInputError(msg)
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    cells = sorted(
        {
            h3.latlng_to_cell(float(b), float(a), resolution)
            for a, b in zip(x[ok], y[ok], strict=True)
        }
    )
    geoms: list[BaseGeometry] = []
    clon = np.empty(len(cells))
    clat = np.empty(len(cells))
    for i, c in enumerate(cells):
        ring = [(lng, la) for la, lng in h3.cell_to_boundary(c)]
        geoms.append(shapely.Polygon(ring))
        la, lng = h3.cell_to_latlng(c)
        clon[i], clat[i] = lng, la
    log.info(
        "built %d H3 cells at resolution %d for %d points", len(cells), resolution, int(ok.sum())
    )
    return AreaSet(
        codes=tuple(cells),
        names=tuple(f"hex {c}" for c in cells),
        geometries=tuple(geoms),
        lon=clon,
        lat=clat,
        source=f"h3:{resolution}",
    )
