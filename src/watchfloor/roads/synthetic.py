"""A deterministic, road-like county graph for benchmarks and tests.

:func:`synthetic_county` lays out an English county of about 60 x 50 km
(for 200,000 nodes; smaller counts shrink it) in British National Grid
metres around Leicestershire:

- towns (sizes spread like real ones, a few large and many small) drawn as
  jittered, rotated street grids with irregular gaps, a primary road through
  the middle, tertiary distributor streets, some residential streets oneway
  and some living streets and service roads;
- villages: small grids with a tertiary main street;
- rural roads between settlements along a Delaunay network (trunk between
  the largest towns, primary between towns, secondary to villages, tertiary
  and unclassified lanes between villages), winding, with farm-track spurs;
- a motorway crossing the county with two oneway carriageways, junctions
  every ~10 km and at both county edges, joined to local roads by oneway
  slip roads.

Speeds are per road class with a little noise; lengths follow the drawn
geometry. The graph is strongly connected (every node reaches every other),
has no parallel edges, and is the same for the same ``n_nodes`` and ``seed``.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import Delaunay, cKDTree

from watchfloor.errors import InvalidInputError
from watchfloor.geo import bng_to_lonlat
from watchfloor.roads.graph import ROAD_CLASSES, RoadGraph
from watchfloor.types import BoolArray, FloatArray, IntArray

__all__ = ["synthetic_county"]

log = logging.getLogger(__name__)


_C = {name: i for i, name in enumerate(ROAD_CLASSES)}

#: Typical free-flow speeds (km/h) by class for the generated county.
_SPEED_KPH = {
    "motorway": 105.0,
    "motorway_link": 55.0,
    "trunk": 85.0,
    "primary": 65.0,
    "secondary": 58.0,
    "tertiary": 50.0,
    "unclassified": 45.0,
    "residential": 30.0,
    "living_street": 15.0,
    "service": 15.0,
}
_TOWN_PRIMARY_KPH = 40.0

#: Centre of the generated county (BNG metres): near Leicester.
_CENTRE_M = (470_000.0, 305_000.0)


class _Builder:
    """Accumulates nodes and undirected/oneway edges."""

    def __init__(self) -> None:
        self.xy: list[FloatArray] = []
        self.n = 0
        self.u: list[IntArray] = []
        self.v: list[IntArray] = []
        self.cls: list[npt.NDArray[np.uint8]] = []
        self.oneway: list[BoolArray] = []
        self.kph: list[FloatArray] = []

    def add_nodes(self, xy: FloatArray) -> IntArray:
        ids = np.arange(self.n, self.n + xy.shape[0], dtype=np.int64)
        self.xy.append(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
        self.n += xy.shape[0]
        return ids

    def add_edges(
        self,
        u: IntArray,
        v: IntArray,
        cls: npt.ArrayLike,
        *,
        oneway: npt.ArrayLike = False,
        kph: npt.ArrayLike | None = None,
    ) -> None:
        k = u.shape[0]
        c = np.broadcast_to(np.asarray(cls, dtype=np.uint8), (k,)).copy()
        self.u.append(np.asarray(u, dtype=np.int64))
        self.v.append(np.asarray(v, dtype=np.int64))
        self.cls.append(c)
        self.oneway.append(np.broadcast_to(np.asarray(oneway, dtype=bool), (k,)).copy())
        if kph is None:
            self.kph.append(_speeds_table()[c])
        else:
            self.kph.append(np.broadcast_to(np.asarray(kph, dtype=np.float64), (k,)).copy())


def _speeds_table() -> FloatArray:
    out = np.full(len(ROAD_CLASSES), 30.0)
    for name, kph in _SPEED_KPH.items():
        out[_C[name]] = kph
    return out


def _settlement(
    b: _Builder,
    centre: FloatArray,
    n_target: int,
    *,
    spacing_m: float,
    town: bool,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray, IntArray]:
    """Add a street grid clipped to a wobbly blob; return node ids, edges (u, v) and classes."""
    # A grid over the blob's bounding box of about n_target / 0.7 points; the blob keeps n_target.
    aspect = rng.uniform(0.75, 1.33)
    cols = max(3, round(math.sqrt(n_target / 0.7 * aspect)))
    rows = max(3, math.ceil(n_target / 0.7 / cols))
    gx, gy = np.meshgrid(np.arange(cols, dtype=np.float64), np.arange(rows, dtype=np.float64))
    ux = (gx.ravel() - (cols - 1) / 2) / ((cols - 1) / 2)
    uy = (gy.ravel() - (rows - 1) / 2) / ((rows - 1) / 2)
    angle = np.arctan2(uy, ux)
    lobes = rng.uniform(0.08, 0.22) * np.sin(3 * angle + rng.uniform(0, 6.3)) + rng.uniform(
        0.0, 0.12
    ) * np.sin(5 * angle + rng.uniform(0, 6.3))
    reach = np.hypot(ux, uy) / (1.0 + lobes)
    inside = np.zeros(rows * cols, dtype=bool)
    inside[np.argsort(reach, kind="stable")[: min(n_target, rows * cols)]] = True
    pts = np.column_stack([gx.ravel() - (cols - 1) / 2, gy.ravel() - (rows - 1) / 2]) * spacing_m
    # Streets are neither straight nor evenly spaced: jitter, then a gentle swirl.
    pts += rng.normal(0.0, 0.22 * spacing_m, pts.shape)
    r = np.hypot(pts[:, 0], pts[:, 1])
    theta = rng.uniform(0, math.pi) + rng.uniform(-0.35, 0.35) * r / max(1.0, r.max())
    rot = np.column_stack(
        [
            pts[:, 0] * np.cos(theta) - pts[:, 1] * np.sin(theta),
            pts[:, 0] * np.sin(theta) + pts[:, 1] * np.cos(theta),
        ]
    )
    ids = b.add_nodes(rot[inside] + centre)
    flat = np.full(rows * cols, -1, dtype=np.int64)
    flat[inside] = ids
    grid = flat.reshape(rows, cols)
    h_u, h_v = grid[:, :-1].ravel(), grid[:, 1:].ravel()
    v_u, v_v = grid[:-1, :].ravel(), grid[1:, :].ravel()
    # Classes: the middle row and column carry the through roads.
    h_row = np.repeat(np.arange(rows), cols - 1)
    v_col = np.tile(np.arange(cols), rows - 1)
    h_cls = np.full(h_u.shape[0], _C["residential"], dtype=np.uint8)
    v_cls = np.full(v_u.shape[0], _C["residential"], dtype=np.uint8)
    if town:
        h_cls[h_row % 12 == 6] = _C["tertiary"]
        v_cls[v_col % 12 == 6] = _C["tertiary"]
        h_cls[h_row == rows // 2] = _C["primary"]
        v_cls[v_col == cols // 2] = _C["secondary"]
    else:
        h_cls[h_row == rows // 2] = _C["tertiary"]
    u = np.concatenate([h_u, v_u])
    v = np.concatenate([h_v, v_v])
    cls = np.concatenate([h_cls, v_cls])
    ok = (u >= 0) & (v >= 0)
    return ids, np.column_stack([u[ok], v[ok]]), cls[ok].astype(np.int64)


def _polyline_nodes(
    a_xy: FloatArray, b_xy: FloatArray, *, step_m: float, wiggle: float, rng: np.random.Generator
) -> FloatArray:
    """Return interior points of a winding road from ``a_xy`` to ``b_xy``."""
    d = b_xy - a_xy
    length = float(np.hypot(*d))
    k = max(0, round(length / step_m) - 1)
    if k == 0:
        return np.zeros((0, 2))
    t = np.arange(1, k + 1) / (k + 1)
    normal = np.array([-d[1], d[0]]) / max(length, 1e-9)
    phase = rng.uniform(0, 2 * math.pi)
    waves = rng.uniform(1.0, 3.0)
    offset = wiggle * length * np.sin(math.pi * t) * np.sin(2 * math.pi * waves * t + phase)
    offset += rng.normal(0.0, 0.08 * step_m, k)
    return a_xy + t[:, None] * d + offset[:, None] * normal


def _delaunay_pairs(points: FloatArray) -> IntArray:
    """Return the unique undirected edges ``(i, j)``, ``i < j``, of a Delaunay triangulation."""
    if points.shape[0] < 3:
        return np.array([[0, 1]], dtype=np.int64)
    tri = Delaunay(points)
    sides = np.concatenate(
        [tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [0, 2]]]
    )
    return np.unique(np.sort(sides, axis=1), axis=0).astype(np.int64)


def _links(
    centres: FloatArray, is_town: BoolArray, sizes: FloatArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Return settlement pairs joined by a rural road and each road's class.

    Towns are joined among themselves (trunk from the three largest,
    primary otherwise); every settlement joins its Delaunay neighbours
    (secondary when one end is a town, else tertiary or unclassified),
    thinned to the spanning tree plus three in four of the other links.
    """
    k = centres.shape[0]
    towns = np.flatnonzero(is_town)
    town_pairs = (
        towns[_delaunay_pairs(centres[towns])] if towns.size >= 2 else np.zeros((0, 2), int)
    )
    pairs = _delaunay_pairs(centres)
    both_towns = is_town[pairs[:, 0]] & is_town[pairs[:, 1]]
    pairs = pairs[~both_towns]
    dist = np.hypot(*(centres[pairs[:, 0]] - centres[pairs[:, 1]]).T)
    emst = minimum_spanning_tree(
        coo_matrix((dist, (pairs[:, 0], pairs[:, 1])), shape=(k, k)).tocsr()
    ).tocoo()
    emst_key = np.minimum(emst.row, emst.col).astype(np.int64) * k + np.maximum(emst.row, emst.col)
    keep = np.isin(pairs[:, 0] * k + pairs[:, 1], emst_key) | (rng.random(pairs.shape[0]) < 0.75)
    pairs = pairs[keep]
    size_rank = np.argsort(np.argsort(-sizes))
    top = (size_rank[town_pairs[:, 0]] < 3) | (size_rank[town_pairs[:, 1]] < 3)
    town_cls = np.where(top, _C["trunk"], _C["primary"])
    any_town = is_town[pairs[:, 0]] | is_town[pairs[:, 1]]
    lane = np.where(rng.random(pairs.shape[0]) < 0.45, _C["tertiary"], _C["unclassified"])
    cls = np.where(any_town, _C["secondary"], lane)
    return np.concatenate([town_pairs, pairs]), np.concatenate([town_cls, cls]).astype(np.int64)


