"""The spine benchmarks of mlsysim_vec: grid throughput, scalar latency, import time, memory.

Run::

    python -m benchmarks.bench_spine                 # grids of 1e3 ... 1e6 points
    python -m benchmarks.bench_spine --full          # adds the 1e7-point grid (~0.5 GiB peak RSS)
    python -m benchmarks.bench_spine --json out.json # also write the rows as JSON
    python benchmarks/bench_spine.py --quick         # every benchmark once, tiny (smoke test)

Every benchmark is a plain function of a size parameter returning a list of ``Row``; the test
suite (``tests/test_benchmarks.py``) runs each body once at a tiny size.

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
  numbers: every output of the grid equals the scalar call's (rel 1e-12, NaN == NaN).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Row", "SIZES", "FULL_SIZES", "PRECISIONS", "TARGETS", "single_node_axes", "training_axes",
           "bench_single_node", "bench_scalar_solve", "bench_import", "bench_training_memory",
           "bench_chunked", "run_all", "format_table", "main"]

SIZES = (10**3, 10**4, 10**5, 10**6)
FULL_SIZES = SIZES + (10**7,)
PRECISIONS = ("fp32", "bf16", "fp8", "int8")
REL_TOL = 1e-12

#: The targets of DESIGN / the benchmark brief.
TARGETS = {
    "single_node_points_per_s": 2e7,     # on a grid of >= 1e6 points
    "single_node_min_points": 10**6,
    "scalar_solve_s": 500e-6,            # seed-style solve + 3 reads, median
    "import_s": 2.0,                     # median in a fresh interpreter
}

#: Modules that ``import mlsysim_vec`` must not import (DECISIONS D18). ``dask`` itself is
#: allowed only as far as ``import pint`` alone imports it (pint.compat imports dask.base
#: when dask is installed; that is pint's doing, not ours).
FORBIDDEN_PREFIXES = ("numba", "llvmlite", "dask", "xarray", "pint_xarray")


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


def _current_rss() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return _peak_rss()


def _peak_rss() -> int:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024   # bytes on macOS, KiB on Linux


def _measure(fn: Callable[[], object], repeats: int, memory: bool = True):
    """(best seconds, traced peak bytes, RSS peak delta bytes, rss method, output of the last run).

    Run 1 (untimed, also the warm-up) measures the RSS peak; run 2 (untimed) runs under
    tracemalloc; then ``repeats`` timed runs. No output is kept alive while the next run
    executes, so the peaks are those of one call.
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


def _mb(nbytes):
    return None if nbytes is None else nbytes / 2**20


# ---------------------------------------------------------------------------- grids
def _ms():
    import mlsysim_vec as ms
    return ms


def _interleaved_models():
    """Language and Vision models alternately (so that small grids hold both kinds)."""
    ms = _ms()
    lang, vis = list(ms.Models.Language), list(ms.Models.Vision)
    out = []
    for i in range(max(len(lang), len(vis))):
        out += [seq[i] for seq in (lang, vis) if i < len(seq)]
    return out


def single_node_axes(points: int) -> dict:
    """Grid arguments of about ``points`` (at least, up to the registry's size) points.

    models (Language/Vision, interleaved) × every Cloud accelerator × batch 1..B ×
    (fp32, bf16, fp8, int8) × E efficiency values; M, B, E chosen to reach ``points``:
    M ≈ (points/124)^(1/3), then B ≤ 256 and E as needed.
    """
    ms = _ms()
    models = _interleaved_models()
    hardware = list(ms.Hardware.Cloud)
    base = len(hardware) * len(PRECISIONS)
    m = min(len(models), max(1, round((points / base) ** (1 / 3))))
    rest = points / (base * m)
    e = max(1, math.ceil(rest / 256))
    b = max(1, math.ceil(rest / e))
    axes = {"model": models[:m], "hardware": hardware, "batch_size": np.arange(1, b + 1),
            "precision": list(PRECISIONS)}
    axes["efficiency"] = np.linspace(0.05, 1.0, e) if e > 1 else [0.5]
    return axes


