"""Tier 1: hand-derived and published values of the serving family, with their derivation,
and the corrected behaviour of each deviation from mlsysim 0.3.0 (D1, D2, D5, D9, D14, D15,
D21; docs/differences.md). Reference numbers: the worked examples of mlsysim 0.3.0's
specification ("Spec §4.2, §5.3, §5.4, §12.3, §12.5"; "Part 2 §3, §8, §20" below); the
equations are in docs/equations.md, sections "Serving" and "Queueing"."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mlsysim_vec as ms
from mlsysim_vec import ureg
from mlsysim_vec.hardware.types import ComputeCore, HardwareNode, MemoryHierarchy
from mlsysim_vec.physics import queueing as qu
from mlsysim_vec.physics import serving as sv

H100, A100, H200 = ms.Hardware.Cloud.H100, ms.Hardware.Cloud.A100, ms.Hardware.Cloud.H200
CS3 = ms.Hardware.Cloud.Cerebras_CS3
L = ms.Models.Language
LLAMA8B, LLAMA70B = L.Llama3_8B, L.Llama3_70B
TAX = 0.01e-3


@pytest.fixture(autouse=True)
def _first_order():
    """These numbers are mlsysim 0.3.0's first-order physics: pinned, whatever the default
    fidelity (``ms.set_options``) is."""
    with ms.set_options(fidelity="first_order"):
        yield


def approx(x, rel=1e-12):
    return pytest.approx(x, rel=rel)


def ms_(q):
    return q.to("ms").magnitude


# ---- kernels -----------------------------------------------------------------------------


def test_log_factorial_matches_lgamma():
    n = np.array([0, 1, 2, 5, 15, 16, 17, 100, 1023, 5000, 123456, 3_000_000], dtype=float)
    expected = np.array([math.lgamma(x + 1) for x in n])
    np.testing.assert_allclose(qu.log_factorial(n), expected, rtol=1e-14, atol=2e-14)


def _erlang_c_recursion(load, servers):
    """Erlang C from the Erlang B recursion B(k) = A·B(k−1)/(k + A·B(k−1)) (Jagerman 1974)."""
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return servers * b / (servers - load * (1 - b))


@pytest.mark.parametrize(
    "load, servers",
    [(0.5, 1), (1.5, 2), (10, 12), (100, 110), (999.5, 1024), (4900, 5000), (1e-6, 3), (3.7, 40), (700, 2048)],
)
def test_erlang_c_against_the_recursion(load, servers):
    """Log-space Erlang C (windowed and cumulative paths) = the classical recursion; M/M/1:
    C = ρ; M/M/2: C = 2ρ²/(1 + ρ)."""
    expected = _erlang_c_recursion(load, servers)
    assert qu.erlang_c(load, servers) == approx(expected, 1e-11)
    grid = qu.erlang_c(np.array([load, load / 2])[:, None], np.array([servers, servers + 1])[None, :])
    assert grid[0, 0] == approx(expected, 1e-11)
    assert qu.erlang_c(0.3, 1) == approx(0.3) and qu.erlang_c(1.2, 2) == approx(2 * 0.6**2 / 1.6)


def test_erlang_c_edges():
    """Unstable (A >= c) waits surely; no load never waits; NaN propagates; 10,000 servers
    do not overflow."""
    out = qu.erlang_c(np.array([2.0, 3.0, 0.0, np.nan, 9_990.0]), np.array([2.0, 2.0, 5.0, 3.0, 10_000.0]))
    assert out[0] == 1 and out[1] == 1 and out[2] == 0 and math.isnan(out[3])
    assert 0 < out[4] < 1 and out[4] == approx(_erlang_c_recursion(9_990.0, 10_000), 1e-9)


def test_wait_quantile_mm1_closed_form():
    """M/M/1 (λ = 10/s, μ = 20/s): C = ρ = 0.5, P99 wait = ln(0.5/0.01)/(μ − λ) = 0.39120 s,
    median wait 0 (C < 0.5 is false at equality: ln(1)/10 = 0)."""
    assert qu.wait_quantile(0.5, 1, 20.0, 10.0, 0.99) == approx(math.log(50) / 10)
    assert qu.wait_quantile(0.5, 1, 20.0, 10.0, 0.5) == 0.0
    assert qu.wait_quantile(0.005, 3, 20.0, 10.0, 0.99) == 0.0


def _scan(lam, mu, budget, cap):
    """The reference's loop: the first stable r whose P99 wait fits the budget."""
    for r in range(1, cap + 1):
        if r * mu <= lam:
            continue
        c = _erlang_c_recursion(lam / mu, r)
        wait = 0.0 if c < 0.01 else math.log(c / 0.01) / (r * mu - lam)
        if wait <= budget:
            return r, wait
    return None, None


