"""Tiers 2 and 3 for the serving family: the grid contract (grid == loop of scalar calls,
the input-type matrix of the unit-bearing inputs, optional records as dimensions, zipped
arguments, cross-argument checks, infeasible points that do not raise) and hypothesis
properties (monotonicity, the queue search against a scan, chunked == eager). The fast
profile runs by default; ``pytest -m slow`` runs the long twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim_vec as ms
from mlsysim_vec import ureg
from mlsysim_vec.hardware.types import ComputeCore, HardwareNode, MemoryHierarchy
from mlsysim_vec.physics import queueing as qu

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

L, H = ms.Models.Language, ms.Hardware.Cloud
LLAMA8B, H100, A100 = L.Llama3_8B, H.H100, H.A100
LANGUAGE = list(L)
CLOUD = list(H)
PRECISIONS = ["fp32", "bf16", "fp16", "fp8", "int8", "int4", "fp4"]


@pytest.fixture(autouse=True)
def _first_order():
    """These numbers are mlsysim 0.3.0's first-order physics: pinned, whatever the default
    fidelity (``ms.set_options``) is."""
    with ms.set_options(fidelity="first_order"):
        yield


def magnitude(value, unit):
    if isinstance(value, xr.DataArray):
        return value.pint.to(unit).pint.magnitude if hasattr(value.data, "units") else value.values
    return value.to(unit).magnitude if hasattr(value, "to") else value


def assert_grid_equals_loop(cls, axes: dict, fixed: dict):
    """Every output of the grid equals the scalar call at that point (NaN == NaN; rel 1e-13
    for floats: a sweep of replica counts sums Erlang C's terms cumulatively, a single point
    over its own window, so the last bits may differ)."""
    ds = cls().solve(**axes, **fixed).dataset
    names = list(axes)
    index = np.indices([len(v) for v in axes.values()]).reshape(len(axes), -1).T
    for point in index:
        kw = {n: axes[n][i] for n, i in zip(names, point)}
        one = cls().solve(**kw, **fixed).dataset
        label = {n: (v.name if hasattr(v, "name") else v) for n, v in kw.items()}
        at = ds.sel(label)
        for name in one.data_vars:
            got, want = at[name].values, one[name].values
            if want.dtype.kind == "f":
                np.testing.assert_allclose(got, want, rtol=1e-13, atol=0, err_msg=f"{name} at {label}")
            else:
                np.testing.assert_array_equal(got, want, err_msg=f"{name} at {label}")


# ---- grid == loop ------------------------------------------------------------------------


def test_serving_grid_equals_loop():
    assert_grid_equals_loop(
        ms.ServingModel,
        dict(
            model=[LLAMA8B, L.Mixtral_8x7B, L.PaLM_540B],
            hardware=[H100, A100],
            seq_len=[512, 8192],
            batch_size=[1, 64],
            precision=["fp16", "int4"],
        ),
        {},
    )


def test_serving_grid_equals_loop_with_every_option():
    """decode_hardware and draft_model lists are dimensions; chunking and caching swept too."""
    assert_grid_equals_loop(
        ms.ServingModel,
        dict(
            decode_hardware=[A100, H.H200],
            draft_model=[L.GPT2, L.Llama2_7B],
            draft_acceptance_rate=[0.0, 0.8],
            cached_prefix_len=[0, 1000],
            prefill_chunk_tokens=[256, 4096],
        ),
        dict(model=LLAMA8B, hardware=H100, seq_len=2048, batch_size=4, network_bandwidth=50 * ureg("GB/s")),
    )


def test_batching_streaming_scaling_grids_equal_loops():
    assert_grid_equals_loop(
        ms.ContinuousBatchingModel,
        dict(
            model=[LLAMA8B, L.DeepSeek_V3, L.Llama3_70B],
            hardware=[H100, H.B200],
            max_seq_len=[2048, 32768],
            mean_request_tokens=[512, 2048],
            max_batch_size=[1, 256],
            page_size=[16, 128],
        ),
        {},
    )
    assert_grid_equals_loop(
        ms.WeightStreamingModel,
        dict(
            model=[L.Llama3_70B, L.DeepSeek_V3],
            hardware=[H.Cerebras_CS3, H100],
            seq_len=[128, 8192],
            batch_size=[1, 64, 65],
            phase=["decode", "prefill"],
        ),
        {},
    )
    assert_grid_equals_loop(
        ms.InferenceScalingModel,
        dict(
            model=[LLAMA8B, L.Mixtral_8x7B],
            hardware=[H100, H.T4],
            reasoning_steps=[0, 8, 64],
            context_length=[512, 8192],
        ),
        {},
    )


def test_refined_group_grids_equal_loops():
    """Issue 10's arguments are dimensions like any other: fidelity, tp/pp/ep, the separate
    precisions, the refined knobs, output tokens and a price; grid == loop for each resolver."""
    assert_grid_equals_loop(
        ms.ServingModel,
        dict(
            model=[LLAMA8B, L.Mixtral_8x7B],
            hardware=[H100, A100],
            fidelity=["first_order", "refined"],
            tp_size=[1, 4],
            pp_size=[1, 2],
            batch_size=[1, 96],
            output_tokens=[1, 300],
            weight_precision=["fp16", "nvfp4"],
        ),
        dict(seq_len=1500, ep_size=2, kv_precision="fp8", gpu_hour_price=2.0),
    )
    assert_grid_equals_loop(
        ms.ServingModel,
        dict(
            fidelity=["first_order", "refined"],
            tp_size=[1, 2],
            prefill_chunk_tokens=[256, 4096],
            draft_model=[L.GPT2, L.Llama2_7B],
            compute_precision=["fp8", "fp16"],
            bandwidth_efficiency=[0.7, 0.9],
        ),
        dict(model=LLAMA8B, hardware=H100, seq_len=2048, batch_size=4, output_tokens=64, cached_prefix_len=100),
    )
    assert_grid_equals_loop(
        ms.ContinuousBatchingModel,
        dict(
            model=[LLAMA8B, L.Llama3_70B],
            fidelity=["first_order", "refined"],
            tp_size=[1, 8],
            concurrency=[1, 64, 4096],
            input_tokens=[128, 2048],
        ),
        dict(hardware=H100, output_tokens=256, gpu_hour_price=3.0),
    )
    assert_grid_equals_loop(
        ms.ContinuousBatchingModel,
        dict(fidelity=["first_order", "refined"], tp_size=[1, 2], max_seq_len=[2048, 8192], max_batch_size=[1, 64]),
        dict(model=LLAMA8B, hardware=H100),
    )
    assert_grid_equals_loop(
        ms.WeightStreamingModel,
        dict(fidelity=["first_order", "refined"], tp_size=[1, 2], phase=["decode", "prefill"], batch_size=[1, 64]),
        dict(model=L.Llama3_70B, hardware=H.Cerebras_CS3, seq_len=2048),
    )
    assert_grid_equals_loop(
        ms.InferenceScalingModel,
        dict(fidelity=["first_order", "refined"], tp_size=[1, 4], reasoning_steps=[0, 8]),
        dict(model=L.Llama3_70B, hardware=H100),
    )
    assert_grid_equals_loop(
        ms.ServingCapacityModel,
        dict(fidelity=["first_order", "refined"], tp_size=[1, 2], qps=[0.5, 50]),
        dict(model=LLAMA8B, hardware=H100, target_p99_latency_ms=5000, max_seq_len=1024, max_replicas=64),
    )


def test_queue_grids_equal_loops():
    assert_grid_equals_loop(
        ms.TailLatencyModel,
        dict(
            arrival_rate_qps=[0, 10, 399, 1000],
            service_latency_ms=[0, 5, 50],
            num_replicas=[1, 2, 20, 1024],
            service_time_cv=[0.5, 1.0],
        ),
        {},
    )
    assert_grid_equals_loop(
        ms.ServingCapacityModel,
        dict(
            model=[LLAMA8B, L.Llama3_70B, L.GPT2],
            hardware=[H100, H.H200],
            qps=[0.5, 20, 900],
            target_p99_latency_ms=[300, 2000, 20000],
        ),
        dict(max_seq_len=1024, output_tokens=64, max_replicas=64),
    )


# ---- the input-type matrix of the unit-bearing inputs -----------------------------------


@pytest.mark.parametrize(
    "value, dims",
    [
        (25e9, ()),
        (25 * ureg("GB/s"), ()),
        (200 * ureg("Gbit/s"), ()),
        ([25e9], ("network_bandwidth",)),
        ([25 * ureg("GB/s")], ("network_bandwidth",)),
        (np.array([25.0]) * ureg("GB/s"), ("network_bandwidth",)),
        (xr.DataArray([25.0], dims="link", attrs={"units": "GB/s"}), ("link",)),
        (xr.DataArray(ureg.Quantity(np.array([25.0]), "GB/s"), dims="link"), ("link",)),
    ],
)
def test_network_bandwidth_input_types(value, dims):
    """Every form of 25 GB/s gives the same TTFT; sequences add a dimension."""
    kw = dict(model=LLAMA8B, hardware=H100, seq_len=2048, decode_hardware=A100)
    expected = ms.ServingModel().solve(**kw, network_bandwidth=25e9).ttft.to("s").m
    r = ms.ServingModel().solve(**kw, network_bandwidth=value)
    assert r.dims == dims
    assert np.all(np.asarray(magnitude(r.ttft, "s")) == expected)


@pytest.mark.parametrize(
    "qps, target",
    [
        (20, 2000),
        (20 / ureg.s, 2 * ureg.s),
        (1200 / ureg.minute, 2000 * ureg.ms),
        ([20], [2000]),
        (np.array([20.0]) / ureg.s, np.array([2.0]) * ureg.s),
        (xr.DataArray([20.0], dims="q"), xr.DataArray([2000.0], dims="t", attrs={"units": "ms"})),
    ],
)
def test_capacity_unit_inputs(qps, target):
    kw = dict(model=LLAMA8B, hardware=H100, max_seq_len=1024, output_tokens=64)
    expected = ms.ServingCapacityModel().solve(**kw, qps=20, target_p99_latency_ms=2000).estimated_p99_latency
    r = ms.ServingCapacityModel().solve(**kw, qps=qps, target_p99_latency_ms=target)
    assert np.all(np.asarray(magnitude(r.estimated_p99_latency, "s")) == expected.to("s").m)


def test_quantity_of_the_wrong_kind_is_rejected():
    with pytest.raises(TypeError, match=r"qps=.*expected a quantity convertible to 1/s"):
        ms.ServingCapacityModel().solve(model=LLAMA8B, hardware=H100, qps=20 * ureg.GB, target_p99_latency_ms=2000)
    with pytest.raises(TypeError, match=r"service_latency_ms=.*expected a quantity convertible to ms"):
        ms.TailLatencyModel().solve(arrival_rate_qps=10, service_latency_ms=5 * ureg.GB)


def test_nan_input_propagates():
    r = ms.ServingModel().solve(model=LLAMA8B, hardware=H100, seq_len=2048, batch_size=[1, np.nan, 4])
    ttft = magnitude(r.ttft, "s")
    assert math.isnan(ttft[1]) and np.isfinite(ttft[[0, 2]]).all()
    t = ms.TailLatencyModel().solve(arrival_rate_qps=[10, np.nan], service_latency_ms=50)
    assert math.isnan(magnitude(t.p99_latency, "s")[1])


# ---- dimensions, zipping, cross-argument checks -----------------------------------------


def test_optional_records_are_off_by_default_and_dimensions_as_lists():
    base = ms.ServingModel().solve(model=LLAMA8B, hardware=H100, seq_len=2048, decode_hardware=None, draft_model=None)
    assert base.kv_transfer_time is None
    r = ms.ServingModel().solve(
        model=LLAMA8B, hardware=H100, seq_len=2048, decode_hardware=[H100, A100], draft_model=L.GPT2_Small
    )
    assert r.dims == ("decode_hardware",)
    assert list(r.dataset.decode_hardware.values) == [H100.name, A100.name]
    assert r.dataset.draft_model.item() == L.GPT2_Small.name
    # disaggregated onto the same device = colocated + the KV transfer
    ttft = np.broadcast_to(magnitude(r.ttft, "s"), (2,))
    colocated = ms.ServingModel().solve(model=LLAMA8B, hardware=H100, seq_len=2048, draft_model=L.GPT2_Small)
    transfer = float(magnitude(r.kv_transfer_time, "s"))
    assert ttft[0] == pytest.approx(colocated.ttft.to("s").m + transfer, rel=1e-12)


def test_zipped_seq_len_and_cached_prefix():
    """A DataArray keeps its dimension: seq_len and cached_prefix_len zipped along `config` are
    checked pairwise (1000 < 2048 and 3000 < 4096), although 3000 >= 2048 fails as a product."""
    seq = xr.DataArray([2048, 4096], dims="config")
    cached = xr.DataArray([1000, 3000], dims="config")
    r = ms.ServingModel().solve(model=LLAMA8B, hardware=H100, seq_len=seq, cached_prefix_len=cached)
    assert r.dims == ("config",)
    np.testing.assert_allclose(r.prompt_cache_hit_ratio.values, [1000 / 2048, 3000 / 4096])
    with pytest.raises(ValueError, match="cached_prefix_len=3000 with seq_len=2048 is not allowed"):
        ms.ServingModel().solve(model=LLAMA8B, hardware=H100, seq_len=[2048, 4096], cached_prefix_len=[1000, 3000])


def test_capacity_sweep_dimension_names():
    """D21: the seed's seq_len keyword sweeps the max_seq_len dimension."""
    r = ms.ServingCapacityModel().solve(
        model=LLAMA8B, hardware=H100, qps=20, target_p99_latency_ms=2000, seq_len=[512, 1024]
    )
    assert r.dims == ("max_seq_len",)