def training_axes(points: int) -> dict:
    """TrainingMemoryModel grid of at least ``points`` points (up to 2.9e6): Language models ×
    Cloud hardware × batch × seq_len × zero_stage × activation_checkpointing × tp_size.
    The dimensions grow round-robin until the product reaches ``points``."""
    ms = _ms()
    full = {
        "model": list(ms.Models.Language),
        "hardware": list(ms.Hardware.Cloud),
        "batch_size": [1, 2, 4, 8, 16, 32, 64, 128],
        "seq_len": [512, 1024, 2048, 4096, 8192, 16384],
        "zero_stage": [0, 1, 2, 3],
        "activation_checkpointing": ["none", "selective", "full"],
        "tp_size": [1, 2, 4, 8],
    }
    lengths = dict.fromkeys(full, 1)
    while math.prod(lengths.values()) < points:
        grown = False
        for name in full:
            if math.prod(lengths.values()) >= points:
                break
            if lengths[name] < len(full[name]):
                lengths[name] += 1
                grown = True
        if not grown:
            break
    return {name: full[name][:n] for name, n in lengths.items()}


def _n_points(axes: dict) -> int:
    return math.prod(len(v) for v in axes.values())


def _shape_note(axes: dict) -> str:
    return "×".join(str(len(v)) for v in axes.values())


def _python_scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _sample(axes: dict, n: int, seed: int):
    """``n`` random points of the grid: ({dim: index array}, [scalar kwargs])."""
    rng = np.random.default_rng(seed)
    index = {d: rng.integers(0, len(v), size=n) for d, v in axes.items()}
    kwargs = [{d: _python_scalar(axes[d][index[d][i]]) for d in axes} for i in range(n)]
    return index, kwargs


def _compare(grid_ds, index: dict, scalar_results: list) -> float:
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
        same = a == b                                   # also equal infinities
        if not same.all():
            scale = np.maximum(np.abs(a[~same]), np.abs(b[~same]))
            worst = max(worst, float(np.max(np.abs(a[~same] - b[~same]) / scale)))
    return worst


def _loop_baseline(solver, axes: dict, fixed: dict, n: int, seed: int, repeats: int, reads: tuple):
    """Time a Python loop of scalar solves over ``n`` sampled points; return
    (best seconds, index, results of the last loop)."""
    index, kwargs = _sample(axes, n, seed)

    def loop():
        out = []
        for kw in kwargs:
            r = solver.solve(**kw, **fixed)
            for name in reads:
                getattr(r, name)
            out.append(r)
        return out

    seconds, _, _, _, results = _measure(loop, repeats, memory=False)
    return seconds, index, results


# ---------------------------------------------------------------------------- benchmarks
def bench_single_node(points: int = 10**6, repeats: int = 3, loop_points: int = 200, seed: int = 0) -> list[Row]:
    """SingleNodeModel over a ~``points`` grid in one call (``solve`` + ``.dataset``), against
    a loop of scalar solves (reading ``.latency``, ``.bottleneck``, ``.mfu``) over
    ``loop_points`` points sampled from the same grid."""
    ms = _ms()
    solver = ms.SingleNodeModel()
    axes = single_node_axes(points)
    n = _n_points(axes)

    def grid_call():
        r = solver.solve(**axes)
        r.dataset
        return r

    seconds, traced, rss, method, result = _measure(grid_call, repeats)
    loop_s, index, scalars = _loop_baseline(solver, axes, {}, loop_points, seed, repeats,
                                            ("latency", "bottleneck", "mfu"))
    diff = _compare(result.dataset, index, scalars)
    del result
    pps, loop_pps = n / seconds, loop_points / loop_s
    big = n >= TARGETS["single_node_min_points"]
    target = f">= {TARGETS['single_node_points_per_s']:.0e} pts/s" if big else "grid == loop"
    passed = diff <= REL_TOL and (pps >= TARGETS["single_node_points_per_s"] if big else True)
    grid_row = Row(f"SingleNodeModel grid {points:.0e}", n, seconds, pps, _mb(traced), _mb(rss),
                   pps / loop_pps, target, passed, f"{_shape_note(axes)}; max rel diff {diff:.1e}",
                   {"shape": {d: len(v) for d, v in axes.items()}, "max_rel_diff": diff, "rss_method": method,
                    "loop_points": loop_points, "loop_seconds": loop_s, "loop_points_per_s": loop_pps})
    loop_row = Row(f"scalar loop baseline ({loop_points} pts)", loop_points, loop_s, loop_pps, None, None, 1.0,
                   "baseline", None, f"SingleNodeModel solve + .latency/.bottleneck/.mfu per point, "
                   f"sampled from the {n:,}-point grid", {"grid_points": n})
    return [grid_row, loop_row]


