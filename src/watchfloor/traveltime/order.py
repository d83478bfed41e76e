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
import math

import numpy as np

from watchfloor.errors import InvalidInputError
from watchfloor.traveltime._dijkstra import jit
from watchfloor.types import BoolArray, FloatArray, IntArray

__all__ = ["nested_dissection_order"]

log = logging.getLogger(__name__)

#: Parts this small are not split further.
LEAF_SIZE = 24
#: Directions tried for each split (evenly spaced over half a turn).
N_DIRECTIONS = 8
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


@jit
def _kuhn_cover(
    n_left: int, n_right: int, ptr: IntArray, idx: IntArray
) -> tuple[BoolArray, BoolArray]:
    """Return a minimum vertex cover of a bipartite graph as (left mask, right mask).

    Kuhn's augmenting paths give a maximum matching; by König's theorem the
    cover is the left nodes not reached by alternating paths from unmatched
    left nodes, plus the right nodes that are.
    """
    match_l = np.full(n_left, -1, dtype=np.int64)
    match_r = np.full(n_right, -1, dtype=np.int64)
    stamp = np.zeros(n_right, dtype=np.int64)
    stack_u = np.empty(n_left + 1, dtype=np.int64)
    stack_e = np.empty(n_left + 1, dtype=np.int64)
    via_r = np.empty(n_left + 1, dtype=np.int64)
    for root in range(n_left):
        top = 0
        stack_u[0] = root
        stack_e[0] = ptr[root]
        while top >= 0:
            u = stack_u[top]
            if stack_e[top] >= ptr[u + 1]:
                top -= 1
                continue
            r = idx[stack_e[top]]
            stack_e[top] += 1
            if stamp[r] == root + 1:
                continue
            stamp[r] = root + 1
            via_r[top] = r
            if match_r[r] == -1:
                for t in range(top, -1, -1):
                    match_r[via_r[t]] = stack_u[t]
                    match_l[stack_u[t]] = via_r[t]
                break
            top += 1
            stack_u[top] = match_r[r]
            stack_e[top] = ptr[match_r[r]]
    seen_l = match_l == -1
    seen_r = np.zeros(n_right, dtype=np.bool_)
    queue = np.flatnonzero(seen_l)
    buf = np.empty(n_left, dtype=np.int64)
    head = 0
    tail = queue.shape[0]
    buf[:tail] = queue
    while head < tail:
        u = buf[head]
        head += 1
        for e in range(ptr[u], ptr[u + 1]):
            r = idx[e]
            if not seen_r[r]:
                seen_r[r] = True
                w = match_r[r]
                if w >= 0 and not seen_l[w]:
                    seen_l[w] = True
                    buf[tail] = w
                    tail += 1
    return ~seen_l, seen_r


@jit
def _bfs_hops(k: int, lptr: IntArray, ladj: IntArray, start: int, hops: FloatArray) -> int:
    """Fill ``hops`` with breadth-first hops from ``start`` (-1: not reached); return the last."""
    hops[:k] = -1.0
    queue = np.empty(k, dtype=np.int64)
    queue[0] = start
    hops[start] = 0.0
    head, tail, last = 0, 1, start
    while head < tail:
        u = queue[head]
        head += 1
        last = u
        for e in range(lptr[u], lptr[u + 1]):
            v = ladj[e]
            if hops[v] < 0:
                hops[v] = hops[u] + 1.0
                queue[tail] = v
                tail += 1
    return last


