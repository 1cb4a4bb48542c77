"""Tier 1: hand-derived and published values of the fleet resolvers and their kernels.

Sources: ``reference/anchor-0.3.0-spec.md`` §2 (collectives), §6 (DistributedModel), §7
(MoERoutingModel), §8.3 (ReliabilityModel), §9.1 (CheckpointModel), §12.6–12.7 (worked
examples, mlsysim 0.3.0 output); part 2 §6 (TopologyModel), §10 (OrchestrationModel), §14
(NetworkRooflineModel). Each DECISIONS deviation (D6, D7, D11, D14, D21) has a test showing
the corrected behaviour.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import mlsysim_vec as ms
from mlsysim_vec import ureg
from mlsysim_vec.physics import comm, moe, parallel, reliability, topology
from mlsysim_vec.systems.types import Fleet
from mlsysim_vec.units import canonical


@pytest.fixture(autouse=True)
def _first_order():
    """These numbers are mlsysim 0.3.0's first-order physics (hand-derived from its equations):
    pinned, whatever the default fidelity (``ms.set_options``) is. Refined cases pass
    ``fidelity="refined"`` explicitly."""
    with ms.set_options(fidelity="first_order"):
        yield


L, C, F = ms.Models.Language, ms.Systems.Clusters, ms.Systems.Fabrics
DM = ms.DistributedModel()
approx = pytest.approx


def s(q):
    """Magnitude of a scalar Quantity in its canonical unit (s, byte, byte/s, FLOP/s, 1/s ...)."""
    return canonical(q)[0] if hasattr(q, "dimensionality") else q


# ---------------------------------------------------------------------------- kernels
def test_collective_kernels_by_hand():
    """α–β formulas (spec §2) on M = 1 GB, β = 100 GB/s, α = 1 µs."""
    m, bw, a = 1e9, 100e9, 1e-6
    assert comm.ring_allreduce(m, 8.0, bw, a) == approx(2 * 7 / 8 * 0.01 + 14e-6, rel=1e-15)
    assert comm.ring_allreduce(m, 1.0, bw, a) == 0.0
    assert comm.tree_allreduce(m, 8.0, bw, a) == approx(6 * (0.01 + 1e-6), rel=1e-15)  # 2⌈log2 8⌉ = 6
    assert comm.tree_allreduce(m, 5.0, bw, a) == approx(6 * (0.01 + 1e-6), rel=1e-15)  # ⌈log2 5⌉ = 3
    assert comm.double_binary_tree_allreduce(m, 8.0, bw, a) == approx(1.2 * 6 * 1e-6 + 1.05 * 2 * 7 / 8 * 0.01)
    assert comm.all_to_all(m, 8.0, bw, a) == approx(7 / 8 * 0.01 + 7e-6, rel=1e-15)
    assert comm.all_to_all(m, 1.0, bw, a) == 0.0
    assert comm.point_to_point(m, bw, a) == approx(0.01 + 1e-6, rel=1e-15)
    # hierarchical: 4 nodes of 8 ranks: intra RS+AG of M, inter ring of M/8
    h = comm.hierarchical_allreduce(m, 4.0, 8.0, 400e9, bw, 0.5e-6, 5e-6)
    assert h == approx(2 * (7 / 8 * m / 400e9 + 7 * 0.5e-6) + 2 * 3 / 4 * (m / 8) / bw + 6 * 5e-6, rel=1e-14)


def test_hierarchical_degenerates_to_the_rings():
    """One node: the intra-node ring; one rank per node: the inter-node ring."""
    m = np.array([1e6, 3e9])
    assert np.allclose(
        comm.hierarchical_allreduce(m, 1.0, 8.0, 450e9, 50e9, 5e-7, 5e-6),
        comm.ring_allreduce(m, 8.0, 450e9, 5e-7),
        rtol=1e-14,
    )
    assert np.allclose(
        comm.hierarchical_allreduce(m, 16.0, 1.0, 450e9, 50e9, 5e-7, 5e-6),
        comm.ring_allreduce(m, 16.0, 50e9, 5e-6),
        rtol=1e-14,
    )


def test_pipeline_kernels():
    """GPipe bubble (p−1)/(v·m + p − 1) and its time T·β/(1−β); 1F1B resident microbatches."""
    assert parallel.pipeline_bubble_fraction(4.0, 16.0, 1.0) == 3 / 19
    assert parallel.pipeline_bubble_fraction(4.0, 16.0, 2.0) == 3 / 35
    assert parallel.pipeline_bubble_fraction(1.0, 16.0, 1.0) == 0.0
    assert parallel.bubble_latency(0.441, 3 / 19) == approx(0.441 * 3 / 16)
    assert parallel.pipeline_accumulation_steps(2.0, 16.0, 4.0) == 8.0
    assert parallel.pipeline_accumulation_steps(2.0, 3.0, 4.0) == 2.0
    assert parallel.pipeline_accumulation_steps(2.0, 16.0, 1.0) == 2.0
    assert parallel.stage_layers(80.0, 3.0) == 27.0 and parallel.stage_layers(2.0, 8.0) == 1.0


def test_replica_degrees():
    dp, used = parallel.replica_degrees(np.array([256.0, 256.0, 96.0]), 8.0, np.array([4.0, 3.0, 4.0]), 1.0)
    assert dp[0] == 8 and used[0] == 256 and np.isnan(dp[1]) and dp[2] == 3
    dp, used = parallel.replica_degrees(256.0, 8.0, 4.0, 1.0, np.array([2.0, 8.0, 9.0]))
    assert list(dp[:2]) == [2, 8] and list(used[:2]) == [64, 256] and np.isnan(dp[2])


# ---------------------------------------------------------------------------- DistributedModel
def test_distributed_reference_example():
    """Spec §12.7: Llama-3.1-70B on Frontier_8K, batch 2048, tp 8, pp 4, 16 microbatches.

    dp = 8192/32 = 256, B_loc = 8. Compute 141.2 GFLOP/token · 2048 · 3 · 8 / (494.5 TF · 32)
    = 438.59 ms; + 0.01 ms + 3·80·0.01 ms = 441.0 ms. DP: 141.2 GB/32 = 4.4125 GB, one DP rank
    per node, ring over IB NDR: 2·255/256·4.4125/50 s + 510·5 µs = 178.36 ms. TP: 268.4 MB,
    ring over 8 at 450 GB/s = 1.0509 ms, ×4×20 = 84.07 ms. Bubble 3/19: 441.0·3/16 = 82.69 ms.
    Step 786.12 ms; efficiency 0.561; 2048/0.78612 = 2605.2 samples/s; 38.507 GB per GPU.
    """
    r = DM.solve(model=L.Llama3_70B, fleet=C.Frontier_8K, batch_size=2048, tp_size=8, pp_size=4, microbatch_count=16)
    assert s(r.node_latency) == approx(0.4410008998988877, rel=1e-12)
    assert s(r.node_latency_compute) == approx(141.2e9 * 2048 * 3 * 8 / (494.5e12 * 32), rel=1e-12)
    assert s(r.node_latency_memory) == approx(2.37089552238806e-3, rel=1e-12)
    assert s(r.dp_communication_latency) == approx(2 * 255 / 256 * 4.4125e9 / 50e9 + 510 * 5e-6, rel=1e-12)
    assert s(r.tp_communication_latency) == approx(0.08407325297777778, rel=1e-12)
    assert s(r.ep_communication_latency) == 0.0
    assert s(r.pipeline_bubble_latency) == approx(0.08268766873104144, rel=1e-12)
    assert r.bubble_fraction == approx(3 / 19, rel=1e-15)
    assert s(r.step_latency_total) == approx(0.786122368482707, rel=1e-12)
    assert r.scaling_efficiency == approx(0.5609825105855499, rel=1e-12)
    assert s(r.effective_throughput) == approx(2605.192374760739, rel=1e-12)
    assert s(r.memory_footprint) == approx(38.506969448e9, rel=1e-12)
    assert r.node_mfu == approx(0.4972675792718875, rel=1e-12)
    assert (r.dp_degree, r.accelerators_used, r.local_batch_size) == (256, 8192, 8)
    assert r.feasible and r.infeasible_reason == "none" and r.node_bottleneck == "Compute"


def test_real_mfu_and_tflops_per_gpu():
    """MFU = model FLOPs / (N·peak·T_step) = 3·141.2e9·2048 tokens·2048 samples / (8192·989e12·0.78612 s)
    = 0.2790; TFLOP/s per GPU = MFU·989 = 275.9. Both below the replica's compute-only MFU (0.497)."""
    r = DM.solve(model=L.Llama3_70B, fleet=C.Frontier_8K, batch_size=2048, tp_size=8, pp_size=4, microbatch_count=16)
    step = s(r.step_latency_total)
    expected = 3 * 141.2e9 * 2048 * 2048 / (8192 * 989e12 * step)
    assert r.mfu == approx(expected, rel=1e-12) and r.mfu == approx(0.27896, rel=1e-4)
    assert s(r.achieved_flops_per_gpu) == approx(expected * 989e12, rel=1e-12)
    assert r.hfu == approx(r.mfu, rel=1e-12) and r.mfu < r.node_mfu
    rc = DM.solve(
        model=L.Llama3_70B,
        fleet=C.Frontier_8K,
        batch_size=2048,
        tp_size=8,
        pp_size=4,
        microbatch_count=16,
        activation_recomputation=True,
    )
    assert rc.hfu == approx(4 / 3 * rc.mfu, rel=1e-12)  # recomputation: 4 passes executed, 3 counted


