"""Parallel-training kernels: how a training step splits over data (DP), tensor (TP), pipeline
(PP) and expert (EP) parallelism, and what it costs.

A model replica spans ``G = tp·pp·ep`` accelerators; ``dp`` replicas each take a share of the
global batch and all-reduce gradients once per step. Within a replica, TP all-reduces
activations four times per layer per step (two in the forward, two in the backward pass;
Shoeybi et al., "Megatron-LM: training multi-billion parameter language models using model
parallelism", 2019, arXiv:1909.08053, §3; Narayanan et al., "Efficient large-scale language
model training on GPU clusters using Megatron-LM", SC 2021, arXiv:2104.04473, §3.2), PP idles
for the pipeline bubble (Huang et al., "GPipe: efficient training of giant neural networks using
pipeline parallelism", NeurIPS 2019, arXiv:1811.06965; the interleaved schedule of Narayanan et
al. 2021 divides it by the number of virtual stages ``v``), and EP exchanges tokens with an
all-to-all before and after each expert layer (Lepikhin et al., "GShard: scaling giant models
with conditional computation and automatic sharding", 2020, arXiv:2006.16668). Equations after
mlsysim 0.3.0 (``docs/equations.md``, section "Distributed training") with the deviations D7,
D11 and D21 of docs/differences.md.

Pure numpy functions of float arrays (canonical SI units), broadcasting; degrees are whole
numbers stored as floats. ``distributed_step`` is DistributedModel's whole training step and
``network_roofline_step`` NetworkRooflineModel's two-ceiling bound; each returns its outputs
by name.
"""

from __future__ import annotations

import numpy as np

from . import roofline as rl
from .comm import (
    DEFAULT_FABRIC_LATENCY,
    DEFAULT_INTRA_NODE_LATENCY,
    all_to_all,
    allreduce_by_algorithm,
    point_to_point,
    ring_allreduce,
)
from .constants import (
    ACTIVATION_TRAFFIC_RATIO,
    ATTENTION_SCORE_FLOPS,
    DEFAULT_HEADS,
    DEFAULT_HIDDEN_DIM,
    ELEMENTWISE_BYTES_PER_SBH,
    GEMM_HALF_SIZE,
    GEMM_SHAPE_EXPONENT,
    LAYER_TAX_S,
    RECOMPUTATION_FLOPS_FACTOR,
    SOFTMAX_BYTES_PER_AS2B,
    TP_ALLREDUCES_RECOMPUTED,
    TRAINING_FLOPS_FACTOR,
    TRAINING_PASSES,
    as_float,
)
from .efficiency import layer_gemm_factor
from .memory import FULL, SELECTIVE, training_footprint

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
    "distributed_step",
    "microbatch_count",
    "attention_score_flops",
    "elementwise_bytes",
    "context_parallel_time",
    "BUBBLE_NOTE_FRACTION",
    "TRAINING_FLOPS_PER_PARAMETER_TOKEN",
    "GRADIENT_SYNC_FACTOR",
    "network_roofline_step",
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
#: LoRA synchronises only the adapters' gradients: 1 % of the full gradient bytes (mlsysim 0.3.0).
LORA_DP_TRAFFIC = 0.01
#: A pipeline bubble above this fraction of the step earns the ``pipeline_bubble_over_half`` note.
BUBBLE_NOTE_FRACTION = 0.5
#: Training FLOPs per parameter per token: forward 2, backward 4 (Kaplan et al., "Scaling laws
#: for neural language models", 2020, arXiv:2001.08361).
TRAINING_FLOPS_PER_PARAMETER_TOKEN = 6.0
#: Gradient bytes a rank sends and receives per step in a bandwidth-optimal all-reduce:
#: ``2·(n−1)/n ≈ 2`` times the gradient (Patarasuk & Yuan 2009; NetworkRooflineModel).
GRADIENT_SYNC_FACTOR = 2.0


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


