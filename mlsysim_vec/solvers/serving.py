"""LLM serving domain: ``ServingModel``, ``ContinuousBatchingModel``, ``WeightStreamingModel``,
``TailLatencyModel``, ``ServingCapacityModel``, ``InferenceScalingModel``.

"How fast will my LLM generate tokens?", "Can I serve this LLM on this GPU — or on 4 of them?",
"What does a million tokens cost?", "How many serving replicas do I need for this SLA?" — each
answered over a whole grid in one call. Every resolver is a facade: it reads the grid, builds
the model (``physics.serving.transformer``) and the serving group with its fidelity
(``physics.serving.deployment``), calls one step function of ``physics.serving`` or
``physics.queueing`` and encodes the step's flags into the shared category codes. The equations
are in ``docs/equations.md`` (sections "Serving", "Collectives" and "Queueing"); the deliberate
deviations from the reference and the refined terms in docs/differences.md (D1, D2, D5, D9, D14,
D15, D21).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..grid import MAX_MAGNITUDE, REQUIRED, Arg, Grid
from ..hardware.types import HardwareNode
from ..models.types import TransformerWorkload
from ..physics import queueing as qu
from ..physics import serving as sv
from ..variables import BOTTLENECKS, reason
from .base import FIDELITY, HARDWARE, PRECISION, Resolver, model_arg

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
_BASE, _FEASIBLE = BOTTLENECKS.index("Base Latency"), BOTTLENECKS.index("Feasible")
#: WeightStreamingModel's labels: mlsysim 0.3.0's, which code written for it compares against.
_COMPUTE_BOUND, _INJECTION_BOUND = (BOTTLENECKS.index(k) for k in ("Compute-Bound", "Interconnect-Bandwidth-Bound"))
_PREFILL = 1  # code of "prefill" in WeightStreamingModel's phase choices
_REFINED = 1  # code of "refined" in FIDELITY's choices


def _model(name="model", optional=False):
    return model_arg(
        name, (TransformerWorkload,), "TransformerWorkload (Models.Language.*)", default=None if optional else REQUIRED
    )


def _code(mask, code):
    """``code`` where ``mask``, else 0, as int8 codes."""
    if hasattr(mask, "dask"):
        return np.where(mask, code, 0).astype(np.int8)
    return np.multiply(mask, np.int8(code), dtype=np.int8)


def _known(flag, value: bool) -> bool:
    """True when ``flag`` is the plain boolean ``value`` (a scalar): a code it guards is moot."""
    return np.ndim(flag) == 0 and not hasattr(flag, "dask") and bool(flag) is value


def _outputs(names: tuple[str, ...], step: dict, **codes) -> dict:
    """The outputs ``names`` in order: the category codes given, the rest from the step."""
    return {name: codes[name] if name in codes else step[name] for name in names}


def _optional(g: Grid, name: str):
    """An optional argument's array, or None when it was left out."""
    return g[name] if name in g.inputs else None


def _chunk_tokens(g: Grid):
    """``(chunk tokens for the kernel, where no chunk size was given)`` of ``prefill_chunk_tokens``.

    A NaN entry means "not given" at that point (as for every optional argument): one prefill
    pass, which a chunk of ``MAX_MAGNITUDE`` tokens is exactly; the second item marks those
    points, whose chunk outputs are then NaN as without chunking. ``(None, None)`` when the
    argument is left out or is one NaN."""
    chunk = _optional(g, "prefill_chunk_tokens")
    if chunk is None:
        return None, None
    if not g.inputs["prefill_chunk_tokens"].dims:
        return (None, None) if np.isnan(chunk) else (chunk, None)
    unchunked = np.isnan(chunk)
    return np.where(unchunked, MAX_MAGNITUDE, chunk), unchunked


#: Outputs that are NaN without chunked prefill.
_CHUNK_OUTPUTS = ("prefill_chunk_time", "decode_stall_bound")


def _value(g: Grid, name: str):
    """An argument's array; a scalar argument as a plain number (so that a kernel can see a
    degree of 1, or one fidelity, without looking into a lazy array)."""
    inp = g.inputs[name]
    return g[name] if inp.dims else np.float64(inp.values)


def _refined(g: Grid):
    """The fidelity: a bool when one fidelity is asked for, else a bool array."""
    inp = g.inputs["fidelity"]
    return bool(int(inp.values) == _REFINED) if not inp.dims else g["fidelity"] == _REFINED


def _precision_codes(g: Grid):
    """Codes of the weight, KV-cache and compute precisions (each defaults to ``precision``)."""
    code = g["precision"]
    return tuple(
        g[name] if name in g.inputs else code for name in ("weight_precision", "kv_precision", "compute_precision")
    )


def _transformer(g: Grid, name: str, weight_code, kv_code) -> sv.Transformer:
    """The Transformer record argument ``name`` at the weight and KV precisions."""

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
        bytes_per_el=sv.serving_precision_bytes(weight_code),
        is_16bit=sv.is_16bit(weight_code),
        kv_bytes_per_el=sv.serving_precision_bytes(kv_code),
        hidden=field("hidden_or_default"),
        vocab=field("vocab_size"),
        experts=field("experts"),
        top_k=field("active_experts_per_token"),
    )


