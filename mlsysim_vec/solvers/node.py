"""Node domain: one accelerator. ``SingleNodeModel`` (and ``Engine``), ``EfficiencyModel``,
``TrainingMemoryModel``.

Thin facades: arguments are validated and aligned by ``grid``; each resolver reads the grid and
calls one step function of ``physics`` (``roofline.single_node_step``,
``efficiency.efficiency_step``, ``memory.training_memory_step``).
"""

from __future__ import annotations

import numpy as np

from ..grid import Arg, Grid
from ..models.types import EmbodiedWorkload, SSMWorkload, TransformerWorkload
from ..options import FIDELITIES
from ..physics import efficiency as eff
from ..physics import memory as mem
from ..physics import roofline as rl
from ..physics.constants import (
    ACTIVATION_TRAFFIC_RATIO,
    CHECKPOINTING,
    GEMM_HALF_SIZE,
    GEMM_SHAPE_EXPONENT,
    OPTIMIZERS,
    PRECISIONS,
)
from ..units import Q_
from ..variables import reason
from ..variables.shared import NOTES
from .base import (
    FIDELITY,
    HARDWARE,
    PRECISION,
    Resolver,
    device_fields,
    model_arg,
    model_fields,
    precision_bytes,
    precision_terms,
)

__all__ = [
    "SingleNodeModel",
    "Engine",
    "EfficiencyModel",
    "TrainingMemoryModel",
    "OOMError",
    "refined_flag",
    "optional_input",
    "notes_code",
]

_REFINED = FIDELITIES.index("refined")


def refined_flag(g: Grid):
    """The ``fidelity`` argument as a boolean (True: "refined"): a plain bool when it is one
    value for the whole grid (the physics then skips the other fidelity's branch), else an
    array laid out on the grid."""
    inp = g.inputs["fidelity"]
    if not inp.dims:
        return bool(np.asarray(inp.values) == _REFINED)
    return g["fidelity"] == _REFINED


def notes_code(out: dict):
    """The ``notes`` bit field of the ``note_<name>`` booleans in ``out``: bit ``k`` set when
    the note ``NOTES[k]`` holds (``variables.shared.NOTES``; 0 = no note)."""
    code = np.int16(0)
    for k, name in enumerate(NOTES):
        key = f"note_{name}"
        if key in out:  # a lazy (dask) flag stays lazy: np.asarray would compute it whole
            flag = out[key] if hasattr(out[key], "dask") else np.asarray(out[key], dtype=bool)
            code = code | (flag.astype(np.int16) << k)
    return code if hasattr(code, "dask") else np.asarray(code, dtype=np.int16)


def optional_input(g: Grid, name: str, default=np.nan):
    """A numeric argument whose default is None: its grid array, or ``default`` (NaN: "not
    given", which the physics reads as its own default) when it was not given."""
    return g[name] if name in g.inputs else default


_MEMORY_CAPACITY = reason("memory_capacity")


def _infeasible_reason(fits):
    """``infeasible_reason`` codes: none where it fits, memory_capacity elsewhere."""
    return np.where(fits, 0, _MEMORY_CAPACITY).astype(np.int8)


class OOMError(MemoryError):
    """Raised by ``SingleNodeModel.solve(..., raise_errors=True)`` when a point does not fit.

    ``required_bytes`` / ``available_bytes``: of the first point that does not fit.
    """

    def __init__(self, message, required_bytes=None, available_bytes=None):
        super().__init__(message)
        self.required_bytes = required_bytes
        self.available_bytes = available_bytes


