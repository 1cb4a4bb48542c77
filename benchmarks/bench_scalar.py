"""The scalar path of every resolver: a seed-style scalar call next to mlsysim 0.3.0's own call of
the same configuration, measured side by side in one run, and a 10⁶-value 1-D axis of one numeric
argument next to a product grid of the same number of points.

Run::

    python -m benchmarks.bench_scalar                   # both tables (~1-2 min)
    python -m benchmarks.bench_scalar --quick           # tiny: 20 calls, a 10^4-value axis (smoke test)
    python -m benchmarks.bench_scalar --only ServingModel,DataModel
    python -m benchmarks.bench_scalar --reference /path/to/python   # mlsysim 0.3.0's interpreter
    python -m benchmarks.bench_scalar --json out.json   # also write the rows as JSON

Scalar table. One configuration per resolver (``CASES``: the user guides' calls where a guide has
one), timed as a user runs it: ``solve(...)`` then reading two or three outputs
(``r.latency.to("ms")``, ``r.mfu``); records and Quantities are built once, outside the timed
call, as a user's module constants are. ``ours µs`` is the median over ``calls`` calls after
warm-up. ``mlsysim µs`` is the same configuration in mlsysim 0.3.0, timed by this very module run
as a worker under the reference interpreter (``--reference``, else ``$MLSYSIM_REF_PYTHON``, else
``.parity-venv/bin/python`` at the repository root, made by ``scripts/make_parity_fixtures.py``):
the two sides alternate case by case in ``rounds`` rounds and each keeps its best median, so both
see the same machine load. ``ratio`` = ours / mlsysim (target ≤ 1). Without the reference
interpreter (CI has no mlsysim) the column says ``not available`` and no target applies. The
package itself never needs mlsysim.

1-D axis table. Each resolver with one numeric argument given as an array of ``axis_points``
values in its valid range (``Case.axis``), the other arguments as in the scalar configuration:
``solve`` + ``.dataset`` (every output computed, the Dataset built), best of ``repeats``; target
≥ 10⁷ points/s on 10⁶ values. ``product`` is the same number of points as a product grid of that
argument and a second one (``Case.second``); ``1-D / product`` near 1 means a long axis costs no
more than a product grid (no Python work per value).

Measurement conventions otherwise follow ``benchmarks/harness.py``; ``tests/test_benchmarks_scalar.py``
runs a small table in the suite and its ``slow`` test asserts the targets.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script (or as the reference worker): make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402
from benchmarks.harness import Row  # noqa: E402

__all__ = [
    "TARGETS",
    "CASES",
    "Rec",
    "Qty",
    "Axis",
    "Labels",
    "Family",
    "Case",
    "ScalarRow",
    "reference_python",
    "median_call",
    "bench_scalar",
    "bench_axis",
    "bench_axis_forms",
    "run_all",
    "main",
]

#: The targets of issue 9 (item 7): a scalar call at most as slow as mlsysim 0.3.0's, and a
#: 10^6-value 1-D axis at >= 10^7 points/s for every resolver.
TARGETS = {"scalar_ratio": 1.0, "axis_points_per_s": 1e7, "axis_min_points": 10**6}

REPO_ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- configurations
@dataclass(frozen=True)
class Rec:
    """A registry record by its attribute path from the package (``"Hardware.Cloud.H100"``)."""

    path: str

    def resolve(self, package):
        obj = package
        for part in self.path.split("."):
            obj = getattr(obj, part)
        return obj


@dataclass(frozen=True)
class Qty:
    """A pint Quantity, built with the package's own registry."""

    value: float
    unit: str


@dataclass(frozen=True)
class Axis:
    """Values of one numeric argument: ``kind`` "lin" (``linspace(low, high, n)``), "log"
    (``logspace`` between ``low`` and ``high``) or "int" (``low, low + 1, ...``, whole numbers)."""

    name: str
    kind: str
    low: float
    high: float | None = None

    def values(self, n: int) -> np.ndarray:
        if self.kind == "lin":
            return np.linspace(self.low, self.high, n)
        if self.kind == "log":
            return np.logspace(math.log10(self.low), math.log10(self.high), n)
        return np.arange(int(self.low), int(self.low) + n, dtype=np.int64)


@dataclass(frozen=True)
class Labels:
    """The given values of a non-numeric argument (choices), as one dimension."""

    name: str
    labels: tuple

    def values(self, n: int) -> list:
        return list(self.labels)


@dataclass(frozen=True)
class Family:
    """Every record of a registry family (``Rec(path).resolve(package).list()``) given for the
    argument ``name``."""

    name: str
    path: str

    def values(self, package) -> list:
        return Rec(self.path).resolve(package).list()


