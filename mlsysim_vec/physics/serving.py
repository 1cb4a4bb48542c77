"""LLM serving physics: prefill, decode, the KV cache, speculative decoding, paged KV
admission, weight-streaming inference, and the step functions that compose them.

Pure numpy functions of float arrays in canonical SI units (s, byte, FLOP, FLOP/s, byte/s, J,
W, 1/s); they broadcast, and accept dask arrays. The first-order models follow mlsysim 0.3.0
(``docs/equations.md``, section "Serving") with the deviations D1, D2 and D5 of
docs/differences.md:

* Prefill is compute-bound (Pope et al. 2023, "Efficiently Scaling Transformer Inference",
  MLSys 2023, arXiv:2211.05102): ``2·P_active`` FLOPs per new token for the matrix multiplies
  (D1) and ``4·L·a·d·S`` for attention scores and values over the whole context S (an upper
  bound: every new token attends to the full final context), with ``d`` the one head width of
  D2.
* A decode step is memory-bound: it reads every weight and the whole KV cache once, plus a
  framework launch tax per layer. **One** kernel, ``decode_step_time``, serves every step
  function that decodes (docs/differences.md, D5).
* The KV cache holds ``2·L·a_kv·d`` elements per token (keys and values of every KV head,
  GQA: Ainslie et al. 2023, arXiv:2305.13245), or ``L·(r_kv + r_rope)`` for multi-head latent
  attention (DeepSeek-AI 2024, "DeepSeek-V2", arXiv:2405.04434).
* Speculative decoding (Leviathan, Kalman & Matias 2023, "Fast Inference from Transformers via
  Speculative Decoding", ICML 2023, arXiv:2211.17192): K draft tokens per verification,
  ``E = Σ_{i=0}^{K} α^i`` tokens accepted per step.
* Paged KV admission (Kwon et al. 2023, "Efficient Memory Management for Large Language Model
  Serving with PagedAttention", SOSP 2023, arXiv:2309.06180): request lengths exponential with
  a cap, memory allocated in pages of ``p`` tokens.

Layout. A model enters as a ``Transformer`` (its numbers at one precision). Three terms carry
the physics every step function shares, each in one place: ``prefill_time`` (compute of a
prefill), ``decode_step_time`` (one decode step, the one kernel of D5) and ``serving_memory``
(what a serving device must hold). The step functions answer one question each and return the
outputs of one resolver: ``inference_step`` (ServingModel), ``continuous_batching_step``,
``weight_streaming_step``, ``serving_capacity_step`` and ``reasoning_step``
(InferenceScalingModel); ``physics.queueing.tail_latency_step`` is TailLatencyModel's.
Boolean flags a resolver turns into category codes are returned under the names documented
with each step function.
"""

from __future__ import annotations

import numpy as np

from . import queueing as qu
from . import roofline as rl
from .constants import LAYER_TAX_S

__all__ = [
    "SPECULATIVE_DRAFT_TOKENS",
    "KV_WORKING_SET_OVERHEAD",
    "FALLBACK_INJECTION_BW",
    "ADMISSION_SLACK",
    "CAPACITY_PAGE_TOKENS",
    "Transformer",
    "transformer",
    "kv_bytes_per_token",
    "prefill_flops",
    "prefill_time",
    "decode_step_time",
    "serving_memory",
    "prefill_chunking",
    "speculative_tokens_per_step",
    "speculative_step_time",
    "capped_exponential_scale",
    "expected_paged_kv_tokens",
    "static_admission",
    "paged_admission",
    "continuous_batching",
    "injection_bandwidth",
    "streaming_layer_flops",
    "balance_batch",
    "inference_step",
    "continuous_batching_step",
    "weight_streaming_step",
    "serving_capacity_step",
    "reasoning_step",
]

