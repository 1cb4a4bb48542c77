"""The catalogue of every input and output name: canonical unit, display unit, meaning.

One name has one meaning and one unit across all resolvers (DECISIONS D17). The dataset of a
``Result`` holds plain floats in the canonical unit (``attrs["units"]``); the scalar facade
returns pint Quantities in the display unit (a Quantity converts freely: ``.to("ms")``).
Categorical outputs are small integer codes with CF ``flag_values`` / ``flag_meanings``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Variable", "VARIABLES", "REASONS", "BOTTLENECKS", "variable", "register", "reason"]

#: Codes of ``infeasible_reason``, shared by every resolver (append only: the codes are stored
#: in parquet files). none: feasible; memory_capacity: does not fit in device memory;
#: not_divisible: the parallel degrees do not divide the fleet; unstable_queue: arrivals at or
#: above capacity; base_latency: one request alone misses the latency target; latency_target:
#: no replica count / batch meets the target; sram_capacity: does not fit in on-chip SRAM;
#: no_kv_budget: weights leave no memory for the KV cache; too_many_stages: more pipeline
#: stages than layers; batch_below_dp: fewer samples than data-parallel replicas;
#: no_capacity: zero throughput; decode_memory_capacity / prefill_memory_capacity: the decode
#: or prefill device of a disaggregated pair does not fit.
REASONS = (
    "none",
    "memory_capacity",
    "not_divisible",
    "unstable_queue",
    "base_latency",
    "latency_target",
    "sram_capacity",
    "no_kv_budget",
    "too_many_stages",
    "batch_below_dp",
    "no_capacity",
    "decode_memory_capacity",
    "prefill_memory_capacity",
)
#: Codes of ``bottleneck``, shared by every resolver (append only). The roofline uses Compute
#: and Memory; serving capacity Capacity, Tail Latency, Base Latency and Feasible; the others
#: name the binding resource (Network, Injection for weight streaming, Storage, CPU, Communication).
BOTTLENECKS = (
    "Compute",
    "Memory",
    "Capacity",
    "Tail Latency",
    "Base Latency",
    "Feasible",
    "Network",
    "Injection",
    "Storage",
    "CPU",
    "Communication",
)


@dataclass(frozen=True)
class Variable:
    """unit: canonical unit of the dataset ('' = dimensionless); display: unit of scalar
    results; kind: 'float', 'bool', 'int', 'category', 'text' or 'record'; categories: the
    strings of a category's codes; optional: NaN means "not applicable" (None as a scalar)."""

    unit: str = ""
    display: str = ""
    description: str = ""
    kind: str = "float"
    categories: tuple[str, ...] = ()
    optional: bool = False


def _t(description, optional=False):
    return Variable("s", "ms", description, optional=optional)


def _b(description, optional=False):
    return Variable("byte", "GB", description, optional=optional)


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
    "sequence_parallel": Variable(description="sequence parallelism (activations divided by TP)", kind="bool"),
    "workload_type": Variable(description="kernel class: ffn, attention, conv or other", kind="text"),
    "use_flash_attention": Variable(description="fused (flash) attention kernels", kind="bool"),
    # ---- roofline outputs ---------------------------------------------------------------
    "latency": _t("time of one step: max(compute, memory) + overhead"),
    "latency_compute": _t("compute time: FLOPs / (peak FLOP/s x efficiency)"),
    "latency_memory": _t("memory time: bytes moved / effective bandwidth"),
    "latency_overhead": _t("fixed overhead: dispatch tax + per-layer framework tax"),
    "throughput": Variable("1/s", "1/s", "samples per second (tokens per second for LLM tokens)"),
    "bottleneck": Variable(description="binding roofline ceiling", kind="category", categories=BOTTLENECKS),
    "arithmetic_intensity": Variable("flop/byte", "flop/byte", "FLOPs per byte moved"),
    "energy": Variable("J", "J", "energy of one step: TDP x (0.3 + 0.7 HFU) x latency"),
    "memory_footprint": _b("bytes that must be resident (weights; training: the training-memory total)"),
    "peak_flops_actual": Variable("flop/s", "TFLOP/s", "peak FLOP/s at the precision x efficiency"),
    "peak_bw_actual": Variable("byte/s", "GB/s", "effective memory bandwidth used for the memory time"),
    "mfu": Variable("", "", "model FLOPs utilisation (fraction of peak)"),
    "hfu": Variable("", "", "hardware FLOPs utilisation (executed FLOPs, recomputation included)"),
    "feasible": Variable(description="the point fits (memory) / can run", kind="bool"),
    "infeasible_reason": Variable(description="why a point is infeasible", kind="category", categories=REASONS),
    "offload_spill_bytes": _b("bytes that do not fit in device memory (NaN when it fits)", optional=True),
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
    "total_memory": _b("training memory per accelerator: weights + gradients + optimizer + activations + buffers"),
    "available_memory": _b("device memory capacity"),
    "weights": _b("weight bytes per accelerator"),
    "gradients": _b("gradient bytes per accelerator"),
    "optimizer_state": _b("optimizer-state bytes per accelerator"),
    "activations": _b("stored activation bytes per accelerator (Korthikanti et al. 2022)"),
    "communication_buffers": _b("gradient buckets and pipeline send/receive buffers"),
    "memory_utilization": Variable("", "", "required / available memory"),
}


def variable(name: str) -> Variable:
    """The catalogue entry of ``name`` (a plain float variable if not catalogued)."""
    return VARIABLES.get(name, Variable(description=name))


def register(**entries: Variable) -> None:
    """Add a resolver module's own inputs and outputs to the catalogue.

    A name keeps one meaning: registering it again with a different unit or kind raises
    ``ValueError`` (at import, so a clash is caught by any test run).
    """
    for name, var in entries.items():
        old = VARIABLES.get(name)
        if old is not None and (old.unit, old.kind, old.categories) != (var.unit, var.kind, var.categories):
            raise ValueError(f"variable {name!r} is already catalogued as {old}; cannot redefine it as {var}")
        VARIABLES.setdefault(name, var)


def reason(name: str) -> int:
    """The integer code of an ``infeasible_reason`` (``KeyError`` naming the known ones)."""
    try:
        return REASONS.index(name)
    except ValueError:
        raise KeyError(f"unknown infeasible reason {name!r}; known: {', '.join(REASONS)}") from None
