"""Training-memory kernels: the one training-memory formula of the library.

Per-accelerator bytes of a training step under tensor (TP), pipeline (PP), data (DP) and
expert (EP) parallelism with ZeRO sharding (``docs/equations.md``, section "Training memory"):

* weights ``P/(tp·pp·ep) · b``; gradients and optimizer state over the trainable part;
* ZeRO (Rajbhandari et al., "ZeRO: Memory optimizations toward training trillion parameter
  models", SC 2020, arXiv:1910.02054) is cumulative: stage ≥ 1 shards optimizer state over DP,
  ≥ 2 gradients, 3 weights;
* activations after Korthikanti et al., "Reducing Activation Recomputation in Large Transformer
  Models" (MLSys 2023, arXiv:2205.05198), eq. 1–6: per layer ``s·b·h·(34 + 5·a·s/h)`` bytes at
  16-bit without recomputation, ``34·s·b·h`` with selective recomputation (the attention scores
  are recomputed), ``2·s·b·h`` (the layer input only) with full recomputation; scaled by
  bytes-per-element / 2. Under tensor parallelism t with sequence parallelism everything is
  divided by t (eq. 6); without it only the 24·sbh inside the attention and MLP blocks and the
  score term are (eq. 2: ``sbh(10 + 24/t + 5as/(ht))``), and the full-recomputation input is
  not (mlsysim 0.3.0 divided nothing here: docs/differences.md, V1); the interleaved 1F1B
  schedule with v model chunks per device keeps ``1 + (p−1)/(p·v)`` times the activations on
  the first stage (§4.2.3);
* communication buffers: a fraction of the gradients, plus a send and a receive buffer of one
  microbatch's activations at a pipeline-stage boundary.

``training_footprint`` is the footprint of a training step as SingleNodeModel and
DistributedModel charge it (the formula above with Adam for Transformers, ``2W + 12·W/b`` for
other models); ``training_memory_step`` is TrainingMemoryModel's whole question (does it fit?).

All arguments are float arrays that broadcast (codes for the choices); results in bytes.
"""

from __future__ import annotations

import numpy as np

from .constants import DEFAULT_HEADS, DEFAULT_HIDDEN_DIM, LORA_RANK, OPTIMIZER_BYTES, select_by_code

__all__ = [
    "NONE",
    "SELECTIVE",
    "FULL",
    "BUFFER_FRACTION",
    "LORA_WEIGHT_FACTOR",
    "activation_bytes",
    "training_memory",
    "lora_trainable_fraction",
    "training_footprint",
    "training_memory_step",
]

#: Codes of ``activation_checkpointing`` (order of ``constants.CHECKPOINTING``).
NONE, SELECTIVE, FULL = 0, 1, 2
#: Gradient communication buffers as a fraction of the gradient bytes (mlsysim's default).
BUFFER_FRACTION = 0.05
#: LoRA fine-tune of a model without the Transformer shape: ``1.1·W`` resident (mlsysim 0.3.0).
LORA_WEIGHT_FACTOR = 1.1


def activation_bytes(
    layers, seq_len, micro_batch, hidden, heads, bytes_per_el, strategy, tp=1.0, sequence_parallel=True
):
    """Stored activations of ``layers`` Transformer layers on one of ``tp`` tensor-parallel ranks
    [byte] (Korthikanti et al. 2022, eq. 1, 2 and 6).

    strategy : 0 none, 1 selective, 2 full recomputation.
    """
    sbh = seq_len * micro_batch * hidden
    scores = 5.0 * heads * seq_len * seq_len * micro_batch
    sharded = np.where(sequence_parallel, 1.0, 0.0)  # the 10·sbh (and full's 2·sbh) that SP shards
    per_layer = select_by_code(
        strategy,
        (
            (10.0 * sbh) * (sharded / tp + 1.0 - sharded) + (24.0 * sbh + scores) / tp,
            (10.0 * sbh) * (sharded / tp + 1.0 - sharded) + 24.0 * sbh / tp,
            (2.0 * sbh) * (sharded / tp + 1.0 - sharded),
        ),
    )
    return per_layer * (bytes_per_el / 2.0) * layers


