"""Routers of the public pages, the public API and the staff side."""
