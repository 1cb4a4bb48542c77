#!/usr/bin/env python3
"""Generate parity fixtures from the reference package ``mlsysim==0.3.0``.

The script calls the reference's *public* API only (``Engine.solve``,
``SingleNodeModel``, ``EfficiencyModel``, ``TrainingMemoryModel`` and the
``Hardware`` / ``Models`` registries) and records inputs and outputs as JSON:

    tests/data/parity_single_node.json
    tests/data/parity_efficiency.json
    tests/data/parity_training_memory.json

Usage (any Python >= 3.11)::

    python scripts/make_parity_fixtures.py

If ``mlsysim`` 0.3.0 is not importable by the running interpreter, the script
creates ``.parity-venv/`` at the repository root, installs ``mlsysim==0.3.0``
into it with pip, and re-executes itself with that interpreter. Set
``MLSYSIM_REF_PYTHON=/path/to/python`` to use an existing interpreter that
already has the reference installed instead (skips the venv).

File format (one file per resolver)::

    {"mlsysim_version": "0.3.0", "resolver": "...",
     "units": {<output name>: <unit string, or null for str/bool outputs>},
     "cases": [{"inputs": {...}, "outputs": {...}},
               {"inputs": {...}, "raises": "<ExceptionClassName>", "message": "..."}]}

Registry records in ``inputs`` are written as ``"Family.key"`` strings
(``"Vision.ResNet50"``, ``"Cloud.A100"``). Only the arguments that were passed
explicitly are recorded; every other argument took the reference's default.
Quantities in ``outputs`` are converted to the unit given in ``units``
(SI: s, byte, flop/s, byte/s, J, 1/s, flop/byte); dimensionless floats use
``"dimensionless"``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REF_VERSION = "0.3.0"
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "tests" / "data"
VENV_DIR = REPO_ROOT / ".parity-venv"
_REEXEC_FLAG = "_MLSYSIM_PARITY_REEXEC"
MAX_FILE_BYTES = 3_000_000

# --------------------------------------------------------------------------
# Bootstrap: make sure we run under an interpreter that has mlsysim 0.3.0.
# --------------------------------------------------------------------------


def _installed_version(python: str | None = None) -> str | None:
    """Version of the ``mlsysim`` distribution (without importing it)."""
    if python is None:
        try:
            from importlib.metadata import PackageNotFoundError, version
        except ImportError:  # pragma: no cover
            return None
        try:
            return version("mlsysim")
        except PackageNotFoundError:
            return None
    code = (
        "from importlib.metadata import version\n"
        "try:\n    print(version('mlsysim'))\n"
        "except Exception:\n    print('')\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return out.stdout.strip() or None


def _venv_python() -> Path:
    if os.name == "nt":
        return VENV_DIR / "Scripts" / "python.exe"
    return VENV_DIR / "bin" / "python"


def _ensure_venv() -> str:
    py = _venv_python()
    if not py.exists():
        print(f"[parity] creating virtualenv {VENV_DIR}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV_DIR)])
        # Keep the venv out of git without touching the repository's .gitignore.
        (VENV_DIR / ".gitignore").write_text("*\n")
    if _installed_version(str(py)) != REF_VERSION:
        print(f"[parity] pip install mlsysim=={REF_VERSION} into {VENV_DIR}", file=sys.stderr)
        subprocess.check_call(
            [str(py), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", f"mlsysim=={REF_VERSION}"]
        )
    return str(py)


def _bootstrap() -> None:
    if sys.version_info < (3, 11):
        sys.exit("make_parity_fixtures.py needs Python >= 3.11")
    if _installed_version() == REF_VERSION:
        return
    if os.environ.get(_REEXEC_FLAG):
        sys.exit(f"[parity] mlsysim {REF_VERSION} is still not importable by {sys.executable}")
    py = os.environ.get("MLSYSIM_REF_PYTHON") or _ensure_venv()
    env = dict(os.environ)
    env[_REEXEC_FLAG] = "1"
    print(f"[parity] re-executing with {py}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(py, [py, str(Path(sys.argv[0]).resolve()), *sys.argv[1:]], env)


# --------------------------------------------------------------------------
# Output conversion
# --------------------------------------------------------------------------

DIMLESS = "dimensionless"

SINGLE_NODE_UNITS = {
    "latency": "s",
    "latency_compute": "s",
    "latency_memory": "s",
    "latency_overhead": "s",
    "throughput": "1/s",
    "bottleneck": None,
    "arithmetic_intensity": "flop/byte",
    "energy": "J",
    "memory_footprint": "byte",
    "peak_flops_actual": "flop/s",
    "peak_bw_actual": "byte/s",
    "mfu": DIMLESS,
    "hfu": DIMLESS,
    "feasible": None,
    "offload_spill_bytes": "byte",
    "offload_effective_bw": "byte/s",
    "overhead_dominated": None,
}

EFFICIENCY_UNITS = {
    "mfu": DIMLESS,
    "achievable_flops": "flop/s",
    "peak_flops": "flop/s",
    "workload_type": None,
    "use_flash_attention": None,
    "occupancy_loss": DIMLESS,
    "memory_stall": DIMLESS,
}

TRAINING_MEMORY_UNITS = {
    "feasible": None,
    "total_memory": "byte",
    "available_memory": "byte",
    "memory_utilization": DIMLESS,
    "weights": "byte",
    "gradients": "byte",
    "optimizer_state": "byte",
    "activations": "byte",
    "communication_buffers": "byte",
    "precision": None,
    "optimizer": None,
    "activation_checkpointing": None,
}

SKIP_FIELDS = {"constraint_trace", "parallelism"}


def _plain(value, unit, field):
    """Convert one result value to a plain JSON value in ``unit``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value
    if hasattr(value, "magnitude") and hasattr(value, "to"):  # pint Quantity
        if unit is None:
            raise TypeError(f"field {field!r} is a Quantity but has no unit in the table")
        if unit == DIMLESS:
            return float(value.to("dimensionless").magnitude)
        return float(value.to(unit).magnitude)
    if isinstance(value, (int, float)):
        return float(value)
    raise TypeError(f"field {field!r}: unsupported value type {type(value).__name__}")


