"""watchfloor.posture."""
