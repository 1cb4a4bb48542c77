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

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .units import Q_, any_quantity, is_quantity, si_factor, to_magnitude

__all__ = [
    "Arg",
    "Grid",
    "build_grid",
    "available_memory",
    "record_example",
    "REQUIRED",
    "MAX_MAGNITUDE",
    "MAX_INTEGER",
]


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

        def shown(bound):  # whole bounds of an integer argument in full (1048576, not 1.04858e+06)
            return str(int(bound)) if self.kind == "integer" and float(bound).is_integer() else f"{bound:g}"

        lo = "" if self.low is None else f"{'>' if self.low_open else '>='} {shown(self.low)}"
        hi = "" if self.high is None else f"{'<' if self.high_open else '<='} {shown(self.high)}"
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


@functools.cache
def _si_rule(unit: str):
    """How a number in ``unit`` becomes SI: None (it already is), ``("div", n)`` (divide by the
    exact integer ``n``: 1/day, ms...; one rounding instead of two, 10/day · 0.1 day == 1) or
    ``("mul", factor)``."""
    if not unit:
        return None
    factor = si_factor(unit)[0]
    if factor == 1.0:
        return None
    divisor = 1.0 / factor
    if factor < 1.0 and abs(divisor - round(divisor)) <= 1e-9 * divisor:
        return "div", round(divisor)
    return "mul", factor


def _to_si(arg: Arg, values):
    """``values`` (validated, in the declared unit) and their SI form, or None when equal.

    One number (0-d) is handed to the kernels as a numpy float (``np.float64``), whether or not
    its unit is converted: scalar arithmetic on it is several times cheaper than on a 0-d array,
    and the result is the same float.
    """
    if arg.kind not in ("number", "integer"):
        return values, None
    rule = _si_rule(arg.unit)
    if type(values) is np.ndarray and values.ndim == 0:
        value = float(values)
        if rule is None:
            return np.float64(value), None
        return np.float64(value / rule[1] if rule[0] == "div" else value * rule[1]), np.float64(value)
    if rule is None:
        return values, None
    if rule[0] == "div":
        return values / rule[1], values
    return values * rule[1], values


def _fail(arg: Arg, value, extra: str = ""):
    shown = value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value
    if isinstance(shown, float) and shown.is_integer() and abs(shown) < (1e17 if arg.kind == "integer" else 1e15):
        shown = int(shown)
    finite = ""
    if isinstance(shown, (int, float)) and not abs(shown) <= MAX_MAGNITUDE:
        finite = f" (and finite, at most {MAX_MAGNITUDE:g} in magnitude)"
    elif arg.kind == "integer" and isinstance(shown, (int, float)) and abs(shown) > MAX_INTEGER:
        finite = f" (at most 2**53 = {int(MAX_INTEGER)} in magnitude, the largest whole number a float holds)"
    raise ValueError(f"{arg.name}={shown!r} is not allowed{extra}; {arg.name} must be {arg.allowed()}{finite}")