def _outputs(result, units):
    fields = list(type(result).model_fields)
    out = {}
    for name in fields:
        if name in SKIP_FIELDS:
            continue
        value = getattr(result, name)
        if isinstance(value, dict):  # flatten (overhead_breakdown)
            items = list(value.items())
        else:
            items = [(name, value)]
        for key, val in items:
            if key not in units:
                raise KeyError(f"output {key!r} of {type(result).__name__} has no unit entry")
            if key in out:
                raise KeyError(f"duplicate flattened output {key!r}")
            out[key] = _plain(val, units[key], key)
    missing = set(units) - set(out)
    if missing:
        raise KeyError(f"{type(result).__name__}: expected outputs missing: {sorted(missing)}")
    return out


# --------------------------------------------------------------------------
# Registries
# --------------------------------------------------------------------------

HW_FAMILIES = ["Cloud", "Workstation", "Mobile", "Edge", "Tiny"]
MODEL_FAMILIES = ["Language", "Vision", "Tiny", "Recommendation", "StateSpace", "GenerativeVision", "Embodied"]


def _registry(namespace, families, is_record):
    table = {}
    for fam in families:
        cls = getattr(namespace, fam)
        for attr in sorted(dir(cls)):
            if attr.startswith("_"):
                continue
            obj = getattr(cls, attr)
            if is_record(obj):
                table[f"{fam}.{attr}"] = obj
    return table


def _is_hardware(obj):
    return hasattr(obj, "compute") and hasattr(obj, "memory") and hasattr(obj, "name")


def _is_workload(obj):
    return hasattr(obj, "lower") and hasattr(obj, "architecture") and hasattr(obj, "name")


