"""Tier 1 of issue 10's serving physics: multi-accelerator serving, the refined step model,
separate precisions, the closed loop and cost per token, each term derived by hand.

Most physics tests use the toy Transformer of tests/test_physics_serving.py, with a hidden
width and a vocabulary:

    L = 2 layers, a = 4 heads, a_kv = 2 KV heads, d = 8 head width, h = a d = 32,
    P = P_active = 1000, b = 2 bytes (fp16), V = 100
    W = P b = 2000 byte,  k = 2 L a_kv d b = 128 byte per token
    attention FLOPs per token per attended token: 4 L a d = 256 (Kaplan et al. 2020,
    arXiv:2001.08361, Table 1: QK^T and the product with V, 2 n_layer n_ctx d_attn each)

on a device of F eta = 1 MFLOP/s sustained and BW = 100 kB/s of HBM at a bandwidth
efficiency of 0.5 (50 kB/s achieved). The equations are those of docs/equations.md, section
"Serving" (refined terms: docs/differences.md).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

import mlsysim_vec as ms
from mlsysim_vec import ureg
from mlsysim_vec.hardware.types import ComputeCore, HardwareNode, MemoryHierarchy
from mlsysim_vec.physics import comm
from mlsysim_vec.physics import serving as sv

NAN = float("nan")
L_, H_ = ms.Models.Language, ms.Hardware.Cloud
LLAMA8B, LLAMA70B, MIXTRAL = L_.Llama3_8B, L_.Llama3_70B, L_.Mixtral_8x7B
H100, A100 = H_.H100, H_.A100
TAX = 0.01e-3


def approx(x, rel=1e-12):
    return pytest.approx(x, rel=rel, abs=1e-300)


def si(result, name):
    """An output of a result in its canonical SI unit (a float, or an array over the grid)."""
    values = result.dataset[name].values
    return values.item() if values.ndim == 0 else values


def toy(parameters=1000.0, active=None, experts=NAN, top_k=1.0, b=2.0, kv_b=None, vocab=100.0):
    return sv.transformer(
        layers=2.0,
        heads=4.0,
        kv_heads=2.0,
        head_width=8.0,
        parameters=parameters,
        active_parameters=parameters if active is None else active,
        model_size=NAN,
        weights_rule=0.0,
        is_mla=0.0,
        kv_lora_rank=NAN,
        rope_head_dim=NAN,
        bytes_per_el=b,
        is_16bit=b == 2.0,
        kv_bytes_per_el=kv_b,
        hidden=32.0,
        vocab=vocab,
        experts=experts,
        top_k=top_k,
    )


F, BW = 1e6, 1e5


def refined(**kw):
    base = dict(
        refined=True,
        bandwidth=1e9,
        latency=1e-6,
        bandwidth_efficiency=0.5,
        forward_overhead=1e-3,
        layer_overhead=1e-4,
        reserve_fraction=0.1,
    )
    return sv.deployment(**(base | kw))


# ---- the refined forward -----------------------------------------------------------------


def test_refined_prefill_by_hand():
    """Prefill of B = 3 sequences, N = 10 new tokens, no cache:
    FLOPs = 2 P T + 256 T (C + (N + 1)/2) = 60,000 + 256 x 30 x 5.5 = 102,240 -> 0.10224 s;
    bytes = W + k B (C + N) + T L (4 + 12/tp) h b_a = 2000 + 3840 + 30 x 2 x 16 x 32 x 2
          = 67,280 -> / (1e5 x 0.5) = 1.3456 s (the toy is memory-bound);
    with 2 cached tokens the attention averages C + 5.5 = 7.5 and 2 more tokens per sequence
    are read: 60,000 + 256 x 30 x 7.5 = 117,600 FLOPs; 67,280 + 128 x 3 x 2 = 68,048 bytes."""
    m, dep = toy(), refined()
    c, mem, tokens = sv.refined_forward(m, dep, F, BW, prefill_seqs=3.0, prefill_new=10.0, prefill_cached=0.0)
    assert tokens == 30.0 and c == approx(0.10224) and mem == approx(1.3456)
    c, mem, _ = sv.refined_forward(m, dep, F, BW, prefill_seqs=3.0, prefill_new=10.0, prefill_cached=2.0)
    assert c == approx(0.1176) and mem == approx(68048 / 5e4)


def test_refined_decode_by_hand():
    """Decode of B = 3 over S = 10 cached tokens: FLOPs = 2 P B + 256 B S = 6000 + 7680 ->
    0.01368 s; bytes = W + k B S = 2000 + 3840 -> 0.1168 s; per extra context token
    256 x 3 / 1e6 = 7.68e-4 s of compute and 128 x 3 / 5e4 = 7.68e-3 s of memory."""
    c, dc, mem, dm = sv.refined_decode(toy(), refined(), 3.0, 10.0, F, BW)
    assert (c, dc, mem, dm) == (approx(0.01368), approx(7.68e-4), approx(0.1168), approx(7.68e-3))


def test_per_head_kv_reads_by_hand():
    """A per-head decode kernel (grouped_kv_reads=False) reads the group's K/V once per query
    head. Toy: a = 4, a_kv = 2. tp = 1: each of 4 query heads reads one of 2 KV heads, factor
    (4/1)/ceil(2/1) = 2: the KV read of decode B = 3, S = 10 doubles, 2000 + 2 x 3840 = 9680
    bytes -> 0.1936 s, slope 2 x 7.68e-3; FLOPs unchanged. tp = 4: KV heads replicated,
    ceil(2/4) = 1 per device (k_dev = 64 byte), one query head per device: factor (4/4)/1 = 1.
    An MLA latent or a multi-head model (a = a_kv) is read once either way; a prefill's cached
    reads are not affected (a prefill kernel tiles the queries of a group together)."""
    per_head = refined(grouped_kv_reads=False)
    c, dc, mem, dm = sv.refined_decode(toy(), per_head, 3.0, 10.0, F, BW)
    assert (c, dc, mem, dm) == (approx(0.01368), approx(7.68e-4), approx(0.1936), approx(2 * 7.68e-3))
    assert sv._decode_kv_share(toy(), refined(tp=4.0, grouped_kv_reads=False)) == approx(0.5)  # = _kv_share
    assert sv._decode_kv_share(toy(), refined(tp=2.0, grouped_kv_reads=False)) == approx(1.0)  # (2/1)/1 x 1/2
    both = sv._decode_kv_share(toy(), refined(grouped_kv_reads=np.array([True, False])))
    assert both.tolist() == [1.0, 2.0]
    _, mem_p, _ = sv.refined_forward(toy(), per_head, F, BW, prefill_seqs=3.0, prefill_new=10.0, prefill_cached=2.0)
    assert mem_p == approx(68048 / 5e4)


def test_per_head_kv_reads_on_a_resolver():
    """Llama-3-70B (a = 64, a_kv = 8, L = 80, d = 128) at fp8 on 4 H100s, batch 64 over
    4,096 tokens, memory-bound: the per-head kernel adds (64/4)/2 - 1 = 7 times the KV read
    k_dev B S = (2 x 80 x 8 x 128 x 1 byte) x 2/8 x 64 x 4096 per device to the decode step,
    i.e. 7 x 40,960 x 262,144 byte at 3.35 TB/s x 0.85."""
    kw = dict(model=LLAMA70B, hardware=H100, tp_size=4, seq_len=4096, batch_size=64, precision="fp8")
    grouped = ms.ServingModel().solve(**kw, fidelity="refined")
    per_head = ms.ServingModel().solve(**kw, fidelity="refined", grouped_kv_reads=False)
    extra = 7 * 40960 * 64 * 4096 / (3.35e12 * sv.BANDWIDTH_EFFICIENCY)
    assert si(per_head, "itl") - si(grouped, "itl") == approx(extra, rel=1e-9)
    assert si(per_head, "ttft") == approx(si(grouped, "ttft"))
    first = [ms.ServingModel().solve(**kw, fidelity="first_order", grouped_kv_reads=g) for g in (True, False)]
    assert si(first[0], "itl") == si(first[1], "itl")  # a refined term only


def test_decode_crossover_batch():
    """Without context (no attention, no KV) decode is compute-bound from B* where
    2 P B*/F = W/(BW eta_bw): B* = F W/(2 P BW eta_bw) = 1e6 x 2000/(2 x 1000 x 5e4) = 20."""
    batch = np.array([19.0, 20.0, 21.0])
    c, _, mem, _ = sv.refined_decode(toy(), refined(), batch, 0.0, F, BW)
    assert c[1] == approx(mem[1]) and c[0] < mem[0] and c[2] > mem[2]
    assert mem[0] == approx(2000 / 5e4) and c[2] == approx(2 * 1000 * 21 / 1e6)


def test_decode_crossover_on_a_resolver():
    """ServingModel on a 1000 TFLOP/s, 2 TB/s device with efficiency 1 and bandwidth
    efficiency 1, at a one-token context (attention and KV negligible): the decode step is
    memory-bound below B* = F W/(2 P BW) = 1e15 W/(2 P 2e12) and compute-bound above."""
    device = HardwareNode(
        name="crossover",
        compute=ComputeCore(peak_flops=1000 * ureg("TFLOP/s"), precision_flops={"fp16": 1000 * ureg("TFLOP/s")}),
        memory=MemoryHierarchy(capacity=10_000 * ureg.GiB, bandwidth=2 * ureg("TB/s")),
    )
    one = ms.ServingModel().solve(model=LLAMA8B, hardware=device, seq_len=1, fidelity="refined")
    w = si(one, "model_weights_size")
    b_star = 1e15 * w / (2 * LLAMA8B.parameters.to("count").m * 2e12)
    assert b_star == approx(500.0)
    r = ms.ServingModel().solve(
        model=LLAMA8B,
        hardware=device,
        seq_len=1,
        batch_size=[400, 600],
        fidelity="refined",
        efficiency=1.0,
        bandwidth_efficiency=1.0,
    )
    compute, memory = si(r, "decode_compute_time"), si(r, "decode_memory_time")
    assert compute[0] < memory[0] and compute[1] > memory[1]
    assert compute[1] == approx((2 * 8.03e9 + 4 * 32 * 32 * 128 * 1) * 600 / 1e15, 1e-9)


def test_refined_step_adds_communication_and_overhead():
    """A refined forward takes max(compute, memory) + comm + forward_overhead + L layer_overhead:
    one device, B = 3, S = 10: 0.1168 + 0 + 1e-3 + 2e-4."""
    out = sv.inference_step(toy(), 10.0, 3.0, 2e6, 0.5, 1e-3, BW, 1e9, deployment=refined())  # a large memory: feasible
    assert out["itl"] == approx(0.1168 + 1e-3 + 2e-4)
    assert out["decode_compute_time"] == approx(0.01368) and out["decode_memory_time"] == approx(0.1168)
    # the prefill of test_refined_prefill_by_hand: max(0.10224, 1.3456) + the fixed 1.2 ms
    assert out["ttft"] == approx(1.3456 + 1e-3 + 2e-4)


def test_chunked_refined_prefill_sums_the_chunks():
    """N = 10 in chunks of 4 -> 3 chunks of 10/3 tokens (equal chunks), the j-th after
    j x 10/3 cached tokens: TTFT = sum of the three forwards; the largest chunk (4 tokens)
    is the last, after 6 cached tokens."""
    m, dep = toy(), refined()
    out = sv.inference_step(m, 10.0, 3.0, 2e6, 0.5, 1e-3, BW, 1e9, chunk_tokens=4.0, deployment=dep)
    size = 10.0 / 3.0
    total = 0.0
    for j in range(3):
        c, mem, _ = sv.refined_forward(m, dep, F, BW, prefill_seqs=3.0, prefill_new=size, prefill_cached=j * size)
        total += max(c, mem) + 1.2e-3
    assert out["prefill_chunks"] == 3 and out["ttft"] == approx(total, 1e-12)
    c, mem, _ = sv.refined_forward(m, dep, F, BW, prefill_seqs=3.0, prefill_new=4.0, prefill_cached=6.0)
    assert out["prefill_chunk_time"] == approx(max(c, mem) + 1.2e-3)


def test_refined_kernels_broadcast():
    """Array inputs broadcast: a grid of (batch, tp, context) equals the scalar calls."""
    batch = np.array([1.0, 8.0])[:, None, None]
    tp = np.array([1.0, 2.0, 4.0])[None, :, None]
    seq = np.array([10.0, 100.0])[None, None, :]
    dep = refined(tp=tp)
    grid = sv.inference_step(toy(), seq, batch, 2e6, 0.5, 1e-3, BW, 1e9, output_tokens=5.0, deployment=dep)
    for i, j, k in np.ndindex(2, 3, 2):
        one = sv.inference_step(
            toy(),
            seq[0, 0, k],
            batch[i, 0, 0],
            2e6,
            0.5,
            1e-3,
            BW,
            1e9,
            output_tokens=5.0,
            deployment=refined(tp=tp[0, j, 0]),
        )
        for name in ("ttft", "itl", "generation_latency", "total_memory_required", "communication_time"):
            assert np.broadcast_to(grid[name], (2, 3, 2))[i, j, k] == approx(one[name]), name


def test_sum_max_linear_equals_the_loop():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(0, 40))
        f0, g0 = rng.normal(size=2)
        df, dg = rng.normal(size=2) / 10
        fs = [f0 + df * j for j in range(n)]
        gs = [g0 + dg * j for j in range(n)]
        expected = sum(max(a, b) for a, b in zip(fs, gs))
        last = max(n - 1, 0)
        got = sv.sum_max_linear(f0, f0 + df * last, g0, g0 + dg * last, float(n))
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
    grid = sv.sum_max_linear(np.array([0.0, 1.0]), np.array([1.0, 0.0]), 0.5, 0.5, np.array([[3.0], [4.0]]))
    assert grid.shape == (2, 2)


# ---- the serving group: collectives and shares -------------------------------------------


def test_tp_allreduce_by_hand():
    """Two ring all-reduces per layer of M = T h b_a = 3 x 32 x 2 = 192 bytes over tp = 4 at
    1 GB/s and 1 us: ring = 2 (3/4) M/beta + 2 x 3 alpha = 2.88e-7 + 6e-6 s; per forward
    2 L ring = 4 x 6.288e-6 = 2.5152e-5 s. A degree of 1 communicates nothing."""
    m = toy()
    assert sv.group_communication(m, refined(tp=4.0), 3.0) == approx(2.5152e-5)
    assert sv.group_communication(m, refined(tp=4.0), 3.0) == approx(4 * comm.ring_allreduce(192.0, 4.0, 1e9, 1e-6))
    assert sv.group_communication(m, refined(), 3.0) == 0.0
    tp = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(
        sv.group_communication(m, refined(tp=tp), 3.0), [0.0, 4 * (192 / 1e9 + 2e-6), 2.5152e-5], rtol=1e-12
    )


def test_llama70b_tp4_allreduce_on_h100():
    """Llama-3.1-70B (h = 8192, L = 80), tp = 4 on H100 NVLink 4 (900 GB/s both directions:
    450 GB/s per direction, 500 ns), one decode token, fp16 activations:
    M = 8192 x 2 = 16,384 B; ring = 1.5 x 16384/450e9 + 6 x 500e-9 = 3.0546e-6 s;
    per step 160 rings = 4.8874e-4 s."""
    r = ms.ServingModel().solve(model=LLAMA70B, hardware=H100, seq_len=2048, tp_size=4, fidelity="refined")
    ring = 1.5 * 16384 / 450e9 + 6 * 500e-9
    assert si(r, "communication_time") == approx(160 * ring, 1e-9)
    faster = ms.ServingModel().solve(
        model=LLAMA70B, hardware=H100, seq_len=2048, tp_size=4, interconnect_bandwidth=900 * ureg("GB/s")
    )
    assert si(faster, "communication_time") == approx(160 * (1.5 * 16384 / 900e9 + 6 * 500e-9), 1e-9)


def test_pipeline_sends_and_expert_all_to_all():
    """pp = 3: 2 sends of M = T h b_a = 192 B, alpha + M/beta each. A mixture of experts
    (E = 8, k = 2) over ep = 2: each rank carries T/ep tokens, M = 1.5 x 32 x 2 = 96 B, and
    routes k M = 192 B in a dispatch and a combine all-to-all per layer,
    all_to_all(192, 2) = (1/2) 192/1e9 + 1e-6 each, 2 L = 4 of them."""
    m = toy()
    assert sv.group_communication(m, refined(pp=3.0), 3.0) == approx(2 * (1e-6 + 192 / 1e9))
    moe = toy(parameters=1000.0, active=400.0, experts=8.0, top_k=2.0)
    assert sv.group_communication(moe, refined(ep=2.0), 3.0) == approx(4 * (0.5 * 192 / 1e9 + 1e-6))
    assert sv.group_communication(m, refined(ep=2.0), 3.0) == 0.0  # a dense model routes nothing


def test_experts_touched_and_weights_read():
    """E = 8 experts, k = 2 per token, P = 1000, P_active = 400: p_e = 600/6 = 100, the
    routed experts hold 800/1000 of W; T tokens touch 1 - (3/4)^T of them (1 token: 1/4,
    3 tokens: 37/64). Weights read by 3 decode tokens: W (0.2 + 0.8 x 37/64) = 2000 x
    0.6625."""
    moe = toy(parameters=1000.0, active=400.0, experts=8.0, top_k=2.0)
    assert moe.expert_fraction == approx(0.8)
    np.testing.assert_allclose(sv.touched_expert_fraction(moe, np.array([1.0, 3.0])), [0.25, 37 / 64], rtol=1e-12)
    _, _, mem, _ = sv.refined_decode(moe, refined(), 3.0, 0.0, F, BW)
    assert mem == approx(2000 * (0.2 + 0.8 * 37 / 64) / 5e4)
    assert sv.touched_expert_fraction(toy(), 5.0) == 1.0


def test_refined_memory_by_hand():
    """tp = 2, pp = 2, prefill of T = 30 tokens for B = 3 sequences, KV = 3840 bytes:
    weights 2000/4 = 500; KV ceil(2/2)/2 / pp = 3840/4 = 960; live activations
    30 x 32 x 2 x (2 + 4/2) = 7680; logits 3 x 100 x 4 = 1200; a buffer of one forward's
    activations 30 x 32 x 2 = 1920 (a group). With tp = 4 > a_kv = 2 the KV heads are
    replicated: each accelerator keeps 1 of 2, ceil(2/4)/2 = 1/2, not 1/4. The framework
    keeps reserve_fraction = 0.1 of the capacity."""
    weights, kv, working = sv.refined_memory(toy(), refined(tp=2.0, pp=2.0), 3840.0, 30.0, 3.0)
    assert (weights, kv, working) == (500.0, 960.0, approx(7680 + 1200 + 1920))
    _, kv4, _ = sv.refined_memory(toy(), refined(tp=4.0), 3840.0, 30.0, 3.0)
    assert kv4 == 1920.0
    _, _, single = sv.refined_memory(toy(vocab=NAN), refined(), 3840.0, 30.0, 3.0)
    assert single == approx(30 * 32 * 2 * 6)  # no buffer on one device, no logits without a vocabulary
    assert sv.usable_memory(1e4, refined()) == 9000.0 and sv.usable_memory(1e4, sv.SINGLE_DEVICE) == 1e4
    # inference_step: B = 3, S = 10 on one device: W + KV + activations of the 30-token prefill
    # + logits = 2000 + 3840 + 11520 + 1200 = 18,560 bytes; fits in 0.9 x 20,700, not in 0.9 x 20,600
    out = sv.inference_step(toy(), 10.0, 3.0, 2e6, 0.5, 1e-3, BW, np.array([20700.0, 20600.0]), deployment=refined())
    assert out["total_memory_required"] == approx(18560.0) and out["runtime_memory"] == approx(12720.0)
    assert list(out["feasible"]) == [True, False]
    np.testing.assert_allclose(out["memory_utilization"], [18560 / 20700, 18560 / 20600], rtol=1e-12)


def test_first_order_group_by_hand():
    """First order on tp = 2 (W = 2000, KV = k S B = 3840 at S = 10, B = 3): the decode step
    is (W + KV)/(2 BW) + L x 0.01 ms + comm, the prefill 30 x (2000 + 2560)/(2 F eta) + comm +
    dispatch tax, memory (W + KV)/2 per accelerator."""
    dep = sv.deployment(tp=2.0, bandwidth=1e9, latency=1e-6)
    out = sv.inference_step(toy(), 10.0, 3.0, 2e6, 0.5, 1e-3, BW, 1e4, deployment=dep)
    comm_decode = 4 * comm.ring_allreduce(3 * 32 * 2.0, 2.0, 1e9, 1e-6)
    comm_prefill = 4 * comm.ring_allreduce(30 * 32 * 2.0, 2.0, 1e9, 1e-6)
    assert out["itl"] == approx(5840 / 2e5 + 2 * TAX + comm_decode)
    assert out["ttft"] == approx(30 * 4560 / 2e6 + comm_prefill + 1e-3)
    assert out["total_memory_required"] == approx(5840 / 2) and out["accelerators"] == 2.0
    assert out["runtime_memory"] == 0.0 and math.isnan(out["decode_compute_time"])


def test_degree_one_first_order_is_todays_single_device():
    """tp = pp = ep = 1 under first order gives the single device's numbers bit for bit."""
    kw = dict(model=[LLAMA8B, MIXTRAL], hardware=[H100, A100], seq_len=[512, 4096], batch_size=[1, 32])
    with ms.set_options(fidelity="first_order"):
        today = ms.ServingModel().solve(**kw).dataset
    ones = ms.ServingModel().solve(**kw, tp_size=1, pp_size=1, ep_size=1, fidelity="first_order").dataset
    for name in ("ttft", "itl", "total_memory_required", "memory_utilization", "feasible", "kv_cache_size"):
        xr.testing.assert_identical(today[name], ones[name])


