"""The pieces every catalogue module shares: ``Variable``, the shared code lists and the
constructors of the common kinds of entries (times, byte counts, integer counts)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Variable", "REASONS", "BOTTLENECKS", "seconds", "byte_count", "count"]

#: Codes of ``infeasible_reason``, shared by every resolver (append only: the codes are stored
#: in parquet files). none: feasible; memory_capacity: does not fit in device memory;
#: not_divisible: the parallel degrees do not divide the fleet; unstable_queue: arrivals at or
#: above capacity; base_latency: one request alone misses the latency target; latency_target:
#: no replica count / batch meets the target; sram_capacity: does not fit in on-chip SRAM;
#: no_kv_budget: weights leave no memory for the KV cache; too_many_stages: more pipeline
#: stages than layers; batch_below_dp: fewer samples than data-parallel replicas;
#: no_capacity: zero throughput; decode_memory_capacity / prefill_memory_capacity: the decode
#: or prefill device of a disaggregated pair does not fit; precision_unsupported: the accelerator
#: cannot execute the precision (no peak for it) and emulation was not allowed; invalid_input: an
#: input of the point is NaN (every numeric output NaN, every category missing).
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
    "precision_unsupported",
    "invalid_input",
)
#: Codes of ``bottleneck``, shared by every resolver (append only). The roofline uses Compute
#: and Memory; serving capacity Capacity, Tail Latency, Base Latency and Feasible; the others
#: name the binding resource (Network, Storage, CPU, Communication). Weight streaming uses
#: mlsysim 0.3.0's labels, Compute-Bound and Interconnect-Bandwidth-Bound (the weight-injection
#: link); Injection, its former label, stays for the codes stored in parquet files.
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
    "Compute-Bound",
    "Interconnect-Bandwidth-Bound",
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


def seconds(description: str, optional: bool = False) -> Variable:
    """A time: canonical unit s, shown in ms."""
    return Variable("s", "ms", description, optional=optional)


def byte_count(description: str, optional: bool = False) -> Variable:
    """A number of bytes: canonical unit byte, shown in GB."""
    return Variable("byte", "GB", description, optional=optional)


def count(description: str, optional: bool = False) -> Variable:
    """A whole count (replicas, requests): an integer in scalar results."""
    return Variable("", "", description, kind="int", optional=optional)
