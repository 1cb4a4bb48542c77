"""Tier 1: hand-derived and published values for the node resolvers, with their derivation,
and the corrected behaviour of each deviation from mlsysim 0.3.0 (DECISIONS.md)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import mlsysim_vec as ms
from mlsysim_vec import ureg


@pytest.fixture(autouse=True)
def _first_order():
    """These numbers are mlsysim 0.3.0's first-order physics (hand-derived from its equations):
    pinned, whatever the default fidelity (``ms.set_options``) is. Refined cases pass
    ``fidelity="refined"`` explicitly."""
    with ms.set_options(fidelity="first_order"):
        yield


H100, A100 = ms.Hardware.Cloud.H100, ms.Hardware.Cloud.A100
LLAMA8B, LLAMA70B = ms.Models.Language.Llama3_8B, ms.Models.Language.Llama3_70B


def approx(x, rel=1e-12):
    return pytest.approx(x, rel=rel)


# ---- SingleNodeModel ----------------------------------------------------------------------


def test_resnet50_a100_batch1_by_hand():
    """ResNet-50 (8.2 GFLOP, 25.557 M params) on A100 (312 TFLOP/s fp16, 2039 GB/s, dispatch
    0.015 ms), batch 1, fp16, η = 0.5 (reference spec §12.2 hand check):
    T_c = 8.2e9 / (312e12·0.5) = 0.052564 ms; W = 25.557e6·2 B = 51.114 MB, traffic 1.1 W,
    T_m = 56.2255 MB / 2039 GB/s = 0.027575 ms; overhead 0.015 + 50·0.01 = 0.515 ms;
    T = 0.567564 ms; compute-bound; MFU = 8.2e9/T/312e12 = 0.0463; overhead-dominated."""
    p = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=A100, batch_size=1)
    assert ms.Models.ResNet50.parameters.to("count").m == 25_557_032
    t_c = 8.2e9 / (312e12 * 0.5)
    t_m = 25_557_032 * 2 * 1.1 / 2039e9
    assert p.latency_compute.to("s").m == approx(t_c)
    assert p.latency_memory.to("s").m == approx(t_m)
    assert p.latency_overhead.to("ms").m == approx(0.515)
    assert p.latency.to("s").m == approx(t_c + 0.515e-3)
    assert p.bottleneck == "Compute"
    assert p.mfu == approx(8.2e9 / (t_c + 0.515e-3) / 312e12)
    assert p.hfu == p.mfu
    assert p.overhead_dominated is True
    assert p.feasible is True and p.offload_spill_bytes is None
    assert p.energy.to("J").m == approx(400 * (0.3 + 0.7 * p.mfu) * (t_c + 0.515e-3))


def test_llama70b_h100_offload_by_hand():
    """Llama-3.1-70B fp16 weights 141.2 GB > 80 GiB: offload over PCIe Gen5 (64 GB/s):
    T_m = 141.2 GB·1.1 / 64 GB/s = 2.426875 s; T = 2.426875 s + 0.01 ms + 80·0.01 ms =
    2427.685 ms (part 2 §1.5); spill = 141.2e9 − 80·2^30 B; MFU = 141.2e9/T/989e12."""
    p = ms.SingleNodeModel().solve(model=LLAMA70B, hardware=H100)
    assert p.latency.to("ms").m == approx(2427.685)
    assert p.feasible is False
    assert p.offload_spill_bytes.to("byte").m == approx(141.2e9 - 80 * 2**30)
    assert p.offload_effective_bw.to("GB/s").m == approx(64)
    assert p.mfu == approx(141.2e9 / 2.427685 / 989e12)
    assert p.arithmetic_intensity.to("flop/byte").m == approx(141.2e9 / 155.32e9)


def test_llama70b_h200_fits():
    """H200 stores 141 GiB = 151.4 GB ≥ 141.2 GB: fits, T_m = 155.32 GB / 4.8 TB/s."""
    p = ms.SingleNodeModel().solve(model=LLAMA70B, hardware=ms.Hardware.Cloud.H200)
    assert p.feasible and p.latency_memory.to("s").m == approx(155.32e9 / 4.8e12)


def test_raise_errors_gives_oom_error():
    with pytest.raises(ms.OOMError, match="requires 141.200 GB") as info:
        ms.SingleNodeModel().solve(model=LLAMA70B, hardware=H100, raise_errors=True)
    assert info.value.required_bytes == approx(141.2e9)
    assert info.value.available_bytes == approx(80 * 2**30)
    with pytest.raises(ms.OOMError, match="1 of 2 points"):
        ms.SingleNodeModel().solve(model=LLAMA70B, hardware=[H100, ms.Hardware.Cloud.H200], raise_errors=True)
    for value in ("no", 0, None, [True]):  # only True or False: "no" would be read as True
        with pytest.raises(TypeError, match=re.escape(f"raise_errors={value!r} is not allowed; raise_errors must be")):
            ms.SingleNodeModel().solve(model=LLAMA70B, hardware=H100, raise_errors=value)
    assert not ms.SingleNodeModel().solve(model=LLAMA70B, hardware=H100, raise_errors=np.False_).feasible


def test_engine_is_single_node_model():
    a = ms.Engine.solve(model=ms.Models.ResNet50, hardware=A100, batch_size=32)
    b = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=A100, batch_size=32)
    assert a.latency == b.latency and a.bottleneck == b.bottleneck


def test_memory_and_compute_bound_regimes():
    """Dense LM at fp16: AI ≤ 10·ops₁/W = 10 flop/byte (B5), far below the H100 ridge, so it is
    memory-bound at any batch; a CNN at batch 32 on T4 is compute-bound (reference §12.2)."""
    r = ms.SingleNodeModel().solve(model=LLAMA8B, hardware=H100, batch_size=[1, 32, 65536])
    assert list(r.bottleneck.values) == ["Memory"] * 3
    assert float(r.arithmetic_intensity.pint.to("flop/byte").pint.magnitude.max()) < 10
    t4 = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.Cloud.T4, batch_size=32)
    assert t4.bottleneck == "Compute" and t4.latency.to("ms").m == approx(8.603846153846154)


# ---- deviations ---------------------------------------------------------------------------


def test_d3_training_counts_tokens():
    """D3: a Transformer training sample is seq_len tokens: ops = 3·2·P·S·B (inference_flops is
    per token, 2P = 16.06 GFLOP for Llama-3.1-8B), MFU = that / (T·F)."""
    p = ms.SingleNodeModel().solve(
        model=LLAMA8B, hardware=ms.Hardware.Cloud.B200, batch_size=1, is_training=True, seq_len=2048
    )
    ops = 3 * 16.06e9 * 2048
    assert p.latency_compute.to("s").m == approx(ops / (2250e12 * 0.5))
    assert p.mfu == approx(ops / p.latency.to("s").m / 2250e12)
    rec = ms.SingleNodeModel().solve(
        model=LLAMA8B,
        hardware=ms.Hardware.Cloud.B200,
        batch_size=1,
        is_training=True,
        seq_len=2048,
        activation_recomputation=True,
    )
    assert rec.latency_compute.to("s").m == approx(4 / 3 * ops / (2250e12 * 0.5))
    assert rec.hfu == approx(4 / 3 * rec.mfu)


def test_d3_training_memory_is_training_memory_model():
    """D3: the training footprint of SingleNodeModel is TrainingMemoryModel's total (Adam,
    activations stored in full ('none') or recomputed ('full'), ZeRO over dp_size, this
    device's batch) — one training-memory formula in the library."""
    for recompute, strategy in ((False, "none"), (True, "full")):
        p = ms.SingleNodeModel().solve(
            model=LLAMA8B,
            hardware=H100,
            batch_size=2,
            is_training=True,
            seq_len=1024,
            zero_stage=2,
            dp_size=8,
            activation_recomputation=recompute,
        )
        m = ms.TrainingMemoryModel().solve(
            model=LLAMA8B,
            hardware=H100,
            batch_size=16,
            seq_len=1024,
            zero_stage=2,
            dp_size=8,
            activation_checkpointing=strategy,
        )
        assert p.memory_footprint.to("byte").m == approx(m.total_memory.to("byte").m)
        assert p.feasible == m.feasible


