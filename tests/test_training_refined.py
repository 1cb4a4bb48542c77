"""The refined training physics (issue 11): each new term derived by hand (tier 1, the step
functions called directly), honest defaults on GPT-3 175B / 1,024 A100, and grid == loop and
chunked == eager for every new argument.

Sources: Korthikanti et al. 2022 (arXiv:2205.05198) for activations and logits; Dao et al. 2022
(arXiv:2205.14135) for FlashAttention's statistics; Micikevicius et al. 2018 (arXiv:1710.03740) for
fp32 gradients; Narayanan et al. 2021 (doi:10.1145/3458817.3476209) for the attention-score FLOPs
and the 1F1B / interleaved in-flight microbatches; Liu et al. 2023 (arXiv:2310.01889) for the ring
exchange of context parallelism; Dettmers et al. 2023 (arXiv:2305.14314) for QLoRA.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from pytest import approx

import mlsysim_vec as ms
from mlsysim_vec.physics import efficiency as eff
from mlsysim_vec.physics import memory as mem
from mlsysim_vec.physics import parallel as par

#: A 1e9-parameter Transformer: 2 layers, hidden 1024, 8 heads, 128 tokens, vocabulary 1000.
SHAPE = dict(seq_len=128.0, layers=2.0, hidden=1024.0, heads=8.0)


def _memory(**kw):
    base = dict(
        tp=1.0,
        pp=1.0,
        dp=1.0,
        ep=1.0,
        zero_stage=0.0,
        global_batch=4.0,
        accumulation_steps=1.0,
        strategy=mem.NONE,
        buffer_fraction=0.0,
        sequence_parallel=True,
        **SHAPE,
    )
    return mem.training_memory(1e9, 2.0, 12.0, 1.0, **{**base, **kw})


# ---- memory ------------------------------------------------------------------------------------
def test_flash_attention_replaces_the_score_matrix_by_its_statistics():
    # No recomputation, b = 4, s = 128, h = 1024, a = 8, 2 layers at 16 bit (Korthikanti eq. 1):
    # 34·s·b·h = 34·128·4·1024 = 17,825,792 B and 5·a·s²·b = 5·8·128²·4 = 2,621,440 B per layer.
    # FlashAttention: no score matrix, 8·a·s·b = 8·8·128·4 = 32,768 B of statistics per layer.
    first = _memory()["activations"]
    flash = _memory(refined=True, flash_attention=True)["activations"]
    assert first == 2 * (17_825_792 + 2_621_440)
    assert flash == 2 * (17_825_792 + 32_768)


def test_logits_and_fp32_gradients_under_refined():
    # Logits of the loss in fp32 on the (only) stage: 4·s·b·V = 4·128·4·1000 = 2,048,000 B.
    # Gradients: 1e9 × 4 B (mixed precision) instead of 1e9 × 2 B; an explicit width still wins.
    out = _memory(refined=True, flash_attention=True, vocab=1000.0)
    assert out["activations"] == 2 * (17_825_792 + 32_768) + 2_048_000
    assert out["gradients"] == 4e9 and _memory()["gradients"] == 2e9
    assert _memory(refined=True, gradient_bytes_per_el=2.0)["gradients"] == 2e9
    assert mem.logits_bytes(128.0, 4.0, np.nan) == 0.0  # no vocabulary on record


def test_microbatch_size_and_in_flight_microbatches():
    # Global batch 64 on dp 1, microbatch 2: 32 microbatches per flush. 1F1B with pp = 4: the
    # first stage holds min(4, 32) = 4 microbatches; interleaved v = 2: × (1 + 3/8) = 5.5.
    assert mem.pipeline_in_flight(np.array([1.0, 4.0, 4.0, 8.0]), np.array([32.0, 32.0, 2.0, 32.0])).tolist() == [
        1.0,
        4.0,
        2.0,
        8.0,
    ]
    assert mem.pipeline_in_flight(4.0, 32.0, 2.0) == 5.5
    one = _memory(global_batch=64.0, microbatch_size=2.0, pp=4.0, layers=8.0)["activations"]
    assert one == 2 * (34 * 128 * 2 * 1024 + 5 * 8 * 128**2 * 2)  # first_order: one microbatch of 2
    refined = _memory(global_batch=64.0, microbatch_size=2.0, pp=4.0, layers=8.0, refined=True, flash_attention=False)
    assert refined["activations"] == 4 * one
    assert mem.microbatch_samples(64.0, 4.0, 2.0) == 8.0 and mem.microbatch_samples(64.0, 4.0, 2.0, 3.0) == 3.0


def test_context_parallel_and_qlora_memory():
    # cp = 2: each rank holds s/2 = 64 tokens: 34·64·4·1024 + 5·8·64·128·4 per layer, plus the
    # ring's K and V blocks of a neighbour, 4·64·4·1024 elements × 2 B.
    out = _memory(cp=2.0)["activations"]
    assert out == 2 * (34 * 64 * 4 * 1024 + 5 * 8 * 64 * 128 * 4 + 4 * 64 * 4 * 1024 * 2)
    # QLoRA: 1 % trainable at 2 B, 99 % frozen at 0.5 B: 1e9·(0.01·2 + 0.99·0.5) = 5.15e8 B.
    q = mem.training_memory(
        1e9,
        2.0,
        12.0,
        0.01,
        **{
            **dict(tp=1.0, pp=1.0, dp=1.0, ep=1.0, zero_stage=0.0, global_batch=1.0, accumulation_steps=1.0),
            **dict(strategy=mem.FULL, buffer_fraction=0.0, sequence_parallel=True, **SHAPE),
        },
        frozen_bytes_per_el=0.5,
    )
    assert q["weights"] == approx(5.15e8, rel=1e-15) and q["optimizer_state"] == approx(1.2e8)


# ---- step time ---------------------------------------------------------------------------------
def test_attention_flops_and_elementwise_bytes_by_hand():
    # 4·s²·h·L = 4·2048²·4096·32 = 2,199,023,255,552 FLOP per sample (Narayanan Eq. 3, s/6h term).
    assert par.attention_score_flops(2048.0, 4096.0, 32.0) == 2_199_023_255_552
    # (34·s·h + 5·a·s²)·b/2 at s = 2048, h = 4096, a = 32, 2 B: 285,212,672 + 671,088,640 B;
    # fused softmax: the first only.
    assert par.elementwise_bytes(2048.0, 4096.0, 32.0, 2.0, False) == 285_212_672 + 671_088_640
    assert par.elementwise_bytes(2048.0, 4096.0, 32.0, 2.0, True) == 285_212_672


def test_gemm_curve_by_hand():
    # Size = sqrt of the two smallest dimensions: 64×12288×12288 → sqrt(64·12288) = 886.81.
    assert eff.gemm_size(64.0, 12288.0, 12288.0) == approx(886.8100134752651)
    # x = (m/m_half)^k; at m = m_half the factor is 1/2, and it saturates at 1.
    assert eff.gemm_shape_factor(912.0, 912.0, 1.79) == 0.5
    assert eff.gemm_shape_factor(1e9) == approx(1.0, abs=1e-9)
    # tp = 1, T = h = 1024, k = 1, m_half = 1024: every GEMM has its two smallest dims ≥ 1024:
    # QKV and MLP-up sqrt(1024·1024) → φ = 1/2; proj sqrt(1024·1024) → 1/2; MLP-down 1/2 → 1/2.
    assert eff.layer_gemm_factor(1024.0, 1024.0, 1.0, 1024.0, 1.0) == approx(0.5)
    # tp = 4: proj is 1024 × 256 × 1024 → m = sqrt(256·1024) = 512, φ = 1/3; QKV 1024×1024×768 →
    # sqrt(768·1024), MLP 1024×1024×1024 and 1024×1024×1024 → 1/2; harmonic mean weighted 3,1,4,4.
    m_qkv = np.sqrt(768.0 * 1024.0)
    phi_qkv = m_qkv / (m_qkv + 1024.0)
    expected = 1.0 / (3 / 12 / phi_qkv + 1 / 12 * 3.0 + 8 / 12 * 2.0)
    assert eff.layer_gemm_factor(1024.0, 1024.0, 4.0, 1024.0, 1.0) == approx(expected, rel=1e-12)


def test_microbatch_count_rule():
    # Explicit count wins; else ⌈B_loc/size⌉; neither: 1 (first_order) or B_loc (refined, size 1).
    assert par.microbatch_count(48.0, 6.0, 4.0, True) == 6.0
    assert par.microbatch_count(48.0, np.nan, 5.0) == 10.0
    assert par.microbatch_count(48.0) == 1.0 and par.microbatch_count(48.0, refined=True) == 48.0


def test_context_parallel_ring_is_hidden_behind_attention():
    # cp = 4, 1 MB K/V blocks at 100 GB/s and 0 latency: 3 hops × 10 µs × 3 passes = 90 µs; hidden
    # by 100 µs of attention, exposed 40 µs after 50 µs.
    assert par.context_parallel_time(1e6, 4.0, 3.0, 100e-6, 100e9, 0.0) == 0.0
    assert par.context_parallel_time(1e6, 4.0, 3.0, 50e-6, 100e9, 0.0) == approx(40e-6)
    assert par.context_parallel_time(1e6, 1.0, 3.0, 0.0, 100e9, 0.0) == 0.0


# ---- the resolvers -----------------------------------------------------------------------------
GPT3 = dict(model=ms.Models.GPT3, fleet=ms.Systems.Clusters.Training_1K_A100, batch_size=768, tp_size=8, pp_size=8)


def test_gpt3_pipeline_gets_a_realistic_schedule_by_default():
    """GPT-3 175B on 1,024 A100 with TP 8, PP 8 and batch 768, nothing else given: refined runs
    microbatches of 1 (48 per flush on each of 16 replicas), so the bubble is 7/55 and it fits;
    first_order's one-microbatch pipeline carries its notes."""
    refined = ms.DistributedModel().solve(**GPT3, fidelity="refined").dataset
    assert int(refined.microbatches_per_flush) == 48
    assert float(refined.bubble_fraction) == approx(7 / 55)
    assert bool(refined.feasible) and int(refined.notes) == 0
    first = ms.DistributedModel().solve(**GPT3, fidelity="first_order").dataset
    assert int(first.microbatches_per_flush) == 1 and float(first.bubble_fraction) == approx(7 / 8)
    assert bool(first.note_pipeline_bubble_over_half) and bool(first.note_one_microbatch_pipeline)
    assert int(first.notes) == 1 + 4
    assert float(refined.step_latency_total) < 0.3 * float(first.step_latency_total)
    # An explicit degenerate choice keeps its notes under refined too.
    explicit = ms.DistributedModel().solve(**GPT3, fidelity="refined", microbatch_count=1).dataset
    assert int(explicit.notes) == 1 + 4
    no_flash = ms.DistributedModel().solve(**GPT3, fidelity="refined", flash_attention=False).dataset
    assert bool(no_flash.note_no_flash_attention) and int(no_flash.notes) == 2


