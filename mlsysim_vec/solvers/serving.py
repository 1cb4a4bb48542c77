"""LLM serving domain: ``ServingModel``, ``ContinuousBatchingModel``, ``WeightStreamingModel``,
``TailLatencyModel``, ``ServingCapacityModel``, ``InferenceScalingModel``.

"How fast will my LLM generate tokens?", "Can I serve this LLM on this GPU?", "How many serving
replicas do I need for this SLA?" — each answered over a whole grid in one call. The numbers
come from ``physics.serving`` and ``physics.queueing``; the equations and their sources are in
those modules and in ``reference/anchor-0.3.0-spec.md`` §4–5 / part 2 §3, §8, with the
deviations D1, D2, D5, D9, D14, D15 and D21 of DECISIONS.md.
"""

from __future__ import annotations

import numpy as np

from ..grid import REQUIRED, Arg, Grid
from ..hardware.types import HardwareNode
from ..models.types import TransformerWorkload
from ..physics import queueing as qu
from ..physics import roofline as rl
from ..physics import serving as sv
from ..variables import BOTTLENECKS, reason
from .base import HARDWARE, PRECISION, Resolver, model_arg, precision_terms

__all__ = [
    "ServingModel",
    "ContinuousBatchingModel",
    "WeightStreamingModel",
    "TailLatencyModel",
    "ServingCapacityModel",
    "InferenceScalingModel",
]


_COMPUTE, _MEMORY = BOTTLENECKS.index("Compute"), BOTTLENECKS.index("Memory")
_CAPACITY, _TAIL = BOTTLENECKS.index("Capacity"), BOTTLENECKS.index("Tail Latency")
_BASE, _FEASIBLE, _INJECTION = (
    BOTTLENECKS.index("Base Latency"),
    BOTTLENECKS.index("Feasible"),
    BOTTLENECKS.index("Injection"),
)
_PREFILL = 1  # code of "prefill" in WeightStreamingModel's phase choices


def _model(name="model", optional=False):
    return model_arg(
        name, (TransformerWorkload,), "TransformerWorkload (Models.Language.*)", default=None if optional else REQUIRED
    )


def _code(mask, code):
    return np.where(mask, code, 0).astype(np.int8)


class _Transformer:
    """Numbers of a Transformer record argument laid out on the grid, at precision ``b``."""

    def __init__(self, g: Grid, name: str, b, is_16bit):
        field = lambda k: g.field(name, k)  # noqa: E731
        self.layers = field("layers")
        self.heads = field("heads_or_default")
        self.kv_heads = field("kv_heads_or_default")
        self.head_width = field("head_width")  # D2
        self.parameters = field("parameters")
        self.active_parameters = field("active_parameters")  # D1
        self.weights = rl.weight_bytes(self.parameters, field("model_size"), field("weights_rule"), b, is_16bit)
        mla = np.where(field("is_mla") == 1.0, field("kv_lora_rank") + field("qk_rope_head_dim"), np.nan)
        self.kv_per_token = sv.kv_bytes_per_token(self.layers, self.kv_heads, self.head_width, mla, b)

    def prefill_flops_per_token(self, context):
        """Prefill FLOPs per new token of one sequence over ``context`` tokens [FLOP]."""
        return sv.prefill_flops(self.active_parameters, self.layers, self.heads, self.head_width, 1.0, context, 1.0)


def _eager(g: Grid) -> Grid:
    """The grid without ``chunks``: the queue resolvers gather across points (the replica
    search, Erlang C's shared sums), so they evaluate in memory even when asked for chunks."""
    return Grid(g.inputs) if g.chunks is not None else g


def _check_below(g: Grid, small: str, large: str, strict: bool) -> None:
    """Every combination of two arguments satisfies ``small < large`` (or ``<=``)."""
    if small not in g.inputs:
        return
    a, b = np.broadcast_arrays(np.asarray(g[small]), np.asarray(g[large]))
    bad = (a >= b) if strict else (a > b)
    if bad.any():
        i = np.flatnonzero(bad)[0]
        x, y = a.reshape(-1)[i], b.reshape(-1)[i]
        relation = "<" if strict else "<="
        raise ValueError(f"{small}={x:g} with {large}={y:g} is not allowed; {small} must be {relation} {large}")


