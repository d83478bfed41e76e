"""A hand-built register of five sites in Oakham, Rutland, for posture tests."""

from __future__ import annotations

import pytest

from watchfloor.sites.register import SiteRegister


@pytest.fixture
def hand_register() -> SiteRegister:
    """A mosque, a church, a synagogue, a pub zone and a stadium, about 1 km apart."""
    return SiteRegister.from_columns(
        {
            "site_id": ["n1", "n2", "n3", "z1", "w5"],
            "kind": [
                "place_of_worship",
                "place_of_worship",
                "place_of_worship",
                "nte_zone",
                "crowded_place",
            ],
            "category": [
                "place_of_worship",
                "place_of_worship",
                "place_of_worship",
                "nte_zone",
                "stadium",
            ],
            "name": [
                "Oakham Mosque",
                "All Saints Church",
                "Oakham Synagogue",
                "Oakham pubs",
                "Rutland Stadium",
            ],
            "religion": ["muslim", "christian", "jewish", "", ""],
            "lon": [-0.7280, -0.7325, -0.7200, -0.7270, -0.7050],
            "lat": [52.6700, 52.6710, 52.6690, 52.6705, 52.6600],
        }
    )
