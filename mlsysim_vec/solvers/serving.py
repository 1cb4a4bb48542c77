"""LLM serving domain: ``ServingModel``, ``ContinuousBatchingModel``, ``WeightStreamingModel``,
``TailLatencyModel``, ``ServingCapacityModel``, ``InferenceScalingModel``.

"How fast will my LLM generate tokens?", "Can I serve this LLM on this GPU?", "How many serving
replicas do I need for this SLA?" — each answered over a whole grid in one call. Every resolver
is a facade: it reads the grid, calls one step function of ``physics.serving`` or
``physics.queueing`` and encodes the step's flags into the shared category codes. The equations
are in ``docs/equations.md`` (sections "Serving" and "Queueing"), the deviations from mlsysim
0.3.0 in docs/differences.md (D1, D2, D5, D9, D14, D15, D21).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..grid import REQUIRED, Arg, Grid
from ..hardware.types import HardwareNode
from ..models.types import TransformerWorkload
from ..physics import queueing as qu
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


def _outputs(names: tuple[str, ...], step: dict, **codes) -> dict:
    """The outputs ``names`` in order: the category codes given, the rest from the step."""
    return {name: codes[name] if name in codes else step[name] for name in names}


def _optional(g: Grid, name: str):
    """An optional argument's array, or None when it was left out."""
    return g[name] if name in g.inputs else None


def _transformer(g: Grid, name: str, b, is_16bit) -> sv.Transformer:
    """The Transformer record argument ``name`` at ``b`` bytes per element."""

    def field(key):
        return g.field(name, key)

    return sv.transformer(
        layers=field("layers"),
        heads=field("heads_or_default"),
        kv_heads=field("kv_heads_or_default"),
        head_width=field("head_width"),  # D2
        parameters=field("parameters"),
        active_parameters=field("active_parameters"),  # D1
        model_size=field("model_size"),
        weights_rule=field("weights_rule"),
        is_mla=field("is_mla"),
        kv_lora_rank=field("kv_lora_rank"),
        rope_head_dim=field("qk_rope_head_dim"),
        bytes_per_el=b,
        is_16bit=is_16bit,
    )


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


def _batching_reason(has_budget, admitted):
    """no_kv_budget when the weights leave no memory, memory_capacity when nothing is admitted."""
    return np.where(~has_budget, reason("no_kv_budget"), np.where(admitted, 0, reason("memory_capacity"))).astype(
        np.int8
    )


_HARDWARE_DOC = "accelerator: its peak FLOP/s, memory bandwidth, memory capacity and dispatch tax"
_EFFICIENCY = dict(default=0.5, low=0.0, low_open=True, high=1.0, doc="fraction of peak FLOP/s achieved in prefill")
_MAX_SEQ_LEN = dict(kind="integer", low=1, keyword_aliases=("seq_len",))