def _serve(m: _Transformer, seq_len, batch, cached, flops_eff):
    """Prefill time of the new tokens and KV cache of a batch (colocated, unchunked)."""
    new_tokens = np.maximum(1.0, seq_len - cached)
    per_token = m.prefill_flops_per_token(seq_len)
    prefill = new_tokens * batch * per_token / flops_eff
    return new_tokens, per_token, prefill, m.kv_per_token * seq_len * batch


class ServingModel(Resolver):
    """Prefill (TTFT) and decode (ITL) of an LLM on one accelerator, its KV cache and memory.

    model : TransformerWorkload record
    hardware : HardwareNode record — prefill device (and decode device unless ``decode_hardware``)
    seq_len : context tokens S, cached prefix included, >= 1 (required)
    batch_size : concurrent sequences B, >= 1 (default 1)
    precision : width of weights and KV cache, picks the prefill peak (default "fp16", D15)
    efficiency : fraction of peak FLOP/s in prefill, in (0, 1] (default 0.5)
    decode_hardware : HardwareNode for the decode phase (default None: colocated)
    network_bandwidth : prefill-to-decode link [byte/s] > 0 (default 100 GB/s; disaggregated only)
    draft_model : TransformerWorkload of speculative decoding (default None)
    draft_acceptance_rate : α in [0, 1] (default 0.7)
    cached_prefix_len : context tokens already cached, 0 <= C < S (default 0)
    prefill_chunk_tokens : chunk size of chunked prefill, >= 1 (default None: one pass)

    Equations (``reference/anchor-0.3.0-spec.md`` §4.2; D1, D2, D5):
    new tokens ``N = max(1, S − C)``; prefill FLOPs ``N·B·(2·P_active + 4·L·a·d·S)``;
    ``TTFT = FLOPs/(F·η) + dispatch_tax × chunks (+ KV/network_bandwidth when disaggregated)``;
    ``KV = kv_bytes_per_token × S × B``; ``ITL = (W + KV)/BW_decode + L·0.01 ms``. Speculation:
    ``ITL = (4·t_draft + ITL_target)/E``, ``E = Σ_{i<=4} α^i``, ``t_draft`` the draft's own
    decode step (same kernel, D5). Chunked prefill: ``⌈N/c⌉`` chunks; the largest costs
    ``min(c, N)·B·(2·P_active + 4·L·a·d·S)/(F·η) + dispatch_tax`` (``prefill_chunk_time`` =
    ``decode_stall_bound``).

    Memory: ``total_memory_required = W + KV (+ W_draft + KV_draft)`` on the decode device;
    ``feasible`` when it fits there and, when disaggregated, the prefill device holds ``W + KV``
    (D5). ``infeasible_reason``: memory_capacity (colocated), decode_memory_capacity or
    prefill_memory_capacity (disaggregated). Times are reported for infeasible points too.
    """

    ARGS = (
        _model(),
        HARDWARE,
        Arg("seq_len", "integer", low=1),
        Arg("batch_size", "integer", default=1, low=1),
        PRECISION,
        Arg("efficiency", default=0.5, low=0.0, low_open=True, high=1.0),
        Arg(
            "decode_hardware",
            "record",
            default=None,
            types=(HardwareNode,),
            type_hint="HardwareNode record (Hardware.*) or None",
        ),
        Arg("network_bandwidth", default=100e9, unit="byte/s", low=0.0, low_open=True),
        _model("draft_model", optional=True),
        Arg("draft_acceptance_rate", default=0.7, low=0.0, high=1.0),
        Arg("cached_prefix_len", "integer", default=0, low=0),
        Arg("prefill_chunk_tokens", "integer", default=None, low=1),
    )

    def _check(self, g: Grid) -> None:
        _check_below(g, "cached_prefix_len", "seq_len", strict=True)

    def _compute(self, g: Grid) -> dict:
        b, is_16bit, peak, fallback = precision_terms(g)
        m = _Transformer(g, "model", b, is_16bit)
        seq, batch = g["seq_len"], g["batch_size"]
        cached = g["cached_prefix_len"]
        dispatch = g.field("hardware", "dispatch_tax")
        flops_eff = peak * g["efficiency"]
        new_tokens, per_token, prefill, kv = _serve(m, seq, batch, cached, flops_eff)
        out = {}
        if "prefill_chunk_tokens" in g.inputs:
            chunks, largest = sv.prefill_chunking(new_tokens, g["prefill_chunk_tokens"])
            chunk_time = largest * batch * per_token / flops_eff + dispatch
            ttft = prefill + dispatch * chunks
            out.update(prefill_chunks=chunks, prefill_chunk_time=chunk_time, decode_stall_bound=chunk_time)
        else:
            ttft = prefill + dispatch
            out.update(
                prefill_chunks=np.float64(1.0),
                prefill_chunk_time=np.float64(np.nan),
                decode_stall_bound=np.float64(np.nan),
            )
        decode = "decode_hardware" if "decode_hardware" in g.inputs else "hardware"
        bandwidth = g.field(decode, "memory_bandwidth")
        capacity = g.field(decode, "memory_capacity")
        itl = sv.decode_step_time(m.weights, kv, bandwidth, m.layers)
        required = m.weights + kv
        if "draft_model" in g.inputs:
            d = _Transformer(g, "draft_model", b, is_16bit)
            draft_kv = d.kv_per_token * seq * batch
            draft_step = sv.decode_step_time(d.weights, draft_kv, bandwidth, d.layers)
            itl = sv.speculative_step_time(itl, draft_step, g["draft_acceptance_rate"])
            required = required + d.weights + draft_kv  # D5: the draft's KV counts
        fits = required <= capacity
        if decode == "decode_hardware":
            transfer = kv / g["network_bandwidth"]
            ttft = ttft + transfer
            prefill_use = (m.weights + kv) / g.field("hardware", "memory_capacity")
            prefill_fits = prefill_use <= 1.0  # D5: the prefill device holds W + KV
            feasible = fits & prefill_fits
            why = np.where(
                ~fits, reason("decode_memory_capacity"), np.where(~prefill_fits, reason("prefill_memory_capacity"), 0)
            ).astype(np.int8)
            out.update(kv_transfer_time=transfer, prefill_memory_utilization=prefill_use)
        else:
            feasible = fits
            why = _code(~fits, reason("memory_capacity"))
            out.update(kv_transfer_time=np.float64(np.nan), prefill_memory_utilization=np.float64(np.nan))
        return {
            "ttft": ttft,
            "itl": itl,
            "kv_cache_size": kv,
            "model_weights_size": m.weights,
            "total_memory_required": required,
            "memory_utilization": required / capacity,
            "feasible": feasible,
            "infeasible_reason": why,
            "prompt_cache_hit_ratio": cached / seq,
            **out,
            "peak_flops_fallback": fallback,
        }