# ---- the resolvers: generation, throughput, cost --------------------------------------------


@pytest.mark.parametrize("fidelity", ["first_order", "refined"])
def test_generation_latency_is_ttft_plus_every_step(fidelity):
    """A static batch: the prefill gives the first token, then O - 1 decode steps over the
    contexts S + 1 ... S + O - 1 (each the ITL of a ServingModel call at that context)."""
    kw = dict(model=LLAMA8B, hardware=H100, batch_size=64, fidelity=fidelity, tp_size=2)
    s, o = 1000, 40
    r = ms.ServingModel().solve(seq_len=s, output_tokens=o, gpu_hour_price=3.0, **kw)
    steps = si(ms.ServingModel().solve(seq_len=list(range(s + 1, s + o)), **kw), "itl")
    expected = si(r, "ttft") + steps.sum()
    assert si(r, "generation_latency") == approx(expected, 1e-11)
    rate = 64 * o / expected
    assert si(r, "output_throughput") == approx(rate, 1e-11)
    assert si(r, "output_throughput_per_gpu") == approx(rate / 2, 1e-11)
    assert si(r, "cost_per_million_output_tokens") == approx(3.0 / 3600 * 2 / rate * 1e6, 1e-11)
    assert si(r, "cost_per_million_input_tokens") == approx(3.0 / 3600 * 2 / (64 * s / expected) * 1e6, 1e-11)
    one = ms.ServingModel().solve(seq_len=s, **kw)
    assert one.generation_latency == one.ttft
    price = kw["hardware"].rental_price.to("USD/hour").m  # no price given: the record's published one
    priced = ms.ServingModel().solve(seq_len=s, gpu_hour_price=price, **kw)
    assert one.cost_per_million_output_tokens == priced.cost_per_million_output_tokens


