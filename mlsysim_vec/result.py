"""``Result``: what every resolver returns, for one point or a whole grid.

* Every argument scalar (0-d): attributes are Python scalars, strings and pint Quantities,
  exactly what the user guides' code expects (``p.bottleneck``, ``p.latency.to("ms")``,
  ``p.mfu``).
* Otherwise: attributes are DataArrays over the grid dimensions — pint-quantified for
  dimensional outputs, strings for categorical ones, plain floats/bools otherwise.
* ``.dataset`` is the xarray Dataset of plain floats (units in ``attrs["units"]``,
  categorical codes with CF ``flag_values``/``flag_meanings``); ``.sel()`` indexes it;
  ``.to_dataframe()`` gives one tidy row per grid point; ``.to_parquet()`` writes it with
  units and dimensions in the file's metadata, and ``read_parquet`` restores the Dataset.

An output that does not vary along a dimension is stored without it (``peak_flops_actual``
depends on hardware and precision, not on batch size); the DataFrame broadcasts it.

Attribute access also reads the arguments (``r.ep_size``, ``r.accelerator_step_time``: the
values echoed as coordinates) and the field names of mlsysim 0.3.0's results, as
``mlsysim_vec.variables.reference`` maps them (``r.tco_usd`` is ``tco`` as a float in USD,
``r.sensitivities["memory_bandwidth"]`` a dict entry); the Dataset holds our names only.
"""

from __future__ import annotations

import math

import numpy as np

from .units import Q_, conversion_factor, quantity
from .variables import variable
from .variables.reference import OMITTED, REFERENCE_FIELDS, reference_alias

__all__ = ["Result", "read_parquet"]


def _var_dims(array, dims, shape):
    """Squeeze the broadcast axes of a kernel output; return (dims, array)."""
    if np.ndim(array) == 0:
        return (), array
    keep = [i for i, (n, full) in enumerate(zip(array.shape, shape)) if n == full]
    squeeze = tuple(i for i in range(len(shape)) if i not in keep)
    if squeeze:
        array = (
            array.reshape([array.shape[i] for i in keep]) if not hasattr(array, "dask") else array.squeeze(axis=squeeze)
        )
    return tuple(dims[i] for i in keep), array


