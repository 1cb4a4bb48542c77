"""Tier 3: hypothesis properties with bounded strategies.

* grid result == loop of scalar calls, on random sub-grids of the registries;
* latency never increases with more memory bandwidth or more FLOP/s;
* training memory never decreases with batch size or sequence length;
* a dask-chunked solve equals the eager one, for random chunkings.

The fast profile (default) runs a few dozen examples per property; ``pytest -m slow`` runs the
long profile.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim_vec as ms
from mlsysim_vec import ureg
from mlsysim_vec.hardware.types import ComputeCore, HardwareNode, IOInterconnect, MemoryHierarchy

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HARDWARE = ms.Hardware.list()
MODELS = [m for m in ms.Models.list()]
TRANSFORMERS = list(ms.Models.Language)
PRECISIONS = ["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4"]
OUTPUTS = (
    "latency",
    "latency_compute",
    "latency_memory",
    "throughput",
    "energy",
    "memory_footprint",
    "mfu",
    "hfu",
    "peak_bw_actual",
    "arithmetic_intensity",
)


def distinct(items, max_size):
    return st.lists(st.sampled_from(items), min_size=1, max_size=max_size, unique_by=lambda r: r.name)


grids = st.fixed_dictionaries(
    {
        "model": distinct(MODELS, 3),
        "hardware": distinct(HARDWARE, 3),
        "batch_size": st.lists(st.integers(1, 4096), min_size=1, max_size=3, unique=True),
        "precision": st.lists(st.sampled_from(PRECISIONS), min_size=1, max_size=2, unique=True),
        "is_training": st.sampled_from([False, True, [False, True]]),
        "efficiency": st.floats(0.05, 1.0),
    }
)


def check_grid_equals_loop(kwargs):
    r = ms.SingleNodeModel().solve(**kwargs)
    ds = r.dataset
    training = kwargs["is_training"] if isinstance(kwargs["is_training"], list) else [kwargs["is_training"]]
    for m in kwargs["model"]:
        for h in kwargs["hardware"]:
            for b in kwargs["batch_size"]:
                for p in kwargs["precision"]:
                    for t in training:
                        one = (
                            ms.SingleNodeModel()
                            .solve(
                                model=m,
                                hardware=h,
                                batch_size=b,
                                precision=p,
                                is_training=t,
                                efficiency=kwargs["efficiency"],
                            )
                            .dataset
                        )
                        index = dict(model=m.name, hardware=h.name, batch_size=b, precision=p)
                        if isinstance(kwargs["is_training"], list):
                            index["is_training"] = t
                        point = ds.sel(index)
                        for name in OUTPUTS + ("bottleneck", "feasible"):
                            np.testing.assert_array_equal(point[name].values, one[name].values, err_msg=name)


@FAST
@given(grids)
def test_grid_equals_loop(kwargs):
    check_grid_equals_loop(kwargs)


@pytest.mark.slow
@LONG
@given(grids)
def test_grid_equals_loop_long(kwargs):
    check_grid_equals_loop(kwargs)


def device(name, peak_tflops, bandwidth_gbs, capacity_gib, host_gbs):
    link = IOInterconnect(name="host", bandwidth=host_gbs * ureg("GB/s")) if host_gbs else None
    return HardwareNode(
        name=name,
        compute=ComputeCore(peak_flops=peak_tflops * ureg("TFLOP/s")),
        memory=MemoryHierarchy(capacity=capacity_gib * ureg.GiB, bandwidth=bandwidth_gbs * ureg("GB/s")),
        interconnect=link,
        tdp=300 * ureg.W,
    )


devices = st.tuples(
    st.floats(1, 5000), st.floats(10, 20000), st.floats(1, 512), st.one_of(st.none(), st.floats(1, 500))
)


def check_monotone_in_hardware(spec, factor, model, batch, training):
    peak, bw, cap, host = spec
    base = device("base", peak, bw, cap, host)
    faster_memory = device("faster memory", peak, bw * factor, cap, host)
    faster_compute = device("faster compute", peak * factor, bw, cap, host)
    r = ms.SingleNodeModel().solve(
        model=model, hardware=[base, faster_memory, faster_compute], batch_size=batch, is_training=training
    )
    lat = r.latency.pint.to("s").pint.magnitude
    assert lat[1] <= lat[0] * (1 + 1e-12)
    assert lat[2] <= lat[0] * (1 + 1e-12)


@FAST
@given(devices, st.floats(1.0, 100.0), st.sampled_from(MODELS), st.integers(1, 4096), st.booleans())
def test_latency_never_increases_with_bandwidth_or_flops(spec, factor, model, batch, training):
    check_monotone_in_hardware(spec, factor, model, batch, training)


@pytest.mark.slow
@LONG
@given(devices, st.floats(1.0, 100.0), st.sampled_from(MODELS), st.integers(1, 4096), st.booleans())
def test_latency_never_increases_with_bandwidth_or_flops_long(spec, factor, model, batch, training):
    check_monotone_in_hardware(spec, factor, model, batch, training)


memory_configs = st.fixed_dictionaries(
    {
        "model": st.sampled_from([m for m in TRANSFORMERS if m.heads]),
        "precision": st.sampled_from(PRECISIONS),
        "activation_checkpointing": st.sampled_from(["none", "selective", "full"]),
        "zero_stage": st.integers(0, 3),
        "tp_size": st.sampled_from([1, 2, 8]),
        "pp_size": st.sampled_from([1, 4]),
        "dp_size": st.sampled_from([1, 8, 64]),
        "gradient_accumulation_steps": st.sampled_from([1, 4]),
    }
)


def check_memory_monotone(config, batches, seqs):
    batches, seqs = sorted(set(batches)), sorted(set(seqs))
    r = ms.TrainingMemoryModel().solve(hardware=ms.Hardware.Cloud.H100, batch_size=batches, seq_len=seqs, **config)
    total = r.total_memory.pint.to("byte").pint.magnitude  # dims (batch_size, seq_len)
    total = np.broadcast_to(total, (len(batches), len(seqs)))
    assert np.all(np.diff(total, axis=0) >= 0)
    assert np.all(np.diff(total, axis=1) >= 0)


@FAST
@given(
    memory_configs,
    st.lists(st.integers(1, 8192), min_size=2, max_size=5),
    st.lists(st.integers(1, 32768), min_size=2, max_size=5),
)
def test_training_memory_monotone_in_batch_and_seq_len(config, batches, seqs):
    check_memory_monotone(config, batches, seqs)


@pytest.mark.slow
@LONG
@given(
    memory_configs,
    st.lists(st.integers(1, 8192), min_size=2, max_size=5),
    st.lists(st.integers(1, 32768), min_size=2, max_size=5),
)
def test_training_memory_monotone_long(config, batches, seqs):
    check_memory_monotone(config, batches, seqs)


@FAST
@given(st.integers(1, 5), st.integers(1, 7), st.integers(1, 3))
def test_chunked_equals_eager(hw_chunk, batch_chunk, prec_chunk):
    pytest.importorskip("dask")
    kwargs = dict(
        model=[ms.Models.ResNet50, ms.Models.Language.Llama3_70B],
        hardware=HARDWARE[:9],
        batch_size=[1, 2, 4, 16, 64, 256, 1024, 4096],
        precision=["fp16", "int8", "fp32"],
    )
    eager = ms.SingleNodeModel().solve(**kwargs)
    lazy = ms.SingleNodeModel().solve(
        chunks={"hardware": hw_chunk, "batch_size": batch_chunk, "precision": prec_chunk}, **kwargs
    )
    assert lazy.dataset.latency.chunks is not None
    xr.testing.assert_identical(lazy.compute().dataset, eager.dataset)