@dataclass(frozen=True)
class Case:
    """One resolver's seed-style configuration.

    ``kwargs``: the call (``Rec`` records, ``Qty`` quantities, plain values); ``reads``: (our
    output, mlsysim 0.3.0's field, unit to convert to or None) read after each call; ``axis``:
    the numeric argument of the 1-D axis; ``second``: the other dimension of the equal-sized
    product grid (an ``Axis`` of ``second_points`` values, ``Labels`` or a ``Family``);
    ``reference``: mlsysim's keyword arguments where they differ (None: the same);
    ``max_axis_points``: the most values the 1-D axis gets (an optimizer that holds every
    candidate of every point in memory: about 28 KB per point, so 10^6 points would need ~28 GB).
    """

    resolver: str
    kwargs: dict
    reads: tuple
    axis: Axis
    second: Axis | Labels | Family
    reference: dict | None = None
    second_points: int = 100
    max_axis_points: int | None = None

    @property
    def call(self) -> str:
        """The configuration as code, for the table's note."""
        parts = []
        for key, value in self.kwargs.items():
            if isinstance(value, Rec):
                value = value.path.rsplit(".", 1)[-1]
            elif isinstance(value, Qty):
                value = f"{value.value:g} {value.unit}"
            parts.append(f"{key}={value}")
        return ", ".join(parts)


_H100, _A100 = Rec("Hardware.Cloud.H100"), Rec("Hardware.Cloud.A100")
_LLAMA8, _LLAMA70 = Rec("Models.Language.Llama3_8B"), Rec("Models.Language.Llama3_70B")
_RESNET = Rec("Models.Vision.ResNet50")
_RESEARCH = Rec("Systems.Clusters.Research_256")
_FRONTIER = Rec("Systems.Clusters.Frontier_8K")
_BATCH = Axis("batch_size", "int", 1)
_EFFICIENCY = Axis("efficiency", "lin", 0.001, 1.0)