class Cycler:
    """Endless stream over ``values``: each pass is a fresh seeded shuffle,
    so every value appears once per ``len(values)`` draws."""

    def __init__(self, values, rng):
        self.values = list(values)
        self.rng = rng
        self.buf = []

    def __call__(self):
        if not self.buf:
            self.buf = list(self.values)
            self.rng.shuffle(self.buf)
        return self.buf.pop()


# --------------------------------------------------------------------------
# Case runner
# --------------------------------------------------------------------------


class Recorder:
    def __init__(self, resolver, units, call):
        self.resolver = resolver
        self.units = units
        self.call = call  # call(inputs) -> result
        self.cases = []
        self.seen = set()

    def add(self, inputs):
        key = json.dumps(inputs, sort_keys=True)
        if key in self.seen:
            return False
        self.seen.add(key)
        try:
            result = self.call(inputs)
        except Exception as exc:  # noqa: BLE001 - every reference error is data
            self.cases.append({"inputs": inputs, "raises": type(exc).__name__, "message": str(exc)})
        else:
            self.cases.append({"inputs": inputs, "outputs": _outputs(result, self.units)})
        return True

    def document(self):
        return {
            "mlsysim_version": REF_VERSION,
            "resolver": self.resolver,
            "units": dict(self.units),
            "cases": self.cases,
        }


def _resolve_inputs(inputs, hardware, models):
    kwargs = dict(inputs)
    kwargs.pop("via", None)
    if "model" in kwargs:
        kwargs["model"] = models[kwargs["model"]]
    if "hardware" in kwargs:
        kwargs["hardware"] = hardware[kwargs["hardware"]]
    return kwargs


# --------------------------------------------------------------------------
# SingleNodeModel / Engine
# --------------------------------------------------------------------------

CANON_PRECISIONS = ["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4"]
UPPER_PRECISIONS = ["FP16", "BF16", "FP32", "Int8", "FP8", "TF32", "INT4"]

SN_REQUIRED_MODELS = [
    "Vision.ResNet50",
    "Vision.MobileNetV2",
    "Vision.YOLOv8_Nano",
    "Vision.AlexNet",
    "Tiny.WakeVision",
    "Tiny.DS_CNN",
    "Language.Llama3_8B",
    "Language.Llama3_70B",
    "Language.Llama3_405B",
    "Language.Mixtral_8x7B",
    "Language.DeepSeek_V3",
    "Language.GPT2",
    "Language.BERT_Base",
    "Language.PaLM_540B",
    "StateSpace.Mamba_130M",
    "GenerativeVision.StableDiffusion_v1_5",
    "Recommendation.DLRM",
    "Embodied.OpenVLA_7B",
    "Vision.LeNet1",
    "Vision.ViT_Large",
    "Tiny.AnomalyDetector",
]
SRAM_FLASH_DEVICES = [
    "Tiny.ESP32_S3",
    "Tiny.LockstepSafetyMCU_Reference",
    "Tiny.OuraRing",
    "Tiny.nRF52840",
    "Cloud.TPUv1",
    "Cloud.TPUv5p",
    "Cloud.IntelSGX",
    "Tiny.STM32F4",
    "Tiny.HimaxWE1",
]
BATCHES = [1, 2, 3, 8, 32, 64, 256, 1024, 4096]


