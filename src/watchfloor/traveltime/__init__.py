"""watchfloor.traveltime."""
