"""The shared benchmark machinery (``benchmarks/harness.py``): axis growth, the grid-vs-loop
check, the step loop, the table and the command line every benchmark module uses."""

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import harness  # noqa: E402
from benchmarks.harness import Row  # noqa: E402

FULL = {"a": [1, 2, 3], "b": np.array([10.0, 20.0, 30.0]), "c": ["x", "y"]}


def _lengths(axes):
    return {name: len(v) for name, v in axes.items()}


@pytest.mark.parametrize(
    "points, lengths",
    [
        (1, (1, 1, 1)),
        (2, (2, 1, 1)),
        (4, (2, 2, 1)),
        (5, (2, 2, 2)),
        (9, (3, 2, 2)),
        (17, (3, 3, 2)),
        (10**6, (3, 3, 2)),
    ],
)
def test_grow_axes_lengthens_round_robin_and_stops_at_the_first_reaching_prefix(points, lengths):
    """Round-robin growth: (1,1,1) → (2,1,1) → (2,2,1) → (2,2,2) → (3,2,2) → (3,3,2), and c
    cannot grow past 2; a count beyond the product of ``FULL`` gives ``FULL`` itself."""
    axes = harness.grow_axes(FULL, points)
    assert tuple(_lengths(axes).values()) == lengths
    assert list(axes) == list(FULL)
    for name, values in axes.items():
        assert list(values) == list(FULL[name][: len(values)])


def test_grow_axes_takes_a_predicate():
    calls = []

    def reached(axes):
        calls.append(_lengths(axes))
        return len(axes["b"]) == 3

    axes = harness.grow_axes(FULL, reached)
    assert _lengths(axes) == {"a": 3, "b": 3, "c": 2}
    assert calls[-1] == _lengths(axes) and len(calls) == 6  # the start, then each of 5 increments


class _Product:
    """A resolver stand-in: ``solve`` gives ``.dataset`` with z = x·y over the arguments' grid
    (``scalar_error``: relative error of the scalar path, to test the check)."""

    def __init__(self, scalar_error=0.0):
        self.scalar_error = scalar_error

    def solve(self, x, y, scale=1.0):
        x, y = np.asarray(x, float), np.asarray(y, float)
        if x.ndim == 0:
            z = xr.DataArray(float(x * y * scale) * (1 + self.scalar_error))
        else:
            z = xr.DataArray(np.outer(x, y) * scale, dims=("x", "y"))
        result = type("Result", (), {})()
        result.dataset = xr.Dataset({"z": z})
        result.z = z
        return result


@pytest.mark.parametrize("error, agrees", [(0.0, True), (1e-6, False)])
def test_grid_vs_loop_counts_points_and_checks_the_numbers(error, agrees):
    axes = {"x": np.arange(1.0, 5.0), "y": np.arange(1.0, 4.0)}
    run = harness.grid_vs_loop(
        _Product(error), axes, {"scale": 2.0}, repeats=1, loop_points=5, seed=0, reads=("z",), per_point=10
    )
    assert run.shape == {"x": 4, "y": 3} and run.grid_points == 12 and run.points == 120
    assert run.agrees is agrees
    assert run.max_rel_diff == (0.0 if agrees else pytest.approx(1e-6 / (1 + 1e-6)))  # |a - b| / max
    assert run.points_per_s == pytest.approx(120 / run.seconds)
    assert run.ratio_vs_loop == pytest.approx((120 / run.seconds) / (50 / run.loop_seconds))
    assert run.traced is not None and run.traced > 0
    grid = run.grid_row("g", *run.rate_target(None, None))
    assert (grid.target, grid.passed, grid.points) == ("grid == loop", agrees, 120)
    assert grid.note == f"4×3; max rel diff {run.max_rel_diff:.1e}"
    loop = run.loop_row("loop")
    assert (loop.points, loop.target, loop.ratio_vs_loop) == (50, "baseline", 1.0)
    assert loop.note == "solve + z per point, sampled from the 12-point grid"


def test_rate_target_applies_from_the_minimum_size():
    run = harness.GridRun({"x": 10}, 1.0, None, None, "none", 1, 1.0, 0.0, ())
    assert run.rate_target(5.0, 100) == ("grid == loop", True)  # too small for the target
    assert run.rate_target(5.0, 10) == (">= 5e+00 pts/s", True)
    assert run.rate_target(50.0, 10) == (">= 5e+01 pts/s", False)


