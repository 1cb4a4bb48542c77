#!/usr/bin/env python3
"""Parity fixtures of the three optimizers of mlsysim 0.3.0 (plugin of ``make_parity_fixtures.py``).

Writes one file per optimizer, recorded from the reference's public API
(``mlsysim.solvers.X().solve``)::

    tests/data/parity_parallelism.json  ParallelismOptimizer
    tests/data/parity_batching.json     BatchingOptimizer
    tests/data/parity_placement.json    PlacementOptimizer

Usage: ``python scripts/make_parity_fixtures.py`` runs it with the others;
``python scripts/parity_optimizers.py`` runs it alone (same bootstrap; set
``MLSYSIM_REF_PYTHON`` to an interpreter that has mlsysim 0.3.0 to skip the venv).
It takes about a minute: a ParallelismOptimizer call costs 0.05–0.1 s (one DistributedModel
solve per surviving TP × PP pair) and a BatchingOptimizer call about 1 ms per batch size searched
(``max_search_batch`` ServingModel solves), so the batching sample mixes the default 256 with
smaller search ranges.

Input encoding: the reference's own keywords; only the arguments passed explicitly are recorded.
Records are ``"Family.key"`` strings (``"Language.Llama3_70B"``, ``"Cloud.H100"``,
``"Clusters.Research_256"``); ``regions`` is the list of names passed (region names, not records,
exactly as the reference takes them); ``null`` is an explicit ``None``.

Outputs are the reference's result fields, in SI units (``units`` map): times in s, rates in 1/s,
money in USD; PlacementOptimizer's ``carbon_footprint`` (and each candidate's ``carbon``) is in
tonnes (``"t"``), as the reference reports it. The nested fields are flattened:

* ``best_config`` becomes its keys: ``tp``/``pp``/``dp`` (parallelism), ``max_batch_size``
  (batching), ``region`` (placement);
* ``top_candidates`` becomes ``top<i>_<field>`` for i = 1…5 (parallelism: ``tp``, ``pp``, ``dp``,
  ``mfu``, ``throughput`` [1/s], ``step_time`` [s]) and ``cand<i>_<field>`` for i = 1…12 (placement:
  ``region``, ``tco`` [USD], ``carbon`` [t], ``pue``, ``objective`` [USD]); absent candidates are
  ``null``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import make_parity_fixtures as base  # noqa: E402

D = base.DIMLESS
N_TOP, N_REGIONS = 5, 12

# --------------------------------------------------------------------------
# Output unit maps (flattened fields)
# --------------------------------------------------------------------------

PARALLELISM_UNITS = {
    "objective_value": D,
    "tp": D,
    "pp": D,
    "dp": D,
    "total_searched": D,
    "best_mfu": D,
    "best_throughput": "1/s",
    "best_step_time": "s",
    "search_space_size": D,
    **{
        f"top{i}_{k}": u
        for i in range(1, N_TOP + 1)
        for k, u in [("tp", D), ("pp", D), ("dp", D), ("mfu", D), ("throughput", "1/s"), ("step_time", "s")]
    },
}
BATCHING_UNITS = {
    "objective_value": D,
    "max_batch_size": D,
    "total_searched": D,
    "best_batch_size": D,
    "max_throughput": D,
    "p99_latency": "s",
    "slo_headroom_ratio": D,
    "is_feasible": None,
}
PLACEMENT_UNITS = {
    "objective_value": "USD",
    "region": None,
    "total_searched": D,
    "best_region": None,
    "lowest_tco": "USD",
    "carbon_footprint": "t",
    "pue": D,
    **{
        f"cand{i}_{k}": u
        for i in range(1, N_REGIONS + 1)
        for k, u in [("region", None), ("tco", "USD"), ("carbon", "t"), ("pue", D), ("objective", "USD")]
    },
}


def _View(fields: dict):
    """A result flattened for ``base._outputs``: a class whose ``model_fields`` are ``fields``'
    keys, and an instance holding their values."""
    view = type("View", (), {"model_fields": tuple(fields)})()
    view.__dict__.update(fields)
    return view


def parallelism_view(r):
    fields = {
        "objective_value": r.objective_value,
        **r.best_config,
        "total_searched": r.total_searched,
        "best_mfu": r.best_mfu,
        "best_throughput": r.best_throughput,
        "best_step_time": r.best_step_time,
        "search_space_size": r.search_space_size,
    }
    for i in range(N_TOP):
        c = r.top_candidates[i] if i < len(r.top_candidates) else None
        for key in ("tp", "pp", "dp"):
            fields[f"top{i + 1}_{key}"] = c and c["config"][key]
        for key in ("mfu", "throughput", "step_time"):
            fields[f"top{i + 1}_{key}"] = c and c[key]
    return _View(fields)


def batching_view(r):
    return _View(
        {
            "objective_value": r.objective_value,
            **r.best_config,
            "total_searched": r.total_searched,
            "best_batch_size": r.best_batch_size,
            "max_throughput": r.max_throughput,
            "p99_latency": r.p99_latency,
            "slo_headroom_ratio": r.slo_headroom_ratio,
            "is_feasible": r.is_feasible,
        }
    )


def placement_view(r):
    fields = {
        "objective_value": r.objective_value,
        **r.best_config,
        "total_searched": r.total_searched,
        "best_region": r.best_region,
        "lowest_tco": r.lowest_tco,
        "carbon_footprint": r.carbon_footprint,
        "pue": r.pue,
    }
    for i in range(N_REGIONS):
        c = r.top_candidates[i] if i < len(r.top_candidates) else None
        for key in ("region", "tco", "carbon", "pue", "objective"):
            fields[f"cand{i + 1}_{key}"] = c and c[key]
    return _View(fields)


# --------------------------------------------------------------------------
# Registries and the recorder
# --------------------------------------------------------------------------


class Context:
    """The reference's registries, keyed as the fixtures write them."""

    def __init__(self):
        import mlsysim
        from mlsysim import Hardware, Infrastructure, Models, Systems
        from mlsysim.systems.types import Fleet

        self.version = mlsysim.__version__
        self.models = base._registry(Models, base.MODEL_FAMILIES, base._is_workload)
        self.hardware = base._registry(Hardware, base.HW_FAMILIES, base._is_hardware)
        self.clusters = base._registry(Systems, ["Clusters"], lambda o: isinstance(o, Fleet))
        self.grids = sorted(
            k.split(".", 1)[1]
            for k in base._registry(Infrastructure, ["Grids"], lambda o: hasattr(o, "carbon_intensity_g_kwh"))
        )

    def kwargs(self, inputs):
        tables = {"model": self.models, "hardware": self.hardware, "fleet": self.clusters}
        return {k: tables[k][v] if k in tables else v for k, v in inputs.items()}