def training_memory(
    parameters,
    bytes_per_el,
    optimizer_bytes,
    trainable_fraction,
    *,
    tp,
    pp,
    dp,
    ep,
    zero_stage,
    global_batch,
    seq_len,
    accumulation_steps,
    layers,
    hidden,
    heads,
    strategy,
    buffer_fraction,
    sequence_parallel,
    gradient_bytes_per_el=None,
    interleave=1.0,
):
    """Training memory per accelerator [byte], as a dict of the parts and their ``total``.

    parameters [count]; bytes_per_el [byte] of weights and activations; gradient_bytes_per_el
    [byte] of gradients (default: bytes_per_el; Megatron keeps fp32 gradients, 4);
    optimizer_bytes [byte per trainable parameter]; global_batch [samples] is split into
    ``dp × accumulation_steps`` microbatches of ``max(1, ⌈global_batch/(dp·accumulation_steps)⌉)``
    samples; a pipeline stage holds ``max(1, ⌈layers/pp⌉)`` layers; ``interleave`` is the
    number of model chunks per device of an interleaved pipeline schedule (1: plain 1F1B).
    """
    if gradient_bytes_per_el is None:
        gradient_bytes_per_el = bytes_per_el
    local = parameters / (tp * pp * ep)
    trainable = local * trainable_fraction
    weights = local * bytes_per_el
    gradients = trainable * gradient_bytes_per_el
    optimizer = trainable * optimizer_bytes
    optimizer = np.where(zero_stage >= 1, optimizer / dp, optimizer)
    gradients = np.where(zero_stage >= 2, gradients / dp, gradients)
    weights = np.where(zero_stage >= 3, weights / dp, weights)
    micro = np.maximum(1.0, np.ceil(global_batch / (dp * accumulation_steps)))
    stage_layers = np.maximum(1.0, np.ceil(layers / pp))
    activations = activation_bytes(
        stage_layers, seq_len, micro, hidden, heads, bytes_per_el, strategy, tp, sequence_parallel
    )
    activations = np.where(
        (pp > 1) & (interleave > 1), activations * (1.0 + (pp - 1.0) / (pp * interleave)), activations
    )
    pipeline_buffers = np.where(pp > 1, 2.0 * micro * seq_len * hidden * bytes_per_el, 0.0)
    buffers = buffer_fraction * gradients + pipeline_buffers
    total = weights + gradients + optimizer + activations + buffers
    return {
        "weights": weights,
        "gradients": gradients,
        "optimizer_state": optimizer,
        "activations": activations,
        "communication_buffers": buffers,
        "total_memory": total,
    }


