"""watchfloor.storage."""
