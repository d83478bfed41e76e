"""Tension monitoring: exactness, detection quality, real history and speed.

Run ``python benchmarks/bench_tension.py [--json] [--quick]`` with
``WATCHFLOOR_DATA_DIR`` pointing at the shared data folder.

Sections
--------
1. Exactness: SaTScan's NYCfever sample against SaTScan's published result.
2. Detection on real background: the last 12 months of Bedfordshire
   street-level incidents (public order, violence, criminal damage, ASB) by
   LSOA, spread uniformly over the days of each month (data.police.uk gives
   months only), with clusters injected at known places, sizes, starts and
   strengths. Daily prospective analyses; an alarm is a scan cluster with a
   recurrence interval of at least 30 days (p <= 1/30 with daily analyses),
   an EARS C2 alarm (alpha 0.001) in an area, or a plain Poisson threshold
   (7-day count above the 0.999 quantile of 7 x the previous 28-day mean) in
   an area. Power (by the end of the cluster, and within 3 days), median days
   to detection and false alarms per year on days without injection.
3. Real history: the national monthly racially or religiously aggravated
   offences series and the London borough Islamophobic series: whether and
   when March and June 2017 are flagged.
4. Speed: prospective space-time permutation scans of 1,000 and 5,000 areas x
   365 days x 999 replicates (max 7 days, max 50 % of cases), EARS C2 over
   1,000 x 365, scaling with areas, days and replicates. SaTScan's and R's
   figures are quoted from the issue (SaTScan and R are not installed here),
   marked ``quoted``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import poisson

from watchfloor.ingest.areas import areas_from_geojson, assign_points
from watchfloor.ingest.policeuk import read_street_crime
from watchfloor.tension.baseline import farrington
from watchfloor.tension.charts import ears
from watchfloor.tension.scan import chord_distance_km, space_time_permutation_scan

SATSCAN_QUOTED_S = {"1000x365": 2.8, "5000x365": 12.5, "retrospective 1000x365": 68.7}
R_EARS_QUOTED_S = 5.1

CASES: list[dict[str, Any]] = []


def say(text: str) -> None:
    print(text, flush=True)


def add_case(name: str, graph: str, ours_s: float, peer: str, peer_s: float | None) -> None:
    ratio = (peer_s / ours_s) if peer_s and ours_s > 0 else None
    CASES.append(
        {
            "name": name,
            "graph": graph,
            "ours_s": round(ours_s, 4),
            "peer": peer,
            "peer_s": peer_s,
            "ratio": None if ratio is None else round(ratio, 3),
        }
    )
    r = "-" if ratio is None else f"{ratio:.2f}"
    p = "-" if peer_s is None else f"{peer_s:.2f} s"
    say(f"  {name:<52} ours {ours_s:8.3f} s   {peer}: {p:>9}   ratio {r}")


def data_dir() -> Path:
    value = os.environ.get("WATCHFLOOR_DATA_DIR")
    if not value or not Path(value).is_dir():
        sys.exit("set WATCHFLOOR_DATA_DIR to the shared data folder")
    return Path(value)


# --------------------------------------------------------------------------- 1


def exactness(root: Path, *, replicates: int) -> None:
    say(
        "\n1. Exactness on SaTScan's NYCfever sample (published: 9 locations, "
        "2001/11/22-24, 4 obs vs 0.67 exp, LLR 3.845418, p 0.22-0.24)"
    )
    folder = root / "satscan-nycfever"
    geo = [ln.split() for ln in (folder / "NYCfever.geo").read_text().splitlines() if ln]
    cas = [ln.split() for ln in (folder / "NYCfever.cas").read_text().splitlines() if ln]
    ids = [g[0] for g in geo]
    idx = {k: i for i, k in enumerate(ids)}
    lon = np.array([float(g[2]) for g in geo])
    lat = np.array([float(g[1]) for g in geo])
    start = date(2001, 11, 1)
    loc = [idx[c[0]] for c in cas]
    day = [(date(*map(int, c[2].split("/"))) - start).days for c in cas]
    dist = chord_distance_km(lon, lat)
    ps = []
    for seed in range(5):
        t0 = time.perf_counter()
        res = space_time_permutation_scan(
            loc,
            day,
            dist,
            n_days=24,
            max_days=7,
            max_share=0.5,
            max_radius_km=3.0,
            min_cases=2,
            replicates=replicates,
            rng=np.random.default_rng(seed),
            case_count=[int(c[1]) for c in cas],
        )
        el = time.perf_counter() - t0
        top = res.clusters[0]
        ps.append(top.p_value)
    say(f"  ours: {[ids[i] for i in top.locations]}")
    say(
        f"  window day {top.start_day}..{top.end_day}, observed {top.observed}, expected "
        f"{top.expected:.4f}, LLR {top.llr:.6f}, radius {top.radius_km:.2f} km"
    )
    say(
        f"  p-values over 5 seeds ({replicates} replicates): {', '.join(f'{p:.3f}' for p in ps)}"
        f"; recurrence {1 / np.mean(ps):.1f} days"
    )
    say(f"  |LLR - 3.845418| = {abs(top.llr - 3.845418):.2e}")
    say(
        f"  clusters listed (last seed): {len(res.clusters)} (SaTScan: 3), LLRs "
        f"{', '.join(f'{c.llr:.3f}' for c in res.clusters)}"
    )
    add_case("NYCfever prospective STP (192 loc x 24 d)", "nycfever", el, "SaTScan", None)


# --------------------------------------------------------------------------- 2


def bedfordshire_daily(root: Path, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(381 x 366) daily counts 2023-05-01..2024-04-30 and the LSOA distance matrix."""
    inc = read_street_crime(root / "bedfordshire-street-crime-2021-05_2024-04.csv.gz")
    areas = areas_from_geojson(root / "bedfordshire-lsoa2011.geojson.gz")
    a = assign_points(areas, inc.lon, inc.lat)
    first = np.datetime64("2023-05-01")
    keep = (inc.day >= first) & (a >= 0)
    months = inc.day[keep]
    # data.police.uk gives months only: spread each incident over the days of its month
    month_len = ((months.astype("datetime64[M]") + 1).astype("datetime64[D]") - months).astype(int)
    days = (months - first).astype(int) + (rng.random(months.size) * month_len).astype(int)
    counts = np.zeros((len(areas), 366), dtype=np.int64)
    np.add.at(counts, (a[keep], days), 1)
    return counts, chord_distance_km(areas.lon, areas.lat)


