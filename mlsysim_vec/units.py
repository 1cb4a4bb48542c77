"""The unit registry of mlsysim_vec, and the conversions at the library's boundary.

One pint registry, set as pint's application registry, so that Quantities made with
``mlsysim_vec.ureg`` and quantified DataArrays (pint-xarray) interoperate.

Differences from pint's default registry, all deliberate:

* ``bit`` is a base dimension ``[information]`` (pint >= 0.24 makes it dimensionless), so
  that bytes never silently convert into counts, dollars or 1/s (reference bug P12).
  ``byte = 8 bit``; decimal ``KB, MB, GB, TB, PB`` (1e3...) and binary ``KiB, MiB, GiB, TiB``
  (2**10...) keep their exact definitions: 80 GiB = 85.899 GB.
* ``flop`` is its own base dimension ``[flop]`` (symbol ``FLOP``), so FLOPs never convert into
  bytes. Prefixed forms ``KFLOP ... ZFLOP`` and the reference's spellings ``TFLOPs`` etc. exist;
  ``OPS``/``TOPS`` are FLOP/s aliases, as in the reference.
* ``param`` and ``token`` are counts (dimensionless), with ``Kparam ... Tparam``, ``Ktoken ...``.
* ``USD`` (alias ``dollar``) is its own dimension ``[currency]``; there is no exchange rate.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pint

__all__ = [
    "ureg",
    "Q_",
    "to_magnitude",
    "is_quantity",
    "as_quantity",
    "si",
    "canonical",
    "si_factor",
    "any_quantity",
    "units_of",
    "quantity",
    "conversion_factor",
]


def _build_registry() -> pint.UnitRegistry:
    pint_dir = os.path.dirname(pint.__file__)
    with open(os.path.join(pint_dir, "default_en.txt"), encoding="utf-8") as fh:
        text = fh.read()
    with open(os.path.join(pint_dir, "constants_en.txt"), encoding="utf-8") as fh:
        constants = fh.read()
    text = text.replace("@import constants_en.txt", constants)
    text = text.replace("\nbit = []\n", "\nbit = [information]\n", 1)
    registry = pint.UnitRegistry(None)
    registry.load_definitions(text.splitlines())
    extra = [
        "flop = [flop] = FLOP",
        "OPS = flop / second",
        "param = count",
        "token = count",
        "USD = [currency] = _ = dollar",
        "KB = 1e3 * byte",  # the reference's spelling of the decimal kilobyte (pint's is kB)
    ]
    for prefix, factor in (
        ("K", "1e3"),
        ("M", "1e6"),
        ("G", "1e9"),
        ("T", "1e12"),
        ("P", "1e15"),
        ("E", "1e18"),
        ("Z", "1e21"),
    ):
        extra.append(f"{prefix}FLOPs = {factor} * flop")
        extra.append(f"{prefix}OPS = {factor} * OPS")
    for prefix, factor in (("K", "1e3"), ("M", "1e6"), ("B", "1e9"), ("T", "1e12")):
        extra.append(f"{prefix}param = {factor} * param")
        extra.append(f"{prefix}token = {factor} * token")
    for line in extra:
        registry.define(line)
    return registry


ureg: pint.UnitRegistry = _build_registry()
pint.set_application_registry(ureg)
Q_ = ureg.Quantity


def is_quantity(value) -> bool:
    """True for a pint Quantity of any registry."""
    return isinstance(value, pint.Quantity)


# ---------------------------------------------------------------------------- parsed units, cached
# pint parses a unit string on every ``Q_(x, "ms")`` and ``q.to("ms")`` (several µs each). The
# library's outputs and arguments use a few dozen unit strings; each is parsed once per process.


@functools.cache
def units_of(unit: str):
    """The parsed units of ``unit`` (a pint ``UnitsContainer``; ``""`` is dimensionless), cached:
    ``Q_(x, units_of("ms")) == Q_(x, "ms")`` without parsing the string again."""
    return ureg.parse_units_as_container(unit) if unit else ureg.UnitsContainer()


_new = object.__new__


def quantity(value, unit: str):
    """``Q_(value, unit)`` for a float (or ndarray) magnitude, with ``unit``'s parsed units
    cached (``units_of``): the same Quantity, built without parsing the string each time."""
    if type(value) in (float, np.ndarray) and not (ureg.force_ndarray or ureg.force_ndarray_like):
        q = _new(Q_)  # what Quantity.__new__ does for such a magnitude and parsed units, minus the checks
        q._magnitude = value
        q._units = units_of(unit)
        return q
    return Q_(value, units_of(unit))


@functools.cache
def conversion_factor(src: str, dst: str) -> float | None:
    """The factor ``f`` with ``Q_(x, src).to(dst).magnitude == x * f`` exactly (pint converts a
    multiplicative unit by that one product), cached; None when the conversion is not a plain
    product (offset units) or not possible."""
    return _container_factor(units_of(src), dst)


@functools.cache
def _container_factor(src, dst: str) -> float | None:
    """``conversion_factor`` for parsed source units (a Quantity's ``_units``)."""
    target = units_of(dst)
    try:
        factor = ureg.convert(1.0, src, target)
        if ureg.convert(0.0, src, target) != 0.0:
            return None  # an offset unit (degC...): not a product
    except (pint.PintError, TypeError, ValueError):
        return None
    return float(factor)


def any_quantity(items) -> bool:
    """True when any element of the sequence ``items`` is a pint Quantity (each distinct type is
    checked once: no Python work per element)."""
    return any(issubclass(t, pint.Quantity) for t in set(map(type, items)))


def to_magnitude(value, unit: str, name: str):
    """Return ``value`` as a plain float or ndarray in ``unit``.

    A plain number is taken to be in ``unit`` already; a Quantity is converted. A Quantity of
    the wrong dimensionality raises a ``TypeError`` naming the argument ``name``.
    """
    if isinstance(value, pint.Quantity):
        magnitude = value._magnitude
        if value._REGISTRY is ureg and type(magnitude) in (float, int, np.float64, np.ndarray):
            if value._units == units_of(unit):
                return magnitude  # pint returns the magnitude as is
            factor = _container_factor(value._units, unit)
            if factor is not None:  # what pint's conversion computes (magnitude * factor), minus the parsing
                return magnitude * factor
        try:
            return value.to(unit).magnitude if unit else value.to("").magnitude
        except pint.DimensionalityError:
            raise TypeError(
                f"{name}={value!r} has units of {value.units:~} ({value.dimensionality}); "
                f"expected a quantity convertible to {unit or 'a dimensionless number'}"
            ) from None
    return value


def as_quantity(value, unit: str, name: str, optional: bool = False):
    """Coerce a record field to a Quantity: a plain number is taken to be in ``unit``.

    Used by the record types (``HardwareNode(...)`` and friends) so that users may pass pint
    values or plain numbers. ``None`` is allowed only when ``optional``.
    """
    if value is None:
        if optional:
            return None
        raise TypeError(f"{name} is required (a quantity in {unit})")
    if isinstance(value, pint.Quantity):
        try:
            value.to(unit)
        except pint.DimensionalityError:
            raise TypeError(
                f"{name}={value!r} has units of {value.units:~} ({value.dimensionality}); "
                f"expected a quantity convertible to {unit}"
            ) from None
        return Q_(value.magnitude, value.units)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name}={value!r} is not a number or a pint Quantity (unit {unit})")
    return Q_(float(value), unit)


