"""The spine benchmarks of mlsysim_vec: grid throughput, scalar latency, import time, memory.

Run::

    python -m benchmarks.bench_spine                 # grids of 1e3 ... 1e6 points
    python -m benchmarks.bench_spine --full          # adds the 1e7-point grid (~0.5 GiB peak RSS)
    python -m benchmarks.bench_spine --json out.json # also write the rows as JSON
    python benchmarks/bench_spine.py --quick         # every benchmark once, tiny (smoke test)

Every benchmark is a plain function of a size parameter returning a list of ``Row``; the test
suite (``tests/test_benchmarks.py``) runs each body once at a tiny size. What the columns
measure (wall time, ``traced MB``, ``RSS MB``, ``vs loop``) and how is in
``benchmarks/harness.py``, which every benchmark module shares.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402
from benchmarks.harness import Row, mb  # noqa: E402

__all__ = [
    "SIZES",
    "FULL_SIZES",
    "PRECISIONS",
    "TARGETS",
    "interleaved_models",
    "single_node_axes",
    "training_axes",
    "bench_single_node",
    "single_node_step_inputs",
    "bench_fused_bandwidth",
    "bench_scalar_solve",
    "bench_import",
    "bench_training_memory",
    "bench_chunked",
    "run_all",
    "main",
]

SIZES = (10**3, 10**4, 10**5, 10**6)
FULL_SIZES = SIZES + (10**7,)
PRECISIONS = ("fp32", "bf16", "fp8", "int8")

#: The targets of DESIGN / the benchmark brief.
TARGETS = {
    "single_node_points_per_s": 2e7,  # on a grid of >= 1e6 points
    "single_node_min_points": 10**6,
    "scalar_solve_s": 500e-6,  # seed-style solve + 3 reads, median
    "import_s": 2.0,  # median in a fresh interpreter
    # single_node_step on the 1e6 grid: bytes of its full-size outputs / time, as a fraction of
    # the same run's np.add bandwidth (3·8·N bytes / time of a + b on N float64), fused path
    "fused_bandwidth_fraction": 0.35,
}

#: Modules that ``import mlsysim_vec`` must not import (docs/differences.md, D18). ``dask`` itself is
#: allowed only as far as ``import pint`` alone imports it (pint.compat imports dask.base
#: when dask is installed; that is pint's doing, not ours).
FORBIDDEN_PREFIXES = ("numba", "llvmlite", "dask", "xarray", "pint_xarray")


# ---------------------------------------------------------------------------- grids
def interleaved_models():
    """Language and Vision models alternately (so that small grids hold both kinds)."""
    ms = harness.mlsysim()
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
    ms = harness.mlsysim()
    models = interleaved_models()
    hardware = list(ms.Hardware.Cloud)
    base = len(hardware) * len(PRECISIONS)
    m = min(len(models), max(1, round((points / base) ** (1 / 3))))
    rest = points / (base * m)
    e = max(1, math.ceil(rest / 256))
    b = max(1, math.ceil(rest / e))
    axes = {"model": models[:m], "hardware": hardware, "batch_size": np.arange(1, b + 1), "precision": list(PRECISIONS)}
    axes["efficiency"] = np.linspace(0.05, 1.0, e) if e > 1 else [0.5]
    return axes


def training_axes(points: int) -> dict:
    """TrainingMemoryModel grid of at least ``points`` points (up to 2.9e6): Language models ×
    Cloud hardware × batch × seq_len × zero_stage × activation_checkpointing × tp_size.
    The dimensions grow round-robin until the product reaches ``points``."""
    ms = harness.mlsysim()
    return harness.grow_axes(
        {
            "model": list(ms.Models.Language),
            "hardware": list(ms.Hardware.Cloud),
            "batch_size": [1, 2, 4, 8, 16, 32, 64, 128],
            "seq_len": [512, 1024, 2048, 4096, 8192, 16384],
            "zero_stage": [0, 1, 2, 3],
            "activation_checkpointing": ["none", "selective", "full"],
            "tp_size": [1, 2, 4, 8],
        },
        points,
    )


# ---------------------------------------------------------------------------- benchmarks
def bench_single_node(points: int = 10**6, repeats: int = 3, loop_points: int = 200, seed: int = 0) -> list[Row]:
    """SingleNodeModel over a ~``points`` grid in one call (``solve`` + ``.dataset``), against
    a loop of scalar solves (reading ``.latency``, ``.bottleneck``, ``.mfu``) over
    ``loop_points`` points sampled from the same grid."""
    run = harness.grid_vs_loop(
        harness.mlsysim().SingleNodeModel(),
        single_node_axes(points),
        {},
        repeats,
        loop_points,
        seed,
        ("latency", "bottleneck", "mfu"),
    )
    target, passed = run.rate_target(TARGETS["single_node_points_per_s"], TARGETS["single_node_min_points"])
    return [
        run.grid_row(f"SingleNodeModel grid {points:.0e}", target, passed),
        run.loop_row(
            f"scalar loop baseline ({loop_points} pts)",
            f"SingleNodeModel solve + .latency/.bottleneck/.mfu per point, "
            f"sampled from the {run.grid_points:,}-point grid",
        ),
    ]


def single_node_step_inputs(points: int) -> dict:
    """The arguments ``SingleNodeModel`` passes to ``physics.roofline.single_node_step`` on the
    ``single_node_axes(points)`` grid (recorded from one evaluation of the grid)."""
    from mlsysim_vec.physics import roofline as rl

    solver = harness.mlsysim().SingleNodeModel()
    grid = solver.grid(**single_node_axes(points))
    recorded, step = {}, rl.single_node_step

    def record(**kwargs):
        recorded.update(kwargs)
        return step(**kwargs)

    rl.single_node_step = record
    try:
        solver.evaluate(grid)
    finally:
        rl.single_node_step = step
    return recorded


def _full_size_bytes(out: dict, n: int) -> int:
    """Bytes of the distinct output arrays spanning all ``n`` points (``mfu`` is ``hfu`` for
    inference: one array, counted once)."""
    full = {id(v): v for v in out.values() if isinstance(v, np.ndarray) and v.size == n}
    return sum(v.nbytes for v in full.values())


def bench_fused_bandwidth(points: int = 10**6, rounds: int = 15) -> list[Row]:
    """``single_node_step`` (SingleNodeModel's whole step) on the ``single_node_axes(points)``
    grid: numpy, then the fused numba path with one thread, with every thread it may use, and
    with every thread into reused ``out=`` buffers; each as the bandwidth of its full-size
    outputs (bytes / time) over the bandwidth of ``np.add`` on as many float64 points in the same
    run (3·8·N bytes / time of ``a + b``). ``rounds`` rounds interleave every variant and np.add
    (best of 5); each figure is the best of its rounds. The fused outputs must equal numpy's."""
    from mlsysim_vec.physics import fused
    from mlsysim_vec.physics import roofline as rl

    kwargs = single_node_step_inputs(points)
    saved = rl.FUSED_MIN_POINTS, fused.threads
    try:
        rl.FUSED_MIN_POINTS = 2**62
        reference = rl.single_node_step(**kwargs)
        n = int(np.asarray(reference["latency"]).size)
        nbytes = _full_size_bytes(reference, n)
        out = {
            k: np.empty_like(reference[k])
            for k in rl.TAIL_OUTPUTS
            if reference[k] is not reference["hfu"] or k == "hfu"
        }
        all_threads = saved[1]
        variants = {  # name -> (FUSED_MIN_POINTS, threads, out)
            "numpy": (2**62, all_threads, None),
            "fused, 1 thread": (0, 1, None),
            f"fused, {all_threads} threads": (0, all_threads, None),
            f"fused, {all_threads} threads, out= reused": (0, all_threads, out),
        }
        best = dict.fromkeys(variants, math.inf)
        a, b = np.random.default_rng(0).random((2, n))
        add_s = math.inf
        rl.FUSED_MIN_POINTS, fused.threads = 0, all_threads
        first = time.perf_counter()
        fused_out = rl.single_node_step(**kwargs)  # numba's compile or cache load, untimed
        first = time.perf_counter() - first
        for _ in range(max(1, rounds)):
            for _ in range(5):
                t0 = time.perf_counter()
                c = a + b
                add_s = min(add_s, time.perf_counter() - t0)
                del c
            for name, (threshold, threads, buffers) in variants.items():
                rl.FUSED_MIN_POINTS, fused.threads = threshold, threads
                t0 = time.perf_counter()
                result = rl.single_node_step(**kwargs, out=buffers)
                best[name] = min(best[name], time.perf_counter() - t0)
                del result
    finally:
        rl.FUSED_MIN_POINTS, fused.threads = saved
    agree = all(
        np.array_equal(
            np.asarray(fused_out[k]), np.asarray(reference[k]), equal_nan=np.asarray(reference[k]).dtype.kind == "f"
        )
        for k in reference
    )
    add_bw = 3 * 8 * n / add_s
    fraction = {name: nbytes / s / add_bw for name, s in best.items()}
    target = TARGETS["fused_bandwidth_fraction"]
    big = n >= TARGETS["single_node_min_points"]  # the fraction is a target on the 1e6 grid only
    extra = {"full_size_bytes": nbytes, "np_add_seconds": add_s, "np_add_bytes_per_s": add_bw, "rounds": rounds}
    rows = [
        Row(
            f"np.add bandwidth {n:.0e} float64",
            n,
            add_s,
            n / add_s,
            target="reference",
            note=f"{add_bw / 1e9:.0f} GB/s (3·8·N bytes / time of a + b)",
            extra=extra,
        )
    ]
    for name, seconds in best.items():
        fused_row = name != "numpy"
        headline = fused_row and "out=" not in name and "1 thread" not in name
        rows.append(
            Row(
                f"single_node_step {points:.0e}, {name}",
                n,
                seconds,
                n / seconds,
                target=(f">= {target:.0%} of np.add" if big else "fused == numpy") if headline else "-",
                passed=(agree and (fraction[name] >= target or not big)) if headline else None,
                note=f"{fraction[name]:.1%} of np.add ({nbytes / 2**20:.0f} MiB full-size outputs at "
                f"{nbytes / seconds / 1e9:.1f} GB/s)"
                + (f"; fused == numpy: {'yes' if agree else 'NO'}; first call {first:.2f} s" if headline else ""),
                extra={**extra, "fraction": fraction[name], "bytes_per_s": nbytes / seconds, "agree": agree},
            )
        )
    return rows


def bench_scalar_solve(calls: int = 500, warmup: int = 50) -> list[Row]:
    """The seed's scalar call and three reads, median over ``calls`` calls after warm-up."""
    ms = harness.mlsysim()
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
    return [
        Row(
            "scalar solve (ResNet50, A100, b=1)",
            1,
            median,
            1 / median,
            target="<= 500 us/call",
            passed=sane and median <= TARGETS["scalar_solve_s"],
            note=f"median {median * 1e6:.0f} us, p90 {np.percentile(times, 90) * 1e6:.0f} us over {calls} calls",
            extra={
                "calls": calls,
                "median_s": median,
                "p90_s": float(np.percentile(times, 90)),
                "min_s": min(times),
                "latency_ms": float(latency.to("ms").magnitude),
                "bottleneck": bottleneck,
                "mfu": mfu,
            },
        )
    ]


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
    note = (
        f"clean: {'yes' if clean else 'NO'} (registry reads {reads}"
        + (f"; imported {', '.join(extra_mods[:4])}{'...' if len(extra_mods) > 4 else ''}" if extra_mods else "")
        + (f"; {len(via_pint)} dask.* modules via pint.compat" if via_pint else "")
        + ")"
        + f"; process {statistics.median(p['process_seconds'] for p in probes):.2f} s"
    )
    return [
        Row(
            "import mlsysim_vec (fresh process)",
            None,
            median,
            None,
            target="<= 2 s, nothing heavy",
            passed=clean and median <= TARGETS["import_s"],
            note=note,
            extra={
                "runs": [p["seconds"] for p in probes],
                "forbidden_imported": extra_mods,
                "imported_by_pint": via_pint,
                "registry_reads": reads,
                "clean": clean,
                "process_seconds": [p["process_seconds"] for p in probes],
                "maxrss_mb": max(p["maxrss_kb"] for p in probes) / 1024,
            },
        )
    ]


def bench_training_memory(points: int = 10**6, repeats: int = 3, loop_points: int = 100, seed: int = 1) -> list[Row]:
    """TrainingMemoryModel over a >= ``points`` grid in one call, against a loop of scalar solves
    (reading ``.total_memory`` and ``.feasible``) over sampled points of the same grid."""
    run = harness.grid_vs_loop(
        harness.mlsysim().TrainingMemoryModel(),
        training_axes(points),
        {},
        repeats,
        loop_points,
        seed,
        ("total_memory", "feasible"),
    )
    return [run.grid_row(f"TrainingMemoryModel grid {points:.0e}", "grid == loop", run.agrees)]


def bench_chunked(points: int = 10**6, chunk: int = 64, repeats: int = 3) -> list[Row]:
    """SingleNodeModel over the same ~``points`` grid eagerly and with
    ``chunks={"batch_size": chunk}`` (dask, computed with ``Result.compute()``); the two must agree."""
    solver = harness.mlsysim().SingleNodeModel()
    axes = single_node_axes(points)
    n = harness.n_points(axes)
    chunks = {"batch_size": chunk}

    def eager():
        r = solver.solve(**axes)
        r.dataset
        return r

    def lazy():
        return solver.solve(**axes, chunks=chunks).compute()

    e_s, e_traced, e_rss, method, e_res = harness.measure(eager, repeats)
    e_ds = e_res.dataset
    del e_res
    d_s, d_traced, d_rss, _, d_res = harness.measure(lazy, repeats)
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
    ok = worst <= harness.REL_TOL
    return [
        Row(
            f"SingleNodeModel eager {points:.0e}",
            n,
            e_s,
            n / e_s,
            mb(e_traced),
            mb(e_rss),
            None,
            "dask == eager",
            ok,
            harness.shape_note(axes),
            {"rss_method": method},
        ),
        Row(
            f"SingleNodeModel dask {points:.0e}",
            n,
            d_s,
            n / d_s,
            mb(d_traced),
            mb(d_rss),
            None,
            "dask == eager",
            ok,
            f"chunks={chunks} ({n_chunks} chunks); {d_s / e_s:.1f}x eager time",
            {"chunks": chunks, "n_chunks": n_chunks, "max_rel_diff": worst, "rss_method": method},
        ),
    ]


# ---------------------------------------------------------------------------- driver
def run_all(
    sizes=SIZES,
    repeats: int = 3,
    loop_points: int = 200,
    scalar_calls: int = 500,
    import_runs: int = 5,
    big: int = 10**6,
    chunk: int = 64,
    progress: bool = False,
) -> list[Row]:
    """Every benchmark, in order; ``big`` is the size of the training and dask grids."""
    ms = harness.mlsysim()
    # One-time costs (xarray/pint-xarray imports, registry parsing) out of the first row.
    ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.Cloud, batch_size=[1, 2]).dataset
    steps = [lambda: bench_import(import_runs), lambda: bench_scalar_solve(scalar_calls)]
    steps += [
        lambda s=s: bench_single_node(s, repeats=repeats if s < 10**7 else min(repeats, 2), loop_points=loop_points)
        for s in sizes
    ]
    steps += [lambda: bench_fused_bandwidth(big, rounds=5 * repeats)]
    steps += [lambda: bench_training_memory(big, repeats=repeats), lambda: bench_chunked(big, chunk, repeats)]
    rows = harness.run_steps(steps, progress)
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


def main(argv=None) -> int:
    return harness.cli(
        argv,
        prog="bench_spine",
        doc=__doc__,
        run_all=run_all,
        targets=TARGETS,
        quick=lambda args: dict(
            sizes=args.sizes or (10**3,), loop_points=20, scalar_calls=20, import_runs=1, big=10**3, chunk=2
        ),
        default=lambda args: dict(sizes=args.sizes or (FULL_SIZES if args.full else SIZES)),
        extra_args=[
            ("--full", dict(action="store_true", help="also the 1e7-point grid (~0.5 GiB peak RSS, measured)")),
            (
                "--sizes",
                dict(
                    type=harness.parse_sizes,
                    help="comma-separated SingleNodeModel grid sizes (overrides --full), e.g. 1e3,1e5",
                ),
            ),
        ],
        footnote="Seconds: best of repeats (grids), median (scalar, import). traced MB: tracemalloc peak "
        "(numpy buffers included); RSS MB: peak RSS during the call minus RSS before "
        "(getrusage ru_maxrss after resetting the high-water mark via /proc/self/clear_refs).",
    )


if __name__ == "__main__":
    sys.exit(main())