def _poisson_threshold_alarm(counts: np.ndarray, t: int) -> np.ndarray:
    recent = counts[:, t - 6 : t + 1].sum(axis=1)
    base = counts[:, t - 34 : t - 6].mean(axis=1) * 7
    return recent > poisson.ppf(0.999, np.maximum(base, 0.1))


def _scan_alarm(
    counts: np.ndarray, dist: np.ndarray, t: int, *, history: int, replicates: int, seed: int
) -> list[np.ndarray]:
    window = counts[:, t - history + 1 : t + 1]
    z, d = np.nonzero(window)
    res = space_time_permutation_scan(
        z,
        d,
        dist,
        n_days=history,
        max_days=7,
        max_share=0.5,
        max_radius_km=5.0,
        min_cases=2,
        replicates=replicates,
        rng=np.random.default_rng(seed),
        case_count=window[z, d],
    )
    return [c.locations for c in res.clusters if c.recurrence_days >= 30]


def detection(root: Path, *, quick: bool) -> None:
    say("\n2. Detection on the real Bedfordshire background (381 LSOAs, 2023-05..2024-04)")
    rng = np.random.default_rng(2024)
    background, dist = bedfordshire_daily(root, rng)
    say(f"  background: {background.sum():,} incidents, {background.sum() / 366:.0f} per day")
    history, reps = 120, 199
    strengths = (1.5, 2.0, 3.0)
    sizes = (1, 5, 10)
    durations = (3, 7, 14) if quick else (3, 7, 14, 28)
    repeats = 1 if quick else 2
    mean_rate = background[:, :300].mean(axis=1)
    rows = []
    t_start = time.perf_counter()
    for rep in range(repeats):
        for s in strengths:
            for k in sizes:
                for dur in durations:
                    centre = int(rng.integers(0, dist.shape[0]))
                    areas = np.argsort(dist[centre], kind="stable")[:k]
                    start = int(rng.integers(300, 366 - dur))
                    counts = background.copy()
                    extra = rng.poisson((s - 1) * mean_rate[areas][:, None], size=(k, dur))
                    counts[areas, start : start + dur] += extra
                    expected = float(mean_rate[areas].sum() * dur)
                    found = {"scan": None, "ears": None, "poisson": None}
                    c2 = ears(counts[:, : start + dur], method="C2").alarm
                    for t in range(start, start + dur):
                        if found["ears"] is None and c2[areas, t].any():
                            found["ears"] = t - start + 1
                        if (
                            found["poisson"] is None
                            and _poisson_threshold_alarm(counts, t)[areas].any()
                        ):
                            found["poisson"] = t - start + 1
                        if found["scan"] is None:
                            hits = _scan_alarm(
                                counts,
                                dist,
                                t,
                                history=history,
                                replicates=reps,
                                seed=rep * 1000 + t,
                            )
                            if any(np.isin(h, areas).any() for h in hits):
                                found["scan"] = t - start + 1
                    rows.append(
                        {
                            "strength": s,
                            "areas": k,
                            "days": dur,
                            "expected": expected,
                            "extra": int(extra.sum()),
                            **found,
                        }
                    )
    el = time.perf_counter() - t_start
    # false alarms on days 300..329 of the background without injection
    null_days = range(300, 315) if quick else range(300, 330)
    fa = {"scan": 0, "ears": 0, "poisson": 0}
    c2 = ears(background, method="C2").alarm
    for t in null_days:
        fa["scan"] += bool(
            _scan_alarm(background, dist, t, history=history, replicates=reps, seed=99_000 + t)
        )
        fa["ears"] += bool(c2[:, t].any())
        fa["poisson"] += bool(_poisson_threshold_alarm(background, t).any())
    n_null = len(null_days)
    say(
        f"  {len(rows)} injected clusters (strength {strengths}, areas {sizes}, days "
        f"{durations}), {reps} replicates per daily scan, {el:.0f} s"
    )
    say(
        "  thresholds: scan recurrence >= 30 days; EARS C2 alpha 0.001 per area; "
        "Poisson 7-day count > q0.999 per area"
    )
    bins = [(0, 5), (5, 10), (10, 20), (20, math.inf)]
    say(
        f"  {'expected in window':<20}{'n':>4}  {'scan power (<=3 d)':>20}  "
        f"{'EARS C2':>14}  {'Poisson':>14}  median days scan/EARS/Poisson"
    )
    for lo, hi in bins:
        sel = [r for r in rows if lo <= r["expected"] < hi]
        if not sel:
            continue

        def power(key: str, within: int | None = None, sel: list[dict[str, Any]] = sel) -> str:
            hit = [r for r in sel if r[key] is not None and (within is None or r[key] <= within)]
            return f"{len(hit) / len(sel):.2f}"

        def med(key: str, sel: list[dict[str, Any]] = sel) -> str:
            d = [r[key] for r in sel if r[key] is not None]
            return f"{np.median(d):.0f}" if d else "-"

        label = f"{lo}-{hi}" if math.isfinite(hi) else f">= {lo}"
        say(
            f"  {label:<20}{len(sel):>4}  {power('scan'):>10} ({power('scan', 3)})      "
            f"{power('ears'):>6} ({power('ears', 3)})  "
            f"{power('poisson'):>6} ({power('poisson', 3)})"
            f"  {med('scan')}/{med('ears')}/{med('poisson')}"
        )
    big2 = [r for r in rows if r["expected"] >= 20 and r["strength"] == 2.0]
    if big2:
        hit3 = sum(1 for r in big2 if r["scan"] is not None and r["scan"] <= 3)
        say(f"  goal check (>= 20 expected, 2x): detected within 3 days in {hit3}/{len(big2)}")
    for key, n_fa in fa.items():
        say(
            f"  false alarms, {key}: {n_fa} on {n_null} null days = "
            f"{n_fa / n_null * 365:.0f} per year"
        )


