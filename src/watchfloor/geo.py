"""Coordinates: WGS84 lon/lat in, British National Grid metres for distance maths.

All arrays are ``lon, lat`` order (x before y). Distances in metres are
computed in EPSG:27700 (British National Grid), which is within 0.04 % of true
ground distance across Great Britain.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from pyproj import Transformer

from watchfloor.errors import InvalidInputError

__all__ = [
    "EARTH_RADIUS_M",
    "bng_to_lonlat",
    "haversine_m",
    "lonlat_to_bng",
    "parse_lonlat",
]

EARTH_RADIUS_M = 6_371_008.8

FloatArray = npt.NDArray[np.float64]


@lru_cache(maxsize=2)
def _transformer(forward: bool) -> Any:
    src, dst = ("EPSG:4326", "EPSG:27700") if forward else ("EPSG:27700", "EPSG:4326")
    return Transformer.from_crs(src, dst, always_xy=True)


def lonlat_to_bng(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return British National Grid easting and northing (metres) for WGS84 points.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (scalars or arrays of one shape).
    """
    x, y = _transformer(True).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def bng_to_lonlat(x_m: npt.ArrayLike, y_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return WGS84 longitudes and latitudes for British National Grid metres."""
    lon, lat = _transformer(False).transform(np.asarray(x_m, float), np.asarray(y_m, float))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def haversine_m(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> FloatArray:
    """Return great-circle distances in metres between pairs of lon/lat points."""
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, float) - np.asarray(lon1, float))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a)), dtype=np.float64)


def parse_lonlat(text: str, *, what: str = "point") -> tuple[float, float]:
    """Return ``(lon, lat)`` parsed from text such as ``"-0.72,52.66"``.

    Raises
    ------
    InvalidInputError
        When the text is not two numbers or they are outside WGS84 ranges.
    """
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2:
        msg = f"{what} {text!r} is not LON,LAT; write it as two numbers, e.g. -0.72,52.66"
        raise InvalidInputError(msg)
    try:
        lon, lat = float(parts[0]), float(parts[1])
    except ValueError:
        msg = f"{what} {text!r} is not LON,LAT; write it as two numbers, e.g. -0.72,52.66"
        raise InvalidInputError(msg) from None
    if not (math.isfinite(lon) and math.isfinite(lat)) or not (
        -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0
    ):
        msg = (
            f"{what} {text!r} is outside longitude -180..180 / latitude -90..90; "
            "give longitude first, then latitude"
        )
        raise InvalidInputError(msg)
    return lon, lat
