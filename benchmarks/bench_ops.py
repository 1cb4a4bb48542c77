"""Benchmarks of the ops resolvers: EconomicsModel and SustainabilityModel over every built-in
cluster × every grid region × durations × MFU, in one call.

Run::

    python -m benchmarks.bench_ops                  # grids of 1e4 ... 1e6 points
    python -m benchmarks.bench_ops --full           # adds the 1e7-point grids (~0.6 GiB peak)
    python -m benchmarks.bench_ops --json out.json  # also write the rows as JSON
    python benchmarks/bench_ops.py --quick          # every benchmark once, tiny (smoke test)

Measurement conventions are those of ``bench_spine`` (best of ``repeats`` after an untimed run;
tracemalloc peak and RSS peak of one call on separate untimed runs; ``vs loop`` = grid points/s
over a Python loop of scalar solves over points sampled from the same grid, whose outputs must
equal the grid's to rel 1e-12). ``tests/test_benchmarks_ops.py`` runs each body once, tiny, and
its ``slow`` test asserts the targets.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

if __package__ in (None, ""):                      # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_spine import (REL_TOL, Row, _compare, _environment, _json_ready, _loop_baseline, _mb,
                                    _measure, _n_points, _shape_note, format_table)

__all__ = ["SIZES", "FULL_SIZES", "TARGETS", "ops_axes", "bench_economics", "bench_sustainability", "run_all", "main"]

SIZES = (10**4, 10**5, 10**6)
FULL_SIZES = SIZES + (10**7,)

#: The target of the issue: clusters × regions × durations × mfu at >= 1e7 points/s, on grids
#: of at least 1e6 points.
TARGETS = {"ops_points_per_s": 1e7, "ops_min_points": 10**6}


def _ms():
    import mlsysim_vec as ms
    return ms


def ops_axes(points: int) -> dict:
    """Every built-in cluster × every grid region × D durations (1 day ... 10 years) × M MFU
    values (0.05 ... 1), with D·M ≈ points / (clusters · regions), D ≈ M."""
    ms = _ms()
    fleets, grids = ms.Systems.Clusters.list(), ms.Infra.Grids.list()
    rest = max(1, math.ceil(points / (len(fleets) * len(grids))))
    d = max(1, math.ceil(math.sqrt(rest)))
    m = max(1, math.ceil(rest / d))
    return {"fleet": fleets, "grid": grids, "duration_days": np.linspace(1.0, 3650.0, d),
            "mfu": np.linspace(0.05, 1.0, m) if m > 1 else [0.5]}


def _bench(solver_name: str, points: int, repeats: int, loop_points: int, seed: int, reads: tuple) -> list[Row]:
    ms = _ms()
    solver = getattr(ms, solver_name)()
    axes = ops_axes(points)
    n = _n_points(axes)

    def grid_call():
        r = solver.solve(**axes)
        r.dataset
        return r

    seconds, traced, rss, method, result = _measure(grid_call, repeats)
    loop_s, index, scalars = _loop_baseline(solver, axes, {}, loop_points, seed, repeats, reads)
    diff = _compare(result.dataset, index, scalars)
    del result
    pps, loop_pps = n / seconds, loop_points / loop_s
    big = n >= TARGETS["ops_min_points"]
    target = f">= {TARGETS['ops_points_per_s']:.0e} pts/s" if big else "grid == loop"
    passed = diff <= REL_TOL and (pps >= TARGETS["ops_points_per_s"] if big else True)
    return [Row(f"{solver_name} grid {points:.0e}", n, seconds, pps, _mb(traced), _mb(rss), pps / loop_pps, target,
                passed, f"{_shape_note(axes)}; max rel diff {diff:.1e}",
                {"shape": {d: len(v) for d, v in axes.items()}, "max_rel_diff": diff, "rss_method": method,
                 "loop_points": loop_points, "loop_seconds": loop_s, "loop_points_per_s": loop_pps})]


def bench_economics(points: int = 10**6, repeats: int = 3, loop_points: int = 100, seed: int = 2) -> list[Row]:
    """EconomicsModel over ~``points`` (clusters × regions × durations × mfu) in one call
    (``solve`` + ``.dataset``), against a loop of scalar solves reading ``.tco`` and
    ``.carbon_footprint`` over ``loop_points`` sampled points."""
    return _bench("EconomicsModel", points, repeats, loop_points, seed, ("tco", "carbon_footprint"))


def bench_sustainability(points: int = 10**6, repeats: int = 3, loop_points: int = 100, seed: int = 3) -> list[Row]:
    """SustainabilityModel over the same kind of grid, against a loop reading
    ``.carbon_footprint`` and ``.water_usage``."""
    return _bench("SustainabilityModel", points, repeats, loop_points, seed, ("carbon_footprint", "water_usage"))


def run_all(sizes=SIZES, repeats: int = 3, loop_points: int = 100, progress: bool = False) -> list[Row]:
    """Both benchmarks at every size, in order."""
    ms = _ms()
    # One-time costs (xarray import, registry parsing) out of the first row.
    ms.EconomicsModel().solve(fleet=ms.Systems.Clusters, duration_days=[1, 2], grid=ms.Infra.Grids).dataset
    rows = []
    for size in sizes:
        reps = repeats if size < 10**7 else min(repeats, 2)
        for bench in (bench_economics, bench_sustainability):
            new = bench(size, repeats=reps, loop_points=loop_points)
            if progress:
                for row in new:
                    print(f"  ... {row.benchmark}: {row.seconds:.4g} s", file=sys.stderr, flush=True)
            rows += new
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_ops", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="also the 1e7-point grids")
    parser.add_argument("--quick", action="store_true", help="every benchmark once at a tiny size (smoke test)")
    parser.add_argument("--sizes", type=lambda s: [int(float(x)) for x in s.split(",")],
                        help="comma-separated grid sizes (overrides --full), e.g. 1e5,3e6")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per grid (best is kept)")
    parser.add_argument("--json", metavar="PATH", help="write the rows and the environment as JSON")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if any target fails")
    args = parser.parse_args(argv)

    if args.quick:
        kw = dict(sizes=args.sizes or (10**3,), repeats=1, loop_points=10)
    else:
        kw = dict(sizes=args.sizes or (FULL_SIZES if args.full else SIZES), repeats=args.repeats)
    rows = run_all(progress=sys.stderr.isatty(), **kw)
    print(format_table(rows))
    env = _environment()
    print(f"\n{env['python']} / numpy {env['numpy']} / {env['platform']} / {env['cpus']} CPUs. "
          "Seconds: best of repeats. traced MB: tracemalloc peak; RSS MB: peak RSS during the call minus "
          "RSS before (as bench_spine).")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "targets": TARGETS, "rows": [_json_ready(asdict(r)) for r in rows]},
                      fh, indent=2)
    failed = [r.benchmark for r in rows if r.passed is False]
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