def test_min_servers_for_wait_equals_a_scan():
    """The windowed bisection returns the same count and wait as a scan over r = 1, 2, ...,
    on queues whose answers lie beyond the first window (A up to 2,000)."""
    lam = np.array([10.0, 500.0, 2_000.0, 0.01, 7_000.0])[:, None]
    mu = np.array([20.0, 1.0])[None, :]
    budget = np.array([0.0, 1e-3, 0.05, 10.0])[:, None, None]
    servers, wait, found = qu.min_servers_for_wait(lam, mu, budget, 4_096, True)
    assert servers.shape == (4, 5, 2)
    for i in range(4):
        for j in range(5):
            for k in range(2):
                r, w = _scan(lam[j, 0], mu[0, k], budget[i, 0, 0], 4_096)
                if r is None:
                    assert not found[i, j, k] and math.isnan(servers[i, j, k])
                else:
                    assert found[i, j, k] and servers[i, j, k] == r
                    assert wait[i, j, k] == pytest.approx(w, rel=1e-9, abs=1e-15)
    # a cap below the answer, and a queue unstable at the cap: not found
    s, _, f = qu.min_servers_for_wait(np.array([7_000.0, 5.0]), 1.0, 0.0, 6_000, True)
    assert not f[0] and f[1] and s[1] == _scan(5.0, 1.0, 0.0, 100)[0]


def test_capped_exponential_and_paged_allocation():
    """μ(1 − e^{−cap/μ}) = mean at the returned scale; E[⌈X/p⌉] = Σ_{k<K} P(X > kp) summed
    term by term; every request full (mean = cap): K pages, no fragmentation."""
    mean, cap, page = np.array([1024.0, 100.0, 8191.0]), np.array([8192.0, 8192.0, 8192.0]), 16.0
    mu = sv.capped_exponential_scale(mean, cap)
    np.testing.assert_allclose(mu * -np.expm1(-cap / mu), mean, rtol=1e-12)
    alloc, frag = sv.expected_paged_kv_tokens(mean, cap, page)
    k = np.arange(512)
    direct = page * np.exp(-np.outer(1 / mu, k * page)).sum(axis=1)
    np.testing.assert_allclose(alloc, direct, rtol=1e-12)
    np.testing.assert_allclose(frag, 1 - mean / alloc)
    full_alloc, full_frag = sv.expected_paged_kv_tokens(8192.0, 8192.0, 16.0)
    assert sv.capped_exponential_scale(8192.0, 8192.0) == np.inf and full_alloc == 8192 and full_frag == 0


def test_speculative_tokens_per_step():
    """E = Σ_{i=0}^{4} α^i: 1 at α = 0, 5 at α = 1, 1 + 0.7 + 0.49 + 0.343 + 0.2401 at 0.7."""
    e = sv.speculative_tokens_per_step(np.array([0.0, 0.7, 1.0]))
    np.testing.assert_allclose(e, [1.0, 1 + 0.7 + 0.49 + 0.343 + 0.2401, 5.0], rtol=1e-14)


# ---- ServingModel ------------------------------------------------------------------------


def test_llama8b_h100_serving_by_hand():
    """Spec §12.3: prefill FLOPs 2·8.03e9·2048 + 4·32·32·128·2048² = 3.5094e13, at 989.5 TF ×
    0.5: 70.960 ms, + 0.01 ms dispatch = 70.970 ms; KV = 2·32·8·128·2048·2 B = 268.4 MB;
    ITL = (16.06 + 0.268) GB / 3.35 TB/s + 32·0.01 ms = 5.194 ms; 16.33 GB of 80 GiB."""
    r = ms.ServingModel().solve(model=LLAMA8B, hardware=H100, seq_len=2048)
    flops = 2 * 8.03e9 * 2048 + 4 * 32 * 32 * 128 * 2048**2
    assert r.ttft.to("s").m == approx(flops / (989e12 * 0.5) + 1e-5)
    assert ms_(r.ttft) == approx(70.97037058756726, 1e-14)
    kv = 2 * 32 * 8 * 128 * 2048 * 2
    assert r.kv_cache_size.to("byte").m == kv
    assert r.itl.to("s").m == approx((16.06e9 + kv) / 3.35e12 + 32 * TAX)
    assert r.total_memory_required.to("byte").m == approx(16.06e9 + kv)
    assert r.memory_utilization == approx((16.06e9 + kv) / (80 * 2**30))
    assert r.feasible is True and r.infeasible_reason == "none"
    assert r.prefill_chunks == 1 and r.prefill_chunk_time is None and r.decode_stall_bound is None
    assert r.kv_transfer_time is None and r.prompt_cache_hit_ratio == 0.0


def test_spec_serving_examples():
    """Spec §4.2 checks: A100 as decode node at 100 GB/s: TTFT 70.97 + 268.4 MB/100 GB/s =
    73.65 ms, ITL (W + KV)/2039 GB/s + 0.32 ms = 8.33 ms; cached prefix 1536: TTFT 17.75 ms
    (hit ratio 0.75); chunks of 512: 4 chunks, stall 17.75 ms, TTFT 70.96 + 4·0.01 = 71.00 ms."""
    s = ms.ServingModel()
    r = s.solve(model=LLAMA8B, hardware=H100, seq_len=2048, decode_hardware=A100)
    assert ms_(r.ttft) == approx(70.97037058756726 + 2.68435456, 1e-13)
    assert ms_(r.itl) == approx(((16.06e9 + 268435456) / 2039e9 + 32 * TAX) * 1e3)
    assert ms_(r.kv_transfer_time) == approx(2.68435456)
    assert r.prefill_memory_utilization == approx((16.06e9 + 268435456) / (80 * 2**30))
    r = s.solve(model=LLAMA8B, hardware=H100, seq_len=2048, cached_prefix_len=1536)
    assert ms_(r.ttft) == pytest.approx(17.75, abs=5e-3) and r.prompt_cache_hit_ratio == 0.75
    r = s.solve(model=LLAMA8B, hardware=H100, seq_len=2048, prefill_chunk_tokens=512)
    assert r.prefill_chunks == 4 and ms_(r.prefill_chunk_time) == pytest.approx(17.75, abs=5e-3)
    assert r.decode_stall_bound == r.prefill_chunk_time
    assert ms_(r.ttft) == approx(70.97037058756726 + 3 * 0.01, 1e-13)


