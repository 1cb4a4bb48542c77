"""Fleet domain: many accelerators. ``DistributedModel``, ``MoERoutingModel``, ``TopologyModel``,
``NetworkRooflineModel``, ``ReliabilityModel``, ``CheckpointModel``, ``OrchestrationModel``.

Thin facades over the kernels in ``physics.parallel``, ``physics.comm``, ``physics.moe``,
``physics.topology`` and ``physics.reliability``; arguments are validated and aligned by
``grid``. Equations: ``reference/anchor-0.3.0-spec.md`` §6–§9 and part 2 §6, §10, §14, with the
deviations D6, D7, D11, D14 and D21 of DECISIONS.md.
"""

from __future__ import annotations

import numpy as np

from ..grid import Arg, Grid
from ..models.types import SparseTransformerWorkload
from ..physics import comm, moe
from ..physics import memory as mem
from ..physics import parallel as par
from ..physics import reliability as rel
from ..physics import roofline as rl
from ..physics import topology as topo
from ..physics.constants import ACTIVATION_TRAFFIC_RATIO, DEFAULT_HIDDEN_DIM, LORA_RANK, OPTIMIZER_BYTES, OPTIMIZERS
from ..systems.types import Fleet, NetworkFabric
from ..variables import BOTTLENECKS, reason
from .base import HARDWARE, PRECISION, Resolver, model_arg, precision_terms

__all__ = [
    "DistributedModel",
    "MoERoutingModel",
    "TopologyModel",
    "NetworkRooflineModel",
    "ReliabilityModel",
    "CheckpointModel",
    "OrchestrationModel",
]


#: The ``fleet`` argument of the fleet resolvers.
FLEET = Arg("fleet", "record", types=(Fleet,), type_hint="Fleet record (Systems.Clusters.*)")
_COMPUTE, _MEMORY, _NETWORK = (BOTTLENECKS.index(k) for k in ("Compute", "Memory", "Network"))


def _or_default(values, default):
    return np.where(np.isnan(values), default, values)


def _latencies(g: Grid):
    """(intra-node link latency, fabric latency) [s] of the fleet, with the reference's fallbacks."""
    return (
        _or_default(g.field("fleet", "accelerator_nvlink_latency"), comm.DEFAULT_INTRA_NODE_LATENCY),
        _or_default(g.field("fleet", "fabric_latency"), comm.DEFAULT_FABRIC_LATENCY),
    )


def _codes(g: Grid, name: str):
    """The distinct codes of a choice argument (lets a kernel evaluate only those branches)."""
    return np.unique(g.inputs[name].values)


def _auto(value):
    """None (a scalar or inside a list) as the "auto" choice."""
    if value is None:
        return "auto"
    if isinstance(value, (list, tuple)):
        return ["auto" if v is None else v for v in value]
    return value


def _check_weights(g: Grid, resolver: str):
    for record in g.records("model"):
        if record.parameters is None and record.model_size is None:
            raise TypeError(
                f"model={record!r} has neither parameters nor model_size; {resolver} needs the "
                f"weight bytes of the model"
            )


