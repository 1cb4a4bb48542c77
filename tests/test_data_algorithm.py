"""DataModel, TransformationModel, ScalingModel, CompressionModel.

Tier 1: mlsysim 0.3.0's worked examples with their derivation (``docs/equations.md``, sections
"Data" and "Scaling and compression"; "Part 2 §n" below names the section of the reference spec
a number comes from) and the corrected behaviour of D14, D15 and D20 (docs/differences.md); tier 2:
grid == loop, input-type matrices of the unit-bearing inputs, bad arguments; tier 3: hypothesis
properties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim_vec as ms
from mlsysim_vec import Q_
from mlsysim_vec.physics.constants import PRECISION_BYTES

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

H100, A100, B200 = ms.Hardware.Cloud.H100, ms.Hardware.Cloud.A100, ms.Hardware.Cloud.B200
LLAMA8B, RESNET, YOLO = ms.Models.Language.Llama3_8B, ms.Models.ResNet50, ms.Models.Vision.YOLOv8_Nano
DATA, TRANSFORM = ms.DataModel(), ms.TransformationModel()
SCALING, COMPRESSION = ms.ScalingModel(), ms.CompressionModel()


def approx(x, rel=1e-12):
    return pytest.approx(x, rel=rel)


def si(value, unit):
    if isinstance(value, xr.DataArray):
        return value.pint.to(unit).pint.magnitude
    return value.to(unit).magnitude


def device(name, storage_gbs=None, link_gbs=None):
    return ms.HardwareNode(
        name=name,
        compute=ms.ComputeCore(peak_flops=100),
        memory=ms.MemoryHierarchy(capacity=16, bandwidth=500),
        storage=ms.StorageHierarchy(bandwidth=storage_gbs) if storage_gbs else None,
        interconnect=ms.IOInterconnect(name="link", bandwidth=link_gbs) if link_gbs is not None else None,
    )


# ---- DataModel -------------------------------------------------------------------------------


def test_data_model_examples():
    """Part 2 §20: H100 (storage 7 GB/s, PCIe 64 GB/s) at 5 GB/s → storage binds, 5/7 = 0.714,
    margin 2 GB/s; A100 (no storage, PCIe 32 GB/s) at 20 GB/s → interconnect, 0.625; Jetson Orin
    NX (neither path) at 19 TB/h = 5.278 GB/s → Unknown, supply 0, utilisation ∞, stalled."""
    r = DATA.solve(workload_data_rate=Q_(5, "GB/s"), hardware=H100)
    assert r.ingestion_bottleneck == "Storage" and r.utilization == approx(5 / 7) and r.is_stalled is False
    assert si(r.supply_bw, "GB/s") == approx(7.0) and si(r.margin, "GB/s") == approx(2.0)
    r = DATA.solve(20, A100)  # plain numbers are GB/s
    assert r.ingestion_bottleneck == "Interconnect" and r.utilization == approx(0.625) and not r.is_stalled
    r = DATA.solve(Q_(19, "TB/hour"), ms.Hardware.Edge.JetsonOrinNX)
    assert r.ingestion_bottleneck == "Unknown" and r.utilization == math.inf and r.is_stalled
    assert si(r.demand_bw, "GB/s") == approx(19e3 / 3600) and si(r.supply_bw, "GB/s") == 0.0


def test_data_model_paths():
    """The slower modelled path binds; storage wins a tie; a zero-bandwidth link does not count."""
    r = DATA.solve(
        10,
        [device("tie", 20, 20), device("slow link", 20, 8), device("zero link", 20, 0), device("link only", None, 16)],
    )
    assert list(r.ingestion_bottleneck.values) == ["Storage", "Interconnect", "Storage", "Interconnect"]
    assert list(si(r.supply_bw, "GB/s")) == [20, 8, 20, 16]
    assert list(r.is_stalled.values) == [False, True, False, False]


def test_data_rate_dimensions_p12():
    """P12: a data rate must be bytes per time. The reference read 1/s and USD/s as GB/s (bytes
    and dollars were dimensionless there); here they raise naming the argument. Bits are
    bytes/8."""
    assert DATA.solve(Q_(40, "Gbit/s"), H100).utilization == approx(5 / 7)
    for bad in (Q_(5, "1/s"), Q_(3000, "USD/s"), Q_(5, "count/s"), Q_(5, "GB")):
        with pytest.raises(TypeError, match="workload_data_rate=.*expected a quantity convertible to GB/s"):
            DATA.solve(bad, H100)
    with pytest.raises(ValueError, match=r"workload_data_rate=-5 is not allowed; .* >= 0"):
        DATA.solve(-5, H100)


def test_data_model_grid_equals_loop():
    rates = [0.0, 1.0, 12.5, 100.0]
    hardware = ms.Hardware.list()[::3]
    ds = DATA.solve(workload_data_rate=rates, hardware=hardware).dataset
    for h in hardware:
        for rate in rates:
            one = DATA.solve(rate, h).dataset
            point = ds.sel(hardware=h.name, workload_data_rate=rate)
            for name in one.data_vars:
                np.testing.assert_array_equal(point[name].values, one[name].values, err_msg=f"{name} {h} {rate}")


# ---- TransformationModel -----------------------------------------------------------------------


def test_transformation_examples():
    """Part 2 §5: 256 × 500 kB at 2 GB/s = 64 ms against a 50 ms step → CPU-bound, utilisation
    50/64 = 0.78125, slowdown 1.28; 64 × 150 kB at 4 GB/s = 2.4 ms against 20 ms → 1.0, 1.0."""
    r = TRANSFORM.solve(256, Q_(500, "kB"), Q_(2, "GB/s"), Q_(50, "ms"))
    assert si(r.transform_time, "ms") == approx(64.0)
    assert r.is_bottleneck and r.bottleneck == "CPU"
    assert r.accelerator_utilization == approx(0.78125) and r.slowdown_factor == approx(1.28)
    r = TRANSFORM.solve(batch_size=64, sample_size_bytes=150e3, cpu_throughput=4, accelerator_step_time=20)
    assert si(r.transform_time, "ms") == approx(2.4) and r.bottleneck == "Compute"
    assert r.accelerator_utilization == 1.0 and r.slowdown_factor == 1.0 and not r.is_bottleneck


def test_transformation_zero_step_and_validation():
    """A zero accelerator step: utilisation 0, slowdown ∞ (reference). P14: a zero CPU rate, a
    batch below 1 and negative sizes/times raise (the reference divided by zero or returned
    negative times); P12: sizes must be bytes and rates bytes per time."""
    r = TRANSFORM.solve(10, 1e6, 1, 0)
    assert r.accelerator_utilization == 0.0 and r.slowdown_factor == math.inf
    for kwargs, error, pattern in (
        (dict(cpu_throughput=0), ValueError, r"cpu_throughput=0 is not allowed; .* > 0"),
        (dict(batch_size=0), ValueError, r"batch_size=0"),
        (dict(batch_size=-1), ValueError, r"batch_size=-1"),
        (dict(sample_size_bytes=-1), ValueError, r"sample_size_bytes=-1"),
        (dict(accelerator_step_time=-1), ValueError, r"accelerator_step_time=-1"),
        (dict(sample_size_bytes=Q_(150, "count")), TypeError, r"sample_size_bytes=.*convertible to byte"),
        (dict(cpu_throughput=Q_(4, "1/s")), TypeError, r"cpu_throughput=.*convertible to GB/s"),
        (dict(accelerator_step_time=Q_(4, "GB")), TypeError, r"accelerator_step_time=.*convertible to ms"),
    ):
        with pytest.raises(error, match=pattern):
            TRANSFORM.solve(
                **(dict(batch_size=8, sample_size_bytes=1e6, cpu_throughput=1, accelerator_step_time=5) | kwargs)
            )


@pytest.mark.parametrize(
    "value, dims",
    [
        (Q_(50, "ms"), ()),
        (50, ()),
        (Q_(0.05, "s"), ()),
        ([50], ("accelerator_step_time",)),
        (Q_(np.array([0.05]), "s"), ("accelerator_step_time",)),
        (xr.DataArray([50.0], dims="step"), ("step",)),
        (xr.DataArray(Q_(np.array([50e3]), "us"), dims="step"), ("step",)),
    ],
)
def test_transformation_input_type_matrix(value, dims):
    r = TRANSFORM.solve(256, Q_(500, "kB"), Q_(2, "GB/s"), value)
    assert r.dims == dims
    assert np.all(np.asarray(r.dataset["slowdown_factor"].values) == approx(1.28))


@FAST
@given(
    st.lists(st.integers(1, 4096), min_size=1, max_size=3, unique=True),
    st.lists(st.floats(1e3, 1e8), min_size=1, max_size=3, unique=True),
    st.floats(0.01, 100),
    st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e3)), min_size=1, max_size=3, unique=True),
)
def test_transformation_properties(batches, sizes, cpu, steps):
    """Grid == loop; utilisation in [0, 1]; slowdown ≥ 1; utilisation × slowdown = 1 when the
    step takes time."""
    r = TRANSFORM.solve(batch_size=batches, sample_size_bytes=sizes, cpu_throughput=cpu, accelerator_step_time=steps)
    ds = r.dataset
    util, slow = ds["accelerator_utilization"].values, ds["slowdown_factor"].values
    assert np.all((util >= 0) & (util <= 1)) and np.all(slow >= 1)
    step = np.asarray(steps)[None, None, :] * np.ones_like(util)
    busy = step > 0
    np.testing.assert_allclose(util[busy] * slow[busy], 1.0, rtol=1e-12)
    b, s, t = batches[-1], sizes[0], steps[-1]
    one = TRANSFORM.solve(b, s, cpu, t).dataset
    point = ds.sel(batch_size=b, sample_size_bytes=s, accelerator_step_time=t)
    for name in one.data_vars:
        np.testing.assert_array_equal(point[name].values, one[name].values)


# ---- ScalingModel --------------------------------------------------------------------------------


def test_scaling_examples():
    """Part 2 §7: C = 1e24 FLOP → N* = √(1e24/120) = 9.129e10, D* = 20 N* = 1.826e12; 1000
    H100-days → C = 1000·86400 s·989e12·0.40 = 3.418e22 FLOP → N* = 1.688e10; a pinned 70e9
    model gets D = 1e24/(6·70e9) = 2.381e12 tokens (34.01 per parameter)."""
    r = SCALING.solve(Q_(1e24, "flop"))
    assert si(r.compute_budget_flops, "flop") == 1e24
    assert r.optimal_parameters == approx(math.sqrt(1e24 / 120)) and r.optimal_tokens == approx(
        20 * math.sqrt(1e24 / 120)
    )
    assert r.tokens_per_parameter == approx(20.0)
    r = SCALING.solve(Q_(1000, "day"))
    assert si(r.compute_budget_flops, "flop") == approx(1000 * 86400 * 989e12 * 0.4)
    assert r.optimal_parameters == approx(16_876_966_552.079197)
    r = SCALING.solve(1e24, target_model_size=70e9)
    assert r.optimal_parameters == 70e9 and r.optimal_tokens == approx(1e24 / (6 * 70e9))
    assert r.tokens_per_parameter == approx(1e24 / (6 * 70e9) / 70e9)


def test_d20_flop_budgets_are_converted():
    """D20 (P1, 0.1.1-#15): the reference used a budget's magnitude in whatever FLOP unit it
    came in, so 1e12 TFLOP (= 1e24 FLOP) gave N* = 91,287 and 1 PFLOP/s·day gave 0.09. Here
    every FLOP unit is converted: 1e12 TFLOP is 1e24 FLOP, 1 PFLOP/s·day is 8.64e19 FLOP
    (N* = √(8.64e19/120) = 8.485e8)."""
    exa = SCALING.solve(Q_(1e12, "TFLOP"))
    assert exa.optimal_parameters == approx(SCALING.solve(1e24).optimal_parameters)
    assert si(exa.compute_budget_flops, "flop") == approx(1e24)
    pfd = SCALING.solve(compute_budget=Q_(1, "PFLOP/s") * Q_(1, "day"))
    assert pfd.optimal_parameters == approx(math.sqrt(8.64e19 / 120))
    with pytest.raises(TypeError, match="compute_budget=.*expected a quantity convertible to flop"):
        SCALING.solve(Q_(5, "GB"))


def test_d20_time_budgets_on_named_hardware():
    """D20: a time budget is accelerator-time on the H100 reference (989 TFLOP/s × 0.40) unless
    ``hardware`` and ``mfu`` are named: 100 B200-days at 0.5 MFU = 100·86400·B200 fp16 peak·0.5.
    1000 hours on the reference = 1000·3600·989e12·0.4 = 1.424e21 FLOP."""
    assert si(SCALING.solve(Q_(1000, "hour")).compute_budget_flops, "flop") == approx(1000 * 3600 * 989e12 * 0.4)
    peak = B200.compute.precision_flops.get("fp16", B200.compute.peak_flops).to("flop/s").m
    r = SCALING.solve(Q_(100, "day"), hardware=B200, mfu=0.5)
    assert si(r.compute_budget_flops, "flop") == approx(100 * 86400 * peak * 0.5)
    same = SCALING.solve(accelerator_days=100, hardware=B200, mfu=0.5)
    assert same.optimal_parameters == r.optimal_parameters
    swept = SCALING.solve(compute_budget=Q_([1.0, 10.0], "week"), hardware=[H100, A100])
    assert swept.dims == ("accelerator_days", "hardware")
    assert list(swept.dataset["accelerator_days"].values) == [7.0, 70.0]
    # H100 keeps no separate fp16 entry (fp16_dense): the headline peak stands in, and says so
    assert SCALING.solve(Q_(1, "day"), hardware=H100).peak_flops_fallback is True
    assert SCALING.solve(Q_(1, "day"), hardware=H100, precision="fp8").peak_flops_fallback is False


def test_scaling_validation():
    """D14/P1: negative budgets and a zero or negative target raise ValueError (the reference
    raised 'math domain error' and silently ignored a zero target); a missing or doubled budget
    is a TypeError. A zero budget gives a zero model (0 tokens per parameter)."""
    with pytest.raises(ValueError, match="compute_budget=-1"):
        SCALING.solve(-1.0)
    with pytest.raises(ValueError, match="target_model_size=0"):
        SCALING.solve(1e24, target_model_size=0)
    with pytest.raises(TypeError, match="missing required argument 'compute_budget'"):
        SCALING.solve(target_model_size=7e9)
    with pytest.raises(TypeError, match="give one budget"):
        SCALING.solve(compute_budget=1e24, accelerator_days=10)
    with pytest.raises(TypeError, match="give one budget"):
        SCALING.solve(Q_(3, "day"), accelerator_days=10)
    with pytest.raises(ValueError, match="mfu=0 is not allowed"):
        SCALING.solve(Q_(3, "day"), mfu=0)
    zero = SCALING.solve(0.0)
    assert zero.optimal_parameters == 0.0 and zero.tokens_per_parameter == 0.0


def test_scaling_pinned_sizes_in_a_sweep():
    """NaN entries of a swept target are compute-optimal; the others are pinned."""
    r = SCALING.solve(compute_budget=[1e22, 1e24], target_model_size=[np.nan, 7e9])
    params = np.asarray(r.optimal_parameters.values)
    assert params[:, 1].tolist() == [7e9, 7e9]
    assert params[:, 0] == approx(np.sqrt(np.array([1e22, 1e24]) / 120))


budgets = st.lists(st.floats(1e15, 1e27), min_size=2, max_size=5, unique=True)


def check_scaling(values, target):
    """C = 6·N·D at every point; N* and D* grow with the budget; grid == loop."""
    values = sorted(values)
    r = SCALING.solve(compute_budget=values, target_model_size=[np.nan, target])
    ds = r.dataset
    n, d = ds["optimal_parameters"].values, ds["optimal_tokens"].values
    np.testing.assert_allclose(6 * n * d, np.asarray(values)[:, None] * np.ones(2), rtol=1e-12)
    assert np.all(np.diff(n[:, 0]) >= 0) and np.all(np.diff(d, axis=0) >= 0)
    one = SCALING.solve(values[-1], target_model_size=target).dataset
    assert float(ds["optimal_tokens"].sel(compute_budget=values[-1], target_model_size=target)) == float(
        one["optimal_tokens"]
    )


@FAST
@given(budgets, st.floats(1e6, 1e13))
def test_scaling_properties(values, target):
    check_scaling(values, target)


@pytest.mark.slow
@LONG
@given(budgets, st.floats(1e6, 1e13))
def test_scaling_properties_long(values, target):
    check_scaling(values, target)


# ---- CompressionModel ----------------------------------------------------------------------------


def test_compression_examples():
    """Part 2 §9/§20. Llama-3.1-8B (8.03e9 params) on H100, 8 bits from fp32: 32.12 → 8.03 GB,
    ratio 4; memory-bound (16.06 GFLOP/989 TF ≪ 32.12 GB/3.35 TB/s), so the speed-up is the ratio;
    delta −0.002. 4 bits from fp16: 16.06 → 4.015 GB. ResNet-50 2:4 pruning at s = 0.5: ratio 2,
    speed-up 2, delta −0.001. YOLOv8-n on A100 is compute-bound at fp32 (8.7 GFLOP/312 TF =
    27.9 µs > 12.8 MB/2039 GB/s = 6.3 µs): 8 bits → min(624/312, 4) = 2; 4 bits → A100 has no
    int4 peak → 1."""
    r = COMPRESSION.solve(LLAMA8B, H100)
    assert si(r.original_size, "GB") == approx(32.12) and si(r.compressed_size, "GB") == approx(8.03)
    assert r.compression_ratio == 4.0 and r.inference_speedup == 4.0 and r.estimated_accuracy_delta == -0.002
    assert r.memory_savings_fraction == 0.75 and r.bottleneck == "Memory" and r.peak_flops_fallback is False
    r = COMPRESSION.solve(LLAMA8B, H100, target_bitwidth=4, baseline_precision="fp16")
    assert si(r.original_size, "GB") == approx(16.06) and si(r.compressed_size, "GB") == approx(4.015)
    assert r.estimated_accuracy_delta == -0.025
    r = COMPRESSION.solve(RESNET, A100, method="pruning", sparsity=0.5, sparsity_type="n_m")
    assert si(r.compressed_size, "GB") == approx(0.051114064) and r.inference_speedup == 2.0
    assert r.estimated_accuracy_delta == -0.001
    r = COMPRESSION.solve(YOLO, A100, target_bitwidth=[8, 4])
    assert r.bottleneck.values.item() == "Compute"  # at the fp32 baseline, whatever the bits
    assert list(r.inference_speedup.values) == [2.0, 1.0]
    assert list(r.peak_flops_fallback.values) == [False, True]
    assert COMPRESSION.solve(YOLO, H100).inference_speedup == approx(1979 / 989)


def test_compression_p9_documented_decisions():
    """P9, kept as the reference and documented: 3 bits on a memory-bound LLM → ratio, delta
    and speed-up (32/3, −0.05, 32/3); compute-bound int8 from fp32 (YOLO on an A100) → the int8
    peak over the headline peak, 624/312 = 2, below the ratio 4; the baseline's own width →
    ratio 1, savings 0, speed-up 1; sparsity 1 → ratio 100; N:M within ±0.05 of 50 % → 2×,
    outside → 1×; unstructured pruning → 1×; a size-only model (DLRM, 100 GB) has that size at
    every baseline. D22: an up-cast (32 bits from fp16; the reference: ratio 0.5, savings −1)
    raises."""
    r = COMPRESSION.solve(LLAMA8B, H100, target_bitwidth=3)
    assert (r.compression_ratio, r.estimated_accuracy_delta, r.inference_speedup) == (
        approx(32 / 3),
        -0.05,
        approx(32 / 3),
    )
    same = COMPRESSION.solve(LLAMA8B, H100, target_bitwidth=16, baseline_precision="fp16")
    assert (same.compression_ratio, same.memory_savings_fraction, same.inference_speedup) == (1.0, 0.0, 1.0)
    int8 = COMPRESSION.solve(YOLO, A100, target_bitwidth=8)
    assert (int8.bottleneck, int8.compression_ratio, int8.inference_speedup) == ("Compute", 4.0, approx(624 / 312))
    with pytest.raises(ValueError, match=r"^target_bitwidth=32 is above baseline_precision='fp16' \(16 bits\)"):
        COMPRESSION.solve(LLAMA8B, H100, target_bitwidth=32, baseline_precision="fp16")
    with pytest.raises(
        ValueError, match=r"target_bitwidth=16 is above baseline_precision='int8' .* \(up-casts at 1 of 4"
    ):
        COMPRESSION.solve(LLAMA8B, H100, target_bitwidth=[8, 16], baseline_precision=["fp32", "int8"])
    pruned = COMPRESSION.solve(LLAMA8B, H100, method="pruning", sparsity=0.5, target_bitwidth=64)
    assert pruned.compression_ratio == 2.0  # pruning ignores the bit width: no up-cast to refuse
    full = COMPRESSION.solve(RESNET, A100, method="pruning", sparsity=1.0, sparsity_type="structured")
    assert full.compression_ratio == 100.0 and full.inference_speedup == 100.0
    assert full.estimated_accuracy_delta == approx(-0.01 * math.exp(2.0))
    nm = COMPRESSION.solve(RESNET, A100, method="pruning", sparsity=[0.46, 0.54, 0.6], sparsity_type="n_m")
    assert list(nm.inference_speedup.values) == [2.0, 2.0, 1.0]
    assert COMPRESSION.solve(RESNET, A100, method="pruning", sparsity=0.9).inference_speedup == 1.0
    dlrm = COMPRESSION.solve(ms.Models.Recommendation.DLRM, A100, baseline_precision=["fp32", "fp16"])
    assert list(si(dlrm.original_size, "GB")) == [approx(100.0), approx(100.0)]


def test_d15_p9_canonical_choices():
    """D15/P9: method, sparsity type and baseline precision are canonicalised once. The
    reference's solve() took "Quantization" as a no-op (ratio 1), "2:4" as unstructured
    (speed-up 1) and rejected fp4; here they are quantization, N:M (2×) and 0.5-byte fp4. An
    unknown method or sparsity type raises instead of silently doing nothing."""
    assert COMPRESSION.solve(LLAMA8B, H100, method="Quantization").compression_ratio == 4.0
    pruned = COMPRESSION.solve(RESNET, A100, method="PRUNING", sparsity=0.5, sparsity_type="2:4")
    assert pruned.compression_ratio == 2.0 and pruned.inference_speedup == 2.0
    assert COMPRESSION.solve(RESNET, A100, method="pruning", sparsity=0.5, sparsity_type="N:M").inference_speedup == 2.0
    assert si(COMPRESSION.solve(LLAMA8B, H100, baseline_precision="FP16").original_size, "GB") == approx(16.06)
    fp4 = COMPRESSION.solve(LLAMA8B, B200, baseline_precision="fp4", target_bitwidth=2)
    assert si(fp4.original_size, "GB") == approx(4.015) and fp4.compression_ratio == 2.0
    with pytest.raises(
        ValueError, match="method='distillation' is not allowed; method must be one of 'quantization', 'pruning'"
    ):
        COMPRESSION.solve(LLAMA8B, H100, method="distillation")
    with pytest.raises(ValueError, match="sparsity_type='blocky'"):
        COMPRESSION.solve(LLAMA8B, H100, sparsity_type="blocky")
    with pytest.raises(ValueError, match="baseline_precision='fp12'"):
        COMPRESSION.solve(LLAMA8B, H100, baseline_precision="fp12")
    for kwargs, name in (
        (dict(target_bitwidth=0), "target_bitwidth"),
        (dict(sparsity=1.5), "sparsity"),
        (dict(sparsity=-0.1), "sparsity"),
    ):
        with pytest.raises(ValueError, match=f"{name}="):
            COMPRESSION.solve(LLAMA8B, H100, **kwargs)


def test_compression_grid_equals_loop():
    axes = {
        "model": [LLAMA8B, RESNET, YOLO, ms.Models.Recommendation.DLRM],
        "hardware": [H100, A100, B200],
        "method": ["quantization", "pruning"],
        "target_bitwidth": [3, 4, 8, 16],  # at most the baselines' bits (an up-cast raises, D22)
        "sparsity": [0.0, 0.5, 0.95],
        "sparsity_type": ["unstructured", "structured", "n_m"],
        "baseline_precision": ["fp32", "fp16"],
    }
    ds = COMPRESSION.solve(**axes).dataset
    rng = np.random.default_rng(3)
    for _ in range(60):
        point = {k: v[rng.integers(len(v))] for k, v in axes.items()}
        one = COMPRESSION.solve(**point).dataset
        sel = ds.sel({k: (v.name if hasattr(v, "si") else v) for k, v in point.items()})
        for name in one.data_vars:
            np.testing.assert_array_equal(sel[name].values, one[name].values, err_msg=f"{name} {point}")


compression_points = st.sampled_from(["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4"]).flatmap(
    lambda baseline: st.fixed_dictionaries(
        {
            "model": st.sampled_from(ms.Models.list()),
            "hardware": st.sampled_from(ms.Hardware.list()),
            "target_bitwidth": st.floats(1, 8 * PRECISION_BYTES[baseline]),  # no up-cast (D22)
            "sparsity": st.floats(0, 1),
            "sparsity_type": st.sampled_from(["unstructured", "structured", "n_m"]),
            "baseline_precision": st.just(baseline),
        }
    )
)


def check_compression(point):
    """compressed × ratio = original; savings = 1 − 1/ratio; a quantized model never speeds up by
    more than its ratio, pruning never beyond its ratio; pruning always loses accuracy."""
    r = COMPRESSION.solve(method=["quantization", "pruning"], **point).dataset
    ratio, speed = r["compression_ratio"].values, r["inference_speedup"].values
    np.testing.assert_allclose(r["compressed_size"].values * ratio, r["original_size"].values, rtol=1e-12)
    np.testing.assert_allclose(r["memory_savings_fraction"].values, 1 - 1 / ratio, rtol=1e-12, atol=1e-15)
    assert np.all(speed <= np.maximum(ratio, 2.0) * (1 + 1e-12)) and np.all(speed > 0)
    assert r["estimated_accuracy_delta"].values[1] < 0


@FAST
@given(compression_points)
def test_compression_properties(point):
    check_compression(point)


@pytest.mark.slow
@LONG
@given(compression_points)
def test_compression_properties_long(point):
    check_compression(point)