def _peak(g: Grid, compute_code, refined, records: str = "hardware"):
    """Peak FLOP/s at the compute precision, the fallback flag and the unsupported flag."""
    table = [g.field(records, f"flops_{sv.PEAK_PRECISION[p]}") for p in sv.SERVING_PRECISIONS]
    emulation = (
        bool(g.inputs["allow_emulation"].values) if not g.inputs["allow_emulation"].dims else g["allow_emulation"]
    )
    return sv.compute_peak(compute_code, table, g.field(records, "peak_flops"), refined, emulation)


def _deployment(g: Grid, compute_code, refined, records: str = "hardware") -> sv.Deployment:
    """The serving group on the accelerator ``records`` and the fidelity's knobs."""
    return sv.deployment(
        tp=_value(g, "tp_size"),
        pp=_value(g, "pp_size"),
        ep=_value(g, "ep_size"),
        bandwidth=sv.link_bandwidth(
            g.field(records, "nvlink_bandwidth"),
            g.field(records, "host_link_bandwidth"),
            _optional(g, "interconnect_bandwidth"),
        ),
        latency=g.field(records, "nvlink_latency"),
        activation_bytes=sv.activation_bytes(compute_code),
        refined=refined,
        bandwidth_efficiency=_value(g, "bandwidth_efficiency"),
        forward_overhead=_value(g, "forward_overhead"),
        layer_overhead=_value(g, "layer_overhead"),
        reserve_fraction=_value(g, "memory_reserve_fraction"),
        grouped_kv_reads=_value(g, "grouped_kv_reads"),
    )


class _Setup:
    """What every serving facade reads first: fidelity, precisions, model, group, peak."""

    def __init__(self, g: Grid, records: str = "hardware"):
        self.refined = _refined(g)
        weight, kv, compute = _precision_codes(g)
        self.weight_code = weight
        self.model = _transformer(g, "model", weight, kv)
        self.peak, self.fallback, unsupported = _peak(g, compute, self.refined, records)
        self.supported = ~unsupported
        self.unsupported = unsupported
        self.deployment = _deployment(g, compute, self.refined, records)
        given = _optional(g, "gpu_hour_price")  # else the record's published rental price (NaN: none)
        self.price = given if given is not None else g.field(records, "rental_price")


def _reason(unsupported, stages_fit, otherwise):
    """precision_unsupported, else too_many_stages, else the resolver's own code (int8)."""
    if _known(unsupported, False) and _known(stages_fit, True):
        return np.asarray(otherwise).astype(np.int8, copy=False) if not hasattr(otherwise, "dask") else otherwise
    if any(hasattr(x, "dask") for x in (unsupported, stages_fit, otherwise)):
        return np.where(
            unsupported, reason("precision_unsupported"), np.where(~stages_fit, reason("too_many_stages"), otherwise)
        ).astype(np.int8)
    shape = np.broadcast_shapes(np.shape(unsupported), np.shape(stages_fit), np.shape(otherwise))
    if isinstance(otherwise, np.ndarray) and otherwise.dtype == np.int8 and otherwise.shape == shape:
        out = otherwise  # a fresh array of codes: overwritten in place
    else:
        out = np.empty(shape, dtype=np.int8)
        out[...] = otherwise
    if not _known(stages_fit, True):
        np.copyto(out, np.int8(reason("too_many_stages")), where=~np.asarray(stages_fit))
    if not _known(unsupported, False):
        np.copyto(out, np.int8(reason("precision_unsupported")), where=np.asarray(unsupported))
    return out


def _eager(g: Grid) -> Grid:
    """The grid without ``chunks``: the queue resolvers gather across points (the replica
    search, Erlang C's shared sums), so they evaluate in memory even when asked for chunks."""
    return Grid(g.inputs) if g.chunks is not None else g


def _check_below(g: Grid, small: str, large: str, strict: bool) -> None:
    """Every combination of two arguments satisfies ``small < large`` (or ``<=``)."""
    if small not in g.inputs or large not in g.inputs:
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
_EFFICIENCY_REFINED = "fraction of peak FLOP/s the GEMMs achieve (first order: prefill only; refined: every forward)"
_MAX_SEQ_LEN = dict(kind="integer", low=1, keyword_aliases=("seq_len",))

#: The serving precisions: D15's eight and the block-scaled nvfp4, mxfp4, mxfp8.
SERVING_PRECISION = replace(
    PRECISION,
    choices=sv.SERVING_PRECISIONS,
    doc="precision of weights, KV cache and GEMMs unless weight_precision, kv_precision or compute_precision "
    "is given (D15; nvfp4, mxfp4 and mxfp8 with their block scales)",
)


def _precision_arg(name: str, what: str) -> Arg:
    return Arg(
        name,
        "choice",
        default=None,
        choices=sv.SERVING_PRECISIONS,
        aliases=PRECISION.aliases,
        doc=f"precision of the {what} (None: precision)",
    )