def _batching(m: _Transformer, capacity, bandwidth, max_seq_len, mean, max_batch, page):
    """Paged and static admission of continuous batching and their decode steps (D5)."""
    budget = capacity - m.weights
    budget_tokens = budget / m.kv_per_token
    allocated, paged_frag = sv.expected_paged_kv_tokens(mean, max_seq_len, page)
    n_static = sv.static_admission(budget_tokens, max_seq_len, max_batch)
    n_paged = sv.paged_admission(budget_tokens, page, allocated, max_batch)

    def throughput(n):
        step = sv.decode_step_time(m.weights, m.kv_per_token * n * mean, bandwidth, m.layers)
        return np.where(n > 0, n / step, 0.0), step

    paged_tps, paged_step = throughput(n_paged)
    static_tps, _ = throughput(n_static)
    return dict(
        budget=budget,
        allocated=allocated,
        paged_frag=paged_frag,
        n_static=n_static,
        n_paged=n_paged,
        paged_tps=paged_tps,
        paged_step=paged_step,
        static_tps=static_tps,
    )


def _batching_reason(budget, admitted):
    return np.where(budget <= 0, reason("no_kv_budget"), np.where(admitted > 0, 0, reason("memory_capacity"))).astype(
        np.int8
    )


_MAX_SEQ_LEN = dict(kind="integer", low=1)


