"""Benchmarks of the LLM serving family: ServingModel grid throughput, ServingCapacityModel's
replica search over a grid, TailLatencyModel with up to 1,024 replicas per point.

Run::

    python -m benchmarks.bench_serving                 # the default sizes (~10 s)
    python -m benchmarks.bench_serving --json out.json # also write the rows as JSON
    python -m benchmarks.bench_serving --quick         # every benchmark once, tiny (smoke test)
    python -m benchmarks.bench_serving --strict        # exit status 1 if a target fails

Conventions and measurement as ``benchmarks/harness.py`` (whose ``Row``, measurement, table
and command line are reused): wall time is the best of ``repeats`` runs after an untimed one;
``traced MB`` is the tracemalloc peak of one call, ``RSS MB`` the peak RSS growth of one call;
every grid is checked against a Python loop of scalar ``solve`` calls over a random sample of
its points (rel 1e-12), and ``vs loop`` is the ratio of the two rates.

What is measured
----------------
* ``ServingModel grid``: models (every Language model) × GPUs (every Cloud accelerator) ×
  seq_len × batch_size × precision (fp16, bf16, fp8, int8), ``solve`` + ``.dataset``.
  Target: >= 1e7 points/s on >= 1e6 points.
* ``ServingModel refined tp``: models × GPUs × precision × tensor-parallel degree (1, 2, 4, 8)
  × seq_len × batch_size, ``fidelity="refined"`` (issue 10), batch sizes cut to keep >= 1e6
  points. Target: >= 5e7 points/s on >= 1e6 points.
* ``ContinuousBatching closed loop``: models × GPUs × output tokens × input tokens ×
  concurrency (1 … 4096, geometric), ``fidelity="refined"``. Target: >= 1e7 points/s on
  >= 1e6 points.
* ``ServingCapacityModel grid``: qps × P99 target × model × GPU (10 Language models × 20 Cloud
  GPUs), every point's minimal replica count (up to 1,024) searched. Target: 1e5 points < 1 s.
* ``TailLatencyModel sweep``: arrival rate × service time × every replica count 1 … 1,024
  (Erlang C by one cumulative sum per load), and ``TailLatencyModel zipped``: random
  (λ, s, c) points with c up to 1,024 along one dimension (each point sums its own window).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: python benchmarks/bench_serving.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402
from benchmarks.harness import Row  # noqa: E402

__all__ = [
    "TARGETS",
    "PRECISIONS",
    "TP_SIZES",
    "serving_axes",
    "refined_axes",
    "closed_loop_axes",
    "bench_serving_refined",
    "bench_closed_loop",
    "capacity_axes",
    "tail_axes",
    "bench_serving",
    "bench_capacity",
    "bench_tail_latency",
    "run_all",
    "main",
]

PRECISIONS = ("fp16", "bf16", "fp8", "int8")
SEQ_LENS = tuple(int(x) for x in np.unique(np.geomspace(128, 131072, 16).round()))

TP_SIZES = (1, 2, 4, 8)
CONCURRENCY = tuple(int(x) for x in np.unique(np.geomspace(1, 4096, 64).round()))

#: The targets of issue 3 (item 8) and issue 10 (refined ServingModel with tp, closed loop).
TARGETS = {
    "serving_points_per_s": 1e7,  # ServingModel, on a grid of >= 1e6 points
    "serving_min_points": 10**6,
    "refined_points_per_s": 5e7,  # ServingModel, fidelity="refined", tp_size a dimension
    "closed_loop_points_per_s": 1e7,  # ContinuousBatchingModel closed loop, fidelity="refined"
    "capacity_points": 10**5,  # ServingCapacityModel grid ...
    "capacity_seconds": 1.0,  # ... in under a second
    "tail_max_replicas": 1024,
}


def serving_axes(points: int) -> dict:
    """ServingModel grid of at least ``points`` points: every Language model × every Cloud
    accelerator × S seq_len values (128 … 131072, geometric) × B batch sizes (1 … B) × 4
    precisions, with S <= 16 and B chosen to reach ``points``."""
    ms = harness.mlsysim()
    models, hardware = list(ms.Models.Language), list(ms.Hardware.Cloud)
    rest = points / (len(models) * len(hardware) * len(PRECISIONS))
    n_seq = int(min(len(SEQ_LENS), max(1, round(math.sqrt(rest / 2)))))
    n_batch = max(1, math.ceil(rest / n_seq))
    seq = [SEQ_LENS[i] for i in np.linspace(0, len(SEQ_LENS) - 1, n_seq).round().astype(int)]
    return {
        "model": models,
        "hardware": hardware,
        "seq_len": seq,
        "batch_size": np.arange(1, n_batch + 1),
        "precision": list(PRECISIONS),
    }


def refined_axes(points: int) -> dict:
    """``serving_axes`` with ``tp_size`` (1, 2, 4, 8) as a dimension, the batch sizes cut so that
    the grid still holds at least ``points`` points; the dimensions ordered model, hardware,
    precision, tp_size, then the swept seq_len × batch_size innermost."""
    axes = serving_axes(math.ceil(points / len(TP_SIZES)))
    order = ("model", "hardware", "precision", "tp_size", "seq_len", "batch_size")
    return {k: (list(TP_SIZES) if k == "tp_size" else axes[k]) for k in order}


def closed_loop_axes(points: int) -> dict:
    """ContinuousBatchingModel closed loop of about ``points`` points: every Language model ×
    every Cloud accelerator × 2 output lengths (128, 1024) × I input lengths (128 … 8192,
    geometric) × C concurrencies (1 … 4096, geometric; every output a curve over concurrency)."""
    ms = harness.mlsysim()
    models, hardware = list(ms.Models.Language), list(ms.Hardware.Cloud)
    rest = points / (len(models) * len(hardware) * 2)
    n_conc = int(min(len(CONCURRENCY), max(1, round(math.sqrt(rest * 4)))))
    n_inputs = max(1, math.ceil(rest / n_conc))
    conc = [CONCURRENCY[i] for i in np.linspace(0, len(CONCURRENCY) - 1, n_conc).round().astype(int)]
    return {
        "model": models,
        "hardware": hardware,
        "output_tokens": [128, 1024],
        "input_tokens": [int(x) for x in np.geomspace(128, 8192, n_inputs).round()],
        "concurrency": conc,
    }


def capacity_axes(points: int) -> dict:
    """ServingCapacityModel grid of about ``points`` points: Q qps values (0.5 … 5000/s) ×
    T P99 targets (100 ms … 120 s) × 10 Language models × 20 Cloud accelerators."""
    ms = harness.mlsysim()
    models, hardware = list(ms.Models.Language)[:10], list(ms.Hardware.Cloud)[:20]
    rest = points / (len(models) * len(hardware))
    n_qps = max(1, round(math.sqrt(rest * 1.25)))
    n_target = max(1, math.ceil(rest / n_qps))
    return {
        "qps": np.geomspace(0.5, 5000, n_qps),
        "target_p99_latency_ms": np.geomspace(100, 120_000, n_target),
        "model": models,
        "hardware": hardware,
    }


def tail_axes(points: int, max_replicas: int = 1024) -> dict:
    """TailLatencyModel sweep of about ``points`` points: arrival rates (1 … 20,000/s) ×
    service times (1 … 1000 ms) × every replica count 1 … ``max_replicas``."""
    rest = max(1, points // max_replicas)
    n_rate = max(1, round(math.sqrt(rest * 10)))
    n_service = max(1, math.ceil(rest / n_rate))
    return {
        "arrival_rate_qps": np.geomspace(1, 20_000, n_rate),
        "service_latency_ms": np.geomspace(1, 1000, n_service),
        "num_replicas": np.arange(1, max_replicas + 1),
    }


def bench_serving(points: int = 10**6, repeats: int = 3, loop_points: int = 200, seed: int = 0) -> list[Row]:
    """ServingModel over a >= ``points`` grid in one call, against a loop of scalar solves
    (reading ``.ttft``, ``.itl``, ``.feasible``) over sampled points of the same grid."""
    big = points >= TARGETS["serving_min_points"]
    target = f">= {TARGETS['serving_points_per_s']:.0e} pts/s" if big else "grid == loop"
    run = harness.grid_vs_loop(
        harness.mlsysim().ServingModel(),
        serving_axes(points),
        {},
        repeats,
        loop_points,
        seed,
        ("ttft", "itl", "feasible"),
    )
    passed = run.agrees and (not big or run.points_per_s >= TARGETS["serving_points_per_s"])
    return [run.grid_row(f"ServingModel grid {points:.0e}", target, passed)]


def bench_serving_refined(points: int = 10**6, repeats: int = 3, loop_points: int = 200, seed: int = 3) -> list[Row]:
    """ServingModel with ``fidelity="refined"`` and ``tp_size`` a dimension over a >= ``points``
    grid, against a loop of scalar solves over sampled points of the same grid."""
    run = harness.grid_vs_loop(
        harness.mlsysim().ServingModel(),
        refined_axes(points),
        {"fidelity": "refined"},
        repeats,
        loop_points,
        seed,
        ("ttft", "itl", "feasible"),
    )
    target, passed = run.rate_target(TARGETS["refined_points_per_s"], TARGETS["serving_min_points"])
    return [run.grid_row(f"ServingModel refined tp {points:.0e}", target, passed)]


def bench_closed_loop(points: int = 10**6, repeats: int = 3, loop_points: int = 100, seed: int = 4) -> list[Row]:
    """ContinuousBatchingModel's closed loop (``fidelity="refined"``) over a ~``points`` grid,
    against a loop of scalar solves over sampled points."""
    run = harness.grid_vs_loop(
        harness.mlsysim().ContinuousBatchingModel(),
        closed_loop_axes(points),
        {"fidelity": "refined"},
        repeats,
        loop_points,
        seed,
        ("ttft", "itl", "output_throughput"),
    )
    target, passed = run.rate_target(TARGETS["closed_loop_points_per_s"], TARGETS["serving_min_points"])
    return [run.grid_row(f"ContinuousBatching closed loop {points:.0e}", target, passed)]


def bench_capacity(points: int = 10**5, repeats: int = 3, loop_points: int = 50, seed: int = 1) -> list[Row]:
    """ServingCapacityModel over a ~``points`` grid (qps × target × model × GPU, 1,024 replicas
    searched), against a loop of scalar solves over sampled points."""
    big = points >= TARGETS["capacity_points"]
    target = f"{TARGETS['capacity_points']:.0e} pts < {TARGETS['capacity_seconds']:g} s" if big else "grid == loop"
    run = harness.grid_vs_loop(
        harness.mlsysim().ServingCapacityModel(),
        capacity_axes(points),
        {"max_seq_len": 1024, "output_tokens": 128},
        repeats,
        loop_points,
        seed,
        ("required_replicas", "estimated_p99_latency"),
    )
    passed = run.agrees and (not big or run.seconds < TARGETS["capacity_seconds"])
    return [run.grid_row(f"ServingCapacityModel grid {points:.0e}", target, passed)]


def bench_tail_latency(
    points: int = 10**6,
    zipped_points: int = 10**5,
    max_replicas: int = 1024,
    repeats: int = 3,
    loop_points: int = 100,
    seed: int = 2,
) -> list[Row]:
    """TailLatencyModel with every replica count 1 … ``max_replicas`` as a dimension, and on
    ``zipped_points`` random points (λ, s, c ≤ ``max_replicas``) zipped along one dimension."""
    import xarray as xr

    solver = harness.mlsysim().TailLatencyModel()
    run = harness.grid_vs_loop(
        solver, tail_axes(points, max_replicas), {}, repeats, loop_points, seed, ("p99_latency",)
    )
    sweep = run.grid_row(f"TailLatencyModel sweep {points:.0e}", f"c = 1..{max_replicas}", run.agrees)
    rng = np.random.default_rng(seed)
    replicas = rng.integers(1, max_replicas + 1, zipped_points)
    service = rng.uniform(1, 1000, zipped_points)
    rho = rng.uniform(0.05, 1.05, zipped_points)  # a few unstable points too
    config = {
        "arrival_rate_qps": xr.DataArray(rho * replicas / (service * 1e-3), dims="config"),
        "service_latency_ms": xr.DataArray(service, dims="config"),
        "num_replicas": xr.DataArray(replicas.astype(float), dims="config"),
    }

    def call():
        r = solver.solve(**config)
        r.dataset
        return r

    seconds, traced, rss, method, result = harness.measure(call, repeats)
    sample = rng.integers(0, zipped_points, loop_points)
    worst = 0.0
    for i in sample:
        one = solver.solve(**{k: float(v.values[i]) for k, v in config.items()}).dataset
        for name in one.data_vars:
            a, b = float(result.dataset[name].values[i]), float(one[name].values)
            if a != b and not (math.isnan(a) and math.isnan(b)):
                worst = max(worst, abs(a - b) / max(abs(a), abs(b)))
    zipped = Row(
        f"TailLatencyModel zipped {zipped_points:.0e}",
        zipped_points,
        seconds,
        zipped_points / seconds,
        harness.mb(traced),
        harness.mb(rss),
        None,
        f"c <= {max_replicas}",
        worst <= harness.REL_TOL,
        f"random (λ, s, c) along one dimension; max rel diff {worst:.1e}",
        {"max_rel_diff": worst, "rss_method": method, "max_replicas": max_replicas},
    )
    return [sweep, zipped]


def run_all(
    serving_points=10**6,
    refined_points=10**6,
    closed_loop_points=10**6,
    capacity_points=10**5,
    tail_points=10**6,
    zipped_points=10**5,
    repeats: int = 3,
    loop_points: int = 100,
    progress: bool = False,
) -> list[Row]:
    """Every benchmark, in order (one untimed warm-up call first: imports, registries)."""
    ms = harness.mlsysim()
    ms.ServingCapacityModel().solve(
        model=ms.Models.Language.Llama3_8B, hardware=ms.Hardware.Cloud, qps=[1, 10], target_p99_latency_ms=2000
    ).dataset
    return harness.run_steps(
        [
            lambda: bench_serving(serving_points, repeats, loop_points),
            lambda: bench_serving_refined(refined_points, repeats, loop_points),
            lambda: bench_closed_loop(closed_loop_points, repeats, loop_points),
            lambda: bench_capacity(capacity_points, repeats, max(10, loop_points // 2)),
            lambda: bench_tail_latency(tail_points, zipped_points, 1024, repeats, loop_points),
        ],
        progress,
    )


def main(argv=None) -> int:
    return harness.cli(
        argv,
        prog="bench_serving",
        doc=__doc__,
        run_all=run_all,
        targets=TARGETS,
        quick=dict(
            serving_points=10**3,
            refined_points=10**3,
            closed_loop_points=10**3,
            capacity_points=10**3,
            tail_points=10**4,
            zipped_points=10**3,
            loop_points=10,
        ),
        footnote="Seconds: best of repeats. traced MB: tracemalloc peak; RSS MB: peak RSS during "
        "the call minus RSS before.",
    )


if __name__ == "__main__":
    sys.exit(main())