def test_plain_call_gets_the_realistic_schedule():
    """Called with only model, fleet, batch and degrees (the default fidelity is refined), the
    GPT-3 pipeline runs 48 microbatches per flush and carries no notes; the optimizer's choice
    for the same job is never a one-microbatch pipeline."""
    plain = ms.DistributedModel().solve(**GPT3).dataset
    assert int(plain.microbatches_per_flush) == 48 and int(plain.notes) == 0 and bool(plain.feasible)
    best = ms.ParallelismOptimizer().solve(model=ms.Models.GPT3, fleet=GPT3["fleet"], batch_size=768)
    assert best.feasible and best.microbatches_per_flush > 1 and best.notes & (1 + 4) == 0  # no degenerate pipeline


def test_refined_tp_allreduces_repeat_under_recomputation():
    a = ms.DistributedModel().solve(**GPT3, fidelity="refined", activation_recomputation=True).dataset
    b = ms.DistributedModel().solve(**GPT3, fidelity="first_order", microbatch_size=1, activation_recomputation=True)
    ratio = float(a.tp_communication_latency) / float(b.dataset.tp_communication_latency)
    assert ratio == approx(6 / 4, rel=1e-12)


NEW_ARGS = dict(
    fidelity=["first_order", "refined"],
    microbatch_size=[1, 4],
    cp_size=[1, 2],
    flash_attention=[False, True],
    gemm_half_size=[500.0, 912.0],
)