def test_per_gpu_memory_is_the_training_memory_formula():
    """The replica's per-accelerator memory is TrainingMemoryModel's at the replica's batch
    share, with 1F1B's GA·⌊m/pp⌋ accumulation steps (one formula in the library, D3)."""
    kw = dict(model=L.Llama3_70B, seq_len=4096, tp_size=4, pp_size=8, zero_stage=1)
    r = DM.solve(fleet=C.Frontier_8K, batch_size=512, microbatch_count=32, precision="bf16", **kw)
    dp = 8192 // 32
    t = ms.TrainingMemoryModel().solve(
        hardware=ms.Hardware.Cloud.H100,
        batch_size=2 * dp,
        dp_size=dp,
        gradient_accumulation_steps=32 // 8,
        precision="bf16",
        **kw,
    )
    for name in ("weights", "gradients", "optimizer_state", "activations", "communication_buffers"):
        assert s(getattr(r, name)) == approx(s(getattr(t, name)), rel=1e-15), name
    assert s(r.memory_footprint) == approx(s(t.total_memory), rel=1e-15)
    assert r.memory_utilization == approx(t.memory_utilization, rel=1e-15)


def test_hierarchical_dp_allreduce():
    """Llama-3.1-8B on Research_256 (32 DGX H100, 100GbE) with tp 2: 4 DP ranks per node, 32
    nodes, dp 128 → hierarchical: 2·[3/4·8.03 GB/450 GB/s + 3·0.5 µs] + ring(8.03/4 GB, 32,
    12.5 GB/s, 50 µs) = 0.34103 s (mlsysim 0.3.0: 0.3410321666666667 s)."""
    r = DM.solve(model=L.Llama3_8B, fleet=C.Research_256, batch_size=256, tp_size=2)
    m = 8.03e9
    by_hand = 2 * (3 / 4 * m / 450e9 + 3 * 0.5e-6) + 2 * 31 / 32 * (m / 4) / 12.5e9 + 62 * 50e-6
    assert s(r.dp_communication_latency) == approx(by_hand, rel=1e-12)
    assert s(r.dp_communication_latency) == approx(0.3410321666666667, rel=1e-12)
    assert s(r.tp_communication_latency) == approx(0.009672371768888889, rel=1e-12)


