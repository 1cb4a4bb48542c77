"""SensitivitySolver and SynthesisSolver in the three tiers: hand-derived values (with their
derivation), the grid contract (grid == loop, the input-type matrix, bad arguments) and
hypothesis properties; plus the corrected behaviour of D10 (every field kept, elasticity,
P15's bandwidth lever) and of P16 (the exact inversion)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim_vec as ms
from mlsysim_vec import ureg
from mlsysim_vec.hardware.types import ComputeCore, HardwareNode, MemoryHierarchy
from mlsysim_vec.physics.synthesis import DEFAULT_DISPATCH_TAX_S
from mlsysim_vec.solvers.analysis import SENSITIVITY_PARAMETERS
from mlsysim_vec.variables import VARIABLES

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

H100, A100, H200 = ms.Hardware.Cloud.H100, ms.Hardware.Cloud.A100, ms.Hardware.Cloud.H200
ESP32, OURA = ms.Hardware.Tiny.ESP32_S3, ms.Hardware.Tiny.OuraRing
LLAMA8B, LLAMA70B, RESNET = ms.Models.Language.Llama3_8B, ms.Models.Language.Llama3_70B, ms.Models.ResNet50
SENS, SYN, SNM = ms.SensitivitySolver(), ms.SynthesisSolver(), ms.SingleNodeModel()
HARDWARE = ms.Hardware.list()
MODELS = ms.Models.list()
PRECISIONS = ["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4"]
SENS_OUTPUTS = (
    "baseline_latency",
    *(f"sensitivity_{p}" for p in SENSITIVITY_PARAMETERS),
    *(f"elasticity_{p}" for p in SENSITIVITY_PARAMETERS),
)
SYN_OUTPUTS = (
    "required_bw",
    "required_flops",
    "required_memory",
    "compute_memory_ratio",
    "model_size",
    "total_ops",
    "required_bw_exact",
    "required_flops_exact",
    "latency_overhead",
)


def approx(x, rel=1e-12):
    return pytest.approx(x, rel=rel)


def seconds(q):
    return q.to("s").magnitude


def values(result, name, unit=None):
    """An output as a plain ndarray (in ``unit`` when given)."""
    da = getattr(result, name)
    if unit is not None:
        return np.asarray(da.pint.to(unit).pint.magnitude)
    return np.asarray(da.values)


def perturbed(hw: HardwareNode, lever: str, f: float) -> HardwareNode:
    """``hw`` with one lever scaled by ``f``, built with ``dataclasses.replace`` so that every other
    field (SRAM, flash, links, TDP, dispatch tax, ...) is kept (D10). "memory_bandwidth" scales
    every memory tier (the P15 choice documented in SensitivitySolver)."""
    if lever == "peak_flops":
        compute = dataclasses.replace(
            hw.compute,
            peak_flops=hw.compute.peak_flops * f,
            precision_flops={k: v * f for k, v in hw.compute.precision_flops.items()},
        )
        return dataclasses.replace(hw, name=f"{hw.name} +flops", compute=compute)
    mem = hw.memory
    if lever == "memory_bandwidth":
        scaled = {
            k: getattr(mem, k) * f
            for k in ("bandwidth", "sram_bandwidth", "flash_bandwidth")
            if getattr(mem, k) is not None
        }
        return dataclasses.replace(hw, name=f"{hw.name} +bw", memory=dataclasses.replace(mem, **scaled))
    return dataclasses.replace(hw, name=f"{hw.name} +cap", memory=dataclasses.replace(mem, capacity=mem.capacity * f))


# ---- tier 1: hand-derived values ---------------------------------------------------------


def test_llama8b_h100_memory_bound_by_hand():
    """Llama-3-8B fp16 on H100 at batch 1 (part 2 §12, §20.1): W = 8.03e9·2 B = 16.06 GB,
    traffic 1.1 W = 17.666 GB, T_m = 17.666 GB / 3.35 TB/s = 5.27343 ms, T_c = 16.06 GFLOP /
    (989 TF·0.5) = 0.0325 ms, overhead 0.01 + 32·0.01 = 0.33 ms, T = 5.603433 ms (reference
    5.603432835820896 ms). Bandwidth ×1.1: T_m/1.1 + 0.33 ms, sensitivity −0.0855552 (reference
    −0.08555523000293008); elasticity = −0.855552 = −T_m/(1.1·T) (D10). FLOP/s and capacity: 0."""
    r = SENS.solve(LLAMA8B, H100)
    t_m, t_c, o = 16.06e9 * 1.1 / 3.35e12, 16.06e9 / (989e12 * 0.5), 0.33e-3
    t0 = t_m + o
    assert seconds(r.baseline_latency) == approx(t0)
    assert r.baseline_latency.to("ms").m == approx(5.603432835820896)
    s_bw = (t_m / 1.1 + o - t0) / t0
    assert r.sensitivity_memory_bandwidth == approx(s_bw, 1e-12)
    assert r.sensitivity_memory_bandwidth == approx(-0.08555523000293008, 1e-12)
    assert r.elasticity_memory_bandwidth == approx(s_bw / 0.1, 1e-12)
    assert r.elasticity_memory_bandwidth == approx(-t_m / (1.1 * t0), 1e-12)
    assert r.sensitivity_peak_flops == 0.0 and r.elasticity_peak_flops == 0.0
    assert r.sensitivity_memory_capacity == 0.0 and r.elasticity_memory_capacity == 0.0
    assert r.binding_constraint == "memory_bandwidth" and r.bottleneck == "Memory"
    assert r.feasible is True and r.infeasible_reason == "none"
    assert t_c < t_m


def test_memory_bound_llm_elasticity_tends_to_minus_memory_share():
    """A memory-bound LLM: for a small upgrade the bandwidth elasticity tends to −T_m/T (−1 for the
    roofline part; the fixed overhead dilutes it): −5.27343/5.603433 = −0.94111; FLOP/s: 0.
    Without the overhead (batch 1, a device with zero dispatch tax cannot remove the per-layer
    tax), a larger traffic share pushes it towards −1: at batch 64 T_m = 16.06 GB·7.4/3.35 TB/s."""
    r = SENS.solve(LLAMA8B, H100, perturbation_pct=1e-4)
    t_m = 16.06e9 * 1.1 / 3.35e12
    assert r.elasticity_memory_bandwidth == pytest.approx(-t_m / (t_m + 0.33e-3), rel=1e-5)
    assert r.elasticity_peak_flops == 0.0
    big = SENS.solve(LLAMA8B, H100, batch_size=64, perturbation_pct=1e-4)
    t_m64 = 16.06e9 * (1 + 6.4) / 3.35e12
    assert big.elasticity_memory_bandwidth == pytest.approx(-t_m64 / (t_m64 + 0.33e-3), rel=1e-5)
    assert big.elasticity_memory_bandwidth < -0.99


def test_resnet50_a100_compute_bound_by_hand():
    """ResNet-50 fp16 on A100, batch 1, +20 % (part 2 §20.1): T_c = 8.2 GFLOP/(312 TF·0.5) =
    0.0525641 ms > T_m = 51.114 MB·1.1/2039 GB/s = 0.0275754 ms, overhead 0.015 + 50·0.01 ms;
    T = 0.5675641 ms. FLOP/s ×1.2: sensitivity = T_c(1/1.2 − 1)/T = −0.0154356 (reference
    −0.015435584669829219); bandwidth 0 (not binding). At batch 256 compute dominates the
    overhead: elasticity → −T_c/(1.2·T) ≈ −0.80."""
    r = SENS.solve(RESNET, A100, perturbation_pct=20)
    t_c, o = 8.2e9 / (312e12 * 0.5), 0.515e-3
    t0 = t_c + o
    assert seconds(r.baseline_latency) == approx(t0)
    assert r.sensitivity_peak_flops == approx(t_c * (1 / 1.2 - 1) / t0, 1e-11)
    assert r.sensitivity_peak_flops == approx(-0.015435584669829219, 1e-11)
    assert r.elasticity_peak_flops == approx(r.sensitivity_peak_flops / 0.2, 1e-12)
    assert r.sensitivity_memory_bandwidth == 0.0 and r.binding_constraint == "peak_flops"
    big = SENS.solve(RESNET, A100, batch_size=256, perturbation_pct=20)
    t_c256 = 256 * 8.2e9 / (312e12 * 0.5)
    assert big.elasticity_peak_flops == approx(-t_c256 / (1.2 * (t_c256 + o)), 1e-11)
    assert big.bottleneck == "Compute" and big.elasticity_memory_bandwidth == 0.0


def test_infeasible_baseline_binds_capacity():
    """Llama-3-70B fp16 (141.2 GB) on H100 (80 GiB = 85.9 GB) does not fit: binding
    "memory_capacity" whatever the sensitivities (part 2 §12 item 5). At +10 % it still spills
    (94.5 GB) and every sensitivity is 0: the offload path runs at the 64 GB/s host link, which
    no lever scales (HBM ×1.1 stays above it). At +80 % (154.6 GB) it fits: T goes from
    2427.685 ms to 155.32 GB/3.35 TB/s + 0.81 ms = 47.1745 ms, sensitivity −0.98057 (reference
    −0.9805682454253837), elasticity −0.98057/0.8 = −1.2257 (capacity elasticity is not bounded
    by −1)."""
    r = SENS.solve(LLAMA70B, H100)
    assert r.feasible is False and r.infeasible_reason == "memory_capacity"
    assert r.binding_constraint == "memory_capacity"
    assert r.baseline_latency.to("ms").m == approx(2427.685)
    assert (r.sensitivity_peak_flops, r.sensitivity_memory_bandwidth, r.sensitivity_memory_capacity) == (0, 0, 0)
    r80 = SENS.solve(LLAMA70B, H100, perturbation_pct=80)
    t_fit = 141.2e9 * 1.1 / 3.35e12 + 0.81e-3
    assert r80.sensitivity_memory_capacity == approx(t_fit / 2.427685 - 1, 1e-11)
    assert r80.sensitivity_memory_capacity == approx(-0.9805682454253837, 1e-11)
    assert r80.elasticity_memory_capacity == approx(r80.sensitivity_memory_capacity / 0.8)
    assert r80.elasticity_memory_capacity < -1


def test_downgrade_and_zero_perturbation():
    """−10 %: bandwidth ×0.9, T_m/0.9 → sensitivity +0.1045675 (reference 0.10456750333691436);
    the elasticity of a downgrade is still negative (−1.0457). 0 %: every change 0, elasticities
    NaN (None as scalars), binding the first lever (peak_flops) as the reference."""
    down = SENS.solve(LLAMA8B, H100, perturbation_pct=-10)
    assert down.sensitivity_memory_bandwidth == approx(0.10456750333691436, 1e-11)
    assert down.elasticity_memory_bandwidth == approx(-1.0456750333691436, 1e-11)
    zero = SENS.solve(LLAMA8B, H100, perturbation_pct=0)
    assert (zero.sensitivity_peak_flops, zero.sensitivity_memory_bandwidth) == (0.0, 0.0)
    assert zero.elasticity_memory_bandwidth is None and zero.binding_constraint == "peak_flops"


def test_p15_bandwidth_lever_reaches_the_flash_tier():
    """D10/P15: MobileNetV2-0.5 fp8 (1.96868 MB > 512 KiB SRAM) on the Oura Ring streams from
    40 MB/s flash, η = 1: T_m = 1.96868 MB·1.1/40 MB/s = 54.1387 ms > T_c = 3.93736 MFLOP/100
    MFLOP/s = 39.3736 ms; overhead 2 ms + 1 layer·0.01 ms. "Memory bandwidth" ×1.1 speeds the
    flash up: sensitivity (T_m/1.1 − T_m)/T = −0.087655, binding memory_bandwidth. The reference
    scales main memory only and reports 0 (structurally), binding peak_flops by the tie rule."""
    model = ms.Models.Vision.MobileNetV2_Alpha0_5
    r = SENS.solve(model, OURA, precision="fp8", efficiency=1.0)
    w = 1_968_680 * 1.0
    t_m, t_c, o = w * 1.1 / 40e6, 2 * 1_968_680 / 100e6, 2.01e-3
    assert t_m > t_c
    assert seconds(r.baseline_latency) == approx(t_m + o)
    assert r.sensitivity_memory_bandwidth == approx((t_m / 1.1 - t_m) / (t_m + o), 1e-11)
    assert r.binding_constraint == "memory_bandwidth" and r.sensitivity_peak_flops == 0.0


def test_synthesis_reference_examples():
    """Part 2 §13/§20.1. Llama-3-8B at 20 ms: W = 16.06 GB, ops = 16.06 GFLOP: 803 GB/s,
    1.606 TF/s (η = 0.5), 16.06 GB, 2.0 FLOP/B. ResNet-50 int8 at 1 ms, η = 0.4: W = 25.557 MB
    → 25.557 GB/s; 8.2 GFLOP/(1 ms·0.4) = 20.5 TF/s; ratio 802.128 FLOP/B."""
    r = SYN.solve(LLAMA8B, 20 * ureg.ms)
    assert r.required_bw.to("GB/s").m == approx(803.0)
    assert r.required_flops.to("TFLOP/s").m == approx(1.606)
    assert r.required_memory.to("GB").m == approx(16.06) and r.model_size.to("GB").m == approx(16.06)
    assert r.compute_memory_ratio.to("flop/byte").m == approx(2.0)
    assert r.total_ops.to("flop").m == approx(16.06e9)
    q = SYN.solve(RESNET, 1 * ureg.ms, precision="int8", efficiency=0.4)
    assert q.required_bw.to("GB/s").m == approx(25.557032)
    assert q.required_flops.to("TFLOP/s").m == approx(20.5)
    assert q.compute_memory_ratio.to("flop/byte").m == approx(802.1275709949418)


def test_synthesis_exact_inversion_by_hand():
    """The exact outputs invert SingleNodeModel: overhead O = 0.01 ms + 32·0.01 ms = 0.33 ms,
    budget τ = 19.67 ms; BW = 1.1·16.06 GB/τ = 898.119 GB/s; F = 16.06 GFLOP/(0.5·τ) =
    1.632944 TF/s. At batch 8: F = 8·16.06 GFLOP/(0.5·τ), BW = 16.06 GB·1.8/τ, while the
    reference's BW (W/T = 803 GB/s) ignores the batch."""
    r = SYN.solve(LLAMA8B, 0.020)
    tau = 0.020 - 0.33e-3
    assert r.latency_overhead.to("ms").m == approx(0.33)
    assert r.required_bw_exact.to("byte/s").m == approx(16.06e9 * 1.1 / tau)
    assert r.required_flops_exact.to("flop/s").m == approx(16.06e9 / (0.5 * tau))
    assert r.feasible is True and r.infeasible_reason == "none"
    b8 = SYN.solve(LLAMA8B, 0.020, batch_size=8)
    assert b8.required_flops_exact.to("flop/s").m == approx(8 * 16.06e9 / (0.5 * tau))
    assert b8.required_bw_exact.to("byte/s").m == approx(16.06e9 * 1.8 / tau)
    assert b8.required_bw.to("GB/s").m == approx(803.0)
    assert b8.required_flops.to("flop/s").m == approx(8 * 16.06e9 / (0.02 * 0.5))


