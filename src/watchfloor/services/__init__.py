"""watchfloor.services."""
