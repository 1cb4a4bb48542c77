"""From keyword arguments to aligned, dequantified arrays: the grid of one ``solve`` call.

Rules (DESIGN §2):

* **Dimension = keyword.** A list, tuple, 1-D ndarray, 1-D Quantity, registry family or list of
  records given for ``batch_size`` becomes the dimension ``batch_size``; a list of records
  becomes a dimension whose coordinates are the records' names (unique).
* A ``DataArray`` keeps its own dimensions, so two arguments can be zipped along one
  dimension (``tp_size`` and ``pp_size`` along ``config``). Shared dimensions must have equal
  coordinates.
* Scalars (numbers, 0-d Quantities, strings, records) add no dimension.
* **SI at the boundary.** An argument's declared unit (``Arg.unit``) only says how a plain
  number is read (``sla_latency_ms=50`` is 50 ms); a Quantity is converted from its own unit.
  Every argument is validated over all of its values in the declared unit *before* any
  computation (a bad value raises ``ValueError``/``TypeError`` naming the argument, the value
  and what is allowed), then handed to the kernels in the canonical SI unit of its dimension
  (seconds, bytes, FLOP, byte/s, USD/J...; ``units.si_factor``). Coordinates and echoed scalars
  keep the declared unit, which is what the user wrote.

The grid never materialises the full product: each argument becomes an array with one axis
per grid dimension, of length 1 on the dimensions it does not vary along, and the kernels
broadcast. With ``chunks`` the arrays become dask arrays chunked along the grid dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .units import Q_, is_quantity, si_factor, to_magnitude

__all__ = ["Arg", "Grid", "build_grid", "REQUIRED"]


class _Required:
    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()


@dataclass(frozen=True)
class Arg:
    """One argument of a resolver.

    kind: 'number' (float), 'integer' (whole numbers as floats), 'bool', 'choice' (a string
    from ``choices``, case-insensitive; kernels get its index) or 'record' (an instance of
    ``types``; kernels get record fields through ``Grid.field``).
    unit: unit of plain numbers and of the kernel's values ('' = dimensionless).
    low/high: allowed closed range; ``low_open`` / ``high_open`` make an end open.
    aliases: other spellings of a choice (``{"bfloat16": "bf16"}``); keyword_aliases: other
    keyword names for the argument (the reference's and the user guides' names, D21).
    doc: what the argument means for this resolver, when that is more specific than the
    catalogue's description of the name (``variables``).
    """

    name: str
    kind: str = "number"
    default: Any = REQUIRED
    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    types: tuple[type, ...] = ()
    type_hint: str = ""
    aliases: dict[str, str] = field(default_factory=dict)
    keyword_aliases: tuple[str, ...] = ()
    doc: str = ""

    def allowed(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "record":
            return "a " + (self.type_hint or " or ".join(t.__name__ for t in self.types))
        if self.kind == "bool":
            return "True or False"
        lo = "" if self.low is None else f"{'>' if self.low_open else '>='} {self.low:g}"
        hi = "" if self.high is None else f"{'<' if self.high_open else '<='} {self.high:g}"
        what = "a whole number" if self.kind == "integer" else "a number"
        bounds = " and ".join(b for b in (lo, hi) if b)
        unit = f" [{self.unit}]" if self.unit else ""
        return f"{what}{unit}" + (f" {bounds}" if bounds else "")


def _is_dataarray(value) -> bool:
    return type(value).__name__ == "DataArray" and hasattr(value, "dims")


def _is_sequence(value) -> bool:
    """A value that spans a new dimension (list, tuple, 1-D array, family of records)."""
    if isinstance(value, (str, bytes)) or _is_dataarray(value):
        return False
    if is_quantity(value):
        return np.ndim(value.magnitude) > 0
    if isinstance(value, np.ndarray):
        return value.ndim > 0
    if isinstance(value, (list, tuple)):
        return True
    from .registry import Family

    return isinstance(value, Family)


@dataclass
class _Input:
    arg: Arg
    dims: tuple[str, ...]
    values: np.ndarray  # kernel values: numbers in SI, bools, choice codes or record objects
    shown: Any  # numbers in the declared unit when that differs from SI (labels, echoes); else None
    coords: dict[str, Any] = field(default_factory=dict)  # coordinates of dims it introduces (declared unit)

    @property
    def labels(self):
        """The values as the user gave them: numbers in the argument's declared unit."""
        return self.values if self.shown is None else self.shown


