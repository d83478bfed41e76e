"""Community tension: scan statistics, control charts, baselines, alerts and levels.

Pure numerical code over arrays: no files, database, settings or clock. It may
import only the foundation (:mod:`watchfloor.errors`, :mod:`watchfloor.types`).
``scan`` holds the public space-time scans (their numba kernels in the private
``_kernels`` and ``_retrospective``), ``baseline`` and ``charts`` the per-area
models and control charts, ``alerts`` the alerts, reasons and levels, and
``detect`` the detectors behind one signature and the registry a stored scan
runs (:data:`~watchfloor.tension.detect.DETECTORS`).
"""

from watchfloor.tension.alerts import (
    Alert,
    LiaisonNote,
    TensionLevel,
    reason_sentence,
    tension_levels_from_alerts,
)
from watchfloor.tension.baseline import event_window, farrington, fit_daily_baseline
from watchfloor.tension.charts import cusum, ears
from watchfloor.tension.scan import (
    ScanCluster,
    ScanResult,
    chord_distance_km,
    poisson_scan,
    space_time_permutation_scan,
)

__all__ = [
    "Alert",
    "LiaisonNote",
    "ScanCluster",
    "ScanResult",
    "TensionLevel",
    "chord_distance_km",
    "cusum",
    "ears",
    "event_window",
    "farrington",
    "fit_daily_baseline",
    "poisson_scan",
    "reason_sentence",
    "space_time_permutation_scan",
    "tension_levels_from_alerts",
]