class DistributedModel(Resolver):
    """How does training scale across a fleet? 3D/4D parallelism (DP × TP × PP × EP).

    Arguments (each may be swept; sweeping ``tp_size``, ``pp_size``, ``ep_size``,
    ``microbatch_count`` and ``dp_size`` as dimensions, or zipped along one ``config``
    dimension as DataArrays, is the intended use):

    model : Workload record; fleet : Fleet record (Systems.Clusters.*)
    batch_size : global batch [samples] (default 1)
    precision : default "fp16" (D15); efficiency : η in [1e-9, 1] (default 0.5), derates compute
    tp_size, pp_size, ep_size : parallel degrees (default 1); v_stages : interleaved virtual
        stages (default 1); microbatch_count : microbatches per step (default 1)
    dp_size : data-parallel degree; the job uses ``dp·tp·pp·ep`` accelerators of the fleet (D21).
        Default None: the whole fleet, ``dp = N/(tp·pp·ep)``
    topology_override : DP all-reduce algorithm (D7): "auto" (default; None means the same) is
        the reference's choice, or "ring", "tree", "double_binary_tree", "hierarchical"
    zero_stage : 0–3; is_lora; activation_recomputation (4× instead of 3× FLOPs, full
        checkpointing); overlap_comm, overlap_efficiency (default 0.85) : the DP all-reduce hides
        behind the backward pass; congestion_factor (>= 0, default 1) scales every communication
        time; straggler_factor (>= 0, default 1) scales the step when above 1 (the slowest
        replica; below 1 it has no effect, as in the reference); moe_routing_imbalance_factor
        (>= 1) scales the routed bytes; gradient_accumulation_steps; seq_len (default 2048)

    Equations (``reference/anchor-0.3.0-spec.md`` §6 and ``physics.parallel``, with D7 and D21):
    a replica of ``G = tp·pp·ep`` accelerators computes the local batch ``⌈batch/dp⌉`` with its
    FLOPs split perfectly, ``T_node = max(T_c, T_m) + overhead``; per-accelerator memory is the
    library's one training-memory formula (``physics.memory.training_memory``; Transformers) or
    ``(2W + 12·W/b)/G`` (other models). Communication per step: DP gradient all-reduce of
    ``W/(tp·pp[·ep for MoE])`` bytes (×1.5 under ZeRO-3, ×0.01 with LoRA; not divided by
    gradient accumulation) by ``topology_override``'s algorithm; TP ring all-reduces of
    ``B_loc·S·h·b``, ``4·⌈L/pp⌉`` per step, over NVLink when ``tp`` fits in a node; EP
    all-to-alls of ``B_loc·S·h·b·k·imbalance`` on the fabric, ``4·⌈L/pp⌉`` per step (every layer
    is an expert layer; a dense model run with ``ep > 1`` is split by EP like the reference and
    pays the same exchange with k = 1); pipeline bubble ``T_node·β/(1−β)``,
    ``β = (pp−1)/(v·m + pp − 1)``.
    ``T_step = (T_node + T_dp·(1 − overlap) + T_tp + T_ep + T_bubble)·max(1, straggler)``, with
    every communication time × ``congestion_factor``.

    Outputs: the replica step (``node_*``), ``dp/tp/ep_communication_latency``,
    ``communication_latency``, ``pipeline_bubble_latency``, ``bubble_fraction``,
    ``step_latency_total``, ``scaling_efficiency`` (``T_node/T_step``), ``effective_throughput``
    (global batch / step), ``mfu`` (model FLOPs / (N·peak·T_step), N = accelerators used),
    ``hfu``, ``achieved_flops_per_gpu`` (= mfu × peak), per-accelerator memory
    (``memory_footprint`` and its parts, ``memory_utilization``), ``dp_degree``,
    ``accelerators_used``, ``local_batch_size``, ``microbatches_exceed_local_batch``.

    Infeasible points (never raised): ``not_divisible`` when ``tp·pp·ep`` does not divide the
    fleet (or ``dp·tp·pp·ep`` exceeds it): every output that depends on dp is NaN;
    ``too_many_stages`` when ``pp`` exceeds the model's layers (a stage needs a layer; the
    numbers are still computed as the reference does); ``memory_capacity`` when the training
    memory does not fit (the replica then streams over the host link, as in SingleNodeModel).
    """

    ARGS = (
        model_arg(),
        FLEET,
        Arg("batch_size", "integer", default=1, low=1),
        PRECISION,
        Arg("efficiency", default=0.5, low=1e-9, high=1.0),
        Arg("tp_size", "integer", default=1, low=1),
        Arg("pp_size", "integer", default=1, low=1),
        Arg("ep_size", "integer", default=1, low=1),
        Arg("v_stages", "integer", default=1, low=1),
        Arg("microbatch_count", "integer", default=1, low=1),
        Arg(
            "topology_override",
            "choice",
            default="auto",
            choices=comm.ALGORITHMS,
            aliases={"none": "auto", "double-binary-tree": "double_binary_tree", "dbt": "double_binary_tree"},
        ),
        Arg("zero_stage", "integer", default=0, low=0, high=3),
        Arg("is_lora", "bool", default=False),
        Arg("activation_recomputation", "bool", default=False),
        Arg("overlap_comm", "bool", default=False),
        Arg("overlap_efficiency", default=0.85, low=0.0, high=1.0),
        Arg("congestion_factor", default=1.0, low=0.0),
        Arg("straggler_factor", default=1.0, low=0.0),
        Arg("moe_routing_imbalance_factor", default=1.0, low=1.0),
        Arg("gradient_accumulation_steps", "integer", default=1, low=1),
        Arg("seq_len", "integer", default=2048, low=1),
        Arg("dp_size", "integer", default=None, low=1),
    )

    def grid(self, *args, chunks=None, **kwargs) -> Grid:
        """As ``Resolver.grid``; ``topology_override=None`` (the reference's default) means "auto"."""
        position = [a.name for a in self.ARGS].index("topology_override")
        if len(args) > position:
            args = args[:position] + (_auto(args[position]),) + args[position + 1 :]
        if "topology_override" in kwargs:
            kwargs["topology_override"] = _auto(kwargs["topology_override"])
        return super().grid(*args, chunks=chunks, **kwargs)

    def _check(self, g: Grid) -> None:
        _check_weights(g, "DistributedModel")

    def _compute(self, g: Grid) -> dict:
        model, fleet = (lambda k: g.field("model", k)), (lambda k: g.field("fleet", k))
        b, is_16bit, peak, fallback = precision_terms(g, records="fleet", prefix="accelerator_")
        tp, pp, ep = g["tp_size"], g["pp_size"], g["ep_size"]
        group = tp * pp * ep
        dp, used = par.replica_degrees(
            fleet("total_accelerators"), tp, pp, ep, g["dp_size"] if "dp_size" in g.inputs else None
        )
        batch, seq, eta = g["batch_size"], g["seq_len"], g["efficiency"]
        b_loc = par.local_batch(batch, dp)
        transformer = model("is_transformer") == 1.0
        sparse = model("is_sparse") == 1.0
        layers = _or_default(model("layers"), 1.0)
        hidden = _or_default(model("hidden_dim"), DEFAULT_HIDDEN_DIM)
        stage = par.stage_layers(layers, pp)
        lora, recompute = g["is_lora"], g["activation_recomputation"]
        weights = rl.weight_bytes(model("parameters"), model("model_size"), model("weights_rule"), b, is_16bit)

        # ---- the replica's compute step (small arrays first, the batch last)
        ops_sample = model("ops_per_sample") * np.where(transformer, seq, 1.0)  # a sample is seq_len tokens
        passes = np.where(recompute, 4.0, 3.0)
        footprint, parts = self._memory(g, weights, b, transformer, lora, recompute, dp, b_loc, group)
        capacity = fleet("accelerator_memory_capacity")
        fits = footprint <= capacity
        shard = weights / group
        fitting_bw = rl.fitting_bandwidth(
            shard,
            fleet("accelerator_memory_bandwidth"),
            fleet("accelerator_sram_capacity"),
            fleet("accelerator_sram_bandwidth"),
            fleet("accelerator_flash_bandwidth"),
        )
        bandwidth = rl.effective_bandwidth(fits, fitting_bw, fleet("accelerator_host_link_bandwidth"))
        work = ops_sample * b_loc
        node = par.replica_step(
            3.0 * work,
            passes * work,
            shard * (1.0 + ACTIVATION_TRAFFIC_RATIO * b_loc),
            group,
            peak,
            eta,
            bandwidth,
            fleet("accelerator_dispatch_tax"),
            layers,
        )
        t_node = node["latency"]

        # ---- communication
        lat_intra, lat_inter = _latencies(g)
        bw_intra = fleet("intra_node_bw")
        bw_inter = fleet("fabric_bandwidth") / fleet("oversubscription_ratio")
        per_node = fleet("accelerators_per_node")
        congestion = g["congestion_factor"]
        dp_bytes = par.dp_gradient_bytes(weights, tp, pp, ep, sparse, lora, g["zero_stage"])
        t_dp = (
            par.dp_allreduce_time(
                dp_bytes,
                dp,
                group,
                per_node,
                bw_intra,
                bw_inter,
                lat_intra,
                lat_inter,
                g["topology_override"],
                _codes(g, "topology_override"),
            )
            * congestion
        )
        activations = b_loc * seq * hidden * b
        intra = tp <= per_node
        t_tp = (
            par.tp_allreduce_time(
                activations, tp, stage, np.where(intra, bw_intra, bw_inter), np.where(intra, lat_intra, lat_inter)
            )
            * congestion
        )
        routed = activations * (model("active_experts_per_token") * g["moe_routing_imbalance_factor"])
        t_ep = par.ep_alltoall_time(routed, ep, stage, bw_inter, lat_inter) * congestion

        # ---- the step
        bubble_fraction = par.pipeline_bubble_fraction(pp, g["microbatch_count"], g["v_stages"])
        bubble = par.bubble_latency(t_node, bubble_fraction)
        step = par.step_latency(
            t_node, t_dp, t_tp, t_ep, bubble, g["overlap_comm"], g["overlap_efficiency"], g["straggler_factor"]
        )
        fleet_peak = used * peak
        model_flops = 3.0 * ops_sample * batch
        reasons = np.where(
            np.isnan(dp),
            reason("not_divisible"),
            np.where(pp > layers, reason("too_many_stages"), np.where(fits, 0, reason("memory_capacity"))),
        ).astype(np.int8)
        exceed = g["microbatch_count"] > b_loc
        return {
            "node_latency": t_node,
            "node_latency_compute": node["latency_compute"],
            "node_latency_memory": node["latency_memory"],
            "node_latency_overhead": node["latency_overhead"],
            "node_throughput": b_loc / t_node,
            "node_bottleneck": node["memory_bound"].astype(np.int8),
            "node_mfu": node["mfu"],
            "node_hfu": node["hfu"],
            "node_energy": rl.step_energy(fleet("accelerator_tdp"), node["hfu"], t_node) * group,
            "dp_communication_latency": t_dp,
            "tp_communication_latency": t_tp,
            "ep_communication_latency": t_ep,
            "communication_latency": t_dp + t_tp + t_ep,
            "pipeline_bubble_latency": bubble,
            "bubble_fraction": bubble_fraction,
            "step_latency_total": step,
            "scaling_efficiency": t_node / step,
            "effective_throughput": batch / step,
            "mfu": rl.utilization(model_flops / fleet_peak, step),
            "hfu": rl.utilization(passes * work * dp / fleet_peak, step),
            "achieved_flops_per_gpu": model_flops / (used * step),
            "memory_footprint": footprint,
            **parts,
            "memory_utilization": footprint / capacity,
            "peak_flops_actual": peak * eta,
            "peak_bw_actual": bandwidth,
            "feasible": reasons == 0,
            "infeasible_reason": reasons,
            "peak_flops_fallback": fallback,
            "dp_degree": dp,
            "accelerators_used": used,
            "local_batch_size": b_loc,
            "microbatches_exceed_local_batch": exceed,
        }

    @staticmethod
    def _memory(g: Grid, weights, b, transformer, lora, recompute, dp, b_loc, group):
        """Training memory per accelerator [byte] and its parts.

        Transformers: ``physics.memory.training_memory`` with Adam, the replica's share of the
        batch (``global = B_loc·dp``), ``GA·max(1, ⌊m/pp⌋)`` accumulation steps under a
        pipeline (1F1B keeps about pp microbatches in flight), selective recomputation (full
        with ``activation_recomputation``), LoRA training ``min(2·16·h·4L/P, 1)`` of the
        parameters, sequence parallelism. Other models: weights, gradients and 12 B/parameter of
        Adam state split over the replica, ``(2W + 12·W/b)/G`` (``1.1·W`` for LoRA on one
        accelerator, as the reference's single-device path); their parts are NaN.
        """
        model = lambda k: g.field("model", k)  # noqa: E731
        params = model("parameters")
        layers = model("layers")
        hidden = _or_default(model("hidden_dim"), DEFAULT_HIDDEN_DIM)
        with np.errstate(divide="ignore", invalid="ignore"):
            lora_fraction = np.minimum(2.0 * LORA_RANK * hidden * 4.0 * layers / params, 1.0)
        tp, pp = g["tp_size"], g["pp_size"]
        accumulation = par.pipeline_accumulation_steps(g["gradient_accumulation_steps"], g["microbatch_count"], pp)
        parts = mem.training_memory(
            params,
            b,
            OPTIMIZER_BYTES["adam"],
            np.where(lora, lora_fraction, 1.0),
            tp=tp,
            pp=pp,
            dp=dp,
            ep=g["ep_size"],
            zero_stage=g["zero_stage"],
            global_batch=b_loc * dp,
            seq_len=g["seq_len"],
            accumulation_steps=accumulation,
            layers=_or_default(layers, 1.0),
            hidden=hidden,
            heads=model("heads_or_default"),
            strategy=np.where(recompute, mem.FULL, mem.SELECTIVE),
            buffer_fraction=0.05,
            sequence_parallel=True,
        )
        other = np.where(
            lora & (group == 1.0), 1.1 * weights, (2.0 * weights + OPTIMIZER_BYTES["adam"] * weights / b) / group
        )
        total = np.where(transformer, parts.pop("total_memory"), other)
        return total, {k: np.where(transformer, v, np.nan) for k, v in parts.items()}