class ContinuousBatchingModel(Resolver):
    """Continuous batching with a paged KV cache versus static max-length reservations.

    model : TransformerWorkload record
    hardware : HardwareNode record
    max_seq_len : maximum tokens per request S_max, >= 1 (required; alias ``seq_len``, D21)
    mean_request_tokens : mean tokens per request, in (0, S_max] (default None: S_max)
    max_batch_size : scheduler cap B_max, >= 1 (default 1; alias ``max_batch``, D21)
    page_size : tokens per KV page p, >= 1 (default 16)
    precision : width of weights and KV cache (default "fp16", D15)
    efficiency : fraction of peak FLOP/s in prefill, in [1e-9, 1] (default 0.5)

    Equations (``reference/anchor-0.3.0-spec.md`` §5.4; D1, D2, D5): KV budget
    ``M = capacity − W``; per-token KV ``k``; static admits ``min(⌊M/(k·S_max)⌋, B_max)``
    (fragmentation ``1 − mean/S_max``); paged admits ``min(⌊⌊M/(k·p)⌋·p/alloc + 1e-9⌋, B_max)``
    with ``alloc`` the expected paged allocation of an exponential length capped at S_max
    (``physics.serving.expected_paged_kv_tokens``). A decode step of N requests is the one
    decode-step kernel ``(W + k·N·mean)/BW + L·0.01 ms`` (D5); throughput ``N/step``;
    ``itl`` the step of the admitted requests; ``ttft`` the prefill of the *admitted* requests
    at S_max, ``N_p·S_max·(2·P_active + 4·L·a·d·S_max)/(F·η) + dispatch_tax`` (D5).

    Infeasible (nothing admitted): counts, throughputs and KV sizes 0, fragmentation 0,
    ``ttft``/``itl`` NaN, ``speedup_vs_static`` 1; ``infeasible_reason`` no_kv_budget when the
    weights leave no memory, memory_capacity when one request's pages do not fit.
    ``speedup_vs_static`` is ∞ when only the paged allocator admits a request.
    """

    ARGS = (
        _model(),
        HARDWARE,
        Arg("max_seq_len", keyword_aliases=("seq_len",), **_MAX_SEQ_LEN),
        Arg("mean_request_tokens", default=None, low=0.0, low_open=True),
        Arg("max_batch_size", "integer", default=1, low=1, keyword_aliases=("max_batch",)),
        Arg("page_size", "integer", default=16, low=1),
        PRECISION,
        Arg("efficiency", default=0.5, low=1e-9, high=1.0),
    )

    def _check(self, g: Grid) -> None:
        _check_below(g, "mean_request_tokens", "max_seq_len", strict=False)

    def _compute(self, g: Grid) -> dict:
        b, is_16bit, peak, fallback = precision_terms(g)
        m = _Transformer(g, "model", b, is_16bit)
        s_max = g["max_seq_len"]
        mean = g["mean_request_tokens"] if "mean_request_tokens" in g.inputs else s_max
        cb = _batching(
            m,
            g.field("hardware", "memory_capacity"),
            g.field("hardware", "memory_bandwidth"),
            s_max,
            mean,
            g["max_batch_size"],
            g["page_size"],
        )
        n_p, n_s = cb["n_paged"], cb["n_static"]
        admitted = n_p > 0
        has_budget = cb["budget"] > 0
        prefill = n_p * s_max * m.prefill_flops_per_token(s_max) / (peak * g["efficiency"])
        static_fits = n_s > 0
        speedup = np.where(
            static_fits, cb["paged_tps"] / np.where(static_fits, cb["static_tps"], 1.0), np.where(admitted, np.inf, 1.0)
        )
        return {
            "feasible": admitted,
            "infeasible_reason": _batching_reason(cb["budget"], n_p),
            "throughput_tokens_per_sec": cb["paged_tps"],
            "max_active_requests": n_p,
            "static_throughput_tokens_per_sec": cb["static_tps"],
            "static_max_active_requests": n_s,
            "paged_internal_fragmentation": np.where(has_budget, cb["paged_frag"], 0.0),
            "static_internal_fragmentation": np.where(has_budget, 1.0 - mean / s_max, 0.0),
            "paged_kv_cache_size": m.kv_per_token * n_p * cb["allocated"],
            "static_kv_cache_size": m.kv_per_token * n_s * s_max,
            "ttft": np.where(admitted, prefill + g.field("hardware", "dispatch_tax"), np.nan),
            "itl": np.where(admitted, cb["paged_step"], np.nan),
            "speedup_vs_static": speedup,
            "peak_flops_fallback": fallback,
        }


