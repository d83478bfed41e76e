"""Customisable contraction hierarchy: a metric-independent topology, then customisation.

Model (Dibbelt, Strasser and Wagner, "Customizable Contraction Hierarchies",
ACM JEA 21, 2016; the same scheme as RoutingKit's CCH):

1. **Order and topology, once per graph.** Nodes are ranked by nested
   dissection (:mod:`watchfloor.traveltime.order`) and contracted in that
   order *without* witness searches: contracting ``v`` joins every pair of its
   higher-ranked neighbours. The result (a chordal supergraph of the road
   graph) depends on no travel time. Its undirected edges ``{a, b}`` (``a``
   lower) are stored by lower end, in rank numbers: row ``a`` of ``up_ptr`` /
   ``up_head`` lists every higher neighbour ``b``, sorted. Each road arc maps
   to one edge and one direction (``arc_edge``, ``arc_up``).
2. **Basic customisation, per metric.** Each edge gets an upward weight
   ``fw`` (``a -> b``) and a downward one ``bw`` (``b -> a``): the lightest arc
   it stands for, then, bottom-up, the lightest path through every lower
   triangle ``{v, a, b}`` (``v`` below both): ``fw(a, b) <= bw(v, a) + fw(v, b)``.
3. **Perfect customisation.** Top-down, every upper and intermediate triangle
   lowers the weights to true distances; an arc whose weight dropped is not a
   shortest path and is left out. What remains is an ordinary contraction
   hierarchy (:class:`~watchfloor.traveltime.ch.ContractionHierarchy`) that
   answers matrices and one-to-all rows with the usual CH queries.
4. **Partial re-customisation.** When a few arcs change (a closure sets them
   to ``inf``), only their edges and the edges above them whose lower
   triangles they belong to are recomputed, from their arcs and lower
   triangles, in increasing order of lower end; then step 3 runs again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchfloor.errors import InvalidInputError
from watchfloor.traveltime._dijkstra import heap_pop, heap_push, jit
from watchfloor.traveltime.order import nested_dissection_order
from watchfloor.types import BoolArray, FloatArray, IntArray

__all__ = ["CustomisedWeights", "HierarchyTopology", "topology_fingerprint"]

log = logging.getLogger(__name__)

Int32Array = npt.NDArray[np.int32]


def topology_fingerprint(indptr: IntArray, indices: npt.NDArray[np.integer]) -> str:
    """Return a SHA-1 hex digest of a CSR graph's arcs (no weights)."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(np.ascontiguousarray(indptr, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(indices, dtype=np.int32).tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- kernels