def microbatch_count(local_batch_size, microbatches=np.nan, microbatch_size=np.nan, refined=False):
    """Microbatches per pipeline flush [count].

    An explicit ``microbatches`` wins; else ``⌈B_loc/microbatch_size⌉``; with neither, 1 under
    first_order (mlsysim 0.3.0's default) and ``B_loc`` (microbatch size 1) under refined.
    """
    if rl.is_plain_nan(microbatch_size) and rl.is_plain_false(refined):
        derived = 1.0  # first_order's default: the local batch in one microbatch
    else:
        size = np.where(np.isnan(microbatch_size), np.where(refined, 1.0, np.nan), microbatch_size)
        derived = np.where(np.isnan(size), 1.0, np.ceil(local_batch_size / size))
    if rl.is_plain_nan(microbatches):
        return derived
    return np.where(np.isnan(microbatches), derived, microbatches)


def attention_score_flops(seq_len, hidden, layers):
    """Attention-score FLOPs of one sample's forward pass [FLOP]: ``4·s²·h·L`` (``Q·Kᵀ`` and
    ``scores·V``; Narayanan et al. 2021, doi:10.1145/3458817.3476209, Eq. 3, the ``s/(6h)``
    term)."""
    return ATTENTION_SCORE_FLOPS * seq_len * seq_len * hidden * layers


def elementwise_bytes(seq_len, hidden, heads, bytes_per_el, flash_attention):
    """HBM bytes of one layer's memory-bound element-wise and softmax work for one sample and
    one forward pass [byte]: ``(34·s·h + 5·a·s²·(1 − flash))·b/2``.

    The layer norms, GeLU, dropouts, bias and residual adds read and write about the
    ``34·s·b·h`` bytes (at 16 bit) Korthikanti et al. (2022, arXiv:2205.05198, eq. 1) count as
    the layer's stored activations; the softmax of the scores, its mask and dropout the
    ``5·a·s²·b``, which a fused kernel keeps on chip (Dao et al. 2022, arXiv:2205.14135).
    """
    softmax = np.where(flash_attention, 0.0, SOFTMAX_BYTES_PER_AS2B * heads * seq_len * seq_len)
    return (ELEMENTWISE_BYTES_PER_SBH * seq_len * hidden + softmax) * (bytes_per_el / 2.0)


def context_parallel_time(kv_bytes, cp, passes, attention_time, bandwidth, latency):
    """Exposed ring exchange of context parallelism [s].

    Each of ``cp`` ranks passes its K and V blocks (``kv_bytes`` per layer and pass) round the
    ring ``cp − 1`` times while it computes attention on the block it holds (Liu et al., "Ring
    attention with blockwise transformers", 2023, arXiv:2310.01889, §3): per pass the exchange
    is hidden behind the attention compute ``attention_time`` [s] when it is shorter, and
    ``max(0, T_ring − T_attention)`` is exposed; ``passes`` passes (forward, backward ×2,
    recomputed forward). 0 s for ``cp = 1``.
    """
    ring = (cp - 1.0) * point_to_point(kv_bytes, bandwidth, latency) * passes
    return np.where(cp > 1, np.maximum(ring - attention_time, 0.0), 0.0)


def step_latency(node_latency, dp_time, tp_time, ep_time, bubble, overlap, overlap_efficiency, straggler):
    """Time of one distributed training step [s].

    ``T = T_node + (1 − o)·T_dp + T_tp + T_ep + T_bubble``, with ``o`` the overlap efficiency when
    the DP all-reduce overlaps the backward pass (else 0), times the straggler factor when it
    exceeds 1 (the slowest replica sets the step; a factor below 1 has no effect).
    """
    dp_exposed = np.where(overlap, (1.0 - overlap_efficiency) * dp_time, dp_time)
    return (node_latency + dp_exposed + tp_time + ep_time + bubble) * np.maximum(straggler, 1.0)


def _or_default(values, default):
    return np.where(np.isnan(values), default, values)