class MoERoutingModel(Resolver):
    """How much does MoE routing imbalance hurt? (``reference/anchor-0.3.0-spec.md`` §7)

    model : SparseTransformerWorkload (a dense model raises TypeError, D14)
    batch_size, seq_len : samples and tokens per sample (required, >= 1)
    precision : default "fp16"; ep_size : expert-parallel degree (default 1)
    routing_imbalance_factor : busiest expert's load / mean (>= 1, default 1)
    fleet : optional Fleet; with ep_size > 1 its fabric carries the all-to-all

    Outputs: effective_active_experts ``min(E, k·f)``, active_parameter_multiplier
    ``E_eff/k``, effective_active_parameters, token_dispatch_bytes
    ``B·S·h·b·E_eff·(ep−1)/ep``, all_to_all_latency (one dispatch all-to-all of the batch on
    the fabric: ``(ep−1)/ep·M/β + (ep−1)·α``; None without a fleet or with ep_size 1).
    """

    ARGS = (
        model_arg(types=(SparseTransformerWorkload,), hint="SparseTransformerWorkload (a mixture-of-experts model)"),
        Arg("batch_size", "integer", low=1),
        Arg("seq_len", "integer", low=1),
        PRECISION,
        Arg("ep_size", "integer", default=1, low=1),
        Arg("routing_imbalance_factor", default=1.0, low=1.0),
        Arg("fleet", "record", default=None, types=(Fleet,), type_hint="Fleet record (Systems.Clusters.*)"),
    )

    def _compute(self, g: Grid) -> dict:
        model = lambda k: g.field("model", k)  # noqa: E731
        b = rl.bytes_per_element(g["precision"])
        top_k = np.maximum(1.0, model("active_experts_per_token"))
        experts = moe.effective_active_experts(model("experts"), top_k, g["routing_imbalance_factor"])
        multiplier = experts / top_k
        ep = g["ep_size"]
        payload = moe.routed_token_bytes(g["batch_size"], g["seq_len"], model("hidden_or_default"), b, experts)
        out = {
            "effective_active_experts": experts,
            "effective_active_parameters": model("active_parameters") * multiplier,
            "active_parameter_multiplier": multiplier,
            "token_dispatch_bytes": payload * moe.remote_fraction(ep),
        }
        if "fleet" in g.inputs:
            _, lat_inter = _latencies(g)
            bw = g.field("fleet", "fabric_bandwidth") / g.field("fleet", "oversubscription_ratio")
            out["all_to_all_latency"] = np.where(ep > 1, comm.all_to_all(payload, ep, bw, lat_inter), np.nan)
        else:
            out["all_to_all_latency"] = np.float64(np.nan)
        return out


