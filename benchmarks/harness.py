"""The machinery every benchmark module shares: rows and their table, wall-time and memory
measurement, a grid call checked against a loop of scalar calls, grid sizing, and the command
line (``cli``) with its environment footer and JSON dump.

What is measured
----------------
* Wall time: ``time.perf_counter``, the best of ``repeats`` runs (after one untimed run).
* ``traced MB``: the peak of ``tracemalloc`` during one extra run (Python-level allocations;
  numpy >= 1.13 reports its data buffers to tracemalloc, so the arrays are included).
* ``RSS MB``: peak resident set size during the (first, untimed) run minus the RSS just before
  it. The peak comes from ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after resetting the
  kernel's high-water mark through ``/proc/self/clear_refs`` (Linux >= 4.0). Where the reset is
  not possible the column shows the growth of ``ru_maxrss`` instead (a lower bound), marked
  ``rss_method="maxrss-growth"`` in the JSON. Freed heap is returned to the OS first
  (glibc ``malloc_trim``); pages the allocator still reuses do not count, so RSS is a lower
  bound of a call's memory and tracemalloc the dependable figure.
* ``vs loop``: grid points/s divided by the points/s of a Python loop of scalar ``solve`` calls
  over a random sample of the *same* grid, measured in the same run. The loop also checks the
  numbers: every output of the grid equals the scalar call's (rel ``REL_TOL`` = 1e-12,
  NaN == NaN).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = [
    "REL_TOL",
    "COLUMNS",
    "Row",
    "GridRun",
    "mlsysim",
    "measure",
    "mb",
    "n_points",
    "shape_note",
    "grow_axes",
    "compare",
    "loop_baseline",
    "grid_vs_loop",
    "run_steps",
    "retitled",
    "format_table",
    "environment",
    "json_ready",
    "parse_sizes",
    "cli",
]

#: Largest relative difference allowed between a grid's outputs and the scalar calls'.
REL_TOL = 1e-12


@dataclass
class Row:
    """One line of the table."""

    benchmark: str
    points: int | None
    seconds: float | None
    points_per_s: float | None
    traced_mb: float | None = None
    rss_mb: float | None = None
    ratio_vs_loop: float | None = None
    target: str = "-"
    passed: bool | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)


def mlsysim():
    """The ``mlsysim_vec`` module, imported on first use (so that ``--help`` stays instant)."""
    import mlsysim_vec

    return mlsysim_vec


# ---------------------------------------------------------------------------- measurement
def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (and so ru_maxrss); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _trim_heap() -> None:
    """Return freed heap memory to the OS (glibc), so that the next RSS peak counts a call's own
    allocations rather than reusing pages an earlier, larger run left resident."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


#: glibc's malloc returns the freed top of its heap to the OS once it exceeds the trim threshold
#: (by default twice the dynamic mmap threshold, at most 64 MiB), so a call that allocates and
#: frees hundreds of MB of full-grid arrays page-faults them in again on every call: measured
#: here 1.4-1.9x slower than a call on a kept heap (ServingModel refined tp 1e6: 27 vs 16 ms),
#: and dependent on what ran before in the process. ``keep_heap`` raises the trim threshold
#: and pads the heap's growth (mallopt), so repeated calls reuse their pages: the figures are
#: then those of a long-running process. A user gets the same with the environment variables
#: MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=536870912 (benchmarks/README.md).
KEEP_HEAP = {"M_TRIM_THRESHOLD": 1 << 30, "M_TOP_PAD": 1 << 29}
_MALLOPT = {"M_TRIM_THRESHOLD": -1, "M_TOP_PAD": -2}  # glibc's parameter numbers (malloc.h)
_HEAP = {"kept": False}


