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
foundation; never the web or the CLI. The package re-exports nothing: callers
import the job they need from its module (``from
watchfloor.services.tension.stored import run_scan``), so importing the file-mode
scan never loads the database or the plotting stack.
"""