def test_infeasible_points_do_not_raise():
    """One grid with a point that does not fit, one whose base latency misses the target (D9),
    one unstable at the cap and feasible ones: every point has its verdict."""
    r = ms.ServingCapacityModel().solve(
        model=[LLAMA8B, L.Llama3_70B],
        hardware=H100,
        qps=[20, 5000],
        target_p99_latency_ms=[1000, 2000],
        max_seq_len=1024,
        output_tokens=64,
        max_replicas=16,
    )
    b = r.bottleneck
    assert set(np.unique(b.values)) == {"Feasible", "Base Latency", "Memory", "Capacity"}
    assert (r.infeasible_reason.sel(model="Llama-3.1-70B").values == "no_kv_budget").all()
    assert r.feasible.sel(model=LLAMA8B.name, qps=20, target_p99_latency_ms=2000).item()


# ---- properties --------------------------------------------------------------------------


def device(name, peak_tflops, bandwidth_gbs, capacity_gib):
    return HardwareNode(
        name=name,
        compute=ComputeCore(peak_flops=peak_tflops * ureg("TFLOP/s")),
        memory=MemoryHierarchy(capacity=capacity_gib * ureg.GiB, bandwidth=bandwidth_gbs * ureg("GB/s")),
        tdp=500 * ureg.W,
    )