def test_refined_generation_crosses_from_compute_to_memory():
    """Llama-3.1-8B, fp8, batch 512 on an H100: the step is compute-bound at short contexts
    and turns memory-bound as the KV read grows (k = 64 KiB per token at fp8 grows faster than
    the attention FLOPs): near S = 475 it crosses, inside the summed range; the sum is exact."""
    kw = dict(model=LLAMA8B, hardware=H100, batch_size=512, fidelity="refined", precision="fp8")
    s, o = 460, 32
    r = ms.ServingModel().solve(seq_len=s, output_tokens=o, **kw)
    ends = ms.ServingModel().solve(seq_len=[s + 1, s + o - 1], **kw)
    compute, memory = si(ends, "decode_compute_time"), si(ends, "decode_memory_time")
    assert compute[0] > memory[0] and compute[1] < memory[1]
    steps = si(ms.ServingModel().solve(seq_len=list(range(s + 1, s + o)), **kw), "itl")
    assert si(r, "generation_latency") == approx(si(r, "ttft") + steps.sum(), 1e-11)


def test_static_batch_throughput_per_gpu_for_the_validation_study():
    """How the study reads TensorRT-LLM's static batching (batch B, input I, output O, tp):
    ServingModel(batch_size=B, seq_len=I, output_tokens=O, tp_size=tp).output_throughput_per_gpu;
    first-token latency: ServingModel(batch_size=1, seq_len=I, tp_size=tp).ttft."""
    r = ms.ServingModel().solve(
        model=LLAMA70B,
        hardware=H100,
        precision="fp8",
        tp_size=2,
        batch_size=64,
        seq_len=2048,
        output_tokens=2048,
        fidelity="refined",
    )
    per_gpu = si(r, "output_throughput_per_gpu")
    assert per_gpu == approx(64 * 2048 / si(r, "generation_latency") / 2)
    assert 100 < per_gpu < 5000 and r.feasible