@jit
def _split_cover(  # noqa: PLR0917 (numba kernels take positional arrays)
    k: int,
    ea: IntArray,
    eb: IntArray,
    values: FloatArray,
    lo: int,
    hi: int,
    in_left: BoolArray,
    in_cover: BoolArray,
) -> int:
    """Split ``k`` nodes along ``values`` where fewest edges cross; return the cover size.

    Writes the side of each node to ``in_left`` and the separator (a minimum
    vertex cover of the crossing edges) to ``in_cover``.
    """
    order = np.argsort(values, kind="mergesort")
    pos = np.empty(k, dtype=np.int64)
    for i in range(k):
        pos[order[i]] = i
    diff = np.zeros(k + 2, dtype=np.int64)
    for e in range(ea.shape[0]):
        p, q = pos[ea[e]], pos[eb[e]]
        diff[min(p, q) + 1] += 1
        diff[max(p, q) + 1] -= 1
    run = 0
    best_s, best_key = lo, np.inf
    for s in range(k + 1):
        run += diff[s]
        if lo <= s <= hi:
            key = run + abs(s - k / 2) / k
            if key < best_key:
                best_key, best_s = key, s
    for i in range(k):
        in_left[i] = pos[i] < best_s
    # Crossing edges as a bipartite graph: left ends x right ends, compact ids.
    lid = np.full(k, -1, dtype=np.int64)
    rid = np.full(k, -1, dtype=np.int64)
    nl, nr, nc = 0, 0, 0
    cl = np.empty(ea.shape[0], dtype=np.int64)
    cr = np.empty(ea.shape[0], dtype=np.int64)
    for e in range(ea.shape[0]):
        x, y = ea[e], eb[e]
        if in_left[x] == in_left[y]:
            continue
        if not in_left[x]:
            x, y = y, x
        if lid[x] < 0:
            lid[x] = nl
            nl += 1
        if rid[y] < 0:
            rid[y] = nr
            nr += 1
        cl[nc] = lid[x]
        cr[nc] = rid[y]
        nc += 1
    in_cover[:k] = False
    if nc == 0:
        return 0
    ptr = np.zeros(nl + 1, dtype=np.int64)
    for e in range(nc):
        ptr[cl[e] + 1] += 1
    for i in range(nl):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    idx = np.empty(nc, dtype=np.int64)
    for e in range(nc):
        idx[fill[cl[e]]] = cr[e]
        fill[cl[e]] += 1
    cover_l, cover_r = _kuhn_cover(nl, nr, ptr, idx)
    size = 0
    for i in range(k):
        if (lid[i] >= 0 and cover_l[lid[i]]) or (rid[i] >= 0 and cover_r[rid[i]]):
            in_cover[i] = True
            size += 1
    return size