_CANONICAL = {
    "[information]": "byte",
    "[information] / [time]": "byte/s",
    "[flop]": "flop",
    "[flop] / [time]": "flop/s",
    "[currency]": "USD",
    "[time]": "s",
    "[length] ** 2 * [mass] / [time] ** 3": "W",
    "[length] ** 2 * [mass] / [time] ** 2": "J",
    "[mass]": "kg",
    "[currency] * [time] ** 2 / [mass] / [length] ** 2": "USD/J",
    "[currency] / [mass]": "USD/kg",
    "dimensionless": "",
    "[length] ** 3": "L",
    "1 / [time]": "1/s",
}


def canonical(quantity) -> tuple[float, str]:
    """(magnitude, unit) of a Quantity in the library's canonical unit for its dimension
    (byte, byte/s, FLOP, FLOP/s, USD, s, W, J, kg, L, USD/J, USD/kg; SI base units otherwise)."""
    dim = str(quantity.dimensionality)
    unit = _CANONICAL.get(dim)
    if unit is None:
        base = quantity.to_base_units()
        return float(base.magnitude), f"{base.units:~}"
    return float(quantity.to(unit).magnitude), unit


def si(quantity, unit: str) -> float:
    """Magnitude of an optional Quantity in ``unit``; NaN for None."""
    if quantity is None:
        return float("nan")
    return float(quantity.to(unit).magnitude)


@functools.cache
def si_factor(unit: str) -> tuple[float, str]:
    """(factor, canonical unit) such that a number in ``unit`` times ``factor`` is in the
    canonical unit of its dimension: ``si_factor("ms") == (1e-3, "s")``."""
    if not unit:
        return 1.0, ""
    return canonical(Q_(1.0, unit))
