"""Calibration: fit a resolver's numeric arguments to measurements.

::

    measured = pd.DataFrame({"model": [...], "hardware": [...], "batch_size": [...],
                             "latency [ms]": [...]})
    fit = ms.calibrate(ms.SingleNodeModel(), measured, fit=["efficiency"])
    fit.values                       # {"efficiency": 0.41}: pass straight back into solve(**...)
    fit.table                        # measured vs predicted, relative error per row
    ms.SingleNodeModel().solve(model=..., hardware=..., **fit.values)

The data frame has one row per measurement: columns named after the resolver's arguments hold
that row's inputs (records, or the names of built-in records), columns named after its outputs
hold the measured values. A unit in square brackets after a column name (``"ttft [ms]"``) says how
its numbers are read; without one they are read in the catalogue's canonical unit (seconds,
bytes, ...). Arguments that are the same for every row go in ``**fixed``.

The fit is a vectorized grid search, refined by zooming: every round evaluates the resolver once
on ``rows × candidates`` (each fitted argument a dimension of ``points`` candidate values; with
``by=`` every group searches its own window), scores each candidate by the sum over rows and
outputs of the squared relative error ``(predicted / measured − 1)²``, keeps the best per group and
narrows each window to the two neighbouring candidates. No Python loop runs over candidate values
or rows; ``rounds`` rounds shrink the window by about ``(2/(points−1))^rounds``. A candidate whose
prediction is missing (NaN, an infeasible point) scores as infinitely bad.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .grid import REQUIRED
from .units import si_factor

__all__ = ["calibrate", "Calibration"]

_COLUMN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(.*)\])?\s*$")
_ROW = "row"
_MAX_POINTS = 5_000_000


@dataclass
class Calibration:
    """What ``calibrate`` found.

    Attributes
    ----------
    values : dict
        Keyword arguments for ``solve``: each fitted argument as a float, or (with ``by`` naming
        one argument of the resolver) an ``xarray.DataArray`` along that argument's dimension,
        so that ``solve(<by>=[...], **values)`` uses each group's value.
    parameters : pandas.DataFrame
        One row per group (a single row without ``by``): the group labels, each fitted value,
        the number of measurements and the group's mean and maximum absolute relative error.
    table : pandas.DataFrame
        One row per measurement: its inputs, then for each fitted output the measured value, the
        prediction (both in the unit the data gave) and the signed relative error
        ``predicted / measured − 1``.
    outputs : list of str
        The outputs that were fitted.
    """

    values: dict
    parameters: object
    table: object
    outputs: list = field(default_factory=list)

    @property
    def mean_error(self) -> float:
        """Mean absolute relative error over every fitted measurement."""
        return float(np.nanmean(np.abs(self._errors())))

    @property
    def max_error(self) -> float:
        """Largest absolute relative error over every fitted measurement."""
        return float(np.nanmax(np.abs(self._errors())))

    def _errors(self) -> np.ndarray:
        return np.concatenate([self.table[f"{o} error"].to_numpy(dtype=float) for o in self.outputs])


def calibrate(
    resolver,
    data,
    fit,
    outputs=None,
    *,
    by=None,
    bounds: dict | None = None,
    points: int | None = None,
    rounds: int = 6,
    **fixed,
) -> Calibration:
    """Fit numeric arguments of ``resolver`` so that its outputs match measured ``data``.

    Parameters
    ----------
    resolver : Resolver or Resolver subclass
        The model to calibrate (``ms.ServingModel()`` or ``ms.ServingModel``).
    data : pandas.DataFrame
        One row per measurement; columns named after arguments (inputs) and outputs (measured
        values), optionally with a unit in brackets: ``"itl [ms]"``.
    fit : str or sequence of str
        The numeric arguments to fit (for example ``"efficiency"``).
    outputs : str or sequence of str, optional
        The measured outputs to match (default: every column named after an output).
    by : str or sequence of str, optional
        Columns to group by: each group gets its own fitted values.
    bounds : dict, optional
        ``{name: (low, high)}`` search window of a fitted argument, in the argument's declared
        unit; default: the argument's own allowed range, which must then be finite.
    points : int, optional
        Candidates per fitted argument and round (default: about 4,096 candidates in all).
    rounds : int
        Zoom rounds (default 6).
    **fixed
        Scalar arguments shared by every row.

    Returns
    -------
    Calibration
        The fitted values (``.values`` go straight back into ``solve``), the per-group
        parameters and the measured-vs-predicted table.
    """
    import pandas as pd
    import xarray as xr

    solver = resolver() if isinstance(resolver, type) else resolver
    name = type(solver).__name__
    args = solver.arguments()
    fit = [fit] if isinstance(fit, str) else list(fit)
    by = [] if by is None else ([by] if isinstance(by, str) else list(by))
    bounds = dict(bounds or {})
    if not isinstance(data, pd.DataFrame) or data.empty:
        raise ValueError("data must be a non-empty pandas DataFrame (one row per measurement)")
    if not fit:
        raise ValueError("fit names no argument; give the numeric arguments to fit, e.g. fit=['efficiency']")
    for p in fit:
        if p not in args or args[p].kind not in ("number", "integer"):
            numeric = [a for a, spec in args.items() if spec.kind == "number"]
            raise ValueError(f"fit={p!r} is not a numeric argument of {name}; numeric arguments: {', '.join(numeric)}")
        if p in fixed:
            raise ValueError(f"{p!r} is both fitted and fixed")
    unknown_bounds = set(bounds) - set(fit)
    if unknown_bounds:
        raise ValueError(f"bounds names {sorted(unknown_bounds)}, which are not fitted ({fit})")
    for key, value in fixed.items():
        if key not in args:
            raise TypeError(f"{name}.solve() has no argument {key!r}; accepted: {', '.join(args)}")
        if isinstance(value, (list, tuple, np.ndarray)) or hasattr(value, "dims"):
            raise ValueError(f"fixed argument {key}={value!r} must be a scalar (per-row values go in data)")

    columns = {}
    for column in data.columns:
        match = _COLUMN.match(str(column))
        if not match:
            raise ValueError(f"data column {column!r} is not 'name' or 'name [unit]'")
        columns[match.group(1)] = (column, match.group(2))
    probe = solver.solve(**_probe_inputs(solver, data, columns, fixed, fit, bounds, args))
    known_outputs = set(probe.outputs)
    if outputs is None:
        outputs = [c for c in columns if c in known_outputs]
    else:
        outputs = [outputs] if isinstance(outputs, str) else list(outputs)
    if not outputs:
        raise ValueError(
            f"data has no column named after an output of {name}; columns: {list(data.columns)}; "
            f"outputs: {', '.join(sorted(known_outputs))}"
        )
    for o in outputs:
        if o not in known_outputs:
            raise ValueError(f"outputs={o!r} is not an output of {name}; outputs: {', '.join(sorted(known_outputs))}")
        if o not in columns:
            raise ValueError(f"outputs={o!r} has no column in data")
    for g in by:
        if g not in columns:
            raise ValueError(f"by={g!r} is not a column of data")
    inputs = [c for c in columns if c in args and c not in fit]
    clash = set(inputs) & set(fixed)
    if clash:
        raise ValueError(f"{sorted(clash)} given both as data columns and as fixed arguments")

    rows = len(data)
    row_inputs = {c: _row_values(args[c], data[columns[c][0]], columns[c][1], name) for c in inputs}
    measured = {}
    for o in outputs:
        column, unit = columns[o]
        factor = si_factor(unit)[0] if unit else 1.0
        values = data[column].to_numpy(dtype=float) * factor
        if np.any(values[np.isfinite(values)] == 0.0):
            raise ValueError(f"{column}: a measured value of 0 has no relative error; drop or correct that row")
        measured[o] = xr.DataArray(values, dims=_ROW)

    group_codes, group_frame = _groups(data, by, columns)
    n_groups = len(group_frame)
    n = points or max(3, int(round(4096 ** (1.0 / len(fit)))))
    if n < 3:
        raise ValueError(f"points={n} is too few; give at least 3")
    if rows * n ** len(fit) > _MAX_POINTS:
        raise ValueError(
            f"{rows} rows × {n}^{len(fit)} candidates = {rows * n ** len(fit):,} points per round exceeds "
            f"{_MAX_POINTS:,}; give fewer points or fewer rows"
        )
    windows = {p: np.tile(_window(args[p], bounds.get(p)), (n_groups, 1)) for p in fit}
    best = {}
    for _ in range(max(1, rounds)):
        candidates = {p: _candidates(windows[p], n, args[p]) for p in fit}  # (groups, n)
        kwargs = {c: row_inputs[c] for c in inputs}
        for i, p in enumerate(fit):
            kwargs[p] = xr.DataArray(candidates[p][group_codes], dims=(_ROW, f"_fit{i}"))
        ds = solver.solve(**kwargs, **fixed).dataset
        loss = 0.0
        for o in outputs:
            err = (ds[o] / measured[o] - 1.0) ** 2
            err = err.where(np.isfinite(measured[o]), 0.0)
            loss = loss + err.fillna(np.inf)
        loss = loss.broadcast_like(xr.DataArray(np.zeros((rows,) + (n,) * len(fit)), dims=(_ROW, *_fit_dims(fit))))
        loss = loss.transpose(_ROW, *_fit_dims(fit)).values.reshape(rows, -1)
        per_group = np.zeros((n_groups, loss.shape[1]))
        np.add.at(per_group, group_codes, loss)
        flat = np.argmin(np.where(np.isnan(per_group), np.inf, per_group), axis=1)
        index = np.unravel_index(flat, (n,) * len(fit))
        for i, p in enumerate(fit):
            k = index[i]
            grid = candidates[p]
            best[p] = grid[np.arange(n_groups), k]
            lo = grid[np.arange(n_groups), np.maximum(k - 1, 0)]
            hi = grid[np.arange(n_groups), np.minimum(k + 1, n - 1)]
            windows[p] = np.stack([lo, hi], axis=1)

    # ---- predictions at the fitted values, and the report
    kwargs = {c: row_inputs[c] for c in inputs}
    for p in fit:
        kwargs[p] = xr.DataArray(_declared(args[p], best[p])[group_codes], dims=_ROW)
    ds = solver.solve(**kwargs, **fixed).dataset
    table = data[[columns[c][0] for c in columns if c not in outputs]].reset_index(drop=True).copy()
    for o in outputs:
        column, unit = columns[o]
        factor = si_factor(unit)[0] if unit else 1.0
        predicted = np.broadcast_to(ds[o].values, (rows,)) if ds[o].ndim else np.full(rows, float(ds[o]))
        table[f"{o} measured"] = measured[o].values / factor
        table[f"{o} predicted"] = predicted / factor
        table[f"{o} error"] = predicted / measured[o].values - 1.0
    fitted_declared = {p: _declared(args[p], best[p]) for p in fit}
    parameters = group_frame.copy()
    for p in fit:
        parameters[p] = fitted_declared[p]
    parameters["rows"] = np.bincount(group_codes, minlength=n_groups)
    errors = np.abs(np.stack([table[f"{o} error"].to_numpy(dtype=float) for o in outputs], axis=1))
    parameters["mean_error"] = [float(np.nanmean(errors[group_codes == g])) for g in range(n_groups)]
    parameters["max_error"] = [float(np.nanmax(errors[group_codes == g])) for g in range(n_groups)]
    values = _solve_values(fit, fitted_declared, by, group_frame, args)
    return Calibration(values=values, parameters=parameters, table=table, outputs=outputs)


# ---- helpers -------------------------------------------------------------------------------------


def _fit_dims(fit) -> list[str]:
    return [f"_fit{i}" for i in range(len(fit))]


def _window(arg, given) -> np.ndarray:
    """Search window of a fitted argument, in SI: the user's bounds or the argument's range."""
    if given is not None:
        lo, hi = (float(v) for v in given)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"bounds[{arg.name!r}]={given!r} must be two finite numbers, low < high")
        for v in (lo, hi):
            _check_in_range(arg, v)
    else:
        if arg.low is None or arg.high is None:
            raise ValueError(
                f"{arg.name} has no finite allowed range ({arg.allowed()}); give bounds={{{arg.name!r}: (low, high)}}"
            )
        lo, hi = float(arg.low), float(arg.high)
        span = hi - lo
        if arg.low_open:
            lo += 1e-6 * span
        if arg.high_open:
            hi -= 1e-6 * span
    factor = si_factor(arg.unit)[0] if arg.unit else 1.0
    return np.array([lo * factor, hi * factor])


def _check_in_range(arg, value):
    if arg.low is not None and (value < arg.low or (arg.low_open and value == arg.low)):
        raise ValueError(f"bounds of {arg.name}: {value:g} is outside its allowed range ({arg.allowed()})")
    if arg.high is not None and (value > arg.high or (arg.high_open and value == arg.high)):
        raise ValueError(f"bounds of {arg.name}: {value:g} is outside its allowed range ({arg.allowed()})")


def _candidates(window: np.ndarray, n: int, arg) -> np.ndarray:
    """``n`` candidates per group spread evenly over each window [SI], in the declared unit."""
    lo, hi = window[:, :1], window[:, 1:]
    t = np.linspace(0.0, 1.0, n)[None, :]
    ratio = np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), 0.0)
    geometric = (lo > 0) & (ratio > 100.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_grid = lo * np.power(np.where(geometric, ratio, 1.0), t)
    values = np.where(geometric, log_grid, lo + (hi - lo) * t)
    return _declared(arg, values)


def _declared(arg, si_values):
    """SI values back in the argument's declared unit (what ``solve`` reads plain numbers in)."""
    factor = si_factor(arg.unit)[0] if arg.unit else 1.0
    return np.asarray(si_values, dtype=float) / factor