CASES: tuple[Case, ...] = (
    Case(
        "Engine",
        dict(model=_RESNET, hardware=_A100, batch_size=1),
        (("latency", "latency", "ms"), ("bottleneck", "bottleneck", None), ("mfu", "mfu", None)),
        _BATCH,
        _EFFICIENCY,
    ),
    Case(
        "SingleNodeModel",
        dict(model=_RESNET, hardware=_A100, batch_size=1),
        (("latency", "latency", "ms"), ("bottleneck", "bottleneck", None), ("mfu", "mfu", None)),
        _BATCH,
        _EFFICIENCY,
    ),
    Case(
        "EfficiencyModel",
        dict(model=_LLAMA8, hardware=_H100),
        (("mfu", "mfu", None), ("achievable_flops", "achievable_flops", None)),
        _EFFICIENCY,
        Labels("workload_type", ("ffn", "attention", "conv", "other")),
    ),
    Case(
        "TrainingMemoryModel",
        dict(model=_LLAMA8, hardware=Rec("Hardware.Cloud.H100"), batch_size=8, seq_len=2048, zero_stage=2, dp_size=8),
        (("total_memory", "total_memory", "GB"), ("feasible", "feasible", None)),
        _BATCH,
        Axis("seq_len", "int", 128),
    ),
    Case(
        "ServingModel",
        dict(model=_LLAMA8, hardware=_H100, seq_len=2048, batch_size=1),
        (("ttft", "ttft", "ms"), ("itl", "itl", "ms"), ("feasible", "feasible", None)),
        _BATCH,
        Axis("seq_len", "int", 128),
    ),
    Case(
        "ContinuousBatchingModel",
        dict(model=_LLAMA8, hardware=_H100, max_seq_len=2048, max_batch_size=32),
        (("throughput_tokens_per_sec", "throughput_tokens_per_sec", None), ("ttft", "ttft", "ms")),
        Axis("mean_request_tokens", "lin", 16.0, 2048.0),
        Axis("max_batch_size", "int", 1),
    ),
    Case(
        "WeightStreamingModel",
        dict(model=_LLAMA70, hardware=Rec("Hardware.Cloud.Cerebras_CS3"), seq_len=2048, batch_size=1),
        (("throughput_tokens_per_sec", "throughput_tokens_per_sec", None), ("bottleneck", "bottleneck", None)),
        _BATCH,
        Axis("seq_len", "int", 128),
    ),
    Case(
        "TailLatencyModel",
        dict(arrival_rate_qps=50.0, service_latency_ms=100.0, num_replicas=8),
        (("p99_latency", "p99_latency", "ms"), ("is_stable", "is_stable", None)),
        Axis("arrival_rate_qps", "lin", 1.0, 79.0),
        Axis("service_time_cv", "lin", 0.1, 2.0),
    ),
    Case(
        "ServingCapacityModel",
        dict(model=_LLAMA8, hardware=_H100, qps=20.0, target_p99_latency_ms=2000.0, max_seq_len=1024, output_tokens=64),
        (
            ("required_replicas", "required_replicas", None),
            ("estimated_p99_latency", "estimated_p99_latency", "ms"),
            ("utilization", "utilization", None),
        ),
        Axis("qps", "lin", 1.0, 1000.0),
        Axis("output_tokens", "int", 1),
    ),
    Case(
        "InferenceScalingModel",
        dict(model=_LLAMA8, hardware=_H100, reasoning_steps=8),
        (("total_reasoning_time", "total_reasoning_time", "ms"), ("energy_per_query", "energy_per_query", None)),
        Axis("reasoning_steps", "int", 1),
        Axis("tokens_per_step", "int", 1),
    ),
    Case(
        "DistributedModel",
        dict(model=_LLAMA70, fleet=_FRONTIER, batch_size=2048, tp_size=8, pp_size=4, microbatch_count=16),
        (
            ("scaling_efficiency", "scaling_efficiency", None),
            ("bubble_fraction", "bubble_fraction", None),
            ("dp_communication_latency", "dp_communication_latency", "ms"),
        ),
        _EFFICIENCY,
        Axis("congestion_factor", "lin", 1.0, 2.0),
    ),
    Case(
        "MoERoutingModel",
        dict(
            model=Rec("Models.Language.Mixtral_8x7B"),
            batch_size=4,
            seq_len=2048,
            ep_size=8,
            routing_imbalance_factor=1.25,
            fleet=_RESEARCH,
        ),
        (
            ("effective_active_experts", "effective_active_experts", None),
            ("token_dispatch_bytes", "token_dispatch_bytes", None),
            ("all_to_all_latency", "all_to_all_latency", None),
        ),
        Axis("routing_imbalance_factor", "lin", 1.0, 4.0),
        _BATCH,
    ),
    Case(
        "TopologyModel",
        dict(fabric=Rec("Systems.Fabrics.InfiniBand_NDR"), topology="fat_tree", num_nodes=64),
        (("effective_bw", "effective_bw", None), ("bisection_bw", "bisection_bw", None)),
        Axis("num_nodes", "int", 2),
        Family("fabric", "Systems.Fabrics"),
    ),
    Case(
        "NetworkRooflineModel",
        dict(model=_LLAMA70, fleet=_RESEARCH),
        (("latency", "latency", "ms"), ("bottleneck", "bottleneck", None)),
        _EFFICIENCY,
        _BATCH,
    ),
    Case(
        "ReliabilityModel",
        dict(fleet=_FRONTIER, job_duration_hours=720.0),
        (("fleet_mtbf", "fleet_mtbf", "hour"), ("goodput_ratio", "goodput_ratio", None)),
        Axis("job_duration_hours", "lin", 1.0, 1e4),
        Axis("checkpoint_time_s", "lin", 1.0, 600.0),
    ),
    Case(
        "CheckpointModel",
        dict(model=_LLAMA70, hardware=_H100),
        (("checkpoint_size", "checkpoint_size", "GB"), ("write_time", "write_time_seconds", None)),
        Axis("checkpoint_interval_hours", "lin", 0.1, 48.0),
        Axis("n_writers", "int", 1),
    ),
    Case(
        "OrchestrationModel",
        dict(fleet=_RESEARCH, arrival_rate_jobs_per_day=10.0, avg_job_duration_days=0.05),
        (("avg_wait_time", "avg_wait_time_days", None), ("cluster_utilization", "cluster_utilization", None)),
        Axis("arrival_rate_jobs_per_day", "lin", 0.1, 19.9),
        Axis("avg_job_duration_days", "lin", 0.01, 0.05),
    ),
    Case(
        "EconomicsModel",
        dict(fleet=_RESEARCH, duration_days=365.0, grid=Rec("Infrastructure.Grids.Quebec")),
        (("tco", "tco_usd", None), ("carbon_footprint", "carbon_footprint_kg", None)),
        Axis("duration_days", "lin", 1.0, 3650.0),
        Axis("mfu", "lin", 0.05, 1.0),
    ),
    Case(
        "SustainabilityModel",
        dict(fleet=_RESEARCH, duration_days=365.0, datacenter=Rec("Infrastructure.Datacenters.Norway_Hydro")),
        (("carbon_footprint", "carbon_footprint_kg", None), ("total_energy", "total_energy_kwh", None)),
        Axis("duration_days", "lin", 1.0, 3650.0),
        Axis("mfu", "lin", 0.05, 1.0),
    ),
    Case(
        "ResponsibleEngineeringModel",
        dict(base_training_time=Qty(10.0, "day"), epsilon=1.0),
        (
            ("effective_training_time", "effective_training_time", "day"),
            ("dp_slowdown_factor", "dp_slowdown_factor", None),
        ),
        Axis("epsilon", "lin", 0.1, 10.0),
        Axis("min_subgroup_prevalence", "lin", 0.001, 0.5),
    ),
    Case(
        "DataModel",
        dict(workload_data_rate=Qty(5.0, "GB/s"), hardware=_H100),
        (("is_stalled", "is_stalled", None), ("utilization", "utilization", None)),
        Axis("workload_data_rate", "lin", 0.1, 100.0),
        Family("hardware", "Hardware.Cloud"),
    ),
    Case(
        "TransformationModel",
        dict(
            batch_size=256,
            sample_size_bytes=Qty(150.0, "KB"),
            cpu_throughput=Qty(2.0, "GB/s"),
            accelerator_step_time=Qty(100.0, "ms"),
        ),
        (("transform_time", "transform_time", "ms"), ("is_bottleneck", "is_bottleneck", None)),
        _BATCH,
        Axis("cpu_throughput", "lin", 0.1, 10.0),
    ),
    Case(
        "ScalingModel",
        dict(compute_budget=Qty(1e23, "flop")),
        (("optimal_parameters", "optimal_parameters", None), ("optimal_tokens", "optimal_tokens", None)),
        Axis("compute_budget", "log", 1e18, 1e26),
        Axis("mfu", "lin", 0.05, 1.0),
    ),
    Case(
        "CompressionModel",
        dict(model=_LLAMA8, hardware=_H100, method="quantization", target_bitwidth=4),
        (("compressed_size", "compressed_size_gb", None), ("compression_ratio", "compression_ratio", None)),
        Axis("sparsity", "lin", 0.0, 0.99),
        Axis("target_bitwidth", "int", 1),
        second_points=32,
    ),
    Case(
        "SensitivitySolver",
        dict(model=_LLAMA8, hardware=_H100),
        (("binding_constraint", "binding_constraint", None), ("baseline_latency", "baseline_latency", "ms")),
        _EFFICIENCY,
        _BATCH,
    ),
    Case(
        "SynthesisSolver",
        dict(model=_LLAMA8, target_latency=Qty(50.0, "ms")),
        (("required_bw", "required_bw", "GB/s"), ("required_flops", "required_flops", None)),
        Axis("target_latency", "lin", 1e-3, 1.0),
        _EFFICIENCY,
    ),
    Case(
        "ParallelismOptimizer",
        # first order: mlsysim 0.3.0's search (TP x PP); the refined default also searches microbatch size,
        # recomputation, ZeRO stage and cp_size (3,584 candidates per point, too many for a 1e5 axis)
        dict(model=_LLAMA70, fleet=_RESEARCH, batch_size=256, fidelity="first_order"),
        (("best_tp_size", "best_config", None), ("mfu", "best_mfu", None)),
        _EFFICIENCY,
        Axis("seq_len", "int", 1024),
        reference=dict(model=_LLAMA70, fleet=_RESEARCH, batch_size=256),
        max_axis_points=10**5,
    ),
    Case(
        "BatchingOptimizer",
        dict(model=_LLAMA8, hardware=_H100, seq_len=2048, sla_latency_ms=2000.0, arrival_rate_qps=5.0),
        (("best_batch_size", "best_batch_size", None), ("p99_latency", "p99_latency", None)),
        Axis("arrival_rate_qps", "lin", 0.1, 50.0),
        _EFFICIENCY,
        max_axis_points=10**5,
    ),
    Case(
        "PlacementOptimizer",
        dict(fleet=_RESEARCH, duration_days=365.0),
        (("best_region", "best_region", None), ("tco", "lowest_tco", None)),
        Axis("duration_days", "lin", 1.0, 3650.0),
        Axis("mfu", "lin", 0.05, 1.0),
    ),
)


