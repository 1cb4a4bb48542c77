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

Refined terms (``refined=True``, the ``"refined"`` fidelity; ``docs/equations.md``, section
"Training memory"):

* the microbatch is ``microbatch_size`` when given (either fidelity), else ``⌈B/(dp·GA)⌉``;
* FlashAttention (Dao et al., "FlashAttention: fast and memory-efficient exact attention with
  IO-awareness", NeurIPS 2022, arXiv:2205.14135, §3.1) stores no ``s × s`` score matrix: the
  ``5·a·s²·b`` term of Korthikanti eq. 1 is replaced by the softmax statistics ``ℓ`` and ``m``,
  two fp32 numbers per row and head, ``8·a·s·b`` bytes per layer (divided by ``tp``);
* the logits of the cross-entropy loss are kept in fp32 on the last pipeline stage,
  ``4·s·b·V/tp`` bytes (Korthikanti et al. 2022, §4.3);
* mixed-precision training keeps fp32 gradients (Micikevicius et al., "Mixed precision
  training", ICLR 2018, arXiv:1710.03740, §3.1: an fp32 master copy of the weights, which the
  12 bytes of Adam already hold, and fp32 accumulation of the weight gradients), so the gradient
  width defaults to 4 bytes (``gradient_bytes_per_el`` NaN) under refined;
* the pipeline's in-flight microbatches of the actual schedule: under 1F1B the first stage holds
  ``min(pp, n)`` microbatches of the ``n = ⌈B/(dp·micro)⌉`` of a flush and the last stage one;
  the interleaved schedule multiplies the first stage's by ``1 + (pp−1)/(pp·v)`` (Narayanan et
  al., "Efficient large-scale language model training on GPU clusters using Megatron-LM", SC
  2021, doi:10.1145/3458817.3476209, §2.2.2; Korthikanti et al. 2022, §4.2.3); the footprint
  charges the larger of the first stage and the last stage (with the logits);
* context parallelism over ``cp`` ranks (Liu et al., "Ring attention with blockwise transformers
  for near-infinite context", 2023, arXiv:2310.01889; Jacobs et al., "DeepSpeed Ulysses", 2023,
  arXiv:2309.14509) splits the sequence: every ``s·b·h`` term holds ``s/cp`` tokens, the score
  term ``5·a·(s/cp)·s·b``, and the ring keeps the K and V blocks of one neighbour in flight,
  ``2·2·(s/cp)·b·h/tp`` elements per layer (applied in either fidelity; ``cp = 1`` changes
  nothing);
* QLoRA (Dettmers et al., "QLoRA: efficient finetuning of quantized LLMs", NeurIPS 2023,
  arXiv:2305.14314): the frozen base weights ``(1 − f)·P`` at ``frozen_bytes_per_el`` (4-bit),
  the trainable adapters ``f·P`` at the training width (either fidelity, when given).

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
    "microbatch_samples",
    "pipeline_in_flight",
    "logits_bytes",
    "FLASH_STATS_BYTES",
    "LOGITS_BYTES_PER_EL",
    "MIXED_PRECISION_GRADIENT_BYTES",
]

#: Codes of ``activation_checkpointing`` (order of ``constants.CHECKPOINTING``).
NONE, SELECTIVE, FULL = 0, 1, 2
#: Gradient communication buffers as a fraction of the gradient bytes (mlsysim's default).
BUFFER_FRACTION = 0.05
#: LoRA fine-tune of a model without the Transformer shape: ``1.1·W`` resident (mlsysim 0.3.0).
LORA_WEIGHT_FACTOR = 1.1
#: FlashAttention's softmax statistics: two fp32 numbers (row max and row sum) per query row and
#: head [byte] (Dao et al. 2022, arXiv:2205.14135, Algorithm 1).
FLASH_STATS_BYTES = 8.0
#: Bytes per logit kept for the cross-entropy loss (fp32; Korthikanti et al. 2022, §4.3).
LOGITS_BYTES_PER_EL = 4.0
#: Gradient width of mixed-precision training [byte] (fp32; Micikevicius et al. 2018).
MIXED_PRECISION_GRADIENT_BYTES = 4.0


