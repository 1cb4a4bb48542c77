"""Tier-1 tests of the serving and queueing step functions (``physics.serving``,
``physics.queueing``), called directly with hand-derived numbers.

Every test uses a toy Transformer small enough to work out on paper:

    L = 2 layers, a = 4 heads, a_kv = 2 KV heads, d = 8 head width, P = P_active = 1000,
    b = 2 bytes per element (fp16)
    W = P b = 2000 byte
    k = 2 L a_kv d b = 2 x 2 x 2 x 8 x 2 = 128 byte per token (keys and values of every KV
        head of every layer)
    prefill FLOPs per new token of a context S: 2 P + 4 L a d S = 2000 + 256 S

The equations are those of ``docs/equations.md`` (sections "Serving" and "Queueing"); the
decode step is the one kernel ``(W + KV)/BW + L x 0.01 ms`` (docs/differences.md, D5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlsysim_vec.physics import queueing as qu
from mlsysim_vec.physics import serving as sv

NAN = float("nan")
TAX = 0.01e-3  # framework tax per layer [s]


def approx(x, rel=1e-12):
    return pytest.approx(x, rel=rel, abs=1e-15)


def toy(parameters=1000.0, active=None, layers=2.0, heads=4.0, kv_heads=2.0, width=8.0, b=2.0, mla=None):
    """The toy Transformer of the module docstring (``mla = (r_kv, r_rope)`` for latent attention)."""
    is_mla, rank, rope = (0.0, NAN, NAN) if mla is None else (1.0, *mla)
    return sv.transformer(
        layers=layers,
        heads=heads,
        kv_heads=kv_heads,
        head_width=width,
        parameters=parameters,
        active_parameters=parameters if active is None else active,
        model_size=NAN,
        weights_rule=0.0,
        is_mla=is_mla,
        kv_lora_rank=rank,
        rope_head_dim=rope,
        bytes_per_el=b,
        is_16bit=b == 2.0,
    )


#: A device: peak 2 MFLOP/s at efficiency 0.5 (F eta = 1 MFLOP/s), 1 ms dispatch tax,
#: 100 kB/s memory bandwidth, 10 kB of memory.
DEVICE = dict(peak_flops=2e6, efficiency=0.5, dispatch_tax=1e-3, memory_bandwidth=1e5, memory_capacity=1e4)


def test_transformer_weights_and_kv_per_token():
    """W = 1000 x 2 = 2000 byte; k = 2 L a_kv d b = 128 byte. With multi-head latent attention
    (r_kv = 4, r_rope = 2) one latent and one rotary key per layer: k = L (4 + 2) b = 24 byte."""
    m = toy()
    assert m.weight_bytes == 2000.0 and m.kv_bytes_per_token == 128.0
    assert toy(mla=(4.0, 2.0)).kv_bytes_per_token == 24.0
    assert toy(b=1.0).weight_bytes == 1000.0 and toy(b=1.0).kv_bytes_per_token == 64.0


def test_prefill_time_and_serving_memory():
    """prefill_time: N B (2 P_active + 4 L a d S) / F = 10 x 3 x (2000 + 2560) / 1e6 = 0.1368 s.
    serving_memory: W + KV = 2000 + 3840; with a draft (W_d = 200, KV_d = 480) 6520 byte."""
    m = toy()
    assert sv.prefill_time(m, 10.0, 10.0, 3.0, 1e6) == approx(0.1368)
    assert sv.prefill_time(toy(active=500.0), 10.0, 10.0, 3.0, 1e6) == approx(30 * (1000 + 2560) / 1e6)  # D1
    assert sv.serving_memory(m, 3840.0) == 5840.0
    draft = toy(parameters=100.0, layers=1.0, heads=1.0, kv_heads=1.0, width=4.0)
    assert sv.serving_memory(m, 3840.0, draft, 480.0) == 6520.0


def test_inference_step_by_hand():
    """S = 10, B = 3, no cache, F eta = 1e6:

    N = 10; prefill = 0.1368 s; TTFT = 0.1368 + 1 ms = 0.1378 s
    KV = 128 x 10 x 3 = 3840 byte; ITL = (2000 + 3840)/1e5 + 2 x 0.01 ms = 0.05842 s
    memory 5840 byte of 10 kB: utilisation 0.584, feasible.
    """
    out = sv.inference_step(toy(), 10.0, 3.0, **DEVICE)
    assert out["ttft"] == approx(0.1378)
    assert out["kv_cache_size"] == 3840.0
    assert out["itl"] == approx(0.05842)
    assert out["model_weights_size"] == 2000.0
    assert out["total_memory_required"] == 5840.0
    assert out["memory_utilization"] == approx(0.584)
    assert out["feasible"] and out["memory_fits"] and out["prefill_memory_fits"]
    assert out["prompt_cache_hit_ratio"] == 0.0 and out["prefill_chunks"] == 1.0
    for name in ("prefill_chunk_time", "decode_stall_bound", "kv_transfer_time", "prefill_memory_utilization"):
        assert math.isnan(out[name])


def test_inference_step_cache_and_chunks():
    """Cached prefix C = 4 of S = 10: N = 6 new tokens; chunks of c = 4: ceil(6/4) = 2 passes,
    the largest min(4, 6) = 4 tokens.

    prefill = 6 x 3 x 4560 / 1e6 = 0.08208 s; TTFT = 0.08208 + 2 x 1 ms = 0.08408 s
    largest chunk = 4 x 3 x 4560 / 1e6 + 1 ms = 0.05572 s; cache hit ratio 4/10.
    """
    out = sv.inference_step(toy(), 10.0, 3.0, **DEVICE, cached_tokens=4.0, chunk_tokens=4.0)
    assert out["ttft"] == approx(0.08408)
    assert out["prefill_chunks"] == 2.0
    assert out["prefill_chunk_time"] == approx(0.05572) and out["decode_stall_bound"] == out["prefill_chunk_time"]
    assert out["prompt_cache_hit_ratio"] == approx(0.4)
    assert out["kv_cache_size"] == 3840.0  # the cache holds the whole context


def test_inference_step_speculative_decoding():
    """Draft: L = 1, a = a_kv = 1, d = 4, P = 100: W_d = 200 byte, k_d = 16 byte, KV_d = 480.
    t_draft = (200 + 480)/1e5 + 0.01 ms = 0.00681 s. Acceptance 0.5, K = 4 drafts:
    E = 1 + 0.5 + 0.25 + 0.125 + 0.0625 = 1.9375 (Leviathan et al. 2023, arXiv:2211.17192);
    ITL = (4 x 0.00681 + 0.05842)/1.9375; memory 5840 + 200 + 480 = 6520 byte (D5)."""
    draft = toy(parameters=100.0, layers=1.0, heads=1.0, kv_heads=1.0, width=4.0)
    out = sv.inference_step(toy(), 10.0, 3.0, **DEVICE, draft=draft, draft_acceptance=0.5)
    assert out["itl"] == approx((4 * 0.00681 + 0.05842) / 1.9375)
    assert out["total_memory_required"] == 6520.0
    assert out["ttft"] == approx(0.1378)  # prefill unchanged


def test_inference_step_disaggregated():
    """Prefill device of 5000 byte, link 3840 byte/s: the KV cache (3840 byte) takes 1 s, so
    TTFT = 0.1378 + 1 s; the prefill device must hold W + KV = 5840 > 5000 (D5): utilisation
    1.168, infeasible although the decode device fits."""
    out = sv.inference_step(toy(), 10.0, 3.0, **DEVICE, prefill_memory_capacity=5000.0, network_bandwidth=3840.0)
    assert out["kv_transfer_time"] == approx(1.0)
    assert out["ttft"] == approx(1.1378)
    assert out["prefill_memory_utilization"] == approx(1.168)
    assert out["memory_fits"] and not out["prefill_memory_fits"] and not out["feasible"]


def test_inference_step_broadcasts():
    """seq_len along one axis and batch along another give the outer grid, point by point
    equal to scalar calls."""
    seq, batch = np.array([[10.0], [40.0]]), np.array([[1.0, 3.0, 8.0]])
    grid = sv.inference_step(toy(), seq, batch, **DEVICE)
    assert grid["ttft"].shape == grid["itl"].shape == grid["feasible"].shape == (2, 3)
    for i in range(2):
        for j in range(3):
            one = sv.inference_step(toy(), seq[i, 0], batch[0, j], **DEVICE)
            for name in ("ttft", "itl", "kv_cache_size", "memory_utilization", "feasible"):
                assert grid[name][i, j] == one[name]


def test_continuous_batching_by_hand():
    """Capacity 2000 + 12800 byte: a KV budget of 12800 byte = 100 tokens. S_max = 20 and
    mean = 20 (every request fills the cap), pages of 5: 4 pages, 20 tokens allocated, no
    fragmentation (Kwon et al. 2023, arXiv:2309.06180). Static admits floor(100/20) = 5, paged
    floor(floor(100/5) x 5 / 20 + 1e-9) = 5 (B_max = 8). Decode step of 5 requests:
    (2000 + 128 x 5 x 20)/1e5 + 2 x 0.01 ms = 0.14802 s; 5/0.14802 tokens/s."""
    cb = sv.continuous_batching(toy(), 14800.0, 1e5, 20.0, 20.0, 8.0, 5.0)
    assert cb["kv_budget"] == 12800.0
    assert cb["allocated_tokens"] == 20.0 and cb["paged_fragmentation"] == 0.0
    assert cb["static_requests"] == 5.0 and cb["paged_requests"] == 5.0
    assert cb["paged_step_time"] == approx(0.14802)
    assert cb["paged_throughput"] == approx(5 / 0.14802) and cb["static_throughput"] == cb["paged_throughput"]
    capped = sv.continuous_batching(toy(), 14800.0, 1e5, 20.0, 20.0, 2.0, 5.0)
    assert capped["paged_requests"] == 2.0 and capped["static_requests"] == 2.0  # B_max binds


def test_continuous_batching_step_by_hand():
    """The case above through the step: TTFT is the prefill of the 5 admitted requests at
    S_max = 20, 20 x 5 x (2000 + 256 x 20)/1e6 + 1 ms = 0.713 s; ITL the 0.14802 s step; KV
    sizes 128 x 5 x 20 = 12800 byte; fragmentation 0 (paged) and 1 - 20/20 = 0 (static);
    speedup 1."""
    device = dict(DEVICE, memory_capacity=14800.0)
    out = sv.continuous_batching_step(toy(), 20.0, None, 8.0, 5.0, **device)
    assert out["feasible"] and out["has_kv_budget"]
    assert out["max_active_requests"] == 5.0 and out["static_max_active_requests"] == 5.0
    assert out["ttft"] == approx(0.713) and out["itl"] == approx(0.14802)
    assert out["throughput_tokens_per_sec"] == approx(5 / 0.14802)
    assert out["paged_kv_cache_size"] == 12800.0 and out["static_kv_cache_size"] == 12800.0
    assert out["paged_internal_fragmentation"] == 0.0 and out["static_internal_fragmentation"] == 0.0
    assert out["speedup_vs_static"] == approx(1.0)
    half = sv.continuous_batching_step(toy(), 20.0, 10.0, 8.0, 5.0, **device)
    assert half["static_internal_fragmentation"] == 0.5  # 1 - 10/20
    alloc, _ = sv.expected_paged_kv_tokens(10.0, 20.0, 5.0)
    assert half["max_active_requests"] == min(math.floor(100 / alloc + 1e-9), 8)


def test_continuous_batching_step_infeasible_and_paged_only():
    """Weights of 2000 byte on 1500 byte: no KV budget, nothing admitted, TTFT and ITL NaN,
    speedup 1. A 15-token budget (capacity 2000 + 1920) with S_max = 20 admits nothing
    statically but, with short requests (mean 2, pages of 1), some paged: speedup infinite."""
    out = sv.continuous_batching_step(toy(), 20.0, None, 8.0, 5.0, **dict(DEVICE, memory_capacity=1500.0))
    assert not out["feasible"] and not out["has_kv_budget"]
    assert math.isnan(out["ttft"]) and math.isnan(out["itl"]) and out["speedup_vs_static"] == 1.0
    assert out["throughput_tokens_per_sec"] == 0.0 and out["paged_internal_fragmentation"] == 0.0
    paged = sv.continuous_batching_step(toy(), 20.0, 2.0, 8.0, 1.0, **dict(DEVICE, memory_capacity=3920.0))
    assert paged["static_max_active_requests"] == 0.0 and paged["max_active_requests"] >= 1.0
    assert paged["speedup_vs_static"] == np.inf


def test_weight_streaming_step_by_hand():
    """P = 1000, P_active = 500 (D1), L = 2, b = 2, injection link 1000 byte/s, F eta = 1e6,
    dispatch 0.1 ms per layer:

    t_inj = (1000/2) x 2 / 1000 = 1 s
    decode, B = 4: FLOPs = 2 x 250 x 4 = 2000; t_comp = 2 ms + 0.1 ms = 2.1 ms; the layer
    takes 1 s (Injection); 4 tokens / (2 layers x 1 s) = 2 tokens/s
    prefill, S = 10: FLOPs = 2 x 250 x 10 x 4 + 2 x 4 x 2 x 10^2 x 8 = 32800; t_comp = 32.9 ms;
    40 tokens / 2 s = 20 tokens/s
    memory 1.1 x 128 x 10 x 4 = 5632 byte of 10 kB
    optimal batch floor(t_inj F eta / (2 P_l)) = floor(1 x 1e6 / 500) = 2000
    """
    m = toy(active=500.0)
    args = dict(peak_flops=2e6, efficiency=0.5, dispatch_tax=1e-4, link_bandwidth=1e3, memory_capacity=1e4)
    decode = sv.weight_streaming_step(m, 10.0, 4.0, False, 2.0, **args)
    assert decode["layer_injection_time"] == approx(1.0)
    assert decode["layer_compute_time"] == approx(2.1e-3)
    assert decode["throughput_tokens_per_sec"] == approx(2.0)
    assert not decode["compute_bound"] and decode["feasible"]
    assert decode["wafer_memory_required"] == approx(5632.0)
    assert decode["wafer_memory_utilization"] == approx(0.5632)
    assert decode["optimal_batch_size"] == 2000.0
    prefill = sv.weight_streaming_step(m, 10.0, 4.0, True, 2.0, **args)
    assert prefill["layer_compute_time"] == approx(0.0329)
    assert prefill["throughput_tokens_per_sec"] == approx(20.0)
    fallback = sv.weight_streaming_step(m, 10.0, 4.0, False, 2.0, **dict(args, link_bandwidth=NAN))
    assert fallback["layer_injection_time"] == approx(1000.0 / sv.FALLBACK_INJECTION_BW)
    assert fallback["compute_bound"]  # 2.1 ms of compute against 10 ns of injection
    full = sv.weight_streaming_step(m, 10.0, 4.0, False, 2.0, **dict(args, memory_capacity=5000.0))
    assert not full["feasible"] and full["throughput_tokens_per_sec"] == 0.0
    assert full["wafer_memory_utilization"] == approx(5632.0 / 5000.0)


def test_weight_streaming_step_broadcasts():
    phase = np.array([False, True])[:, None]
    batch = np.array([1.0, 4.0, 16.0])
    args = dict(peak_flops=2e6, efficiency=0.5, dispatch_tax=1e-4, link_bandwidth=1e3, memory_capacity=1e4)
    grid = sv.weight_streaming_step(toy(), 10.0, batch, phase, 2.0, **args)
    assert grid["throughput_tokens_per_sec"].shape == (2, 3)
    one = sv.weight_streaming_step(toy(), 10.0, 16.0, True, 2.0, **args)
    assert grid["layer_compute_time"][1, 2] == one["layer_compute_time"]


def erlang_c_closed_form(load, servers):
    """C(c, A) = T/(S + T), S = sum_{i<c} A^i/i!, T = A^c/(c! (1 - A/c))."""
    head = sum(load**i / math.factorial(i) for i in range(servers))
    tail = load**servers / (math.factorial(servers) * (1 - load / servers))
    return tail / (head + tail)


def test_tail_latency_step_mm1_and_mm2():
    """M/M/1, lambda = 10/s, s = 50 ms (mu = 20/s): rho = 0.5 = C. P(W > t) = 0.5 e^{-10 t}, so
    the P99 wait is ln(0.5/0.01)/10 = ln(50)/10 and the median wait 0 (C <= 0.5): p50 = 50 ms,
    p99 = ln(50)/10 + 0.05 s; headroom ln(50)/10 / (5 x 0.05).
    M/M/2, lambda = 10/s, s = 100 ms: A = 1, C(2, 1) = (1/1)/(1 + 1 + 1) = 1/3; P99 wait
    ln((1/3)/0.01)/(20 - 10). Kingman with cv = 2 multiplies the waits by (4 + 1)/2 = 2.5."""
    out = qu.tail_latency_step(10.0, 0.05, 1.0, 1.0)
    assert out["p50_latency"] == approx(0.05)
    assert out["p99_latency"] == approx(math.log(50) / 10 + 0.05)
    assert out["queue_utilization"] == approx(0.5) and out["wait_probability"] == approx(0.5)
    assert out["slo_headroom_ratio"] == approx(math.log(50) / 10 / 0.25)
    assert out["is_stable"]
    two = qu.tail_latency_step(10.0, 0.1, 2.0, 1.0)
    assert erlang_c_closed_form(1.0, 2) == approx(1 / 3)
    assert two["wait_probability"] == approx(1 / 3)
    assert two["p99_latency"] == approx(math.log(100 / 3) / 10 + 0.1)
    kingman = qu.tail_latency_step(10.0, 0.05, 1.0, 2.0)
    assert kingman["p99_latency"] == approx(2.5 * math.log(50) / 10 + 0.05)


def test_tail_latency_step_unstable_nan_and_broadcast():
    """lambda = 30/s against mu = 20/s, or no service (s = 0): unstable, latencies infinite,
    utilisation, wait probability and headroom 1. A NaN input stays NaN."""
    for lam, s in ((30.0, 0.05), (10.0, 0.0)):
        out = qu.tail_latency_step(lam, s, 1.0, 1.0)
        assert not out["is_stable"] and out["p99_latency"] == np.inf and out["p50_latency"] == np.inf
        assert out["queue_utilization"] == 1.0 and out["wait_probability"] == 1.0
        assert out["slo_headroom_ratio"] == 1.0
    assert math.isnan(qu.tail_latency_step(NAN, 0.05, 1.0, 1.0)["p99_latency"])
    lam, c = np.array([[1.0], [10.0], [30.0]]), np.array([1.0, 2.0])
    grid = qu.tail_latency_step(lam, 0.05, c, 1.0)
    assert grid["p99_latency"].shape == (3, 2)
    assert grid["p99_latency"][1, 0] == approx(math.log(50) / 10 + 0.05)
    assert grid["p99_latency"][2, 0] == np.inf and np.isfinite(grid["p99_latency"][2, 1])


def test_servers_for_wait_by_hand():
    """lambda = 10/s, mu = 20/s. P99 waits: c = 1, ln(50)/10 = 0.391 s; c = 2 (A = 0.5),
    C = 0.1, ln(0.1/0.01)/(40 - 10) = ln(10)/30 = 0.0768 s; c = 3, C = 0.01515 (closed form),
    ln(C/0.01)/(60 - 10) = 0.0083 s; c = 4, C < 0.01: no wait.

    budget 0.5 s -> 1; 0.1 s -> 2; 0.1 s with Kingman factor 2 (M/M/c budget 0.05 s) -> 3,
    reported wait 2 x 0.0083; budget 0 -> 4, or with at most 3 servers: not found, 3 reported
    with its wait 0.0083 s (stable)."""
    w3 = math.log(erlang_c_closed_form(0.5, 3) / 0.01) / 50
    servers, wait, found, stable = qu.servers_for_wait(10.0, 20.0, np.array([0.5, 0.1, 0.0]), 1024.0, True)
    np.testing.assert_array_equal(servers, [1.0, 2.0, 4.0])
    assert wait[0] == approx(math.log(50) / 10) and wait[1] == approx(math.log(10) / 30) and wait[2] == 0.0
    assert found.all() and stable.all()
    s, w, f, st = qu.servers_for_wait(10.0, 20.0, 0.1, 1024.0, True, 2.0)
    assert s == 3.0 and w == approx(2 * w3, 1e-10) and f
    s, w, f, st = qu.servers_for_wait(10.0, 20.0, 0.0, 3.0, True)
    assert s == 3.0 and not f and st and w == approx(w3, 1e-10)
    s, w, f, st = qu.servers_for_wait(50.0, 20.0, 0.0, 2.0, True)  # 2 x 20 < 50: unstable
    assert s == 2.0 and not f and not st and w == np.inf
    s, w, f, st = qu.servers_for_wait(10.0, 0.0, 0.1, 8.0, False)  # a replica that serves nothing
    assert s == 8.0 and not f and not st


def capacity(**overrides):
    """The toy model on a 14800-byte device (a 100-token KV budget), S_max = 20 (mean 20),
    10 output tokens per request, at most 8 requests per replica, 1024 replicas, cv 1."""
    args = dict(
        qps=1.0,
        target_latency=2.0,
        max_seq_len=20.0,
        mean_tokens=None,
        output_tokens=10.0,
        max_batch=8.0,
        max_replicas=1024.0,
        service_cv=1.0,
        **dict(DEVICE, memory_capacity=14800.0),
    )
    return sv.serving_capacity_step(toy(), **(args | overrides))


def test_serving_capacity_step_by_hand():
    """Pages of 16 tokens: a 20-token request takes ceil(20/16) = 2 pages = 32 tokens; the pool
    holds floor(100/16) x 16 = 96 tokens: floor(96/32 + 1e-9) = 3 requests. Decode step
    (2000 + 128 x 3 x 20)/1e5 + 2 x 0.01 ms = 0.09682 s: 3/0.09682 tokens/s, mu = that / 10
    requests/s per replica.
    One request: ServingModel at S = 20, B = 3: prefill 20 x 3 x (2000 + 256 x 20)/1e6 =
    0.4272 s, TTFT 0.4282 s; ITL 0.09682 s; base = 0.4282 + 10 x 0.09682 = 1.3964 s.
    Target 2 s leaves 0.6036 s of P99 wait at lambda = 1/s: one replica waits
    ln(rho/0.01)/(mu - 1) = 1.66 s (too long), two wait ln(C(2, A)/0.01)/(2 mu - 1) = 0.289 s."""
    mu = 3 / 0.09682 / 10
    out = capacity()
    assert out["per_replica_qps_capacity"] == approx(mu)
    assert out["active_batch_size"] == 3.0
    assert out["ttft"] == approx(0.4282) and out["itl"] == approx(0.09682)
    assert out["base_request_latency"] == approx(1.3964)
    assert math.log((1 / mu) / 0.01) / (mu - 1) > 0.6036  # one replica is not enough
    wait2 = math.log(erlang_c_closed_form(1 / mu, 2) / 0.01) / (2 * mu - 1)
    assert out["required_replicas"] == 2.0 and out["feasible"] and out["target_met"]
    assert out["queue_wait_p99"] == approx(wait2, 1e-10)
    assert out["estimated_p99_latency"] == approx(1.3964 + wait2, 1e-10)
    assert out["qps_capacity"] == approx(2 * mu) and out["utilization"] == approx(1 / (2 * mu))
    assert out["qps_target"] == 1.0 and out["target_p99_latency"] == 2.0


def test_serving_capacity_step_verdicts():
    """D9: a 1 s target below the 1.3964 s base latency is decided at once (replicas, capacity,
    utilisation and wait NaN; estimated P99 = base). 1500 bytes of memory hold no KV cache:
    unservable, max_replicas reported with capacity 0 and P99 infinite. Too many arrivals for
    4 replicas: not found at max_replicas, unstable queue."""
    slow = capacity(target_latency=1.0)
    assert slow["base_latency_exceeded"] and not slow["feasible"]
    assert math.isnan(slow["required_replicas"]) and math.isnan(slow["queue_wait_p99"])
    assert slow["estimated_p99_latency"] == approx(1.3964)
    full = capacity(memory_capacity=1500.0)
    assert not full["memory_fits"] and not full["has_kv_budget"] and not full["admitted"]
    assert full["required_replicas"] == 1024.0 and full["qps_capacity"] == 0.0
    assert full["estimated_p99_latency"] == np.inf and full["per_replica_qps_capacity"] == 0.0
    busy = capacity(qps=100.0, max_replicas=4.0)
    assert not busy["target_met"] and not busy["queue_stable"] and busy["required_replicas"] == 4.0
    assert math.isnan(capacity(qps=NAN)["required_replicas"])


def test_serving_capacity_step_broadcasts():
    qps = np.array([0.5, 1.0, 5.0])[:, None]
    target = np.array([1.0, 2.0, 30.0])
    grid = capacity(qps=qps, target_latency=target)
    assert grid["required_replicas"].shape == (3, 3)
    one = capacity(qps=5.0, target_latency=30.0)
    assert grid["required_replicas"][2, 2] == one["required_replicas"]
    assert grid["estimated_p99_latency"][2, 2] == one["estimated_p99_latency"]


def test_reasoning_step_by_hand():
    """S = 10, batch 1: prefill 10 x 4560/1e6 = 0.0456 s, TTFT 0.0466 s; KV 1280 byte,
    ITL (2000 + 1280)/1e5 + 0.02 ms = 0.03282 s. 5 tokens per step: 0.1641 s; 3 steps:
    0.0466 + 3 x 0.1641 = 0.5389 s; at 100 W, 53.89 J (0 J without a TDP)."""
    out = sv.reasoning_step(toy(), 10.0, 3.0, 5.0, **DEVICE, tdp=100.0)
    assert out["ttft"] == approx(0.0466) and out["itl"] == approx(0.03282)
    assert out["time_per_step"] == approx(0.1641)
    assert out["total_reasoning_time"] == approx(0.5389)
    assert out["energy_per_query"] == approx(53.89)
    assert out["tokens_generated"] == 15.0 and out["feasible"]
    assert sv.reasoning_step(toy(), 10.0, 3.0, 5.0, **DEVICE, tdp=NAN)["energy_per_query"] == 0.0
    grid = sv.reasoning_step(toy(), np.array([10.0, 100.0])[:, None], np.array([0.0, 3.0]), 5.0, **DEVICE, tdp=100.0)
    assert grid["total_reasoning_time"].shape == (2, 2)
    assert grid["total_reasoning_time"][0, 1] == out["total_reasoning_time"]
    assert grid["total_reasoning_time"][1, 0] == grid["ttft"][1, 0]