class TopologyModel(Resolver):
    """What topology should I use? Bisection and effective bandwidth, mean hops
    (``reference/anchor-0.3.0-spec-part2.md`` §6; ``physics.topology``).

    fabric : NetworkFabric record (Systems.Fabrics.*): link bandwidth and oversubscription
    topology : "fat_tree" (default; also "fat-tree", the registry's spelling), "dragonfly",
        "torus_3d" (also "torus", "3d_torus") or "ring", case-insensitive (D14)
    num_nodes : nodes on the network, >= 1 (default 64)

    Outputs: effective_bw ``β·φ/r``, bisection_bw ``β·φ·N/2/r`` [byte/s], bisection_bw_fraction
    φ, hops_avg.
    """

    ARGS = (
        Arg("fabric", "record", types=(NetworkFabric,), type_hint="NetworkFabric record (Systems.Fabrics.*)"),
        Arg(
            "topology",
            "choice",
            default="fat_tree",
            choices=topo.TOPOLOGIES,
            aliases={
                "fat-tree": "fat_tree",
                "fattree": "fat_tree",
                "torus": "torus_3d",
                "3d_torus": "torus_3d",
                "torus-3d": "torus_3d",
                "3d-torus": "torus_3d",
            },
        ),
        Arg("num_nodes", "integer", default=64, low=1),
    )

    def _compute(self, g: Grid) -> dict:
        code, nodes = g["topology"], g["num_nodes"]
        link = g.field("fabric", "bandwidth")
        oversub = g.field("fabric", "oversubscription_ratio")
        fraction = topo.bisection_fraction(code, nodes)
        return {
            "effective_bw": topo.effective_bandwidth(link, fraction, oversub),
            "bisection_bw": topo.bisection_bandwidth(link, fraction, nodes, oversub),
            "bisection_bw_fraction": fraction,
            "hops_avg": topo.average_hops(code, nodes),
        }


