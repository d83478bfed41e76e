"""Numba kernels of the customisable hierarchy (see :mod:`watchfloor.traveltime.cch`).

Arrays are in rank numbers: ``up_ptr`` / ``up_head`` list each node's higher
neighbours (sorted), ``fw`` / ``bw`` the upward / downward weight of each edge.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from watchfloor.traveltime._dijkstra import heap_pop, heap_push, jit
from watchfloor.types import BoolArray, FloatArray, IntArray

__all__ = [
    "basic_customise",
    "basic_customise_partial",
    "edge_id",
    "fill_in",
    "lower_index",
    "map_arcs",
    "patch_query_arcs",
    "perfect_customise",
    "perfect_customise_partial",
    "split_query_arcs",
]

Int32Array = npt.NDArray[np.int32]


@jit
def fill_in(n: int, low_ptr: IntArray, low_head: Int32Array) -> tuple[IntArray, Int32Array]:
    """Return the chordal supergraph ``(up_ptr, up_head)`` of rank-numbered undirected edges.

    ``low_head[low_ptr[v]:low_ptr[v + 1]]`` are the higher neighbours of ``v``
    in the input. Node ``v``'s final higher neighbours, minus the lowest (its
    parent in the elimination tree), are handed to that parent.
    """
    cap = max(1024, 4 * low_head.shape[0])
    out = np.empty(cap, dtype=np.int32)
    up_ptr = np.zeros(n + 1, dtype=np.int64)
    chunk_start = np.empty(n, dtype=np.int64)
    chunk_end = np.empty(n, dtype=np.int64)
    chunk_next = np.full(n, -1, dtype=np.int64)
    first_chunk = np.full(n, -1, dtype=np.int64)
    pos = 0
    for v in range(n):
        count = low_ptr[v + 1] - low_ptr[v]
        c = first_chunk[v]
        while c != -1:
            count += chunk_end[c] - chunk_start[c]
            c = chunk_next[c]
        tmp = np.empty(count, dtype=np.int32)
        k = 0
        for i in range(low_ptr[v], low_ptr[v + 1]):
            tmp[k] = low_head[i]
            k += 1
        c = first_chunk[v]
        while c != -1:
            for i in range(chunk_start[c], chunk_end[c]):
                tmp[k] = out[i]
                k += 1
            c = chunk_next[c]
        tmp.sort()
        if pos + count > cap:
            cap = max(2 * cap, pos + count)
            grown = np.empty(cap, dtype=np.int32)
            grown[:pos] = out[:pos]
            out = grown
        start = pos
        for i in range(count):
            if i == 0 or tmp[i] != tmp[i - 1]:
                out[pos] = tmp[i]
                pos += 1
        up_ptr[v + 1] = pos
        if pos - start > 1:
            parent = out[start]
            chunk_start[v] = start + 1
            chunk_end[v] = pos
            chunk_next[v] = first_chunk[parent]
            first_chunk[parent] = v
    return up_ptr, out[:pos].copy()


@jit
def edge_id(up_ptr: IntArray, up_head: Int32Array, a: int, b: int) -> int:
    """Return the id of edge ``{a, b}`` (``a`` lower), or -1 when there is none."""
    lo = up_ptr[a]
    hi = up_ptr[a + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if up_head[mid] < b:
            lo = mid + 1
        else:
            hi = mid
    if lo < up_ptr[a + 1] and up_head[lo] == b:
        return int(lo)
    return -1


@jit
def map_arcs(
    up_ptr: IntArray, up_head: Int32Array, rt: IntArray, rh: IntArray
) -> tuple[IntArray, BoolArray]:
    """Return each arc's edge id (-1 for a self-loop) and whether it runs upward."""
    m = rt.shape[0]
    edge = np.full(m, -1, dtype=np.int64)
    up = np.zeros(m, dtype=np.bool_)
    for i in range(m):
        a, b = rt[i], rh[i]
        if a == b:
            continue
        if a < b:
            edge[i] = edge_id(up_ptr, up_head, a, b)
            up[i] = True
        else:
            edge[i] = edge_id(up_ptr, up_head, b, a)
    return edge, up