def activation_bytes(
    layers,
    seq_len,
    micro_batch,
    hidden,
    heads,
    bytes_per_el,
    strategy,
    tp=1.0,
    sequence_parallel=True,
    flash_attention=False,
    cp=1.0,
):
    """Stored activations of ``layers`` Transformer layers on one of ``tp`` tensor-parallel ranks
    [byte] (Korthikanti et al. 2022, eq. 1, 2 and 6).

    strategy : 0 none, 1 selective, 2 full recomputation. flash_attention : no score matrix, the
    softmax statistics ``8·a·(s/cp)·b/tp`` bytes instead (Dao et al. 2022). cp : context-parallel
    ranks; each holds ``s/cp`` tokens of the sequence (with cp = 1 the first-order formula).
    """
    local = seq_len / cp
    sbh = local * micro_batch * hidden
    fused = _all_true(flash_attention)  # a plain True: no score term to compute
    scores = 0.0 if fused else np.where(flash_attention, 0.0, 5.0 * heads * local * seq_len * micro_batch)
    sharded = np.where(sequence_parallel, 1.0, 0.0)  # the 10·sbh (and full's 2·sbh) that SP shards
    columns = (
        lambda: (10.0 * sbh) * (sharded / tp + 1.0 - sharded) + (24.0 * sbh + scores) / tp,
        lambda: (10.0 * sbh) * (sharded / tp + 1.0 - sharded) + 24.0 * sbh / tp,
        lambda: (2.0 * sbh) * (sharded / tp + 1.0 - sharded),
    )
    code = np.asarray(strategy)
    per_layer = select_by_code(strategy, columns)  # computes only the strategies some point uses
    out = per_layer * (bytes_per_el / 2.0) * layers
    if not _all_false(flash_attention):
        per_rank = FLASH_STATS_BYTES * heads * local * micro_batch / tp
        if fused and code.ndim == 0 and code in (NONE, SELECTIVE, FULL):
            stats = per_rank if code != FULL else 0.0
        else:
            stats = np.where(flash_attention & (strategy != FULL), per_rank, 0.0)
        out = out + stats * layers
    if not _all_equal(cp, 1.0):
        ring = np.where(cp > 1, 4.0 * local * micro_batch * hidden / tp * bytes_per_el, 0.0)  # K, V of a neighbour
        out = out + ring * layers
    return out


def _all_true(flag) -> bool:
    """True when ``flag`` is a plain True (a Python or numpy scalar)."""
    return isinstance(flag, (bool, np.bool_)) and bool(flag)


def _all_false(flag) -> bool:
    """True when ``flag`` is a plain False (a Python or numpy scalar): the branch can be skipped."""
    return isinstance(flag, (bool, np.bool_)) and not flag


def _all_equal(value, constant) -> bool:
    """True when ``value`` is a plain number equal to ``constant``."""
    return isinstance(value, (int, float, np.floating, np.integer)) and value == constant


def microbatch_samples(global_batch, dp, accumulation_steps, microbatch_size=np.nan):
    """Samples per microbatch: ``microbatch_size`` when given (not NaN), else
    ``max(1, ⌈B/(dp·GA)⌉)`` [samples]."""
    derived = np.maximum(1.0, np.ceil(global_batch / (dp * accumulation_steps)))
    if _all_nan(microbatch_size):
        return derived
    return np.where(np.isnan(microbatch_size), derived, microbatch_size)


def _all_nan(value) -> bool:
    return isinstance(value, (float, np.floating)) and value != value


def pipeline_in_flight(pp, microbatches, interleave=1.0):
    """Microbatches whose activations the first pipeline stage holds at once [count].

    1F1B: ``min(pp, n)`` of the ``n`` microbatches of a flush (1 without a pipeline); the
    interleaved schedule with ``v`` model chunks per device: ``× (1 + (pp−1)/(pp·v))``
    (Narayanan et al. 2021, §2.2.2; Korthikanti et al. 2022, §4.2.3).
    """
    first = np.where(pp > 1, np.minimum(pp, microbatches), 1.0)
    return np.where((pp > 1) & (interleave > 1), first * (1.0 + (pp - 1.0) / (pp * interleave)), first)


