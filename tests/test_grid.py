"""Tier 2: the grid contract (DESIGN §2) — dimension = keyword, the input-type matrix
(scalar, list, tuple, ndarray, DataArray, Quantity, quantified DataArray, NaN), zipped
dimensions, bad arguments raising before computing, and grid == loop of scalar calls."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

import mlsysim_vec as ms
from mlsysim_vec import ureg

H100, A100 = ms.Hardware.Cloud.H100, ms.Hardware.Cloud.A100
LLAMA8B, RESNET = ms.Models.Language.Llama3_8B, ms.Models.ResNet50
SNM = ms.SingleNodeModel()


def latency_s(result):
    value = result.latency
    if isinstance(value, xr.DataArray):
        return value.pint.to("s").pint.magnitude
    return value.to("s").magnitude


def test_dimension_order_follows_keywords():
    r = SNM.solve(
        model=[RESNET, LLAMA8B], hardware=ms.Hardware.Cloud, batch_size=[1, 8, 64, 512], precision=["fp16", "fp8"]
    )
    assert r.dims == ("model", "hardware", "batch_size", "precision")
    assert r.latency.dims == ("model", "hardware", "batch_size", "precision")
    assert r.latency.shape == (2, len(ms.Hardware.Cloud), 4, 2)
    assert list(r.dataset.hardware.values) == [h.name for h in ms.Hardware.Cloud]
    # an output that does not vary with batch size is stored without that dimension
    assert r.peak_flops_actual.dims == ("hardware", "precision")
    r2 = SNM.solve(batch_size=[1, 8], hardware=[H100, A100], model=RESNET)
    assert r2.dims == ("batch_size", "hardware")


def test_positional_arguments_like_the_reference():
    a = SNM.solve(RESNET, A100, 32)
    b = SNM.solve(model=RESNET, hardware=A100, batch_size=32)
    assert a.latency == b.latency
    with pytest.raises(TypeError, match="multiple values for argument 'model'"):
        SNM.solve(RESNET, model=RESNET, hardware=A100)


@pytest.mark.parametrize(
    "value, dims",
    [
        (8, ()),
        (np.int64(8), ()),
        (8.0, ()),
        (8 * ureg.count, ()),
        ([8], ("batch_size",)),
        ((8,), ("batch_size",)),
        (np.array([8]), ("batch_size",)),
        ([8 * ureg.count], ("batch_size",)),
        (np.array([8]) * ureg.count, ("batch_size",)),
        (xr.DataArray([8], dims="b"), ("b",)),
        (xr.DataArray([8], dims="b", attrs={"units": "count"}), ("b",)),
    ],
)
def test_input_type_matrix(value, dims):
    """Every form of the same value gives the same number; sequences add a dimension."""
    expected = latency_s(SNM.solve(model=LLAMA8B, hardware=H100, batch_size=8))
    r = SNM.solve(model=LLAMA8B, hardware=H100, batch_size=value)
    assert r.dims == dims
    got = latency_s(r)
    assert np.all(np.asarray(got) == expected)


def test_quantified_dataarray_and_unit_conversion():
    seq = xr.DataArray(ureg.Quantity(np.array([1, 2]), "Ktoken"), dims="context")  # a quantified DataArray
    m = ms.TrainingMemoryModel().solve(model=LLAMA8B, hardware=H100, batch_size=8, seq_len=seq)
    direct = ms.TrainingMemoryModel().solve(model=LLAMA8B, hardware=H100, batch_size=8, seq_len=[1000, 2000])
    np.testing.assert_array_equal(m.total_memory.pint.magnitude, direct.total_memory.pint.magnitude)
    with pytest.raises(
        TypeError, match=r"batch_size=.*has units of s .*expected a quantity convertible to a dimensionless"
    ):
        SNM.solve(model=LLAMA8B, hardware=H100, batch_size=8 * ureg.s)


def test_nan_input_propagates_and_other_points_survive():
    r = SNM.solve(model=LLAMA8B, hardware=H100, batch_size=[1, np.nan, 8])
    lat = latency_s(r)
    assert math.isnan(lat[1]) and not np.isnan(lat[[0, 2]]).any()


def test_zip_two_arguments_along_one_dimension():
    """A DataArray keeps its dimension: batch and precision zipped along `config`."""
    batch = xr.DataArray([1, 8, 64], dims="config")
    precision = xr.DataArray(["fp16", "fp8", "int8"], dims="config")
    r = SNM.solve(model=LLAMA8B, hardware=H100, batch_size=batch, precision=precision)
    assert r.dims == ("config",)
    for i, (b, p) in enumerate([(1, "fp16"), (8, "fp8"), (64, "int8")]):
        assert latency_s(r)[i] == latency_s(SNM.solve(model=LLAMA8B, hardware=H100, batch_size=b, precision=p))


def test_dataarray_of_records_and_mismatched_coordinates():
    hw = xr.DataArray(np.array([H100, A100], dtype=object), dims="config")
    r = SNM.solve(model=RESNET, hardware=hw, batch_size=xr.DataArray([1, 32], dims="config"))
    assert latency_s(r)[1] == latency_s(SNM.solve(model=RESNET, hardware=A100, batch_size=32))
    with pytest.raises(ValueError, match="dimension 'config' does not match"):
        SNM.solve(model=RESNET, hardware=hw, batch_size=xr.DataArray([1, 8, 32], dims="config"))


def test_registry_family_and_whole_registry_are_dimensions():
    r = SNM.solve(model=ms.Models.Vision, hardware=ms.Hardware, batch_size=1)
    assert r.dims == ("model", "hardware")
    assert r.latency.shape == (len(ms.Models.Vision), len(ms.Hardware))


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(batch_size=0), ValueError, r"batch_size=0 is not allowed; batch_size must be a whole number >= 1"),
        (dict(batch_size=[1, 2.5]), ValueError, r"batch_size=2.5 is not allowed \(1 of 2 values rejected\)"),
        (dict(batch_size=-3), ValueError, r"batch_size=-3"),
        (
            dict(efficiency=1.5),
            ValueError,
            r"efficiency=1.5 is not allowed; efficiency must be a number >= 1e-09 and <= 1",
        ),
        (dict(efficiency=0), ValueError, r"efficiency=0 is not allowed"),
        (dict(precision="fp12"), ValueError, r"precision='fp12' is not allowed; precision must be one of 'fp32'"),
        (dict(precision=["fp16", "banana"]), ValueError, r"precision='banana'"),
        (dict(is_training="yes"), ValueError, r"is_training='yes' is not allowed; is_training must be True or False"),
        (dict(zero_stage=5), ValueError, r"zero_stage=5"),
        (dict(batch_size="eight"), TypeError, r"batch_size='eight' is not numeric"),
        (dict(batch_size=[]), ValueError, r"batch_size: an empty sequence"),
        (dict(batch_size=np.ones((2, 2))), TypeError, r"batch_size: a 2-d array has no dimension names"),
        (dict(hardware="H100"), TypeError, r"hardware='H100' is a str; hardware must be a HardwareNode record"),
        (
            dict(model=H100),
            TypeError,
            r"model=HardwareNode\('NVIDIA H100'\) is a HardwareNode; model must be a Workload",
        ),
        (dict(hardware=[H100, H100]), ValueError, r"hardware: record names must be unique along a dimension"),
        (
            dict(bacth_size=8),
            TypeError,
            r"unexpected keyword argument 'bacth_size'; accepted: model, hardware, batch_size",
        ),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, error, pattern):
    base = dict(model=LLAMA8B, hardware=H100)
    with pytest.raises(error, match=pattern):
        SNM.solve(**(base | kwargs))


def test_missing_required_argument():
    with pytest.raises(TypeError, match="missing required argument 'hardware'"):
        SNM.solve(model=LLAMA8B)


def test_infeasible_points_do_not_raise():
    """A grid with points that do not fit still evaluates: feasible=False with a reason code."""
    r = SNM.solve(model=ms.Models.Language.Llama3_70B, hardware=[H100, ms.Hardware.Cloud.H200])
    assert list(r.feasible.values) == [False, True]
    assert list(r.infeasible_reason.values) == ["memory_capacity", "none"]
    assert np.isfinite(latency_s(r)).all()


def test_grid_equals_loop_of_scalar_calls():
    """Every output of a 2×4×3×2 grid equals the scalar call at that point."""
    models = [RESNET, LLAMA8B]
    hardware = [H100, A100, ms.Hardware.Cloud.T4, ms.Hardware.Tiny.ESP32_S3]
    batches, precisions = [1, 7, 256], ["fp16", "int8"]
    r = SNM.solve(model=models, hardware=hardware, batch_size=batches, precision=precisions, is_training=[False, True])
    ds = r.dataset
    for i, m in enumerate(models):
        for j, h in enumerate(hardware):
            for k, b in enumerate(batches):
                for p in precisions:
                    for t in (False, True):
                        one = SNM.solve(model=m, hardware=h, batch_size=b, precision=p, is_training=t)
                        point = ds.sel(model=m.name, hardware=h.name, batch_size=b, precision=p, is_training=t)
                        for name in ("latency", "energy", "memory_footprint", "mfu", "throughput"):
                            assert float(point[name]) == pytest.approx(
                                float(one.dataset[name]), rel=1e-15, nan_ok=True
                            ), (m, h, b, p, t, name)
                        assert str(one.bottleneck) == str(
                            r.bottleneck.sel(
                                model=m.name, hardware=h.name, batch_size=b, precision=p, is_training=t
                            ).item()
                        )


# ---------------------------------------------------------------------------- the scalar fast path
# A scalar call validates and converts its arguments in plain Python (no temporary arrays), and a
# long array argument is validated, converted and labelled without Python work per element. Both
# must agree exactly with the general path.


def one_arg_grid(arg, value):
    return ms.grid.build_grid((arg,), {arg.name: value}, "Test")


@pytest.mark.parametrize(
    "arg, value",
    [
        (ms.grid.Arg("x", unit="ms", low=0.0), 50),  # converted by division (1/1000 exactly)
        (ms.grid.Arg("x", unit="1/day", low=0.0), 10.0),
        (ms.grid.Arg("x", unit="GB/s", low=0.0), 2.5),  # converted by multiplication
        (ms.grid.Arg("x", unit="hour", low=0.0), np.float32(0.1)),
        (ms.grid.Arg("x", low=0.0, high=1.0), 0.3),  # no conversion
        (ms.grid.Arg("n", "integer", low=1), np.int64(7)),
        (ms.grid.Arg("x", low=0.0), float("nan")),  # NaN passes, as in arrays
    ],
)
def test_scalar_number_equals_the_general_path(arg, value):
    fast = one_arg_grid(arg, value)
    general = one_arg_grid(arg, np.asarray(value))  # a 0-d array takes the general path
    along = one_arg_grid(arg, np.array([value, value], dtype=float))
    kernel = fast[arg.name]
    assert type(kernel) is np.float64 and type(general[arg.name]) is np.float64
    assert np.array_equal(kernel, general[arg.name], equal_nan=True)
    assert np.array_equal(along[arg.name], [kernel, kernel], equal_nan=True)
    shown = fast.inputs[arg.name].shown
    assert (shown is None) == (general.inputs[arg.name].shown is None)
    assert fast.scalars() == general.scalars() or math.isnan(fast.scalars()[arg.name])


@pytest.mark.parametrize(
    "arg, value, shown, allowed",
    [
        (ms.grid.Arg("x", low=0.0, low_open=True), 0.0, "0", "a number > 0"),
        (ms.grid.Arg("x", high=1.0), 1.5, "1.5", "a number <= 1"),
        (ms.grid.Arg("n", "integer", low=1), 2.5, "2.5", "a whole number >= 1"),
        (ms.grid.Arg("n", "integer", low=1), math.inf, "inf", "a whole number >= 1"),
    ],
)
def test_scalar_number_rejections_read_as_before(arg, value, shown, allowed):
    with pytest.raises(ValueError, match=rf"^{arg.name}={shown} is not allowed; {arg.name} must be {allowed}$"):
        one_arg_grid(arg, value)
    with pytest.raises(ValueError, match=rf"^{arg.name}={shown} is not allowed \(1 of 1 values rejected\)"):
        one_arg_grid(arg, [value])


def test_scalar_number_kernel_values_are_numpy_floats():
    """Every numeric scalar reaches the kernels as ``np.float64`` (converted or not), so their
    scalar arithmetic never runs on 0-d arrays; the echoed scalars keep the declared unit."""
    grid = SNM.grid(model=RESNET, hardware=H100, batch_size=4, efficiency=0.5)
    assert type(grid["batch_size"]) is np.float64 and grid["batch_size"] == 4.0
    assert type(grid["efficiency"]) is np.float64
    assert grid.scalars()["batch_size"] == 4 and type(grid.scalars()["batch_size"]) is int
    tail = ms.TailLatencyModel().grid(arrival_rate_qps=50, service_latency_ms=100)
    assert type(tail["service_latency_ms"]) is np.float64 and tail["service_latency_ms"] == 0.1
    assert tail.scalars()["service_latency_ms"] == 100.0


def test_quantity_conversion_equals_pints():
    """``units.to_magnitude`` converts with a cached factor: the same float as pint's ``.to``."""
    from mlsysim_vec.units import to_magnitude

    for value, unit in [
        (ureg.Quantity(10.0, "day"), "hour"),
        (ureg.Quantity(3, "GB/s"), "byte/s"),
        (ureg.Quantity(np.array([1.0, 2.5]), "ms"), "s"),
        (ureg.Quantity(0.7, "TFLOPs/s"), "flop/s"),
        (ureg.Quantity(12.0, "percent"), ""),
        (ureg.Quantity(5, "s"), "s"),
    ]:
        fast = to_magnitude(value, unit, "x")
        slow = value.to(unit).magnitude if unit else value.to("").magnitude
        assert np.array_equal(fast, slow) and type(fast) is type(slow)
    with pytest.raises(TypeError, match="x=.* has units of .*expected a quantity convertible to s"):
        to_magnitude(ureg.Quantity(1.0, "GB"), "s", "x")
    assert to_magnitude(7.0, "s", "x") == 7.0