def test_network_bandwidth_accepts_quantities():
    """network_bandwidth is a number in byte/s or any bandwidth Quantity; 25 GB/s quadruples
    the 100 GB/s transfer time."""
    s = ms.ServingModel()
    kw = dict(model=LLAMA8B, hardware=H100, seq_len=2048, decode_hardware=A100)
    a = s.solve(**kw, network_bandwidth=25 * ureg("GB/s"))
    b = s.solve(**kw, network_bandwidth=25e9)
    c = s.solve(**kw, network_bandwidth=200 * ureg("Gbit/s"))
    assert a.ttft == b.ttft == c.ttft
    assert ms_(a.kv_transfer_time) == approx(4 * 2.68435456)
    with pytest.raises(TypeError, match="network_bandwidth=.*expected a quantity convertible to byte/s"):
        s.solve(**kw, network_bandwidth=5 * ureg.s)


def test_d1_moe_prefill_uses_active_parameters():
    """D1 (B2): Mixtral-8x7B prefill FLOPs use 12.9 B active parameters: (2·12.9e9·2048 +
    4·32·32·128·2048²)/494.5 TF = 111.3 ms (the reference's 391.3 ms uses 46.7 B); memory and
    the decode step keep all 46.7 B."""
    r = ms.ServingModel().solve(model=L.Mixtral_8x7B, hardware=H100, seq_len=2048)
    flops = 2 * 12.9e9 * 2048 + 4 * 32 * 32 * 128 * 2048**2
    assert r.ttft.to("s").m == approx(flops / 494.5e12 + 1e-5)
    assert r.model_weights_size.to("byte").m == approx(46.7e9 * 2)
    assert r.itl.to("s").m == approx((46.7e9 * 2 + r.kv_cache_size.to("byte").m) / 3.35e12 + 32 * TAX)


def test_d2_head_dim_in_attention_flops():
    """D2 (B3): PaLM-540B has head_dim 256 while 18432/48 = 384: the attention FLOPs use 256,
    as its KV cache does (1 KV head: 2·118·1·256·S·B·b)."""
    r = ms.ServingModel().solve(model=L.PaLM_540B, hardware=ms.Hardware.Cloud.GB200_NVL72, seq_len=4096)
    flops = 2 * 540e9 * 4096 + 4 * 118 * 48 * 256 * 4096**2
    compute = ms.Hardware.Cloud.GB200_NVL72.compute
    peak = compute.precision_flops.get("fp16", compute.peak_flops).to("flop/s").m
    tax = ms.Hardware.Cloud.GB200_NVL72.dispatch_tax.to("s").m
    assert r.ttft.to("s").m == approx(flops / (peak * 0.5) + tax)
    assert r.kv_cache_size.to("byte").m == approx(2 * 118 * 1 * 256 * 4096 * 2)


def test_mla_kv_cache():
    """Multi-head latent attention: DeepSeek-V3 caches L·(512 + 64) = 61·576 elements per token,
    70,272 B at fp16 (a dense 56-head cache would be 2·61·56·128·2 = 1.75 MB)."""
    r = ms.ServingModel().solve(model=L.DeepSeek_V3, hardware=H200, seq_len=1000, batch_size=3)
    assert r.kv_cache_size.to("byte").m == 61 * 576 * 2 * 1000 * 3


def test_d5_speculative_decoding_by_hand():
    """D5: the draft step is the one decode-step kernel, t_d = (W_d + KV_d)/BW + L_d·0.01 ms.
    GPT-2 (1.5 B, 48 layers, 25 heads of 64) drafting for Llama-3.1-8B on H100 at α = 0.7:
    KV_d = 2·48·25·64·2048·2 B; ITL = (4·t_d + 5.194 ms)/2.7731 = 4.128 ms (the reference's
    3.44 ms leaves out the draft's 0.48 ms layer tax); memory counts W_d and KV_d."""
    r = ms.ServingModel().solve(
        model=LLAMA8B, hardware=H100, seq_len=2048, draft_model=L.GPT2, draft_acceptance_rate=[0.0, 0.7, 1.0]
    )
    kv_d = 2 * 48 * 25 * 64 * 2048 * 2
    t_d = (3e9 + kv_d) / 3.35e12 + 48 * TAX
    target = (16.06e9 + 268435456) / 3.35e12 + 32 * TAX
    e = np.array([1.0, 1 + 0.7 + 0.49 + 0.343 + 0.2401, 5.0])
    np.testing.assert_allclose(r.itl.pint.to("s").pint.magnitude, (4 * t_d + target) / e, rtol=1e-12)
    assert float(r.itl.pint.to("ms").pint.magnitude[1]) == pytest.approx(4.128, abs=1e-3)
    assert float(r.total_memory_required.pint.to("byte").pint.magnitude) == approx(16.06e9 + 268435456 + 3e9 + kv_d)