def build_single_node(hardware, models, Engine, SingleNodeModel, n_inference, n_training):
    snm = SingleNodeModel()

    def call(inputs):
        kwargs = _resolve_inputs(inputs, hardware, models)
        if inputs["via"] == "Engine":
            return Engine.solve(**kwargs)
        return snm.solve(**kwargs)

    rec = Recorder("SingleNodeModel", SINGLE_NODE_UNITS, call)

    def case(via, model, hw, **kw):
        return {"via": via, "model": model, "hardware": hw, **kw}

    # 1. Spec reference examples (S3 §12.2, part2 §1.5).
    rec.add(case("SingleNodeModel", "Vision.ResNet50", "Cloud.A100", batch_size=1))
    for hw in ["Cloud.T4", "Cloud.A100", "Cloud.H100", "Cloud.B200"]:
        rec.add(case("SingleNodeModel", "Vision.ResNet50", hw, batch_size=32))
    offload = [
        ("Language.Llama3_70B", "Cloud.H100", 1),
        ("Language.Llama3_70B", "Cloud.H100", 8),
        ("Language.Llama3_70B", "Cloud.H100", 64),
        ("Language.Llama3_70B", "Cloud.A100", 1),
        ("Language.Llama3_405B", "Cloud.MI300X", 1),
        ("Language.Llama3_70B", "Cloud.H200", 1),
        ("Recommendation.DLRM", "Cloud.A100", 1),
        ("Language.DeepSeek_V3", "Cloud.GB200_NVL72", 1),
        ("Language.Llama3_70B", "Cloud.Cerebras_CS3", 1),
        ("Language.Llama3_70B", "Cloud.V100", 4),
        ("Language.Llama3_70B", "Edge.DriveThor", 1),
        ("Language.Llama3_70B", "Edge.RoboTaxi", 1),
        ("Language.Llama3_8B", "Workstation.GTX580_3GB", 1),
    ]
    for model, hw, b in offload:
        for via in ["SingleNodeModel", "Engine"]:
            rec.add(case(via, model, hw, batch_size=b, precision="fp16", efficiency=0.5))
        rec.add(case("SingleNodeModel", model, hw, batch_size=b, raise_errors=True))
    rec.add(case("SingleNodeModel", "Language.Llama3_8B", "Cloud.H100", batch_size=1, is_training=True, seq_len=2048))
    for prec in ["fp16", "int8", "fp32"]:
        rec.add(
            case(
                "SingleNodeModel",
                "Vision.MobileNetV2",
                "Tiny.LockstepSafetyMCU_Reference",
                batch_size=1,
                precision=prec,
                efficiency=0.5,
            )
        )
    # LM at huge batch (AI ceiling, S3 §3.2).
    rec.add(case("SingleNodeModel", "Language.Llama3_8B", "Cloud.H100", batch_size=65536))

    # 2. Defaults (nothing but model and hardware, or a few arguments).
    for via in ["SingleNodeModel", "Engine"]:
        for model, hw in [
            ("Vision.ResNet50", "Cloud.A100"),
            ("Language.Llama3_8B", "Cloud.H100"),
            ("Tiny.DS_CNN", "Tiny.ESP32_S3"),
            ("Language.Mixtral_8x7B", "Cloud.MI300X"),
        ]:
            rec.add(case(via, model, hw))
            rec.add(case(via, model, hw, is_training=True))

    # 3. SRAM / flash devices x small models x precisions, inference and training.
    small = [
        "Tiny.DS_CNN",
        "Tiny.WakeVision",
        "Tiny.AnomalyDetector",
        "Vision.MobileNetV2",
        "Vision.LeNet1",
        "Vision.ResNet50",
        "Language.BERT_Base",
    ]
    for hw in SRAM_FLASH_DEVICES:
        for model in small:
            for prec in ["int8", "fp16", "fp32", "int4"]:
                rec.add(case("SingleNodeModel", model, hw, batch_size=1, precision=prec, efficiency=0.5))
            rec.add(
                case(
                    "Engine",
                    model,
                    hw,
                    batch_size=4,
                    precision="int8",
                    efficiency=0.5,
                    is_training=True,
                    seq_len=512,
                    zero_stage=0,
                    dp_size=1,
                    is_lora=False,
                    activation_recomputation=False,
                )
            )

    # 4. Seeded sample of the cross product.
    rng = random.Random(0)
    hw_keys = sorted(hardware)
    model_keys = sorted(models)
    for name in SN_REQUIRED_MODELS:
        assert name in models, name
    precisions = CANON_PRECISIONS * 2 + UPPER_PRECISIONS  # canonical twice as often

    def eff():
        return rng.choices([0.5, 0.3, 1.0, 0.8, 0.1], weights=[60, 15, 15, 5, 5])[0]

    for is_training, n in [(False, n_inference), (True, n_training)]:
        next_hw, next_model = Cycler(hw_keys, rng), Cycler(model_keys, rng)
        next_prec, next_batch = Cycler(precisions, rng), Cycler(BATCHES, rng)
        next_zero = Cycler([0, 1, 2, 3], rng)
        added = 0
        while added < n:
            inputs = case(
                "Engine" if rng.random() < 0.3 else "SingleNodeModel",
                next_model(),
                next_hw(),
                batch_size=next_batch(),
                precision=next_prec(),
                efficiency=eff(),
            )
            if rng.random() < 0.05:
                inputs["raise_errors"] = True
            if is_training:
                inputs.update(
                    is_training=True,
                    seq_len=rng.choice([512, 2048, 2048, 8192]),
                    zero_stage=next_zero(),
                    dp_size=rng.choice([1, 8]),
                    is_lora=rng.random() < 0.4,
                    activation_recomputation=rng.random() < 0.5,
                )
            elif rng.random() < 0.1:
                inputs["is_training"] = False
            added += rec.add(inputs)

    # 5. Error and edge cases.
    for via in ["SingleNodeModel", "Engine"]:
        base = dict(model="Vision.ResNet50", hw="Cloud.A100")
        for kw in [
            dict(batch_size=0),
            dict(batch_size=-1),
            dict(efficiency=0),
            dict(efficiency=1.5),
            dict(efficiency=-0.5),
            dict(precision="fp4"),
            dict(precision="banana"),
            dict(precision="fp16_dense"),
            dict(precision=""),
            dict(efficiency=1e-9),
            dict(efficiency=1.0),
            dict(efficiency=0.5, batch_size=4096),
        ]:
            rec.add(case(via, base["model"], base["hw"], **kw))
        for kw in [
            dict(precision="fp4"),
            dict(batch_size=0),
            dict(efficiency=0),
            dict(zero_stage=4),
            dict(dp_size=0),
            dict(seq_len=0),
        ]:
            rec.add(case(via, "Language.Llama3_8B", "Cloud.H100", is_training=True, **kw))
        rec.add(
            case(
                via,
                "Language.Llama3_8B",
                "Cloud.H100",
                batch_size=1,
                precision="fp16",
                efficiency=0.5,
                raise_errors=True,
                is_training=True,
                seq_len=2048,
            )
        )
        rec.add(case(via, "Vision.ResNet50", "Cloud.A100", batch_size=8, raise_errors=True, is_training=True))
    return rec