def _to_si(arg: Arg, values):
    """``values`` (validated, in the declared unit) and their SI form, or None when equal."""
    if arg.kind not in ("number", "integer") or not arg.unit:
        return values, None
    factor = si_factor(arg.unit)[0]
    if factor == 1.0:
        return values, None
    divisor = 1.0 / factor
    if factor < 1.0 and abs(divisor - round(divisor)) <= 1e-9 * divisor:  # 1/day, ms...: divide by the exact integer,
        return values / round(divisor), values  # one rounding instead of two (10/day · 0.1 day == 1)
    return values * factor, values


def _fail(arg: Arg, value, extra: str = ""):
    shown = value.tolist() if isinstance(value, np.ndarray) else value
    if isinstance(shown, float) and shown.is_integer():
        shown = int(shown)
    raise ValueError(f"{arg.name}={shown!r} is not allowed{extra}; {arg.name} must be {arg.allowed()}")


def _convert(arg: Arg, raw) -> np.ndarray:
    """Values of one argument as an ndarray of the kernel's type, validated."""
    kind = arg.kind
    if kind == "record":
        values = raw if isinstance(raw, np.ndarray) else _object_array([raw]).reshape(())
        for item in values.reshape(-1):
            if not isinstance(item, arg.types):
                hint = arg.type_hint or " or ".join(t.__name__ for t in arg.types)
                raise TypeError(f"{arg.name}={item!r} is a {type(item).__name__}; {arg.name} must be a {hint}")
        return values
    if kind == "choice":
        values = np.asarray(raw, dtype=object)
        codes = np.empty(values.shape, dtype=np.int64)
        for i, item in enumerate(values.reshape(-1)):
            key = str(item).lower() if isinstance(item, str) else None
            key = arg.aliases.get(key, key)
            if key not in arg.choices:
                _fail(arg, item)
            codes.reshape(-1)[i] = arg.choices.index(key)
        return codes
    if kind == "bool":
        values = np.asarray(raw)
        if values.dtype != bool:
            if values.dtype == object or not np.all(np.isin(values, (0, 1))):
                _fail(arg, raw)
            values = values.astype(bool)
        return values
    # number / integer
    if is_quantity(raw):
        raw = to_magnitude(raw, arg.unit, arg.name)
    try:
        values = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{arg.name}={raw!r} is not numeric; {arg.name} must be {arg.allowed()}") from None
    if values.dtype == object:
        raise TypeError(f"{arg.name}={raw!r} is not numeric; {arg.name} must be {arg.allowed()}")
    checked = values[~np.isnan(values)] if values.ndim else values[None][~np.isnan(values[None])]
    bad = np.zeros(checked.shape, dtype=bool)
    if arg.low is not None:
        bad |= (checked <= arg.low) if arg.low_open else (checked < arg.low)
    if arg.high is not None:
        bad |= (checked >= arg.high) if arg.high_open else (checked > arg.high)
    if kind == "integer":
        bad |= np.isinf(checked) | (checked != np.round(checked))
    if bad.any():
        extra = "" if np.ndim(raw) == 0 else f" ({int(bad.sum())} of {values.size} values rejected)"
        _fail(arg, checked[bad][0].item(), extra)
    return values


def _coord_of(arg: Arg, values: np.ndarray) -> np.ndarray:
    """Coordinate labels of a dimension an argument introduces."""
    if arg.kind == "record":
        names = [r.name for r in values]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"{arg.name}: record names must be unique along a dimension; repeated: {dup}")
        return np.array(names, dtype=object)
    if arg.kind == "choice":
        return np.array([arg.choices[c] for c in values], dtype=object)
    if arg.kind == "integer" and np.isfinite(values).all():
        return values.astype(np.int64)
    return values