def test_d7_topology_override_selects_the_algorithm():
    """D7: topology_override is honoured. Same point as above (dp 128 over 32 nodes, 8.03 GB):
    "ring" and the trees run flat over the inter-node fabric, "hierarchical" equals the
    reference's automatic choice here, None and "auto" are the automatic choice."""
    kw = dict(model=L.Llama3_8B, fleet=C.Research_256, batch_size=256, tp_size=2)
    m, n, bw, a = 8.03e9, 128, 12.5e9, 50e-6
    r = DM.solve(**kw, topology_override=["auto", "ring", "tree", "double_binary_tree", "hierarchical"])
    t = r.dataset.dp_communication_latency.values
    assert t[1] == approx(2 * (n - 1) / n * m / bw + 2 * (n - 1) * a, rel=1e-12)
    assert t[2] == approx(2 * 7 * (m / bw + a), rel=1e-12)  # ⌈log2 128⌉ = 7
    assert t[3] == approx(1.2 * 2 * 7 * a + 1.05 * 2 * (n - 1) / n * m / bw, rel=1e-12)
    assert t[4] == approx(t[0], rel=1e-15) and t[0] == approx(0.3410321666666667, rel=1e-12)
    assert s(DM.solve(**kw, topology_override=None).dp_communication_latency) == t[0]
    # one node: the flat algorithms use NVLink
    one = DM.solve(model=L.Llama3_8B, fleet=C.Lab_64_H100, batch_size=64, dp_size=8, topology_override="tree")
    assert s(one.dp_communication_latency) == approx(2 * 3 * (16.06e9 / 450e9 + 0.5e-6), rel=1e-12)


def test_d7_zero3_adds_the_parameter_allgathers():
    """D7: ZeRO-3 moves 1.5× the DP bytes of stages 0–2 (same α terms)."""
    kw = dict(model=L.Llama3_8B, fleet=C.Research_256, batch_size=256, tp_size=8)  # ring, dp 32 over nodes
    t = DM.solve(**kw, zero_stage=[0, 2, 3]).dataset.dp_communication_latency.values
    m, n = 16.06e9 / 8, 32
    assert t[0] == t[1] == approx(2 * (n - 1) / n * m / 12.5e9 + 2 * (n - 1) * 50e-6, rel=1e-12)
    assert t[2] == approx(2 * (n - 1) / n * 1.5 * m / 12.5e9 + 2 * (n - 1) * 50e-6, rel=1e-12)


def test_d7_gradient_accumulation_does_not_divide_dp_communication():
    """D7: the replica computes its whole local batch per step and all-reduces once, so GA leaves
    DP communication and the step unchanged (the reference divided DP time by GA: B11c) and only
    shrinks the activations held at once."""
    r = DM.solve(
        model=L.Llama3_8B, fleet=C.Research_256, batch_size=256, tp_size=8, gradient_accumulation_steps=[1, 4]
    ).dataset
    assert "gradient_accumulation_steps" not in r.dp_communication_latency.dims  # does not vary with GA
    assert r.step_latency_total.values[0] == r.step_latency_total.values[1]
    assert r.activations.values[1] == approx(r.activations.values[0] / 4, rel=1e-12)


def test_d7_moe_dp_bytes_and_ep_alltoall():
    """D7 on Mixtral-8x7B (46.7 B, top-2, 32 layers, h 4096), Frontier_8K, ep 8, batch 1024 (dp 1024,
    B_loc 1): DP gradients 93.4 GB/8 = 11.675 GB (the reference kept 93.4 GB: 3.7426 s) in a
    ring over IB NDR; EP all-to-all of 1·2048·4096·2 B·2 = 33.55 MB over 8 ranks, 4 per layer ×
    32 layers (the reference charged one: 0.6222 ms)."""
    r = DM.solve(model=L.Mixtral_8x7B, fleet=C.Frontier_8K, batch_size=1024, ep_size=8)
    n = 1024
    assert s(r.dp_communication_latency) == approx(2 * (n - 1) / n * 11.675e9 / 50e9 + 2 * (n - 1) * 5e-6, rel=1e-12)
    one = 7 / 8 * 33554432 / 50e9 + 7 * 5e-6
    assert one == approx(0.00062220256, rel=1e-12)
    assert s(r.ep_communication_latency) == approx(4 * 32 * one, rel=1e-12)
    imbalanced = DM.solve(
        model=L.Mixtral_8x7B, fleet=C.Frontier_8K, batch_size=1024, ep_size=8, moe_routing_imbalance_factor=1.5
    )
    assert s(imbalanced.ep_communication_latency) == approx(4 * 32 * (7 / 8 * 1.5 * 33554432 / 50e9 + 35e-6))


