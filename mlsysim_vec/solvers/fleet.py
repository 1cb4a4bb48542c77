"""Fleet domain: many accelerators. ``DistributedModel``, ``MoERoutingModel``, ``TopologyModel``,
``NetworkRooflineModel``, ``ReliabilityModel``, ``CheckpointModel``, ``OrchestrationModel``.

Thin facades: arguments are validated and aligned by ``grid``; each resolver reads the grid and
calls one step function of ``physics`` (``parallel.distributed_step``, ``moe.routing_step``,
``topology.topology_step``, ``parallel.network_roofline_step``, ``reliability.reliability_step``,
``reliability.checkpoint_step``, ``reliability.orchestration_step``).
"""

from __future__ import annotations

import numpy as np

from ..grid import Arg, Grid
from ..models.types import SparseTransformerWorkload
from ..physics import comm, moe
from ..physics import parallel as par
from ..physics import reliability as rel
from ..physics import topology as topo
from ..physics.constants import GEMM_HALF_SIZE, GEMM_SHAPE_EXPONENT, OPTIMIZERS, PRECISIONS
from ..systems.types import Fleet, NetworkFabric
from ..variables import BOTTLENECKS, reason
from .base import (
    FIDELITY,
    HARDWARE,
    PRECISION,
    Resolver,
    device_fields,
    model_arg,
    model_fields,
    precision_bytes,
    precision_terms,
)
from .node import notes_code, optional_input, refined_flag

__all__ = [
    "DistributedModel",
    "MoERoutingModel",
    "TopologyModel",
    "NetworkRooflineModel",
    "ReliabilityModel",
    "CheckpointModel",
    "OrchestrationModel",
    "FLEET",
    "none_as_auto",
    "require_weight_bytes",
]


#: The ``fleet`` argument of the fleet resolvers.
FLEET = Arg("fleet", "record", types=(Fleet,), type_hint="Fleet record (Systems.Clusters.*)")
_COMPUTE, _NETWORK = (BOTTLENECKS.index(k) for k in ("Compute", "Network"))
_NOT_DIVISIBLE, _TOO_MANY_STAGES, _MEMORY_CAPACITY = (
    reason(k) for k in ("not_divisible", "too_many_stages", "memory_capacity")
)


def none_as_auto(value):
    """A ``topology_override`` value with None (a scalar, or inside a list) read as "auto"
    (mlsysim 0.3.0's default is None); used by DistributedModel and ParallelismOptimizer."""
    if value is None:
        return "auto"
    if isinstance(value, (list, tuple)):
        return ["auto" if v is None else v for v in value]
    return value


def require_weight_bytes(g: Grid, resolver: str) -> None:
    """Raise TypeError when a model of the grid has neither a parameter count nor a size
    (``resolver`` names the caller in the message)."""
    for record in g.records("model"):
        if record.parameters is None and record.model_size is None:
            raise TypeError(
                f"model={record!r} has neither parameters nor model_size; {resolver} needs the "
                f"weight bytes of the model"
            )