# --------------------------------------------------------------------------
# EfficiencyModel
# --------------------------------------------------------------------------


def build_efficiency(hardware, models, EfficiencyModel):
    em = EfficiencyModel()

    def call(inputs):
        return em.solve(**_resolve_inputs(inputs, hardware, models))

    rec = Recorder("EfficiencyModel", EFFICIENCY_UNITS, call)
    M = "Language.Llama3_8B"

    # Spec examples (part2 §20.1).
    rec.add({"model": M, "hardware": "Cloud.H100"})
    rec.add({"model": M, "hardware": "Cloud.H100", "workload_type": "attention", "use_flash_attention": True})
    rec.add({"model": "Vision.ResNet50", "hardware": "Cloud.A100", "workload_type": "conv", "efficiency": 0.6})

    # Every hardware x workload_type x precision; flash flag and efficiency cycled.
    rng = random.Random(1)
    next_flash = Cycler([False, True], rng)
    next_eff = Cycler([0.3, 0.5, 0.6, 1.0], rng)
    for hw in sorted(hardware):
        for wt in ["ffn", "attention", "conv", "other"]:
            for prec in CANON_PRECISIONS:
                rec.add(
                    {
                        "model": M,
                        "hardware": hw,
                        "workload_type": wt,
                        "use_flash_attention": next_flash(),
                        "precision": prec,
                        "efficiency": next_eff(),
                    }
                )
    # Full flash x efficiency grid for attention on a few devices.
    for hw in ["Cloud.H100", "Cloud.A100", "Cloud.B200", "Tiny.ESP32_S3"]:
        for flash in [False, True]:
            for e in [0.3, 0.5, 0.6, 1.0]:
                rec.add(
                    {
                        "model": M,
                        "hardware": hw,
                        "workload_type": "attention",
                        "use_flash_attention": flash,
                        "precision": "fp16",
                        "efficiency": e,
                    }
                )
    # Edge cases: raw precision keys, case-sensitive workload types, unvalidated efficiency.
    for hw in ["Cloud.B200", "Cloud.H100", "Cloud.DMatrix_Corsair", "Workstation.DGX_Spark"]:
        for prec in ["FP16", "fp4", "fp16_dense", "fp16_sparse", "mxint4", "banana"]:
            rec.add({"model": M, "hardware": hw, "workload_type": "ffn", "precision": prec, "efficiency": 0.5})
    for wt in ["FFN", "Attention", "mlp", ""]:
        rec.add(
            {"model": M, "hardware": "Cloud.H100", "workload_type": wt, "use_flash_attention": True, "efficiency": 0.5}
        )
    for e in [0.0, -1.0, 1.5, 2.0, 1e-9, 0.95]:
        for wt in ["ffn", "attention", "conv", "other"]:
            rec.add(
                {
                    "model": M,
                    "hardware": "Cloud.A100",
                    "workload_type": wt,
                    "use_flash_attention": wt == "attention",
                    "efficiency": e,
                }
            )
    return rec