def _recorder(ctx, name, units, solver, view):
    return base.Recorder(name, units, lambda inputs: view(solver.solve(**ctx.kwargs(inputs))))


def _ok(rec):
    return [c for c in rec.cases if "outputs" in c]


def _require(condition, what):
    if not condition:
        raise AssertionError(f"[parity_optimizers] coverage: {what}")


def _covered(rec, key, values, default):
    seen = {json.dumps(c["inputs"].get(key, default)) for c in _ok(rec)}
    missing = [v for v in values if json.dumps(v) not in seen]
    _require(not missing, f"{rec.resolver} {key}: no successful case for {missing}")


# --------------------------------------------------------------------------
# ParallelismOptimizer
# --------------------------------------------------------------------------

PAR_DENSE = [
    "Language.Llama3_8B",
    "Language.Llama3_70B",
    "Language.Llama3_405B",
    "Language.Llama2_7B",
    "Language.Llama2_13B",
    "Language.Llama2_70B",
    "Language.GPT2",
    "Language.GPT3",
    "Language.BERT_Base",
    "Language.BERT_Large",
    "Language.PaLM_540B",
    "Language.OPT_13B",
]
PAR_MOE = ["Language.Mixtral_8x7B", "Language.DeepSeek_V3", "Language.GPT4"]
PAR_CNN = ["Vision.ResNet50", "Vision.MobileNetV2"]
PAR_BATCHES = [8, 16, 32, 64, 100, 128, 256, 512, 1000, 1024, 2048, 4096, 8192]
PAR_SEQ = [512, 1024, 2048, 4096, 8192]
PAR_PRECISIONS = ["fp16", "bf16", "fp8", "fp32"]
PAR_EFFICIENCY = [0.5, 0.3, 0.7, 1.0]
PAR_MAX_TP = [None, 1, 2, 4, 16]
PAR_MAX_PP = [None, 1, 4, 16, 64]