class DistributedModel(Resolver):
    """How does training scale across a fleet? 3D/4D parallelism (DP × TP × PP × EP).

    A job splits the fleet into ``dp`` data-parallel replicas of ``tp·pp·ep`` accelerators
    each (tensor, pipeline and expert parallelism). Each replica computes its share of the
    global batch, then the replicas all-reduce their gradients; inside a replica, tensor
    parallelism all-reduces activations, expert parallelism exchanges tokens and the pipeline
    idles for its bubble. Sweeping ``tp_size``, ``pp_size``, ``ep_size``, ``microbatch_count``
    and ``dp_size`` as dimensions, or zipped along one ``config`` dimension as DataArrays, is
    the intended use. ``dp_size`` selects a sub-fleet of ``dp·tp·pp·ep`` accelerators
    (default: the whole fleet). ``topology_override=None`` means "auto".

    Infeasible points are reported, never raised: ``not_divisible`` when ``tp·pp·ep`` does not
    divide the fleet (or ``dp·tp·pp·ep`` exceeds it; every output that depends on dp is then
    NaN); ``too_many_stages`` when ``pp`` exceeds the model's layers (the numbers are still
    computed, as mlsysim 0.3.0 does); ``memory_capacity`` when the training memory does not fit
    (the replica then streams over the host link, as in SingleNodeModel).

    Notes
    -----
    A replica of ``G = tp·pp·ep`` accelerators computes the local batch ``B_loc = ⌈B/dp⌉`` with
    its FLOPs split perfectly::

        T_node   = max(3·ops·B_loc / (G·F·η), W/G · (1 + 0.1·B_loc) / BW) + dispatch + 3·L·0.01 ms
        T_dp     = all-reduce of W/(tp·pp[·ep for MoE]) bytes over dp replicas
                   (x1.5 under ZeRO-3, x0.01 with LoRA; by topology_override's algorithm)
        T_tp     = 4·⌈L/pp⌉ ring all-reduces of B_loc·S·h·b over tp (NVLink when tp fits a node)
        T_ep     = 4·⌈L/pp⌉ all-to-alls of B_loc·S·h·b·k·imbalance over ep on the fabric
        T_bubble = T_node · β/(1 − β),   β = (pp − 1)/(v·m + pp − 1)
        T_step   = (T_node + T_dp·(1 − overlap) + T_tp + T_ep + T_bubble) · max(1, straggler)

    with every communication time × ``congestion_factor``; the replica executes 4 instead of 3
    forward passes of FLOPs with ``activation_recomputation``. ``scaling_efficiency = T_node/T_step``,
    ``effective_throughput = B/T_step``, ``mfu = 3·ops·B/(N·F·T_step)`` with ``N = dp·G``. The
    memory per accelerator is the library's one training-memory formula (TrainingMemoryModel's,
    Adam, selective recomputation or full, sequence parallelism; ``(2W + 12·W/b)/G`` for models
    without the Transformer shape). Every layer of an MoE model is an expert layer; a dense model
    run with ``ep > 1`` is split by EP like mlsysim 0.3.0 and pays the same exchange with k = 1.
    See ``docs/equations.md`` (sections "Distributed training" and "Collectives") and
    docs/differences.md, D7 and D21.

    Under ``fidelity="refined"`` (``physics.parallel.distributed_step``): the microbatch count is
    ``microbatch_count`` when given, else ``⌈B_loc/microbatch_size⌉`` (size 1 by default), and the
    memory holds the schedule's in-flight microbatches (``min(pp, m)``, interleaved
    ``× (1 + (pp−1)/(pp·v))``), fp32 gradients, the fp32 logits of the loss and no score matrix
    with ``flash_attention`` (default True); executed FLOPs add the attention scores
    ``k·4·s²·h·L`` per sample (Narayanan et al. 2021, Eq. 3); the GEMMs run at
    ``η·φ``, ``φ = 1/Σ wᵢ/(xᵢ/(1 + xᵢ))``, ``xᵢ = (mᵢ/gemm_half_size)^gemm_shape_exponent`` over
    the layer's four per-device GEMMs (``mᵢ`` the geometric mean of a GEMM's two smallest
    dimensions; fitted to measured A100 GEMMs, ``validation.gemm_curve``); the element-wise and
    softmax bytes ``k·⌈L/pp⌉·B_loc·(34·s·h + 5·a·s²·(1 − flash))·b/2/(tp·cp)`` add their time at
    the memory bandwidth (``node_latency_elementwise``); the recomputed forward repeats its TP
    all-reduces (6 per layer). Context parallelism ``cp_size`` (either fidelity) splits the
    sequence over ``cp`` ranks of each replica and exposes the part of the K/V ring exchange that
    the attention compute does not hide (``cp_communication_latency``). ``notes`` flags a bubble
    above half the step, a one-microbatch pipeline and (refined) unfused attention. See
    ``docs/equations.md`` (section "Distributed training").

    References
    ----------
    Shoeybi, M. et al. (2019). Megatron-LM: training multi-billion parameter language models
    using model parallelism. arXiv:1909.08053.

    Narayanan, D. et al. (2021). Efficient large-scale language model training on GPU clusters
    using Megatron-LM. SC 2021. arXiv:2104.04473.

    Huang, Y. et al. (2019). GPipe: efficient training of giant neural networks using pipeline
    parallelism. NeurIPS 2019. arXiv:1811.06965.

    Rajbhandari, S., Rasley, J., Ruwase, O., He, Y. (2020). ZeRO: memory optimizations toward
    training trillion parameter models. SC 2020. arXiv:1910.02054.

    Lepikhin, D. et al. (2020). GShard: scaling giant models with conditional computation and
    automatic sharding. arXiv:2006.16668.

    Korthikanti, V. et al. (2022). Reducing activation recomputation in large Transformer models.
    arXiv:2205.05198.

    Dao, T. et al. (2022). FlashAttention: fast and memory-efficient exact attention with
    IO-awareness. NeurIPS 2022. arXiv:2205.14135.

    Micikevicius, P. et al. (2018). Mixed precision training. ICLR 2018. arXiv:1710.03740.

    Liu, H., Zaharia, M., Abbeel, P. (2023). Ring attention with blockwise transformers for
    near-infinite context. arXiv:2310.01889.

    Dettmers, T. et al. (2023). QLoRA: efficient finetuning of quantized LLMs. arXiv:2305.14314.
    """

    ARGS = (
        model_arg(),
        FLEET,
        Arg("batch_size", "integer", default=1, low=1, doc="global batch of the training step [samples]"),
        PRECISION,
        Arg("efficiency", default=0.5, low=1e-9, high=1.0),
        Arg("tp_size", "integer", default=1, low=1),
        Arg("pp_size", "integer", default=1, low=1),
        Arg("ep_size", "integer", default=1, low=1),
        Arg("v_stages", "integer", default=1, low=1),
        Arg(
            "microbatch_count",
            "integer",
            default=None,
            low=1,
            doc="microbatches per pipeline flush; None: from microbatch_size (first_order without it: 1)",
        ),
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
        Arg(
            "dp_size",
            "integer",
            default=None,
            low=1,
            doc="data-parallel degree: the job uses dp x tp x pp x ep x cp accelerators of the fleet (D21); "
            "None uses the whole fleet",
        ),
        FIDELITY,
        Arg(
            "microbatch_size",
            "integer",
            default=None,
            low=1,
            doc="samples per microbatch: microbatch_count = ceil(local batch / size) unless given "
            "(None: 1 under refined; first_order then keeps one microbatch)",
        ),
        Arg("flash_attention", "bool", default=None),
        Arg("cp_size", "integer", default=1, low=1),
        Arg(
            "weight_precision",
            "choice",
            default=None,
            choices=PRECISIONS,
            doc="precision of the frozen base weights of a (Q)LoRA fine-tune, e.g. int4/fp4 for QLoRA "
            "(None: the training precision)",
        ),
        Arg("gemm_half_size", default=GEMM_HALF_SIZE, low=1.0, high=1e5),
        Arg("gemm_shape_exponent", default=GEMM_SHAPE_EXPONENT, low=0.1, high=10.0),
    )
    OUTPUTS = (
        "node_latency",
        "node_latency_compute",
        "node_latency_memory",
        "node_latency_overhead",
        "node_latency_elementwise",
        "node_throughput",
        "node_bottleneck",
        "node_mfu",
        "node_hfu",
        "node_energy",
        "dp_communication_latency",
        "tp_communication_latency",
        "ep_communication_latency",
        "cp_communication_latency",
        "communication_latency",
        "pipeline_bubble_latency",
        "bubble_fraction",
        "step_latency_total",
        "scaling_efficiency",
        "effective_throughput",
        "mfu",
        "hfu",
        "achieved_flops_per_gpu",
        "memory_footprint",
        "weights",
        "gradients",
        "optimizer_state",
        "activations",
        "communication_buffers",
        "memory_utilization",
        "peak_flops_actual",
        "peak_bw_actual",
        "feasible",
        "infeasible_reason",
        "peak_flops_fallback",
        "dp_degree",
        "accelerators_used",
        "local_batch_size",
        "microbatches_per_flush",
        "microbatches_exceed_local_batch",
        "notes",
        "note_pipeline_bubble_over_half",
        "note_no_flash_attention",
        "note_one_microbatch_pipeline",
    )

    def grid(self, *args, chunks=None, **kwargs) -> Grid:
        """As ``Resolver.grid``; ``topology_override=None`` (mlsysim 0.3.0's default) means "auto"."""
        position = [a.name for a in self.ARGS].index("topology_override")
        if len(args) > position:
            args = args[:position] + (none_as_auto(args[position]),) + args[position + 1 :]
        if "topology_override" in kwargs:
            kwargs["topology_override"] = none_as_auto(kwargs["topology_override"])
        return super().grid(*args, chunks=chunks, **kwargs)

    def _check(self, g: Grid) -> None:
        require_weight_bytes(g, "DistributedModel")

    def _compute(self, g: Grid) -> dict:
        model, fleet = (lambda k: g.field("model", k)), (lambda k: g.field("fleet", k))
        b, is_16bit, peak, fallback = precision_terms(g, records="fleet", prefix="accelerator_")
        refined = refined_flag(g)
        out = par.distributed_step(
            **model_fields(g),
            **device_fields(g, records="fleet", prefix="accelerator_"),
            is_sparse=model("is_sparse"),
            experts_per_token=model("active_experts_per_token"),
            peak_flops=peak,
            bytes_per_el=b,
            is_16bit=is_16bit,
            total_accelerators=fleet("total_accelerators"),
            accelerators_per_node=fleet("accelerators_per_node"),
            intra_node_bandwidth=fleet("intra_node_bw"),
            intra_node_latency=fleet("accelerator_nvlink_latency"),
            fabric_bandwidth=fleet("fabric_bandwidth"),
            fabric_latency=fleet("fabric_latency"),
            oversubscription=fleet("oversubscription_ratio"),
            batch=g["batch_size"],
            seq_len=g["seq_len"],
            efficiency=g["efficiency"],
            tp=g["tp_size"],
            pp=g["pp_size"],
            ep=g["ep_size"],
            dp=g["dp_size"] if "dp_size" in g.inputs else None,
            v_stages=g["v_stages"],
            microbatches=optional_input(g, "microbatch_count"),
            algorithm=g["topology_override"],
            algorithms_present=np.unique(g.inputs["topology_override"].values),
            zero_stage=g["zero_stage"],
            lora=g["is_lora"],
            recompute=g["activation_recomputation"],
            overlap=g["overlap_comm"],
            overlap_efficiency=g["overlap_efficiency"],
            congestion=g["congestion_factor"],
            straggler=g["straggler_factor"],
            routing_imbalance=g["moe_routing_imbalance_factor"],
            accumulation_steps=g["gradient_accumulation_steps"],
            refined=refined,
            microbatch_size=optional_input(g, "microbatch_size"),
            flash_attention=optional_input(g, "flash_attention", refined),
            cp=g["cp_size"],
            vocab=model("vocab_size"),
            gemm_half_size=g["gemm_half_size"],
            gemm_exponent=g["gemm_shape_exponent"],
            frozen_bytes_per_el=precision_bytes(g["weight_precision"])[0] if "weight_precision" in g.inputs else np.nan,
        )
        out["note_pipeline_bubble_over_half"] = out.pop("bubble_over_half")
        out["note_no_flash_attention"] = out.pop("no_flash_attention")
        out["note_one_microbatch_pipeline"] = out.pop("one_microbatch_pipeline")
        out["notes"] = notes_code(out)
        reasons = np.where(  # int8 codes throughout: the memory verdict spans the whole grid
            out.pop("divisible"),
            np.where(
                out.pop("too_many_stages"),
                np.int8(_TOO_MANY_STAGES),
                np.where(out.pop("fits"), np.int8(0), np.int8(_MEMORY_CAPACITY)),
            ),
            np.int8(_NOT_DIVISIBLE),
        ).astype(np.int8, copy=False)
        out["node_bottleneck"] = out.pop("node_memory_bound").astype(np.int8)  # 0 Compute, 1 Memory
        out["feasible"] = reasons == 0
        out["infeasible_reason"] = reasons
        out["peak_flops_fallback"] = fallback
        return {name: out[name] for name in self.OUTPUTS}