def test_d3_cnn_training_keeps_the_reference_formula():
    """Non-Transformer training: ops ×3 per sample, footprint 2W + 12 B/param (reference)."""
    p = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=A100, batch_size=8, is_training=True)
    w = 25_557_032 * 2
    assert p.memory_footprint.to("byte").m == approx(2 * w + 12 * 25_557_032)
    assert p.latency_compute.to("s").m == approx(3 * 8.2e9 * 8 / (312e12 * 0.5))


def test_d4_activation_traffic_ratio_is_a_parameter():
    """D4: traffic = W·(1 + r·B); r = 0 leaves the weights only."""
    r = ms.SingleNodeModel().solve(model=LLAMA8B, hardware=H100, batch_size=8, activation_traffic_ratio=[0.0, 0.1, 1.0])
    t_m = r.latency_memory.pint.to("s").pint.magnitude
    w = 16.06e9
    np.testing.assert_allclose(t_m, [w / 3.35e12, w * 1.8 / 3.35e12, w * 9 / 3.35e12], rtol=1e-12)


def test_d15_precisions():
    """D15: eight precisions, case-insensitive; fp4 is 0.5 B; a precision the hardware has no
    peak for falls back to the headline peak and says so."""
    r = ms.SingleNodeModel().solve(
        model=LLAMA8B,
        hardware=ms.Hardware.Cloud.B200,
        precision=["FP32", "tf32", "BF16", "fp16", "fp8", "int8", "int4", "fp4"],
    )
    assert list(r.dims) == ["precision"]
    assert list(r.dataset.precision.values) == ["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4"]
    w = r.memory_footprint.pint.to("byte").pint.magnitude
    np.testing.assert_allclose(w / 8.03e9, [4, 4, 2, 2, 1, 1, 0.5, 0.5])
    peak = r.peak_flops_actual.pint.to("TFLOP/s").pint.magnitude / 0.5
    np.testing.assert_allclose(peak, [75, 1125, 2250, 2250, 4500, 2250, 9000, 9000])
    assert list(r.peak_flops_fallback.values) == [False, False, True, True, False, True, False, False]
    with pytest.raises(ValueError, match="precision='fp16_dense'.*one of 'fp32'"):
        ms.SingleNodeModel().solve(model=LLAMA8B, hardware=H100, precision="fp16_dense")


