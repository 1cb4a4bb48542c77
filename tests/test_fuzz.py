"""The fuzzer (issue 13): every argument of every resolver and optimizer replaced in turn by a
bad value, each call classified.

The 28 resolver classes of ``mlsysim_vec.solvers`` are called from three valid base calls
(``BASES``: the required arguments of ``test_api_docs.EXAMPLES``, the seed-style configurations
of ``benchmarks/bench_scalar.py`` and the same with one argument swept over 3 values), each with
one argument -- or one option of ``solve``: ``chunks``, ``raise_errors``, ``top_k``,
``search_over``, ``objective``, ``regions`` -- replaced by each of ``BAD``: 0, -1, NaN, ±inf,
1e308, 1e30 (the largest magnitude allowed), 10**9, None, an object, a string, a record of the
wrong kind, a Quantity of the wrong unit, an empty list, a mixed list, a duplicate list, a
DataArray whose dimension is named after another argument, an unknown registry name, True and a
list whose second value is NaN. Each call is:

* CLEAN: a ``ValueError``/``TypeError`` whose message names the argument;
* FLAGGED: a NaN input answered by a result in which every point with that input is infeasible
  with reason ``invalid_input``, every number NaN, every category missing (solvers/base.py
  ``flag_invalid``), the other points sane; a NaN of an optional argument means "not given";
* OK: a value in the argument's domain, and a sane result (``judge``: no -inf, no +inf at a
  feasible point unless documented, no negative time/size/count/cost, no fraction above 1, no
  NaN where the catalogue does not allow it at a feasible point, verdict and reason agree);
* UNCLEAN: any other exception, or a message that does not name the argument;
* NONSENSE: an out-of-domain value accepted (``in_domain``), or an insane result;
* RUNAWAY: a call that grew the peak resident memory by more than ``RUNAWAY_BYTES`` or ran
  longer than ``RUNAWAY_SECONDS``. The pass runs under an address-space limit
  (``RLIMIT_AS``: what is mapped now + ``ADDRESS_SPACE_MARGIN``), so a runaway allocation fails
  with ``MemoryError`` instead of taking gigabytes, and under an interval timer.

``test_fuzz`` (one per resolver) asserts UNCLEAN == NONSENSE == RUNAWAY == 0 and prints the
counts (the totals at the end of the module with ``-s``); ``test_fuzz_random_combinations`` (``-m slow``) draws random
combinations of bad and valid values with hypothesis.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import math
import re
import resource
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from test_api_docs import EXAMPLES, RESOLVERS

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import mlsysim_vec as ms  # noqa: E402
from benchmarks import bench_scalar  # noqa: E402
from mlsysim_vec.grid import MAX_MAGNITUDE, REQUIRED  # noqa: E402
from mlsysim_vec.options import Option  # noqa: E402
from mlsysim_vec.units import Q_  # noqa: E402
from mlsysim_vec.variables import REASONS, variable  # noqa: E402

CLEAN, FLAGGED, OK, UNCLEAN, NONSENSE, RUNAWAY = "CLEAN", "FLAGGED", "OK", "UNCLEAN", "NONSENSE", "RUNAWAY"
CLASSES = (CLEAN, FLAGGED, OK, UNCLEAN, NONSENSE, RUNAWAY)

#: A call whose peak resident memory grows by more than this is a runaway.
RUNAWAY_BYTES = 500 * 2**20
#: A call that runs longer than this is a runaway (interrupted by SIGALRM).
RUNAWAY_SECONDS = 10.0
#: Address space the pass may map beyond what the process maps when it starts: a runaway
#: allocation fails with MemoryError instead of taking the machine's memory.
ADDRESS_SPACE_MARGIN = 768 * 2**20

BAD = (
    "0",
    "-1",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "1e30",
    "1e9",
    "None",
    "object",
    "text",
    "wrong_record",
    "wrong_unit",
    "empty",
    "mixed",
    "duplicate",
    "clash",
    "unknown_name",
    "True",
    "nan_in_list",
)
#: Bad values whose acceptance is always nonsense (whatever the argument).
OUT_OF_DOMAIN = {
    "inf",
    "-inf",
    "1e308",
    "object",
    "text",
    "wrong_record",
    "wrong_unit",
    "empty",
    "mixed",
    "duplicate",
    "clash",
    "unknown_name",
}

H100 = ms.Hardware.Cloud.H100
LLAMA, MIXTRAL, R50 = ms.Models.Language.Llama3_8B, ms.Models.Language.Mixtral_8x7B, ms.Models.ResNet50
#: Records a record argument may take, in order of preference (the first of the right type is
#: the valid value; the first of a wrong type is the "wrong_record").
RECORDS = (
    LLAMA,
    MIXTRAL,
    H100,
    ms.Systems.Clusters.Research_256,
    ms.Systems.Fabrics.InfiniBand_HDR,
    ms.Infrastructure.Grids.Quebec,
    ms.Infrastructure.Datacenters.Norway_Hydro,
    R50,
)

#: Options of ``solve`` that are not ``ARGS`` (``chunks`` for every class) and a valid value of each.
OPTIONS = {
    "chunks": None,
    "raise_errors": False,
    "top_k": 2,
    "search_over": (),
    "objective": "mfu",
    "regions": None,
}


def _materialise(value):
    if isinstance(value, bench_scalar.Rec):
        return value.resolve(ms)
    if isinstance(value, bench_scalar.Qty):
        return Q_(value.value, value.unit)
    return value


#: The benchmark's scalar configuration of each resolver (``benchmarks/bench_scalar.py``).
BENCH = {
    case.resolver: {k: _materialise(v) for k, v in case.kwargs.items()}
    for case in bench_scalar.CASES
    if case.resolver in RESOLVERS
}
#: The valid calls every bad value is put into, by name: ``examples`` (the required arguments,
#: ``test_api_docs.EXAMPLES``), ``bench`` (the benchmark's seed-style configurations) and
#: ``grid`` (``bench`` with its 1-D axis argument swept over 3 values, so each bad value meets
#: a grid and the array paths of the validation).
BASES = {
    "examples": EXAMPLES,
    "bench": BENCH,
    "grid": {
        case.resolver: BENCH[case.resolver] | {case.axis.name: case.axis.values(3).tolist()}
        for case in bench_scalar.CASES
        if case.resolver in RESOLVERS
    },
}
#: The scalar call whose values are the "valid value" of an argument in each base.
SCALAR_BASE = {"examples": "examples", "bench": "bench", "grid": "bench"}


@dataclass(frozen=True)
class Case:
    resolver: str
    arg: str  # an argument of ARGS or an option of solve
    label: str  # one of BAD
    base: str = "examples"  # one of BASES

    @property
    def id(self) -> str:
        return f"{self.resolver}.{self.arg}={self.label} [{self.base}]"


# ---- the values -----------------------------------------------------------------------------


def options_of(name: str) -> list[str]:
    """The options of ``solve`` beyond ``ARGS`` that the class has."""
    params = inspect.signature(RESOLVERS[name]().solve).parameters
    args = {a.name for a in RESOLVERS[name].ARGS}
    return [p for p in params if p not in args and p in OPTIONS]


def valid_value(name: str, arg, base: str = "examples") -> Any:
    """A valid scalar value of argument ``arg`` of resolver ``name`` (as in the base call)."""
    base = BASES[SCALAR_BASE[base]][name]
    if arg.name in base:
        return base[arg.name]
    default = arg.default
    if isinstance(default, Option):
        return default.value()
    if default is not None and default is not REQUIRED:
        return default
    if arg.kind == "record":
        return next(r for r in RECORDS if isinstance(r, arg.types))
    if arg.kind == "choice":
        return arg.choices[0]
    if arg.kind == "bool":
        return False
    low = 1.0 if arg.low is None else arg.low
    if arg.high is not None:
        value = (low + arg.high) / 2
    else:
        value = low + 1
    return float(math.ceil(value)) if arg.kind == "integer" else value


def wrong_record(arg) -> Any:
    """A record that is not of the argument's type (a record for a number)."""
    types = arg.types if arg.kind == "record" else ()
    return next(r for r in RECORDS if not isinstance(r, types))