#: The arguments every serving resolver (but TailLatencyModel) gains: fidelity, the serving
#: group, separate precisions, the refined terms' knobs.
_GROUP_ARGS = (
    FIDELITY,
    Arg(
        "tp_size", "integer", default=1, low=1, doc="tensor-parallel degree: weights, KV heads and FLOPs split over tp"
    ),
    Arg("pp_size", "integer", default=1, low=1, doc="pipeline stages (run one after the other: memory, not speed)"),
    Arg(
        "ep_size",
        "integer",
        default=1,
        low=1,
        doc="expert-parallel degree: routed experts split over ep, attention data-parallel over the ep ranks",
    ),
    Arg(
        "interconnect_bandwidth",
        default=None,
        unit="byte/s",
        low=0.0,
        low_open=True,
        doc="per-direction bandwidth of the links inside the serving group (None: the accelerator's intra-node "
        "link, else its host link)",
    ),
    _precision_arg("weight_precision", "weights"),
    _precision_arg("kv_precision", "KV cache"),
    _precision_arg("compute_precision", "GEMMs (the peak FLOP/s used)"),
    Arg("allow_emulation", "bool", default=False),
    Arg("bandwidth_efficiency", default=sv.BANDWIDTH_EFFICIENCY, low=0.0, low_open=True, high=1.0),
    Arg("forward_overhead", default=sv.FORWARD_OVERHEAD_S, unit="s", low=0.0, high=1.0),
    Arg("layer_overhead", default=sv.LAYER_OVERHEAD_S, unit="s", low=0.0, high=0.01),
    Arg("memory_reserve_fraction", default=sv.MEMORY_RESERVE_FRACTION, low=0.0, high=1.0, high_open=True),
    Arg(
        "grouped_kv_reads",
        "bool",
        default=True,
        doc="refined: the decode attention kernel reads each KV head once for all the query heads of its group "
        "(FlashAttention, FlashInfer, TensorRT-LLM XQA); False: once per query head, a/a_kv times the KV traffic "
        "of a GQA model (TensorRT-LLM's masked MHA kernel before 0.7.1)",
    ),
)
_PRICE = Arg("gpu_hour_price", default=None, unit="USD/h", low=0.0)

_GROUP_NOTES = """
    Serving group (``tp_size``, ``pp_size``, ``ep_size``; ``G = tp pp ep`` accelerators):
    weights, KV cache and FLOPs split over the group; per layer two tensor-parallel ring
    all-reduces of the activations ``M = (T / ep) h b_a`` per forward over the accelerator's
    intra-node link (``interconnect_bandwidth`` overrides it), ``2 L (2 (tp - 1)/tp M / beta +
    2 (tp - 1) alpha)``; ``pp - 1`` point-to-point sends ``alpha + M / beta`` between stages,
    which run one after the other (``pp`` adds memory, not speed); for a mixture of experts two
    all-to-alls of the routed activations per layer. Memory is checked per accelerator
    (``precision_unsupported`` and ``too_many_stages`` come first). Under first order a group
    of one is mlsysim 0.3.0's single device exactly; a larger one divides weights, KV and FLOPs
    evenly and adds the communication.

    Refined (``fidelity="refined"``): every forward takes ``max(compute, memory) +
    communication + forward_overhead + L layer_overhead``. Compute is ``(2 P_active T +
    attention) / (tp ep F eta)`` with the attention ``4 L a d`` per token per attended token
    (Kaplan et al. 2020, Table 1; causal in prefill, the cached context in decode); memory is
    ``(weights read + KV read + KV written + prefill activations) / (BW eta_bw)``; a mixture of
    experts reads the experts its tokens touch, ``1 - (1 - k/E)^T`` of them. The memory check
    adds the activations of the largest forward, a communication buffer and a framework reserve
    (``memory_reserve_fraction`` of capacity; vLLM keeps 10 %). Precisions: weights, KV cache
    and GEMMs each their own (nvfp4 4.5 bits, mxfp4 4.25 bits, mxfp8 8.25 bits with their block
    scales); a compute precision the accelerator has no peak for is infeasible
    (``precision_unsupported``) unless ``allow_emulation`` (then the headline peak stands in and
    ``peak_flops_fallback`` is set); fp16/bf16 use the headline peak, the records' dense 16-bit
    figure, without a fallback. Defaults: ``bandwidth_efficiency`` 0.85 (STREAM-like kernels
    reach 0.8 to 0.9 of HBM peak, Deakin et al. 2018), ``forward_overhead`` 0.2 ms (an estimate
    to calibrate), ``layer_overhead`` 0.01 ms (mlsysim 0.3.0's layer tax). ``grouped_kv_reads``
    (default True): decode reads each cached KV head once per step for all the query heads
    that share it; False models a kernel that runs each query head on its own and reads its
    group's K and V again, ``(a/tp)/ceil(a_kv/tp)`` times the KV traffic (no change for
    multi-head attention or MLA).
"""