class MoERoutingModel(Resolver):
    """How much does MoE routing imbalance hurt? Effective experts and the token all-to-all.

    A top-``k`` router sends each token to ``k`` of ``E`` experts; when the load is
    imbalanced, the busiest expert sets the pace, as if each token occupied ``k·f`` experts. A
    dense model raises TypeError. Under expert parallelism over ``ep_size`` ranks the routed
    tokens leave their rank; with a ``fleet``, its fabric carries one dispatch all-to-all of the
    batch.

    Notes
    -----
    With imbalance ``f``, batch ``B``, sequence ``S``, hidden ``h``, ``b`` bytes per element
    and fabric bandwidth ``β`` (fabric / oversubscription) with latency ``α``::

        E_eff = min(E, k · f)
        active_parameter_multiplier = E_eff / k
        token_dispatch_bytes = B·S·h·b·E_eff · (ep − 1)/ep
        all_to_all_latency   = (ep − 1)/ep · M/β + (ep − 1)·α,   M = B·S·h·b·E_eff

    ``all_to_all_latency`` is missing without a fleet or with ``ep_size = 1``. See
    ``docs/equations.md`` (section "Mixture of experts").

    References
    ----------
    Shazeer, N. et al. (2017). Outrageously large neural networks: the sparsely-gated
    mixture-of-experts layer. ICLR 2017. arXiv:1701.06538.

    Fedus, W., Zoph, B., Shazeer, N. (2022). Switch Transformers: scaling to trillion parameter
    models with simple and efficient sparsity. JMLR 23. arXiv:2101.03961.

    Lepikhin, D. et al. (2020). GShard: scaling giant models with conditional computation and
    automatic sharding. arXiv:2006.16668.
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
    OUTPUTS = (
        "effective_active_experts",
        "effective_active_parameters",
        "active_parameter_multiplier",
        "token_dispatch_bytes",
        "all_to_all_latency",
    )

    def _compute(self, g: Grid) -> dict:
        model = lambda k: g.field("model", k)  # noqa: E731
        fabric = {}
        if "fleet" in g.inputs:
            fleet = lambda k: g.field("fleet", k)  # noqa: E731
            fabric = dict(
                fabric_bandwidth=fleet("fabric_bandwidth"),
                oversubscription=fleet("oversubscription_ratio"),
                fabric_latency=fleet("fabric_latency"),
            )
        return moe.routing_step(
            model("experts"),
            model("active_experts_per_token"),
            model("active_parameters"),
            model("hidden_or_default"),
            precision_bytes(g["precision"])[0],
            g["batch_size"],
            g["seq_len"],
            g["ep_size"],
            g["routing_imbalance_factor"],
            **fabric,
        )


class TopologyModel(Resolver):
    """What topology should I use? Bisection and effective bandwidth, and mean hops.

    A topology keeps a fraction of full bisection bandwidth (a non-blocking fat tree keeps all
    of it) and needs a number of hops between two nodes; both depend on the topology and, for
    the torus and the ring, on the number of nodes. Topology names are case-insensitive
    ("fat-tree", "torus" and "3d_torus" are accepted).

    Notes
    -----
    For ``N`` nodes on links of bandwidth ``β`` with oversubscription ``r``::

        fat_tree   φ = 1,             hops = 4
        dragonfly  φ = 0.85,          hops = 3
        torus_3d   φ = 2 · N^(-1/3),  hops = 0.75 · N^(1/3)
        ring       φ = 2 / N,         hops = N / 4
        effective_bw = β · φ / r,     bisection_bw = β · φ · N / 2 / r

    ``φ`` is not capped at 1 (a ring of one node reports 2), as in mlsysim 0.3.0. See
    ``docs/equations.md`` (section "Topology").

    References
    ----------
    Leiserson, C. E. (1985). Fat-trees: universal networks for hardware-efficient
    supercomputing. IEEE Transactions on Computers 34(10), 892-901.
    doi:10.1109/TC.1985.6312192.

    Al-Fares, M., Loukissas, A., Vahdat, A. (2008). A scalable, commodity data center network
    architecture. SIGCOMM 2008. doi:10.1145/1402958.1402967.

    Kim, J., Dally, W. J., Scott, S., Abts, D. (2008). Technology-driven, highly-scalable
    dragonfly topology. ISCA 2008. doi:10.1109/ISCA.2008.19.
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
    OUTPUTS = ("effective_bw", "bisection_bw", "bisection_bw_fraction", "hops_avg")

    def _compute(self, g: Grid) -> dict:
        return topo.topology_step(
            g["topology"],
            g["num_nodes"],
            g.field("fabric", "bandwidth"),
            g.field("fabric", "oversubscription_ratio"),
        )


