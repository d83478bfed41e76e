"""A small thread-safe LRU cache with a size bound, for the process-wide caches of services.

Every process-wide cache in ``services`` (regions, engines, travel-time
matrices, road legs, reach bands, ARV placements) is one of these, so none
grows without bound in a long-running server. Imports only the standard
library.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A least-recently-used mapping of at most ``maxsize`` entries, safe across threads.

    :meth:`get_or_build` builds a missing value once even when several
    threads ask for the same key at the same time (the others wait for it);
    different keys build in parallel. A build that raises caches nothing.

    Parameters
    ----------
    maxsize
        Most entries kept; the least recently used is dropped first.
    name
        What the cache holds (for messages and logs).

    Examples
    --------
    >>> cache: BoundedCache[str, int] = BoundedCache(2)
    >>> cache.get_or_build("a", lambda: 1)
    1
    >>> cache.put("b", 2); cache.put("c", 3)
    >>> cache.get("a") is None, len(cache)
    (True, 2)
    """

    def __init__(self, maxsize: int, *, name: str = "cache") -> None:
        if isinstance(maxsize, bool) or maxsize < 1:
            msg = f"{name}: maxsize must be at least 1, got {maxsize}"
            raise ValueError(msg)
        self.maxsize = maxsize
        self.name = name
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[K, threading.Lock] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: K) -> V | None:
        """Return the value of ``key`` (marking it recently used), or None when absent."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key``, dropping least recently used entries over the bound."""
        with self._lock:
            self._put(key, value)

    def _put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def pop(self, key: K) -> V | None:
        """Return and remove the value of ``key``, or None when absent."""
        with self._lock:
            return self._items.pop(key, None)

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            self._items.clear()

    def get_or_build(
        self,
        key: K,
        build: Callable[[], V],
        *,
        valid: Callable[[V], bool] | None = None,
    ) -> V:
        """Return the value of ``key``, built with ``build()`` and stored when absent.

        Parameters
        ----------
        key
            Cache key.
        build
            Makes the value; called at most once at a time per key.
        valid
            When given, a cached value for which it returns False is rebuilt
            (e.g. a region whose files changed on disk).
        """
        hit = self._fresh(key, valid)
        if hit is not None:
            return hit
        with self._lock:
            gate = self._building.setdefault(key, threading.Lock())
        try:
            with gate:
                hit = self._fresh(key, valid)
                if hit is not None:
                    return hit
                value = build()
                with self._lock:
                    self._put(key, value)
                return value
        finally:
            with self._lock:
                if self._building.get(key) is gate:
                    del self._building[key]

    def _fresh(self, key: K, valid: Callable[[V], bool] | None) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            value = self._items[key]
            if valid is not None and not valid(value):
                return None
            self._items.move_to_end(key)
            return value
