"""Contraction hierarchy and bucket-based many-to-many travel times.

Model (Geisberger et al., "Contraction Hierarchies: Faster and Simpler
Hierarchical Routing in Road Networks", WEA 2008): nodes are contracted one
by one in order of importance; contracting ``v`` removes it and adds a
shortcut ``u -> w`` of weight ``w(u, v) + w(v, w)`` for every pair of live
neighbours whose shortest path runs through ``v`` (checked by a bounded
"witness" Dijkstra that avoids ``v``; when the witness search gives up, the
shortcut is added, which is always safe). Importance is the edge difference
(shortcuts added minus edges removed) plus the number of contracted
neighbours plus the hierarchy depth, re-estimated lazily when a node reaches
the top of the queue (and, optionally, for the neighbours of each contracted
node). The edges of contracted nodes are unlinked from their neighbours' lists.

Queries use only upward edges: the distance ``s -> t`` is the minimum of
``d_up(s, x) + d_down(x, t)`` over the nodes ``x`` met by the forward search
from ``s`` in the upward graph and the backward search from ``t`` in the
reverse upward graph. For a matrix (Knopp et al., "Computing Many-to-Many
Shortest Paths Using Highway Hierarchies", ALENEX 2007) each target's
backward search leaves ``(target, d)`` in a bucket at every node it settles,
and each source's forward search scans the buckets of the nodes it settles.
Both searches use stall-on-demand. One-to-all rows use PHAST (Delling et
al. 2011): an upward search, then one sweep over the nodes in decreasing
rank relaxing their incoming downward edges.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt

from watchfloor.errors import InvalidInputError
from watchfloor.traveltime._dijkstra import heap_pop, heap_push, jit, pjit

__all__ = ["ContractionHierarchy", "graph_fingerprint"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]

_FORMAT = 1


def graph_fingerprint(indptr: IntArray, indices: Int32Array, weights: FloatArray) -> str:
    """Return a SHA-1 hex digest of a CSR graph and its weights."""
    h = hashlib.sha1(usedforsecurity=False)
    for a in (
        np.ascontiguousarray(indptr, dtype=np.int64),
        np.ascontiguousarray(indices, dtype=np.int32),
        np.ascontiguousarray(weights, dtype=np.float64),
    ):
        h.update(a.tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- build


@jit
def _witness(  # noqa: PLR0917 (numba kernels take positional arrays)
    u: int,
    skip: int,
    max_d: float,
    limit: int,
    e_head: Int32Array,
    e_w: FloatArray,
    out_first: Int32Array,
    out_next: Int32Array,
    contracted: npt.NDArray[np.bool_],
    wdist: FloatArray,
    touched: Int32Array,
    hkeys: FloatArray,
    hvals: Int32Array,
    tmark: Int32Array,
    tstamp: int,
    n_tgt: int,
) -> int:
    """Bounded Dijkstra from ``u`` avoiding ``skip``; fill ``wdist``; return the touched count.

    Stops once the ``n_tgt`` nodes with ``tmark == tstamp`` are settled.
    """
    found = 0
    n_touched = 1
    touched[0] = u
    wdist[u] = 0.0
    size = heap_push(hkeys, hvals, 0, 0.0, u)
    settled = 0
    cap_h = hkeys.shape[0]
    cap_t = touched.shape[0]
    while size > 0:
        d = hkeys[0]
        x = hvals[0]
        size = heap_pop(hkeys, hvals, size)
        if d > wdist[x]:
            continue
        if d > max_d:
            break
        settled += 1
        if settled > limit:
            break
        if tmark[x] == tstamp:
            found += 1
            if found >= n_tgt:
                break
        e = out_first[x]
        while e != -1:
            y = e_head[e]
            if y != skip and not contracted[y]:
                nd = d + e_w[e]
                if nd < wdist[y] and nd <= max_d:
                    if wdist[y] == np.inf:
                        if n_touched >= cap_t:
                            return n_touched
                        touched[n_touched] = y
                        n_touched += 1
                    wdist[y] = nd
                    if size >= cap_h:
                        return n_touched
                    size = heap_push(hkeys, hvals, size, nd, y)
            e = out_next[e]
    return n_touched


@jit
def _process(  # noqa: PLR0917 (numba kernels take positional arrays)
    v: int,
    simulate: bool,
    limit: int,
    n_edges: int,
    e_tail: Int32Array,
    e_head: Int32Array,
    e_w: FloatArray,
    out_first: Int32Array,
    out_next: Int32Array,
    in_first: Int32Array,
    in_next: Int32Array,
    contracted: npt.NDArray[np.bool_],
    wdist: FloatArray,
    touched: Int32Array,
    hkeys: FloatArray,
    hvals: Int32Array,
    result: IntArray,
    tmark: Int32Array,
) -> int:
    """Count (``simulate``) or add the shortcuts needed to contract ``v``.

    Returns the new edge count, or -1 when the edge arrays are full;
    ``result[0]`` gets the number of shortcuts, ``result[1]`` the number of
    live edges at ``v``.
    """
    cap = e_head.shape[0]
    shortcuts = 0
    live = 0
    e_out = out_first[v]
    while e_out != -1:
        x = e_head[e_out]
        if not contracted[x] and x != v:
            live += 1
        e_out = out_next[e_out]
    e_in = in_first[v]
    while e_in != -1:
        u = e_tail[e_in]
        if contracted[u] or u == v:
            e_in = in_next[e_in]
            continue
        live += 1
        w1 = e_w[e_in]
        max_d = -1.0
        # A fresh stamp marks this search's targets (result[2] counts stamps).
        result[2] += 1
        tstamp = result[2]
        n_tgt = 0
        e_out = out_first[v]
        while e_out != -1:
            x = e_head[e_out]
            if not contracted[x] and x != v and x != u:  # noqa: PLR1714 (numba)
                cand = w1 + e_w[e_out]
                max_d = max(max_d, cand)
                if tmark[x] != tstamp:
                    tmark[x] = tstamp
                    n_tgt += 1
            e_out = out_next[e_out]
        if max_d >= 0.0:
            n_touched = _witness(
                u, v, max_d, limit, e_head, e_w, out_first, out_next, contracted,
                wdist, touched, hkeys, hvals, tmark, tstamp, n_tgt,
            )  # fmt: skip
            e_out = out_first[v]
            while e_out != -1:
                x = e_head[e_out]
                if not contracted[x] and x != v and x != u:  # noqa: PLR1714 (numba)
                    cand = w1 + e_w[e_out]
                    if wdist[x] > cand:
                        shortcuts += 1
                        if not simulate:
                            # Update an existing edge u -> x, else append a new one.
                            e = out_first[u]
                            found = False
                            while e != -1:
                                if e_head[e] == x:
                                    found = True
                                    e_w[e] = min(e_w[e], cand)
                                    break
                                e = out_next[e]
                            if not found:
                                if n_edges >= cap:
                                    for i in range(n_touched):
                                        wdist[touched[i]] = np.inf
                                    return -1
                                e_tail[n_edges] = u
                                e_head[n_edges] = x
                                e_w[n_edges] = cand
                                out_next[n_edges] = out_first[u]
                                out_first[u] = n_edges
                                in_next[n_edges] = in_first[x]
                                in_first[x] = n_edges
                                n_edges += 1
                e_out = out_next[e_out]
            for i in range(n_touched):
                wdist[touched[i]] = np.inf
        e_in = in_next[e_in]
    result[0] = shortcuts
    result[1] = live
    return n_edges


@jit
def _contract_all(  # noqa: PLR0917 (numba kernels take positional arrays)
    n: int,
    tails: Int32Array,
    heads: Int32Array,
    weights: FloatArray,
    cap: int,
    sim_limit: int,
    limit: int,
    update_neighbours: bool,
) -> tuple[int, Int32Array, Int32Array, Int32Array, FloatArray]:
    """Contract every node; return ``(n_edges or -1, rank, tails, heads, weights)``."""
    m = tails.shape[0]
    e_tail = np.empty(cap, dtype=np.int32)
    e_head = np.empty(cap, dtype=np.int32)
    e_w = np.empty(cap, dtype=np.float64)
    out_first = np.full(n, -1, dtype=np.int32)
    in_first = np.full(n, -1, dtype=np.int32)
    out_next = np.empty(cap, dtype=np.int32)
    in_next = np.empty(cap, dtype=np.int32)
    for e in range(m):
        e_tail[e] = tails[e]
        e_head[e] = heads[e]
        e_w[e] = weights[e]
        out_next[e] = out_first[tails[e]]
        out_first[tails[e]] = e
        in_next[e] = in_first[heads[e]]
        in_first[heads[e]] = e
    n_edges = m
    contracted = np.zeros(n, dtype=np.bool_)
    rank = np.full(n, -1, dtype=np.int32)
    deleted = np.zeros(n, dtype=np.int32)
    level = np.zeros(n, dtype=np.int32)
    wdist = np.full(n, np.inf)
    touched = np.empty(max(1024, 8 * limit), dtype=np.int32)
    wkeys = np.empty(max(4096, 64 * limit), dtype=np.float64)
    wvals = np.empty(max(4096, 64 * limit), dtype=np.int32)
    result = np.zeros(3, dtype=np.int64)
    tmark = np.zeros(n, dtype=np.int32)
    prio = np.empty(n, dtype=np.float64)
    cap_p = n + 2 * cap + 16
    pkeys = np.empty(cap_p, dtype=np.float64)
    pvals = np.empty(cap_p, dtype=np.int32)
    stamp = np.full(n, -1, dtype=np.int32)
    size = 0
    for v in range(n):
        _process(
            v, True, sim_limit, n_edges, e_tail, e_head, e_w, out_first, out_next,
            in_first, in_next, contracted, wdist, touched, wkeys, wvals, result, tmark,
        )  # fmt: skip
        prio[v] = 2.0 * (result[0] - result[1]) + deleted[v] + level[v]
        size = heap_push(pkeys, pvals, size, prio[v], v)
    order = 0
    while size > 0:
        p = pkeys[0]
        v = pvals[0]
        size = heap_pop(pkeys, pvals, size)
        if contracted[v] or p != prio[v]:
            continue
        _process(
            v, True, sim_limit, n_edges, e_tail, e_head, e_w, out_first, out_next,
            in_first, in_next, contracted, wdist, touched, wkeys, wvals, result, tmark,
        )  # fmt: skip
        newp = 2.0 * (result[0] - result[1]) + deleted[v] + level[v]
        if size > 0 and newp > pkeys[0]:
            prio[v] = newp
            size = heap_push(pkeys, pvals, size, newp, v)
            continue
        n_edges = _process(
            v, False, limit, n_edges, e_tail, e_head, e_w, out_first, out_next,
            in_first, in_next, contracted, wdist, touched, wkeys, wvals, result, tmark,
        )  # fmt: skip
        if n_edges < 0:
            return -1, rank, e_tail, e_head, e_w
        contracted[v] = True
        rank[v] = order
        order += 1
        # Unlink v's edges from its neighbours' lists so later searches skip them.
        e = out_first[v]
        while e != -1:
            x = e_head[e]
            prev = -1
            f = in_first[x]
            while f != -1:
                if f == e:
                    if prev == -1:
                        in_first[x] = in_next[f]
                    else:
                        in_next[prev] = in_next[f]
                    break
                prev = f
                f = in_next[f]
            e = out_next[e]
        e = in_first[v]
        while e != -1:
            x = e_tail[e]
            prev = -1
            f = out_first[x]
            while f != -1:
                if f == e:
                    if prev == -1:
                        out_first[x] = out_next[f]
                    else:
                        out_next[prev] = out_next[f]
                    break
                prev = f
                f = out_next[f]
            e = in_next[e]
        # Neighbours: one more contracted neighbour, maybe deeper; refresh their priority.
        for side in range(2):
            e = out_first[v] if side == 0 else in_first[v]
            while e != -1:
                x = e_head[e] if side == 0 else e_tail[e]
                if not contracted[x] and stamp[x] != v:
                    stamp[x] = v
                    deleted[x] += 1
                    level[x] = max(level[x], level[v] + 1)
                    if update_neighbours:
                        _process(
                            x, True, sim_limit, n_edges, e_tail, e_head, e_w, out_first,
                            out_next, in_first, in_next, contracted, wdist, touched, wkeys,
                            wvals, result, tmark,
                        )  # fmt: skip
                        prio[x] = 2.0 * (result[0] - result[1]) + deleted[x] + level[x]
                        if size < cap_p:
                            size = heap_push(pkeys, pvals, size, prio[x], x)
                e = out_next[e] if side == 0 else in_next[e]
    return n_edges, rank, e_tail, e_head, e_w


# ----------------------------------------------------------------------------- query


@jit
def _upward_search(  # noqa: PLR0917 (numba kernels take positional arrays)
    start: int,
    ptr: IntArray,
    idx: Int32Array,
    w: FloatArray,
    stall_ptr: IntArray,
    stall_idx: Int32Array,
    stall_w: FloatArray,
    cutoff_s: float,
    dist: FloatArray,
    touched: Int32Array,
    hkeys: FloatArray,
    hvals: Int32Array,
    out_nodes: Int32Array,
    out_d: FloatArray,
) -> tuple[int, int]:
    """Search the upward graph from ``start`` with stall-on-demand.

    Writes the settled, unstalled nodes and their distances to ``out_nodes``
    / ``out_d``; returns ``(n_found, n_touched)``; the caller resets ``dist``
    at ``touched[:n_touched]``.
    """
    n_touched = 1
    touched[0] = start
    dist[start] = 0.0
    size = heap_push(hkeys, hvals, 0, 0.0, start)
    n_found = 0
    while size > 0:
        d = hkeys[0]
        x = hvals[0]
        size = heap_pop(hkeys, hvals, size)
        if d > dist[x]:
            continue
        if d > cutoff_s:
            break
        stalled = False
        for e in range(stall_ptr[x], stall_ptr[x + 1]):
            if dist[stall_idx[e]] + stall_w[e] < d:
                stalled = True
                break
        if stalled:
            continue
        out_nodes[n_found] = x
        out_d[n_found] = d
        n_found += 1
        for e in range(ptr[x], ptr[x + 1]):
            y = idx[e]
            nd = d + w[e]
            if nd < dist[y]:
                if dist[y] == np.inf:
                    touched[n_touched] = y
                    n_touched += 1
                dist[y] = nd
                size = heap_push(hkeys, hvals, size, nd, y)
    return n_found, n_touched


@pjit
def _many_to_many(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_idx: Int32Array,
    up_w: FloatArray,
    dn_ptr: IntArray,
    dn_idx: Int32Array,
    dn_w: FloatArray,
    sources: IntArray,
    targets: IntArray,
    cutoff_s: float,
    n_chunks: int,
) -> FloatArray:
    """Return the source x target matrix by bucket-based many-to-many CH queries.

    Sources are split into ``n_chunks`` groups searched in parallel.
    """
    n = up_ptr.shape[0] - 1
    m_up = up_idx.shape[0] + dn_idx.shape[0] + 1
    k = sources.shape[0]
    nt = targets.shape[0]
    # Backward searches, one per target, leave (target, d) in buckets.
    dist = np.full(n, np.inf)
    touched = np.empty(n, dtype=np.int32)
    hkeys = np.empty(m_up, dtype=np.float64)
    hvals = np.empty(m_up, dtype=np.int32)
    found_nodes = np.empty(n, dtype=np.int32)
    found_d = np.empty(n, dtype=np.float64)
    cap = max(1024, nt * 128)
    b_node = np.empty(cap, dtype=np.int32)
    b_tgt = np.empty(cap, dtype=np.int32)
    b_d = np.empty(cap, dtype=np.float64)
    count = 0
    for j in range(nt):
        n_found, n_touched = _upward_search(
            targets[j], dn_ptr, dn_idx, dn_w, up_ptr, up_idx, up_w, cutoff_s, dist,
            touched, hkeys, hvals, found_nodes, found_d,
        )  # fmt: skip
        for i in range(n_touched):
            dist[touched[i]] = np.inf
        if count + n_found > cap:
            new_cap = max(2 * cap, count + n_found)
            nb_node = np.empty(new_cap, dtype=np.int32)
            nb_tgt = np.empty(new_cap, dtype=np.int32)
            nb_d = np.empty(new_cap, dtype=np.float64)
            nb_node[:count] = b_node[:count]
            nb_tgt[:count] = b_tgt[:count]
            nb_d[:count] = b_d[:count]
            b_node, b_tgt, b_d, cap = nb_node, nb_tgt, nb_d, new_cap
        for i in range(n_found):
            b_node[count] = found_nodes[i]
            b_tgt[count] = j
            b_d[count] = found_d[i]
            count += 1
    # Buckets as CSR by node.
    bptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(count):
        bptr[b_node[i] + 1] += 1
    for v in range(n):
        bptr[v + 1] += bptr[v]
    fill = bptr[:-1].copy()
    bucket_t = np.empty(count, dtype=np.int32)
    bucket_d = np.empty(count, dtype=np.float64)
    for i in range(count):
        pos = fill[b_node[i]]
        bucket_t[pos] = b_tgt[i]
        bucket_d[pos] = b_d[i]
        fill[b_node[i]] += 1
    # Forward searches, in parallel chunks of sources.
    out = np.full((k, nt), np.inf)
    for c in numba.prange(n_chunks):
        cdist = np.full(n, np.inf)
        ctouched = np.empty(n, dtype=np.int32)
        ckeys = np.empty(m_up, dtype=np.float64)
        cvals = np.empty(m_up, dtype=np.int32)
        cnodes = np.empty(n, dtype=np.int32)
        cd = np.empty(n, dtype=np.float64)
        for i in range(c, k, n_chunks):
            n_found, n_touched = _upward_search(
                sources[i], up_ptr, up_idx, up_w, dn_ptr, dn_idx, dn_w, cutoff_s, cdist,
                ctouched, ckeys, cvals, cnodes, cd,
            )  # fmt: skip
            for q in range(n_touched):
                cdist[ctouched[q]] = np.inf
            for f in range(n_found):
                x = cnodes[f]
                dx = cd[f]
                for b in range(bptr[x], bptr[x + 1]):
                    val = dx + bucket_d[b]
                    j = bucket_t[b]
                    out[i, j] = min(out[i, j], val)
            for j in range(nt):
                if out[i, j] > cutoff_s:
                    out[i, j] = np.inf
    return out


@jit
def _phast_row(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_idx: Int32Array,
    up_w: FloatArray,
    sweep_ptr: IntArray,
    sweep_idx: Int32Array,
    sweep_w: FloatArray,
    order_desc: Int32Array,
    pos: Int32Array,
    source: int,
    cutoff_s: float,
    dist: FloatArray,
) -> None:
    """Fill ``dist`` with travel times from ``source`` to every node (PHAST).

    Delling et al., "PHAST: Hardware-Accelerated Shortest Path Trees" (2011): an
    upward search from the source, then one sweep over all nodes from the most
    to the least important, relaxing each node's incoming downward edges. The
    sweep works on nodes renumbered by that order (``pos``), so it reads and
    writes memory almost in sequence; ``sweep_*`` is the downward CSR in
    those numbers.
    """
    n = up_ptr.shape[0] - 1
    m_up = up_idx.shape[0] + 1
    work = np.full(n, np.inf)
    hkeys = np.empty(m_up, dtype=np.float64)
    hvals = np.empty(m_up, dtype=np.int32)
    work[pos[source]] = 0.0
    size = heap_push(hkeys, hvals, 0, 0.0, source)
    while size > 0:
        d = hkeys[0]
        x = hvals[0]
        size = heap_pop(hkeys, hvals, size)
        if d > work[pos[x]]:
            continue
        for e in range(up_ptr[x], up_ptr[x + 1]):
            y = up_idx[e]
            nd = d + up_w[e]
            if nd < work[pos[y]]:
                work[pos[y]] = nd
                size = heap_push(hkeys, hvals, size, nd, y)
    for j in range(n):
        best = work[j]
        for e in range(sweep_ptr[j], sweep_ptr[j + 1]):
            best = min(best, work[sweep_idx[e]] + sweep_w[e])
        work[j] = best
    for j in range(n):
        value = work[j]
        dist[order_desc[j]] = value if value <= cutoff_s else np.inf


@pjit
def _phast(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_idx: Int32Array,
    up_w: FloatArray,
    sweep_ptr: IntArray,
    sweep_idx: Int32Array,
    sweep_w: FloatArray,
    order_desc: Int32Array,
    pos: Int32Array,
    sources: IntArray,
    cutoff_s: float,
) -> FloatArray:
    """Return one PHAST row of travel times per source, rows in parallel."""
    n = up_ptr.shape[0] - 1
    out = np.empty((sources.shape[0], n), dtype=np.float64)
    for i in numba.prange(sources.shape[0]):
        _phast_row(
            up_ptr, up_idx, up_w, sweep_ptr, sweep_idx, sweep_w, order_desc, pos,
            sources[i], cutoff_s, out[i],
        )  # fmt: skip
    return out


# ----------------------------------------------------------------------------- class


def _csr(
    n: int, tails: IntArray, heads: IntArray, w: FloatArray
) -> tuple[IntArray, Int32Array, FloatArray]:
    order = np.argsort(tails, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=n), out=ptr[1:])
    return ptr, heads[order].astype(np.int32), np.ascontiguousarray(w[order], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class ContractionHierarchy:
    """A contraction hierarchy of one graph and one set of weights.

    Attributes
    ----------
    rank : int32[n]
        Contraction order (higher = more important).
    up_indptr, up_indices, up_weights
        CSR of the upward edges ``u -> x`` (``rank[x] > rank[u]``).
    down_indptr, down_indices, down_weights
        CSR, per node ``x``, of the edges ``y -> x`` with ``rank[y] > rank[x]``
        (stored as ``x: y``), searched by backward queries.
    fingerprint : str
        :func:`graph_fingerprint` of the graph it was built for.
    n_shortcuts : int
        Shortcut edges added.
    build_s : float
        Seconds spent building.
    """

    rank: Int32Array
    up_indptr: IntArray
    up_indices: Int32Array
    up_weights: FloatArray
    down_indptr: IntArray
    down_indices: Int32Array
    down_weights: FloatArray
    fingerprint: str
    n_shortcuts: int
    build_s: float

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.rank.shape[0])

    @classmethod
    def build(
        cls,
        indptr: IntArray,
        indices: Int32Array,
        weights: FloatArray,
        *,
        witness_limit: int = 500,
        priority_witness_limit: int = 50,
        update_neighbours: bool = False,
    ) -> ContractionHierarchy:
        """Return the contraction hierarchy of a CSR graph.

        Building takes about 5 s for 50,000 nodes and under a minute for
        200,000 on one core; save it with :meth:`save` to build once.

        Parameters
        ----------
        indptr, indices, weights
            The graph (row = tail) and its non-negative edge weights.
        witness_limit, priority_witness_limit
            Nodes a witness search may settle when contracting / when
            estimating priorities. Smaller is faster to build but adds more
            shortcuts; answers stay exact either way.
        update_neighbours
            Re-estimate the neighbours' priorities after each contraction
            (a slightly smaller hierarchy, built about 3x slower) instead of
            only when a node reaches the top of the queue.
        """
        start = time.perf_counter()
        n = int(indptr.shape[0] - 1)
        tails = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        heads = indices.astype(np.int64)
        w = np.asarray(weights, dtype=np.float64)
        # Self-loops never shorten a path; of parallel edges keep the lightest.
        keep = tails != heads
        tails, heads, w = tails[keep], heads[keep], w[keep]
        order = np.lexsort((w, heads, tails))
        tails, heads, w = tails[order], heads[order], w[order]
        first = np.ones(tails.shape[0], dtype=bool)
        first[1:] = (tails[1:] != tails[:-1]) | (heads[1:] != heads[:-1])
        tails, heads, w = tails[first], heads[first], w[first]
        cap = 3 * tails.shape[0] + n + 1024
        while True:
            n_total, rank, e_tail, e_head, e_w = _contract_all(
                n,
                tails.astype(np.int32),
                heads.astype(np.int32),
                np.ascontiguousarray(w),
                cap,
                priority_witness_limit,
                witness_limit,
                update_neighbours,
            )
            if n_total >= 0:
                break
            cap *= 2
        et = e_tail[:n_total].astype(np.int64)
        eh = e_head[:n_total].astype(np.int64)
        e_w = e_w[:n_total]
        up = rank[eh] > rank[et]
        up_ptr, up_idx, up_w = _csr(n, et[up], eh[up], e_w[up])
        dn_ptr, dn_idx, dn_w = _csr(n, eh[~up], et[~up], e_w[~up])
        build_s = time.perf_counter() - start
        ch = cls(
            rank=rank,
            up_indptr=up_ptr,
            up_indices=up_idx,
            up_weights=up_w,
            down_indptr=dn_ptr,
            down_indices=dn_idx,
            down_weights=dn_w,
            fingerprint=graph_fingerprint(indptr, indices, weights),
            n_shortcuts=int(n_total - tails.shape[0]),
            build_s=build_s,
        )
        log.info(
            "contraction hierarchy: %d nodes, %d edges + %d shortcuts in %.1f s",
            n,
            tails.shape[0],
            ch.n_shortcuts,
            build_s,
        )
        return ch

    def matches(self, indptr: IntArray, indices: Int32Array, weights: FloatArray) -> bool:
        """Return whether this hierarchy was built for exactly this graph and weights."""
        return (
            self.n_nodes == indptr.shape[0] - 1
            and graph_fingerprint(indptr, indices, weights) == self.fingerprint
        )

    def many_to_many(
        self, sources: IntArray, targets: IntArray, *, cutoff_s: float = math.inf
    ) -> FloatArray:
        """Return the travel-time matrix (rows = sources); ``inf`` above ``cutoff_s``.

        ``sources`` and ``targets`` must be valid node ids (checked by the caller).
        """
        out: FloatArray = _many_to_many(
            self.up_indptr,
            self.up_indices,
            self.up_weights,
            self.down_indptr,
            self.down_indices,
            self.down_weights,
            np.ascontiguousarray(sources, dtype=np.int64),
            np.ascontiguousarray(targets, dtype=np.int64),
            float(cutoff_s),
            max(1, min(int(sources.shape[0]), 4 * numba.get_num_threads())),
        )
        return out

    def _sweep(self) -> tuple[Int32Array, Int32Array, IntArray, Int32Array, FloatArray]:
        """Return (order_desc, pos, sweep CSR) for PHAST, computed once."""
        cached: tuple[Int32Array, Int32Array, IntArray, Int32Array, FloatArray] | None = (
            self.__dict__.get("_sweep_arrays")
        )
        if cached is None:
            n = self.n_nodes
            order_desc = np.argsort(-self.rank.astype(np.int64), kind="stable").astype(np.int32)
            pos = np.empty(n, dtype=np.int32)
            pos[order_desc] = np.arange(n, dtype=np.int32)
            counts = np.diff(self.down_indptr)[order_desc]
            ptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(counts, out=ptr[1:])
            # Entry k of new row j comes from old position starts[j] + (k - ptr[j]).
            starts = self.down_indptr[order_desc]
            take = np.repeat(starts - ptr[:-1], counts) + np.arange(ptr[-1], dtype=np.int64)
            idx = pos[self.down_indices[take]].astype(np.int32)
            w = np.ascontiguousarray(self.down_weights[take])
            cached = (order_desc, pos, ptr, idx, w)
            object.__setattr__(self, "_sweep_arrays", cached)
        return cached

    def many_to_all(self, sources: IntArray, *, cutoff_s: float = math.inf) -> FloatArray:
        """Return travel times from each source to every node (rows = sources) by PHAST.

        Times above ``cutoff_s`` are ``inf``; sources must be valid node ids.
        """
        order_desc, pos, ptr, idx, w = self._sweep()
        src = np.ascontiguousarray(sources, dtype=np.int64)
        if src.shape[0] == 1:  # one row: skip the thread pool
            row = np.empty((1, self.n_nodes), dtype=np.float64)
            _phast_row(
                self.up_indptr, self.up_indices, self.up_weights, ptr, idx, w, order_desc, pos,
                int(src[0]), float(cutoff_s), row[0],
            )  # fmt: skip
            return row
        out: FloatArray = _phast(
            self.up_indptr, self.up_indices, self.up_weights, ptr, idx, w, order_desc, pos,
            src, float(cutoff_s),
        )  # fmt: skip
        return out

    def save(self, path: Path) -> None:
        """Write the hierarchy to ``path`` (``.npz``), atomically."""
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(
                fh,
                format=np.int64(_FORMAT),
                rank=self.rank,
                up_indptr=self.up_indptr,
                up_indices=self.up_indices,
                up_weights=self.up_weights,
                down_indptr=self.down_indptr,
                down_indices=self.down_indices,
                down_weights=self.down_weights,
                fingerprint=np.str_(self.fingerprint),
                n_shortcuts=np.int64(self.n_shortcuts),
                build_s=np.float64(self.build_s),
            )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ContractionHierarchy:
        """Return a hierarchy written by :meth:`save`.

        Raises
        ------
        InvalidInputError
            When the file is not a hierarchy of this format.
        """
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["format"]) != _FORMAT:
                    msg = f"{path} holds a hierarchy of another format; delete it to rebuild"
                    raise InvalidInputError(msg)
                return cls(
                    rank=z["rank"],
                    up_indptr=z["up_indptr"],
                    up_indices=z["up_indices"],
                    up_weights=z["up_weights"],
                    down_indptr=z["down_indptr"],
                    down_indices=z["down_indices"],
                    down_weights=z["down_weights"],
                    fingerprint=str(z["fingerprint"]),
                    n_shortcuts=int(z["n_shortcuts"]),
                    build_s=float(z["build_s"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            msg = f"cannot read contraction hierarchy {path}: {exc}; delete it to rebuild"
            raise InvalidInputError(msg) from None