class WeightStreamingModel(Resolver):
    """Weight-streaming (wafer-scale) inference: weights are injected layer by layer while the
    KV cache stays on the device.

    model : TransformerWorkload record
    hardware : HardwareNode record — ``memory_capacity`` holds the KV cache, the interconnect
        (as stored; 100 GB/s when absent) injects the weights
    seq_len : tokens held per sequence S, >= 1 (required)
    batch_size : sequences B, >= 1 (default 1)
    precision : width of weights and KV (default "fp16", D15)
    efficiency : fraction of peak FLOP/s, in (0, 1] (default 0.5)
    phase : "decode" (default) or "prefill" (case-insensitive; anything else raises, D14)

    Equations (``reference/anchor-0.3.0-spec-part2.md`` §3; D1, D2, D14): per layer, weight
    injection ``t_inj = (P/L)·b/BW_inj``; compute ``t_comp = FLOPs/(F·η) + dispatch_tax`` with
    FLOPs ``2·P_l·B`` (decode) or ``2·P_l·S·B + 2·B·a_kv·S²·d`` (prefill), ``P_l`` the layer's
    share of the active parameters (D1); the layer takes ``max(t_comp, t_inj)`` (perfect
    overlap; bottleneck Compute or Injection). Throughput = tokens (B or B·S) / (L × layer
    time), 0 when infeasible. The device holds ``1.1 × KV`` (the library's KV kernel: GQA, head
    width D2, MLA); ``feasible`` when that fits (``infeasible_reason`` sram_capacity).
    ``optimal_batch_size = max(1, ⌊t_inj·F·η/(2·P_l)⌋)``.
    """

    ARGS = (
        _model(),
        HARDWARE,
        Arg("seq_len", "integer", low=1),
        Arg("batch_size", "integer", default=1, low=1),
        PRECISION,
        Arg("efficiency", default=0.5, low=0.0, low_open=True, high=1.0),
        Arg("phase", "choice", default="decode", choices=("decode", "prefill")),
    )

    def _compute(self, g: Grid) -> dict:
        b, is_16bit, peak, fallback = precision_terms(g)
        m = _Transformer(g, "model", b, is_16bit)
        seq, batch = g["seq_len"], g["batch_size"]
        prefill = g["phase"] == _PREFILL
        flops_eff = peak * g["efficiency"]
        link = sv.injection_bandwidth(g.field("hardware", "host_link_bandwidth_raw"))
        injection = m.parameters / m.layers * b / link
        active_layer = m.active_parameters / m.layers
        flops = sv.streaming_layer_flops(active_layer, m.kv_heads, m.head_width, seq, batch, prefill)
        compute = flops / flops_eff + g.field("hardware", "dispatch_tax")
        compute_bound = compute >= injection
        layer_time = np.maximum(compute, injection)
        tokens = np.where(prefill, batch * seq, batch)
        required = sv.KV_WORKING_SET_OVERHEAD * m.kv_per_token * seq * batch
        capacity = g.field("hardware", "memory_capacity")
        use = np.where(capacity > 0, required / np.where(capacity > 0, capacity, 1.0), 1.0)
        fits = required <= capacity
        return {
            "feasible": fits,
            "infeasible_reason": _code(~fits, reason("sram_capacity")),
            "throughput_tokens_per_sec": np.where(fits, tokens / (layer_time * m.layers), 0.0),
            "bottleneck": np.where(compute_bound, _COMPUTE, _INJECTION).astype(np.int8),
            "layer_compute_time": compute,
            "layer_injection_time": injection,
            "optimal_batch_size": sv.balance_batch(b, m.parameters / m.active_parameters, flops_eff, link),
            "wafer_memory_utilization": np.where(fits, np.minimum(use, 1.0), use),
            "wafer_memory_required": required,
            "peak_flops_fallback": fallback,
        }