class Result:
    """The outputs of one ``solve`` call; see the module docstring."""

    def __init__(
        self, resolver: str, dims, coords, variables: dict, scalars: dict | None = None, zipped: dict | None = None
    ):
        self._resolver = resolver
        self._dims = tuple(dims)
        self._coords = dict(coords)
        self._vars = dict(variables)  # name -> (dims, array)
        self._echo = (dict(scalars or {}), dict(zipped or {}))
        self._grid = None
        self._dataset = None

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, resolver: str, grid, outputs: dict) -> Result:
        """Build from kernel outputs laid out on ``grid`` (broadcastable arrays).

        The arguments echoed as coordinates (``grid.scalars()``, ``grid.zipped()``) are read from
        ``grid`` when the Dataset is first built, not here: a scalar call that only reads a few
        outputs never pays for them.
        """
        out = cls.__new__(cls)
        out._resolver = resolver
        out._dims = tuple(grid.dims)
        out._coords = dict(grid.coords)
        out._grid = grid
        out._echo = None
        out._dataset = None
        if not out._dims:  # every argument scalar: every output 0-d, kept as the kernel returned it
            out._vars = {name: ((), array) for name, array in outputs.items()}
            return out
        shape = grid.shape
        variables = {}
        for name, array in outputs.items():
            if not hasattr(array, "dask"):
                array = np.asarray(array)
            if np.ndim(array) and np.ndim(array) < len(shape):
                array = array.reshape((1,) * (len(shape) - np.ndim(array)) + array.shape)
            variables[name] = _var_dims(array, grid.dims, shape)
        out._vars = variables
        return out

    def _echoed(self) -> tuple[dict, dict]:
        """(scalar arguments, zipped arguments) echoed as coordinates."""
        if self._echo is None:
            self._echo = (self._grid.scalars(), self._grid.zipped())
            self._grid = None
        return self._echo

    @classmethod
    def from_dataset(cls, ds, resolver: str | None = None) -> Result:
        """Wrap a Dataset produced by ``Result.dataset`` (after ``sel``, or read from parquet)."""
        dims = tuple(d for d in ds.attrs.get("dims", ()) if d in ds.dims) or tuple(ds.dims)
        coords = {d: ds[d].values for d in dims}
        variables = {name: (tuple(da.dims), da.data) for name, da in ds.data_vars.items()}
        scalars = {name: ds.coords[name].values.item() for name in ds.coords if ds.coords[name].ndim == 0}
        zipped = {
            name: (tuple(ds.coords[name].dims), ds.coords[name].data)
            for name in ds.coords
            if ds.coords[name].ndim > 0 and name not in ds.dims
        }
        out = cls(resolver or ds.attrs.get("resolver", ""), dims, coords, variables, scalars, zipped)
        out._dataset = ds
        return out

    # ---- access -------------------------------------------------------------------------
    @property
    def dims(self) -> tuple[str, ...]:
        """Grid dimensions, in order."""
        return self._dims

    @property
    def outputs(self) -> list[str]:
        return list(self._vars)

    @property
    def is_scalar(self) -> bool:
        return not self._dims

    def __dir__(self):
        scalars, zipped = self._echoed()
        extra = [*self._dims, *scalars, *zipped, *REFERENCE_FIELDS.get(self._resolver, ())]
        return list(super().__dir__()) + self.outputs + [n for n in dict.fromkeys(extra) if n not in self._vars]

    def __getattr__(self, name):
        entry = None if name.startswith("_") else self.__dict__.get("_vars", {}).get(name)
        if entry is None:
            if name.startswith("_"):
                raise AttributeError(name)
            return self._other(name)
        if not self._dims:
            return _scalar(name, entry[1])
        return self._dataarray(name)

    def _other(self, name):
        """A name that is not an output: a field of mlsysim 0.3.0's result (``reference_alias``)
        or an argument echoed as a coordinate."""
        alias = reference_alias(self._resolver, name)
        value = self._argument(name) if alias is None else self._alias(alias)
        if value is not _MISSING:
            return value
        omitted = OMITTED.get(self._resolver, {}).get(name)
        if omitted:
            raise AttributeError(f"{self._resolver} result has no {name!r} (mlsysim 0.3.0's field: {omitted})")
        raise AttributeError(f"{self._resolver} result has no output {name!r}; outputs: {', '.join(self._vars)}")

    def _read(self, name):
        """The output or echoed argument ``name`` (``_MISSING`` when the result has neither)."""
        return self.__getattr__(name) if name in self._vars else self._argument(name)

    def _argument(self, name):
        """The argument ``name`` as echoed: a scalar (Quantity in its display unit, string, bool)
        for a scalar result, its coordinate DataArray on a grid."""
        if self._dims:
            if name not in self.dataset.coords:
                return _MISSING
            da, var = self.dataset[name], variable(name)
            if var.kind != "float" or not var.unit:
                return da
            import xarray as xr  # a new DataArray: an index coordinate cannot hold a Quantity

            _register_pint_accessor()
            data = Q_(np.asarray(da.values), var.unit)
            return xr.DataArray(data, coords=da.coords, dims=da.dims, name=name, attrs=dict(da.attrs))
        scalars, _ = self._echoed()
        if name not in scalars:
            return _MISSING
        value = scalars[name]
        return value if isinstance(value, (str, bool, np.bool_)) else _scalar(name, value)

    def _alias(self, alias):
        """The value of a reference field (see ``variables.reference.Alias``)."""
        if alias.fields:
            values = {key: self._read(target) for key, target in alias.fields}
            return _MISSING if any(v is _MISSING for v in values.values()) else _Fields(values)
        if not alias.target:
            value = alias.constant
            return quantity(float(value), alias.unit) if alias.unit and value is not None else value
        for target in alias.target:
            value = self._read(target)
            if value is not _MISSING:
                return _convert(value, alias.unit, alias.magnitude)
        return _MISSING

    def __getitem__(self, name):
        return self.__getattr__(name)

    def _dataarray(self, name):
        da = self.dataset[name]
        var = variable(name)
        if var.kind == "category":
            cats = np.array(var.categories, dtype=object)
            out = da.copy(data=cats[np.asarray(da.values, dtype=int)])
            out.attrs = {"description": var.description}
            return out
        if var.kind == "float" and var.unit:
            _register_pint_accessor()
            return da.copy(data=Q_(da.data, var.unit))
        return da

    @property
    def dataset(self):
        """The outputs as an xarray Dataset of plain floats (units in attrs)."""
        if self._dataset is None:
            import xarray as xr

            data_vars = {
                name: xr.Variable(dims, _array(array), _attrs(name)) for name, (dims, array) in self._vars.items()
            }
            coords = {d: xr.Variable((d,), self._coords[d], _coord_attrs(d)) for d in self._dims}
            scalars, zipped = self._echoed()
            for name, value in scalars.items():
                coords[name] = xr.Variable((), value, _coord_attrs(name))
            for name, (dims, values) in zipped.items():
                coords[name] = xr.Variable(dims, values, _coord_attrs(name))
            self._dataset = xr.Dataset(data_vars, coords, attrs={"resolver": self._resolver, "dims": list(self._dims)})
        return self._dataset

    def sel(self, **indexers) -> Result:
        """Select by coordinate labels; records may be given as records or names."""
        clean = {}
        for dim, label in indexers.items():
            clean[dim] = _label(label)
        return Result.from_dataset(self.dataset.sel(**clean), self._resolver)

    def isel(self, **indexers) -> Result:
        return Result.from_dataset(self.dataset.isel(**indexers), self._resolver)

    def compute(self) -> Result:
        """Evaluate a dask-backed (chunked) result into memory."""
        return Result.from_dataset(self.dataset.compute(), self._resolver)

    # ---- export -------------------------------------------------------------------------
    def to_dataframe(self):
        """One row per grid point; a column per input (dimension or fixed argument) and output.

        Categorical outputs and record/string coordinates are pandas categoricals.
        """
        return _frame(self.dataset)

    def to_parquet(self, path, **options) -> str:
        """Write the result as parquet, chunk by chunk, safely: see ``mlsysim_vec.io.write_parquet``
        (``partition_on``, ``row_group_size``, ``unit_suffix``, ``progress``, ``constant_columns``,
        ``compression``). ``read_parquet`` restores the Dataset, units included."""
        from .io import write_parquet

        return write_parquet(self, path, **options)

    def __repr__(self):
        if not self._dims:
            body = ", ".join(f"{k}={_scalar(k, a)!s}" for k, (_, a) in list(self._vars.items())[:6])
            return f"<{self._resolver} result: {body}, ...>"
        shape = " × ".join(f"{d}: {len(self._coords[d])}" for d in self._dims)
        return f"<{self._resolver} result over {shape}; outputs: {', '.join(self._vars)}>"