def test_p16_reference_spec_misses_the_target_and_exact_spec_meets_it():
    """P16: a part built to the reference's 20 ms spec (803 GB/s, 1.606 TF/s) runs Llama-3-8B in
    17.666 GB/803 GB/s + 0.33 ms = 22.33 ms on SingleNodeModel; the exact spec runs in 20 ms."""
    r = SYN.solve(LLAMA8B, 20 * ureg.ms)

    def device(bw, flops):
        return HardwareNode(
            name="synth",
            compute=ComputeCore(peak_flops=flops),
            memory=MemoryHierarchy(capacity=r.required_memory, bandwidth=bw),
        )

    slow = SNM.solve(LLAMA8B, device(r.required_bw, r.required_flops))
    assert slow.latency.to("ms").m == approx(22.33)
    exact = SNM.solve(LLAMA8B, device(r.required_bw_exact, r.required_flops_exact))
    assert exact.latency.to("ms").m == approx(20.0) and exact.feasible


def test_synthesis_unmeetable_target():
    """Below the fixed overhead (0.33 ms for Llama-3-8B) no device meets the target: infeasible,
    reason "base_latency", exact requirements infinite; the reference's outputs stay finite."""
    r = SYN.solve(LLAMA8B, [0.2, 0.33, 0.34] * ureg.ms)
    assert list(values(r, "feasible")) == [False, False, True]
    assert list(r.infeasible_reason.values) == ["base_latency", "base_latency", "none"]
    assert np.isinf(values(r, "required_bw_exact", "byte/s")[:2]).all()
    assert np.isinf(values(r, "required_flops_exact", "flop/s")[:2]).all()
    assert np.isfinite(values(r, "required_bw", "byte/s")).all()