# --------------------------------------------------------------------------
# TrainingMemoryModel
# --------------------------------------------------------------------------

TM_HARDWARE = ["Cloud.H100", "Cloud.A100", "Cloud.B200", "Cloud.MI300X", "Cloud.TPUv4", "Cloud.H200"]
CKPT = ["none", "selective", "full"]


def build_training_memory(hardware, models, TrainingMemoryModel, n_sampled):
    tm = TrainingMemoryModel()

    def call(inputs):
        return tm.solve(**_resolve_inputs(inputs, hardware, models))

    rec = Recorder("TrainingMemoryModel", TRAINING_MEMORY_UNITS, call)

    # Spec example grid (S3 §4.5/§12.4): only the arguments named there.
    for z in range(4):
        for ck in CKPT:
            rec.add(
                {
                    "model": "Language.Llama3_8B",
                    "hardware": "Cloud.H100",
                    "batch_size": 8,
                    "seq_len": 2048,
                    "zero_stage": z,
                    "dp_size": 8,
                    "activation_checkpointing": ck,
                }
            )
    rec.add(
        {
            "model": "Language.Llama3_8B",
            "hardware": "Cloud.H100",
            "batch_size": 8,
            "seq_len": 2048,
            "zero_stage": 2,
            "dp_size": 8,
        }
    )
    # Defaults only.
    for m in ["Language.Llama3_8B", "Language.Mixtral_8x7B", "Language.GPT2"]:
        rec.add({"model": m, "hardware": "Cloud.H100", "batch_size": 1})

    lm_keys = sorted(k for k in models if k.startswith("Language."))
    rng = random.Random(2)
    next_model, next_hw = Cycler(lm_keys, rng), Cycler(TM_HARDWARE, rng)
    next_zc = Cycler([(z, c) for z in range(4) for c in CKPT], rng)
    next_prec = Cycler(["fp32", "bf16", "fp16", "fp8"], rng)
    next_opt = Cycler(["adam", "adamw", "sgd", "none"], rng)
    next_batch = Cycler([1, 8, 64, 512, 4096], rng)
    next_seq = Cycler([512, 2048, 8192], rng)
    added = 0
    while added < n_sampled:
        z, ck = next_zc()
        inputs = {
            "model": next_model(),
            "hardware": next_hw(),
            "batch_size": next_batch(),
            "seq_len": next_seq(),
            "precision": next_prec(),
            "optimizer": next_opt(),
            "activation_checkpointing": ck,
            "tp_size": rng.choice([1, 2, 8]),
            "pp_size": rng.choice([1, 4]),
            "dp_size": rng.choice([1, 8, 64]),
            "ep_size": rng.choice([1, 8]),
            "zero_stage": z,
            "gradient_accumulation_steps": rng.choice([1, 4]),
            "trainable_fraction": rng.choice([1.0, 1.0, 0.1]),
            "communication_buffer_fraction": rng.choice([0.05, 0.05, 0.0]),
            "sequence_parallel": rng.random() < 0.5,
        }
        added += rec.add(inputs)

    # Other precision spellings and non-Language workloads that happen to work (or not).
    for prec in ["tf32", "int8", "int4", "BF16", "FP16"]:
        rec.add(
            {
                "model": "Language.Llama3_8B",
                "hardware": "Cloud.H100",
                "batch_size": 8,
                "seq_len": 2048,
                "precision": prec,
            }
        )
    for m in [
        "StateSpace.Mamba_130M",
        "StateSpace.Mamba_2_8B",
        "Embodied.OpenVLA_7B",
        "Embodied.ACT_ALOHA",
        "Embodied.DiffusionPolicy_PushT",
        "GenerativeVision.StableDiffusion_v1_5",
        "Recommendation.DLRM",
    ]:
        rec.add({"model": m, "hardware": "Cloud.H100", "batch_size": 8, "seq_len": 2048})
    for opt in ["ADAM", "AdamW", "SGD"]:
        rec.add({"model": "Language.Llama3_8B", "hardware": "Cloud.H100", "batch_size": 8, "optimizer": opt})
    for ck in ["FULL", "Selective"]:
        rec.add(
            {"model": "Language.Llama3_8B", "hardware": "Cloud.H100", "batch_size": 8, "activation_checkpointing": ck}
        )
    # Boundary values that are valid per the spec.
    for kw in [
        dict(trainable_fraction=0.0),
        dict(communication_buffer_fraction=1.0),
        dict(batch_size=3, dp_size=8),
        dict(batch_size=1000, dp_size=8, gradient_accumulation_steps=4),
        dict(pp_size=200),
        dict(tp_size=8, sequence_parallel=False),
    ]:
        rec.add({"model": "Language.Llama3_70B", "hardware": "Cloud.H100", "batch_size": kw.pop("batch_size", 8), **kw})

    # Error cases.
    base = {"model": "Language.Llama3_8B", "hardware": "Cloud.H100", "batch_size": 8}
    for kw in [
        dict(zero_stage=4),
        dict(zero_stage=-1),
        dict(optimizer="lion"),
        dict(activation_checkpointing="partial"),
        dict(batch_size=0),
        dict(batch_size=-4),
        dict(seq_len=0),
        dict(precision="banana"),
        dict(precision="fp4"),
        dict(tp_size=0),
        dict(pp_size=0),
        dict(dp_size=0),
        dict(ep_size=0),
        dict(gradient_accumulation_steps=0),
        dict(trainable_fraction=1.5),
        dict(trainable_fraction=-0.1),
        dict(communication_buffer_fraction=1.5),
        dict(communication_buffer_fraction=-0.05),
    ]:
        rec.add({**base, **kw})
    for m in ["Vision.ResNet50", "Vision.MobileNetV2", "Tiny.DS_CNN", "Vision.LeNet1"]:
        rec.add({"model": m, "hardware": "Cloud.H100", "batch_size": 8})
    return rec


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def _write(rec, filename):
    """Write a recorder's document. Infinite outputs are data (an unstable queue's wait, a
    static allocator that fits nothing) and are written as JSON ``Infinity``, which
    ``json.loads`` reads back as ``inf``; a NaN output is a bug in the builder and is refused."""
    import math

    path = DATA_DIR / filename
    doc = rec.document()
    for case in doc["cases"]:
        for key, value in case.get("outputs", {}).items():
            if isinstance(value, float) and math.isnan(value):
                raise SystemExit(f"{filename}: NaN output {key!r} in {case['inputs']}")
    text = json.dumps(doc, indent=1) + "\n"
    if len(text.encode()) >= MAX_FILE_BYTES:
        raise SystemExit(f"{filename}: {len(text)} bytes >= {MAX_FILE_BYTES}; reduce the sample")
    path.write_text(text)
    n_err = sum("raises" in c for c in doc["cases"])
    print(
        f"[parity] wrote {path.relative_to(REPO_ROOT)}: {len(doc['cases'])} cases "
        f"({n_err} raise), {len(text) / 1e6:.2f} MB"
    )