class ServingModel(Resolver):
    """How fast does one accelerator serve an LLM: time to first token, inter-token latency,
    KV cache and memory?

    Prefill is compute-bound and decode memory-bound. Options: prompt caching
    (``cached_prefix_len``), chunked prefill (``prefill_chunk_tokens``), speculative decoding
    (``draft_model``) and disaggregated serving (``decode_hardware``: prefill on ``hardware``,
    decode there, the KV cache sent over ``network_bandwidth``). Times are reported for
    infeasible points too; ``infeasible_reason`` is memory_capacity (colocated),
    decode_memory_capacity or prefill_memory_capacity (disaggregated).

    Notes
    -----
    With ``S`` context tokens (cached prefix ``C`` included), batch ``B``, active parameters
    ``P_active`` (D1), ``L`` layers, ``a`` heads of width ``d`` (D2), ``k`` KV bytes per token,
    weights ``W``, peak ``F`` at the precision, efficiency ``eta`` and the decode device's
    bandwidth ``BW``::

        N            = max(1, S - C)                       new tokens
        prefill FLOPs = N B (2 P_active + 4 L a d S)
        TTFT         = FLOPs / (F eta) + dispatch_tax x passes   (+ KV / network_bandwidth)
        KV           = k S B
        ITL          = (W + KV) / BW + L x 0.01 ms         the one decode-step kernel (D5)
        memory       = W + KV  (+ W_draft + KV_draft)      on the decode device

    Speculative decoding with ``K = 4`` draft tokens and acceptance ``alpha``:
    ``ITL = (K t_draft + ITL_target) / E`` with ``E = 1 + alpha + ... + alpha^K``, ``t_draft``
    the draft's own decode step (same kernel, D5). Chunked prefill with chunks of ``c``
    tokens: ``ceil(N / c)`` passes; the largest chunk, ``min(c, N)`` tokens, takes
    ``prefill_chunk_time`` = ``decode_stall_bound``. Disaggregated, the prefill device must
    hold ``W + KV`` (D5).

    See ``docs/equations.md``, section "Serving", and docs/differences.md, D1, D2, D5, D15.

    References
    ----------
    Pope, R., Douglas, S., Chowdhery, A., et al. (2023). Efficiently scaling Transformer
    inference. MLSys 2023. arXiv:2211.05102.

    Leviathan, Y., Kalman, M., Matias, Y. (2023). Fast inference from Transformers via
    speculative decoding. ICML 2023. arXiv:2211.17192.

    Ainslie, J., Lee-Thorp, J., de Jong, M., et al. (2023). GQA: training generalized
    multi-query Transformer models from multi-head checkpoints. EMNLP 2023. arXiv:2305.13245.
    """

    ARGS = (
        _model(),
        replace(HARDWARE, doc="prefill accelerator, and the decode accelerator unless decode_hardware is given"),
        Arg("seq_len", "integer", low=1, doc="context tokens S of each sequence, cached prefix included"),
        Arg("batch_size", "integer", default=1, low=1, doc="concurrent sequences B"),
        PRECISION,
        Arg("efficiency", **_EFFICIENCY),
        Arg(
            "decode_hardware",
            "record",
            default=None,
            types=(HardwareNode,),
            type_hint="HardwareNode record (Hardware.*) or None",
        ),
        Arg(
            "network_bandwidth",
            default=100e9,
            unit="byte/s",
            low=0.0,
            low_open=True,
            doc="prefill-to-decode link carrying the KV cache (used only with decode_hardware)",
        ),
        _model("draft_model", optional=True),
        Arg("draft_acceptance_rate", default=0.7, low=0.0, high=1.0),
        Arg(
            "cached_prefix_len",
            "integer",
            default=0,
            low=0,
            doc="tokens of the context already in the KV cache (prompt caching), below seq_len",
        ),
        Arg("prefill_chunk_tokens", "integer", default=None, low=1),
    )
    OUTPUTS = (
        "ttft",
        "itl",
        "kv_cache_size",
        "model_weights_size",
        "total_memory_required",
        "memory_utilization",
        "feasible",
        "infeasible_reason",
        "prompt_cache_hit_ratio",
        "prefill_chunks",
        "prefill_chunk_time",
        "decode_stall_bound",
        "kv_transfer_time",
        "prefill_memory_utilization",
        "peak_flops_fallback",
    )

    def _check(self, g: Grid) -> None:
        _check_below(g, "cached_prefix_len", "seq_len", strict=True)

    def _compute(self, g: Grid) -> dict:
        b, is_16bit, peak, fallback = precision_terms(g)
        disaggregated = "decode_hardware" in g.inputs
        decode = "decode_hardware" if disaggregated else "hardware"
        draft = _transformer(g, "draft_model", b, is_16bit) if "draft_model" in g.inputs else None
        step = sv.inference_step(
            _transformer(g, "model", b, is_16bit),
            g["seq_len"],
            g["batch_size"],
            peak,
            g["efficiency"],
            g.field("hardware", "dispatch_tax"),
            g.field(decode, "memory_bandwidth"),
            g.field(decode, "memory_capacity"),
            cached_tokens=g["cached_prefix_len"],
            chunk_tokens=_optional(g, "prefill_chunk_tokens"),
            draft=draft,
            draft_acceptance=g["draft_acceptance_rate"],
            prefill_memory_capacity=g.field("hardware", "memory_capacity") if disaggregated else None,
            network_bandwidth=g["network_bandwidth"] if disaggregated else None,
        )
        fits = step["memory_fits"]
        if disaggregated:
            why = np.where(
                ~fits,
                reason("decode_memory_capacity"),
                np.where(~step["prefill_memory_fits"], reason("prefill_memory_capacity"), 0),
            ).astype(np.int8)
        else:
            why = _code(~fits, reason("memory_capacity"))
        return _outputs(self.OUTPUTS, step, infeasible_reason=why, peak_flops_fallback=fallback)


