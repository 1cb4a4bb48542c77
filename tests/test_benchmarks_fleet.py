"""Each fleet benchmark body once, tiny (fast); the full table with its targets (``-m slow``)."""

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import bench_fleet as bf  # noqa: E402


def _sane(row):
    assert row.seconds is not None and row.seconds > 0 and math.isfinite(row.seconds)
    assert row.points is not None and row.points > 0
    assert row.points_per_s == pytest.approx(row.points / row.seconds)


@pytest.mark.parametrize("bench, axes", [(bf.bench_distributed, bf.distributed_axes),
                                         (bf.bench_reliability, bf.reliability_axes),
                                         (bf.bench_topology, bf.topology_axes)])
def test_tiny_grid_equals_loop(bench, axes):
    grid, loop = bench(10**3, repeats=1, loop_points=10)
    _sane(grid)
    _sane(loop)
    assert grid.points == bf.bs._n_points(axes(10**3)) >= 10**3
    assert grid.extra["max_rel_diff"] <= 1e-12 and grid.passed is True
    assert grid.target == "grid == loop" and loop.target == "baseline"


def test_distributed_axes_are_the_issue_grid():
    """models × clusters × tp × pp × microbatches × batch, reaching 1e6 points."""
    axes = bf.distributed_axes(10**6)
    assert list(axes) == ["model", "fleet", "tp_size", "pp_size", "microbatch_count", "batch_size"]
    assert 10**6 <= bf.bs._n_points(axes) <= 1.1 * 10**6
    assert all(len(v) > 1 for v in axes.values())
    assert bf.bs._n_points(bf.reliability_axes(10**7)) >= 10**7 and bf.bs._n_points(bf.topology_axes(10**7)) >= 10**7


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    out = tmp_path / "bench.json"
    assert bf.main(["--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    failed = [r["benchmark"] for r in rows if r["passed"] is False]
    assert not failed, f"benchmarks below target: {failed}"
    for name, key in [("DistributedModel", "distributed_points_per_s"),
                      ("ReliabilityModel", "reliability_points_per_s"), ("TopologyModel", "topology_points_per_s")]:
        (row,) = [r for r in rows if r["benchmark"].startswith(f"{name} grid")]
        assert row["points"] >= (bf.TARGETS["distributed_min_points"] if name == "DistributedModel"
                                 else bf.TARGETS["simple_min_points"])
        assert row["points_per_s"] >= bf.TARGETS[key]