def build_parallelism(ctx, n_sampled):
    from mlsysim.solvers import ParallelismOptimizer

    rec = _recorder(ctx, "ParallelismOptimizer", PARALLELISM_UNITS, ParallelismOptimizer(), parallelism_view)
    r256, lab = "Clusters.Research_256", "Clusters.Lab_64_H100"
    l8, l70, l405 = "Language.Llama3_8B", "Language.Llama3_70B", "Language.Llama3_405B"
    # 1. The spec's examples (part 2 §15, §20; P10).
    rec.add({"model": l70, "fleet": r256, "batch_size": 256})
    rec.add({"model": l8, "fleet": r256, "batch_size": 512, "overlap_comm": False})
    rec.add({"model": l405, "fleet": lab, "batch_size": 64})
    rec.add({"model": l405, "fleet": lab, "batch_size": 64, "activation_recomputation": True})
    rec.add({"model": "Vision.ResNet50", "fleet": r256, "batch_size": 4096})  # P10(c)
    rec.add({"model": l8, "fleet": r256, "batch_size": 8})  # P10(d)
    rec.add({"model": l8, "fleet": r256, "batch_size": 256})  # P10(b)
    # 2. Every model on two clusters, every cluster with two models.
    models = PAR_DENSE + PAR_MOE + PAR_CNN
    for model in models:
        for fleet, batch in [(r256, 256), ("Clusters.Training_1K", 1024)]:
            rec.add({"model": model, "fleet": fleet, "batch_size": batch})
    clusters = sorted(ctx.clusters)
    for fleet in clusters:
        for model in (l8, l70):
            rec.add({"model": model, "fleet": fleet, "batch_size": 1024})
    # 3. overlap × recomputation × seq_len on the spec's two examples.
    for model, batch in [(l70, 256), (l8, 512)]:
        for overlap in (True, False):
            for recompute in (False, True):
                for seq in (512, 2048, 8192):
                    rec.add(
                        {
                            "model": model,
                            "fleet": r256,
                            "batch_size": batch,
                            "overlap_comm": overlap,
                            "activation_recomputation": recompute,
                            "seq_len": seq,
                        }
                    )
    # 4. Seeded sample of the cross product.
    rng = random.Random(60)
    nm, nf, nb = base.Cycler(models, rng), base.Cycler(clusters, rng), base.Cycler(PAR_BATCHES, rng)
    ns, np_ = base.Cycler(PAR_SEQ, rng), base.Cycler(PAR_PRECISIONS, rng)
    added = 0
    while added < n_sampled:
        inputs = {"model": nm(), "fleet": nf(), "batch_size": nb()}
        for key, draw, p in [
            ("overlap_comm", lambda: rng.random() < 0.5, 0.6),
            ("activation_recomputation", lambda: rng.random() < 0.5, 0.6),
            ("seq_len", ns, 0.6),
            ("precision", np_, 0.4),
            ("efficiency", lambda: rng.choice(PAR_EFFICIENCY), 0.3),
            ("max_tp", lambda: rng.choice(PAR_MAX_TP), 0.15),
            ("max_pp", lambda: rng.choice(PAR_MAX_PP), 0.15),
        ]:
            if rng.random() < p:
                inputs[key] = draw()
        added += rec.add(inputs)

    ok = _ok(rec)
    _require(len(rec.cases) >= 300, f"ParallelismOptimizer has {len(rec.cases)} cases")
    _covered(rec, "model", models, None)
    _covered(rec, "fleet", clusters, None)
    _covered(rec, "batch_size", PAR_BATCHES, None)
    _covered(rec, "overlap_comm", [True, False], True)
    _covered(rec, "activation_recomputation", [True, False], False)
    _covered(rec, "seq_len", PAR_SEQ, 2048)
    _covered(rec, "precision", PAR_PRECISIONS, "fp16")
    _require(sum("raises" in c for c in rec.cases) >= 5, "ParallelismOptimizer: too few error cases")
    _require(any(c["outputs"]["pp"] > 1 and c["outputs"]["tp"] > 1 for c in ok), "no 3D winner")
    return rec