def test_d19_offload_never_beats_fitting():
    """D19 (P3): MobileNetV2 on the lockstep MCU fits at int8 (flash 0.4 GB/s) and spills at
    fp16; the reference then charged main memory (1.6 GB/s), faster than fitting. We charge
    min(flash, host link) = 0.4 GB/s, so the spilled case is never faster per byte."""
    mcu = ms.Hardware.Tiny.LockstepSafetyMCU_Reference
    r = ms.SingleNodeModel().solve(model=ms.Models.MobileNetV2, hardware=mcu, precision=["int8", "fp16"])
    assert list(r.feasible.values) == [True, False]
    bw = r.peak_bw_actual.pint.to("GB/s").pint.magnitude
    np.testing.assert_allclose(bw, [0.4, 0.4])
    t_m = r.latency_memory.pint.to("s").pint.magnitude
    assert t_m[1] == approx(2 * t_m[0])


def test_d16_registry_fixes():
    assert ms.Models.Language.Llama2_70B.kv_heads == 8
    gb = ms.Hardware.Cloud.GB200_NVL72.compute.precision_flops
    assert gb["fp16"] == gb["bf16"] == 162000 * ureg("TFLOP/s") and gb["fp8"] == 324000 * ureg("TFLOP/s")
    assert ms.Hardware.Cloud.H100.memory.capacity == 80 * ureg.GiB  # GiB stays GiB (B25 documented)


# ---- TrainingMemoryModel -------------------------------------------------------------------