def bad_value(name: str, arg, label: str, base: str = "examples") -> Any:
    """The bad value ``label`` for argument ``arg`` (an ``Arg``) of resolver ``name``."""
    if label == "0":
        return 0
    if label == "-1":
        return -1
    if label == "nan":
        return math.nan
    if label == "inf":
        return math.inf
    if label == "-inf":
        return -math.inf
    if label == "1e308":
        return 1e308
    if label == "1e30":  # the largest magnitude a number may have (grid.MAX_MAGNITUDE)
        return MAX_MAGNITUDE
    if label == "1e9":
        return 10**9
    if label == "None":
        return None
    if label == "object":
        return object()
    if label == "text":
        return "abc"
    if label == "wrong_record":
        return wrong_record(arg)
    if label == "wrong_unit":
        return Q_(1.0, "s" if getattr(arg, "unit", "") == "kg" else "kg")
    if label == "empty":
        return []
    if label == "True":
        return True
    if label == "unknown_name":
        return "Hardware.Cloud.NoSuchDevice" if arg.kind == "record" else "no_such_name"
    good = valid_value(name, arg, base)
    if label == "mixed":
        return [good, "a"]
    if label == "duplicate":
        return [good, good]
    if label == "nan_in_list":  # a dimension whose second point is NaN
        return [good, math.nan]
    if label == "clash":  # a dimension named after another argument, which is not given along it
        other = next(a.name for a in RESOLVERS[name].ARGS if a.name != arg.name)
        if arg.kind == "record":
            data = np.empty(1, dtype=object)
            data[0] = good
        elif hasattr(good, "magnitude"):  # a Quantity: a quantified DataArray
            data = Q_(np.asarray([good.magnitude]), good.units)
        else:
            data = np.asarray([good])
        return xr.DataArray(data, dims=(other,))
    raise KeyError(label)


