"""Each parquet I/O benchmark body once, tiny (fast); the 1e8-point table with its targets (``-m slow``)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchcheck import full_table, sane  # noqa: E402

from benchmarks import bench_io as bi  # noqa: E402
from benchmarks.bench_spine import single_node_axes  # noqa: E402
from benchmarks.harness import n_points  # noqa: E402


def test_sweep_chunks_bound_the_chunk():
    for points in (2 * 10**4, bi.SIZE, bi.FULL_SIZE, bi.HUGE_SIZE):
        axes = single_node_axes(points)
        chunks = bi.sweep_chunks(axes)
        per_chunk = n_points(axes) / len(axes["batch_size"]) * chunks["batch_size"]
        per_chunk *= chunks.get("model", len(axes["model"])) / len(axes["model"])
        assert per_chunk <= 2 * bi.CHUNK_POINTS, (points, chunks)
        assert -(-len(axes["batch_size"]) // chunks["batch_size"]) >= 4 or chunks["batch_size"] == 1


def test_write_and_read_tiny(tmp_path):
    base, write = bi.bench_write(2 * 10**4, str(tmp_path), keep=True)
    for row in (base, write):
        sane(row)
    assert base.target == "baseline" and base.points == write.points == n_points(single_node_axes(2 * 10**4))
    assert write.passed is True and write.extra["agrees"] and write.extra["n_chunks"] >= 4
    assert write.ratio_vs_loop == pytest.approx(write.seconds / base.seconds)
    assert write.rss_mb is not None and write.extra["peak_rss_mb"] > 0
    pandas, ours = bi.bench_read(write.extra["path"], write.points)
    sane(pandas)
    sane(ours)
    assert ours.passed is True and ours.extra["agrees"] and ours.extra["rss_ratio"] > 0
    assert ours.ratio_vs_loop == pytest.approx(ours.seconds / pandas.seconds)


def test_partitioned_tiny():
    (row,) = bi.bench_partitioned(2 * 10**4)
    sane(row)
    assert row.passed is True and row.extra["files"] >= 4 and row.ratio_vs_loop is None


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    """The 1e8-point sweep: write within 2.5x pyarrow at <= 2 GiB peak RSS; read of 3 outputs within
    1.5x pandas' time and memory (full_table fails on any row below its target)."""
    rows = full_table(bi.main, tmp_path, "--full")
    (write,) = [r for r in rows if r["benchmark"].startswith("write_parquet SingleNodeModel")]
    assert write["points"] >= bi.FULL_SIZE and write["ratio_vs_loop"] <= bi.TARGETS["write_x_pyarrow"]
    assert write["extra"]["peak_rss_mb"] <= bi.TARGETS["write_peak_rss_mb"]
    (read,) = [r for r in rows if r["benchmark"].startswith("read_dataset")]
    assert read["ratio_vs_loop"] <= bi.TARGETS["read_x_pandas_time"]
    assert read["extra"]["rss_ratio"] <= bi.TARGETS["read_x_pandas_rss"]
