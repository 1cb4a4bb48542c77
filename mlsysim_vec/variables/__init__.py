"""The catalogue of every input and output name: canonical unit, display unit, meaning.

One name has one meaning and one unit across all resolvers (docs/differences.md, D17). The
dataset of a ``Result`` holds plain floats in the canonical unit (``attrs["units"]``); the scalar
facade returns pint Quantities in the display unit (a Quantity converts freely: ``.to("ms")``).
Categorical outputs are small integer codes with CF ``flag_values`` / ``flag_meanings``.

Each domain declares its entries in its own module of this package (``shared``, ``serving``,
``fleet``...); this module merges them once, at import, into ``VARIABLES``. A name declared by two
domains must be declared identically: a clash raises at import.
``best_<name>`` (the winning label of a search over ``<name>``) is derived from ``<name>``.
"""

from __future__ import annotations

from . import algorithm, analysis, data, fleet, ops, optimizers, search, serving, shared
from .core import BOTTLENECKS, REASONS, Variable

__all__ = ["Variable", "VARIABLES", "REASONS", "BOTTLENECKS", "variable", "reason"]

_DOMAINS = (shared, serving, fleet, data, algorithm, ops, analysis, optimizers, search)


def _merge(domains) -> dict[str, Variable]:
    merged: dict[str, Variable] = {}
    for domain in domains:
        for name, var in domain.VARIABLES.items():
            old = merged.get(name)
            if old is not None and old != var:
                raise ValueError(
                    f"variable {name!r} of {domain.__name__} clashes with its earlier entry {old}: "
                    f"one name has one meaning, unit and kind"
                )
            merged.setdefault(name, var)
    return merged


VARIABLES: dict[str, Variable] = _merge(_DOMAINS)


def variable(name: str) -> Variable:
    """The catalogue entry of ``name`` (a plain float variable if not catalogued).

    ``best_<dim>`` (a search's winning label of dimension ``<dim>``) carries ``<dim>``'s unit
    when that is a unit-bearing number, else it is the label as is ('record' or 'text').
    """
    var = VARIABLES.get(name)
    if var is not None:
        return var
    if name.startswith("best_"):
        dim = name[len("best_") :]
        base = variable(dim)
        description = f"{dim} of the winning point (missing when nothing is feasible)"
        if base.kind == "float" and base.unit:
            return Variable(base.unit, base.display, description, optional=True)
        return Variable(description=description, kind="record" if base.kind == "record" else "text")
    return Variable(description=name)


def reason(name: str) -> int:
    """The integer code of an ``infeasible_reason`` (``KeyError`` naming the known ones)."""
    try:
        return REASONS.index(name)
    except ValueError:
        raise KeyError(f"unknown infeasible reason {name!r}; known: {', '.join(REASONS)}") from None