@pytest.mark.parametrize(
    "zero, ckpt, total_gb",
    [
        (0, "none", 159.885),
        (0, "selective", 138.410),
        (0, "full", 129.820),
        (1, "none", 75.570),
        (1, "selective", 54.095),
        (1, "full", 45.505),
        (2, "none", 60.815),
        (2, "selective", 39.340),
        (2, "full", 30.750),
        (3, "none", 46.762),
        (3, "selective", 25.287),
        (3, "full", 16.697),
    ],
)
def test_training_memory_zero_checkpointing_table(zero, ckpt, total_gb):
    """Reference spec §4.5 table: Llama-3.1-8B/H100, global batch 8, seq 2048, dp 8."""
    m = ms.TrainingMemoryModel().solve(
        model=LLAMA8B,
        hardware=H100,
        batch_size=8,
        seq_len=2048,
        zero_stage=zero,
        dp_size=8,
        activation_checkpointing=ckpt,
    )
    assert m.total_memory.to("GB").m == pytest.approx(total_gb, abs=5e-4)


def test_training_memory_by_hand():
    """ZeRO-2, dp 8 (spec §12.4): micro = ⌈8/8⌉ = 1; act = 34·2048·1·4096·32 B = 9.127 GB;
    opt = 8.03e9·12/8 = 12.045 GB; grads = 16.06/8 GB; buffers = 5 % of grads."""
    m = ms.TrainingMemoryModel().solve(
        model=LLAMA8B, hardware=H100, batch_size=8, seq_len=2048, zero_stage=2, dp_size=8
    )
    assert m.activations.to("byte").m == approx(34 * 2048 * 4096 * 32)
    assert m.optimizer_state.to("byte").m == approx(8.03e9 * 12 / 8)
    assert m.gradients.to("byte").m == approx(16.06e9 / 8)
    assert m.weights.to("byte").m == approx(16.06e9)
    assert m.communication_buffers.to("byte").m == approx(0.05 * 16.06e9 / 8)
    assert m.available_memory.to("byte").m == 80 * 2**30
    assert m.feasible is True and m.memory_utilization == approx(m.total_memory.to("byte").m / (80 * 2**30))


def test_training_memory_parallel_terms():
    """TP 2 with sequence parallelism halves activations; PP 4 adds 2·micro·s·h·b of
    send/receive buffers and keeps ⌈32/4⌉ = 8 layers per stage; EP divides every parameter."""
    kw = dict(model=LLAMA8B, hardware=H100, batch_size=1, seq_len=1024, activation_checkpointing="selective")
    base = ms.TrainingMemoryModel().solve(**kw)
    tp = ms.TrainingMemoryModel().solve(tp_size=2, **kw)
    assert tp.activations.to("byte").m == approx(base.activations.to("byte").m / 2)
    assert tp.weights.to("byte").m == approx(base.weights.to("byte").m / 2)
    pp = ms.TrainingMemoryModel().solve(pp_size=4, **kw)
    assert pp.activations.to("byte").m == approx(base.activations.to("byte").m / 4)
    buffers = 0.05 * base.gradients.to("byte").m / 4 + 2 * 1 * 1024 * 4096 * 2
    assert pp.communication_buffers.to("byte").m == approx(buffers)
    ep = ms.TrainingMemoryModel().solve(ep_size=8, **kw)
    assert ep.weights.to("byte").m == approx(base.weights.to("byte").m / 8)


def test_training_memory_rejects_cnn_and_bad_choices():
    with pytest.raises(
        TypeError, match="model=CNNWorkload\\('ResNet-50'\\) is a CNNWorkload; model must be a TransformerWorkload"
    ):
        ms.TrainingMemoryModel().solve(model=ms.Models.ResNet50, hardware=H100, batch_size=8)
    with pytest.raises(ValueError, match="optimizer='lion'.*'adam', 'adamw', 'sgd', 'none'"):
        ms.TrainingMemoryModel().solve(model=LLAMA8B, hardware=H100, batch_size=8, optimizer="lion")
    with pytest.raises(ValueError, match="zero_stage=4 "):
        ms.TrainingMemoryModel().solve(model=LLAMA8B, hardware=H100, batch_size=8, zero_stage=4)
    with pytest.raises(TypeError, match="missing required argument 'batch_size'"):
        ms.TrainingMemoryModel().solve(model=LLAMA8B, hardware=H100)
    with pytest.raises(ValueError, match="needs the number of attention heads"):
        ms.TrainingMemoryModel().solve(
            model=ms.Models.StateSpace.Mamba_130M, hardware=H100, batch_size=1, activation_checkpointing="none"
        )


