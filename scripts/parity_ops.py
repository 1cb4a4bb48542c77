#!/usr/bin/env python3
"""Parity fixtures of the operations resolvers of mlsysim 0.3.0 (plugin of
``make_parity_fixtures.py``).

Writes one file per resolver, each recorded from the reference's public API
(``mlsysim.solvers.X().solve``):

    tests/data/parity_data.json            DataModel
    tests/data/parity_transformation.json  TransformationModel
    tests/data/parity_scaling.json         ScalingModel
    tests/data/parity_compression.json     CompressionModel
    tests/data/parity_economics.json       EconomicsModel
    tests/data/parity_sustainability.json  SustainabilityModel
    tests/data/parity_responsible.json     ResponsibleEngineeringModel

Usage: ``python scripts/make_parity_fixtures.py`` runs it with the others;
``python scripts/parity_ops.py`` runs it alone (same bootstrap; set
``MLSYSIM_REF_PYTHON`` to an interpreter that has mlsysim 0.3.0 to skip the venv).

Input encoding (keywords are the reference's own ``solve`` keywords; only the
arguments passed explicitly are recorded, the rest took the reference default):

* registry records are ``"Family.key"`` strings: ``"Clusters.Research_256"``
  (``Systems.Clusters``), ``"Datacenters.Quebec_Hydro"``, ``"Grids.Quebec"``
  (``Infrastructure.*``), ``"Cloud.H100"`` (``Hardware.*``),
  ``"Language.Llama3_8B"`` (``Models.*``); ``null`` is an explicit ``None``;
* a keyword the reference takes as a float or int is a plain JSON number, in the
  unit the document's ``input_units`` gives (``"duration_days": 30`` is 30 days);
* a keyword the reference takes as a pint Quantity (listed in the document's
  ``quantity_inputs``) is ``{"value": 5.0, "unit": "GB/s"}``, passed as
  ``Q_(value, unit)``; a plain number under such a keyword is a bare float passed
  as is (an error case: the reference raises ``AttributeError``);
* strings (``method``, ``sparsity_type``, ``baseline_precision``) are passed verbatim.

Outputs are the reference's result fields, converted to the unit of the
document's ``units`` map (SI: s, byte, byte/s, J, flop, kg, L, USD; kWh becomes
J); an infinite output is JSON ``Infinity`` (the shared writer's convention).
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import make_parity_fixtures as base  # noqa: E402

OMIT = "<omit>"  # choice value meaning "argument not passed"


def q(value, unit):
    """JSON form of a Quantity input."""
    return {"value": value, "unit": unit}


# --------------------------------------------------------------------------
# Units maps (output field -> unit of the recorded value)
# --------------------------------------------------------------------------

D = base.DIMLESS
UNITS = {
    "sustainability": {
        "it_energy_kwh": "J",
        "total_energy_kwh": "J",
        "carbon_footprint_kg": "kg",
        "water_usage_liters": "L",
        "pue": D,
        "region_name": None,
        "embodied_carbon_kg": "kg",
    },
    "economics": {
        "capex_usd": "USD",
        "opex_energy_usd": "USD",
        "opex_maintenance_usd": "USD",
        "total_opex_usd": "USD",
        "tco_usd": "USD",
        "it_energy_kwh": "J",
        "total_energy_kwh": "J",
        "carbon_footprint_kg": "kg",
        "water_usage_liters": "L",
        "pue": D,
        "region_name": None,
    },
    "data": {
        "is_stalled": None,
        "utilization": D,
        "demand_bw": "byte/s",
        "supply_bw": "byte/s",
        "bottleneck": None,
        "margin": "byte/s",
    },
    "transformation": {
        "transform_time": "s",
        "accelerator_step_time": "s",
        "is_bottleneck": None,
        "accelerator_utilization": D,
        "slowdown_factor": D,
    },
    "scaling": {
        "optimal_parameters": D,
        "optimal_tokens": D,
        "compute_budget_flops": "flop",
        "tokens_per_parameter": D,
    },
    "compression": {
        "baseline_precision": None,
        "original_size_gb": "byte",
        "compressed_size_gb": "byte",
        "compression_ratio": D,
        "estimated_accuracy_delta": D,
        "memory_savings_pct": "percent",
        "inference_speedup": D,
    },
    "responsible": {
        "dp_slowdown_factor": D,
        "effective_training_time": "s",
        "additional_data_requirement": D,
        "epsilon": D,
        "delta": D,
        "min_subgroup_prevalence": D,
        "privacy_cost_ratio": D,
        "fairness_data_ratio": D,
    },
}


# --------------------------------------------------------------------------
# Recorder with the input-encoding metadata, and the argument resolver
# --------------------------------------------------------------------------


def _recorder(base, resolver, units, call, input_units, quantity_inputs, notes):
    """A ``base.Recorder`` whose document also states how inputs are encoded."""

    class OpsRecorder(base.Recorder):
        def document(self):
            doc = super().document()
            doc["input_units"] = dict(input_units)
            doc["quantity_inputs"] = list(quantity_inputs)
            doc["notes"] = list(notes)
            return doc

    return OpsRecorder(resolver, units, call)


def _args(inputs, records, Q_):
    """Keyword arguments of one ``solve`` call from the JSON inputs: ``{"value", "unit"}``
    becomes ``Q_(value, unit)``; a string under a record keyword (``records[keyword]``)
    becomes that registry record; everything else is passed as is."""
    kwargs = {}
    for key, value in inputs.items():
        if isinstance(value, dict):
            value = Q_(value["value"], value["unit"])
        elif isinstance(value, str) and key in records:
            value = records[key][value]
        kwargs[key] = value
    return kwargs


def _put(inputs, key, value):
    if value != OMIT:
        inputs[key] = value
    return inputs


def _ok(rec):
    return [c["inputs"] for c in rec.cases if "outputs" in c]


def _covered(rec, key, values):
    """Every value of ``values`` (``OMIT``: the argument left out) occurs under ``key`` in
    the cases that returned a result."""
    seen = {repr(i.get(key, OMIT)) for i in _ok(rec)}
    missing = [v for v in values if repr(v) not in seen]
    assert not missing, (rec.resolver, key, missing)


def _errors(rec):
    return [c for c in rec.cases if "raises" in c]


# --------------------------------------------------------------------------
# SustainabilityModel / EconomicsModel
# --------------------------------------------------------------------------

DURATIONS = [30, 0, 0.5, 1, 7, 90, 365, 1000.25, 3650, 1e-3, -5, -0.5]
MFUS = [0, 0.4, 1]
BAD_MFUS = [-0.1, 1.1, 2.0, -1e-9, 1.000001]
EMBODIED = [0, 164.0, 1000.5]
KWH_PRICES = [None, 0.05, 0.2]
AMORTIZATION = [1, 3, 5]
INFRA = [1.0, 2.0, 2.5]


def build_sustainability(base, reg, SustainabilityModel, Q_, n_sampled):
    sm = SustainabilityModel()
    records = {"fleet": reg["clusters"], "datacenter": {**reg["datacenters"], **reg["grids"]}}
    rec = _recorder(
        base,
        "SustainabilityModel",
        UNITS["sustainability"],
        lambda inputs: sm.solve(**_args(inputs, records, Q_)),
        input_units={"duration_days": "day", "mfu": D, "embodied_carbon_per_device": "kg"},
        quantity_inputs=[],
        notes=[
            "datacenter is a Datacenters record, a Grids record (the reference accepts a "
            "bare GridProfile there), null, or omitted"
        ],
    )
    clusters = sorted(reg["clusters"])
    dcs = [OMIT, None, *sorted(reg["datacenters"]), *sorted(reg["grids"])]

    # Spec examples (S3 §8.1, B14).
    rec.add({"fleet": "Clusters.Research_256", "duration_days": 30})
    rec.add({"fleet": "Clusters.Research_256", "duration_days": -5})

    # Every cluster x every datacenter option, the other arguments cycled.
    rng = random.Random(10)
    next_days, next_mfu = base.Cycler(DURATIONS, rng), base.Cycler([OMIT, *MFUS], rng)
    next_emb = base.Cycler([OMIT, *EMBODIED], rng)
    for fleet in clusters:
        for dc in dcs:
            inputs = _put({"fleet": fleet, "duration_days": next_days()}, "datacenter", dc)
            _put(inputs, "mfu", next_mfu())
            rec.add(_put(inputs, "embodied_carbon_per_device", next_emb()))

    # Seeded sample of the cross product.
    next_fleet, next_dc = base.Cycler(clusters, rng), base.Cycler(dcs, rng)
    added = 0
    while added < n_sampled:
        inputs = _put({"fleet": next_fleet(), "duration_days": next_days()}, "datacenter", next_dc())
        _put(inputs, "mfu", next_mfu())
        added += rec.add(_put(inputs, "embodied_carbon_per_device", next_emb()))

    # Errors: mfu outside [0, 1], negative embodied carbon, both at once.
    for i, fleet in enumerate(clusters):
        rec.add({"fleet": fleet, "duration_days": DURATIONS[i % len(DURATIONS)], "mfu": BAD_MFUS[i % len(BAD_MFUS)]})
        rec.add(
            {
                "fleet": fleet,
                "duration_days": 30,
                "datacenter": dcs[2 + i % (len(dcs) - 2)],
                "embodied_carbon_per_device": -1.0 if i % 2 else -1e-9,
            }
        )
    for mfu in BAD_MFUS:
        rec.add({"fleet": "Clusters.Research_256", "duration_days": -5, "mfu": mfu, "embodied_carbon_per_device": -1.0})

    _covered(rec, "fleet", clusters)
    _covered(rec, "datacenter", dcs)
    _covered(rec, "duration_days", DURATIONS)
    _covered(rec, "mfu", [OMIT, *MFUS])
    _covered(rec, "embodied_carbon_per_device", [OMIT, *EMBODIED])
    errs = _errors(rec)
    assert {c["raises"] for c in errs} == {"ValueError"}, {c["raises"] for c in errs}
    assert len(errs) >= 40 and len(rec.cases) >= 1000, (len(errs), len(rec.cases))
    return rec


def build_economics(base, reg, EconomicsModel, Q_, n_sampled):
    em = EconomicsModel()
    records = {"fleet": reg["clusters"], "datacenter": reg["datacenters"], "grid": reg["grids"]}
    rec = _recorder(
        base,
        "EconomicsModel",
        UNITS["economics"],
        lambda inputs: em.solve(**_args(inputs, records, Q_)),
        input_units={
            "duration_days": "day",
            "kwh_price": "USD/kWh",
            "mfu": D,
            "amortization_years": "year",
            "infrastructure_multiplier": D,
        },
        quantity_inputs=[],
        notes=[
            "amortization_years is a plain float; the reference prorates with duration_days/365 (a 365-day year)",
            "kwh_price given as {'value','unit'} is a pint Quantity passed to the reference "
            "(which takes a float and raises)",
        ],
    )
    clusters = sorted(reg["clusters"])
    dcs = [OMIT, None, *sorted(reg["datacenters"])]
    grids = [OMIT, None, *sorted(reg["grids"])]
    mfus = [OMIT, *MFUS]
    prices = [OMIT, *KWH_PRICES, 0.12, 0.0]
    amort = [OMIT, *AMORTIZATION, 0.5, 10, -1]
    infra = [OMIT, *INFRA, 0.0, -1.0]

    # Spec examples: S3 §8.2 (Research_256, 30 days, defaults) and the EconomicsModel
    # calls behind part-2 §20 PlacementOptimizer (grid = each region).
    rec.add({"fleet": "Clusters.Research_256", "duration_days": 30})
    for days, regions in [(30, ["US_Avg", "Quebec", "Iowa"]), (365, ["US_Avg", "Quebec", "Norway", "Poland"])]:
        for region in regions:
            rec.add({"fleet": "Clusters.Research_256", "duration_days": days, "grid": f"Grids.{region}"})

    rng = random.Random(11)
    next_days = base.Cycler(DURATIONS, rng)
    next_mfu, next_price = base.Cycler(mfus, rng), base.Cycler(prices, rng)
    next_amort, next_infra = base.Cycler(amort, rng), base.Cycler(infra, rng)

    def fill(inputs):
        for key, nxt in [
            ("mfu", next_mfu),
            ("kwh_price", next_price),
            ("amortization_years", next_amort),
            ("infrastructure_multiplier", next_infra),
        ]:
            _put(inputs, key, nxt())
        return inputs

    # Every cluster x every datacenter option, and x every grid option.
    for fleet in clusters:
        for dc in dcs:
            rec.add(fill(_put({"fleet": fleet, "duration_days": next_days()}, "datacenter", dc)))
        for grid in grids:
            rec.add(fill(_put({"fleet": fleet, "duration_days": next_days()}, "grid", grid)))

    # Seeded sample of the cross product (datacenter and grid together included).
    next_fleet = base.Cycler(clusters, rng)
    next_dc, next_grid = base.Cycler(dcs, rng), base.Cycler(grids, rng)
    added = 0
    while added < n_sampled:
        inputs = _put({"fleet": next_fleet(), "duration_days": next_days()}, "datacenter", next_dc())
        added += rec.add(fill(_put(inputs, "grid", next_grid())))

    # Errors: amortization_years = 0 (every cluster), mfu outside [0, 1], a Quantity price,
    # and the precedence of two errors in one call.
    for i, fleet in enumerate(clusters):
        rec.add(
            {"fleet": fleet, "duration_days": DURATIONS[i % len(DURATIONS)], "amortization_years": 0 if i % 2 else 0.0}
        )
        rec.add(
            {
                "fleet": fleet,
                "duration_days": 30,
                "grid": grids[2 + i % (len(grids) - 2)],
                "mfu": BAD_MFUS[i % len(BAD_MFUS)],
            }
        )
    for price in [q(0.05, "USD/kWh"), q(0.2, "USD/kWh")]:
        rec.add({"fleet": "Clusters.Research_256", "duration_days": 30, "kwh_price": price})
    rec.add({"fleet": "Clusters.Research_256", "duration_days": 30, "mfu": 1.5, "amortization_years": 0})
    rec.add({"fleet": "Clusters.Research_256", "duration_days": 0, "amortization_years": 0})

    _covered(rec, "fleet", clusters)
    _covered(rec, "datacenter", dcs)
    _covered(rec, "grid", grids)
    _covered(rec, "duration_days", DURATIONS)
    _covered(rec, "mfu", mfus)
    _covered(rec, "kwh_price", prices)
    _covered(rec, "amortization_years", amort)
    _covered(rec, "infrastructure_multiplier", infra)
    both = [i for i in _ok(rec) if i.get("datacenter") and i.get("grid")]
    assert len(both) >= 100, len(both)
    errs = _errors(rec)
    assert {c["raises"] for c in errs} >= {"ValueError", "ZeroDivisionError"}, errs[:3]
    assert len(errs) >= 40 and len(rec.cases) >= 1000, (len(errs), len(rec.cases))
    return rec


# --------------------------------------------------------------------------
# DataModel / TransformationModel
# --------------------------------------------------------------------------

DATA_RATES = [
    q(5.0, "GB/s"),
    q(19, "TB/hour"),
    q(20.0, "GB/s"),
    q(100, "Gbit/s"),
    q(1e9, "bit/s"),
    q(500, "MB/s"),
    q(2, "GiB/s"),
    q(64, "GB/s"),
    q(7.0, "GB/s"),
    q(12.5, "GB/s"),
    q(1.2, "TB/s"),
    q(1, "PB/day"),
    q(0.001, "GB/s"),
    q(0.0, "GB/s"),
    q(-5.0, "GB/s"),
    q(5, "1/s"),
    q(3000, "USD/s"),
]


def build_data(base, reg, DataModel, Q_):
    dm = DataModel()
    records = {"hardware": reg["hardware"]}
    rec = _recorder(
        base,
        "DataModel",
        UNITS["data"],
        lambda inputs: dm.solve(**_args(inputs, records, Q_)),
        input_units={},
        quantity_inputs=["workload_data_rate"],
        notes=[
            "'1/s' and 'USD/s' rates are dimensionless in the reference's registry and "
            "convert to byte/s silently (part-2 P12)"
        ],
    )
    hardware = sorted(reg["hardware"])
    for hw in hardware:
        for rate in DATA_RATES:
            rec.add({"workload_data_rate": rate, "hardware": hw})
    for hw in ["Cloud.H100", "Edge.JetsonOrinNX"]:
        rec.add({"workload_data_rate": 5.0, "hardware": hw})  # bare float

    _covered(rec, "hardware", hardware)
    bottlenecks = {c["outputs"]["bottleneck"] for c in rec.cases if "outputs" in c}
    assert bottlenecks == {"Storage", "Interconnect", "Unknown"}, bottlenecks
    assert len(rec.cases) >= 300
    return rec


def build_transformation(base, TransformationModel, Q_, n_sampled):
    tm = TransformationModel()
    rec = _recorder(
        base,
        "TransformationModel",
        UNITS["transformation"],
        lambda inputs: tm.solve(**_args(inputs, {}, Q_)),
        input_units={"batch_size": D},
        quantity_inputs=["sample_size_bytes", "cpu_throughput", "accelerator_step_time"],
        notes=["batch_size is a plain number of samples (the reference does not validate it)"],
    )

    def case(b, s, c, t):
        return {"batch_size": b, "sample_size_bytes": s, "cpu_throughput": c, "accelerator_step_time": t}

    # Spec examples (part-2 §5, §20.1) and the §20.2 edge probes.
    rec.add(case(256, q(500, "KB"), q(2, "GB/s"), q(50, "ms")))
    rec.add(case(64, q(150, "KB"), q(4, "GB/s"), q(20, "ms")))
    rec.add(case(256, q(500, "KB"), q(2, "GB/s"), q(0, "ms")))
    rec.add(case(-1, q(500, "KB"), q(2, "GB/s"), q(50, "ms")))
    rec.add(case(0, q(500, "KB"), q(2, "GB/s"), q(0, "ms")))
    rec.add(case(256, q(500, "KB"), q(0, "GB/s"), q(50, "ms")))

    batches = [1, 8, 32, 64, 256, 1024, 0, -1]
    sizes = [
        q(500, "KB"),
        q(150, "kB"),
        q(1, "MB"),
        q(150528, "byte"),
        q(4, "KiB"),
        q(1, "GB"),
        q(0, "byte"),
        q(8, "bit"),
        q(1000, "count"),
    ]
    cpus = [q(2, "GB/s"), q(4, "GB/s"), q(500, "MB/s"), q(10, "Gbit/s"), q(1, "GiB/s")]
    steps = [q(50, "ms"), q(20, "ms"), q(0.1, "s"), q(500, "us"), q(0, "ms"), q(-50, "ms")]
    rng = random.Random(12)
    nb, ns = base.Cycler(batches, rng), base.Cycler(sizes, rng)
    nc, nt = base.Cycler(cpus, rng), base.Cycler(steps, rng)
    added = 0
    while added < n_sampled:
        added += rec.add(case(nb(), ns(), nc(), nt()))
    # The strict comparison T_x > T_a at equality: 256 x 500 KB / 2 GB/s = 64 ms.
    for t in [q(64, "ms"), q(0.064, "s"), q(64.000001, "ms"), q(63.999999, "ms")]:
        rec.add(case(256, q(500, "KB"), q(2, "GB/s"), t))
    # Errors: zero CPU throughput (ZeroDivisionError whatever the rest), bare floats.
    for t in steps:
        rec.add(case(256, q(500, "KB"), q(0, "GB/s"), t))
    rec.add(case(0, q(500, "KB"), q(0, "GB/s"), q(50, "ms")))
    rec.add(case(256, q(0, "byte"), q(0.0, "MB/s"), q(50, "ms")))
    for bad in ["sample_size_bytes", "cpu_throughput", "accelerator_step_time"]:
        inputs = case(256, q(500, "KB"), q(2, "GB/s"), q(50, "ms"))
        inputs[bad] = 1.0  # bare float
        rec.add(inputs)

    for key, values in [
        ("batch_size", batches),
        ("sample_size_bytes", sizes),
        ("cpu_throughput", cpus),
        ("accelerator_step_time", steps),
    ]:
        _covered(rec, key, values)
    flags = {c["outputs"]["is_bottleneck"] for c in rec.cases if "outputs" in c}
    assert flags == {True, False}
    assert any(c.get("raises") == "ZeroDivisionError" for c in rec.cases)
    return rec


# --------------------------------------------------------------------------
# ScalingModel
# --------------------------------------------------------------------------

SCALING_BUDGETS = (
    [q(v, "flop") for v in [1e24, 0, 1e18, 1e20, 1e21, 5e21, 1e22, 6e22, 5.76e23, 2.5e24, 3.8e25, 1e26, 1.5]]
    + [
        q(1e12, "TFLOP"),
        q(1e6, "TFLOP"),
        q(1e9, "PFLOP"),
        q(1, "PFLOP"),
        q(1e6, "EFLOP"),
        q(1, "EFLOP"),
        q(1, "ZFLOP"),
        q(1e15, "GFLOP"),
        q(1, "PFLOP/s*day"),
        q(3640, "PFLOP/s*day"),
    ]
    + [
        q(1000, "day"),
        q(1, "day"),
        q(0, "day"),
        q(1, "hour"),
        q(1000, "hour"),
        q(1e6, "hour"),
        q(3600, "second"),
        q(10, "week"),
        q(1, "year"),
        q(60, "minute"),
        q(2.5, "day"),
        q(30, "day"),
        q(1e4, "hour"),
    ]
)
SCALING_TARGETS = [
    OMIT,
    None,
    q(70e9, "count"),
    q(7, "Bparam"),
    q(8e9, "param"),
    q(0, "count"),
    q(1, "count"),
    q(-70e9, "count"),
    q(1e30, "count"),
]
#: Ordinary budgets in plain FLOP over 1e18 ... 1e27 (about nine per decade), written as
#: decimal literals so the JSON value is the literal itself.
SCALING_FLOP_SWEEP = [
    float(f"{m}e{e}") for e in range(18, 27) for m in ["1", "1.25", "2", "2.5", "3.16", "4", "5", "6.3", "8"]
] + [1e27]
#: Ordinary pinned sizes (positive counts, in count, param and Bparam).
SCALING_PINNED = [q(v, "count") for v in [1e6, 1.25e8, 1.3e9, 7e9, 13e9, 70e9, 175e9, 405e9, 1e12]] + [
    q(1.5, "Bparam"),
    q(540, "Bparam"),
    q(3e8, "param"),
]
#: Ordinary accelerator-time budgets (H100 GPU-time in the reference).
SCALING_TIME_SWEEP = (
    [q(v, "hour") for v in [10, 100, 1e3, 1e5, 1e7]]
    + [q(v, "day") for v in [7, 90, 365, 3650]]
    + [q(v, "week") for v in [4, 52]]
)


def build_scaling(base, ScalingModel, Q_):
    sm = ScalingModel()
    rec = _recorder(
        base,
        "ScalingModel",
        UNITS["scaling"],
        lambda inputs: sm.solve(**_args(inputs, {}, Q_)),
        input_units={},
        quantity_inputs=["compute_budget", "target_model_size"],
        notes=[
            "raw reference results (part-2 P1): a FLOP budget's magnitude is used without "
            "unit conversion, so only budgets in 'flop' are correct; a time budget is H100 "
            "GPU-time at 989 TFLOP/s x 0.40; compute_budget_flops is the echoed budget "
            "converted to flop",
            "a zero target_model_size is treated as not given (truthiness)",
        ],
    )
    # Spec examples (part-2 §7, §20.1, §20.2) come first in the product below.
    for budget in SCALING_BUDGETS:
        for target in SCALING_TARGETS:
            rec.add(_put({"compute_budget": budget}, "target_model_size", target))
    # Errors: negative budgets (math domain error unless a target pins P), bare floats.
    for budget in [q(-1, "flop"), q(-1e24, "flop"), q(-10, "hour"), q(-1, "TFLOP")]:
        for target in [OMIT, q(70e9, "count")]:
            rec.add(_put({"compute_budget": budget}, "target_model_size", target))
    rec.add({"compute_budget": 1e24})
    rec.add({"compute_budget": q(1e24, "flop"), "target_model_size": 70e9})
    # Ordinary configurations: FLOP budgets over nine decades, compute-optimal and pinned
    # (every pinned size on two budgets per decade), and time budgets with and without a pin.
    for value in SCALING_FLOP_SWEEP:
        rec.add({"compute_budget": q(value, "flop")})
    for value in [float(f"{m}e{e}") for e in range(18, 27) for m in ["1", "3.16"]] + [1e27]:
        for target in SCALING_PINNED:
            rec.add({"compute_budget": q(value, "flop"), "target_model_size": target})
    for budget in SCALING_TIME_SWEEP:
        for target in [OMIT, q(8e9, "count")]:
            rec.add(_put({"compute_budget": budget}, "target_model_size", target))

    _covered(rec, "compute_budget", SCALING_BUDGETS)
    _covered(rec, "target_model_size", SCALING_TARGETS)
    _covered(rec, "compute_budget", [q(v, "flop") for v in SCALING_FLOP_SWEEP] + SCALING_TIME_SWEEP)
    _covered(rec, "target_model_size", SCALING_PINNED)
    kinds = {c["raises"] for c in _errors(rec)}
    assert kinds == {"ValueError", "AttributeError"}, kinds
    assert len(rec.cases) >= 300
    return rec


# --------------------------------------------------------------------------
# CompressionModel
# --------------------------------------------------------------------------

METHODS = ["quantization", "pruning", "Quantization", "Pruning", "distillation", ""]
BITWIDTHS = [8, 4, 1, 2, 3, 6, 16, 32, 64]
BASELINES = ["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "FP16", "BF16", "Int8"]
SPARSITIES = [0.0, 0.25, 0.5, 0.46, 0.54, 0.56, 0.75, 0.9, 1.0]
SPARSITY_TYPES = ["unstructured", "structured", "n_m", "2:4", "2_4", "nm", "N:M", "Structured"]


def build_compression(base, reg, CompressionModel, Q_, n_sampled):
    cm = CompressionModel()
    records = {"hardware": reg["hardware"], "model": reg["models"]}
    rec = _recorder(
        base,
        "CompressionModel",
        UNITS["compression"],
        lambda inputs: cm.solve(**_args(inputs, records, Q_)),
        input_units={"target_bitwidth": "bit", "sparsity": D},
        quantity_inputs=[],
        notes=[
            "method and sparsity_type are exact, case-sensitive strings in solve(): "
            "'Quantization', '2:4', 'nm' ... take the no-op / unstructured branches "
            "(part-2 P9f)",
            "memory_savings_pct is a percent (75.0 means 75 %)",
        ],
    )
    hardware, models = sorted(reg["hardware"]), sorted(reg["models"])

    # Spec examples (part-2 §9, §20.1, P9).
    rec.add({"model": "Language.Llama3_8B", "hardware": "Cloud.H100"})
    rec.add(
        {"model": "Language.Llama3_8B", "hardware": "Cloud.H100", "target_bitwidth": 4, "baseline_precision": "fp16"}
    )
    rec.add(
        {
            "model": "Vision.ResNet50",
            "hardware": "Cloud.A100",
            "method": "pruning",
            "sparsity": 0.5,
            "sparsity_type": "n_m",
        }
    )
    for bits in [8, 4, 16]:
        rec.add({"model": "Vision.YOLOv8_Nano", "hardware": "Cloud.A100", "target_bitwidth": bits})
    rec.add({"model": "Vision.YOLOv8_Nano", "hardware": "Cloud.H100", "target_bitwidth": 8})
    rec.add({"model": "Language.Llama3_8B", "hardware": "Cloud.H100", "target_bitwidth": 3})
    rec.add(
        {"model": "Language.Llama3_8B", "hardware": "Cloud.H100", "target_bitwidth": 32, "baseline_precision": "fp16"}
    )
    rec.add({"model": "Recommendation.DLRM", "hardware": "Cloud.H100", "baseline_precision": "fp32"})

    # Every model x every hardware at defaults would be 2,184 cases; instead each model and
    # each device appear across a seeded sample of all arguments (each optional argument
    # omitted ~1 time in 8, so the defaults are exercised too).
    rng = random.Random(13)
    nm, nh = base.Cycler(models, rng), base.Cycler(hardware, rng)
    nmeth = base.Cycler(METHODS[:2] * 4 + METHODS[2:], rng)
    nbits, nbase = base.Cycler(BITWIDTHS, rng), base.Cycler(BASELINES, rng)
    nsp, nst = base.Cycler(SPARSITIES, rng), base.Cycler(SPARSITY_TYPES, rng)
    added = 0
    while added < n_sampled:
        inputs = {"model": nm(), "hardware": nh()}
        for key, nxt in [
            ("method", nmeth),
            ("target_bitwidth", nbits),
            ("baseline_precision", nbase),
            ("sparsity", nsp),
            ("sparsity_type", nst),
        ]:
            value = nxt()
            if rng.random() >= 0.125:
                inputs[key] = value
        added += rec.add(inputs)
    # Pruning: every sparsity type x sparsity on one LM and one CNN.
    for model, hw in [("Language.Llama3_8B", "Cloud.H100"), ("Vision.ResNet50", "Cloud.A100")]:
        for st in SPARSITY_TYPES:
            for s in SPARSITIES:
                rec.add({"model": model, "hardware": hw, "method": "pruning", "sparsity": s, "sparsity_type": st})
    # Quantization: every bit width x baseline on a compute-bound and a memory-bound pair.
    for model, hw in [("Vision.YOLOv8_Nano", "Cloud.A100"), ("Language.Llama3_8B", "Cloud.H100")]:
        for bits in BITWIDTHS + [5, 7, 12, 3.5]:
            for bl in BASELINES[:7]:
                rec.add({"model": model, "hardware": hw, "target_bitwidth": bits, "baseline_precision": bl})
    # Errors: bit width < 1, sparsity outside [0, 1], unknown baseline precisions.
    base_in = {"model": "Language.Llama3_8B", "hardware": "Cloud.H100"}
    for kw in [
        dict(target_bitwidth=0),
        dict(target_bitwidth=-4),
        dict(target_bitwidth=0.5),
        dict(sparsity=-0.1),
        dict(sparsity=1.1),
        dict(sparsity=1.5, method="pruning"),
        dict(baseline_precision="fp4"),
        dict(baseline_precision="banana"),
        dict(baseline_precision="fp16_dense"),
        dict(baseline_precision=""),
        dict(target_bitwidth=0, method="pruning", sparsity=0.5),
        dict(sparsity=-0.5, method="quantization"),
    ]:
        for model, hw in [
            ("Language.Llama3_8B", "Cloud.H100"),
            ("Vision.ResNet50", "Cloud.A100"),
            ("Tiny.DS_CNN", "Tiny.ESP32_S3"),
        ]:
            rec.add({**base_in, "model": model, "hardware": hw, **kw})

    _covered(rec, "model", models)
    _covered(rec, "hardware", hardware)
    _covered(rec, "method", METHODS)
    _covered(rec, "target_bitwidth", BITWIDTHS)
    _covered(rec, "baseline_precision", BASELINES)
    _covered(rec, "sparsity", SPARSITIES)
    _covered(rec, "sparsity_type", SPARSITY_TYPES)
    pruned = {(i.get("sparsity_type"), i.get("sparsity")) for i in _ok(rec) if i.get("method") == "pruning"}
    assert {(t, s) for t in SPARSITY_TYPES for s in SPARSITIES} <= pruned
    assert len(_errors(rec)) >= 30
    return rec


# --------------------------------------------------------------------------
# ResponsibleEngineeringModel
# --------------------------------------------------------------------------

TRAINING_TIMES = [
    q(100, "hour"),
    q(30, "day"),
    q(1.5, "day"),
    q(90, "minute"),
    q(2, "week"),
    q(3600, "second"),
    q(0, "hour"),
    q(-5, "day"),
]
EPSILONS = [OMIT, 1.0, 8, 0.5, 0.1, 0.01, 0.005, 0, -1.0, 100, 1e6]
DELTAS = [OMIT, 1e-5, 1e-6, 0.0, 0.5, 1.0, -1.0]
PREVALENCES = [OMIT, 0.01, 0.05, 0.5, 1.0, 2.0, 1e-6, 1e-7, 0.0, -0.1]
#: Ordinary (in-range) values: times in hours and days, ε > 0 (0.005 is floored to 0.01),
#: δ in (0, 1), p in (0, 1] (1e-7 is floored to 1e-6).
VALID_TIMES = [q(v, "hour") for v in [0.5, 1, 6, 24, 100, 720, 2000, 1e4]] + [
    q(v, "day") for v in [0.25, 1, 3, 7, 14, 30, 60, 90, 180, 365]
]
VALID_EPSILONS = [OMIT, 0.005, 0.01, 0.1, 0.5, 1.0, 2.0, 3, 8, 10, 100]
VALID_DELTAS = [OMIT, 1e-9, 1e-7, 1e-5, 1e-3, 0.1]
VALID_PREVALENCES = [OMIT, 1e-7, 1e-4, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0]


def build_responsible(base, ResponsibleEngineeringModel, Q_):
    rm = ResponsibleEngineeringModel()
    rec = _recorder(
        base,
        "ResponsibleEngineeringModel",
        UNITS["responsible"],
        lambda inputs: rm.solve(**_args(inputs, {}, Q_)),
        input_units={"epsilon": D, "delta": D, "min_subgroup_prevalence": D},
        quantity_inputs=["base_training_time"],
        notes=["epsilon is floored at 0.01 and min_subgroup_prevalence at 1e-6; delta is echoed only"],
    )
    # Spec examples (part-2 §11, §20.1, P14).
    rec.add({"base_training_time": q(100, "hour")})
    rec.add({"base_training_time": q(30, "day"), "epsilon": 8, "min_subgroup_prevalence": 0.05})
    rec.add({"base_training_time": q(100, "hour"), "epsilon": 0})
    rec.add({"base_training_time": q(100, "hour"), "min_subgroup_prevalence": 2.0})
    # Every epsilon x prevalence, three training times each, delta cycled.
    rng = random.Random(14)
    nt, nd = base.Cycler(TRAINING_TIMES, rng), base.Cycler(DELTAS, rng)
    for eps in EPSILONS:
        for p in PREVALENCES:
            for _ in range(3):
                inputs = _put({"base_training_time": nt()}, "epsilon", eps)
                _put(inputs, "min_subgroup_prevalence", p)
                rec.add(_put(inputs, "delta", nd()))
    rec.add({"base_training_time": 100.0})  # bare float
    rec.add({"base_training_time": 100.0, "epsilon": 8})
    # Ordinary configurations: every in-range epsilon x prevalence, three (time, delta) draws
    # each from a stream of its own (the cases above keep their order and values).
    rng = random.Random(15)
    nt, nd = base.Cycler(VALID_TIMES, rng), base.Cycler(VALID_DELTAS, rng)
    for eps in VALID_EPSILONS:
        for p in VALID_PREVALENCES:
            for _ in range(3):
                inputs = _put({"base_training_time": nt()}, "epsilon", eps)
                _put(inputs, "min_subgroup_prevalence", p)
                rec.add(_put(inputs, "delta", nd()))

    _covered(rec, "base_training_time", TRAINING_TIMES)
    _covered(rec, "epsilon", EPSILONS)
    _covered(rec, "delta", DELTAS)
    _covered(rec, "min_subgroup_prevalence", PREVALENCES)
    _covered(rec, "base_training_time", VALID_TIMES)
    _covered(rec, "epsilon", VALID_EPSILONS)
    _covered(rec, "delta", VALID_DELTAS)
    _covered(rec, "min_subgroup_prevalence", VALID_PREVALENCES)
    assert {c["raises"] for c in _errors(rec)} == {"AttributeError"}
    assert len(rec.cases) >= 300
    return rec


# --------------------------------------------------------------------------
# Spot checks against the specs' published numbers
# --------------------------------------------------------------------------

KWH = 3.6e6  # J
GB = 1e9  # byte


def _expect(rec, inputs, raises=None, rtol=1e-9, **want):
    """The recorded case with exactly ``inputs`` has these outputs (SI) or raises."""
    case = next((c for c in rec.cases if c["inputs"] == inputs), None)
    assert case is not None, (rec.resolver, inputs)
    if raises:
        assert case.get("raises") == raises, (rec.resolver, inputs, case)
        return
    out = case["outputs"]
    for name, value in want.items():
        got = out[name]
        if isinstance(value, float) and isinstance(got, (int, float)):
            ok = math.isclose(got, value, rel_tol=rtol, abs_tol=1e-300)
        else:
            ok = got == value
        assert ok, (rec.resolver, inputs, name, got, value)


def check_examples(recs):
    r256 = "Clusters.Research_256"
    e, s = recs["economics"], recs["sustainability"]
    # S3 §8.2 (rounded in the spec: TCO 218,985 USD, 144,507 kWh, 61,993 kg, 260,112 L).
    _expect(
        e,
        {"fleet": r256, "duration_days": 30},
        rtol=3e-5,
        capex_usd=175342.0,
        opex_energy_usd=17341.0,
        opex_maintenance_usd=26301.0,
        tco_usd=218985.0,
        total_energy_kwh=144507 * KWH,
        carbon_footprint_kg=61993.0,
        water_usage_liters=260112.0,
    )
    _expect(e, {"fleet": r256, "duration_days": 30}, tco_usd=218984.66121643837, pue=1.12, region_name="US Average")
    # part-2 §20.1 PlacementOptimizer candidates (EconomicsModel with grid = region).
    for days, region, tco, carbon_t in [
        (30, "Quebec", 218055.68841643835, 2.7353088000000003),
        (30, "US_Avg", 218984.66121643837, 61.99345152),
        (30, "Iowa", 218984.66121643837, 98.26467840000001),
        (365, "Norway", 2653010.8757333336, 16.639795200000002),
        (365, "Quebec", 2653010.8757333336, 33.279590400000004),
        (365, "US_Avg", 2664313.3781333333, 754.2536601600001),
        (365, "Poland", 2750965.8965333337, 2033.8225152000002),
    ]:
        _expect(
            e,
            {"fleet": r256, "duration_days": days, "grid": f"Grids.{region}"},
            tco_usd=tco,
            carbon_footprint_kg=carbon_t * 1000,
        )
    _expect(
        s,
        {"fleet": r256, "duration_days": 30},
        it_energy_kwh=129024.0 * KWH,
        total_energy_kwh=144506.88 * KWH,
        carbon_footprint_kg=61993.45152,
    )
    _expect(s, {"fleet": r256, "duration_days": -5}, it_energy_kwh=-21504.0 * KWH)  # B14

    d = recs["data"]  # part-2 §20.1 / §20.2
    _expect(
        d,
        {"workload_data_rate": q(5.0, "GB/s"), "hardware": "Cloud.H100"},
        utilization=0.7142857142857143,
        demand_bw=5 * GB,
        supply_bw=7 * GB,
        bottleneck="Storage",
        margin=2 * GB,
        is_stalled=False,
    )
    _expect(
        d,
        {"workload_data_rate": q(19, "TB/hour"), "hardware": "Edge.JetsonOrinNX"},
        utilization=math.inf,
        is_stalled=True,
        bottleneck="Unknown",
        demand_bw=5.277777777777778 * GB,
        supply_bw=0.0,
    )
    _expect(
        d,
        {"workload_data_rate": q(20.0, "GB/s"), "hardware": "Cloud.A100"},
        utilization=0.625,
        bottleneck="Interconnect",
        margin=12 * GB,
        is_stalled=False,
    )
    _expect(
        d,
        {"workload_data_rate": q(5.0, "GB/s"), "hardware": "Cloud.B200"},
        utilization=0.078125,
        bottleneck="Interconnect",
    )
    _expect(
        d,
        {"workload_data_rate": q(-5.0, "GB/s"), "hardware": "Cloud.H100"},
        utilization=-0.7142857142857143,
        is_stalled=False,
        margin=12 * GB,
    )
    _expect(
        d,
        {"workload_data_rate": q(5, "1/s"), "hardware": "Cloud.H100"},
        demand_bw=0.625,
        utilization=8.928571428571429e-11,
    )
    _expect(
        d,
        {"workload_data_rate": q(0.0, "GB/s"), "hardware": "Edge.JetsonOrinNX"},
        utilization=math.inf,
        is_stalled=True,
        margin=0.0,
    )

    t = recs["transformation"]
    tx = {
        "batch_size": 256,
        "sample_size_bytes": q(500, "KB"),
        "cpu_throughput": q(2, "GB/s"),
        "accelerator_step_time": q(50, "ms"),
    }
    _expect(
        t,
        tx,
        transform_time=0.064,
        accelerator_step_time=0.05,
        is_bottleneck=True,
        accelerator_utilization=0.78125,
        slowdown_factor=1.28,
    )
    _expect(
        t,
        {
            "batch_size": 64,
            "sample_size_bytes": q(150, "KB"),
            "cpu_throughput": q(4, "GB/s"),
            "accelerator_step_time": q(20, "ms"),
        },
        transform_time=0.0024,
        is_bottleneck=False,
        accelerator_utilization=1.0,
        slowdown_factor=1.0,
    )
    _expect(
        t,
        {**tx, "accelerator_step_time": q(0, "ms")},
        slowdown_factor=math.inf,
        accelerator_utilization=0.0,
        is_bottleneck=True,
    )
    _expect(t, {**tx, "batch_size": -1}, transform_time=-0.00025, accelerator_utilization=1.0)
    _expect(
        t,
        {**tx, "batch_size": 0, "accelerator_step_time": q(0, "ms")},
        transform_time=0.0,
        is_bottleneck=False,
        accelerator_utilization=0.0,
        slowdown_factor=math.inf,
    )
    _expect(t, {**tx, "cpu_throughput": q(0, "GB/s")}, raises="ZeroDivisionError")

    sc = recs["scaling"]
    _expect(
        sc,
        {"compute_budget": q(1e24, "flop")},
        optimal_parameters=91287092917.52768,
        optimal_tokens=1825741858350.5537,
        compute_budget_flops=1e24,
        tokens_per_parameter=20.0,
    )
    _expect(
        sc,
        {"compute_budget": q(1000, "day")},
        optimal_parameters=16876966552.079197,
        optimal_tokens=337539331041.5839,
        compute_budget_flops=3.417984e22,
    )
    _expect(
        sc,
        {"compute_budget": q(1e24, "flop"), "target_model_size": q(70e9, "count")},
        optimal_parameters=70e9,
        optimal_tokens=2380952380952.381,
        tokens_per_parameter=34.01360544217687,
    )
    _expect(
        sc,
        {"compute_budget": q(1e12, "TFLOP")},
        optimal_parameters=91287.09291752768,
        optimal_tokens=1825741.8583505535,
        compute_budget_flops=1e24,
    )
    _expect(sc, {"compute_budget": q(0, "flop")}, optimal_parameters=0.0, tokens_per_parameter=0.0)
    _expect(
        sc,
        {"compute_budget": q(1000, "hour")},
        compute_budget_flops=1.42416e21,
        optimal_parameters=3.44499637e9,
        rtol=1e-8,
    )
    _expect(sc, {"compute_budget": q(1, "PFLOP/s*day")}, optimal_parameters=0.0912870929, rtol=1e-8)
    _expect(
        sc,
        {"compute_budget": q(1e24, "flop"), "target_model_size": q(0, "count")},
        optimal_parameters=91287092917.52768,
    )
    _expect(sc, {"compute_budget": q(-1, "flop")}, raises="ValueError")
    _expect(sc, {"compute_budget": 1e24}, raises="AttributeError")

    c = recs["compression"]
    llama, h100 = "Language.Llama3_8B", "Cloud.H100"
    _expect(
        c,
        {"model": llama, "hardware": h100},
        original_size_gb=32.120000000000005 * GB,
        compressed_size_gb=8.030000000000001 * GB,
        compression_ratio=4.0,
        estimated_accuracy_delta=-0.002,
        memory_savings_pct=75.0,
        inference_speedup=4.0,
        baseline_precision="fp32",
    )
    _expect(
        c,
        {"model": llama, "hardware": h100, "target_bitwidth": 4, "baseline_precision": "fp16"},
        original_size_gb=16.060000000000002 * GB,
        compressed_size_gb=4.015000000000001 * GB,
        estimated_accuracy_delta=-0.025,
        inference_speedup=4.0,
    )
    _expect(
        c,
        {
            "model": "Vision.ResNet50",
            "hardware": "Cloud.A100",
            "method": "pruning",
            "sparsity": 0.5,
            "sparsity_type": "n_m",
        },
        original_size_gb=0.102228128 * GB,
        compressed_size_gb=0.051114064 * GB,
        compression_ratio=2.0,
        estimated_accuracy_delta=-0.001,
        inference_speedup=2.0,
    )
    yolo = {"model": "Vision.YOLOv8_Nano", "hardware": "Cloud.A100"}
    _expect(
        c,
        {**yolo, "target_bitwidth": 8},
        original_size_gb=0.0128 * GB,
        compressed_size_gb=0.0032 * GB,
        inference_speedup=2.0,
    )
    _expect(c, {**yolo, "target_bitwidth": 4}, compression_ratio=8.0, memory_savings_pct=87.5, inference_speedup=1.0)
    _expect(c, {**yolo, "target_bitwidth": 16}, compression_ratio=2.0, inference_speedup=1.0)
    _expect(
        c,
        {"model": "Vision.YOLOv8_Nano", "hardware": h100, "target_bitwidth": 8},
        inference_speedup=1979 / 989,
        rtol=1e-3,
    )
    _expect(
        c,
        {"model": llama, "hardware": h100, "target_bitwidth": 3},
        compression_ratio=32 / 3,
        estimated_accuracy_delta=-0.05,
        inference_speedup=32 / 3,
    )
    _expect(
        c,
        {"model": llama, "hardware": h100, "target_bitwidth": 32, "baseline_precision": "fp16"},
        compression_ratio=0.5,
        memory_savings_pct=-100.0,
        inference_speedup=0.5,
    )
    _expect(
        c, {"model": "Recommendation.DLRM", "hardware": h100, "baseline_precision": "fp32"}, original_size_gb=100 * GB
    )
    _expect(
        c,
        {"model": llama, "hardware": h100, "method": "pruning", "sparsity": 0.5, "sparsity_type": "2:4"},
        inference_speedup=1.0,
    )
    _expect(
        c,
        {"model": llama, "hardware": h100, "method": "pruning", "sparsity": 0.54, "sparsity_type": "n_m"},
        inference_speedup=2.0,
    )

    r = recs["responsible"]
    _expect(
        r,
        {"base_training_time": q(100, "hour")},
        dp_slowdown_factor=3.0,
        effective_training_time=300.0 * 3600,
        additional_data_requirement=100.0,
        epsilon=1.0,
        delta=1e-05,
        min_subgroup_prevalence=0.01,
        privacy_cost_ratio=3.0,
        fairness_data_ratio=100.0,
    )
    _expect(
        r,
        {"base_training_time": q(30, "day"), "epsilon": 8, "min_subgroup_prevalence": 0.05},
        dp_slowdown_factor=1.25,
        effective_training_time=37.5 * 86400,
        additional_data_requirement=20.0,
    )
    _expect(r, {"base_training_time": q(100, "hour"), "epsilon": 0}, dp_slowdown_factor=201.0)
    _expect(r, {"base_training_time": q(100, "hour"), "min_subgroup_prevalence": 2.0}, additional_data_requirement=0.5)
    _expect(r, {"base_training_time": 100.0}, raises="AttributeError")


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def _registries(base):
    """Every registry a resolver here takes, as ``{"Family.key": record}`` tables."""
    from mlsysim import Hardware, Infrastructure, Models, Systems

    reg = {
        "clusters": base._registry(Systems, ["Clusters"], lambda o: hasattr(o, "total_accelerators")),
        "grids": base._registry(Infrastructure, ["Grids"], lambda o: hasattr(o, "carbon_intensity_g_kwh")),
        "datacenters": base._registry(
            Infrastructure, ["Datacenters"], lambda o: hasattr(o, "grid") and hasattr(o, "pue")
        ),
        "hardware": base._registry(Hardware, base.HW_FAMILIES, base._is_hardware),
        "models": base._registry(Models, base.MODEL_FAMILIES, base._is_workload),
    }
    for name, table in reg.items():
        assert table, name
    return reg


def build(base):
    import warnings

    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    from mlsysim.core.units import Q_
    from mlsysim.solvers import (
        CompressionModel,
        DataModel,
        EconomicsModel,
        ResponsibleEngineeringModel,
        ScalingModel,
        SustainabilityModel,
        TransformationModel,
    )

    reg = _registries(base)
    print(
        f"[parity]   parity_ops: {len(reg['clusters'])} clusters, {len(reg['grids'])} grids, "
        f"{len(reg['datacenters'])} datacenters, {len(reg['hardware'])} devices, "
        f"{len(reg['models'])} models"
    )
    recs, timings = {}, {}
    for name, fn, args in [
        ("sustainability", build_sustainability, (reg, SustainabilityModel, Q_, 1200)),
        ("economics", build_economics, (reg, EconomicsModel, Q_, 1500)),
        ("data", build_data, (reg, DataModel, Q_)),
        ("transformation", build_transformation, (TransformationModel, Q_, 700)),
        ("scaling", build_scaling, (ScalingModel, Q_)),
        ("compression", build_compression, (reg, CompressionModel, Q_, 1500)),
        ("responsible", build_responsible, (ResponsibleEngineeringModel, Q_)),
    ]:
        t = time.perf_counter()
        recs[name] = fn(base, *args)
        timings[name] = time.perf_counter() - t
    check_examples(recs)
    for name, rec in recs.items():
        base._write(rec, f"parity_{name}.json")
        print(f"[parity]   {rec.resolver}: recorded in {timings[name]:.2f} s")
    print(f"[parity]   parity_ops total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    base._bootstrap()
    build(base)