# ---- precisions ------------------------------------------------------------------------------


def test_block_scaled_precisions():
    """NVFP4: 4 bits + an 8-bit scale per 16 values = 4.5 bits; MXFP4: 4 + 8/32 = 4.25 bits;
    MXFP8: 8 + 8/32 = 8.25 bits (OCP MX v1.0)."""
    codes = [sv.SERVING_PRECISIONS.index(p) for p in ("nvfp4", "mxfp4", "mxfp8", "fp8", "fp16")]
    np.testing.assert_allclose(sv.serving_precision_bytes(np.array(codes)), [0.5625, 0.53125, 1.03125, 1.0, 2.0])
    r = ms.ServingModel().solve(
        model=LLAMA8B, hardware=H_.B200, seq_len=1024, weight_precision=["nvfp4", "mxfp4"], kv_precision="fp8"
    )
    np.testing.assert_allclose(si(r, "model_weights_size"), [8.03e9 * 0.5625, 8.03e9 * 0.53125])
    assert si(r, "kv_cache_size") == 2 * 32 * 8 * 128 * 1 * 1024


def test_separate_precisions_default_to_precision():
    kw = dict(model=LLAMA8B, hardware=H100, seq_len=2048, batch_size=8)
    fp8 = ms.ServingModel().solve(**kw, precision="fp8").dataset
    same = (
        ms.ServingModel()
        .solve(**kw, precision="fp8", weight_precision="fp8", kv_precision="fp8", compute_precision="fp8")
        .dataset
    )
    for name in ("ttft", "itl", "total_memory_required"):
        assert float(fp8[name]) == float(same[name])
    w4a16 = ms.ServingModel().solve(**kw, weight_precision="int4")
    assert si(w4a16, "model_weights_size") == 8.03e9 * 0.5
    assert w4a16.ttft == ms.ServingModel().solve(**kw).ttft  # the GEMMs stay at fp16


