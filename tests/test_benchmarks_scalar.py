"""The scalar-path benchmark (``benchmarks/bench_scalar.py``): a small run in the suite checks the
tables' structure and that every resolver has a configuration that runs; the ``slow`` test runs
the full tables and asserts the targets (a scalar call at most as slow as mlsysim 0.3.0's where
that interpreter exists, a 10^6-value 1-D axis at >= 10^7 points/s)."""

import dataclasses
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchcheck import full_table, sane  # noqa: E402

import mlsysim_vec as ms  # noqa: E402
from benchmarks import bench_scalar as bs  # noqa: E402
from benchmarks import harness  # noqa: E402
from mlsysim_vec import solvers  # noqa: E402

FEW = ["EfficiencyModel", "TailLatencyModel", "DataModel"]


def test_every_resolver_and_optimizer_has_a_configuration():
    resolvers = {name for name in solvers.__all__ if name != "OOMError"}
    assert {c.resolver for c in bs.CASES} == resolvers
    assert len(bs.CASES) == len(resolvers)


@pytest.mark.parametrize("case", bs.CASES, ids=lambda c: c.resolver)
def test_configuration_runs_and_reads(case):
    """Our side of every configuration: the call, its reads, the 1-D axis argument and the
    product grid's second argument are all accepted."""
    result = bs._scalar_call(case, reference=False)()
    for ours, _, unit in case.reads:
        value = getattr(result, ours)
        if unit:
            assert value.to(unit).magnitude == value.to(unit).magnitude  # a number (not NaN)
    arguments = ms.Engine if case.resolver == "Engine" else getattr(ms, case.resolver)
    names = {a.name for a in getattr(arguments, "ARGS", ms.SingleNodeModel.ARGS)}
    assert case.axis.name in names and case.second.name in names
    assert len(case.axis.values(5)) == 5 and (case.second.name not in case.kwargs or case.second.name)


def test_scalar_table_without_the_reference():
    rows = bs.bench_scalar(calls=10, budget=0.2, rounds=1, only=FEW, use_reference=False)
    assert [r.benchmark for r in rows] == FEW
    for row in rows:
        sane(row, points=False)
        assert row.section == "scalar" and row.points >= 5 and row.points_per_s == pytest.approx(1 / row.seconds)
        assert row.other_seconds is None and row.ratio is None and row.passed is None and row.target == "-"
        assert row.other_or_text == "not available"
        assert row.grid_seconds > 0 and row.kernel_seconds is not None
        assert set(row.extra["breakdown_s"]) == {"grid", "kernel", "result", "reads"}
        assert "reads" in row.note and row.extra["clock"] == "cpu"


def test_scalar_table_when_the_reference_worker_fails(tmp_path):
    """An interpreter without mlsysim: the worker exits and the column says why."""
    rows = bs.bench_scalar(calls=5, budget=0.1, rounds=1, only=FEW[:1], reference=sys.executable, breakdown=False)
    (row,) = rows
    assert row.other_seconds is None and row.passed is None
    assert row.other_or_text.startswith("not available")
    assert row.grid_seconds is None


def test_axis_table_small(monkeypatch):
    rows = bs.bench_axis(points=2000, repeats=1, only=FEW)
    assert [r.benchmark.split()[0] for r in rows] == FEW
    for row in rows:
        sane(row)
        assert row.section == "axis" and row.points == 2000 and row.other_seconds > 0 and row.ratio > 0
        assert row.target == "-" and row.passed is None  # the target applies from 10^6 values
        assert row.extra["dims"] == {row.extra["axis"]: 2000} and not row.extra["capped"]
    # an axis capped for memory (the optimizers) is held to the target at the size it ran
    small = tuple(dataclasses.replace(c, max_axis_points=500) if c.resolver == "DataModel" else c for c in bs.CASES)
    monkeypatch.setattr(bs, "CASES", small)
    (capped,) = bs.bench_axis(points=2000, repeats=1, only=["DataModel"], product=False)
    assert capped.points == 500 and capped.extra["capped"] and capped.passed is not None
    assert "capped at 500 values" in capped.note and capped.other_seconds is None


def test_axis_input_forms_small():
    rows = bs.bench_axis_forms(points=1000, repeats=1)
    assert [r.benchmark.rsplit(" ", 1)[-1] for r in rows] == ["list", "Quantity", "DataArray"]
    for row in rows:
        sane(row)
        assert row.section == "axis" and row.passed is None


def test_median_call_batches_and_counts():
    count = []
    median, n = bs.median_call(lambda: count.append(1), calls=50, budget=0.5)
    assert median > 0 and 50 <= n < len(count) and math.isfinite(median)
    slow, n = bs.median_call(lambda: sum(range(10**5)), calls=3, budget=0.05, min_calls=3, clock="wall")
    assert n >= 3 and slow > 1e-4


def test_harness_formats_microseconds_and_text():
    assert harness._fmt(12.3e-6, "us") == "12.3" and harness._fmt(2.5e-3, "us") == "2,500"
    assert harness._fmt("not available", "us") == "not available" and harness._fmt(None, "us") == "-"
    rows = [bs.ScalarRow("A", 10, 1e-5, 1e5, other_seconds=2e-5, ratio=0.5), bs.ScalarRow("B", 1, 1.0, 1.0)]
    table = harness.format_table(rows, bs.SCALAR_COLUMNS)
    assert "ours µs" in table and "10.0" in table and "20.0" in table and "0.50x" in table


def test_quick_main_prints_both_tables_and_writes_json(tmp_path, capsys):
    out = tmp_path / "scalar.json"
    argv = ["--quick", "--reference", "none", "--only", "EfficiencyModel,TopologyModel", "--json", str(out)]
    assert bs.main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.index("Scalar call") < printed.index("1-D axis") and "mlsysim µs" in printed
    rows = json.loads(out.read_text())["rows"]
    assert [(r["section"], r["benchmark"].split()[0]) for r in rows] == [
        ("scalar", "EfficiencyModel"),
        ("scalar", "TopologyModel"),
        ("axis", "EfficiencyModel"),
        ("axis", "TopologyModel"),
    ]
    assert all(r["seconds"] > 0 for r in rows)


@pytest.mark.slow
def test_full_table_meets_targets(tmp_path):
    """Every resolver's scalar call at most as slow as mlsysim 0.3.0's (where the reference
    interpreter exists), and a 10^6-value 1-D axis at >= 10^7 points/s for every resolver."""
    rows = full_table(bs.main, tmp_path)
    scalar = [r for r in rows if r["section"] == "scalar"]
    axis = [r for r in rows if r["section"] == "axis"]
    assert len(scalar) == len(bs.CASES) and len(axis) == len(bs.CASES) + 3  # + the input forms
    if bs.reference_python() is not None:
        assert all(r["ratio"] is not None and r["ratio"] <= bs.TARGETS["scalar_ratio"] for r in scalar)
    assert all(r["points_per_s"] >= bs.TARGETS["axis_points_per_s"] for r in axis)