@pytest.mark.parametrize("name", list(NEW_ARGS))
def test_distributed_new_arguments_grid_equals_loop_and_chunked(name):
    base = {**GPT3, "fidelity": "refined", "batch_size": 1536, "tp_size": [4, 8]}
    values = NEW_ARGS[name]
    grid = ms.DistributedModel().solve(**{**base, name: values}).dataset
    lazy = ms.DistributedModel().solve(**{**base, name: values}, chunks={name: 1}).dataset
    for v in values:
        one = ms.DistributedModel().solve(**{**base, name: v}).dataset
        for out in ("step_latency_total", "memory_footprint", "notes", "cp_communication_latency"):
            sel = _at(grid[out], name, v)
            np.testing.assert_array_equal(sel, one[out].values)
            np.testing.assert_array_equal(_at(lazy[out], name, v), sel)


def _at(da, name, value):
    """The values at ``name=value`` (an output that does not depend on ``name`` has no such dim)."""
    return (da.sel({name: value}) if name in da.dims else da).values


@pytest.mark.parametrize("name", ["fidelity", "microbatch_size", "cp_size", "flash_attention", "weight_precision"])
def test_training_memory_new_arguments_grid_equals_loop(name):
    values = {**NEW_ARGS, "weight_precision": ["fp16", "int4"]}[name]
    base = dict(
        model=ms.Models.Llama3_8B,
        hardware=ms.Hardware.Cloud.H100,
        batch_size=16,
        seq_len=8192,
        pp_size=4,
        fidelity="refined",
        trainable_fraction=0.01,
    )
    grid = ms.TrainingMemoryModel().solve(**{**base, name: values}).dataset
    for v in values:
        one = ms.TrainingMemoryModel().solve(**{**base, name: v}).dataset
        np.testing.assert_array_equal(grid["total_memory"].sel({name: v}).values, one["total_memory"].values)


