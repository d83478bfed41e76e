"""A metric-independent node order by nested dissection, for the customisable hierarchy.

Model (George, "Nested Dissection of a Regular Finite Element Mesh", SIAM J.
Numer. Anal. 1973; for road graphs Dibbelt, Strasser and Wagner,
"Customizable Contraction Hierarchies", JEA 2016, section 4): split the
undirected road graph by a small vertex separator into two halves, give the
separator the highest ranks, and order each half the same way, recursively.
Contracting nodes in that order adds few shortcuts, and a node's upward search
space is its ancestors in the separator tree, whatever the travel times.

The separators are found geometrically, as inertial flow does (Schild and
Sommer, "On Balanced Separators in Road Networks", SEA 2015) but without the
flow: the nodes are sorted along four directions (east, north and the two
diagonals); for every balanced split position along each direction the number
of road segments crossing it is counted at once (a difference array over the
sorted positions), and the direction and position with the fewest crossings
win; the separator is the end of the crossing segments on the side with
fewer distinct ends. Without coordinates the direction is the breadth-first
distance from a peripheral node. Small parts are ordered by degree (the
least connected first).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, shortest_path

from watchfloor.errors import InvalidInputError
from watchfloor.types import FloatArray, IntArray

__all__ = ["nested_dissection_order"]

log = logging.getLogger(__name__)

#: Parts this small are not split further.
LEAF_SIZE = 24
#: A split leaves at least this share of the nodes on each side.
BALANCE = 0.3


def _undirected_csr(n: int, tails: IntArray, heads: IntArray) -> tuple[IntArray, IntArray]:
    keep = tails != heads
    a = np.minimum(tails[keep], heads[keep])
    b = np.maximum(tails[keep], heads[keep])
    pairs = np.unique(a * np.int64(n) + b)
    a, b = pairs // n, pairs % n
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    order = np.argsort(rows, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    return ptr, cols[order]


class _Dissector:
    """The recursion's shared arrays; :meth:`run` returns the rank of every node."""

    def __init__(self, n: int, ptr: IntArray, adj: IntArray, projections: list[FloatArray]) -> None:
        self.n = n
        self.ptr = ptr
        self.adj = adj
        self.projections = projections
        self.local = np.full(n, -1, dtype=np.int64)
        self.rank = np.full(n, -1, dtype=np.int64)
        self.top = n

    def _induced(self, nodes: IntArray) -> tuple[IntArray, IntArray]:
        """Return the induced undirected edges ``(a, b)`` (local ids, ``a < b``)."""
        k = nodes.shape[0]
        self.local[nodes] = np.arange(k)
        starts = self.ptr[nodes]
        counts = self.ptr[nodes + 1] - starts
        total = int(counts.sum())
        first = np.cumsum(counts) - counts
        take = np.repeat(starts - first, counts) + np.arange(total, dtype=np.int64)
        src = np.repeat(np.arange(k, dtype=np.int64), counts)
        dst = self.local[self.adj[take]]
        self.local[nodes] = -1
        keep = dst > src
        return src[keep], dst[keep]

    def _assign(self, nodes: IntArray) -> None:
        """Give ``nodes`` the highest free ranks, the first node the highest."""
        k = nodes.shape[0]
        self.rank[nodes] = self.top - 1 - np.arange(k)
        self.top -= k

    def _leaf(self, nodes: IntArray, a: IntArray, b: IntArray) -> None:
        deg = np.bincount(np.concatenate([a, b]), minlength=nodes.shape[0])
        self._assign(nodes[np.argsort(-deg, kind="stable")])

    def _projections(self, nodes: IntArray, a: IntArray, b: IntArray) -> list[FloatArray]:
        if self.projections:
            return [p[nodes] for p in self.projections]
        k = nodes.shape[0]
        mat = coo_matrix((np.ones(a.shape[0]), (a, b)), shape=(k, k)).tocsr()
        hops = shortest_path(mat, directed=False, unweighted=True, indices=0)
        far = int(np.argmax(np.where(np.isfinite(hops), hops, -1.0)))
        return [shortest_path(mat, directed=False, unweighted=True, indices=far)]

    def _split(self, nodes: IntArray, a: IntArray, b: IntArray) -> None:
        k = nodes.shape[0]
        lo, hi = max(1, int(BALANCE * k)), min(k - 1, int((1 - BALANCE) * k))
        candidates: list[tuple[int, float, IntArray, int]] = []
        for proj in self._projections(nodes, a, b):
            order = np.argsort(proj, kind="stable")
            pos = np.empty(k, dtype=np.int64)
            pos[order] = np.arange(k)
            pa, pb = pos[a], pos[b]
            diff = np.zeros(k + 1, dtype=np.int64)
            np.add.at(diff, np.minimum(pa, pb) + 1, 1)
            np.add.at(diff, np.maximum(pa, pb) + 1, -1)
            cut = np.cumsum(diff)[lo : hi + 1]
            s = lo + int(np.argmin(cut + np.abs(np.arange(lo, hi + 1) - k / 2) / k))
            candidates.append((int(cut[s - lo]), abs(s - k / 2), pos, s))
        _, _, pos, s = min(candidates, key=lambda c: (c[0], c[1]))
        left = pos < s
        crossing = left[a] != left[b]
        ends_left = np.unique(np.where(left[a], a, b)[crossing])
        ends_right = np.unique(np.where(left[a], b, a)[crossing])
        sep = ends_left if ends_left.shape[0] <= ends_right.shape[0] else ends_right
        in_sep = np.zeros(k, dtype=bool)
        in_sep[sep] = True
        self._assign(nodes[sep])
        self.stack.append(nodes[left & ~in_sep])
        self.stack.append(nodes[~left & ~in_sep])

    def run(self, leaf_size: int) -> IntArray:
        self.stack: list[IntArray] = [np.arange(self.n, dtype=np.int64)]
        while self.stack:
            nodes = self.stack.pop()
            if nodes.shape[0] == 0:
                continue
            a, b = self._induced(nodes)
            if nodes.shape[0] <= leaf_size:
                self._leaf(nodes, a, b)
                continue
            k = nodes.shape[0]
            mat = coo_matrix((np.ones(a.shape[0]), (a, b)), shape=(k, k))
            n_comp, label = connected_components(mat, directed=False)
            if n_comp > 1:
                for c in np.argsort(np.bincount(label))[::-1]:
                    self.stack.append(nodes[label == c])
                continue
            self._split(nodes, a, b)
        return self.rank