def _normalise(arg: Arg, value) -> _Input:
    if _is_dataarray(value):
        data = value.data
        coords = {
            d: np.asarray(value[d].values) if d in value.coords else np.arange(n)
            for d, n in zip(value.dims, value.shape)
        }
        if is_quantity(data):
            data = to_magnitude(data, arg.unit, arg.name)
        elif arg.kind in ("number", "integer") and value.attrs.get("units") not in (None, "", arg.unit):
            data = to_magnitude(Q_(np.asarray(data), value.attrs["units"]), arg.unit, arg.name)
        if type(data).__module__.startswith("dask") and arg.kind in ("number", "integer"):
            _validate_lazy(arg, data)  # stays lazy: chunked inputs give chunked outputs
            return _Input(arg, tuple(value.dims), *_to_si(arg, data), coords=coords)
        return _Input(arg, tuple(value.dims), *_to_si(arg, _convert(arg, np.asarray(data))), coords=coords)
    if _is_sequence(value):
        if is_quantity(value) or (isinstance(value, np.ndarray) and value.dtype != object):
            raw = value
            if np.size(raw) == 0:
                raise ValueError(f"{arg.name}: an empty sequence gives an empty dimension; pass at least one value")
        else:
            items = list(value)
            if not items:
                raise ValueError(f"{arg.name}: an empty sequence gives an empty dimension; pass at least one value")
            raw = _stack_items(arg, items)
        values = _convert(arg, raw)
        if values.ndim != 1:
            raise TypeError(
                f"{arg.name}: a {values.ndim}-d array has no dimension names; "
                f"pass an xarray.DataArray with named dims instead"
            )
        return _Input(arg, (arg.name,), *_to_si(arg, values), coords={arg.name: _coord_of(arg, values)})
    return _Input(arg, (), *_to_si(arg, _convert(arg, value)), coords={})


def _object_array(items) -> np.ndarray:
    """A 1-D object array (records and strings must not be coerced by numpy)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _stack_items(arg: Arg, items: list):
    """A list that may mix Quantities and numbers -> ndarray in the argument's unit."""
    if arg.kind in ("record", "choice"):
        return _object_array(items)
    if arg.kind in ("number", "integer") and any(is_quantity(i) for i in items):
        return np.array([float(to_magnitude(i, arg.unit, arg.name)) for i in items])
    return np.asarray(items)


def _validate_lazy(arg: Arg, data):
    """Range check of a dask-backed argument (computes min/max once)."""
    import dask.array as da

    lo, hi = da.compute(da.nanmin(data), da.nanmax(data))
    _convert(arg, np.array([lo, hi]))


