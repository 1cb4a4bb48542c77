"""Each ops benchmark body once, tiny (fast); the full table with its targets (``-m slow``)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchcheck import full_table, sane  # noqa: E402

from benchmarks import bench_ops as bo  # noqa: E402
from benchmarks.harness import n_points  # noqa: E402


@pytest.mark.parametrize("bench", [bo.bench_economics, bo.bench_sustainability])
def test_tiny_grid_equals_loop(bench):
    (row,) = bench(10**3, repeats=1, loop_points=10)
    sane(row)
    assert row.points == n_points(bo.ops_axes(10**3)) >= 10**3
    assert row.extra["max_rel_diff"] <= 1e-12 and row.passed is True
    assert row.ratio_vs_loop > 0 and row.target == "grid == loop"
    assert row.extra["shape"]["fleet"] == 18 and row.extra["shape"]["grid"] == 12


def test_ops_axes_reach_the_size():
    for size in bo.FULL_SIZES:
        axes = bo.ops_axes(size)
        assert list(axes) == ["fleet", "grid", "duration_days", "mfu"]
        assert size <= n_points(axes) <= 1.3 * size


def test_quick_main_writes_json(tmp_path, capsys):
    rows = full_table(bo.main, tmp_path, "--quick")
    assert [r["benchmark"].split()[0] for r in rows] == ["EconomicsModel", "SustainabilityModel"]
    assert "points/s" in capsys.readouterr().out


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    """clusters × regions × durations × mfu at >= 1e7 points/s on the 1e6- and 1e7-point grids."""
    rows = full_table(bo.main, tmp_path, "--full")
    big = [r for r in rows if r["points"] >= bo.TARGETS["ops_min_points"]]
    assert {r["benchmark"].split()[0] for r in big} == {"EconomicsModel", "SustainabilityModel"}
    assert all(r["points_per_s"] >= bo.TARGETS["ops_points_per_s"] for r in big)
