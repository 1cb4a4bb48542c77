"""Each benchmark body once, tiny (fast); the full table with its targets (``-m slow``)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchcheck import full_table, sane  # noqa: E402

from benchmarks import bench_spine as bs  # noqa: E402
from benchmarks.harness import n_points  # noqa: E402


def test_single_node_tiny_grid_equals_loop():
    grid, loop = bs.bench_single_node(10**3, repeats=1, loop_points=20)
    sane(grid)
    sane(loop)
    assert grid.points == n_points(bs.single_node_axes(10**3)) >= 10**3
    assert grid.extra["max_rel_diff"] <= 1e-12
    assert grid.passed is True
    assert grid.ratio_vs_loop > 0 and loop.target == "baseline"
    assert grid.traced_mb is not None and grid.traced_mb > 0 and grid.rss_mb is not None


def test_single_node_axes_reach_the_size():
    for size in bs.FULL_SIZES:
        axes = bs.single_node_axes(size)
        assert size <= n_points(axes) <= 1.3 * size
        assert list(axes) == ["model", "hardware", "batch_size", "precision", "efficiency"]


def test_scalar_solve_tiny():
    (row,) = bs.bench_scalar_solve(calls=20, warmup=2)
    sane(row)
    assert row.extra["bottleneck"] in ("Compute", "Memory")
    assert row.extra["latency_ms"] > 0 and 0 < row.extra["mfu"] <= 1


def test_import_is_light():
    (row,) = bs.bench_import(runs=1)
    sane(row, points=False)
    assert row.extra["registry_reads"] == 0
    assert row.extra["forbidden_imported"] == [], "import mlsysim_vec pulled in heavy modules"


def test_training_memory_tiny_grid_equals_loop():
    (row,) = bs.bench_training_memory(10**3, repeats=1, loop_points=10)
    sane(row)
    assert row.points >= 10**3
    assert row.extra["max_rel_diff"] <= 1e-12 and row.passed is True


def test_chunked_tiny_equals_eager():
    eager, lazy = bs.bench_chunked(10**3, chunk=2, repeats=1)
    sane(eager)
    sane(lazy)
    assert lazy.extra["n_chunks"] > 1
    assert lazy.extra["max_rel_diff"] <= 1e-12 and eager.passed and lazy.passed


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    rows = full_table(bs.main, tmp_path)
    big = [r for r in rows if r["benchmark"].startswith("SingleNodeModel grid") and r["points"] >= 10**6]
    assert big and all(r["points_per_s"] >= bs.TARGETS["single_node_points_per_s"] for r in big)
    (scalar,) = [r for r in rows if r["benchmark"].startswith("scalar solve")]
    assert scalar["seconds"] <= bs.TARGETS["scalar_solve_s"]
    (imp,) = [r for r in rows if r["benchmark"].startswith("import")]
    assert imp["seconds"] <= bs.TARGETS["import_s"] and imp["extra"]["clean"]