def test_synthesis_default_dispatch_tax_is_the_hardware_default():
    """The synthesized device's default dispatch tax is HardwareNode's default (0.01 ms)."""
    default = next(f.default for f in dataclasses.fields(HardwareNode) if f.name == "dispatch_tax")
    assert DEFAULT_DISPATCH_TAX_S == approx(default.to("s").m)
    r = SYN.solve(RESNET, 1e-3, dispatch_tax=[0.0, 0.015e-3])
    assert values(r, "latency_overhead", "ms") == approx([0.5, 0.515])


def test_registered_variables():
    """The new outputs are catalogued with their units; binding_constraint is a category with the
    three levers."""
    cat = VARIABLES["binding_constraint"]
    assert cat.kind == "category" and cat.categories == ("peak_flops", "memory_bandwidth", "memory_capacity")
    assert VARIABLES["baseline_latency"].unit == "s" and VARIABLES["perturbation_pct"].unit == "percent"
    assert VARIABLES["required_bw_exact"].unit == "byte/s" and VARIABLES["required_flops_exact"].unit == "flop/s"
    for name in SENS_OUTPUTS + SYN_OUTPUTS:
        assert name in VARIABLES, name
    assert VARIABLES["elasticity_memory_bandwidth"].optional


# ---- D10: every other field kept ---------------------------------------------------------


