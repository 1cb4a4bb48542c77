"""Tier-1 tests of the training and fleet step functions of ``mlsysim_vec.physics``: each step
is called directly (no grid, no records) with numbers derived by hand in the comments, and with
array inputs to check that it broadcasts.

Equations: ``docs/equations.md`` (sections "Roofline", "Efficiency", "Training memory",
"Distributed training", "Collectives", "Mixture of experts", "Topology", "Reliability",
"Optimizers"); the deviations cited are those of docs/differences.md.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pytest import approx

from mlsysim_vec.physics import efficiency as eff
from mlsysim_vec.physics import memory as mem
from mlsysim_vec.physics import moe, placement
from mlsysim_vec.physics import parallel as par
from mlsysim_vec.physics import reliability as rel
from mlsysim_vec.physics import roofline as rl
from mlsysim_vec.physics import topology as topo
from mlsysim_vec.physics.constants import OPTIMIZERS, select_by_code

HOUR, DAY = 3600.0, 86400.0


# ---- constants.select_by_code ------------------------------------------------------------
def test_select_by_code_picks_a_column_per_code_and_nan_out_of_range():
    out = select_by_code(np.array([0, 1, 2, 5]), (10.0, 20.0, np.array([30.0, 31.0, 32.0, 33.0])))
    assert out[:3].tolist() == [10.0, 20.0, 32.0] and np.isnan(out[3])
    assert rl.select_by_code is select_by_code  # the roofline name still works


# ---- memory ------------------------------------------------------------------------------
def test_lora_trainable_fraction_by_hand():
    # Hu et al. 2021: rank-16 adapters on 4 projections of h x h per layer: 2·r·h·4·L / P
    # = 2·16·4096·4·32 / 1e9 = 16,777,216 / 1e9; a tiny model is capped at 1.
    out = mem.lora_trainable_fraction(np.array([1e9, 1e5]), 32.0, 4096.0)
    assert out.tolist() == [approx(0.016777216, rel=1e-15), 1.0]


#: A 1e9-parameter Transformer at 2 bytes (W = 2e9 B), 2 layers, hidden 1024, 8 heads, 128
#: tokens per sample, a batch of 4 on one accelerator.
TINY = dict(global_batch=4.0, seq_len=128.0, layers=2.0, hidden=1024.0, heads=8.0)


def test_training_footprint_transformer_by_hand():
    # Adam (12 B/param), no ZeRO, full recomputation (2·s·b·h per layer at 16 bit):
    # weights 2e9, gradients 2e9, optimizer 12e9, activations 2·128·4·1024·2 layers = 2,097,152,
    # buffers 0.05 × gradients = 1e8: total 16,102,097,152 B (Korthikanti et al. 2022, eq. 1).
    out = mem.training_footprint(1e9, 2e9, 2.0, True, False, strategy=mem.FULL, **TINY)
    assert out["weights"] == 2e9 and out["gradients"] == 2e9 and out["optimizer_state"] == 12e9
    assert out["activations"] == 2_097_152 and out["communication_buffers"] == approx(1e8)
    assert out["total_memory"] == approx(16_102_097_152, rel=1e-15)
    # ZeRO-3 over dp = 4 replicas of the same microbatch (global batch 16): every state / 4.
    z3 = mem.training_footprint(
        1e9, 2e9, 2.0, True, False, strategy=mem.FULL, dp=4.0, zero_stage=3.0, **{**TINY, "global_batch": 16.0}
    )
    assert z3["total_memory"] == approx(5e8 + 5e8 + 3e9 + 2_097_152 + 2.5e7, rel=1e-15)


def test_training_footprint_missing_shape_uses_the_defaults():
    # NaN heads mean 32 heads (the attention-score term 5·a·s²·b of "none" needs them).
    nan = mem.training_footprint(1e9, 2e9, 2.0, True, False, strategy=mem.NONE, **{**TINY, "heads": np.nan})
    given = mem.training_footprint(1e9, 2e9, 2.0, True, False, strategy=mem.NONE, **{**TINY, "heads": 32.0})
    assert nan["total_memory"] == given["total_memory"]


def test_training_footprint_other_models_and_lora():
    # Not a Transformer: (2W + 12·W/b)/G = (4e9 + 12e9)/G; LoRA on one accelerator: 1.1·W (D3).
    # Broadcasting: transformer × lora × tp.
    transformer = np.array([True, False])[:, None, None]
    lora = np.array([False, True])[None, :, None]
    tp = np.array([1.0, 4.0])[None, None, :]
    out = mem.training_footprint(1e9, 2e9, 2.0, transformer, lora, strategy=mem.FULL, tp=tp, **TINY)
    assert out["total_memory"].shape == (2, 2, 2)
    other = out["total_memory"][1]
    assert other[0].tolist() == [16e9, 4e9]  # full fine-tune on 1 and on 4 accelerators
    assert other[1].tolist() == [approx(2.2e9), 4e9]  # LoRA: 1.1 W alone, the split formula on 4
    assert np.isnan(out["weights"][1]).all() and not np.isnan(out["weights"][0]).any()


def test_training_memory_step_by_hand():
    # SGD (code 2, 4 B/param), fp32 gradients (4 B): weights 2e9, gradients 4e9, optimizer 4e9,
    # full-recomputation activations 2,097,152, buffers 0.05 × 4e9 = 2e8:
    # total 10.2e9 + 2,097,152 against 16e9 and 10e9 of device memory.
    out = mem.training_memory_step(
        1e9,
        2.0,
        OPTIMIZERS.index("sgd"),
        1.0,
        np.array([16e9, 10e9]),
        tp=1.0,
        pp=1.0,
        dp=1.0,
        ep=1.0,
        zero_stage=0.0,
        accumulation_steps=1.0,
        strategy=mem.FULL,
        buffer_fraction=0.05,
        sequence_parallel=True,
        gradient_bytes_per_el=4.0,
        **TINY,
    )
    total = 10.2e9 + 2_097_152
    assert out["total_memory"] == approx(total, rel=1e-15)
    assert out["memory_utilization"].tolist() == [approx(total / 16e9), approx(total / 10e9)]
    assert out["feasible"].tolist() == [True, False]
    assert out["available_memory"].tolist() == [16e9, 10e9]


# ---- roofline.single_node_step -----------------------------------------------------------
#: One accelerator: 100 TFLOP/s at the precision, 16 GB at 1 TB/s, no SRAM or flash tier, a
#: 32 GB/s host link, 10 µs dispatch, 300 W.
DEVICE = dict(
    peak_flops=100e12,
    bytes_per_el=2.0,
    is_16bit=True,
    memory_capacity=16e9,
    memory_bandwidth=1e12,
    sram_capacity=np.nan,
    sram_bandwidth=np.nan,
    flash_bandwidth=np.nan,
    host_link_bandwidth=32e9,
    dispatch_tax=1e-5,
    tdp=300.0,
)
#: A 25M-parameter CNN of 8 GFLOP per sample and 50 layers (ResNet-50-like).
CNN = dict(
    ops_per_sample=8e9,
    parameters=25e6,
    model_size=np.nan,
    weights_rule=0.0,
    is_transformer=0.0,
    layers=50.0,
    hidden=np.nan,
    heads=np.nan,
)


def test_single_node_step_inference_by_hand():
    # W = 25e6 · 2 = 5e7 B; ops = 8e9 · 8 = 6.4e10 FLOP; T_c = 6.4e10/(1e14 · 0.5) = 1.28 ms;
    # traffic = 5e7 · (1 + 0.1 · 8) = 9e7 B, T_m = 9e7/1e12 = 0.09 ms; overhead = 10 µs +
    # 50 · 0.01 ms = 0.51 ms; T = 1.28 + 0.51 = 1.79 ms (Williams et al. 2009; D4).
    out = rl.single_node_step(**CNN, **DEVICE, batch=8.0, efficiency=0.5)
    assert out["latency_compute"] == approx(1.28e-3, rel=1e-14)
    assert out["latency_memory"] == approx(9e-5, rel=1e-14)
    assert out["latency_overhead"] == approx(5.1e-4, rel=1e-14)
    assert out["latency"] == approx(1.79e-3, rel=1e-14)
    assert out["throughput"] == approx(8 / 1.79e-3, rel=1e-14)
    hfu = 6.4e10 / 1e14 / 1.79e-3
    assert out["hfu"] == approx(hfu, rel=1e-14) and out["mfu"] == out["hfu"]
    assert out["energy"] == approx(300 * (0.3 + 0.7 * hfu) * 1.79e-3, rel=1e-14)
    assert out["arithmetic_intensity"] == approx(6.4e10 / 9e7, rel=1e-14)
    assert not out["memory_bound"] and out["feasible"] and not out["overhead_dominated"]
    assert out["memory_footprint"] == 5e7 and np.isnan(out["offload_spill_bytes"])
    assert out["peak_flops_actual"] == 5e13 and out["peak_bw_actual"] == 1e12


#: A 1e9-parameter Transformer of 2 GFLOP per token (forward), 2 layers, hidden 1024, 8 heads.
LLM = dict(
    ops_per_sample=2e9,
    parameters=1e9,
    model_size=np.nan,
    weights_rule=0.0,
    is_transformer=1.0,
    layers=2.0,
    hidden=1024.0,
    heads=8.0,
)


def test_single_node_step_training_counts_tokens_and_uses_the_training_footprint():
    # D3: a sample is 128 tokens, a training step 3 passes: 2e9 · 128 · 3 · 4 = 3.072e12 FLOP,
    # T_c = 3.072e12 / 5e13 = 61.44 ms; overhead 10 µs + 2 layers · 0.01 ms · 3 = 70 µs.
    # Footprint (activations stored: 34·sbh + 5·a·s²·b per layer, sbh = 128·4·1024):
    # 2e9 + 2e9 + 12e9 + 1e8 + 2 · (17,825,792 + 2,621,440) = 16,140,894,464 B.
    out = rl.single_node_step(
        **LLM, **{**DEVICE, "memory_capacity": 80e9}, batch=4.0, efficiency=0.5, training=True, seq_len=128.0
    )
    assert out["latency_compute"] == approx(61.44e-3, rel=1e-14)
    assert out["latency_overhead"] == approx(7e-5, rel=1e-14)
    assert out["memory_footprint"] == approx(16_140_894_464, rel=1e-15)
    assert out["mfu"] == out["hfu"] == approx(3.072e12 / 1e14 / (61.44e-3 + 7e-5), rel=1e-14)
    # With recomputation 4 passes are executed, 3 count for MFU; on 10 GB it spills: the memory
    # time is charged at the 32 GB/s host link and the spill is reported.
    spill = rl.single_node_step(
        **LLM, **{**DEVICE, "memory_capacity": 10e9}, batch=4.0, training=True, seq_len=128.0, recompute=True
    )
    assert spill["latency_compute"] == approx(4.096e12 / 5e13, rel=1e-14)
    assert spill["mfu"] == approx(0.75 * spill["hfu"], rel=1e-14)
    assert not spill["feasible"] and spill["peak_bw_actual"] == 32e9
    assert spill["offload_spill_bytes"] == approx(spill["memory_footprint"] - 10e9)


def test_single_node_step_broadcasts():
    training = np.array([False, True])[:, None]
    batch = np.array([1.0, 8.0, 64.0])[None, :]
    out = rl.single_node_step(**LLM, **{**DEVICE, "memory_capacity": 80e9}, batch=batch, training=training)
    assert out["latency"].shape == (2, 3) and out["memory_footprint"].shape == (2, 3)
    assert (out["latency"][1] > out["latency"][0]).all()  # a training step is slower
    assert (out["memory_footprint"][0] == 2e9).all()  # inference: the weights


# ---- efficiency.efficiency_step ----------------------------------------------------------
def test_efficiency_step_by_hand():
    # s = η/0.5 = 1: ffn 0.50, attention 0.30 (no flash), conv 0.40, other 0.30; occupancy loss
    # 1 − min(1.1·0.5, 1) = 0.45; memory stall max(0, (1 − MFU) − 0.45).
    out = eff.efficiency_step(np.arange(4), False, 0.5, 1e15)
    assert out["mfu"].tolist() == [approx(0.5), approx(0.3), approx(0.4), approx(0.3)]
    assert out["achievable_flops"] == approx(out["mfu"] * 1e15)
    assert out["occupancy_loss"] == approx(0.45)
    assert out["memory_stall"].tolist() == [approx(0.05), approx(0.25), approx(0.15), approx(0.25)]
    # Flash attention at η = 1: min(0.75 · 2, 0.85) = 0.85 (Dao 2023).
    assert eff.efficiency_step(1, True, 1.0, 1e15)["mfu"] == approx(0.85)


# ---- parallel.distributed_step -----------------------------------------------------------
#: One node of 8 accelerators (100 TFLOP/s, 80 GB at 2 TB/s), NVLink 100 GB/s with 1 µs, a
#: fabric of 50 GB/s with 5 µs.
FLEET = dict(
    peak_flops=100e12,
    bytes_per_el=2.0,
    is_16bit=True,
    memory_capacity=80e9,
    memory_bandwidth=2e12,
    sram_capacity=np.nan,
    sram_bandwidth=np.nan,
    flash_bandwidth=np.nan,
    host_link_bandwidth=64e9,
    dispatch_tax=0.0,
    tdp=700.0,
    total_accelerators=8.0,
    accelerators_per_node=8.0,
    intra_node_bandwidth=100e9,
    intra_node_latency=1e-6,
    fabric_bandwidth=50e9,
    fabric_latency=5e-6,
    oversubscription=1.0,
)
DENSE = dict(
    parameters=1e9,
    model_size=np.nan,
    weights_rule=0.0,
    ops_per_sample=2e9,
    is_transformer=1.0,
    is_sparse=0.0,
    layers=4.0,
    hidden=1024.0,
    heads=8.0,
    experts_per_token=1.0,
)


def test_distributed_step_by_hand():
    # tp = pp = 2 on 8 accelerators: dp = 2 replicas of G = 4, local batch 16/2 = 8.
    # Compute: 3 · 2e9 · 128 · 8 = 6.144e12 FLOP over 4 accelerators at 5e13: T_c = 30.72 ms;
    # memory: W/G · (1 + 0.1 · 8) = 5e8 · 1.8 = 9e8 B at 2 TB/s = 0.45 ms; overhead 3 · 4 · 0.01 ms
    # = 0.12 ms: T_node = 30.84 ms.
    # DP: W/(tp·pp) = 5e8 B, 2 DP ranks on one node: ring 2·(1/2)·5e8/1e11 + 2·1 µs = 5.002 ms.
    # TP: B_loc·S·h·b = 8·128·1024·2 = 2,097,152 B, ring over 2 on NVLink, 4 per layer of the
    # 2-layer stage: 8 · (2,097,152/1e11 + 2 µs) = 0.18377216 ms.
    # Bubble: β = 1/(4 + 1) = 0.2, T_node · 0.25 = 7.71 ms (Huang et al. 2019).
    out = par.distributed_step(
        **DENSE, **FLEET, batch=16.0, seq_len=128.0, efficiency=0.5, tp=2.0, pp=2.0, microbatches=4.0
    )
    assert out["dp_degree"] == 2 and out["accelerators_used"] == 8 and out["local_batch_size"] == 8
    assert out["node_latency_compute"] == approx(30.72e-3, rel=1e-14)
    assert out["node_latency_memory"] == approx(0.45e-3, rel=1e-14)
    assert out["node_latency"] == approx(30.84e-3, rel=1e-14)
    assert out["dp_communication_latency"] == approx(5.002e-3, rel=1e-14)
    assert out["tp_communication_latency"] == approx(0.18377216e-3, rel=1e-14)
    assert out["ep_communication_latency"] == 0.0
    assert out["bubble_fraction"] == approx(0.2) and out["pipeline_bubble_latency"] == approx(7.71e-3, rel=1e-14)
    step = 30.84e-3 + 5.002e-3 + 0.18377216e-3 + 7.71e-3
    assert out["step_latency_total"] == approx(step, rel=1e-14)
    assert out["scaling_efficiency"] == approx(30.84e-3 / step, rel=1e-14)
    assert out["effective_throughput"] == approx(16 / step, rel=1e-14)
    # MFU: 3 · 2e9 · 128 · 16 model FLOPs over 8 · 1e14 FLOP/s for the whole step.
    assert out["mfu"] == approx(1.2288e13 / 8e14 / step, rel=1e-14)
    assert out["divisible"] and not out["too_many_stages"] and out["fits"]
    assert not out["node_memory_bound"] and not out["microbatches_exceed_local_batch"]
    # The memory is the one training-memory formula: selective recomputation, SP, ZeRO-0, the
    # pipeline holding GA·max(1, ⌊m/pp⌋) = 2 accumulation steps.
    expected = mem.training_footprint(
        1e9,
        2e9,
        2.0,
        True,
        False,
        global_batch=16.0,
        seq_len=128.0,
        layers=4.0,
        hidden=1024.0,
        heads=8.0,
        strategy=mem.SELECTIVE,
        tp=2.0,
        pp=2.0,
        dp=2.0,
        accumulation_steps=2.0,
    )
    assert out["memory_footprint"] == expected["total_memory"]
    assert out["memory_utilization"] == approx(expected["total_memory"] / 80e9)


def test_distributed_step_overlap_straggler_and_congestion():
    # Overlap hides 85 % of the DP all-reduce; congestion × 2 doubles every communication time;
    # a straggler factor of 1.5 stretches the whole step.
    base = par.distributed_step(**DENSE, **FLEET, batch=16.0, seq_len=128.0, tp=2.0, pp=2.0, microbatches=4.0)
    out = par.distributed_step(
        **DENSE,
        **FLEET,
        batch=16.0,
        seq_len=128.0,
        tp=2.0,
        pp=2.0,
        microbatches=4.0,
        overlap=True,
        congestion=2.0,
        straggler=1.5,
    )
    t_dp, t_tp = 2 * base["dp_communication_latency"], 2 * base["tp_communication_latency"]
    assert out["dp_communication_latency"] == approx(t_dp)
    expected = (base["node_latency"] + 0.15 * t_dp + t_tp + base["pipeline_bubble_latency"]) * 1.5
    assert out["step_latency_total"] == approx(expected, rel=1e-14)


def test_distributed_step_infeasible_splits_and_broadcasting():
    # tp = 3 does not divide 8 (dp NaN: not divisible); pp = 8 exceeds 4 layers.
    tp = np.array([1.0, 2.0, 3.0, 8.0])[:, None]
    pp = np.array([1.0, 8.0])[None, :]
    out = par.distributed_step(**DENSE, **FLEET, batch=64.0, seq_len=128.0, tp=tp, pp=pp)
    assert out["step_latency_total"].shape == (4, 2)
    assert out["divisible"].tolist() == [[True, True], [True, False], [False, False], [True, False]]
    assert np.isnan(out["step_latency_total"][2]).all()
    assert out["too_many_stages"][:, 1].all() and not out["too_many_stages"][:, 0].any()
    # A requested dp selects a sub-fleet (D21): dp = 2 of tp = 2 uses 4 accelerators.
    sub = par.distributed_step(**DENSE, **FLEET, batch=64.0, tp=2.0, dp=np.array([2.0, 8.0]))
    assert sub["accelerators_used"][0] == 4 and np.isnan(sub["dp_degree"][1])


def test_distributed_step_expert_parallel_all_to_all():
    # A MoE model with k = 2 over ep = 2 on 8 accelerators: dp = 4, B_loc = 2; routed bytes
    # 2·128·1024·2·2 = 1,048,576; all-to-all (1/2)·M/5e10 + 1·5 µs, 4 per layer of the 4-layer
    # stage: 16 · (1.048576e-5 + 5e-6) (Lepikhin et al. 2020; D7).
    moe_model = {**DENSE, "is_sparse": 1.0, "experts_per_token": 2.0}
    out = par.distributed_step(**moe_model, **FLEET, batch=8.0, seq_len=128.0, ep=2.0)
    assert out["ep_communication_latency"] == approx(16 * (1.048576e-5 + 5e-6), rel=1e-14)


def test_network_roofline_step_by_hand():
    # T_c = 6·1e9·(4·128)/(8·1e14·0.5) = 3.072e12/4e14 = 7.68 ms; T_n = 2·1e9·2/(5e10/2) = 0.16 s:
    # network-bound; ridge 8e14/2.5e10 = 32,000 FLOP/byte; MFU (3.072e12/8e14)/0.16 = 0.024.
    out = par.network_roofline_step(1e9, 1e9, 1.0, 2.0, 1e14, 8.0, 50e9, 2.0, efficiency=0.5, batch=4.0, seq_len=128.0)
    assert out["latency_compute"] == approx(7.68e-3, rel=1e-14)
    assert out["latency_network"] == approx(0.16, rel=1e-14) and out["latency"] == out["latency_network"]
    assert out["network_bound"] and out["throughput"] == approx(25.0)
    assert out["ridge_point"] == approx(32_000.0) and out["arithmetic_intensity"] == approx(768.0)
    assert out["mfu"] == out["hfu"] == approx(0.024, rel=1e-14)
    assert out["sync_bytes"] == 4e9 and out["network_bandwidth"] == 25e9 and out["peak_flops_actual"] == 4e14
    # Broadcasting over the batch: compute grows, the network time does not.
    many = par.network_roofline_step(1e9, 1e9, 1.0, 2.0, 1e14, 8.0, 50e9, 2.0, batch=np.array([1.0, 1e5]), seq_len=1.0)
    assert many["network_bound"].tolist() == [True, False]


# ---- moe.routing_step --------------------------------------------------------------------
def test_routing_step_by_hand():
    # E = 8, k = 2, imbalance 1.5: E_eff = min(8, 3) = 3, multiplier 1.5; routed bytes
    # 2·128·4096·2·3 = 6,291,456, of which 3/4 leave the rank over ep = 4: 4,718,592; one
    # all-to-all on 50 GB/s with the 5 µs default latency: (3/4)·6,291,456/5e10 + 3·5 µs.
    out = moe.routing_step(8.0, 2.0, 1.3e10, 4096.0, 2.0, 2.0, 128.0, 4.0, 1.5, fabric_bandwidth=50e9)
    assert out["effective_active_experts"] == 3.0 and out["active_parameter_multiplier"] == 1.5
    assert out["effective_active_parameters"] == approx(1.95e10)
    assert out["token_dispatch_bytes"] == approx(4_718_592)
    assert out["all_to_all_latency"] == approx(0.75 * 6_291_456 / 50e9 + 15e-6, rel=1e-14)
    # No fabric: NaN; ep = 1: NaN; an imbalance of 10 is capped at the 8 experts.
    assert np.isnan(moe.routing_step(8.0, 2.0, 1e9, 4096.0, 2.0, 1.0, 1.0, 4.0, 1.0)["all_to_all_latency"])
    out = moe.routing_step(8.0, 2.0, 1e9, 4096.0, 2.0, 1.0, 1.0, np.array([1.0, 4.0]), np.array([[1.0], [10.0]]), 50e9)
    assert out["all_to_all_latency"].shape == (2, 2) and np.isnan(out["all_to_all_latency"][:, 0]).all()
    assert out["effective_active_experts"][:, 0].tolist() == [2.0, 8.0]


# ---- topology.topology_step --------------------------------------------------------------
def test_topology_step_by_hand():
    # 64 nodes on 50 GB/s links, 2:1 oversubscribed. Fat tree φ = 1: 25 GB/s per node,
    # 50e9·64/2/2 = 8e11 across the bisection, 4 hops. 3-D torus φ = 2·64^(−1/3) = 0.5,
    # 0.75·4 = 3 hops. Ring of 8: φ = 2/8, 2 hops (Leiserson 1985; Kim et al. 2008).
    fat = topo.topology_step(topo.FAT_TREE, 64.0, 50e9, 2.0)
    assert fat["effective_bw"] == 25e9 and fat["bisection_bw"] == 8e11 and fat["hops_avg"] == 4.0
    torus = topo.topology_step(topo.TORUS_3D, 64.0, 50e9, 2.0)
    assert torus["bisection_bw_fraction"] == approx(0.5) and torus["hops_avg"] == approx(3.0)
    ring = topo.topology_step(topo.RING, 8.0, 50e9, 1.0)
    assert ring["bisection_bw_fraction"] == 0.25 and ring["hops_avg"] == 2.0
    grid = topo.topology_step(np.arange(4)[:, None], np.array([8.0, 64.0])[None, :], 50e9, 1.0)
    assert grid["hops_avg"].shape == (4, 2) and grid["bisection_bw_fraction"][1].tolist() == [0.85, 0.85]


# ---- reliability -------------------------------------------------------------------------
def test_reliability_step_by_hand():
    # 5 accelerators per node at 50,000 h: node MTBF 10,000 h; 10 nodes: 1,000 h = 3.6e6 s.
    # A 1,000 h job: 1 expected failure, P = 1 − e^(−1). δ = 500 s: τ* = sqrt(2·500·3.6e6)
    # = 60,000 s; R = 6,000 s: goodput 1 − 500/60,000 − 36,000/3.6e6 (Young 1974; D6).
    out = rel.reliability_step(5.0, 0.0, 0.0, 10.0, np.nan, 1000 * HOUR, 500.0, 6000.0)
    assert out["node_mtbf"] == approx(10_000 * HOUR) and out["fleet_mtbf"] == approx(1000 * HOUR)
    assert out["expected_failures"] == approx(1.0) and out["failure_probability"] == approx(1 - math.exp(-1))
    assert out["optimal_checkpoint_interval"] == approx(60_000.0)
    assert out["goodput_ratio"] == approx(1 - 500 / 60_000 - 0.01, rel=1e-14)
    # The fleet's own MTBF, where set, wins (D6); durations broadcast.
    own = rel.reliability_step(5.0, 0.0, 0.0, 10.0, np.array([np.nan, 7200.0]), np.array([[0.0], [7200.0]]), 60.0, 0)
    assert own["fleet_mtbf"].tolist() == [approx(1000 * HOUR), 7200.0]
    assert own["expected_failures"].shape == (2, 2) and own["expected_failures"][1, 1] == 1.0


def test_checkpoint_step_by_hand():
    # 1e9 parameters with Adam: 14 B each = 14e9 B; no storage bandwidth on record: 1 GB/s per
    # writer, 4 writers: 4e9 B/s, 3.5 s per checkpoint, 3.5/3600 of a 1 h interval.
    out = rel.checkpoint_step(1e9, OPTIMIZERS.index("adam"), np.nan, 4.0, 500e9, HOUR)
    assert out["checkpoint_size"] == 14e9 and out["storage_bandwidth"] == 1e9
    assert out["write_bandwidth"] == 4e9 and out["write_time"] == approx(3.5)
    assert not out["storage_bottleneck"] and out["mfu_penalty_fraction"] == approx(3.5 / 3600)
    # SGD 4 B/param; 1000 writers of 2 GB/s hit the 500 GB/s limit; a zero interval costs all.
    out = rel.checkpoint_step(
        1e9, np.array([OPTIMIZERS.index("sgd"), OPTIMIZERS.index("adamw")]), 2e9, 1000.0, 500e9, 0.0
    )
    assert out["checkpoint_size"].tolist() == [4e9, 14e9] and out["write_bandwidth"] == 500e9
    assert out["mfu_penalty_fraction"].tolist() == [1.0, 1.0]
    # D22: one writer at 1 GB/s writes the 14e9 B in 14 s; every 3.6 s (0.001 h) the job would
    # write 14/3.6 = 3.9 intervals' worth: it writes all the time, 1; every 28 s, half of it.
    out = rel.checkpoint_step(1e9, OPTIMIZERS.index("adam"), np.nan, 1.0, 500e9, np.array([3.6, 28.0]))
    assert out["write_time"] == approx(14.0) and out["mfu_penalty_fraction"].tolist() == [1.0, approx(0.5)]


def test_orchestration_step_by_hand():
    # 10 jobs a day of 0.05 day: ρ = 0.5; W_q = 0.5·4320/(2·0.5) = 2160 s; L_q = 0.25/1 = 0.25
    # (M/D/1, Pollaczek-Khinchine). ρ = 1 is unstable: infinite wait.
    out = rel.orchestration_step(np.array([10.0, 20.0]) / DAY, 0.05 * DAY)
    assert out["cluster_utilization"].tolist() == [approx(0.5), approx(1.0)]
    assert out["avg_wait_time"][0] == approx(2160.0) and out["avg_queue_length"][0] == approx(0.25)
    assert out["is_stable"].tolist() == [True, False] and np.isinf(out["avg_wait_time"][1])


# ---- placement ---------------------------------------------------------------------------
def test_placement_formulas_by_hand():
    # A batch: 100 ms prefill + 100 decode steps of 10 ms = 1.1 s; 2 replicas of batch 8 at
    # 100 tokens each: 1600/1.1 tokens/s (D8). 1000 kg at 0.1 USD/kg = 100 USD on a 5000 USD TCO.
    assert placement.batch_service_time(0.1, 0.01, 100.0) == approx(1.1)
    assert placement.batch_token_capacity(2.0, 8.0, 100.0, 1.1) == approx(1600 / 1.1)
    assert placement.carbon_cost(1000.0, 0.1) == approx(100.0)
    cost, adjusted = placement.carbon_adjusted_cost(np.array([5000.0, 6000.0]), np.array([[1000.0], [0.0]]), 0.1)
    assert cost.shape == (2, 1) and adjusted.tolist() == [[5100.0, 6100.0], [5000.0, 6000.0]]


@pytest.mark.parametrize("step", [rl.single_node_step, par.distributed_step])
def test_steps_take_keywords_only(step):
    with pytest.raises(TypeError):
        step(1.0)