class SingleNodeModel(Resolver):
    """The roofline of one accelerator: is the workload compute- or memory-bound?

    One step of ``batch_size`` samples on one accelerator: the time of its FLOPs at the
    precision's peak (derated by ``efficiency``) against the time of its memory traffic, plus a
    fixed dispatch and per-layer framework overhead. With ``is_training`` the step is a forward
    and backward pass and the memory footprint is the training memory. A model that does not fit
    in device memory is infeasible and streams over the host link (offload). LLM token-by-token
    decoding is ServingModel's question (traffic = weights + KV cache).

    Notes
    -----
    With ``W`` the weight bytes at the precision, ``B`` the batch, ``F`` the peak FLOP/s at the
    precision, ``η`` the efficiency, ``BW`` the bandwidth of the memory tier the weights stream
    from and ``L`` the layers::

        ops     = ops_per_sample · tokens · k · B    (k = 3 training, 4 with recomputation, 1 inference;
                                                      tokens = seq_len for Transformer training, else 1)
        traffic = W · (1 + r · B)                    (r = activation_traffic_ratio)
        T       = max(ops / (F · η), traffic / BW) + dispatch_tax + L · 0.01 ms · (3 if training)
        throughput = B / T,   MFU = model FLOPs / (F · T),   energy = TDP · (0.3 + 0.7 · HFU) · T

    The training footprint is TrainingMemoryModel's total with Adam, this device's batch, ZeRO
    over ``dp_size`` and activations stored in full or recomputed; a LoRA fine-tune trains
    ``min(2·16·h·4L/P, 1)`` of the parameters; a model without the Transformer shape keeps
    ``2W + 12·W/b`` (``1.1·W`` for LoRA). Offload charges the lower of the fitting tier's and the
    host link's bandwidth. See ``docs/equations.md`` (section "Roofline") and the deviations
    docs/differences.md, D3, D4, D15 and D19.

    Under ``fidelity="refined"`` a Transformer training step adds the attention-score FLOPs
    ``k·4·s²·h·L·B`` (Narayanan et al. 2021, Eq. 3), runs its GEMMs at ``efficiency`` times the
    layer's GEMM shape factor (``gemm_half_size``, ``gemm_shape_exponent``; as DistributedModel),
    adds the element-wise and softmax time ``k·L·B·(34·s·h + 5·a·s²·(1 − flash))·b/2 / BW`` as its
    own term (``latency_elementwise``; ``T = max(compute, memory) + overhead + T_elementwise``),
    and charges the refined training memory (FlashAttention by default, fp32 gradients, logits).
    Inference is the same under both fidelities. In either fidelity, ``weight_precision`` keeps
    the frozen base weights of a LoRA fine-tune at that width in the training footprint (QLoRA:
    4-bit base weights, adapters at the training precision; Dettmers et al. 2023,
    arXiv:2305.14314).

    References
    ----------
    Williams, S., Waterman, A., Patterson, D. (2009). Roofline: an insightful visual performance
    model for multicore architectures. Communications of the ACM 52(4), 65-76.
    doi:10.1145/1498765.1498785.

    Kaplan, J. et al. (2020). Scaling laws for neural language models. arXiv:2001.08361.

    Korthikanti, V. et al. (2023). Reducing activation recomputation in large Transformer models.
    MLSys 2023. arXiv:2205.05198.
    """

    ARGS = (
        model_arg(),
        HARDWARE,
        Arg("batch_size", "integer", default=1, low=1),
        PRECISION,
        Arg("efficiency", default=0.5, low=1e-9, high=1.0),
        Arg("is_training", "bool", default=False),
        Arg("seq_len", "integer", default=2048, low=1, doc="tokens per sample of a Transformer training step (D3)"),
        Arg("zero_stage", "integer", default=0, low=0, high=3),
        Arg(
            "dp_size",
            "integer",
            default=1,
            low=1,
            doc="data-parallel degree the training memory is sharded over (ZeRO)",
        ),
        Arg("is_lora", "bool", default=False),
        Arg("activation_recomputation", "bool", default=False),
        Arg("activation_traffic_ratio", default=ACTIVATION_TRAFFIC_RATIO, low=0.0),
        FIDELITY,
        Arg("flash_attention", "bool", default=None),
        Arg("gemm_half_size", default=GEMM_HALF_SIZE, low=1.0, high=1e5),
        Arg("gemm_shape_exponent", default=GEMM_SHAPE_EXPONENT, low=0.1, high=10.0),
        Arg(
            "weight_precision",
            "choice",
            default=None,
            choices=PRECISIONS,
            doc="precision of the frozen base weights of a (Q)LoRA fine-tune, e.g. int4/fp4 for QLoRA "
            "(None: the training precision)",
        ),
    )
    OUTPUTS = (
        "latency",
        "latency_compute",
        "latency_memory",
        "latency_overhead",
        "latency_elementwise",
        "throughput",
        "bottleneck",
        "arithmetic_intensity",
        "energy",
        "memory_footprint",
        "peak_flops_actual",
        "peak_bw_actual",
        "mfu",
        "hfu",
        "feasible",
        "infeasible_reason",
        "offload_spill_bytes",
        "offload_effective_bw",
        "overhead_dominated",
        "peak_flops_fallback",
    )
    OPTIONS = {
        "raise_errors": (
            "bool",
            "Raise ``OOMError`` (naming the first point and how many do not fit) when any point's "
            "memory footprint exceeds the device memory, instead of reporting it as infeasible.",
        ),
    }

    def solve(self, *args, raise_errors: bool = False, chunks=None, **kwargs):
        if not isinstance(raise_errors, (bool, np.bool_)):  # "no" or 0 would be read as truthy/falsy
            raise TypeError(f"raise_errors={raise_errors!r} is not allowed; raise_errors must be True or False")
        result = super().solve(*args, chunks=chunks, **kwargs)
        if raise_errors:
            _raise_if_infeasible(result)
        return result

    def _compute(self, g: Grid) -> dict:
        model = lambda k: g.field("model", k)  # noqa: E731
        b, is_16bit, peak, fallback = precision_terms(g)
        refined = refined_flag(g)
        out = rl.single_node_step(
            **model_fields(g),
            **device_fields(g),
            peak_flops=peak,
            bytes_per_el=b,
            is_16bit=is_16bit,
            batch=g["batch_size"],
            efficiency=g["efficiency"],
            training=g["is_training"],
            seq_len=g["seq_len"],
            zero_stage=g["zero_stage"],
            dp=g["dp_size"],
            lora=g["is_lora"],
            recompute=g["activation_recomputation"],
            activation_traffic_ratio=g["activation_traffic_ratio"],
            refined=refined,
            flash_attention=optional_input(g, "flash_attention", refined),
            vocab=model("vocab_size"),
            gemm_half_size=g["gemm_half_size"],
            gemm_exponent=g["gemm_shape_exponent"],
            frozen_bytes_per_el=precision_bytes(g["weight_precision"])[0] if "weight_precision" in g.inputs else np.nan,
        )
        out["bottleneck"] = out.pop("memory_bound").view(np.int8)  # BOTTLENECKS: 0 Compute, 1 Memory
        out["infeasible_reason"] = _infeasible_reason(out["feasible"])
        out["peak_flops_fallback"] = fallback
        return {name: out[name] for name in self.OUTPUTS}


