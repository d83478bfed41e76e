"""The web edge: the FastAPI app, its dependencies and security, the pages and APIs.

``app`` builds everything from one ``Settings`` (:func:`~watchfloor.web.app.create_app`;
nothing at import time); ``deps`` hands sessions, the staff member and role checks
to routes; ``security`` holds cookies, CSRF, rate limits and headers;
``reporting`` the reporting service's state; ``templating`` the Jinja2 pages;
``routes/`` one router per audience. It may import services, storage (for the
database and keys only), settings and the foundation; routes call services and
never SQLAlchemy.
"""