def synthetic_county(n_nodes: int = 200_000, *, seed: int = 0) -> RoadGraph:
    """Return a deterministic road-like county graph of about ``n_nodes`` nodes.

    Parameters
    ----------
    n_nodes : int
        Target node count (the result is within a few per cent of it);
        at least 500.
    seed : int
        Seed of the layout; same ``n_nodes`` and ``seed`` give the same graph.

    Returns
    -------
    RoadGraph
        Strongly connected, in British National Grid metres (and WGS84),
        with ``node_osm_id`` = node index and ``edge_way_id`` = 0.
    """
    if not isinstance(n_nodes, int | np.integer) or n_nodes < 500:
        msg = f"n_nodes must be an integer of at least 500, got {n_nodes!r}"
        raise InvalidInputError(msg)
    rng = np.random.default_rng(seed)
    scale = n_nodes / 200_000
    half_w, half_h = 30_000.0 * math.sqrt(scale), 25_000.0 * math.sqrt(scale)
    centre = np.array(_CENTRE_M)
    b = _Builder()

    # Settlements: towns (Zipf-like sizes) and villages, kept apart.
    n_towns = max(2, round(14 * scale))
    n_villages = max(4, round(300 * scale))
    town_w = 1.0 / np.arange(1, n_towns + 1) ** 0.9
    town_nodes = 0.72 * n_nodes * town_w / town_w.sum()
    village_w = rng.lognormal(0.0, 0.6, n_villages)
    village_nodes = 0.20 * n_nodes * village_w / village_w.sum()
    sizes = np.maximum(9.0, np.concatenate([town_nodes, village_nodes]))
    is_town = np.arange(sizes.shape[0]) < n_towns
    spacing = np.where(is_town, rng.uniform(55, 75, sizes.shape[0]), 80.0)
    radius = 0.6 * np.sqrt(sizes) * spacing
    centres: list[FloatArray] = []
    for i in range(sizes.shape[0]):
        for _ in range(200):
            p = centre + rng.uniform([-half_w, -half_h], [half_w, half_h]) * 0.92
            if all(
                np.hypot(*(p - q)) > radius[i] + radius[j] + 600.0 for j, q in enumerate(centres)
            ):
                break
        centres.append(p)
    centres_arr = np.array(centres)
    pairs, link_cls = _links(centres_arr, is_town, sizes, rng)
    # Rural roads take nodes too: shrink the settlements so the total lands near n_nodes.
    gaps = np.hypot(*(centres_arr[pairs[:, 0]] - centres_arr[pairs[:, 1]]).T)
    gaps = np.maximum(0.0, gaps - 0.9 * (radius[pairs[:, 0]] + radius[pairs[:, 1]]))
    steps = np.where(link_cls <= _C["primary"], 350.0, 250.0)
    rural = float((gaps / steps).sum()) * 1.22 + 400.0 * scale
    sizes = np.maximum(9.0, sizes * max(0.3, (n_nodes - rural) / sizes.sum()))
    radius = 0.6 * np.sqrt(sizes) * spacing

    node_of: list[IntArray] = []
    grid_edges: list[IntArray] = []
    grid_cls: list[IntArray] = []
    grid_town: list[BoolArray] = []
    for i in range(sizes.shape[0]):
        ids, edges, cls = _settlement(
            b, centres_arr[i], int(sizes[i]), spacing_m=spacing[i], town=bool(is_town[i]), rng=rng
        )
        node_of.append(ids)
        grid_edges.append(edges)
        grid_cls.append(cls)
        grid_town.append(np.full(edges.shape[0], bool(is_town[i])))
    e_all = np.concatenate(grid_edges)
    c_all = np.concatenate(grid_cls)
    town_e = np.concatenate(grid_town)
    xy = np.concatenate(b.xy)
    # Irregular streets: keep a random spanning tree of each grid plus most other streets.
    n_now = b.n
    rand_w = rng.uniform(1.0, 2.0, e_all.shape[0])
    mst = minimum_spanning_tree(
        coo_matrix((rand_w, (e_all[:, 0], e_all[:, 1])), shape=(n_now, n_now)).tocsr()
    ).tocoo()
    tree_key = np.minimum(mst.row, mst.col).astype(np.int64) * n_now + np.maximum(mst.row, mst.col)
    edge_key = np.minimum(e_all[:, 0], e_all[:, 1]) * n_now + np.maximum(e_all[:, 0], e_all[:, 1])
    in_tree = np.isin(edge_key, tree_key)
    main = c_all != _C["residential"]
    keep = in_tree | main | (rng.random(e_all.shape[0]) < np.where(town_e, 0.72, 0.55))
    e_all, c_all, town_e = e_all[keep], c_all[keep], town_e[keep]
    res = c_all == _C["residential"]
    roll = rng.random(e_all.shape[0])
    c_all = np.where(res & (roll < 0.04), _C["living_street"], c_all)
    c_all = np.where(res & (roll >= 0.04) & (roll < 0.08), _C["service"], c_all)
    oneway = town_e & (c_all == _C["residential"]) & (rng.random(e_all.shape[0]) < 0.10)
    flip = rng.random(e_all.shape[0]) < 0.5
    u = np.where(flip, e_all[:, 1], e_all[:, 0])
    v = np.where(flip, e_all[:, 0], e_all[:, 1])
    kph = _speeds_table()[c_all]
    kph = np.where(town_e & (c_all == _C["primary"]), _TOWN_PRIMARY_KPH, kph)
    b.add_edges(u, v, c_all, oneway=oneway, kph=kph)

    # Rural roads between settlements, leaving each towards the other.
    for (a, c), cls in zip(pairs.tolist(), link_cls.tolist(), strict=True):
        d = float(np.hypot(*(centres_arr[c] - centres_arr[a])))
        direction = (centres_arr[c] - centres_arr[a]) / max(d, 1.0)
        ends = []
        for s, sgn in ((a, 1.0), (c, -1.0)):
            target = centres_arr[s] + sgn * direction * radius[s] * 0.9
            ids = node_of[s]
            ends.append(int(ids[np.argmin(np.hypot(*(xy[ids] - target).T))]))
        if ends[0] == ends[1]:
            continue
        major = cls <= _C["primary"]
        mid = _polyline_nodes(
            xy[ends[0]],
            xy[ends[1]],
            step_m=350.0 if major else 250.0,
            wiggle=0.03 if major else 0.08,
            rng=rng,
        )
        mid_ids = b.add_nodes(mid)
        chain = np.concatenate([[ends[0]], mid_ids, [ends[1]]])
        b.add_edges(chain[:-1], chain[1:], cls)
        if mid_ids.size and not major:
            # Farm tracks off rural lanes.
            for i in np.flatnonzero(rng.random(mid_ids.size) < 0.12).tolist():
                n_sp = int(rng.integers(1, 4))
                ang = rng.uniform(0, 2 * math.pi)
                steps_m = np.arange(1, n_sp + 1)[:, None] * 180.0
                pts = mid[i] + steps_m * np.array([math.cos(ang), math.sin(ang)])
                sp_ids = b.add_nodes(pts)
                sp_chain = np.concatenate([[mid_ids[i]], sp_ids])
                b.add_edges(sp_chain[:-1], sp_chain[1:], _C["service"])

    # Motorway: two oneway carriageways across the county, junctions every ~10 km.
    xy = np.concatenate(b.xy)
    biggest = centres_arr[0]
    ang = rng.uniform(0.3, 1.2)
    axis = np.array([math.cos(ang), math.sin(ang)])
    normal = np.array([-axis[1], axis[0]])
    span = math.hypot(half_w, half_h)
    through = biggest + normal * (radius[0] + 1_500.0)
    ts = np.linspace(-span, span, max(8, round(2 * span / 600.0)))
    ts = ts[
        (np.abs((through + ts[:, None] * axis - centre)[:, 0]) < half_w)
        & (np.abs((through + ts[:, None] * axis - centre)[:, 1]) < half_h)
    ]
    if ts.size >= 8:
        line = through + ts[:, None] * axis
        line += normal * (1_200.0 * np.sin(ts / span * math.pi * 1.3))[:, None]
        carriage_a = b.add_nodes(line + normal * 15.0)
        carriage_b = b.add_nodes(line - normal * 15.0)
        b.add_edges(carriage_a[:-1], carriage_a[1:], _C["motorway"], oneway=True)
        b.add_edges(carriage_b[1:], carriage_b[:-1], _C["motorway"], oneway=True)
        local_xy = xy  # settlements and rural roads only
        local_tree = cKDTree(local_xy)

        def join_local(jxy: FloatArray) -> int:
            junction = int(b.add_nodes(jxy[None, :])[0])
            _, near = local_tree.query(jxy)
            link = _polyline_nodes(jxy, local_xy[int(near)], step_m=300.0, wiggle=0.03, rng=rng)
            chain = np.concatenate([[junction], b.add_nodes(link), [int(near)]])
            b.add_edges(chain[:-1], chain[1:], _C["primary"])
            return junction

        # The motorway ends at a junction at each county edge (where it would leave the
        # county): B's last node comes off there and A starts from it, and the reverse.
        start_j = join_local(line[0] + normal * 350.0)
        end_j = join_local(line[-1] + normal * 350.0)
        b.add_edges(
            np.array([carriage_b[0], start_j, carriage_a[-1], end_j]),
            np.array([start_j, carriage_a[0], end_j, carriage_b[-1]]),
            _C["motorway_link"],
            oneway=True,
        )
        step = max(2, round(10_000.0 / max(1.0, float(ts[1] - ts[0]))))
        for j in range(step, ts.size - step, step):
            junction = join_local(line[j] + normal * 350.0)
            # Slip roads: off carriageway A before the junction, back on after it; B likewise.
            b.add_edges(
                np.array([carriage_a[j - 1], junction, carriage_b[j + 1], junction]),
                np.array([junction, carriage_a[j + 1], junction, carriage_b[j - 1]]),
                _C["motorway_link"],
                oneway=True,
            )

    return _finish(b, rng)