def test_d7_dense_models_keep_dp_bytes_over_tp_pp():
    """D7: EP does not shard a dense model's gradients: DP bytes W/(tp·pp) whatever ep."""
    r = DM.solve(model=L.Llama3_8B, fleet=C.Research_256, batch_size=256, tp_size=4, ep_size=2)
    n = 32  # G = 8: one DP rank per node
    assert s(r.dp_communication_latency) == approx(2 * (n - 1) / n * 16.06e9 / 4 / 12.5e9 + 2 * (n - 1) * 50e-6)


def test_d7_local_batch_rounds_up_and_counts_real_samples():
    """D7: batch 100 on dp 32 gives ⌈100/32⌉ = 4 samples per replica (the reference's ⌊⌋ gives
    3 and drops 4 samples); throughput and MFU count the 100 real samples per step."""
    r = DM.solve(model=L.Llama3_8B, fleet=C.Research_256, batch_size=[96, 100, 128], tp_size=8).dataset
    assert list(r.local_batch_size.values) == [3, 4, 4]
    assert r.node_latency.values[1] == r.node_latency.values[2]  # 4 samples per replica in both
    step = r.step_latency_total.values
    assert r.effective_throughput.values[1] == approx(100 / step[1], rel=1e-15)
    assert r.effective_throughput.values[2] == approx(128 / step[2], rel=1e-15)
    assert r.mfu.values[1] == approx(100 / 128 * r.mfu.values[2], rel=1e-12)


def test_d7_degrees_that_do_not_divide_the_fleet_are_infeasible_points():
    """D7: tp·pp·ep not dividing the fleet is an infeasible point (reason not_divisible, outputs
    depending on dp NaN), never an exception — the other points of the sweep survive."""
    r = DM.solve(model=L.Llama3_8B, fleet=C.Research_256, batch_size=256, tp_size=[3, 8, 512])
    assert list(r.infeasible_reason.values) == ["not_divisible", "none", "not_divisible"]
    assert list(r.feasible.values) == [False, True, False]
    ds = r.dataset
    assert np.isnan(ds.step_latency_total.values[[0, 2]]).all() and np.isfinite(ds.step_latency_total.values[1])
    assert np.isnan(ds.dp_degree.values[0]) and not ds.microbatches_exceed_local_batch.values[0]


def test_d7_microbatches_beyond_the_local_batch_are_flagged_not_rejected():
    r = DM.solve(
        model=L.Llama3_8B, fleet=C.Research_256, batch_size=256, tp_size=8, pp_size=4, microbatch_count=[1, 8, 16]
    ).dataset  # dp 8, B_loc 32
    assert list(r.microbatches_exceed_local_batch.values) == [False, False, False]
    r = DM.solve(
        model=L.Llama3_8B, fleet=C.Research_256, batch_size=64, tp_size=8, pp_size=4, microbatch_count=[8, 16]
    ).dataset  # B_loc 8
    assert list(r.microbatches_exceed_local_batch.values) == [False, True]
    assert list(r.feasible.values) == [True, True]


def test_more_stages_than_layers_is_infeasible():
    """A pipeline stage needs at least one layer: pp 64 on a 32-layer model is infeasible
    (too_many_stages); the numbers are still computed as the reference does."""
    r = DM.solve(model=L.Llama3_8B, fleet=C.Research_256, batch_size=256, pp_size=[32, 64])
    assert list(r.infeasible_reason.values) == ["none", "too_many_stages"]
    assert np.isfinite(r.dataset.step_latency_total.values).all()


def test_d21_dp_size_selects_a_sub_fleet():
    """D21: dp_size uses dp·tp·pp·ep accelerators; the whole-fleet default equals dp = N/G, and
    dp·G above the fleet is an infeasible point."""
    kw = dict(model=L.Llama3_70B, fleet=C.Frontier_8K, batch_size=2048, tp_size=8, pp_size=4, microbatch_count=16)
    whole, explicit = DM.solve(**kw).dataset, DM.solve(**kw, dp_size=256).dataset
    for name in whole.data_vars:
        np.testing.assert_array_equal(whole[name].values, explicit[name].values, err_msg=name)
    curve = DM.solve(**kw, dp_size=[1, 16, 256, 512]).dataset
    assert list(curve.accelerators_used.values[:3]) == [32, 512, 8192] and np.isnan(curve.accelerators_used.values[3])
    assert list(curve.infeasible_reason.values) == [1, 0, 0, 2]  # 2048 samples on one replica do not fit
    assert list(curve.local_batch_size.values[:3]) == [2048, 128, 8]
    # one DP rank: no DP communication
    assert curve.dp_communication_latency.values[0] == 0.0


def test_overlap_congestion_straggler():
    """T_step = (T_node + (1 − o)·T_dp·c + T_tp·c + T_bubble)·s with o = 0.85."""
    kw = dict(model=L.Llama3_8B, fleet=C.Research_256, batch_size=256, tp_size=8)
    base = DM.solve(**kw)
    node, dp, tp = s(base.node_latency), s(base.dp_communication_latency), s(base.tp_communication_latency)
    r = DM.solve(**kw, overlap_comm=True, congestion_factor=1.5, straggler_factor=1.2)
    assert s(r.step_latency_total) == approx((node + 0.15 * 1.5 * dp + 1.5 * tp) * 1.2, rel=1e-12)
    assert s(r.communication_latency) == approx(1.5 * (dp + tp), rel=1e-12)