def keep_heap() -> bool:
    """Apply ``KEEP_HEAP`` with glibc's ``mallopt``; False (nothing changed) elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        done = all(libc.mallopt(_MALLOPT[k], v) == 1 for k, v in KEEP_HEAP.items())
    except (OSError, AttributeError):
        return False
    _HEAP["kept"] = done
    return done


def _current_rss() -> int:
    """Resident set size now [byte] (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return _peak_rss()


def _peak_rss() -> int:
    """Peak resident set size of the process [byte]."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024  # bytes on macOS, KiB on Linux


def measure(fn: Callable[[], object], repeats: int, memory: bool = True):
    """(best seconds [s], traced peak [byte], RSS peak delta [byte], rss method, output of the
    last run).

    Run 1 (untimed, also the warm-up) measures the RSS peak; run 2 (untimed) runs under
    tracemalloc; then ``repeats`` timed runs. No output is kept alive while the next run
    executes, so the peaks are those of one call. ``memory=False`` skips both memory runs (one
    untimed warm-up instead; the memory figures are None).
    """
    rss_delta, traced, method = None, None, "none"
    gc.collect()
    if memory:
        _trim_heap()
        reset = _reset_peak_rss()
        before = _current_rss() if reset else _peak_rss()
        out = fn()
        rss_delta = max(0, _peak_rss() - before)
        method = "clear_refs+ru_maxrss" if reset else "maxrss-growth"
        out = None
        gc.collect()
        tracemalloc.start()
        try:
            out = fn()
            traced = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        out = None
        gc.collect()
    else:
        out = fn()
    best = math.inf
    for _ in range(max(1, repeats)):
        out = None
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, traced, rss_delta, method, out


def mb(nbytes):
    """Bytes as MiB (None stays None)."""
    return None if nbytes is None else nbytes / 2**20


# ---------------------------------------------------------------------------- grids
def n_points(axes: dict) -> int:
    """Points of the outer product of ``axes``."""
    return math.prod(len(v) for v in axes.values())


def shape_note(axes: dict) -> str:
    """The axes' lengths, ``"2×31×5"``."""
    return "×".join(str(len(v)) for v in axes.values())


def grow_axes(full: dict, reached) -> dict:
    """Prefixes of each of ``full``'s axes (registry entries, value lists), lengthened by one
    round-robin, in the order of ``full``, until ``reached`` holds: ``reached`` is a point count
    to reach (``n_points >= reached``) or a predicate of the axes. Stops at the first prefix
    set that reaches it, or at ``full`` itself when nothing can grow."""
    if not callable(reached):
        points = reached

        def reached(axes):
            return n_points(axes) >= points

    lengths = dict.fromkeys(full, 1)

    def prefixes():
        return {name: full[name][:n] for name, n in lengths.items()}

    axes = prefixes()
    if reached(axes):
        return axes
    while True:
        grown = False
        for name in full:
            if lengths[name] < len(full[name]):
                lengths[name] += 1
                grown = True
                axes = prefixes()
                if reached(axes):
                    return axes
        if not grown:
            return axes


def _python_scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _sample(axes: dict, n: int, seed: int):
    """``n`` random points of the grid: ({dim: index array}, [scalar kwargs])."""
    rng = np.random.default_rng(seed)
    index = {d: rng.integers(0, len(v), size=n) for d, v in axes.items()}
    kwargs = [{d: _python_scalar(axes[d][index[d][i]]) for d in axes} for i in range(n)]
    return index, kwargs


def compare(grid_ds, index: dict, scalar_results: list) -> float:
    """Largest relative difference between the grid's outputs at the sampled points and the
    scalar calls' (0 when identical; inf on a NaN/non-NaN or categorical mismatch)."""
    n = len(scalar_results)
    worst = 0.0
    scalar_ds = [r.dataset for r in scalar_results]
    for name, var in grid_ds.data_vars.items():
        values = np.asarray(var.values)
        at = values[tuple(index[d] for d in var.dims)] if var.dims else np.repeat(values, n)
        ref = np.array([ds[name].values.item() for ds in scalar_ds])
        if at.dtype.kind != "f":
            if not np.array_equal(at, ref.astype(at.dtype)):
                return math.inf
            continue
        ref = ref.astype(float)
        nan_a, nan_b = np.isnan(at), np.isnan(ref)
        if (nan_a != nan_b).any():
            return math.inf
        a, b = at[~nan_a], ref[~nan_b]
        same = a == b  # also equal infinities
        if not same.all():
            scale = np.maximum(np.abs(a[~same]), np.abs(b[~same]))
            worst = max(worst, float(np.max(np.abs(a[~same] - b[~same]) / scale)))
    return worst


def loop_baseline(solver, axes: dict, fixed: dict, n: int, seed: int, repeats: int, reads: tuple):
    """Time a Python loop of scalar solves (each reading the attributes ``reads``) over ``n``
    sampled points; return (best seconds [s], index, results of the last loop)."""
    index, kwargs = _sample(axes, n, seed)

    def loop():
        out = []
        for kw in kwargs:
            r = solver.solve(**kw, **fixed)
            for name in reads:
                getattr(r, name)
            out.append(r)
        return out

    seconds, _, _, _, results = measure(loop, repeats, memory=False)
    return seconds, index, results


@dataclass
class GridRun:
    """One ``solve`` + ``.dataset`` over a grid, timed against a loop of scalar solves on points
    sampled from it (``grid_vs_loop``).

    ``shape``: {dimension: length}; ``seconds`` [s]: best grid call; ``traced``, ``rss`` [byte]:
    tracemalloc peak and RSS growth of one call (``rss_method`` as ``measure``);
    ``loop_seconds`` [s]: best loop over ``loop_points`` points, each reading ``reads``;
    ``max_rel_diff``: ``compare``'s largest relative difference; ``per_point``: how many counted
    units (e.g. optimizer candidates) one grid point stands for (``points`` and the rates
    [1/s] count those units).
    """

    shape: dict
    seconds: float
    traced: int | None
    rss: int | None
    rss_method: str
    loop_points: int
    loop_seconds: float
    max_rel_diff: float
    reads: tuple
    per_point: int = 1

    @property
    def grid_points(self) -> int:
        return math.prod(self.shape.values())

    @property
    def shape_text(self) -> str:
        """The grid's lengths, ``"2×31×5"``."""
        return "×".join(map(str, self.shape.values()))

    @property
    def points(self) -> int:
        return self.grid_points * self.per_point

    @property
    def points_per_s(self) -> float:
        return self.points / self.seconds

    @property
    def loop_points_per_s(self) -> float:
        return self.loop_points * self.per_point / self.loop_seconds

    @property
    def ratio_vs_loop(self) -> float:
        return self.points_per_s / self.loop_points_per_s

    @property
    def agrees(self) -> bool:
        """Every sampled output of the grid equals the scalar call's (rel ``REL_TOL``)."""
        return self.max_rel_diff <= REL_TOL

    def rate_target(self, rate: float | None, min_points: int | None) -> tuple[str, bool]:
        """(target text, passed): grids of >= ``min_points`` must reach ``rate`` points/s (no
        rate: none must); every grid must equal its loop."""
        big = rate is not None and self.points >= min_points
        target = f">= {rate:.0e} pts/s" if big else "grid == loop"
        return target, self.agrees and (self.points_per_s >= rate if big else True)

    def grid_row(self, benchmark: str, target: str, passed: bool, note: str | None = None, extra: Mapping = ()) -> Row:
        """The grid's row; the note defaults to the shape and the largest difference."""
        note = f"{self.shape_text}; max rel diff {self.max_rel_diff:.1e}" if note is None else note
        return Row(
            benchmark,
            self.points,
            self.seconds,
            self.points_per_s,
            mb(self.traced),
            mb(self.rss),
            self.ratio_vs_loop,
            target,
            passed,
            note,
            {
                "shape": self.shape,
                "max_rel_diff": self.max_rel_diff,
                "rss_method": self.rss_method,
                "loop_points": self.loop_points,
                "loop_seconds": self.loop_seconds,
                "loop_points_per_s": self.loop_points_per_s,
                **dict(extra),
            },
        )

    def loop_row(self, benchmark: str, note: str | None = None, extra: Mapping | None = None) -> Row:
        """The loop's row (target ``baseline``, ``vs loop`` 1)."""
        note = (
            f"solve + {', '.join(self.reads)} per point, sampled from the {self.grid_points:,}-point grid"
            if note is None
            else note
        )
        return Row(
            benchmark,
            self.loop_points * self.per_point,
            self.loop_seconds,
            self.loop_points_per_s,
            None,
            None,
            1.0,
            "baseline",
            None,
            note,
            {"grid_points": self.grid_points} if extra is None else extra,
        )


def grid_vs_loop(
    solver, axes: dict, fixed: dict, repeats: int, loop_points: int, seed: int, reads: tuple, per_point: int = 1
) -> GridRun:
    """Time ``solver.solve(**axes, **fixed)`` + ``.dataset`` (``measure``), then a loop of
    scalar solves over ``loop_points`` sampled points (``loop_baseline``), and compare the two."""

    def grid_call():
        r = solver.solve(**axes, **fixed)
        r.dataset
        return r

    seconds, traced, rss, method, result = measure(grid_call, repeats)
    loop_s, index, scalars = loop_baseline(solver, axes, fixed, loop_points, seed, repeats, reads)
    diff = compare(result.dataset, index, scalars)
    return GridRun(
        {d: len(v) for d, v in axes.items()},
        seconds,
        traced,
        rss,
        method,
        loop_points,
        loop_s,
        diff,
        tuple(reads),
        per_point,
    )


# ---------------------------------------------------------------------------- driver
def run_steps(steps: Sequence[Callable[[], list[Row]]], progress: bool = False) -> list[Row]:
    """The rows of every step, in order; with ``progress``, each row's time on stderr as it comes."""
    rows = []
    for step in steps:
        new = step()
        if progress:
            for row in new:
                print(f"  ... {row.benchmark}: {row.seconds:.4g} s", file=sys.stderr, flush=True)
        rows += new
    return rows


def _fmt(value, kind):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if kind == "int":
        return f"{value:,}"
    if kind == "s":
        return f"{value:.3g}" if value >= 1e-3 else f"{value:.2e}"
    if kind == "us":  # seconds shown in microseconds
        return f"{value * 1e6:,.1f}" if value < 1e-3 else f"{value * 1e6:,.0f}"
    if kind == "rate":
        return f"{value:.3g}" if value < 1e3 else f"{value:.2e}"
    if kind == "mb":
        return f"{value:.1f}"
    if kind == "ratio":
        return f"{value:,.0f}x" if value >= 10 else f"{value:.2f}x"
    if kind == "pass":
        return "PASS" if value else "FAIL"
    return str(value)


#: (Row attribute, column title, format) of the table.
COLUMNS = (
    ("benchmark", "benchmark", "str"),
    ("points", "grid points", "int"),
    ("seconds", "seconds", "s"),
    ("points_per_s", "points/s", "rate"),
    ("traced_mb", "traced MB", "mb"),
    ("rss_mb", "RSS MB", "mb"),
    ("ratio_vs_loop", "vs loop", "ratio"),
    ("target", "target", "str"),
    ("passed", "pass", "pass"),
    ("note", "note", "str"),
)


def retitled(**titles: str) -> tuple:
    """``COLUMNS`` with the titles of the named attributes replaced."""
    return tuple((attr, titles.get(attr, title), kind) for attr, title, kind in COLUMNS)


def format_table(rows: list[Row], columns: tuple = COLUMNS) -> str:
    """The rows as a text table (numbers right-aligned)."""
    header = [title for _, title, _ in columns]
    body = [[_fmt(getattr(r, attr), kind) for attr, _, kind in columns] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    numeric = {i for i, (_, _, kind) in enumerate(columns) if kind in ("int", "s", "us", "rate", "mb", "ratio")}

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule] + [line(b) for b in body])