#: What ``Result._read`` returns for a name the result does not have.
_MISSING = type("_Missing", (), {"__repr__": lambda self: "<missing>"})()


class _Fields(dict):
    """A mapping field of a reference result (``r.sensitivities["peak_flops"]``); its keys also
    read as attributes (``r.node_profile.latency``)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"no field {key!r}; fields: {', '.join(self)}") from None


def _convert(value, unit: str, magnitude: bool):
    """``value`` (a scalar or a DataArray; a Quantity, or a plain number when dimensionless) in
    ``unit``, as the plain number when ``magnitude``."""
    if not unit or value is None:
        return value
    grid = hasattr(value, "dims")
    data = value.data if grid else value
    q = (data if hasattr(data, "to") else Q_(data, "")).to(unit)
    out = q.magnitude if magnitude else q
    if grid:
        converted = value.copy(data=out)
        converted.attrs["units"] = unit
        return converted
    return float(out) if magnitude else out


def _register_pint_accessor():
    """Import pint-xarray for its ``.pint`` accessor without letting it switch our registry to
    ``force_ndarray_like`` (which would turn every scalar Quantity's magnitude into a 0-d
    array). Our quantified DataArrays wrap ndarray-valued Quantities, which need no such flag."""
    from .units import ureg

    flag = ureg.force_ndarray_like
    import pint_xarray  # noqa: F401

    ureg.force_ndarray_like = flag


def _label(label):
    if isinstance(label, (list, tuple)):
        return [_label(x) for x in label]
    if hasattr(label, "name") and hasattr(label, "si"):
        return label.name
    return label


def _array(array):
    """A kernel output as an array (dask arrays stay lazy)."""
    return array if hasattr(array, "dask") else np.asarray(array)


def _scalar(name, array):
    """The output ``name`` of a scalar call as the user sees it (``_reader``)."""
    var = variable(name)
    hit = _READERS.get(name)
    if hit is None or hit[0] is not var:
        hit = _READERS[name] = (var, _reader(var))
    if hasattr(array, "dask"):
        array = array.compute()
    return hit[1](array.item() if hasattr(array, "item") else array)


#: The reader of each output name, with the catalogue entry it was made from.
_READERS: dict = {}


def _reader(var):
    """A function from one plain value (the kernel's, in the canonical unit) to what a scalar
    result shows: a bool, a category's string, an int, None for a missing optional value, a
    float, or a pint Quantity in the display unit (units parsed once: ``units.quantity``)."""
    kind = var.kind
    if kind == "bool":
        return bool
    if kind == "category":
        categories = var.categories
        return lambda value: categories[code] if (code := int(value)) >= 0 else None  # -1: missing
    if kind in ("text", "record"):
        return lambda value: value
    if kind == "int":

        def whole(value):
            value = float(value)
            return None if math.isnan(value) else int(value)

        return whole
    optional, unit, display = var.optional, var.unit, var.display
    if not unit:
        if optional:
            return lambda value: None if math.isnan(value := float(value)) else value
        return float
    if display and display != unit:
        factor = conversion_factor(unit, display)
        if factor is None:  # not a plain product (never for the catalogue's units): let pint convert

            def shown(value):
                value = float(value)
                return None if optional and math.isnan(value) else Q_(value, unit).to(display)

            return shown
        unit = display  # pint's .to(display) multiplies the magnitude by exactly this factor
    else:
        factor = None

    def measured(value):
        value = float(value)
        if optional and math.isnan(value):
            return None
        return quantity(value if factor is None else value * factor, unit)

    return measured


def _attrs(name):
    var = variable(name)
    attrs = {"description": var.description}
    if var.kind == "category":
        attrs["flag_values"] = list(range(len(var.categories)))
        attrs["flag_meanings"] = " ".join(c.replace(" ", "_") for c in var.categories)
    elif var.kind == "float":
        attrs["units"] = var.unit or "1"
    return attrs


def _coord_attrs(name):
    var = variable(name)
    attrs = {"description": var.description}
    if var.kind == "float":
        attrs["units"] = var.unit or "1"
    return attrs


def _frame(ds):
    import pandas as pd

    flat = ds.copy()
    for name in list(flat.data_vars):
        var = variable(name)
        if var.kind == "category":
            flat[name] = flat[name].astype(np.int8)
    if ds.dims:
        df = flat.to_dataframe().reset_index()
    else:
        df = pd.DataFrame({name: [flat[name].values.item()] for name in list(flat.data_vars) + list(flat.coords)})
    for name in df.columns:
        var = variable(name)
        if name in ds.data_vars and var.kind == "category":
            df[name] = pd.Categorical.from_codes(df[name].astype(int), categories=list(var.categories))
        elif df[name].dtype == object or pd.api.types.is_string_dtype(df[name].dtype):
            order = list(ds[name].values.reshape(-1)) if name in ds.coords else None
            df[name] = pd.Categorical(df[name], categories=order if order and len(set(order)) == len(order) else None)
    dims = list(ds.attrs.get("dims", []))
    zipped = [c for c in ds.coords if ds[c].ndim > 0 and c not in ds.dims]
    order = dims + zipped + [c for c in ds.coords if ds[c].ndim == 0] + list(ds.data_vars)
    return df[[c for c in order if c in df.columns]]


def read_parquet(path, *, columns=None, filters=None, chunks=None) -> Result:
    """Read a file or dataset directory written by ``Result.to_parquet`` back into a ``Result``
    whose Dataset equals the one that was written (values, dims, coordinates, units); only the
    outputs in ``columns``, the points that pass ``filters`` (pyarrow's form), lazily with
    ``chunks``. See ``mlsysim_vec.io.read_dataset``."""
    from .io import read_dataset

    return Result.from_dataset(read_dataset(path, columns=columns, filters=filters, chunks=chunks))
