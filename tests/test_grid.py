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
        (dict(batch_size="eight"), TypeError, r"batch_size='eight' is text"),
        (dict(batch_size=[]), ValueError, r"batch_size: an empty sequence"),
        (dict(batch_size=np.ones((2, 2))), TypeError, r"batch_size: a 2-d array has no dimension names"),
        (dict(hardware="H100"), TypeError, r"hardware='H100' is a str; hardware must be a HardwareNode record"),
        (
            dict(model=H100),
            TypeError,
            r"model=HardwareNode\('NVIDIA H100'\) is a HardwareNode; model must be a Workload",
        ),
        (dict(hardware=[H100, H100]), ValueError, r"hardware: record names must be unique along a dimension"),
        # a record argument's error shows a record it takes; families in a list are not flattened
        (
            dict(model=H100),
            TypeError,
            r"model must be a Workload record \(Models.\*\), e.g. ms.Models.Language.Llama3_8B$",
        ),
        (
            dict(hardware=RESNET),
            TypeError,
            r"hardware must be a HardwareNode record \(Hardware.\*\), e.g. ms.Hardware.Cloud.H100$",
        ),
        (
            dict(hardware=[ms.Hardware.GPUs, ms.Hardware.TPUs]),
            TypeError,
            r"^hardware=<Hardware.GPUs: \d+ entries> is a Family; .*unpack them, "
            r"hardware=\[\*ms.Hardware.GPUs, \*ms.Hardware.TPUs\]",
        ),
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
    along = one_arg_grid(arg, xr.DataArray(np.array([value, value], dtype=float), dims="config"))
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
        (ms.grid.Arg("x", low=0.0), math.inf, "inf", "a number >= 0"),  # every domain is finite
        (ms.grid.Arg("x"), -1e308, "-1e\\+308", "a number"),
    ],
)
def test_scalar_number_rejections_read_as_before(arg, value, shown, allowed):
    finite = (
        ""
        if math.isfinite(value) and abs(value) <= ms.grid.MAX_MAGNITUDE
        else r" \(and finite, at most 1e\+30 in magnitude\)"
    )
    with pytest.raises(ValueError, match=rf"^{arg.name}={shown} is not allowed; {arg.name} must be {allowed}{finite}$"):
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
    """Along a DataArray's own dimension (zipped with other arguments) a choice may repeat; along
    the dimension it introduces (``precision``) each value may appear once, spellings included."""
    if not isinstance(values, xr.DataArray):
        with pytest.raises(ValueError, match=r"precision: values must be unique .*repeated: \['fp16'\]"):
            one_arg_grid(PRECISION, values)
        values = xr.DataArray(np.asarray(values), dims="config")
    grid = one_arg_grid(PRECISION, values)
    codes = grid.inputs["precision"].values
    assert codes.tolist() == [1, 1, 2, 1] and codes.dtype == np.int64
    assert grid.dims == ["config"] and grid.coords["config"].tolist() == [0, 1, 2, 3]


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
    strings = xr.DataArray(np.array(["fp16", "bf16"] * 50_000), dims="config")
    codes = one_arg_grid(PRECISION, strings).inputs["precision"].values
    assert codes.sum() == 50_000 * 3 and calls[1:] == ["_choice_code"] * 2