def logits_bytes(seq_len, micro_batch, vocab, tp=1.0, cp=1.0):
    """The fp32 logits the cross-entropy loss keeps on the last stage: ``4·(s/cp)·b·V/tp``
    [byte] (Korthikanti et al. 2022, §4.3); 0 when the vocabulary is not on record (NaN)."""
    out = LOGITS_BYTES_PER_EL * (seq_len / cp) * micro_batch * vocab / tp
    return np.where(np.isnan(vocab), 0.0, out)


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
    refined=False,
    microbatch_size=np.nan,
    microbatches=np.nan,
    flash_attention=False,
    vocab=np.nan,
    cp=1.0,
    frozen_bytes_per_el=np.nan,
):
    """Training memory per accelerator [byte], as a dict of the parts and their ``total``.

    parameters [count]; bytes_per_el [byte] of weights and activations; gradient_bytes_per_el
    [byte] of gradients (None or NaN: bytes_per_el, or 4 under refined; Megatron keeps fp32
    gradients); optimizer_bytes [byte per trainable parameter]; global_batch [samples] is split
    into microbatches of ``microbatch_size`` samples when given, else of
    ``max(1, ⌈global_batch/(dp·accumulation_steps)⌉)``; a pipeline stage holds
    ``max(1, ⌈layers/pp⌉)`` layers; ``interleave`` is the number of model chunks per device of
    an interleaved pipeline schedule (1: plain 1F1B).

    refined (bool) : the refined terms of the module docstring: FlashAttention when
    ``flash_attention``, the logits of a vocabulary ``vocab`` (NaN: none), fp32 gradients, and
    the in-flight microbatches of the schedule (``microbatches`` per flush, NaN: derived from
    the batch). cp : context-parallel ranks; frozen_bytes_per_el : QLoRA's frozen-weight width
    [byte] (NaN: no QLoRA).
    """
    if gradient_bytes_per_el is None:
        gradient_bytes_per_el = np.nan
    gradient_bytes_per_el = np.where(
        np.isnan(gradient_bytes_per_el),
        np.where(refined, MIXED_PRECISION_GRADIENT_BYTES, bytes_per_el),
        gradient_bytes_per_el,
    )
    local = parameters / (tp * pp * ep)
    trainable = local * trainable_fraction
    weights = local * bytes_per_el
    if not _all_nan(frozen_bytes_per_el):
        qlora = local * (trainable_fraction * bytes_per_el + (1.0 - trainable_fraction) * frozen_bytes_per_el)
        weights = np.where(np.isnan(frozen_bytes_per_el), weights, qlora)
    gradients = trainable * gradient_bytes_per_el
    optimizer = trainable * optimizer_bytes
    optimizer = np.where(zero_stage >= 1, optimizer / dp, optimizer)
    gradients = np.where(zero_stage >= 2, gradients / dp, gradients)
    weights = np.where(zero_stage >= 3, weights / dp, weights)
    micro = microbatch_samples(global_batch, dp, accumulation_steps, microbatch_size)
    stage_layers = np.maximum(1.0, np.ceil(layers / pp))
    one = activation_bytes(
        stage_layers,
        seq_len,
        micro,
        hidden,
        heads,
        bytes_per_el,
        strategy,
        tp,
        sequence_parallel,
        flash_attention,
        cp,
    )
    if _all_true(refined):
        first_order = None  # not needed
    elif np.any((np.asarray(pp) > 1) & (np.asarray(interleave) > 1)):
        first_order = np.where((pp > 1) & (interleave > 1), one * (1.0 + (pp - 1.0) / (pp * interleave)), one)
    else:
        first_order = one
    if _all_false(refined):
        activations = first_order
    else:
        flush = np.where(np.isnan(microbatches), np.ceil(global_batch / (dp * micro)), microbatches)
        first = one * pipeline_in_flight(pp, flush, interleave)  # the first stage
        last = one + logits_bytes(seq_len, micro, vocab, tp, cp)  # the last stage
        whole = isinstance(first, np.ndarray) and first.shape == np.broadcast_shapes(first.shape, np.shape(last))
        activations = np.maximum(first, last, out=first if whole else None)
        if first_order is not None:
            activations = np.where(refined, activations, first_order)
    pipeline_buffers = np.where(pp > 1, 2.0 * micro * (seq_len / cp) * hidden * bytes_per_el, 0.0)
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
    **refinements,
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

    ``refinements`` are the keywords of ``training_memory`` from ``gradient_bytes_per_el`` on
    (``refined``, ``microbatch_size``, ``microbatches``, ``flash_attention``, ``vocab``, ``cp``,
    ``frozen_bytes_per_el``, ``interleave``).

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
        **refinements,
    )
    if np.all(transformer):  # no other model on the grid: the parts as they are
        return {"total_memory": parts.pop("total_memory"), **parts}
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
    **refinements,
) -> dict:
    """Does training fit? ``training_memory`` per accelerator against the device capacity.

    optimizer : code into ``constants.OPTIMIZERS`` (adam/adamw 12 B, sgd 4 B, none 0 B per
    trainable parameter); capacity : device memory [byte]; hidden : NaN means 4096; heads are
    used as given (the attention-score term needs them); the other arguments (and the refined
    keywords ``refinements``) as ``training_memory``.

    Returns the parts of ``training_memory`` and ``total_memory`` [byte], ``available_memory``
    (= capacity) [byte], ``memory_utilization`` (total / capacity), ``feasible``
    (total <= capacity), and the note flags ``no_flash_attention`` (refined without fused
    attention) and ``attention_scores_stored`` (no recomputation and no fused attention: the
    ``5·a·s²·m`` score matrix is stored, either fidelity).
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
        **refinements,
    )
    total = parts["total_memory"]
    refined = refinements.get("refined", False)
    unfused = ~np.asarray(refinements.get("flash_attention", False), dtype=bool)
    return {
        **parts,
        "available_memory": capacity,
        "memory_utilization": total / capacity,
        "feasible": total <= capacity,
        "no_flash_attention": unfused & np.asarray(refined, dtype=bool),
        "attention_scores_stored": unfused & (np.asarray(strategy) == NONE),
    }