def test_compute_peak_cases():
    """First order: D15's fallback. Refined: fp16 without an entry uses the other 16-bit entry,
    else the headline (no fallback); fp8 without an entry is unsupported unless emulated."""
    fp16, bf16, fp8 = (sv.SERVING_PRECISIONS.index(p) for p in ("fp16", "bf16", "fp8"))
    table = [NAN] * len(sv.SERVING_PRECISIONS)
    table[bf16] = 300.0
    peak, fallback, unsupported = sv.compute_peak(np.array([fp16, fp8]), table, 312.0, False, False)
    assert list(peak) == [312.0, 312.0] and list(fallback) == [True, True] and not unsupported
    peak, fallback, unsupported = sv.compute_peak(np.array([fp16, fp8]), table, 312.0, True, False)
    assert list(peak) == [300.0, 312.0] and list(fallback) == [False, False] and list(unsupported) == [False, True]
    _, fallback, unsupported = sv.compute_peak(np.array([fp16, fp8]), table, 312.0, True, True)
    assert list(fallback) == [False, True] and list(unsupported) == [False, False]
    peak, fallback, unsupported = sv.compute_peak(fp8, table, 312.0, np.array([False, True]), False)
    assert list(peak) == [312.0, 312.0] and list(fallback) == [True, False] and list(unsupported) == [False, True]