def test_d5_disaggregated_checks_both_devices():
    """D5: Llama-3.1-70B (141.2 GB fp16) prefilling on H100 (80 GiB) and decoding on H200
    (141 GiB): the decode device fits, the prefill device does not — infeasible with reason
    prefill_memory_capacity (the reference reports it feasible). Swapped: decode_memory_capacity."""
    r = ms.ServingModel().solve(model=LLAMA70B, hardware=H100, seq_len=1024, decode_hardware=H200)
    assert r.feasible is False and r.infeasible_reason == "prefill_memory_capacity"
    assert r.prefill_memory_utilization > 1 > r.memory_utilization
    r = ms.ServingModel().solve(model=LLAMA70B, hardware=H200, seq_len=1024, decode_hardware=H100)
    assert r.feasible is False and r.infeasible_reason == "decode_memory_capacity"
    r = ms.ServingModel().solve(model=LLAMA70B, hardware=H100, seq_len=1024)
    assert r.feasible is False and r.infeasible_reason == "memory_capacity"
    assert math.isfinite(ms_(r.ttft)) and math.isfinite(ms_(r.itl))  # infeasible points still report times


def test_d15_fp4_serving():
    """D15: fp4 is selectable (0.5 byte): weights 8.03e9·0.5, KV half of fp8's; B200 has an fp4
    peak (9 PF), H100 has none (headline peak, flagged)."""
    r = ms.ServingModel().solve(
        model=LLAMA8B, hardware=[H100, ms.Hardware.Cloud.B200], seq_len=2048, precision=["fp8", "fp4"]
    )
    weights = r.model_weights_size.pint.to("byte").pint.magnitude
    np.testing.assert_allclose(weights, [8.03e9, 4.015e9])
    kv = r.kv_cache_size.pint.to("byte").pint.magnitude
    assert kv[1] == kv[0] / 2
    assert list(r.peak_flops_fallback.sel(precision="fp4").values) == [True, False]


def test_chunked_prefill_shorter_than_a_chunk():
    """A prompt shorter than one chunk is one chunk of its own length (the reference's
    ChunkedPrefillModel drops it, B9; ServingModel does not)."""
    r = ms.ServingModel().solve(model=LLAMA8B, hardware=H100, seq_len=100, prefill_chunk_tokens=512)
    one = ms.ServingModel().solve(model=LLAMA8B, hardware=H100, seq_len=100)
    assert r.prefill_chunks == 1 and r.ttft == one.ttft and r.prefill_chunk_time == one.ttft


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(seq_len=0), ValueError, r"seq_len=0 is not allowed"),
        (
            dict(cached_prefix_len=2048),
            ValueError,
            r"cached_prefix_len=2048 with seq_len=2048 is not allowed; "
            r"cached_prefix_len must be < seq_len",
        ),
        (dict(cached_prefix_len=[0, 4096]), ValueError, r"cached_prefix_len=4096"),
        (dict(draft_acceptance_rate=1.5), ValueError, r"draft_acceptance_rate=1.5"),
        (dict(prefill_chunk_tokens=0), ValueError, r"prefill_chunk_tokens=0"),
        (
            dict(network_bandwidth=0),
            ValueError,
            r"network_bandwidth=0 is not allowed; network_bandwidth must be a "
            r"number \[byte/s\] > 0",
        ),
        (dict(efficiency=0), ValueError, r"efficiency=0"),
        (
            dict(model=ms.Models.ResNet50),
            TypeError,
            r"model=CNNWorkload\('ResNet-50'\) is a CNNWorkload; model must "
            r"be a TransformerWorkload",
        ),
        (dict(draft_model=ms.Models.ResNet50), TypeError, r"draft_model=CNNWorkload"),
        (dict(decode_hardware=LLAMA8B), TypeError, r"decode_hardware=.* must be a HardwareNode"),
        (dict(precision="fp12"), ValueError, r"precision='fp12'"),
    ],
)
def test_serving_bad_arguments(kwargs, error, pattern):
    """D14: bad arguments raise naming the argument and what is allowed."""
    with pytest.raises(error, match=pattern):
        ms.ServingModel().solve(**(dict(model=LLAMA8B, hardware=H100, seq_len=2048) | kwargs))


# ---- ContinuousBatchingModel -------------------------------------------------------------


def test_continuous_batching_spec_example():
    """Spec §5.4: Llama-3.1-8B/H100, S_max 8192, mean 1024, B_max 1024: KV budget
    85.899 − 16.06 = 69.84 GB at 131,072 B/token = 532,836 tokens; static admits ⌊532836/8192⌋
    = 65 (87.5 % unused), paged 516 (0.78 % unused). D5: the decode step carries 32·0.01 ms,
    so throughput = 516/((16.06e9 + 131072·516·1024)/3.35e12 + 0.32 ms) = 20,010 tok/s (the
    reference's 20,261 omits the tax), and TTFT is the prefill of the 516 admitted requests."""
    r = ms.ContinuousBatchingModel().solve(
        model=LLAMA8B, hardware=H100, max_seq_len=8192, mean_request_tokens=1024, max_batch_size=1024
    )
    assert r.max_active_requests == 516 and r.static_max_active_requests == 65
    assert r.static_internal_fragmentation == 0.875
    assert r.paged_internal_fragmentation == pytest.approx(0.0077693677, rel=1e-8)
    step = lambda n: (16.06e9 + 131072 * n * 1024) / 3.35e12 + 32 * TAX  # noqa: E731
    assert r.throughput_tokens_per_sec.to("1/s").m == approx(516 / step(516))
    assert r.static_throughput_tokens_per_sec.to("1/s").m == approx(65 / step(65))
    assert r.speedup_vs_static == approx((516 / step(516)) / (65 / step(65)))
    assert r.itl.to("s").m == approx(step(516))
    flops = 516 * 8192 * (2 * 8.03e9 + 4 * 32 * 32 * 128 * 8192)
    assert r.ttft.to("s").m == approx(flops / 494.5e12 + 1e-5)
    assert r.static_kv_cache_size.to("byte").m == 131072 * 65 * 8192