devices = st.tuples(st.floats(1, 5000), st.floats(10, 20000), st.floats(1, 1024))
serving_points = st.fixed_dictionaries(
    {
        "model": st.sampled_from(LANGUAGE),
        "seq_len": st.integers(1, 65536),
        "batch_size": st.integers(1, 512),
        "precision": st.sampled_from(PRECISIONS),
    }
)


def check_serving_monotone(spec, factor, point):
    peak, bw, cap = spec
    hw = [
        device("base", peak, bw, cap),
        device("faster memory", peak, bw * factor, cap),
        device("faster compute", peak * factor, bw, cap),
    ]
    r = ms.ServingModel().solve(hardware=hw, **point)
    ttft, itl = magnitude(r.ttft, "s"), magnitude(r.itl, "s")
    assert itl[1] <= itl[0] * (1 + 1e-12) and ttft[2] <= ttft[0] * (1 + 1e-12)
    assert ttft[1] == ttft[0] and itl[2] == itl[0]
    longer = ms.ServingModel().solve(
        hardware=hw[0], **{**point, "seq_len": point["seq_len"] + 1, "batch_size": point["batch_size"] + 1}
    )
    assert longer.ttft.to("s").m >= ttft[0] and longer.itl.to("s").m >= itl[0]
    assert longer.kv_cache_size.to("byte").m == pytest.approx(
        float(magnitude(r.kv_cache_size, "byte"))
        * (point["seq_len"] + 1)
        * (point["batch_size"] + 1)
        / (point["seq_len"] * point["batch_size"]),
        rel=1e-12,
    )


