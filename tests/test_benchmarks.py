"""Each benchmark body once, tiny (fast); the full table with its targets (``-m slow``)."""

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import bench_spine as bs  # noqa: E402


def _sane(row, points=True):
    assert row.seconds is not None and row.seconds > 0 and math.isfinite(row.seconds)
    if points:
        assert row.points is not None and row.points > 0
        assert row.points_per_s > 0 and math.isfinite(row.points_per_s)
        assert row.points_per_s == pytest.approx(row.points / row.seconds)


def test_single_node_tiny_grid_equals_loop():
    grid, loop = bs.bench_single_node(10**3, repeats=1, loop_points=20)
    _sane(grid)
    _sane(loop)
    assert grid.points == bs._n_points(bs.single_node_axes(10**3)) >= 10**3
    assert grid.extra["max_rel_diff"] <= 1e-12
    assert grid.passed is True
    assert grid.ratio_vs_loop > 0 and loop.target == "baseline"
    assert grid.traced_mb is not None and grid.traced_mb > 0 and grid.rss_mb is not None


def test_single_node_axes_reach_the_size():
    for size in bs.FULL_SIZES:
        axes = bs.single_node_axes(size)
        assert size <= bs._n_points(axes) <= 1.3 * size
        assert list(axes) == ["model", "hardware", "batch_size", "precision", "efficiency"]


def test_scalar_solve_tiny():
    (row,) = bs.bench_scalar_solve(calls=20, warmup=2)
    _sane(row)
    assert row.extra["bottleneck"] in ("Compute", "Memory")
    assert row.extra["latency_ms"] > 0 and 0 < row.extra["mfu"] <= 1


def test_import_is_light():
    (row,) = bs.bench_import(runs=1)
    _sane(row, points=False)
    assert row.extra["registry_reads"] == 0
    assert row.extra["forbidden_imported"] == [], "import mlsysim_vec pulled in heavy modules"


def test_training_memory_tiny_grid_equals_loop():
    (row,) = bs.bench_training_memory(10**3, repeats=1, loop_points=10)
    _sane(row)
    assert row.points >= 10**3
    assert row.extra["max_rel_diff"] <= 1e-12 and row.passed is True


def test_chunked_tiny_equals_eager():
    eager, lazy = bs.bench_chunked(10**3, chunk=2, repeats=1)
    _sane(eager)
    _sane(lazy)
    assert lazy.extra["n_chunks"] > 1
    assert lazy.extra["max_rel_diff"] <= 1e-12 and eager.passed and lazy.passed


def test_table_and_json():
    rows = [bs.Row("a", 10, 0.5, 20.0, 1.0, 2.0, 3.0, "t", True, "n"),
            bs.Row("b", None, 1e-4, None, target="x", passed=False)]
    table = bs.format_table(rows)
    assert "points/s" in table and "PASS" in table and "FAIL" in table and len(table.splitlines()) == 4
    assert json.dumps(bs._json_ready({"x": math.inf}))


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    out = tmp_path / "bench.json"
    assert bs.main(["--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    failed = [r["benchmark"] for r in rows if r["passed"] is False]
    assert not failed, f"benchmarks below target: {failed}"
    big = [r for r in rows if r["benchmark"].startswith("SingleNodeModel grid") and r["points"] >= 10**6]
    assert big and all(r["points_per_s"] >= bs.TARGETS["single_node_points_per_s"] for r in big)
    (scalar,) = [r for r in rows if r["benchmark"].startswith("scalar solve")]
    assert scalar["seconds"] <= bs.TARGETS["scalar_solve_s"]
    (imp,) = [r for r in rows if r["benchmark"].startswith("import")]
    assert imp["seconds"] <= bs.TARGETS["import_s"] and imp["extra"]["clean"]
