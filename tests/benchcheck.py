"""Checks shared by the benchmark tests (each benchmark body runs once, small, in the suite)."""

from __future__ import annotations

import json
import math

import pytest


def sane(row, points=True):
    """A measured row: positive, finite seconds; with ``points``, a positive point count and a
    rate equal to points / seconds."""
    assert row.seconds is not None and row.seconds > 0 and math.isfinite(row.seconds)
    if points:
        assert row.points is not None and row.points > 0
        assert row.points_per_s == pytest.approx(row.points / row.seconds)


def full_table(main, tmp_path, *argv) -> list[dict]:
    """The JSON rows of ``main(["--json", PATH, *argv])``, which must exit 0 with no row failing
    (the ``slow`` tests of the full tables)."""
    out = tmp_path / "bench.json"
    assert main(["--json", str(out), *argv]) == 0
    rows = json.loads(out.read_text())["rows"]
    failed = [r["benchmark"] for r in rows if r["passed"] is False]
    assert not failed, f"benchmarks below target or disagreeing: {failed}"
    return rows
