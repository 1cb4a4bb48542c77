"""Training-memory kernels: the one training-memory formula of the library.

Per-accelerator bytes of a training step under tensor (TP), pipeline (PP), data (DP) and
expert (EP) parallelism with ZeRO sharding, after ``reference/anchor-0.3.0-spec.md`` §4.5:

* weights ``P/(tp·pp·ep) · b``; gradients and optimizer state over the trainable part;
* ZeRO (Rajbhandari et al., "ZeRO: Memory optimizations toward training trillion parameter
  models", SC 2020) is cumulative: stage ≥ 1 shards optimizer state over DP, ≥ 2 gradients,
  3 weights;
* activations after Korthikanti et al., "Reducing Activation Recomputation in Large Transformer
  Models" (MLSys 2023), eq. 1–2: per layer ``s·b·h·(34 + 5·a·s/h)`` bytes at 16-bit without
  recomputation, ``34·s·b·h`` with selective recomputation (the attention scores are
  recomputed), ``2·s·b·h`` (the layer input only) with full recomputation; scaled by
  bytes-per-element / 2, divided by TP under sequence parallelism;
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


def activation_bytes(layers, seq_len, micro_batch, hidden, heads, bytes_per_el, strategy):
    """Stored activations of ``layers`` Transformer layers [byte] (Korthikanti et al. 2022).

    strategy : 0 none, 1 selective, 2 full recomputation.
    """
    sbh = seq_len * micro_batch * hidden
    per_layer = select_by_code(strategy, (34.0 * sbh + 5.0 * heads * seq_len * seq_len * micro_batch,
                                          34.0 * sbh,
                                          2.0 * sbh))
    return per_layer * (bytes_per_el / 2.0) * layers


def training_memory(parameters, bytes_per_el, optimizer_bytes, trainable_fraction, *, tp, pp, dp, ep,
                    zero_stage, global_batch, seq_len, accumulation_steps, layers, hidden, heads,
                    strategy, buffer_fraction, sequence_parallel):
    """Training memory per accelerator [byte], as a dict of the parts and their ``total``.

    parameters [count]; bytes_per_el [byte]; optimizer_bytes [byte per trainable parameter];
    global_batch [samples] is split into ``dp × accumulation_steps`` microbatches of
    ``max(1, ⌈global_batch/(dp·accumulation_steps)⌉)`` samples; a pipeline stage holds
    ``max(1, ⌈layers/pp⌉)`` layers.
    """
    local = parameters / (tp * pp * ep)
    trainable = local * trainable_fraction
    weights = local * bytes_per_el
    gradients = trainable * bytes_per_el
    optimizer = trainable * optimizer_bytes
    optimizer = np.where(zero_stage >= 1, optimizer / dp, optimizer)
    gradients = np.where(zero_stage >= 2, gradients / dp, gradients)
    weights = np.where(zero_stage >= 3, weights / dp, weights)
    micro = np.maximum(1.0, np.ceil(global_batch / (dp * accumulation_steps)))
    stage_layers = np.maximum(1.0, np.ceil(layers / pp))
    activations = activation_bytes(stage_layers, seq_len, micro, hidden, heads, bytes_per_el, strategy)
    activations = np.where((tp > 1) & sequence_parallel, activations / tp, activations)
    pipeline_buffers = np.where(pp > 1, 2.0 * micro * seq_len * hidden * bytes_per_el, 0.0)
    buffers = buffer_fraction * gradients + pipeline_buffers
    total = weights + gradients + optimizer + activations + buffers
    return {"weights": weights, "gradients": gradients, "optimizer_state": optimizer,
            "activations": activations, "communication_buffers": buffers, "total_memory": total}