#: Draft tokens proposed per verification step (SPECULATIVE_GAMMA).
SPECULATIVE_DRAFT_TOKENS = 4
#: On-wafer working set of weight streaming: the KV cache plus 10 %.
KV_WORKING_SET_OVERHEAD = 1.1
#: Weight-injection bandwidth when a device has no (or a zero) interconnect [byte/s]
#: (FALLBACK_INTERCONNECT_BANDWIDTH_GB_S).
FALLBACK_INJECTION_BW = 100e9
#: Tolerance of the paged admission floor (requests), as the reference's ``+ 1e-9``.
ADMISSION_SLACK = 1e-9
#: KV page of the continuous batching behind ServingCapacityModel [tokens].
CAPACITY_PAGE_TOKENS = 16.0
#: Bisection steps of the capped-exponential scale (as the reference: 100 halvings).
_BISECTION_STEPS = 100


class Transformer:
    """A Transformer's numbers at one precision (float arrays that broadcast together).

    layers L, heads a, kv_heads a_kv (GQA), head_width d (D2), parameters P, active_parameters
    P_active (D1: equal to P for a dense model), weight_bytes W [byte], kv_bytes_per_token k
    [byte] (one token of one sequence). ``transformer`` builds one from a model's fields.
    """

    __slots__ = (
        "layers",
        "heads",
        "kv_heads",
        "head_width",
        "parameters",
        "active_parameters",
        "weight_bytes",
        "kv_bytes_per_token",
    )

    def __init__(
        self, layers, heads, kv_heads, head_width, parameters, active_parameters, weight_bytes, kv_bytes_per_token
    ):
        self.layers = layers
        self.heads = heads
        self.kv_heads = kv_heads
        self.head_width = head_width
        self.parameters = parameters
        self.active_parameters = active_parameters
        self.weight_bytes = weight_bytes
        self.kv_bytes_per_token = kv_bytes_per_token

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"Transformer({fields})"


def transformer(
    layers,
    heads,
    kv_heads,
    head_width,
    parameters,
    active_parameters,
    model_size,
    weights_rule,
    is_mla,
    kv_lora_rank,
    rope_head_dim,
    bytes_per_el,
    is_16bit,
) -> Transformer:
    """A ``Transformer`` at ``bytes_per_el`` [byte] per weight and KV element.

    ``W`` follows ``physics.roofline.weight_bytes`` (parameters × bytes, or the recorded
    ``model_size`` [byte] by ``weights_rule``); ``k`` follows ``kv_bytes_per_token``, with the
    latent width ``r_kv + r_rope`` where ``is_mla == 1`` (multi-head latent attention).
    """
    mla_width = np.where(is_mla == 1.0, kv_lora_rank + rope_head_dim, np.nan)
    return Transformer(
        layers=layers,
        heads=heads,
        kv_heads=kv_heads,
        head_width=head_width,
        parameters=parameters,
        active_parameters=active_parameters,
        weight_bytes=rl.weight_bytes(parameters, model_size, weights_rule, bytes_per_el, is_16bit),
        kv_bytes_per_token=kv_bytes_per_token(layers, kv_heads, head_width, mla_width, bytes_per_el),
    )


def kv_bytes_per_token(layers, kv_heads, head_width, mla_width, bytes_per_el):
    """KV-cache bytes per token of one sequence [byte].

    ``2·L·a_kv·d·b`` (a key and a value vector per KV head per layer; GQA through ``a_kv``,
    D2's head width ``d``), or ``L·w_mla·b`` when ``mla_width = r_kv + r_rope`` is finite
    (multi-head latent attention caches one compressed latent and the rotary key per layer).
    A cache of S tokens for B sequences is ``S·B`` times this.
    """
    dense = 2.0 * layers * kv_heads * head_width * bytes_per_el
    return np.where(np.isnan(mla_width), dense, layers * mla_width * bytes_per_el)


def prefill_flops(active_parameters, layers, heads, head_width, new_tokens, context, batch):
    """FLOPs of a prefill of ``new_tokens`` per sequence over a context of ``context`` tokens
    [FLOP]: ``N·B·(2·P_active + 4·L·a·d·S)`` (D1: active parameters; D2: head width ``d``)."""
    return new_tokens * batch * (2.0 * active_parameters + 4.0 * layers * heads * head_width * context)


def prefill_time(model: Transformer, context, new_tokens, batch, flops_per_s):
    """Compute time of a prefill [s]: ``prefill_flops / F`` for ``new_tokens`` new tokens of
    each of ``batch`` sequences over a context of ``context`` tokens, at a sustained
    ``flops_per_s`` [FLOP/s] (peak × efficiency). The prefill time term of every step function."""
    flops = prefill_flops(
        model.active_parameters, model.layers, model.heads, model.head_width, new_tokens, context, batch
    )
    return flops / flops_per_s


