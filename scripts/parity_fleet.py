#!/usr/bin/env python3
"""Parity fixtures for the fleet family, recorded from the reference ``mlsysim==0.3.0``.

Writes one file per resolver (format: ``make_parity_fixtures.py``'s module docstring)::

    tests/data/parity_distributed.json       DistributedModel
    tests/data/parity_moe_routing.json       MoERoutingModel
    tests/data/parity_topology.json          TopologyModel
    tests/data/parity_network_roofline.json  NetworkRooflineModel
    tests/data/parity_reliability.json       ReliabilityModel
    tests/data/parity_checkpoint.json        CheckpointModel
    tests/data/parity_orchestration.json     OrchestrationModel

Run it alone (``MLSYSIM_REF_PYTHON=/path/to/python`` skips the venv set-up) or through
``make_parity_fixtures.py``, which calls :func:`build`.

Inputs use the reference's keyword names. Records are ``"Family.key"`` strings
(``"Language.Llama3_70B"``, ``"Vision.ResNet50"``, ``"Cloud.H100"``, ``"Clusters.Frontier_8K"``,
``"Fabrics.InfiniBand_NDR"``), ``null`` for an omitted-but-passed ``fleet=None``, or a record built
on the spot, written inline as a dict with a ``"type"``:

* ``{"type": "SparseTransformerWorkload", "name": ..., "parameters": <count>,
  "active_parameters": <count>, "experts": ..., "active_experts_per_token": ..., "layers": ...,
  "hidden_dim": ..., "heads": ...}`` (counts are plain numbers; omitted fields take the default);
* ``{"type": "Fleet", "name": ..., "node": "Nodes.<key>", "count": <nodes>,
  "fabric": "Fabrics.<key>"}``, optionally with ``"mtbf_hours"`` (hours).

DistributedModel's nested result is flattened: its scalar fields keep their names, the replica's
``node_profile`` fields are prefixed ``node_`` and ``parallelism`` gives ``dp``/``tp``/``pp``/``ep``.
Outputs are in the SI units of each file's ``units`` map. OrchestrationModel's unstable points
are infinite; that file writes them as ``Infinity`` (Python's ``json`` reads it as ``inf``).
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import make_parity_fixtures as base  # noqa: E402

# --------------------------------------------------------------------------
# Output unit maps (SI)
# --------------------------------------------------------------------------

DIMLESS = base.DIMLESS

DISTRIBUTED_FIELDS = {
    "dp_communication_latency": "s",
    "tp_communication_latency": "s",
    "ep_communication_latency": "s",
    "communication_latency": "s",
    "pipeline_bubble_latency": "s",
    "bubble_fraction": DIMLESS,
    "step_latency_total": "s",
    "scaling_efficiency": DIMLESS,
    "effective_throughput": "1/s",
}
NODE_FIELDS = {
    "latency": "s",
    "latency_compute": "s",
    "latency_memory": "s",
    "latency_overhead": "s",
    "throughput": "1/s",
    "mfu": DIMLESS,
    "hfu": DIMLESS,
    "memory_footprint": "byte",
    "feasible": None,
    "bottleneck": None,
    "energy": "J",
    "peak_flops_actual": "flop/s",
    "peak_bw_actual": "byte/s",
}
PARALLELISM_FIELDS = ("dp", "tp", "pp", "ep")
DISTRIBUTED_UNITS = {
    **DISTRIBUTED_FIELDS,
    **{f"node_{k}": u for k, u in NODE_FIELDS.items()},
    **dict.fromkeys(PARALLELISM_FIELDS, DIMLESS),
}

MOE_UNITS = {
    "effective_active_experts": DIMLESS,
    "effective_active_parameters": "count",
    "active_parameter_multiplier": DIMLESS,
    "routing_imbalance_factor": DIMLESS,
    "token_dispatch_bytes": "byte",
    "all_to_all_latency": "s",
    "ep_size": DIMLESS,
}
TOPOLOGY_UNITS = {
    "effective_bw": "byte/s",
    "bisection_bw": "byte/s",
    "bisection_bw_fraction": DIMLESS,
    "hops_avg": DIMLESS,
    "topology": None,
    "num_nodes": DIMLESS,
}
NETWORK_ROOFLINE_UNITS = dict(base.SINGLE_NODE_UNITS)
RELIABILITY_UNITS = {
    "fleet_mtbf": "s",
    "failure_probability": DIMLESS,
    "optimal_checkpoint_interval": "s",
    "expected_failures": DIMLESS,
    "goodput_ratio": DIMLESS,
}
CHECKPOINT_UNITS = {
    "checkpoint_size": "byte",
    "write_time_seconds": "s",
    "max_bandwidth_required": "byte/s",
    "storage_bottleneck": None,
    "mfu_penalty_pct": DIMLESS,
}
ORCHESTRATION_UNITS = {
    "cluster_utilization": DIMLESS,
    "avg_wait_time_days": "s",
    "avg_queue_length": DIMLESS,
    "is_stable": None,
}

# --------------------------------------------------------------------------
# Inline records
# --------------------------------------------------------------------------

TOY_MOE = {
    "type": "SparseTransformerWorkload",
    "name": "Toy-MoE-64B",
    "architecture": "Sparse Transformer",
    "parameters": 64e9,
    "active_parameters": 8e9,
    "experts": 8,
    "active_experts_per_token": 2,
    "layers": 32,
    "hidden_dim": 4096,
    "heads": 32,
}
CUSTOM_MOES = [
    TOY_MOE,
    # 64 experts, top-8: the expert cap binds only at imbalance > 8.
    {
        **TOY_MOE,
        "name": "Toy-MoE-64x8",
        "parameters": 120e9,
        "active_parameters": 20e9,
        "experts": 64,
        "active_experts_per_token": 8,
        "hidden_dim": 5120,
        "heads": 40,
    },
    # 4 experts, top-2: the cap min(E, k·imbalance) binds from imbalance 2.
    {
        **TOY_MOE,
        "name": "Toy-MoE-4x2",
        "parameters": 20e9,
        "active_parameters": 11e9,
        "experts": 4,
        "active_experts_per_token": 2,
        "layers": 24,
        "hidden_dim": 2048,
        "heads": 16,
    },
    # No hidden_dim: the 4096 default applies.
    {k: v for k, v in TOY_MOE.items() if k != "hidden_dim"} | {"name": "Toy-MoE-nohidden"},
    # top-k 0: the reference uses max(1, top_k).
    {**TOY_MOE, "name": "Toy-MoE-top0", "active_experts_per_token": 0},
]

CUSTOM_FLEETS = [
    # One node: the only shape whose DP ring stays inside a node.
    {"type": "Fleet", "name": "One_DGX_H100", "node": "Nodes.DGX_H100", "count": 1, "fabric": "Fabrics.InfiniBand_NDR"},
    # One accelerator per node.
    {
        "type": "Fleet",
        "name": "M3Max_16",
        "node": "Nodes.Workstation_M3Max",
        "count": 16,
        "fabric": "Fabrics.Ethernet_10G",
    },
    # A fabric without latency (IB NDR's 5 us fallback).
    {
        "type": "Fleet",
        "name": "MI300X_EDR_64",
        "node": "Nodes.Server_8x_MI300X",
        "count": 8,
        "fabric": "Fabrics.InfiniBand_EDR",
    },
    # Oversubscribed fabric, nodes with series PSUs.
    {
        "type": "Fleet",
        "name": "GrandTeton_Oversub4_256",
        "node": "Nodes.GrandTeton_H100",
        "count": 32,
        "fabric": "Fabrics.InfiniBand_NDR_Oversub4to1",
    },
    # 24 accelerators (not a power of two), B200 on GXDR.
    {
        "type": "Fleet",
        "name": "B200_GXDR_24",
        "node": "Nodes.DGX_B200",
        "count": 3,
        "fabric": "Fabrics.InfiniBand_GXDR",
    },
]
# Fleet.mtbf_hours set (the reference ignores it, spec B7).
MTBF_FLEET = {
    "type": "Fleet",
    "name": "Research_256_mtbf10",
    "node": "Nodes.DGX_H100",
    "count": 32,
    "fabric": "Fabrics.Ethernet_100G",
    "mtbf_hours": 10.0,
}


class Context:
    """The reference's registries and record builders, keyed as the fixtures write them."""

    def __init__(self, base):
        import mlsysim
        from mlsysim import Hardware, Models, Systems, ureg
        from mlsysim.models.types import SparseTransformerWorkload
        from mlsysim.systems.types import Fleet, NetworkFabric, Node

        self.ureg = ureg
        self.sparse_cls, self.fleet_cls = SparseTransformerWorkload, Fleet
        self.hardware = base._registry(Hardware, base.HW_FAMILIES, base._is_hardware)
        self.models = base._registry(Models, base.MODEL_FAMILIES, base._is_workload)
        self.clusters = base._registry(Systems, ["Clusters"], lambda o: isinstance(o, Fleet))
        self.fabrics = base._registry(Systems, ["Fabrics"], lambda o: isinstance(o, NetworkFabric))
        self.nodes = base._registry(Systems, ["Nodes"], lambda o: isinstance(o, Node))
        self.version = mlsysim.__version__

    def record(self, kind, value):
        """The reference object that the fixture input ``kind`` (model, hardware, fleet or
        fabric) names."""
        if value is None:
            return None
        if isinstance(value, dict):
            fields = {k: v for k, v in value.items() if k != "type"}
            if value["type"] == "SparseTransformerWorkload":
                for key in ("parameters", "active_parameters"):
                    fields[key] = fields[key] * self.ureg.count
                return self.sparse_cls(**fields)
            if value["type"] == "Fleet":
                fields["node"] = self.nodes[fields["node"]]
                fields["fabric"] = self.fabrics[fields["fabric"]]
                if "mtbf_hours" in fields:
                    fields["mtbf_hours"] = fields["mtbf_hours"] * self.ureg.hour
                return self.fleet_cls(**fields)
            raise KeyError(value["type"])
        tables = {"model": self.models, "hardware": self.hardware, "fleet": self.clusters, "fabric": self.fabrics}
        return tables[kind][value]

    def kwargs(self, inputs):
        return {k: self.record(k, v) if k in ("model", "fleet", "fabric", "hardware") else v for k, v in inputs.items()}