# --------------------------------------------------------------------------- 3


def real_history(root: Path, *, replicates: int) -> None:
    say("\n3. Real history: March and June 2017")
    national = "england-wales-racially-religiously-aggravated-offences-monthly-2013-04_2019-03.csv"
    with (root / national).open() as fh:
        rows = list(csv.DictReader(fh))
    months = [r["month"] for r in rows]
    y = np.array([float(r["rra_offences_england_wales"]) for r in rows])
    fr = farrington(y, period=12, years_back=3, window=1, alpha=0.01)
    flagged = [m for m, a in zip(months, fr.alarm, strict=True) if a]
    say(
        f"  national (Farrington, 3 years back, alpha 0.01): flagged {', '.join(flagged) or 'none'}"
    )
    for m in ("2017-03", "2017-06"):
        i = months.index(m)
        say(
            f"    {m}: {y[i]:.0f} against expected {fr.expected[i]:.0f}, threshold "
            f"{fr.upperbound[i]:.0f} -> {'FLAGGED' if fr.alarm[i] else 'not flagged'}"
        )
    # London boroughs: Islamophobic offences
    london = "met-police-london-borough-hate-and-special-crime-monthly-2010-04_2021-05.csv.gz"
    with gzip.open(root / london, "rt") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        data = [r for r in reader if r[2] == "Islamophobic"]
    cols = header[3:]
    with gzip.open(root / "uk-lad-2017-super-generalised.geojson.gz", "rt") as fh:
        lad = json.load(fh)
    centre = {
        f["properties"]["lad17nm"]: (f["properties"]["long"], f["properties"]["lat"])
        for f in lad["features"]
    }
    boroughs = [r for r in data if r[0] in centre]
    names = [r[0] for r in boroughs]
    counts = np.array([[float(v or 0) for v in r[3:]] for r in boroughs])
    say(
        f"  London Islamophobic: {len(names)} boroughs, total 2017-05 "
        f"{counts[:, cols.index('201705')].sum():.0f}, "
        f"2017-06 {counts[:, cols.index('201706')].sum():.0f}"
    )
    lon = np.array([centre[n][0] for n in names])
    lat = np.array([centre[n][1] for n in names])
    dist = chord_distance_km(lon, lat)
    for m in ("201703", "201706"):
        end = cols.index(m)
        window = counts[:, end - 35 : end + 1].astype(np.int64)  # 3 years of months
        z, d = np.nonzero(window)
        res = space_time_permutation_scan(
            z,
            d,
            dist,
            n_days=36,
            max_days=1,
            max_share=0.5,
            min_cases=2,
            replicates=replicates,
            rng=np.random.default_rng(int(m)),
            case_count=window[z, d],
            analysis_interval_days=30.44,
        )
        top = res.clusters[0]
        total = window.sum(axis=0)
        fr_l = farrington(
            counts.sum(axis=0)[: end + 1], period=12, years_back=3, window=1, alpha=0.01
        )
        say(
            f"    {m[:4]}-{m[4:]}: London total {total[-1]:.0f} vs Farrington expected "
            f"{fr_l.expected[-1]:.0f} (threshold {fr_l.upperbound[-1]:.0f}) -> "
            f"{'FLAGGED' if fr_l.alarm[-1] else 'not flagged'}; space-time permutation "
            f"top cluster {', '.join(names[i] for i in top.locations[:3])}"
            f"{' ...' if top.locations.size > 3 else ''} obs {top.observed} exp "
            f"{top.expected:.1f}, p {top.p_value:.3f}"
        )
        per = [
            names[i]
            for i in range(len(names))
            if farrington(counts[i, : end + 1], years_back=3, alpha=0.01).alarm[-1]
        ]
        say(f"      boroughs flagged by Farrington: {', '.join(per) or 'none'}")


