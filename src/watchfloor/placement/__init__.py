"""watchfloor.placement."""