def test_continuous_batching_no_budget():
    """Llama-3.1-70B (141.2 GB) on H100: no KV budget — nothing admitted, throughputs 0,
    speed-up 1, TTFT/ITL not applicable (None), reason no_kv_budget."""
    r = ms.ContinuousBatchingModel().solve(model=LLAMA70B, hardware=H100, max_seq_len=4096, max_batch_size=64)
    assert r.feasible is False and r.infeasible_reason == "no_kv_budget"
    assert r.max_active_requests == 0 and r.throughput_tokens_per_sec.m == 0 and r.speedup_vs_static == 1
    assert r.ttft is None and r.itl is None


def test_continuous_batching_one_request_too_large():
    """A budget that holds no request's pages: memory_capacity (budget exists, nothing admitted)."""
    gpu = HardwareNode(
        name="16.2GB",
        compute=ComputeCore(peak_flops=100 * ureg("TFLOP/s")),
        memory=MemoryHierarchy(capacity=16.2 * ureg.GB, bandwidth=1 * ureg("TB/s")),
    )
    r = ms.ContinuousBatchingModel().solve(model=LLAMA8B, hardware=gpu, max_seq_len=8192)
    assert r.feasible is False and r.infeasible_reason == "memory_capacity"


def test_d21_continuous_batching_keywords():
    """D21: the guide's seq_len / max_batch are max_seq_len / max_batch_size."""
    a = ms.ContinuousBatchingModel().solve(model=LLAMA8B, hardware=H100, seq_len=2048, max_batch=32)
    b = ms.ContinuousBatchingModel().solve(model=LLAMA8B, hardware=H100, max_seq_len=2048, max_batch_size=32)
    assert a.dataset.identical(b.dataset)
    with pytest.raises(TypeError, match="got 'max_seq_len' twice"):
        ms.ContinuousBatchingModel().solve(model=LLAMA8B, hardware=H100, seq_len=2048, max_seq_len=2048)
    with pytest.raises(ValueError, match="mean_request_tokens=4096 with max_seq_len=2048 is not allowed"):
        ms.ContinuousBatchingModel().solve(model=LLAMA8B, hardware=H100, max_seq_len=2048, mean_request_tokens=4096)


# ---- WeightStreamingModel ----------------------------------------------------------------


def test_weight_streaming_spec_example():
    """Part 2 §3: Llama-3.1-70B on CS-3, S 2048, B 8, prefill: KV 5.369 GB ×1.1 = 5.906 GB of
    47.245 GB (u 0.125); W_l = 882.5e6·2 B over 1.2 TB/s = 1.4708 ms; compute
    (2.8918e13 + 6.87e10)/62.5 PF + 0.001 ms = 0.4648 ms: injection-bound,
    16,384 tokens/(1.4708 ms·80) = 139,240.8 tok/s; B* = ⌊2·62.5e15·... ⌋ = 52,083."""
    r = ms.WeightStreamingModel().solve(model=LLAMA70B, hardware=CS3, seq_len=2048, batch_size=8, phase="prefill")
    assert r.wafer_memory_utilization == approx(0.125)
    assert ms_(r.layer_injection_time) == approx(1.4708333333333337)
    assert ms_(r.layer_compute_time) == approx(0.464783671627776)
    assert r.bottleneck == "Interconnect-Bandwidth-Bound" and r.feasible is True  # the reference's label
    assert r.throughput_tokens_per_sec.to("1/s").m == approx(139240.79320113314)
    assert r.optimal_batch_size == 52083


def test_weight_streaming_sram_boundary():
    """B = 64 needs exactly 40 GiB·1.1 = 44 GiB = the CS-3's capacity: it fits (the reference
    fails it by comparing GB with GiB, P5 — a rounding tie, see test_parity_serving); B = 65
    does not: reason sram_capacity, throughput 0, utilisation 65/64."""
    r = ms.WeightStreamingModel().solve(model=LLAMA70B, hardware=CS3, seq_len=2048, batch_size=[64, 65])
    assert list(r.feasible.values) == [True, False]
    assert list(r.infeasible_reason.values) == ["none", "sram_capacity"]
    assert r.wafer_memory_utilization.values[0] == 1.0 and r.wafer_memory_utilization.values[1] == approx(65 / 64)
    tps = r.throughput_tokens_per_sec.pint.magnitude
    assert tps[0] == approx(64 / (1.4708333333333337e-3 * 80)) and tps[1] == 0