class TailLatencyModel(Resolver):
    """Tail latency of an M/M/c queue of replicas (Erlang C in log space, any replica count).

    arrival_rate_qps : λ [1/s], >= 0 (required; negative raises, D14)
    service_latency_ms : mean service time s [ms], >= 0 (required; 0 means no service: unstable)
    num_replicas : servers c, >= 1 (default 1; 0 raises, D14)
    service_time_cv : coefficient of variation of service, >= 0 (default 1: exponential);
        the waits are scaled by Kingman's (cv² + 1)/2

    Outputs (``reference/anchor-0.3.0-spec.md`` §5.3, ``physics.queueing``): ``p50_latency`` and
    ``p99_latency`` = wait quantile + s (∞ when unstable, ρ >= 1); ``queue_utilization`` ρ (1 when
    unstable); ``is_stable``; ``slo_headroom_ratio`` = P99 wait/(5·s) (1 when unstable, as the
    reference); ``wait_probability`` (Erlang C).
    """

    ARGS = (
        Arg("arrival_rate_qps", unit="1/s", low=0.0),
        Arg("service_latency_ms", unit="ms", low=0.0),
        Arg("num_replicas", "integer", default=1, low=1),
        Arg("service_time_cv", default=1.0, low=0.0),
    )

    def _compute(self, g: Grid) -> dict:
        g = _eager(g)
        lam = np.asarray(g["arrival_rate_qps"])
        service = np.asarray(g["service_latency_ms"])
        c = np.asarray(g["num_replicas"])
        with np.errstate(divide="ignore"):
            rate = np.where(service > 0, 1.0 / service, 0.0)
        load = lam * service
        stable = (rate > 0) & (lam < c * rate)
        p_wait = qu.erlang_c(load, c)  # 1 where unstable
        k = qu.kingman_factor(g["service_time_cv"])
        w50 = qu.wait_quantile(p_wait, c, rate, lam, 0.5) * k
        w99 = qu.wait_quantile(p_wait, c, rate, lam, 0.99) * k
        with np.errstate(divide="ignore", invalid="ignore"):
            headroom = w99 / (5.0 * service)
        unknown = np.isnan(load * c * k)  # a NaN input stays NaN

        def unstable(value):
            return np.where(unknown, np.nan, value)

        return {
            "p50_latency": np.where(stable, w50 + service, unstable(np.inf)),
            "p99_latency": np.where(stable, w99 + service, unstable(np.inf)),
            "queue_utilization": np.where(stable, load / c, unstable(1.0)),
            "is_stable": stable,
            "slo_headroom_ratio": np.where(stable, headroom, unstable(1.0)),
            "wait_probability": np.where(stable, p_wait, unstable(1.0)),
        }


