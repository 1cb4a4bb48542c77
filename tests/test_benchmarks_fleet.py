"""Each fleet benchmark body once, tiny (fast); the full table with its targets (``-m slow``)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchcheck import full_table, sane  # noqa: E402

from benchmarks import bench_fleet as bf  # noqa: E402
from benchmarks.harness import n_points  # noqa: E402


@pytest.mark.parametrize(
    "bench, axes",
    [
        (bf.bench_distributed, bf.distributed_axes),
        (bf.bench_distributed_refined, bf.distributed_refined_axes),
        (bf.bench_reliability, bf.reliability_axes),
        (bf.bench_topology, bf.topology_axes),
    ],
)
def test_tiny_grid_equals_loop(bench, axes):
    grid, loop = bench(10**3, repeats=1, loop_points=10)
    sane(grid)
    sane(loop)
    assert grid.points == n_points(axes(10**3)) >= 10**3
    assert grid.extra["max_rel_diff"] <= 1e-12 and grid.passed is True
    assert grid.target == "grid == loop" and loop.target == "baseline"


def test_distributed_axes_are_the_issue_grid():
    """models × clusters × tp × pp × microbatches × batch, reaching 1e6 points."""
    axes = bf.distributed_axes(10**6)
    assert list(axes) == ["model", "fleet", "tp_size", "pp_size", "microbatch_count", "batch_size"]
    assert 10**6 <= n_points(axes) <= 1.1 * 10**6
    assert all(len(v) > 1 for v in axes.values())
    assert n_points(bf.reliability_axes(10**7)) >= 10**7 and n_points(bf.topology_axes(10**7)) >= 10**7


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    rows = full_table(bf.main, tmp_path)
    (refined,) = [r for r in rows if r["benchmark"].startswith("DistributedModel refined grid")]
    assert refined["points"] >= bf.TARGETS["distributed_min_points"]
    assert refined["points_per_s"] >= bf.TARGETS["distributed_refined_points_per_s"]
    assert refined["extra"]["max_rel_diff"] <= 1e-12
    for name, key in [
        ("DistributedModel", "distributed_points_per_s"),
        ("ReliabilityModel", "reliability_points_per_s"),
        ("TopologyModel", "topology_points_per_s"),
    ]:
        (row,) = [r for r in rows if r["benchmark"].startswith(f"{name} grid")]  # not "refined grid"
        assert row["points"] >= (
            bf.TARGETS["distributed_min_points"] if name == "DistributedModel" else bf.TARGETS["simple_min_points"]
        )
        assert row["points_per_s"] >= bf.TARGETS[key]
