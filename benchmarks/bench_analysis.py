"""Benchmarks of the analysis resolvers: SensitivitySolver and SynthesisSolver over whole grids.

Run::

    python -m benchmarks.bench_analysis                  # grids of 1e4, 1e5 and 1e6 points
    python -m benchmarks.bench_analysis --json out.json  # also write the rows as JSON
    python -m benchmarks.bench_analysis --quick          # every benchmark once, tiny (smoke test)
    python benchmarks/bench_analysis.py --sizes 1e5      # chosen grid sizes, as a script

Conventions (timing, memory, the loop baseline and its check of the numbers) are those of
``benchmarks/harness.py``: best of ``repeats`` after an untimed run, ``tracemalloc`` peak and RSS peak
on separate untimed runs, and a Python loop of scalar ``solve`` calls over points sampled from
the same grid whose outputs must equal the grid's (rel 1e-12). ``tests/test_benchmarks_analysis.py``
runs each body once at a tiny size; its ``slow`` test asserts the targets.

Target (issue 5, item 7): SensitivitySolver over a 10⁵-point grid in under 1 s (``solve`` and
``.dataset``; each point evaluates the roofline for the baseline and three perturbed devices).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import harness  # noqa: E402
from benchmarks.bench_spine import PRECISIONS, interleaved_models  # noqa: E402
from benchmarks.harness import Row  # noqa: E402

__all__ = [
    "SIZES",
    "TARGETS",
    "PERTURBATIONS",
    "sensitivity_axes",
    "synthesis_axes",
    "bench_sensitivity",
    "bench_synthesis",
    "run_all",
    "main",
]

SIZES = (10**4, 10**5, 10**6)
PERTURBATIONS = (-20.0, -10.0, 5.0, 10.0, 20.0, 50.0)
TARGET_LATENCIES_S = (1e-4, 1e-3, 5e-3, 2e-2, 0.1, 1.0)
EFFICIENCIES = (0.3, 0.5, 0.8)

TARGETS = {
    "sensitivity_seconds": 1.0,  # on a grid of >= 1e5 points
    "sensitivity_min_points": 10**5,
}


def sensitivity_axes(points: int) -> dict:
    """SensitivitySolver grid of about ``points`` (at least, up to the registry's size) points:
    models (Language/Vision, interleaved) × every Cloud accelerator × batch 1..B ×
    (fp32, bf16, fp8, int8) × six perturbations (−20 … +50 %); M ≈ √(points/base), B as needed."""
    ms = harness.mlsysim()
    models = interleaved_models()
    hardware = list(ms.Hardware.Cloud)
    base = len(hardware) * len(PRECISIONS) * len(PERTURBATIONS)
    m = min(len(models), max(1, round(math.sqrt(points / base))))
    b = max(1, math.ceil(points / (base * m)))
    return {
        "model": models[:m],
        "hardware": hardware,
        "batch_size": np.arange(1, b + 1),
        "precision": list(PRECISIONS),
        "perturbation_pct": list(PERTURBATIONS),
    }


def synthesis_axes(points: int) -> dict:
    """SynthesisSolver grid of about ``points`` points: every model × six targets (0.1 ms … 1 s) ×
    (fp32, bf16, fp8, int8) × three efficiencies × batch 1..B, B as needed."""
    models = harness.mlsysim().Models.list()
    base = len(models) * len(TARGET_LATENCIES_S) * len(PRECISIONS) * len(EFFICIENCIES)
    b = max(1, math.ceil(points / base))
    return {
        "model": models,
        "target_latency": list(TARGET_LATENCIES_S),
        "precision": list(PRECISIONS),
        "efficiency": list(EFFICIENCIES),
        "batch_size": np.arange(1, b + 1),
    }


def bench_sensitivity(points: int = 10**5, repeats: int = 3, loop_points: int = 100, seed: int = 0) -> list[Row]:
    """SensitivitySolver over a ~``points`` grid in one call; at >= 1e5 points the target is
    < 1 s (and grid == loop at every size)."""
    run = harness.grid_vs_loop(
        harness.mlsysim().SensitivitySolver(),
        sensitivity_axes(points),
        {},
        repeats,
        loop_points,
        seed,
        ("binding_constraint", "elasticity_memory_bandwidth", "baseline_latency"),
    )
    target, passed = "grid == loop", run.agrees
    if run.points >= TARGETS["sensitivity_min_points"]:
        target = f"< {TARGETS['sensitivity_seconds']:g} s, grid == loop"
        passed = passed and run.seconds < TARGETS["sensitivity_seconds"]
    return [
        run.grid_row(f"SensitivitySolver grid {points:.0e}", target, passed),
        run.loop_row(f"SensitivitySolver scalar loop ({loop_points} pts)"),
    ]


def bench_synthesis(points: int = 10**6, repeats: int = 3, loop_points: int = 100, seed: int = 1) -> list[Row]:
    """SynthesisSolver over a ~``points`` grid in one call (grid == loop)."""
    run = harness.grid_vs_loop(
        harness.mlsysim().SynthesisSolver(),
        synthesis_axes(points),
        {},
        repeats,
        loop_points,
        seed,
        ("required_bw", "required_flops_exact"),
    )
    return [
        run.grid_row(f"SynthesisSolver grid {points:.0e}", "grid == loop", run.agrees),
        run.loop_row(f"SynthesisSolver scalar loop ({loop_points} pts)"),
    ]


def run_all(
    sizes=SIZES, repeats: int = 3, loop_points: int = 100, synthesis_points: int = 10**6, progress: bool = False
) -> list[Row]:
    """SensitivitySolver at each size, then SynthesisSolver once; one loop-baseline row each."""
    ms = harness.mlsysim()
    # One-time costs (xarray/pint-xarray imports, registry parsing) out of the first row.
    ms.SensitivitySolver().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.Cloud, batch_size=[1, 2]).dataset
    steps = [lambda s=s: bench_sensitivity(s, repeats=repeats, loop_points=loop_points) for s in sizes]
    steps.append(lambda: bench_synthesis(synthesis_points, repeats=repeats, loop_points=loop_points))
    rows = harness.run_steps(steps, progress)
    # Keep the last loop row of each resolver (each grid row's ratio is against its own sample).
    last = {}
    for r in rows:
        if r.target == "baseline":
            last[r.benchmark.split()[0]] = r
    return [r for r in rows if r.target != "baseline" or last[r.benchmark.split()[0]] is r]


def main(argv=None) -> int:
    return harness.cli(
        argv,
        prog="bench_analysis",
        doc=__doc__,
        run_all=run_all,
        targets=TARGETS,
        quick=lambda args: dict(sizes=args.sizes or (10**3,), loop_points=10, synthesis_points=10**3),
        default=lambda args: dict(sizes=args.sizes or SIZES),
        extra_args=[
            (
                "--sizes",
                dict(type=harness.parse_sizes, help="comma-separated SensitivitySolver grid sizes, e.g. 1e4,1e5"),
            )
        ],
        footnote="Seconds: best of repeats; traced MB: tracemalloc peak; RSS MB: peak RSS during the call minus RSS "
        "before (see benchmarks/harness.py).",
    )


if __name__ == "__main__":
    sys.exit(main())
