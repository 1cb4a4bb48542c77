"""Training-memory kernels: the one training-memory formula of the library.

Per-accelerator bytes of a training step under tensor (TP), pipeline (PP), data (DP) and
expert (EP) parallelism with ZeRO sharding, after ``reference/anchor-0.3.0-spec.md`` §4.5:

* weights ``P/(tp·pp·ep) · b``; gradients and optimizer state over the trainable part;
* ZeRO (Rajbhandari et al., "ZeRO: Memory optimizations toward training trillion parameter
  models", SC 2020) is cumulative: stage ≥ 1 shards optimizer state over DP, ≥ 2 gradients,
  3 weights;
* activations after Korthikanti et al., "Reducing Activation Recomputation in Large Transformer
  Models" (MLSys 2023), eq. 1–6: per layer ``s·b·h·(34 + 5·a·s/h)`` bytes at 16-bit without
  recomputation, ``34·s·b·h`` with selective recomputation (the attention scores are
  recomputed), ``2·s·b·h`` (the layer input only) with full recomputation; scaled by
  bytes-per-element / 2. Under tensor parallelism t with sequence parallelism everything is
  divided by t (eq. 6); without it only the 24·sbh inside the attention and MLP blocks and the
  score term are (eq. 2: ``sbh(10 + 24/t + 5as/(ht))``), and the full-recomputation input is
  not (the reference divided nothing here — DECISIONS-style deviation V1, see
  docs/differences.md); the interleaved 1F1B schedule with v model chunks per device keeps
  ``1 + (p−1)/(p·v)`` times the activations on the first stage (§4.2.3);
* communication buffers: a fraction of the gradients, plus a send and a receive buffer of one
  microbatch's activations at a pipeline-stage boundary.

All arguments are float arrays that broadcast (codes for the choices); results in bytes.
"""

from __future__ import annotations

import numpy as np

from .roofline import select_by_code

__all__ = ["activation_bytes", "training_memory"]

#: Codes of ``activation_checkpointing`` (order of ``constants.CHECKPOINTING``).
NONE, SELECTIVE, FULL = 0, 1, 2


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