# ---- bad input: each argument a clean error naming it, or a flagged point (issue 13) ----------
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(batch_size=True), TypeError, r"^batch_size=True is a bool"),
        (dict(batch_size=[1, True]), TypeError, r"^batch_size=.* is a bool"),
        (dict(batch_size="8"), TypeError, r"^batch_size='8' is text"),
        (dict(batch_size=["1", "2"]), TypeError, r"^batch_size=.* is text"),
        (dict(batch_size=None), ValueError, r"^batch_size=None is not allowed; .*leave it out for its default, 1"),
        (dict(batch_size=math.inf), ValueError, r"^batch_size=inf is not allowed; .*and finite"),
        (dict(efficiency=-math.inf), ValueError, r"^efficiency=-inf is not allowed"),
        (dict(batch_size=1e308), ValueError, r"^batch_size=1e\+308 is not allowed"),
        (
            dict(batch_size=[1, 2, 1]),
            ValueError,
            r"^batch_size: values must be unique along a dimension; repeated: \[1",
        ),
        (dict(precision=["fp16", "FP16", "half"]), ValueError, r"^precision: values must be unique.*\['fp16'\]"),
        (dict(batch_size=[1, [2, 3]]), TypeError, r"^batch_size: .* nested list of unequal lengths"),
        (
            dict(batch_size=xr.DataArray(np.array([], float), dims="b")),
            ValueError,
            r"^batch_size: the DataArray is empty",
        ),
        (
            dict(batch_size=xr.DataArray([1.0], dims="b", attrs={"units": "furlongs_per_quux"})),
            ValueError,
            r"^batch_size: the DataArray's units attribute 'furlongs_per_quux' is not a unit",
        ),
        (
            dict(batch_size=xr.DataArray([1, 2], dims="hardware")),
            ValueError,
            r"^batch_size: its DataArray has a dimension named 'hardware', which is another argument",
        ),
        # a flag is True or False: not 0/1, not a Quantity, no repeats along a dimension
        (dict(is_training=1), ValueError, r"^is_training=1 is not allowed; is_training must be True or False$"),
        (dict(is_training=[True, 0]), ValueError, r"^is_training=0 is not allowed"),
        (dict(is_training=ms.Q_(1.0, "kg")), ValueError, r"^is_training=<Quantity\(1.0, 'kilogram'\)> is not allowed"),
        (dict(is_training=[True, True]), ValueError, r"^is_training: values must be unique along a dimension"),
        # a whole number is at most 2**53 (beyond it floats skip integers; labels overflow int64)
        (
            dict(batch_size=2.0**53 + 2),
            ValueError,
            r"^batch_size=9007199254740994 is not allowed; .*\(at most 2\*\*53 = 9007199254740992 in magnitude",
        ),
        (dict(batch_size=[1, 1e30]), ValueError, r"^batch_size=1e\+30 is not allowed \(1 of 2 values rejected\)"),
        # a Quantity among text: named, not pint's "could not convert string to float"
        (
            dict(activation_traffic_ratio=[ms.Q_(0.1, ""), "a"]),
            TypeError,
            r"^activation_traffic_ratio=.* mixes Quantities",
        ),
        # coordinates that disagree along a shared dimension: both arguments named
        (
            dict(batch_size=[1, 2, 4], efficiency=xr.DataArray([0.5], dims="batch_size")),
            ValueError,
            r"^efficiency: dimension 'batch_size' does not match the coordinates batch_size gives it "
            r"\(lengths 1 and 3\)",
        ),
    ],
)
def test_bad_values_raise_naming_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        SNM.solve(model=RESNET, hardware=H100, **kwargs)


def test_a_dimension_named_after_an_argument_is_fine_when_that_argument_spans_it():
    hardware = [H100, A100]
    batch = xr.DataArray([1, 2], dims="hardware", coords={"hardware": ["NVIDIA H100", "NVIDIA A100"]})
    r = SNM.solve(model=RESNET, hardware=hardware, batch_size=batch)
    assert r.dims == ("hardware",) and r.dataset["batch_size"].values.tolist() == [1, 2]


def test_an_optional_argument_may_be_none_and_its_nan_means_not_given():
    """target_model_size defaults to None: None leaves it out; NaN at a point is "not pinned"
    (compute-optimal), not an invalid input."""
    r = ms.ScalingModel().solve(compute_budget=1e22, target_model_size=[np.nan, 7e9])
    assert r.dataset["optimal_parameters"].values[1] == 7e9 and np.isfinite(r.dataset["optimal_parameters"].values[0])
    assert ms.ScalingModel().solve(compute_budget=1e22, target_model_size=None).optimal_parameters > 0


def test_flags_take_true_and_false_in_any_container():
    labelled = xr.DataArray([True, False], dims="is_training", coords={"is_training": [True, False]})
    for value in ([False, True], (True,), np.array([True, False]), labelled):
        r = SNM.solve(model=LLAMA8B, hardware=H100, is_training=value)
        assert r.dims == ("is_training",) and r.dataset["is_training"].values.tolist() == list(np.asarray(value))


def test_a_required_alternative_is_flagged_when_nan():
    """ScalingModel needs a budget (compute_budget or accelerator_days, both optional in the
    signature): a NaN budget is an invalid input at that point (``NAN_INVALID``), not "not
    given"; the other points are untouched: 1e22 FLOP gives N* = sqrt(1e22/120) = 9.13e9."""
    r = ms.ScalingModel().solve(compute_budget=[1e22, np.nan]).dataset
    assert r["optimal_parameters"].values[0] == pytest.approx(math.sqrt(1e22 / 120), rel=1e-12)
    assert np.isnan(r["optimal_parameters"].values[1]) and np.isnan(r["compute_budget_flops"].values[1])
    days = ms.ScalingModel().solve(accelerator_days=np.nan).dataset
    assert np.isnan(days["optimal_tokens"].values) and not days["peak_flops_fallback"].values


