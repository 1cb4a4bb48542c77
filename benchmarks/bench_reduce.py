"""Reduction-kernel benchmarks of mlsysim_vec: masked argmax, top-k and the Pareto front.

Run::

    python -m benchmarks.bench_reduce                  # 3e7-element argmax/top-k, 1e6-point Pareto front
    python -m benchmarks.bench_reduce --json out.json  # also write the rows as JSON
    python benchmarks/bench_reduce.py --quick          # every benchmark once, tiny (smoke test)

Every kernel of ``mlsysim_vec.reduce.KERNELS`` is timed twice in the same run: the numba engine
(after its one-time compilation, which is measured separately) and its plain-numpy reference,
whose speed is the baseline of the ``vs numpy`` column. Both must give identical outputs (the
row fails otherwise). Conventions and measurement as ``benchmarks/harness.py`` (whose
helpers this module uses): wall time is the best of ``repeats`` runs after an untimed run;
``traced MB`` the tracemalloc peak of one run; ``RSS MB`` the peak RSS growth of one run.

Inputs: ``values`` of shape (elements / 1000, 1000), uniform in [0, 1) with 5 % NaN, a mask
allowing 80 % of the points, reduced over the last axis (a search over 1,000 candidates for each
of the other points); the same data as a (10, S / 10, 1000) array reduced over axes (0, 2)
(10,000 candidates per slice; the reduced axes are not trailing and are copied together
first). Pareto: ``points`` pairs on a noisy trade-off curve (b ≈ 1 - a), so that the front
holds thousands of points.

Targets (issue 6): masked argmax >= 1e8 elements/s (numba, compiled, on >= 1e7 elements);
Pareto front of 1e6 points < 1 s. First calls in a fresh process: the numba import and each
kernel's compilation.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402
from benchmarks.harness import Row, mb  # noqa: E402

__all__ = [
    "TARGETS",
    "argmax_inputs",
    "pareto_inputs",
    "bench_first_call",
    "bench_masked_argmax",
    "bench_top_k",
    "bench_pareto",
    "bench_chunked_argmax",
    "run_all",
    "COLUMNS",
    "format_table",
    "main",
]

TARGETS = {
    "argmax_elements_per_s": 1e8,
    "argmax_min_elements": 10**7,
    "pareto_points": 10**6,
    "pareto_s": 1.0,
}

SLICE = 1000
NAN_FRACTION = 0.05
ALLOWED_FRACTION = 0.8


def _compiled(name):
    """(numba engine, numpy reference) of kernel ``name``, the gufunc compiled beforehand."""
    from mlsysim_vec import reduce

    reduce._gufunc(name)
    return reduce.KERNELS[name]


def argmax_inputs(elements: int, seed: int = 0):
    """(values, mask): ``elements`` values as (elements / 1000, 1000), 5 % NaN, 80 % allowed."""
    rng = np.random.default_rng(seed)
    rows = max(1, elements // SLICE)
    values = rng.random((rows, SLICE))
    values[rng.random(values.shape) < NAN_FRACTION] = np.nan
    return values, rng.random(values.shape) < ALLOWED_FRACTION


def pareto_inputs(points: int, seed: int = 0):
    """(a, b): ``points`` pairs with b = 1 - a + noise (both minimised), a uniform in [0, 1)."""
    rng = np.random.default_rng(seed)
    a = rng.random(points)
    return a, 1.0 - a + 0.01 * rng.random(points)


def _same(x, y) -> bool:
    return all(np.array_equal(np.asarray(p), np.asarray(q), equal_nan=True) for p, q in zip(x, y))


def _pair(
    name: str,
    label: str,
    call_numba,
    call_numpy,
    size: int,
    unit: str,
    repeats: int,
    target: str,
    passed_numba,
    note: str,
) -> list[Row]:
    """Time the numba engine and the numpy reference on the same input; rows for both. The
    caller has compiled the kernel (``_compiled``), so no row counts the compilation."""
    n_s, n_traced, n_rss, method, n_out = harness.measure(call_numba, repeats)
    r_s, r_traced, r_rss, _, r_out = harness.measure(call_numpy, repeats)
    agree = _same(n_out if isinstance(n_out, tuple) else (n_out,), r_out if isinstance(r_out, tuple) else (r_out,))
    rate, ref_rate = size / n_s, size / r_s
    extra = {
        "kernel": name,
        "unit": unit,
        "agree": agree,
        "rss_method": method,
        "numpy_seconds": r_s,
        "numpy_per_s": ref_rate,
        "speedup": ref_rate and rate / ref_rate,
    }
    return [
        Row(
            f"{label} numba",
            size,
            n_s,
            rate,
            mb(n_traced),
            mb(n_rss),
            rate / ref_rate,
            target,
            agree and passed_numba(n_s, rate),
            f"{note}; == numpy: {'yes' if agree else 'NO'}",
            extra,
        ),
        Row(
            f"{label} numpy reference",
            size,
            r_s,
            ref_rate,
            mb(r_traced),
            mb(r_rss),
            1.0,
            "baseline",
            None,
            note,
            {"kernel": name, "unit": unit},
        ),
    ]


# ---------------------------------------------------------------------------- benchmarks
_FIRST_CALL = """
import json, time
import numpy as np
t = time.perf_counter(); import numba; numba_s = time.perf_counter() - t
from mlsysim_vec import reduce
x = np.zeros((2, 3))
calls = {"masked_argmax": lambda: reduce.masked_argmax(x), "top_k": lambda: reduce.top_k(x, 2),
         "pareto_front": lambda: reduce.pareto_front(x, x)}