class ServingCapacityModel(Resolver):
    """How many serving replicas meet a P99 latency target at a request rate?

    model : TransformerWorkload record
    hardware : HardwareNode record — one replica's accelerator
    qps : aggregate arrivals [1/s] > 0 (required)
    target_p99_latency_ms : P99 target [ms] > 0 (required)
    max_seq_len : tokens per request, prompt + output, >= 1 (default 2048; alias ``seq_len``, D21)
    mean_request_tokens : mean request length in (0, max_seq_len] (default None: max_seq_len)
    output_tokens : tokens generated per request, >= 1 (default 128)
    max_batch_size : concurrency cap per replica, >= 1 (default 32)
    precision, efficiency : as ServingModel (efficiency in [1e-9, 1])
    max_replicas : largest replica count searched, >= 1 (default 1024)
    service_time_cv : >= 0 (default 1); the queue waits are scaled by (cv² + 1)/2

    Algorithm (``reference/anchor-0.3.0-spec.md`` §5.2; D5, D9):
    1. continuous batching (page 16) admits N requests per replica at ``T`` tokens/s (the one
       decode-step kernel, D5); a replica serves ``q = T/output_tokens`` requests/s;
    2. ServingModel at ``seq_len = ⌊mean⌋`` and batch ``max(1, N)`` gives TTFT and ITL; the base
       request latency is ``TTFT + output_tokens × ITL``;
    3. memory: infeasible when either does not fit (bottleneck Memory: replicas = max_replicas,
       capacity 0, p99 ∞; reason no_kv_budget or memory_capacity);
    4. D9: when the base latency alone exceeds the target the point is infeasible at once
       (bottleneck Base Latency, reason base_latency; replicas, capacity, utilisation and wait
       NaN; estimated P99 = the base latency, its limit with enough replicas);
    5. otherwise the smallest replica count r whose M/M/r queue (λ = qps, μ = q) is stable and
       whose P99 wait × Kingman factor fits ``target − base`` (bisection over windows of
       candidate counts, ``physics.queueing.min_servers_for_wait``). None within
       ``max_replicas``: infeasible at ``max_replicas`` with bottleneck Tail Latency (stable,
       reason latency_target) or Capacity (unstable, reason unstable_queue).
    ``qps_capacity = r·q``, ``utilization = qps/(r·q)``, ``estimated_p99 = base + wait``.
    """

    ARGS = (
        _model(),
        HARDWARE,
        Arg("qps", unit="1/s", low=0.0, low_open=True),
        Arg("target_p99_latency_ms", unit="ms", low=0.0, low_open=True),
        Arg("max_seq_len", default=2048, keyword_aliases=("seq_len",), **_MAX_SEQ_LEN),
        Arg("mean_request_tokens", default=None, low=0.0, low_open=True),
        Arg("output_tokens", "integer", default=128, low=1),
        Arg("max_batch_size", "integer", default=32, low=1),
        PRECISION,
        Arg("efficiency", default=0.5, low=1e-9, high=1.0),
        Arg("max_replicas", "integer", default=1024, low=1),
        Arg("service_time_cv", default=1.0, low=0.0),
    )

    _check = ContinuousBatchingModel._check

    def _compute(self, g: Grid) -> dict:
        g = _eager(g)
        b, is_16bit, peak, fallback = precision_terms(g)
        m = _Transformer(g, "model", b, is_16bit)
        capacity = g.field("hardware", "memory_capacity")
        s_max = g["max_seq_len"]
        mean = g["mean_request_tokens"] if "mean_request_tokens" in g.inputs else s_max
        cb = _batching(m, capacity, g.field("hardware", "memory_bandwidth"), s_max, mean, g["max_batch_size"], 16.0)
        out_tokens = g["output_tokens"]
        per_replica = cb["paged_tps"] / out_tokens
        active = np.maximum(1.0, cb["n_paged"])
        seq = np.maximum(1.0, np.floor(mean))
        _, _, prefill, kv = _serve(m, seq, active, 0.0, peak * g["efficiency"])
        ttft = prefill + g.field("hardware", "dispatch_tax")
        itl = sv.decode_step_time(m.weights, kv, g.field("hardware", "memory_bandwidth"), m.layers)
        base = ttft + out_tokens * itl
        fits = (cb["n_paged"] > 0) & (m.weights + kv <= capacity)
        servable = fits & (per_replica > 0)
        target = np.asarray(g["target_p99_latency_ms"])
        too_slow = servable & (base > target)  # D9
        qps = np.asarray(g["qps"])
        k = qu.kingman_factor(g["service_time_cv"])
        max_r = g["max_replicas"]
        rate = np.where(per_replica > 0, per_replica, np.nan)
        searched = servable & ~too_slow
        replicas, fitted_wait, found = qu.min_servers_for_wait(qps, rate, (target - base) / k, max_r, searched)
        at = np.where(found, replicas, max_r)  # the count the outputs describe
        stable = at * rate > qps
        missed = searched & ~found & stable  # the wait at max_replicas
        p_wait = qu.erlang_c(np.where(missed, qps / rate, np.nan), np.where(missed, at, 1.0))
        wait = np.where(found, fitted_wait, np.where(stable, qu.wait_quantile(p_wait, at, rate, qps, 0.99), np.inf)) * k
        r_out = np.where(too_slow, np.nan, np.where(servable, at, max_r))
        cap_out = np.where(too_slow, np.nan, np.where(servable, at * per_replica, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            util = np.where(too_slow, np.nan, np.where(servable, qps / cap_out, np.inf))
        wait_out = np.where(too_slow, np.nan, np.where(servable, wait, np.inf))
        p99 = np.where(too_slow, base, np.where(servable, base + wait, np.inf))
        bottleneck = np.where(
            ~fits,
            _MEMORY,
            np.where(
                ~servable,
                _CAPACITY,
                np.where(too_slow, _BASE, np.where(found, _FEASIBLE, np.where(stable, _TAIL, _CAPACITY))),
            ),
        )
        why = np.where(
            ~fits,
            _batching_reason(cb["budget"], cb["n_paged"]),
            np.where(
                ~servable,
                reason("no_capacity"),
                np.where(
                    too_slow,
                    reason("base_latency"),
                    np.where(found, 0, np.where(stable, reason("latency_target"), reason("unstable_queue"))),
                ),
            ),
        ).astype(np.int8)
        unknown = np.isnan(qps * target * base * per_replica * k * max_r)  # a NaN input stays NaN
        known = lambda value: np.where(unknown, np.nan, value)  # noqa: E731
        return {
            "feasible": searched & found,
            "infeasible_reason": why,
            "required_replicas": known(r_out),
            "qps_target": qps,
            "qps_capacity": known(cap_out),
            "per_replica_qps_capacity": np.where(fits, per_replica, 0.0),
            "utilization": known(util),
            "target_p99_latency": target,
            "estimated_p99_latency": known(p99),
            "base_request_latency": base,
            "queue_wait_p99": known(wait_out),
            "active_batch_size": active,
            "ttft": ttft,
            "itl": itl,
            "bottleneck": bottleneck.astype(np.int8),
            "peak_flops_fallback": fallback,
        }


class InferenceScalingModel(Resolver):
    """Inference-time compute: a reasoning query of K steps of ``tokens_per_step`` tokens.

    model : TransformerWorkload record
    hardware : HardwareNode record
    reasoning_steps : K, >= 0 (default 8; negative raises, D14)
    context_length : context S of ServingModel, >= 1 (default 2048)
    precision, efficiency : as ServingModel
    tokens_per_step : tokens generated per step (default 50, TOKENS_PER_REASONING_STEP)

    Equations (``reference/anchor-0.3.0-spec-part2.md`` §8): ServingModel at ``seq_len = S``,
    batch 1 gives TTFT and ITL (D1, D2, D5 apply); ``time_per_step = tokens_per_step × ITL``;
    ``total = TTFT + K × time_per_step`` (ITL at the initial context, as the reference);
    ``energy_per_query = TDP × total`` (full TDP, as the reference; 0 J without a TDP).
    ``feasible`` is ServingModel's memory check; times are reported either way.
    """

    ARGS = (
        _model(),
        HARDWARE,
        Arg("reasoning_steps", "integer", default=8, low=0),
        Arg("context_length", "integer", default=2048, low=1),
        PRECISION,
        Arg("efficiency", default=0.5, low=0.0, low_open=True, high=1.0),
        Arg("tokens_per_step", "integer", default=50, low=1),
    )

    def _compute(self, g: Grid) -> dict:
        b, is_16bit, peak, fallback = precision_terms(g)
        m = _Transformer(g, "model", b, is_16bit)
        _, _, prefill, kv = _serve(m, g["context_length"], 1.0, 0.0, peak * g["efficiency"])
        ttft = prefill + g.field("hardware", "dispatch_tax")
        itl = sv.decode_step_time(m.weights, kv, g.field("hardware", "memory_bandwidth"), m.layers)
        fits = m.weights + kv <= g.field("hardware", "memory_capacity")
        per_step = g["tokens_per_step"] * itl
        total = ttft + g["reasoning_steps"] * per_step
        tdp = g.field("hardware", "tdp")
        return {
            "total_reasoning_time": total,
            "ttft": ttft,
            "itl": itl,
            "time_per_step": per_step,
            "tokens_generated": g["reasoning_steps"] * g["tokens_per_step"],
            "energy_per_query": np.where(np.isnan(tdp), 0.0, tdp) * total,
            "feasible": fits,
            "infeasible_reason": _code(~fits, reason("memory_capacity")),
            "peak_flops_fallback": fallback,
        }