@jit
def _fill_in(n: int, low_ptr: IntArray, low_head: Int32Array) -> tuple[IntArray, Int32Array]:
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
def _edge_id(up_ptr: IntArray, up_head: Int32Array, a: int, b: int) -> int:
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
def _map_arcs(
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
            edge[i] = _edge_id(up_ptr, up_head, a, b)
            up[i] = True
        else:
            edge[i] = _edge_id(up_ptr, up_head, b, a)
    return edge, up


@jit
def _basic(  # noqa: PLR0917 (numba kernels take positional arrays)
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
def _perfect(up_ptr: IntArray, up_head: Int32Array, fw: FloatArray, bw: FloatArray) -> None:
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
def _perfect_partial(  # noqa: PLR0917 (numba kernels take positional arrays)
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
def _partial(  # noqa: PLR0917 (numba kernels take positional arrays)
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
            top = _edge_id(up_ptr, up_head, b, z) if b < z else _edge_id(up_ptr, up_head, z, b)
            if not queued[top]:
                queued[top] = True
                size = heap_push(hkeys, hvals, size, float(min(b, z)), top)
    return n_done


@jit
def _split_query_arcs(  # noqa: PLR0917 (numba kernels take positional arrays)
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
def _patch_query_arcs(  # noqa: PLR0917 (numba kernels take positional arrays)
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
    """Return the query CSRs of :func:`_split_query_arcs`, re-deriving only ``dirty`` rows.

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
def _lower_index(
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


# ----------------------------------------------------------------------------- classes


@dataclass(frozen=True, eq=False)
class CustomisedWeights:
    """One metric on a topology: basic weights (for partial updates) and the query graph.

    Attributes
    ----------
    fw, bw : float64[n_cch_edges]
        Basic-customised upward / downward weights of every topology edge.
    pf, pb : float64[n_cch_edges]
        The same after perfect customisation (true distances between the ends).
    up_indptr, up_indices, up_weights
        Query CSR, in rank numbers: row ``a`` holds arcs ``a -> b`` (``b > a``)
        that perfect customisation kept.
    down_indptr, down_indices, down_weights
        Query CSR, in rank numbers: row ``a`` holds arcs ``b -> a`` (``b > a``), stored as ``b``.
    customise_s : float
        Seconds the customisation took.
    """

    fw: FloatArray
    bw: FloatArray
    pf: FloatArray
    pb: FloatArray
    up_indptr: IntArray
    up_indices: Int32Array
    up_weights: FloatArray
    down_indptr: IntArray
    down_indices: Int32Array
    down_weights: FloatArray
    customise_s: float


@dataclass(frozen=True, eq=False)
class HierarchyTopology:
    """The metric-independent part of a customisable hierarchy (built once per graph).

    Attributes
    ----------
    rank : int32[n]
        Contraction rank of each node (higher = more important).
    up_ptr, up_head
        Undirected topology edges by lower end, in rank numbers (heads sorted).
    arc_edge : int64[m]
        Topology edge of each input arc (-1 for a self-loop).
    arc_up : bool[m]
        Whether the arc runs from the lower to the higher end of its edge.
    fingerprint : str
        :func:`topology_fingerprint` of the input arcs.
    build_s : float
        Seconds spent ordering and contracting.
    """

    rank: Int32Array
    up_ptr: IntArray
    up_head: Int32Array
    arc_edge: IntArray
    arc_up: BoolArray
    fingerprint: str
    build_s: float

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.rank.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected topology edges (arcs' edges and shortcuts)."""
        return int(self.up_head.shape[0])

    @property
    def n_arcs(self) -> int:
        """Number of input arcs."""
        return int(self.arc_edge.shape[0])

    @classmethod
    def build(
        cls,
        indptr: IntArray,
        indices: npt.NDArray[np.integer],
        *,
        x_m: FloatArray | None = None,
        y_m: FloatArray | None = None,
    ) -> HierarchyTopology:
        """Return the topology of a CSR graph: nested-dissection order, then contraction.

        Parameters
        ----------
        indptr, indices
            The graph's arcs (row = tail); weights play no part.
        x_m, y_m : float64[n], optional
            Node coordinates in metres, for the separators (see
            :func:`~watchfloor.traveltime.order.nested_dissection_order`).
        """
        start = time.perf_counter()
        n = int(indptr.shape[0] - 1)
        heads = np.asarray(indices, dtype=np.int64)
        tails = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        rank = nested_dissection_order(indptr, heads, x_m=x_m, y_m=y_m).astype(np.int32)
        rt = rank[tails].astype(np.int64)
        rh = rank[heads].astype(np.int64)
        keep = rt != rh
        lo = np.minimum(rt[keep], rh[keep])
        hi = np.maximum(rt[keep], rh[keep])
        pairs = np.unique(lo * np.int64(max(n, 1)) + hi)
        lo, hi = pairs // max(n, 1), pairs % max(n, 1)
        low_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(lo, minlength=n), out=low_ptr[1:])
        up_ptr, up_head = _fill_in(n, low_ptr, hi.astype(np.int32))
        arc_edge, arc_up = _map_arcs(up_ptr, up_head, rt, rh)
        topo = cls(
            rank=rank,
            up_ptr=up_ptr,
            up_head=up_head,
            arc_edge=arc_edge,
            arc_up=arc_up,
            fingerprint=topology_fingerprint(indptr, indices),
            build_s=time.perf_counter() - start,
        )
        log.info(
            "hierarchy topology: %d nodes, %d arcs, %d edges (%d shortcuts) in %.1f s",
            n,
            tails.shape[0],
            topo.n_edges,
            topo.n_edges - pairs.shape[0],
            topo.build_s,
        )
        return topo

    def prepare_partial(self) -> None:
        """Build the index partial re-customisation needs (once; else the first closure does)."""
        self._partial_index()

    def _partial_index(
        self,
    ) -> tuple[Int32Array, IntArray, Int32Array, IntArray, IntArray, IntArray]:
        """Return (up_tail, dn_ptr, dn_node, dn_edge, edge_arc_ptr, edge_arcs), built once."""
        cached: tuple[Int32Array, IntArray, Int32Array, IntArray, IntArray, IntArray] | None = (
            self.__dict__.get("_partial_arrays")
        )
        if cached is None:
            m = self.n_edges
            up_tail, dn_ptr, dn_node, dn_edge = _lower_index(self.up_ptr, self.up_head)
            arcs = np.flatnonzero(self.arc_edge >= 0)
            by_edge = arcs[np.argsort(self.arc_edge[arcs], kind="stable")]
            edge_arc_ptr = np.zeros(m + 1, dtype=np.int64)
            np.cumsum(np.bincount(self.arc_edge[arcs], minlength=m), out=edge_arc_ptr[1:])
            cached = (up_tail, dn_ptr, dn_node, dn_edge, edge_arc_ptr, by_edge.astype(np.int64))
            object.__setattr__(self, "_partial_arrays", cached)
        return cached

    def _check_weights(self, weights: FloatArray) -> FloatArray:
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if w.shape != (self.n_arcs,):
            msg = f"weights must have one value per arc ({self.n_arcs}), got shape {w.shape}"
            raise InvalidInputError(msg)
        return w

    def _query_graph(
        self, fw: FloatArray, bw: FloatArray, pf: FloatArray, pb: FloatArray, start: float
    ) -> CustomisedWeights:
        """Return the customisation with its query graph: arcs perfect customisation kept."""
        up_ptr, up_idx, up_w, dn_ptr, dn_idx, dn_w = _split_query_arcs(
            self.up_ptr, self.up_head, fw, bw, pf, pb
        )
        return CustomisedWeights(
            fw=fw,
            bw=bw,
            pf=pf,
            pb=pb,
            up_indptr=up_ptr,
            up_indices=up_idx,
            up_weights=up_w,
            down_indptr=dn_ptr,
            down_indices=dn_idx,
            down_weights=dn_w,
            customise_s=time.perf_counter() - start,
        )

    def customise(self, weights: FloatArray) -> CustomisedWeights:
        """Return the topology customised to ``weights`` (one per input arc; ``inf`` = closed)."""
        start = time.perf_counter()
        w = self._check_weights(weights)
        fw = np.empty(self.n_edges, dtype=np.float64)
        bw = np.empty(self.n_edges, dtype=np.float64)
        _basic(self.up_ptr, self.up_head, self.arc_edge, self.arc_up, w, fw, bw)
        pf, pb = fw.copy(), bw.copy()
        _perfect(self.up_ptr, self.up_head, pf, pb)
        return self._query_graph(fw, bw, pf, pb, start)

    def recustomise(
        self, base: CustomisedWeights, weights: FloatArray, changed_arcs: IntArray
    ) -> CustomisedWeights:
        """Return ``base`` re-customised to ``weights`` (different only at ``changed_arcs``).

        Only the edges of the changed arcs, and the edges above them that move,
        are recomputed; then perfect customisation is redone for the nodes
        whose clique moved, and the query graph re-derived for their rows.
        """
        start = time.perf_counter()
        w = self._check_weights(weights)
        up_tail, dn_ptr, dn_node, dn_edge, edge_arc_ptr, edge_arcs = self._partial_index()
        edges = self.arc_edge[np.asarray(changed_arcs, dtype=np.int64)]
        edges = np.unique(edges[edges >= 0])
        fw, bw = base.fw.copy(), base.bw.copy()
        basic_changed = np.zeros(self.n_nodes, dtype=np.bool_)
        n_done = _partial(
            self.up_ptr, self.up_head, up_tail, dn_ptr, dn_node, dn_edge, edge_arc_ptr,
            edge_arcs, self.arc_up, w, fw, bw, edges, basic_changed,
        )  # fmt: skip
        pf, pb = base.pf.copy(), base.pb.copy()
        redone = np.zeros(self.n_nodes, dtype=np.bool_)
        n_redone = _perfect_partial(
            self.up_ptr, self.up_head, fw, bw, pf, pb, basic_changed, redone
        )
        log.debug(
            "partial customisation: %d edges recomputed, %d of %d nodes re-perfected",
            n_done,
            n_redone,
            self.n_nodes,
        )
        u_ptr, u_idx, u_w, d_ptr, d_idx, d_w = _patch_query_arcs(
            self.up_ptr, self.up_head, fw, bw, pf, pb, basic_changed | redone,
            base.up_indptr, base.up_indices, base.up_weights,
            base.down_indptr, base.down_indices, base.down_weights,
        )  # fmt: skip
        return CustomisedWeights(
            fw=fw,
            bw=bw,
            pf=pf,
            pb=pb,
            up_indptr=u_ptr,
            up_indices=u_idx,
            up_weights=u_w,
            down_indptr=d_ptr,
            down_indices=d_idx,
            down_weights=d_w,
            customise_s=time.perf_counter() - start,
        )
