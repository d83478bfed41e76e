"""The one picture of a region: bounded caches, region views read once, one engine per graph."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from watchfloor.errors import InvalidInputError, NotFoundError
from watchfloor.services.cache import BoundedCache
from watchfloor.services.regions import (
    RegionCache,
    graph_engine,
    pick_region,
    region_engine,
    region_view,
    travel_matrix,
)
from watchfloor.settings import Settings
from watchfloor.storage.regions import Region


class CountingLoader:
    """A region loader that hands out one region and counts how often it was asked."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self.paths: list[Path] = []

    def __call__(self, path: Path) -> Region:
        self.paths.append(path)
        return self.region


def _fake_region_folder(home: Path, name: str) -> Path:
    folder = home / "regions" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "region.json").write_text("{}", encoding="utf-8")
    return folder


def test_bounded_cache_drops_the_least_recently_used() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)
    with pytest.raises(ValueError, match="at least 1"):
        BoundedCache(0)


def test_bounded_cache_builds_once_across_threads() -> None:
    cache: BoundedCache[str, object] = BoundedCache(4)
    calls: list[int] = []

    def build() -> object:
        calls.append(1)
        time.sleep(0.05)
        return object()

    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(cache.get_or_build("k", build)))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(g is got[0] for g in got)


def test_bounded_cache_failed_build_caches_nothing_and_invalid_rebuilds() -> None:
    cache: BoundedCache[str, int] = BoundedCache(4)

    def fail() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.get_or_build("k", fail)
    assert "k" not in cache
    assert cache.get_or_build("k", lambda: 1) == 1
    assert cache.get_or_build("k", lambda: 2) == 1
    assert cache.get_or_build("k", lambda: 2, valid=lambda v: v == 2) == 2


def test_region_view_reads_once_and_again_after_a_rebuild(
    rutland_region: Region, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path)
    folder = _fake_region_folder(tmp_path, "shire")
    loader = CountingLoader(rutland_region)
    regions = RegionCache(loader=loader)
    first = region_view(settings, "shire", regions=regions)
    second = region_view(settings, "shire", regions=regions)
    assert first is second
    assert loader.paths == [folder]
    assert first.region is rutland_region
    w, s, e, n = first.bbox
    assert first.bounds == [[w, s], [e, n]]
    assert w < e
    assert s < n
    # A rebuild renames a new region.json into place: the view is read again.
    (folder / "new.json").write_text("{ }", encoding="utf-8")
    (folder / "new.json").replace(folder / "region.json")
    third = region_view(settings, "shire", regions=regions)
    assert third is not first
    assert len(loader.paths) == 2


def test_region_view_of_a_missing_region_names_the_build_command(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    regions = RegionCache(loader=lambda path: pytest.fail("nothing to read"))
    with pytest.raises(NotFoundError, match="watchfloor region fetch nowhere"):
        region_view(settings, "nowhere", regions=regions)
    with pytest.raises(InvalidInputError, match="not allowed"):
        region_view(settings, "../etc", regions=regions)


def test_region_cache_is_bounded(rutland_region: Region, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    loader = CountingLoader(rutland_region)
    regions = RegionCache(loader=loader, max_regions=2)
    for name in ("a", "b", "c"):
        _fake_region_folder(tmp_path, name)
        regions.view(settings, name)
    regions.view(settings, "a")  # dropped when "c" came in
    assert [p.name for p in loader.paths] == ["a", "b", "c", "a"]


def test_pick_region(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with pytest.raises(NotFoundError, match="no region is built"):
        pick_region(settings, None)
    _fake_region_folder(tmp_path, "zeta")
    _fake_region_folder(tmp_path, "alpha")
    assert pick_region(settings, None) == "alpha"
    assert pick_region(settings, "zeta") == "zeta"
    with pytest.raises(NotFoundError, match=r"built: alpha, zeta"):
        pick_region(settings, "beta")


def test_one_engine_per_graph_and_profile(rutland_region: Region, tmp_path: Path) -> None:
    graph = rutland_region.graph
    normal = graph_engine(graph, profile="normal")
    assert graph_engine(graph, profile="normal") is normal
    blue = graph_engine(graph, profile="blue_light")
    assert blue is not normal
    settings = Settings(home=tmp_path)
    _fake_region_folder(tmp_path, "shire")
    view = region_view(settings, "shire", regions=RegionCache(loader=lambda p: rutland_region))
    assert region_engine(view) is blue
    assert region_engine(view, profile="normal") is normal
    with pytest.raises(InvalidInputError, match="profile 'bike' is unknown"):
        graph_engine(graph, profile="bike")


def test_travel_matrix_is_cached_and_handed_out_as_a_copy(rutland_region: Region) -> None:
    graph = rutland_region.graph
    nodes = np.array([0, 5, 0, 9], dtype=np.int64)
    first = travel_matrix(graph, nodes)
    expected = graph_engine(graph).matrix(nodes, nodes)
    np.testing.assert_allclose(first, expected)
    first[:] = -1.0
    again = travel_matrix(graph, nodes)
    np.testing.assert_allclose(again, expected)