@pytest.mark.parametrize(
    "model, hw, kw",
    [
        (LLAMA8B, H100, dict(perturbation_pct=10)),
        (RESNET, A100, dict(perturbation_pct=20, batch_size=64)),
        (LLAMA70B, H100, dict(perturbation_pct=80)),
        (ms.Models.Tiny.WakeVision, ESP32, dict(precision="int8", perturbation_pct=-30)),
        (ms.Models.Vision.MobileNetV2_Alpha0_5, OURA, dict(precision="fp8", efficiency=1.0, perturbation_pct=25)),
        (ms.Models.Vision.LeNet1, ESP32, dict(precision="int8", efficiency=1.0, perturbation_pct=-25)),
        (ms.Models.Language.Mixtral_8x7B, ms.Hardware.Cloud.MI300X, dict(precision="fp8", batch_size=32)),
    ],
)
def test_d10_equals_single_node_model_on_perturbed_records(model, hw, kw):
    """D10 (0.1.1-#20): each perturbed device is the baseline with one lever scaled and every other
    field kept (built here with ``dataclasses.replace``); the sensitivities equal SingleNodeModel
    run on those records, and the elasticity is the change over pct/100."""
    r = SENS.solve(model, hw, **kw)
    f = 1 + kw.get("perturbation_pct", 10) / 100
    snm_kw = {k: v for k, v in kw.items() if k != "perturbation_pct"}
    devices = [hw] + [perturbed(hw, lever, f) for lever in SENSITIVITY_PARAMETERS]
    lat = values(SNM.solve(model, devices, **snm_kw), "latency", "s")
    assert seconds(r.baseline_latency) == approx(lat[0])
    for k, lever in enumerate(SENSITIVITY_PARAMETERS):
        change = getattr(r, f"sensitivity_{lever}")
        assert change == pytest.approx((lat[k + 1] - lat[0]) / lat[0], rel=1e-9, abs=1e-13), lever
        assert getattr(r, f"elasticity_{lever}") == pytest.approx(change / (f - 1), rel=1e-9, abs=1e-12)
        kept = devices[k + 1]
        assert kept.memory.sram_capacity == hw.memory.sram_capacity and kept.interconnect is hw.interconnect
        assert kept.dispatch_tax == hw.dispatch_tax and kept.tdp == hw.tdp