class NetworkRooflineModel(Resolver):
    """Is data-parallel training compute- or network-bound? (``reference/anchor-0.3.0-spec-part2.md``
    §14, with DECISIONS D11.)

    model : Workload with a parameter count; fleet : Fleet record
    precision : default "fp16", canonicalised before the peak is looked up (D11, D15)
    efficiency : η in [1e-9, 1] (default 0.5), derates compute only
    batch_size : global samples per step (default 1); seq_len : tokens per sample for
        Transformers (default 1). The defaults reproduce the reference's one-token step (D11)

    Two ceilings: compute ``T_c = 6·P_active·B·S/(N·F·η)`` (active parameters for MoE, D11)
    and network ``T_n = 2·P·b/β`` (every gradient byte through one link ``β = fabric/
    oversubscription``); ``T = max(T_c, T_n)``, bottleneck "Network" when ``T_n > T_c``.
    Outputs: latency, latency_compute, latency_network, throughput (samples/s), bottleneck,
    arithmetic_intensity (FLOPs per synchronised byte), ridge_point ``N·F/β``, sync_bytes,
    network_bandwidth, peak_flops_actual ``N·F·η``, mfu = hfu ``min(ops/T/(N·F), 1)``,
    peak_flops_fallback.
    """

    ARGS = (
        model_arg(),
        FLEET,
        PRECISION,
        Arg("efficiency", default=0.5, low=1e-9, high=1.0),
        Arg("batch_size", "integer", default=1, low=1),
        Arg("seq_len", "integer", default=1, low=1),
    )

    def _check(self, g: Grid) -> None:
        for record in g.records("model"):
            if record.parameters is None:
                raise ValueError(
                    f"model={record!r} has no parameter count; NetworkRooflineModel needs a workload "
                    f"with parameters (gradient bytes and 6·P FLOPs per token)"
                )

    def _compute(self, g: Grid) -> dict:
        model, fleet = (lambda k: g.field("model", k)), (lambda k: g.field("fleet", k))
        b, _, peak, fallback = precision_terms(g, records="fleet", prefix="accelerator_")
        fleet_peak = peak * fleet("total_accelerators")
        bandwidth = fleet("fabric_bandwidth") / fleet("oversubscription_ratio")
        tokens = g["batch_size"] * np.where(model("is_transformer") == 1.0, g["seq_len"], 1.0)
        ops = 6.0 * model("active_parameters") * tokens
        sync = 2.0 * model("parameters") * b
        t_compute, t_network = ops / (fleet_peak * g["efficiency"]), sync / bandwidth
        latency = np.maximum(t_compute, t_network)
        utilization = rl.utilization(ops / fleet_peak, latency)
        return {
            "latency": latency,
            "latency_compute": t_compute,
            "latency_network": t_network,
            "throughput": g["batch_size"] / latency,
            "bottleneck": np.where(t_network > t_compute, _NETWORK, _COMPUTE).astype(np.int8),
            "arithmetic_intensity": ops / sync,
            "ridge_point": fleet_peak / bandwidth,
            "sync_bytes": sync,
            "network_bandwidth": bandwidth,
            "peak_flops_actual": fleet_peak * g["efficiency"],
            "mfu": utilization,
            "hfu": utilization,
            "peak_flops_fallback": fallback,
        }