def distributed_step(
    *,
    parameters,
    model_size,
    weights_rule,
    ops_per_sample,
    is_transformer,
    is_sparse,
    layers,
    hidden,
    heads,
    experts_per_token,
    peak_flops,
    bytes_per_el,
    is_16bit,
    memory_capacity,
    memory_bandwidth,
    sram_capacity,
    sram_bandwidth,
    flash_bandwidth,
    host_link_bandwidth,
    dispatch_tax,
    tdp,
    total_accelerators,
    accelerators_per_node,
    intra_node_bandwidth,
    intra_node_latency,
    fabric_bandwidth,
    fabric_latency,
    oversubscription,
    batch,
    seq_len=2048.0,
    efficiency=0.5,
    tp=1.0,
    pp=1.0,
    ep=1.0,
    dp=None,
    v_stages=1.0,
    microbatches=np.nan,
    algorithm=0,
    algorithms_present=None,
    zero_stage=0.0,
    lora=False,
    recompute=False,
    overlap=False,
    overlap_efficiency=0.85,
    congestion=1.0,
    straggler=1.0,
    routing_imbalance=1.0,
    accumulation_steps=1.0,
    refined=False,
    microbatch_size=np.nan,
    flash_attention=False,
    cp=1.0,
    vocab=np.nan,
    gemm_half_size=GEMM_HALF_SIZE,
    gemm_exponent=GEMM_SHAPE_EXPONENT,
    frozen_bytes_per_el=np.nan,
) -> dict:
    """One training step of a fleet under DP × TP × PP × EP × CP (DistributedModel).

    The model : parameters [count], model_size [byte], weights_rule (``roofline.weight_bytes``),
    ops_per_sample [FLOP per token for Transformers, per sample otherwise, one forward pass],
    is_transformer, is_sparse (0/1 or bool), layers, hidden, heads [count] (NaN: 1 layer,
    hidden 4096, 32 heads), experts_per_token ``k``.
    One accelerator : peak_flops at the precision [FLOP/s], bytes_per_el ``b`` [byte],
    is_16bit, memory_capacity [byte], memory_bandwidth, sram_bandwidth, flash_bandwidth,
    host_link_bandwidth [byte/s], sram_capacity [byte], dispatch_tax [s], tdp [W].
    The fleet : total_accelerators ``N``, accelerators_per_node, intra_node_bandwidth [byte/s]
    and intra_node_latency [s] (NaN: 500 ns), fabric_bandwidth [byte/s], fabric_latency [s]
    (NaN: 5 µs), oversubscription.
    The job : global batch [samples], seq_len [tokens], efficiency η, tp, pp, ep, dp (None:
    the whole fleet, ``N/(tp·pp·ep)``), v_stages, microbatches ``m``, algorithm (a code of
    ``comm.ALGORITHMS``; ``algorithms_present`` the codes that occur), zero_stage, lora,
    recompute, overlap and overlap_efficiency, congestion, straggler, routing_imbalance,
    accumulation_steps.

    A replica of ``G = tp·pp·ep`` accelerators computes ``B_loc = ⌈batch/dp⌉`` samples with
    its FLOPs split perfectly (``replica_step``; memory traffic ``W/G·(1 + 0.1·B_loc)``); its
    memory per accelerator is ``memory.training_footprint`` (Adam, selective recomputation or
    full with ``recompute``, sequence parallelism, ``GA·max(1, ⌊m/pp⌋)`` accumulation steps
    under a pipeline); a footprint above the capacity streams over the host link. Per step::

        T_dp     = all-reduce of dp_gradient_bytes over dp replicas, by algorithm
        T_tp     = 4·⌈L/pp⌉ ring all-reduces of B_loc·S·h·b over tp (NVLink when tp fits a node)
        T_ep     = 4·⌈L/pp⌉ all-to-alls of B_loc·S·h·b·k·imbalance over ep (fabric)
        T_bubble = T_node·β/(1 − β),   β = (pp − 1)/(v·m + pp − 1)
        T_step   = (T_node + T_dp·(1 − overlap) + T_tp + T_ep + T_bubble)·max(1, straggler)

    with every communication time × ``congestion``.

    Returns the DistributedModel outputs (``node_*``, the communication and bubble times,
    ``step_latency_total``, ``scaling_efficiency``, ``effective_throughput``, ``mfu``, ``hfu``,
    ``achieved_flops_per_gpu``, ``memory_footprint`` and its parts, ``memory_utilization``,
    ``peak_flops_actual``, ``peak_bw_actual``, ``dp_degree``, ``accelerators_used``,
    ``local_batch_size``, ``microbatches_exceed_local_batch``) in SI units, and the flags
    ``node_memory_bound`` (the replica step is memory-bound), ``divisible`` (the split fits the
    fleet), ``too_many_stages`` (pp > layers) and ``fits`` (the memory fits).
    """
    group = tp * pp * ep * cp  # a replica: the cp ranks of a context-parallel group share its work
    dp, used = replica_degrees(total_accelerators, tp, pp, ep * cp, dp)
    b_loc = local_batch(batch, dp)
    transformer = is_transformer == 1.0
    sparse = is_sparse == 1.0
    all_layers = _or_default(layers, 1.0)
    width = _or_default(hidden, DEFAULT_HIDDEN_DIM)
    stage = stage_layers(all_layers, pp)
    weights = rl.weight_bytes(parameters, model_size, weights_rule, bytes_per_el, is_16bit)
    first_order_only = rl.is_plain_false(refined)
    m = microbatch_count(b_loc, microbatches, microbatch_size, refined)
    micro = np.ceil(b_loc / m)  # samples per microbatch (refined)

    # ---- the replica's compute step (small arrays first, the batch last)
    ops_sample = ops_per_sample * np.where(transformer, seq_len, 1.0)  # a sample is seq_len tokens
    passes = np.where(recompute, RECOMPUTATION_FLOPS_FACTOR, TRAINING_FLOPS_FACTOR)
    memory = training_footprint(
        parameters,
        weights,
        bytes_per_el,
        transformer,
        lora,
        global_batch=b_loc * dp,
        seq_len=seq_len,
        layers=layers,
        hidden=hidden,
        heads=heads,
        strategy=np.where(recompute, FULL, SELECTIVE),
        tp=tp,
        pp=pp,
        dp=dp,
        ep=ep,
        zero_stage=zero_stage,
        accumulation_steps=np.where(refined, 1.0, pipeline_accumulation_steps(accumulation_steps, m, pp)),
        sequence_parallel=True,
        refined=refined,
        microbatch_size=np.where(refined, micro, np.nan),
        microbatches=m,
        flash_attention=flash_attention,
        vocab=vocab,
        cp=cp,
        frozen_bytes_per_el=frozen_bytes_per_el,
        interleave=np.where(refined, v_stages, 1.0),
    )
    footprint = memory.pop("total_memory")
    fits = footprint <= memory_capacity
    shard = weights / (tp * pp * ep)
    fitting_bw = rl.fitting_bandwidth(shard, memory_bandwidth, sram_capacity, sram_bandwidth, flash_bandwidth)
    bandwidth = rl.effective_bandwidth(fits, fitting_bw, host_link_bandwidth)
    work = ops_sample * b_loc
    if first_order_only:
        executed, eta, t_elementwise, attention_work = passes * work, efficiency, 0.0, 0.0
    else:
        heads_ = _or_default(heads, DEFAULT_HEADS)
        attention_work = np.where(transformer, attention_score_flops(seq_len, width, all_layers), 0.0) * b_loc
        executed = passes * (work + np.where(refined, attention_work, 0.0))
        all_transformers = bool(np.all(transformer))
        all_refined = rl.is_plain_true(refined)
        shape = layer_gemm_factor(micro * seq_len / cp, width, tp, gemm_half_size, gemm_exponent)
        if not all_transformers:
            shape = np.where(transformer, shape, 1.0)
        if all_refined:
            whole = isinstance(shape, np.ndarray) and shape.shape == np.broadcast_shapes(
                shape.shape, np.shape(efficiency)
            )
            eta = np.multiply(shape, efficiency, out=shape if whole else None)
        else:
            eta = efficiency * np.where(refined, shape, 1.0)
        # element-wise bytes per device: the stage's layers, the local batch, sharded by tp (SP) and cp
        ew = elementwise_bytes(seq_len, width, heads_, bytes_per_el, flash_attention) * (stage * b_loc * passes)
        t_elementwise = (ew / (tp * cp)) / bandwidth
        if not (all_refined and all_transformers):
            t_elementwise = np.where(refined & transformer, t_elementwise, 0.0)
    node = replica_step(
        TRAINING_FLOPS_FACTOR * work,
        executed,
        shard * (1.0 + ACTIVATION_TRAFFIC_RATIO * b_loc),
        group,
        peak_flops,
        eta,
        bandwidth,
        dispatch_tax,
        all_layers,
    )
    if not first_order_only:
        latency = node["latency"]
        whole = isinstance(latency, np.ndarray) and latency.shape == np.broadcast_shapes(
            latency.shape, np.shape(t_elementwise)
        )
        node["latency"] = np.add(latency, t_elementwise, out=latency if whole else None)
    t_node = node["latency"]

    # ---- communication
    lat_intra = _or_default(intra_node_latency, DEFAULT_INTRA_NODE_LATENCY)
    lat_inter = _or_default(fabric_latency, DEFAULT_FABRIC_LATENCY)
    bw_intra = intra_node_bandwidth
    bw_inter = fabric_bandwidth / oversubscription
    per_node = accelerators_per_node
    dp_bytes = dp_gradient_bytes(weights, tp, pp, ep, sparse, lora, zero_stage)
    t_dp = (
        dp_allreduce_time(
            dp_bytes,
            dp * cp,
            group / cp,
            per_node,
            bw_intra,
            bw_inter,
            lat_intra,
            lat_inter,
            algorithm,
            algorithms_present,
        )
        * congestion
    )
    activations = b_loc * (seq_len / cp) * width * bytes_per_el
    intra = tp <= per_node
    t_tp = (
        tp_allreduce_time(
            activations, tp, stage, np.where(intra, bw_intra, bw_inter), np.where(intra, lat_intra, lat_inter)
        )
        * congestion
    )
    if not first_order_only:  # the recomputed forward repeats its two all-reduces (6 per layer)
        t_tp = t_tp * np.where(refined & recompute, TP_ALLREDUCES_RECOMPUTED / TP_ALLREDUCES_PER_LAYER, 1.0)
    routed = activations * (experts_per_token * routing_imbalance)
    t_ep = ep_alltoall_time(routed, ep, stage, bw_inter, lat_inter) * congestion
    if rl.is_plain_equal(cp, 1.0):
        t_cp = 0.0
    else:
        cp_intra = tp * cp <= per_node
        kv = 2.0 * b_loc * (seq_len / cp) * width / tp * bytes_per_el * stage  # K and V blocks of the stage
        attention_time = passes * attention_work / (group * peak_flops * efficiency)
        t_cp = (
            context_parallel_time(
                kv,
                cp,
                passes,
                attention_time,
                np.where(cp_intra, bw_intra, bw_inter),
                np.where(cp_intra, lat_intra, lat_inter),
            )
            * congestion
        )

    # ---- the step
    bubble_fraction = pipeline_bubble_fraction(pp, m, v_stages)
    bubble = bubble_latency(t_node, bubble_fraction)
    step = step_latency(t_node, t_dp, t_tp + t_cp, t_ep, bubble, overlap, overlap_efficiency, straggler)
    fleet_peak = used * peak_flops
    model_flops = TRAINING_FLOPS_FACTOR * ops_sample * batch
    return {
        "node_latency": t_node,
        "node_latency_compute": node["latency_compute"],
        "node_latency_memory": node["latency_memory"],
        "node_latency_overhead": node["latency_overhead"],
        "node_latency_elementwise": as_float(t_elementwise),
        "node_throughput": b_loc / t_node,
        "node_memory_bound": node["memory_bound"],
        "node_mfu": node["mfu"],
        "node_hfu": node["hfu"],
        "node_energy": rl.step_energy(tdp, node["hfu"], t_node) * group,
        "dp_communication_latency": t_dp,
        "tp_communication_latency": t_tp,
        "ep_communication_latency": t_ep,
        "cp_communication_latency": as_float(t_cp),
        "communication_latency": t_dp + t_tp + t_ep + t_cp,
        "pipeline_bubble_latency": bubble,
        "bubble_fraction": bubble_fraction,
        "step_latency_total": step,
        "scaling_efficiency": t_node / step,
        "effective_throughput": batch / step,
        "mfu": rl.utilization(model_flops / fleet_peak, step),
        "hfu": rl.utilization(executed * dp / fleet_peak, step),
        "achieved_flops_per_gpu": model_flops / (used * step),
        "memory_footprint": footprint,
        **memory,
        "memory_utilization": footprint / memory_capacity,
        "peak_flops_actual": peak_flops * eta,
        "peak_bw_actual": bandwidth,
        "dp_degree": dp,
        "accelerators_used": used,
        "local_batch_size": b_loc,
        "microbatches_per_flush": m,
        "microbatches_exceed_local_batch": m > b_loc,
        "divisible": ~np.isnan(dp),
        "too_many_stages": pp > all_layers,
        "fits": fits,
        "bubble_over_half": bubble_fraction > BUBBLE_NOTE_FRACTION,
        "one_microbatch_pipeline": (pp > 1) & (m == 1),
        "no_flash_attention": transformer & ~np.asarray(flash_attention, dtype=bool) & np.asarray(refined, bool),
    }