# ---- tier 2: the grid contract -----------------------------------------------------------


def test_sensitivity_grid_equals_loop():
    """Every output of a models × hardware × batch × precision × pct grid equals the scalar call."""
    kw = dict(
        model=[LLAMA8B, RESNET, ms.Models.Tiny.WakeVision],
        hardware=[H100, A100, ESP32, OURA],
        batch_size=[1, 32],
        precision=["fp16", "int8"],
        perturbation_pct=[-20, 0, 10, 100],
    )
    ds = SENS.solve(**kw).dataset
    assert tuple(ds.attrs["dims"]) == ("model", "hardware", "batch_size", "precision", "perturbation_pct")
    for m in kw["model"]:
        for h in kw["hardware"]:
            for b in kw["batch_size"]:
                for p in kw["precision"]:
                    for pct in kw["perturbation_pct"]:
                        one = SENS.solve(model=m, hardware=h, batch_size=b, precision=p, perturbation_pct=pct).dataset
                        point = ds.sel(model=m.name, hardware=h.name, batch_size=b, precision=p, perturbation_pct=pct)
                        for name in SENS_OUTPUTS + ("binding_constraint", "feasible", "bottleneck"):
                            np.testing.assert_array_equal(point[name].values, one[name].values, err_msg=name)


def test_synthesis_grid_equals_loop():
    kw = dict(
        model=[LLAMA8B, RESNET, ms.Models.Recommendation.DLRM, ms.Models.Language.Mixtral_8x7B],
        target_latency=[0.2e-3, 1e-3, 0.05, 2.0],
        precision=["fp16", "int4", "fp32"],
        efficiency=[0.3, 1.0],
        batch_size=[1, 16],
    )
    ds = SYN.solve(**kw).dataset
    for m in kw["model"]:
        for t in kw["target_latency"]:
            for p in kw["precision"]:
                for e in kw["efficiency"]:
                    for b in kw["batch_size"]:
                        one = SYN.solve(model=m, target_latency=t, precision=p, efficiency=e, batch_size=b).dataset
                        point = ds.sel(model=m.name, target_latency=t, precision=p, efficiency=e, batch_size=b)
                        for name in SYN_OUTPUTS + ("feasible",):
                            np.testing.assert_array_equal(point[name].values, one[name].values, err_msg=name)


