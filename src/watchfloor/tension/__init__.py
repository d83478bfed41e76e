"""watchfloor.tension."""