def nested_dissection_order(
    indptr: IntArray,
    indices: IntArray,
    *,
    x_m: FloatArray | None = None,
    y_m: FloatArray | None = None,
    leaf_size: int = LEAF_SIZE,
) -> IntArray:
    """Return a contraction rank for every node (0 = contracted first) by nested dissection.

    Parameters
    ----------
    indptr, indices
        The directed graph in CSR form (arc directions do not matter here).
    x_m, y_m : float64[n], optional
        Node coordinates (any planar metres); without them separators follow
        breadth-first distances instead.
    leaf_size : int
        Parts of at most this many nodes are ordered by degree, not split.

    Returns
    -------
    int64[n]
        A permutation of ``0..n-1``.
    """
    n = int(indptr.shape[0] - 1)
    if (x_m is None) != (y_m is None):
        msg = "give both x_m and y_m, or neither"
        raise InvalidInputError(msg)
    if leaf_size < 2:
        msg = f"leaf_size must be at least 2, got {leaf_size}"
        raise InvalidInputError(msg)
    tails = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    ptr, adj = _undirected_csr(n, tails, np.asarray(indices, dtype=np.int64))
    projections: list[FloatArray] = []
    if x_m is not None and y_m is not None:
        x = np.asarray(x_m, dtype=np.float64)
        y = np.asarray(y_m, dtype=np.float64)
        projections = [x, y, x + y, x - y]
    rank = _Dissector(n, ptr, adj, projections).run(leaf_size)
    return rank