def main() -> None:
    _bootstrap()
    import warnings

    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    import mlsysim
    from mlsysim import Engine, Hardware, Models
    from mlsysim.solvers import EfficiencyModel, SingleNodeModel, TrainingMemoryModel

    if mlsysim.__version__ != REF_VERSION:
        sys.exit(f"expected mlsysim {REF_VERSION}, got {mlsysim.__version__}")
    print(
        f"[parity] mlsysim {mlsysim.__version__} from {Path(mlsysim.__file__).parent} "
        f"(import {time.perf_counter() - t0:.1f} s)"
    )

    hardware = _registry(Hardware, HW_FAMILIES, _is_hardware)
    models = _registry(Models, MODEL_FAMILIES, _is_workload)
    DATA_DIR.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    rec = build_single_node(hardware, models, Engine, SingleNodeModel, n_inference=1000, n_training=900)
    _check_single_node_coverage(rec, hardware, models)
    _write(rec, "parity_single_node.json")
    print(f"[parity]   SingleNodeModel {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    rec = build_efficiency(hardware, models, EfficiencyModel)
    _write(rec, "parity_efficiency.json")
    print(f"[parity]   EfficiencyModel {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    rec = build_training_memory(hardware, models, TrainingMemoryModel, n_sampled=1500)
    _check_training_coverage(rec)
    _write(rec, "parity_training_memory.json")
    print(f"[parity]   TrainingMemoryModel {time.perf_counter() - t:.1f} s")
    run_plugins()
    print(f"[parity] total {time.perf_counter() - t0:.1f} s")


def run_plugins() -> None:
    """Run the fixture builders of the other resolver families: every ``scripts/parity_*.py``
    defines ``build(base)``, which receives this module (its ``Recorder``, ``_registry``,
    ``_write``, unit helpers) and writes its own ``tests/data/parity_*.json``. Each can also be
    run alone: ``python scripts/parity_<family>.py`` (it bootstraps the same way)."""
    import importlib.util

    for path in sorted(Path(__file__).resolve().parent.glob("parity_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        t = time.perf_counter()
        module.build(sys.modules[__name__])
        print(f"[parity]   {path.stem} {time.perf_counter() - t:.1f} s")


def _check_single_node_coverage(rec, hardware, models):
    for training in (False, True):
        ok = [c["inputs"] for c in rec.cases if "outputs" in c and bool(c["inputs"].get("is_training")) == training]
        for what, universe in [("hardware", hardware), ("model", models)]:
            missing = set(universe) - {i[what] for i in ok}
            assert not missing, (training, what, sorted(missing))
        precs = {i.get("precision", "fp16").lower() for i in ok}
        assert set(CANON_PRECISIONS) <= precs, (training, precs)
        assert {i["via"] for i in ok} == {"Engine", "SingleNodeModel"}


def _check_training_coverage(rec):
    from collections import Counter

    counts = Counter(
        (c["inputs"].get("zero_stage", 0), c["inputs"].get("activation_checkpointing", "selective"))
        for c in rec.cases
        if "outputs" in c
    )
    for z in range(4):
        for ck in CKPT:
            assert counts[(z, ck)] >= 20, (z, ck, counts[(z, ck)])


if __name__ == "__main__":
    main()
