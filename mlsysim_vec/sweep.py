"""Declarative sweeps: a TOML or YAML file (or a dict) that names a resolver and its grid.

A spec becomes the keyword arguments of ONE ``solve`` call; there is no physics here::

    resolver = "SingleNodeModel"          # any resolver class in mlsysim_vec.solvers
    output = "roofline.parquet"           # optional; the CLI's -o overrides it

    [sweep]                               # each key is a grid dimension, in this order
    model = ["Models.ResNet50", "Models.Language"]   # records and families, mixed
    hardware = "Hardware.GPUs"            # a whole family ("Hardware": every device)
    batch_size = {start = 1, stop = 1024, num = 11, scale = "log", integer = true}
    efficiency = {range = [0.3, 0.7, 0.1]}            # start, start + step, ... <= stop
                                          # (a range gives at most MAX_RANGE_VALUES values)
    precision = ["fp16", "fp8"]

    [fixed]                               # single values (a registry record is allowed)
    is_training = false

    [chunks]                              # optional: dask chunk size per dimension
    batch_size = 4

    [objective]                           # optional: makes it an optimize spec (mlsysim_vec.optimize)
    name = "latency"                      # the output (or input) to optimise
    goal = "minimize"                     # or "maximize"
    constraints = ["feasible", "latency < 50 ms"]    # optional
    over = ["hardware", "precision"]      # optional: swept dimensions to search (default: all)
    top_k = 3                             # optional: also keep the 3 best candidates

Registry references are dotted names: ``"Models"`` (a whole registry), ``"Hardware.GPUs"``
or ``"Hardware.Cloud"`` (a family), ``"Hardware.Cloud.H100"`` or ``"Models.ResNet50"`` (one
record); each part must be a family or a record key (``docs/registry.md``). A string is read as
a reference when it starts with a registry name, or when the argument takes records.

Every mistake a user can make in a spec raises ``SpecError`` (a ``ValueError``) that names the
key, the value and what is allowed: the spec is checked completely by ``load_spec`` (the
resolver's own argument validation included), before anything is computed.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
import numbers
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import registry
from .grid import record_example
from .optimize import parse_constraint, search
from .result import Result
from .units import ureg
from .variables import variable

__all__ = [
    "MAX_RANGE_VALUES",
    "Spec",
    "SpecError",
    "load_spec",
    "run_spec",
    "search_spec",
    "describe_search",
    "summarize",
    "grid_points",
    "point_counts",
    "resolvers",
    "format_table",
    "format_value",
]

_TOP_KEYS = ("resolver", "sweep", "fixed", "chunks", "output")
_REGISTRIES = ("Hardware", "Models", "Systems", "Infra", "Infrastructure")
_RANGE_KEYS = ("start", "stop", "num", "scale", "integer")
_OBJECTIVE_KEYS = ("name", "goal", "constraints", "over", "top_k")
_GOALS = ("maximize", "minimize")
_FORMS = (
    "a list, a range table ({start, stop, num[, scale, integer]} or {range = [start, stop, step]}) "
    "or a registry reference such as 'Hardware.GPUs'"
)
#: The most values one range table may give: a longer dimension is refused before anything is
#: allocated (every output of a 10^6-point grid takes 8 MB; the product with the other dimensions
#: multiplies that). A longer axis can still be passed from Python as an array.
MAX_RANGE_VALUES = 1_000_000
_INT64 = 2**63 - 1


class SpecError(ValueError):
    """A spec that cannot run; the message names the key, the value and what is allowed."""


@dataclass(frozen=True)
class Spec:
    """A parsed, validated spec: ``resolver().solve(chunks=chunks, **arguments)`` runs it.

    Attributes
    ----------
    resolver : type
        The resolver class.
    sweep : dict
        Swept arguments (lists, arrays or registry families), in dimension order.
    fixed : dict
        Single-valued arguments.
    chunks : dict or None
        Dask chunk sizes per dimension.
    output : str or None
        Parquet path named by the spec.
    objective : dict or None
        The ``[objective]`` table of an optimize spec as keyword arguments of
        ``optimize.search`` (objective, minimize, constraints, over, top_k).
    """

    resolver: type
    sweep: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)
    chunks: dict | None = None
    output: str | None = None
    objective: dict | None = None

    @property
    def arguments(self) -> dict:
        """Keyword arguments of the ``solve`` call (swept first: they fix the dimension order)."""
        return {**self.sweep, **self.fixed}


def resolvers() -> dict[str, type]:
    """The resolver classes a spec may name: every ``Resolver`` exported by ``mlsysim_vec.solvers``."""
    from . import solvers
    from .solvers.base import Resolver

    return {
        name: obj
        for name in solvers.__all__
        if isinstance(obj := getattr(solvers, name), type) and issubclass(obj, Resolver)
    }


# ---- reading ---------------------------------------------------------------------------------


def load_spec(source) -> Spec:
    """Read and validate a spec.

    ``source`` is a path (``str`` or ``os.PathLike``; ``.toml``, ``.yaml`` or ``.yml``), a
    ``importlib.resources`` file, or a mapping of the same schema (whose values may also be
    records, families and arrays). Raises ``SpecError`` on any mistake, prefixed with the
    file's name for files.
    """
    if isinstance(source, Mapping):
        return _parse(source)
    path = Path(source) if isinstance(source, (str, os.PathLike)) else source
    try:
        return _parse(_read(path))
    except SpecError as error:
        raise SpecError(f"{path}: {error}") from None


def _read(path) -> dict:
    suffix = Path(path.name).suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise SpecError(f"unknown spec format {suffix or '(no suffix)'!r}; allowed: .toml, .yaml, .yml")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte-order mark (Windows editors) is skipped
    except FileNotFoundError:
        raise SpecError("no such file") from None
    except OSError as error:
        raise SpecError(f"cannot read the file ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise SpecError(
            f"the file is not UTF-8 text (byte 0x{error.object[error.start]:02x} on line {line}); save it as UTF-8"
        ) from None
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise SpecError(f"invalid TOML: {error}") from None
    else:
        data = _load_yaml(text)
    if not isinstance(data, dict):
        raise SpecError(f"a spec is a table of keys ({', '.join(_TOP_KEYS)}), not a {type(data).__name__}")
    return data


def _load_yaml(text: str):
    try:
        import yaml
    except ImportError:
        raise SpecError("reading a YAML spec needs PyYAML (pip install pyyaml), or write the spec in TOML") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SpecError(f"invalid YAML: {error}") from None


# ---- parsing ---------------------------------------------------------------------------------


def _parse(raw: Mapping) -> Spec:
    unknown = [k for k in raw if k not in (*_TOP_KEYS, "objective")]
    if unknown:
        raise SpecError(f"unknown key {unknown[0]!r}; allowed: {', '.join(_TOP_KEYS)}, objective")
    cls = _resolver(raw.get("resolver"))
    args = cls.arguments()
    alias_of = {alias: arg.name for arg in args.values() for alias in arg.keyword_aliases}

    def table(section):
        """A section's {key: value}; keys are argument names or their aliases (the grid
        canonicalises them)."""
        value = raw.get(section) or {}
        if not isinstance(value, Mapping):
            raise SpecError(f"{section} = {value!r} must be a table of argument names")
        for key in value:
            if alias_of.get(key, key) not in args:
                raise SpecError(
                    f"{section}.{key}: {cls.__name__} has no argument {key!r}"
                    f"{_did_you_mean(key, args)}; arguments: {', '.join(args)}"
                )
        return dict(value)

    swept, fixed = table("sweep"), table("fixed")
    both = swept.keys() & fixed.keys()
    if both:
        raise SpecError(f"{sorted(both)[0]!r} is in both sweep and fixed; give it once")
    spec = Spec(
        resolver=cls,
        sweep={key: _swept(f"sweep.{key}", args[alias_of.get(key, key)], v) for key, v in swept.items()},
        fixed={key: _fixed(f"fixed.{key}", args[alias_of.get(key, key)], v) for key, v in fixed.items()},
        chunks=_chunks(raw.get("chunks")),
        output=_output(raw.get("output")),
    )
    try:
        grid = cls().grid(chunks=spec.chunks, **spec.arguments)
    except (TypeError, ValueError) as error:
        raise SpecError(str(error)) from None
    if "objective" in raw:
        spec = replace(spec, objective=_objective(raw["objective"], grid.dims))
    return spec


def _objective(table, dims) -> dict:
    """The ``[objective]`` table as ``optimize.search`` keyword arguments. Checked here: the
    keys, the goal, the constraints' syntax, ``over`` against the grid's dimensions and
    ``top_k``; the names of outputs are checked against the result by ``search``."""

    if not isinstance(table, Mapping):
        raise SpecError(
            f"objective = {table!r} must be a table with name, goal and optionally constraints, over and top_k"
        )
    unknown = [k for k in table if k not in _OBJECTIVE_KEYS]
    if unknown:
        raise SpecError(
            f"objective: unknown key {unknown[0]!r}{_did_you_mean(unknown[0], _OBJECTIVE_KEYS)}; "
            f"allowed: {', '.join(_OBJECTIVE_KEYS)}"
        )
    name, goal = table.get("name"), table.get("goal")
    if not isinstance(name, str) or not name:
        raise SpecError(f'objective.name = {name!r} must name the output (or input) to optimise, e.g. "mfu"')
    if goal not in _GOALS:
        raise SpecError(f"objective.goal = {goal!r}; allowed: {', '.join(repr(g) for g in _GOALS)}")
    constraints = table.get("constraints", [])
    if not isinstance(constraints, (list, tuple)):
        raise SpecError(f"objective.constraints = {constraints!r} must be a list of strings")
    for i, text in enumerate(constraints):
        try:
            parse_constraint(text)
        except ValueError as error:
            raise SpecError(f"objective.constraints[{i}]: {error}") from None
    over = table.get("over")
    if over is not None:
        over = [over] if isinstance(over, str) else over
        if not isinstance(over, (list, tuple)) or not over:
            raise SpecError(f"objective.over = {table['over']!r} must be a list of swept dimensions: {', '.join(dims)}")
        for dim in over:
            if dim not in dims:
                raise SpecError(
                    f"objective.over: {dim!r} is not a swept dimension{_did_you_mean(str(dim), dims)}; "
                    f"swept dimensions: {', '.join(dims) or '(none)'}"
                )
    top_k = table.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise SpecError(f"objective.top_k = {top_k!r} must be a whole number >= 1")
    return {
        "objective": name,
        "minimize": goal == "minimize",
        "constraints": tuple(constraints),
        "over": None if over is None else tuple(over),
        "top_k": top_k,
    }


def _resolver(name) -> type:
    known = resolvers()
    if isinstance(name, type) and name in known.values():
        return name
    if name is None:
        raise SpecError(f"the spec names no resolver; add resolver = one of {', '.join(known)}")
    if not isinstance(name, str) or name not in known:
        raise SpecError(
            f"resolver = {name!r} is not a resolver{_did_you_mean(str(name), known)}; allowed: {', '.join(known)}"
        )
    return known[name]


def _swept(where: str, arg, value):
    """A swept value: a list (references resolved, families flattened), a range or a family."""
    if isinstance(value, Mapping):
        return _range(where, value)
    if isinstance(value, str) and (arg.kind == "record" or value.split(".")[0] in _REGISTRIES):
        ref = _reference(where, arg, value)
        return ref if isinstance(ref, registry.Family) else [ref]
    if isinstance(value, registry.Family):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) == 0:
            raise SpecError(f"{where} = []: an empty list gives an empty dimension; give at least one value")
        items = []
        for item in value:
            resolved = _resolve(where, arg, item)
            items.extend(resolved if isinstance(resolved, registry.Family) else [resolved])
        return items
    raise SpecError(f"{where} = {value!r}: a swept value must be {_FORMS}; put single values in [fixed]")


def _fixed(where: str, arg, value):
    """A single value; a reference must name one record, not a family."""
    if isinstance(value, (list, tuple, Mapping, registry.Family)):
        raise SpecError(
            f"{where} = {value!r}: a fixed argument takes one value; move lists, ranges and families to [sweep]"
        )
    resolved = _resolve(where, arg, value)
    if isinstance(resolved, registry.Family):
        raise SpecError(
            f"{where} = {value!r} is a family of {len(resolved)} records; a fixed argument takes "
            f"one record (e.g. {value}.{resolved.keys()[0]}), or move it to [sweep]"
        )
    return resolved


def _resolve(where: str, arg, value):
    """A registry reference string becomes its record or family; other values pass through."""
    if isinstance(value, str) and (arg.kind == "record" or value.split(".")[0] in _REGISTRIES):
        return _reference(where, arg, value)
    return value


def _reference(where: str, arg, ref: str):
    """Resolve ``"Registry[.Family][.key]"`` to a registry, family or record."""
    parts = ref.split(".")
    if parts[0] not in _REGISTRIES:
        example = _example(arg)
        raise SpecError(
            f"{where} = {ref!r} is not a registry reference; {arg.name} takes "
            f"{arg.allowed()}" + (f" named like {example!r}" if example else "") + f" (registries: "
            f"{', '.join(_REGISTRIES[:4])})"
        )
    obj = getattr(registry, parts[0])
    for depth, part in enumerate(parts[1:], start=1):
        parent = ".".join(parts[:depth])
        if not isinstance(obj, registry.Family):
            raise SpecError(f"{where} = {ref!r}: {parent} is a record; a reference ends at a record")
        if isinstance(obj, registry.Registry):
            families = [*obj.families(), *obj.groups()]
            what = f"families: {', '.join(families)} (or a record key of one of them)"
            allowed = [*families, *obj.keys()]
            reachable = {*allowed, *dir(obj)}  # also the reference's aliases (Hardware.Embodied)
        else:
            allowed = reachable = obj.keys()
            what = f"available: {', '.join(allowed)}"
        if part not in reachable or part in ("list", "keys"):  # no methods, no dunder attributes
            raise SpecError(f"{where} = {ref!r}: {parent} has no {part!r}{_did_you_mean(part, allowed)}; {what}")
        obj = getattr(obj, part)
    return obj


def _example(arg) -> str | None:
    """A reference to a built-in record that the record argument ``arg`` takes, for messages
    (``'Models.Language.Llama3_8B'`` for a model, ``'Hardware.Cloud.H100'`` for hardware)."""
    types = getattr(arg, "types", None) or ()
    if not isinstance(types, tuple) or not all(isinstance(t, type) for t in types) or not types:
        return None
    return record_example(types, prefix="")


def _range(where: str, table: Mapping) -> np.ndarray:
    """``{range = [start, stop, step]}`` (stop included when it falls on a step) or
    ``{start, stop, num, scale = "linear"|"log", integer = false}`` (numpy linspace/geomspace;
    ``integer`` rounds and drops repeats). Bounds must be finite, whole-number bounds within
    64 bits, and a range gives at most ``MAX_RANGE_VALUES`` values (checked before allocating)."""
    if "range" in table:
        extra = [k for k in table if k != "range"]
        bounds = table["range"]
        if extra:
            raise SpecError(f"{where}: a {{range = [start, stop, step]}} table takes no other key; got {extra[0]!r}")
        if not isinstance(bounds, (list, tuple)) or len(bounds) not in (2, 3) or not all(_is_number(b) for b in bounds):
            raise SpecError(f"{where}.range = {bounds!r}: expected [start, stop] or [start, stop, step] (numbers)")
        for key, bound in zip(("start", "stop", "step"), bounds):
            _check_bound(f"{where}.range", list(bounds), key, bound)
        start, stop, step = (*bounds, 1)[:3]
        if step == 0 or (stop - start) / step < 0:
            raise SpecError(
                f"{where}.range = {list(bounds)!r} is empty: step must be non-zero and go from start towards stop"
            )
        span = (stop - start) / step
        if not math.isfinite(span) or span + 1 > MAX_RANGE_VALUES:
            raise SpecError(
                f"{where}.range = {list(bounds)!r} gives {_how_many(span + 1)} values; a range gives at most "
                f"{MAX_RANGE_VALUES:,} (use a larger step, or a log-scaled {{start, stop, num}} table)"
            )
        count = math.floor(span + 1e-9) + 1
        if all(isinstance(b, int) for b in bounds):
            if max(abs(start), abs(start + step * (count - 1))) > _INT64:
                raise SpecError(f"{where}.range = {list(bounds)!r} goes beyond the 64-bit integer range")
            return np.int64(start) + np.int64(step) * np.arange(count, dtype=np.int64)
        return float(start) + float(step) * np.arange(count)
    unknown = [k for k in table if k not in _RANGE_KEYS]
    missing = [k for k in ("start", "stop", "num") if k not in table]
    if unknown or missing:
        problem = f"unknown key {unknown[0]!r}" if unknown else f"missing {', '.join(missing)}"
        raise SpecError(
            f"{where} = {dict(table)!r}: {problem}; a range table has start, stop, num and "
            f"optionally scale ('linear' or 'log') and integer (true/false), or is "
            f"{{range = [start, stop, step]}}"
        )
    start, stop, num = table["start"], table["stop"], table["num"]
    scale, integer = table.get("scale", "linear"), table.get("integer", False)
    for key in ("start", "stop"):
        if not _is_number(table[key]):
            raise SpecError(f"{where}.{key} = {table[key]!r} must be a number")
        _check_bound(where, None, key, table[key])
    if not isinstance(num, int) or isinstance(num, bool) or num < 1:
        raise SpecError(f"{where}.num = {num!r} must be a whole number >= 1")
    if num > MAX_RANGE_VALUES:
        raise SpecError(f"{where}.num = {num!r}: a range gives at most {MAX_RANGE_VALUES:,} values")
    if scale not in ("linear", "log"):
        raise SpecError(f"{where}.scale = {scale!r}; allowed: 'linear', 'log'")
    if not isinstance(integer, bool):
        raise SpecError(f"{where}.integer = {integer!r}; allowed: true, false")
    if scale == "log":
        if start <= 0 or stop <= 0:
            raise SpecError(f"{where}: scale = 'log' needs start > 0 and stop > 0; got start={start!r}, stop={stop!r}")
        values = np.geomspace(float(start), float(stop), num)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            values = np.linspace(float(start), float(stop), num)
    if not np.all(np.isfinite(values)):  # e.g. start = -1e308, stop = 1e308: the step overflows
        raise SpecError(f"{where} = {dict(table)!r} gives values beyond the float range; use smaller bounds")
    if integer and np.max(np.abs(values)) >= 2.0**63:
        raise SpecError(f"{where} = {dict(table)!r}: integer = true, but the values go beyond the 64-bit integer range")
    if integer:
        values = np.round(values).astype(np.int64)
        _, first = np.unique(values, return_index=True)
        values = values[np.sort(first)]
    return values


def _check_bound(where: str, shown, key: str, value) -> None:
    """A range bound must be a finite number (TOML and YAML allow nan and inf)."""
    try:
        finite = math.isfinite(value)
    except OverflowError:  # a YAML integer beyond the float range
        finite = False
    if not finite:
        what = f"{where} = {shown!r}: {key}" if shown is not None else f"{where}.{key}"
        raise SpecError(f"{what} = {value!r} must be a finite number")


def _how_many(count: float) -> str:
    if not math.isfinite(count):
        return "more than 1e308"
    return f"{count:,.0f}" if count < 1e15 else f"{count:.3g}"


def _chunks(value):
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SpecError(f"chunks = {value!r} must be a table of dimension = chunk size")
    for dim, size in value.items():
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise SpecError(f"chunks.{dim} = {size!r} must be a whole number >= 1")
    if importlib.util.find_spec("dask") is None:
        raise SpecError("chunks needs dask: pip install 'mlsysim-vec[dask]', or remove the chunks table")
    return dict(value)


def _output(value):
    if value is None or isinstance(value, (str, os.PathLike)):
        return None if value is None else os.fspath(value)
    raise SpecError(f"output = {value!r} must be a file path (a string)")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _did_you_mean(word: str, allowed) -> str:
    close = difflib.get_close_matches(word, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---- running and summarising ------------------------------------------------------------------


def run_spec(spec) -> Result:
    """Evaluate a spec (a ``Spec``, or anything ``load_spec`` reads) in one ``solve`` call."""
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    return spec.resolver().solve(chunks=spec.chunks, **spec.arguments)


def grid_points(result: Result) -> int:
    """Number of points of a result's grid (1 for a scalar result)."""
    return math.prod(result.dataset.sizes[d] for d in result.dims)