def test_run_steps_keeps_the_order_and_reports_progress(capsys):
    steps = [lambda: [Row("one", 1, 0.5, 2.0)], lambda: [Row("two", 1, 0.25, 4.0), Row("three", 1, 1.0, 1.0)]]
    assert [r.benchmark for r in harness.run_steps(steps)] == ["one", "two", "three"]
    assert capsys.readouterr().err == ""
    harness.run_steps(steps, progress=True)
    assert capsys.readouterr().err.splitlines() == ["  ... one: 0.5 s", "  ... two: 0.25 s", "  ... three: 1 s"]


def test_table_and_json():
    rows = [
        Row("a", 10, 0.5, 20.0, 1.0, 2.0, 3.0, "t", True, "n"),
        Row("b", None, 1e-4, None, target="x", passed=False),
    ]
    table = harness.format_table(rows)
    assert "points/s" in table and "PASS" in table and "FAIL" in table and len(table.splitlines()) == 4
    retitled = harness.format_table(rows, harness.retitled(points_per_s="elements/s"))
    assert "elements/s" in retitled and "points/s" not in retitled
    assert json.loads(json.dumps(harness.json_ready({"x": math.inf, "y": [np.float64(1.5)]}))) == {
        "x": "inf",
        "y": [1.5],
    }


def _cli(argv, rows, calls, **options):
    def run_all(progress, **kw):
        calls.append(kw)
        return rows

    defaults = dict(
        prog="bench_fake",
        doc="Fake benchmarks.\n\nMore.",
        run_all=run_all,
        quick={"size": 1},
        footnote="FOOTNOTE",
        targets={"t": 1},
    )
    return harness.cli(argv, **{**defaults, **options})


def test_cli_runs_prints_and_writes_json(tmp_path, capsys):
    calls, out = [], tmp_path / "rows.json"
    rows = [Row("a", 10, 0.5, 20.0, passed=True)]
    assert (
        _cli(
            ["--json", str(out), "--repeats", "5"],
            rows,
            calls,
            default={"size": 9},
            json_extra={"reference": {"r": 2}},
            columns=harness.retitled(points="elements"),
        )
        == 0
    )
    assert calls == [{"repeats": 5, "size": 9}]
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split() == [
        "benchmark",
        "elements",
        "seconds",
        "points/s",
        "traced",
        "MB",
        "RSS",
        "MB",
        "vs",
        "loop",
        "target",
        "pass",
        "note",
    ]
    kept = "heap kept (M_TRIM_THRESHOLD 1 GiB, M_TOP_PAD 512 MiB)"  # glibc (Linux); "defaults" elsewhere
    assert re.search(rf"CPUs / malloc: ({re.escape(kept)}|defaults)\. FOOTNOTE$", printed.rstrip())
    written = json.loads(out.read_text())
    assert written["environment"]["malloc"] in (kept, "defaults")
    assert list(written) == ["environment", "targets", "reference", "rows"]
    assert written["targets"] == {"t": 1} and written["rows"][0]["benchmark"] == "a"
    assert written["environment"]["cpus"] and written["environment"]["numpy"] == np.__version__


def test_keep_heap_reports_what_it_did():
    """keep_heap applies glibc's mallopt (True) or changes nothing (False, no glibc); the
    environment says which."""
    kept = harness.keep_heap()
    assert isinstance(kept, bool)
    assert harness.environment()["malloc"] == (
        "heap kept (M_TRIM_THRESHOLD 1 GiB, M_TOP_PAD 512 MiB)" if kept else "defaults"
    )


def test_cli_quick_extra_arguments_and_strict():
    calls, failing = [], [Row("a", 1, 1.0, 1.0, passed=True), Row("b", 1, 1.0, 1.0, passed=False)]
    options = dict(
        quick=lambda args: {"sizes": args.sizes or (1,)},
        default=lambda args: {"sizes": args.sizes},
        extra_args=[("--sizes", dict(type=harness.parse_sizes))],
    )
    assert _cli(["--quick", "--repeats", "7"], failing, calls, **options) == 0
    assert _cli(["--quick", "--sizes", "1e3,2e4"], failing, calls, **options) == 0
    assert _cli(["--sizes", "5e2", "--strict"], failing, calls, **options) == 1
    assert _cli(["--strict"], failing[:1], calls, **options) == 0
    assert calls == [
        {"repeats": 1, "sizes": (1,)},
        {"repeats": 1, "sizes": [1000, 20000]},
        {"repeats": 3, "sizes": [500]},
        {"repeats": 3, "sizes": None},
    ]
