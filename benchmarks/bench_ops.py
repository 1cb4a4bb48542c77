"""Benchmarks of the ops resolvers: EconomicsModel and SustainabilityModel over every built-in
cluster × every grid region × durations × MFU, in one call.

Run::

    python -m benchmarks.bench_ops                  # grids of 1e4 ... 1e6 points
    python -m benchmarks.bench_ops --full           # adds the 1e7-point grids (~0.6 GiB peak)
    python -m benchmarks.bench_ops --json out.json  # also write the rows as JSON
    python benchmarks/bench_ops.py --quick          # every benchmark once, tiny (smoke test)

Measurement conventions are those of ``benchmarks/harness.py`` (best of ``repeats`` after an untimed run;
tracemalloc peak and RSS peak of one call on separate untimed runs; ``vs loop`` = grid points/s
over a Python loop of scalar solves over points sampled from the same grid, whose outputs must
equal the grid's to rel 1e-12). ``tests/test_benchmarks_ops.py`` runs each body once, tiny, and
its ``slow`` test asserts the targets.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402
from benchmarks.harness import Row  # noqa: E402

__all__ = ["SIZES", "FULL_SIZES", "TARGETS", "ops_axes", "bench_economics", "bench_sustainability", "run_all", "main"]

SIZES = (10**4, 10**5, 10**6)
FULL_SIZES = SIZES + (10**7,)

#: The target of the issue: clusters × regions × durations × mfu at >= 1e7 points/s, on grids
#: of at least 1e6 points.
TARGETS = {"ops_points_per_s": 1e7, "ops_min_points": 10**6}


def ops_axes(points: int) -> dict:
    """Every built-in cluster × every grid region × D durations (1 day ... 10 years) × M MFU
    values (0.05 ... 1), with D·M ≈ points / (clusters · regions), D ≈ M."""
    ms = harness.mlsysim()
    fleets, grids = ms.Systems.Clusters.list(), ms.Infra.Grids.list()
    rest = max(1, math.ceil(points / (len(fleets) * len(grids))))
    d = max(1, math.ceil(math.sqrt(rest)))
    m = max(1, math.ceil(rest / d))
    return {
        "fleet": fleets,
        "grid": grids,
        "duration_days": np.linspace(1.0, 3650.0, d),
        "mfu": np.linspace(0.05, 1.0, m) if m > 1 else [0.5],
    }


def _bench(solver_name: str, points: int, repeats: int, loop_points: int, seed: int, reads: tuple) -> list[Row]:
    run = harness.grid_vs_loop(
        getattr(harness.mlsysim(), solver_name)(), ops_axes(points), {}, repeats, loop_points, seed, reads
    )
    target, passed = run.rate_target(TARGETS["ops_points_per_s"], TARGETS["ops_min_points"])
    return [run.grid_row(f"{solver_name} grid {points:.0e}", target, passed)]


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
    ms = harness.mlsysim()
    # One-time costs (xarray import, registry parsing) out of the first row.
    ms.EconomicsModel().solve(fleet=ms.Systems.Clusters, duration_days=[1, 2], grid=ms.Infra.Grids).dataset
    steps = [
        lambda size=size, bench=bench: bench(
            size, repeats=repeats if size < 10**7 else min(repeats, 2), loop_points=loop_points
        )
        for size in sizes
        for bench in (bench_economics, bench_sustainability)
    ]
    return harness.run_steps(steps, progress)


def main(argv=None) -> int:
    return harness.cli(
        argv,
        prog="bench_ops",
        doc=__doc__,
        run_all=run_all,
        targets=TARGETS,
        quick=lambda args: dict(sizes=args.sizes or (10**3,), loop_points=10),
        default=lambda args: dict(sizes=args.sizes or (FULL_SIZES if args.full else SIZES)),
        extra_args=[
            ("--full", dict(action="store_true", help="also the 1e7-point grids")),
            (
                "--sizes",
                dict(type=harness.parse_sizes, help="comma-separated grid sizes (overrides --full), e.g. 1e5,3e6"),
            ),
        ],
        footnote="Seconds: best of repeats. traced MB: tracemalloc peak; RSS MB: peak RSS during the call minus "
        "RSS before (see benchmarks/harness.py).",
    )


if __name__ == "__main__":
    sys.exit(main())
