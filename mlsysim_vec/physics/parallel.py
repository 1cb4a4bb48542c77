"""Parallel-training kernels: how a training step splits over data (DP), tensor (TP), pipeline
(PP) and expert (EP) parallelism, and what it costs.

A model replica spans ``G = tp·pp·ep`` accelerators; ``dp`` replicas each take a share of the
global batch and all-reduce gradients once per step. Within a replica, TP all-reduces
activations four times per layer per step (two in the forward, two in the backward pass;
Shoeybi et al., "Megatron-LM", 2019, §3; Narayanan et al., "Efficient large-scale language model
training on GPU clusters using Megatron-LM", SC 2021, §3.2), PP idles for the pipeline bubble
(Huang et al., "GPipe", 2019; the interleaved schedule of Narayanan et al. 2021 divides it by
the number of virtual stages ``v``), and EP exchanges tokens with an all-to-all before and after
each expert layer (Lepikhin et al., "GShard", 2020). Equations after mlsysim 0.3.0
(``reference/anchor-0.3.0-spec.md`` §6) with the deviations D7 and D21 of DECISIONS.md.

Pure numpy functions of float arrays (canonical SI units), broadcasting; degrees are whole
numbers stored as floats.
"""

from __future__ import annotations

import numpy as np

from . import roofline as rl
from .comm import all_to_all, allreduce_by_algorithm, ring_allreduce
from .constants import LAYER_TAX_S

__all__ = [
    "TP_ALLREDUCES_PER_LAYER",
    "EP_ALLTOALLS_PER_LAYER",
    "ZERO3_DP_TRAFFIC",
    "LORA_DP_TRAFFIC",
    "TRAINING_PASSES",
    "replica_degrees",
    "local_batch",
    "stage_layers",
    "pipeline_accumulation_steps",
    "pipeline_bubble_fraction",
    "bubble_latency",
    "replica_step",
    "dp_gradient_bytes",
    "dp_allreduce_time",
    "tp_allreduce_time",
    "ep_alltoall_time",
    "step_latency",
]

#: Tensor-parallel all-reduces per layer per training step (2 forward + 2 backward; D7).
TP_ALLREDUCES_PER_LAYER = 4.0
#: Expert-parallel all-to-alls per MoE layer per training step (dispatch and combine, forward
#: and backward; D7).
EP_ALLTOALLS_PER_LAYER = 4.0
#: ZeRO stage 3 all-gathers the parameters in the forward and the backward pass on top of the
#: gradient reduce-scatter: 1.5× the DP traffic of stages 0–2 (Rajbhandari et al., "ZeRO",
#: SC 2020, §7.2.2; D7).
ZERO3_DP_TRAFFIC = 1.5
#: LoRA synchronises only the adapters' gradients: 1 % of the full gradient bytes (reference).
LORA_DP_TRAFFIC = 0.01
#: Launch passes of a training step (forward, backward, optimizer), each paying the per-layer tax.
TRAINING_PASSES = 3.0


def replica_degrees(total, tp, pp, ep, dp=None):
    """Data-parallel degree and accelerators used: ``(dp, used)``, NaN where the split is impossible.

    total : accelerators in the fleet; tp, pp, ep : parallel degrees (``G = tp·pp·ep`` per replica)
    dp : requested data-parallel degree (D21), or None for the whole fleet.
    Whole fleet: ``dp = total/G``, NaN unless G divides the fleet. Requested: ``dp``, NaN when
    ``dp·G`` exceeds the fleet (the replicas use a sub-fleet of ``dp·G`` accelerators).
    """
    group = tp * pp * ep
    if dp is None:
        whole = np.mod(total, group) == 0
        dp = np.where(whole, total / group, np.nan)
    else:
        dp = np.where(dp * group <= total, dp, np.nan)
    return dp, dp * group


def local_batch(batch, dp):
    """Samples per replica per step: ``⌈batch/dp⌉`` (D7: no sample silently dropped)."""
    return np.ceil(batch / dp)


def stage_layers(layers, pp):
    """Layers held by one pipeline stage: ``max(1, ⌈L/pp⌉)``."""
    return np.maximum(1.0, np.ceil(layers / pp))


def pipeline_accumulation_steps(accumulation_steps, microbatches, pp):
    """Microbatches resident at once for activation memory under 1F1B [count].

    With a pipeline, the first stage holds about ``pp`` microbatches of the ``m`` in flight, so
    the memory model sees ``GA·max(1, ⌊m/pp⌋)`` accumulation steps; without one, ``GA``.
    """
    return np.where(pp > 1, accumulation_steps * np.maximum(1.0, np.floor(microbatches / pp)), accumulation_steps)


def pipeline_bubble_fraction(pp, microbatches, v_stages):
    """Idle fraction of a pipelined step: ``(pp−1)/(v·m + pp − 1)`` (0 without a pipeline)."""
    return (pp - 1.0) / (v_stages * microbatches + pp - 1.0)