def bench_scalar_solve(calls: int = 500, warmup: int = 50) -> list[Row]:
    """The seed's scalar call and three reads, median over ``calls`` calls after warm-up."""
    ms = _ms()
    model, hardware = ms.Models.ResNet50, ms.Hardware.Cloud.A100

    def once():
        p = ms.SingleNodeModel().solve(model=model, hardware=hardware, batch_size=1)
        return p.latency, p.bottleneck, p.mfu

    for _ in range(warmup):
        once()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    latency, bottleneck, mfu = once()
    sane = latency.magnitude > 0 and bottleneck in ("Compute", "Memory") and 0 < mfu <= 1
    return [Row("scalar solve (ResNet50, A100, b=1)", 1, median, 1 / median, target="<= 500 us/call",
                passed=sane and median <= TARGETS["scalar_solve_s"],
                note=f"median {median * 1e6:.0f} us, p90 {np.percentile(times, 90) * 1e6:.0f} us over {calls} calls",
                extra={"calls": calls, "median_s": median, "p90_s": float(np.percentile(times, 90)), "min_s": min(times),
                       "latency_ms": float(latency.to("ms").magnitude), "bottleneck": bottleneck, "mfu": mfu})]


_IMPORT_PROBE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import {module}
seconds = time.perf_counter() - t0
mods = sorted(m for m in sys.modules if m.split(".")[0] in {prefixes!r})
info = {{"seconds": seconds, "modules": mods,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}
if {module!r} == "mlsysim_vec":
    info["registry_reads"] = mlsysim_vec.registry._read.cache_info().currsize
print(json.dumps(info))
"""


def _probe(module: str) -> dict:
    code = _IMPORT_PROBE.format(module=module, prefixes=FORBIDDEN_PREFIXES)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["process_seconds"] = time.perf_counter() - t0
    return info


def bench_import(runs: int = 5) -> list[Row]:
    """``import mlsysim_vec`` in ``runs`` fresh interpreters: median in-process import time; in
    each, no numba/xarray/pint_xarray module and no dask module beyond what ``import pint`` alone
    brings, and no registry data file read."""
    pint_mods = set(_probe("pint")["modules"])
    probes = [_probe("mlsysim_vec") for _ in range(max(1, runs))]
    median = statistics.median(p["seconds"] for p in probes)
    extra_mods = sorted({m for p in probes for m in p["modules"]} - pint_mods)
    reads = max(p["registry_reads"] for p in probes)
    clean = not extra_mods and reads == 0
    via_pint = sorted(pint_mods & set(probes[0]["modules"]))
    note = (f"clean: {'yes' if clean else 'NO'} (registry reads {reads}"
            + (f"; imported {', '.join(extra_mods[:4])}{'...' if len(extra_mods) > 4 else ''}" if extra_mods else "")
            + (f"; {len(via_pint)} dask.* modules via pint.compat" if via_pint else "") + ")"
            + f"; process {statistics.median(p['process_seconds'] for p in probes):.2f} s")
    return [Row("import mlsysim_vec (fresh process)", None, median, None, target="<= 2 s, nothing heavy",
                passed=clean and median <= TARGETS["import_s"], note=note,
                extra={"runs": [p["seconds"] for p in probes], "forbidden_imported": extra_mods,
                       "imported_by_pint": via_pint, "registry_reads": reads, "clean": clean,
                       "process_seconds": [p["process_seconds"] for p in probes],
                       "maxrss_mb": max(p["maxrss_kb"] for p in probes) / 1024})]


def bench_training_memory(points: int = 10**6, repeats: int = 3, loop_points: int = 100, seed: int = 1) -> list[Row]:
    """TrainingMemoryModel over a >= ``points`` grid in one call, against a loop of scalar solves
    (reading ``.total_memory`` and ``.feasible``) over sampled points of the same grid."""
    ms = _ms()
    solver = ms.TrainingMemoryModel()
    axes = training_axes(points)
    n = _n_points(axes)

    def grid_call():
        r = solver.solve(**axes)
        r.dataset
        return r

    seconds, traced, rss, method, result = _measure(grid_call, repeats)
    loop_s, index, scalars = _loop_baseline(solver, axes, {}, loop_points, seed, repeats, ("total_memory", "feasible"))
    diff = _compare(result.dataset, index, scalars)
    del result
    pps, loop_pps = n / seconds, loop_points / loop_s
    return [Row(f"TrainingMemoryModel grid {points:.0e}", n, seconds, pps, _mb(traced), _mb(rss), pps / loop_pps,
                "grid == loop", diff <= REL_TOL, f"{_shape_note(axes)}; max rel diff {diff:.1e}",
                {"shape": {d: len(v) for d, v in axes.items()}, "max_rel_diff": diff, "rss_method": method,
                 "loop_points": loop_points, "loop_points_per_s": loop_pps})]


def bench_chunked(points: int = 10**6, chunk: int = 64, repeats: int = 3) -> list[Row]:
    """SingleNodeModel over the same ~``points`` grid eagerly and with
    ``chunks={"batch_size": chunk}`` (dask, computed with ``Result.compute()``); the two must agree."""
    ms = _ms()
    solver = ms.SingleNodeModel()
    axes = single_node_axes(points)
    n = _n_points(axes)
    chunks = {"batch_size": chunk}

    def eager():
        r = solver.solve(**axes)
        r.dataset
        return r

    def lazy():
        return solver.solve(**axes, chunks=chunks).compute()

    e_s, e_traced, e_rss, method, e_res = _measure(eager, repeats)
    e_ds = e_res.dataset
    del e_res
    d_s, d_traced, d_rss, _, d_res = _measure(lazy, repeats)
    d_ds = d_res.dataset
    del d_res
    n_chunks = math.ceil(len(axes["batch_size"]) / chunk)
    worst = 0.0
    for name in e_ds.data_vars:
        a, b = np.asarray(e_ds[name].values), np.asarray(d_ds[name].values)
        if a.shape != b.shape:
            worst = math.inf
        elif a.dtype.kind == "f":
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            if not same.all():
                worst = max(worst, float(np.nanmax(np.abs(a[~same] - b[~same]) / np.abs(a[~same]))))
        elif not np.array_equal(a, b):
            worst = math.inf
    ok = worst <= REL_TOL
    shape = _shape_note(axes)
    return [
        Row(f"SingleNodeModel eager {points:.0e}", n, e_s, n / e_s, _mb(e_traced), _mb(e_rss), None,
            "dask == eager", ok, shape, {"rss_method": method}),
        Row(f"SingleNodeModel dask {points:.0e}", n, d_s, n / d_s, _mb(d_traced), _mb(d_rss), None,
            "dask == eager", ok, f"chunks={chunks} ({n_chunks} chunks); {d_s / e_s:.1f}x eager time",
            {"chunks": chunks, "n_chunks": n_chunks, "max_rel_diff": worst, "rss_method": method}),
    ]


# ---------------------------------------------------------------------------- driver
def run_all(sizes=SIZES, repeats: int = 3, loop_points: int = 200, scalar_calls: int = 500,
            import_runs: int = 5, big: int = 10**6, chunk: int = 64, progress: bool = False) -> list[Row]:
    """Every benchmark, in order; ``big`` is the size of the training and dask grids."""
    ms = _ms()
    # One-time costs (xarray/pint-xarray imports, registry parsing) out of the first row.
    ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.Cloud, batch_size=[1, 2]).dataset
    steps = [lambda: bench_import(import_runs), lambda: bench_scalar_solve(scalar_calls)]
    steps += [lambda s=s: bench_single_node(s, repeats=repeats if s < 10**7 else min(repeats, 2),
                                            loop_points=loop_points) for s in sizes]
    steps += [lambda: bench_training_memory(big, repeats=repeats), lambda: bench_chunked(big, chunk, repeats)]
    rows = []
    for step in steps:
        new = step()
        if progress:
            for row in new:
                print(f"  ... {row.benchmark}: {row.seconds:.4g} s", file=sys.stderr, flush=True)
        rows += new
    # One baseline row in the table: the loop over the largest grid's sample (every grid row's
    # ratio is against the loop over its own sample; all loops are in the rows' extra).
    loops = [r for r in rows if r.target == "baseline"]
    if loops:
        baseline = loops[-1]
        rows = [r for r in rows if r.target != "baseline" or r is baseline]
        for r in rows:
            if r.ratio_vs_loop is None and r.benchmark.startswith("SingleNodeModel") and r.points_per_s:
                r.ratio_vs_loop = r.points_per_s / baseline.points_per_s
    return rows


def _fmt(value, kind):
    if value is None:
        return "-"
    if kind == "int":
        return f"{value:,}"
    if kind == "s":
        return f"{value:.3g}" if value >= 1e-3 else f"{value:.2e}"
    if kind == "rate":
        return f"{value:.3g}" if value < 1e3 else f"{value:.2e}"
    if kind == "mb":
        return f"{value:.1f}"
    if kind == "ratio":
        return f"{value:,.0f}x" if value >= 10 else f"{value:.2f}x"
    if kind == "pass":
        return "PASS" if value else "FAIL"
    return str(value)


_COLUMNS = (("benchmark", "benchmark", "str"), ("points", "grid points", "int"), ("seconds", "seconds", "s"),
            ("points_per_s", "points/s", "rate"), ("traced_mb", "traced MB", "mb"), ("rss_mb", "RSS MB", "mb"),
            ("ratio_vs_loop", "vs loop", "ratio"), ("target", "target", "str"), ("passed", "pass", "pass"),
            ("note", "note", "str"))


def format_table(rows: list[Row]) -> str:
    header = [title for _, title, _ in _COLUMNS]
    body = [[_fmt(getattr(r, attr), kind) for attr, _, kind in _COLUMNS] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    numeric = {i for i, (_, _, kind) in enumerate(_COLUMNS) if kind in ("int", "s", "rate", "mb", "ratio")}

    def line(cells):
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule] + [line(b) for b in body])


def _environment() -> dict:
    import numpy
    import pint
    info = {"python": platform.python_version(), "numpy": numpy.__version__, "pint": pint.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        import xarray
        info["xarray"] = xarray.__version__
        import dask
        info["dask"] = dask.__version__
    except ImportError:
        pass
    return info


def _json_ready(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_spine", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="also the 1e7-point grid (~0.5 GiB peak RSS, measured)")
    parser.add_argument("--quick", action="store_true", help="every benchmark once at a tiny size (smoke test)")
    parser.add_argument("--sizes", type=lambda s: [int(float(x)) for x in s.split(",")],
                        help="comma-separated SingleNodeModel grid sizes (overrides --full), e.g. 1e3,1e5")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per grid benchmark (best is kept)")
    parser.add_argument("--json", metavar="PATH", help="write the rows and the environment as JSON")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if any target fails")
    args = parser.parse_args(argv)

    if args.quick:
        kw = dict(sizes=args.sizes or (10**3,), repeats=1, loop_points=20, scalar_calls=20, import_runs=1,
                  big=10**3, chunk=2)
    else:
        kw = dict(sizes=args.sizes or (FULL_SIZES if args.full else SIZES), repeats=args.repeats)
    rows = run_all(progress=sys.stderr.isatty(), **kw)
    print(format_table(rows))
    env = _environment()
    print(f"\n{env['python']} / numpy {env['numpy']} / {env['platform']} / {env['cpus']} CPUs. "
          "Seconds: best of repeats (grids), median (scalar, import). traced MB: tracemalloc peak "
          "(numpy buffers included); RSS MB: peak RSS during the call minus RSS before "
          "(getrusage ru_maxrss after resetting the high-water mark via /proc/self/clear_refs).")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "targets": TARGETS,
                       "rows": [_json_ready(asdict(r)) for r in rows]}, fh, indent=2)
    failed = [r.benchmark for r in rows if r.passed is False]
    return 1 if (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