class DistributedView:
    """DistributedResult flattened for ``base._outputs``: scalar fields, ``node_``-prefixed
    replica profile fields and the parallelism degrees."""

    model_fields = tuple(DISTRIBUTED_UNITS)

    def __init__(self, result):
        for name in DISTRIBUTED_FIELDS:
            setattr(self, name, getattr(result, name))
        for name in NODE_FIELDS:
            setattr(self, f"node_{name}", getattr(result.node_profile, name))
        for name in PARALLELISM_FIELDS:
            setattr(self, name, result.parallelism[name])


def _recorder(base, ctx, name, units, solver, view=None):
    def call(inputs):
        result = solver.solve(**ctx.kwargs(inputs))
        return view(result) if view else result

    return base.Recorder(name, units, call)


def _ok(rec):
    return [c["inputs"] for c in rec.cases if "outputs" in c]


def _errors(rec):
    return [c for c in rec.cases if "raises" in c]


def _require(condition, what):
    if not condition:
        raise AssertionError(f"[parity_fleet] coverage: {what}")


def _require_values(rec, key, values, default):
    seen = {json.dumps(i.get(key, default)) for i in _ok(rec)}
    missing = [v for v in values if json.dumps(v) not in seen]
    _require(not missing, f"{rec.resolver} {key}: no successful case for {missing}")


