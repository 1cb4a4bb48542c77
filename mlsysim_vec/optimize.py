"""Design-space search over any resolver's result: objective, constraints, top-k, Pareto front.

::

    r = ms.DistributedModel().solve(model=..., fleet=..., batch_size=[256, 1024],
                                    tp_size=[1, 2, 4, 8], pp_size=[1, 2, 4])
    best = search(r, "mfu", minimize=False, over=["tp_size", "pp_size"],
                  constraints=["feasible", "memory_utilization <= 0.9"])
    best.best_tp_size, best.best_pp_size, best.objective      # per model × batch_size

``search`` reduces the result over the dimensions ``over`` (default: all of them) with the
masked argmax / top-k kernels of ``mlsysim_vec.reduce``; ``pareto`` marks the 2-objective
non-dominated points with ``reduce.pareto_front_along``. Both return a ``Result``.

Constraints are strings, parsed without ``eval`` (no arithmetic), or boolean DataArray masks:

* ``name`` / ``not name`` — a boolean output or input (``feasible``, ``not overhead_dominated``);
* ``name OP value [unit]`` with OP one of ``<  <=  >  >=  ==  !=`` — a numeric output or input
  compared with a number; with a unit (``itl < 50 ms``, ``memory_footprint <= 40 GiB``,
  ``memory_utilization <= 90 %``) the number is converted to the output's canonical unit, without
  one it is read in that canonical unit (the unit in the dataset's ``attrs["units"]``);
* ``name == label`` / ``name != label`` — a categorical output (``bottleneck == Memory``), a text
  or record input (``precision != fp32``, ``hardware == "NVIDIA H100"``), a boolean
  (``feasible == true``). Labels may be quoted.

A point satisfies the constraints when every one holds; a NaN compares as False, and a NaN
objective never wins. Several constraints are combined with "and".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from . import reduce
from .result import Result
from .units import ureg
from .variables import variable

__all__ = ["search", "pareto", "parse_constraint", "Constraint", "OPERATORS"]

#: Comparison operators of a constraint, longest first (the parser tries them in this order).
OPERATORS = ("<=", ">=", "==", "!=", "<", ">")


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BARE = re.compile(rf"^\s*(not\s+)?({_NAME})\s*$")
_COMPARE = re.compile(rf"^\s*({_NAME})\s*({'|'.join(re.escape(op) for op in OPERATORS)})\s*(.*?)\s*$")
_NUMBER = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf)\s*(.*)$", re.IGNORECASE)
_GRAMMAR = "'name', 'not name' or 'name OP value [unit]' with OP one of " + ", ".join(OPERATORS) + " (no arithmetic)"
_COMPARE_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


@dataclass(frozen=True)
class Constraint:
    """A parsed constraint string: ``name``, ``not name`` (negate) or ``name op value``.

    ``value`` is the text right of the operator (a number with an optional unit, or a label);
    it is interpreted against the output it is compared with, in ``search``.
    """

    text: str
    name: str
    negate: bool = False
    op: str | None = None
    value: str | None = None


def parse_constraint(text: str) -> Constraint:
    """Parse one constraint string (syntax only; names are checked against a result by ``search``).

    Raises ``ValueError`` naming the constraint and the allowed forms.
    """
    if not isinstance(text, str):
        raise ValueError(
            f"constraint {text!r} is a {type(text).__name__}; a constraint is a string "
            f"({_GRAMMAR}) or a boolean xarray.DataArray"
        )
    bare = _BARE.match(text)
    if bare:
        return Constraint(text, bare.group(2), negate=bool(bare.group(1)))
    compare = _COMPARE.match(text)
    if compare and compare.group(3) and not compare.group(3).startswith(("=", "<", ">", "!")):
        return Constraint(text, compare.group(1), op=compare.group(2), value=compare.group(3))
    raise ValueError(
        f"constraint {text!r} is not understood; a constraint is {_GRAMMAR}, e.g. 'feasible', "
        f"'not overhead_dominated', 'itl < 50 ms', 'bottleneck == Memory'"
    )


# ---- search ----------------------------------------------------------------------------------------


def search(
    result: Result, objective: str, *, minimize: bool = True, constraints=(), over=None, top_k: int | None = None
) -> Result:
    """The best point of ``result`` along the dimensions ``over``, for every point of the others.

    Parameters
    ----------
    result : Result
        Any resolver's result (numpy- or dask-backed).
    objective : str
        Name of a numeric (or boolean) output, or of an input coordinate, to optimise.
    minimize : bool
        True for the smallest objective, False for the largest.
    constraints : sequence of str or xarray.DataArray
        Strings (see the module docstring) and boolean masks over some of the result's
        dimensions; a candidate must satisfy all of them.
    over : str or sequence of str, optional
        The dimension name(s) to search (default: every dimension). Several dimensions are
        searched together; ties go to the first candidate in the C order of ``over``.
    top_k : int, optional
        Also keep the k best candidates: every per-candidate field gets a ``rank`` dimension
        (1 = best) of length k, padded with missing values when fewer are feasible.

    Returns
    -------
    Result
        Over the remaining dimensions (and ``rank``), holding ``best_<dim>``
    (the winning coordinate label of each searched dimension), ``objective`` (its value, in the
    objective's canonical unit, ``attrs["units"]``), the objective's own output and every
    constraint's output at the winning point, the non-dimension coordinates along the searched
    dimensions at the winning point, ``feasible`` (some candidate satisfies the constraints),
    ``n_searched`` (candidates per point) and ``n_feasible`` (candidates that satisfy the
    constraints and have a numeric objective). When nothing is feasible the labels are missing
    (None or NaN), the numbers NaN, and boolean / categorical outputs at the winner hold False /
    their first code (read ``feasible`` first). Never raises for infeasible points; raises
    ``ValueError`` naming a bad objective, constraint, ``over`` or ``top_k``.

    Notes
    -----
    A dask-backed result is reduced chunk by chunk by the kernels; then the reported outputs
    are gathered at the winners (a second pass over the graph) and the returned, small
    result is in memory.
    """
    import xarray as xr

    ds = result.dataset
    over = _over(result.dims, over)
    keep = [d for d in result.dims if d not in over]
    if not isinstance(minimize, (bool, np.bool_)):
        raise ValueError(
            f"minimize={minimize!r} is not allowed; minimize must be True (smallest objective) or False (largest)"
        )
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or isinstance(top_k, bool) or top_k < 1):
        raise ValueError(f"top_k={top_k!r} is not allowed; top_k must be a whole number >= 1 (or None)")
    values = _objective_values(ds, objective)
    checks, named = _constraint_masks(ds, constraints)
    order = keep + over
    full_values = _full(values if values.dtype == np.float64 else values.astype(float), ds, order)
    mask = _combine(checks)
    full_mask = None if mask is None else _full(mask, ds, order)
    if full_mask is not None:
        full_values, full_mask = xr.unify_chunks(full_values, full_mask)
    axis = tuple(range(len(keep), len(order)))

    if top_k is None:
        index, best, n_valid = reduce.masked_argmax(
            full_values.data, None if full_mask is None else full_mask.data, axis=axis, minimize=minimize
        )
    else:
        index, best = reduce.top_k(
            full_values.data, int(top_k), None if full_mask is None else full_mask.data, axis=axis, minimize=minimize
        )
        valid = ~np.isnan(full_values) if full_mask is None else full_mask & ~np.isnan(full_values)
        n_valid = valid.sum(over).transpose(*keep).data
    index, best, n_valid = _compute(index, best, n_valid)

    point_dims = keep + ([] if top_k is None else ["rank"])
    found = xr.DataArray(index >= 0, dims=point_dims)
    positions = np.unravel_index(np.where(index >= 0, index, 0), [ds.sizes[d] for d in over])
    at = {d: xr.DataArray(pos, dims=point_dims) for d, pos in zip(over, positions)}

    out = {}
    for dim in over:
        out[f"best_{dim}"] = _labels(ds[dim], at[dim], found, dim)
    reported = [
        name
        for name in dict.fromkeys([objective, *named, *_coords_along(ds, over)])
        if name not in ("feasible", "objective") and (name in ds.data_vars or (name not in ds.dims and ds[name].ndim))
    ]
    gathered = {name: _at_winner(ds[name], at, found) for name in reported}
    out.update(_compute_dataset(gathered))
    unit = values.attrs.get("units", variable(objective).unit or "1")
    out["objective"] = xr.Variable(
        point_dims,
        best,
        {
            "units": unit,
            "description": f"{'minimum' if minimize else 'maximum'} of {objective} over "
            f"{', '.join(over)} subject to the constraints",
        },
    )
    out["feasible"] = xr.Variable(
        point_dims,
        np.asarray(found.values),
        {"description": "some candidate satisfies every constraint (for top-k: this rank is filled)"},
    )
    out["n_searched"] = xr.Variable(
        (), np.int64(math.prod(ds.sizes[d] for d in over)), {"description": variable("n_searched").description}
    )
    out["n_feasible"] = xr.Variable(
        keep, np.asarray(n_valid, dtype=np.int64), {"description": variable("n_feasible").description}
    )

    coords = {d: ds[d].variable for d in keep}
    coords.update({c: ds[c].variable for c in ds.coords if c not in ds.dims and set(ds[c].dims) <= set(keep)})
    if top_k is not None:
        coords["rank"] = xr.Variable(
            ("rank",), np.arange(1, int(top_k) + 1), {"description": variable("rank").description}
        )
    attrs = {
        "resolver": ds.attrs.get("resolver", ""),
        "dims": point_dims,
        "objective": objective,
        "goal": "minimize" if minimize else "maximize",
        "over": list(over),
        "constraints": [_describe(c) for c in _as_list(constraints)],
    }
    return Result.from_dataset(xr.Dataset(out, coords, attrs))


def pareto(
    result: Result, objective_a: str, objective_b: str, *, minimize=(True, True), constraints=(), over=None
) -> Result:
    """``result`` plus ``on_front`` (the 2-objective Pareto front) and ``meets_constraints``.

    The front is computed separately for every point of the dimensions not in ``over``
    (default: one front over the whole grid). A point is on the front when it satisfies the
    constraints, has no NaN objective, and no other such point of its slice is at least as good
    in both objectives and strictly better in one (``minimize`` gives the direction of each).
    ``meets_constraints`` is stored over the dimensions the constraints use. Raises
    ``ValueError`` naming a bad objective, constraint or ``over``.
    """
    import xarray as xr

    if (
        not isinstance(minimize, (tuple, list))
        or len(minimize) != 2
        or not all(isinstance(m, (bool, np.bool_)) for m in minimize)
    ):
        raise ValueError(
            f"minimize={minimize!r} is not allowed; give two booleans, one per objective (True: smaller is better)"
        )
    ds = result.dataset
    over = _over(result.dims, over)
    keep = [d for d in result.dims if d not in over]
    order = keep + over
    a = _full(_objective_values(ds, objective_a).astype(float), ds, order)
    b = _full(_objective_values(ds, objective_b).astype(float), ds, order)
    checks, _ = _constraint_masks(ds, constraints)
    mask = _combine(checks)
    full_mask = None if mask is None else _full(mask, ds, order)
    arrays = xr.unify_chunks(a, b) if full_mask is None else xr.unify_chunks(a, b, full_mask)
    front = reduce.pareto_front_along(
        arrays[0].data,
        arrays[1].data,
        None if full_mask is None else arrays[2].data,
        tuple(range(len(keep), len(order))),
        tuple(bool(m) for m in minimize),
    )
    on_front = xr.DataArray(front, dims=order).transpose(*result.dims)
    met = xr.DataArray(True) if mask is None else mask.transpose(*[d for d in result.dims if d in mask.dims])
    out = ds.assign(
        on_front=xr.Variable(on_front.dims, on_front.data, {"description": variable("on_front").description}),
        meets_constraints=xr.Variable(met.dims, met.data, {"description": variable("meets_constraints").description}),
    )
    out.attrs = {
        **ds.attrs,
        "pareto": [objective_a, objective_b],
        "over": list(over),
        "constraints": [_describe(c) for c in _as_list(constraints)],
    }
    return Result.from_dataset(out)


# ---- helpers ---------------------------------------------------------------------------------------


def _as_list(constraints) -> list:
    if isinstance(constraints, str) or _is_dataarray(constraints):
        return [constraints]
    return list(constraints or ())


def _is_dataarray(value) -> bool:
    return type(value).__name__ == "DataArray" and hasattr(value, "dims")


def _describe(constraint) -> str:
    if isinstance(constraint, str):
        return constraint.strip()
    return f"<mask over ({', '.join(constraint.dims)})>"


def _names(ds) -> str:
    outputs = ", ".join(ds.data_vars)
    inputs = ", ".join(ds.coords)
    return f"outputs: {outputs}; inputs: {inputs}"


def _over(dims, over) -> list[str]:
    dims = list(dims)
    if not dims:
        raise ValueError("the result has no dimensions: there is nothing to search over")
    if over is None:
        return dims
    chosen = [over] if isinstance(over, str) else list(over)
    bad = [d for d in chosen if d not in dims]
    if bad or not chosen or len(set(chosen)) != len(chosen):
        what = (
            f"names {bad[0]!r}, which is not a dimension of the result"
            if bad
            else "is empty"
            if not chosen
            else "repeats a dimension"
        )
        raise ValueError(f"over={over!r} {what}; over takes one or more of the dimensions: {', '.join(dims)}")
    return chosen


def _objective_values(ds, name):
    """The objective as a DataArray (an output or input coordinate; numeric or boolean)."""
    if not isinstance(name, str) or name not in ds.variables:
        raise ValueError(f"objective={name!r} names no output or input of the result; {_names(ds)}")
    da = ds[name]
    if _kind(ds, name) != "number" and da.dtype != bool:
        raise ValueError(
            f"objective={name!r} is not numeric ({_kind(ds, name)}); the objective must be a numeric output or input"
        )
    return da


def _kind(ds, name) -> str:
    """'category', 'bool', 'number' or 'label' (text and record values)."""
    da = ds[name]
    if variable(name).kind == "category" and "flag_values" in da.attrs:
        return "category"
    if da.dtype == bool:
        return "bool"
    if da.dtype.kind in "fiu":
        return "number"
    return "label"


def _constraint_masks(ds, constraints):
    """(list of boolean DataArrays, names of the outputs the string constraints use)."""
    masks, names = [], []
    for item in _as_list(constraints):
        if _is_dataarray(item):
            masks.append(_mask_array(ds, item))
            continue
        parsed = parse_constraint(item)
        masks.append(_evaluate(ds, parsed))
        if parsed.name not in names:
            names.append(parsed.name)
    return masks, names


def _mask_array(ds, mask):
    if mask.dtype != bool:
        raise ValueError(f"constraint mask {_describe(mask)} has dtype {mask.dtype}; a mask must be boolean")
    for dim in mask.dims:
        if dim not in ds.dims:
            raise ValueError(
                f"constraint mask {_describe(mask)} has dimension {dim!r}, which the result does not "
                f"have; dimensions: {', '.join(ds.dims)}"
            )
        if mask.sizes[dim] != ds.sizes[dim] or (
            dim in mask.coords and not np.array_equal(np.asarray(mask[dim].values), np.asarray(ds[dim].values))
        ):
            raise ValueError(
                f"constraint mask {_describe(mask)}: its coordinates along {dim!r} differ from the "
                f"result's ({ds.sizes[dim]} values)"
            )
    return mask.drop_vars([c for c in mask.coords])


def _evaluate(ds, c: Constraint):
    """The boolean DataArray of one parsed constraint."""
    if c.name not in ds.variables:
        raise ValueError(
            f"constraint {c.text!r} names {c.name!r}, which is no output or input of the result; "
            f"{_names(ds)}; a constraint is {_GRAMMAR}"
        )
    da = ds[c.name]
    kind = _kind(ds, c.name)
    if c.op is None:
        if kind != "bool":
            raise ValueError(
                f"constraint {c.text!r}: {c.name!r} is {kind}, not boolean; compare it instead, e.g. "
                f"'{c.name} {'<= 1' if kind == 'number' else '== <label>'}'"
            )
        return ~da if c.negate else da
    compare = _COMPARE_OPS[c.op]
    if kind == "number":
        return compare(da, _number(c, da))
    if c.op not in ("==", "!="):
        raise ValueError(f"constraint {c.text!r}: {c.name!r} is {kind}; it compares only with == or !=")
    label = c.value[1:-1] if len(c.value) > 1 and c.value[0] == c.value[-1] and c.value[0] in "'\"" else c.value
    if kind == "bool":
        if label.lower() not in ("true", "false"):
            raise ValueError(f"constraint {c.text!r}: {c.name!r} is boolean; compare it with true or false")
        return compare(da, label.lower() == "true")
    if kind == "category":
        categories = list(variable(c.name).categories)
        folded = [x.lower() for x in categories]
        if label not in categories and label.lower() not in folded:
            raise ValueError(
                f"constraint {c.text!r}: {label!r} is not a {c.name} label; labels: {', '.join(categories)}"
            )
        code = categories.index(label) if label in categories else folded.index(label.lower())
        return compare(da, code)
    present = [str(v) for v in np.unique(np.asarray(da.values, dtype=object).astype(str))]
    if label not in present:
        raise ValueError(
            f"constraint {c.text!r}: {label!r} is not a value of {c.name}; values in the result: {', '.join(present)}"
        )
    return compare(da.astype(str), label)


def _number(c: Constraint, da) -> float:
    """The constraint's value in the canonical unit of ``da``."""
    match = _NUMBER.match(c.value)
    if not match:
        raise ValueError(
            f"constraint {c.text!r}: {c.name!r} is numeric; the value must be a number with an "
            f"optional unit, e.g. '{c.name} {c.op} 50 ms'"
        )
    number, unit = float(match.group(1)), match.group(2).strip()
    canonical = da.attrs.get("units", variable(c.name).unit or "1")
    canonical = "" if canonical == "1" else canonical
    if not unit:
        if number != 0.0 and canonical and not ureg.parse_units(canonical).dimensionless:
            shown = variable(c.name).display or canonical
            raise ValueError(
                f"constraint {c.text!r}: {c.name} has a unit [{canonical}] (shown in {shown}); a bare number "
                f"is ambiguous, write the unit, e.g. '{c.name} {c.op} {match.group(1)} {shown}'"
            )
        return number
    if unit.startswith("/"):  # '1e3 / s' reads as 1e3 (1 / s)
        unit = f"1 {unit}"
    try:
        return float(ureg.Quantity(number, ureg.parse_units(unit)).to(canonical).magnitude)
    except Exception as error:  # pint: undefined unit, bad syntax, dimensionality mismatch
        raise ValueError(
            f"constraint {c.text!r}: cannot read {unit!r} as a unit of {c.name} "
            f"[{canonical or 'dimensionless'}] ({type(error).__name__}: {error})"
        ) from None


def _combine(masks):
    combined = None
    for mask in masks:
        combined = mask if combined is None else combined & mask
    return combined


def _full(da, ds, order):
    """``da`` broadcast to every dimension of ``order`` (as a view), in that order."""
    missing = {d: ds.sizes[d] for d in order if d not in da.dims}
    if missing:
        da = da.expand_dims(missing)
    return da.drop_vars(list(da.coords)).transpose(*order)


def _compute(*arrays):
    """numpy versions of (possibly dask) arrays, evaluated in one pass."""
    if any(hasattr(a, "dask") for a in arrays):
        import dask

        arrays = dask.compute(*arrays)
    return tuple(np.asarray(a) for a in arrays)


def _compute_dataset(variables: dict) -> dict:
    """xarray Variables of (possibly dask-backed) DataArrays, evaluated in one pass."""
    import xarray as xr

    if not variables:
        return {}
    ds = xr.Dataset(variables).compute()
    return {name: ds[name].variable for name in variables}


def _coords_along(ds, over) -> list[str]:
    """Non-dimension coordinates that vary along a searched dimension (e.g. tp_size zipped
    along a ``config`` dimension): reported at the winner under their own names."""
    return [c for c in ds.coords if c not in ds.dims and set(ds[c].dims) & set(over)]


def _at_winner(da, at: dict, found):
    """``da`` at the winning positions; missing (NaN / False / code 0) where nothing is feasible."""
    import xarray as xr

    picked = da.drop_vars(list(da.coords)).isel({d: i for d, i in at.items() if d in da.dims})
    if picked.dtype.kind == "f":
        picked = picked.where(found)
    else:
        picked = xr.where(found, picked, np.zeros((), dtype=picked.dtype), keep_attrs=False)
    return picked.transpose(*[d for d in found.dims if d in picked.dims]).assign_attrs(da.attrs)


def _labels(coord, at, found, dim):
    """The winning coordinate labels of ``dim``: None (labels) or NaN (numbers, then floats)
    where nothing is feasible."""
    import xarray as xr

    values = np.asarray(coord.values)
    picked = np.array(values[np.asarray(at.values)])
    missing = ~np.asarray(found.values)
    if values.dtype.kind in "fiu":
        if missing.any():
            picked = picked.astype(float)
            picked[missing] = np.nan
    else:
        picked = picked.astype(object)
        picked[missing] = None
    name = f"best_{dim}"
    attrs = {"description": variable(name).description}
    if "units" in coord.attrs and values.dtype.kind == "f":
        attrs["units"] = coord.attrs["units"]
    return xr.Variable(found.dims, picked, attrs)