@FAST
@given(devices, st.floats(1.0, 100.0), serving_points)
def test_serving_monotone(spec, factor, point):
    check_serving_monotone(spec, factor, point)


@pytest.mark.slow
@LONG
@given(devices, st.floats(1.0, 100.0), serving_points)
def test_serving_monotone_long(spec, factor, point):
    check_serving_monotone(spec, factor, point)


def _scan(lam, mu, budget, cap):
    for r in range(1, cap + 1):
        if r * mu <= lam:
            continue
        b = 1.0
        for k in range(1, r + 1):
            b = (lam / mu) * b / (k + (lam / mu) * b)
        c = r * b / (r - (lam / mu) * (1 - b))
        if (0.0 if c < 0.01 else math.log(c / 0.01) / (r * mu - lam)) <= budget:
            return r
    return None


queues = st.tuples(st.floats(1e-3, 3000), st.floats(0.05, 200), st.floats(0, 5), st.integers(1, 600))


def check_search_equals_scan(queue):
    lam, mu, budget, cap = queue
    servers, _, found = qu.min_servers_for_wait(lam, mu, budget, cap, True)
    expected = _scan(lam, mu, budget, cap)
    assert bool(found) == (expected is not None)
    if expected is not None:
        assert servers == expected


@FAST
@given(queues)
def test_queue_search_equals_scan(queue):
    check_search_equals_scan(queue)