@jit
def basic_customise(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_head: Int32Array,
    arc_edge: IntArray,
    arc_up: BoolArray,
    weights: FloatArray,
    fw: FloatArray,
    bw: FloatArray,
) -> None:
    """Fill ``fw`` / ``bw`` by basic customisation (arcs, then lower triangles bottom-up)."""
    fw[:] = np.inf
    bw[:] = np.inf
    for i in range(arc_edge.shape[0]):
        e = arc_edge[i]
        if e < 0:
            continue
        if arc_up[i]:
            fw[e] = min(fw[e], weights[i])
        else:
            bw[e] = min(bw[e], weights[i])
    n = up_ptr.shape[0] - 1
    for v in range(n):
        end = up_ptr[v + 1]
        for i in range(up_ptr[v], end):
            fi = fw[i]
            bi = bw[i]
            if fi == np.inf and bi == np.inf:
                continue
            k = up_ptr[up_head[i]]
            for j in range(i + 1, end):
                w = up_head[j]
                while up_head[k] != w:
                    k += 1
                fw[k] = min(fw[k], bi + fw[j])
                bw[k] = min(bw[k], bw[j] + fi)


@jit
def perfect_customise(
    up_ptr: IntArray, up_head: Int32Array, fw: FloatArray, bw: FloatArray
) -> None:
    """Lower ``fw`` / ``bw`` to true distances by perfect customisation (top-down)."""
    n = up_ptr.shape[0] - 1
    for v in range(n - 1, -1, -1):
        end = up_ptr[v + 1]
        for i in range(up_ptr[v], end):
            k = up_ptr[up_head[i]]
            for j in range(i + 1, end):
                w = up_head[j]
                while up_head[k] != w:
                    k += 1
                # Triangle v < u < w: edges i = {v, u}, j = {v, w}, k = {u, w}.
                fw[i] = min(fw[i], fw[j] + bw[k])
                bw[i] = min(bw[i], fw[k] + bw[j])
                fw[j] = min(fw[j], fw[i] + fw[k])
                bw[j] = min(bw[j], bw[k] + bw[i])


@jit
def perfect_customise_partial(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_head: Int32Array,
    fw: FloatArray,
    bw: FloatArray,
    pf: FloatArray,
    pb: FloatArray,
    basic_changed: BoolArray,
    redone: BoolArray,
) -> int:
    """Redo perfect customisation (``pf`` / ``pb``, previous values in) where it may change.

    Node ``v`` is redone when one of its own edges changed basic weight, or
    when a node above it in its clique (``U(v)``) had a perfect weight change:
    those are the only values ``v``'s triangles read. Marks the nodes redone
    in ``redone`` and returns how many.
    """
    n = up_ptr.shape[0] - 1
    moved = np.zeros(n, dtype=np.bool_)
    n_redone = 0
    for v in range(n - 1, -1, -1):
        start = up_ptr[v]
        end = up_ptr[v + 1]
        redo = basic_changed[v]
        if not redo:
            for i in range(start, end):
                if moved[up_head[i]]:
                    redo = True
                    break
        if not redo:
            continue
        n_redone += 1
        redone[v] = True
        old_f = pf[start:end].copy()
        old_b = pb[start:end].copy()
        pf[start:end] = fw[start:end]
        pb[start:end] = bw[start:end]
        for i in range(start, end):
            k = up_ptr[up_head[i]]
            for j in range(i + 1, end):
                w = up_head[j]
                while up_head[k] != w:
                    k += 1
                pf[i] = min(pf[i], pf[j] + pb[k])
                pb[i] = min(pb[i], pf[k] + pb[j])
                pf[j] = min(pf[j], pf[i] + pf[k])
                pb[j] = min(pb[j], pb[k] + pb[i])
        for i in range(start, end):
            if pf[i] != old_f[i - start] or pb[i] != old_b[i - start]:
                moved[v] = True
                break
    return n_redone


