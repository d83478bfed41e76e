"""watchfloor.patrol."""