def test_single_node_refined_training_and_first_order_inference_unchanged():
    kw = dict(model=ms.Models.Llama3_8B, hardware=ms.Hardware.Cloud.H100, batch_size=2, seq_len=4096)
    inf = ms.SingleNodeModel().solve(**kw, fidelity=xr.DataArray(["first_order", "refined"], dims="f")).dataset
    assert "f" not in inf.latency.dims  # inference: the same physics under both fidelities
    tr = ms.SingleNodeModel().solve(**kw, is_training=True, fidelity=["first_order", "refined"]).dataset
    first, refined = tr.latency.values
    assert refined > first  # attention FLOPs, smaller GEMM efficiency and element-wise time
    assert tr.memory_footprint.values[1] < tr.memory_footprint.values[0]  # FlashAttention: no score matrix


# ---- part 2: SingleNodeModel's element-wise term, QLoRA, TrainingMemoryModel's notes -------------
def test_single_node_elementwise_time_is_its_own_output():
    """GPT-2 XL (48 layers, h 1600) on one H100 (3.35 TB/s), batch 1, 1,024 tokens, fp16, refined
    with FlashAttention (the default): the element-wise bytes of a forward pass are
    ``34·s·h·b/2`` per layer and sample, times k = 3 passes and L = 48 layers:
    3·48·34·1024·1600·1 B = 8.02e9 B, / 3.35e12 B/s = 2.394 ms. They are ``latency_elementwise``,
    not in the fixed overhead, and the latency is max(compute, memory) + overhead + element-wise."""
    kw = dict(model=ms.Models.GPT2, hardware=ms.Hardware.Cloud.H100, batch_size=1, seq_len=1024, is_training=True)
    r = ms.SingleNodeModel().solve(**kw, fidelity="refined").dataset
    f = ms.SingleNodeModel().solve(**kw, fidelity="first_order").dataset
    assert bool(r.feasible)
    assert float(r.latency_elementwise) == approx(3 * 48 * 34 * 1024 * 1600 / 3.35e12, rel=1e-12)
    assert float(r.latency_overhead) == float(f.latency_overhead)  # only the fixed overhead
    assert float(f.latency_elementwise) == 0.0
    total = max(float(r.latency_compute), float(r.latency_memory)) + float(r.latency_overhead)
    assert float(r.latency) == approx(total + float(r.latency_elementwise), rel=1e-12)
    no_flash = ms.SingleNodeModel().solve(**kw, fidelity="refined", flash_attention=False).dataset
    softmax = 3 * 48 * 5 * 25 * 1024**2 / 3.35e12  # 5·a·s²·b/2 per layer and pass
    assert float(no_flash.latency_elementwise) == approx(float(r.latency_elementwise) + softmax, rel=1e-12)