_GROUP_REFERENCES = """
    Kaplan, J., McCandlish, S., Henighan, T., et al. (2020). Scaling laws for neural language
    models. arXiv:2001.08361.

    Shoeybi, M., Patwary, M., Puri, R., et al. (2019). Megatron-LM: training multi-billion
    parameter language models using model parallelism. arXiv:1909.08053.

    Deakin, T., Price, J., Martineau, M., McIntosh-Smith, S. (2018). Evaluating attainable
    memory bandwidth of parallel programming models via BabelStream. International Journal of
    Computational Science and Engineering 17(3), 247-262. doi:10.1504/IJCSE.2018.095847.

    Open Compute Project (2023). OCP Microscaling Formats (MX) Specification, version 1.0.
"""


class ServingModel(Resolver):
    __doc__ = (
        """How fast does a group of accelerators serve an LLM: time to first token,
    inter-token latency, a static batch's generation time and throughput, memory and cost?

    One accelerator, or ``tp_size x pp_size x ep_size`` of them. Options: prompt caching
    (``cached_prefix_len``), chunked prefill (``prefill_chunk_tokens``), speculative decoding
    (``draft_model``) and disaggregated serving (``decode_hardware``: prefill on ``hardware``,
    decode there, the KV cache sent over ``network_bandwidth``). A static batch of
    ``batch_size`` sequences generates ``output_tokens`` tokens each (``generation_latency``,
    ``output_throughput``, per accelerator ``output_throughput_per_gpu``); with a
    ``gpu_hour_price`` the cost per million output and input tokens. Times are reported for
    infeasible points too; ``infeasible_reason`` is precision_unsupported, too_many_stages,
    memory_capacity (colocated), decode_memory_capacity or prefill_memory_capacity
    (disaggregated).

    Notes
    -----
    First order, with ``S`` context tokens (cached prefix ``C`` included), batch ``B``, active
    parameters ``P_active`` (D1), ``L`` layers, ``a`` heads of width ``d`` (D2), ``k`` KV bytes
    per token, weights ``W``, peak ``F`` at the compute precision, efficiency ``eta``, the
    decode device's bandwidth ``BW`` and the group's communication ``comm``::

        N            = max(1, S - C)                       new tokens
        prefill FLOPs = N B (2 P_active + 4 L a d S)
        TTFT         = FLOPs / (tp ep F eta) + comm + dispatch_tax x passes   (+ KV / network_bandwidth)
        KV           = k S B
        ITL          = (W + KV) / (tp ep BW) + L x 0.01 ms + comm     the one decode-step kernel (D5)
        memory       = (W + KV (+ W_draft + KV_draft)) / (tp pp ep)  per accelerator, decode device

    The memory holds the cache at its largest, ``k (S + O - 1) B`` with ``output_tokens = O``.

    Speculative decoding with ``K = 4`` draft tokens and acceptance ``alpha``:
    ``ITL = (K t_draft + ITL_target) / E`` with ``E = 1 + alpha + ... + alpha^K``, ``t_draft``
    the draft's own decode step (same kernel, D5; refined: the target's step is a verification
    forward of ``K + 1`` tokens per sequence). Chunked prefill with chunks of ``c`` tokens:
    ``ceil(N / c)`` passes; the largest chunk takes ``prefill_chunk_time`` =
    ``decode_stall_bound``. Disaggregated, the prefill device must hold ``W + KV`` (D5).

    Generation of a static batch: the first token comes out of the prefill, then ``O - 1``
    decode steps over the contexts ``S + 1 ... S + O - 1``, summed exactly (both step models
    are linear in the context, or the maximum of two lines)::

        generation_latency        = TTFT + sum_j ITL(S + j)
        output_throughput         = B O / generation_latency              (the group)
        output_throughput_per_gpu = output_throughput / accelerators
        cost per million output   = price x accelerators / output_throughput x 1e6
        cost per million input    = price x accelerators / (B N / generation_latency) x 1e6

    Each cost charges the whole run to one kind of token (with ``output_tokens = 1`` the input
    price is the prefill's).
"""
        + _GROUP_NOTES
        + """
    See ``docs/equations.md``, sections "Serving" and "Collectives", and docs/differences.md,
    D1, D2, D5, D15.

    References
    ----------
    Pope, R., Douglas, S., Chowdhery, A., et al. (2023). Efficiently scaling Transformer
    inference. MLSys 2023. arXiv:2211.05102.

    Leviathan, Y., Kalman, M., Matias, Y. (2023). Fast inference from Transformers via
    speculative decoding. ICML 2023. arXiv:2211.17192.

    Ainslie, J., Lee-Thorp, J., de Jong, M., et al. (2023). GQA: training generalized
    multi-query Transformer models from multi-head checkpoints. EMNLP 2023. arXiv:2305.13245.
"""
        + _GROUP_REFERENCES
    )

    ARGS = (
        _model(),
        replace(HARDWARE, doc="prefill accelerator, and the decode accelerator unless decode_hardware is given"),
        Arg("seq_len", "integer", low=1, doc="context tokens S of each sequence, cached prefix included"),
        Arg("batch_size", "integer", default=1, low=1, doc="concurrent sequences B"),
        SERVING_PRECISION,
        Arg("efficiency", **(_EFFICIENCY | dict(doc=_EFFICIENCY_REFINED))),
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
        Arg(
            "output_tokens",
            "integer",
            default=1,
            low=1,
            doc="tokens generated per sequence of the static batch (the first by the prefill)",
        ),
        *_GROUP_ARGS,
        _PRICE,
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
        "generation_latency",
        "output_throughput",
        "output_throughput_per_gpu",
        "cost_per_million_output_tokens",
        "cost_per_million_input_tokens",
        "accelerators",
        "runtime_memory",
        "decode_compute_time",
        "decode_memory_time",
        "communication_time",
    )

    def _check(self, g: Grid) -> None:
        _check_below(g, "cached_prefix_len", "seq_len", strict=True)

    def _compute(self, g: Grid) -> dict:
        s = _Setup(g)
        weight, kv, compute = _precision_codes(g)
        disaggregated = "decode_hardware" in g.inputs
        decode = "decode_hardware" if disaggregated else "hardware"
        draft = _transformer(g, "draft_model", weight, kv) if "draft_model" in g.inputs else None
        supported, fallback = s.supported, s.fallback
        chunk, unchunked = _chunk_tokens(g)
        decode_group = decode_peak = None
        if disaggregated:
            decode_group = _deployment(g, compute, s.refined, decode)
            decode_peak, decode_fallback, decode_unsupported = _peak(g, compute, s.refined, decode)
            supported, fallback = supported & ~decode_unsupported, fallback | decode_fallback
        step = sv.inference_step(
            s.model,
            g["seq_len"],
            g["batch_size"],
            s.peak,
            g["efficiency"],
            g.field("hardware", "dispatch_tax"),
            g.field(decode, "memory_bandwidth"),
            g.field(decode, "memory_capacity"),
            cached_tokens=g["cached_prefix_len"],
            chunk_tokens=chunk,
            draft=draft,
            draft_acceptance=g["draft_acceptance_rate"],
            prefill_memory_capacity=g.field("hardware", "memory_capacity") if disaggregated else None,
            network_bandwidth=g["network_bandwidth"] if disaggregated else None,
            output_tokens=_value(g, "output_tokens"),
            deployment=s.deployment,
            decode_deployment=decode_group,
            prefill_bandwidth=g.field("hardware", "memory_bandwidth") if disaggregated else None,
            precision_supported=supported,
            gpu_hour_price=s.price,
            decode_peak_flops=decode_peak,
        )
        fits = step["memory_fits"]
        if disaggregated:
            memory = np.where(
                ~fits,
                reason("decode_memory_capacity"),
                np.where(~step["prefill_memory_fits"], reason("prefill_memory_capacity"), 0),
            )
        else:
            memory = _code(~fits, reason("memory_capacity"))
        why = _reason(~supported, step["stages_fit"], memory)
        out = _outputs(self.OUTPUTS, step, infeasible_reason=why, peak_flops_fallback=fallback)
        if unchunked is not None:
            for name in _CHUNK_OUTPUTS:
                out[name] = np.where(unchunked, np.nan, out[name])
        return out