out = {"numba_import_s": numba_s}
for name, call in calls.items():
    t = time.perf_counter(); call(); out[name] = time.perf_counter() - t
print(json.dumps(out))
"""


def bench_first_call() -> list[Row]:
    """In a fresh interpreter: the numba import, then the first call of each kernel on a tiny
    input (= its compilation; once per process)."""
    proc = subprocess.run([sys.executable, "-c", _FIRST_CALL], check=True, capture_output=True, text=True)
    times = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = [
        Row(
            "first use: import numba",
            None,
            times["numba_import_s"],
            None,
            target="once per process",
            note="fresh interpreter",
            extra=times,
        )
    ]
    rows += [
        Row(
            f"first call: {name} (compile)",
            None,
            times[name],
            None,
            target="once per process",
            note="tiny input; gufunc compiled on first use, kept for the process",
            extra={"kernel": name},
        )
        for name in ("masked_argmax", "top_k", "pareto_front")
    ]
    return rows


def bench_masked_argmax(elements: int = 3 * 10**7, repeats: int = 3, seed: int = 0) -> list[Row]:
    """Masked argmax over the last axis of (elements / 1000, 1000) values, numba and numpy; then
    the same data as (10, S / 10, 1000) reduced over axes (0, 2), numba (checked against numpy)."""
    numba_fn, numpy_fn = _compiled("masked_argmax")
    values, mask = argmax_inputs(elements, seed)
    n = values.size
    big = n >= TARGETS["argmax_min_elements"]
    goal = TARGETS["argmax_elements_per_s"]
    target = f">= {goal:.0e} el/s" if big else "numba == numpy"
    rows = _pair(
        "masked_argmax",
        f"masked_argmax {n:.1e}",
        lambda: numba_fn(values, mask),
        lambda: numpy_fn(values, mask),
        n,
        "elements",
        repeats,
        target,
        lambda s, rate: rate >= goal if big else True,
        f"{values.shape[0]:,} slices x {SLICE} along the last axis",
    )
    if values.shape[0] % 10 == 0:
        cube, cube_mask = (x.reshape(10, -1, SLICE) for x in (values, mask))
        s, traced, rss, method, out = harness.measure(lambda: numba_fn(cube, cube_mask, axis=(0, 2)), repeats)
        agree = _same(out, numpy_fn(cube, cube_mask, axis=(0, 2)))
        rows.append(
            Row(
                f"masked_argmax {n:.1e} axes (0, 2) numba",
                n,
                s,
                n / s,
                mb(traced),
                mb(rss),
                None,
                "numba == numpy",
                agree,
                f"{cube.shape} reduced over axes (0, 2): not trailing, copied first; "
                f"== numpy: {'yes' if agree else 'NO'}",
                {"kernel": "masked_argmax", "rss_method": method, "agree": agree},
            )
        )
    return rows


def bench_top_k(elements: int = 3 * 10**7, k: int = 10, repeats: int = 3, seed: int = 1) -> list[Row]:
    """Top-k (k = 10) over the last axis of the argmax input, numba and numpy."""
    numba_fn, numpy_fn = _compiled("top_k")
    values, mask = argmax_inputs(elements, seed)
    n = values.size
    return _pair(
        "top_k",
        f"top_k k={k} {n:.1e}",
        lambda: numba_fn(values, k, mask),
        lambda: numpy_fn(values, k, mask),
        n,
        "elements",
        repeats,
        "numba == numpy",
        lambda s, rate: True,
        f"{values.shape[0]:,} slices x {SLICE}",
    )


def bench_pareto(points: int = 10**6, repeats: int = 3, seed: int = 2) -> list[Row]:
    """The 2-objective Pareto front of ``points`` points (all flattened), numba and numpy."""
    numba_fn, numpy_fn = _compiled("pareto_front")
    a, b = pareto_inputs(points, seed)
    big = points >= TARGETS["pareto_points"]
    target = f"< {TARGETS['pareto_s']:g} s" if big else "numba == numpy"
    rows = _pair(
        "pareto_front",
        f"pareto_front {points:.0e} pts",
        lambda: numba_fn(a, b),
        lambda: numpy_fn(a, b),
        points,
        "points",
        repeats,
        target,
        lambda s, rate: s < TARGETS["pareto_s"] if big else True,
        "b = 1 - a + noise",
    )
    front = int(numba_fn(a, b).sum())
    for row in rows:
        row.note += f"; {front:,} on the front"
        row.extra["front_size"] = front
    return rows


def bench_chunked_argmax(
    elements: int = 3 * 10**7, chunk_rows: int = 2000, chunk_cols: int = 250, repeats: int = 3, seed: int = 3
) -> list[Row]:
    """Masked argmax of the argmax input as a dask array chunked along both axes (so every
    slice spans several blocks: chunk → tree combine), computed, against the eager numba call."""
    import dask
    import dask.array as da

    from mlsysim_vec import reduce

    values, mask = argmax_inputs(elements, seed)
    n = values.size
    chunks = (min(chunk_rows, values.shape[0]), min(chunk_cols, SLICE))
    lazy_values, lazy_mask = da.from_array(values, chunks=chunks), da.from_array(mask, chunks=chunks)
    eager = reduce.masked_argmax(values, mask)

    def lazy():
        return dask.compute(*reduce.masked_argmax(lazy_values, lazy_mask))

    s, traced, rss, method, out = harness.measure(lazy, repeats)
    agree = _same(out, eager)
    blocks = math.prod(lazy_values.numblocks)
    return [
        Row(
            f"masked_argmax {n:.1e} dask",
            n,
            s,
            n / s,
            mb(traced),
            mb(rss),
            None,
            "dask == eager",
            agree,
            f"chunks {chunks} ({blocks} blocks), threaded scheduler; == eager: {'yes' if agree else 'NO'}",
            {"kernel": "masked_argmax", "chunks": chunks, "blocks": blocks, "agree": agree, "rss_method": method},
        )
    ]


# ---------------------------------------------------------------------------- driver
def run_all(
    elements: int = 3 * 10**7,
    pareto_points: int = 10**6,
    repeats: int = 3,
    chunk_rows: int = 2000,
    chunk_cols: int = 250,
    progress: bool = False,
) -> list[Row]:
    """Every benchmark, in order; each numba row notes its kernel's one-time compile time."""
    steps = [
        bench_first_call,
        lambda: bench_masked_argmax(elements, repeats),
        lambda: bench_top_k(elements, repeats=repeats),
        lambda: bench_pareto(pareto_points, repeats),
        lambda: bench_chunked_argmax(elements, chunk_rows, chunk_cols, repeats),
    ]
    rows = harness.run_steps(steps, progress)
    compile_s = {r.extra["kernel"]: r.seconds for r in rows if r.benchmark.startswith("first call")}
    for row in rows:
        if row.benchmark.endswith(" numba") and row.extra.get("kernel") in compile_s:
            row.note += f"; compile {compile_s[row.extra['kernel']]:.2f} s once"
    return rows


#: The table's columns: the baseline is the numpy reference, and the points are elements.
COLUMNS = harness.retitled(points="elements", points_per_s="elements/s", ratio_vs_loop="vs numpy")


def format_table(rows: list[Row]) -> str:
    """The shared table, with the baseline column titled for the numpy reference."""
    return harness.format_table(rows, COLUMNS)


def main(argv=None) -> int:
    return harness.cli(
        argv,
        prog="bench_reduce",
        doc=__doc__,
        run_all=run_all,
        targets=TARGETS,
        columns=COLUMNS,
        quick=dict(elements=2 * 10**4, pareto_points=10**3, chunk_rows=7, chunk_cols=300),
        footnote="Seconds: best of repeats after an untimed run (compilation excluded; first calls "
        "measured in a fresh process). vs numpy: elements/s over the numpy reference's on "
        "the same input. traced MB: tracemalloc peak; RSS MB: peak RSS growth.",
    )


if __name__ == "__main__":
    sys.exit(main())