@dataclass(frozen=True)
class _Option:
    """An option of ``solve`` dressed as an argument for ``bad_value``."""

    name: str
    kind: str = "option"
    unit: str = ""
    default: Any = None
    types: tuple = ()


def call_kwargs(case: Case) -> dict:
    """Keyword arguments of the call of ``case``."""
    name = case.resolver
    kwargs = dict(BASES[case.base][name])
    args = RESOLVERS[name].arguments()
    if case.arg in args:
        kwargs[case.arg] = bad_value(name, args[case.arg], case.label, case.base)
    else:
        kwargs[case.arg] = bad_option(name, case.arg, case.label)
    return kwargs


def bad_option(name: str, option: str, label: str) -> Any:
    if label in ("mixed", "duplicate", "clash", "nan_in_list"):
        good = OPTIONS[option] if OPTIONS[option] not in (None, ()) else 1
        if label == "mixed":
            return [good, "a"]
        if label == "duplicate":
            return [good, good]
        if label == "nan_in_list":
            return [good, math.nan]
        return xr.DataArray([good], dims=(RESOLVERS[name].ARGS[0].name,))
    return bad_value(name, _Option(option), label)


def cases_of(name: str, base: str = "examples") -> list[Case]:
    names = [a.name for a in RESOLVERS[name].ARGS] + options_of(name)
    return [Case(name, arg, label, base) for arg in names for label in BAD]


# ---- judging a call -------------------------------------------------------------------------