def test_fp8_on_a100_is_unsupported_and_fp16_on_h100_is_no_fallback():
    r = ms.ServingModel().solve(
        model=LLAMA8B, hardware=[A100, H100, H_.T4, H_.V100], seq_len=1024, precision="fp8", fidelity="refined"
    )
    assert list(r.feasible.values) == [False, True, False, False]
    assert list(r.infeasible_reason.values) == ["precision_unsupported", "none"] + ["precision_unsupported"] * 2
    emulated = ms.ServingModel().solve(
        model=LLAMA8B, hardware=A100, seq_len=1024, precision="fp8", fidelity="refined", allow_emulation=True
    )
    assert emulated.feasible and emulated.peak_flops_fallback
    fp16 = ms.ServingModel().solve(model=LLAMA8B, hardware=[H100, A100], seq_len=1024, fidelity="refined")
    assert not fp16.peak_flops_fallback.values.any()
    first = ms.ServingModel().solve(model=LLAMA8B, hardware=A100, seq_len=1024, precision="fp8", fidelity="first_order")
    assert first.feasible and first.peak_flops_fallback  # first order keeps D15
    for cls, kw in (
        (ms.ContinuousBatchingModel, dict(max_seq_len=2048)),
        (ms.ServingCapacityModel, dict(qps=1.0, target_p99_latency_ms=60_000)),
        (ms.InferenceScalingModel, {}),
        (ms.WeightStreamingModel, dict(seq_len=128)),
    ):
        out = cls().solve(model=LLAMA8B, hardware=A100, precision="fp8", fidelity="refined", **kw)
        assert not out.feasible and out.infeasible_reason == "precision_unsupported", cls.__name__


def test_too_many_stages():
    r = ms.ServingModel().solve(model=LLAMA8B, hardware=H100, seq_len=128, pp_size=[32, 64])
    assert list(r.infeasible_reason.values) == ["none", "too_many_stages"]


# ---- fidelity as an argument ----------------------------------------------------------------