# --------------------------------------------------------------------------
# DistributedModel
# --------------------------------------------------------------------------

DIST_DENSE = [
    "Language.Llama3_8B",
    "Language.Llama3_70B",
    "Language.Llama3_405B",
    "Language.Llama2_7B",
    "Language.Llama2_70B",
    "Language.GPT2",
    "Language.GPT3",
    "Language.BERT_Base",
    "Language.PaLM_540B",
    "Language.OPT_13B",
]
DIST_MOE = ["Language.Mixtral_8x7B", "Language.DeepSeek_V3", "Language.GPT4"]
DIST_CNN = ["Vision.ResNet50", "Vision.MobileNetV2"]
DIST_TP, DIST_PP, DIST_EP = [1, 2, 4, 8, 16], [1, 2, 4, 8], [1, 2, 8]
DIST_M, DIST_V, DIST_ZERO = [1, 4, 16], [1, 2], [0, 1, 2, 3]
DIST_SEQ = [512, 2048, 8192]
DIST_PRECISIONS = ["fp16", "bf16", "fp32", "fp8", "int8", "tf32", "FP16", "BF16"]
DIST_BATCHES = [1, 2, 3, 8, 16, 64, 100, 256, 512, 1000, 1024, 2048, 4096, 8192]
DIST_GA = [1, 2, 4, 8]
DIST_TOPOLOGY = ["tree", "tree", "ring", "hierarchical"]