def _row_values(arg, series, unit, resolver):
    import xarray as xr

    values = series.to_numpy()
    if arg.kind == "record":
        return xr.DataArray(_records(arg, values, resolver), dims=_ROW)
    if arg.kind in ("number", "integer"):
        values = values.astype(float)
        return xr.DataArray(values, dims=_ROW, attrs={"units": unit} if unit else {})
    return xr.DataArray(values, dims=_ROW)


def _records(arg, values, resolver) -> np.ndarray:
    """Record objects of a column holding records or the names/keys of built-in records."""
    from . import registry

    out = np.empty(len(values), dtype=object)
    lookup = None
    for i, value in enumerate(values):  # one entry per measurement row (a data table, not a grid)
        if isinstance(value, arg.types):
            out[i] = value
            continue
        if lookup is None:
            lookup = {}
            for reg in (registry.Hardware, registry.Models, registry.Systems, registry.Infra):
                for family in reg.families().values():
                    for key in family.keys():
                        record = getattr(family, key)
                        if isinstance(record, arg.types):
                            lookup.setdefault(key, record)
                            lookup.setdefault(getattr(record, "name", key), record)
        if value not in lookup:
            raise ValueError(f"{resolver}: {arg.name}={value!r} is not a record nor the name of a built-in one")
        out[i] = lookup[value]
    return out


