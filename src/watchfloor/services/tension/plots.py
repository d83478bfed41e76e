"""PNG plots of a tension report: a time series per alerted area and a map of levels.

The only tension module that imports matplotlib; callers import it only when
plots are asked for (``watchfloor tension scan --plots``).
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from watchfloor.services.tension.stored import TensionReport
from watchfloor.types import FloatArray

__all__ = ["plot_report"]

log = logging.getLogger(__name__)


def plot_report(report: TensionReport, out_dir: str | Path, *, max_areas: int = 12) -> list[Path]:
    """Return the PNGs written: a time series per alerted area and one map of levels.

    Areas are taken alert by alert (strongest first, centre of a cluster first),
    at most ``max_areas`` of them; the map shows every area.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    idx = {c: i for i, c in enumerate(report.area_codes)}
    starts = _mpl_days(np.array(report.period_starts(), dtype="datetime64[D]"))
    alerted = list(dict.fromkeys(c for a in report.alerts for c in a.area_codes))
    if len(alerted) > max_areas:
        log.info("plotting %d of %d alerted areas", max_areas, len(alerted))
        alerted = alerted[:max_areas]
    for code in alerted:
        i = idx[code]
        fig = Figure(figsize=(8, 3))
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.plot(starts, report.counts[i], lw=1, label="incidents")
        if np.isfinite(report.expected[i]).any():
            ax.plot(starts, report.expected[i], lw=1, ls="--", label="expected")
        for a in report.alerts:
            if code in a.area_codes:
                ax.axvspan(
                    float(_mpl_days(np.datetime64(a.start, "D"))),
                    float(_mpl_days(np.datetime64(a.end, "D")) + 1),
                    color="red",
                    alpha=0.2,
                )
        ax.set_title(f"{report.area_names[i]} ({code}): level {report.levels[code][0]}")
        ax.xaxis_date()
        ax.set_ylabel(f"incidents per {report.resolution}")
        ax.legend(loc="upper left")
        fig.autofmt_xdate()
        path = out / f"tension-{_safe(code)}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        written.append(path)
    fig = Figure(figsize=(7, 7))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    lv = np.array([report.levels[c][0] for c in report.area_codes])
    sc = ax.scatter(report.area_lon, report.area_lat, c=lv, cmap="YlOrRd", vmin=1, vmax=5, s=12)
    fig.colorbar(sc, ax=ax, label="tension level")
    ax.set_title(f"{report.region}: tension levels to {report.end.isoformat()}")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect(1 / math.cos(math.radians(float(np.mean(report.area_lat)))))
    path = out / "tension-map.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    written.append(path)
    return written


def _mpl_days(d: npt.ArrayLike) -> FloatArray:
    """Matplotlib date numbers (days since 1970-01-01) of datetime64[D] values."""
    return (np.asarray(d, dtype="datetime64[D]") - np.datetime64("1970-01-01", "D")).astype(float)


def _safe(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", code)