def environment() -> dict:
    """Versions, platform, CPU count and time of the run."""
    import pint

    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pint": pint.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "malloc": "heap kept (M_TRIM_THRESHOLD 1 GiB, M_TOP_PAD 512 MiB)" if _HEAP["kept"] else "defaults",
    }
    try:
        import xarray

        info["xarray"] = xarray.__version__
        import dask

        info["dask"] = dask.__version__
    except ImportError:
        pass
    return info


def json_ready(value):
    """``value`` with non-finite floats as strings and numpy scalars as Python ones."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def parse_sizes(text: str) -> list[int]:
    """``"1e3,1e5"`` → [1000, 100000] (the ``--sizes`` option)."""
    return [int(float(x)) for x in text.split(",")]


def _kwargs(spec, args) -> dict:
    return dict(spec(args) if callable(spec) else spec)


def cli(
    argv,
    *,
    prog: str,
    doc: str,
    run_all: Callable[..., list[Row]],
    quick,
    default=(),
    extra_args: Sequence[tuple[str, dict]] = (),
    footnote: str,
    targets: dict,
    json_extra: Mapping = (),
    columns: tuple = COLUMNS,
    tables: Callable[[list[Row]], Sequence[tuple[str, list[Row], tuple]]] | None = None,
) -> int:
    """The command line of ``benchmarks.<prog>``; returns the exit status.

    Options: ``--quick`` (``run_all(**quick, repeats=1)``), ``--repeats`` (default 3; otherwise
    ``run_all(**default, repeats=N)``), ``--json PATH`` (the environment, ``targets``,
    ``json_extra`` and the rows), ``--strict`` (status 1 if a row failed), then ``extra_args``
    as (flag, ``add_argument`` keywords). ``quick`` and ``default`` are run_all's keyword
    arguments, or functions of the parsed arguments returning them. Prints the table
    (``columns``), or with ``tables`` (a function of the rows returning (heading, rows, columns)
    triples) one headed table per triple, then one footer line: the environment and
    ``footnote``. ``doc``'s first paragraph is the help's description.
    """
    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{prog}",
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="every benchmark once at a tiny size (smoke test)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per benchmark (best is kept)")
    parser.add_argument("--json", metavar="PATH", help="write the rows and the environment as JSON")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if any target fails")
    parser.add_argument(
        "--default-malloc",
        action="store_true",
        help="leave glibc's heap trimming as it is (by default the heap is kept between calls: KEEP_HEAP)",
    )
    for flag, options in extra_args:
        parser.add_argument(flag, **options)
    args = parser.parse_args(argv)

    kw = {"repeats": 1, **_kwargs(quick, args)} if args.quick else {"repeats": args.repeats, **_kwargs(default, args)}
    if not args.default_malloc:
        keep_heap()
    rows = run_all(progress=sys.stderr.isatty(), **kw)
    if tables is None:
        print(format_table(rows, columns))
    else:
        print("\n\n".join(f"{heading}\n\n{format_table(part, cols)}" for heading, part, cols in tables(rows)))
    env = environment()
    print(
        f"\n{env['python']} / numpy {env['numpy']} / {env['platform']} / {env['cpus']} CPUs / malloc: "
        f"{env['malloc']}. {footnote}"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "environment": env,
                    "targets": targets,
                    **dict(json_extra),
                    "rows": [json_ready(asdict(r)) for r in rows],
                },
                fh,
                indent=2,
            )
    failed = [r.benchmark for r in rows if r.passed is False]
    return 1 if (args.strict and failed) else 0