@jit
def _dissect(  # noqa: PLR0917 (numba kernels take positional arrays)
    n: int, ptr: IntArray, adj: IntArray, proj: FloatArray, leaf_size: int, balance: float
) -> IntArray:
    """Return the nested-dissection rank of every node (see the module docstring)."""
    perm = np.arange(n)
    local = np.full(n, -1, dtype=np.int64)
    rank = np.full(n, -1, dtype=np.int64)
    top = n
    seg_s = np.empty(2 * n + 2, dtype=np.int64)
    seg_e = np.empty(2 * n + 2, dtype=np.int64)
    n_seg = 1
    seg_s[0], seg_e[0] = 0, n
    in_left = np.empty(n, dtype=np.bool_)
    in_cover = np.empty(n, dtype=np.bool_)
    best_left = np.empty(n, dtype=np.bool_)
    best_cover = np.empty(n, dtype=np.bool_)
    values = np.empty(n, dtype=np.float64)
    label = np.empty(n, dtype=np.int64)
    scratch = np.empty(n, dtype=np.int64)
    while n_seg > 0:
        n_seg -= 1
        s, e = seg_s[n_seg], seg_e[n_seg]
        k = e - s
        if k == 0:
            continue
        nodes = perm[s:e]
        for i in range(k):
            local[nodes[i]] = i
        # Induced edges, each once (a < b), and the local adjacency.
        m = 0
        for i in range(k):
            v = nodes[i]
            for q in range(ptr[v], ptr[v + 1]):
                if local[adj[q]] > i:
                    m += 1
        ea = np.empty(m, dtype=np.int64)
        eb = np.empty(m, dtype=np.int64)
        lptr = np.zeros(k + 1, dtype=np.int64)
        m = 0
        for i in range(k):
            v = nodes[i]
            for q in range(ptr[v], ptr[v + 1]):
                j = local[adj[q]]
                if j >= 0:
                    lptr[i + 1] += 1
                    if j > i:
                        ea[m], eb[m] = i, j
                        m += 1
        for i in range(k):
            lptr[i + 1] += lptr[i]
        fill = lptr[:-1].copy()
        ladj = np.empty(lptr[k], dtype=np.int64)
        for q in range(m):
            ladj[fill[ea[q]]] = eb[q]
            fill[ea[q]] += 1
            ladj[fill[eb[q]]] = ea[q]
            fill[eb[q]] += 1
        for i in range(k):
            local[nodes[i]] = -1
        if k <= leaf_size:
            # The least connected first, i.e. the best connected get the highest ranks.
            deg = np.diff(lptr)
            order = np.argsort(-deg, kind="mergesort")
            for i in range(k):
                rank[nodes[order[i]]] = top - 1 - i
            top -= k
            continue
        # Connected components: each is ordered on its own.
        label[:k] = -1
        n_comp = 0
        for i in range(k):
            if label[i] >= 0:
                continue
            label[i] = n_comp
            scratch[0] = i
            head, tail = 0, 1
            while head < tail:
                u = scratch[head]
                head += 1
                for q in range(lptr[u], lptr[u + 1]):
                    w = ladj[q]
                    if label[w] < 0:
                        label[w] = n_comp
                        scratch[tail] = w
                        tail += 1
            n_comp += 1
        if n_comp > 1:
            counts = np.zeros(n_comp + 1, dtype=np.int64)
            for i in range(k):
                counts[label[i] + 1] += 1
            for c in range(n_comp):
                counts[c + 1] += counts[c]
            starts = counts.copy()
            copy = nodes.copy()
            for i in range(k):
                c = label[i]
                perm[s + starts[c]] = copy[i]
                starts[c] += 1
            for c in range(n_comp):
                seg_s[n_seg], seg_e[n_seg] = s + counts[c], s + counts[c + 1]
                n_seg += 1
            continue
        lo = max(1, int(balance * k))
        hi = min(k - 1, int((1.0 - balance) * k))
        best = -1
        n_dir = proj.shape[0]
        for d in range(max(n_dir, 1)):
            if n_dir == 0:
                far = _bfs_hops(k, lptr, ladj, 0, values)
                _bfs_hops(k, lptr, ladj, far, values)
            else:
                for i in range(k):
                    values[i] = proj[d, nodes[i]]
            size = _split_cover(k, ea, eb, values[:k], lo, hi, in_left, in_cover)
            if best < 0 or size < best:
                best = size
                best_left[:k] = in_left[:k]
                best_cover[:k] = in_cover[:k]
        copy = nodes.copy()
        n_left = 0
        n_right = 0
        for i in range(k):
            if best_cover[i]:
                continue
            if best_left[i]:
                n_left += 1
            else:
                n_right += 1
        a, b = s, s + n_left
        for i in range(k):
            v = copy[i]
            if best_cover[i]:
                top -= 1
                rank[v] = top
            elif best_left[i]:
                perm[a] = v
                a += 1
            else:
                perm[b] = v
                b += 1
        seg_s[n_seg], seg_e[n_seg] = s, s + n_left
        n_seg += 1
        seg_s[n_seg], seg_e[n_seg] = s + n_left, s + n_left + n_right
        n_seg += 1
    return rank


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
    proj = np.zeros((0, n), dtype=np.float64)
    if x_m is not None and y_m is not None:
        x = np.asarray(x_m, dtype=np.float64)
        y = np.asarray(y_m, dtype=np.float64)
        angles = np.arange(N_DIRECTIONS) * math.pi / N_DIRECTIONS
        proj = np.ascontiguousarray(np.cos(angles)[:, None] * x + np.sin(angles)[:, None] * y)
    rank: IntArray = _dissect(n, ptr, adj, proj, leaf_size, BALANCE)
    return rank