def bubble_latency(node_latency, fraction):
    """Bubble time [s] added to a replica step whose busy time is ``node_latency``:
    ``T·f/(1−f)`` (the busy time is the ``1−f`` share of the pipelined step)."""
    return node_latency * fraction / (1.0 - fraction)


def replica_step(model_ops, executed_ops, traffic, group, peak, efficiency, bandwidth, dispatch_tax, layers):
    """One replica's training step, split perfectly over its ``G`` accelerators.

    model_ops, executed_ops : FLOPs of the step for the whole replica [FLOP] (executed includes
    recomputation); traffic : bytes each accelerator moves [byte]; group : G; peak : FLOP/s of
    one accelerator; efficiency : η; bandwidth : effective memory bandwidth [byte/s];
    dispatch_tax [s]; layers : layer count for the per-layer framework tax.

    ``T_c = executed/(F·η·G)``, ``T_m = traffic/BW``, ``T = max(T_c, T_m) + dispatch +
    3·L·0.01 ms``; MFU and HFU per accelerator of the replica, ``(ops/G)/(F·T)``, clipped to
    [0, 1]. Returns a dict: latency, latency_compute, latency_memory, latency_overhead,
    memory_bound (bool), mfu, hfu.
    """
    t_compute, t_memory = rl.roofline_times(executed_ops / group, traffic, peak * efficiency, bandwidth)
    overhead = dispatch_tax + TRAINING_PASSES * layers * LAYER_TAX_S
    latency, _ = rl.step_latency(t_compute, t_memory, overhead)
    scale = 1.0 / (peak * group)
    return {
        "latency": latency,
        "latency_compute": t_compute,
        "latency_memory": t_memory,
        "latency_overhead": overhead,
        "memory_bound": rl.memory_bound(t_compute, t_memory),
        "mfu": rl.utilization(model_ops * scale, latency),
        "hfu": rl.utilization(executed_ops * scale, latency),
    }


def dp_gradient_bytes(weight_bytes, tp, pp, ep, sparse, lora, zero_stage):
    """Bytes each rank all-reduces across the data-parallel replicas [byte].

    The gradients of the rank's parameter shard: ``W/(tp·pp·ep)`` for MoE models, whose every
    parameter is sharded by EP as in the training-memory model, and ``W/(tp·pp)`` for dense
    ones (D7); ×0.01 for LoRA; ×1.5 under ZeRO-3 (parameter all-gathers, D7).
    """
    shards = tp * pp * np.where(sparse, ep, 1.0)
    message = weight_bytes / shards
    message = np.where(lora, LORA_DP_TRAFFIC * message, message)
    return np.where(zero_stage >= 3, ZERO3_DP_TRAFFIC * message, message)


def dp_allreduce_time(message, dp, group, per_node, bw_intra, bw_inter, lat_intra, lat_inter, algorithm, present=None):
    """Data-parallel gradient all-reduce [s], once per step whatever the accumulation (D7).

    One replica of ``G`` accelerators leaves ``max(1, ⌊apn/G⌋)`` DP ranks on a node of ``apn``
    accelerators; the all-reduce then runs by ``algorithm`` (``comm.ALGORITHMS``; D7's
    ``topology_override``) — see ``comm.allreduce_by_algorithm``.
    """
    ranks_per_node = np.maximum(1.0, np.floor(per_node / group))
    return allreduce_by_algorithm(
        algorithm, message, dp, ranks_per_node, bw_intra, bw_inter, lat_intra, lat_inter, present
    )


def tp_allreduce_time(activation_bytes, tp, layers_per_stage, bandwidth, latency):
    """Tensor-parallel communication of one step [s]: a ring all-reduce of the activations
    ``B_loc·S·h·b`` among the ``tp`` ranks, 4 per layer of the stage (D7)."""
    return ring_allreduce(activation_bytes, tp, bandwidth, latency) * (TP_ALLREDUCES_PER_LAYER * layers_per_stage)


def ep_alltoall_time(routed_bytes, ep, layers_per_stage, bandwidth, latency):
    """Expert-parallel communication of one step [s]: an all-to-all of the routed tokens
    ``B_loc·S·h·b·k·imbalance`` among the ``ep`` ranks, 4 per expert layer of the stage (D7)."""
    return all_to_all(routed_bytes, ep, bandwidth, latency) * (EP_ALLTOALLS_PER_LAYER * layers_per_stage)


def step_latency(node_latency, dp_time, tp_time, ep_time, bubble, overlap, overlap_efficiency, straggler):
    """Time of one distributed training step [s].

    ``T = T_node + (1 − o)·T_dp + T_tp + T_ep + T_bubble``, with ``o`` the overlap efficiency when
    the DP all-reduce overlaps the backward pass (else 0), times the straggler factor when it
    exceeds 1 (the slowest replica sets the step; a factor below 1 has no effect).
    """
    dp_exposed = np.where(overlap, (1.0 - overlap_efficiency) * dp_time, dp_time)
    return (node_latency + dp_exposed + tp_time + ep_time + bubble) * np.maximum(straggler, 1.0)