# --------------------------------------------------------------------------
# BatchingOptimizer
# --------------------------------------------------------------------------

BAT_MODELS = [
    "Language.Llama3_8B",
    "Language.Llama3_70B",
    "Language.Llama2_7B",
    "Language.Llama2_13B",
    "Language.Llama2_70B",
    "Language.GPT2",
    "Language.GPT2_Small",
    "Language.BERT_Base",
    "Language.OPT_13B",
    "Language.Mixtral_8x7B",
    "Language.DeepSeek_V3",
    "Language.GPT3",
]
BAT_HARDWARE = [
    "Cloud.H100",
    "Cloud.A100",
    "Cloud.H200",
    "Cloud.B200",
    "Cloud.MI300X",
    "Cloud.T4",
    "Cloud.V100",
    "Cloud.A100_40GB",
    "Cloud.TPUv5p",
    "Cloud.Gaudi3",
    "Workstation.DGX_Spark",
    "Edge.JetsonAGXOrin",
]
BAT_SEQ = [64, 128, 256, 512, 1024, 2048]
BAT_SLA = [200.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0, 60000.0]
BAT_RATE = [0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 0.0]
BAT_REPLICAS = [1, 2, 4, 8]
BAT_PRECISIONS = ["fp16", "bf16", "fp8", "int8", "fp32"]
BAT_MAX = [256, 64, 32, 16, 128, 8, 1]


