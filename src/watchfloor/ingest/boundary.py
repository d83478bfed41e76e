"""Area boundaries from GeoJSON files (a force area to clip a region to)."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from watchfloor.errors import IngestError

__all__ = ["read_boundary"]

log = logging.getLogger(__name__)


def read_boundary(path: Path) -> Any:
    """Return the union of the polygons in a GeoJSON file as one shapely geometry (WGS84).

    Accepts a FeatureCollection, a Feature or a bare geometry; ``.gz`` files
    are decompressed.

    Raises
    ------
    IngestError
        When the file is missing, is not GeoJSON or holds no polygon.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"boundary file {path} does not exist; give a GeoJSON polygon file"
        raise IngestError(msg)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        doc = json.loads(raw)
        if doc.get("type") == "FeatureCollection":
            geoms = [shape(f["geometry"]) for f in doc["features"] if f.get("geometry")]
        elif doc.get("type") == "Feature":
            geoms = [shape(doc["geometry"])]
        else:
            geoms = [shape(doc)]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        msg = f"boundary file {path.name} is not GeoJSON ({exc}); give a GeoJSON polygon file"
        raise IngestError(msg) from None
    polygons = [g for g in geoms if g.geom_type in {"Polygon", "MultiPolygon"} and not g.is_empty]
    if not polygons:
        msg = f"boundary file {path.name} holds no polygon; give a GeoJSON Polygon or MultiPolygon"
        raise IngestError(msg)
    boundary = shapely.make_valid(shapely.union_all(polygons))
    shapely.prepare(boundary)
    log.info("read boundary %s: %d polygons", path.name, len(polygons))
    return boundary
