"""Each analysis benchmark body once, tiny (fast); the full table with its targets (``-m slow``)."""

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import bench_analysis as ba  # noqa: E402


def _sane(row):
    assert row.seconds is not None and row.seconds > 0 and math.isfinite(row.seconds)
    assert row.points is not None and row.points > 0
    assert row.points_per_s == pytest.approx(row.points / row.seconds)


def test_sensitivity_tiny_grid_equals_loop():
    grid, loop = ba.bench_sensitivity(10**3, repeats=1, loop_points=10)
    _sane(grid)
    _sane(loop)
    assert grid.points == ba.spine._n_points(ba.sensitivity_axes(10**3)) >= 10**3
    assert grid.extra["max_rel_diff"] <= 1e-12 and grid.passed is True
    assert grid.target == "grid == loop" and loop.target == "baseline"
    assert grid.traced_mb is not None and grid.traced_mb > 0


def test_synthesis_tiny_grid_equals_loop():
    grid, loop = ba.bench_synthesis(10**3, repeats=1, loop_points=10)
    _sane(grid)
    assert grid.points >= 10**3 and grid.extra["max_rel_diff"] <= 1e-12 and grid.passed is True


def test_axes_reach_the_size():
    for size in (10**3, 10**4, 10**5, 10**6):
        axes = ba.sensitivity_axes(size)
        assert size <= ba.spine._n_points(axes) <= 1.5 * size
        assert list(axes) == ["model", "hardware", "batch_size", "precision", "perturbation_pct"]
        syn = ba.synthesis_axes(size)
        assert size <= ba.spine._n_points(syn) <= 2 * size + ba.spine._n_points(ba.synthesis_axes(1))


def test_quick_main_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    assert ba.main(["--quick", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["target"] for r in rows].count("baseline") == 2
    assert all(r["passed"] is not False for r in rows)


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    """SensitivitySolver over >= 1e5 points in < 1 s (issue 5, item 7), grid == loop everywhere."""
    out = tmp_path / "bench.json"
    assert ba.main(["--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    failed = [r["benchmark"] for r in rows if r["passed"] is False]
    assert not failed, f"benchmarks below target: {failed}"
    big = [r for r in rows if r["benchmark"].startswith("SensitivitySolver grid") and r["points"] >= 10**5]
    assert big and all(r["seconds"] < ba.TARGETS["sensitivity_seconds"] for r in big)