def decode_step_time(weight_bytes, kv_bytes, bandwidth, layers):
    """One decode step [s]: read every weight and the KV cache once, plus the per-layer
    framework tax — ``(W + KV)/BW + L·0.01 ms`` (docs/differences.md, D5: the one decode-step
    kernel)."""
    return (weight_bytes + kv_bytes) / bandwidth + layers * LAYER_TAX_S


def serving_memory(model: Transformer, kv_bytes, draft: Transformer | None = None, draft_kv_bytes=None):
    """Memory a serving device holds [byte]: ``W + KV``, plus the draft model's ``W_d + KV_d``
    with speculative decoding (docs/differences.md, D5: the draft's KV counts). The
    memory-feasibility term of every step function."""
    required = model.weight_bytes + kv_bytes
    if draft is not None:
        required = required + draft.weight_bytes + draft_kv_bytes
    return required


def prefill_chunking(new_tokens, chunk_tokens):
    """``(n_chunks, largest_chunk)`` of a prefill of ``new_tokens`` split into chunks of at most
    ``chunk_tokens`` tokens: ``⌈N/c⌉`` chunks; the largest is the first, ``min(c, N)`` tokens."""
    return np.ceil(new_tokens / chunk_tokens), np.minimum(chunk_tokens, new_tokens)


def speculative_tokens_per_step(acceptance, draft_tokens=SPECULATIVE_DRAFT_TOKENS):
    """Expected tokens per verification step ``E = 1 + α(1 − α^K)/(1 − α)`` (``1 + K`` at α = 1)."""
    below = acceptance < 1.0
    partial = 1.0 + acceptance * (1.0 - acceptance**draft_tokens) / np.where(below, 1.0 - acceptance, 1.0)
    return np.where(below, partial, 1.0 + draft_tokens)


def speculative_step_time(target_step, draft_step, acceptance, draft_tokens=SPECULATIVE_DRAFT_TOKENS):
    """Time per generated token with speculative decoding [s]: ``(K·t_draft + t_target)/E``."""
    return (draft_tokens * draft_step + target_step) / speculative_tokens_per_step(acceptance, draft_tokens)


def capped_exponential_scale(mean, cap):
    """Scale μ [tokens] of an exponential length capped at ``cap`` whose mean is ``mean``:
    the root of ``μ(1 − e^{−cap/μ}) = mean``, found by bisection on ``t = cap/μ`` over
    ``(0, cap/mean)``; μ = ∞ when ``mean = cap`` (every request fills the cap). Dask arrays
    are solved block by block (the iteration stays out of the task graph)."""
    if hasattr(mean, "dask") or hasattr(cap, "dask"):
        import dask.array as da

        return da.map_blocks(
            _capped_exponential_scale, *da.broadcast_arrays(da.asarray(mean), da.asarray(cap)), dtype=float
        )
    return _capped_exponential_scale(mean, cap)


def _capped_exponential_scale(mean, cap):
    target = mean / cap
    lo = np.zeros(np.shape(target))
    hi = 1.0 / target
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        above = -np.expm1(-mid) / mid > target  # the capped mean falls as t grows
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    with np.errstate(divide="ignore"):
        return np.where(mean >= cap, np.inf, cap / (0.5 * (lo + hi)))


def expected_paged_kv_tokens(mean, cap, page):
    """Expected KV tokens allocated per request with pages of ``page`` tokens, and the
    internal fragmentation (unused fraction of the allocation).

    Lengths X ~ Exp(μ) capped at ``cap`` (μ from ``capped_exponential_scale``):
    ``E[⌈X/p⌉] = Σ_{k<K} P(X > k·p) = (1 − r^K)/(1 − r)`` with ``K = ⌈cap/p⌉`` and
    ``r = e^{−p/μ}`` (K when μ = ∞; evaluated with ``expm1``); allocation ``p·E``;
    fragmentation ``max(0, 1 − mean/alloc)``.
    """
    scale = capped_exponential_scale(mean, cap)
    blocks_max = np.ceil(cap / page)
    full = np.isinf(scale)
    finite = np.where(full, 1.0, scale)
    blocks = np.where(full, blocks_max, np.expm1(-blocks_max * page / finite) / np.expm1(-page / finite))
    allocated = page * blocks
    return allocated, np.maximum(0.0, 1.0 - mean / allocated)