def test_weight_streaming_d1_and_mla():
    """D1: DeepSeek-V3 decode FLOPs per layer use 37e9/61 active parameters; its KV is MLA's
    61·576 elements per token (the reference's dense 2·61·56·128 overstates it 25×, P6)."""
    r = ms.WeightStreamingModel().solve(model=L.DeepSeek_V3, hardware=CS3, seq_len=4096, batch_size=8)
    peak = CS3.compute.peak_flops.to("flop/s").m
    tax = CS3.dispatch_tax.to("s").m
    assert r.layer_compute_time.to("s").m == approx(2 * 37e9 / 61 * 8 / (peak * 0.5) + tax)
    assert r.wafer_memory_required.to("byte").m == approx(1.1 * 61 * 576 * 2 * 4096 * 8)
    assert r.feasible is True  # the reference: 63 GB, infeasible
    assert r.optimal_batch_size == math.floor(2 * (671 / 37) * peak * 0.5 / (2 * 1.2e12))


def test_weight_streaming_phase_validation():
    """D14: phase is case-insensitive and validated (the reference silently decodes 'Prefill')."""
    a = ms.WeightStreamingModel().solve(model=LLAMA70B, hardware=CS3, seq_len=2048, phase="Prefill")
    b = ms.WeightStreamingModel().solve(model=LLAMA70B, hardware=CS3, seq_len=2048, phase="prefill")
    assert a.throughput_tokens_per_sec == b.throughput_tokens_per_sec
    with pytest.raises(ValueError, match=r"phase='banana' is not allowed; phase must be one of 'decode', 'prefill'"):
        ms.WeightStreamingModel().solve(model=LLAMA70B, hardware=CS3, seq_len=2048, phase="banana")


def test_weight_streaming_fallback_injection_link():
    """No interconnect on record: weights stream at 100 GB/s (Gaudi 2: 1.765 GB/100 GB/s = 17.65 ms)."""
    r = ms.WeightStreamingModel().solve(model=LLAMA70B, hardware=ms.Hardware.Cloud.Gaudi2, seq_len=128)
    assert ms_(r.layer_injection_time) == approx(70.6e9 / 80 * 2 / 100e9 * 1e3)


# ---- TailLatencyModel --------------------------------------------------------------------


def test_tail_latency_spec_example():
    """Spec §5.3: λ = 10/s, s = 50 ms, one replica: ρ = 0.5, p50 = 0 + 50 ms,
    p99 = ln(0.5/0.01)/(20 − 10) s + 50 ms = 441.2 ms, headroom 391.2/250."""
    r = ms.TailLatencyModel().solve(10, 50, 1)
    assert ms_(r.p50_latency) == approx(50.0)
    assert ms_(r.p99_latency) == approx(math.log(50) / 10 * 1e3 + 50)
    assert r.queue_utilization == 0.5 and r.is_stable is True and r.wait_probability == approx(0.5)
    assert r.slo_headroom_ratio == approx(math.log(50) / 10 / 0.25)


def test_tail_latency_mmc_and_kingman():
    """M/M/2 (λ = 30/s, s = 50 ms: A = 1.5, ρ = 0.75): C = 2ρ²/(1 + ρ) = 0.642857, P99 wait
    = ln(C/0.01)/(40 − 30) s; cv = 0: waits × (0 + 1)/2; cv = 2: × 2.5."""
    r = ms.TailLatencyModel().solve(
        arrival_rate_qps=30, service_latency_ms=50, num_replicas=2, service_time_cv=[0.0, 1.0, 2.0]
    )
    c = 2 * 0.75**2 / 1.75
    w99 = math.log(c / 0.01) / 10
    w50 = math.log(c / 0.5) / 10
    np.testing.assert_allclose(
        r.p99_latency.pint.to("s").pint.magnitude, [0.5 * w99 + 0.05, w99 + 0.05, 2.5 * w99 + 0.05], rtol=1e-12
    )
    np.testing.assert_allclose(
        r.p50_latency.pint.to("s").pint.magnitude, [0.5 * w50 + 0.05, w50 + 0.05, 2.5 * w50 + 0.05], rtol=1e-12
    )


def test_tail_latency_unstable_and_thousands_of_replicas():
    """ρ >= 1: latencies ∞, ρ reported 1, headroom 1 (as the reference); 0 ms service is
    unstable too. 3,000 replicas at ρ = 0.999 are evaluated stably."""
    r = ms.TailLatencyModel().solve(arrival_rate_qps=[100, 20], service_latency_ms=50, num_replicas=[1, 3000])
    p99 = r.p99_latency.pint.magnitude
    assert math.isinf(p99[0, 0]) and not r.is_stable.values[0, 0]
    assert r.queue_utilization.values[0, 0] == 1 and r.slo_headroom_ratio.values[0, 0] == 1
    z = ms.TailLatencyModel().solve(10, 0, 3)
    assert z.is_stable is False and math.isinf(z.p99_latency.m)
    big = ms.TailLatencyModel().solve(arrival_rate_qps=59_940, service_latency_ms=50, num_replicas=3000)
    expected = _erlang_c_recursion(2997.0, 3000)
    assert big.wait_probability == approx(expected, 1e-9)
    assert big.p99_latency.to("s").m == approx(math.log(expected / 0.01) / (3000 * 20 - 59_940) + 0.05, 1e-9)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (
            dict(arrival_rate_qps=-10),
            r"arrival_rate_qps=-10 is not allowed; arrival_rate_qps must be a number "
            r"\[1/s\] >= 0",
        ),
        (dict(num_replicas=0), r"num_replicas=0 is not allowed"),
        (dict(service_latency_ms=-5), r"service_latency_ms=-5 is not allowed"),
        (dict(service_time_cv=-1), r"service_time_cv=-1 is not allowed"),
    ],
)
def test_d14_tail_latency_validation(kwargs, pattern):
    """D14 (B17): negative arrival rates, zero replicas, negative durations raise."""
    with pytest.raises(ValueError, match=pattern):
        ms.TailLatencyModel().solve(**(dict(arrival_rate_qps=10, service_latency_ms=50) | kwargs))