#: Outputs that may be negative (signed by definition; an optimizer's objective is whatever
#: output it optimises).
SIGNED = re.compile(r"^(margin|estimated_accuracy_delta|sensitivity_.*|elasticity_.*|objective)$")
#: Outputs that are fractions: in [0, 1].
FRACTIONS = re.compile(
    r"^(.*_fraction|mfu|hfu|node_mfu|node_hfu|failure_probability|wait_probability|"
    r"accelerator_utilization|paged_internal_fragmentation|static_internal_fragmentation|"
    r"queue_utilization|prompt_cache_hit_ratio|goodput_ratio|occupancy_loss|memory_stall|"
    r"bisection_bw_fraction)$"
)


#: Infinite outputs a resolver's docstring documents where the catalogue's description does not
#: (the catalogue is shared by every resolver giving that output).
DOCUMENTED_INF = {
    # ``slowdown_factor = T / T_a (inf when T_a = 0)``: mlsysim 0.3.0's value at a zero
    # accelerator step (128 parity cases)
    ("TransformationModel", "slowdown_factor"),
    # ``speedup_vs_static`` is infinite when only the paged allocator admits a request
    ("ContinuousBatchingModel", "speedup_vs_static"),
}
#: None given for an argument whose default is not None, accepted on purpose.
NONE_ACCEPTED = {
    # mlsysim 0.3.0's default topology_override=None means "auto" (fleet.py ``none_as_auto``)
    ("DistributedModel", "topology_override"),
    ("ParallelismOptimizer", "topology_override"),
}


def may_be_inf(resolver: str, name: str) -> bool:
    """The catalogue says the output may be infinite ("inf when ..."), or the resolver does."""
    return "inf when" in variable(name).description or (resolver, name) in DOCUMENTED_INF


def _full(ds, name, dims, shape) -> np.ndarray:
    """An output's values broadcast over every dimension of the result."""
    bare = ds[name].variable  # no coordinates to carry along
    return np.asarray(bare.set_dims(dict(zip(dims, shape))).transpose(*dims).values)


def judge(result, flagged: bool, resolver: str = "") -> str | None:
    """None when the result is sane, else what is wrong. ``flagged``: every point has a NaN
    input and must be flagged ``invalid_input`` (numbers NaN, categories missing, infeasible)."""
    ds = result.dataset
    if result.is_scalar:  # the scalar facade converts every output: read them all
        for name in result.outputs:
            getattr(result, name)
    dims = tuple(result.dims)
    shape = tuple(ds.sizes[d] for d in dims)
    values = {name: _full(ds, name, dims, shape) for name in result.outputs}
    if flagged:
        return _judge_flagged(values)
    feasible = values["feasible"].astype(bool) if "feasible" in values else np.ones(shape, dtype=bool)
    for name, array in values.items():
        var = variable(name)
        if var.kind not in ("float", "int"):
            continue
        numbers = array.astype(float)
        if np.isneginf(numbers).any():
            return f"{name} is -inf"
        if (np.isposinf(numbers) & feasible).any() and not may_be_inf(resolver, name):
            return f"{name} is infinite at a feasible point"
        if (numbers < 0).any() and not SIGNED.match(name):
            return f"{name} is negative ({np.nanmin(numbers):g})"
        if FRACTIONS.match(name) and (numbers > 1 + 1e-9).any():
            return f"{name} is a fraction above 1 ({np.nanmax(numbers):g})"
        if var.kind == "float" and not var.optional and np.isnan(numbers[feasible]).any():
            return f"{name} is NaN at a feasible point with no NaN input"
    if "feasible" in values and "infeasible_reason" in values:
        if ((values["infeasible_reason"] == 0) != feasible).any():
            return "feasible disagrees with infeasible_reason"
    return None


def _judge_flagged(values: dict) -> str | None:
    invalid = REASONS.index("invalid_input")
    for name, array in values.items():
        var = variable(name)
        if name == "infeasible_reason":
            if not (array == invalid).all():
                return f"{name} is not invalid_input at a NaN input"
        elif name == "feasible":
            if array.astype(bool).any():
                return "feasible at a NaN input"
        elif var.kind == "category":
            if not (array.astype(int) == -1).all():
                return f"{name} is not missing at a NaN input"
        elif var.kind in ("float", "int") and name not in ("n_searched", "n_feasible"):
            if not np.isnan(array.astype(float)).all():
                return f"{name} is not NaN at a NaN input"
    return None


