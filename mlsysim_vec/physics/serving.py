"""LLM serving physics: prefill, decode, the KV cache, speculative decoding, paged KV
admission, weight-streaming inference, multi-accelerator serving, the refined step model, the
closed loop of concurrent users, cost per token, and the step functions that compose them.

Pure numpy functions of float arrays in canonical SI units (s, byte, FLOP, FLOP/s, byte/s, J,
W, USD/s, 1/s); they broadcast, and accept dask arrays. Two fidelities share this module
(``docs/equations.md``, section "Serving"; docs/differences.md lists the refined terms):

**First order** follows mlsysim 0.3.0 with the deviations D1, D2 and D5 of docs/differences.md:

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
* A group of ``tp·pp·ep`` accelerators (``Deployment``) splits weights, KV cache and FLOPs
  evenly; pipeline stages run one after the other (``pp`` adds memory, not speed); the
  group's communication (``group_communication``) is added to every forward. Degree 1 is
  mlsysim 0.3.0's single device exactly.

**Refined** (``refined_forward``, ``refined_decode``): every forward is
``max(compute, memory) + communication + fixed overhead``; decode has a compute term with the
attention over the cached context, prefill a memory term (weights, KV written, activations);
HBM runs at ``bandwidth_efficiency`` of its peak; the memory check counts the runtime memory
(activations, communication buffers, a framework reserve); weights, KV cache and GEMMs may use
different precisions, fp4 formats with their scale overhead included, and a precision the
accelerator has no peak for is unsupported (``compute_peak``).

Layout. A model enters as a ``Transformer``; how it is served as a ``Deployment``. Three terms
carry the first-order physics every step function shares, each in one place: ``prefill_time``
(compute of a prefill), ``decode_step_time`` (one decode step, the one kernel of D5) and
``serving_memory`` (what a serving device must hold); the refined ones are
``refined_forward``, ``refined_decode`` and ``refined_memory``, and ``group_communication``
serves both. The step functions answer one question each and return the outputs of one
resolver: ``inference_step`` (ServingModel), ``continuous_batching_step`` (with the closed
loop of ``closed_loop``), ``weight_streaming_step``, ``serving_capacity_step`` and
``reasoning_step`` (InferenceScalingModel); ``physics.queueing.tail_latency_step`` is
TailLatencyModel's. Boolean flags a resolver turns into category codes are returned under the
names documented with each step function.
"""

from __future__ import annotations

import math

import numpy as np

from . import comm
from . import queueing as qu
from . import roofline as rl
from .constants import FALLBACK_HOST_LINK_BW, LAYER_TAX_S, PRECISION_BYTES, PRECISIONS, add_into, select_by_code