def static_admission(budget_tokens, cap, max_batch):
    """Requests a static allocator admits: each reserves ``cap`` tokens;
    ``min(⌊budget/cap⌋, B_max)``, 0 without a budget."""
    return np.where(budget_tokens > 0, np.minimum(np.floor(budget_tokens / cap), max_batch), 0.0)


def paged_admission(budget_tokens, page, allocated, max_batch):
    """Requests a paged allocator admits: ``min(⌊⌊budget/p⌋·p/alloc + 1e-9⌋, B_max)``,
    0 without a budget (the pool holds whole pages)."""
    pool = np.floor(budget_tokens / page) * page
    return np.where(budget_tokens > 0, np.minimum(np.floor(pool / allocated + ADMISSION_SLACK), max_batch), 0.0)


def continuous_batching(
    model: Transformer, memory_capacity, memory_bandwidth, max_seq_len, mean_tokens, max_batch, page
):
    """Paged and static admission of continuous batching on one device, and their decode steps.

    The KV budget is ``M = capacity − W`` [byte], ``M/k`` tokens. A static allocator reserves
    ``max_seq_len`` tokens per request (``static_admission``); a paged one allocates the
    expected pages of a capped-exponential length of mean ``mean_tokens``
    (``expected_paged_kv_tokens``, ``paged_admission``). N admitted requests decode in steps of
    the one decode-step kernel with ``k·N·mean`` KV bytes (D5), ``N/step`` tokens/s (0 when
    nothing is admitted).

    Returns a dict: ``kv_budget`` [byte], ``allocated_tokens`` (paged allocation per request),
    ``paged_fragmentation``, ``static_requests``, ``paged_requests``, ``paged_throughput`` and
    ``static_throughput`` [1/s], ``paged_step_time`` [s].
    """
    budget = memory_capacity - model.weight_bytes
    budget_tokens = budget / model.kv_bytes_per_token
    allocated, paged_frag = expected_paged_kv_tokens(mean_tokens, max_seq_len, page)
    n_static = static_admission(budget_tokens, max_seq_len, max_batch)
    n_paged = paged_admission(budget_tokens, page, allocated, max_batch)

    def throughput(n):
        step = decode_step_time(
            model.weight_bytes, model.kv_bytes_per_token * n * mean_tokens, memory_bandwidth, model.layers
        )
        return np.where(n > 0, n / step, 0.0), step

    paged_tps, paged_step = throughput(n_paged)
    static_tps, _ = throughput(n_static)
    return {
        "kv_budget": budget,
        "allocated_tokens": allocated,
        "paged_fragmentation": paged_frag,
        "static_requests": n_static,
        "paged_requests": n_paged,
        "paged_throughput": paged_tps,
        "paged_step_time": paged_step,
        "static_throughput": static_tps,
    }


def injection_bandwidth(link_bandwidth):
    """Weight-injection bandwidth of a weight-streaming device [byte/s]: its interconnect
    figure as stored, or 100 GB/s when it has none (NaN) or a zero one."""
    return np.where(np.isnan(link_bandwidth) | (link_bandwidth <= 0), FALLBACK_INJECTION_BW, link_bandwidth)


def streaming_layer_flops(active_layer_parameters, kv_heads, head_width, seq_len, batch, prefill):
    """FLOPs of one layer of weight-streaming inference [FLOP].

    Prefill: ``2·P_l·S·B + 2·B·a_kv·S²·d`` (the reference's attention term, KV heads and
    coefficient 2); decode: ``2·P_l·B``. ``P_l`` is the layer's share of the active
    parameters (D1).
    """
    decode = 2.0 * active_layer_parameters * batch
    return np.where(prefill, decode * seq_len + 2.0 * batch * kv_heads * seq_len * seq_len * head_width, decode)


