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