def build_distributed(base, ctx, n_sampled):
    from mlsysim.solvers import DistributedModel

    rec = _recorder(base, ctx, "DistributedModel", DISTRIBUTED_UNITS, DistributedModel(), DistributedView)
    frontier, llama70 = "Clusters.Frontier_8K", "Language.Llama3_70B"
    spec = {"model": llama70, "fleet": frontier, "batch_size": 2048, "tp_size": 8, "pp_size": 4, "microbatch_count": 16}

    # 1. Spec §12.7 (the seed's example) and the B11/B12 probes on it.
    rec.add(spec)
    for kw in [
        dict(gradient_accumulation_steps=4),
        dict(activation_recomputation=True),
        dict(topology_override="tree"),
        dict(topology_override="ring"),
        dict(zero_stage=3),
        dict(overlap_comm=True),
        dict(is_lora=True),
        dict(v_stages=2),
        dict(congestion_factor=2.0),
        dict(straggler_factor=1.2),
        dict(straggler_factor=0.8),
        dict(precision="bf16"),
        dict(precision="fp8"),
        dict(seq_len=8192),
        dict(batch_size=2047),
        dict(batch_size=100),
    ]:
        rec.add({**spec, **kw})
    rec.add(
        {
            "model": "Language.Mixtral_8x7B",
            "fleet": frontier,
            "batch_size": 2048,
            "tp_size": 8,
            "pp_size": 1,
            "ep_size": 8,
            "moe_routing_imbalance_factor": 1.25,
        }
    )
    rec.add({"model": "Language.Mixtral_8x7B", "fleet": frontier, "batch_size": 2048, "tp_size": 1, "ep_size": 8})

    # 2. Defaults: model and fleet only, on every fleet.
    fleets = sorted(ctx.clusters)
    for fleet in fleets + CUSTOM_FLEETS:
        rec.add({"model": "Language.Llama3_8B", "fleet": fleet})
    for model in DIST_DENSE + DIST_MOE + DIST_CNN:
        rec.add({"model": model, "fleet": "Clusters.Research_256", "batch_size": 256})

    # 3. DP all-reduce branches: intra-node ring (one node), flat ring (one rank per node),
    #    hierarchical (several ranks per node across nodes), TP across nodes.
    for fleet in CUSTOM_FLEETS + ["Clusters.Lab_64_H100", "Clusters.Kempner_H100_384"]:
        for tp, pp in [(1, 1), (2, 1), (4, 1), (8, 1), (2, 2), (16, 1), (1, 8)]:
            rec.add(
                {
                    "model": "Language.Llama3_8B",
                    "fleet": fleet,
                    "batch_size": 64,
                    "tp_size": tp,
                    "pp_size": pp,
                    "seq_len": 2048,
                }
            )

    # 4. Seeded sample of the cross product.
    rng = random.Random(10)
    models = DIST_DENSE + DIST_MOE + DIST_CNN
    combos = [(t, p, e) for t in DIST_TP for p in DIST_PP for e in DIST_EP]
    valid = {f: [c for c in combos if ctx.clusters[f].total_accelerators % (c[0] * c[1] * c[2]) == 0] for f in fleets}
    next_fleet, next_model = base.Cycler(fleets, rng), base.Cycler(models, rng)
    next_combo = base.Cycler(combos, rng)
    next_prec, next_seq = base.Cycler(DIST_PRECISIONS, rng), base.Cycler(DIST_SEQ, rng)
    next_zero, next_m = base.Cycler(DIST_ZERO, rng), base.Cycler(DIST_M, rng)
    next_batch, next_ga = base.Cycler(DIST_BATCHES, rng), base.Cycler(DIST_GA, rng)
    next_topo = base.Cycler(DIST_TOPOLOGY, rng)
    added = 0
    while added < n_sampled:
        fleet, model = next_fleet(), next_model()
        n_acc = ctx.clusters[fleet].total_accelerators
        tp, pp, ep = next_combo() if rng.random() < 0.08 else rng.choice(valid[fleet])
        if model not in DIST_MOE and ep > 1 and rng.random() < 0.85:
            ep = 1
        if tp * pp * ep > n_acc or n_acc % (tp * pp * ep):
            dp = 1
        else:
            dp = n_acc // (tp * pp * ep)
        # About 40 % of the points avoid every DECISIONS D7 deviation (batch a multiple of dp,
        # GA 1, ZeRO 0-2, no topology override, no MoE expert parallelism).
        plain = rng.random() < 0.4
        if plain and model in DIST_MOE:
            ep = 1
        batch = dp * rng.choice([1, 2, 4]) if plain or rng.random() < 0.2 else next_batch()
        inputs = {"model": model, "fleet": fleet, "batch_size": batch}
        for key, value in [("tp_size", tp), ("pp_size", pp), ("ep_size", ep)]:
            if value != 1 or rng.random() < 0.1:  # an explicit 1 now and then
                inputs[key] = value
        optional = [
            ("precision", next_prec, 0.6),
            ("efficiency", lambda: rng.choice([0.1, 0.3, 0.5, 0.7, 1.0]), 0.4),
            ("microbatch_count", next_m, 0.85 if pp > 1 else 0.15),
            ("v_stages", lambda: rng.choice(DIST_V), 0.35 if pp > 1 else 0.1),
            ("zero_stage", (lambda: rng.choice([0, 1, 2])) if plain else next_zero, 0.6),
            ("seq_len", next_seq, 0.7),
            ("activation_recomputation", lambda: rng.random() < 0.5, 0.4),
            ("is_lora", lambda: rng.random() < 0.5, 0.25),
            ("overlap_comm", lambda: rng.random() < 0.6, 0.4),
            ("congestion_factor", lambda: rng.choice([1.0, 1.3, 2.0, 0.5]), 0.25),
            ("straggler_factor", lambda: rng.choice([1.0, 1.1, 1.5, 0.9]), 0.25),
        ]
        if not plain:
            optional += [("gradient_accumulation_steps", next_ga, 0.35), ("topology_override", next_topo, 0.3)]
        if ep > 1:
            optional.append(("moe_routing_imbalance_factor", lambda: rng.choice([1.0, 1.25, 2.0]), 0.7))
        for key, draw, p in optional:
            if rng.random() < p:
                inputs[key] = draw()
        if inputs.get("overlap_comm") and rng.random() < 0.5:
            inputs["overlap_efficiency"] = rng.choice([0.0, 0.5, 0.85, 1.0])
        added += rec.add(inputs)

    # 5. Error and edge cases.
    small = {"model": "Language.Llama3_8B", "fleet": "Clusters.Lab_64_H100", "batch_size": 64}
    for kw in [
        dict(tp_size=0),
        dict(pp_size=0),
        dict(ep_size=0),
        dict(batch_size=0),
        dict(batch_size=-8),
        dict(gradient_accumulation_steps=0),
        dict(efficiency=0.0),
        dict(efficiency=1.5),
        dict(efficiency=1e-9),
        dict(overlap_efficiency=1.2),
        dict(overlap_efficiency=-0.1),
        dict(moe_routing_imbalance_factor=0.9),
        dict(tp_size=16, pp_size=8),
        dict(tp_size=8, pp_size=8, ep_size=2),
        dict(tp_size=3),
        dict(pp_size=5),
        dict(tp_size=64, pp_size=1),
        dict(zero_stage=4),
        dict(zero_stage=-1),
        dict(precision="banana"),
        dict(precision="fp4"),
        dict(precision="int4"),
        dict(seq_len=0),
        dict(microbatch_count=0),
        dict(v_stages=0),
        dict(microbatch_count=64, pp_size=8),
        dict(congestion_factor=0.0),
        dict(pp_size=8, microbatch_count=1),
    ]:
        rec.add({**small, **kw})
    for fleet, tp in [
        ("Clusters.Reference_25K_H100", 16),
        ("Clusters.Meta_RSC_A100_16K", 256),
        ("Clusters.Kempner_H100_384", 256),
        ("Clusters.Training_10K", 32),
    ]:
        rec.add({"model": llama70, "fleet": fleet, "batch_size": 1024, "tp_size": tp})
    for model in DIST_CNN:
        for tp, pp in [(1, 1), (2, 1), (8, 1), (1, 4)]:
            rec.add({"model": model, "fleet": "Clusters.Lab_64_A100", "batch_size": 512, "tp_size": tp, "pp_size": pp})
    for model in ["Recommendation.DLRM", "StateSpace.Mamba_130M", "Embodied.OpenVLA_7B"]:
        rec.add({"model": model, "fleet": "Clusters.Lab_64_H100", "batch_size": 64})
        rec.add({"model": model, "fleet": "Clusters.Lab_64_H100", "batch_size": 64, "tp_size": 2})

    _check_distributed(rec, fleets, models)
    return rec