class ContinuousBatchingModel(Resolver):
    """How many requests does continuous batching with a paged KV cache serve at once, and how
    much faster than static max-length reservations?

    Request lengths are exponential with mean ``mean_request_tokens``, capped at
    ``max_seq_len``. A static allocator reserves ``max_seq_len`` tokens per request; a paged
    allocator allocates pages of ``page_size`` tokens as a request grows. Infeasible (nothing
    admitted): counts, throughputs and KV sizes 0, fragmentation 0, ``ttft`` and ``itl`` NaN,
    ``speedup_vs_static`` 1; ``infeasible_reason`` no_kv_budget when the weights leave no
    memory, memory_capacity when one request's pages do not fit. ``speedup_vs_static`` is
    infinite when only the paged allocator admits a request.

    Notes
    -----
    KV budget ``M = capacity - W``, ``k`` KV bytes per token, ``S_max`` the cap, ``p`` the page,
    ``B_max`` the scheduler cap::

        static admits   N_s = min(floor(M / (k S_max)), B_max)
        paged admits    N_p = min(floor(floor(M / (k p)) p / alloc + 1e-9), B_max)
        alloc           = p E[ceil(X / p)],  X ~ Exp(mu) capped at S_max, E[X] = mean
        decode step     = (W + k N mean) / BW + L x 0.01 ms     the one kernel (D5)
        throughput      = N / step
        TTFT            = N_p S_max (2 P_active + 4 L a d S_max) / (F eta) + dispatch_tax

    ``itl`` is the step of the admitted requests. Fragmentation: paged ``max(0, 1 - mean /
    alloc)``, static ``1 - mean / S_max``. See ``docs/equations.md``, section "Serving", and
    docs/differences.md, D1, D2, D5, D21.

    References
    ----------
    Kwon, W., Li, Z., Zhuang, S., et al. (2023). Efficient memory management for large
    language model serving with PagedAttention. SOSP 2023. arXiv:2309.06180.
    """

    ARGS = (
        _model(),
        replace(HARDWARE, doc=_HARDWARE_DOC),
        Arg("max_seq_len", **_MAX_SEQ_LEN),
        Arg(
            "mean_request_tokens",
            default=None,
            low=0.0,
            low_open=True,
            doc="mean tokens per request, at most max_seq_len (None: max_seq_len)",
        ),
        Arg("max_batch_size", "integer", default=1, low=1, keyword_aliases=("max_batch",)),
        Arg("page_size", "integer", default=16, low=1),
        PRECISION,
        Arg("efficiency", **(_EFFICIENCY | dict(low=1e-9, low_open=False))),
    )
    OUTPUTS = (
        "feasible",
        "infeasible_reason",
        "throughput_tokens_per_sec",
        "max_active_requests",
        "static_throughput_tokens_per_sec",
        "static_max_active_requests",
        "paged_internal_fragmentation",
        "static_internal_fragmentation",
        "paged_kv_cache_size",
        "static_kv_cache_size",
        "ttft",
        "itl",
        "speedup_vs_static",
        "peak_flops_fallback",
    )

    def _check(self, g: Grid) -> None:
        _check_below(g, "mean_request_tokens", "max_seq_len", strict=False)

    def _compute(self, g: Grid) -> dict:
        b, is_16bit, peak, fallback = precision_terms(g)
        step = sv.continuous_batching_step(
            _transformer(g, "model", b, is_16bit),
            g["max_seq_len"],
            _optional(g, "mean_request_tokens"),
            g["max_batch_size"],
            g["page_size"],
            peak,
            g["efficiency"],
            g.field("hardware", "dispatch_tax"),
            g.field("hardware", "memory_bandwidth"),
            g.field("hardware", "memory_capacity"),
        )
        why = _batching_reason(step["has_kv_budget"], step["feasible"])
        return _outputs(self.OUTPUTS, step, infeasible_reason=why, peak_flops_fallback=fallback)