def test_non_transformer_replica():
    """ResNet-50 (25.6 M parameters, 8.2 GFLOP, 50 layers) on Research_256, batch 512, fp16: one
    accelerator per replica, dp 256, 2 samples each: footprint 2W + 12·P = 409.6 MB (LoRA 1.1·W),
    compute 3·8.2e9·2/(494.5 TF) s, overhead 0.01 + 3·50·0.01 ms = 1.51 ms; with tp 2 the TP
    all-reduce uses the Transformer defaults h = 4096 and seq_len (mlsysim 0.3.0: 30.026 ms)."""
    resnet = ms.Models.Vision.ResNet50
    r = DM.solve(model=resnet, fleet=C.Research_256, batch_size=512, is_lora=[False, True]).dataset
    p = resnet.si["parameters"]
    w = 2 * p
    assert r.memory_footprint.values[0] == approx(2 * w + 12 * p, rel=1e-12)
    assert r.memory_footprint.values[1] == approx(1.1 * w, rel=1e-12)
    assert float(r.node_latency_overhead) == approx(1.51e-3, rel=1e-12)
    assert float(r.node_latency_compute) == approx(3 * resnet.si["ops_per_sample"] * 2 / 494.5e12, rel=1e-12)
    assert np.isnan(float(r.activations))
    t = DM.solve(model=resnet, fleet=C.Research_256, batch_size=512, tp_size=2)
    assert s(t.tp_communication_latency) == approx(0.0300262, rel=1e-5)
    assert s(t.memory_footprint) == approx((2 * w + 12 * p) / 2, rel=1e-12)


def test_offload_when_training_does_not_fit():
    """Llama-3.1-8B, fp8 on one H100 per replica does not fit (117.4 GB): memory_capacity, and
    the replica streams at the host link (64 GB/s; mlsysim 0.3.0: node 138.986 ms)."""
    r = DM.solve(model=L.Llama3_8B, fleet=C.Research_256, batch_size=256, precision="fp8")
    assert not r.feasible and r.infeasible_reason == "memory_capacity"
    assert s(r.peak_bw_actual) == 64e9 and s(r.node_latency) == approx(0.138986, rel=1e-5)
    assert r.node_bottleneck == "Memory"


# ---------------------------------------------------------------------------- MoERoutingModel
def test_moe_routing_kernels():
    assert moe.effective_active_experts(8.0, 2.0, 1.25) == 2.5
    assert moe.effective_active_experts(8.0, 2.0, 10.0) == 8.0  # capped at the expert count
    assert moe.effective_active_experts(8.0, 0.0, 1.0) == 1.0  # top-k at least 1
    assert moe.remote_fraction(8.0) == 7 / 8 and moe.remote_fraction(1.0) == 0.0


def test_moe_routing_mixtral():
    """Mixtral-8x7B, batch 4, seq 2048, ep 8 (mlsysim 0.3.0): 2 experts, 12.9 B active,
    4·2048·4096·2·2·7/8 = 117.44 MB, all-to-all on Research_256's 100GbE 9.745 ms; no fleet or
    ep 1 → no all-to-all (None); imbalance 10 is capped at 8 experts (multiplier 4)."""
    mr = ms.MoERoutingModel()
    r = mr.solve(model=L.Mixtral_8x7B, batch_size=4, seq_len=2048, ep_size=8, fleet=C.Research_256)
    assert r.effective_active_experts == 2.0 and s(r.effective_active_parameters) == approx(12.9e9)
    assert s(r.token_dispatch_bytes) == approx(117.440512e6, rel=1e-12)
    assert s(r.all_to_all_latency) == approx(9.74524096e-3, rel=1e-12)
    assert mr.solve(model=L.Mixtral_8x7B, batch_size=4, seq_len=2048, ep_size=8).all_to_all_latency is None
    one = mr.solve(model=L.Mixtral_8x7B, batch_size=4, seq_len=2048, fleet=C.Research_256)
    assert one.all_to_all_latency is None and s(one.token_dispatch_bytes) == 0.0
    big = mr.solve(model=L.Mixtral_8x7B, batch_size=4, seq_len=2048, ep_size=8, routing_imbalance_factor=10)
    assert big.effective_active_experts == 8.0 and big.active_parameter_multiplier == 4.0


def test_moe_routing_rejects_dense_models():
    """D14: a dense model is a TypeError naming the argument (the reference: AttributeError)."""
    with pytest.raises(TypeError, match="model=.*SparseTransformerWorkload"):
        ms.MoERoutingModel().solve(model=L.Llama3_8B, batch_size=4, seq_len=2048)


# ---------------------------------------------------------------------------- TopologyModel
@pytest.mark.parametrize(
    "name, eff, bisection, fraction, hops",
    [
        ("fat_tree", 50.0, 1600.0, 1.0, 4.0),
        ("dragonfly", 42.5, 1360.0, 0.85, 3.0),
        ("torus_3d", 25.0, 800.0, 0.5, 3.0),
        ("ring", 1.5625, 50.0, 0.03125, 16.0),
        ("fat-tree", 50.0, 1600.0, 1.0, 4.0),
    ],
)
def test_topology_reference_table(name, eff, bisection, fraction, hops):
    """Part 2 §6, IB NDR (50 GB/s), 64 nodes."""
    r = ms.TopologyModel().solve(fabric=F.InfiniBand_NDR, topology=name, num_nodes=64)
    assert s(r.effective_bw) == approx(eff * 1e9, rel=1e-12)
    assert s(r.bisection_bw) == approx(bisection * 1e9, rel=1e-12)
    assert r.bisection_bw_fraction == approx(fraction, rel=1e-12) and r.hops_avg == approx(hops, rel=1e-12)


