"""The public surface, the exception tree, settings and coordinates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

import watchfloor
from watchfloor import errors
from watchfloor.geo import bng_to_lonlat, haversine_m, lonlat_to_bng, parse_lonlat
from watchfloor.settings import load_settings


def test_public_surface_is_pinned() -> None:
    assert sorted(watchfloor.__all__) == sorted(
        [
            "ConfigurationError",
            "InfeasibleError",
            "IngestError",
            "InvalidInputError",
            "NotFoundError",
            "PermissionDeniedError",
            "WatchfloorError",
            "__version__",
        ]
    )


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.InvalidInputError, 422),
        (errors.IngestError, 422),
        (errors.NotFoundError, 404),
        (errors.PermissionDeniedError, 403),
        (errors.InfeasibleError, 422),
        (errors.ConfigurationError, 500),
        (errors.FieldError, 422),
        (errors.AuthenticationRequiredError, 401),
        (errors.CsrfError, 403),
        (errors.ConflictError, 409),
        (errors.IdempotencyConflictError, 409),
        (errors.TooManyRequestsError, 429),
        (errors.StoreUnavailableError, 503),
        (errors.RequestTooLargeError, 413),
    ],
)
def test_every_error_is_a_watchfloor_error_with_a_status(
    exc: type[errors.WatchfloorError], status: int
) -> None:
    assert issubclass(exc, errors.WatchfloorError)
    assert exc.http_status == status


def test_bng_round_trip_and_known_point() -> None:
    # Oakham (Rutland) church spire, roughly: lon -0.7297, lat 52.6705 -> BNG ~ (486,000, 308,700)
    x, y = lonlat_to_bng(-0.7297, 52.6705)
    assert 485_000 < float(x) < 487_000
    assert 308_000 < float(y) < 310_000
    lon, lat = bng_to_lonlat(x, y)
    assert float(lon) == pytest.approx(-0.7297, abs=1e-7)
    assert float(lat) == pytest.approx(52.6705, abs=1e-7)


def test_bng_distance_matches_the_ellipsoid_within_four_hundredths_of_a_percent() -> None:
    lon = np.array([-0.80, -0.45])
    lat = np.array([52.55, 52.75])
    x, y = lonlat_to_bng(lon, lat)
    grid = float(np.hypot(x[1] - x[0], y[1] - y[0]))
    ground = Geod(ellps="WGS84").inv(lon[0], lat[0], lon[1], lat[1])[2]
    assert grid == pytest.approx(ground, rel=4e-4)
    # the sphere is a coarser model: within half a percent
    assert float(haversine_m(lon[0], lat[0], lon[1], lat[1])) == pytest.approx(ground, rel=5e-3)


def test_parse_lonlat_accepts_two_numbers() -> None:
    assert parse_lonlat(" -0.72, 52.66 ") == (-0.72, 52.66)


@pytest.mark.parametrize("text", ["52.66", "a,b", "-0.72,95", "nan,1", "1,2,3"])
def test_parse_lonlat_rejects_with_a_message(text: str) -> None:
    with pytest.raises(errors.InvalidInputError, match=r"LON,LAT|longitude"):
        parse_lonlat(text, what="--from")


def test_settings_read_the_environment(home: Path) -> None:
    settings = load_settings()
    assert settings.home == home
    assert settings.regions_dir == home / "regions"
    assert settings.resolved_database_url.startswith("sqlite:///")


def test_bad_setting_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHFLOOR_DEMO", "maybe-not")
    with pytest.raises(errors.ConfigurationError, match="WATCHFLOOR_DEMO"):
        load_settings()


def test_every_exception_class_of_watchfloor_lives_in_errors() -> None:
    import ast  # noqa: PLC0415 (only this test reads the sources)

    src = Path(errors.__file__).resolve().parent
    elsewhere = []
    for path in src.rglob("*.py"):
        if path.name == "errors.py" and path.parent == src:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and (
                node.name.endswith("Error") or node.name.endswith("Exception")
            ):
                elsewhere.append(f"{path.relative_to(src)}:{node.name}")
    assert elsewhere == []


def test_the_vocabulary_is_one_enum_each_comparing_equal_to_its_strings() -> None:
    from watchfloor.types import ReportQueue, ReportStatus, Role, ThreatLevel  # noqa: PLC0415 (tested here only)

    assert Role("supervisor") == "supervisor"
    assert [t.value for t in ThreatLevel] == [
        "low",
        "moderate",
        "substantial",
        "severe",
        "critical",
    ]
    assert ReportQueue.CT.label == "Counter-terrorism"
    assert next(iter(ReportStatus)) == "new"
    assert Role.ADMIN.label == "administrator"


def test_nested_options_keep_their_flat_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHFLOOR_RETENTION_DAYS", "30")
    monkeypatch.setenv("WATCHFLOOR_RATE_LIMIT_PER_MINUTE", "7")
    settings = load_settings()
    assert settings.reporting.retention_days == 30
    assert settings.web.rate_limit_per_minute == 7


def test_highs_prints_its_banner_on_stderr_never_on_stdout() -> None:
    import subprocess  # noqa: PLC0415 (this test only)
    import sys  # noqa: PLC0415 (this test only)

    code = (
        "from watchfloor.highs import quiet_highs\n"
        "quiet_highs(); quiet_highs()\n"
        "print('{\"ok\": true}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout == '{"ok": true}\n'  # nothing but the JSON
    assert "HiGHS" in done.stderr  # the banner is still there for a person to read