# --------------------------------------------------------------------------- 4


def _synth(n_loc: int, n_days: int, rate: float, seed: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-0.7, -0.2, n_loc)
    lat = rng.uniform(51.8, 52.3, n_loc)
    c = rng.poisson(rate, (n_loc, n_days))
    z, d = np.nonzero(c)
    return chord_distance_km(lon, lat), z, d, c[z, d]


def _time_scan(n_loc: int, n_days: int, reps: int, rate: float) -> tuple[float, int]:
    dist, z, d, c = _synth(n_loc, n_days, rate, seed=n_loc + n_days)
    t0 = time.perf_counter()
    res = space_time_permutation_scan(
        z,
        d,
        dist,
        n_days=n_days,
        max_days=7,
        max_share=0.5,
        replicates=reps,
        rng=np.random.default_rng(1),
        case_count=c,
    )
    return time.perf_counter() - t0, res.n_cases


def speed(*, quick: bool) -> None:
    say("\n4. Speed (prospective space-time permutation, max 7 days, max 50 % of cases)")
    say(
        "   peers: SaTScan 10 and R surveillance are not installed here; their figures are"
        " quoted from the issue (same 2 cores), marked 'quoted'"
    )
    _time_scan(50, 30, 9, 0.5)  # compile the kernels
    for rate in (0.05, 0.3):
        el, n = _time_scan(1000, 365, 999, rate)
        add_case(
            f"STP 1000 areas x 365 d x 999 rep ({n:,} cases)",
            f"synthetic rate {rate}/area/day",
            el,
            "SaTScan (quoted)",
            SATSCAN_QUOTED_S["1000x365"],
        )
    reps5 = 99 if quick else 999
    el, n = _time_scan(5000, 365, reps5, 0.05)
    add_case(
        f"STP 5000 areas x 365 d x {reps5} rep ({n:,} cases)",
        "synthetic rate 0.05/area/day",
        el,
        "SaTScan (quoted, 999 rep)",
        SATSCAN_QUOTED_S["5000x365"],
    )
    y = np.random.default_rng(0).poisson(3, (1000, 365))
    ears(y[:5], method="C2")
    t0 = time.perf_counter()
    ears(y, method="C2")
    el = time.perf_counter() - t0
    add_case(
        "EARS C2, 1000 areas x 365 days",
        "synthetic Poisson(3)",
        el,
        "R surveillance earsC (quoted)",
        R_EARS_QUOTED_S,
    )
    r_path = shutil.which("Rscript")
    if r_path is None:
        say(
            "  R is not installed (no network for apt here): EARS/Farrington not compared "
            "with R's surveillance package in this run"
        )
    say("  scaling (rate 0.05/area/day):")
    for n_loc in (250, 500, 1000):
        el, _ = _time_scan(n_loc, 365, 199, 0.05)
        add_case(f"scaling areas {n_loc} x 365 d x 199 rep", "synthetic", el, "-", None)
    for n_days in (91, 182, 365):
        el, _ = _time_scan(500, n_days, 199, 0.05)
        add_case(f"scaling days 500 x {n_days} d x 199 rep", "synthetic", el, "-", None)
    for reps in (99, 199, 499):
        el, _ = _time_scan(500, 365, reps, 0.05)
        add_case(f"scaling replicates 500 x 365 d x {reps} rep", "synthetic", el, "-", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="last line: JSON of the cases")
    parser.add_argument("--quick", action="store_true", help="fewer scenarios and replicates")
    parser.add_argument("--only", choices=["exact", "detect", "history", "speed"], default=None)
    args = parser.parse_args()
    root = data_dir()
    if args.only in (None, "exact"):
        exactness(root, replicates=999)
    if args.only in (None, "history"):
        real_history(root, replicates=199 if args.quick else 999)
    if args.only in (None, "speed"):
        speed(quick=args.quick)
    if args.only in (None, "detect"):
        detection(root, quick=args.quick)
    if args.json:
        print(json.dumps({"cases": CASES}))


if __name__ == "__main__":
    main()