def test_tail_latency_units():
    """service_latency_ms takes ms numbers or any time Quantity; arrival rates any 1/time."""
    a = ms.TailLatencyModel().solve(arrival_rate_qps=600 / ureg.minute, service_latency_ms=0.05 * ureg.s)
    b = ms.TailLatencyModel().solve(arrival_rate_qps=10, service_latency_ms=50)
    assert a.p99_latency.to("s").m == approx(b.p99_latency.to("s").m)


# ---- ServingCapacityModel ----------------------------------------------------------------


def test_serving_capacity_seed_case():
    """Spec §12.5 with D5: continuous batching admits 32 requests of 1024 tokens; their decode
    step is (16.06e9 + 131072·32·1024)/3.35e12 + 0.32 ms = 6.3961 ms, so a replica makes
    32/6.3961 ms = 5,003 tok/s = 78.17 req/s at 64 output tokens (the reference's 82.29 omits
    the layer tax; its own ServingModel ITL, 6.396 ms, has it). Base latency 1099.80 +
    64·6.3961 = 1509.15 ms (as the reference); M/M/1 at ρ = 20/78.17: P99 wait
    ln(ρ/0.01)/(78.17 − 20) = 55.73 ms; one replica; P99 1564.88 ms."""
    r = ms.ServingCapacityModel().solve(
        model=LLAMA8B, hardware=H100, qps=20, target_p99_latency_ms=2000, seq_len=1024, output_tokens=64
    )
    step = (16.06e9 + 131072 * 32 * 1024) / 3.35e12 + 32 * TAX
    q = 32 / step / 64
    assert r.per_replica_qps_capacity.to("1/s").m == approx(q)
    assert ms_(r.itl) == approx(step * 1e3) and ms_(r.ttft) == approx(1099.8002245589807, 1e-13)
    assert ms_(r.base_request_latency) == approx(1509.1512415571897, 1e-13)
    wait = math.log(20 / q / 0.01) / (q - 20)
    assert r.queue_wait_p99.to("s").m == approx(wait, 1e-12)
    assert ms_(r.estimated_p99_latency) == approx(1509.1512415571897 + wait * 1e3, 1e-12)
    assert r.required_replicas == 1 and r.feasible is True and r.bottleneck == "Feasible"
    assert r.utilization == approx(20 / q) and r.active_batch_size == 32
    assert r.qps_target.to("1/s").m == 20 and ms_(r.target_p99_latency) == 2000


def test_d9_base_latency_verdict():
    """D9 (B1): target 1000 ms < base 1509 ms: infeasible at once, bottleneck Base Latency;
    no replica count (None), P99 = the base latency (its limit with many replicas). The
    reference scans 1,024 replicas and reports 'Tail Latency'."""
    r = ms.ServingCapacityModel().solve(
        model=LLAMA8B, hardware=H100, qps=20, target_p99_latency_ms=1000, max_seq_len=1024, output_tokens=64
    )
    assert (r.feasible, r.bottleneck, r.infeasible_reason) == (False, "Base Latency", "base_latency")
    assert r.required_replicas is None and r.qps_capacity is None and r.utilization is None
    assert r.queue_wait_p99 is None and r.estimated_p99_latency == r.base_request_latency


def test_serving_capacity_scales_out_and_runs_out():
    """2,000 QPS need ⌈…⌉ replicas: the smallest r with a stable queue and P99 within 2000 −
    1509 ms (checked against a scan); capped at 8 replicas: unstable — Capacity /
    unstable_queue, P99 ∞; a target just above the base latency at 30 replicas: the queue is
    stable but waits too long — Tail Latency / latency_target."""
    s = ms.ServingCapacityModel()
    kw = dict(model=LLAMA8B, hardware=H100, max_seq_len=1024, output_tokens=64)
    r = s.solve(**kw, qps=2000, target_p99_latency_ms=2000)
    q = r.per_replica_qps_capacity.to("1/s").m
    base = r.base_request_latency.to("s").m
    expected, _ = _scan(2000, q, 2.0 - base, 1024)
    assert r.required_replicas == expected and expected > 2000 / q
    r = s.solve(**kw, qps=2000, target_p99_latency_ms=2000, max_replicas=8)
    assert (r.feasible, r.bottleneck, r.infeasible_reason) == (False, "Capacity", "unstable_queue")
    assert r.required_replicas == 8 and math.isinf(r.estimated_p99_latency.m) and r.utilization > 1
    r = s.solve(**kw, qps=2000, target_p99_latency_ms=base * 1e3 + 1e-3, max_replicas=30)
    assert (r.feasible, r.bottleneck, r.infeasible_reason) == (False, "Tail Latency", "latency_target")
    assert r.required_replicas == 30 and r.queue_wait_p99.to("s").m > 1e-6


