"""Travel-time engine against RoutingKit's CCH (two bindings), networkx, igraph and pandana.

Run::

    python benchmarks/bench_traveltime.py [--json] [--quick] [--nodes 200000] [--peers all|cch]

Graphs: real Rutland (built from ``WATCHFLOOR_DATA_DIR`` into a temporary
home) and the deterministic synthetic county (:func:`synthetic_county`).
Every peer gets the same CSR arrays (tails, heads, seconds).

**CCH peers** (``routingkit-cch``, ``pyroutingkit``; ``--peers cch`` runs only
these): everyone gets the same whole-millisecond weights (the peers take
unsigned integers; ours runs on them divided by 1000). Cases:

- ``preprocessing``: order + contraction + first customisation (ours: nested
  dissection in numba, witness-free contraction, basic + perfect customisation;
  peers: RoutingKit's inertial-flow order, CCH, customisation);
- ``customisation``: a full re-customisation on the built order;
- ``one_to_all`` / ``forty_to_all``: ours by PHAST over the customised
  hierarchy, the peers by pinning every node as a target (``CCHOneToMany`` /
  ``distances_many_to_many``);
- ``matrix_100x100`` / ``matrix_1000x1000``: random origins x destinations;
- ``closure_50_arcs``: 50 arcs around one random place set to ``inf``: ours
  ``with_closed_arcs`` (partial basic + partial perfect re-customisation, a new
  engine), the peers' partial update; ``closure_then_100x100`` adds the first
  100 x 100 matrix after it;
- ``peak_memory``: MiB added by building the hierarchy and running forty_to_all,
  each library in a fresh child process (see below).

Ours is checked against scipy's Dijkstra (before and after the closure) and
every peer against ours, to 1e-6 s, before a time is reported. Query times
are the best of 5 runs (3 for the 1,000 x 1,000 matrix) for everyone.

**Dijkstra peers** (``--peers all``, the default, adds them):

- ``build``: our region build from the Rutland PBF against pyrosm / osmnx
  loading the same PBF (skipped with a note when they are not installed);
- ``one_to_all``: one source to every node (median of several sources);
- ``forty_to_all``: 40 sources to every node. Ours answers both by PHAST
  sweeps over the hierarchy; our plain Dijkstra time is in the ``note``;
- ``matrix_100x100`` / ``matrix_1000x1000``: ours from the hierarchy (built once
  per graph and cached in the region folder in normal use; its build time is
  in the row's ``note``). Where a peer would need minutes (networkx on big
  matrices), it runs a sample of the sources and is scaled up, marked
  ``extrapolated``;
- ``peak_memory``: resident memory (MiB) added by loading the graph into
  each library and running ``forty_to_all``, measured in a fresh child
  process per library (peak RSS minus the RSS after the arrays are
  loaded: VmHWM - VmRSS from /proc/self/status; networkx runs 4 of the
  40 sources; our compiled kernels are loaded before the baseline, their
  fixed ~20 MiB is not counted). Its ``ours_s`` / ``peer_s`` fields hold MiB, not seconds.

Every answer is checked against ours (to 1e-6 s; pandana keeps float32
weights and is checked to 1 s) before its time is reported. The last line
with ``--json`` is ``{"cases": [...]}`` with ``ratio = peer_s / ours_s``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import igraph as ig
import networkx as nx
import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

from watchfloor.roads.graph import RoadGraph
from watchfloor.roads.synthetic import synthetic_county
from watchfloor.services.regions import build_region
from watchfloor.settings import Settings
from watchfloor.traveltime import TravelTimeEngine

console = Console(stderr=True)
RUTLAND_PBF = "rutland-2022-07-20.osm.pbf"


def timed(fn: Callable[[], Any], *, repeat: int = 1) -> tuple[float, Any]:
    """Return (best seconds of ``repeat`` runs, last result)."""
    best, out = math.inf, None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def check(name: str, got: np.ndarray, want: np.ndarray, *, atol: float = 1e-6) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape or not np.array_equal(np.isinf(got), np.isinf(want)):
        raise SystemExit(f"{name}: shapes or unreachable pairs differ from ours")
    fin = np.isfinite(want)
    err = float(np.abs(got[fin] - want[fin]).max()) if fin.any() else 0.0
    if err > atol:
        raise SystemExit(f"{name}: differs from ours by {err:.3g} s")


def reference_rows(
    ip: np.ndarray, ix: np.ndarray, w: np.ndarray, sources: np.ndarray
) -> np.ndarray:
    """Return scipy's plain Dijkstra rows (closed ``inf`` arcs dropped, parallel arcs: lightest)."""
    n = ip.shape[0] - 1
    tails = np.repeat(np.arange(n), np.diff(ip))
    keep = np.isfinite(w) & (tails != ix)
    t, h, x = tails[keep], ix[keep].astype(np.int64), np.where(w[keep] > 0, w[keep], 1e-12)
    order = np.lexsort((x, h, t))
    t, h, x = t[order], h[order], x[order]
    first = np.ones(t.shape[0], dtype=bool)
    first[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
    mat = csr_matrix((x[first], (t[first], h[first])), shape=(n, n))
    return np.asarray(scipy_dijkstra(mat, indices=sources))


# ----------------------------------------------------------------------------- peers


class NetworkxPeer:
    name = "networkx"

    def __init__(self, tails: np.ndarray, heads: np.ndarray, w: np.ndarray, n: int) -> None:
        self.nx = nx
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        # Parallel edges: keep the lightest (as a CSR Dijkstra effectively does).
        order = np.argsort(-w, kind="stable")
        g.add_weighted_edges_from(
            zip(tails[order].tolist(), heads[order].tolist(), w[order].tolist(), strict=True)
        )
        self.g = g
        self.n = n

    def rows(self, sources: np.ndarray, targets: np.ndarray | None) -> np.ndarray:
        cols = np.arange(self.n) if targets is None else targets
        out = np.full((len(sources), len(cols)), np.inf)
        for i, s in enumerate(sources.tolist()):
            d = self.nx.single_source_dijkstra_path_length(self.g, s, weight="weight")
            out[i] = [d.get(int(t), np.inf) for t in cols]
        return out


class IgraphPeer:
    name = "igraph"

    def __init__(self, tails: np.ndarray, heads: np.ndarray, w: np.ndarray, n: int) -> None:
        self.g = ig.Graph(n=n, edges=np.column_stack([tails, heads]).tolist(), directed=True)
        self.w = w.tolist()
        self.n = n

    def rows(self, sources: np.ndarray, targets: np.ndarray | None) -> np.ndarray:
        kwargs: dict[str, Any] = {"source": sources.tolist(), "weights": self.w, "mode": "out"}
        if targets is None:
            return np.array(self.g.distances(**kwargs), dtype=float)
        # igraph refuses repeated targets: ask for each once, then spread the columns.
        unique, back = np.unique(targets, return_inverse=True)
        kwargs["target"] = unique.tolist()
        return np.array(self.g.distances(**kwargs), dtype=float)[:, back]


class PandanaPeer:
    name = "pandana"

    def __init__(
        self,
        tails: np.ndarray,
        heads: np.ndarray,
        w: np.ndarray,
        n: int,
        x: np.ndarray,
        y: np.ndarray,
    ) -> None:
        pandana = importlib.import_module("pandana")
        pd = importlib.import_module("pandas")
        t0 = time.perf_counter()
        self.net = pandana.Network(
            pd.Series(x, index=np.arange(n)),
            pd.Series(y, index=np.arange(n)),
            pd.Series(tails.astype(np.int64)),
            pd.Series(heads.astype(np.int64)),
            pd.DataFrame({"w": w}),
            twoway=False,
        )
        self.build_s = time.perf_counter() - t0

    def matrix(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        o = np.repeat(sources, len(targets))
        d = np.tile(targets, len(sources))
        lengths = np.asarray(self.net.shortest_path_lengths(o, d), dtype=float)
        return lengths.reshape(len(sources), len(targets))


# ----------------------------------------------------------------------------- memory


def _status_mib(field: str) -> float:
    """Return a memory field of /proc/self/status (VmRSS now, VmHWM peak) in MiB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return math.nan


def _tiny_graph() -> RoadGraph:
    two = np.zeros(2)
    return RoadGraph(
        indptr=np.array([0, 1, 2], dtype=np.int64),
        indices=np.array([1, 0], dtype=np.int32),
        travel_time_s=np.ones(2),
        length_m=np.ones(2),
        speed_kph=np.ones(2),
        road_class=np.zeros(2, dtype=np.uint8),
        lon=two,
        lat=two,
        x_m=np.array([0.0, 1.0]),
        y_m=two,
        node_osm_id=np.arange(2, dtype=np.int64),
        edge_way_id=np.zeros(2, dtype=np.int64),
    )


def memory_child(library: str, path: str) -> None:
    """Child process: load arrays, then build + forty_to_all in ``library``; print MiB added."""
    z = np.load(path)
    tails, heads, w, n = z["tails"], z["heads"], z["w"], int(z["n"])
    indptr, x, y = z["indptr"], z["x"], z["y"]
    # The libraries are imported at the top, and our compiled kernels are loaded from
    # numba's cache by a run on a 2-node graph: only what the graph itself costs is counted.
    if library.startswith("ours"):
        tiny = TravelTimeEngine(_tiny_graph())
        tiny.many_to_all(np.array([0, 1]))
        tiny.hierarchy()
        tiny.many_to_all(np.array([0, 1]))

    base = _status_mib("VmRSS")
    sources = np.linspace(0, n - 1, 40).astype(np.int64)
    if library.startswith("ours"):
        zeros = np.zeros(n)
        graph = RoadGraph(
            indptr=indptr,
            indices=heads.astype(np.int32),
            travel_time_s=w,
            length_m=w,
            speed_kph=np.ones_like(w),
            road_class=np.zeros(w.shape[0], dtype=np.uint8),
            lon=zeros,
            lat=zeros,
            x_m=x,
            y_m=y,
            node_osm_id=np.arange(n, dtype=np.int64),
            edge_way_id=np.zeros(w.shape[0], dtype=np.int64),
        )
        engine = TravelTimeEngine(graph)
        if library == "ours-cch":
            engine.hierarchy()
        engine.many_to_all(sources)
    elif library in CCH_PEERS:
        lonlat = {"lat": z["lat"], "lon": z["lon"]}
        ghost = type("G", (), {"n_nodes": n, **lonlat})()
        peer = CCH_PEERS[library](tails, heads, integer_ms(w), ghost)
        peer.matrix(sources, np.arange(n))
    elif library == "networkx":
        NetworkxPeer(tails, heads, w, n).rows(sources[:4], None)
    else:
        IgraphPeer(tails, heads, w, n).rows(sources, None)
    # VmHWM starts afresh at exec (ru_maxrss would carry the parent's peak over).
    peak = _status_mib("VmHWM")
    print(json.dumps({"mib": peak - base}))


def measure_memory(library: str, path: str) -> float:
    # Warm numba's on-disk cache in this process first, so the child does not compile.
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", library, path],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["mib"])


# ----------------------------------------------------------------------------- cases


class Cases:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        name: str,
        graph: str,
        ours_s: float,
        peer: str,
        peer_s: float | None,
        *,
        note: str = "",
    ) -> None:
        ratio = None if peer_s is None or ours_s <= 0 else peer_s / ours_s
        row: dict[str, Any] = {
            "name": name,
            "graph": graph,
            "ours_s": round(ours_s, 6),
            "peer": peer,
            "peer_s": None if peer_s is None else round(peer_s, 6),
            "ratio": None if ratio is None else round(ratio, 2),
        }
        if note:
            row["note"] = note
        self.rows.append(row)
        shown = "skipped" if peer_s is None else f"{peer_s:.4g}"
        console.log(f"{graph} {name}: ours {ours_s:.4g}, {peer} {shown}")


def bench_graph(cases: Cases, label: str, graph: RoadGraph, *, quick: bool, mem_dir: Path) -> None:
    engine = TravelTimeEngine(graph)
    ip, ix, w = engine.csr()
    n = engine.n_nodes
    tails = np.repeat(np.arange(n), np.diff(ip))
    heads = ix.astype(np.int64)
    rng = np.random.default_rng(42)
    console.log(f"[bold]{label}[/]: {n:,} nodes, {engine.n_edges:,} edges")
    engine.one_to_all(0)  # compile (numba caches on disk after the first run)
    engine.many_to_all(np.array([0, 1]))
    engine.matrix([0, 1], [2, 3], method="dijkstra")

    t_ch, ch = timed(engine.hierarchy)
    ch_note = f"hierarchy built once in {t_ch:.1f} s ({ch.n_shortcuts:,} shortcuts), then cached"
    console.log(ch_note)
    engine.matrix([0, 1], [2, 3], method="ch")

    t_nx_build, nxp = timed(lambda: NetworkxPeer(tails, heads, w, n))
    t_ig_build, igp = timed(lambda: IgraphPeer(tails, heads, w, n))
    console.log(f"peers loaded: networkx {t_nx_build:.1f} s, igraph {t_ig_build:.1f} s")
    pandana_peer = None
    if importlib.util.find_spec("pandana") is not None:
        pandana_peer = PandanaPeer(tails, heads, w, n, graph.x_m, graph.y_m)
        console.log(f"pandana network (its own hierarchy) built in {pandana_peer.build_s:.1f} s")

    big = n > 50_000
    # one_to_all
    srcs = rng.integers(0, n, 3 if quick else 7)
    ours_times = [timed(lambda s=s: engine.one_to_all(int(s)), repeat=2)[0] for s in srcs]
    ours = float(np.median(ours_times))
    want = engine.one_to_all(int(srcs[0]))
    plain = TravelTimeEngine(graph)  # no hierarchy: Dijkstra
    plain_times = [timed(lambda s=s: plain.one_to_all(int(s)), repeat=2)[0] for s in srcs]
    check("ours Dijkstra one_to_all", plain.one_to_all(int(srcs[0])), want)
    one_note = f"PHAST over the hierarchy; our Dijkstra: {float(np.median(plain_times)):.4f} s"
    t, got = timed(lambda: nxp.rows(srcs[:1], None))
    check("networkx one_to_all", got[0], want)
    cases.add("one_to_all", label, ours, "networkx", t, note=one_note)
    t, got = timed(lambda: igp.rows(srcs[:1], None), repeat=3)
    check("igraph one_to_all", got[0], want)
    cases.add("one_to_all", label, ours, "igraph", t, note=one_note)

    # forty_to_all
    forty = rng.integers(0, n, 40)
    ours, want40 = timed(lambda: engine.many_to_all(forty), repeat=2)
    t_plain, _ = timed(lambda: plain.many_to_all(forty))
    forty_note = f"PHAST, 2 threads; our Dijkstra: {t_plain:.3f} s"
    k_nx = 4 if big or quick else 40
    t, got = timed(lambda: nxp.rows(forty[:k_nx], None))
    check("networkx forty_to_all", got, want40[:k_nx])
    note = f"extrapolated from {k_nx} sources; " if k_nx < 40 else ""
    cases.add("forty_to_all", label, ours, "networkx", t * 40 / k_nx, note=note + forty_note)
    t, got = timed(lambda: igp.rows(forty, None))
    check("igraph forty_to_all", got, want40)
    cases.add("forty_to_all", label, ours, "igraph", t, note=forty_note)

    # matrices
    for size in (100, 1000):
        name = f"matrix_{size}x{size}"
        src = rng.integers(0, n, size)
        tgt = rng.integers(0, n, size)
        ours, mat = timed(lambda src=src, tgt=tgt: engine.matrix(src, tgt, method="ch"), repeat=3)
        ref_k = min(size, 20)
        check(
            f"ours {name} vs Dijkstra",
            mat[:ref_k],
            engine.matrix(src[:ref_k], tgt, method="dijkstra"),
        )
        k_nx = size if (not big and not quick and size <= 100) else (10 if size <= 100 else 20)
        k_nx = min(k_nx, size)
        t, got = timed(lambda src=src, tgt=tgt, k=k_nx: nxp.rows(src[:k], tgt))
        check(f"networkx {name}", got, mat[:k_nx])
        note = f"extrapolated from {k_nx} sources; " if k_nx < size else ""
        cases.add(name, label, ours, "networkx", t * size / k_nx, note=note + ch_note)
        k_ig = size if (size <= 100 or not big) and not quick else min(size, 100)
        t, got = timed(lambda src=src, tgt=tgt, k=k_ig: igp.rows(src[:k], tgt))
        check(f"igraph {name}", got, mat[:k_ig])
        note = f"extrapolated from {k_ig} sources; " if k_ig < size else ""
        cases.add(name, label, ours, "igraph", t * size / k_ig, note=note + ch_note)
        if pandana_peer is not None:
            k_pd = size if size <= 100 or not quick else 100
            t, got = timed(lambda src=src, tgt=tgt, k=k_pd: pandana_peer.matrix(src[:k], tgt))
            check(f"pandana {name}", got, mat[:k_pd], atol=1.0)
            note = f"extrapolated from {k_pd} sources; " if k_pd < size else ""
            cases.add(
                name,
                label,
                ours,
                "pandana",
                t * size / k_pd,
                note=note
                + f"pandana hierarchy built in {pandana_peer.build_s:.1f} s; float32 weights; "
                + ch_note,
            )

    # peak memory, each library in its own process
    path = mem_dir / f"{label}.npz"
    np.savez(path, tails=tails, heads=heads, w=w, n=n, indptr=ip, x=graph.x_m, y=graph.y_m)
    ours_mib = measure_memory("ours", str(path))
    for peer in ("networkx", "igraph"):
        cases.add(
            "peak_memory",
            label,
            ours_mib,
            peer,
            measure_memory(peer, str(path)),
            note="MiB added (RSS) by loading the graph and running forty_to_all"
            + (" (networkx: 4 sources)" if peer == "networkx" else ""),
        )


# ----------------------------------------------------------------------------- CCH peers

#: RoutingKit's "no arc" weight (both bindings): a closed arc gets it.
RK_INF = 2**31 - 1


def integer_ms(w: np.ndarray) -> np.ndarray:
    """Return the weights in whole milliseconds (the CCH peers take unsigned integers)."""
    return np.round(np.asarray(w, dtype=float) * 1000.0).astype(np.int64)


class RoutingKitCchPeer:
    """``routingkit-cch`` (Rust/C++ bindings of RoutingKit's CCH): lists in, lists out."""

    name = "routingkit-cch"

    def __init__(self, tails: np.ndarray, heads: np.ndarray, w_ms: np.ndarray, graph: RoadGraph):
        rkc = importlib.import_module("routingkit_cch")
        self.rkc = rkc
        n = graph.n_nodes
        t0 = time.perf_counter()
        tl, hl = tails.tolist(), heads.tolist()
        order = rkc.compute_order_inertial(n, tl, hl, graph.lat.tolist(), graph.lon.tolist())
        self.cch = rkc.CCH(order, tl, hl, False)
        t1 = time.perf_counter()
        self.metric = rkc.CCHMetric(self.cch, w_ms.tolist())
        t2 = time.perf_counter()
        self.order_s, self.customise_s = t1 - t0, t2 - t1
        self.n = n

    def recustomise(self, w_ms: np.ndarray) -> float:
        t0 = time.perf_counter()
        self.metric.reset(w_ms.tolist())
        return time.perf_counter() - t0

    def close(self, arcs: np.ndarray) -> float:
        t0 = time.perf_counter()
        updater = self.rkc.CCHMetricPartialUpdater(self.cch)
        updater.apply(self.metric, {int(a): RK_INF for a in arcs})
        return time.perf_counter() - t0

    def matrix(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        otm = self.rkc.CCHOneToMany(self.metric, targets.tolist())
        rows = [otm.distances_from(int(s)) for s in sources.tolist()]
        del otm
        out = np.array([[np.inf if d is None else d for d in r] for r in rows], dtype=float)
        return out / 1000.0


class PyRoutingKitPeer:
    """``pyroutingkit`` (pybind11 bindings of RoutingKit's CCH): numpy in, numpy out."""

    name = "pyroutingkit"

    def __init__(self, tails: np.ndarray, heads: np.ndarray, w_ms: np.ndarray, graph: RoadGraph):
        prk = importlib.import_module("pyroutingkit")
        self.prk = prk
        n = graph.n_nodes
        t0 = time.perf_counter()
        self.topo = prk.CCHTopology()
        self.topo.build(
            tails.astype(np.uint32),
            heads.astype(np.uint32),
            graph.lat.astype(np.float32),
            graph.lon.astype(np.float32),
            n,
        )
        t1 = time.perf_counter()
        self.metric = prk.CCHMetric(self.topo)
        self.metric.customize(w_ms.astype(np.uint32))
        t2 = time.perf_counter()
        self.order_s, self.customise_s = t1 - t0, t2 - t1
        self.n = n

    def recustomise(self, w_ms: np.ndarray) -> float:
        t0 = time.perf_counter()
        self.metric.customize(w_ms.astype(np.uint32))
        return time.perf_counter() - t0

    def close(self, arcs: np.ndarray) -> float:
        t0 = time.perf_counter()
        self.metric.update_weights(
            arcs.astype(np.uint32), np.full(arcs.shape[0], self.prk.INF_WEIGHT, dtype=np.uint32)
        )
        return time.perf_counter() - t0

    def matrix(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        got = self.metric.distances_many_to_many(
            sources.astype(np.uint32), targets.astype(np.uint32)
        )
        got = np.asarray(got)
        return np.where(got >= self.prk.INF_WEIGHT, np.inf, got / 1000.0)


CCH_PEERS = {"routingkit-cch": RoutingKitCchPeer, "pyroutingkit": PyRoutingKitPeer}


def cordon_arcs(graph: RoadGraph, k: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``k`` arcs around one random place, as a cordon closes them."""
    centre = int(rng.integers(0, graph.n_nodes))
    tails = graph.edge_tails()
    mid_x = (graph.x_m[tails] + graph.x_m[graph.indices]) / 2
    mid_y = (graph.y_m[tails] + graph.y_m[graph.indices]) / 2
    d = np.hypot(mid_x - graph.x_m[centre], mid_y - graph.y_m[centre])
    return np.sort(np.argsort(d, kind="stable")[:k]).astype(np.int64)


def bench_cch_peers(
    cases: Cases, label: str, graph: RoadGraph, *, quick: bool, mem_dir: Path
) -> None:
    """Ours against the RoutingKit CCH bindings, all on the same whole-millisecond weights."""
    available = [p for p in CCH_PEERS if importlib.util.find_spec(p.replace("-", "_"))]
    if not available:
        console.log("routingkit-cch / pyroutingkit not installed (pip install -e '.[bench]')")
        return
    w_ms = integer_ms(graph.travel_time_s)
    engine = TravelTimeEngine(graph, weights=w_ms / 1000.0)
    ip, ix, w = engine.csr()
    n = engine.n_nodes
    tails = np.repeat(np.arange(n), np.diff(ip))
    heads = ix.astype(np.int64)
    rng = np.random.default_rng(7)
    engine.matrix([0, 1], [2, 3], method="dijkstra")  # compile before timing
    tiny = TravelTimeEngine(_tiny_graph())
    tiny.hierarchy()
    tiny.with_closed_arcs([0]).matrix([0], [1])

    t_pre, ch = timed(engine.hierarchy)
    topo_s, cust_s = ch.topology.build_s, ch.customise_s
    t_cust, _ = timed(lambda: ch.topology.customise(w), repeat=2)
    peers: dict[str, Any] = {}
    for name in available:
        peer = CCH_PEERS[name](tails, heads, w_ms, graph)
        peers[name] = peer
        note = (
            f"ours: order+contraction {topo_s:.2f} s + customisation {cust_s:.2f} s; "
            f"{name}: order+contraction {peer.order_s:.2f} s + "
            f"customisation {peer.customise_s:.2f} s"
        )
        cases.add("preprocessing", label, t_pre, name, peer.order_s + peer.customise_s, note=note)
        t_peer = min(peer.recustomise(w_ms) for _ in range(2))
        cases.add("customisation", label, t_cust, name, t_peer, note="full re-customisation")

    every = np.arange(n, dtype=np.int64)
    one = rng.integers(0, n, 1)
    forty = rng.integers(0, n, 40)
    sizes = (100,) if quick else (100, 1000)
    queries: list[tuple[str, np.ndarray, np.ndarray, str]] = [
        ("one_to_all", one, every, "ours PHAST; peers pin all nodes as targets"),
        ("forty_to_all", forty, every, "ours PHAST; peers pin all nodes as targets"),
    ]
    for size in sizes:
        queries.append(
            (f"matrix_{size}x{size}", rng.integers(0, n, size), rng.integers(0, n, size), "")
        )
    results: dict[str, np.ndarray] = {}
    for name, src, tgt, note in queries:

        def fn(src: np.ndarray = src, tgt: np.ndarray = tgt) -> np.ndarray:
            if tgt is every:
                return engine.many_to_all(src)
            return engine.matrix(src, tgt, method="ch")

        rep = 3 if name == "matrix_1000x1000" else 5
        ours, want = timed(fn, repeat=rep)
        results[name] = want
        ref = reference_rows(ip, ix, w, src[: min(5, src.shape[0])])
        check(f"ours {name} vs scipy", want[: ref.shape[0]], ref[:, tgt])
        for pname, peer in peers.items():
            t, got = timed(lambda peer=peer, src=src, tgt=tgt: peer.matrix(src, tgt), repeat=rep)
            check(f"{pname} {name}", got, want)
            cases.add(name, label, ours, pname, t, note=note)

    # A closure of 50 arcs around one place: re-customise, then the same 100 x 100 matrix.
    arcs = cordon_arcs(graph, 50, rng)
    src, tgt = rng.integers(0, n, 100), rng.integers(0, n, 100)
    engine.with_closed_arcs(cordon_arcs(graph, 5, rng)).matrix([0], [1])  # load the kernels
    t_close, closed = timed(lambda: engine.with_closed_arcs(arcs), repeat=3)
    t_query, want = timed(lambda: closed.matrix(src, tgt, method="ch"))
    keep = np.ones(w.shape[0], dtype=bool)
    keep[arcs] = False
    w_closed = np.where(keep, w, np.inf)
    ref = reference_rows(ip, ix, w_closed, src[:5])[:, tgt]
    check("ours after closure vs Dijkstra", want[:5], ref)
    for pname, peer in peers.items():
        t_peer = peer.close(arcs)
        t_peer_query, got = timed(lambda peer=peer: peer.matrix(src, tgt))
        check(f"{pname} after closure", got, want)
        cases.add(
            "closure_50_arcs",
            label,
            t_close,
            pname,
            t_peer,
            note=(
                "ours: with_closed_arcs (partial re-customisation "
                f"{closed.hierarchy().customise_s:.3f} s); peer: its partial update"
            ),
        )
        cases.add(
            "closure_then_100x100",
            label,
            t_close + t_query,
            pname,
            t_peer + t_peer_query,
            note="declared closure to a 100 x 100 matrix of new travel times",
        )

    path = mem_dir / f"{label}-ms.npz"
    np.savez(
        path,
        tails=tails,
        heads=heads,
        w=w,
        n=n,
        indptr=ip,
        x=graph.x_m,
        y=graph.y_m,
        lat=graph.lat,
        lon=graph.lon,
    )
    ours_mib = measure_memory("ours-cch", str(path))
    for pname in peers:
        cases.add(
            "peak_memory",
            label,
            ours_mib,
            pname,
            measure_memory(pname, str(path)),
            note="MiB added (RSS) by building the hierarchy and running forty_to_all",
        )


def bench_build(cases: Cases, data_dir: Path | None, *, peers: bool = True) -> RoadGraph | None:
    """Build Rutland with ours (and load it with pyrosm/osmnx when installed); return its graph."""
    if data_dir is None or not (data_dir / RUTLAND_PBF).is_file():
        console.log("WATCHFLOOR_DATA_DIR does not hold the Rutland extract: skipping Rutland")
        return None
    pbf = data_dir / RUTLAND_PBF
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), data_dir=data_dir)
        build_region(pbf, name="warmup", settings=settings)
        t, region = timed(lambda: build_region(pbf, name="rutland", settings=settings))
    note = f"{region.graph.n_nodes:,} nodes, {len(region.sites):,} sites"
    if not peers:
        return region.graph
    if importlib.util.find_spec("pyrosm") is not None:
        pyrosm = importlib.import_module("pyrosm")

        def load() -> Any:
            osm = pyrosm.OSM(str(pbf))
            return osm.get_network(network_type="driving", nodes=True)

        peer_t, _ = timed(load)
        cases.add("build", "rutland", t, "pyrosm", peer_t, note=note)
    elif importlib.util.find_spec("osmnx") is not None:
        ox = importlib.import_module("osmnx")
        peer_t, _ = timed(lambda: ox.graph_from_xml(str(pbf)))
        cases.add("build", "rutland", t, "osmnx", peer_t, note=note)
    else:
        console.log(
            f"build: ours {t:.2f} s ({note}); pyrosm/osmnx not installed "
            "(pip install -e '.[bench]'): no peer row"
        )
    return region.graph


def print_table(cases: Cases) -> None:
    table = Table(
        title="Travel times: ours vs peers (ratio = peer / ours; higher is better for us)"
    )
    for col in ("case", "graph", "ours", "peer", "peer value", "ratio", "note"):
        table.add_column(
            col, justify="left" if col in ("case", "graph", "peer", "note") else "right"
        )
    for r in cases.rows:
        unit = " MiB" if r["name"] == "peak_memory" else " s"
        table.add_row(
            r["name"],
            r["graph"],
            f"{r['ours_s']:.4g}{unit}",
            r["peer"],
            "-" if r["peer_s"] is None else f"{r['peer_s']:.4g}{unit}",
            "-" if r["ratio"] is None else f"{r['ratio']:.1f}x",
            r.get("note", "").split(";")[0] if "extrapolated" in r.get("note", "") else "full",
        )
    Console(width=140).print(table)
    ch_notes = {
        r["note"].split("; ")[-1] for r in cases.rows if "hierarchy built once" in r.get("note", "")
    }
    for note in sorted(ch_notes):
        Console(width=140).print(f"ours, matrices: {note}")
    Console(width=140).print("peak_memory values are MiB (RSS added), not seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the JSON cases last")
    parser.add_argument("--quick", action="store_true", help="small synthetic graph, fewer runs")
    parser.add_argument("--nodes", type=int, default=200_000, help="synthetic graph size")
    parser.add_argument("--no-rutland", action="store_true", help="skip the Rutland graph")
    parser.add_argument(
        "--peers",
        choices=("all", "cch"),
        default="all",
        help="all peers, or only the CCH peers (routingkit-cch, pyroutingkit)",
    )
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    cases = Cases()
    data = os.environ.get("WATCHFLOOR_DATA_DIR")
    nodes = 20_000 if args.quick else args.nodes
    with tempfile.TemporaryDirectory() as tmp:
        graphs: list[tuple[str, RoadGraph]] = []
        if not args.no_rutland:
            rutland = bench_build(cases, Path(data) if data else None, peers=args.peers == "all")
            if rutland is not None:
                graphs.append(("rutland", rutland))
        t, county = timed(lambda: synthetic_county(nodes, seed=0))
        console.log(f"synthetic county of {county.n_nodes:,} nodes generated in {t:.1f} s")
        graphs.append((f"synthetic-{round(county.n_nodes / 1000)}k", county))
        for label, graph in graphs:
            if args.peers == "all":
                bench_graph(cases, label, graph, quick=args.quick, mem_dir=Path(tmp))
            bench_cch_peers(cases, label, graph, quick=args.quick, mem_dir=Path(tmp))
    print_table(cases)
    if args.json:
        print(json.dumps({"cases": cases.rows}))


if __name__ == "__main__":
    main()