def _raise_if_infeasible(result):
    ds = result.dataset
    fits = ds["feasible"]
    if bool(fits.all()):
        return
    bad = fits.where(~fits, drop=True)
    index = {d: bad[d].values[0] for d in bad.dims}
    point = ds.sel(index) if index else ds
    required = float(point["memory_footprint"].values)
    spill = float(point["offload_spill_bytes"].values)
    where = ", ".join(
        f"{k}={v}"
        for k, v in {
            **index,
            **{k: ds[k].item() for k in ("model", "hardware") if k in ds.coords and ds[k].ndim == 0},
        }.items()
    )
    in_gb = lambda n: Q_(n, "byte").to("GB").magnitude  # noqa: E731
    raise OOMError(
        f"{where}: requires {in_gb(required):.3f} GB but the hardware has only "
        f"{in_gb(required - spill):.3f} GB ({int((~fits).sum())} of {fits.size} points do not fit)",
        required_bytes=required,
        available_bytes=required - spill,
    )


class Engine:
    """``Engine.solve(...)`` is ``SingleNodeModel().solve(...)`` (same arguments, same result)."""

    @staticmethod
    def solve(*args, **kwargs):
        return SingleNodeModel().solve(*args, **kwargs)


class EfficiencyModel(Resolver):
    """What MFU can a kernel class achieve? Achievable model-FLOPs utilisation by kernel class.

    The user's ``efficiency`` is read relative to the 0.5 of a well-tuned dense GEMM, and each
    kernel class (feed-forward GEMMs, attention with or without fused kernels, convolutions,
    anything else) reaches its own typical fraction of peak, capped per class. The model record
    is accepted but not used by the equations.

    Notes
    -----
    With ``s = efficiency / 0.5``::

        ffn        MFU = min(0.50 s, 0.60)
        attention  MFU = min(0.75 s, 0.85) with flash attention, else 0.30 s
        conv       MFU = min(0.40 s, 0.55)
        other      MFU = 0.30 s
        achievable_flops = peak · MFU
        occupancy_loss   = 1 - min(1.1 · efficiency, 1)
        memory_stall     = max(0, (1 - MFU) - occupancy_loss)

    MFU is clipped to [0, 1]. See ``docs/equations.md`` (section "Efficiency"); the precision is
    canonicalised like every resolver's (docs/differences.md, D15).

    References
    ----------
    Chowdhery, A. et al. (2022). PaLM: scaling language modeling with pathways.
    arXiv:2204.02311.

    Narayanan, D. et al. (2021). Efficient large-scale language model training on GPU clusters
    using Megatron-LM. SC 2021. arXiv:2104.04473.

    Dao, T. (2023). FlashAttention-2: faster attention with better parallelism and work
    partitioning. arXiv:2307.08691.
    """

    ARGS = (
        model_arg(default=None),
        HARDWARE,
        Arg("workload_type", "choice", default="ffn", choices=eff.WORKLOAD_TYPES),
        Arg("use_flash_attention", "bool", default=False),
        PRECISION,
        Arg("efficiency", default=0.5, low=0.0, low_open=True, high=1.0),
    )
    OUTPUTS = ("mfu", "achievable_flops", "peak_flops", "occupancy_loss", "memory_stall", "peak_flops_fallback")

    def _compute(self, g: Grid) -> dict:
        _, _, peak, fallback = precision_terms(g)
        out = eff.efficiency_step(g["workload_type"], g["use_flash_attention"], g["efficiency"], peak)
        out["peak_flops_fallback"] = fallback
        return out


