"""Adapters for source files: OSM extracts, data.police.uk CSVs, boundaries, census demand.

The only package that imports osmium. Each reader validates its file and raises
:class:`~watchfloor.errors.IngestError` naming the file, row or field at fault. It
may import the foundation and the models (:mod:`watchfloor.roads`,
:mod:`watchfloor.sites`), never storage, services or the edges.
"""