def balance_batch(bytes_per_el, parameter_ratio, flops_eff, injection_bw):
    """Batch at which a decode layer's compute equals its weight injection:
    ``⌊t_inj·F·η/(2·P_l)⌋`` with ``t_inj = (P/L)·b/BW_inj``, i.e.
    ``max(1, ⌊b·(P/P_active)·F·η/(2·BW_inj)⌋)`` (P_active for the compute, D1; the dispatch tax
    is ignored, as the reference). Written in this reduced form so that an exact integer ratio
    is not floored one below by rounding."""
    return np.maximum(1.0, np.floor(bytes_per_el * parameter_ratio * flops_eff / (2.0 * injection_bw)))


# ---- step functions: one physical question each ------------------------------------------------


def inference_step(
    model: Transformer,
    seq_len,
    batch,
    peak_flops,
    efficiency,
    dispatch_tax,
    memory_bandwidth,
    memory_capacity,
    cached_tokens=0.0,
    chunk_tokens=None,
    draft: Transformer | None = None,
    draft_acceptance=None,
    prefill_memory_capacity=None,
    network_bandwidth=None,
) -> dict:
    """Prefill (TTFT) and decode (ITL) of ``batch`` sequences of ``seq_len`` context tokens,
    their KV cache and the memory they need: ServingModel's question.

    seq_len S [tokens, cached prefix included], batch B, peak_flops F [FLOP/s] at the precision,
    efficiency η of the prefill, dispatch_tax [s] per prefill pass, memory_bandwidth [byte/s] and
    memory_capacity [byte] of the decode device, cached_tokens C < S (prompt caching),
    chunk_tokens c (None: one prefill pass), draft (a ``Transformer``, None: no speculation)
    with acceptance α, prefill_memory_capacity [byte] of a separate prefill device (None:
    colocated) and network_bandwidth [byte/s] of the link carrying the KV cache to the decode
    device (disaggregated only).

    Equations (``docs/equations.md``, section "Serving"; docs/differences.md, D1, D2, D5)::

        N    = max(1, S - C)                              new tokens
        TTFT = prefill_time(N, B) + dispatch_tax x passes (+ KV / network_bandwidth)
        KV   = k S B
        ITL  = decode_step_time(W, KV)                    (W + KV)/BW + L x 0.01 ms
        ITL  = (K t_draft + ITL)/E  with speculation      (speculative_step_time)
        mem  = serving_memory(W, KV [, draft])            on the decode device

    Chunked prefill: ``ceil(N/c)`` passes; the largest chunk costs
    ``prefill_time(min(c, N), B) + dispatch_tax`` (``prefill_chunk_time`` =
    ``decode_stall_bound``). Disaggregated, the prefill device must hold ``W + KV`` (D5).

    Returns ServingModel's outputs (``ttft``, ``itl``, ``kv_cache_size``,
    ``model_weights_size``, ``total_memory_required``, ``memory_utilization``, ``feasible``,
    ``prompt_cache_hit_ratio``, ``prefill_chunks``, ``prefill_chunk_time``,
    ``decode_stall_bound``, ``kv_transfer_time``, ``prefill_memory_utilization``; NaN where an
    option is off) and the flags ``memory_fits`` (decode device) and ``prefill_memory_fits``
    (True when colocated).
    """
    flops = peak_flops * efficiency
    new_tokens = np.maximum(1.0, seq_len - cached_tokens)
    prefill = prefill_time(model, seq_len, new_tokens, batch, flops)
    kv = model.kv_bytes_per_token * seq_len * batch
    if chunk_tokens is not None:
        chunks, largest = prefill_chunking(new_tokens, chunk_tokens)
        chunk_time = prefill_time(model, seq_len, largest, batch, flops) + dispatch_tax
        ttft = prefill + dispatch_tax * chunks
    else:
        chunks, chunk_time = np.float64(1.0), np.float64(np.nan)
        ttft = prefill + dispatch_tax
    itl = decode_step_time(model.weight_bytes, kv, memory_bandwidth, model.layers)
    draft_kv = None
    if draft is not None:
        draft_kv = draft.kv_bytes_per_token * seq_len * batch
        draft_step = decode_step_time(draft.weight_bytes, draft_kv, memory_bandwidth, draft.layers)
        itl = speculative_step_time(itl, draft_step, draft_acceptance)
    required = serving_memory(model, kv, draft, draft_kv)
    fits = required <= memory_capacity
    if prefill_memory_capacity is not None:
        transfer = kv / network_bandwidth
        ttft = ttft + transfer
        prefill_use = serving_memory(model, kv) / prefill_memory_capacity
        prefill_fits = prefill_use <= 1.0
        feasible = fits & prefill_fits
    else:
        transfer = prefill_use = np.float64(np.nan)
        prefill_fits = np.True_
        feasible = fits
    return {
        "ttft": ttft,
        "itl": itl,
        "kv_cache_size": kv,
        "model_weights_size": model.weight_bytes,
        "total_memory_required": required,
        "memory_utilization": required / memory_capacity,
        "feasible": feasible,
        "prompt_cache_hit_ratio": cached_tokens / seq_len,
        "prefill_chunks": chunks,
        "prefill_chunk_time": chunk_time,
        "decode_stall_bound": chunk_time,
        "kv_transfer_time": transfer,
        "prefill_memory_utilization": prefill_use,
        "memory_fits": fits,
        "prefill_memory_fits": prefill_fits,
    }