def test_list_of_numbers_and_quantities():
    """A list is checked for Quantities once per distinct element type, not per element."""
    tail = ms.TailLatencyModel()
    plain = tail.grid(arrival_rate_qps=50, service_latency_ms=[100.0, 200.0])
    mixed = tail.grid(arrival_rate_qps=50, service_latency_ms=[ureg.Quantity(0.1, "s"), 200.0])
    assert np.array_equal(plain["service_latency_ms"], mixed["service_latency_ms"])
    assert np.array_equal(mixed.coords["service_latency_ms"], [100.0, 200.0])


PRECISION = ms.grid.Arg("precision", "choice", choices=("fp32", "fp16", "bf16"), aliases={"half": "fp16"})


@pytest.mark.parametrize(
    "values",
    [
        np.array(["fp16", "HALF", "bf16", "fp16"]),
        np.array(["fp16", "HALF", "bf16", "fp16"], dtype=object),
        ["fp16", "HALF", "bf16", "fp16"],
        xr.DataArray(["fp16", "HALF", "bf16", "fp16"], dims="config"),
    ],
)
def test_choice_arrays_map_each_distinct_string_once(values):
    grid = one_arg_grid(PRECISION, values)
    codes = grid.inputs["precision"].values
    assert codes.tolist() == [1, 1, 2, 1] and codes.dtype == np.int64
    dim = grid.dims[0]
    assert grid.coords[dim].tolist() == (["fp16", "fp16", "bf16", "fp16"] if dim == "precision" else [0, 1, 2, 3])