def test_fidelity_is_a_dimension_and_follows_the_option():
    kw = dict(model=LLAMA70B, hardware=H100, seq_len=2048, batch_size=[1, 64], tp_size=[1, 2, 4, 8])
    both = ms.ServingModel().solve(**kw, fidelity=["first_order", "refined"]).dataset
    for fid in ("first_order", "refined"):
        one = ms.ServingModel().solve(**kw, fidelity=fid).dataset
        for name in ("ttft", "itl", "feasible", "total_memory_required", "infeasible_reason"):
            np.testing.assert_array_equal(both[name].sel(fidelity=fid).values, one[name].values)
    with ms.set_options(fidelity="refined"):
        by_option = ms.ServingModel().solve(**kw).dataset
    np.testing.assert_array_equal(by_option["itl"].values, both["itl"].sel(fidelity="refined").values)


def test_done_when_call():
    """The issue's one call: tp 1, 2, 4, 8 and batch 1, 64 for Llama-3.1-70B on H100."""
    r = ms.ServingModel().solve(
        model=LLAMA70B, hardware=H100, tp_size=[1, 2, 4, 8], seq_len=2048, batch_size=[1, 64], fidelity="refined"
    )
    assert r.dims == ("tp_size", "batch_size")
    itl = si(r, "itl")
    assert (np.diff(itl, axis=0) < 0).all()  # more accelerators, shorter steps
    assert not r.feasible.sel(tp_size=1).values.any() and r.feasible.sel(tp_size=8).values.all()


# ---- the closed loop -----------------------------------------------------------------------


def test_closed_loop_littles_law_and_saturation():
    """c users, n = min(c, admitted) running: X = n/S, E2E = c/X (Little), TTFT = E2E -
    (O - 1) ITL; below saturation TTFT is the step that carries the request's own prompt."""
    kw = dict(model=LLAMA8B, hardware=H100, input_tokens=512, output_tokens=128, gpu_hour_price=2.0)
    for fidelity in ("first_order", "refined"):
        r = ms.ContinuousBatchingModel().solve(concurrency=[1, 8, 64, 4096], fidelity=fidelity, **kw)
        ds = r.dataset
        c = np.array([1, 8, 64, 4096])
        x = ds.requests_per_s.values
        np.testing.assert_allclose(c, x * ds.e2e_latency.values, rtol=1e-12)
        np.testing.assert_allclose(ds.ttft.values, ds.e2e_latency.values - 127 * ds.itl.values, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ds.output_throughput.values, 128 * x, rtol=1e-12)
        running = ds.running_requests.values
        assert list(running[:3]) == [1, 8, 64] and running[3] < 4096  # the KV cache saturates
        assert (np.diff(ds.output_throughput.values) > 0).all() and ds.ttft.values[3] > 10 * ds.ttft.values[2]
        np.testing.assert_allclose(
            ds.cost_per_million_output_tokens.values, 2.0 / 3600 / ds.output_throughput.values * 1e6, rtol=1e-12
        )


def test_closed_loop_by_hand_first_order():
    """The toy on one device, first order, c = 2 users, I = 4, O = 3, page 1, room for both:
    context I + O/2 = 5.5; the others' prompts per step q = (n - 1)/O = 1/3;
    T(D, q) = decode_step_time(W, k D 5.5) + q x 4 x (2P + 256 x 4)/F + dispatch tax;
    ITL = T(2, 1/3), t_1 = T(1, 4/3), S = t_1 + 2 ITL, X = 2/S, TTFT = t_1."""
    m = toy()
    out = sv.continuous_batching_step(
        m, None, None, None, 1.0, 2e6, 0.5, 1e-3, BW, 1e9, concurrency=2.0, input_tokens=4.0, output_tokens=3.0
    )

    def t(decode, prompts):
        step = (2000 + 128 * decode * 5.5) / BW + 2 * TAX
        return step + prompts * 4 * (2000 + 256 * 4) / 1e6 + 1e-3

    itl, t1 = t(2, 1 / 3), t(1, 4 / 3)
    service = t1 + 2 * itl
    assert out["itl"] == approx(itl) and out["ttft"] == approx(t1)
    assert out["requests_per_s"] == approx(2 / service) and out["output_throughput"] == approx(6 / service)
    assert out["running_requests"] == 2.0 and out["e2e_latency"] == approx(service)


@pytest.mark.parametrize("kind", ["dense", "group", "moe"])
def test_closed_loop_steps_are_refined_forwards(kind):
    """The closed loop evaluates its refined steps through refined_mixed_terms (and, on one
    dense accelerator, as n·a + b): the same numbers as refined_forward of the mixed step,
    ITL = T(n, (n - 1)/O) and t_1 = T(n - 1, 1 + (n - 1)/O), I = 4, O = 3, context 5.5."""
    m = toy(parameters=1000.0, active=400.0, experts=8.0, top_k=2.0) if kind == "moe" else toy()
    dep = refined(tp=2.0) if kind == "group" else refined()
    n = np.array([1.0, 2.0, 5.0])
    out = sv.continuous_batching_step(
        m,
        None,
        None,
        n,
        1.0,
        2e6,
        0.5,
        1e-3,
        BW,
        1e9,
        deployment=dep,
        concurrency=n,
        input_tokens=4.0,
        output_tokens=3.0,
    )

    def step(decode, prompts):
        c, mem, tokens = sv.refined_forward(
            m,
            dep,
            F,
            BW,
            decode_seqs=decode,
            decode_context=5.5,
            prefill_seqs=prompts,
            prefill_new=4.0,
            prefill_cached=0.0,
        )
        return max(c, mem) + sv.group_communication(m, dep, tokens) + 1.2e-3

    for i, k in enumerate(n):
        itl, t1 = step(k, (k - 1) / 3), step(k - 1, 1 + (k - 1) / 3)
        assert out["itl"][i] == approx(itl) and out["ttft"][i] == approx(t1)
        assert out["requests_per_s"][i] == approx(k / (t1 + 2 * itl))