def build_batching(ctx, n_sampled):
    from mlsysim.solvers import BatchingOptimizer

    rec = _recorder(ctx, "BatchingOptimizer", BATCHING_UNITS, BatchingOptimizer(), batching_view)
    l8, h100 = "Language.Llama3_8B", "Cloud.H100"

    def case(model, hw, seq, sla, rate, **kw):
        return {"model": model, "hardware": hw, "seq_len": seq, "sla_latency_ms": sla, "arrival_rate_qps": rate, **kw}

    # 1. The spec's examples (part 2 §16, §20; P11).
    rec.add(case(l8, h100, 512, 20000.0, 10.0))
    rec.add(case(l8, h100, 512, 10000.0, 0.5))
    rec.add(case(l8, h100, 128, 2000.0, 1.0))
    rec.add(case(l8, h100, 512, 10000.0, 0.0))  # qps 0 (P11)
    rec.add(case(l8, h100, 512, 10000.0, 0.5, max_search_batch=0))  # empty search (P11)
    rec.add(case("Vision.ResNet50", h100, 512, 10000.0, 0.5, max_search_batch=16))
    rec.add(case(l8, h100, 512, 10000.0, 0.5, max_search_batch=16, precision="banana"))
    rec.add(case(l8, h100, 512, 10000.0, 0.5, max_search_batch=16, efficiency=0.0))
    # 2. Every model and every device at the default search range.
    for model in BAT_MODELS:
        rec.add(case(model, h100, 512, 10000.0, 0.5))
    for hw in BAT_HARDWARE:
        rec.add(case(l8, hw, 256, 5000.0, 1.0, max_search_batch=64))
    # A mixture-of-experts model on devices it fits (DECISIONS D1 moves its prefill time).
    for hw in ("Cloud.MI300X", "Cloud.H200", "Cloud.B200"):
        for seq in (128, 512):
            for sla, rate in [(2000.0, 0.5), (8000.0, 0.2), (15000.0, 1.0), (20000.0, 0.2)]:
                rec.add(case("Language.Mixtral_8x7B", hw, seq, sla, rate))
    # 3. Seeded sample: models × hardware × seq_len × SLA × rate (× replicas, precision, range).
    rng = random.Random(61)
    nm, nh = base.Cycler(BAT_MODELS, rng), base.Cycler(BAT_HARDWARE, rng)
    ns, nsla, nr = base.Cycler(BAT_SEQ, rng), base.Cycler(BAT_SLA, rng), base.Cycler(BAT_RATE, rng)
    nmax = base.Cycler(BAT_MAX[1:] * 3 + BAT_MAX[:1], rng)
    added = 0
    while added < n_sampled:
        inputs = case(nm(), nh(), ns(), nsla(), nr(), max_search_batch=nmax())
        for key, draw, p in [
            ("num_replicas", lambda: rng.choice(BAT_REPLICAS), 0.4),
            ("precision", lambda: rng.choice(BAT_PRECISIONS), 0.35),
            ("efficiency", lambda: rng.choice([0.3, 0.5, 0.8, 1.0]), 0.25),
        ]:
            if rng.random() < p:
                inputs[key] = draw()
        added += rec.add(inputs)

    ok = _ok(rec)
    _require(len(rec.cases) >= 300, f"BatchingOptimizer has {len(rec.cases)} cases")
    for key, values, default in [
        ("model", BAT_MODELS, None),
        ("hardware", BAT_HARDWARE, None),
        ("seq_len", BAT_SEQ, None),
        ("sla_latency_ms", BAT_SLA, None),
        ("arrival_rate_qps", BAT_RATE, None),
        ("num_replicas", BAT_REPLICAS, 1),
        ("precision", BAT_PRECISIONS, "fp16"),
        ("max_search_batch", BAT_MAX, 256),
    ]:
        _covered(rec, key, values, default)
    feasible = [c for c in ok if c["outputs"]["is_feasible"]]
    _require(len(feasible) >= 100, f"only {len(feasible)} feasible batching cases")
    _require(len(ok) - len(feasible) >= 30, "too few infeasible batching cases")
    _require(
        any(0 < c["outputs"]["best_batch_size"] < c["inputs"].get("max_search_batch", 256) for c in feasible),
        "no interior optimum",
    )
    _require(sum(c["inputs"]["model"] == "Language.Mixtral_8x7B" for c in feasible) >= 8, "too few feasible MoE cases")
    return rec


# --------------------------------------------------------------------------
# PlacementOptimizer
# --------------------------------------------------------------------------

PLA_DURATIONS = [30, 365, 1, 7, 0.5, 90, 1000, 3650, 0]
PLA_TAX = [None, 0.0, 50.0, 100.0, 185.0, 1000.0, 0.5]
PLA_MFU = [None, 0.0, 0.4, 0.75, 1.0]


