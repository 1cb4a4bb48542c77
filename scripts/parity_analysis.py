#!/usr/bin/env python3
"""Parity fixtures of the analysis family, recorded from the reference package ``mlsysim==0.3.0``.

A plugin of ``scripts/make_parity_fixtures.py`` (which calls ``build(base)`` with itself as
``base``); it also runs alone and bootstraps the same way::

    MLSYSIM_REF_PYTHON=/path/to/python-with-mlsysim-0.3.0 python scripts/parity_analysis.py

It writes one file per resolver, in the format of ``make_parity_fixtures.py``:

    tests/data/parity_sensitivity.json   SensitivitySolver
    tests/data/parity_synthesis.json     SynthesisSolver

Inputs use the reference's keyword names; registry records are ``"Family.key"`` strings and
``target_latency`` is ``[magnitude, "unit"]`` (the reference receives ``Q_(magnitude, unit)``).
Outputs are in SI (s, byte, byte/s, flop, flop/s, flop/byte; fractions "dimensionless").
SensitivitySolver's ``sensitivities`` dict is recorded under mlsysim_vec's output names,
``sensitivity_<lever>``; ``constraint_trace`` is not recorded.

Sources of the cases: ``reference/anchor-0.3.0-spec-part2.md`` §12, §13, §19 (P15, P16) and the
reference outputs of §20.1.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import make_parity_fixtures as base  # noqa: E402

DIMLESS = base.DIMLESS
LEVERS = ("peak_flops", "memory_bandwidth", "memory_capacity")

SENSITIVITY_UNITS = {
    "feasible": None,
    **{f"sensitivity_{lever}": DIMLESS for lever in LEVERS},
    "binding_constraint": None,
    "baseline_latency": "s",
    "perturbation_pct": DIMLESS,
}

SYNTHESIS_UNITS = {
    "required_bw": "byte/s",
    "required_flops": "flop/s",
    "required_memory": "byte",
    "compute_memory_ratio": "flop/byte",
    "target_latency": "s",
    "model_size": "byte",
    "total_ops": "flop",
}

PRECISIONS = ["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4"]
#: Devices with an SRAM or flash tier (P15: the reference's bandwidth lever misses that tier).
TIERED = ["Tiny.ESP32_S3", "Tiny.LockstepSafetyMCU_Reference", "Tiny.OuraRing", "Tiny.nRF52840"]
SMALL_MODELS = [
    "Tiny.DS_CNN",
    "Tiny.WakeVision",
    "Tiny.AnomalyDetector",
    "Vision.MobileNetV2",
    "Vision.LeNet1",
    "Vision.ResNet50",
    "Language.BERT_Base",
]
PCTS = [10, 20, 5, 50, 1, 100, -10, -25, 0.5, 200]
EFFICIENCIES = [0.5, 0.3, 1.0, 0.8, 0.1]
TARGETS = [[20, "ms"], [1, "ms"], [0.1, "ms"], [5, "ms"], [250, "ms"], [1, "s"], [30, "s"], [500, "us"], [2, "minute"]]


class _SensitivityFields:
    """A reference SensitivityResult as ``base._outputs`` reads it (the class's ``model_fields``,
    then attributes), with ``sensitivities[lever]`` as ``sensitivity_<lever>``."""

    model_fields = dict.fromkeys(SENSITIVITY_UNITS)

    def __init__(self, result):
        for lever in LEVERS:
            setattr(self, f"sensitivity_{lever}", result.sensitivities[lever])
        for name in ("feasible", "binding_constraint", "baseline_latency", "perturbation_pct"):
            setattr(self, name, getattr(result, name))


def _sensitivity(base, call, hardware, models, engine):
    rec = base.Recorder("SensitivitySolver", SENSITIVITY_UNITS, call)

    # 1. The reference outputs of part 2 §20.1.
    rec.add({"model": "Language.Llama3_8B", "hardware": "Cloud.H100"})
    rec.add({"model": "Language.Llama3_70B", "hardware": "Cloud.H100"})
    rec.add({"model": "Tiny.WakeVision", "hardware": "Tiny.ESP32_S3", "precision": "int8"})
    rec.add({"model": "Vision.ResNet50", "hardware": "Cloud.A100", "perturbation_pct": 20})

    rng = random.Random(11)
    next_model, next_prec = base.Cycler(sorted(models), rng), base.Cycler(PRECISIONS, rng)
    next_pct, next_eff = base.Cycler(PCTS, rng), base.Cycler(EFFICIENCIES, rng)
    next_hw = base.Cycler(sorted(hardware), rng)

    def sampled(model, hw):
        return {
            "model": model,
            "hardware": hw,
            "precision": next_prec(),
            "perturbation_pct": next_pct(),
            "efficiency": next_eff(),
        }

    # 2. Every device, six sampled configurations each; every model, four.
    for hw in sorted(hardware):
        for _ in range(6):
            rec.add(sampled(next_model(), hw))
    for model in sorted(models):
        for _ in range(4):
            rec.add(sampled(model, next_hw()))
    # 3. SRAM / flash devices x small models x precisions (P15).
    for hw in TIERED:
        for model in SMALL_MODELS:
            for prec in ["int8", "fp16", "fp32", "int4"]:
                rec.add({"model": model, "hardware": hw, "precision": prec})
    # 3b. Every configuration of those devices that fits and is memory-bound in the reference's
    # own roofline (P15's structural zero shows there), at one perturbation each.
    for hw in TIERED:
        for model in sorted(models):
            for prec in ["fp32", "fp16", "int8", "int4"]:
                for eff in [1.0, 0.5]:
                    point = engine(models[model], hardware[hw], batch_size=1, precision=prec, efficiency=eff)
                    if point.feasible and point.bottleneck == "Memory":
                        rec.add(
                            {
                                "model": model,
                                "hardware": hw,
                                "precision": prec,
                                "efficiency": eff,
                                "perturbation_pct": next_pct(),
                            }
                        )
    # 4. Perturbation sizes, including zero, tiny, large and downgrades.
    for model, hw in [
        ("Language.Llama3_8B", "Cloud.H100"),
        ("Vision.ResNet50", "Cloud.A100"),
        ("Language.Llama3_70B", "Cloud.H100"),
        ("Tiny.WakeVision", "Tiny.ESP32_S3"),
        ("Recommendation.DLRM", "Cloud.H200"),
    ]:
        for pct in [0, 1e-9, 1, 5, 10, 20, 50, 70, 100, 1000, -10, -50, -90, -99]:
            rec.add({"model": model, "hardware": hw, "perturbation_pct": pct})
    # 5. Spellings, bounds and errors.
    m, h = "Language.Llama3_8B", "Cloud.H100"
    for kw in [
        dict(precision="FP8"),
        dict(precision="BF16"),
        dict(precision="Int8"),
        dict(precision="fp4"),
        dict(precision="banana"),
        dict(precision=""),
        dict(efficiency=1e-9),
        dict(efficiency=1.0),
        dict(efficiency=0),
        dict(efficiency=1.5),
        dict(efficiency=-0.5),
        dict(perturbation_pct=-100),
        dict(perturbation_pct=-150),
    ]:
        rec.add({"model": m, "hardware": h, **kw})
    return rec


def _synthesis(base, call, models):
    rec = base.Recorder("SynthesisSolver", SYNTHESIS_UNITS, call)

    # 1. The reference outputs of part 2 §20.1.
    rec.add({"model": "Language.Llama3_8B", "target_latency": [20, "ms"]})
    rec.add({"model": "Vision.ResNet50", "target_latency": [1, "ms"], "precision": "int8", "efficiency": 0.4})

    rng = random.Random(12)
    next_target, next_eff = base.Cycler(TARGETS, rng), base.Cycler(EFFICIENCIES + [0.4, 0.65], rng)
    # 2. Every model x every precision, target and efficiency cycled.
    for model in sorted(models):
        for prec in PRECISIONS:
            rec.add({"model": model, "target_latency": next_target(), "precision": prec, "efficiency": next_eff()})
    # 3. Every model at the defaults, and at every target unit.
    for model in sorted(models):
        rec.add({"model": model, "target_latency": [20, "ms"]})
        for target in TARGETS[5:]:
            rec.add({"model": model, "target_latency": target})
    # 4. Spellings, bounds and errors.
    m = "Language.Llama3_8B"
    for kw in [
        dict(precision="FP8"),
        dict(precision="BF16"),
        dict(precision="Int4"),
        dict(precision="fp4"),
        dict(precision="banana"),
        dict(efficiency=1e-9),
        dict(efficiency=1.0),
        dict(efficiency=0),
        dict(efficiency=2.0),
        dict(efficiency=-0.5),
    ]:
        rec.add({"model": m, "target_latency": [20, "ms"], **kw})
    for target in [[0, "ms"], [-5, "ms"], [20, "GB"], [1e-9, "s"]]:
        rec.add({"model": m, "target_latency": target})
    return rec


def _check_coverage(rec, universe, what):
    ok = {c["inputs"][what] for c in rec.cases if "outputs" in c}
    missing = set(universe) - ok
    assert not missing, (rec.resolver, what, sorted(missing))
    precs = {c["inputs"].get("precision", "fp16").lower() for c in rec.cases if "outputs" in c}
    assert set(PRECISIONS) <= precs, (rec.resolver, precs)


def build(base):
    """Record the reference's SensitivitySolver and SynthesisSolver and write their fixtures."""
    import warnings

    warnings.simplefilter("ignore")
    from mlsysim import Engine, Hardware, Models
    from mlsysim.core.units import Q_
    from mlsysim.solvers import SensitivitySolver, SynthesisSolver

    hardware = base._registry(Hardware, base.HW_FAMILIES, base._is_hardware)
    models = base._registry(Models, base.MODEL_FAMILIES, base._is_workload)
    for name in TIERED + SMALL_MODELS:
        assert name in hardware or name in models, name

    sensitivity, synthesis = SensitivitySolver(), SynthesisSolver()

    def call_sensitivity(inputs):
        kw = dict(inputs, model=models[inputs["model"]], hardware=hardware[inputs["hardware"]])
        return _SensitivityFields(sensitivity.solve(**kw))

    def call_synthesis(inputs):
        kw = dict(inputs, model=models[inputs["model"]], target_latency=Q_(*inputs["target_latency"]))
        return synthesis.solve(**kw)

    rec = _sensitivity(base, call_sensitivity, hardware, models, Engine.solve)
    _check_coverage(rec, hardware, "hardware")
    _check_coverage(rec, models, "model")
    base._write(rec, "parity_sensitivity.json")

    rec = _synthesis(base, call_synthesis, models)
    _check_coverage(rec, models, "model")
    base._write(rec, "parity_synthesis.json")


if __name__ == "__main__":
    base._bootstrap()
    build(base)