def continuous_batching_step(
    model: Transformer,
    max_seq_len,
    mean_tokens,
    max_batch,
    page,
    peak_flops,
    efficiency,
    dispatch_tax,
    memory_bandwidth,
    memory_capacity,
) -> dict:
    """Continuous batching with a paged KV cache against static max-length reservations on one
    device: ContinuousBatchingModel's question.

    max_seq_len S_max [tokens], mean_tokens (None: S_max), max_batch B_max, page p [tokens],
    peak_flops F [FLOP/s], efficiency η, dispatch_tax [s], memory_bandwidth [byte/s],
    memory_capacity [byte].

    Admission and decode steps are ``continuous_batching`` (Kwon et al. 2023; D5). ``ttft`` is
    the prefill of the N_p admitted requests at S_max, ``prefill_time(S_max, N_p) +
    dispatch_tax``; ``itl`` the decode step of the admitted requests; both NaN when nothing is
    admitted (D5). Fragmentation: paged ``max(0, 1 − mean/alloc)``, static ``1 − mean/S_max``
    (0 without a KV budget). KV sizes ``k·N_p·alloc`` and ``k·N_s·S_max``. ``speedup_vs_static``
    is paged/static throughput, ∞ when only the paged allocator admits a request, 1 when
    neither does.

    Returns ContinuousBatchingModel's outputs and the flag ``has_kv_budget`` (the weights leave
    memory for a KV cache).
    """
    mean = max_seq_len if mean_tokens is None else mean_tokens
    cb = continuous_batching(model, memory_capacity, memory_bandwidth, max_seq_len, mean, max_batch, page)
    n_p, n_s = cb["paged_requests"], cb["static_requests"]
    admitted = n_p > 0
    has_budget = cb["kv_budget"] > 0
    prefill = prefill_time(model, max_seq_len, max_seq_len, n_p, peak_flops * efficiency)
    static_fits = n_s > 0
    speedup = np.where(
        static_fits,
        cb["paged_throughput"] / np.where(static_fits, cb["static_throughput"], 1.0),
        np.where(admitted, np.inf, 1.0),
    )
    return {
        "feasible": admitted,
        "throughput_tokens_per_sec": cb["paged_throughput"],
        "max_active_requests": n_p,
        "static_throughput_tokens_per_sec": cb["static_throughput"],
        "static_max_active_requests": n_s,
        "paged_internal_fragmentation": np.where(has_budget, cb["paged_fragmentation"], 0.0),
        "static_internal_fragmentation": np.where(has_budget, 1.0 - mean / max_seq_len, 0.0),
        "paged_kv_cache_size": model.kv_bytes_per_token * n_p * cb["allocated_tokens"],
        "static_kv_cache_size": model.kv_bytes_per_token * n_s * max_seq_len,
        "ttft": np.where(admitted, prefill + dispatch_tax, np.nan),
        "itl": np.where(admitted, cb["paged_step_time"], np.nan),
        "speedup_vs_static": speedup,
        "has_kv_budget": has_budget,
    }