def _check_distributed(rec, fleets, models):
    ok = _ok(rec)
    _require(len(rec.cases) >= 1500, f"DistributedModel has {len(rec.cases)} cases")
    _require_values(rec, "fleet", fleets + CUSTOM_FLEETS, None)
    _require_values(rec, "model", models, None)
    for key, values, default in [
        ("tp_size", DIST_TP, 1),
        ("pp_size", DIST_PP, 1),
        ("ep_size", DIST_EP, 1),
        ("microbatch_count", DIST_M, 1),
        ("v_stages", DIST_V, 1),
        ("zero_stage", DIST_ZERO, 0),
        ("precision", DIST_PRECISIONS, "fp16"),
        ("seq_len", DIST_SEQ, 2048),
        ("activation_recomputation", [False, True], False),
        ("is_lora", [False, True], False),
        ("overlap_comm", [False, True], False),
        ("topology_override", ["tree", None], None),
        ("gradient_accumulation_steps", DIST_GA, 1),
        ("moe_routing_imbalance_factor", [1.0, 1.25, 2.0], 1.0),
        ("congestion_factor", [1.0, 2.0], 1.0),
        ("straggler_factor", [1.1, 1.5, 0.9], 1.0),
        ("overlap_efficiency", [0.0, 0.5, 1.0], 0.85),
    ]:
        _require_values(rec, key, values, default)
    _require(
        any(c["inputs"]["batch_size"] < c["outputs"]["dp"] for c in rec.cases if "outputs" in c),
        "DistributedModel: no batch < dp",
    )
    moe_ep = [i for i in ok if i["model"] in DIST_MOE and i.get("ep_size", 1) > 1]
    _require(len(moe_ep) >= 100, f"DistributedModel: {len(moe_ep)} MoE cases with ep > 1")
    infeasible = [c for c in rec.cases if c.get("outputs", {}).get("node_feasible") is False]
    _require(len(infeasible) >= 50, f"DistributedModel: {len(infeasible)} infeasible replicas")
    messages = " ".join(c["message"] for c in _errors(rec))
    _require("must divide" in messages and "> Total" in messages, "DistributedModel: both 4D-parallelism errors")


# --------------------------------------------------------------------------
# MoERoutingModel
# --------------------------------------------------------------------------

MOE_REGISTRY = ["Language.Mixtral_8x7B", "Language.DeepSeek_V3", "Language.GPT4"]
MOE_BATCH, MOE_SEQ = [1, 4, 8, 32, 256], [1, 128, 2048, 8192]
MOE_PRECISIONS = ["fp16", "bf16", "fp32", "fp8", "int8", "int4", "FP16", "FP8"]
MOE_EP = [1, 2, 4, 8, 16, 64]
MOE_IMBALANCE = [1.0, 1.25, 2.0, 4.0, 10.0]


def build_moe_routing(base, ctx, n_sampled):
    from mlsysim.solvers import MoERoutingModel

    rec = _recorder(base, ctx, "MoERoutingModel", MOE_UNITS, MoERoutingModel())
    seed = {
        "model": TOY_MOE,
        "batch_size": 4,
        "seq_len": 2048,
        "ep_size": 8,
        "routing_imbalance_factor": 1.25,
        "fleet": "Clusters.Research_256",
    }
    rec.add(seed)  # spec §12.6, the seed's example
    rec.add({"model": TOY_MOE, "batch_size": 4, "seq_len": 2048})
    fleets = sorted(ctx.clusters) + CUSTOM_FLEETS
    for fleet in fleets:
        rec.add({**seed, "fleet": fleet})
    for model in MOE_REGISTRY + CUSTOM_MOES:
        rec.add({"model": model, "batch_size": 8, "seq_len": 2048, "ep_size": 8, "fleet": "Clusters.Frontier_8K"})

    rng = random.Random(11)
    models = MOE_REGISTRY + CUSTOM_MOES
    next_model = base.Cycler(models, rng)
    next_fleet = base.Cycler([None] * 6 + fleets, rng)
    next_batch, next_seq = base.Cycler(MOE_BATCH, rng), base.Cycler(MOE_SEQ, rng)
    next_prec, next_ep = base.Cycler(MOE_PRECISIONS, rng), base.Cycler(MOE_EP, rng)
    next_imb = base.Cycler(MOE_IMBALANCE, rng)
    added = 0
    while added < n_sampled:
        inputs = {"model": next_model(), "batch_size": next_batch(), "seq_len": next_seq()}
        for key, draw, p in [
            ("precision", next_prec, 0.7),
            ("ep_size", next_ep, 0.85),
            ("routing_imbalance_factor", next_imb, 0.8),
        ]:
            if rng.random() < p:
                inputs[key] = draw()
        fleet = next_fleet()
        if fleet is not None or rng.random() < 0.3:
            inputs["fleet"] = fleet
        added += rec.add(inputs)

    base_case = {
        "model": "Language.Mixtral_8x7B",
        "batch_size": 4,
        "seq_len": 2048,
        "ep_size": 8,
        "fleet": "Clusters.Frontier_8K",
    }
    for kw in [
        dict(batch_size=0),
        dict(seq_len=0),
        dict(ep_size=0),
        dict(ep_size=-2),
        dict(routing_imbalance_factor=0.99),
        dict(routing_imbalance_factor=0.0),
        dict(precision="banana"),
        dict(precision="fp4"),
        dict(batch_size=-1),
    ]:
        rec.add({**base_case, **kw})
    for model in ["Language.Llama3_8B", "Language.Llama3_70B", "Vision.ResNet50"]:
        rec.add({**base_case, "model": model})

    _require(len(rec.cases) >= 300, f"MoERoutingModel has {len(rec.cases)} cases")
    _require_values(rec, "model", models, None)
    _require_values(rec, "fleet", [None] + fleets, None)
    for key, values, default in [
        ("batch_size", MOE_BATCH, None),
        ("seq_len", MOE_SEQ, None),
        ("precision", MOE_PRECISIONS, "fp16"),
        ("ep_size", MOE_EP, 1),
        ("routing_imbalance_factor", MOE_IMBALANCE, 1.0),
    ]:
        _require_values(rec, key, values, default)
    with_fleet = [i for i in _ok(rec) if i.get("fleet") and i.get("ep_size", 1) > 1]
    _require(len(with_fleet) >= 200, f"MoERoutingModel: {len(with_fleet)} priced all-to-alls")
    _require(any(c["raises"] == "AttributeError" for c in _errors(rec)), "MoERoutingModel: dense-model error")
    return rec