def _convert(arg: Arg, raw) -> np.ndarray:
    """Values of one argument as an ndarray of the kernel's type, validated."""
    kind = arg.kind
    if kind == "record":
        if not isinstance(raw, np.ndarray):
            if isinstance(raw, arg.types):
                return _object_array([raw]).reshape(())
            values = _object_array([raw]).reshape(())
        else:
            values = raw
        flat = values.reshape(-1)
        if all(issubclass(t, arg.types) for t in set(map(type, flat))):  # once per distinct type
            return values
        for item in flat:  # name the first value of a wrong type
            if not isinstance(item, arg.types):
                raise TypeError(_wrong_record(arg, item, flat))
        return values
    if kind == "choice":
        return _choice_codes(arg, raw)
    if kind == "bool":
        values = raw if type(raw) is np.ndarray else np.asarray(raw, dtype=object if is_quantity(raw) else None)
        if values.dtype != bool:  # only True/False: 0/1, "yes" or a Quantity are not flags
            flat = values.reshape(-1)
            if values.dtype != object or not all(isinstance(x, (bool, np.bool_)) for x in flat):
                bad = next((x for x in flat if not isinstance(x, (bool, np.bool_))), raw)
                _fail(arg, raw if values.ndim == 0 else bad)
            values = values.astype(bool)
        return values
    # number / integer
    if is_quantity(raw):
        raw = to_magnitude(raw, arg.unit, arg.name)
    given = raw if isinstance(raw, np.ndarray) else np.asarray(raw, dtype=object if _has_text(raw) else None)
    if given.dtype.kind in "bUSO" and not _all_numbers(given):
        if given.dtype.kind == "b" or any(isinstance(x, (bool, np.bool_)) for x in given.reshape(-1)):
            what = "a bool (True/False are not numbers here)"
        elif given.dtype.kind in "US" or any(isinstance(x, (str, bytes)) for x in given.reshape(-1)):
            what = "text (write the number itself, not a string)"
        else:
            what = "not numeric"
        raise TypeError(f"{arg.name}={raw!r} is {what}; {arg.name} must be {arg.allowed()}")
    try:
        values = np.asarray(given, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{arg.name}={raw!r} is not numeric; {arg.name} must be {arg.allowed()}") from None
    if values.ndim == 0:  # one number: the same checks in plain Python (no temporary arrays)
        value = float(values)
        if value == value and _rejects(arg, value):  # NaN is let through, as in arrays
            _fail(arg, value)
        return values
    checked = values[~np.isnan(values)]
    bad = np.abs(checked) > MAX_MAGNITUDE
    if arg.low is not None:
        bad |= (checked <= arg.low) if arg.low_open else (checked < arg.low)
    if arg.high is not None:
        bad |= (checked >= arg.high) if arg.high_open else (checked > arg.high)
    if kind == "integer":
        bad |= (np.abs(checked) > MAX_INTEGER) | (checked != np.round(checked))
    if bad.any():
        extra = "" if np.ndim(raw) == 0 else f" ({int(bad.sum())} of {values.size} values rejected)"
        _fail(arg, checked[bad][0].item(), extra)
    return values


def _wrong_record(arg: Arg, item, given=()) -> str:
    """The message for a value of the wrong type given to a record argument: what it is, what the
    argument takes and a built-in record that fits (``e.g. ms.Models.Language.Llama3_8B``). A
    registry family in a list (``given``) is not flattened: the message says to unpack it."""
    from .registry import Family

    hint = arg.type_hint or " or ".join(t.__name__ for t in arg.types)
    example = record_example(arg.types)
    message = f"{arg.name}={item!r} is a {type(item).__name__}; {arg.name} must be a {hint}" + (
        f", e.g. {example}" if example else ""
    )
    if isinstance(item, Family):
        unpacked = ", ".join(
            f"*ms.{str(x).strip('<>').split(':')[0]}" if isinstance(x, Family) else "..." for x in given
        )
        message += (
            f"; a list holding families is not flattened: unpack them, {arg.name}=[{unpacked}] (a family "
            f"alone, {arg.name}=family, is one dimension of its records)"
        )
    return message


#: Records preferred as examples in messages (``record_example``), when the argument takes them.
_EXAMPLE_KEYS = ("H100", "Llama3_8B", "Mixtral_8x7B", "Research_256", "InfiniBand_NDR", "Quebec", "Norway_Hydro")


@functools.cache
def record_example(types: tuple[type, ...], prefix: str = "ms.") -> str | None:
    """A built-in record of one of ``types``, as its Python path (``ms.Hardware.Cloud.H100``,
    ``ms.Models.Language.Llama3_8B``; a spec file's reference with ``prefix=""``), for
    messages; None when no built-in record fits. Loads the registries (only on this error
    path)."""
    from . import registry

    found = []
    for name in ("Hardware", "Models", "Systems", "Infrastructure"):
        for family, members in getattr(registry, name).families().items():
            for key, record in zip(members.keys(), members.list()):
                if isinstance(record, types):
                    found.append((key not in _EXAMPLE_KEYS, len(found), f"{prefix}{name}.{family}.{key}"))
    return min(found)[-1] if found else None


#: The largest magnitude a numeric argument may have, in its declared unit: every argument's
#: domain is finite, so ±inf is rejected like any other out-of-range value, and so is a number
#: whose products in the kernels would overflow (1e308).
MAX_MAGNITUDE = 1e30
#: The largest magnitude of an integer argument: 2**53, the largest whole number a float holds
#: exactly (beyond it counts are no longer whole and labels overflow 64-bit integers).
MAX_INTEGER = float(2**53)


def _has_text(raw) -> bool:
    """A (possibly nested) list holding strings or bools, which numpy would coerce silently."""
    if isinstance(raw, (str, bytes, bool, np.bool_)):
        return True
    if isinstance(raw, (list, tuple)):
        types = set(map(type, raw))  # one C-level pass; nested lists are looked into
        if types & {str, bytes, bool, np.bool_, np.str_}:
            return True
        return any(_has_text(x) for x in raw if type(x) in (list, tuple))
    return False


def _is_number(x) -> bool:
    """A plain (non-bool) real number."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _all_numbers(values: np.ndarray) -> bool:
    """Every element of an object array is a plain (non-bool) number."""
    if values.dtype.kind != "O":
        return False
    return all(_is_number(x) for x in values.reshape(-1))


def _rejects(arg: Arg, value: float) -> bool:
    """True when the (non-NaN) number ``value`` is outside ``arg``'s range (or beyond
    ``MAX_MAGNITUDE``) or, for an integer argument, not a whole number within ``MAX_INTEGER``."""
    if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
        return True
    low, high = arg.low, arg.high
    if low is not None and (value <= low if arg.low_open else value < low):
        return True
    if high is not None and (value >= high if arg.high_open else value > high):
        return True
    return arg.kind == "integer" and not (value.is_integer() and -MAX_INTEGER <= value <= MAX_INTEGER)


def _choice_code(arg: Arg, item):
    """The index in ``arg.choices`` of one given value, or None (case-insensitive; aliases)."""
    key = str(item).lower() if isinstance(item, str) else None
    key = arg.aliases.get(key, key)
    return arg.choices.index(key) if key in arg.choices else None


def _choice_codes(arg: Arg, raw) -> np.ndarray:
    """Choice strings as integer codes: each distinct string is looked up once (``np.unique``),
    then the codes are gathered, so a long array costs no Python work per element."""
    if isinstance(raw, str):
        code = _choice_code(arg, raw)
        if code is None:
            _fail(arg, raw)
        return np.array(code, dtype=np.int64)
    values = np.asarray(raw, dtype=object) if not isinstance(raw, np.ndarray) else raw
    flat = values.reshape(-1)
    if values.dtype.kind == "U" or (values.dtype == object and set(map(type, flat)) <= {str, np.str_}):
        strings = values if values.dtype.kind == "U" else values.astype(str)
        distinct, inverse = np.unique(strings.reshape(-1), return_inverse=True)
        table = np.array([_choice_code(arg, item) for item in distinct.tolist()], dtype=object)
        unknown = np.flatnonzero(table == None)  # noqa: E711 (elementwise)
        if unknown.size:  # the first offending value in the given order, as given
            item = flat[np.flatnonzero(np.isin(inverse, unknown))[0]]
            _fail(arg, str(item) if values.dtype.kind == "U" else item)
        return table.astype(np.int64)[inverse].reshape(values.shape)
    codes = np.empty(values.shape, dtype=np.int64)  # mixed types: one by one (the first non-string fails)
    for i, item in enumerate(flat):
        code = _choice_code(arg, item)
        if code is None:
            _fail(arg, item)
        codes.reshape(-1)[i] = code
    return codes


def _strictly_monotonic(values: np.ndarray) -> bool:
    """Strictly increasing or decreasing (so without repeats): one vectorised pass, which spares
    the sort of a repeat check on the usual ``linspace``/``arange`` axis."""
    if values.dtype.kind not in "fiu":
        return False
    step = np.diff(values)
    return bool((step > 0).all() or (step < 0).all())


def _coord_of(arg: Arg, values: np.ndarray) -> np.ndarray:
    """Coordinate labels of a dimension an argument introduces."""
    if arg.kind == "record":
        names = [r.name for r in values]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"{arg.name}: record names must be unique along a dimension; repeated: {dup}")
        return np.array(names, dtype=object)
    if arg.kind == "choice":
        labels = np.asarray(arg.choices, dtype=object)[values]
    elif arg.kind == "integer" and np.isfinite(values).all():
        labels = values.astype(np.int64)
    else:
        labels = values
    if len(labels) > 1 and not _strictly_monotonic(values):
        distinct, counts = np.unique(labels if arg.kind == "choice" else values, return_counts=True)
        repeated = distinct[counts > 1]
        if arg.kind != "choice":
            repeated = repeated[~np.isnan(repeated.astype(float))]
        if repeated.size:
            raise ValueError(
                f"{arg.name}: values must be unique along a dimension; repeated: {repeated.tolist()}"
                + (" (spellings of one choice count as the same value)" if arg.kind == "choice" else "")
            )
    return labels


#: Types of a plain scalar value (no dimension): checked before anything else.
_PLAIN_SCALARS = frozenset({float, int, bool, str, np.float64, np.float32, np.int64, np.int32, np.bool_, np.str_})


#: Plain numbers read without numpy on the scalar path.
_PLAIN_NUMBERS = frozenset({float, int, np.float64, np.float32, np.int64, np.int32})


def _scalar_input(arg: Arg, value) -> _Input | None:
    """The input of one plain number or one record, validated in plain Python (the per-call
    cost of a scalar call); None when ``value`` needs the general path."""
    kind = arg.kind
    if kind == "record":
        if not isinstance(value, arg.types):
            return None
        values = np.empty((), dtype=object)
        values[()] = value
        return _Input(arg, (), values, None, {})
    if kind not in ("number", "integer") or type(value) not in _PLAIN_NUMBERS:
        return None
    number = float(value)
    if number == number and _rejects(arg, number):  # NaN is let through, as in arrays
        _fail(arg, number)
    rule = _si_rule(arg.unit)
    if rule is None:
        return _Input(arg, (), np.float64(number), None, {})
    si = number / rule[1] if rule[0] == "div" else number * rule[1]
    return _Input(arg, (), np.float64(si), np.float64(number), {})


def _normalise(arg: Arg, value) -> _Input:
    if type(value) in _PLAIN_SCALARS or arg.kind == "record":
        fast = _scalar_input(arg, value)
        if fast is not None:
            return fast
    if type(value) in _PLAIN_SCALARS:
        return _Input(arg, (), *_to_si(arg, _convert(arg, value)), {})
    if _is_dataarray(value):
        if value.size == 0:
            raise ValueError(f"{arg.name}: the DataArray is empty (dims {dict(value.sizes)}); pass at least one value")
        data = value.data
        coords = {
            d: np.asarray(value[d].values) if d in value.coords else np.arange(n)
            for d, n in zip(value.dims, value.shape)
        }
        if is_quantity(data):
            data = to_magnitude(data, arg.unit, arg.name)
        elif arg.kind in ("number", "integer") and value.attrs.get("units") not in (None, "", arg.unit):
            try:
                given = Q_(np.asarray(data), value.attrs["units"])
            except Exception:  # pint's UndefinedUnitError and parse errors
                raise ValueError(
                    f"{arg.name}: the DataArray's units attribute {value.attrs['units']!r} is not a unit "
                    f"pint knows; {arg.name} must be {arg.allowed()}"
                ) from None
            data = to_magnitude(given, arg.unit, arg.name)
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
    if arg.kind in ("record", "choice", "bool"):  # no coercion by numpy ([True, 0] is not two flags)
        return _object_array(items)
    if arg.kind in ("number", "integer"):
        if any_quantity(items):  # a Quantity among them
            if not all(is_quantity(i) or _is_number(i) for i in items):
                raise TypeError(
                    f"{arg.name}={items!r} mixes Quantities with values that are not numbers; "
                    f"{arg.name} must be {arg.allowed()}"
                )
            return np.array([float(to_magnitude(i, arg.unit, arg.name)) for i in items])
        if _has_text(items):  # strings or bools among numbers: _convert names the argument
            return _object_array(items)
    try:
        return np.asarray(items)
    except ValueError:  # a ragged nested list
        raise TypeError(
            f"{arg.name}: {items!r} is a nested list of unequal lengths; give a flat list of values "
            f"(one new dimension) or an xarray.DataArray with named dims"
        ) from None


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
        self._cache: dict[tuple, np.ndarray] = {}
        if chunks is None and not any(inp.dims for inp in inputs.values()):  # every argument scalar
            self.shape = ()
            self.chunks = None
            return
        first: dict[str, str] = {}  # the argument that gave each dimension its coordinates
        for inp in inputs.values():
            for dim in inp.dims:
                coord = inp.coords[dim]
                if dim not in self.coords:
                    self.dims.append(dim)
                    self.coords[dim] = coord
                    first[dim] = inp.arg.name
                elif len(self.coords[dim]) != len(coord) or not np.array_equal(self.coords[dim], coord):
                    raise ValueError(
                        f"{inp.arg.name}: dimension {dim!r} does not match the coordinates "
                        f"{first[dim]} gives it (lengths {len(coord)} and {len(self.coords[dim])}); "
                        f"arguments along one dimension must have equal coordinates"
                    )
        self.shape = tuple(len(self.coords[d]) for d in self.dims)
        self.chunks = self._normalise_chunks(chunks)

    def _normalise_chunks(self, chunks):
        if chunks is None:
            return None
        allowed = "chunks must be None, 'auto' or a dict {dimension: size} (size a whole number >= 1, -1 or 'auto')"
        if isinstance(chunks, str):
            if chunks != "auto":
                raise ValueError(f"chunks={chunks!r} is not allowed; {allowed}")
            chunks = {d: "auto" for d in self.dims}
        if not isinstance(chunks, dict):
            raise TypeError(f"chunks={chunks!r} is a {type(chunks).__name__}; {allowed}")
        unknown = set(chunks) - set(self.dims)
        if unknown:
            raise ValueError(f"chunks names dimensions {sorted(unknown)} that are not in the grid {self.dims}")
        for dim, size in chunks.items():
            whole = isinstance(size, (int, np.integer)) and not isinstance(size, bool)
            if not (size == "auto" if isinstance(size, str) else whole and (size >= 1 or size == -1)):
                raise ValueError(f"chunks={{{dim!r}: {size!r}}} is not allowed; {allowed}")
        return {d: chunks.get(d, -1) for d in self.dims}

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def invalid(self, required=()):
        """Where some numeric input is NaN: None when no input holds a NaN, else a boolean array
        laid out on the grid (broadcastable; a dask array when the grid is chunked). A point with
        a NaN input has no answer: the resolvers flag it ``invalid_input``. An optional argument
        (default None) is not counted: there NaN means "not given" at that point -- unless it is
        named in ``required`` (one of several alternatives the resolver needs, such as a budget
        given either as FLOPs or as accelerator time)."""
        key = ("<invalid>", *required)
        if key not in self._cache:
            mask = None
            for name, inp in self.inputs.items():
                if inp.arg.kind not in ("number", "integer") or (inp.arg.default is None and name not in required):
                    continue  # an optional argument's NaN means "not given" (its default)
                values = inp.values
                lazy = hasattr(values, "dask")
                if not lazy and not (np.isnan(values) if values.ndim == 0 else np.isnan(values).any()):
                    continue
                nan = np.isnan(self[name])
                mask = nan if mask is None else mask | nan
            self._cache[key] = mask
        return self._cache[key]

    def check_memory(self, arrays: int, resolver: str) -> None:
        """Refuse an eager grid whose ``arrays`` full-size float arrays (outputs and the kernels'
        temporaries) would not fit in the memory available now, before anything is allocated:
        a ValueError giving the size and suggesting ``chunks=``."""
        if self.chunks is not None or not self.dims or self.size < 1 << 16:  # small grids: no need to ask
            return
        need = self.size * 8 * arrays
        available = available_memory()
        if available is not None and need > available:
            shape = " × ".join(f"{d} {n:,}" for d, n in zip(self.dims, self.shape))
            raise ValueError(
                f"{resolver}: the grid has {self.size:,} points ({shape}); computing it at once needs about "
                f"{need / 2**30:,.1f} GiB, more than the {available / 2**30:,.1f} GiB available; pass "
                f"chunks='auto' (or chunks={{dim: size}}) to compute it in pieces, or sweep fewer values"
            )

    def layout(self, inp: _Input, values):
        """Values of an input as an array with one axis per grid dimension."""
        if not self.dims:  # a scalar call: numpy scalars (cheaper than 0-d arrays in every kernel op)
            if isinstance(values, np.ndarray) and values.ndim == 0 and values.dtype != object:
                return values[()]
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
                distinct, inverse = self._record_index(name)
                column = np.array([r.si[key] for r in distinct], dtype=float)
                flat = column if inverse is None else column[inverse]
                self._cache[ck] = self.layout(inp, flat.reshape(inp.values.shape))
        return self._cache[ck]

    def _record_index(self, name: str):
        """(distinct records, index of each value among them or None when all are distinct) of
        a record argument, computed once: a field is then read once per distinct record."""
        key = (name, None)
        if key not in self._cache:
            self._cache[key] = _distinct_records(self.inputs[name].values)
        return self._cache[key]

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
            out[name] = (inp.dims, _labels(inp, self._record_index(name) if inp.arg.kind == "record" else None))
        return out


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (``MemAvailable`` of /proc/meminfo,
    else the free physical pages), or None where neither can be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os

        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _distinct_records(records: np.ndarray):
    """(distinct records, inverse) of an object array of records: ``distinct[inverse]`` is the
    flattened array. Short arrays (a list of records along one dimension) are returned as they
    are (inverse None); long ones (a DataArray of records) are deduplicated by identity."""
    flat = records.reshape(-1)
    if flat.size <= 64:
        return flat, None
    ids = np.fromiter(map(id, flat), dtype=np.int64, count=flat.size)
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    return flat[first], inverse.reshape(-1)


def _labels(inp: _Input, index=None) -> np.ndarray:
    """Printable values of an input: record names, choice labels, or the numbers themselves
    (``index``: the records' ``_distinct_records``, when already known)."""
    values = inp.labels
    if inp.arg.kind == "record":
        distinct, inverse = index if index is not None else _distinct_records(values)
        names = np.array([r.name for r in distinct], dtype=object)
        return (names if inverse is None else names[inverse]).reshape(values.shape)
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
    by_name, alias_of = _tables(args)
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
        if value is None:
            if by_name[name].default is None:
                continue  # an optional argument explicitly left out
            raise ValueError(
                f"{name}=None is not allowed; {name} must be {by_name[name].allowed()}"
                + (
                    ""
                    if by_name[name].default is REQUIRED
                    else f" (leave it out for its default, {by_name[name].default!r})"
                )
            )
        inputs[name] = _normalise(by_name[name], value)
    _check_dimension_names(inputs, by_name)
    for arg in args:
        if arg.name in inputs:
            continue
        if arg.default is REQUIRED:
            raise TypeError(f"{resolver}.solve() missing required argument {arg.name!r} ({arg.allowed()})")
        if arg.default is None:
            continue
        inputs[arg.name] = _default_input(arg)
    return Grid(inputs, chunks)


def _check_dimension_names(inputs: dict, by_name: dict) -> None:
    """A DataArray may not use another argument's name as a dimension unless that argument spans
    the same dimension: ``batch_size=DataArray(..., dims="hardware")`` would put batch sizes on the
    hardware axis while ``hardware`` means something else."""
    for name, inp in inputs.items():
        for dim in inp.dims:
            if dim == name or dim not in by_name:
                continue
            other = inputs.get(dim)
            if other is None or dim not in other.dims:
                raise ValueError(
                    f"{name}: its DataArray has a dimension named {dim!r}, which is another argument of "
                    f"this resolver ({dim}={'its default' if other is None else 'a single value'}); "
                    f"rename the dimension (e.g. {name!r}) or give {dim} along {dim!r} as well"
                )


#: (by name, by keyword alias) of each ``ARGS`` tuple, by its identity (declared once per class).
_TABLES: dict[int, tuple] = {}


def _tables(args: tuple[Arg, ...]) -> tuple[dict[str, Arg], dict[str, str]]:
    """``{name: Arg}`` and ``{keyword alias: name}`` of ``args``, built once per tuple."""
    hit = _TABLES.get(id(args))
    if hit is None or hit[0] is not args:
        by_name = {a.name: a for a in args}
        alias_of = {alias: a.name for a in args for alias in a.keyword_aliases}
        if len(_TABLES) > 1024:  # tuples built on the fly (not class attributes): do not hoard them
            _TABLES.clear()
        hit = _TABLES[id(args)] = (args, by_name, alias_of)
    return hit[1], hit[2]


#: Validated defaults, by the identity of their ``Arg`` (declared once per resolver class).
_DEFAULTS: dict[int, tuple[Arg, _Input]] = {}


def _default_input(arg: Arg) -> _Input:
    """The argument's default, validated and converted once per process (inputs are read-only)."""
    hit = _DEFAULTS.get(id(arg))
    if hit is None or hit[0] is not arg:
        hit = _DEFAULTS[id(arg)] = (arg, _normalise(arg, arg.default))
    return hit[1]