@pytest.mark.parametrize(
    "values, shown",
    [
        (np.array(["fp16", "zz", "aa"]), "'zz'"),  # the first offending value in the given order
        (np.array(["fp16", "zz", "aa"], dtype=object), "'zz'"),
        (np.array(["fp16", 3, "aa"], dtype=object), "3"),
        ("zz", "'zz'"),
        (3, "3"),
    ],
)
def test_choice_rejections_name_the_first_offending_value(values, shown):
    with pytest.raises(ValueError, match=rf"^precision={shown} is not allowed; precision must be one of"):
        one_arg_grid(PRECISION, values)


def test_long_dataarray_of_records_reads_each_record_once():
    """Record fields and echoed labels of a long DataArray of records (zipped with a number):
    the same values as record by record."""
    pattern = [H100, A100, H100] * 100
    hardware = xr.DataArray(np.array(pattern, dtype=object), dims="config")
    batch = xr.DataArray(np.arange(1, 301), dims="config")
    grid = SNM.grid(model=RESNET, hardware=hardware, batch_size=batch)
    assert np.array_equal(grid.field("hardware", "peak_flops"), [h.si["peak_flops"] for h in pattern])
    dims, names = grid.zipped()["hardware"]
    assert dims == ("config",) and names.tolist() == [h.name for h in pattern]
    r = SNM.solve(model=RESNET, hardware=hardware, batch_size=batch)
    assert r.dataset["hardware"].values.tolist() == [h.name for h in pattern]


def test_long_axis_is_validated_without_python_per_element_work(monkeypatch):
    """A 10^5-value axis goes through validation, SI conversion and coordinates calling the
    per-value helpers only for the scalar arguments and once per distinct choice string."""
    import mlsysim_vec.grid as grid_module

    values = np.linspace(1.0, 500.0, 10**5)
    ms.TailLatencyModel().grid(arrival_rate_qps=0.5, service_latency_ms=values[:2])  # defaults, validated once
    calls = []
    for name in ("_rejects", "_choice_code"):
        original = getattr(grid_module, name)
        monkeypatch.setattr(grid_module, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    grid = ms.TailLatencyModel().grid(arrival_rate_qps=0.5, service_latency_ms=values)
    assert grid.shape == (10**5,) and np.array_equal(grid["service_latency_ms"], values / 1000)
    assert calls == ["_rejects"]  # arrival_rate_qps, the one scalar given (defaults are cached)
    codes = one_arg_grid(PRECISION, np.array(["fp16", "bf16"] * 50_000)).inputs["precision"].values
    assert codes.sum() == 50_000 * 3 and calls[1:] == ["_choice_code"] * 2