def _cases(only=None) -> tuple[Case, ...]:
    if not only:
        return CASES
    known = {c.resolver for c in CASES}
    unknown = set(only) - known
    if unknown:
        raise ValueError(f"unknown resolvers {sorted(unknown)}; known: {', '.join(sorted(known))}")
    return tuple(c for c in CASES if c.resolver in only)


# ---------------------------------------------------------------------------- the timed call (both packages)
def _package(reference: bool):
    """(package, namespace of the resolver classes, Quantity constructor)."""
    if reference:
        import warnings

        warnings.simplefilter("ignore")
        import mlsysim
        import mlsysim.solvers

        return mlsysim, mlsysim.solvers, mlsysim.ureg.Quantity
    ms = harness.mlsysim()
    return ms, ms, ms.Q_


def _value(value, package, quantity):
    if isinstance(value, Rec):
        return value.resolve(package)
    if isinstance(value, Qty):
        return quantity(value.value, value.unit)
    return value


def _scalar_call(case: Case, reference: bool):
    """The timed call of ``case``: ``solve`` with the configuration, then its reads."""
    package, solvers, quantity = _package(reference)
    kwargs = case.reference if (reference and case.reference is not None) else case.kwargs
    kwargs = {k: _value(v, package, quantity) for k, v in kwargs.items()}
    if case.resolver == "Engine":
        solver = package.Engine  # Engine.solve is a static shortcut in both packages
    else:
        solver = getattr(solvers, case.resolver)()
    reads = [(ref if reference else ours, unit) for ours, ref, unit in case.reads]

    def call():
        r = solver.solve(**kwargs)
        for name, unit in reads:
            value = getattr(r, name)
            if unit is not None:
                value.to(unit)
        return r

    return call


