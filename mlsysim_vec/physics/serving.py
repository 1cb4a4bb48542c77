"""LLM serving kernels: prefill, decode, the KV cache, speculative decoding, paged KV
admission and weight-streaming inference.

Pure numpy functions of float arrays in canonical SI units (s, byte, FLOP, FLOP/s, byte/s);
they broadcast, and accept dask arrays. The first-order models follow mlsysim 0.3.0
(``reference/anchor-0.3.0-spec.md`` §2, §4.2, §5.4; ``reference/anchor-0.3.0-spec-part2.md``
§3, §8) with the deviations D1, D2 and D5 of DECISIONS.md:

* Prefill is compute-bound (Pope et al., "Efficiently Scaling Transformer Inference", MLSys
  2023): ``2·P_active`` FLOPs per new token for the matrix multiplies (D1) and ``4·L·a·d·S``
  for attention scores and values over the whole context S (an upper bound: every new token
  attends to the full final context), with ``d`` the one head width of D2.
* A decode step is memory-bound: it reads every weight and the whole KV cache once, plus a
  framework launch tax per layer. **One** kernel, ``decode_step_time``, serves every resolver
  that decodes (D5).
* The KV cache holds ``2·L·a_kv·d`` elements per token (keys and values of every KV head,
  GQA: Ainslie et al. 2023), or ``L·(r_kv + r_rope)`` for multi-head latent attention
  (DeepSeek-AI, "DeepSeek-V2", 2024).
* Speculative decoding (Leviathan et al., "Fast Inference from Transformers via Speculative
  Decoding", ICML 2023): K draft tokens per verification, ``E = Σ_{i=0}^{K} α^i`` tokens
  accepted per step.
* Paged KV admission (Kwon et al., "Efficient Memory Management for Large Language Model
  Serving with PagedAttention", SOSP 2023): request lengths exponential with a cap, memory
  allocated in pages of ``p`` tokens.
"""

from __future__ import annotations

import numpy as np

from .constants import LAYER_TAX_S

__all__ = [
    "SPECULATIVE_DRAFT_TOKENS",
    "KV_WORKING_SET_OVERHEAD",
    "FALLBACK_INJECTION_BW",
    "ADMISSION_SLACK",
    "kv_bytes_per_token",
    "prefill_flops",
    "decode_step_time",
    "prefill_chunking",
    "speculative_tokens_per_step",
    "speculative_step_time",
    "capped_exponential_scale",
    "expected_paged_kv_tokens",
    "static_admission",
    "paged_admission",
    "injection_bandwidth",
    "streaming_layer_flops",
    "balance_batch",
]

#: Draft tokens proposed per verification step (SPECULATIVE_GAMMA).
SPECULATIVE_DRAFT_TOKENS = 4
#: On-wafer working set of weight streaming: the KV cache plus 10 % (part 2 §3).
KV_WORKING_SET_OVERHEAD = 1.1
#: Weight-injection bandwidth when a device has no (or a zero) interconnect [byte/s]
#: (FALLBACK_INTERCONNECT_BANDWIDTH_GB_S).
FALLBACK_INJECTION_BW = 100e9
#: Tolerance of the paged admission floor (requests), as the reference's ``+ 1e-9``.
ADMISSION_SLACK = 1e-9
#: Bisection steps of the capped-exponential scale (as the reference: 100 halvings).
_BISECTION_STEPS = 100


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


def decode_step_time(weight_bytes, kv_bytes, bandwidth, layers):
    """One decode step [s]: read every weight and the KV cache once, plus the per-layer
    framework tax — ``(W + KV)/BW + L·0.01 ms`` (DECISIONS D5: the one decode-step kernel)."""
    return (weight_bytes + kv_bytes) / bandwidth + layers * LAYER_TAX_S


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


def injection_bandwidth(link_bandwidth):
    """Weight-injection bandwidth of a weight-streaming device [byte/s]: its interconnect
    figure as stored, or 100 GB/s when it has none (NaN) or a zero one."""
    return np.where(np.isnan(link_bandwidth) | (link_bandwidth <= 0), FALLBACK_INJECTION_BW, link_bandwidth)


def streaming_layer_flops(active_layer_parameters, kv_heads, head_width, seq_len, batch, prefill):
    """FLOPs of one layer of weight-streaming inference [FLOP].

    Prefill: ``2·P_l·S·B + 2·B·a_kv·S²·d`` (the reference's attention term, KV heads and
    coefficient 2; part 2 §3); decode: ``2·P_l·B``. ``P_l`` is the layer's share of the active
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