@pytest.mark.slow
@LONG
@given(queues)
def test_queue_search_equals_scan_long(queue):
    check_search_equals_scan(queue)


capacity_points = st.fixed_dictionaries(
    {
        "model": st.sampled_from([LLAMA8B, L.GPT2, L.Llama2_13B, L.Mixtral_8x7B]),
        "hardware": st.sampled_from([H100, A100, H.H200, H.B200]),
        "max_seq_len": st.sampled_from([256, 1024, 4096]),
        "output_tokens": st.integers(1, 512),
        "service_time_cv": st.floats(0, 3),
    }
)


def check_capacity_monotone(point, qps, targets):
    """More traffic never needs fewer replicas; a looser target never needs more."""
    qps, targets = sorted(set(qps)), sorted(set(targets))
    r = ms.ServingCapacityModel().solve(qps=qps, target_p99_latency_ms=targets, max_replicas=256, **point)
    reps = np.broadcast_to(r.dataset.required_replicas.values, (len(qps), len(targets)))
    feasible = np.broadcast_to(r.dataset.feasible.values, reps.shape)
    for i in range(len(qps)):
        for j in range(len(targets)):
            if not feasible[i, j]:
                continue
            if j + 1 < len(targets):
                assert feasible[i, j + 1] and reps[i, j + 1] <= reps[i, j]
            if i > 0:
                assert not feasible[i - 1, j] or reps[i - 1, j] <= reps[i, j]


@FAST
@given(
    capacity_points,
    st.lists(st.floats(0.1, 3000), min_size=1, max_size=4),
    st.lists(st.floats(50, 60000), min_size=1, max_size=4),
)
def test_capacity_monotone(point, qps, targets):
    check_capacity_monotone(point, qps, targets)


@pytest.mark.slow
@LONG
@given(
    capacity_points,
    st.lists(st.floats(0.1, 3000), min_size=1, max_size=4),
    st.lists(st.floats(50, 60000), min_size=1, max_size=4),
)
def test_capacity_monotone_long(point, qps, targets):
    check_capacity_monotone(point, qps, targets)


def check_tail_monotone(lam, service, replicas):
    """P99 never rises with more replicas; the two Erlang C paths (a replica sweep, and the
    same points zipped along one dimension) agree."""
    replicas = sorted(set(replicas))
    r = ms.TailLatencyModel().solve(arrival_rate_qps=lam, service_latency_ms=service, num_replicas=replicas)
    p99 = np.broadcast_to(magnitude(r.p99_latency, "s"), (len(replicas),))
    assert np.all(p99[1:] <= p99[:-1] * (1 + 1e-12))
    zipped = ms.TailLatencyModel().solve(
        arrival_rate_qps=xr.DataArray([lam] * len(replicas), dims="config"),
        service_latency_ms=service,
        num_replicas=xr.DataArray(replicas, dims="config"),
    )
    np.testing.assert_allclose(
        np.broadcast_to(zipped.dataset.wait_probability.values, (len(replicas),)),
        np.broadcast_to(r.dataset.wait_probability.values, (len(replicas),)),
        rtol=1e-10,
    )


@FAST
@given(st.floats(0, 5000), st.floats(0.1, 2000), st.lists(st.integers(1, 2048), min_size=1, max_size=6))
def test_tail_latency_monotone_in_replicas(lam, service, replicas):
    check_tail_monotone(lam, service, replicas)


@pytest.mark.slow
@LONG
@given(st.floats(0, 5000), st.floats(0.1, 2000), st.lists(st.integers(1, 2048), min_size=1, max_size=6))
def test_tail_latency_monotone_in_replicas_long(lam, service, replicas):
    check_tail_monotone(lam, service, replicas)