@pytest.mark.parametrize("chunks", [0, -2, 1.5, True, "yes", [1], {"batch_size": 0}, {"batch_size": "big"}])
def test_chunks_is_validated_like_an_argument(chunks):
    with pytest.raises((ValueError, TypeError), match=r"chunks"):
        SNM.solve(model=RESNET, hardware=H100, batch_size=[1, 2, 4], chunks=chunks)


def test_an_eager_grid_too_large_for_memory_is_refused_before_allocating(monkeypatch):
    """The guard compares points × (outputs + kernel temporaries) × 8 bytes with the memory
    available now; with 1 MiB available a 10^5-point grid (~26 MB of outputs) is refused with
    its size and the advice to chunk, and the same grid chunked is accepted; grids under 65,536
    points are not checked."""
    import mlsysim_vec.grid as grid_module

    monkeypatch.setattr(grid_module, "available_memory", lambda: 2**20)
    batch = np.arange(1, 100_001)
    with pytest.raises(
        ValueError, match=r"SingleNodeModel: the grid has 100,000 points \(batch_size 100,000\).*chunks="
    ):
        SNM.solve(model=RESNET, hardware=H100, batch_size=batch)
    r = SNM.solve(model=RESNET, hardware=H100, batch_size=batch, chunks={"batch_size": 50_000})
    assert r.dataset["latency"].shape == (100_000,)
    assert SNM.solve(model=RESNET, hardware=H100, batch_size=batch[:1000]).dataset["latency"].shape == (1000,)
    huge = xr.DataArray(np.ones(1), dims="a")
    monkeypatch.setattr(grid_module, "available_memory", lambda: None)  # unknown: no guard
    assert SNM.solve(model=RESNET, hardware=H100, batch_size=huge).dataset["latency"].size == 1


NAN_OUTPUTS = ("latency", "throughput", "arithmetic_intensity", "mfu", "latency_memory")


def test_a_nan_input_gives_a_flagged_point_with_no_answer():
    """NaN in → that point infeasible with reason invalid_input, every number NaN, every category
    missing; the other points are untouched (scalar, grid, chunked and after parquet)."""
    r = SNM.solve(model=RESNET, hardware=H100, batch_size=np.nan)
    assert r.feasible is False and r.infeasible_reason == "invalid_input" and r.bottleneck is None
    for name in NAN_OUTPUTS:
        assert math.isnan(r.dataset[name].values), name
    good = SNM.solve(model=RESNET, hardware=H100, batch_size=[1, 4])
    for chunks in (None, {"batch_size": 2}):
        g = SNM.solve(model=RESNET, hardware=H100, batch_size=[1, np.nan, 4], chunks=chunks).dataset
        assert g["feasible"].values.tolist() == [True, False, True]
        assert g["infeasible_reason"].values.tolist() == [0, ms.variables.REASONS.index("invalid_input"), 0]
        assert g["bottleneck"].values[1] == -1
        for name in NAN_OUTPUTS:
            values = np.broadcast_to(g[name].values, (3,))
            assert np.isnan(values[1]) and np.array_equal(
                values[[0, 2]], np.broadcast_to(good.dataset[name].values, (2,))
            )
    df = SNM.solve(model=RESNET, hardware=H100, batch_size=[1, np.nan]).to_dataframe()
    assert df["bottleneck"].isna().tolist() == [False, True] and df["infeasible_reason"].tolist()[1] == "invalid_input"


def test_a_flagged_point_survives_parquet(tmp_path):
    r = SNM.solve(model=RESNET, hardware=H100, batch_size=[1, np.nan, 4])
    r.to_parquet(tmp_path / "r.parquet")
    back = ms.read_parquet(tmp_path / "r.parquet").dataset
    assert (
        back["bottleneck"].values.tolist() == r.dataset["bottleneck"].values.tolist()
        and back["bottleneck"].values[1] == -1
    )
    assert back["infeasible_reason"].values.tolist() == r.dataset["infeasible_reason"].values.tolist()
    import pyarrow.parquet as pq

    column = pq.read_table(tmp_path / "r.parquet", columns=["bottleneck"]).column("bottleneck")
    assert column.null_count == 1  # plain pyarrow/pandas readers see a null, not a made-up label