class WeightStreamingModel(Resolver):
    """How fast does a weight-streaming (wafer-scale) device run an LLM whose weights are
    injected layer by layer while the KV cache stays on the device?

    The device's ``memory_capacity`` holds the KV cache; its interconnect (as stored; 100 GB/s
    when absent or zero) injects the weights. ``feasible`` when the KV working set fits
    (``infeasible_reason`` sram_capacity); ``bottleneck`` is Compute or Injection, whichever
    takes a layer longer.

    Notes
    -----
    Per layer, with ``P`` parameters, ``L`` layers, ``b`` bytes per element, ``P_l = P_active /
    L`` (D1), ``a_kv`` KV heads of width ``d`` (D2)::

        t_inj  = (P / L) b / BW_inj
        FLOPs  = 2 P_l B                                  (decode)
               = 2 P_l S B + 2 B a_kv S^2 d               (prefill)
        t_comp = FLOPs / (F eta) + dispatch_tax
        layer  = max(t_comp, t_inj)                       (perfect overlap)
        throughput = tokens / (L x layer)                 tokens B (decode) or B S (prefill)
        memory = 1.1 k S B                                 KV cache + 10 %
        optimal_batch_size = max(1, floor(t_inj F eta / (2 P_l)))

    Throughput is 0 when infeasible. See ``docs/equations.md``, section "Serving", and
    docs/differences.md, D1, D2, D14.

    References
    ----------
    Lie, S. (2023). Cerebras architecture deep dive: first look inside the hardware/software
    co-design for deep learning. IEEE Micro 43(3). doi:10.1109/MM.2023.3256384.
    """

    ARGS = (
        _model(),
        replace(
            HARDWARE,
            doc="weight-streaming device: its memory holds the KV cache, its interconnect (as stored; 100 GB/s "
            "when it has none) injects the weights",
        ),
        Arg("seq_len", "integer", low=1, doc="tokens held per sequence S"),
        Arg("batch_size", "integer", default=1, low=1, doc="sequences B"),
        PRECISION,
        Arg("efficiency", default=0.5, low=0.0, low_open=True, high=1.0),
        Arg("phase", "choice", default="decode", choices=("decode", "prefill")),
    )
    OUTPUTS = (
        "feasible",
        "infeasible_reason",
        "throughput_tokens_per_sec",
        "bottleneck",
        "layer_compute_time",
        "layer_injection_time",
        "optimal_batch_size",
        "wafer_memory_utilization",
        "wafer_memory_required",
        "peak_flops_fallback",
    )

    def _compute(self, g: Grid) -> dict:
        b, is_16bit, peak, fallback = precision_terms(g)
        step = sv.weight_streaming_step(
            _transformer(g, "model", b, is_16bit),
            g["seq_len"],
            g["batch_size"],
            g["phase"] == _PREFILL,
            b,
            peak,
            g["efficiency"],
            g.field("hardware", "dispatch_tax"),
            g.field("hardware", "host_link_bandwidth_raw"),
            g.field("hardware", "memory_capacity"),
        )
        return _outputs(
            self.OUTPUTS,
            step,
            infeasible_reason=_code(~step["feasible"], reason("sram_capacity")),
            bottleneck=np.where(step["compute_bound"], _COMPUTE, _INJECTION).astype(np.int8),
            peak_flops_fallback=fallback,
        )


class TailLatencyModel(Resolver):
    """What are the median and P99 request latencies of a pool of replicas (an M/M/c queue)?

    Erlang C is evaluated in log space, so any replica count works (thousands included).
    Unstable queues (utilisation >= 1, or no service) report infinite latencies, utilisation
    1, wait probability 1 and headroom 1.

    Notes
    -----
    Arrivals ``lambda``, ``c`` replicas of mean service time ``s`` (rate ``mu = 1 / s``),
    offered load ``A = lambda s``, utilisation ``rho = A / c``::

        C(c, A) = T / (S + T),  S = sum_{i<c} A^i / i!,  T = A^c / (c! (1 - rho))   (Erlang C)
        P(W > t) = C exp(-(c mu - lambda) t)
        W_q     = ln(C / (1 - q)) / (c mu - lambda)   if C >= 1 - q, else 0
        p50, p99 = k W_q + s,   k = (cv^2 + 1) / 2   (Kingman)
        slo_headroom_ratio = k W_0.99 / (5 s)

    See ``docs/equations.md``, section "Queueing".

    References
    ----------
    Erlang, A. K. (1917). Solution of some problems in the theory of probabilities of
    significance in automatic telephone exchanges. Elektroteknikeren 13.

    Kleinrock, L. (1975). Queueing Systems, Volume 1: Theory. Wiley, section 3.5.

    Kingman, J. F. C. (1961). The single server queue in heavy traffic. Mathematical
    Proceedings of the Cambridge Philosophical Society 57(4). doi:10.1017/S0305004100036094.
    """

    ARGS = (
        Arg("arrival_rate_qps", unit="1/s", low=0.0),
        Arg(
            "service_latency_ms",
            unit="ms",
            low=0.0,
            doc="mean service time s of one request on one replica (0: no service, the queue is unstable)",
        ),
        Arg("num_replicas", "integer", default=1, low=1),
        Arg(
            "service_time_cv",
            default=1.0,
            low=0.0,
            doc="coefficient of variation of the service time (1: exponential); the waits are scaled by (cv^2 + 1)/2",
        ),
    )
    OUTPUTS = (
        "p50_latency",
        "p99_latency",
        "queue_utilization",
        "is_stable",
        "slo_headroom_ratio",
        "wait_probability",
    )

    def _compute(self, g: Grid) -> dict:
        g = _eager(g)
        return qu.tail_latency_step(
            g["arrival_rate_qps"], g["service_latency_ms"], g["num_replicas"], g["service_time_cv"]
        )