class ReliabilityModel(Resolver):
    """How often will my cluster fail during training? (``reference/anchor-0.3.0-spec.md`` §8.3,
    with DECISIONS D6; ``physics.reliability``.)

    fleet : Fleet record; its ``mtbf_hours``, when set, is the fleet MTBF (D6)
    job_duration_hours : job length [h; Quantities of time accepted], >= 0 (also ``job_duration``)
    checkpoint_time_s : time to write a checkpoint [s], > 0 (default 60)
    avg_recovery_time_s : restart time after a failure [s], >= 0 (default 300)

    Outputs: node_mtbf (components: accelerators 50,000 h, NICs 150,000 h, series PSUs
    100,000 h), fleet_mtbf (node MTBF / nodes, or the fleet's own), failure_probability
    ``1 − exp(−T/MTBF)``, expected_failures ``T/MTBF``, optimal_checkpoint_interval
    ``sqrt(2·δ·MTBF)`` (Young–Daly), goodput_ratio ``max(0, 1 − δ/τ − (R + τ/2)/MTBF)`` (D6).
    """

    ARGS = (
        FLEET,
        Arg("job_duration_hours", unit="hour", low=0.0, keyword_aliases=("job_duration",)),
        Arg("checkpoint_time_s", default=60.0, unit="s", low=0.0, low_open=True),
        Arg("avg_recovery_time_s", default=300.0, unit="s", low=0.0),
    )

    def _compute(self, g: Grid) -> dict:
        fleet = lambda k: g.field("fleet", k)  # noqa: E731
        node = rel.node_mtbf(fleet("accelerators_per_node"), fleet("nics_per_node"), fleet("series_psus"))
        mtbf = rel.fleet_mtbf(node, fleet("node_count"), fleet("mtbf"))
        duration = g["job_duration_hours"]
        delta = g["checkpoint_time_s"]
        interval = rel.young_daly_interval(delta, mtbf)
        return {
            "node_mtbf": node,
            "fleet_mtbf": mtbf,
            "failure_probability": rel.failure_probability(mtbf, duration),
            "expected_failures": rel.expected_failures(mtbf, duration),
            "optimal_checkpoint_interval": interval,
            "goodput_ratio": rel.goodput(delta, interval, g["avg_recovery_time_s"], mtbf),
        }