def _has_transformer_shape(record) -> bool:
    return record.parameters is not None and bool(getattr(record, "layers", None))


class TrainingMemoryModel(Resolver):
    """Why does training not fit? Memory per accelerator of a training step.

    The weights, gradients and optimizer state of the accelerator's parameter shard, the stored
    activations of its pipeline stage and the communication buffers, under tensor, pipeline,
    data and expert parallelism with ZeRO sharding and activation checkpointing. The model needs
    the Transformer shape (parameters, layers, hidden size); ``activation_checkpointing="none"``
    also needs the attention heads. Expert parallelism shards every parameter (dense ones
    included), as mlsysim 0.3.0 does.

    Notes
    -----
    Per accelerator, with ``P`` parameters, ``b`` bytes per element, ``f`` the trainable
    fraction and ZeRO stage ``z`` (cumulative: optimizer state over ``dp`` from 1, gradients
    from 2, weights at 3)::

        weights     = P / (tp · pp · ep) · b
        gradients   = f · P / (tp · pp · ep) · b_grad
        optimizer   = f · P / (tp · pp · ep) · (12 adam/adamw, 4 sgd, 0 none)
        activations = ⌈L/pp⌉ · s·m·h · (10·c + 24/tp + 5·a·s/(h·tp)) · b/2     (none)
                      ⌈L/pp⌉ · s·m·h · (10·c + 24/tp) · b/2                    (selective)
                      ⌈L/pp⌉ · s·m·h · 2·c · b/2                               (full)
        buffers     = communication_buffer_fraction · gradients + 2·m·s·h·b (pp > 1)
        feasible    = total <= device memory

    with ``m = max(1, ⌈batch/(dp · GA)⌉)`` the microbatch, ``c = 1/tp`` with sequence
    parallelism and 1 without (docs/differences.md, V1), and the first stage of an interleaved
    schedule keeping ``1 + (pp−1)/(pp·v)`` times the activations. See ``docs/equations.md``
    (section "Training memory").

    Under ``fidelity="refined"`` (``physics.memory.training_memory``): FlashAttention
    (``flash_attention``, default True) stores ``8·a·s·m/tp`` bytes of softmax statistics per
    layer instead of the ``5·a·s²·m`` score matrix (Dao et al. 2022); gradients are fp32 unless
    ``gradient_precision`` says otherwise (Micikevicius et al. 2018); the first pipeline stage
    holds ``min(pp, n)`` microbatches of the flush (``× (1 + (pp−1)/(pp·v))`` interleaved) and the
    last one microbatch plus the fp32 logits ``4·s·m·V/tp`` (Korthikanti et al. 2022, §4.3); the
    larger stage is charged. In either fidelity ``microbatch_size`` sets ``m``, ``cp_size`` splits
    the sequence (plus the ring's K/V blocks, ``4·(s/cp)·m·h/tp`` elements per layer) and
    ``weight_precision`` keeps the frozen ``(1 − f)`` of the weights at that width (QLoRA,
    Dettmers et al. 2023).

    ``notes`` (a bit field, as DistributedModel's): ``no_flash_attention`` under refined with
    ``flash_attention=False``; ``attention_scores_stored`` in either fidelity where
    ``activation_checkpointing="none"`` without fused attention keeps the ``5·a·s²·m`` score
    matrix (the first_order default for "none").

    References
    ----------
    Rajbhandari, S., Rasley, J., Ruwase, O., He, Y. (2020). ZeRO: memory optimizations toward
    training trillion parameter models. SC 2020. arXiv:1910.02054.

    Korthikanti, V. et al. (2023). Reducing activation recomputation in large Transformer models.
    MLSys 2023. arXiv:2205.05198.

    Narayanan, D. et al. (2021). Efficient large-scale language model training on GPU clusters
    using Megatron-LM. SC 2021. arXiv:2104.04473.
    """

    ARGS = (
        model_arg(
            types=(TransformerWorkload, SSMWorkload, EmbodiedWorkload),
            hint="TransformerWorkload (or a layered model with parameters, layers and hidden_dim)",
        ),
        HARDWARE,
        Arg("batch_size", "integer", low=1, doc="global batch of the training step [samples]"),
        Arg("seq_len", "integer", default=2048, low=1),
        PRECISION,
        Arg("optimizer", "choice", default="adam", choices=OPTIMIZERS),
        Arg("activation_checkpointing", "choice", default="selective", choices=CHECKPOINTING),
        Arg("tp_size", "integer", default=1, low=1),
        Arg("pp_size", "integer", default=1, low=1),
        Arg("dp_size", "integer", default=1, low=1),
        Arg("ep_size", "integer", default=1, low=1),
        Arg("zero_stage", "integer", default=0, low=0, high=3),
        Arg("gradient_accumulation_steps", "integer", default=1, low=1),
        Arg("trainable_fraction", default=1.0, low=0.0, high=1.0),
        Arg("communication_buffer_fraction", default=mem.BUFFER_FRACTION, low=0.0, high=1.0),
        Arg("sequence_parallel", "bool", default=True),
        Arg("v_stages", "integer", default=1, low=1),
        Arg("gradient_precision", "choice", default=None, choices=PRECISIONS),
        FIDELITY,
        Arg(
            "microbatch_size",
            "integer",
            default=None,
            low=1,
            doc="samples per microbatch (default: the batch over dp x gradient_accumulation_steps)",
        ),
        Arg(
            "microbatch_count",
            "integer",
            default=None,
            low=1,
            doc="microbatches per pipeline flush (refined in-flight count; default: from batch and microbatch size)",
        ),
        Arg("flash_attention", "bool", default=None),
        Arg("cp_size", "integer", default=1, low=1),
        Arg(
            "weight_precision",
            "choice",
            default=None,
            choices=PRECISIONS,
            doc="precision of the frozen base weights of a (Q)LoRA fine-tune, e.g. int4/fp4 for QLoRA "
            "(None: the training precision)",
        ),
    )
    OUTPUTS = (
        "weights",
        "gradients",
        "optimizer_state",
        "activations",
        "communication_buffers",
        "total_memory",
        "available_memory",
        "memory_utilization",
        "feasible",
        "infeasible_reason",
        "notes",
        "note_no_flash_attention",
        "note_attention_scores_stored",
    )

    def _check(self, g: Grid) -> None:
        for record in g.records("model"):
            if not _has_transformer_shape(record):
                raise TypeError(
                    f"model={record!r} has no parameters or no layers; TrainingMemoryModel needs a "
                    f"TransformerWorkload (or a layered model with parameters, layers, hidden_dim)"
                )
        no_heads = [r for r in g.records("model") if not getattr(r, "heads", None)]
        if no_heads and CHECKPOINTING.index("none") in np.unique(g.inputs["activation_checkpointing"].values):
            raise ValueError(
                f"activation_checkpointing='none' needs the number of attention heads (the "
                f"attention-score term), which {no_heads[0]!r} does not have; use 'selective' or 'full'"
            )

    def _compute(self, g: Grid) -> dict:
        model = lambda k: g.field("model", k)  # noqa: E731
        b, _, _, _ = precision_terms(g)
        gradient_b = precision_bytes(g["gradient_precision"])[0] if "gradient_precision" in g.inputs else np.nan
        frozen_b = precision_bytes(g["weight_precision"])[0] if "weight_precision" in g.inputs else np.nan
        refined = refined_flag(g)
        flash = optional_input(g, "flash_attention", refined)
        out = mem.training_memory_step(
            model("parameters"),
            b,
            g["optimizer"],
            g["trainable_fraction"],
            g.field("hardware", "memory_capacity"),
            tp=g["tp_size"],
            pp=g["pp_size"],
            dp=g["dp_size"],
            ep=g["ep_size"],
            zero_stage=g["zero_stage"],
            global_batch=g["batch_size"],
            seq_len=g["seq_len"],
            accumulation_steps=g["gradient_accumulation_steps"],
            layers=model("layers"),
            hidden=model("hidden_dim"),
            heads=model("heads"),
            strategy=g["activation_checkpointing"],
            buffer_fraction=g["communication_buffer_fraction"],
            sequence_parallel=g["sequence_parallel"],
            gradient_bytes_per_el=gradient_b,
            interleave=g["v_stages"],
            refined=refined,
            microbatch_size=optional_input(g, "microbatch_size"),
            microbatches=optional_input(g, "microbatch_count"),
            flash_attention=flash,
            vocab=model("vocab_size"),
            cp=g["cp_size"],
            frozen_bytes_per_el=frozen_b,
        )
        out["infeasible_reason"] = _infeasible_reason(out["feasible"])
        out["note_no_flash_attention"] = out.pop("no_flash_attention")
        out["note_attention_scores_stored"] = out.pop("attention_scores_stored")
        out["notes"] = notes_code(out)
        return out