def test_topology_oversubscribed_torus():
    """IB NDR 4:1, torus, 512 nodes: φ = 2/8 = 0.25, 50·0.25/4 = 3.125 GB/s, 800 GB/s, 6 hops."""
    r = ms.TopologyModel().solve(fabric=F.InfiniBand_NDR_Oversub4to1, topology="torus_3d", num_nodes=512)
    assert s(r.effective_bw) == approx(3.125e9) and s(r.bisection_bw) == approx(800e9) and r.hops_avg == approx(6)
    assert topology.bisection_fraction(np.array([0, 1, 2, 3]), 8.0).tolist() == [1.0, 0.85, 1.0, 0.25]


def test_d22_bisection_fraction_at_most_one():
    """D22: a 3-D torus of 2 nodes (2·2^(-1/3) = 1.587 by the formula) and a ring of one node
    (2/1) keep full bisection, φ = 1, and no more; at 8 torus nodes the formula gives exactly 1
    and at 27 it gives 2/3 (uncapped)."""
    nodes = np.array([1.0, 2.0, 7.0, 8.0, 27.0])
    assert topology.bisection_fraction(topology.TORUS_3D, nodes) == approx([1, 1, 1, 1, 2 / 3], rel=1e-12)
    assert topology.bisection_fraction(topology.RING, nodes) == approx([1, 1, 2 / 7, 0.25, 2 / 27], rel=1e-12)
    r = ms.TopologyModel().solve(fabric=F.InfiniBand_NDR, topology="torus_3d", num_nodes=2)
    assert r.bisection_bw_fraction == 1.0 and s(r.effective_bw) == approx(50e9) and s(r.bisection_bw) == approx(50e9)


def test_d14_topology_names_are_case_insensitive_and_validated():
    """D14 (P14): "Dragonfly" is the dragonfly (the reference silently gave fat-tree values);
    an unknown name or 0 nodes raises naming the argument."""
    r = ms.TopologyModel().solve(fabric=F.InfiniBand_NDR, topology="Dragonfly")
    assert r.bisection_bw_fraction == 0.85 and r.hops_avg == 3.0
    with pytest.raises(ValueError, match="topology='mesh' is not allowed"):
        ms.TopologyModel().solve(fabric=F.InfiniBand_NDR, topology="mesh")
    with pytest.raises(ValueError, match="num_nodes=0 is not allowed"):
        ms.TopologyModel().solve(fabric=F.InfiniBand_NDR, topology="torus_3d", num_nodes=0)


# ---------------------------------------------------------------------------- NetworkRooflineModel
def test_network_roofline_reference_example():
    """Part 2 §14: Llama3-70B on Frontier_8K, one token: T_c = 6·70.6e9/(8192·989e12·0.5) =
    1.0457e-4 ms; T_n = 2·70.6e9·2 B/50 GB/s = 5648 ms → Network; MFU 9.257e-9; CI 1.5; ridge 1.62e8."""
    r = ms.NetworkRooflineModel().solve(model=L.Llama3_70B, fleet=C.Frontier_8K)
    assert s(r.latency) == approx(5.648, rel=1e-12) and s(r.latency_network) == approx(5.648, rel=1e-12)
    assert s(r.latency_compute) == approx(6 * 70.6e9 / (8192 * 989e12 * 0.5), rel=1e-12)
    assert r.bottleneck == "Network" and r.mfu == approx(9.257101554600605e-09, rel=1e-12)
    assert r.arithmetic_intensity.to("flop/byte").magnitude == 1.5
    assert r.ridge_point.to("flop/byte").magnitude == approx(162037760.0, rel=1e-12)
    assert s(r.sync_bytes) == approx(282.4e9, rel=1e-15) and s(r.throughput) == approx(1 / 5.648)


def test_d11_network_roofline_real_step():
    """D11: batch_size and seq_len make a real step (defaults 1, 1 reproduce the reference); MoE
    FLOPs use active parameters; "FP8" is canonicalised before the peak lookup."""
    nr = ms.NetworkRooflineModel()
    r = nr.solve(model=L.Llama3_70B, fleet=C.Frontier_8K, batch_size=8192, seq_len=8192)
    ops = 6 * 70.6e9 * 8192 * 8192
    assert s(r.latency_compute) == approx(ops / (8192 * 989e12 * 0.5), rel=1e-12)
    assert r.bottleneck == "Compute" and s(r.throughput) == approx(8192 / s(r.latency), rel=1e-15)
    m = nr.solve(model=L.Mixtral_8x7B, fleet=C.Research_256)
    assert s(m.latency_compute) == approx(6 * 12.9e9 / (256 * 989e12 * 0.5), rel=1e-12)
    assert s(m.sync_bytes) == approx(2 * 46.7e9 * 2, rel=1e-15)  # gradients of every parameter
    upper, lower = (nr.solve(model=L.Llama3_8B, fleet=C.Research_256, precision=p) for p in ("FP8", "fp8"))
    fp8 = ms.Hardware.Cloud.H100.si["flops_fp8"]
    assert s(upper.peak_flops_actual) == s(lower.peak_flops_actual) == approx(256 * fp8 * 0.5, rel=1e-12)


def test_network_roofline_needs_parameters():
    with pytest.raises(ValueError, match="model=.*no parameter count"):
        ms.NetworkRooflineModel().solve(model=ms.Models.Recommendation.DLRM, fleet=C.Research_256)