def _breakdown(case: Case, calls: int, budget: float, clock: str = "cpu") -> dict:
    """Where our scalar call spends its time [s] (medians): ``grid`` (validating and aligning the
    arguments, ``solver.grid``), ``kernel`` (``solver.evaluate`` on that grid, the resolver's own
    computation), ``result`` (building the Result) and ``reads`` (the outputs read). An optimizer
    (its own ``solve``: a search) has only ``grid``."""
    ms, _, quantity = _package(reference=False)
    name = "SingleNodeModel" if case.resolver == "Engine" else case.resolver
    solver = getattr(ms, name)()
    kwargs = {k: _value(v, ms, quantity) for k, v in case.kwargs.items()}
    grid = median_call(lambda: solver.grid(**kwargs), calls, budget / 4, clock=clock)[0]
    if "_compute" not in vars(type(solver)):  # an optimizer's own solve (a search), not grid + evaluate
        return {"grid": grid}
    evaluate = median_call(lambda: solver.evaluate(solver.grid(**kwargs)), calls, budget / 4, clock=clock)[0]
    solve = median_call(lambda: solver.solve(**kwargs), calls, budget / 4, clock=clock)[0]
    call = median_call(_scalar_call(case, reference=False), calls, budget / 4, clock=clock)[0]
    return {"grid": grid, "kernel": evaluate - grid, "result": solve - evaluate, "reads": call - solve}