def weight_streaming_step(
    model: Transformer,
    seq_len,
    batch,
    prefill,
    bytes_per_el,
    peak_flops,
    efficiency,
    dispatch_tax,
    link_bandwidth,
    memory_capacity,
) -> dict:
    """Weight-streaming (wafer-scale) inference, weights injected layer by layer while the KV
    cache stays on the device: WeightStreamingModel's question.

    seq_len S [tokens held per sequence], batch B, prefill (bool: prefill phase, else decode),
    bytes_per_el b [byte] of the weights, peak_flops F [FLOP/s], efficiency η, dispatch_tax [s]
    per layer, link_bandwidth [byte/s] as stored (NaN or 0: ``FALLBACK_INJECTION_BW``),
    memory_capacity [byte] of the device.

    Per layer: injection ``t_inj = (P/L)·b/BW_inj``; compute ``t_comp =
    streaming_layer_flops/(F·η) + dispatch_tax`` (active parameters, D1); the layer takes
    ``max(t_comp, t_inj)`` (perfect overlap). Throughput = tokens (B, or B·S in prefill) /
    (L × layer time), 0 when infeasible. The device holds ``1.1·k·S·B``; ``optimal_batch_size``
    is ``balance_batch``.

    Returns WeightStreamingModel's outputs and the flag ``compute_bound`` (``t_comp >= t_inj``).
    """
    flops_eff = peak_flops * efficiency
    link = injection_bandwidth(link_bandwidth)
    injection = model.parameters / model.layers * bytes_per_el / link
    active_layer = model.active_parameters / model.layers
    flops = streaming_layer_flops(active_layer, model.kv_heads, model.head_width, seq_len, batch, prefill)
    compute = flops / flops_eff + dispatch_tax
    layer_time = np.maximum(compute, injection)
    tokens = np.where(prefill, batch * seq_len, batch)
    required = KV_WORKING_SET_OVERHEAD * model.kv_bytes_per_token * seq_len * batch
    has_memory = memory_capacity > 0
    use = np.where(has_memory, required / np.where(has_memory, memory_capacity, 1.0), 1.0)
    fits = required <= memory_capacity
    return {
        "feasible": fits,
        "throughput_tokens_per_sec": np.where(fits, tokens / (layer_time * model.layers), 0.0),
        "layer_compute_time": compute,
        "layer_injection_time": injection,
        "optimal_batch_size": balance_batch(bytes_per_el, model.parameters / model.active_parameters, flops_eff, link),
        "wafer_memory_utilization": np.where(fits, np.minimum(use, 1.0), use),
        "wafer_memory_required": required,
        "compute_bound": compute >= injection,
    }