@pytest.mark.parametrize(
    "value, dims",
    [
        (0.02, ()),
        (20 * ureg.ms, ()),
        (0.02 * ureg.s, ()),
        ([20 * ureg.ms], ("target_latency",)),
        ([0.02], ("target_latency",)),
        (np.array([0.02]), ("target_latency",)),
        (np.array([20.0]) * ureg.ms, ("target_latency",)),
        (xr.DataArray([20.0], dims="sla", attrs={"units": "ms"}), ("sla",)),
        (xr.DataArray(ureg.Quantity(np.array([0.02]), "s"), dims="sla"), ("sla",)),
    ],
)
def test_target_latency_input_types(value, dims):
    """Every form of 20 ms gives the same numbers; plain numbers are seconds."""
    expected = SYN.solve(LLAMA8B, 20 * ureg.ms).required_bw.to("byte/s").m
    r = SYN.solve(model=LLAMA8B, target_latency=value)
    assert r.dims == dims
    got = r.required_bw
    got = got.to("byte/s").m if not dims else got.pint.to("byte/s").pint.magnitude
    assert np.all(np.asarray(got) == pytest.approx(expected, rel=1e-15))


@pytest.mark.parametrize("value", [10, 10.0, 10 * ureg.percent, ureg.Quantity(0.1, ""), [10], np.array([10.0])])
def test_perturbation_pct_input_types(value):
    """10 %, however written: a plain number is a percentage, a Quantity converts (0.1 = 10 %)."""
    r = SENS.solve(LLAMA8B, H100, perturbation_pct=value)
    got = r.sensitivity_memory_bandwidth
    assert np.all(np.asarray(got) == pytest.approx(-0.08555523000293008, rel=1e-12))