#: The clocks ``median_call`` can read: CPU time of this process (default: other processes on a
#: shared machine do not inflate either side) or wall time.
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def median_call(fn, calls: int, budget: float = 2.0, min_calls: int = 5, clock: str = "cpu") -> tuple[float, int]:
    """(median seconds per call [s], number of calls timed) of ``fn()``.

    One untimed first call and a warm-up (a tenth of ``calls``, at most a quarter of ``budget``),
    then ``calls`` calls timed in batches of about a millisecond each (so the clock's own cost
    and resolution do not count; one call per batch when a call takes longer); the median is
    over the batches' per-call times. Stops after ``budget`` seconds once ``min_calls`` were
    timed. ``clock``: a key of ``CLOCKS``.
    """
    timer = CLOCKS[clock]
    fn()
    start = time.perf_counter()
    warm = 0
    while warm < max(1, calls // 10) and time.perf_counter() - start < budget / 4:
        fn()
        warm += 1
    per_call = max((time.perf_counter() - start) / warm, 1e-9)
    batch = max(1, min(int(1e-3 / per_call), calls // min_calls or 1))
    times = []
    done = 0
    stop = time.perf_counter() + budget
    while done < calls and (done < min_calls or time.perf_counter() < stop):
        t0 = timer()
        for _ in range(batch):
            fn()
        times.append((timer() - t0) / batch)
        done += batch
    return statistics.median(times), done


def _worker() -> int:
    """The reference side: read one JSON request per line (``{"case": name, "calls": n,
    "budget": s}``), answer one JSON line (``median_s``, ``calls`` or ``error``)."""
    import mlsysim

    by_name = {c.resolver: c for c in CASES}
    calls_of = {}
    print(json.dumps({"ready": True, "version": mlsysim.__version__}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        name = request["case"]
        try:
            if name not in calls_of:
                calls_of[name] = _scalar_call(by_name[name], reference=True)
            median, n = median_call(calls_of[name], request["calls"], request["budget"], clock=request["clock"])
            answer = {"median_s": median, "calls": n}
        except Exception as exc:  # the reference rejects the configuration: say so in the table
            answer = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        print(json.dumps(answer), flush=True)
    return 0


def reference_python(explicit: str | None = None) -> str | None:
    """The interpreter that has mlsysim 0.3.0: ``explicit``, else ``$MLSYSIM_REF_PYTHON``, else
    ``.parity-venv/bin/python`` at the repository root; None when none exists (``bench_scalar``
    also skips the reference for ``explicit == "none"``)."""
    for candidate in (
        explicit,
        os.environ.get("MLSYSIM_REF_PYTHON"),
        str(REPO_ROOT / ".parity-venv" / "bin" / "python"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


class _Reference:
    """A running reference worker (one process for the whole run)."""

    def __init__(self, python: str):
        self.proc = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "--reference-worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=str(REPO_ROOT),
        )
        hello = self._read()
        self.version = hello.get("version")
        if not hello.get("ready"):
            raise RuntimeError(hello.get("error", "the reference worker did not start"))

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            return {"error": "the reference worker exited (is mlsysim 0.3.0 installed in that interpreter?)"}
        return json.loads(line)

    def time(self, case: Case, calls: int, budget: float, clock: str) -> dict:
        request = {"case": case.resolver, "calls": calls, "budget": budget, "clock": clock}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------------------- rows
@dataclass
class ScalarRow(Row):
    """A row with the figure it is compared with: mlsysim 0.3.0's median [s] (scalar table) or
    the product grid's best time [s] (axis table), and the ratio (ours / mlsysim; 1-D points/s
    over the product grid's)."""

    other_seconds: float | None = None
    ratio: float | None = None
    section: str = "scalar"
    other: str = ""  # what the "other" column says when there is no number ("not available")
    grid_seconds: float | None = None  # of our scalar call: building the grid [s]
    kernel_seconds: float | None = None  # of our scalar call: the resolver's evaluate [s]

    @property
    def other_or_text(self):
        """The compared figure, or the text saying why there is none."""
        return self.other if self.other_seconds is None and self.other else self.other_seconds


SCALAR_COLUMNS = (
    ("benchmark", "resolver", "str"),
    ("seconds", "ours µs", "us"),
    ("other_or_text", "mlsysim µs", "us"),
    ("ratio", "ratio", "ratio"),
    ("grid_seconds", "grid µs", "us"),
    ("kernel_seconds", "kernel µs", "us"),
    ("points", "calls", "int"),
    ("target", "target", "str"),
    ("passed", "pass", "pass"),
    ("note", "note", "str"),
)

AXIS_COLUMNS = (
    ("benchmark", "1-D axis", "str"),
    ("points", "points", "int"),
    ("seconds", "seconds", "s"),
    ("points_per_s", "points/s", "rate"),
    ("other_seconds", "product s", "s"),
    ("ratio", "1-D / product", "ratio"),
    ("target", "target", "str"),
    ("passed", "pass", "pass"),
    ("note", "note", "str"),
)


def _tables(rows):
    scalar = [r for r in rows if getattr(r, "section", "scalar") == "scalar"]
    axis = [r for r in rows if getattr(r, "section", "") == "axis"]
    out = []
    if scalar:
        out.append(("Scalar call: ours next to mlsysim 0.3.0 (median)", scalar, SCALAR_COLUMNS))
    if axis:
        out.append(("1-D axis of one numeric argument: solve + .dataset (best of repeats)", axis, AXIS_COLUMNS))
    return out


# ---------------------------------------------------------------------------- benchmarks
def bench_scalar(
    calls: int = 2000,
    budget: float = 2.0,
    rounds: int = 2,
    reference: str | None = None,
    only=None,
    use_reference: bool = True,
    breakdown: bool = True,
    clock: str = "cpu",
) -> list[ScalarRow]:
    """The scalar table: every case's median call, ours and (when the reference interpreter
    exists and ``use_reference``) mlsysim 0.3.0's, alternating case by case for ``rounds``
    rounds; each side keeps its best median. ``breakdown``: also where our call spends its time
    (``grid µs``: arguments validated and aligned; ``kernel µs``: the resolver's computation)."""
    cases = _cases(only)
    python = reference_python(reference) if use_reference and reference != "none" else None
    ref, why = None, "not available"
    if python is not None:
        try:
            ref = _Reference(python)
        except (OSError, RuntimeError) as exc:
            why = f"not available ({exc})"[:80]
    ours = {c.resolver: _scalar_call(c, reference=False) for c in cases}
    best: dict[str, list] = {c.resolver: [math.inf, 0, math.inf, 0, None] for c in cases}
    try:
        for _ in range(max(1, rounds)):
            for case in cases:
                entry = best[case.resolver]
                median, n = median_call(ours[case.resolver], calls, budget, clock=clock)
                if median < entry[0]:
                    entry[0], entry[1] = median, n
                if ref is not None:
                    answer = ref.time(case, calls, budget, clock)
                    if "error" in answer:
                        entry[4] = answer["error"]
                    elif answer["median_s"] < entry[2]:
                        entry[2], entry[3] = answer["median_s"], answer["calls"]
    finally:
        if ref is not None:
            ref.close()
    rows = []
    for case in cases:
        parts = _breakdown(case, calls, budget, clock) if breakdown else {}
        mine, n, theirs, n_ref, error = best[case.resolver]
        available = ref is not None and math.isfinite(theirs)
        ratio = mine / theirs if available else None
        reads = ", ".join(f"{o}.to({u!r})" if u else o for o, _, u in case.reads)
        note = f"{case.call}; reads {reads}"
        if error:
            note = f"mlsysim: {error}; " + note
        rows.append(
            ScalarRow(
                case.resolver,
                n,
                mine,
                1 / mine,
                target=f"<= {TARGETS['scalar_ratio']:g}x mlsysim" if available else "-",
                passed=(ratio <= TARGETS["scalar_ratio"]) if available else None,
                note=note,
                other_seconds=theirs if available else None,
                ratio=ratio,
                section="scalar",
                other="" if available else why,
                grid_seconds=parts.get("grid"),
                kernel_seconds=parts.get("kernel"),
                extra={
                    "median_s": mine,
                    "calls": n,
                    "reference_median_s": theirs if available else None,
                    "reference_calls": n_ref if available else None,
                    "reference_version": ref.version if ref is not None else None,
                    "reference_error": error,
                    "rounds": rounds,
                    "clock": clock,
                    "breakdown_s": parts,
                },
            )
        )
    return rows


def _second_values(case: Case, package):
    if isinstance(case.second, Family):
        return case.second.values(package)
    return case.second.values(case.second_points)


def bench_axis(points: int = 10**6, repeats: int = 3, only=None, product: bool = True) -> list[ScalarRow]:
    """The 1-D axis table: each case's ``axis`` argument as ``points`` values (at most the case's
    ``max_axis_points``; the rest of the scalar configuration fixed), ``solve`` + ``.dataset``,
    best of ``repeats``; with ``product``, the same count as a product grid of the axis argument
    and ``second``. Target: >= 10^7 points/s for an axis of >= 10^6 values, and for a capped one
    (it could not be run at 10^6)."""
    ms, _, quantity = _package(reference=False)
    rows = []
    for case in _cases(only):
        solver = ms.Engine if case.resolver == "Engine" else getattr(ms, case.resolver)()
        fixed = {k: _value(v, ms, quantity) for k, v in case.kwargs.items()}
        capped = case.max_axis_points is not None and points > case.max_axis_points
        n = case.max_axis_points if capped else points

        def one(kw, solver=solver):
            r = solver.solve(**kw)
            r.dataset
            return r

        line = {**fixed, case.axis.name: case.axis.values(n)}
        seconds, _, _, _, result = harness.measure(lambda kw=line: one(kw), repeats, memory=False)
        sizes = dict(result.dataset.sizes)
        result = line = None
        other, ratio, note = None, None, f"{case.axis.name} {case.axis.kind} {case.axis.low:g}..{_high(case.axis, n)}"
        if product:
            second = _second_values(case, ms)
            k = len(second)
            grid = {**fixed, case.axis.name: case.axis.values(max(1, n // k)), case.second.name: second}
            other = harness.measure(lambda kw=grid: one(kw), repeats, memory=False)[0]
            grid = None
            ratio = (n / seconds) / (k * max(1, n // k) / other)
            note += f"; product {max(1, n // k):,} × {k} {case.second.name}"
        if capped:
            note += f"; capped at {n:,} values (memory: every candidate of every point is held)"
        rate = n / seconds
        applies = n >= TARGETS["axis_min_points"] or capped
        rows.append(
            ScalarRow(
                f"{case.resolver} {case.axis.name}",
                n,
                seconds,
                rate,
                target=f">= {TARGETS['axis_points_per_s']:.0e} pts/s" if applies else "-",
                passed=(rate >= TARGETS["axis_points_per_s"]) if applies else None,
                note=note,
                other_seconds=other,
                ratio=ratio,
                section="axis",
                extra={"dims": sizes, "axis": case.axis.name, "second": case.second.name, "capped": capped},
            )
        )
    return rows


def bench_axis_forms(points: int = 10**6, repeats: int = 3) -> list[ScalarRow]:
    """ScalingModel's ``compute_budget`` axis of ``points`` values given as a Python list, a pint
    Quantity array and a DataArray (``bench_axis`` gives an ndarray): each form must also avoid
    Python work per value (a list is converted by numpy; Quantities in it are looked for once per
    element type)."""
    ms = harness.mlsysim()
    solver = ms.ScalingModel()
    values = np.logspace(18, 26, points)
    forms = {
        "list": values.tolist(),
        "Quantity": ms.Q_(values, "flop"),
        "DataArray": __import__("xarray").DataArray(values, dims="compute_budget"),
    }
    rows = []
    for form, given in forms.items():

        def one(given=given):
            r = solver.solve(compute_budget=given)
            r.dataset
            return r

        seconds = harness.measure(one, repeats, memory=False)[0]
        rate = points / seconds
        applies = points >= TARGETS["axis_min_points"]
        rows.append(
            ScalarRow(
                f"ScalingModel compute_budget as {form}",
                points,
                seconds,
                rate,
                target=f">= {TARGETS['axis_points_per_s']:.0e} pts/s" if applies else "-",
                passed=(rate >= TARGETS["axis_points_per_s"]) if applies else None,
                note=f"compute_budget given as a {form} of {points:,} values",
                section="axis",
                extra={"form": form},
            )
        )
    return rows


def _high(axis: Axis, points: int) -> str:
    return f"{axis.high:g}" if axis.high is not None else f"{int(axis.low) + points - 1:g}"


def run_all(
    calls: int = 2000,
    budget: float = 2.0,
    rounds: int = 2,
    axis_points: int = 10**6,
    repeats: int = 3,
    reference: str | None = None,
    only=None,
    product: bool = True,
    clock: str = "cpu",
    tables=("scalar", "axis"),
    progress: bool = False,
) -> list[ScalarRow]:
    """The scalar table, then the 1-D axis table (``tables`` chooses)."""
    ms = harness.mlsysim()
    ms.SingleNodeModel().solve(model=ms.Models.Vision.ResNet50, hardware=[ms.Hardware.Cloud.A100]).dataset
    steps = []
    if "scalar" in tables:
        steps.append(lambda: bench_scalar(calls, budget, rounds, reference, only, clock=clock))
    if "axis" in tables:
        steps.append(lambda: bench_axis(axis_points, repeats, only, product))
        if not only or "ScalingModel" in only:
            steps.append(lambda: bench_axis_forms(axis_points, repeats))
    return harness.run_steps(steps, progress)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--reference-worker"]:
        return _worker()
    return harness.cli(
        argv,
        prog="bench_scalar",
        doc=__doc__,
        run_all=run_all,
        targets=TARGETS,
        quick=lambda args: dict(
            calls=20,
            budget=0.5,
            rounds=1,
            axis_points=10**4,
            reference=args.reference,
            only=args.only,
            clock=args.clock,
            tables=args.tables,
        ),
        default=lambda args: dict(
            calls=args.calls,
            rounds=args.rounds,
            axis_points=args.axis_points,
            reference=args.reference,
            only=args.only,
            clock=args.clock,
            tables=args.tables,
        ),
        extra_args=[
            (
                "--reference",
                dict(metavar="PYTHON", help="interpreter with mlsysim 0.3.0 (default: .parity-venv); 'none': skip it"),
            ),
            ("--only", dict(type=lambda s: s.split(","), help="comma-separated resolver names")),
            ("--calls", dict(type=int, default=2000, help="timed scalar calls per case and side (median)")),
            ("--rounds", dict(type=int, default=2, help="alternating rounds ours/mlsysim (best median kept)")),
            ("--axis-points", dict(type=lambda s: int(float(s)), default=10**6, help="values of the 1-D axis")),
            (
                "--tables",
                dict(type=lambda s: tuple(s.split(",")), default=("scalar", "axis"), help="scalar,axis (default both)"),
            ),
            (
                "--clock",
                dict(choices=sorted(CLOCKS), default="cpu", help="time scalar calls in process CPU time or wall time"),
            ),
        ],
        footnote="Scalar: median of calls (solve + reads), best of rounds; ratio = ours / mlsysim 0.3.0. "
        "1-D axis: best of repeats of solve + .dataset; 1-D / product = points/s of the axis over the "
        "product grid's (see benchmarks/bench_scalar.py).",
        tables=_tables,
    )


if __name__ == "__main__":
    sys.exit(main())
