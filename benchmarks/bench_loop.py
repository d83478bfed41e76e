"""Time from declaring an event to a new plan in force (posture, patrols x2 shifts, ARVs).

Runs the operations room on Rutland (built from ``WATCHFLOOR_DATA_DIR``) and on
the generated county (``synthetic_county``, with a generated site register:
places of worship of several faiths, town centres, crowded places, pubs,
schools and police stations at road nodes). For each graph it times

- ``cold``: the first re-plan of a fresh room (region read from disk, engines,
  the ARV problem and numba functions built) - the "peer" column, since no
  outside package does this loop;
- ``ours``: the median of the next re-plans of the same room (declare an
  event, raise the threat level, declare another event), the loop a duty
  inspector sees.

    python benchmarks/bench_loop.py [--json] [--quick]

With ``--json`` the last line is ``{"cases": [...]}`` (ratio = peer_s / ours_s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from watchfloor.roads.synthetic import synthetic_county
from watchfloor.services import operations as ops
from watchfloor.settings import Settings
from watchfloor.sites.register import SiteRegister, snap_to_graph
from watchfloor.storage.regions import write_region

ACTOR = ops.Actor("bench", frozenset({"supervisor"}))
NOW = datetime(2026, 6, 19, 12, 0, tzinfo=UTC)  # a Friday, 13:00 in London


def county_sites(graph: Any, *, n_sites: int, seed: int = 0) -> SiteRegister:
    """Return a site register of ``n_sites`` sites at random road nodes of a generated county."""
    rng = np.random.default_rng(seed)
    kinds = np.array(
        [
            "place_of_worship",
            "town_centre",
            "crowded_place",
            "nte_venue",
            "school",
            "police_station",
        ]
    )
    weights = np.array([0.3, 0.05, 0.1, 0.37, 0.17, 0.01])  # ~15 police stations in 1,500 sites
    kind = rng.choice(kinds, size=n_sites, p=weights)
    religions = np.array(["christian", "muslim", "jewish", "sikh", "hindu"])
    religion = np.where(
        kind == "place_of_worship",
        rng.choice(religions, size=n_sites, p=[0.7, 0.15, 0.05, 0.05, 0.05]),
        "",
    )
    category = np.where(kind == "nte_venue", "pub", np.where(kind == "town_centre", "town", kind))
    node = rng.choice(graph.n_nodes, size=n_sites, replace=False)
    sites = SiteRegister.from_columns(
        {
            "site_id": [f"n{k}" for k in range(n_sites)],
            "kind": kind.tolist(),
            "category": category.tolist(),
            "name": [f"{k_} {i}" for i, k_ in enumerate(kind.tolist())],
            "religion": religion.tolist(),
            "osm_type": ["node"] * n_sites,
            "lon": graph.lon[node],
            "lat": graph.lat[node],
            "x_m": graph.x_m[node],
            "y_m": graph.y_m[node],
        }
    )
    return snap_to_graph(sites, graph)


def build_homes(root: Path, *, quick: bool) -> list[tuple[str, Settings]]:
    """Return (graph label, settings) for Rutland (when the data is there) and the county."""
    out = []
    data_dir = os.environ.get("WATCHFLOOR_DATA_DIR")
    if data_dir and (Path(data_dir) / "rutland-2022-07-20.osm.pbf").is_file():
        from watchfloor.services.regions import build_region  # noqa: PLC0415 (optional data)

        home = root / "rutland"
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'bench.db'}")
        build_region(
            Path(data_dir) / "rutland-2022-07-20.osm.pbf", name="rutland", settings=settings
        )
        out.append(("rutland", settings))
    else:
        print("WATCHFLOOR_DATA_DIR has no Rutland extract; Rutland skipped", file=sys.stderr)
    n_nodes = 50_000 if quick else 200_000
    graph = synthetic_county(n_nodes, seed=0)
    sites = county_sites(graph, n_sites=400 if quick else 1500)
    home = root / "county"
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'bench.db'}")
    meta = {
        "source_file": "synthetic_county",
        "osm_replication_timestamp": "2020-01-01T00:00:00Z",
        "nodes": graph.n_nodes,
        "edges": graph.n_edges,
        "sites": len(sites),
    }
    write_region(settings.regions_dir / "county", graph=graph, sites=sites, meta=meta)
    out.append((f"synthetic_county_{n_nodes // 1000}k", settings))
    return out


def time_loop(settings: Settings, region: str, *, repeats: int) -> dict[str, Any]:
    """Return the cold and warm declare-to-plan times of one region (seconds)."""
    room = ops.OperationsRoom(settings, clock=lambda: NOW)
    events = [
        ops.EventDeclaration(
            kind="vehicle attack",
            place="Finsbury Park, London",
            at=NOW - timedelta(hours=11, minutes=40),
            targeted_community="muslim",
            threat_level="severe",
            playbook="place-of-worship-attack",
        ),
        ops.EventDeclaration(
            kind="stabbing",
            place="London Bridge",
            at=NOW - timedelta(hours=2),
            targeted_community="none",
            threat_level="severe",
            playbook="night-time-economy-attack",
        ),
    ]
    try:
        cold = room.wait(room.declare_event(region, events[0], actor=ACTOR).job_id, timeout_s=3600)
        if cold["status"] != "done":
            raise RuntimeError(cold["error"])
        warm = []
        steps: list[dict[str, float]] = []
        for k in range(repeats):
            if k % 2 == 0:
                job = room.set_threat_level(region, ("critical", "severe")[k % 4 // 2], actor=ACTOR)
            else:
                job = room.declare_event(region, events[k % 2], actor=ACTOR)
            done = room.wait(job.job_id, timeout_s=3600)
            if done["status"] != "done":
                raise RuntimeError(done["error"])
            warm.append(done["timings_s"]["total"])
            steps.append(done["timings_s"])
    finally:
        room.close()
    return {
        "cold_s": cold["timings_s"]["total"],
        "warm_s": statistics.median(warm),
        "warm_all_s": warm,
        "steps": {k: round(statistics.median(s.get(k, 0.0) for s in steps), 3) for k in steps[0]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the JSON cases last")
    parser.add_argument("--quick", action="store_true", help="smaller county, fewer repeats")
    args = parser.parse_args()
    cases = []
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        for label, settings in build_homes(Path(tmp), quick=args.quick):
            region = "rutland" if label == "rutland" else "county"
            result = time_loop(settings, region, repeats=2 if args.quick else 4)
            ratio = result["cold_s"] / result["warm_s"]
            print(
                f"{label:>24}: declare -> plan {result['warm_s']:.2f} s "
                f"(cold start {result['cold_s']:.2f} s, ratio {ratio:.1f}); "
                f"steps {result['steps']}"
            )
            cases.append(
                {
                    "name": "declare_to_plan",
                    "graph": label,
                    "ours_s": round(result["warm_s"], 3),
                    "peer": "cold_start",
                    "peer_s": round(result["cold_s"], 3),
                    "ratio": round(result["cold_s"] / result["warm_s"], 3),
                    "steps_s": result["steps"],
                    "runs_s": [round(x, 3) for x in result["warm_all_s"]],
                }
            )
    if args.json:
        print(json.dumps({"cases": cases}))


if __name__ == "__main__":
    main()