@pytest.mark.parametrize(
    "solver, kwargs, error, pattern",
    [
        (SENS, dict(perturbation_pct=-100), ValueError, r"perturbation_pct=-100 is not allowed; .* > -100"),
        (SENS, dict(perturbation_pct=[10, -150]), ValueError, r"perturbation_pct=-150 is not allowed"),
        (SENS, dict(efficiency=0), ValueError, r"efficiency=0 is not allowed"),
        (SENS, dict(efficiency=1.5), ValueError, r"efficiency=1.5 is not allowed"),
        (SENS, dict(precision="banana"), ValueError, r"precision='banana' is not allowed"),
        (SENS, dict(batch_size=0), ValueError, r"batch_size=0 is not allowed"),
        (SENS, dict(hardware="H100"), TypeError, r"hardware='H100' is a str"),
        (SENS, dict(perturbation_pct=10 * ureg.s), TypeError, r"perturbation_pct=.*has units of s"),
        (SENS, dict(activation_traffic_ratio=-0.1), ValueError, r"activation_traffic_ratio=-0.1 is not allowed"),
        (SYN, dict(target_latency=0), ValueError, r"target_latency=0 is not allowed; .*> 0"),
        (SYN, dict(target_latency=-5 * ureg.ms), ValueError, r"target_latency=-0.005 is not allowed"),
        (SYN, dict(target_latency=20 * ureg.GB), TypeError, r"target_latency=.*expected a quantity convertible to s"),
        (SYN, dict(efficiency=0), ValueError, r"efficiency=0 is not allowed"),
        (SYN, dict(efficiency=2.0), ValueError, r"efficiency=2 is not allowed"),
        (SYN, dict(dispatch_tax=-1e-3), ValueError, r"dispatch_tax=-0.001 is not allowed"),
        (SYN, dict(precision="fp12"), ValueError, r"precision='fp12' is not allowed"),
        (SYN, dict(model=H100), TypeError, r"model=HardwareNode\('NVIDIA H100'\) is a HardwareNode"),
        (SYN, dict(target_latency=None), TypeError, r"missing required argument 'target_latency'"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(solver, kwargs, error, pattern):
    """D14: the reference's ZeroDivisionError (T = 0, η = 0, pct = −100) and silent nonsense
    (T < 0, η > 1, pct < −100) are ValueErrors naming the argument."""
    base = dict(model=LLAMA8B, hardware=H100) if solver is SENS else dict(model=LLAMA8B, target_latency=0.02)
    kw = base | kwargs
    if kw.get("target_latency", 1) is None:
        del kw["target_latency"]
    with pytest.raises(error, match=pattern):
        solver.solve(**kw)


def test_sensitivity_chunked_equals_eager():
    pytest.importorskip("dask")
    kw = dict(
        model=[LLAMA8B, LLAMA70B, RESNET],
        hardware=HARDWARE[:8],
        batch_size=[1, 8, 64],
        perturbation_pct=[-10, 0, 10, 50],
    )
    eager = SENS.solve(**kw)
    lazy = SENS.solve(chunks={"hardware": 3, "perturbation_pct": 2}, **kw)
    assert lazy.dataset.baseline_latency.chunks is not None
    xr.testing.assert_identical(lazy.compute().dataset, eager.dataset)


# ---- tier 3: properties ------------------------------------------------------------------


def distinct(items, max_size):
    return st.lists(st.sampled_from(items), min_size=1, max_size=max_size, unique_by=lambda r: r.name)


sensitivity_grids = st.fixed_dictionaries(
    {
        "model": distinct(MODELS, 3),
        "hardware": distinct(HARDWARE, 4),
        "batch_size": st.lists(st.integers(1, 4096), min_size=1, max_size=3, unique=True),
        "precision": st.lists(st.sampled_from(PRECISIONS), min_size=1, max_size=2, unique=True),
        "perturbation_pct": st.lists(st.floats(0.01, 500.0), min_size=1, max_size=3, unique=True),
        "efficiency": st.floats(0.05, 1.0),
    }
)


def check_elasticity_bounds(kwargs):
    """Upgrades (pct > 0): latency never rises; FLOP/s and bandwidth elasticities lie in
    [−1/f, 0] ⊂ [−1, 0] (the roofline term scales at most by 1/f); capacity never slows. The
    same levers downgraded by the inverse factor never speed up. The binding lever of a feasible
    baseline has the largest |change|; an infeasible baseline binds capacity."""
    ds = SENS.solve(**kwargs).dataset
    f = 1 + ds["perturbation_pct"] / 100
    for lever in ("peak_flops", "memory_bandwidth"):
        e = ds[f"elasticity_{lever}"]
        assert bool((e <= 1e-12).all()) and bool((e >= -1 / f - 1e-9).all()), lever
    assert bool((ds["sensitivity_memory_capacity"] <= 1e-12).all())
    changes = xr.concat([abs(ds[f"sensitivity_{p}"]) for p in SENSITIVITY_PARAMETERS], dim="lever")
    changes, binding, feasible = xr.broadcast(changes, ds["binding_constraint"], ds["feasible"])
    dims = [d for d in changes.dims if d != "lever"] + ["lever"]
    changes = changes.transpose(*dims).values
    binding = binding.transpose(*dims).values[..., 0].astype(int)
    feasible = feasible.transpose(*dims).values[..., 0]
    best = np.take_along_axis(changes, binding[..., None], -1)[..., 0]
    assert np.all(best[feasible] == changes.max(-1)[feasible])
    assert np.all(binding[~feasible] == SENSITIVITY_PARAMETERS.index("memory_capacity"))
    inverse = [100 * (1 / (1 + p / 100) - 1) for p in kwargs["perturbation_pct"]]
    down = SENS.solve(**(kwargs | {"perturbation_pct": inverse})).dataset
    for lever in SENSITIVITY_PARAMETERS:
        assert bool((down[f"sensitivity_{lever}"] >= -1e-12).all()), lever


@FAST
@given(sensitivity_grids)
def test_elasticity_bounds(kwargs):
    check_elasticity_bounds(kwargs)


@pytest.mark.slow
@LONG
@given(sensitivity_grids)
def test_elasticity_bounds_long(kwargs):
    check_elasticity_bounds(kwargs)


# Models that do work and have weights (DLRM has no FLOP count; its exact FLOP/s are 0).
SYNTH_MODELS = [m for m in MODELS if m.si["ops_per_sample"] > 0]
synthesis_points = st.fixed_dictionaries(
    {
        "model": st.sampled_from(SYNTH_MODELS),
        "precision": st.sampled_from(PRECISIONS),
        "efficiency": st.floats(0.01, 1.0),
        "batch_size": st.integers(1, 4096),
        "activation_traffic_ratio": st.floats(0.0, 2.0),
        "dispatch_tax": st.floats(0.0, 5e-3),
        "slack": st.floats(1e-6, 1e4),
    }
)


def check_exact_device_meets_target(point):
    """A device built to the exact requirements (peak FLOP/s, bandwidth, capacity = W, the dispatch
    tax) runs the step on SingleNodeModel in the target time, to float rounding; one built to the
    reference's requirements misses it (P16: traffic ≥ W and an overhead > 0)."""
    point = dict(point)
    slack = point.pop("slack")
    model, dispatch = point["model"], point["dispatch_tax"]
    layers = getattr(model, "layers", None) or 1
    target = (dispatch + layers * 1e-5) * (1 + slack)
    r = SYN.solve(target_latency=target, **point)
    assert r.feasible

    def device(bw, flops):
        return HardwareNode(
            name="synth",
            compute=ComputeCore(peak_flops=flops),
            memory=MemoryHierarchy(capacity=r.required_memory, bandwidth=bw),
            dispatch_tax=dispatch * ureg.s,
        )

    run = {k: v for k, v in point.items() if k != "dispatch_tax"}
    exact = SNM.solve(hardware=device(r.required_bw_exact, r.required_flops_exact), **run)
    assert exact.feasible
    assert seconds(exact.latency) == pytest.approx(target, rel=1e-12)
    loose = SNM.solve(hardware=device(r.required_bw, r.required_flops), **run)
    assert seconds(loose.latency) > target


@FAST
@given(synthesis_points)
def test_exact_device_meets_target(point):
    check_exact_device_meets_target(point)


@pytest.mark.slow
@LONG
@given(synthesis_points)
def test_exact_device_meets_target_long(point):
    check_exact_device_meets_target(point)


@FAST
@given(
    st.sampled_from(MODELS),
    st.lists(st.floats(1e-5, 1e3), min_size=2, max_size=6, unique=True),
    st.sampled_from(PRECISIONS),
    st.floats(0.01, 1.0),
)
def test_requirements_fall_as_the_target_loosens(model, targets, precision, efficiency):
    """A looser target never needs more bandwidth or FLOP/s (reference and exact outputs)."""
    targets = sorted(targets)
    r = SYN.solve(model, targets, precision=precision, efficiency=efficiency)
    for name, unit in (
        ("required_bw", "byte/s"),
        ("required_flops", "flop/s"),
        ("required_bw_exact", "byte/s"),
        ("required_flops_exact", "flop/s"),
    ):
        v = np.broadcast_to(values(r, name, unit), (len(targets),))
        assert np.all(v[1:] <= v[:-1]), name  # inf (unmeetable) before finite
    assert not math.isnan(values(r, "required_memory", "byte"))