class ContinuousBatchingModel(Resolver):
    __doc__ = (
        """How many requests does continuous batching with a paged KV cache serve at once, how
    much faster than static max-length reservations — and, for a closed loop of concurrent
    users, with what latency and throughput?

    Request lengths are exponential with mean ``mean_request_tokens``, capped at
    ``max_seq_len``. A static allocator reserves ``max_seq_len`` tokens per request; a paged
    allocator allocates pages of ``page_size`` tokens as a request grows. Infeasible (nothing
    admitted): counts, throughputs and KV sizes 0, fragmentation 0, ``ttft`` and ``itl`` NaN,
    ``speedup_vs_static`` 1; ``infeasible_reason`` no_kv_budget when the weights leave no
    memory, memory_capacity when one request's pages do not fit. ``speedup_vs_static`` is
    infinite when only the paged allocator admits a request.

    Closed loop: with ``concurrency`` (and ``input_tokens``, ``output_tokens``) ``c`` users
    each send the next request when the last completes; ``ttft``, ``itl``, ``e2e_latency``,
    ``output_throughput``, ``requests_per_s`` and ``running_requests`` describe that loop
    (every one a grid over ``concurrency``), ``max_seq_len`` defaults to ``input_tokens +
    output_tokens`` and ``max_batch_size`` to no limit but the KV cache. Without
    ``concurrency`` the closed-loop outputs are missing.

    Notes
    -----
    KV budget ``M = capacity - W`` (per accelerator, ``capacity - W / G`` for a group of
    ``G``), ``k`` KV bytes per token, ``S_max`` the cap, ``p`` the page, ``B_max`` the
    scheduler cap::

        static admits   N_s = min(floor(M / (k S_max)), B_max)
        paged admits    N_p = min(floor(floor(M / (k p)) p / alloc + 1e-9), B_max)
        alloc           = p E[ceil(X / p)],  X ~ Exp(mu) capped at S_max, E[X] = mean
        decode step     = (W + k N mean) / BW + L x 0.01 ms     the one kernel (D5)
        throughput      = N / step
        TTFT            = N_p S_max (2 P_active + 4 L a d S_max) / (F eta) + dispatch_tax

    ``itl`` is the step of the admitted requests. Fragmentation: paged ``max(0, 1 - mean /
    alloc)``, static ``1 - mean / S_max``.

    The closed loop is a steady state of in-flight batching (prefill chunks mixed into decode
    steps): a running request holds ``I + (O + p)/2`` KV tokens on average, so ``n =
    min(c, B_max, floor(budget / (I + (O + p)/2)))`` requests run; a step ``T(D, q)``
    carries ``D`` decode tokens over the mean context ``I + O/2`` and ``q`` prompts of ``I``
    tokens; seen from one request the others start ``q = (n - 1)/O`` prompts a step::

        ITL        = T(n, (n - 1)/O)
        t_first    = T(n - 1, 1 + (n - 1)/O)       the step that carries its own prompt
        service    = t_first + (O - 1) ITL
        X          = n / service                    requests_per_s (Little's law)
        e2e        = c / X                          waits (c/n - 1) service for admission
        TTFT       = e2e - (O - 1) ITL
        output_throughput = X O

    ``T`` is the refined forward or, first order, the prompts' prefill compute (plus the
    dispatch tax) plus the decode-step kernel.
"""
        + _GROUP_NOTES
        + """
    See ``docs/equations.md``, section "Serving", and docs/differences.md, D1, D2, D5, D21.

    References
    ----------
    Kwon, W., Li, Z., Zhuang, S., et al. (2023). Efficient memory management for large
    language model serving with PagedAttention. SOSP 2023. arXiv:2309.06180.

    Yu, G.-I., Jeong, J. S., Kim, G.-W., Kim, S., Chun, B.-G. (2022). Orca: a distributed
    serving system for Transformer-based generative models. OSDI 2022.

    Agrawal, A., Kedia, N., Panwar, A., et al. (2024). Taming throughput-latency tradeoff in
    LLM inference with Sarathi-Serve. OSDI 2024. arXiv:2403.02310.

    Little, J. D. C. (1961). A proof for the queuing formula L = lambda W. Operations Research
    9(3). doi:10.1287/opre.9.3.383.
"""
        + _GROUP_REFERENCES
    )

    ARGS = (
        _model(),
        replace(HARDWARE, doc=_HARDWARE_DOC),
        Arg(
            "max_seq_len",
            default=None,
            **_MAX_SEQ_LEN,
            doc="maximum tokens per request, prompt and output (required without concurrency; None in the closed "
            "loop: input_tokens + output_tokens)",
        ),
        Arg(
            "mean_request_tokens",
            default=None,
            low=0.0,
            low_open=True,
            doc="mean tokens per request, at most max_seq_len (None: max_seq_len)",
        ),
        Arg(
            "max_batch_size",
            "integer",
            default=None,
            low=1,
            keyword_aliases=("max_batch",),
            doc="concurrent requests the scheduler allows (None: 1; in the closed loop no limit but the KV cache)",
        ),
        Arg("page_size", "integer", default=16, low=1),
        SERVING_PRECISION,
        Arg("efficiency", **(_EFFICIENCY | dict(low=1e-9, low_open=False, doc=_EFFICIENCY_REFINED))),
        Arg("concurrency", "integer", default=None, low=1),
        Arg("input_tokens", "integer", default=None, low=1),
        Arg("output_tokens", "integer", default=None, low=1, doc="tokens generated per request of the closed loop"),
        *_GROUP_ARGS,
        _PRICE,
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
        "running_requests",
        "e2e_latency",
        "requests_per_s",
        "output_throughput",
        "output_throughput_per_gpu",
        "accelerators",
        "cost_per_million_output_tokens",
        "cost_per_million_input_tokens",
    )

    def _check(self, g: Grid) -> None:
        closed = "concurrency" in g.inputs
        if closed:
            for name in ("input_tokens", "output_tokens"):
                if name not in g.inputs:
                    raise TypeError(f"ContinuousBatchingModel.solve(): concurrency needs {name} (the closed loop)")
        elif "max_seq_len" not in g.inputs:
            raise TypeError("ContinuousBatchingModel.solve() missing required argument 'max_seq_len' (a whole number)")
        _check_below(g, "mean_request_tokens", "max_seq_len", strict=False)

    def _compute(self, g: Grid) -> dict:
        s = _Setup(g)
        closed = "concurrency" in g.inputs
        step = sv.continuous_batching_step(
            s.model,
            _optional(g, "max_seq_len"),
            _optional(g, "mean_request_tokens"),
            _optional(g, "max_batch_size"),
            g["page_size"],
            s.peak,
            g["efficiency"],
            g.field("hardware", "dispatch_tax"),
            g.field("hardware", "memory_bandwidth"),
            g.field("hardware", "memory_capacity"),
            deployment=s.deployment,
            precision_supported=s.supported,
            gpu_hour_price=s.price,
            concurrency=g["concurrency"] if closed else None,
            input_tokens=_optional(g, "input_tokens"),
            output_tokens=_optional(g, "output_tokens"),
        )
        why = _reason(s.unsupported, step["stages_fit"], _batching_reason(step["has_kv_budget"], step["admitted"]))
        return _outputs(self.OUTPUTS, step, infeasible_reason=why, peak_flops_fallback=s.fallback)