class ServingCapacityModel(Resolver):
    """How many serving replicas meet a P99 latency target at a request rate?

    One replica serves by continuous batching (pages of 16 tokens); a request's base latency
    is its time to first token plus ``output_tokens`` inter-token latencies; the replicas form
    an M/M/r queue whose P99 wait must fit in what the base latency leaves of the target.
    ``bottleneck`` and ``infeasible_reason`` say what stops a point: Memory (no_kv_budget or
    memory_capacity), Base Latency (base_latency: one request alone misses the target, D9),
    Tail Latency (latency_target: stable but too slow at ``max_replicas``) or Capacity
    (unstable_queue at ``max_replicas``; no_capacity when a replica serves nothing).

    Notes
    -----
    1. Continuous batching admits ``N`` requests per replica at ``T`` tokens/s (the one
       decode-step kernel, D5); a replica serves ``mu = T / output_tokens`` requests/s.
    2. ServingModel at ``seq_len = floor(mean)`` and batch ``max(1, N)`` gives TTFT and ITL;
       ``base = TTFT + output_tokens x ITL``.
    3. Memory: infeasible when either does not fit (replicas = ``max_replicas``, capacity 0,
       P99 infinite).
    4. D9: when ``base`` alone exceeds the target the point is infeasible at once; replicas,
       capacity, utilisation and wait are NaN and the estimated P99 is ``base``.
    5. Otherwise ``r`` is the smallest replica count whose M/M/r queue (arrivals ``qps``,
       service rate ``mu``) is stable and whose P99 wait times Kingman's ``(cv^2 + 1) / 2``
       fits ``target - base`` (bisection over windows of candidate counts); none within
       ``max_replicas`` reports ``max_replicas``.

    ``qps_capacity = r mu``, ``utilization = qps / (r mu)``, ``estimated_p99 = base + wait``.
    See ``docs/equations.md``, sections "Serving" and "Queueing", and docs/differences.md, D5,
    D9, D21.

    References
    ----------
    Kwon, W., Li, Z., Zhuang, S., et al. (2023). Efficient memory management for large
    language model serving with PagedAttention. SOSP 2023. arXiv:2309.06180.

    Kleinrock, L. (1975). Queueing Systems, Volume 1: Theory. Wiley, section 3.5.

    Kingman, J. F. C. (1961). The single server queue in heavy traffic. Mathematical
    Proceedings of the Cambridge Philosophical Society 57(4). doi:10.1017/S0305004100036094.
    """

    ARGS = (
        _model(),
        replace(HARDWARE, doc="one replica's accelerator"),
        Arg("qps", unit="1/s", low=0.0, low_open=True),
        Arg("target_p99_latency_ms", unit="ms", low=0.0, low_open=True),
        Arg("max_seq_len", default=2048, **_MAX_SEQ_LEN),
        Arg(
            "mean_request_tokens",
            default=None,
            low=0.0,
            low_open=True,
            doc="mean tokens per request, at most max_seq_len (None: max_seq_len)",
        ),
        Arg("output_tokens", "integer", default=128, low=1),
        Arg("max_batch_size", "integer", default=32, low=1),
        PRECISION,
        Arg("efficiency", **(_EFFICIENCY | dict(low=1e-9, low_open=False))),
        Arg("max_replicas", "integer", default=1024, low=1),
        Arg("service_time_cv", default=1.0, low=0.0, doc=TailLatencyModel.arguments()["service_time_cv"].doc),
    )
    OUTPUTS = (
        "feasible",
        "infeasible_reason",
        "required_replicas",
        "qps_target",
        "qps_capacity",
        "per_replica_qps_capacity",
        "utilization",
        "target_p99_latency",
        "estimated_p99_latency",
        "base_request_latency",
        "queue_wait_p99",
        "active_batch_size",
        "ttft",
        "itl",
        "bottleneck",
        "peak_flops_fallback",
    )

    _check = ContinuousBatchingModel._check

    def _compute(self, g: Grid) -> dict:
        g = _eager(g)
        b, is_16bit, peak, fallback = precision_terms(g)
        step = sv.serving_capacity_step(
            _transformer(g, "model", b, is_16bit),
            g["qps"],
            g["target_p99_latency_ms"],
            g["max_seq_len"],
            _optional(g, "mean_request_tokens"),
            g["output_tokens"],
            g["max_batch_size"],
            g["max_replicas"],
            g["service_time_cv"],
            peak,
            g["efficiency"],
            g.field("hardware", "dispatch_tax"),
            g.field("hardware", "memory_bandwidth"),
            g.field("hardware", "memory_capacity"),
        )
        fits, servable = step["memory_fits"], step["servable"]
        too_slow, found, stable = step["base_latency_exceeded"], step["target_met"], step["queue_stable"]
        bottleneck = np.where(
            ~fits,
            _MEMORY,
            np.where(
                ~servable,
                _CAPACITY,
                np.where(too_slow, _BASE, np.where(found, _FEASIBLE, np.where(stable, _TAIL, _CAPACITY))),
            ),
        ).astype(np.int8)
        why = np.where(
            ~fits,
            _batching_reason(step["has_kv_budget"], step["admitted"]),
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
        return _outputs(self.OUTPUTS, step, infeasible_reason=why, bottleneck=bottleneck, peak_flops_fallback=fallback)


class InferenceScalingModel(Resolver):
    """How long does a reasoning query of several chain-of-thought steps take, and how much
    energy does it use?

    ServingModel at ``seq_len = context_length`` and batch 1 gives the time to first token and
    the inter-token latency (D1, D2, D5 apply); each reasoning step generates
    ``tokens_per_step`` tokens. ``feasible`` is ServingModel's memory check; times are
    reported either way.

    Notes
    -----
    ::

        time_per_step        = tokens_per_step x ITL
        total_reasoning_time = TTFT + K x time_per_step
        energy_per_query     = TDP x total_reasoning_time

    The ITL is that of the initial context, and the energy draws the full TDP (0 J without a
    TDP), as mlsysim 0.3.0 does. See ``docs/equations.md``, section "Serving".

    References
    ----------
    Snell, C., Lee, J., Xu, K., Kumar, A. (2024). Scaling LLM test-time compute optimally can
    be more effective than scaling model parameters. arXiv:2408.03314.
    """

    ARGS = (
        _model(),
        replace(HARDWARE, doc=_HARDWARE_DOC),
        Arg("reasoning_steps", "integer", default=8, low=0),
        Arg("context_length", "integer", default=2048, low=1),
        PRECISION,
        Arg("efficiency", **_EFFICIENCY),
        Arg("tokens_per_step", "integer", default=50, low=1),
    )
    OUTPUTS = (
        "total_reasoning_time",
        "ttft",
        "itl",
        "time_per_step",
        "tokens_generated",
        "energy_per_query",
        "feasible",
        "infeasible_reason",
        "peak_flops_fallback",
    )

    def _compute(self, g: Grid) -> dict:
        b, is_16bit, peak, fallback = precision_terms(g)
        step = sv.reasoning_step(
            _transformer(g, "model", b, is_16bit),
            g["context_length"],
            g["reasoning_steps"],
            g["tokens_per_step"],
            peak,
            g["efficiency"],
            g.field("hardware", "dispatch_tax"),
            g.field("hardware", "memory_bandwidth"),
            g.field("hardware", "memory_capacity"),
            g.field("hardware", "tdp"),
        )
        why = _code(~step["feasible"], reason("memory_capacity"))
        return _outputs(self.OUTPUTS, step, infeasible_reason=why, peak_flops_fallback=fallback)