class NetworkRooflineModel(Resolver):
    """Is data-parallel training compute- or network-bound? A two-ceiling roofline of the fleet.

    Each step computes the batch on the whole fleet and synchronises every gradient byte
    through one link of the fabric; the slower of the two sets the step. The defaults
    ``batch_size=1`` and ``seq_len=1`` reproduce mlsysim 0.3.0's one-token step; mixture-of-
    experts models compute with their active parameters (docs/differences.md, D11).

    Notes
    -----
    With ``N`` accelerators of peak ``F`` at the precision, efficiency ``η``, ``P`` (active
    ``P_active``) parameters of ``b`` bytes and ``β`` = fabric bandwidth / oversubscription::

        T_c = 6 · P_active · B · S / (N · F · η)      (S = 1 for models that are not Transformers)
        T_n = 2 · P · b / β
        T   = max(T_c, T_n),   bottleneck "Network" when T_n > T_c
        ridge_point = N · F / β,   mfu = hfu = min(6 · P_active · B · S / (N · F · T), 1)

    See ``docs/equations.md`` (section "Distributed training").

    References
    ----------
    Williams, S., Waterman, A., Patterson, D. (2009). Roofline: an insightful visual performance
    model for multicore architectures. Communications of the ACM 52(4), 65-76.
    doi:10.1145/1498765.1498785.

    Patarasuk, P., Yuan, X. (2009). Bandwidth optimal all-reduce algorithms for clusters of
    workstations. Journal of Parallel and Distributed Computing 69(2), 117-124.
    doi:10.1016/j.jpdc.2008.09.002.

    Kaplan, J. et al. (2020). Scaling laws for neural language models. arXiv:2001.08361.
    """

    ARGS = (
        model_arg(),
        FLEET,
        PRECISION,
        Arg("efficiency", default=0.5, low=1e-9, high=1.0),
        Arg("batch_size", "integer", default=1, low=1, doc="global samples per step"),
        Arg("seq_len", "integer", default=1, low=1, doc="tokens per sample of a Transformer (default: one token, D11)"),
    )
    OUTPUTS = (
        "latency",
        "latency_compute",
        "latency_network",
        "throughput",
        "bottleneck",
        "arithmetic_intensity",
        "ridge_point",
        "sync_bytes",
        "network_bandwidth",
        "peak_flops_actual",
        "mfu",
        "hfu",
        "peak_flops_fallback",
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
        out = par.network_roofline_step(
            model("parameters"),
            model("active_parameters"),
            model("is_transformer"),
            b,
            peak,
            fleet("total_accelerators"),
            fleet("fabric_bandwidth"),
            fleet("oversubscription_ratio"),
            efficiency=g["efficiency"],
            batch=g["batch_size"],
            seq_len=g["seq_len"],
        )
        out["bottleneck"] = np.where(out.pop("network_bound"), _NETWORK, _COMPUTE).astype(np.int8)
        out["peak_flops_fallback"] = fallback
        return {name: out[name] for name in self.OUTPUTS}


class ReliabilityModel(Resolver):
    """How often will my cluster fail during training? Failures, checkpoint interval and goodput.

    Components fail independently with exponential lifetimes, so a node fails at the sum of its
    components' rates and the fleet at the sum over its nodes; a fleet record's own
    ``mtbf_hours``, when set, is the fleet MTBF (docs/differences.md, D6). Checkpointing at
    Young's interval trades the time spent writing against the work redone after a failure.

    Notes
    -----
    With component MTTFs of 50,000 h (accelerator), 150,000 h (NIC) and 100,000 h (a power
    supply in series), job length ``T``, checkpoint time ``δ`` and recovery time ``R``::

        MTBF_node  = 1 / (n_acc/50,000 h + n_nic/150,000 h + n_psu/100,000 h)
        MTBF_fleet = MTBF_node / nodes
        failure_probability = 1 − exp(−T / MTBF_fleet),   expected_failures = T / MTBF_fleet
        τ*         = sqrt(2 · δ · MTBF_fleet)                      (Young)
        goodput    = max(0, 1 − δ/τ* − (R + τ*/2) / MTBF_fleet)    (with the rework term, D6)

    The expected interruptions of the job come by category too (``interruptions_accelerator``,
    ``_host``, ``_network``, ``_software``: ``expected_failures`` times the category's share of
    the node's failure rate).

    Under ``fidelity="refined"`` the rates are those measured on the 54-day Llama 3 405B
    pre-training on 16,384 H100 (Dubey et al. 2024, §3.3.4, Table 5: 419 unexpected
    interruptions, 268 of them accelerators, 21 hosts, 35 the network, 95 software and
    operations), per accelerator and per node::

        MTTF_acc = 16,384 · 1,296 h / 268 = 79,231 h     (per accelerator)
        MTTF_host = 2,048 · 1,296 h / 21 = 126,391 h     (per node)
        MTTF_net  = 2,048 · 1,296 h / 35 =  75,835 h     (per node)
        MTTF_sw   = 2,048 · 1,296 h / 95 =  27,939 h     (per node)
        MTBF_node = 1 / (n_acc/MTTF_acc + 1/MTTF_host + 1/MTTF_net + 1/MTTF_sw)

    so that 2,048 nodes of eight fail every 3.09 h (the study's one interruption every three
    hours); the rest is the same. A job spanning the fleet fails at the sum over its nodes, the
    failure model of Kokolis et al. (2024).

    See ``docs/equations.md`` (section "Reliability").

    References
    ----------
    Dubey, A. et al. (2024). The Llama 3 herd of models. arXiv:2407.21783.

    Kokolis, A. et al. (2024). Revisiting reliability in large-scale machine learning research
    clusters. HPCA 2025. arXiv:2410.21680.

    Young, J. W. (1974). A first order approximation to the optimum checkpoint interval.
    Communications of the ACM 17(9), 530-531. doi:10.1145/361147.361115.

    Daly, J. T. (2006). A higher order estimate of the optimum checkpoint interval for restart
    dumps. Future Generation Computer Systems 22(3), 303-312. doi:10.1016/j.future.2004.11.016.
    """

    ARGS = (
        FLEET,
        Arg("job_duration_hours", unit="hour", low=0.0, keyword_aliases=("job_duration",)),
        Arg("checkpoint_time_s", default=60.0, unit="s", low=0.0, low_open=True),
        Arg("avg_recovery_time_s", default=300.0, unit="s", low=0.0),
        FIDELITY,
    )
    OUTPUTS = (
        "node_mtbf",
        "fleet_mtbf",
        "failure_probability",
        "expected_failures",
        "optimal_checkpoint_interval",
        "goodput_ratio",
        "interruptions_accelerator",
        "interruptions_host",
        "interruptions_network",
        "interruptions_software",
    )

    def _compute(self, g: Grid) -> dict:
        fleet = lambda k: g.field("fleet", k)  # noqa: E731
        return rel.reliability_step(
            fleet("accelerators_per_node"),
            fleet("nics_per_node"),
            fleet("series_psus"),
            fleet("node_count"),
            fleet("mtbf"),
            g["job_duration_hours"],
            g["checkpoint_time_s"],
            g["avg_recovery_time_s"],
            refined=refined_flag(g),
        )


class CheckpointModel(Resolver):
    """How much time do I lose to checkpoints? Checkpoint size, write time and MFU penalty.

    A checkpoint holds the weights and the optimizer state of every parameter; the writers
    write in parallel up to the file system's aggregate limit. A device without a storage
    bandwidth on record writes at 1 GB/s. AdamW checkpoints like Adam and unknown optimizers
    raise (docs/differences.md, D14).

    Notes
    -----
    With ``P`` parameters, ``n_writers`` writers of device bandwidth ``β_dev`` and interval
    ``τ``::

        checkpoint_size = P · (14 B for adam/adamw: fp16 weights, fp32 master copy, two fp32
                               moments; 4 B for sgd/none)
        write_bandwidth = min(β_dev · n_writers, filesystem_limit)
        write_time      = checkpoint_size / write_bandwidth
        storage_bottleneck   = write_time > 60 s
        mfu_penalty_fraction = min(write_time / τ, 1)   (1 when τ = 0: the job writes all the time)

    A write longer than the interval leaves no time to train, so the penalty stops at 1
    (mlsysim 0.3.0 reports the ratio above 1; docs/differences.md, D22).

    See ``docs/equations.md`` (section "Reliability").

    References
    ----------
    Rajbhandari, S., Rasley, J., Ruwase, O., He, Y. (2020). ZeRO: memory optimizations toward
    training trillion parameter models. SC 2020. arXiv:1910.02054.
    """

    ARGS = (
        model_arg(),
        HARDWARE,
        Arg("optimizer", "choice", default="adam", choices=OPTIMIZERS),
        Arg("checkpoint_interval_hours", default=4.0, unit="hour", low=0.0),
        Arg("n_writers", "integer", default=1, low=1),
        Arg("filesystem_limit_gbs", default=500.0, unit="GB/s", low=0.0, low_open=True),
    )
    OUTPUTS = (
        "checkpoint_size",
        "storage_bandwidth",
        "write_bandwidth",
        "write_time",
        "storage_bottleneck",
        "mfu_penalty_fraction",
    )

    def _check(self, g: Grid) -> None:
        for record in g.records("model"):
            if record.parameters is None:
                raise TypeError(
                    f"model={record!r} has no parameter count; CheckpointModel sizes a checkpoint from the parameters"
                )

    def _compute(self, g: Grid) -> dict:
        return rel.checkpoint_step(
            g.field("model", "parameters"),
            g["optimizer"],
            g.field("hardware", "storage_bandwidth"),
            g["n_writers"],
            g["filesystem_limit_gbs"],
            g["checkpoint_interval_hours"],
        )


class OrchestrationModel(Resolver):
    """How busy is my cluster? The job queue as an M/D/1 queue with the cluster as one server.

    Jobs arrive at random (Poisson) and each occupies the whole cluster for the mean job
    duration. A utilisation at or above 1 is an unstable queue: the point is infeasible
    (``unstable_queue``) and the wait and queue length are infinite. The fleet is accepted but
    not used by the equations.

    Notes
    -----
    With arrival rate ``λ`` and job duration ``D`` (Pollaczek-Khinchine mean-value formula for
    deterministic service)::

        ρ   = λ · D
        W_q = ρ · D / (2 · (1 − ρ))      (mean wait)
        L_q = ρ² / (2 · (1 − ρ))         (mean queue length)

    See ``docs/equations.md`` (section "Reliability").

    References
    ----------
    Kleinrock, L. (1975). Queueing Systems, Volume 1: Theory. Wiley. ISBN 978-0471491101.
    """

    ARGS = (
        Arg("fleet", "record", default=None, types=(Fleet,), type_hint="Fleet record (Systems.Clusters.*)"),
        Arg("arrival_rate_jobs_per_day", unit="1/day", low=0.0, keyword_aliases=("arrival_rate",)),
        Arg("avg_job_duration_days", unit="day", low=0.0, low_open=True, keyword_aliases=("avg_duration",)),
    )
    OUTPUTS = (
        "cluster_utilization",
        "avg_wait_time",
        "avg_queue_length",
        "is_stable",
        "feasible",
        "infeasible_reason",
    )

    def _compute(self, g: Grid) -> dict:
        out = rel.orchestration_step(g["arrival_rate_jobs_per_day"], g["avg_job_duration_days"])
        out["feasible"] = out["is_stable"]
        out["infeasible_reason"] = np.where(out["is_stable"], 0, reason("unstable_queue")).astype(np.int8)
        return out