def _region_lists(grids, rng):
    """Region lists: the default, every grid, subsets in several orders, ties, single regions."""
    lists = [
        None,
        list(grids),
        list(reversed(grids)),
        ["US_Avg", "Quebec", "Iowa"],
        ["US_Avg", "Quebec", "Norway", "Poland"],
        ["Iowa", "Texas", "US_Avg"],
        ["Texas", "US_Avg", "Iowa"],
        ["Quebec", "Norway"],
        ["Norway", "Quebec"],
        ["France", "Germany", "EU_Avg"],
        ["China_Avg", "India_Avg", "Poland"],
    ]
    lists += [[g] for g in grids]
    for _ in range(12):
        lists.append(rng.sample(grids, rng.randint(2, len(grids) - 1)))
    return lists


def build_placement(ctx, n_sampled):
    from mlsysim.solvers import PlacementOptimizer

    rec = _recorder(ctx, "PlacementOptimizer", PLACEMENT_UNITS, PlacementOptimizer(), placement_view)
    r256 = "Clusters.Research_256"
    grids = ctx.grids
    # 1. The spec's examples (part 2 §17, §20; P13).
    rec.add({"fleet": r256, "duration_days": 30})
    rec.add({"fleet": r256, "duration_days": 365, "regions": ["US_Avg", "Quebec", "Norway", "Poland"]})
    rec.add({"fleet": r256, "duration_days": 30, "regions": list(grids)})
    rec.add({"fleet": r256, "duration_days": 30, "carbon_tax_per_ton": 0.0, "regions": ["US_Avg", "Iowa", "Texas"]})
    # Errors and the reference's silent skips (P13).
    for regions in (["list"], ["quebec"], [], ["Atlantis"], ["quebec", "Quebec", "Iowa"], ["Atlantis", "US_Avg"]):
        rec.add({"fleet": r256, "duration_days": 30, "regions": regions})
    for mfu in (1.5, -0.1):
        rec.add({"fleet": r256, "duration_days": 30, "mfu": mfu})
    rec.add({"fleet": r256, "duration_days": -5})
    rec.add({"fleet": r256, "duration_days": 30, "carbon_tax_per_ton": -100.0})
    # 2. Every cluster with the defaults and with every region.
    clusters = sorted(ctx.clusters)
    for fleet in clusters:
        rec.add({"fleet": fleet, "duration_days": 30})
        rec.add({"fleet": fleet, "duration_days": 365, "regions": list(grids)})
    # 3. Seeded sample: clusters × durations × carbon price × region lists (× mfu).
    rng = random.Random(62)
    lists = _region_lists(grids, rng)
    nf, nd, nt = base.Cycler(clusters, rng), base.Cycler(PLA_DURATIONS, rng), base.Cycler(PLA_TAX, rng)
    nl, nu = base.Cycler(lists, rng), base.Cycler(PLA_MFU, rng)
    added = 0
    while added < n_sampled:
        inputs = {"fleet": nf(), "duration_days": nd()}
        for key, value in [("carbon_tax_per_ton", nt()), ("regions", nl()), ("mfu", nu())]:
            if value is not None or (key == "regions" and rng.random() < 0.2):  # regions=None: the default
                inputs[key] = value
        added += rec.add(inputs)

    _require(len(rec.cases) >= 300, f"PlacementOptimizer has {len(rec.cases)} cases")
    for key, values, default in [
        ("fleet", clusters, None),
        ("duration_days", PLA_DURATIONS, None),
        ("carbon_tax_per_ton", [v for v in PLA_TAX if v is not None], 100.0),
        ("mfu", [v for v in PLA_MFU if v is not None], 1.0),
    ]:
        _covered(rec, key, values, default)
    winners = {c["outputs"]["best_region"] for c in _ok(rec)}
    _require(len(winners) >= 6, f"only {len(winners)} distinct winning regions")
    return rec


# --------------------------------------------------------------------------
# Spot checks against the spec's published numbers (part 2 §20)
# --------------------------------------------------------------------------


def _expect(rec, inputs, **want):
    case = next(c for c in rec.cases if c["inputs"] == inputs)
    for key, value in want.items():
        got = case["outputs"][key] if key != "raises" else case.get("raises")
        ok = abs(got - value) <= 1e-9 * abs(value) if isinstance(value, float) else got == value
        _require(ok, f"{rec.resolver} {inputs}: {key} = {got!r}, the spec says {value!r}")