class CheckpointModel(Resolver):
    """How much time do I lose to checkpoints? (``reference/anchor-0.3.0-spec.md`` §9.1, D14.)

    model : Workload with a parameter count; hardware : HardwareNode (its storage bandwidth;
        1 GB/s when none on record)
    optimizer : "adam"/"adamw" (14 B per parameter: fp16 weights, fp32 master weights and two
        moments), "sgd" or "none" (4 B) (default "adam")
    checkpoint_interval_hours : time between checkpoints [h], >= 0 (default 4)
    n_writers : accelerators writing in parallel, >= 1 (default 1, D14)
    filesystem_limit_gbs : aggregate file-system bandwidth [GB/s], > 0 (default 500)

    Outputs: checkpoint_size, storage_bandwidth (device), write_bandwidth
    ``min(device·writers, limit)``, write_time, storage_bottleneck (write > 60 s),
    mfu_penalty_fraction (write time / interval; 1 for a zero interval).
    """

    ARGS = (
        model_arg(),
        HARDWARE,
        Arg("optimizer", "choice", default="adam", choices=OPTIMIZERS),
        Arg("checkpoint_interval_hours", default=4.0, unit="hour", low=0.0),
        Arg("n_writers", "integer", default=1, low=1),
        Arg("filesystem_limit_gbs", default=500.0, unit="GB/s", low=0.0, low_open=True),
    )

    def _check(self, g: Grid) -> None:
        for record in g.records("model"):
            if record.parameters is None:
                raise TypeError(
                    f"model={record!r} has no parameter count; CheckpointModel sizes a checkpoint from the parameters"
                )

    def _compute(self, g: Grid) -> dict:
        size = rel.checkpoint_bytes(
            g.field("model", "parameters"), rl.select_by_code(g["optimizer"], rel.CHECKPOINT_BYTES_PER_PARAM)
        )
        device = g.field("hardware", "storage_bandwidth")
        write, bandwidth = rel.checkpoint_write_time(size, device, g["n_writers"], g["filesystem_limit_gbs"])
        return {
            "checkpoint_size": size,
            "storage_bandwidth": np.where(np.isnan(device) | (device <= 0), rel.FALLBACK_STORAGE_BW, device),
            "write_bandwidth": bandwidth,
            "write_time": write,
            "storage_bottleneck": write > rel.STORAGE_BOTTLENECK_S,
            "mfu_penalty_fraction": rel.checkpoint_overhead_fraction(write, g["checkpoint_interval_hours"]),
        }