def point_counts(result: Result, name: str) -> dict:
    """Grid points per value of a categorical (``{"Memory": n, ...}``) or boolean
    (``{False: n, True: m}``) output, over the whole grid, also when the output is stored
    without some dimensions (each of its values then stands for several points). Points where
    a categorical output is missing (a negative code: a point with an invalid input) are
    counted under ``None`` when there are any."""
    values = np.asarray(result.dataset[name].values).ravel().astype(np.int64)
    var = variable(name)
    labels = var.categories if var.kind == "category" else (False, True)
    repeat = grid_points(result) // values.size
    missing = values < 0
    per = np.bincount(values[~missing], minlength=len(labels)) * repeat
    counts = dict(zip(labels, per.tolist()))
    if missing.any():
        counts[None] = int(missing.sum()) * repeat
    return counts


def summarize(result: Result) -> str:
    """A readable summary of any resolver's result.

    The grid (size, each dimension with a preview of its coordinates, fixed arguments); the
    number of feasible points when there is a ``feasible`` output; for each categorical or
    boolean output the number of grid points per value; for each numeric output its minimum,
    median and maximum in the output's display unit, and how many points are NaN. Counts are
    over the whole grid, also for outputs stored without some dimensions. A dask-backed result
    is computed one output at a time.
    """
    ds = result.dataset
    points = grid_points(result)
    shape = " × ".join(f"{d} ({ds.sizes[d]:,})" for d in result.dims)
    lines = [
        f"{ds.attrs.get('resolver', 'result')}: {points:,} point{'s' * (points != 1)}"
        + (f" over {shape}" if shape else "")
    ]
    lines += [f"  {d}: {_preview(ds[d].values)}" for d in result.dims]
    fixed = {name: ds[name].item() for name in ds.coords if ds[name].ndim == 0}
    if fixed:
        lines.append("fixed (and defaults): " + ", ".join(f"{k}={format_value(v)}" for k, v in fixed.items()))

    counts, numeric = [], []
    for name, da in ds.data_vars.items():
        if variable(name).kind == "category":
            shares = sorted(((n, c) for c, n in point_counts(result, name).items() if n), key=lambda s: -s[0])
            counts.append(
                f"{name}: "
                + ", ".join(f"{'(missing)' if c is None else c} {n:,} ({n / points:.1%})" for n, c in shares)
            )
        elif da.dtype == bool:
            true = point_counts(result, name)[True]
            line = f"{name}: {true:,} of {points:,} points ({true / points:.1%})"
            (lines if name == "feasible" else counts).append(line)
        elif da.dtype.kind in "fiu":
            values = np.asarray(da.values)
            numeric.append(_numeric_row(name, da.attrs.get("units", ""), values, points // values.size))
    if counts:
        lines += ["", "categorical and boolean outputs (grid points):"] + [f"  {c}" for c in counts]
    if numeric:
        import pandas as pd

        frame = pd.DataFrame(numeric, columns=["output", "unit", "min", "median", "max", "NaN points"])
        lines += ["", "numeric outputs:", format_table(frame)]
    return "\n".join(lines)


def _numeric_row(name: str, unit: str, values: np.ndarray, repeat: int) -> list:
    """[name, display unit, min, median, max, NaN points] of one numeric output."""
    from .units import Q_

    unit = "" if unit == "1" else unit
    display = variable(name).display or unit
    factor = Q_(1.0, unit).to(display).magnitude if unit and display != unit else 1.0
    values = values.astype(float).ravel() * factor
    nan = int(np.isnan(values).sum()) * repeat
    if nan == values.size * repeat:
        stats = [np.nan] * 3
    else:
        stats = [np.nanmin(values), np.nanmedian(values), np.nanmax(values)]
    return [name, display, *stats, nan or np.nan]


def _preview(values, shown: int = 4) -> str:
    items = [format_value(v) or repr(v) for v in values]  # NaN reads "nan", not a blank
    if len(items) > shown:
        items = items[: shown - 1] + ["…", items[-1]]
    return ", ".join(items)


def format_value(value) -> str:
    """A cell as text: NaN and None blank, whole numbers below a million without decimals,
    other numbers to 4 significant digits."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_, str)):
        return str(value)
    if isinstance(value, numbers.Real):
        if math.isnan(value):
            return ""
        whole = math.isfinite(value) and value == round(value) and abs(value) < 1e6
        return f"{value:.0f}" if whole else f"{value:.4g}"
    return str(value)


def format_table(frame) -> str:
    """A DataFrame as plain text: numeric columns right-aligned, text columns left-aligned."""
    import pandas as pd

    columns = []
    for name in frame.columns:
        cells = [format_value(v) for v in frame[name]]
        width = max([len(str(name))] + [len(c) for c in cells])
        align = str.rjust if pd.api.types.is_numeric_dtype(frame[name]) else str.ljust
        columns.append([align(str(name), width)] + [align(c, width) for c in cells])
    return "\n".join("  ".join(row).rstrip() for row in zip(*columns))


# ---- optimize specs -----------------------------------------------------------------------------------------


def search_spec(spec, result: Result | None = None) -> Result:
    """Evaluate an optimize spec (a ``sweep.Spec`` with an ``[objective]`` table, or anything
    ``load_spec`` reads): one ``solve`` call over the spec's grid (skipped when ``result``, the
    spec's solved grid, is given), then ``optimize.search``.

    A spec without an objective, or an objective or constraint that names no output or input
    of the result, raises ``SpecError``.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    if spec.objective is None:
        raise SpecError(
            'the spec has no [objective] table; add one with name = "<output>", '
            'goal = "maximize" or "minimize" and optionally constraints, over and top_k'
        )
    if result is None:
        result = run_spec(spec)
    try:
        return search(result, **spec.objective)
    except ValueError as error:
        raise SpecError(f"objective: {error}") from None


def describe_search(found: Result, rows: int = 40) -> str:
    """A readable summary of an ``optimize.search`` result: what was searched, how many candidates were
    feasible, and the best configuration (labels and objective in its display unit) per point
    of the remaining dimensions, at most ``rows`` rows."""
    ds = found.dataset
    attrs = ds.attrs
    over = list(attrs.get("over", []))
    keep = [d for d in attrs.get("dims", ds.dims) if d != "rank"]
    points = math.prod(ds.sizes[d] for d in keep)
    searched = int(ds["n_searched"])
    feasible = np.broadcast_to(np.asarray(ds["feasible"].values), ds["feasible"].shape)
    if "rank" in ds.dims:
        feasible = feasible[..., 0]
    constraints = attrs.get("constraints") or []
    lines = [
        f"{attrs.get('resolver') or 'result'}: {attrs.get('goal', '')} {attrs.get('objective', '')} over "
        f"{' × '.join(over)} ({searched:,} candidate{'s' * (searched != 1)} per point)"
        + (f" subject to {', '.join(constraints)}" if constraints else ""),
        f"{points:,} point{'s' * (points != 1)}"
        + (f" ({' × '.join(keep)})" if keep else "")
        + f"; a feasible candidate at {int(np.sum(feasible)):,} of {points:,}; "
        f"{int(ds['n_feasible'].sum()):,} of {points * searched:,} candidates satisfy the constraints",
    ]
    name = attrs.get("objective", "")
    frame = found.to_dataframe()
    unit = ds["objective"].attrs.get("units", "1")
    display = (variable(name).display or unit) if unit != "1" else ""
    factor = ureg.Quantity(1.0, unit).to(display).magnitude if display and display != unit else 1.0
    column = f"{name} [{display}]" if display else name
    frame[column] = frame["objective"] * factor
    shown = [*keep, *(["rank"] if "rank" in ds.dims else []), *[f"best_{d}" for d in over], column, "n_feasible"]
    table = frame[[c for c in shown if c in frame.columns]]
    lines += ["", "best configuration per point (blank: nothing feasible):", format_table(table.head(rows))]
    if len(table) > rows:
        lines.append(f"... {len(table) - rows:,} more rows")
    return "\n".join(lines)