class WeightStreamingModel(Resolver):
    __doc__ = (
        """How fast does a weight-streaming (wafer-scale) device run an LLM whose weights are
    injected layer by layer while the KV cache stays on the device?

    The device's ``memory_capacity`` holds the KV cache; its interconnect (as stored; 100 GB/s
    when absent or zero) injects the weights. ``feasible`` when the KV working set fits
    (``infeasible_reason`` sram_capacity); ``bottleneck`` is "Compute-Bound" or
    "Interconnect-Bandwidth-Bound" (the injection link), whichever takes a layer longer
    (mlsysim 0.3.0's labels). ``tp_size`` devices share each layer (injection, compute and KV
    split, two all-reduces per layer), ``pp_size`` stages share the KV cache.

    Notes
    -----
    Per layer, with ``P`` parameters, ``L`` layers, ``b`` bytes per weight, ``P_l = P_active /
    L`` (D1), ``a_kv`` KV heads of width ``d`` (D2)::

        t_inj  = (P / L) b / (tp BW_inj)
        FLOPs  = 2 P_l B                                  (decode)
               = 2 P_l S B + 2 B a_kv S^2 d               (prefill)
        t_comp = FLOPs / (tp F eta) + dispatch_tax
        layer  = max(t_comp, t_inj) + comm / L            (perfect overlap)
        throughput = tokens / (L x layer)                 tokens B (decode) or B S (prefill)
        memory = 1.1 k S B / (tp pp ep)                   KV cache + 10 %
        optimal_batch_size = max(1, floor(t_inj F eta / (2 P_l)))

    Refined: the attention FLOPs are ``4 a d`` per token per attended token (Kaplan et al.
    2020; causal in prefill, the cached context in decode), ``layer_overhead`` replaces the
    dispatch tax per layer and each pass adds ``forward_overhead``. Throughput is 0 when
    infeasible; the cost per million tokens (output in decode, input in prefill) is
    ``price x devices / throughput x 1e6``. See ``docs/equations.md``, section "Serving", and
    docs/differences.md, D1, D2, D14.

    References
    ----------
    Lie, S. (2023). Cerebras architecture deep dive: first look inside the hardware/software
    co-design for deep learning. IEEE Micro 43(3). doi:10.1109/MM.2023.3256384.
"""
        + _GROUP_REFERENCES
    )

    ARGS = (
        _model(),
        replace(
            HARDWARE,
            doc="weight-streaming device: its memory holds the KV cache, its interconnect (as stored; 100 GB/s "
            "when it has none) injects the weights",
        ),
        Arg("seq_len", "integer", low=1, doc="tokens held per sequence S"),
        Arg("batch_size", "integer", default=1, low=1, doc="sequences B"),
        SERVING_PRECISION,
        Arg("efficiency", default=0.5, low=0.0, low_open=True, high=1.0),
        Arg("phase", "choice", default="decode", choices=("decode", "prefill")),
        *_GROUP_ARGS,
        _PRICE,
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
        "accelerators",
        "cost_per_million_output_tokens",
        "cost_per_million_input_tokens",
    )

    def _compute(self, g: Grid) -> dict:
        s = _Setup(g)
        step = sv.weight_streaming_step(
            s.model,
            g["seq_len"],
            g["batch_size"],
            g["phase"] == _PREFILL,
            sv.serving_precision_bytes(s.weight_code),
            s.peak,
            g["efficiency"],
            g.field("hardware", "dispatch_tax"),
            g.field("hardware", "host_link_bandwidth_raw"),
            g.field("hardware", "memory_capacity"),
            deployment=s.deployment,
            precision_supported=s.supported,
            gpu_hour_price=s.price,
        )
        return _outputs(
            self.OUTPUTS,
            step,
            infeasible_reason=_reason(
                s.unsupported, step["stages_fit"], _code(~step["memory_fits"], reason("sram_capacity"))
            ),
            bottleneck=np.where(step["compute_bound"], _COMPUTE_BOUND, _INJECTION_BOUND).astype(np.int8),
            peak_flops_fallback=s.fallback,
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
    __doc__ = (
        """How many serving replicas meet a P99 latency target at a request rate?

    One replica (a group of ``tp_size x pp_size x ep_size`` accelerators) serves by continuous
    batching (pages of 16 tokens); a request's base latency is its time to first token plus
    ``output_tokens`` inter-token latencies; the replicas form an M/M/r queue whose P99 wait
    must fit in what the base latency leaves of the target. ``bottleneck`` and
    ``infeasible_reason`` say what stops a point: Memory (no_kv_budget or memory_capacity),
    Base Latency (base_latency: one request alone misses the target, D9), Tail Latency
    (latency_target: stable but too slow at ``max_replicas``) or Capacity (unstable_queue at
    ``max_replicas``; no_capacity when a replica serves nothing); precision_unsupported and
    too_many_stages come first.

    Notes
    -----
    1. Continuous batching admits ``N`` requests per replica at ``T`` tokens/s (the one
       decode-step kernel, D5, or the refined step); a replica serves ``mu = T /
       output_tokens`` requests/s.
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
    With a ``gpu_hour_price``, a replica at capacity costs ``price x accelerators / (mu x
    output_tokens) x 1e6`` per million output tokens (``mu x mean`` for input tokens).
"""
        + _GROUP_NOTES
        + """
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
        + _GROUP_REFERENCES
    )

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
        SERVING_PRECISION,
        Arg("efficiency", **(_EFFICIENCY | dict(low=1e-9, low_open=False, doc=_EFFICIENCY_REFINED))),
        Arg("max_replicas", "integer", default=1024, low=1),
        Arg("service_time_cv", default=1.0, low=0.0, doc=TailLatencyModel.arguments()["service_time_cv"].doc),
        *_GROUP_ARGS,
        _PRICE,
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
        "accelerators",
        "cost_per_million_output_tokens",
        "cost_per_million_input_tokens",
    )

    def _check(self, g: Grid) -> None:
        _check_below(g, "mean_request_tokens", "max_seq_len", strict=False)

    def _compute(self, g: Grid) -> dict:
        g = _eager(g)
        s = _Setup(g)
        step = sv.serving_capacity_step(
            s.model,
            g["qps"],
            g["target_p99_latency_ms"],
            g["max_seq_len"],
            _optional(g, "mean_request_tokens"),
            g["output_tokens"],
            g["max_batch_size"],
            g["max_replicas"],
            g["service_time_cv"],
            s.peak,
            g["efficiency"],
            g.field("hardware", "dispatch_tax"),
            g.field("hardware", "memory_bandwidth"),
            g.field("hardware", "memory_capacity"),
            deployment=s.deployment,
            precision_supported=s.supported,
            gpu_hour_price=s.price,
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
            ~fits,  # requests may be admitted and the batch still not fit: memory_capacity, not none
            np.where(step["has_kv_budget"], reason("memory_capacity"), reason("no_kv_budget")),
            np.where(
                ~servable,
                reason("no_capacity"),
                np.where(
                    too_slow,
                    reason("base_latency"),
                    np.where(found, 0, np.where(stable, reason("latency_target"), reason("unstable_queue"))),
                ),
            ),
        )
        why = _reason(s.unsupported, step["stages_fit"], why)
        return _outputs(
            self.OUTPUTS, step, infeasible_reason=why, bottleneck=bottleneck, peak_flops_fallback=s.fallback
        )


class InferenceScalingModel(Resolver):
    __doc__ = (
        """How long does a reasoning query of several chain-of-thought steps take, and how much
    energy does it use?

    ServingModel at ``seq_len = context_length`` and batch 1 gives the time to first token and
    the inter-token latency (D1, D2, D5 apply; the serving group and the fidelity as
    ServingModel's); each reasoning step generates ``tokens_per_step`` tokens. ``feasible`` is
    ServingModel's check; times are reported either way.

    Notes
    -----
    ::

        time_per_step        = tokens_per_step x ITL
        total_reasoning_time = TTFT + K x time_per_step
        energy_per_query     = TDP x accelerators x total_reasoning_time

    The ITL is that of the initial context, and the energy draws the full TDP (0 J without a
    TDP), as mlsysim 0.3.0 does.
"""
        + _GROUP_NOTES
        + """
    See ``docs/equations.md``, section "Serving".

    References
    ----------
    Snell, C., Lee, J., Xu, K., Kumar, A. (2024). Scaling LLM test-time compute optimally can
    be more effective than scaling model parameters. arXiv:2408.03314.
"""
        + _GROUP_REFERENCES
    )

    ARGS = (
        _model(),
        replace(HARDWARE, doc=_HARDWARE_DOC),
        Arg("reasoning_steps", "integer", default=8, low=0),
        Arg("context_length", "integer", default=2048, low=1),
        SERVING_PRECISION,
        Arg("efficiency", **(_EFFICIENCY | dict(doc=_EFFICIENCY_REFINED))),
        Arg("tokens_per_step", "integer", default=50, low=1),
        *_GROUP_ARGS,
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
        "accelerators",
    )

    def _compute(self, g: Grid) -> dict:
        s = _Setup(g)
        step = sv.reasoning_step(
            s.model,
            g["context_length"],
            g["reasoning_steps"],
            g["tokens_per_step"],
            s.peak,
            g["efficiency"],
            g.field("hardware", "dispatch_tax"),
            g.field("hardware", "memory_bandwidth"),
            g.field("hardware", "memory_capacity"),
            g.field("hardware", "tdp"),
            deployment=s.deployment,
            precision_supported=s.supported,
        )
        why = _reason(s.unsupported, step["stages_fit"], _code(~step["memory_fits"], reason("memory_capacity")))
        return _outputs(self.OUTPUTS, step, infeasible_reason=why, peak_flops_fallback=s.fallback)
