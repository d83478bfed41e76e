"""The alerts of a tension report as GeoJSON, with the areas' stored boundaries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from watchfloor.services.tension.store import alert_to_json, database
from watchfloor.services.tension.stored import TensionReport
from watchfloor.settings import Settings
from watchfloor.storage.tension_models import TensionAreaRow

__all__ = ["alerts_geojson"]


def alerts_geojson(settings: Settings, report: TensionReport) -> dict[str, Any]:
    """Return the alerted areas as a GeoJSON FeatureCollection (one feature per area and alert)."""
    db = database(settings)
    try:
        with db.session() as session:
            rows = session.scalars(
                select(TensionAreaRow).where(TensionAreaRow.region == report.region)
            ).all()
            geom = {r.code: r.geometry for r in rows}
    finally:
        db.dispose()
    features = []
    for n, a in enumerate(report.alerts, start=1):
        for code, name in zip(a.area_codes, a.area_names, strict=True):
            features.append(
                {
                    "type": "Feature",
                    "geometry": geom.get(code),
                    "properties": {
                        "alert": n,
                        "code": code,
                        "name": name,
                        "level": report.levels.get(code, (1, ""))[0],
                        **{
                            k: v
                            for k, v in alert_to_json(a).items()
                            if k not in {"area_codes", "area_names"}
                        },
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}
