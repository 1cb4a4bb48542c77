"""Benchmarks of the analysis resolvers: SensitivitySolver and SynthesisSolver over whole grids.

Run::

    python -m benchmarks.bench_analysis                  # grids of 1e4, 1e5 and 1e6 points
    python -m benchmarks.bench_analysis --json out.json  # also write the rows as JSON
    python -m benchmarks.bench_analysis --quick          # every benchmark once, tiny (smoke test)
    python benchmarks/bench_analysis.py --sizes 1e5      # chosen grid sizes, as a script

Conventions (timing, memory, the loop baseline and its check of the numbers) are those of
``bench_spine.py``: best of ``repeats`` after an untimed run, ``tracemalloc`` peak and RSS peak
on separate untimed runs, and a Python loop of scalar ``solve`` calls over points sampled from
the same grid whose outputs must equal the grid's (rel 1e-12). ``tests/test_benchmarks_analysis.py``
runs each body once at a tiny size; its ``slow`` test asserts the targets.

Target (issue 5, item 7): SensitivitySolver over a 10⁵-point grid in under 1 s (``solve`` and
``.dataset``; each point evaluates the roofline for the baseline and three perturbed devices).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

if __package__ in (None, ""):                       # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bench_spine as spine  # noqa: E402
from benchmarks.bench_spine import Row  # noqa: E402

__all__ = ["SIZES", "TARGETS", "PERTURBATIONS", "sensitivity_axes", "synthesis_axes", "bench_sensitivity",
           "bench_synthesis", "run_all", "main"]

SIZES = (10**4, 10**5, 10**6)
PERTURBATIONS = (-20.0, -10.0, 5.0, 10.0, 20.0, 50.0)
TARGET_LATENCIES_S = (1e-4, 1e-3, 5e-3, 2e-2, 0.1, 1.0)
EFFICIENCIES = (0.3, 0.5, 0.8)

TARGETS = {
    "sensitivity_seconds": 1.0,          # on a grid of >= 1e5 points
    "sensitivity_min_points": 10**5,
}


def _ms():
    import mlsysim_vec as ms
    return ms


def sensitivity_axes(points: int) -> dict:
    """SensitivitySolver grid of about ``points`` (at least, up to the registry's size) points:
    models (Language/Vision, interleaved) × every Cloud accelerator × batch 1..B ×
    (fp32, bf16, fp8, int8) × six perturbations (−20 … +50 %); M ≈ √(points/base), B as needed."""
    ms = _ms()
    models = spine._interleaved_models()
    hardware = list(ms.Hardware.Cloud)
    base = len(hardware) * len(spine.PRECISIONS) * len(PERTURBATIONS)
    m = min(len(models), max(1, round(math.sqrt(points / base))))
    b = max(1, math.ceil(points / (base * m)))
    return {"model": models[:m], "hardware": hardware, "batch_size": np.arange(1, b + 1),
            "precision": list(spine.PRECISIONS), "perturbation_pct": list(PERTURBATIONS)}


def synthesis_axes(points: int) -> dict:
    """SynthesisSolver grid of about ``points`` points: every model × six targets (0.1 ms … 1 s) ×
    (fp32, bf16, fp8, int8) × three efficiencies × batch 1..B, B as needed."""
    ms = _ms()
    models = ms.Models.list()
    base = len(models) * len(TARGET_LATENCIES_S) * len(spine.PRECISIONS) * len(EFFICIENCIES)
    b = max(1, math.ceil(points / base))
    return {"model": models, "target_latency": list(TARGET_LATENCIES_S), "precision": list(spine.PRECISIONS),
            "efficiency": list(EFFICIENCIES), "batch_size": np.arange(1, b + 1)}


def _grid_bench(name, solver, axes, repeats, loop_points, seed, reads):
    """(grid row, loop row): one call over ``axes`` (``solve`` + ``.dataset``) against a loop of
    scalar solves over ``loop_points`` sampled points, whose outputs must equal the grid's."""
    n = spine._n_points(axes)

    def grid_call():
        r = solver.solve(**axes)
        r.dataset
        return r

    seconds, traced, rss, method, result = spine._measure(grid_call, repeats)
    loop_s, index, scalars = spine._loop_baseline(solver, axes, {}, loop_points, seed, repeats, reads)
    diff = spine._compare(result.dataset, index, scalars)
    del result
    pps, loop_pps = n / seconds, loop_points / loop_s
    grid = Row(name, n, seconds, pps, spine._mb(traced), spine._mb(rss), pps / loop_pps, "grid == loop",
               diff <= spine.REL_TOL, f"{spine._shape_note(axes)}; max rel diff {diff:.1e}",
               {"shape": {d: len(v) for d, v in axes.items()}, "max_rel_diff": diff, "rss_method": method,
                "loop_points": loop_points, "loop_seconds": loop_s, "loop_points_per_s": loop_pps})
    loop = Row(f"{type(solver).__name__} scalar loop ({loop_points} pts)", loop_points, loop_s, loop_pps, None, None,
               1.0, "baseline", None, f"solve + {', '.join(reads)} per point, sampled from the {n:,}-point grid",
               {"grid_points": n})
    return grid, loop


def bench_sensitivity(points: int = 10**5, repeats: int = 3, loop_points: int = 100, seed: int = 0) -> list[Row]:
    """SensitivitySolver over a ~``points`` grid in one call; at >= 1e5 points the target is
    < 1 s (and grid == loop at every size)."""
    ms = _ms()
    grid, loop = _grid_bench(f"SensitivitySolver grid {points:.0e}", ms.SensitivitySolver(), sensitivity_axes(points),
                             repeats, loop_points, seed,
                             ("binding_constraint", "elasticity_memory_bandwidth", "baseline_latency"))
    if grid.points >= TARGETS["sensitivity_min_points"]:
        grid.target = f"< {TARGETS['sensitivity_seconds']:g} s, grid == loop"
        grid.passed = grid.passed and grid.seconds < TARGETS["sensitivity_seconds"]
    return [grid, loop]


def bench_synthesis(points: int = 10**6, repeats: int = 3, loop_points: int = 100, seed: int = 1) -> list[Row]:
    """SynthesisSolver over a ~``points`` grid in one call (grid == loop)."""
    ms = _ms()
    return list(_grid_bench(f"SynthesisSolver grid {points:.0e}", ms.SynthesisSolver(), synthesis_axes(points),
                            repeats, loop_points, seed, ("required_bw", "required_flops_exact")))


def run_all(sizes=SIZES, repeats: int = 3, loop_points: int = 100, synthesis_points: int = 10**6,
            progress: bool = False) -> list[Row]:
    """SensitivitySolver at each size, then SynthesisSolver once; one loop-baseline row each."""
    ms = _ms()
    # One-time costs (xarray/pint-xarray imports, registry parsing) out of the first row.
    ms.SensitivitySolver().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.Cloud, batch_size=[1, 2]).dataset
    steps = [lambda s=s: bench_sensitivity(s, repeats=repeats, loop_points=loop_points) for s in sizes]
    steps.append(lambda: bench_synthesis(synthesis_points, repeats=repeats, loop_points=loop_points))
    rows = []
    for step in steps:
        new = step()
        if progress:
            for row in new:
                print(f"  ... {row.benchmark}: {row.seconds:.4g} s", file=sys.stderr, flush=True)
        rows += new
    # Keep the last loop row of each resolver (each grid row's ratio is against its own sample).
    last = {}
    for r in rows:
        if r.target == "baseline":
            last[r.benchmark.split()[0]] = r
    return [r for r in rows if r.target != "baseline" or last[r.benchmark.split()[0]] is r]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_analysis", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every benchmark once at a tiny size (smoke test)")
    parser.add_argument("--sizes", type=lambda s: [int(float(x)) for x in s.split(",")],
                        help="comma-separated SensitivitySolver grid sizes, e.g. 1e4,1e5")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per grid benchmark (best is kept)")
    parser.add_argument("--json", metavar="PATH", help="write the rows and the environment as JSON")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if any target fails")
    args = parser.parse_args(argv)

    if args.quick:
        kw = dict(sizes=args.sizes or (10**3,), repeats=1, loop_points=10, synthesis_points=10**3)
    else:
        kw = dict(sizes=args.sizes or SIZES, repeats=args.repeats)
    rows = run_all(progress=sys.stderr.isatty(), **kw)
    print(spine.format_table(rows))
    env = spine._environment()
    print(f"\n{env['python']} / numpy {env['numpy']} / {env['platform']} / {env['cpus']} CPUs. "
          "Seconds: best of repeats; traced MB: tracemalloc peak; RSS MB: peak RSS during the call minus RSS "
          "before (see bench_spine).")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "targets": TARGETS,
                       "rows": [spine._json_ready(asdict(r)) for r in rows]}, fh, indent=2)
    failed = [r.benchmark for r in rows if r.passed is False]
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