def test_serving_capacity_memory_wall():
    """Llama-3.1-70B does not fit one H100: bottleneck Memory, reason no_kv_budget, capacity 0,
    P99 ∞, required = max_replicas (as the reference)."""
    r = ms.ServingCapacityModel().solve(
        model=LLAMA70B, hardware=H100, qps=20, target_p99_latency_ms=1000, max_replicas=8
    )
    assert (r.feasible, r.bottleneck, r.infeasible_reason) == (False, "Memory", "no_kv_budget")
    assert r.required_replicas == 8 and r.qps_capacity.m == 0 and math.isinf(r.estimated_p99_latency.m)


def test_serving_capacity_memory_verdict_agrees_with_its_reason():
    """Refined: the paged allocator admits 227 Llama-3.1-8B requests of 2,048 tokens on an H100,
    but a step of that batch does not fit beside the framework reserve and working memory:
    infeasible, bottleneck Memory, and the reason says so (memory_capacity; it said "none" while
    feasible was False). Every point's verdict and reason agree: feasible exactly where the
    reason is none."""
    r = ms.ServingCapacityModel().solve(
        model=LLAMA8B,
        hardware=H100,
        qps=10,
        target_p99_latency_ms=2000,
        max_batch_size=[32, 1000, 10_000],
        fidelity="refined",
    )
    assert r.feasible.values.tolist() == [False, False, False]
    assert r.infeasible_reason.values.tolist() == ["base_latency", "memory_capacity", "memory_capacity"]
    assert r.bottleneck.values.tolist() == ["Base Latency", "Memory", "Memory"]
    ds = r.dataset
    assert ((ds["infeasible_reason"].values == 0) == ds["feasible"].values).all()


def test_prefill_chunk_tokens_nan_means_one_pass():
    """prefill_chunk_tokens is optional: NaN at a point means "not given" there (one prefill
    pass, chunk outputs NaN), exactly the call without it; 512 tokens chunks as before."""
    s = ms.ServingModel()
    kw = dict(model=LLAMA8B, hardware=H100, seq_len=2048)
    plain = s.solve(**kw).dataset
    for nan in (math.nan, [math.nan]):
        one = s.solve(**kw, prefill_chunk_tokens=nan).dataset.squeeze(drop=True)
        for name in plain.data_vars:
            np.testing.assert_array_equal(one[name].values, plain[name].values, err_msg=name)
    both = s.solve(**kw, prefill_chunk_tokens=[512, math.nan]).dataset
    chunked = s.solve(**kw, prefill_chunk_tokens=512).dataset
    for name in plain.data_vars:
        values = np.broadcast_to(both[name].values, (2,))
        np.testing.assert_array_equal(values[0], chunked[name].values, err_msg=name)
        np.testing.assert_array_equal(values[1], plain[name].values, err_msg=name)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(qps=0), r"qps=0 is not allowed; qps must be a number \[1/s\] > 0"),
        (dict(target_p99_latency_ms=-5), r"target_p99_latency_ms=-5"),
        (dict(max_replicas=0), r"max_replicas=0"),
        (dict(output_tokens=0), r"output_tokens=0"),
        (dict(mean_request_tokens=4096, max_seq_len=1024), r"mean_request_tokens=4096 with max_seq_len=1024"),
    ],
)
def test_serving_capacity_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ms.ServingCapacityModel().solve(
            **(dict(model=LLAMA8B, hardware=H100, qps=20, target_p99_latency_ms=2000) | kwargs)
        )


# ---- InferenceScalingModel ---------------------------------------------------------------


def test_inference_scaling_spec_examples():
    """Part 2 §8 / §20: Llama-3.1-8B/H100, 8 steps of 50 tokens at 2048 context:
    70.970 + 8·50·5.19416 = 2,148.63 ms, 700 W × 2.1486 s = 1,504.04 J; Llama-3.1-70B/H200
    fp8, 32 steps at 8192: 26,607.51 ms, 18,625.26 J."""
    r = ms.InferenceScalingModel().solve(model=LLAMA8B, hardware=H100)
    assert ms_(r.total_reasoning_time) == approx(2148.6343056323435, 1e-13)
    assert r.energy_per_query.to("J").m == approx(1504.0440139426403, 1e-13)
    assert r.tokens_generated == 400 and ms_(r.time_per_step) == approx(259.70799188059704, 1e-13)
    r = ms.InferenceScalingModel().solve(
        model=LLAMA70B, hardware=H200, reasoning_steps=32, context_length=8192, precision="fp8"
    )
    assert ms_(r.total_reasoning_time) == approx(26607.509140944076, 1e-13)
    assert r.energy_per_query.to("J").m == approx(18625.25639866085, 1e-13)


def test_inference_scaling_steps_and_validation():
    """Zero steps is just the prefill; tokens_per_step scales the step; negative steps raise (D14)."""
    r = ms.InferenceScalingModel().solve(
        model=LLAMA8B, hardware=H100, reasoning_steps=[0, 4], tokens_per_step=[50, 100]
    )
    total = r.total_reasoning_time.pint.to("s").pint.magnitude
    ttft = float(r.ttft.pint.to("s").pint.magnitude)
    itl = float(r.itl.pint.to("s").pint.magnitude)
    np.testing.assert_allclose(total, [[ttft, ttft], [ttft + 200 * itl, ttft + 400 * itl]], rtol=1e-14)
    with pytest.raises(ValueError, match="reasoning_steps=-2 is not allowed"):
        ms.InferenceScalingModel().solve(model=LLAMA8B, hardware=H100, reasoning_steps=-2)
