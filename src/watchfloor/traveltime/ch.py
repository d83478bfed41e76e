"""Contraction hierarchy queries: bucket many-to-many matrices and PHAST one-to-all rows.

The hierarchy is customisable (:mod:`watchfloor.traveltime.cch`): a
metric-independent topology built once per graph (nested-dissection order,
contraction without witness searches), customised to one set of weights in a
fraction of a second, and re-customised partially when a few arcs close.
Perfect customisation leaves an ordinary contraction hierarchy (Geisberger
et al., "Contraction Hierarchies: Faster and Simpler Hierarchical Routing in
Road Networks", WEA 2008), held in rank numbers, which this module queries.

Queries use only upward arcs: the distance ``s -> t`` is the minimum of
``d_up(s, x) + d_down(x, t)`` over the nodes ``x`` met by the forward search
from ``s`` in the upward graph and the backward search from ``t`` in the
reverse upward graph. For a matrix (Knopp et al., "Computing Many-to-Many
Shortest Paths Using Highway Hierarchies", ALENEX 2007) each target's
backward search leaves ``(target, d)`` in a bucket at every node it settles,
and each source's forward search scans the buckets of the nodes it settles.
Both searches use stall-on-demand. One-to-all rows use PHAST (Delling et
al. 2011): an upward search, then one sweep over the nodes in decreasing
rank relaxing their incoming downward arcs.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt

from watchfloor.errors import InvalidInputError
from watchfloor.traveltime._dijkstra import heap_pop, heap_push, jit, pjit
from watchfloor.traveltime.cch import CustomisedWeights, HierarchyTopology, topology_fingerprint
from watchfloor.types import FloatArray, IntArray

__all__ = ["ContractionHierarchy", "graph_fingerprint"]

log = logging.getLogger(__name__)

Int32Array = npt.NDArray[np.int32]

_FORMAT = 2

#: Matrices of at most this many pairs run on one thread.
SERIAL_PAIRS = 20_000


def graph_fingerprint(
    indptr: IntArray, indices: npt.NDArray[np.integer], weights: FloatArray
) -> str:
    """Return a SHA-1 hex digest of a CSR graph and its weights."""
    return _metric_fingerprint(topology_fingerprint(indptr, indices), weights)


def _metric_fingerprint(topology: str, weights: FloatArray) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    h.update(topology.encode("ascii"))
    h.update(np.ascontiguousarray(weights, dtype=np.float64).tobytes())
    return h.hexdigest()


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


@jit
def _target_buckets(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_idx: Int32Array,
    up_w: FloatArray,
    dn_ptr: IntArray,
    dn_idx: Int32Array,
    dn_w: FloatArray,
    targets: IntArray,
    cutoff_s: float,
) -> tuple[IntArray, Int32Array, FloatArray]:
    """Return the buckets ``(bptr, target index, distance)`` as CSR by node.

    One backward search per target leaves ``(target, d)`` at every node it
    settles. (Kept out of the parallel kernel: numba's parallel pass cannot
    follow arrays that grow inside a loop.)
    """
    n = up_ptr.shape[0] - 1
    m_up = up_idx.shape[0] + dn_idx.shape[0] + 1
    nt = targets.shape[0]
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
    return bptr, bucket_t, bucket_d


@jit
def _forward(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_idx: Int32Array,
    up_w: FloatArray,
    dn_ptr: IntArray,
    dn_idx: Int32Array,
    dn_w: FloatArray,
    sources: IntArray,
    bptr: IntArray,
    bucket_t: Int32Array,
    bucket_d: FloatArray,
    cutoff_s: float,
    out: FloatArray,
    first: int,
    step: int,
) -> None:
    """Fill rows ``first, first + step, ...`` of ``out``: forward searches scan the buckets."""
    n = up_ptr.shape[0] - 1
    m_up = up_idx.shape[0] + dn_idx.shape[0] + 1
    nt = out.shape[1]
    cdist = np.full(n, np.inf)
    ctouched = np.empty(n, dtype=np.int32)
    ckeys = np.empty(m_up, dtype=np.float64)
    cvals = np.empty(m_up, dtype=np.int32)
    cnodes = np.empty(n, dtype=np.int32)
    cd = np.empty(n, dtype=np.float64)
    for i in range(first, sources.shape[0], step):
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


@pjit
def _forward_parallel(  # noqa: PLR0917 (numba kernels take positional arrays)
    up_ptr: IntArray,
    up_idx: Int32Array,
    up_w: FloatArray,
    dn_ptr: IntArray,
    dn_idx: Int32Array,
    dn_w: FloatArray,
    sources: IntArray,
    bptr: IntArray,
    bucket_t: Int32Array,
    bucket_d: FloatArray,
    cutoff_s: float,
    out: FloatArray,
    n_chunks: int,
) -> None:
    """Run :func:`_forward` on ``n_chunks`` interleaved groups of sources in parallel."""
    for c in numba.prange(n_chunks):
        _forward(
            up_ptr, up_idx, up_w, dn_ptr, dn_idx, dn_w, sources, bptr, bucket_t, bucket_d,
            cutoff_s, out, c, n_chunks,
        )  # fmt: skip


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


@dataclass(frozen=True, eq=False)
class ContractionHierarchy:
    """A customisable contraction hierarchy customised to one set of weights.

    Attributes
    ----------
    topology : HierarchyTopology
        The metric-independent order and edges, shared by every customisation
        of the same graph (closures included).
    metric : CustomisedWeights
        This customisation: basic weights and the query graph (rank numbers).
    fingerprint : str
        :func:`graph_fingerprint` of the graph and weights it was customised to.
    weights : float64[m]
        Those weights (``inf`` = closed arc).
    """

    topology: HierarchyTopology
    metric: CustomisedWeights
    fingerprint: str
    weights: FloatArray

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return self.topology.n_nodes

    @property
    def rank(self) -> Int32Array:
        """Contraction rank of each node (higher = more important)."""
        return self.topology.rank

    @property
    def n_shortcuts(self) -> int:
        """Number of arcs of the query graph that stand for no single road arc."""
        n_query = int(self.metric.up_indices.shape[0] + self.metric.down_indices.shape[0])
        n_arc_edges = int(np.unique(self.topology.arc_edge[self.topology.arc_edge >= 0]).shape[0])
        return max(0, n_query - n_arc_edges)

    @property
    def build_s(self) -> float:
        """Seconds spent on the topology (once per graph) plus this customisation."""
        return self.topology.build_s + self.metric.customise_s

    @property
    def customise_s(self) -> float:
        """Seconds this customisation took."""
        return self.metric.customise_s

    @classmethod
    def build(
        cls,
        indptr: IntArray,
        indices: npt.NDArray[np.integer],
        weights: FloatArray,
        *,
        x_m: FloatArray | None = None,
        y_m: FloatArray | None = None,
        topology: HierarchyTopology | None = None,
    ) -> ContractionHierarchy:
        """Return the hierarchy of a CSR graph customised to ``weights``.

        The topology takes a few seconds for 200,000 nodes (save the hierarchy
        with :meth:`save` to build it once); customisation a fraction of a second.

        Parameters
        ----------
        indptr, indices, weights
            The graph (row = tail) and its non-negative arc weights (``inf`` = closed).
        x_m, y_m : float64[n], optional
            Node coordinates in metres; they give better separators.
        topology : HierarchyTopology, optional
            A topology built earlier for the same arcs (then only customisation runs).
        """
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if topology is None:
            topology = HierarchyTopology.build(indptr, indices, x_m=x_m, y_m=y_m)
        elif topology.fingerprint != topology_fingerprint(indptr, indices):
            msg = "the hierarchy topology was built for another graph; build it again"
            raise InvalidInputError(msg)
        metric = topology.customise(w)
        topology.prepare_partial()  # closures then pay only for what they change
        log.info(
            "customised hierarchy: %d query arcs in %.3f s",
            metric.up_indices.shape[0] + metric.down_indices.shape[0],
            metric.customise_s,
        )
        return cls(topology, metric, _metric_fingerprint(topology.fingerprint, w), w)

    def customised(self, weights: FloatArray) -> ContractionHierarchy:
        """Return this hierarchy re-customised to new ``weights`` (same arcs), sharing the topology.

        When few arcs differ from this hierarchy's weights (a closure), only
        what they touch is recomputed (partial customisation).
        """
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if w.shape != self.weights.shape:
            msg = f"weights must have one value per arc ({self.weights.shape[0]}), got {w.shape}"
            raise InvalidInputError(msg)
        changed = np.flatnonzero(w != self.weights)
        if changed.shape[0] == 0:
            return self
        if changed.shape[0] * 20 > w.shape[0]:
            metric = self.topology.customise(w)
        else:
            metric = self.topology.recustomise(self.metric, w, changed)
        return ContractionHierarchy(
            self.topology, metric, _metric_fingerprint(self.topology.fingerprint, w), w
        )

    def matches(
        self, indptr: IntArray, indices: npt.NDArray[np.integer], weights: FloatArray
    ) -> bool:
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
        m = self.metric
        rank = self.topology.rank
        src = rank[np.asarray(sources, dtype=np.int64)].astype(np.int64)
        tgt = rank[np.asarray(targets, dtype=np.int64)].astype(np.int64)
        arrays = (
            m.up_indptr, m.up_indices, m.up_weights, m.down_indptr, m.down_indices,
            m.down_weights,
        )  # fmt: skip
        bptr, bucket_t, bucket_d = _target_buckets(*arrays, tgt, float(cutoff_s))
        out = np.full((src.shape[0], tgt.shape[0]), np.inf)
        if src.shape[0] * tgt.shape[0] <= SERIAL_PAIRS:  # waking the thread pool costs more
            _forward(*arrays, src, bptr, bucket_t, bucket_d, float(cutoff_s), out, 0, 1)
        else:
            n_chunks = max(1, min(int(src.shape[0]), 4 * numba.get_num_threads()))
            _forward_parallel(
                *arrays, src, bptr, bucket_t, bucket_d, float(cutoff_s), out, n_chunks
            )
        return out

    def _sweep(self) -> tuple[Int32Array, Int32Array, IntArray, Int32Array, FloatArray]:
        """Return (node at each sweep position, sweep position of each rank, sweep CSR), once."""
        cached: tuple[Int32Array, Int32Array, IntArray, Int32Array, FloatArray] | None = (
            self.__dict__.get("_sweep_arrays")
        )
        if cached is None:
            n = self.n_nodes
            m = self.metric
            node_of_rank = np.empty(n, dtype=np.int32)
            node_of_rank[self.topology.rank] = np.arange(n, dtype=np.int32)
            # Sweep position j holds rank n - 1 - j: the down rows in reverse.
            out_node = np.ascontiguousarray(node_of_rank[::-1])
            pos = (n - 1 - np.arange(n)).astype(np.int32)
            counts = np.diff(m.down_indptr)[::-1]
            ptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(counts, out=ptr[1:])
            starts = m.down_indptr[:-1][::-1]
            take = np.repeat(starts - ptr[:-1], counts) + np.arange(ptr[-1], dtype=np.int64)
            idx = pos[m.down_indices[take]].astype(np.int32)
            w = np.ascontiguousarray(m.down_weights[take])
            cached = (out_node, pos, ptr, idx, w)
            object.__setattr__(self, "_sweep_arrays", cached)
        return cached

    def many_to_all(self, sources: IntArray, *, cutoff_s: float = math.inf) -> FloatArray:
        """Return travel times from each source to every node (rows = sources) by PHAST.

        Times above ``cutoff_s`` are ``inf``; sources must be valid node ids.
        """
        out_node, pos, ptr, idx, w = self._sweep()
        m = self.metric
        src = self.topology.rank[np.asarray(sources, dtype=np.int64)].astype(np.int64)
        if src.shape[0] == 1:  # one row: skip the thread pool
            row = np.empty((1, self.n_nodes), dtype=np.float64)
            _phast_row(
                m.up_indptr, m.up_indices, m.up_weights, ptr, idx, w, out_node, pos,
                int(src[0]), float(cutoff_s), row[0],
            )  # fmt: skip
            return row
        out: FloatArray = _phast(
            m.up_indptr, m.up_indices, m.up_weights, ptr, idx, w, out_node, pos,
            src, float(cutoff_s),
        )  # fmt: skip
        return out

    def save(self, path: Path) -> None:
        """Write the hierarchy (topology and customisation) to ``path`` (``.npz``), atomically."""
        t, m = self.topology, self.metric
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(
                fh,
                format=np.int64(_FORMAT),
                rank=t.rank,
                up_ptr=t.up_ptr,
                up_head=t.up_head,
                arc_edge=t.arc_edge,
                arc_up=t.arc_up,
                topology_fingerprint=np.str_(t.fingerprint),
                topology_build_s=np.float64(t.build_s),
                fw=m.fw,
                bw=m.bw,
                pf=m.pf,
                pb=m.pb,
                up_indptr=m.up_indptr,
                up_indices=m.up_indices,
                up_weights=m.up_weights,
                down_indptr=m.down_indptr,
                down_indices=m.down_indices,
                down_weights=m.down_weights,
                customise_s=np.float64(m.customise_s),
                fingerprint=np.str_(self.fingerprint),
                weights=self.weights,
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
                topology = HierarchyTopology(
                    rank=z["rank"],
                    up_ptr=z["up_ptr"],
                    up_head=z["up_head"],
                    arc_edge=z["arc_edge"],
                    arc_up=z["arc_up"],
                    fingerprint=str(z["topology_fingerprint"]),
                    build_s=float(z["topology_build_s"]),
                )
                metric = CustomisedWeights(
                    fw=z["fw"],
                    bw=z["bw"],
                    pf=z["pf"],
                    pb=z["pb"],
                    up_indptr=z["up_indptr"],
                    up_indices=z["up_indices"],
                    up_weights=z["up_weights"],
                    down_indptr=z["down_indptr"],
                    down_indices=z["down_indices"],
                    down_weights=z["down_weights"],
                    customise_s=float(z["customise_s"]),
                )
                return cls(topology, metric, str(z["fingerprint"]), z["weights"])
        except (OSError, KeyError, ValueError) as exc:
            msg = f"cannot read contraction hierarchy {path}: {exc}; delete it to rebuild"
            raise InvalidInputError(msg) from None