__all__ = [
    "SPECULATIVE_DRAFT_TOKENS",
    "KV_WORKING_SET_OVERHEAD",
    "FALLBACK_INJECTION_BW",
    "ADMISSION_SLACK",
    "CAPACITY_PAGE_TOKENS",
    "SERVING_PRECISION_BYTES",
    "SERVING_PRECISIONS",
    "PEAK_PRECISION",
    "BANDWIDTH_EFFICIENCY",
    "FORWARD_OVERHEAD_S",
    "LAYER_OVERHEAD_S",
    "MEMORY_RESERVE_FRACTION",
    "MIN_ACTIVATION_BYTES",
    "GEMM_IO_REPLICATED",
    "GEMM_IO_SHARDED",
    "LIVE_ACTIVATIONS_REPLICATED",
    "LIVE_ACTIVATIONS_SHARDED",
    "LOGIT_BYTES",
    "TOKENS_PER_MILLION",
    "serving_precision_bytes",
    "is_16bit",
    "compute_peak",
    "activation_bytes",
    "Transformer",
    "transformer",
    "Deployment",
    "deployment",
    "SINGLE_DEVICE",
    "link_bandwidth",
    "kv_bytes_per_token",
    "prefill_flops",
    "prefill_time",
    "decode_step_time",
    "serving_memory",
    "group_communication",
    "touched_expert_fraction",
    "refined_forward",
    "refined_decode",
    "refined_mixed_terms",
    "refined_memory",
    "usable_memory",
    "sum_max_linear",
    "cost_per_million_tokens",
    "cost_per_million_tokens_of_run",
    "prefill_chunking",
    "speculative_tokens_per_step",
    "speculative_step_time",
    "capped_exponential_scale",
    "expected_paged_kv_tokens",
    "static_admission",
    "paged_admission",
    "continuous_batching",
    "closed_loop",
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
#: Newton steps of the capped-exponential scale from its start (within 0.32 % of the root
#: everywhere): the error goes 3e-3 → 6e-6 → 2e-11 → below 1e-15 (``capped_exponential_scale``).
_NEWTON_STEPS = 3

# ---- precisions of the serving resolvers ------------------------------------------------------

#: Bytes per element of the serving precisions: D15's eight, then block-scaled formats whose
#: scales count. NVFP4: 4-bit E2M1 values with one FP8 (E4M3) scale per 16 values, 4 + 8/16 =
#: 4.5 bits (NVIDIA, "Introducing NVFP4 for efficient and accurate low-precision inference",
#: NVIDIA technical blog, 2025). MXFP4 and MXFP8: 4-bit E2M1 or 8-bit values with one 8-bit
#: E8M0 scale per block of 32, 4.25 and 8.25 bits (Open Compute Project, "OCP Microscaling
#: Formats (MX) Specification", version 1.0, 2023). The first eight codes are
#: ``constants.PRECISIONS``'.
SERVING_PRECISION_BYTES = {
    **PRECISION_BYTES,
    "nvfp4": (4.0 + 8.0 / 16.0) / 8.0,
    "mxfp4": (4.0 + 8.0 / 32.0) / 8.0,
    "mxfp8": (8.0 + 8.0 / 32.0) / 8.0,
}
SERVING_PRECISIONS = tuple(SERVING_PRECISION_BYTES)
#: The precision whose peak FLOP/s each serving precision's GEMMs run at (a block-scaled
#: format runs on its element type's tensor cores).
PEAK_PRECISION = {**{p: p for p in PRECISIONS}, "nvfp4": "fp4", "mxfp4": "fp4", "mxfp8": "fp8"}
_FP16, _BF16 = SERVING_PRECISIONS.index("fp16"), SERVING_PRECISIONS.index("bf16")

# ---- refined constants (each an argument default of the resolvers, documented there) ----------

#: Fraction of peak HBM bandwidth a streaming kernel achieves: STREAM-like kernels reach about
#: 0.8-0.9 of the datasheet figure on A100 and H100 HBM (BabelStream: Deakin et al., "Evaluating
#: attainable memory bandwidth of parallel programming models via BabelStream", Int. J.
#: Computational Science and Engineering 17(3), 2018, doi:10.1504/IJCSE.2018.095847); the middle
#: of that range.
BANDWIDTH_EFFICIENCY = 0.85
#: Fixed host-side time of one forward pass [s] that the GPU does not overlap: sampling,
#: scheduling, the launch of a captured graph. An order-of-magnitude estimate (CUDA graphs
#: reduce the launches of a step to one: NVIDIA, "Getting started with CUDA Graphs", 2019;
#: engines that overlap the scheduler with the GPU hide most of the rest), meant to be fitted
#: with ``ms.calibrate``.
FORWARD_OVERHEAD_S = 0.2e-3
#: Launch time per layer per forward [s]: mlsysim 0.3.0's framework layer tax (0.01 ms).
LAYER_OVERHEAD_S = LAYER_TAX_S
#: Share of device memory a serving framework keeps for itself (CUDA context, allocator
#: fragmentation, graphs): vLLM's default ``gpu_memory_utilization`` is 0.9 (Kwon et al. 2023).
MEMORY_RESERVE_FRACTION = 0.10
#: Activations stay in 16-bit when the GEMMs run at a narrower precision (the all-reduces and
#: the residual stream of FP8/FP4 engines are fp16/bf16) [byte].
MIN_ACTIVATION_BYTES = 2.0
#: Hidden-size vectors per token per layer a forward reads or writes around its GEMMs (Kaplan
#: et al. 2020, arXiv:2001.08361, Table 1 shapes with d_ff = 4·d_model): QKV (in h, out 3h),
#: attention output (in h, out h), MLP up (in h, out 4h) and down (in 4h, out h). Under
#: tensor parallelism the full-width inputs of the column-parallel GEMMs and outputs of the
#: row-parallel ones are replicated (4 vectors), the rest split (12 vectors / tp).
GEMM_IO_REPLICATED = 4.0
GEMM_IO_SHARDED = 12.0
#: Live activations of one forward (one layer at a time): the residual stream and its
#: normalised copy (2 vectors) and the widest intermediate, the MLP's 4h (split over tp).
LIVE_ACTIVATIONS_REPLICATED = 2.0
LIVE_ACTIVATIONS_SHARDED = 4.0
#: Bytes per logit of the last position of each sequence (fp32 logits).
LOGIT_BYTES = 4.0
#: Tokens per million (the unit of a price per million tokens).
TOKENS_PER_MILLION = 1e6


def _all_equal(x, value) -> bool:
    """True when ``x`` is known to equal ``value`` everywhere (never for a lazy array): lets a
    kernel skip a term that vanishes."""
    if hasattr(x, "dask"):
        return False
    if isinstance(x, (float, int, np.floating, np.integer)) or np.ndim(x) == 0:
        return bool(x == value)
    return bool((np.asarray(x) == value).all())


def _select(cond, value, otherwise):
    """``np.where(cond, value, otherwise)``; where ``cond`` (numpy) is True at every point,
    ``value`` itself when it is an array with the result's shape and type (no copy)."""
    if isinstance(value, np.ndarray) and value.ndim and not hasattr(cond, "dask") and not hasattr(otherwise, "dask"):
        c = np.asarray(cond)
        if (
            c.size
            and c.all()
            and value.shape == np.broadcast_shapes(c.shape, value.shape, np.shape(otherwise))
            and value.dtype == np.result_type(value, otherwise)
        ):
            return value
    return np.where(cond, value, otherwise)


def _by_fidelity(refined, first, fine):
    """``first()`` where first order, ``fine()`` where refined (``refined`` a bool or a bool
    array: then both are evaluated and chosen point by point). Each returns a dict."""
    if refined is True or refined is np.True_:
        return fine()
    if refined is False or refined is np.False_:
        return first()
    a, b = first(), fine()
    return {k: np.where(refined, b[k], a[k]) for k in a}


def _by_code(code, columns):
    """``select_by_code``, with a plain lookup for one code (the scalar path)."""
    if not hasattr(code, "dask") and np.ndim(code) == 0:
        k = int(code)
        return np.float64(np.nan) if not 0 <= k < len(columns) else columns[k]
    return select_by_code(code, columns)


_PRECISION_BYTES_COLUMNS = tuple(SERVING_PRECISION_BYTES.values())


def serving_precision_bytes(code):
    """Bytes per element of serving precision codes (``SERVING_PRECISIONS``) [byte]."""
    return _by_code(code, _PRECISION_BYTES_COLUMNS)


def is_16bit(code):
    """True for the 16-bit precision codes (fp16, bf16): the weights a recorded model size
    describes (``physics.roofline.weight_bytes``)."""
    return (code == _FP16) | (code == _BF16)


def activation_bytes(code):
    """Bytes of an activation element when the GEMMs run at precision ``code`` [byte]: the
    precision's own, at least ``MIN_ACTIVATION_BYTES`` (16-bit)."""
    return np.maximum(serving_precision_bytes(code), MIN_ACTIVATION_BYTES)


def compute_peak(code, table, headline, refined, allow_emulation):
    """Peak FLOP/s of the GEMMs at serving precision ``code``, and what it rests on.

    table : the accelerator's peak per ``SERVING_PRECISIONS`` code [FLOP/s] (NaN: none on
        record); headline : its headline peak [FLOP/s]; refined : bool (array) of the
        fidelity; allow_emulation : bool (array).

    First order (D15): the table's entry, else the headline peak, flagged as a fallback.
    Refined: a 16-bit precision without an entry uses the other 16-bit entry, else the headline
    peak, which by the records' convention is the dense 16-bit peak (``ComputeCore``), so no
    fallback happens; any other precision without an entry cannot be executed
    (``unsupported``), unless emulation is allowed: then the headline peak stands in and the
    fallback is flagged. Returns ``(peak, fallback, unsupported)``.
    """
    chosen = _by_code(code, table)
    missing = np.isnan(chosen)
    if refined is False or refined is np.False_:
        return np.where(missing, headline, chosen), missing, np.False_
    sixteen = (code == _FP16) | (code == _BF16)
    other16 = np.where(code == _FP16, table[_BF16], table[_FP16])
    stand_in = np.where(sixteen & ~np.isnan(other16), other16, headline)
    lacking = missing & ~sixteen
    fine_fallback = lacking & allow_emulation
    fine_unsupported = lacking & np.logical_not(allow_emulation)
    peak = np.where(missing, stand_in, chosen)
    if refined is True or refined is np.True_:
        return peak, fine_fallback, fine_unsupported
    return (
        np.where(refined, peak, np.where(missing, headline, chosen)),
        np.where(refined, fine_fallback, missing),
        refined & fine_unsupported,
    )


class Transformer:
    """A Transformer's numbers at its weight and KV precisions (float arrays that broadcast).

    layers L, heads a, kv_heads a_kv (GQA), head_width d (D2), parameters P, active_parameters
    P_active (D1: equal to P for a dense model), weight_bytes W [byte], kv_bytes_per_token k
    [byte] (one token of one sequence); for the multi-device and refined terms: hidden h,
    vocab V (NaN: unknown), experts E and top_k k_e (mixture of experts), expert_fraction (the
    share of W in routed experts; 0 for a dense model), is_mla (latent KV cache, 1.0/0.0).
    ``transformer`` builds one from a model's fields.
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
        "hidden",
        "vocab",
        "experts",
        "top_k",
        "expert_fraction",
        "is_mla",
    )

    def __init__(
        self,
        layers,
        heads,
        kv_heads,
        head_width,
        parameters,
        active_parameters,
        weight_bytes,
        kv_bytes_per_token,
        hidden=np.nan,
        vocab=np.nan,
        experts=np.nan,
        top_k=1.0,
        expert_fraction=0.0,
        is_mla=0.0,
    ):
        self.layers = layers
        self.heads = heads
        self.kv_heads = kv_heads
        self.head_width = head_width
        self.parameters = parameters
        self.active_parameters = active_parameters
        self.weight_bytes = weight_bytes
        self.kv_bytes_per_token = kv_bytes_per_token
        self.hidden = hidden
        self.vocab = vocab
        self.experts = experts
        self.top_k = top_k
        self.expert_fraction = expert_fraction
        self.is_mla = is_mla

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
    *,
    kv_bytes_per_el=None,
    hidden=np.nan,
    vocab=np.nan,
    experts=np.nan,
    top_k=1.0,
) -> Transformer:
    """A ``Transformer`` with weights at ``bytes_per_el`` [byte] per parameter (``is_16bit``:
    the weight precision is fp16/bf16) and a KV cache at ``kv_bytes_per_el`` (None: the same).

    ``W`` follows ``physics.roofline.weight_bytes`` (parameters × bytes, or the recorded
    ``model_size`` [byte] by ``weights_rule``); ``k`` follows ``kv_bytes_per_token``, with the
    latent width ``r_kv + r_rope`` where ``is_mla == 1`` (multi-head latent attention).
    A mixture of experts of E experts, k_e active per token, has per-expert parameters
    ``p_e = (P − P_active)/(E − k_e)``; the routed experts hold ``E·p_e/P`` of the weights
    (``expert_fraction``, 0 for a dense model or when ``E <= k_e``).
    """
    kv_b = bytes_per_el if kv_bytes_per_el is None else kv_bytes_per_el
    mla_width = np.where(is_mla == 1.0, kv_lora_rank + rope_head_dim, np.nan)
    routed = experts > top_k
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(
            routed,
            experts * (parameters - active_parameters) / (np.where(routed, experts - top_k, 1.0) * parameters),
            0.0,
        )
    return Transformer(
        layers=layers,
        heads=heads,
        kv_heads=kv_heads,
        head_width=head_width,
        parameters=parameters,
        active_parameters=active_parameters,
        weight_bytes=rl.weight_bytes(parameters, model_size, weights_rule, bytes_per_el, is_16bit),
        kv_bytes_per_token=kv_bytes_per_token(layers, kv_heads, head_width, mla_width, kv_b),
        hidden=hidden,
        vocab=vocab,
        experts=experts,
        top_k=top_k,
        expert_fraction=np.where(np.isnan(fraction), 0.0, fraction),
        is_mla=is_mla,
    )


def link_bandwidth(intra_node_bandwidth, host_link_bandwidth, override=None):
    """Bandwidth of the links inside a serving group [byte/s, per direction]: ``override`` when
    given, else the accelerator's intra-node (NVLink-class) link, else its host link (PCIe),
    else ``FALLBACK_HOST_LINK_BW`` (64 GB/s)."""
    if override is not None:
        return override
    host = np.where(np.isnan(host_link_bandwidth), FALLBACK_HOST_LINK_BW, host_link_bandwidth)
    return np.where(np.isnan(intra_node_bandwidth), host, intra_node_bandwidth)


class Deployment:
    """How a model is served: a group of ``tp·pp·ep`` accelerators and the fidelity of the
    physics. Build one with ``deployment``.

    tp, pp, ep : tensor-, pipeline- and expert-parallel degrees (whole numbers >= 1);
    bandwidth [byte/s] and latency [s] of the links inside the group; activation_bytes [byte]
    of the activations exchanged; refined : bool or bool array (the fidelity); for the refined
    terms bandwidth_efficiency (fraction of peak HBM bandwidth), forward_overhead [s] per
    forward, layer_overhead [s] per layer per forward, reserve_fraction of device memory,
    grouped_kv_reads (bool or bool array: the decode attention kernel reads a KV head once for
    its whole group of query heads; see ``_decode_kv_share``).
    """

    __slots__ = (
        "tp",
        "pp",
        "ep",
        "bandwidth",
        "latency",
        "activation_bytes",
        "refined",
        "bandwidth_efficiency",
        "forward_overhead",
        "layer_overhead",
        "reserve_fraction",
        "grouped_kv_reads",
    )

    def __init__(self, **fields):
        for key in self.__slots__:
            setattr(self, key, fields[key])

    @property
    def accelerators(self):
        """Accelerators of the group: ``tp·pp·ep``."""
        return self.tp * self.pp * self.ep

    @property
    def single(self) -> bool:
        """True when the group is known to be one accelerator everywhere."""
        return _all_equal(self.tp, 1.0) and _all_equal(self.pp, 1.0) and _all_equal(self.ep, 1.0)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"Deployment({fields})"


def deployment(
    tp=1.0,
    pp=1.0,
    ep=1.0,
    bandwidth=FALLBACK_HOST_LINK_BW,
    latency=comm.DEFAULT_INTRA_NODE_LATENCY,
    activation_bytes=MIN_ACTIVATION_BYTES,
    refined=False,
    bandwidth_efficiency=BANDWIDTH_EFFICIENCY,
    forward_overhead=FORWARD_OVERHEAD_S,
    layer_overhead=LAYER_OVERHEAD_S,
    reserve_fraction=MEMORY_RESERVE_FRACTION,
    grouped_kv_reads=True,
) -> Deployment:
    """A ``Deployment``; a NaN link latency becomes the 500 ns intra-node default
    (``physics.comm.DEFAULT_INTRA_NODE_LATENCY``)."""
    latency = np.where(np.isnan(latency), comm.DEFAULT_INTRA_NODE_LATENCY, latency)
    return Deployment(
        tp=tp,
        pp=pp,
        ep=ep,
        bandwidth=bandwidth,
        latency=latency,
        activation_bytes=activation_bytes,
        refined=refined,
        bandwidth_efficiency=bandwidth_efficiency,
        forward_overhead=forward_overhead,
        layer_overhead=layer_overhead,
        reserve_fraction=reserve_fraction,
        grouped_kv_reads=grouped_kv_reads,
    )


#: One accelerator, first order: mlsysim 0.3.0's serving.
SINGLE_DEVICE = deployment()


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
    ``flops_per_s`` [FLOP/s] (peak × efficiency). The first-order prefill term of every step
    function."""
    flops = prefill_flops(
        model.active_parameters, model.layers, model.heads, model.head_width, new_tokens, context, batch
    )
    return flops / flops_per_s


def decode_step_time(weight_bytes, kv_bytes, bandwidth, layers):
    """One decode step [s]: read every weight and the KV cache once, plus the per-layer
    framework tax — ``(W + KV)/BW + L·0.01 ms`` (docs/differences.md, D5: the one decode-step
    kernel of first order)."""
    return (weight_bytes + kv_bytes) / bandwidth + layers * LAYER_TAX_S


def serving_memory(model: Transformer, kv_bytes, draft: Transformer | None = None, draft_kv_bytes=None):
    """Memory a serving device holds [byte]: ``W + KV``, plus the draft model's ``W_d + KV_d``
    with speculative decoding (docs/differences.md, D5: the draft's KV counts). The
    first-order memory-feasibility term of every step function (divided by the group's
    ``tp·pp·ep`` when several accelerators serve)."""
    required = model.weight_bytes + kv_bytes
    if draft is not None:
        required = required + draft.weight_bytes + draft_kv_bytes
    return required


# ---- the group: communication, shares ---------------------------------------------------------


def group_communication(model: Transformer, dep: Deployment, tokens):
    """Communication time of one forward of ``tokens`` tokens on the group [s].

    The activations of the tokens an expert-parallel slice carries, ``M = (T/ep)·h·b_a``
    [byte], cross the group's links (bandwidth β per direction, latency α; the α–β model of
    ``physics.comm``):

    * tensor parallelism: two all-reduces per layer (after attention and after the MLP;
      Shoeybi et al. 2019, "Megatron-LM", arXiv:1909.08053), ``2·L·ring_allreduce(M, tp)``
      with ``ring_allreduce = 2(n−1)/n·M/β + 2(n−1)·α``;
    * pipeline parallelism: ``pp − 1`` point-to-point sends of ``M`` between stages,
      ``α + M/β`` each;
    * expert parallelism (a mixture of experts): a dispatch and a combine all-to-all per
      layer of the routed activations ``k_e·M``, ``2·L·all_to_all(k_e·M, ep)`` with
      ``all_to_all = (n−1)/n·M/β + (n−1)·α`` (Lepikhin et al. 2020, "GShard",
      arXiv:2006.16668).

    Each term is 0 for a degree of 1 (an exact 0: a single device adds nothing).
    """
    if dep.single:
        return np.float64(0.0)
    message = tokens / dep.ep * model.hidden * dep.activation_bytes
    bw, lat, layers = dep.bandwidth, dep.latency, model.layers
    terms = []
    # each collective is linear in (message, latency): the per-layer counts scale both, and a
    # degree of 1 gives an exact 0 (no step of the ring, no stage boundary, no exchange)
    if not _all_equal(dep.tp, 1.0):
        count = 2.0 * layers
        terms.append(comm.ring_allreduce(count * message, dep.tp, bw, count * lat))
    if not _all_equal(dep.pp, 1.0):
        terms.append((dep.pp - 1.0) * comm.point_to_point(message, bw, lat))
    if not _all_equal(dep.ep, 1.0) and not _all_equal(model.expert_fraction, 0.0):
        count = np.where(model.expert_fraction > 0.0, 2.0 * layers, 0.0)
        terms.append(comm.all_to_all(count * model.top_k * message, dep.ep, bw, count * lat))
    if not terms:
        return np.float64(0.0)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _expert_miss_log(model: Transformer):
    """``ln(1 − k_e/E)``: the log-probability that one token misses a given routed expert
    (0 for a dense model)."""
    routed = model.experts > model.top_k
    return np.log1p(-np.where(routed, model.top_k / np.where(routed, model.experts, 1.0), 0.0))


def touched_expert_fraction(model: Transformer, tokens):
    """Expected fraction of the routed experts a forward of ``tokens`` tokens reads:
    ``1 − (1 − k_e/E)^T`` (each token picks k_e of E experts uniformly; the expected number of
    distinct experts chosen at least once). 1 for a dense model."""
    routed = model.experts > model.top_k
    return np.where(routed, -np.expm1(tokens * _expert_miss_log(model)), 1.0)


def _kv_share(model: Transformer, dep: Deployment):
    """Share of a token's KV cache one accelerator of a pipeline stage's tensor group holds:
    ``⌈a_kv/tp⌉/a_kv`` (KV heads split over tp, replicated when tp > a_kv), the whole latent
    for MLA (not split by heads), and 1/ep of the tokens (attention is data-parallel over the
    expert-parallel ranks)."""
    heads = np.where(model.is_mla == 1.0, 1.0, np.ceil(model.kv_heads / dep.tp) / model.kv_heads)
    return heads / dep.ep


def _decode_kv_share(model: Transformer, dep: Deployment):
    """``_kv_share`` as the decode attention reads it: the bytes one accelerator reads per
    cached token of a decoding sequence, over the KV bytes of that token.

    A grouped kernel (``dep.grouped_kv_reads``: FlashAttention-2 and -3 decode, FlashInfer,
    TensorRT-LLM's XQA) loads each of the accelerator's ``⌈a_kv/tp⌉`` KV heads once for all
    the query heads that share it: the share is ``_kv_share``. A per-head kernel runs each of
    its ``a/tp`` query heads on its own, and each loads its group's K and V: the KV traffic is
    ``(a/tp)/⌈a_kv/tp⌉`` times larger, the GQA group size ``a/a_kv`` when tp divides ``a_kv``
    (8 for Llama-2-70B, 29 for Falcon-180B, 1 for multi-head attention). TensorRT-LLM's masked
    multi-head attention kernel read the cache this way for MQA and GQA models until its
    release 0.7.1 ("MMHA optimization for MQA and GQA"; XQA kernels for Llama-2-70B on Hopper
    in 0.10.0: the project's release notes). An MLA latent is read once either way.
    """
    share = _kv_share(model, dep)
    if _all_equal(dep.grouped_kv_reads, True):
        return share
    per_head = np.where(model.is_mla == 1.0, 1.0, (model.heads / dep.tp) / np.ceil(model.kv_heads / dep.tp))
    return share * np.where(dep.grouped_kv_reads, 1.0, np.maximum(per_head, 1.0))


def _weights_read(model: Transformer, dep: Deployment, tokens):
    """Weight bytes one accelerator of each stage reads in a forward of ``tokens`` tokens,
    summed over the stages [byte]: ``W·(1 − f_e)/tp + W·f_e·touched/(tp·ep)``."""
    w = model.weight_bytes
    if _all_equal(model.expert_fraction, 0.0):
        return w / dep.tp
    shared = w * (1.0 - model.expert_fraction) / dep.tp
    routed = w * model.expert_fraction / (dep.tp * dep.ep)
    # routed × touched = routed × (1 − e^{T ln(1 − k/E)}); a dense model has routed = 0
    return shared - routed * np.expm1(tokens * _expert_miss_log(model))


# ---- the refined forward --------------------------------------------------------------------


def refined_forward(
    model: Transformer,
    dep: Deployment,
    flops_per_s,
    bandwidth,
    *,
    decode_seqs=None,
    decode_context=None,
    prefill_seqs=None,
    prefill_new=None,
    prefill_cached=None,
):
    """Compute and memory time of one refined forward pass on the group [s], and its tokens.

    A forward may carry ``decode_seqs`` sequences decoding one token each over
    ``decode_context`` cached tokens and ``prefill_seqs`` sequences prefilling ``prefill_new``
    tokens after ``prefill_cached`` cached ones (chunked prefill, prompt caching); omitted
    parts are absent. With ``T`` tokens in all, ``P_active`` active parameters, ``L`` layers,
    ``a`` heads of width ``d``, ``k`` KV bytes per token, peak × efficiency ``F``
    (``flops_per_s``) and HBM bandwidth ``BW`` (``bandwidth``)::

        FLOPs   = 2 P_active T                                         GEMMs
                + 4 L a d (D S_d + B_p N (C + (N + 1)/2))              attention
        compute = FLOPs / (tp ep F)
        bytes   = W_read + k_read D S_d + k_dev B_p C                  weights, KV read
                + k_dev B_p N                                          KV written
                + (B_p N / ep) L (4 + 12/tp) h b_a                     prefill activations
        memory  = bytes / (BW eta_bw)

    The attention of a prefill is causal: new token ``i`` attends to ``C + i`` tokens, ``C +
    (N + 1)/2`` on average; the attention FLOPs count QKᵀ and the product with V,
    ``2·L·n_ctx·d_attn`` each per token (Kaplan et al. 2020, "Scaling laws for neural language
    models", arXiv:2001.08361, Table 1). ``W_read`` (``_weights_read``) is the weights of
    every stage split over tp, the routed experts only as far as the tokens touch them;
    ``k_dev = k·⌈a_kv/tp⌉/(a_kv·ep)``; ``k_read`` the decode attention's read of it
    (``_decode_kv_share``: ``k_dev``, or ``(a/tp)/⌈a_kv/tp⌉`` times it for a per-head kernel);
    ``h·b_a`` per activation vector (``GEMM_IO_*``).
    Tokens of a decode step write one KV entry and few activations: not counted. Pipeline
    stages run one after the other, so the sums over stages are the totals split over tp.

    Returns ``(compute, memory, tokens)``.
    """
    attention = 4.0 * model.layers * model.heads * model.head_width
    kv_dev = model.kv_bytes_per_token * _kv_share(model, dep)
    tokens = flops = None
    kv_read = act_bytes = np.float64(0.0)
    if decode_seqs is not None:
        tokens = decode_seqs
        flops = 2.0 * model.active_parameters * decode_seqs + attention * decode_seqs * decode_context
        kv_read = model.kv_bytes_per_token * _decode_kv_share(model, dep) * decode_seqs * decode_context
    if prefill_seqs is not None:
        new = prefill_seqs * prefill_new
        pf = new * (2.0 * model.active_parameters + attention * (prefill_cached + 0.5 * (prefill_new + 1.0)))
        kv = prefill_seqs * (prefill_cached + prefill_new)
        io = GEMM_IO_REPLICATED + GEMM_IO_SHARDED / dep.tp
        act_bytes = new / dep.ep * model.layers * io * model.hidden * dep.activation_bytes
        tokens = new if tokens is None else tokens + new
        flops = pf if flops is None else flops + pf
        kv_read = kv_read + kv_dev * kv
    compute = flops / (dep.tp * dep.ep * flops_per_s)
    traffic = _weights_read(model, dep, tokens) + kv_read + act_bytes
    memory = traffic / (bandwidth * dep.bandwidth_efficiency)
    return compute, memory, tokens


def refined_decode(model: Transformer, dep: Deployment, batch, context, flops_per_s, bandwidth, slopes=True):
    """One refined decode step of ``batch`` sequences over ``context`` cached tokens, as lines
    in the context [s]: ``compute(S') = c + c'·(S' − S)``, ``memory(S') = m + m'·(S' − S)``.

    ``refined_forward`` with ``decode_seqs = B``: decode FLOPs ``2·P_active·B`` plus the
    attention over the cache ``4·L·a·d·B·S`` (Kaplan et al. 2020, Table 1 counting), memory
    the weights read plus the KV read ``B·S·k_dev``. The step takes ``max(compute, memory) +
    communication + overhead``: compute-bound from the crossover batch ``B* = F·W/(2·P·BW)``
    on (when attention and KV are small). Returns ``(c, c', m, m')`` (``c'`` and ``m'`` None
    without ``slopes``: a single step needs no line).
    """
    compute, memory, _ = refined_forward(model, dep, flops_per_s, bandwidth, decode_seqs=batch, decode_context=context)
    if not slopes:
        return compute, None, memory, None
    slope_c = 4.0 * model.layers * model.heads * model.head_width * batch / (dep.tp * dep.ep * flops_per_s)
    slope_m = model.kv_bytes_per_token * _decode_kv_share(model, dep) * batch / (bandwidth * dep.bandwidth_efficiency)
    return compute, slope_c, memory, slope_m


def refined_mixed_terms(model: Transformer, dep: Deployment, flops_per_s, bandwidth, decode_context, prompt_tokens):
    """``refined_forward`` of a mixed step as coefficients: a forward carrying D decode tokens
    over ``decode_context`` cached tokens and q whole prompts of ``prompt_tokens`` tokens (no
    cache) takes ``compute = c_D·D + c_q·q`` and ``memory = W_read(T)/(BW·eta_bw) + m_D·D +
    m_q·q`` with ``T = D + q·I`` (every term of ``refined_forward`` is linear in D and q but
    the weights the tokens touch). Returns ``(c_D, c_q, m_D, m_q)``; the closed loop evaluates
    many (D, q) on the same coefficients."""
    attention = 4.0 * model.layers * model.heads * model.head_width
    per_flop = 1.0 / (dep.tp * dep.ep * flops_per_s)
    per_byte = 1.0 / (bandwidth * dep.bandwidth_efficiency)
    kv_dev = model.kv_bytes_per_token * _kv_share(model, dep)
    kv_read = model.kv_bytes_per_token * _decode_kv_share(model, dep)
    io = GEMM_IO_REPLICATED + GEMM_IO_SHARDED / dep.tp
    prompt = prompt_tokens * (2.0 * model.active_parameters + attention * 0.5 * (prompt_tokens + 1.0))
    activations = prompt_tokens / dep.ep * model.layers * io * model.hidden * dep.activation_bytes
    return (
        (2.0 * model.active_parameters + attention * decode_context) * per_flop,
        prompt * per_flop,
        kv_read * decode_context * per_byte,
        (kv_dev * prompt_tokens + activations) * per_byte,
    )


def _overhead(model: Transformer, dep: Deployment):
    """Fixed time of one refined forward [s]: ``forward_overhead + L·layer_overhead``."""
    return dep.forward_overhead + model.layers * dep.layer_overhead


def refined_memory(
    model: Transformer, dep: Deployment, kv_bytes, forward_tokens, batch, draft=None, draft_kv_bytes=None
):
    """What one accelerator of the group holds, refined [byte]: ``(weights, kv, working)``.

    weights ``W·(1 − f_e)/(tp·pp) + W·f_e/(tp·pp·ep)`` (routed experts split over ep too);
    kv ``KV·⌈a_kv/tp⌉/(a_kv·pp·ep)`` (``kv_bytes`` is the whole group's cache); the draft
    model's the same way. The working memory beyond weights and KV:

    * activations of the largest forward, one layer live at a time: ``(T/ep)·(2 + 4/tp)·h·b_a``
      for its ``T = forward_tokens`` tokens (``LIVE_ACTIVATIONS_*``), plus fp32 logits of the
      last position of each of the ``batch`` sequences, ``(B/ep)·V·4`` (0 when V is unknown);
    * a communication buffer of one forward's activations ``(T/ep)·h·b_a`` when the group has
      more than one accelerator.

    They must fit in what the framework leaves of the capacity (``usable_memory``).
    """
    group = dep.tp * dep.pp
    weights = model.weight_bytes * (1.0 - model.expert_fraction + model.expert_fraction / dep.ep) / group
    kv = kv_bytes * _kv_share(model, dep) / dep.pp
    if draft is not None:
        weights = weights + draft.weight_bytes * (1.0 - draft.expert_fraction + draft.expert_fraction / dep.ep) / group
        kv = kv + draft_kv_bytes * _kv_share(draft, dep) / dep.pp
    vector = forward_tokens / dep.ep * model.hidden * dep.activation_bytes
    live = vector * (LIVE_ACTIVATIONS_REPLICATED + LIVE_ACTIVATIONS_SHARDED / dep.tp)
    logits = np.where(np.isnan(model.vocab), 0.0, batch / dep.ep * model.vocab * LOGIT_BYTES)
    buffers = np.where(dep.accelerators > 1.0, vector, 0.0)
    return weights, kv, live + logits + buffers


def usable_memory(capacity, dep: Deployment):
    """Device memory a serving framework leaves to the model [byte]: ``capacity × (1 −
    reserve_fraction)`` refined (vLLM keeps 10 % for itself), the whole capacity in first
    order."""

    def first():
        return {"usable": capacity}

    def fine():
        return {"usable": capacity * (1.0 - dep.reserve_fraction)}

    return _by_fidelity(dep.refined, first, fine)["usable"]


def sum_max_linear(f_first, f_last, g_first, g_last, count):
    """``Σ_{j=0}^{n−1} max(f_j, g_j)`` for two sequences linear in j given by their first and
    last terms (``n = count`` whole, >= 0) — exact: the difference changes sign at most once,
    so the sum is a sum of f over one run and of g over the other, each ``terms × midpoint``.

    The sum of a step time ``max(compute, memory)`` over contexts growing one token a step
    (both terms are linear in the context).
    """
    n = np.asarray(count, dtype=float) if not hasattr(count, "dask") else count
    last = np.maximum(n - 1.0, 1.0)
    d_first, d_last = f_first - g_first, f_last - g_last
    slope = (d_last - d_first) / last
    with np.errstate(divide="ignore", invalid="ignore"):
        root = -d_first / slope  # where the difference crosses 0 (in j)
    # number of leading terms on the side of the first term, and which side that is
    lead = np.where((d_first >= 0.0) == (d_last >= 0.0), n, np.clip(np.floor(root) + 1.0, 0.0, n))
    lead = np.where(np.isnan(lead), n, lead)
    f_step, g_step = (f_last - f_first) / last, (g_last - g_first) / last
    first_is_f = d_first >= 0.0

    def run(start, step, a, b):  # Σ_{j=a}^{b-1} (start + step j) = (b − a)(start + step (a + b − 1)/2)
        return (b - a) * (start + step * 0.5 * (a + b - 1.0))

    lead_sum = np.where(first_is_f, run(f_first, f_step, 0.0, lead), run(g_first, g_step, 0.0, lead))
    tail_sum = np.where(first_is_f, run(g_first, g_step, lead, n), run(f_first, f_step, lead, n))
    total = np.where(np.isnan(d_first) | np.isnan(d_last), np.nan, lead_sum + tail_sum)
    return np.where(n > 0.0, total, 0.0)


def cost_per_million_tokens(price_per_accelerator_s, accelerators, tokens_per_s):
    """USD per million tokens [USD]: ``price × accelerators / (tokens/s) × 10⁶`` — the group's
    rental (``price_per_accelerator_s`` [USD/s] per accelerator) over the tokens it produces;
    NaN without a price (None) or without tokens."""
    if price_per_accelerator_s is None:
        return np.float64(np.nan)
    if hasattr(tokens_per_s, "dask") or np.ndim(tokens_per_s) == 0:
        tokens = np.where(tokens_per_s > 0, tokens_per_s, np.nan)
        return price_per_accelerator_s * accelerators * TOKENS_PER_MILLION / tokens
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = price_per_accelerator_s * accelerators * TOKENS_PER_MILLION / tokens_per_s
    none = ~(tokens_per_s > 0)  # no tokens (or NaN): no cost
    if isinstance(cost, np.ndarray) and cost.ndim and none.any():
        cost[np.broadcast_to(none, cost.shape)] = np.nan
    elif none.any():
        cost = np.where(none, np.nan, cost)
    return cost


def cost_per_million_tokens_of_run(price_per_accelerator_s, accelerators, tokens, seconds):
    """``cost_per_million_tokens`` of a run that produces ``tokens`` tokens in ``seconds`` [s]:
    ``price × accelerators × seconds / tokens × 10⁶`` [USD], the same number as the rate form
    (``tokens/seconds`` tokens/s) in one pass over the grid: the factor ``price × accelerators
    × 10⁶ / tokens`` lives on the (small) dimensions of its inputs. NaN without a price, without
    tokens or for a run that never ends."""
    if price_per_accelerator_s is None:
        return np.float64(np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(tokens > 0, price_per_accelerator_s * accelerators * TOKENS_PER_MILLION / tokens, np.nan)
    return factor * _finite_duration(seconds)


def _finite_duration(seconds):
    """A duration [s] (never negative) with +inf as NaN; ``seconds`` itself, not a copy, when
    it holds no infinity (one read of the array: its NaN-blind maximum)."""
    if hasattr(seconds, "dask"):
        return np.where(np.isinf(seconds), np.nan, seconds)
    if np.ndim(seconds) == 0:
        return seconds if not np.isinf(seconds) else np.float64(np.nan)
    if not np.isinf(np.fmax.reduce(seconds, axis=None)):
        return seconds
    return np.where(np.isinf(seconds), np.nan, seconds)


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
    the root of ``μ(1 − e^{−cap/μ}) = mean``; μ = ∞ when ``mean >= cap`` (every request fills
    the cap), 0 when ``mean <= 0``. Dask arrays are solved block by block (the iteration stays
    out of the task graph).

    With ``t = cap/μ``, ``r = mean/cap`` and ``d = 1 − r = (cap − mean)/cap`` the root solves
    ``r·t = 1 − e^{−t}`` (one root in ``(0, 1/r)``: the capped mean ``(1 − e^{−t})/t`` falls
    from 1 to 0). Newton's method from ``t₀ = d(1 + r)/r · (1 + r·d·P(r))``, ``P(r) =
    ((1.18 r − 2.48) r + 1.47) r`` (a fit of the root: ``t₀`` is within 0.32 % of it for every
    r, and exact to first order at both ends, ``t → 2d`` and ``t → 1/r``) takes
    ``_NEWTON_STEPS`` = 3 steps to full precision (mlsysim 0.3.0 bisects 100 times). The
    residual is written without cancellation on each side of ``r = 1/2``: ``(r·t − 1) + e^{−t}``
    when t is large, ``(e^{−t} − 1 + t) − d·t`` when it is small (the bracket from its series
    below ``t = 1/4``).
    """
    if hasattr(mean, "dask") or hasattr(cap, "dask"):
        import dask.array as da

        return da.map_blocks(
            _capped_exponential_scale, *da.broadcast_arrays(da.asarray(mean), da.asarray(cap)), dtype=float
        )
    return _capped_exponential_scale(mean, cap)


#: Below this t, ``e^{−t} − 1 + t`` is summed from its series (the terms of ``t + expm1(−t)``
#: cancel), up to ``t^14/14!``: the first term left out is below 1e-19 of the sum at t = 1/4.
_SERIES_BELOW = 0.25
_SERIES_TERMS = 14


def _scale_start(r, d):
    """Start of the Newton iteration on t = cap/μ (within 0.32 % of the root): the operations
    of ``_capped_exponential_scale_one``'s start, in two buffers."""
    t = np.add(r, 1.0)  # d·(1 + r)/r ·(1 + r·d·(((1.18·r − 2.48)·r + 1.47)·r))
    np.multiply(d, t, out=t)
    t /= r
    p = np.multiply(r, 1.18)
    p -= 2.48
    p *= r
    p += 1.47
    p *= r
    q = np.multiply(r, d)
    q *= p
    q += 1.0
    t *= q
    return t


def _exp_bracket(t, em, out):
    """``e^{−t} − 1 + t`` into ``out`` given ``em = expm1(−t)`` (arrays): the series below 1/4."""
    np.add(t, em, out=out)
    small = t < _SERIES_BELOW
    if small.any():
        x = t[small]
        acc = np.ones_like(x)
        for k in range(_SERIES_TERMS, 2, -1):  # 1 − x/3·(1 − x/4·(1 − …))
            acc = 1.0 - x / k * acc
        out[small] = 0.5 * x * x * acc
    return out


def _scale_newton(r, d, t):
    """``_NEWTON_STEPS`` Newton steps on ``r·t = 1 − e^{−t}`` in place on ``t`` (arrays; r < 1/2
    or r >= 1/2 for every point: the residual's form is chosen once), with
    ``_capped_exponential_scale_one``'s operations."""
    e, num, dt = np.empty_like(t), np.empty_like(t), np.empty_like(t)
    if r.size and r[0] < 0.5:
        for _ in range(_NEWTON_STEPS):  # t − ((t·r − 1) + e^{−t})/(r − e^{−t})
            np.negative(t, out=e)
            np.exp(e, out=e)
            np.multiply(t, r, out=num)
            num -= 1.0
            num += e
            np.subtract(r, e, out=e)
            num /= e
            t -= num
    else:
        for _ in range(_NEWTON_STEPS):  # t − ((e^{−t} − 1 + t) − d·t)/(−expm1(−t) − d)
            np.negative(t, out=e)
            np.expm1(e, out=e)
            _exp_bracket(t, e, num)
            np.multiply(d, t, out=dt)
            num -= dt
            np.negative(e, out=e)
            e -= d
            num /= e
            t -= num
    return t


#: Points per block of the capped-exponential iteration (its work arrays stay in cache).
_SCALE_BLOCK = 1 << 15


def _scale_block(m, c):
    """t = cap/μ for flat arrays of means ``0 < m < c`` (one cache-sized block)."""
    r = m / c
    d = np.subtract(c, m)
    d /= c
    t = _scale_start(r, d)
    large = r < 0.5
    n_large = int(np.count_nonzero(large))
    if n_large in (0, r.size):
        _scale_newton(r, d, t)
    elif large[:n_large].all():  # each form on its own points: two slices when the means are in order
        _scale_newton(r[:n_large], d[:n_large], t[:n_large])
        _scale_newton(r[n_large:], d[n_large:], t[n_large:])
    elif large[r.size - n_large :].all():
        _scale_newton(r[: r.size - n_large], d[: r.size - n_large], t[: r.size - n_large])
        _scale_newton(r[r.size - n_large :], d[r.size - n_large :], t[r.size - n_large :])
    else:  # else two masks
        for part in (large, ~large):
            t[part] = _scale_newton(r[part], d[part], t[part])
    return t


def _capped_exponential_scale(mean, cap):
    if np.ndim(mean) == 0 and np.ndim(cap) == 0:  # one point: the same iteration on Python floats
        return np.float64(_capped_exponential_scale_one(float(mean), float(cap)))
    mean, cap = np.broadcast_arrays(np.asarray(mean, float), np.asarray(cap, float))
    solve = (mean > 0) & (mean < cap)
    everything = solve.all()
    if everything:  # the points flat (a block of a lazy array may have several dimensions)
        m, c = mean.reshape(-1), cap.reshape(-1)
    else:
        out = np.where(mean >= cap, np.inf, np.where(mean <= 0, 0.0, np.nan))
        m, c = mean[solve], cap[solve]
    t = np.empty(m.size)
    for lo in range(0, m.size, _SCALE_BLOCK):
        block = slice(lo, lo + _SCALE_BLOCK)
        t[block] = _scale_block(m[block], c[block])
    if everything:
        t = t.reshape(mean.shape)
        return np.divide(cap, t, out=t)
    out[solve] = c / t
    return out


def _capped_exponential_scale_one(mean: float, cap: float) -> float:
    if mean >= cap:
        return math.inf
    if mean <= 0:
        return 0.0
    r = mean / cap
    d = (cap - mean) / cap
    t = d * (1.0 + r) / r * (1.0 + r * d * (((1.18 * r - 2.48) * r + 1.47) * r))
    for _ in range(_NEWTON_STEPS):
        if r < 0.5:
            e = math.exp(-t)
            t = t - ((t * r - 1.0) + e) / (r - e)
        else:
            em = math.expm1(-t)
            if t < _SERIES_BELOW:
                acc = 1.0
                for k in range(_SERIES_TERMS, 2, -1):
                    acc = 1.0 - t / k * acc
                bracket = 0.5 * t * t * acc
            else:
                bracket = t + em
            t = t - (bracket - d * t) / (-em - d)
    return cap / t


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
    in_place = (
        isinstance(scale, np.ndarray)
        and scale.ndim > 0
        and not np.any(full)  # no request fills the cap: nothing to select
        and np.broadcast_shapes(np.shape(blocks_max), np.shape(page), np.shape(mean), scale.shape) == scale.shape
    )
    if not in_place:
        finite = np.where(full, 1.0, scale)
        blocks = np.where(full, blocks_max, np.expm1(-blocks_max * page / finite) / np.expm1(-page / finite))
        allocated = page * blocks
        return allocated, np.maximum(0.0, 1.0 - mean / allocated)
    allocated = np.divide(-blocks_max * page, scale)  # the same operations, in two buffers
    np.expm1(allocated, out=allocated)
    frag = np.divide(-page, scale)
    np.expm1(frag, out=frag)
    allocated /= frag
    allocated *= page
    np.divide(mean, allocated, out=frag)
    np.subtract(1.0, frag, out=frag)
    return allocated, np.maximum(0.0, frag, out=frag)


def static_admission(budget_tokens, cap, max_batch):
    """Requests a static allocator admits: each reserves ``cap`` tokens;
    ``min(⌊budget/cap⌋, B_max)``, 0 without a budget."""
    return np.where(budget_tokens > 0, np.minimum(np.floor(budget_tokens / cap), max_batch), 0.0)


def paged_admission(budget_tokens, page, allocated, max_batch):
    """Requests a paged allocator admits: ``min(⌊⌊budget/p⌋·p/alloc + 1e-9⌋, B_max)``,
    0 without a budget (the pool holds whole pages)."""
    pool = np.floor(budget_tokens / page) * page
    return np.where(budget_tokens > 0, np.minimum(np.floor(pool / allocated + ADMISSION_SLACK), max_batch), 0.0)


def _first_order_decode(model: Transformer, dep: Deployment, kv_bytes, bandwidth, sequences):
    """First-order decode step on the group [s]: ``decode_step_time(W/g, KV/g)`` with
    ``g = tp·ep`` (the stages run one after the other) plus the group's communication for
    ``sequences`` tokens; the single device's step exactly when the group is one accelerator."""
    if dep.single:
        return decode_step_time(model.weight_bytes, kv_bytes, bandwidth, model.layers)
    g = dep.tp * dep.ep
    step = decode_step_time(model.weight_bytes / g, kv_bytes / g, bandwidth, model.layers)
    return step + group_communication(model, dep, sequences)


def _first_order_prefill(model: Transformer, dep: Deployment, context, new_tokens, batch, flops_per_s):
    """First-order prefill on the group [s]: ``prefill_time / (tp·ep)`` plus the group's
    communication for its ``new_tokens·batch`` tokens (no dispatch tax)."""
    prefill = prefill_time(model, context, new_tokens, batch, flops_per_s)
    if dep.single:
        return prefill
    return prefill / (dep.tp * dep.ep) + group_communication(model, dep, new_tokens * batch)


def _max_plus(a, b, *terms, reuse=False):
    """``max(a, b) + Σ terms``, accumulated in place where the maximum already has the full
    shape (no temporary arrays on large grids); ``reuse``: ``a`` is a temporary of the
    caller's that may hold the result."""
    if (
        reuse
        and isinstance(a, np.ndarray)
        and not hasattr(b, "dask")
        and np.broadcast_shapes(a.shape, np.shape(b)) == a.shape
    ):
        return add_into(np.maximum(a, b, out=a), *terms)
    return add_into(np.maximum(a, b), *terms)


def _refined_step(model: Transformer, dep: Deployment, flops_per_s, bandwidth, **parts):
    """A refined forward's time [s]: ``max(compute, memory) + communication + overhead``."""
    compute, memory, tokens = refined_forward(model, dep, flops_per_s, bandwidth, **parts)
    return _max_plus(compute, memory, group_communication(model, dep, tokens), _overhead(model, dep), reuse=True)


def _kv_budget(model: Transformer, dep: Deployment, memory_capacity, prefill_tokens):
    """KV budget of continuous batching: ``(budget per accelerator [byte], tokens the group
    holds)``. First order: ``capacity − W/G``, ``budget·G/k`` (G = tp·pp·ep; ``capacity − W``
    and ``budget/k`` on one device). Refined: capacity less the refined weights and runtime
    memory (``refined_memory``, with room for one prefill of ``prefill_tokens`` tokens),
    ``budget/(k·share)`` tokens (``share`` the KV share of one accelerator)."""

    def first():
        if dep.single:
            budget = memory_capacity - model.weight_bytes
            return {"budget": budget, "tokens": budget / model.kv_bytes_per_token}
        group = dep.accelerators
        budget = memory_capacity - model.weight_bytes / group
        return {"budget": budget, "tokens": budget * group / model.kv_bytes_per_token}

    def fine():
        weights, _, working = refined_memory(model, dep, 0.0, prefill_tokens, 1.0)
        budget = usable_memory(memory_capacity, dep) - (weights + working)
        share = _kv_share(model, dep) / dep.pp
        return {"budget": budget, "tokens": budget / (model.kv_bytes_per_token * share)}

    out = _by_fidelity(dep.refined, first, fine)
    return out["budget"], out["tokens"]


def continuous_batching(
    model: Transformer,
    memory_capacity,
    memory_bandwidth,
    max_seq_len,
    mean_tokens,
    max_batch,
    page,
    *,
    deployment: Deployment | None = None,
    flops_per_s=None,
):
    """Paged and static admission of continuous batching on a group, and their decode steps.

    The KV budget is ``M = capacity − W`` [byte] on one device (``_kv_budget`` for a group and
    for the refined memory), ``M/k`` tokens. A static allocator reserves ``max_seq_len``
    tokens per request (``static_admission``); a paged one allocates the expected pages of a
    capped-exponential length of mean ``mean_tokens`` (``expected_paged_kv_tokens``,
    ``paged_admission``). N admitted requests decode in steps of ``k·N·mean`` KV bytes: the
    one first-order decode-step kernel (D5), or the refined decode step (``refined_decode``,
    at ``flops_per_s``); ``N/step`` tokens/s (0 when nothing is admitted).

    Returns a dict: ``kv_budget`` [byte per accelerator], ``budget_tokens`` (KV tokens the
    group holds), ``allocated_tokens`` (paged allocation per request), ``paged_fragmentation``,
    ``static_requests``, ``paged_requests``, ``paged_throughput`` and ``static_throughput``
    [1/s], ``paged_step_time`` [s].
    """
    dep = SINGLE_DEVICE if deployment is None else deployment
    budget, budget_tokens = _kv_budget(model, dep, memory_capacity, max_seq_len)
    allocated, paged_frag = expected_paged_kv_tokens(mean_tokens, max_seq_len, page)
    n_static = static_admission(budget_tokens, max_seq_len, max_batch)
    n_paged = paged_admission(budget_tokens, page, allocated, max_batch)

    def step(n):
        def first():
            return {
                "t": _first_order_decode(model, dep, model.kv_bytes_per_token * n * mean_tokens, memory_bandwidth, n)
            }

        def fine():
            return {
                "t": _refined_step(model, dep, flops_per_s, memory_bandwidth, decode_seqs=n, decode_context=mean_tokens)
            }

        return _by_fidelity(dep.refined, first, fine)["t"]

    def throughput(n):
        t = step(n)
        return _select(n > 0, n / t, 0.0), t

    paged_tps, paged_step = throughput(n_paged)
    static_tps, _ = throughput(n_static)
    return {
        "kv_budget": budget,
        "budget_tokens": budget_tokens,
        "allocated_tokens": allocated,
        "paged_fragmentation": paged_frag,
        "static_requests": n_static,
        "paged_requests": n_paged,
        "paged_throughput": paged_tps,
        "paged_step_time": paged_step,
        "static_throughput": static_tps,
    }


def closed_loop(
    model: Transformer,
    dep: Deployment,
    concurrency,
    input_tokens,
    output_tokens,
    budget_tokens,
    max_batch,
    page,
    flops_per_s,
    memory_bandwidth,
    dispatch_tax,
):
    """A closed loop of ``concurrency`` users on one serving group with in-flight batching:
    each user sends the next request (``input_tokens`` prompt tokens I, ``output_tokens``
    generated tokens O) when the last one completes. A steady-state model:

    1. Admission: a running request holds its KV cache, on average ``I + O/2`` tokens plus
       half a page of ``p`` tokens, so ``N_adm = min(B_max, ⌊budget_tokens/(I + (O + p)/2)⌋)``;
       ``n = min(c, N_adm)`` requests run, the other ``c − n`` wait.
    2. In-flight batching mixes prefill into decode steps (Yu et al. 2022, "Orca", OSDI 2022;
       Agrawal et al. 2024, "Taming throughput-latency tradeoff in LLM inference with
       Sarathi-Serve", OSDI 2024, arXiv:2403.02310): a step carries the n running sequences'
       decode tokens, over a mean context ``I + O/2``, and the prompts of arriving requests.
       Seen from one request, the other ``n − 1`` each start a new request every O steps, so a
       step carries ``q = (n − 1)/O`` prompts of theirs on average (spread over the steps).
    3. ``ITL = T(n decode tokens, q prompts)``; the request's first step carries its own
       prompt: ``t_1 = T(n − 1, 1 + q)``; a request runs ``S = t_1 + (O − 1)·ITL``.
    4. Little's law (Little 1961, "A proof for the queuing formula L = λW", Operations Research
       9(3), doi:10.1287/opre.9.3.383): ``X = n/S`` requests/s; with c users in the loop
       (no think time) a request spends ``E2E = c/X = c·S/n``, so it waits ``(c/n − 1)·S``
       for admission once the KV cache or the batch limit saturates and
       ``TTFT = E2E − (O − 1)·ITL``.

    ``T`` is the refined forward (``max(compute, memory) + communication + overhead``) or, in
    first order, the prefill compute of the prompts (``prefill_time`` at context I, plus the
    dispatch tax) plus the one decode-step kernel of the decode tokens. NaN when nothing is
    admitted.

    Returns ``running_requests`` (n), ``ttft``, ``itl``, ``e2e_latency`` [s],
    ``requests_per_s`` and ``output_throughput`` [1/s, the group].
    """
    held = input_tokens + 0.5 * (output_tokens + page)
    admitted = np.where(budget_tokens > 0, np.minimum(np.floor(budget_tokens / held), max_batch), 0.0)
    n = np.minimum(concurrency, admitted)
    context = input_tokens + 0.5 * output_tokens
    group = not dep.single or not _all_equal(model.expert_fraction, 0.0)

    def first():
        previous = np.maximum(n - 1.0, 0.0)
        others = previous / output_tokens

        def mixed(decode, prompts):
            kv = model.kv_bytes_per_token * decode * context
            step = np.where(decode > 0, _first_order_decode(model, dep, kv, memory_bandwidth, decode), 0.0)
            prefill = _first_order_prefill(model, dep, input_tokens, input_tokens, prompts, flops_per_s)
            return step + prefill + np.where(prompts > 0, dispatch_tax, 0.0)

        return {"itl": mixed(n, others), "first": mixed(previous, 1.0 + others)}

    def fine():  # refined_forward through its coefficients (refined_mixed_terms)
        c_d, c_q, m_d, m_q = refined_mixed_terms(model, dep, flops_per_s, memory_bandwidth, context, input_tokens)
        per_byte = 1.0 / (memory_bandwidth * dep.bandwidth_efficiency)
        overhead = _overhead(model, dep)
        if group:
            previous = np.maximum(n - 1.0, 0.0)
            others = previous / output_tokens

            def mixed(decode, prompts):
                tokens = decode + prompts * input_tokens
                compute = add_into(c_d * decode, c_q * prompts)
                memory = add_into(m_d * decode, m_q * prompts, _weights_read(model, dep, tokens) * per_byte)
                return _max_plus(compute, memory, group_communication(model, dep, tokens), overhead, reuse=True)

            return {"itl": mixed(n, others), "first": mixed(previous, 1.0 + others)}
        # one dense accelerator: with D = n, q = (n - 1)/O each term is n·a + b, and the first
        # step (D = n - 1, q = 1 + (n - 1)/O) differs from it by the constants c_q - c_d, m_q - m_d
        share = 1.0 / output_tokens
        weights = _weights_read(model, dep, None) * per_byte
        compute = add_into(n * (c_d + c_q * share), overhead - c_q * share)
        memory = add_into(n * (m_d + m_q * share), weights + overhead - m_q * share)
        itl = np.maximum(compute, memory)
        compute = add_into(compute, c_q - c_d)
        memory = add_into(memory, m_q - m_d)
        return {
            "itl": itl,
            "first": np.maximum(compute, memory, out=compute if isinstance(compute, np.ndarray) else None),
        }

    steps = _by_fidelity(dep.refined, first, fine)
    itl = steps["itl"]
    decoding = (output_tokens - 1.0) * itl
    service = add_into(decoding.copy() if isinstance(decoding, np.ndarray) else decoding, steps["first"])
    if hasattr(n, "dask") or not np.all(np.asarray(n) > 0):  # no request runs: every output NaN
        running = n > 0
        n = np.where(running, n, np.nan)
        itl = np.where(running, itl, np.nan)
        decoding = np.where(running, decoding, np.nan)
    rate = n / service
    e2e = concurrency / rate
    return {
        "running_requests": np.where(np.isnan(n), 0.0, n),
        "ttft": e2e - decoding,
        "itl": itl,
        "e2e_latency": e2e,
        "requests_per_s": rate,
        "output_throughput": rate * output_tokens,
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


def _serving_times(
    model,
    dep,
    dec,
    seq_len,
    batch,
    new_tokens,
    cached_tokens,
    flops,
    decode_flops,
    dispatch_tax,
    prefill_bandwidth,
    decode_bandwidth,
    chunk_tokens,
    draft,
    draft_acceptance,
    output_tokens,
):
    """TTFT (without a KV transfer), ITL, the largest chunk, the sum of the O − 1 decode steps
    after the first token, and the decode step's parts: inference_step's times by fidelity."""
    steps = output_tokens - 1.0
    decoding = not _all_equal(steps, 0.0)
    kv = model.kv_bytes_per_token * seq_len * batch

    def first():
        prefill = _first_order_prefill(model, dep, seq_len, new_tokens, batch, flops)
        if chunk_tokens is not None:
            chunks, largest = prefill_chunking(new_tokens, chunk_tokens)
            chunk_time = _first_order_prefill(model, dep, seq_len, largest, batch, flops) + dispatch_tax
            ttft = prefill + dispatch_tax * chunks
            if not dep.single:  # communication is affine in the tokens: each further chunk adds its latency part
                ttft = ttft + (chunks - 1.0) * group_communication(model, dep, 0.0 * batch)
        else:
            chunks, chunk_time = np.float64(1.0), np.float64(np.nan)
            ttft = prefill + dispatch_tax

        def itl_at(kv_bytes):
            step = _first_order_decode(model, dec, kv_bytes, decode_bandwidth, batch)
            if draft is None:
                return step
            draft_kv = draft.kv_bytes_per_token * kv_bytes / model.kv_bytes_per_token
            draft_step = _first_order_decode(draft, dec, draft_kv, decode_bandwidth, batch)
            return speculative_step_time(step, draft_step, draft_acceptance)

        itl = itl_at(kv)
        if decoding:  # linear in the context: the O − 1 steps are O − 1 steps at the mean
            mean_kv = model.kv_bytes_per_token * (seq_len + 0.5 * output_tokens) * batch
            decode_sum = steps * itl_at(mean_kv)
        else:
            decode_sum = np.float64(0.0)
        if dec.single:
            memory_time = (model.weight_bytes + kv) / decode_bandwidth
        else:
            g = dec.tp * dec.ep
            memory_time = (model.weight_bytes / g + kv / g) / decode_bandwidth
        return {
            "ttft": ttft,
            "itl": itl,
            "chunks": chunks,
            "chunk_time": chunk_time,
            "decode_sum": decode_sum,
            "decode_compute_time": np.float64(np.nan),
            "decode_memory_time": memory_time,
            "communication_time": group_communication(model, dec, batch),
        }

    def fine():
        overhead = _overhead(model, dep)
        if chunk_tokens is None:
            chunks, chunk_time = np.float64(1.0), np.float64(np.nan)
            ttft = _refined_step(
                model,
                dep,
                flops,
                prefill_bandwidth,
                prefill_seqs=batch,
                prefill_new=new_tokens,
                prefill_cached=cached_tokens,
            )
        else:
            chunks, largest = prefill_chunking(new_tokens, chunk_tokens)
            size = new_tokens / chunks
            c0, m0, tokens = refined_forward(
                model, dep, flops, prefill_bandwidth, prefill_seqs=batch, prefill_new=size, prefill_cached=cached_tokens
            )
            c1, m1, _ = refined_forward(
                model,
                dep,
                flops,
                prefill_bandwidth,
                prefill_seqs=batch,
                prefill_new=size,
                prefill_cached=cached_tokens + new_tokens - size,
            )
            fixed = group_communication(model, dep, tokens) + overhead
            ttft = sum_max_linear(c0, c1, m0, m1, chunks) + chunks * fixed
            chunk_time = _refined_step(
                model,
                dep,
                flops,
                prefill_bandwidth,
                prefill_seqs=batch,
                prefill_new=largest,
                prefill_cached=seq_len - largest,
            )
        c, dc, m, dm = refined_decode(model, dec, batch, seq_len, decode_flops, decode_bandwidth, slopes=decoding)
        communication = group_communication(model, dec, batch)
        fixed = communication + _overhead(model, dec)
        itl = _max_plus(c, m, fixed)

        def decode_sum_of(c, dc, m, dm, fixed):
            return sum_max_linear(c + dc, c + steps * dc, m + dm, m + steps * dm, steps) + steps * fixed

        if draft is not None:
            k = float(SPECULATIVE_DRAFT_TOKENS)
            qc, dqc, qm, dqm = refined_decode(
                draft, dec, batch, seq_len, decode_flops, decode_bandwidth, slopes=decoding
            )
            q_fixed = group_communication(draft, dec, batch) + _overhead(draft, dec)
            draft_step = np.maximum(qc, qm) + q_fixed
            vc, vm, vtokens = refined_forward(
                model,
                dec,
                decode_flops,
                decode_bandwidth,
                prefill_seqs=batch,
                prefill_new=k + 1.0,
                prefill_cached=seq_len,
            )
            v_fixed = group_communication(model, dec, vtokens) + _overhead(model, dec)
            attention = 4.0 * model.layers * model.heads * model.head_width
            dvc = attention * batch * (k + 1.0) / (dec.tp * dec.ep * decode_flops)
            dvm = (
                model.kv_bytes_per_token * _kv_share(model, dec) * batch / (decode_bandwidth * dec.bandwidth_efficiency)
            )
            verify = np.maximum(vc, vm) + v_fixed
            itl = speculative_step_time(verify, draft_step, draft_acceptance)
            if decoding:
                tokens_per_step = speculative_tokens_per_step(draft_acceptance)
                decode_sum = (
                    k * decode_sum_of(qc, dqc, qm, dqm, q_fixed) + decode_sum_of(vc, dvc, vm, dvm, v_fixed)
                ) / (tokens_per_step)
            else:
                decode_sum = np.float64(0.0)
        else:
            decode_sum = decode_sum_of(c, dc, m, dm, fixed) if decoding else np.float64(0.0)
        return {
            "ttft": ttft,
            "itl": itl,
            "chunks": chunks,
            "chunk_time": chunk_time,
            "decode_sum": decode_sum,
            "decode_compute_time": c,
            "decode_memory_time": m,
            "communication_time": communication,
        }

    return _by_fidelity(dep.refined, first, fine)


def _serving_memory_of(model, dep, kv, forward_tokens, batch, draft=None, draft_kv=None):
    """Per-accelerator memory of inference_step by fidelity: ``required`` and ``runtime``."""

    def first():
        required = serving_memory(model, kv, draft, draft_kv)
        if not dep.single:
            required = required / dep.accelerators
        return {"required": required, "runtime": np.float64(0.0)}

    def fine():
        weights, kv_dev, working = refined_memory(model, dep, kv, forward_tokens, batch, draft, draft_kv)
        return {"required": weights + kv_dev + working, "runtime": working}

    return _by_fidelity(dep.refined, first, fine)


def _and(*flags):
    """Logical and of boolean arrays, skipping the ones known to be True."""
    out = None
    for flag in flags:
        if np.ndim(flag) == 0 and not hasattr(flag, "dask") and bool(flag):
            continue
        out = flag if out is None else out & flag
    return np.True_ if out is None else out


def _stages_fit(model, *deps):
    """No more pipeline stages than layers, on every group."""
    fit = np.True_
    for dep in deps:
        if not _all_equal(dep.pp, 1.0):
            fit = fit & (dep.pp <= model.layers)
    return fit


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
    *,
    output_tokens=1.0,
    deployment: Deployment | None = None,
    decode_deployment: Deployment | None = None,
    prefill_bandwidth=None,
    precision_supported=np.True_,
    gpu_hour_price=None,
    decode_peak_flops=None,
) -> dict:
    """Prefill (TTFT) and decode (ITL) of ``batch`` sequences of ``seq_len`` context tokens, a
    static batch generating ``output_tokens`` tokens each, its KV cache, memory and cost:
    ServingModel's question.

    seq_len S [tokens, cached prefix included], batch B, peak_flops F [FLOP/s] at the compute
    precision, efficiency η, dispatch_tax [s] per prefill pass, memory_bandwidth [byte/s] and
    memory_capacity [byte] of the decode device, cached_tokens C < S (prompt caching),
    chunk_tokens c (None: one prefill pass), draft (a ``Transformer``, None: no speculation)
    with acceptance α, prefill_memory_capacity [byte] of a separate prefill device (None:
    colocated) and network_bandwidth [byte/s] of the link carrying the KV cache to the decode
    device (disaggregated only); output_tokens O per sequence; deployment (the prefill group
    and the fidelity; None: one device, first order) and decode_deployment (None: the same);
    prefill_bandwidth [byte/s] of the prefill device (None: memory_bandwidth) and
    decode_peak_flops [FLOP/s] of the decode device (None: peak_flops; refined decode only);
    precision_supported (bool: the accelerator executes the compute precision);
    gpu_hour_price [USD/s per accelerator] (None: no cost).

    First order (``docs/equations.md``, section "Serving"; docs/differences.md, D1, D2, D5)::

        N    = max(1, S - C)                              new tokens
        TTFT = prefill_time(N, B)/(tp ep) + comm + dispatch_tax x passes (+ KV / network_bandwidth)
        KV   = k S B                                      (k (S + O - 1) B in memory)
        ITL  = decode_step_time(W/(tp ep), KV/(tp ep)) + comm     (W + KV)/BW + L x 0.01 ms
        ITL  = (K t_draft + ITL)/E  with speculation      (speculative_step_time)
        mem  = serving_memory(W, KV [, draft]) / (tp pp ep)  per accelerator

    Refined: TTFT and ITL are refined forwards (``refined_forward``: ``max(compute, memory) +
    comm + overhead``; chunks of equal size, ``N/ceil(N/c)`` tokens, summed exactly by
    ``sum_max_linear``); a speculative step is K draft decode steps and one verification
    forward of ``K + 1`` tokens per sequence; memory adds the working memory
    (``refined_memory``: activations of the largest forward, buffers) and must fit in what the
    framework leaves (``usable_memory``).

    Generation: the first token comes out of the prefill, then ``O − 1`` decode steps over
    contexts ``S + 1 … S + O − 1``: ``generation_latency = TTFT + Σ ITL(S + j)``, summed
    exactly (first order: the step is linear in the context, so O − 1 steps at the mean
    context; refined: the maximum of two lines, ``sum_max_linear``; with speculation each
    token's share of a step at its own context). ``output_throughput = B·O /
    generation_latency`` (the group), ``/ accelerators`` per accelerator; cost per million
    output (input) tokens is ``price × accelerators / (B·O (B·N) per generation_latency) ×
    10⁶`` (``cost_per_million_tokens_of_run``: the whole run charged to one kind of token; with O = 1
    the input price is the prefill's).

    Chunked prefill: ``ceil(N/c)`` passes; the largest chunk, ``min(c, N)`` tokens (refined:
    the last, with the most context), takes ``prefill_chunk_time`` = ``decode_stall_bound``.
    Disaggregated, the prefill device must hold ``W + KV`` (D5) (refined: its runtime memory
    too) and the group counts both devices' accelerators.

    Returns ServingModel's outputs (``ttft``, ``itl``, ``kv_cache_size``,
    ``model_weights_size``, ``total_memory_required``, ``memory_utilization``, ``feasible``,
    ``prompt_cache_hit_ratio``, ``prefill_chunks``, ``prefill_chunk_time``,
    ``decode_stall_bound``, ``kv_transfer_time``, ``prefill_memory_utilization``,
    ``generation_latency``, ``output_throughput``, ``output_throughput_per_gpu``,
    ``cost_per_million_output_tokens``, ``cost_per_million_input_tokens``, ``accelerators``,
    ``runtime_memory``, ``decode_compute_time``, ``decode_memory_time``,
    ``communication_time``; NaN where an option is off) and the flags ``memory_fits``
    (decode device), ``prefill_memory_fits`` (True when colocated) and ``stages_fit``.
    """
    dep = SINGLE_DEVICE if deployment is None else deployment
    dec = dep if decode_deployment is None else decode_deployment
    flops = peak_flops * efficiency
    new_tokens = np.maximum(1.0, seq_len - cached_tokens)
    # the cache at its largest: the prompt and the O - 1 tokens decoded after the first
    final = seq_len if _all_equal(output_tokens, 1.0) else seq_len + (output_tokens - 1.0)
    kv = model.kv_bytes_per_token * final * batch
    draft_kv = None if draft is None else draft.kv_bytes_per_token * final * batch
    times = _serving_times(
        model,
        dep,
        dec,
        seq_len,
        batch,
        new_tokens,
        cached_tokens,
        flops,
        flops if decode_peak_flops is None else decode_peak_flops * efficiency,
        dispatch_tax,
        memory_bandwidth if prefill_bandwidth is None else prefill_bandwidth,
        memory_bandwidth,
        chunk_tokens,
        draft,
        draft_acceptance,
        output_tokens,
    )
    ttft, chunks = times["ttft"], times["chunks"]
    largest = new_tokens if chunk_tokens is None else np.minimum(chunk_tokens, new_tokens)
    disaggregated = prefill_memory_capacity is not None
    decode_tokens = batch * (SPECULATIVE_DRAFT_TOKENS + 1.0) if draft is not None else batch
    memory = _serving_memory_of(
        model, dec, kv, decode_tokens if disaggregated else batch * largest, batch, draft, draft_kv
    )
    required = memory["required"]
    utilization = required / memory_capacity
    if dec.refined is True and np.ndim(dec.reserve_fraction) == 0:  # one comparison on the grid's shape
        fits = utilization <= 1.0 - dec.reserve_fraction
    else:
        fits = required <= usable_memory(memory_capacity, dec)
    accelerators = dep.accelerators
    if disaggregated:
        prompt_kv = model.kv_bytes_per_token * seq_len * batch  # what the prefill device holds and sends
        transfer = prompt_kv / network_bandwidth
        ttft = ttft + transfer
        prefill_required = _serving_memory_of(model, dep, prompt_kv, batch * largest, batch)["required"]
        prefill_use = prefill_required / prefill_memory_capacity
        prefill_fits = prefill_required <= usable_memory(prefill_memory_capacity, dep)
        feasible = _and(fits, prefill_fits)
        accelerators = accelerators + dec.accelerators
    else:
        transfer = prefill_use = np.float64(np.nan)
        prefill_fits = np.True_
        feasible = fits
    stages = _stages_fit(model, dep, dec)
    feasible = _and(feasible, stages, precision_supported)
    generation = ttft if _all_equal(output_tokens, 1.0) else ttft + times["decode_sum"]
    with np.errstate(divide="ignore", invalid="ignore"):
        output_rate = batch * output_tokens / generation
        per_accelerator = (
            output_rate if _all_equal(accelerators, 1.0) else (batch * output_tokens / accelerators) / generation
        )
    return {
        "ttft": ttft,
        "itl": times["itl"],
        "kv_cache_size": kv,
        "model_weights_size": model.weight_bytes,
        "total_memory_required": required,
        "memory_utilization": utilization,
        "feasible": feasible,
        "prompt_cache_hit_ratio": cached_tokens / seq_len,
        "prefill_chunks": chunks,
        "prefill_chunk_time": times["chunk_time"],
        "decode_stall_bound": times["chunk_time"],
        "kv_transfer_time": transfer,
        "prefill_memory_utilization": prefill_use,
        "generation_latency": generation,
        "output_throughput": output_rate,
        "output_throughput_per_gpu": per_accelerator,
        "cost_per_million_output_tokens": cost_per_million_tokens_of_run(
            gpu_hour_price, accelerators, batch * output_tokens, generation
        ),
        "cost_per_million_input_tokens": cost_per_million_tokens_of_run(
            gpu_hour_price, accelerators, batch * new_tokens, generation
        ),
        "accelerators": accelerators,
        "runtime_memory": memory["runtime"],
        "decode_compute_time": times["decode_compute_time"],
        "decode_memory_time": times["decode_memory_time"],
        "communication_time": times["communication_time"],
        "memory_fits": fits,
        "prefill_memory_fits": prefill_fits,
        "stages_fit": stages,
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
    *,
    deployment: Deployment | None = None,
    precision_supported=np.True_,
    gpu_hour_price=None,
    concurrency=None,
    input_tokens=None,
    output_tokens=None,
) -> dict:
    """Continuous batching with a paged KV cache against static max-length reservations on one
    serving group, and (with ``concurrency``) a closed loop of users: ContinuousBatchingModel's
    question.

    max_seq_len S_max [tokens] (None: I + O of the closed loop), mean_tokens (None: S_max),
    max_batch B_max (None: 1, unlimited in the closed loop), page p [tokens],
    peak_flops F [FLOP/s], efficiency η, dispatch_tax [s], memory_bandwidth [byte/s],
    memory_capacity [byte]; deployment (None: one device, first order), precision_supported,
    gpu_hour_price [USD/s per accelerator] (None: no cost); concurrency c, input_tokens I and
    output_tokens O of the closed loop (None: no closed loop).

    Admission and decode steps are ``continuous_batching`` (Kwon et al. 2023; D5). ``ttft`` is
    the prefill of the N_p admitted requests at S_max, ``prefill_time(S_max, N_p) +
    dispatch_tax`` (refined: the refined forward); ``itl`` the decode step of the admitted
    requests; both NaN when nothing is admitted (D5). Fragmentation: paged
    ``max(0, 1 − mean/alloc)``, static ``1 − mean/S_max`` (0 without a KV budget). KV sizes
    ``k·N_p·alloc`` and ``k·N_s·S_max``. ``speedup_vs_static`` is paged/static throughput, ∞
    when only the paged allocator admits a request, 1 when neither does. Cost per million
    output tokens: ``price × accelerators / paged throughput × 10⁶``.

    Closed loop (``closed_loop``): ``ttft``, ``itl``, ``e2e_latency``, ``requests_per_s``,
    ``output_throughput``, ``running_requests`` and the costs come from the loop;
    ``feasible`` is then "the loop admits a request".

    Returns ContinuousBatchingModel's outputs and the flags ``has_kv_budget`` (the weights leave
    memory for a KV cache) and ``admitted``.
    """
    dep = SINGLE_DEVICE if deployment is None else deployment
    if max_seq_len is None:  # the closed loop's requests
        max_seq_len = input_tokens + output_tokens
    if max_batch is None:
        max_batch = np.float64(np.inf if concurrency is not None else 1.0)
    mean = max_seq_len if mean_tokens is None else mean_tokens
    flops = peak_flops * efficiency
    cb = continuous_batching(
        model, memory_capacity, memory_bandwidth, max_seq_len, mean, max_batch, page, deployment=dep, flops_per_s=flops
    )
    n_p, n_s = cb["paged_requests"], cb["static_requests"]
    admitted = n_p > 0
    has_budget = cb["kv_budget"] > 0

    def first():
        return {"t": _first_order_prefill(model, dep, max_seq_len, max_seq_len, n_p, flops) + dispatch_tax}

    def fine():
        t = _refined_step(
            model, dep, flops, memory_bandwidth, prefill_seqs=n_p, prefill_new=max_seq_len, prefill_cached=0.0
        )
        return {"t": t}

    prefill = _by_fidelity(dep.refined, first, fine)["t"]
    static_fits = n_s > 0
    speedup = _select(
        static_fits,
        cb["paged_throughput"] / _select(static_fits, cb["static_throughput"], 1.0),
        np.where(admitted, np.inf, 1.0),
    )
    accelerators = dep.accelerators
    stages = _stages_fit(model, dep)
    ok = _and(stages, precision_supported)
    out = {
        "feasible": _and(admitted, ok),
        "throughput_tokens_per_sec": cb["paged_throughput"],
        "max_active_requests": n_p,
        "static_throughput_tokens_per_sec": cb["static_throughput"],
        "static_max_active_requests": n_s,
        "paged_internal_fragmentation": _select(has_budget, cb["paged_fragmentation"], 0.0),
        "static_internal_fragmentation": _select(has_budget, 1.0 - mean / max_seq_len, 0.0),
        "paged_kv_cache_size": model.kv_bytes_per_token * n_p * cb["allocated_tokens"],
        "static_kv_cache_size": model.kv_bytes_per_token * n_s * max_seq_len,
        "ttft": _select(admitted, prefill, np.nan),
        "itl": _select(admitted, cb["paged_step_time"], np.nan),
        "speedup_vs_static": speedup,
        "running_requests": np.float64(np.nan),
        "e2e_latency": np.float64(np.nan),
        "requests_per_s": np.float64(np.nan),
        "output_throughput": np.float64(np.nan),
        "output_throughput_per_gpu": np.float64(np.nan),
        "accelerators": accelerators,
        "cost_per_million_output_tokens": cost_per_million_tokens(gpu_hour_price, accelerators, cb["paged_throughput"]),
        "cost_per_million_input_tokens": np.float64(np.nan),
        "has_kv_budget": has_budget,
        "admitted": admitted,
        "stages_fit": stages,
    }
    if concurrency is not None:
        loop = closed_loop(
            model,
            dep,
            concurrency,
            input_tokens,
            output_tokens,
            cb["budget_tokens"],
            max_batch,
            page,
            flops,
            memory_bandwidth,
            dispatch_tax,
        )
        running = loop["running_requests"] > 0
        rate = loop["output_throughput"]
        prompts = None if gpu_hour_price is None else loop["requests_per_s"] * input_tokens
        out.update(
            feasible=_and(running, ok),
            ttft=loop["ttft"],
            itl=loop["itl"],
            running_requests=loop["running_requests"],
            e2e_latency=loop["e2e_latency"],
            requests_per_s=loop["requests_per_s"],
            output_throughput=rate,
            output_throughput_per_gpu=rate if _all_equal(accelerators, 1.0) else rate / accelerators,
            cost_per_million_output_tokens=cost_per_million_tokens(gpu_hour_price, accelerators, rate),
            cost_per_million_input_tokens=cost_per_million_tokens(gpu_hour_price, accelerators, prompts),
            admitted=running,
        )
    return out


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
    *,
    deployment: Deployment | None = None,
    precision_supported=np.True_,
    gpu_hour_price=None,
) -> dict:
    """Weight-streaming (wafer-scale) inference, weights injected layer by layer while the KV
    cache stays on the device: WeightStreamingModel's question.

    seq_len S [tokens held per sequence], batch B, prefill (bool: prefill phase, else decode),
    bytes_per_el b [byte] of the weights, peak_flops F [FLOP/s], efficiency η, dispatch_tax [s]
    per layer, link_bandwidth [byte/s] as stored (NaN or 0: ``FALLBACK_INJECTION_BW``),
    memory_capacity [byte] of the device; deployment (None: one device, first order): tp
    devices share each layer, pp stages hold the layers' KV, each layer adds the group's
    communication; precision_supported; gpu_hour_price [USD/s per device] (None: no cost).

    Per layer: injection ``t_inj = (P/L)·b/(tp·BW_inj)``; compute ``t_comp =
    streaming_layer_flops/(tp·F·η) + dispatch_tax`` (active parameters, D1); the layer takes
    ``max(t_comp, t_inj) + comm/L`` (perfect overlap). Throughput = tokens (B, or B·S in
    prefill) / (L × layer time), 0 when infeasible. The device holds ``1.1·k·S·B/(tp·pp·ep)``;
    ``optimal_batch_size`` is ``balance_batch``. Refined: the attention FLOPs are Kaplan et
    al.'s ``4·a·d`` per token per context token (causal in prefill: ``(S + 1)/2`` on average;
    decode attends to S), ``layer_overhead`` replaces the dispatch tax per layer and each pass
    adds ``forward_overhead``. Cost per million tokens (output in decode, input in prefill):
    ``price × devices / throughput × 10⁶``.

    Returns WeightStreamingModel's outputs and the flag ``compute_bound`` (``t_comp >= t_inj``).
    """
    dep = SINGLE_DEVICE if deployment is None else deployment
    flops_eff = peak_flops * efficiency
    link = injection_bandwidth(link_bandwidth)
    injection = model.parameters / model.layers * bytes_per_el / link
    active_layer = model.active_parameters / model.layers
    tokens = np.where(prefill, batch * seq_len, batch)
    required = KV_WORKING_SET_OVERHEAD * model.kv_bytes_per_token * seq_len * batch
    if not dep.single:
        injection = injection / dep.tp
        required = required / dep.accelerators

    def first():
        flops = streaming_layer_flops(active_layer, model.kv_heads, model.head_width, seq_len, batch, prefill)
        compute = flops / flops_eff + dispatch_tax if dep.single else flops / (dep.tp * flops_eff) + dispatch_tax
        return {"compute": compute, "pass": np.float64(0.0)}

    def fine():
        attention = 4.0 * model.heads * model.head_width * tokens * np.where(prefill, 0.5 * (seq_len + 1.0), seq_len)
        flops = 2.0 * active_layer * tokens + attention
        return {"compute": flops / (dep.tp * flops_eff) + dep.layer_overhead, "pass": dep.forward_overhead}

    parts = _by_fidelity(dep.refined, first, fine)
    compute = parts["compute"]
    layer_time = np.maximum(compute, injection)
    if not dep.single:
        layer_time = layer_time + group_communication(model, dep, tokens) / model.layers
    has_memory = memory_capacity > 0
    use = np.where(has_memory, required / np.where(has_memory, memory_capacity, 1.0), 1.0)
    fits = required <= memory_capacity
    throughput = np.where(fits, tokens / (layer_time * model.layers + parts["pass"]), 0.0)
    cost = cost_per_million_tokens(gpu_hour_price, dep.accelerators, throughput)
    nan = np.float64(np.nan)
    stages = _stages_fit(model, dep)
    return {
        "feasible": fits & stages & precision_supported,
        "throughput_tokens_per_sec": throughput,
        "layer_compute_time": compute,
        "layer_injection_time": injection,
        "optimal_batch_size": balance_batch(bytes_per_el, model.parameters / model.active_parameters, flops_eff, link),
        "wafer_memory_utilization": np.where(fits, np.minimum(use, 1.0), use),
        "wafer_memory_required": required,
        "accelerators": dep.accelerators,
        "cost_per_million_output_tokens": np.where(prefill, nan, cost) if gpu_hour_price is not None else nan,
        "cost_per_million_input_tokens": np.where(prefill, cost, nan) if gpu_hour_price is not None else nan,
        "compute_bound": compute >= injection,
        "memory_fits": fits,
        "stages_fit": stages,
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
    *,
    deployment: Deployment | None = None,
    precision_supported=np.True_,
    gpu_hour_price=None,
) -> dict:
    """The smallest number of serving replicas whose P99 request latency meets a target at an
    arrival rate: ServingCapacityModel's question.

    qps λ [1/s], target_latency [s], max_seq_len S_max and mean_tokens (None: S_max) [tokens
    per request], output_tokens [tokens per request], max_batch per replica, max_replicas,
    service_cv (Kingman), and one replica's peak_flops [FLOP/s], efficiency, dispatch_tax [s],
    memory_bandwidth [byte/s], memory_capacity [byte]; deployment (one replica's group and
    the fidelity; None: one device, first order), precision_supported, gpu_hour_price [USD/s
    per accelerator] (None: no cost).

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
    input gives NaN outputs. Cost per million output (input) tokens of a replica at capacity:
    ``price × accelerators / (μ·output_tokens (μ·mean)) × 10⁶``.

    Returns ServingCapacityModel's outputs and the flags ``memory_fits``, ``has_kv_budget``,
    ``admitted`` (N > 0), ``servable`` (fits and μ > 0), ``base_latency_exceeded``,
    ``target_met``, ``queue_stable`` (at the replica count reported) and ``supported``
    (the precision runs and the stages fit).
    """
    dep = SINGLE_DEVICE if deployment is None else deployment
    mean = max_seq_len if mean_tokens is None else mean_tokens
    cb = continuous_batching(
        model,
        memory_capacity,
        memory_bandwidth,
        max_seq_len,
        mean,
        max_batch,
        CAPACITY_PAGE_TOKENS,
        deployment=dep,
        flops_per_s=peak_flops * efficiency,
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
        deployment=dep,
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
    if np.all(servable) and not np.any(too_slow):  # every point searched: nothing to select
        r_out, cap_out = at, at * per_replica
        with np.errstate(divide="ignore", invalid="ignore"):
            util = qps / cap_out
        wait_out, p99 = wait, base + wait
    else:
        r_out = np.where(too_slow, np.nan, np.where(servable, at, max_replicas))
        cap_out = np.where(too_slow, np.nan, np.where(servable, at * per_replica, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            util = np.where(too_slow, np.nan, np.where(servable, qps / cap_out, np.inf))
        wait_out = np.where(too_slow, np.nan, np.where(servable, wait, np.inf))
        p99 = np.where(too_slow, base, np.where(servable, base + wait, np.inf))
    unknown = np.isnan(qps * target * base * per_replica * k * max_replicas)  # a NaN input stays NaN
    stages = _stages_fit(model, dep)
    supported = stages & precision_supported
    anything_unknown = np.any(unknown)

    def known(value):
        if not anything_unknown:  # np.where(False, NaN, value) is value, broadcast
            value = np.asarray(value)
            shape = np.broadcast_shapes(unknown.shape, value.shape)
            return value if value.shape == shape else np.broadcast_to(value, shape).copy()
        return np.where(unknown, np.nan, value)

    served = np.where(fits, per_replica, 0.0)
    return {
        "feasible": searched & found & supported,
        "required_replicas": known(r_out),
        "qps_target": qps,
        "qps_capacity": known(cap_out),
        "per_replica_qps_capacity": served,
        "utilization": known(util),
        "target_p99_latency": target,
        "estimated_p99_latency": known(p99),
        "base_request_latency": base,
        "queue_wait_p99": known(wait_out),
        "active_batch_size": active,
        "ttft": ttft,
        "itl": itl,
        "accelerators": dep.accelerators,
        "cost_per_million_output_tokens": cost_per_million_tokens(
            gpu_hour_price, dep.accelerators, served * output_tokens
        ),
        "cost_per_million_input_tokens": cost_per_million_tokens(gpu_hour_price, dep.accelerators, served * mean),
        "memory_fits": fits,
        "has_kv_budget": cb["kv_budget"] > 0,
        "admitted": n_paged > 0,
        "servable": servable,
        "base_latency_exceeded": too_slow,
        "target_met": found,
        "queue_stable": stable,
        "supported": supported,
        "stages_fit": stages,
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
    *,
    deployment: Deployment | None = None,
    precision_supported=np.True_,
) -> dict:
    """Time and energy of a reasoning query of K steps of ``tokens_per_step`` tokens:
    InferenceScalingModel's question.

    context S [tokens], reasoning_steps K, tokens_per_step, and one accelerator's peak_flops
    [FLOP/s], efficiency, dispatch_tax [s], memory_bandwidth [byte/s], memory_capacity [byte]
    and tdp [W] (NaN: none); deployment (the serving group and the fidelity; None: one
    device, first order), precision_supported.

    ``inference_step`` at ``S``, batch 1 gives TTFT and ITL (D1, D2, D5 apply);
    ``time_per_step = tokens_per_step × ITL``; ``total = TTFT + K × time_per_step`` (ITL at the
    initial context, as the reference); ``energy_per_query = TDP × accelerators × total``
    (full TDP; 0 J without a TDP). ``feasible`` is ``inference_step``'s check.

    Returns InferenceScalingModel's outputs.
    """
    dep = SINGLE_DEVICE if deployment is None else deployment
    one = inference_step(
        model,
        context,
        1.0,
        peak_flops,
        efficiency,
        dispatch_tax,
        memory_bandwidth,
        memory_capacity,
        deployment=dep,
        precision_supported=precision_supported,
    )
    per_step = tokens_per_step * one["itl"]
    total = one["ttft"] + reasoning_steps * per_step
    power = np.where(np.isnan(tdp), 0.0, tdp)
    if not dep.single:
        power = power * dep.accelerators
    return {
        "total_reasoning_time": total,
        "ttft": one["ttft"],
        "itl": one["itl"],
        "time_per_step": per_step,
        "tokens_generated": reasoning_steps * tokens_per_step,
        "energy_per_query": power * total,
        "accelerators": dep.accelerators,
        "feasible": one["feasible"],
        "memory_fits": one["memory_fits"],
        "stages_fit": one["stages_fit"],
    }
