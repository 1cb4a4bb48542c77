"""The Result object: scalar facade, DataArrays, Dataset attrs, sel, tidy DataFrame, parquet
round trip, dask chunking and a dask.distributed smoke test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pint
import pytest
import xarray as xr

import mlsysim_vec as ms

H100, A100 = ms.Hardware.Cloud.H100, ms.Hardware.Cloud.A100


@pytest.fixture(scope="module")
def grid_result():
    return ms.SingleNodeModel().solve(
        model=[ms.Models.ResNet50, ms.Models.Language.Llama3_70B],
        hardware=[H100, A100, ms.Hardware.Cloud.T4],
        batch_size=[1, 8, 64],
        precision=["fp16", "fp8"],
    )


def test_scalar_facade_types():
    p = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=A100, batch_size=1)
    assert isinstance(p.latency, pint.Quantity) and str(p.latency.units) == "millisecond"
    assert isinstance(p.bottleneck, str) and isinstance(p.mfu, float) and isinstance(p.feasible, bool)
    assert isinstance(p.memory_footprint, pint.Quantity) and p.offload_spill_bytes is None
    assert p["latency"] == p.latency
    assert f"{p.latency.to('ms'):~.2f}" == "0.57 ms"
    with pytest.raises(AttributeError, match="has no output 'latncy'"):
        p.latncy


def test_grid_attributes_and_dataset(grid_result):
    r = grid_result
    assert isinstance(r.latency, xr.DataArray) and str(r.latency.pint.units) == "second"
    assert r.bottleneck.dtype == object and set(np.unique(r.bottleneck.values)) <= {"Compute", "Memory"}
    ds = r.dataset
    assert ds.latency.attrs["units"] == "s" and ds.mfu.attrs["units"] == "1"
    assert ds.bottleneck.attrs["flag_meanings"].startswith("Compute Memory ") and ds.bottleneck.dtype == np.int8
    assert ds.efficiency.ndim == 0 and float(ds.efficiency) == 0.5  # fixed inputs are scalar coords
    assert "mlsysim" not in repr(r).lower() or "SingleNodeModel" in repr(r)


def test_sel_by_record_or_name(grid_result):
    a = grid_result.sel(hardware=H100, precision="fp16")
    b = grid_result.sel(hardware="NVIDIA H100", precision="fp16")
    xr.testing.assert_identical(a.dataset, b.dataset)
    one = grid_result.sel(model=ms.Models.ResNet50, hardware=H100, batch_size=8, precision="fp8")
    assert (
        one.is_scalar
        and one.latency
        == ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=H100, batch_size=8, precision="fp8").latency
    )


def test_tidy_dataframe(grid_result):
    df = grid_result.to_dataframe()
    assert len(df) == 2 * 3 * 3 * 2
    assert list(df.columns[:4]) == ["model", "hardware", "batch_size", "precision"]
    for name in ("model", "hardware", "precision", "bottleneck", "infeasible_reason"):
        assert isinstance(df[name].dtype, pd.CategoricalDtype), name
    assert df["peak_flops_actual"].notna().all()  # broadcast over batch_size
    row = df[
        (df.model == "ResNet-50") & (df.hardware == "NVIDIA A100") & (df.batch_size == 8) & (df.precision == "fp16")
    ]
    assert (
        row.latency.item()
        == ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=A100, batch_size=8).latency.to("s").m
    )
    scalar = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=A100).to_dataframe()
    assert len(scalar) == 1 and scalar.bottleneck.item() == "Compute"


def test_parquet_round_trip(grid_result, tmp_path):
    path = grid_result.to_parquet(tmp_path / "r.parquet")
    back = ms.read_parquet(path)
    xr.testing.assert_identical(back.dataset, grid_result.dataset)
    assert back.latency.pint.units == grid_result.latency.pint.units
    for name in grid_result.outputs:
        assert back.dataset[name].dims == grid_result.dataset[name].dims
    constants = [c for c in grid_result.dataset.coords if grid_result.dataset[c].ndim == 0]  # kept in metadata
    pd.testing.assert_frame_equal(pd.read_parquet(path), grid_result.to_dataframe().drop(columns=constants))


def test_parquet_round_trip_scalar_and_training(tmp_path):
    r = ms.TrainingMemoryModel().solve(model=ms.Models.Language.Llama3_8B, hardware=H100, batch_size=8)
    back = ms.read_parquet(r.to_parquet(tmp_path / "s.parquet"))
    xr.testing.assert_identical(back.dataset, r.dataset)
    assert back.total_memory == r.total_memory


def test_read_parquet_rejects_foreign_files(tmp_path):
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="was not written by mlsysim_vec"):
        ms.read_parquet(tmp_path / "x.parquet")


def test_chunked_sweep_is_lazy_and_equal(tmp_path):
    pytest.importorskip("dask")
    kwargs = dict(model=list(ms.Models.Vision), hardware=ms.Hardware.Cloud, batch_size=np.arange(1, 65))
    eager = ms.SingleNodeModel().solve(**kwargs)
    lazy = ms.SingleNodeModel().solve(chunks={"batch_size": 16}, **kwargs)
    assert lazy.dataset.latency.chunks is not None
    xr.testing.assert_identical(lazy.compute().dataset, eager.dataset)
    path = lazy.to_parquet(tmp_path / "lazy.parquet")  # written chunk by chunk
    xr.testing.assert_identical(ms.read_parquet(path).dataset, eager.dataset)


def test_chunked_dataarray_input():
    pytest.importorskip("dask")
    batch = xr.DataArray(np.arange(1, 33), dims="batch_size").chunk(8)
    lazy = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=H100, batch_size=batch)
    eager = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=H100, batch_size=np.arange(1, 33))
    np.testing.assert_array_equal(lazy.dataset.latency.values, eager.dataset.latency.values)


def test_unknown_chunk_dimension():
    with pytest.raises(ValueError, match="chunks names dimensions \\['batch'\\]"):
        ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=H100, batch_size=[1, 2], chunks={"batch": 1})


def test_local_cluster_smoke():
    """The same call runs on a 2-worker dask.distributed LocalCluster (no code change)."""
    distributed = pytest.importorskip("dask.distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster),
    ):
        kwargs = dict(
            model=[ms.Models.ResNet50, ms.Models.Language.Llama3_8B],
            hardware=ms.Hardware.Cloud,
            batch_size=np.arange(1, 257),
        )
        lazy = ms.SingleNodeModel().solve(chunks={"batch_size": 64}, **kwargs)
        result = lazy.compute()
    eager = ms.SingleNodeModel().solve(**kwargs)
    xr.testing.assert_identical(result.dataset, eager.dataset)


def test_scalar_magnitudes_stay_floats_after_grid_use():
    """Reading a grid output must not change what scalar results are (pint-xarray would switch
    the registry to force_ndarray_like, turning scalar magnitudes into 0-d arrays)."""
    ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=[H100, A100]).latency.pint.to("ms")
    p = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=A100)
    assert isinstance(p.latency.to("s").magnitude, float)
    assert isinstance(H100.memory.bandwidth.to("B/s").magnitude, float)


def test_integer_coordinates_and_categorical_order():
    r = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=[H100, A100], batch_size=[8, 1])
    assert r.dataset.batch_size.dtype == np.int64
    df = r.to_dataframe()
    assert list(df.hardware.cat.categories) == ["NVIDIA H100", "NVIDIA A100"]  # grid order
    assert df.batch_size.dtype == np.int64


def test_zipped_inputs_are_echoed_as_coordinates(tmp_path):
    """Arguments zipped along one dimension are recorded as coordinates on it (labels for records
    and choices), appear in the DataFrame and survive the parquet round trip."""
    config = dict(
        hardware=xr.DataArray(np.array([H100, A100], dtype=object), dims="config"),
        batch_size=xr.DataArray([1, 32], dims="config"),
        precision=xr.DataArray(["FP16", "fp8"], dims="config"),
    )
    r = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, **config)
    ds = r.dataset
    assert list(ds.hardware.values) == ["NVIDIA H100", "NVIDIA A100"] and ds.hardware.dims == ("config",)
    assert list(ds.precision.values) == ["fp16", "fp8"] and ds.batch_size.dtype == np.int64
    df = r.to_dataframe()
    assert list(df.columns[:4]) == ["config", "hardware", "batch_size", "precision"]
    xr.testing.assert_identical(ms.read_parquet(r.to_parquet(tmp_path / "z.parquet")).dataset, ds)


# ---------------------------------------------------------------------------- the scalar fast path
def _pints(var, value):
    """What a scalar result showed before units were cached: pint parsing the unit strings."""
    if var.optional and np.isnan(value):
        return None
    q = ms.Q_(value, var.unit)
    return q.to(var.display) if var.display and var.display != var.unit else q


def test_scalar_outputs_equal_pints_own_conversion():
    """Every catalogued unit-bearing output: the Quantity a scalar result shows (cached units and
    conversion factor) is the one pint builds from the strings, to the last bit."""
    from mlsysim_vec.result import _scalar
    from mlsysim_vec.variables import VARIABLES

    values = [0.0, 1.0, -2.5, 1.234567e-9, 7.654321e17, np.inf, np.nan]
    checked = 0
    for name, var in VARIABLES.items():
        if var.kind != "float" or not var.unit:
            continue
        for value in values:
            for array in (np.asarray(value), np.float64(value), value):
                shown, pints = _scalar(name, array), _pints(var, value)
                if pints is None:
                    assert shown is None
                    continue
                assert type(shown) is type(pints) and shown.units == pints.units
                assert type(shown.magnitude) is float and repr(shown) == repr(pints)
                assert shown.magnitude == pints.magnitude or (np.isnan(pints.magnitude) and np.isnan(shown.magnitude))
                checked += 1
    assert checked > 500


def test_units_cache_builds_the_same_quantities():
    from mlsysim_vec.units import conversion_factor, quantity, units_of

    for unit in ("ms", "GB", "TFLOPs/s", "USD/kWh", "1/day", "", "kg"):
        q = quantity(2.5, unit)
        assert q == ms.Q_(2.5, unit) and repr(q) == repr(ms.Q_(2.5, unit)) and q._units == units_of(unit)
    array = quantity(np.array([1.0, 2.0]), "ms")
    assert isinstance(array.magnitude, np.ndarray) and array.units == ms.ureg.ms
    assert conversion_factor("s", "ms") == ms.Q_(1.0, "s").to("ms").magnitude
    assert conversion_factor("s", "GB") is None  # not convertible
    assert conversion_factor("degC", "kelvin") is None  # an offset, not a product


def test_scalar_result_builds_no_dataset_until_asked():
    """A scalar call keeps its outputs as the kernel returned them; the Dataset (with the echoed
    arguments) is built only when asked for, and then equals the general construction."""
    r = ms.TailLatencyModel().solve(arrival_rate_qps=50, service_latency_ms=100, num_replicas=8)
    assert r._dataset is None and r._echo is None
    assert f"{r.p99_latency.to('ms'):~.1f}" == "193.9 ms" and r.is_stable is True
    assert r._dataset is None
    ds = r.dataset
    assert ds["p99_latency"].dims == () and ds["p99_latency"].dtype == np.float64
    assert ds.coords["service_latency_ms"].item() == 100.0 and ds.coords["num_replicas"].item() == 8
    assert ds["is_stable"].dtype == bool
    again = ms.Result.from_dataset(ds)
    assert again.p99_latency == r.p99_latency and again.is_stable is True
    assert r.to_dataframe().shape[0] == 1