def check_batching(model, hardware, pages, mean_fraction, b_max, page):
    """With S_max a whole number of pages (so a paged allocation never exceeds a static
    reservation), paged admission >= static admission, both within the batch cap."""
    s_max = pages * page
    r = ms.ContinuousBatchingModel().solve(
        model=model,
        hardware=hardware,
        max_seq_len=s_max,
        mean_request_tokens=max(1.0, mean_fraction * s_max),
        max_batch_size=b_max,
        page_size=page,
    )
    assert b_max >= r.max_active_requests >= r.static_max_active_requests >= 0
    assert r.speedup_vs_static >= 1.0 - 1e-12
    assert 0 <= r.paged_internal_fragmentation < 1


batching = (
    st.sampled_from(LANGUAGE),
    st.sampled_from(CLOUD),
    st.integers(1, 8192),
    st.floats(0.01, 1.0),
    st.integers(1, 4096),
    st.sampled_from([1, 8, 16, 64]),
)


@FAST
@given(*batching)
def test_paged_admits_at_least_static(model, hardware, pages, mean_fraction, b_max, page):
    check_batching(model, hardware, pages, mean_fraction, b_max, page)


@pytest.mark.slow
@LONG
@given(*batching)
def test_paged_admits_at_least_static_long(model, hardware, pages, mean_fraction, b_max, page):
    check_batching(model, hardware, pages, mean_fraction, b_max, page)


@pytest.mark.parametrize(
    "cls, kwargs, chunks",
    [
        (
            ms.ServingModel,
            dict(
                model=LANGUAGE[:5],
                hardware=CLOUD[:6],
                seq_len=[128, 2048, 32768],
                batch_size=[1, 8, 64],
                decode_hardware=[A100, H.H200],
            ),
            {"hardware": 2, "batch_size": 2},
        ),
        (
            ms.ContinuousBatchingModel,
            dict(
                model=LANGUAGE[:4],
                hardware=CLOUD[:5],
                max_seq_len=[2048, 8192],
                mean_request_tokens=[100, 2048],
                max_batch_size=[1, 64],
            ),
            {"hardware": 2},
        ),
        (
            ms.WeightStreamingModel,
            dict(model=LANGUAGE[:4], hardware=CLOUD[:5], seq_len=[128, 4096], phase=["decode", "prefill"]),
            {"model": 3},
        ),
        (
            ms.InferenceScalingModel,
            dict(model=LANGUAGE[:4], hardware=CLOUD[:5], reasoning_steps=[1, 8, 32]),
            {"reasoning_steps": 2},
        ),
        (
            ms.TailLatencyModel,
            dict(arrival_rate_qps=[1, 50, 500], service_latency_ms=[5, 50], num_replicas=[1, 16, 64]),
            {"num_replicas": 2},
        ),
        (
            ms.ServingModel,
            dict(
                model=LANGUAGE[:4],
                hardware=CLOUD[:4],
                fidelity=["first_order", "refined"],
                tp_size=[1, 2, 8],
                batch_size=[1, 64],
                seq_len=2048,
                output_tokens=128,
                gpu_hour_price=2.0,
            ),
            {"tp_size": 2, "hardware": 2},
        ),
        (
            ms.ServingModel,
            dict(model=LANGUAGE[:3], hardware=CLOUD[:3], fidelity="refined", tp_size=4, seq_len=[128, 4096]),
            {"hardware": 2},
        ),
        (
            ms.ContinuousBatchingModel,
            dict(
                model=LANGUAGE[:3],
                hardware=CLOUD[:3],
                fidelity=["first_order", "refined"],
                concurrency=[1, 16, 512],
                input_tokens=512,
                output_tokens=128,
                tp_size=[1, 2],
            ),
            {"concurrency": 2},
        ),
        (
            ms.ServingCapacityModel,
            dict(model=LANGUAGE[:3], hardware=CLOUD[:3], qps=[1, 100], target_p99_latency_ms=2000),
            {"qps": 1},
        ),
    ],
)
def test_chunked_equals_eager(cls, kwargs, chunks):
    """With ``chunks`` the elementwise resolvers stay lazy; the queue resolvers evaluate eagerly
    (their search gathers across points) — both equal the eager result."""
    pytest.importorskip("dask")
    eager = cls().solve(**kwargs).dataset
    lazy = cls().solve(chunks=chunks, **kwargs)
    xr.testing.assert_identical(lazy.compute().dataset, eager)