def lora_trainable_fraction(parameters, layers, hidden, rank=LORA_RANK):
    """Fraction of the parameters a LoRA fine-tune trains: ``min(2·r·h·4L/P, 1)``.

    Rank-``r`` adapters ``A`` (h × r) and ``B`` (r × h) on four projection matrices per layer
    (Hu et al., "LoRA: Low-rank adaptation of large language models", 2021, arXiv:2106.09685);
    parameters [count], layers [count], hidden [count]; NaN where a field is missing.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(2.0 * rank * hidden * 4.0 * layers / parameters, 1.0)


def training_footprint(
    parameters,
    weight_bytes,
    bytes_per_el,
    transformer,
    lora,
    *,
    global_batch,
    seq_len,
    layers,
    hidden,
    heads,
    strategy,
    tp=1.0,
    pp=1.0,
    dp=1.0,
    ep=1.0,
    zero_stage=0.0,
    accumulation_steps=1.0,
    sequence_parallel=True,
    optimizer_bytes=OPTIMIZER_BYTES["adam"],
    buffer_fraction=BUFFER_FRACTION,
) -> dict:
    """Bytes resident on one accelerator during a training step, and their parts.

    parameters : parameter count P [count]; weight_bytes : the model's weight bytes W at the
    training precision [byte] (one replica, before any split); bytes_per_el : bytes per element
    b [byte]; transformer, lora : bool; global_batch [samples] split over ``dp`` replicas and
    ``accumulation_steps``; seq_len [tokens]; layers, hidden, heads : the model's shape (NaN:
    1 layer, hidden 4096, 32 heads); strategy : activation-recomputation code (``NONE``,
    ``SELECTIVE``, ``FULL``); tp, pp, dp, ep, zero_stage : the split (replica of
    ``G = tp·pp·ep`` accelerators); optimizer_bytes : per trainable parameter (default Adam, 12).

    Transformers: ``training_memory`` with the LoRA trainable fraction
    (``lora_trainable_fraction``) when ``lora``. Other models: weights, gradients and optimizer
    state split over the replica, ``(2W + 12·W/b)/G``, or ``1.1·W`` for LoRA on one
    accelerator (mlsysim 0.3.0's single-device formula; docs/differences.md, D3).

    Returns ``total_memory`` [byte] and the Transformer parts ``weights``, ``gradients``,
    ``optimizer_state``, ``activations``, ``communication_buffers`` [byte] (NaN for other models).
    """
    hidden = np.where(np.isnan(hidden), DEFAULT_HIDDEN_DIM, hidden)
    trainable = np.where(lora, lora_trainable_fraction(parameters, layers, hidden), 1.0)
    parts = training_memory(
        parameters,
        bytes_per_el,
        optimizer_bytes,
        trainable,
        tp=tp,
        pp=pp,
        dp=dp,
        ep=ep,
        zero_stage=zero_stage,
        global_batch=global_batch,
        seq_len=seq_len,
        accumulation_steps=accumulation_steps,
        layers=np.where(np.isnan(layers), 1.0, layers),
        hidden=hidden,
        heads=np.where(np.isnan(heads), DEFAULT_HEADS, heads),
        strategy=strategy,
        buffer_fraction=buffer_fraction,
        sequence_parallel=sequence_parallel,
    )
    group = tp * pp * ep
    other = np.where(
        lora & (group == 1.0),
        LORA_WEIGHT_FACTOR * weight_bytes,
        (2.0 * weight_bytes + optimizer_bytes * weight_bytes / bytes_per_el) / group,
    )
    total = np.where(transformer, parts.pop("total_memory"), other)
    return {"total_memory": total, **{k: np.where(transformer, v, np.nan) for k, v in parts.items()}}


def training_memory_step(
    parameters,
    bytes_per_el,
    optimizer,
    trainable_fraction,
    capacity,
    *,
    tp,
    pp,
    dp,
    ep,
    zero_stage,
    global_batch,
    seq_len,
    accumulation_steps,
    layers,
    hidden,
    heads,
    strategy,
    buffer_fraction,
    sequence_parallel,
    gradient_bytes_per_el=None,
    interleave=1.0,
) -> dict:
    """Does training fit? ``training_memory`` per accelerator against the device capacity.

    optimizer : code into ``constants.OPTIMIZERS`` (adam/adamw 12 B, sgd 4 B, none 0 B per
    trainable parameter); capacity : device memory [byte]; hidden : NaN means 4096; heads are
    used as given (the attention-score term needs them); the other arguments as
    ``training_memory``.

    Returns the parts of ``training_memory`` and ``total_memory`` [byte], ``available_memory``
    (= capacity) [byte], ``memory_utilization`` (total / capacity) and ``feasible``
    (total <= capacity).
    """
    parts = training_memory(
        parameters,
        bytes_per_el,
        select_by_code(optimizer, tuple(OPTIMIZER_BYTES.values())),
        trainable_fraction,
        tp=tp,
        pp=pp,
        dp=dp,
        ep=ep,
        zero_stage=zero_stage,
        global_batch=global_batch,
        seq_len=seq_len,
        accumulation_steps=accumulation_steps,
        layers=layers,
        hidden=np.where(np.isnan(hidden), DEFAULT_HIDDEN_DIM, hidden),
        heads=heads,
        strategy=strategy,
        buffer_fraction=buffer_fraction,
        sequence_parallel=sequence_parallel,
        gradient_bytes_per_el=gradient_bytes_per_el,
        interleave=interleave,
    )
    total = parts["total_memory"]
    return {
        **parts,
        "available_memory": capacity,
        "memory_utilization": total / capacity,
        "feasible": total <= capacity,
    }