# --------------------------------------------------------------------------
# TopologyModel
# --------------------------------------------------------------------------

# Every spelling the reference accepts: its four names, the registry's "fat-tree" and other
# strings (all unknown strings take the fat-tree numbers; the match is case-sensitive).
TOPOLOGIES = [
    "fat_tree",
    "fat-tree",
    "dragonfly",
    "torus_3d",
    "ring",
    "Dragonfly",
    "Ring",
    "FAT_TREE",
    "torus",
    "mesh",
    "",
]
TOPO_NODES = [-8, 0, 1, 2, 3, 4, 7, 8, 16, 27, 64, 100, 256, 512, 1000, 1024, 4096]


def build_topology(base, ctx):
    from mlsysim.solvers import TopologyModel

    rec = _recorder(base, ctx, "TopologyModel", TOPOLOGY_UNITS, TopologyModel())
    fabrics = sorted(ctx.fabrics)
    for fabric in fabrics:
        rec.add({"fabric": fabric})
        for topology in TOPOLOGIES:
            rec.add({"fabric": fabric, "topology": topology})
            for n in TOPO_NODES:
                rec.add({"fabric": fabric, "topology": topology, "num_nodes": n})
        for n in TOPO_NODES:
            rec.add({"fabric": fabric, "num_nodes": n})

    _require(len(rec.cases) >= 300, f"TopologyModel has {len(rec.cases)} cases")
    _require_values(rec, "fabric", fabrics, None)
    _require_values(rec, "topology", TOPOLOGIES, "fat_tree")
    _require(any(c["raises"] == "ZeroDivisionError" for c in _errors(rec)), "TopologyModel: torus N = 0")
    return rec


# --------------------------------------------------------------------------
# NetworkRooflineModel
# --------------------------------------------------------------------------

NR_PRECISIONS = base.CANON_PRECISIONS + ["FP8", "FP16", "BF16", "Int8", "FP32"]
NR_EFFICIENCY = [0.5, 0.1, 0.3, 0.8, 1.0]