# ---------------------------------------------------------------------------- ReliabilityModel
def test_reliability_kernels():
    """A DGX H100 node: 8 GPUs / 50,000 h + 8 NICs / 150,000 h, redundant PSUs: 4,687.5 h."""
    node = reliability.node_mtbf(8.0, 8.0, 0.0)
    assert node == approx(1 / (8 / 50_000 + 8 / 150_000) * 3600, rel=1e-15) and node / 3600 == approx(4687.5)
    assert reliability.young_daly_interval(60.0, 3600.0) == approx(math.sqrt(2 * 60 * 3600))
    assert reliability.failure_probability(10.0, 10.0) == approx(1 - math.exp(-1), rel=1e-15)
    assert reliability.goodput(60.0, 600.0, 300.0, 1e4) == approx(1 - 0.1 - 600 / 1e4, rel=1e-15)
    assert reliability.goodput(60.0, 600.0, 300.0, 100.0) == 0.0


@pytest.mark.parametrize(
    "cluster, mtbf_h, tau, ref_goodput",
    [
        ("Research_256", 146.484375, 7954.95129, 0.9918886387784547),
        ("Frontier_8K", 4.578, 1406.0, 0.9391),
        ("Mega_100K", 0.375, 402.492236, 0.6287065792777918),
    ],
)
def test_reliability_reference_examples(cluster, mtbf_h, tau, ref_goodput):
    """Spec §8.3 (720 h job): fleet MTBF 4,687.5 h / nodes, τ* = sqrt(2·60 s·MTBF). D6: goodput
    subtracts the rework τ/(2·MTBF) the reference left out: goodput = reference − τ/(2·MTBF)."""
    r = ms.ReliabilityModel().solve(fleet=getattr(C, cluster), job_duration_hours=720)
    mtbf = s(r.fleet_mtbf)
    assert mtbf / 3600 == approx(mtbf_h, rel=1e-3)
    assert s(r.optimal_checkpoint_interval) == approx(tau, rel=1e-3)
    assert r.expected_failures == approx(720 * 3600 / mtbf, rel=1e-12)
    assert r.failure_probability == approx(1 - math.exp(-720 * 3600 / mtbf), rel=1e-12)
    t = s(r.optimal_checkpoint_interval)
    assert r.goodput_ratio == approx(ref_goodput - t / 2 / mtbf, rel=1e-3)
    assert r.goodput_ratio == approx(1 - 60 / t - (300 + t / 2) / mtbf, rel=1e-12)


def test_d6_fleet_mtbf_hours_is_used():
    """D6 (B7): a fleet's own mtbf_hours is the fleet MTBF (the reference ignored it)."""
    base = C.Research_256
    fleet = Fleet(name="R256 measured", node=base.node, count=base.count, fabric=base.fabric, mtbf_hours=10)
    r = ms.ReliabilityModel().solve(fleet=[base, fleet], job_duration_hours=720)
    mtbf = r.dataset.fleet_mtbf.values / 3600
    assert mtbf[0] == approx(146.484375) and mtbf[1] == approx(10.0, rel=1e-12)
    assert r.dataset.expected_failures.values[1] == approx(72.0, rel=1e-12)


def test_refined_reliability_reproduces_the_llama3_fleet():
    """Refined rates (Dubey et al. 2024, arXiv:2407.21783, §3.3.4, Table 5): on the Llama 3 fleet
    itself (16,384 H100 in 2,048 nodes of eight) a 54-day job expects exactly the study's 419
    unexpected interruptions — 268 accelerator, 21 host, 35 network, 95 software — so the fleet
    MTBF is 54·24 h / 419 = 3.093 h; a node of eight: 1/(8·268/(16,384·1,296 h) + 151/(2,048·1,296 h))."""
    r = ms.ReliabilityModel().solve(fleet=C.Meta_Llama3_16K_H100, job_duration_hours=54 * 24, fidelity="refined")
    assert r.expected_failures == approx(419.0, rel=1e-12)
    parts = (r.interruptions_accelerator, r.interruptions_host, r.interruptions_network, r.interruptions_software)
    assert [float(p) for p in parts] == approx([268.0, 21.0, 35.0, 95.0], rel=1e-12)
    assert s(r.fleet_mtbf) / 3600 == approx(54 * 24 / 419, rel=1e-12)
    node_h = 1 / (8 * 268 / (16_384 * 1296) + (21 + 35 + 95) / (2_048 * 1296))
    assert s(r.node_mtbf) / 3600 == approx(node_h, rel=1e-12)
    assert reliability.REFINED_ACCELERATOR_MTTF / 3600 == approx(79_230.6, rel=1e-5)
    # A smaller fleet scales with its nodes; hardware is (268 + 21 + 35)/419 = 77 % of it.
    small = ms.ReliabilityModel().solve(fleet=C.Research_256, job_duration_hours=54 * 24, fidelity="refined")
    assert small.expected_failures == approx(419.0 * 32 / 2048, rel=1e-12)
    hardware = small.interruptions_accelerator + small.interruptions_host + small.interruptions_network
    assert hardware / small.expected_failures == approx(324 / 419, rel=1e-12)


def test_first_order_reliability_unchanged_and_split_by_component():
    """first_order: the same MTBF as before; the interruptions split into accelerators (8/50,000 h
    of the node rate) and host (NICs 8/150,000 h), no network or software term."""
    first = ms.ReliabilityModel().solve(fleet=C.Research_256, job_duration_hours=720, fidelity="first_order")
    assert s(first.fleet_mtbf) / 3600 == approx(146.484375, rel=1e-12)
    assert first.interruptions_accelerator / first.expected_failures == approx(0.75, rel=1e-12)
    assert first.interruptions_host / first.expected_failures == approx(0.25, rel=1e-12)
    assert first.interruptions_network == 0.0 and first.interruptions_software == 0.0
    both = (
        ms.ReliabilityModel()
        .solve(fleet=C.Research_256, job_duration_hours=720, fidelity=["first_order", "refined"])
        .dataset
    )
    assert both.fleet_mtbf.values[0] == s(first.fleet_mtbf)