class Grid:
    """The aligned inputs of one call.

    ``dims`` are the grid dimensions in order of appearance; ``grid[name]`` is an argument's
    values as an array with one axis per dimension; ``grid.field(name, key)`` is a numeric
    record field (``record.si[key]``) laid out the same way.
    """

    def __init__(self, inputs: dict[str, _Input], chunks=None):
        self.inputs = inputs
        self.dims: list[str] = []
        self.coords: dict[str, np.ndarray] = {}
        for inp in inputs.values():
            for dim in inp.dims:
                coord = inp.coords[dim]
                if dim not in self.coords:
                    self.dims.append(dim)
                    self.coords[dim] = coord
                elif len(self.coords[dim]) != len(coord) or not np.array_equal(self.coords[dim], coord):
                    raise ValueError(
                        f"{inp.arg.name}: dimension {dim!r} does not match the coordinates "
                        f"of another argument along {dim!r} (lengths {len(self.coords[dim])} "
                        f"and {len(coord)})"
                    )
        self.shape = tuple(len(self.coords[d]) for d in self.dims)
        self.chunks = self._normalise_chunks(chunks)
        self._cache: dict[tuple, np.ndarray] = {}

    def _normalise_chunks(self, chunks):
        if chunks is None:
            return None
        if chunks == "auto":
            chunks = {d: "auto" for d in self.dims}
        unknown = set(chunks) - set(self.dims)
        if unknown:
            raise ValueError(f"chunks names dimensions {sorted(unknown)} that are not in the grid {self.dims}")
        return {d: chunks.get(d, -1) for d in self.dims}

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    def layout(self, inp: _Input, values):
        """Values of an input as an array with one axis per grid dimension."""
        if not self.dims:
            return values
        if inp.dims:
            order = [inp.dims.index(d) for d in self.dims if d in inp.dims]
            values = values.transpose(order) if order != list(range(len(order))) else values
        shape = [len(self.coords[d]) if d in inp.dims else 1 for d in self.dims]
        values = values.reshape(shape)
        if self.chunks is not None and values.dtype != object:
            import dask.array as da

            chunk = tuple(self.chunks[d] if n > 1 else 1 for d, n in zip(self.dims, shape))
            values = (
                da.asarray(values).rechunk(chunk) if hasattr(values, "dask") else da.from_array(values, chunks=chunk)
            )
        return values

    def __getitem__(self, name: str):
        key = (name,)
        if key not in self._cache:
            inp = self.inputs[name]
            self._cache[key] = self.layout(inp, inp.values)
        return self._cache[key]

    def field(self, name: str, key: str):
        """A numeric field of the records of argument ``name`` (``record.si[key]``)."""
        ck = (name, key)
        if ck not in self._cache:
            inp = self.inputs[name]
            if not inp.dims:
                self._cache[ck] = np.float64(inp.values.item().si[key])
            else:
                flat = np.array([r.si[key] for r in inp.values.reshape(-1)], dtype=float)
                self._cache[ck] = self.layout(inp, flat.reshape(inp.values.shape))
        return self._cache[ck]

    def records(self, name: str) -> list:
        """The distinct records of a record argument."""
        return list(self.inputs[name].values.reshape(-1))

    def scalars(self) -> dict[str, Any]:
        """0-d arguments and their canonical values, echoed as scalar coordinates."""
        out = {}
        for name, inp in self.inputs.items():
            if inp.dims:
                continue
            if inp.arg.kind == "record":
                out[name] = inp.values.item().name
            elif inp.arg.kind == "choice":
                out[name] = inp.arg.choices[int(inp.values)]
            elif inp.arg.kind == "bool":
                out[name] = bool(inp.values)
            elif inp.arg.kind == "integer" and np.isfinite(inp.labels):
                out[name] = int(inp.labels)
            else:
                out[name] = float(inp.labels)
        return out

    def zipped(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        """Arguments given as DataArrays along dimensions of other names (``tp_size`` along
        ``config``): their labels or canonical values, echoed as coordinates on those dimensions."""
        out = {}
        for name, inp in self.inputs.items():
            if not inp.dims or inp.dims == (name,):
                continue
            out[name] = (inp.dims, _labels(inp))
        return out


def _labels(inp: _Input) -> np.ndarray:
    """Printable values of an input: record names, choice labels, or the numbers themselves."""
    values = inp.labels
    if inp.arg.kind == "record":
        flat = values.reshape(-1)
        return np.array([r.name for r in flat], dtype=object).reshape(values.shape)
    if inp.arg.kind == "choice":
        return np.asarray(inp.arg.choices, dtype=object)[np.asarray(values)]
    if inp.arg.kind == "integer" and not hasattr(values, "dask") and np.isfinite(values).all():
        return values.astype(np.int64)
    return values


def build_grid(args: tuple[Arg, ...], kwargs: dict, resolver: str, chunks=None) -> Grid:
    """Validate ``kwargs`` against ``args`` and align them into a ``Grid``.

    Unknown keywords and missing required arguments raise ``TypeError``. Aliases
    (``Arg.aliases`` maps other keyword names to this one) are accepted.
    """
    by_name = {a.name: a for a in args}
    alias_of = {alias: a.name for a in args for alias in a.keyword_aliases}
    given: dict[str, Any] = {}
    for key, value in kwargs.items():
        name = alias_of.get(key, key)
        if name not in by_name:
            raise TypeError(
                f"{resolver}.solve() got an unexpected keyword argument {key!r}; accepted: {', '.join(by_name)}"
            )
        if name in given:
            raise TypeError(f"{resolver}.solve() got {name!r} twice (directly and through an alias)")
        given[name] = value
    inputs: dict[str, _Input] = {}
    for name, value in given.items():  # user order fixes the dimension order
        if value is None and by_name[name].default is None:
            continue  # an optional argument explicitly left out
        inputs[name] = _normalise(by_name[name], value)
    for arg in args:
        if arg.name in inputs:
            continue
        if arg.default is REQUIRED:
            raise TypeError(f"{resolver}.solve() missing required argument {arg.name!r} ({arg.allowed()})")
        if arg.default is None:
            continue
        inputs[arg.name] = _default_input(arg)
    return Grid(inputs, chunks)


#: Validated defaults, by the identity of their ``Arg`` (declared once per resolver class).
_DEFAULTS: dict[int, tuple[Arg, _Input]] = {}


def _default_input(arg: Arg) -> _Input:
    """The argument's default, validated and converted once per process (inputs are read-only)."""
    hit = _DEFAULTS.get(id(arg))
    if hit is None or hit[0] is not arg:
        hit = _DEFAULTS[id(arg)] = (arg, _normalise(arg, arg.default))
    return hit[1]