def serving_capacity_step(
    model: Transformer,
    qps,
    target_latency,
    max_seq_len,
    mean_tokens,
    output_tokens,
    max_batch,
    max_replicas,
    service_cv,
    peak_flops,
    efficiency,
    dispatch_tax,
    memory_bandwidth,
    memory_capacity,
) -> dict:
    """The smallest number of serving replicas whose P99 request latency meets a target at an
    arrival rate: ServingCapacityModel's question.

    qps λ [1/s], target_latency [s], max_seq_len S_max and mean_tokens (None: S_max) [tokens
    per request], output_tokens [tokens per request], max_batch per replica, max_replicas,
    service_cv (Kingman), and one replica's peak_flops [FLOP/s], efficiency, dispatch_tax [s],
    memory_bandwidth [byte/s], memory_capacity [byte].

    1. ``continuous_batching`` (pages of ``CAPACITY_PAGE_TOKENS``) admits N requests per replica
       at T tokens/s; a replica serves ``μ = T/output_tokens`` requests/s;
    2. ``inference_step`` at ``S = max(1, floor(mean))``, batch ``max(1, N)`` gives TTFT and
       ITL; the base latency is ``TTFT + output_tokens × ITL``;
    3. memory: unservable when either does not fit (replicas = max_replicas, capacity 0, P99 ∞);
    4. D9: when the base latency alone exceeds the target the point is decided at once
       (replicas, capacity, utilisation and wait NaN; estimated P99 = the base latency);
    5. otherwise ``physics.queueing.servers_for_wait`` finds the smallest stable M/M/r queue
       whose P99 wait × Kingman factor fits ``target − base``.

    ``qps_capacity = r·μ``, ``utilization = λ/(r·μ)``, ``estimated_p99 = base + wait``; a NaN
    input gives NaN outputs.

    Returns ServingCapacityModel's outputs and the flags ``memory_fits``, ``has_kv_budget``,
    ``admitted`` (N > 0), ``servable`` (fits and μ > 0), ``base_latency_exceeded``,
    ``target_met`` and ``queue_stable`` (at the replica count reported).
    """
    mean = max_seq_len if mean_tokens is None else mean_tokens
    cb = continuous_batching(
        model, memory_capacity, memory_bandwidth, max_seq_len, mean, max_batch, CAPACITY_PAGE_TOKENS
    )
    per_replica = cb["paged_throughput"] / output_tokens
    n_paged = cb["paged_requests"]
    active = np.maximum(1.0, n_paged)
    one = inference_step(
        model,
        np.maximum(1.0, np.floor(mean)),
        active,
        peak_flops,
        efficiency,
        dispatch_tax,
        memory_bandwidth,
        memory_capacity,
    )
    ttft, itl = one["ttft"], one["itl"]
    base = ttft + output_tokens * itl
    fits = (n_paged > 0) & one["memory_fits"]
    servable = fits & (per_replica > 0)
    target = np.asarray(target_latency)
    too_slow = servable & (base > target)  # D9
    qps = np.asarray(qps)
    k = qu.kingman_factor(service_cv)
    searched = servable & ~too_slow
    at, wait, found, stable = qu.servers_for_wait(qps, per_replica, target - base, max_replicas, searched, k)
    r_out = np.where(too_slow, np.nan, np.where(servable, at, max_replicas))
    cap_out = np.where(too_slow, np.nan, np.where(servable, at * per_replica, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(too_slow, np.nan, np.where(servable, qps / cap_out, np.inf))
    wait_out = np.where(too_slow, np.nan, np.where(servable, wait, np.inf))
    p99 = np.where(too_slow, base, np.where(servable, base + wait, np.inf))
    unknown = np.isnan(qps * target * base * per_replica * k * max_replicas)  # a NaN input stays NaN

    def known(value):
        return np.where(unknown, np.nan, value)

    return {
        "feasible": searched & found,
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
        "memory_fits": fits,
        "has_kv_budget": cb["kv_budget"] > 0,
        "admitted": n_paged > 0,
        "servable": servable,
        "base_latency_exceeded": too_slow,
        "target_met": found,
        "queue_stable": stable,
    }


def reasoning_step(
    model: Transformer,
    context,
    reasoning_steps,
    tokens_per_step,
    peak_flops,
    efficiency,
    dispatch_tax,
    memory_bandwidth,
    memory_capacity,
    tdp,
) -> dict:
    """Time and energy of a reasoning query of K steps of ``tokens_per_step`` tokens:
    InferenceScalingModel's question.

    context S [tokens], reasoning_steps K, tokens_per_step, and one accelerator's peak_flops
    [FLOP/s], efficiency, dispatch_tax [s], memory_bandwidth [byte/s], memory_capacity [byte]
    and tdp [W] (NaN: none).

    ``inference_step`` at ``S``, batch 1 gives TTFT and ITL (D1, D2, D5 apply);
    ``time_per_step = tokens_per_step × ITL``; ``total = TTFT + K × time_per_step`` (ITL at the
    initial context, as the reference); ``energy_per_query = TDP × total`` (full TDP; 0 J
    without a TDP). ``feasible`` is ``inference_step``'s memory check.

    Returns InferenceScalingModel's outputs.
    """
    one = inference_step(model, context, 1.0, peak_flops, efficiency, dispatch_tax, memory_bandwidth, memory_capacity)
    per_step = tokens_per_step * one["itl"]
    total = one["ttft"] + reasoning_steps * per_step
    return {
        "total_reasoning_time": total,
        "ttft": one["ttft"],
        "itl": one["itl"],
        "time_per_step": per_step,
        "tokens_generated": reasoning_steps * tokens_per_step,
        "energy_per_query": np.where(np.isnan(tdp), 0.0, tdp) * total,
        "feasible": one["memory_fits"],
    }
