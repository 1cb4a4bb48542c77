"""Benchmarks of the optimizers (issue 6, item 7): ParallelismOptimizer over >= 10⁶ candidates,
BatchingOptimizer and PlacementOptimizer over grids of optimizer points.

Run::

    python -m benchmarks.bench_optimizers                  # the default sizes (~10 s)
    python -m benchmarks.bench_optimizers --json out.json  # also write the rows as JSON
    python -m benchmarks.bench_optimizers --quick          # every benchmark once, tiny (smoke test)
    python -m benchmarks.bench_optimizers --strict         # exit status 1 if a target fails

Same conventions as ``benchmarks/harness.py`` (whose ``Row``, measurement, table and command
line are reused): wall time is the best of ``repeats`` runs of ``solve`` + ``.dataset`` after an untimed run;
``traced MB`` the tracemalloc peak of one run, ``RSS MB`` its peak RSS growth. Every grid is
checked against a Python loop of scalar optimizer calls over a random sample of its points (every
output, rel 1e-12); the candidate lists are fixed for both (the grid's default lists), so
``n_searched`` is comparable.

What is measured
----------------
* ``ParallelismOptimizer``: Language models × clusters × global batch × seq_len, each point
  searching the default TP × PP × microbatch (× EP) candidates — ONE DistributedModel call over
  every candidate, then the masked argmax. ``points`` counts candidates (optimizer points ×
  candidates per point). Target: >= 10⁶ candidates in < 1 s. ``vs ref`` compares the time per
  candidate with the reference's: 202.1 ms for its ~30-candidate grid (part 2 §20:
  Llama3_70B / Research_256 / batch 256, "202,101.1 us/solve"), i.e. 6.7 ms per candidate.
* ``ParallelismOptimizer refined`` (issue 11): the same axes under ``fidelity="refined"``,
  each point searching the refined default candidates — TP × PP × microbatch size ×
  recomputation × ZeRO stage × ``cp_size`` (× EP). Target: >= 10⁶ candidates in < 1 s.
* ``BatchingOptimizer``: models × GPUs × arrival rate × SLA, batches 1 … 256 each (the
  reference: 691 ms per point, §20). ``points`` counts (point, batch) candidates.
* ``PlacementOptimizer``: clusters × duration × carbon price × every built-in region (the
  reference: 1.48 ms per point with 3 regions, §20). ``points`` counts (point, region) candidates.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: python benchmarks/bench_optimizers.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402
from benchmarks.harness import Row, n_points  # noqa: E402

__all__ = [
    "TARGETS",
    "REFERENCE_SECONDS_PER_CANDIDATE",
    "parallelism_axes",
    "parallelism_refined_axes",
    "batching_axes",
    "placement_axes",
    "bench_parallelism",
    "bench_parallelism_refined",
    "bench_batching",
    "bench_placement",
    "run_all",
    "main",
]

#: The target of issue 6 (item 7) for ParallelismOptimizer.
TARGETS = {"parallelism_candidates": 10**6, "parallelism_seconds": 1.0}
#: The reference's cost per candidate (part 2 §20): seconds per solve / candidates of that solve.
REFERENCE_SECONDS_PER_CANDIDATE = {
    "ParallelismOptimizer": 0.2021011 / 30,  # Llama3_70B / Research_256: 30 TP × PP pairs
    "BatchingOptimizer": 0.6910138 / 256,  # batches 1 … 256
    "PlacementOptimizer": 0.0014767 / 3,  # the three default regions
}


def _per_point(lists: dict) -> int:
    """Candidates per optimizer point of the candidate lists ``lists``."""
    return math.prod(len(v) if isinstance(v, list) else 1 for v in lists.values())


def parallelism_axes(candidates: int) -> tuple[dict, dict]:
    """(axes, fixed arguments: the candidate lists and ``fidelity="first_order"``) whose
    optimizer points × candidates per point reach ``candidates``: Language models × clusters ×
    global batch × seq_len."""
    ms = harness.mlsysim()
    opt = ms.ParallelismOptimizer()
    full = {
        "model": [m for m in ms.Models.Language if m.si["is_sparse"] != 1.0],
        "fleet": list(ms.Systems.Clusters),
        "batch_size": [256, 1024, 4096, 512, 2048, 128, 8192, 64],
        "seq_len": [2048, 4096, 8192, 1024],
    }

    def lists(axes):
        return opt.candidates(**axes, fidelity="first_order")

    axes = harness.grow_axes(full, lambda axes: n_points(axes) * _per_point(lists(axes)) >= candidates)
    return axes, {**lists(axes), "fidelity": "first_order"}


def parallelism_refined_axes(candidates: int) -> tuple[dict, dict]:
    """As ``parallelism_axes`` under ``fidelity="refined"``: (axes, fixed arguments: the
    refined candidate lists, microbatch size, recomputation, ZeRO stage and cp_size among them,
    and the fidelity)."""
    ms = harness.mlsysim()
    opt = ms.ParallelismOptimizer()
    full = {
        "model": [m for m in ms.Models.Language if m.si["is_sparse"] != 1.0],
        "fleet": list(ms.Systems.Clusters),
        "batch_size": [256, 1024, 4096, 512, 2048, 128, 8192, 64],
        "seq_len": [2048, 4096, 8192, 1024],
    }

    def lists(axes):
        return opt.candidates(**axes, fidelity="refined")

    axes = harness.grow_axes(full, lambda axes: n_points(axes) * _per_point(lists(axes)) >= candidates)
    return axes, {**lists(axes), "fidelity": "refined"}


def batching_axes(candidates: int, batches: int = 256) -> dict:
    """models × GPUs × arrival rate × SLA with ``batches`` batch sizes per point."""
    ms = harness.mlsysim()
    full = {
        "model": [
            ms.Models.Language.Llama3_8B,
            ms.Models.Language.Llama2_7B,
            ms.Models.Language.Llama3_70B,
            ms.Models.Language.GPT2,
            ms.Models.Language.OPT_13B,
        ],
        "hardware": [
            ms.Hardware.Cloud.H100,
            ms.Hardware.Cloud.A100,
            ms.Hardware.Cloud.H200,
            ms.Hardware.Cloud.B200,
            ms.Hardware.Cloud.MI300X,
            ms.Hardware.Cloud.T4,
        ],
        "arrival_rate_qps": list(np.geomspace(0.01, 20.0, 12)),
        "sla_latency_ms": list(np.geomspace(500.0, 120000.0, 12)),
    }
    return harness.grow_axes(full, lambda axes: n_points(axes) * batches >= candidates)


def placement_axes(candidates: int) -> dict:
    """clusters × duration × carbon price with every built-in region per point."""
    ms = harness.mlsysim()
    regions = len(ms.Infra.Grids.keys())
    full = {
        "fleet": list(ms.Systems.Clusters),
        "duration_days": list(np.linspace(1.0, 1095.0, 200)),
        "carbon_tax_per_ton": list(np.linspace(0.0, 500.0, 50)),
    }
    return harness.grow_axes(full, lambda axes: n_points(axes) * regions >= candidates)


def _bench(
    name: str,
    opt,
    axes: dict,
    fixed: dict,
    per_point: int,
    repeats: int,
    loop_points: int,
    seed: int,
    reads: tuple,
    target_seconds: float | None,
    min_candidates: int | None,
) -> list[Row]:
    """(grid row, loop row); ``points`` count candidates (optimizer points × ``per_point``)."""
    run = harness.grid_vs_loop(opt, axes, fixed, repeats, loop_points, seed, reads, per_point)
    n = run.points
    ref = REFERENCE_SECONDS_PER_CANDIDATE[name] / (run.seconds / n)
    big = target_seconds is not None and n >= min_candidates
    target = f">= {min_candidates:.0e} candidates < {target_seconds:g} s" if big else "grid == loop"
    passed = run.agrees and (run.seconds < target_seconds if big else True)
    note = (
        f"{run.shape_text} points × {per_point} candidates; {ref:,.0f}x the reference per candidate; "
        f"max rel diff {run.max_rel_diff:.1e}"
    )
    extra = {
        "optimizer_points": run.grid_points,
        "candidates_per_point": per_point,
        "seconds_per_candidate": run.seconds / n,
        "ratio_vs_reference_per_candidate": ref,
        "reference_seconds_per_candidate": REFERENCE_SECONDS_PER_CANDIDATE[name],
    }
    return [
        run.grid_row(f"{name} {n:.1e} candidates", target, passed, note, extra),
        run.loop_row(
            f"{name} scalar loop ({loop_points} pts)",
            "one optimizer solve per point, sampled from the grid",
            {"optimizer_points": loop_points},
        ),
    ]


def bench_parallelism(candidates: int = 10**6, repeats: int = 3, loop_points: int = 8, seed: int = 0) -> list[Row]:
    """ParallelismOptimizer over >= ``candidates`` candidates in one call."""
    axes, lists = parallelism_axes(candidates)
    return _bench(
        "ParallelismOptimizer",
        harness.mlsysim().ParallelismOptimizer(),
        axes,
        lists,
        _per_point(lists),
        repeats,
        loop_points,
        seed,
        ("best_tp_size", "mfu"),
        TARGETS["parallelism_seconds"],
        TARGETS["parallelism_candidates"],
    )


def bench_parallelism_refined(
    candidates: int = 10**6, repeats: int = 3, loop_points: int = 4, seed: int = 3
) -> list[Row]:
    """ParallelismOptimizer under ``fidelity="refined"`` over >= ``candidates`` candidates
    (microbatch size, recomputation, ZeRO stage and cp_size searched) in one call."""
    axes, fixed = parallelism_refined_axes(candidates)
    rows = _bench(
        "ParallelismOptimizer",
        harness.mlsysim().ParallelismOptimizer(),
        axes,
        fixed,
        _per_point(fixed),
        repeats,
        loop_points,
        seed,
        ("best_tp_size", "best_microbatch_size", "best_cp_size", "mfu", "notes"),
        TARGETS["parallelism_seconds"],
        TARGETS["parallelism_candidates"],
    )
    for row in rows:
        row.benchmark = row.benchmark.replace("ParallelismOptimizer", "ParallelismOptimizer refined", 1)
    return rows


def bench_batching(candidates: int = 10**6, repeats: int = 3, loop_points: int = 8, seed: int = 1) -> list[Row]:
    """BatchingOptimizer over >= ``candidates`` (point, batch) candidates in one call."""
    return _bench(
        "BatchingOptimizer",
        harness.mlsysim().BatchingOptimizer(),
        batching_axes(candidates),
        {"seq_len": 512},
        256,
        repeats,
        loop_points,
        seed,
        ("best_batch_size", "max_throughput"),
        None,
        None,
    )


def bench_placement(candidates: int = 10**6, repeats: int = 3, loop_points: int = 20, seed: int = 2) -> list[Row]:
    """PlacementOptimizer over >= ``candidates`` (point, region) candidates in one call."""
    ms = harness.mlsysim()
    regions = len(ms.Infra.Grids.keys())
    return _bench(
        "PlacementOptimizer",
        ms.PlacementOptimizer(),
        placement_axes(candidates),
        {"regions": "all"},
        regions,
        repeats,
        loop_points,
        seed,
        ("best_region", "objective"),
        None,
        None,
    )


def run_all(candidates: int = 10**6, repeats: int = 3, loop_points: int = 8, progress: bool = False) -> list[Row]:
    """Every benchmark, in order (one untimed warm-up call first: imports, registries, numba)."""
    ms = harness.mlsysim()
    ms.ParallelismOptimizer().solve(ms.Models.Language.Llama3_8B, ms.Systems.Clusters.Lab_64_H100, 64, top_k=2)
    ms.ParallelismOptimizer().solve(
        ms.Models.Language.Llama3_8B, ms.Systems.Clusters.Lab_64_H100, 64, fidelity="refined"
    )
    return harness.run_steps(
        [
            lambda: bench_parallelism(candidates, repeats, loop_points),
            lambda: bench_parallelism_refined(candidates, repeats, max(1, loop_points // 2)),
            lambda: bench_batching(candidates, repeats, loop_points),
            lambda: bench_placement(candidates, repeats, 2 * loop_points),
        ],
        progress,
    )


def main(argv=None) -> int:
    return harness.cli(
        argv,
        prog="bench_optimizers",
        doc=__doc__,
        run_all=run_all,
        targets=TARGETS,
        json_extra={"reference": REFERENCE_SECONDS_PER_CANDIDATE},
        quick=dict(candidates=10**4, loop_points=3),
        footnote="points: candidates (optimizer points × candidates per point). Seconds: best of "
        "repeats of solve + .dataset. traced MB: tracemalloc peak; RSS MB: peak RSS growth.",
    )


if __name__ == "__main__":
    sys.exit(main())
