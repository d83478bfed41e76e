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
from watchfloor.traveltime._cch_kernels import (
    basic_customise,
    basic_customise_partial,
    fill_in,
    lower_index,
    map_arcs,
    patch_query_arcs,
    perfect_customise,
    perfect_customise_partial,
    split_query_arcs,
)
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
        up_ptr, up_head = fill_in(n, low_ptr, hi.astype(np.int32))
        arc_edge, arc_up = map_arcs(up_ptr, up_head, rt, rh)
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
            up_tail, dn_ptr, dn_node, dn_edge = lower_index(self.up_ptr, self.up_head)
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
        up_ptr, up_idx, up_w, dn_ptr, dn_idx, dn_w = split_query_arcs(
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
        basic_customise(self.up_ptr, self.up_head, self.arc_edge, self.arc_up, w, fw, bw)
        pf, pb = fw.copy(), bw.copy()
        perfect_customise(self.up_ptr, self.up_head, pf, pb)
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
        n_done = basic_customise_partial(
            self.up_ptr, self.up_head, up_tail, dn_ptr, dn_node, dn_edge, edge_arc_ptr,
            edge_arcs, self.arc_up, w, fw, bw, edges, basic_changed,
        )  # fmt: skip
        pf, pb = base.pf.copy(), base.pb.copy()
        redone = np.zeros(self.n_nodes, dtype=np.bool_)
        n_redone = perfect_customise_partial(
            self.up_ptr, self.up_head, fw, bw, pf, pb, basic_changed, redone
        )
        log.debug(
            "partial customisation: %d edges recomputed, %d of %d nodes re-perfected",
            n_done,
            n_redone,
            self.n_nodes,
        )
        u_ptr, u_idx, u_w, d_ptr, d_idx, d_w = patch_query_arcs(
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
