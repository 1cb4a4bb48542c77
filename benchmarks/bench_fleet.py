"""Fleet benchmarks of mlsysim_vec: DistributedModel, ReliabilityModel and TopologyModel grids.

Run::

    python -m benchmarks.bench_fleet                  # 1e6-point DistributedModel grid, 1e7-point others
    python -m benchmarks.bench_fleet --json out.json  # also write the rows as JSON
    python benchmarks/bench_fleet.py --quick          # every benchmark once, tiny (smoke test)

Conventions and measurement as ``benchmarks/bench_spine.py`` (whose helpers this module uses):
wall time is the best of ``repeats`` runs of ``solve`` + ``.dataset`` after an untimed run;
``traced MB`` the tracemalloc peak of one run; ``RSS MB`` the peak RSS growth of one run;
``vs loop`` the grid's points/s over a Python loop of scalar ``solve`` calls on points sampled
from the same grid, whose outputs must equal the grid's (rel 1e-12, NaN == NaN).

Targets (issue 4): DistributedModel >= 2e6 points/s on a >= 1e6-point grid (models × clusters
× tp × pp × microbatches × batch); ReliabilityModel and TopologyModel >= 1e7 points/s.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

if __package__ in (None, ""):                     # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_spine as bs  # noqa: E402
from benchmarks.bench_spine import Row  # noqa: E402

__all__ = ["TARGETS", "distributed_axes", "reliability_axes", "topology_axes", "bench_distributed",
           "bench_reliability", "bench_topology", "run_all", "main"]

TARGETS = {
    "distributed_points_per_s": 2e6,
    "distributed_min_points": 10**6,
    "reliability_points_per_s": 1e7,
    "topology_points_per_s": 1e7,
    "simple_min_points": 10**7,
}


def _grow(full: dict, points: int) -> dict:
    """Prefixes of each axis, lengthened round-robin until the product reaches ``points``."""
    lengths = dict.fromkeys(full, 1)
    while math.prod(lengths.values()) < points:
        grown = False
        for name in full:
            if math.prod(lengths.values()) >= points:
                break
            if lengths[name] < len(full[name]):
                lengths[name] += 1
                grown = True
        if not grown:
            break
    return {name: full[name][:n] for name, n in lengths.items()}


def distributed_axes(points: int) -> dict:
    """DistributedModel grid of at least ``points`` points (up to ~1.6e7): Language models ×
    clusters × tp × pp × microbatches × global batch (multiples of 256). Points whose degrees do
    not divide a cluster are part of the grid (infeasible, NaN), as in a real sweep."""
    ms = bs._ms()
    full = {
        "model": list(ms.Models.Language),
        "fleet": list(ms.Systems.Clusters),
        "tp_size": [1, 2, 4, 8, 16],
        "pp_size": [1, 2, 4, 8, 16, 32],
        "microbatch_count": [1, 2, 4, 8, 16, 32, 64, 128],
        "batch_size": list(range(256, 256 * 40 + 1, 256)),
    }
    return _grow(full, points)


def reliability_axes(points: int) -> dict:
    """ReliabilityModel grid of at least ``points`` points: clusters × job length [h] ×
    checkpoint time [s] × recovery time [s]."""
    ms = bs._ms()
    full = {
        "fleet": list(ms.Systems.Clusters),
        "job_duration_hours": np.linspace(0.0, 8760.0, 200),
        "checkpoint_time_s": np.geomspace(1.0, 3600.0, 100),
        "avg_recovery_time_s": np.linspace(0.0, 3600.0, 100),
    }
    return _grow(full, points)


def topology_axes(points: int) -> dict:
    """TopologyModel grid of at least ``points`` points: fabrics × the four topologies × node
    counts 1..N."""
    ms = bs._ms()
    fabrics = list(ms.Systems.Fabrics)
    n = max(1, math.ceil(points / (len(fabrics) * 4)))
    return {"fabric": fabrics, "topology": ["fat_tree", "dragonfly", "torus_3d", "ring"],
            "num_nodes": np.arange(1, n + 1)}


def _grid_bench(name: str, solver, axes: dict, fixed: dict, repeats: int, loop_points: int, seed: int,
                reads: tuple, target_pps: float | None, min_points: int) -> list[Row]:
    n = bs._n_points(axes)

    def grid_call():
        r = solver.solve(**axes, **fixed)
        r.dataset
        return r

    seconds, traced, rss, method, result = bs._measure(grid_call, repeats)
    loop_s, index, scalars = bs._loop_baseline(solver, axes, fixed, loop_points, seed, repeats, reads)
    diff = bs._compare(result.dataset, index, scalars)
    del result
    pps, loop_pps = n / seconds, loop_points / loop_s
    big = target_pps is not None and n >= min_points
    target = f">= {target_pps:.0e} pts/s" if big else "grid == loop"
    passed = diff <= bs.REL_TOL and (pps >= target_pps if big else True)
    grid_row = Row(f"{name} grid {n:.1e}", n, seconds, pps, bs._mb(traced), bs._mb(rss), pps / loop_pps, target,
                   passed, f"{bs._shape_note(axes)}; max rel diff {diff:.1e}",
                   {"shape": {d: len(v) for d, v in axes.items()}, "max_rel_diff": diff, "rss_method": method,
                    "loop_points": loop_points, "loop_seconds": loop_s, "loop_points_per_s": loop_pps})
    loop_row = Row(f"{name} scalar loop ({loop_points} pts)", loop_points, loop_s, loop_pps, None, None, 1.0,
                   "baseline", None, f"solve + {'/'.join(reads)} per point, sampled from the grid",
                   {"grid_points": n})
    return [grid_row, loop_row]


def bench_distributed(points: int = 10**6, repeats: int = 3, loop_points: int = 100, seed: int = 0) -> list[Row]:
    """DistributedModel over a >= ``points`` grid in one call, against a loop of scalar solves."""
    ms = bs._ms()
    return _grid_bench("DistributedModel", ms.DistributedModel(), distributed_axes(points), {}, repeats,
                       loop_points, seed, ("step_latency_total", "scaling_efficiency", "mfu"),
                       TARGETS["distributed_points_per_s"], TARGETS["distributed_min_points"])


def bench_reliability(points: int = 10**7, repeats: int = 3, loop_points: int = 100, seed: int = 1) -> list[Row]:
    """ReliabilityModel over a >= ``points`` grid in one call, against a loop of scalar solves."""
    ms = bs._ms()
    return _grid_bench("ReliabilityModel", ms.ReliabilityModel(), reliability_axes(points), {}, repeats,
                       loop_points, seed, ("fleet_mtbf", "failure_probability", "goodput_ratio"),
                       TARGETS["reliability_points_per_s"], TARGETS["simple_min_points"])


def bench_topology(points: int = 10**7, repeats: int = 3, loop_points: int = 100, seed: int = 2) -> list[Row]:
    """TopologyModel over a >= ``points`` grid in one call, against a loop of scalar solves."""
    ms = bs._ms()
    return _grid_bench("TopologyModel", ms.TopologyModel(), topology_axes(points), {}, repeats, loop_points, seed,
                       ("effective_bw", "bisection_bw"), TARGETS["topology_points_per_s"],
                       TARGETS["simple_min_points"])


def run_all(distributed_points: int = 10**6, simple_points: int = 10**7, repeats: int = 3,
            loop_points: int = 100, progress: bool = False) -> list[Row]:
    ms = bs._ms()
    # One-time costs (xarray import, registry parsing) out of the first row.
    ms.DistributedModel().solve(model=ms.Models.Language.Llama3_8B, fleet=ms.Systems.Clusters,
                                tp_size=[1, 2]).dataset
    steps = [lambda: bench_distributed(distributed_points, repeats, loop_points),
             lambda: bench_reliability(simple_points, repeats, loop_points),
             lambda: bench_topology(simple_points, repeats, loop_points)]
    rows = []
    for step in steps:
        new = step()
        if progress:
            for row in new:
                print(f"  ... {row.benchmark}: {row.seconds:.4g} s", file=sys.stderr, flush=True)
        rows += new
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_fleet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark once at a tiny size (smoke test)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per grid benchmark (best is kept)")
    parser.add_argument("--json", metavar="PATH", help="write the rows and the environment as JSON")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if any target fails")
    args = parser.parse_args(argv)
    if args.quick:
        kw = dict(distributed_points=10**3, simple_points=10**3, repeats=1, loop_points=10)
    else:
        kw = dict(repeats=args.repeats)
    rows = run_all(progress=sys.stderr.isatty(), **kw)
    print(bs.format_table(rows))
    env = bs._environment()
    print(f"\n{env['python']} / numpy {env['numpy']} / {env['platform']} / {env['cpus']} CPUs. "
          "Seconds: best of repeats of solve + .dataset. traced MB: tracemalloc peak; RSS MB: peak RSS growth.")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "targets": TARGETS, "rows": [bs._json_ready(asdict(r)) for r in rows]},
                      fh, indent=2)
    failed = [r.benchmark for r in rows if r.passed is False]
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