def _finish(b: _Builder, rng: np.random.Generator) -> RoadGraph:
    xy = np.concatenate(b.xy)
    n = xy.shape[0]
    u0 = np.concatenate(b.u)
    v0 = np.concatenate(b.v)
    cls0 = np.concatenate(b.cls)
    ow = np.concatenate(b.oneway)
    kph0 = np.concatenate(b.kph) * rng.uniform(0.9, 1.1, u0.shape[0])
    for _ in range(10):
        u = np.concatenate([u0, v0[~ow]])
        v = np.concatenate([v0, u0[~ow]])
        adj = coo_matrix((np.ones(u.shape[0]), (u, v)), shape=(n, n)).tocsr()
        n_comp, comp = connected_components(adj, directed=True, connection="strong")
        if n_comp == 1:
            break
        big = np.argmax(np.bincount(comp))
        outside = comp != big
        fix = ow & (outside[u0] | outside[v0])
        if not fix.any():
            break
        ow = ow & ~fix
    keep_node = comp == np.argmax(np.bincount(comp))
    u = np.concatenate([u0, v0[~ow]])
    v = np.concatenate([v0, u0[~ow]])
    cls = np.concatenate([cls0, cls0[~ow]])
    kph = np.concatenate([kph0, kph0[~ow]])
    ok = keep_node[u] & keep_node[v] & (u != v)
    u, v, cls, kph = u[ok], v[ok], cls[ok], kph[ok]
    new_id = np.cumsum(keep_node) - 1
    u, v = new_id[u], new_id[v]
    xy = xy[keep_node]
    n = xy.shape[0]
    seg = np.hypot(*(xy[u] - xy[v]).T)
    length = np.maximum(seg * 1.03, 1.0)
    time_s = length / (kph / 3.6)
    order = np.lexsort((time_s, v, u))
    u, v, cls, kph, length, time_s = (a[order] for a in (u, v, cls, kph, length, time_s))
    first = np.ones(u.shape[0], dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, cls, kph, length, time_s = (a[first] for a in (u, v, cls, kph, length, time_s))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    lon, lat = bng_to_lonlat(xy[:, 0], xy[:, 1])
    graph = RoadGraph(
        indptr=indptr,
        indices=v.astype(np.int32),
        travel_time_s=time_s.astype(np.float64),
        length_m=length.astype(np.float64),
        speed_kph=kph.astype(np.float64),
        road_class=cls.astype(np.uint8),
        lon=lon,
        lat=lat,
        x_m=np.ascontiguousarray(xy[:, 0]),
        y_m=np.ascontiguousarray(xy[:, 1]),
        node_osm_id=np.arange(n, dtype=np.int64),
        edge_way_id=np.zeros(u.shape[0], dtype=np.int64),
    )
    log.info(
        "synthetic county: %d nodes, %d edges (%d oneway), %d dropped outside the largest SCC",
        n,
        u.shape[0],
        int(ow.sum()),
        int((~keep_node).sum()),
    )
    return graph