def build_network_roofline(base, ctx, n_sampled):
    from mlsysim.solvers import NetworkRooflineModel

    rec = _recorder(base, ctx, "NetworkRooflineModel", NETWORK_ROOFLINE_UNITS, NetworkRooflineModel())
    # Part 2 §20.1 and §19 P2c.
    rec.add({"model": "Language.Llama3_70B", "fleet": "Clusters.Frontier_8K"})
    rec.add({"model": "Language.Llama3_8B", "fleet": "Clusters.Research_256"})
    for prec in ["FP8", "fp8"]:
        rec.add({"model": "Language.Llama3_70B", "fleet": "Clusters.Frontier_8K", "precision": prec})
    rec.add({"model": "Language.Mixtral_8x7B", "fleet": "Clusters.Frontier_8K"})
    rec.add({"model": "Recommendation.DLRM", "fleet": "Clusters.Frontier_8K"})

    fleets = sorted(ctx.clusters) + CUSTOM_FLEETS
    models = sorted(ctx.models)
    for fleet in fleets:
        rec.add({"model": "Language.Llama3_8B", "fleet": fleet})
    # Tiny models on big fleets: the compute ceiling binds (bottleneck "Compute").
    for model in ["Tiny.DS_CNN", "Tiny.WakeVision", "Vision.LeNet1", "Tiny.AnomalyDetector"]:
        for fleet in ["Clusters.Lab_64_A100", "Clusters.Training_1K_B200"]:
            rec.add({"model": model, "fleet": fleet, "efficiency": 1e-9})
            rec.add({"model": model, "fleet": fleet, "precision": "fp32", "efficiency": 0.01})

    rng = random.Random(12)
    next_model, next_fleet = base.Cycler(models, rng), base.Cycler(fleets, rng)
    next_prec, next_eff = base.Cycler(NR_PRECISIONS, rng), base.Cycler(NR_EFFICIENCY, rng)
    added = 0
    while added < n_sampled:
        inputs = {"model": next_model(), "fleet": next_fleet()}
        if rng.random() < 0.8:
            inputs["precision"] = next_prec()
        if rng.random() < 0.6:
            inputs["efficiency"] = rng.choice([next_eff(), 1e-9, 1e-6]) if rng.random() < 0.1 else next_eff()
        added += rec.add(inputs)

    base_case = {"model": "Language.Llama3_8B", "fleet": "Clusters.Research_256"}
    for kw in [
        dict(efficiency=0.0),
        dict(efficiency=1.5),
        dict(efficiency=-0.5),
        dict(precision="banana"),
        dict(precision="fp4"),
        dict(precision="fp16_dense"),
    ]:
        rec.add({**base_case, **kw})

    _require(len(rec.cases) >= 300, f"NetworkRooflineModel has {len(rec.cases)} cases")
    _require_values(rec, "fleet", fleets, None)
    _require_values(rec, "precision", NR_PRECISIONS, "fp16")
    missing = set(models) - {i["model"] for i in _ok(rec)} - {"Recommendation.DLRM"}
    _require(not missing, f"NetworkRooflineModel models without success: {sorted(missing)}")
    bottlenecks = Counter(c["outputs"]["bottleneck"] for c in rec.cases if "outputs" in c)
    _require(
        bottlenecks["Compute"] >= 10 and bottlenecks["Network"] >= 100,
        f"NetworkRooflineModel bottlenecks {dict(bottlenecks)}",
    )
    return rec


# --------------------------------------------------------------------------
# ReliabilityModel
# --------------------------------------------------------------------------

REL_HOURS = [0.0, 0.5, 1.0, 24.0, 168.0, 720.0, 2160.0, 8760.0]
REL_CKPT = [1.0, 10.0, 60.0, 300.0, 1800.0]
REL_RECOVERY = [0.0, 60.0, 300.0, 3600.0, -100.0]


def build_reliability(base, ctx):
    from mlsysim.solvers import ReliabilityModel

    rec = _recorder(base, ctx, "ReliabilityModel", RELIABILITY_UNITS, ReliabilityModel())
    fleets = sorted(ctx.clusters) + CUSTOM_FLEETS + [MTBF_FLEET]
    # Spec §8.3 examples, then defaults on every fleet.
    for fleet in ["Clusters.Research_256", "Clusters.Frontier_8K", "Clusters.Mega_100K"]:
        rec.add({"fleet": fleet, "job_duration_hours": 720.0})
    for fleet in fleets:
        rec.add({"fleet": fleet, "job_duration_hours": 720.0})
        for hours in REL_HOURS:
            rec.add({"fleet": fleet, "job_duration_hours": hours})
    # The full product on the registry's clusters.
    for fleet in sorted(ctx.clusters):
        for hours in REL_HOURS:
            for ckpt in REL_CKPT:
                for recovery in REL_RECOVERY:
                    rec.add(
                        {
                            "fleet": fleet,
                            "job_duration_hours": hours,
                            "checkpoint_time_s": ckpt,
                            "avg_recovery_time_s": recovery,
                        }
                    )
    # Goodput clamped at 0: a long checkpoint and slow recovery on the largest fleet.
    for ckpt, recovery in [(3600.0, 3600.0), (600.0, 1800.0), (60.0, 1350.0)]:
        rec.add(
            {
                "fleet": "Clusters.Mega_100K",
                "job_duration_hours": 720.0,
                "checkpoint_time_s": ckpt,
                "avg_recovery_time_s": recovery,
            }
        )
    # Errors: checkpoint time <= 0, negative duration.
    for kw in [dict(checkpoint_time_s=0.0), dict(checkpoint_time_s=-60.0), dict(job_duration_hours=-5.0)]:
        for fleet in ["Clusters.Research_256", "Clusters.Frontier_8K"]:
            rec.add({"fleet": fleet, "job_duration_hours": 720.0, **kw})

    _require(len(rec.cases) >= 300, f"ReliabilityModel has {len(rec.cases)} cases")
    _require_values(rec, "fleet", fleets, None)
    _require(len(_errors(rec)) >= 4, "ReliabilityModel: error cases")
    zero = [c for c in rec.cases if c.get("outputs", {}).get("goodput_ratio") == 0.0]
    _require(zero, "ReliabilityModel: goodput clamped at 0")
    return rec


# --------------------------------------------------------------------------
# CheckpointModel
# --------------------------------------------------------------------------

CK_OPTIMIZERS = ["adam", "ADAM", "Adam", "sgd", "adamw", "none", "lion"]
CK_INTERVAL = [0.0, 0.25, 1.0, 4.0, 24.0, -1.0]
CK_WRITERS = [0, 1, 2, 8, 64, 1024, -1]
CK_LIMIT = [500.0, 10.0, 100.0, 2000.0, 0.0]