@jit
def basic_customise_partial(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_head: Int32Array,
    up_tail: Int32Array,
    dn_ptr: IntArray,
    dn_node: Int32Array,
    dn_edge: IntArray,
    edge_arc_ptr: IntArray,
    edge_arcs: IntArray,
    arc_up: BoolArray,
    weights: FloatArray,
    fw: FloatArray,
    bw: FloatArray,
    changed: IntArray,
    basic_changed: BoolArray,
) -> int:
    """Re-customise the edges of ``changed`` and every edge above them that moves; return how many.

    Edges are recomputed from their arcs and lower triangles in increasing
    order of lower end, so each lower triangle is final when it is read.
    ``basic_changed[a]`` is set for the lower end of every edge that moved.
    """
    m = up_head.shape[0]
    queued = np.zeros(m, dtype=np.bool_)
    hkeys = np.empty(m + 1, dtype=np.float64)
    hvals = np.empty(m + 1, dtype=np.int32)
    size = 0
    for c in range(changed.shape[0]):
        e = changed[c]
        if not queued[e]:
            queued[e] = True
            size = heap_push(hkeys, hvals, size, float(up_tail[e]), e)
    n_done = 0
    while size > 0:
        e = hvals[0]
        size = heap_pop(hkeys, hvals, size)
        n_done += 1
        a = up_tail[e]
        b = up_head[e]
        nf = np.inf
        nb = np.inf
        for q in range(edge_arc_ptr[e], edge_arc_ptr[e + 1]):
            arc = edge_arcs[q]
            if arc_up[arc]:
                nf = min(nf, weights[arc])
            else:
                nb = min(nb, weights[arc])
        p, q = dn_ptr[a], dn_ptr[b]
        while p < dn_ptr[a + 1] and q < dn_ptr[b + 1]:
            va = dn_node[p]
            vb = dn_node[q]
            if va < vb:
                p += 1
            elif vb < va:
                q += 1
            else:
                ea = dn_edge[p]
                eb = dn_edge[q]
                nf = min(nf, bw[ea] + fw[eb])
                nb = min(nb, bw[eb] + fw[ea])
                p += 1
                q += 1
        if nf == fw[e] and nb == bw[e]:
            continue
        fw[e] = nf
        bw[e] = nb
        basic_changed[a] = True
        for i in range(up_ptr[a], up_ptr[a + 1]):
            z = up_head[i]
            if z == b:
                continue
            top = edge_id(up_ptr, up_head, b, z) if b < z else edge_id(up_ptr, up_head, z, b)
            if not queued[top]:
                queued[top] = True
                size = heap_push(hkeys, hvals, size, float(min(b, z)), top)
    return n_done


@jit
def split_query_arcs(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_head: Int32Array,
    fw: FloatArray,
    bw: FloatArray,
    pf: FloatArray,
    pb: FloatArray,
) -> tuple[IntArray, Int32Array, FloatArray, IntArray, Int32Array, FloatArray]:
    """Return the upward and downward query CSRs: the arcs whose perfect weight is the basic one."""
    n = up_ptr.shape[0] - 1
    m = up_head.shape[0]
    u_ptr = np.zeros(n + 1, dtype=np.int64)
    d_ptr = np.zeros(n + 1, dtype=np.int64)
    u_idx = np.empty(m, dtype=np.int32)
    d_idx = np.empty(m, dtype=np.int32)
    u_w = np.empty(m, dtype=np.float64)
    d_w = np.empty(m, dtype=np.float64)
    nu = 0
    nd = 0
    for v in range(n):
        for e in range(up_ptr[v], up_ptr[v + 1]):
            if pf[e] == fw[e] and pf[e] < np.inf:
                u_idx[nu] = up_head[e]
                u_w[nu] = pf[e]
                nu += 1
            if pb[e] == bw[e] and pb[e] < np.inf:
                d_idx[nd] = up_head[e]
                d_w[nd] = pb[e]
                nd += 1
        u_ptr[v + 1] = nu
        d_ptr[v + 1] = nd
    return u_ptr, u_idx[:nu].copy(), u_w[:nu].copy(), d_ptr, d_idx[:nd].copy(), d_w[:nd].copy()


