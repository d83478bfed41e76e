"""Tension monitoring use-cases, one module per job.

* :mod:`~watchfloor.services.tension.files`: :func:`scan_files`, the scan of a
  cases CSV alone. It imports only :mod:`watchfloor.tension` and the
  foundation: never the database, the web or matplotlib.
* :mod:`~watchfloor.services.tension.ingest`: :func:`ingest_file` (incident
  CSVs into a region's store); :mod:`~watchfloor.services.tension.notes`:
  :func:`add_note` (community liaison notes).
* :mod:`~watchfloor.services.tension.stored`: :func:`run_scan` (load -> count
  -> detect over :data:`watchfloor.tension.detect.DETECTORS` -> levels ->
  store) and :func:`event_window_report`.
* :mod:`~watchfloor.services.tension.levels`: :func:`tension_levels` for
  posture; :mod:`~watchfloor.services.tension.outputs`:
  :func:`alerts_geojson`; :mod:`~watchfloor.services.tension.plots`:
  :func:`plot_report` (the only one that imports matplotlib).
* :mod:`~watchfloor.services.tension.store`: the database helpers they share.

These modules may import storage, ingest, the tension solvers and the
foundation; never the web or the CLI. The names below are loaded from their
module on first use (PEP 562), so importing the file-mode scan does not load
the database or the plotting stack; type checkers and import-linter see the
plain imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watchfloor.services.tension.files import scan_files
    from watchfloor.services.tension.ingest import ingest_file
    from watchfloor.services.tension.levels import tension_levels
    from watchfloor.services.tension.notes import NOTE_DAYS, NOTE_INDICATORS, add_note
    from watchfloor.services.tension.outputs import alerts_geojson
    from watchfloor.services.tension.plots import plot_report
    from watchfloor.services.tension.stored import TensionReport, event_window_report, run_scan

__all__ = [
    "NOTE_DAYS",
    "NOTE_INDICATORS",
    "TensionReport",
    "add_note",
    "alerts_geojson",
    "event_window_report",
    "ingest_file",
    "plot_report",
    "run_scan",
    "scan_files",
    "tension_levels",
]

_MODULE_OF = {
    "NOTE_DAYS": "notes",
    "NOTE_INDICATORS": "notes",
    "TensionReport": "stored",
    "add_note": "notes",
    "alerts_geojson": "outputs",
    "event_window_report": "stored",
    "ingest_file": "ingest",
    "plot_report": "plots",
    "run_scan": "stored",
    "scan_files": "files",
    "tension_levels": "levels",
}


def __getattr__(name: str) -> Any:
    """Return a public name of the package, importing its module on first use."""
    module = _MODULE_OF.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    # a lazy re-export (the names are listed above and imported plainly for type
    # checkers): importing one job must not load the others' dependencies
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
