"""Fleet benchmarks of mlsysim_vec: DistributedModel, ReliabilityModel and TopologyModel grids.

Run::

    python -m benchmarks.bench_fleet                  # 1e6-point DistributedModel grid, 1e7-point others
    python -m benchmarks.bench_fleet --json out.json  # also write the rows as JSON
    python benchmarks/bench_fleet.py --quick          # every benchmark once, tiny (smoke test)

Conventions and measurement as ``benchmarks/harness.py`` (whose helpers this module uses):
wall time is the best of ``repeats`` runs of ``solve`` + ``.dataset`` after an untimed run;
``traced MB`` the tracemalloc peak of one run; ``RSS MB`` the peak RSS growth of one run;
``vs loop`` the grid's points/s over a Python loop of scalar ``solve`` calls on points sampled
from the same grid, whose outputs must equal the grid's (rel 1e-12, NaN == NaN).

Targets (issue 4): DistributedModel >= 2e6 points/s on a >= 1e6-point grid (models × clusters
× tp × pp × microbatches × batch); ReliabilityModel and TopologyModel >= 1e7 points/s.
Issue 11: DistributedModel with ``fidelity="refined"`` (attention FLOPs, per-GEMM efficiency,
element-wise time, the refined memory; the microbatch count from ``microbatch_size``) >= 1e7
points/s on a >= 1e6-point grid (models × clusters × tp × pp × microbatch size × batch).
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

__all__ = [
    "TARGETS",
    "distributed_axes",
    "distributed_refined_axes",
    "reliability_axes",
    "topology_axes",
    "bench_distributed",
    "bench_distributed_refined",
    "bench_reliability",
    "bench_topology",
    "run_all",
    "main",
]

TARGETS = {
    "distributed_points_per_s": 2e6,
    "distributed_min_points": 10**6,
    "distributed_refined_points_per_s": 1e7,
    "reliability_points_per_s": 1e7,
    "topology_points_per_s": 1e7,
    "simple_min_points": 10**7,
}


def distributed_axes(points: int) -> dict:
    """DistributedModel grid of at least ``points`` points (up to ~1.6e7): Language models ×
    clusters × tp × pp × microbatches × global batch (multiples of 256). Points whose degrees do
    not divide a cluster are part of the grid (infeasible, NaN), as in a real sweep."""
    ms = harness.mlsysim()
    return harness.grow_axes(
        {
            "model": list(ms.Models.Language),
            "fleet": list(ms.Systems.Clusters),
            "tp_size": [1, 2, 4, 8, 16],
            "pp_size": [1, 2, 4, 8, 16, 32],
            "microbatch_count": [1, 2, 4, 8, 16, 32, 64, 128],
            "batch_size": list(range(256, 256 * 40 + 1, 256)),
        },
        points,
    )


def distributed_refined_axes(points: int) -> dict:
    """The refined DistributedModel grid of at least ``points`` points: Language models ×
    clusters × tp × pp × microbatch size × global batch (``fidelity="refined"`` is fixed)."""
    ms = harness.mlsysim()
    return harness.grow_axes(
        {
            "model": list(ms.Models.Language),
            "fleet": list(ms.Systems.Clusters),
            "tp_size": [1, 2, 4, 8, 16],
            "pp_size": [1, 2, 4, 8, 16, 32],
            "microbatch_size": [1, 2, 4, 8, 16, 32, 64, 128],
            "batch_size": list(range(256, 256 * 40 + 1, 256)),
        },
        points,
    )


def reliability_axes(points: int) -> dict:
    """ReliabilityModel grid of at least ``points`` points: clusters × job length [h] ×
    checkpoint time [s] × recovery time [s]."""
    ms = harness.mlsysim()
    return harness.grow_axes(
        {
            "fleet": list(ms.Systems.Clusters),
            "job_duration_hours": np.linspace(0.0, 8760.0, 200),
            "checkpoint_time_s": np.geomspace(1.0, 3600.0, 100),
            "avg_recovery_time_s": np.linspace(0.0, 3600.0, 100),
        },
        points,
    )


def topology_axes(points: int) -> dict:
    """TopologyModel grid of at least ``points`` points: fabrics × the four topologies × node
    counts 1..N."""
    ms = harness.mlsysim()
    fabrics = list(ms.Systems.Fabrics)
    n = max(1, math.ceil(points / (len(fabrics) * 4)))
    return {
        "fabric": fabrics,
        "topology": ["fat_tree", "dragonfly", "torus_3d", "ring"],
        "num_nodes": np.arange(1, n + 1),
    }


def _grid_bench(
    name: str,
    solver,
    axes: dict,
    repeats: int,
    loop_points: int,
    seed: int,
    reads: tuple,
    target_pps: float,
    min_points: int,
) -> list[Row]:
    """(grid row, loop row) of ``solver`` over ``axes``: >= ``target_pps`` points/s on grids of
    >= ``min_points`` points, grid == loop on all."""
    run = harness.grid_vs_loop(solver, axes, {}, repeats, loop_points, seed, reads)
    target, passed = run.rate_target(target_pps, min_points)
    return [
        run.grid_row(f"{name} grid {run.points:.1e}", target, passed),
        run.loop_row(f"{name} scalar loop ({loop_points} pts)"),
    ]


def bench_distributed(points: int = 10**6, repeats: int = 3, loop_points: int = 100, seed: int = 0) -> list[Row]:
    """DistributedModel over a >= ``points`` grid in one call, against a loop of scalar solves."""
    return _grid_bench(
        "DistributedModel",
        harness.mlsysim().DistributedModel(),
        distributed_axes(points),
        repeats,
        loop_points,
        seed,
        ("step_latency_total", "scaling_efficiency", "mfu"),
        TARGETS["distributed_points_per_s"],
        TARGETS["distributed_min_points"],
    )


def bench_distributed_refined(
    points: int = 10**6, repeats: int = 3, loop_points: int = 100, seed: int = 3
) -> list[Row]:
    """DistributedModel under ``fidelity="refined"`` over a >= ``points`` grid in one call,
    against a loop of scalar solves."""
    run = harness.grid_vs_loop(
        harness.mlsysim().DistributedModel(),
        distributed_refined_axes(points),
        {"fidelity": "refined"},
        repeats,
        loop_points,
        seed,
        ("step_latency_total", "mfu", "memory_footprint", "notes"),
    )
    target, passed = run.rate_target(TARGETS["distributed_refined_points_per_s"], TARGETS["distributed_min_points"])
    return [
        run.grid_row(f"DistributedModel refined grid {run.points:.1e}", target, passed),
        run.loop_row(f"DistributedModel refined scalar loop ({loop_points} pts)"),
    ]


def bench_reliability(points: int = 10**7, repeats: int = 3, loop_points: int = 100, seed: int = 1) -> list[Row]:
    """ReliabilityModel over a >= ``points`` grid in one call, against a loop of scalar solves."""
    return _grid_bench(
        "ReliabilityModel",
        harness.mlsysim().ReliabilityModel(),
        reliability_axes(points),
        repeats,
        loop_points,
        seed,
        ("fleet_mtbf", "failure_probability", "goodput_ratio"),
        TARGETS["reliability_points_per_s"],
        TARGETS["simple_min_points"],
    )


def bench_topology(points: int = 10**7, repeats: int = 3, loop_points: int = 100, seed: int = 2) -> list[Row]:
    """TopologyModel over a >= ``points`` grid in one call, against a loop of scalar solves."""
    return _grid_bench(
        "TopologyModel",
        harness.mlsysim().TopologyModel(),
        topology_axes(points),
        repeats,
        loop_points,
        seed,
        ("effective_bw", "bisection_bw"),
        TARGETS["topology_points_per_s"],
        TARGETS["simple_min_points"],
    )


def run_all(
    distributed_points: int = 10**6,
    simple_points: int = 10**7,
    repeats: int = 3,
    loop_points: int = 100,
    progress: bool = False,
) -> list[Row]:
    """Every benchmark, in order (one untimed warm-up call first: imports, registries)."""
    ms = harness.mlsysim()
    ms.DistributedModel().solve(model=ms.Models.Language.Llama3_8B, fleet=ms.Systems.Clusters, tp_size=[1, 2]).dataset
    return harness.run_steps(
        [
            lambda: bench_distributed(distributed_points, repeats, loop_points),
            lambda: bench_distributed_refined(distributed_points, repeats, loop_points),
            lambda: bench_reliability(simple_points, repeats, loop_points),
            lambda: bench_topology(simple_points, repeats, loop_points),
        ],
        progress,
    )


def main(argv=None) -> int:
    return harness.cli(
        argv,
        prog="bench_fleet",
        doc=__doc__,
        run_all=run_all,
        targets=TARGETS,
        quick=dict(distributed_points=10**3, simple_points=10**3, loop_points=10),
        footnote="Seconds: best of repeats of solve + .dataset. traced MB: tracemalloc peak; RSS MB: peak RSS growth.",
    )


if __name__ == "__main__":
    sys.exit(main())
