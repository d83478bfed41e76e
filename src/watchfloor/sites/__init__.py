"""watchfloor.sites."""