def names_argument(message: str, arg: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(arg)}(?![A-Za-z0-9_])", message) is not None


#: The bad values that are in the domain of each option of ``solve`` (None: the option's default).
OPTION_DOMAIN = {
    "chunks": {"None"},
    "raise_errors": {"True"},
    "top_k": {"None", "1e9"},  # more than the candidates: every candidate, ranked
    "search_over": {"None", "empty"},  # nothing searched beyond the default dimensions
    "objective": set(),
    "regions": {"None"},
}


def in_domain(resolver: str, arg_name: str, label: str) -> bool:
    """May the value be accepted at all? (If it is, the result must be sane: ``judge``.)"""
    arg = RESOLVERS[resolver].arguments().get(arg_name)
    if arg is None:
        return label in OPTION_DOMAIN[arg_name]
    if label in OUT_OF_DOMAIN:
        return False
    if label == "True":
        return arg.kind == "bool"
    if label == "None":
        return arg.default is None or (resolver, arg_name) in NONE_ACCEPTED
    if label in ("nan", "nan_in_list"):
        return arg.kind in ("number", "integer")
    return True  # 0, -1, 1e9, 1e30 inside the declared range: the result must be sane


def _required(solver, name: str) -> bool:
    """A NaN of this argument flags the point: a numeric argument that is not optional (an
    optional one's NaN means "not given"), or one of the alternatives a resolver needs
    (``NAN_INVALID``)."""
    arg = solver.arguments().get(name)
    return (
        arg is not None
        and arg.kind in ("number", "integer")
        and (arg.default is not None or name in solver.NAN_INVALID)
    )


def classify_call(resolver: str, kwargs: dict, replaced: dict, named=None) -> tuple[str, str]:
    """(class, detail) of ``solve(**kwargs)`` where the arguments ``replaced`` hold the bad values
    of those labels (``{argument: label}``, "valid" for a valid value). An error is clean when
    its message names one of ``named`` (default: the replaced arguments)."""
    solver = RESOLVERS[resolver]()
    try:
        with _guard():
            result = solver.solve(**kwargs)
            outside = [f"{a}={label}" for a, label in replaced.items() if not in_domain(resolver, a, label)]
            if outside:
                return NONSENSE, "accepted " + ", ".join(outside)
            everywhere = any(label == "nan" and _required(solver, a) for a, label in replaced.items())
            lists = [a for a, label in replaced.items() if label == "nan_in_list"]  # 2 points: valid, NaN
            flagged_any, problem = False, None
            for index in itertools.product((0, 1), repeat=len(lists)):
                point = result.isel(**dict(zip(lists, index))) if lists else result
                flagged = everywhere or any(i == 1 and _required(solver, a) for a, i in zip(lists, index))
                flagged_any |= flagged
                problem = judge(point, flagged, resolver)
                if problem is not None:
                    break
    except _Runaway as exc:
        return RUNAWAY, str(exc)
    except MemoryError as exc:
        return RUNAWAY, f"MemoryError: {exc}"
    except (ValueError, TypeError) as exc:
        message = str(exc)
        if any(names_argument(message, a) for a in (named or replaced)):
            return CLEAN, message
        return UNCLEAN, f"{type(exc).__name__}: {message}"
    except Exception as exc:  # noqa: BLE001 (the fuzzer's point: any other exception is unclean)
        return UNCLEAN, f"{type(exc).__name__}: {exc}"
    if problem is not None:
        return NONSENSE, problem
    return (FLAGGED if flagged_any else OK), ""