# ---- EfficiencyModel -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, flash, eta, mfu",
    [
        ("ffn", False, 0.5, 0.5),
        ("attention", True, 0.5, 0.75),
        ("attention", False, 0.5, 0.30),
        ("conv", False, 0.5, 0.40),
        ("other", False, 0.5, 0.30),
        ("attention", True, 0.6, 0.85),
        ("ffn", False, 0.6, 0.60),
        ("conv", False, 0.6, 0.48),
        ("attention", False, 0.6, 0.36),
    ],
)
def test_efficiency_values(kind, flash, eta, mfu):
    """Part 2 §2: values at η = 0.5 and 0.6 (caps 0.85, 0.60, 0.55)."""
    r = ms.EfficiencyModel().solve(
        model=LLAMA8B, hardware=H100, workload_type=kind, use_flash_attention=flash, efficiency=eta
    )
    assert r.mfu == approx(mfu)
    assert r.achievable_flops.to("TFLOP/s").m == approx(989 * mfu)
    occupancy = 1 - min(1.1 * eta, 1)
    assert r.occupancy_loss == approx(occupancy)
    assert r.memory_stall == approx(max(0.0, 1 - mfu - occupancy))


def test_efficiency_is_case_insensitive_and_validated():
    assert ms.EfficiencyModel().solve(model=None, hardware=H100, workload_type="FFN").mfu == 0.5
    with pytest.raises(ValueError, match="workload_type='mlp'"):
        ms.EfficiencyModel().solve(model=None, hardware=H100, workload_type="mlp")
    with pytest.raises(ValueError, match="efficiency=0 .*> 0"):
        ms.EfficiencyModel().solve(model=None, hardware=H100, efficiency=0)
    assert math.isclose(ms.EfficiencyModel().solve(hardware=H100, precision="FP8").peak_flops.to("TFLOP/s").m, 1979)


def test_v1_tensor_parallel_activations_without_sequence_parallelism():
    """Korthikanti et al. (2022) eq. 2: with TP t and no sequence parallelism a layer stores
    sbh(10 + 24/t + 5as/(ht)) bytes at 16-bit (the layer norms and dropouts outside the blocks
    are replicated); with it, everything is divided by t (eq. 6). Llama-3.1-8B, micro 1,
    s 2048, h 4096, a 32, 32 layers, t 8."""
    s, h, a, layers, t = 2048, 4096, 32, 32, 8
    r = ms.TrainingMemoryModel().solve(
        model=LLAMA8B,
        hardware=H100,
        batch_size=1,
        seq_len=s,
        tp_size=t,
        sequence_parallel=[False, True],
        activation_checkpointing=["none", "selective", "full"],
    )
    act = r.activations.pint.to("byte").pint.magnitude  # dims (sequence_parallel, activation_checkpointing)
    sbh = s * h
    np.testing.assert_allclose(
        act[0],
        [layers * sbh * (10 + 24 / t + 5 * a * s / (h * t)), layers * sbh * (10 + 24 / t), layers * 2 * sbh],
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        act[1], [layers * sbh * (34 + 5 * a * s / h) / t, layers * sbh * 34 / t, layers * 2 * sbh / t], rtol=1e-12
    )


def test_v1_interleaved_schedule_and_gradient_precision():
    """Korthikanti et al. §4.2.3: an interleaved schedule with v chunks keeps 1 + (p−1)/(p·v) times
    the first stage's activations; fp32 gradients cost 4 B per parameter (Megatron's main_grad)."""
    kw = dict(model=LLAMA8B, hardware=H100, batch_size=8, seq_len=1024, pp_size=4)
    plain = ms.TrainingMemoryModel().solve(**kw)
    inter = ms.TrainingMemoryModel().solve(v_stages=2, **kw)
    assert inter.activations.to("byte").m == approx(plain.activations.to("byte").m * (1 + 3 / 8))
    fp32 = ms.TrainingMemoryModel().solve(gradient_precision="fp32", **kw)
    assert fp32.gradients.to("byte").m == approx(2 * plain.gradients.to("byte").m)
    assert fp32.weights == plain.weights
