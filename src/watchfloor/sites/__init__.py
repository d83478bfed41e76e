"""The register of sites at risk: places of worship, crowded places, town centres, venues.

:class:`~watchfloor.sites.register.SiteRegister` holds the sites as columns (kind,
name, religion, position, snapped road node). It may import the foundation and
:mod:`watchfloor.roads` (to snap sites to the graph), nothing above them.
"""
