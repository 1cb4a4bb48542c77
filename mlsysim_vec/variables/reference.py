"""mlsysim 0.3.0's result field names, and what each one reads on a ``Result``.

Code written for mlsysim 0.3.0 reads its result objects by field name (``r.tco_usd``,
``r.bottleneck``, ``r.sensitivities["memory_bandwidth"]``). ``REFERENCE_FIELDS[resolver]`` lists
every field (and public property) of the result that resolver returns in 0.3.0, with what it is
here:

* a string: our output, or our argument echoed as a coordinate, of that name (the reference's
  name where it is the same; ours where ours says better what the number is, D17);
* an ``Alias``: a conversion (``tco_usd`` is ``tco`` as a plain float in USD), a mapping
  (``sensitivities``), a fallback (``mean_request_tokens`` is ``max_seq_len`` when not given) or
  a constant the resolver's model implies (NetworkRooflineModel charges no overhead).

``Result`` attribute access resolves these names when they are not outputs (``reference_alias``);
the Dataset, DataFrame and parquet files hold our names only. ``OMITTED[resolver]`` lists the
fields that have no counterpart, each with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Alias", "REFERENCE_FIELDS", "OMITTED", "reference_alias"]


@dataclass(frozen=True)
class Alias:
    """How a reference field name reads on a ``Result``.

    ``target``: names tried in order, each an output or an echoed argument of the result (the
    first one the result has). ``unit``: convert the value to this unit (the unit the
    reference's name carries: ``tco_usd`` is in USD, ``memory_savings_pct`` in percent).
    ``magnitude``: return the plain number in ``unit`` (the reference's field was a float, not
    a Quantity). ``fields``: ``((key, name), ...)``, a mapping of each key to the value of
    ``name`` (a ``dict`` whose keys also read as attributes). ``constant``: the value itself
    (``unit`` makes it a Quantity), for a quantity the resolver's model fixes.
    """

    target: tuple[str, ...] = ()
    unit: str = ""
    magnitude: bool = False
    fields: tuple[tuple[str, str], ...] = ()
    constant: object = None


def _as(target: str, unit: str = "", magnitude: bool = False) -> Alias:
    return Alias((target,), unit, magnitude)


def _fields(**keys: str) -> Alias:
    return Alias(fields=tuple(keys.items()))


def _same(*names: str) -> dict:
    return {name: name for name in names}


#: Fields of mlsysim 0.3.0's ``PerformanceProfile`` (SingleNodeModel, NetworkRooflineModel).
_PROFILE = (
    "latency",
    "latency_compute",
    "latency_memory",
    "latency_overhead",
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
    "offload_spill_bytes",
    "offload_effective_bw",
    "overhead_dominated",
)
#: The replica profile of DistributedModel (``node_profile``): its fields that we compute.
_NODE_PROFILE = _fields(
    latency="node_latency",
    latency_compute="node_latency_compute",
    latency_memory="node_latency_memory",
    latency_overhead="node_latency_overhead",
    throughput="node_throughput",
    bottleneck="node_bottleneck",
    mfu="node_mfu",
    hfu="node_hfu",
    energy="node_energy",
    memory_footprint="memory_footprint",
    peak_flops_actual="peak_flops_actual",
    peak_bw_actual="peak_bw_actual",
)
_PARALLELISM = _fields(dp="dp_size", tp="tp_size", pp="pp_size", ep="ep_size")
_ENERGY_AND_CARBON = {
    "it_energy_kwh": _as("it_energy", "kWh"),
    "total_energy_kwh": _as("total_energy", "kWh"),
    "carbon_footprint_kg": _as("carbon_footprint", "kg", magnitude=True),
    "water_usage_liters": _as("water_usage", "L", magnitude=True),
    **_same("pue", "region_name", "it_energy", "total_energy", "carbon_footprint", "water_usage"),
}

#: Every field and public property of each resolver's 0.3.0 result -> what it reads here
#: (``constraint_trace``, in every 0.3.0 result, is in ``OMITTED``).
REFERENCE_FIELDS: dict[str, dict[str, str | Alias]] = {
    # ---- node -------------------------------------------------------------------------------
    "SingleNodeModel": {**_same(*_PROFILE), "energy_per_inference": "energy"},
    "NetworkRooflineModel": {
        **_same(
            "latency",
            "latency_compute",
            "throughput",
            "bottleneck",
            "arithmetic_intensity",
            "peak_flops_actual",
            "mfu",
            "hfu",
        ),
        "latency_memory": "latency_network",  # the step's network time
        "memory_footprint": "sync_bytes",  # the bytes synchronised per step
        "peak_bw_actual": "network_bandwidth",
        # the model charges no fixed overhead and never offloads (part 2 §14)
        "latency_overhead": Alias(constant=0.0, unit="ms"),
        "overhead_dominated": Alias(constant=False),
        "offload_spill_bytes": Alias(constant=None),
        "offload_effective_bw": Alias(constant=None),
    },
    "EfficiencyModel": {
        **_same("mfu", "achievable_flops", "peak_flops", "workload_type", "use_flash_attention"),
        "overhead_breakdown": _fields(occupancy_loss="occupancy_loss", memory_stall="memory_stall"),
    },
    "TrainingMemoryModel": {
        **_same(
            "feasible",
            "total_memory",
            "available_memory",
            "memory_utilization",
            "weights",
            "gradients",
            "optimizer_state",
            "activations",
            "communication_buffers",
            "precision",
            "optimizer",
            "activation_checkpointing",
        ),
        "parallelism": _PARALLELISM,
    },
    "ServingModel": _same(
        "feasible",
        "ttft",
        "itl",
        "kv_cache_size",
        "model_weights_size",
        "total_memory_required",
        "memory_utilization",
        "prompt_cache_hit_ratio",
        "prefill_chunks",
        "prefill_chunk_time",
        "decode_stall_bound",
    ),
    "ContinuousBatchingModel": {
        **_same(
            "feasible",
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
        ),
        # the argument; when not given, requests fill max_seq_len
        "mean_request_tokens": Alias(("mean_request_tokens", "max_seq_len")),
    },
    "WeightStreamingModel": _same(
        "feasible",
        "throughput_tokens_per_sec",
        "bottleneck",
        "layer_compute_time",
        "layer_injection_time",
        "optimal_batch_size",
        "wafer_memory_utilization",
    ),
    "TailLatencyModel": _same("p50_latency", "p99_latency", "queue_utilization", "is_stable", "slo_headroom_ratio"),
    "ServingCapacityModel": _same(
        "feasible",
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
    ),
    "InferenceScalingModel": _same(
        "total_reasoning_time",
        "ttft",
        "itl",
        "tokens_generated",
        "reasoning_steps",
        "time_per_step",
        "energy_per_query",
        "feasible",
    ),
    # ---- data -------------------------------------------------------------------------------
    "DataModel": {
        **_same("is_stalled", "utilization", "demand_bw", "supply_bw", "margin"),
        "bottleneck": "ingestion_bottleneck",  # Storage, Interconnect or Unknown
    },
    "TransformationModel": _same(
        "transform_time", "accelerator_step_time", "is_bottleneck", "accelerator_utilization", "slowdown_factor"
    ),
    # ---- algorithm --------------------------------------------------------------------------
    "ScalingModel": _same("optimal_parameters", "optimal_tokens", "compute_budget_flops", "tokens_per_parameter"),
    "CompressionModel": {
        **_same(
            "baseline_precision",
            "compression_ratio",
            "estimated_accuracy_delta",
            "inference_speedup",
            "original_size",
            "compressed_size",
        ),
        "original_size_gb": _as("original_size", "GB"),
        "compressed_size_gb": _as("compressed_size", "GB"),
        "memory_savings_pct": _as("memory_savings_fraction", "percent", magnitude=True),  # a real percent
    },
    # ---- fleet ------------------------------------------------------------------------------
    "DistributedModel": {
        **_same(
            "dp_communication_latency",
            "tp_communication_latency",
            "ep_communication_latency",
            "communication_latency",
            "pipeline_bubble_latency",
            "bubble_fraction",
            "step_latency_total",
            "scaling_efficiency",
            "effective_throughput",
        ),
        "node_profile": _NODE_PROFILE,
        "parallelism": _fields(dp="dp_degree", tp="tp_size", pp="pp_size", ep="ep_size"),
    },
    "MoERoutingModel": _same(
        "effective_active_experts",
        "effective_active_parameters",
        "active_parameter_multiplier",
        "routing_imbalance_factor",
        "token_dispatch_bytes",
        "all_to_all_latency",
        "ep_size",
    ),
    "TopologyModel": _same(
        "effective_bw", "bisection_bw", "bisection_bw_fraction", "hops_avg", "topology", "num_nodes"
    ),
    "ReliabilityModel": _same(
        "fleet_mtbf", "failure_probability", "optimal_checkpoint_interval", "expected_failures", "goodput_ratio"
    ),
    "CheckpointModel": {
        **_same("checkpoint_size", "storage_bottleneck", "write_time"),
        "write_time_seconds": _as("write_time", "s"),
        "max_bandwidth_required": "storage_bandwidth",
        "mfu_penalty_pct": "mfu_penalty_fraction",  # a fraction in the reference too (B8)
    },
    "OrchestrationModel": {
        **_same("cluster_utilization", "avg_queue_length", "is_stable", "avg_wait_time"),
        "avg_wait_time_days": _as("avg_wait_time", "day"),
    },
    # ---- ops --------------------------------------------------------------------------------
    "EconomicsModel": {
        **{
            f"{name}_usd": _as(name, "USD", magnitude=True)
            for name in ("capex", "opex_energy", "opex_maintenance", "total_opex", "tco")
        },
        **_same("capex", "opex_energy", "opex_maintenance", "total_opex", "tco"),
        **_ENERGY_AND_CARBON,
    },
    "SustainabilityModel": {
        **_ENERGY_AND_CARBON,
        "embodied_carbon_kg": _as("embodied_carbon", "kg", magnitude=True),
        "embodied_carbon": "embodied_carbon",
    },
    "ResponsibleEngineeringModel": _same(
        "dp_slowdown_factor",
        "effective_training_time",
        "additional_data_requirement",
        "epsilon",
        "delta",
        "min_subgroup_prevalence",
        "privacy_cost_ratio",
        "fairness_data_ratio",
    ),
    # ---- analysis ---------------------------------------------------------------------------
    "SensitivitySolver": {
        **_same("feasible", "binding_constraint", "baseline_latency"),
        "sensitivities": _fields(
            peak_flops="sensitivity_peak_flops",
            memory_bandwidth="sensitivity_memory_bandwidth",
            memory_capacity="sensitivity_memory_capacity",
        ),
        "perturbation_pct": _as("perturbation_pct", "percent", magnitude=True),
    },
    "SynthesisSolver": _same(
        "required_bw",
        "required_flops",
        "required_memory",
        "compute_memory_ratio",
        "target_latency",
        "model_size",
        "total_ops",
    ),
    # ---- optimizers (total_searched: the grid size; 0.3.0 counted the survivors, P10f) -----
    "ParallelismOptimizer": {
        "objective_value": "objective",
        "best_config": _fields(tp="best_tp_size", pp="best_pp_size", dp="dp_degree"),
        "total_searched": "n_searched",
        "search_space_size": "n_searched",
        "best_mfu": "mfu",
        "best_throughput": "effective_throughput",
        "best_step_time": "step_latency_total",
    },
    "BatchingOptimizer": {
        "objective_value": "objective",
        "best_config": _fields(max_batch_size="best_batch_size"),
        "total_searched": "n_searched",
        "is_feasible": "feasible",
        **_same("best_batch_size", "max_throughput", "p99_latency", "slo_headroom_ratio"),
    },
    "PlacementOptimizer": {
        "objective_value": "objective",
        "best_config": _fields(region="best_region"),
        "total_searched": "n_searched",
        "lowest_tco": _as("tco", "USD", magnitude=True),
        **_same("best_region", "carbon_footprint", "pue"),  # carbon in kg, not tonnes (D8)
    },
}

_TRACE = "replaced by per-point outputs (feasible, infeasible_reason, ...): docs/differences.md"
#: Reference fields with no counterpart here, and why.
OMITTED: dict[str, dict[str, str]] = {name: {"constraint_trace": _TRACE} for name in REFERENCE_FIELDS}
OMITTED["NetworkRooflineModel"].update(
    energy="not modelled: the reference's constant 0 J was a placeholder (part 2 §14, P2e)",
    energy_per_inference="not modelled (as energy)",
    feasible="not checked: the model has no memory constraint (the reference's constant True, P2e)",
)
OMITTED["InferenceScalingModel"]["serving_detail"] = "the nested ServingModel result: solve ServingModel for it"
OMITTED["ParallelismOptimizer"]["top_candidates"] = "solve with top_k=n: the candidates along the rank dimension"
OMITTED["PlacementOptimizer"]["top_candidates"] = "solve with top_k=n: the candidates along the rank dimension"
for _name in ("ParallelismOptimizer", "BatchingOptimizer", "PlacementOptimizer"):
    del OMITTED[_name]["constraint_trace"]  # an optimizer result of 0.3.0 has none

#: The names that need resolving (not read directly as an output or argument of that name).
_ALIASES: dict[str, dict[str, Alias]] = {
    resolver: {
        name: spec if isinstance(spec, Alias) else _as(spec)
        for name, spec in fields.items()
        if isinstance(spec, Alias) or spec != name
    }
    for resolver, fields in REFERENCE_FIELDS.items()
}


def reference_alias(resolver: str, name: str) -> Alias | None:
    """The ``Alias`` of the 0.3.0 field ``name`` of ``resolver``'s result, or None when the name
    is not one (or is read as the output or argument of that name)."""
    return _ALIASES.get(resolver, {}).get(name)
