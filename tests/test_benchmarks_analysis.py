"""Each analysis benchmark body once, tiny (fast); the full table with its targets (``-m slow``)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchcheck import full_table, sane  # noqa: E402

from benchmarks import bench_analysis as ba  # noqa: E402
from benchmarks.harness import n_points  # noqa: E402


def test_sensitivity_tiny_grid_equals_loop():
    grid, loop = ba.bench_sensitivity(10**3, repeats=1, loop_points=10)
    sane(grid)
    sane(loop)
    assert grid.points == n_points(ba.sensitivity_axes(10**3)) >= 10**3
    assert grid.extra["max_rel_diff"] <= 1e-12 and grid.passed is True
    assert grid.target == "grid == loop" and loop.target == "baseline"
    assert grid.traced_mb is not None and grid.traced_mb > 0


def test_synthesis_tiny_grid_equals_loop():
    grid, loop = ba.bench_synthesis(10**3, repeats=1, loop_points=10)
    sane(grid)
    assert grid.points >= 10**3 and grid.extra["max_rel_diff"] <= 1e-12 and grid.passed is True


def test_axes_reach_the_size():
    for size in (10**3, 10**4, 10**5, 10**6):
        axes = ba.sensitivity_axes(size)
        assert size <= n_points(axes) <= 1.5 * size
        assert list(axes) == ["model", "hardware", "batch_size", "precision", "perturbation_pct"]
        syn = ba.synthesis_axes(size)
        assert size <= n_points(syn) <= 2 * size + n_points(ba.synthesis_axes(1))


def test_quick_main_writes_json(tmp_path):
    rows = full_table(ba.main, tmp_path, "--quick")
    assert [r["target"] for r in rows].count("baseline") == 2


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    """SensitivitySolver over >= 1e5 points in < 1 s (issue 5, item 7), grid == loop everywhere."""
    rows = full_table(ba.main, tmp_path)
    big = [r for r in rows if r["benchmark"].startswith("SensitivitySolver grid") and r["points"] >= 10**5]
    assert big and all(r["seconds"] < ba.TARGETS["sensitivity_seconds"] for r in big)