def _groups(data, by, columns):
    import pandas as pd

    if not by:
        return np.zeros(len(data), dtype=np.int64), pd.DataFrame(index=[0])
    labels = data[[columns[g][0] for g in by]].map(lambda v: getattr(v, "name", v))
    labels.columns = by
    codes = labels.groupby(by, sort=False, dropna=False).ngroup().to_numpy(dtype=np.int64)
    frame = labels.drop_duplicates().reset_index(drop=True)
    return codes, frame


def _probe_inputs(solver, data, columns, fixed, fit, bounds, args) -> dict:
    """One scalar call's arguments (the first row, mid-window fitted values) to list the outputs."""
    kwargs = dict(fixed)
    for c, (column, unit) in columns.items():
        if c in args and c not in fit and c not in fixed:
            kwargs[c] = _row_values(args[c], data[column].iloc[:1], unit, type(solver).__name__)[0].item()
            if unit and args[c].kind in ("number", "integer"):
                from .units import Q_

                kwargs[c] = Q_(float(kwargs[c]), unit)
    for p in fit:
        window = _window(args[p], bounds.get(p))
        kwargs[p] = float(_declared(args[p], window.mean()))
    for a in args.values():
        if a.name not in kwargs and a.default is REQUIRED:
            raise ValueError(f"{type(solver).__name__} needs {a.name!r}: give it as a data column or a fixed argument")
    return kwargs


def _solve_values(fit, fitted, by, group_frame, args) -> dict:
    import xarray as xr

    if not by:
        return {p: float(fitted[p][0]) for p in fit}
    if len(by) == 1 and by[0] in args:
        dim = by[0]
        labels = np.asarray(group_frame[dim].to_numpy(), dtype=object)
        return {p: xr.DataArray(fitted[p], dims=dim, coords={dim: labels}) for p in fit}
    return {p: xr.DataArray(fitted[p], dims="group") for p in fit}