def test_closed_loop_needs_its_lengths():
    with pytest.raises(TypeError, match="input_tokens"):
        ms.ContinuousBatchingModel().solve(model=LLAMA8B, hardware=H100, concurrency=4, output_tokens=16)
    with pytest.raises(TypeError, match="max_seq_len"):
        ms.ContinuousBatchingModel().solve(model=LLAMA8B, hardware=H100)
    r = ms.ContinuousBatchingModel().solve(model=LLAMA8B, hardware=H100, max_seq_len=2048)
    assert r.e2e_latency is None and r.requests_per_s is None


def test_capacity_and_streaming_costs():
    r = ms.ServingCapacityModel().solve(
        model=LLAMA8B, hardware=H100, qps=20, target_p99_latency_ms=2000, gpu_hour_price=2.5, max_seq_len=1024
    )
    mu = si(r, "per_replica_qps_capacity")
    assert si(r, "cost_per_million_output_tokens") == approx(2.5 / 3600 / (mu * 128) * 1e6)
    w = ms.WeightStreamingModel().solve(
        model=LLAMA8B, hardware=H_.Cerebras_CS3, seq_len=128, phase=["decode", "prefill"], gpu_hour_price=10.0
    )
    tps = si(w, "throughput_tokens_per_sec")
    assert si(w, "cost_per_million_output_tokens")[0] == approx(10 / 3600 / tps[0] * 1e6)
    assert math.isnan(si(w, "cost_per_million_output_tokens")[1])
    assert si(w, "cost_per_million_input_tokens")[1] == approx(10 / 3600 / tps[1] * 1e6)


def test_inference_scaling_energy_counts_every_accelerator():
    one = ms.InferenceScalingModel().solve(model=LLAMA70B, hardware=H100, tp_size=4, precision="fp8")
    per = si(one, "total_reasoning_time") * 700
    assert si(one, "energy_per_query") == approx(4 * per)


def test_cost_defaults_to_the_records_published_rental_price():
    """Without gpu_hour_price the record's published on-demand price (prices.csv) is charged; an
    explicit price wins; a record without a public price has no cost (None), never a made-up one."""
    llama, h100 = ms.Models.Language.Llama3_8B, ms.Hardware.Cloud.H100
    kw = dict(model=llama, seq_len=1024, batch_size=32, output_tokens=256)
    default = ms.ServingModel().solve(hardware=h100, **kw)
    explicit = ms.ServingModel().solve(hardware=h100, gpu_hour_price=h100.rental_price.to("USD/hour").m, **kw)
    assert default.cost_per_million_output_tokens == explicit.cost_per_million_output_tokens
    tokens_per_hour = default.output_throughput.to("1/hour").m
    assert default.cost_per_million_output_tokens.to("USD").m == pytest.approx(3.99 / tokens_per_hour * 1e6, rel=1e-9)
    assert ms.ServingModel().solve(hardware=ms.Hardware.Cloud.V100, **kw).cost_per_million_output_tokens is None


def test_cost_of_a_run_equals_the_rate_form_by_hand():
    """$2.50 per GPU-hour on 4 GPUs, 1,000 tokens in 8 s (125 tokens/s): 2.5/3600 x 4 x 8 /
    1000 x 1e6 = $22.22 per million tokens, as the rate form; NaN without a price, without
    tokens or for a run that never ends (no infinity, no copy of a finite array)."""
    price = 2.5 / 3600.0
    assert sv.cost_per_million_tokens_of_run(price, 4.0, 1000.0, 8.0) == approx(2.5 / 3600 * 4 * 8e3)
    assert sv.cost_per_million_tokens(price, 4.0, 125.0) == approx(2.5 / 3600 * 4 * 8e3)
    seconds = np.array([8.0, np.inf, np.nan, 4.0])
    cost = sv.cost_per_million_tokens_of_run(price, 4.0, np.array([1000.0, 1000.0, 1000.0, 0.0]), seconds)
    assert cost[0] == approx(2.5 / 3600 * 4 * 8e3) and np.isnan(cost[1:]).all()
    assert np.isnan(sv.cost_per_million_tokens_of_run(None, 4.0, 1000.0, 8.0))
    finite = np.array([1.0, np.nan, 2.0])
    assert sv._finite_duration(finite) is finite


def test_a_single_decode_step_needs_no_slopes():
    """refined_decode without slopes returns the same step and no lines (a ServingModel call
    with one output token computes no decode sum)."""
    c, dc, m, dm = sv.refined_decode(toy(), refined(), 3.0, 10.0, F, BW, slopes=False)
    assert (c, m) == (approx(0.01368), approx(0.1168)) and dc is None and dm is None