@jit
def patch_query_arcs(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_head: Int32Array,
    fw: FloatArray,
    bw: FloatArray,
    pf: FloatArray,
    pb: FloatArray,
    dirty: BoolArray,
    o_uptr: IntArray,
    o_uidx: Int32Array,
    o_uw: FloatArray,
    o_dptr: IntArray,
    o_didx: Int32Array,
    o_dw: FloatArray,
) -> tuple[IntArray, Int32Array, FloatArray, IntArray, Int32Array, FloatArray]:
    """Return the query CSRs of :func:`split_query_arcs`, re-deriving only ``dirty`` rows.

    The other rows are copied from ``o_*`` (the query graph before the change).
    """
    n = up_ptr.shape[0] - 1
    u_ptr = np.zeros(n + 1, dtype=np.int64)
    d_ptr = np.zeros(n + 1, dtype=np.int64)
    for v in range(n):
        cu = o_uptr[v + 1] - o_uptr[v]
        cd = o_dptr[v + 1] - o_dptr[v]
        if dirty[v]:
            cu = 0
            cd = 0
            for e in range(up_ptr[v], up_ptr[v + 1]):
                if pf[e] == fw[e] and pf[e] < np.inf:
                    cu += 1
                if pb[e] == bw[e] and pb[e] < np.inf:
                    cd += 1
        u_ptr[v + 1] = u_ptr[v] + cu
        d_ptr[v + 1] = d_ptr[v] + cd
    u_idx = np.empty(u_ptr[n], dtype=np.int32)
    u_w = np.empty(u_ptr[n], dtype=np.float64)
    d_idx = np.empty(d_ptr[n], dtype=np.int32)
    d_w = np.empty(d_ptr[n], dtype=np.float64)
    for v in range(n):
        if dirty[v]:
            nu = u_ptr[v]
            nd = d_ptr[v]
            for e in range(up_ptr[v], up_ptr[v + 1]):
                if pf[e] == fw[e] and pf[e] < np.inf:
                    u_idx[nu] = up_head[e]
                    u_w[nu] = pf[e]
                    nu += 1
                if pb[e] == bw[e] and pb[e] < np.inf:
                    d_idx[nd] = up_head[e]
                    d_w[nd] = pb[e]
                    nd += 1
        else:
            a = o_uptr[v]
            for q in range(u_ptr[v], u_ptr[v + 1]):
                u_idx[q] = o_uidx[a]
                u_w[q] = o_uw[a]
                a += 1
            a = o_dptr[v]
            for q in range(d_ptr[v], d_ptr[v + 1]):
                d_idx[q] = o_didx[a]
                d_w[q] = o_dw[a]
                a += 1
    return u_ptr, u_idx, u_w, d_ptr, d_idx, d_w


@jit
def lower_index(
    up_ptr: IntArray, up_head: Int32Array
) -> tuple[Int32Array, IntArray, Int32Array, IntArray]:
    """Return ``(up_tail, dn_ptr, dn_node, dn_edge)``: each node's lower neighbours, sorted."""
    n = up_ptr.shape[0] - 1
    m = up_head.shape[0]
    up_tail = np.empty(m, dtype=np.int32)
    dn_ptr = np.zeros(n + 1, dtype=np.int64)
    for v in range(n):
        for e in range(up_ptr[v], up_ptr[v + 1]):
            up_tail[e] = v
            dn_ptr[up_head[e] + 1] += 1
    for v in range(n):
        dn_ptr[v + 1] += dn_ptr[v]
    fill = dn_ptr[:-1].copy()
    dn_node = np.empty(m, dtype=np.int32)
    dn_edge = np.empty(m, dtype=np.int64)
    for e in range(m):  # edges run by lower end, so each list comes out sorted
        b = up_head[e]
        dn_node[fill[b]] = up_tail[e]
        dn_edge[fill[b]] = e
        fill[b] += 1
    return up_tail, dn_ptr, dn_node, dn_edge