@pytest.mark.parametrize("fidelity", ["first_order", "refined"])
def test_single_node_qlora_keeps_frozen_weights_at_their_precision(fidelity):
    """QLoRA on Llama-3-8B: the frozen ``(1 − f)·P`` base weights at 4 bit (0.5 B) instead of
    fp16 (2 B), the adapters ``f·P`` at fp16: the footprint falls by ``(1 − f)·P·1.5`` bytes, with
    ``f = 2·16·h·4L/P`` (rank-16 adapters on four projections; Dettmers et al. 2023)."""
    model = ms.Models.Llama3_8B
    kw = dict(model=model, hardware=ms.Hardware.Cloud.H100, batch_size=1, seq_len=2048, is_training=True)
    r = ms.SingleNodeModel().solve(**kw, is_lora=True, weight_precision=["fp16", "int4"], fidelity=fidelity)
    full, qlora = r.dataset.memory_footprint.values
    p = model.si["parameters"]
    f = float(mem.lora_trainable_fraction(p, model.si["layers"], model.si["hidden_dim"]))
    assert full - qlora == approx((1 - f) * p * 1.5, rel=1e-9)
    plain = ms.SingleNodeModel().solve(**kw, weight_precision=["fp16", "int4"], fidelity=fidelity).dataset
    a, b = plain.memory_footprint.values  # no LoRA: everything is trained, nothing frozen
    assert a == b


def test_training_memory_notes_under_either_fidelity():
    """Llama-2-7B on H100, batch 8, 4,096 tokens: no recomputation without fused attention stores
    the score matrix (``attention_scores_stored``, bit 8) under either fidelity; refined without
    FlashAttention also notes ``no_flash_attention`` (bit 2); refined defaults carry no note."""
    kw = dict(model=ms.Models.Llama2_7B, hardware=ms.Hardware.Cloud.H100, batch_size=8, seq_len=4096)
    grid = dict(activation_checkpointing=["none", "selective", "full"], flash_attention=[False, True])
    first = ms.TrainingMemoryModel().solve(**kw, fidelity="first_order", **grid).dataset
    refined = ms.TrainingMemoryModel().solve(**kw, fidelity="refined", **grid).dataset
    np.testing.assert_array_equal(first.notes.values, [[8, 0], [0, 0], [0, 0]])
    np.testing.assert_array_equal(refined.notes.values, [[10, 0], [2, 0], [2, 0]])
    assert bool(first.note_attention_scores_stored.sel(activation_checkpointing="none", flash_attention=False))
    none = ms.TrainingMemoryModel().solve(**kw, fidelity="first_order", activation_checkpointing="none").dataset
    assert int(none.notes) == 8  # first_order's default: unfused attention
    assert int(ms.TrainingMemoryModel().solve(**kw, fidelity="refined", activation_checkpointing="none").notes) == 0