def network_roofline_step(
    parameters,
    active_parameters,
    is_transformer,
    bytes_per_el,
    peak_flops,
    accelerators,
    fabric_bandwidth,
    oversubscription,
    efficiency=0.5,
    batch=1.0,
    seq_len=1.0,
) -> dict:
    """Is data-parallel training compute- or network-bound? (NetworkRooflineModel.)

    parameters ``P`` and active_parameters ``P_active`` [count]; is_transformer (0/1 or bool;
    a Transformer sample is ``seq_len`` tokens); bytes_per_el ``b`` [byte]; peak_flops ``F`` of
    one accelerator [FLOP/s]; accelerators ``N``; fabric_bandwidth [byte/s] and
    oversubscription ``r`` (``β`` = fabric / r); efficiency ``η``; batch ``B`` [samples];
    seq_len ``S`` [tokens].

    ``T_c = 6·P_active·B·S/(N·F·η)``, ``T_n = 2·P·b/β``, ``T = max(T_c, T_n)``.

    Returns ``latency``, ``latency_compute``, ``latency_network`` [s], ``throughput`` ``B/T``
    [1/s], ``network_bound`` (bool: ``T_n > T_c``), ``arithmetic_intensity`` (FLOPs per
    synchronised byte), ``ridge_point`` ``N·F/β`` [FLOP/byte], ``sync_bytes`` [byte],
    ``network_bandwidth`` ``β`` [byte/s], ``peak_flops_actual`` ``N·F·η`` [FLOP/s], ``mfu`` =
    ``hfu`` = ``min(ops/T/(N·F), 1)``.
    """
    fleet_peak = peak_flops * accelerators
    bandwidth = fabric_bandwidth / oversubscription
    tokens = batch * np.where(is_transformer == 1.0, seq_len, 1.0)
    ops = TRAINING_FLOPS_PER_PARAMETER_TOKEN * active_parameters * tokens
    sync = GRADIENT_SYNC_FACTOR * parameters * bytes_per_el
    t_compute, t_network = ops / (fleet_peak * efficiency), sync / bandwidth
    latency = np.maximum(t_compute, t_network)
    utilization = rl.utilization(ops / fleet_peak, latency)
    return {
        "latency": latency,
        "latency_compute": t_compute,
        "latency_network": t_network,
        "throughput": batch / latency,
        "network_bound": t_network > t_compute,
        "arithmetic_intensity": ops / sync,
        "ridge_point": fleet_peak / bandwidth,
        "sync_bytes": sync,
        "network_bandwidth": bandwidth,
        "peak_flops_actual": fleet_peak * efficiency,
        "mfu": utilization,
        "hfu": utilization,
    }