def test_d14_reliability_validation():
    rm = ms.ReliabilityModel()
    with pytest.raises(ValueError, match="avg_recovery_time_s=-10 is not allowed"):
        rm.solve(fleet=C.Research_256, job_duration_hours=720, avg_recovery_time_s=-10)
    with pytest.raises(ValueError, match="checkpoint_time_s=0 is not allowed"):
        rm.solve(fleet=C.Research_256, job_duration_hours=720, checkpoint_time_s=0)
    with pytest.raises(ValueError, match="job_duration_hours=-5 is not allowed"):
        rm.solve(fleet=C.Research_256, job_duration=-5)


# ---------------------------------------------------------------------------- CheckpointModel
def test_checkpoint_reference_example():
    """Spec §9.1: Llama3-70B on H100 (7 GB/s): 70.6e9·14 B = 988.4 GB, 141.2 s, 141.2/14,400 s
    = 0.0098056 of a 4-hour interval; SGD 4 B/param; a T4 (no storage) writes at 1 GB/s."""
    cm = ms.CheckpointModel()
    r = cm.solve(model=L.Llama3_70B, hardware=ms.Hardware.Cloud.H100)
    assert s(r.checkpoint_size) == approx(988.4e9) and s(r.write_time) == approx(141.2, rel=1e-12)
    assert r.mfu_penalty_fraction == approx(0.009805555555555557, rel=1e-12) and r.storage_bottleneck
    sgd = cm.solve(model=L.Llama3_70B, hardware=ms.Hardware.Cloud.H100, optimizer="sgd")
    assert s(sgd.checkpoint_size) == approx(282.4e9) and not sgd.storage_bottleneck
    t4 = cm.solve(model=L.Llama3_8B, hardware=ms.Hardware.Cloud.T4)
    assert s(t4.storage_bandwidth) == 1e9 and s(t4.write_time) == approx(112.42, rel=1e-12)
    lim = cm.solve(model=L.Llama3_8B, hardware=ms.Hardware.Cloud.H100, n_writers=100, filesystem_limit_gbs=50)
    assert s(lim.write_bandwidth) == 50e9 and s(lim.write_time) == approx(2.2484, rel=1e-12)
    zero = cm.solve(model=L.Llama3_8B, hardware=ms.Hardware.Cloud.H100, checkpoint_interval_hours=0)
    assert zero.mfu_penalty_fraction == 1.0


def test_d14_checkpoint_validation():
    """D14 (B8): zero writers or a zero file-system limit raise (the reference: ZeroDivisionError)."""
    cm = ms.CheckpointModel()
    with pytest.raises(ValueError, match="n_writers=0 is not allowed"):
        cm.solve(model=L.Llama3_8B, hardware=ms.Hardware.Cloud.H100, n_writers=0)
    with pytest.raises(ValueError, match="filesystem_limit_gbs=0 is not allowed"):
        cm.solve(model=L.Llama3_8B, hardware=ms.Hardware.Cloud.H100, filesystem_limit_gbs=0)
    with pytest.raises(ValueError, match="checkpoint_interval_hours=-1 is not allowed"):
        cm.solve(model=L.Llama3_8B, hardware=ms.Hardware.Cloud.H100, checkpoint_interval_hours=-1)
    with pytest.raises(TypeError, match="no parameter count"):
        cm.solve(model=ms.Models.Recommendation.DLRM, hardware=ms.Hardware.Cloud.H100)


# ---------------------------------------------------------------------------- OrchestrationModel
def test_orchestration_reference_examples():
    """Part 2 §10: λ 0.4/day, D 2 days → ρ 0.8, W 0.8·2/(2·0.2) = 4 days, L_q 0.64/0.4 = 1.6;
    λ 1, D 1.5 → ρ 1.5, unstable (∞)."""
    om = ms.OrchestrationModel()
    r = om.solve(fleet=C.Research_256, arrival_rate_jobs_per_day=0.4, avg_job_duration_days=2.0)
    assert r.cluster_utilization == approx(0.8) and r.avg_wait_time.to("day").magnitude == approx(4.0)
    assert r.avg_queue_length == approx(1.6) and r.is_stable and r.feasible
    u = om.solve(fleet=C.Frontier_8K, arrival_rate=1.0, avg_duration=1.5)
    assert u.cluster_utilization == 1.5 and math.isinf(u.avg_queue_length) and not u.is_stable
    assert u.infeasible_reason == "unstable_queue"
    assert s(om.solve(arrival_rate_jobs_per_day=0.0, avg_job_duration_days=2.0).avg_wait_time) == 0.0


def test_d14_orchestration_validation():
    om = ms.OrchestrationModel()
    with pytest.raises(ValueError, match="arrival_rate_jobs_per_day=-1 is not allowed"):
        om.solve(arrival_rate_jobs_per_day=-1, avg_job_duration_days=2)
    with pytest.raises(ValueError, match="avg_job_duration_days=0 is not allowed"):
        om.solve(arrival_rate_jobs_per_day=1, avg_job_duration_days=0)
    r = om.solve(arrival_rate_jobs_per_day=1 / ureg.hour, avg_job_duration_days=30 * ureg.minute)
    assert r.cluster_utilization == approx(0.5, rel=1e-12)
