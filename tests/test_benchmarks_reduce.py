"""Each reduction benchmark body once, tiny (fast); the full table with its targets (``-m slow``)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchcheck import full_table, sane  # noqa: E402

from benchmarks import bench_reduce as br  # noqa: E402


def _numba_and_reference(rows):
    fast, ref = rows[0], rows[1]
    sane(fast)
    sane(ref)
    assert fast.benchmark.endswith(" numba") and ref.target == "baseline"
    assert fast.extra["agree"] is True and fast.passed is True
    assert fast.ratio_vs_loop == pytest.approx(fast.points_per_s / ref.points_per_s)
    return fast


def test_masked_argmax_tiny_numba_equals_numpy():
    rows = br.bench_masked_argmax(2 * 10**4, repeats=1)
    fast = _numba_and_reference(rows)
    assert fast.points == 2 * 10**4 and fast.target == "numba == numpy"  # below the size the target needs
    (axes,) = rows[2:]
    sane(axes)
    assert axes.passed is True and "(0, 2)" in axes.benchmark


def test_top_k_tiny_numba_equals_numpy():
    _numba_and_reference(br.bench_top_k(2 * 10**4, k=5, repeats=1))


def test_pareto_tiny_numba_equals_numpy():
    fast = _numba_and_reference(br.bench_pareto(10**3, repeats=1))
    assert 0 < fast.extra["front_size"] < 10**3


def test_chunked_argmax_tiny_equals_eager():
    (row,) = br.bench_chunked_argmax(2 * 10**4, chunk_rows=7, chunk_cols=300, repeats=1)
    sane(row)
    assert row.extra["blocks"] > 1 and row.passed is True


def test_first_call_times_compilation_in_a_fresh_process():
    rows = br.bench_first_call()
    assert [r.benchmark.split(": ")[1].split(" ")[0] for r in rows] == [
        "import",
        "masked_argmax",
        "top_k",
        "pareto_front",
    ]
    assert all(r.seconds > 0 for r in rows)


def test_table_titles_the_numpy_baseline():
    rows = [
        br.Row("a numba", 10, 0.5, 20.0, 1.0, 2.0, 3.0, "t", True, "n"),
        br.Row("a numpy reference", 10, 1.0, 10.0, target="baseline"),
    ]
    table = br.format_table(rows)
    assert "vs numpy" in table and "elements/s" in table and "PASS" in table and len(table.splitlines()) == 4


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    rows = full_table(br.main, tmp_path)
    (argmax,) = [r for r in rows if r["extra"].get("kernel") == "masked_argmax" and r["target"].startswith(">=")]
    assert argmax["points"] >= br.TARGETS["argmax_min_elements"]
    assert argmax["points_per_s"] >= br.TARGETS["argmax_elements_per_s"]
    (pareto,) = [r for r in rows if r["benchmark"].startswith("pareto_front") and r["benchmark"].endswith(" numba")]
    assert pareto["points"] >= br.TARGETS["pareto_points"] and pareto["seconds"] < br.TARGETS["pareto_s"]
