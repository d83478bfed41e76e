"""The ``watchfloor`` command line: thin commands that parse, call one service and print.

Results go to stdout (pure JSON with ``--json``), logs to stderr; a
:class:`~watchfloor.errors.WatchfloorError` becomes one line on stderr and exit
code 2. Commands may import services, settings and the foundation (and the web
app, to serve it); services never import the CLI.
"""