def check_examples(par, bat, pla):
    r256 = "Clusters.Research_256"
    _expect(
        par,
        {"model": "Language.Llama3_70B", "fleet": r256, "batch_size": 256},
        objective_value=0.3802390438575889,
        tp=8.0,
        pp=16.0,
        dp=2.0,
        total_searched=14.0,
        best_throughput=110.81814440967565,
        best_step_time=2.3100910177092655,
    )
    _expect(
        par,
        {"model": "Language.Llama3_8B", "fleet": r256, "batch_size": 512, "overlap_comm": False},
        objective_value=0.38771356664239354,
        tp=4.0,
        pp=32.0,
        dp=2.0,
        total_searched=29.0,
    )
    _expect(
        par, {"model": "Language.Llama3_405B", "fleet": "Clusters.Lab_64_H100", "batch_size": 64}, raises="ValueError"
    )
    _expect(par, {"model": "Vision.ResNet50", "fleet": r256, "batch_size": 4096}, tp=1.0, pp=256.0, dp=1.0)
    _expect(par, {"model": "Language.Llama3_8B", "fleet": r256, "batch_size": 8}, dp=128.0)
    l8 = {"model": "Language.Llama3_8B", "hardware": "Cloud.H100"}
    _expect(
        bat,
        {**l8, "seq_len": 512, "sla_latency_ms": 20000.0, "arrival_rate_qps": 10.0},
        is_feasible=False,
        best_batch_size=0.0,
        total_searched=256.0,
    )
    _expect(
        bat,
        {**l8, "seq_len": 512, "sla_latency_ms": 10000.0, "arrival_rate_qps": 0.5},
        best_batch_size=70.0,
        max_throughput=256.0,
        p99_latency=9.993700087990157,
        slo_headroom_ratio=0.2422188759049041,
    )
    _expect(
        bat,
        {**l8, "seq_len": 128, "sla_latency_ms": 2000.0, "arrival_rate_qps": 1.0},
        best_batch_size=256.0,
        max_throughput=128.0,
        p99_latency=1.8873735168185658,
    )
    _expect(
        pla,
        {"fleet": r256, "duration_days": 30},
        objective_value=218329.21929643836,
        best_region="Quebec",
        lowest_tco=218055.68841643835,
        carbon_footprint=2.7353088000000003,
        total_searched=3.0,
        cand3_region="Iowa",
    )
    _expect(
        pla,
        {"fleet": r256, "duration_days": 365, "regions": ["US_Avg", "Quebec", "Norway", "Poland"]},
        objective_value=2654674.8552533337,
        best_region="Norway",
        cand4_region="Poland",
    )
    _expect(pla, {"fleet": r256, "duration_days": 30, "regions": ["list"]}, raises="AttributeError")


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def build(base):  # noqa: F811 - the driver passes its own module
    import warnings

    warnings.simplefilter("ignore")
    ctx = Context()
    if ctx.version != base.REF_VERSION:
        raise SystemExit(f"expected mlsysim {base.REF_VERSION}, got {ctx.version}")
    base.DATA_DIR.mkdir(parents=True, exist_ok=True)
    recs = {}
    for key, make, n in [
        ("parallelism", build_parallelism, 300),
        ("batching", build_batching, 300),
        ("placement", build_placement, 600),
    ]:
        t = time.perf_counter()
        recs[key] = make(ctx, n)
        print(f"[parity]   {recs[key].resolver}: {len(recs[key].cases)} cases in {time.perf_counter() - t:.1f} s")
    check_examples(recs["parallelism"], recs["batching"], recs["placement"])
    for key, rec in recs.items():
        base._write(rec, f"parity_{key}.json")


if __name__ == "__main__":
    base._bootstrap()
    build(base)