def build_checkpoint(base, ctx, n_sampled):
    from mlsysim.solvers import CheckpointModel

    rec = _recorder(base, ctx, "CheckpointModel", CHECKPOINT_UNITS, CheckpointModel())
    rec.add({"model": "Language.Llama3_70B", "hardware": "Cloud.H100"})  # spec §9.1
    storage = sorted(k for k, hw in ctx.hardware.items() if hw.storage)
    hardware, models = sorted(ctx.hardware), sorted(ctx.models)
    for hw in hardware:
        rec.add({"model": "Language.Llama3_70B", "hardware": hw})
    for model in models:
        rec.add({"model": model, "hardware": "Cloud.H100"})
    for hw in storage + ["Cloud.A100", "Cloud.B200"]:
        for writers in CK_WRITERS:
            for limit in CK_LIMIT:
                rec.add(
                    {"model": "Language.Llama3_8B", "hardware": hw, "n_writers": writers, "filesystem_limit_gbs": limit}
                )

    rng = random.Random(14)
    next_model, next_hw = base.Cycler(models, rng), base.Cycler(hardware + storage * 4, rng)
    next_opt, next_int = base.Cycler(CK_OPTIMIZERS, rng), base.Cycler(CK_INTERVAL, rng)
    next_w, next_lim = base.Cycler(CK_WRITERS, rng), base.Cycler(CK_LIMIT, rng)
    added = 0
    while added < n_sampled:
        inputs = {"model": next_model(), "hardware": next_hw()}
        for key, draw, p in [
            ("optimizer", next_opt, 0.7),
            ("checkpoint_interval_hours", next_int, 0.7),
            ("n_writers", next_w, 0.6),
            ("filesystem_limit_gbs", next_lim, 0.5),
        ]:
            if rng.random() < p:
                inputs[key] = draw()
        added += rec.add(inputs)

    _require(len(rec.cases) >= 300, f"CheckpointModel has {len(rec.cases)} cases")
    _require_values(rec, "hardware", hardware, None)
    _require_values(rec, "optimizer", CK_OPTIMIZERS, "adam")
    _require_values(rec, "checkpoint_interval_hours", CK_INTERVAL, 4.0)
    _require_values(rec, "n_writers", [w for w in CK_WRITERS if w], 1)
    _require_values(rec, "filesystem_limit_gbs", [x for x in CK_LIMIT if x], 500.0)
    errors = Counter(c["raises"] for c in _errors(rec))
    _require(errors["ZeroDivisionError"] >= 10, f"CheckpointModel errors {dict(errors)}")
    return rec


# --------------------------------------------------------------------------
# OrchestrationModel
# --------------------------------------------------------------------------

ORCH_RATE = [0.0, 0.1, 0.4, 0.5, 0.99, 1.0, 1.5, 10.0, -1.0]
ORCH_DURATION = [0.0, 0.1, 0.5, 1.0, 1.5, 2.0, 10.0, -1.0]


def build_orchestration(base, ctx):
    from mlsysim.solvers import OrchestrationModel

    rec = _recorder(base, ctx, "OrchestrationModel", ORCHESTRATION_UNITS, OrchestrationModel())
    # Part 2 §20.1 examples.
    rec.add({"fleet": "Clusters.Research_256", "arrival_rate_jobs_per_day": 0.4, "avg_job_duration_days": 2.0})
    rec.add({"fleet": "Clusters.Frontier_8K", "arrival_rate_jobs_per_day": 1.0, "avg_job_duration_days": 1.5})
    fleets = [None] + sorted(ctx.clusters) + CUSTOM_FLEETS
    for fleet in fleets:
        for rate in ORCH_RATE:
            for duration in ORCH_DURATION:
                rec.add({"fleet": fleet, "arrival_rate_jobs_per_day": rate, "avg_job_duration_days": duration})

    _require(len(rec.cases) >= 300, f"OrchestrationModel has {len(rec.cases)} cases")
    stable = Counter(c["outputs"]["is_stable"] for c in rec.cases if "outputs" in c)
    _require(stable[True] >= 50 and stable[False] >= 50, f"OrchestrationModel {dict(stable)}")
    _require(any(c["raises"] == "ZeroDivisionError" for c in _errors(rec)), "OrchestrationModel: zero duration")
    return rec


# --------------------------------------------------------------------------
# Writing and entry point
# --------------------------------------------------------------------------


def build(base):
    import warnings

    warnings.simplefilter("ignore")
    ctx = Context(base)
    if ctx.version != base.REF_VERSION:
        raise SystemExit(f"expected mlsysim {base.REF_VERSION}, got {ctx.version}")
    base.DATA_DIR.mkdir(parents=True, exist_ok=True)
    steps = [
        (lambda: build_distributed(base, ctx, n_sampled=1700), "parity_distributed.json"),
        (lambda: build_moe_routing(base, ctx, n_sampled=1500), "parity_moe_routing.json"),
        (lambda: build_topology(base, ctx), "parity_topology.json"),
        (lambda: build_network_roofline(base, ctx, n_sampled=1500), "parity_network_roofline.json"),
        (lambda: build_reliability(base, ctx), "parity_reliability.json"),
        (lambda: build_checkpoint(base, ctx, n_sampled=1500), "parity_checkpoint.json"),
        (lambda: build_orchestration(base, ctx), "parity_orchestration.json"),
    ]
    for make, filename in steps:
        t = time.perf_counter()
        rec = make()
        base._write(rec, filename)
        print(f"[parity]   {rec.resolver} {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    base._bootstrap()
    build(base)
