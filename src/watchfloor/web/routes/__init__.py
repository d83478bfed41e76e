"""Routers: ``public`` pages and ``api`` (the public), ``staff`` pages and ``staff_api``,
``ops`` (the operations room) and ``arv`` (armed response).

A route parses, calls one service and returns a schema or a page; roles are
declared on the route. Routes import services, :mod:`watchfloor.web.deps` and the
foundation, never :mod:`watchfloor.storage.models` or SQLAlchemy, and run no SQL.
"""
