"""Catalogue entries shared by several domains: the node-level inputs (model, hardware, batch,
precision, parallel degrees...), the roofline outputs, the efficiency and training-memory outputs."""

from .core import BOTTLENECKS, REASONS, Variable, byte_count, seconds

#: Per-point notes of the training resolvers (bit ``k`` of the ``notes`` output is ``NOTES[k]``):
#: honest warnings about a configuration that runs but is probably not what the user meant.
NOTES = ("pipeline_bubble_over_half", "no_flash_attention", "one_microbatch_pipeline", "attention_scores_stored")

_NOTES_DOC = (
    "per-point notes as a bit field (0: none): "
    + ", ".join(f"{1 << k} {name}" for k, name in enumerate(NOTES))
    + "; several notes add up"
)

VARIABLES: dict[str, Variable] = {
    # ---- inputs -------------------------------------------------------------------------
    "model": Variable(description="workload (record name)", kind="record"),
    "hardware": Variable(description="accelerator (record name)", kind="record"),
    "batch_size": Variable("", "", "samples per step on one accelerator (for LLMs: sequences)"),
    "precision": Variable(description="numeric precision of weights and math (D15)", kind="text"),
    "efficiency": Variable("", "", "fraction of peak FLOP/s achieved by compute (derates compute only)"),
    "is_training": Variable(description="training step (forward + backward) instead of inference", kind="bool"),
    "seq_len": Variable("", "", "tokens per sequence"),
    "zero_stage": Variable("", "", "ZeRO stage 0-3 (cumulative sharding of optimizer, gradients, weights)"),
    "dp_size": Variable("", "", "data-parallel degree"),
    "tp_size": Variable("", "", "tensor-parallel degree"),
    "pp_size": Variable("", "", "pipeline-parallel degree"),
    "ep_size": Variable("", "", "expert-parallel degree"),
    "is_lora": Variable(description="LoRA fine-tune (rank 16 adapters are the trainable part)", kind="bool"),
    "activation_recomputation": Variable(
        description="recompute activations in backward (4x instead of 3x FLOPs)", kind="bool"
    ),
    "activation_traffic_ratio": Variable("", "", "roofline traffic per sample as a fraction of weight bytes (D4)"),
    "optimizer": Variable(
        description="optimizer (adam/adamw 12 B, sgd 4 B, none 0 B per trainable parameter)", kind="text"
    ),
    "activation_checkpointing": Variable(description="activation checkpointing: none, selective or full", kind="text"),
    "gradient_accumulation_steps": Variable("", "", "microbatches accumulated per optimizer step"),
    "trainable_fraction": Variable("", "", "fraction of parameters trained (LoRA/PEFT)"),
    "communication_buffer_fraction": Variable("", "", "gradient communication buffers as a fraction of gradients"),
    "gradient_precision": Variable(
        description="precision gradients are kept in (default: the training precision; Megatron-LM keeps fp32)",
        kind="text",
    ),
    "sequence_parallel": Variable(description="sequence parallelism (activations divided by TP)", kind="bool"),
    "workload_type": Variable(description="kernel class: ffn, attention, conv or other", kind="text"),
    "use_flash_attention": Variable(description="fused (flash) attention kernels", kind="bool"),
    "fidelity": Variable(
        description="physics fidelity: first_order (mlsysim 0.3.0's equations with the deviations of "
        "docs/differences.md) or refined (the project's best model, docs/equations.md)",
        kind="text",
    ),
    "microbatch_size": Variable(
        "", "", "samples per microbatch (the microbatch count follows from the batch, dp and this size)"
    ),
    "flash_attention": Variable(
        description="fused attention (FlashAttention): no stored score matrix (default: True under refined)",
        kind="bool",
    ),
    "cp_size": Variable("", "", "context-parallel degree (the sequence split across ranks, ring exchange of K/V)"),
    "weight_precision": Variable(description="precision of the weights (None: precision)", kind="text"),
    "gemm_half_size": Variable(
        "", "", "per-device GEMM size at which the GEMM reaches half its peak efficiency (refined)"
    ),
    "gemm_shape_exponent": Variable("", "", "steepness k of the saturating GEMM-efficiency curve (refined)"),
    # ---- notes (training resolvers) -------------------------------------------------------
    "notes": Variable("", "", _NOTES_DOC, kind="int"),
    "note_pipeline_bubble_over_half": Variable(
        description="note: the pipeline bubble exceeds half the step (too few microbatches per flush)", kind="bool"
    ),
    "note_no_flash_attention": Variable(
        description="note: the activations or the attention time assume no fused (flash) attention", kind="bool"
    ),
    "note_one_microbatch_pipeline": Variable(
        description="note: a pipeline (pp > 1) runs the whole local batch as one microbatch", kind="bool"
    ),
    "note_attention_scores_stored": Variable(
        description="note: the stored activations hold the s x s attention-score matrix (no recomputation "
        "and no fused attention; FlashAttention would keep only its softmax statistics)",
        kind="bool",
    ),
    # ---- roofline outputs ---------------------------------------------------------------
    "latency": seconds("time of one step: max(compute, memory) + overhead"),
    "latency_compute": seconds("compute time: FLOPs / (peak FLOP/s x efficiency)"),
    "latency_memory": seconds("memory time: bytes moved / effective bandwidth"),
    "latency_overhead": seconds("fixed overhead: dispatch tax + per-layer framework tax"),
    "latency_elementwise": seconds(
        "memory-bound element-wise and softmax time of a training step (refined; 0 under first_order)"
    ),
    "throughput": Variable("1/s", "1/s", "samples per second (tokens per second for LLM tokens)"),
    "bottleneck": Variable(description="binding roofline ceiling", kind="category", categories=BOTTLENECKS),
    "arithmetic_intensity": Variable("flop/byte", "flop/byte", "FLOPs per byte moved"),
    "energy": Variable("J", "J", "energy of one step: TDP x (0.3 + 0.7 HFU) x latency"),
    "memory_footprint": byte_count("bytes that must be resident (weights; training: the training-memory total)"),
    "peak_flops_actual": Variable("flop/s", "TFLOP/s", "peak FLOP/s at the precision x efficiency"),
    "peak_bw_actual": Variable("byte/s", "GB/s", "effective memory bandwidth used for the memory time"),
    "mfu": Variable("", "", "model FLOPs utilisation (fraction of peak)"),
    "hfu": Variable("", "", "hardware FLOPs utilisation (executed FLOPs, recomputation included)"),
    "feasible": Variable(description="the point fits (memory) / can run", kind="bool"),
    "infeasible_reason": Variable(description="why a point is infeasible", kind="category", categories=REASONS),
    "offload_spill_bytes": byte_count("bytes that do not fit in device memory (NaN when it fits)", optional=True),
    "offload_effective_bw": Variable(
        "byte/s", "GB/s", "bandwidth on the offload path (NaN when it fits; D19)", optional=True
    ),
    "overhead_dominated": Variable(description="fixed overhead exceeds both compute and memory time", kind="bool"),
    "peak_flops_fallback": Variable(
        description="the hardware has no peak for this precision: the headline peak was used (D15)", kind="bool"
    ),
    # ---- efficiency outputs -------------------------------------------------------------
    "achievable_flops": Variable("flop/s", "TFLOP/s", "peak FLOP/s x achievable MFU"),
    "peak_flops": Variable("flop/s", "TFLOP/s", "peak FLOP/s at the precision"),
    "occupancy_loss": Variable("", "", "1 - min(1.1 efficiency, 1): SM occupancy headroom lost"),
    "memory_stall": Variable("", "", "max(0, (1 - MFU) - occupancy_loss)"),
    # ---- training memory outputs --------------------------------------------------------
    "total_memory": byte_count(
        "training memory per accelerator: weights + gradients + optimizer + activations + buffers"
    ),
    "available_memory": byte_count("device memory capacity"),
    # the parts are NaN (not applicable) for a model without a Transformer shape, whose footprint
    # DistributedModel computes whole (docs/differences.md, D3)
    "weights": byte_count("weight bytes per accelerator", optional=True),
    "gradients": byte_count("gradient bytes per accelerator", optional=True),
    "optimizer_state": byte_count("optimizer-state bytes per accelerator", optional=True),
    "activations": byte_count("stored activation bytes per accelerator (Korthikanti et al. 2022)", optional=True),
    "communication_buffers": byte_count("gradient buckets and pipeline send/receive buffers", optional=True),
    "memory_utilization": Variable("", "", "required / available memory"),
}