class OrchestrationModel(Resolver):
    """How busy is my cluster? The job queue as an M/D/1 queue with the whole cluster as one
    server (``reference/anchor-0.3.0-spec-part2.md`` §10; ``physics.reliability.md1_queue``).

    fleet : Fleet record (optional; not used by the equations, accepted as the reference does)
    arrival_rate_jobs_per_day : λ [jobs/day], >= 0 (also ``arrival_rate``; D14)
    avg_job_duration_days : D [days], > 0 (also ``avg_duration``; D14)

    Outputs: cluster_utilization ``ρ = λ·D``, avg_wait_time ``ρ·D/(2(1−ρ))``, avg_queue_length
    ``ρ²/(2(1−ρ))`` (∞ when ρ >= 1), is_stable, feasible and infeasible_reason
    (``unstable_queue``).
    """

    ARGS = (
        Arg("fleet", "record", default=None, types=(Fleet,), type_hint="Fleet record (Systems.Clusters.*)"),
        Arg("arrival_rate_jobs_per_day", unit="1/day", low=0.0, keyword_aliases=("arrival_rate",)),
        Arg("avg_job_duration_days", unit="day", low=0.0, low_open=True, keyword_aliases=("avg_duration",)),
    )

    def _compute(self, g: Grid) -> dict:
        rho, wait, length = rel.md1_queue(g["arrival_rate_jobs_per_day"], g["avg_job_duration_days"])
        stable = rho < 1.0
        return {
            "cluster_utilization": rho,
            "avg_wait_time": wait,
            "avg_queue_length": length,
            "is_stable": stable,
            "feasible": stable,
            "infeasible_reason": np.where(stable, 0, reason("unstable_queue")).astype(np.int8),
        }