def classify(case: Case) -> tuple[str, str]:
    """(class, detail) of one case."""
    return classify_call(case.resolver, call_kwargs(case), {case.arg: case.label})


# ---- the memory and time guard ---------------------------------------------------------------


class _Runaway(Exception):
    pass


#: Linux lets a process reset and read its peak resident set size; elsewhere only the
#: address-space limit (where there is one) and the timer guard the pass.
_PROC = Path("/proc/self/clear_refs").exists()


def _status(key: str) -> int:
    """A size from /proc/self/status [byte] (0 where there is none)."""
    if not _PROC:
        return 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _alarm(signum, frame):
    raise _Runaway(f"ran longer than {RUNAWAY_SECONDS:g} s")


@contextlib.contextmanager
def _guard():
    """Time one call (SIGALRM) and measure its peak resident memory (VmHWM, reset before)."""
    if _PROC:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak resident set size (VmHWM) to the current one
    before = _status("VmRSS")
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, RUNAWAY_SECONDS)
    start = time.perf_counter()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    grown = _status("VmHWM") - before
    if grown > RUNAWAY_BYTES:
        raise _Runaway(f"peak memory grew by {grown / 2**20:.0f} MiB")
    elapsed = time.perf_counter() - start
    if elapsed > RUNAWAY_SECONDS:
        raise _Runaway(f"ran {elapsed:.1f} s")


