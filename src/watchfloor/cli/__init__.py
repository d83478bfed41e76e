"""The ``watchfloor`` command line: thin commands that call services."""
