"""Each serving benchmark body once, tiny (fast); the full table with its targets (``-m slow``)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchcheck import full_table, sane  # noqa: E402

from benchmarks import bench_serving as bs  # noqa: E402
from benchmarks.harness import REL_TOL, n_points  # noqa: E402


def _sane(row):
    sane(row)
    assert row.traced_mb is not None and row.traced_mb > 0
    assert row.passed is True, row


def test_serving_tiny_grid_equals_loop():
    (row,) = bs.bench_serving(10**3, repeats=1, loop_points=10)
    _sane(row)
    assert row.extra["max_rel_diff"] <= REL_TOL and row.ratio_vs_loop > 0
    assert row.points == n_points(bs.serving_axes(10**3)) >= 10**3


def test_serving_axes_reach_the_size():
    for size in (10**4, 10**5, 10**6, 10**7):  # 1,984 points at least (models × GPUs × precisions)
        axes = bs.serving_axes(size)
        assert size <= n_points(axes) <= 1.3 * size
        assert list(axes) == ["model", "hardware", "seq_len", "batch_size", "precision"]


def test_refined_and_closed_loop_tiny_grids_equal_loops():
    (refined,) = bs.bench_serving_refined(10**3, repeats=1, loop_points=10)
    _sane(refined)
    assert refined.extra["max_rel_diff"] <= REL_TOL and refined.extra["shape"]["tp_size"] == len(bs.TP_SIZES)
    (loop,) = bs.bench_closed_loop(10**3, repeats=1, loop_points=10)
    _sane(loop)
    assert loop.extra["max_rel_diff"] <= REL_TOL


def test_refined_and_closed_loop_axes_reach_the_size():
    for size in (10**5, 10**6, 10**7):  # at least models × GPUs × tp × precisions (7,936 points)
        refined, loop = bs.refined_axes(size), bs.closed_loop_axes(size)
        assert size <= n_points(refined) <= 1.3 * size and size <= n_points(loop) <= 1.3 * size
        assert list(refined) == ["model", "hardware", "precision", "tp_size", "seq_len", "batch_size"]
        assert list(loop) == ["model", "hardware", "output_tokens", "input_tokens", "concurrency"]


def test_capacity_tiny_grid_equals_loop():
    (row,) = bs.bench_capacity(10**3, repeats=1, loop_points=10)
    _sane(row)
    assert row.extra["max_rel_diff"] <= REL_TOL
    axes = bs.capacity_axes(10**5)
    assert 10**5 <= n_points(axes) <= 1.1 * 10**5
    assert list(axes) == ["qps", "target_p99_latency_ms", "model", "hardware"]


def test_tail_latency_tiny():
    sweep, zipped = bs.bench_tail_latency(10**4, 500, max_replicas=1024, repeats=1, loop_points=10)
    _sane(sweep)
    _sane(zipped)
    assert sweep.extra["shape"]["num_replicas"] == 1024
    assert zipped.extra["max_rel_diff"] <= REL_TOL


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    rows = {r["benchmark"].split(" 1e")[0]: r for r in full_table(bs.main, tmp_path)}
    serving = rows["ServingModel grid"]
    assert serving["points"] >= bs.TARGETS["serving_min_points"]
    assert serving["points_per_s"] >= bs.TARGETS["serving_points_per_s"]
    refined = rows["ServingModel refined tp"]
    assert refined["points"] >= bs.TARGETS["serving_min_points"]
    assert refined["points_per_s"] >= bs.TARGETS["refined_points_per_s"]
    loop = rows["ContinuousBatching closed loop"]
    assert loop["points"] >= bs.TARGETS["serving_min_points"]
    assert loop["points_per_s"] >= bs.TARGETS["closed_loop_points_per_s"]
    capacity = rows["ServingCapacityModel grid"]
    assert capacity["points"] >= bs.TARGETS["capacity_points"]
    assert capacity["seconds"] < bs.TARGETS["capacity_seconds"]
    assert rows["TailLatencyModel sweep"]["extra"]["shape"]["num_replicas"] == bs.TARGETS["tail_max_replicas"]