@contextlib.contextmanager
def address_space_limit():
    """Cap the address space at what is mapped now + ADDRESS_SPACE_MARGIN (restored after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if not _PROC:  # nothing to measure the mapped size by: no limit
        yield
        return
    limit = _status("VmSize") + ADDRESS_SPACE_MARGIN
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run(cases) -> dict[Case, tuple[str, str]]:
    out = {}
    with address_space_limit():
        for case in cases:
            out[case] = classify(case)
    return out


BAD_CLASSES = (UNCLEAN, NONSENSE, RUNAWAY)


def report(name: str, results: dict) -> str:
    counts = Counter(cls for cls, _ in results.values())
    line = f"{name}: " + ", ".join(f"{c} {counts.get(c, 0)}" for c in CLASSES)
    bad = [f"  {case.id}: {cls} {detail[:200]}" for case, (cls, detail) in results.items() if cls in BAD_CLASSES]
    return "\n".join([line, *bad])


# ---- the tests -------------------------------------------------------------------------------

_TOTALS: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _print_totals():
    yield
    if _TOTALS:
        print("\nfuzz totals: " + ", ".join(f"{c} {_TOTALS.get(c, 0)}" for c in CLASSES))


@pytest.mark.parametrize("name", sorted(RESOLVERS))
def test_fuzz(name):
    """Every argument and option of the resolver, each bad value, in each base call: no unclean
    error, no nonsense, no runaway."""
    lines, failed = [], False
    for base in BASES:
        results = run(cases_of(name, base))
        _TOTALS.update(cls for cls, _ in results.values())
        lines.append(report(f"{name} [{base}]", results))
        failed |= any(cls in BAD_CLASSES for cls, _ in results.values())
    text = "\n".join(lines)
    print(text)
    assert not failed, text


def test_the_classifier_tells_each_class_apart():
    """The classes on calls whose class is known by construction: a clean refusal, a flagged NaN
    point, a sane result, an accepted out-of-domain value (a judged Result whose outputs are
    doctored), an unclean error and a runaway allocation stopped by the address-space limit."""
    assert classify(Case("SingleNodeModel", "batch_size", "-1"))[0] == CLEAN
    assert classify(Case("SingleNodeModel", "batch_size", "nan"))[0] == FLAGGED
    assert classify(Case("SingleNodeModel", "batch_size", "1e9"))[0] == OK
    ok = RESOLVERS["CheckpointModel"]().solve(**EXAMPLES["CheckpointModel"])
    assert judge(ok, False, "CheckpointModel") is None
    doctored = ms.Result.from_dataset(ok.dataset.assign(mfu_penalty_fraction=4.46), "CheckpointModel")
    assert judge(doctored, False, "CheckpointModel") == "mfu_penalty_fraction is a fraction above 1 (4.46)"
    assert judge(ok, True, "CheckpointModel") == "checkpoint_size is not NaN at a NaN input"
    assert classify_call("TailLatencyModel", {}, {"arrival_rate_qps": "None"})[0] == CLEAN  # names it
    assert classify_call("TailLatencyModel", {}, {"qps": "None"})[0] == UNCLEAN  # names another one
    if not _PROC:
        return  # the memory guard needs Linux's /proc
    with address_space_limit():
        cls, detail = classify_call_raw(lambda: np.ones(2**28))  # 2 GiB: refused by RLIMIT_AS
        assert cls == RUNAWAY and "MemoryError" in detail, detail
        cls, detail = classify_call_raw(lambda: np.ones(80 * 2**20))  # 640 MiB: allowed, but measured
        assert cls == RUNAWAY and detail.startswith("peak memory grew by 6"), detail


def classify_call_raw(call) -> tuple[str, str]:
    """The guard's verdict on an arbitrary call (for the classifier's own test)."""
    try:
        with _guard():
            call()
    except _Runaway as exc:
        return RUNAWAY, str(exc)
    except MemoryError as exc:
        return RUNAWAY, f"MemoryError: {exc}"
    return OK, ""


# ---- random combinations (slow) ------------------------------------------------------------

#: The slow profile draws the same examples on every run (set False to explore new ones).
_DERANDOMIZE = True


def _valid_strategy(name: str, arg):
    """Valid values of an argument: its declared range (bounded for the search), its choices,
    the records of its type, True/False."""
    from hypothesis import strategies as st

    if arg.kind == "record":
        return st.sampled_from([r for r in RECORDS if isinstance(r, arg.types)] or [valid_value(name, arg)])
    if arg.kind == "choice":
        return st.sampled_from(arg.choices)
    if arg.kind == "bool":
        return st.booleans()
    low = 0.0 if arg.low is None else arg.low
    high = low + 1e4 if arg.high is None else arg.high
    if arg.kind == "integer":
        return st.integers(math.ceil(low + (1 if arg.low_open else 0)), math.floor(min(high, low + 4096)))
    if arg.low_open and low == 0.0:  # (0, high]: from 1e-9 up (a 5e-324-year amortization
        low = 1e-9  # overflows the CapEx per second: reported, not fuzzed)
    return st.floats(low, high, exclude_min=arg.low_open and low != 1e-9, exclude_max=arg.high_open)


@pytest.mark.slow
def test_fuzz_random_combinations():
    """Random combinations: 1-3 arguments of a random resolver and base call replaced at once,
    each by a bad value or by a random valid one; the same classes, no unclean error (a message
    naming any argument of the resolver is clean: a cross-argument check), no nonsense, no
    runaway."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=6000, deadline=None, derandomize=_DERANDOMIZE, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        name = data.draw(st.sampled_from(sorted(RESOLVERS)), label="resolver")
        base = data.draw(st.sampled_from(list(BASES)), label="base")
        args = RESOLVERS[name].arguments()
        chosen = data.draw(st.lists(st.sampled_from(sorted(args)), min_size=1, max_size=3, unique=True))
        kwargs, replaced = dict(BASES[base][name]), {}
        for arg in chosen:
            label = data.draw(st.sampled_from(("valid",) + BAD), label=arg)
            if label == "valid":
                kwargs[arg] = data.draw(_valid_strategy(name, args[arg]), label=f"{arg} value")
            else:
                kwargs[arg] = bad_value(name, args[arg], label, base)
            replaced[arg] = label
        with address_space_limit():
            cls, detail = classify_call(name, kwargs, replaced, named=[*args, *options_of(name)])
        assert cls not in BAD_CLASSES, f"{name} [{base}] {replaced}: {cls} {detail}"

    check()
