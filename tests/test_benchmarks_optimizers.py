"""Each optimizer benchmark body once, tiny (fast); the full table with its target (``-m slow``)."""

import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchcheck import full_table, sane  # noqa: E402

from benchmarks import bench_optimizers as bo  # noqa: E402


@pytest.mark.parametrize(
    "bench", [bo.bench_parallelism, bo.bench_parallelism_refined, bo.bench_batching, bo.bench_placement]
)
def test_tiny_grid_equals_loop(bench):
    grid, loop = bench(3 * 10**3, repeats=1, loop_points=3)
    sane(grid)
    sane(loop)
    assert grid.points >= 3 * 10**3
    assert grid.points == grid.extra["optimizer_points"] * grid.extra["candidates_per_point"]
    assert grid.extra["max_rel_diff"] <= 1e-12 and grid.passed is True
    assert grid.target == "grid == loop" and loop.target == "baseline"
    assert grid.extra["ratio_vs_reference_per_candidate"] == pytest.approx(
        grid.extra["reference_seconds_per_candidate"] / grid.extra["seconds_per_candidate"]
    )


def test_parallelism_axes_reach_a_million_candidates():
    """Language models × clusters × batch × seq_len, the default candidates of each point."""
    axes, lists = bo.parallelism_axes(10**6)
    assert list(axes) == ["model", "fleet", "batch_size", "seq_len"]
    per_point = math.prod(len(v) if isinstance(v, list) else 1 for v in lists.values())
    assert set(lists) >= {"tp_size", "pp_size", "microbatch_count"} and per_point > 100
    n = math.prod(len(v) for v in axes.values())
    assert 10**6 <= n * per_point <= 1.5 * 10**6


def test_parallelism_refined_axes_search_cp_and_microbatch_size():
    """Refined: the candidates include microbatch size, recomputation, ZeRO stage and cp_size
    (the microbatch count follows from the size), reaching a million candidates."""
    axes, fixed = bo.parallelism_refined_axes(10**6)
    assert fixed["fidelity"] == "refined" and "microbatch_count" not in fixed
    lists = {k: v for k, v in fixed.items() if isinstance(v, list)}
    assert {"microbatch_size", "cp_size", "zero_stage", "activation_recomputation"} <= set(lists)
    assert all(len(lists[k]) > 1 for k in ("microbatch_size", "cp_size", "zero_stage"))
    per_point = math.prod(len(v) for v in lists.values())
    assert 10**6 <= math.prod(len(v) for v in axes.values()) * per_point <= 1.5 * 10**6


@pytest.mark.slow
def test_full_table_meets_target(tmp_path):
    rows = full_table(bo.main, tmp_path)
    grids = [r for r in rows if r["benchmark"].startswith("ParallelismOptimizer") and "loop" not in r["benchmark"]]
    assert len(grids) == 2 and sum("refined" in r["benchmark"] for r in grids) == 1
    for row in grids:
        assert row["points"] >= bo.TARGETS["parallelism_candidates"]
        assert row["seconds"] < bo.TARGETS["parallelism_seconds"]
        assert row["extra"]["ratio_vs_reference_per_candidate"] > 1000
        assert row["ratio_vs_loop"] > 1
