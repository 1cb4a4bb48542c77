#!/usr/bin/env python3
"""Parity fixtures of the serving family, recorded from the reference package ``mlsysim==0.3.0``.

A plugin of ``scripts/make_parity_fixtures.py`` (which calls ``build(base)`` with itself as
``base``); it also runs alone and bootstraps the same way::

    MLSYSIM_REF_PYTHON=/path/to/python-with-mlsysim-0.3.0 python scripts/parity_serving.py

It writes one file per resolver, in the format of ``make_parity_fixtures.py``:

    tests/data/parity_serving.json              ServingModel
    tests/data/parity_continuous_batching.json  ContinuousBatchingModel
    tests/data/parity_weight_streaming.json     WeightStreamingModel
    tests/data/parity_tail_latency.json         TailLatencyModel
    tests/data/parity_serving_capacity.json     ServingCapacityModel
    tests/data/parity_inference_scaling.json    InferenceScalingModel

Inputs use the reference's keyword names. Registry records are ``"Family.key"`` strings, for
``model``, ``hardware``, ``decode_hardware`` and ``draft_model`` alike. ``network_bandwidth`` is
a number in byte/s (the reference receives ``Q_(value, "byte/s")``). Outputs are in SI
(s, byte, J, 1/s; counts and fractions "dimensionless"); ``constraint_trace`` and
InferenceScalingModel's ``serving_detail`` (a nested ServingResult, the same numbers as
``parity_serving.json``) are not recorded. Unstable queues, infeasible capacity searches and
static allocators that fit nothing give infinite outputs, written as JSON ``Infinity``
(``json.loads`` reads it back as ``float("inf")``).

Sources of the cases: spec [S3] = ``anchor-0.3.0-spec.md`` §4.1–4.3, §5.1–5.4, §11 (B1–B3,
B17, B18), §12.3, §12.5; [S3-2] = ``anchor-0.3.0-spec-part2.md`` §3, §8, §19 (P5, P6, P17).
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import make_parity_fixtures as base  # noqa: E402

DIMLESS = base.DIMLESS

SERVING_UNITS = {
    "feasible": None,
    "ttft": "s",
    "itl": "s",
    "kv_cache_size": "byte",
    "model_weights_size": "byte",
    "total_memory_required": "byte",
    "memory_utilization": DIMLESS,
    "prompt_cache_hit_ratio": DIMLESS,
    "prefill_chunks": DIMLESS,
    "prefill_chunk_time": "s",
    "decode_stall_bound": "s",
}

CONTINUOUS_BATCHING_UNITS = {
    "feasible": None,
    "throughput_tokens_per_sec": "1/s",
    "max_active_requests": DIMLESS,
    "static_throughput_tokens_per_sec": "1/s",
    "static_max_active_requests": DIMLESS,
    "mean_request_tokens": DIMLESS,
    "paged_internal_fragmentation": DIMLESS,
    "static_internal_fragmentation": DIMLESS,
    "paged_kv_cache_size": "byte",
    "static_kv_cache_size": "byte",
    "ttft": "s",
    "itl": "s",
    "speedup_vs_static": DIMLESS,
}

WEIGHT_STREAMING_UNITS = {
    "feasible": None,
    "throughput_tokens_per_sec": "1/s",
    "bottleneck": None,
    "layer_compute_time": "s",
    "layer_injection_time": "s",
    "optimal_batch_size": DIMLESS,
    "wafer_memory_utilization": DIMLESS,
}

TAIL_LATENCY_UNITS = {
    "p50_latency": "s",
    "p99_latency": "s",
    "queue_utilization": DIMLESS,
    "is_stable": None,
    "slo_headroom_ratio": DIMLESS,
}

SERVING_CAPACITY_UNITS = {
    "feasible": None,
    "required_replicas": DIMLESS,
    "qps_target": "1/s",
    "qps_capacity": "1/s",
    "per_replica_qps_capacity": "1/s",
    "utilization": DIMLESS,
    "target_p99_latency": "s",
    "estimated_p99_latency": "s",
    "base_request_latency": "s",
    "queue_wait_p99": "s",
    "active_batch_size": DIMLESS,
    "ttft": "s",
    "itl": "s",
    "bottleneck": None,
}

INFERENCE_SCALING_UNITS = {
    "total_reasoning_time": "s",
    "ttft": "s",
    "itl": "s",
    "tokens_generated": DIMLESS,
    "reasoning_steps": DIMLESS,
    "time_per_step": "s",
    "energy_per_query": "J",
    "feasible": None,
}

CANON = base.CANON_PRECISIONS
UPPER = base.UPPER_PRECISIONS

# Devices: every Cloud/Workstation/Mobile/Edge record serves (ServingModel, InferenceScaling);
# the capacity search runs on the datacenter accelerators; weight streaming on the wafer-scale
# and SRAM parts plus GPUs with and without an interconnect record.
SERVING_TIERS = ("Cloud", "Workstation", "Mobile", "Edge")
SERVING_TINY = ["Tiny.ESP32_S3", "Tiny.nRF52840"]
DECODE_HW = [
    "Cloud.A100",
    "Cloud.H100",
    "Cloud.H200",
    "Cloud.B200",
    "Cloud.MI300X",
    "Cloud.T4",
    "Cloud.A100_40GB",
    "Cloud.Gaudi3",
    "Edge.DriveThor",
    "Cloud.V100",
]
DRAFTS = [
    "Language.GPT2_Small",
    "Language.GPT2",
    "Language.Llama2_7B",
    "Language.Llama3_8B",
    "Language.BERT_Base",
    "Language.Mixtral_8x7B",
]
NETWORK_BW = [12.5e9, 25e9, 50e9, 100e9, 400e9, 900e9, 1.8e12]  # byte/s
WS_HW = [
    "Cloud.Cerebras_CS3",
    "Cloud.Groq_LPU",
    "Cloud.Graphcore_GC200",
    "Cloud.DMatrix_Corsair",
    "Cloud.Untether_speedAI240",
    "Cloud.GB200_NVL72",
    "Cloud.H100",
    "Cloud.H100_PCIe",
    "Cloud.A100",
    "Cloud.MI300X",
    "Cloud.TPUv5p",
    "Edge.DriveThor",
    "Edge.RoboTaxi",
]
CAPACITY_HW = [
    "Cloud.H100",
    "Cloud.A100",
    "Cloud.A100_40GB",
    "Cloud.H200",
    "Cloud.B200",
    "Cloud.MI300X",
    "Cloud.MI325X",
    "Cloud.Gaudi3",
    "Cloud.T4",
    "Cloud.V100",
    "Cloud.TPUv5p",
    "Workstation.DGX_Spark",
    "Edge.JetsonAGXOrin",
]
NON_TRANSFORMERS = [
    "Vision.ResNet50",
    "StateSpace.Mamba_130M",
    "Embodied.OpenVLA_7B",
    "Vision.ViT_Large",
    "Recommendation.DLRM",
]
MAX_CHUNKS = 256  # the reference loops over chunks in Python (~0.2 ms each)


def build(base):
    """Record the six serving resolvers of the reference and write their fixtures."""
    import warnings

    warnings.simplefilter("ignore")
    from mlsysim import Hardware, Models
    from mlsysim.core.units import Q_
    from mlsysim.solvers import (
        ContinuousBatchingModel,
        InferenceScalingModel,
        ServingCapacityModel,
        ServingModel,
        TailLatencyModel,
        WeightStreamingModel,
    )

    hardware = base._registry(Hardware, base.HW_FAMILIES, base._is_hardware)
    models = base._registry(Models, base.MODEL_FAMILIES, base._is_workload)
    for name in DECODE_HW + WS_HW + CAPACITY_HW + SERVING_TINY + DRAFTS + NON_TRANSFORMERS:
        assert name in hardware or name in models, name
    lm = sorted(k for k in models if k.startswith("Language."))
    serving_hw = sorted(k for k in hardware if k.split(".")[0] in SERVING_TIERS) + SERVING_TINY

    def kwargs_of(inputs):
        kw = dict(inputs)
        for key in ("model", "draft_model"):
            if key in kw:
                kw[key] = models[kw[key]]
        for key in ("hardware", "decode_hardware"):
            if key in kw:
                kw[key] = hardware[kw[key]]
        if "network_bandwidth" in kw:
            kw["network_bandwidth"] = Q_(kw["network_bandwidth"], "byte/s")
        return kw

    def caller(resolver, drop=()):
        def call(inputs):
            result = resolver.solve(**kwargs_of(inputs))
            return _without(result, drop) if drop else result

        return call

    jobs = [
        ("parity_serving.json", lambda: _serving(base, caller(ServingModel()), lm, serving_hw)),
        (
            "parity_continuous_batching.json",
            lambda: _continuous_batching(base, caller(ContinuousBatchingModel()), lm, hardware),
        ),
        ("parity_weight_streaming.json", lambda: _weight_streaming(base, caller(WeightStreamingModel()), lm)),
        ("parity_tail_latency.json", lambda: _tail_latency(base, caller(TailLatencyModel()))),
        ("parity_serving_capacity.json", lambda: _serving_capacity(base, caller(ServingCapacityModel()), lm)),
        (
            "parity_inference_scaling.json",
            lambda: _inference_scaling(base, caller(InferenceScalingModel(), ("serving_detail",)), lm, serving_hw),
        ),
    ]
    for filename, job in jobs:
        t = time.perf_counter()
        rec = job()
        base._write(rec, filename)
        print(f"[parity]   {rec.resolver} {time.perf_counter() - t:.1f} s")


def _without(result, names):
    """``result`` seen without the fields ``names`` (``base._outputs`` reads every field listed
    in ``type(result).model_fields``)."""
    fields = {k: v for k, v in type(result).model_fields.items() if k not in names}
    view = type(type(result).__name__, (), {"model_fields": fields})()
    for key in fields:
        setattr(view, key, getattr(result, key))
    return view


# --------------------------------------------------------------------------
# Checks shared by the builders
# --------------------------------------------------------------------------


def _solved(rec, where=lambda inputs: True):
    return [c for c in rec.cases if "outputs" in c and where(c["inputs"])]


def _covers(rec, key, universe, default=None, norm=lambda v: v, where=lambda inputs: True):
    """Every value of ``universe`` appears as ``key`` in a case the reference solved."""
    seen = {norm(c["inputs"].get(key, default)) for c in _solved(rec, where)}
    missing = [v for v in universe if v not in seen]
    assert not missing, (rec.resolver, key, missing)


def _counts(rec, minimum):
    n_err = sum("raises" in c for c in rec.cases)
    assert len(rec.cases) >= minimum and len(rec.cases) - n_err >= 300, (rec.resolver, len(rec.cases), n_err)
    assert n_err > 0, rec.resolver


def _example(rec, inputs, **expected):
    """A spec worked example: the recorded case ``inputs`` has these outputs. A number output
    quoted as a string ("70.97") must agree to the digits the spec quotes (half a unit in the last
    place); other values exactly. ``*_ms`` names are the output in milliseconds."""
    key = json.dumps(inputs, sort_keys=True)
    case = next(c for c in rec.cases if json.dumps(c["inputs"], sort_keys=True) == key)
    for name, want in expected.items():
        got = case["outputs"][name.removesuffix("_ms")]
        if name.endswith("_ms"):
            got *= 1e3
        if isinstance(want, str) and not isinstance(got, str):
            decimals = len(want.partition(".")[2])
            ok = abs(got - float(want)) <= 0.5 * 10.0**-decimals * (1 + 1e-9)
        else:
            ok = got == want
        assert ok, (rec.resolver, inputs, name, got, want)


def _lower(p):
    return str(p).lower()


# --------------------------------------------------------------------------
# ServingModel [S3 §4.1–4.3]
# --------------------------------------------------------------------------

SEQ_LENS = [128, 512, 1024, 2048, 4096, 8192, 32768, 1, 1000, 3000]
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 3]
EFFICIENCIES = [0.5, 0.3, 0.8, 1.0, 0.05]
ACCEPTANCE = [0.0, 0.5, 0.7, 1.0, 0.3, 0.9]
CHUNKS = [64, 128, 256, 512, 1000, 2048, 4096, 8192, 65536]


def _serving(base, call, lm, serving_hw):
    rec = base.Recorder("ServingModel", SERVING_UNITS, call)
    M8, H = "Language.Llama3_8B", "Cloud.H100"

    # 1. Spec worked examples [S3 §4.3, §12.3].
    ex = {"model": M8, "hardware": H, "seq_len": 2048}
    examples = [
        (dict(ex), dict(ttft_ms="70.97", itl_ms="5.194", prefill_chunks=1.0)),
        (dict(ex, batch_size=1), {}),
        (dict(ex, decode_hardware="Cloud.A100", network_bandwidth=100e9), dict(ttft_ms="73.65", itl_ms="8.33")),
        (dict(ex, decode_hardware="Cloud.A100"), dict(ttft_ms="73.65", itl_ms="8.33")),
        (dict(ex, cached_prefix_len=1536), dict(ttft_ms="17.75", prompt_cache_hit_ratio="0.75")),
        (
            dict(ex, prefill_chunk_tokens=512),
            dict(prefill_chunks=4.0, decode_stall_bound_ms="17.75", prefill_chunk_time_ms="17.75", ttft_ms="71.00"),
        ),
        (dict(ex, draft_model="Language.GPT2", draft_acceptance_rate=0.7), dict(itl_ms="3.44")),
        (dict(ex, draft_model="Language.GPT2"), dict(itl_ms="3.44")),
        (dict(ex, draft_model="Language.GPT2", draft_acceptance_rate=1.0), dict(itl_ms="1.91")),
        (dict(ex, draft_model="Language.GPT2", draft_acceptance_rate=0.0), dict(itl_ms="9.53")),
        # B2: MoE prefill uses the total parameter count.
        (dict(ex, model="Language.Mixtral_8x7B"), dict(ttft_ms="391.3")),
        (dict(ex, model="Language.DeepSeek_V3"), dict(ttft_ms="5573")),
        # B3: PaLM's head_dim (256) is ignored by the attention FLOPs, honoured by the KV cache.
        (dict(ex, model="Language.PaLM_540B"), {}),
    ]
    for inputs, _ in examples:
        rec.add(inputs)
    # Defaults only; every model on the H100 at the example length.
    for m in lm:
        rec.add({"model": m, "hardware": H, "seq_len": 2048})

    # 2. Seeded sample: model x device x seq_len x batch x precision, with the optional
    #    features (disaggregation, speculation, prefix cache, chunking) switched on at random.
    rng = random.Random(10)
    next_model, next_hw = base.Cycler(lm, rng), base.Cycler(serving_hw, rng)
    next_seq, next_batch = base.Cycler(SEQ_LENS, rng), base.Cycler(BATCHES, rng)
    next_prec = base.Cycler(CANON * 2 + UPPER, rng)
    next_eff = base.Cycler(EFFICIENCIES, rng)
    next_decode, next_bw = base.Cycler(DECODE_HW, rng), base.Cycler(NETWORK_BW, rng)
    next_draft, next_alpha = base.Cycler(DRAFTS, rng), base.Cycler(ACCEPTANCE, rng)
    next_prefix = base.Cycler([0.25, 0.5, 0.75, 0.9, 0.999, 0.0], rng)
    next_chunk = base.Cycler(CHUNKS, rng)
    added = 0
    while added < 1350:
        S = next_seq()
        inputs = {"model": next_model(), "hardware": next_hw(), "seq_len": S}
        if rng.random() < 0.9:
            inputs["batch_size"] = next_batch()
        if rng.random() < 0.85:
            inputs["precision"] = next_prec()
        if rng.random() < 0.5:
            inputs["efficiency"] = next_eff()
        if rng.random() < 0.2:
            inputs["decode_hardware"] = next_decode()
            if rng.random() < 0.7:
                inputs["network_bandwidth"] = next_bw()
        elif rng.random() < 0.03:
            inputs["network_bandwidth"] = next_bw()  # accepted and unused without decode_hardware
        if rng.random() < 0.2:
            inputs["draft_model"] = next_draft()
            if rng.random() < 0.85:
                inputs["draft_acceptance_rate"] = next_alpha()
        elif rng.random() < 0.03:
            inputs["draft_acceptance_rate"] = next_alpha()  # unused without a draft
        cached = 0
        if rng.random() < 0.2:
            cached = min(S - 1, int(next_prefix() * S))
            inputs["cached_prefix_len"] = cached
        if rng.random() < 0.25:
            new = max(1, S - cached)
            chunk = next_chunk()
            inputs["prefill_chunk_tokens"] = (
                chunk if math.ceil(new / chunk) <= MAX_CHUNKS else math.ceil(new / MAX_CHUNKS)
            )
        added += rec.add(inputs)

    # 3. Boundaries that are valid.
    for kw in [
        dict(seq_len=1),
        dict(seq_len=2, cached_prefix_len=1),
        dict(seq_len=128, prefill_chunk_tokens=1),
        dict(seq_len=2048, prefill_chunk_tokens=2048),
        dict(seq_len=2048, prefill_chunk_tokens=2047),
        dict(seq_len=2048, prefill_chunk_tokens=10**9),
        dict(seq_len=2048, cached_prefix_len=2047, prefill_chunk_tokens=1),
        dict(seq_len=2048, efficiency=1.0),
        dict(seq_len=2048, efficiency=1e-9),
        dict(seq_len=2048, network_bandwidth=1.0),
        dict(seq_len=2048, decode_hardware="Cloud.H100", network_bandwidth=1e6),
        dict(seq_len=2048, decode_hardware="Tiny.ESP32_S3"),
        dict(
            seq_len=2048,
            decode_hardware="Cloud.B200",
            draft_model="Language.GPT2",
            cached_prefix_len=1024,
            prefill_chunk_tokens=256,
            batch_size=16,
        ),
        dict(seq_len=131072, batch_size=64),
        dict(seq_len=2048, batch_size=4096),
        dict(seq_len=2048, draft_model="Language.Llama3_70B"),
        dict(seq_len=2048, draft_model="Language.DeepSeek_V3", draft_acceptance_rate=0.5),
        dict(seq_len=2048, batch_size=1, precision="int4"),
    ]:
        rec.add({"model": M8, "hardware": H, **kw})
    rec.add(
        {
            "model": "Language.Llama3_70B",
            "hardware": H,
            "seq_len": 2048,
            "decode_hardware": "Cloud.H200",
            "precision": "fp8",
        }
    )  # prefill node never checked

    # 4. Errors [S3 §4.1] and non-Transformer workloads (B21).
    for kw in [
        dict(seq_len=0),
        dict(seq_len=-5),
        dict(batch_size=0),
        dict(batch_size=-1),
        dict(efficiency=0),
        dict(efficiency=1.5),
        dict(efficiency=-0.5),
        dict(cached_prefix_len=2048),
        dict(cached_prefix_len=4096),
        dict(cached_prefix_len=-1),
        dict(draft_model="Language.GPT2", draft_acceptance_rate=1.5),
        dict(draft_model="Language.GPT2", draft_acceptance_rate=-0.1),
        dict(draft_acceptance_rate=1.5),
        dict(prefill_chunk_tokens=0),
        dict(prefill_chunk_tokens=-512),
        dict(network_bandwidth=0.0),
        dict(network_bandwidth=-1e9),
        dict(decode_hardware="Cloud.A100", network_bandwidth=0.0),
        dict(precision="fp4"),
        dict(precision="banana"),
        dict(precision="fp16_dense"),
        dict(draft_model="Vision.ResNet50"),
    ]:
        rec.add({"model": M8, "hardware": H, "seq_len": 2048, **kw})
    for m in NON_TRANSFORMERS:
        rec.add({"model": m, "hardware": H, "seq_len": 2048})

    for inputs, expected in examples:
        if expected:
            _example(rec, inputs, **expected)
    _counts(rec, 1000)
    _covers(rec, "model", lm)
    _covers(rec, "hardware", serving_hw)
    _covers(rec, "decode_hardware", DECODE_HW)
    _covers(rec, "draft_model", DRAFTS)
    _covers(rec, "seq_len", SEQ_LENS)
    _covers(rec, "batch_size", BATCHES, default=1)
    _covers(rec, "precision", CANON, default="fp16", norm=_lower)
    _covers(rec, "precision", UPPER)
    _covers(rec, "efficiency", EFFICIENCIES, default=0.5)
    _covers(rec, "network_bandwidth", NETWORK_BW, where=lambda i: "decode_hardware" in i)
    _covers(rec, "draft_acceptance_rate", ACCEPTANCE, where=lambda i: "draft_model" in i)
    _covers(rec, "prefill_chunk_tokens", CHUNKS[:6])
    assert sum("cached_prefix_len" in c["inputs"] and "prefill_chunk_tokens" in c["inputs"] for c in _solved(rec)) >= 20
    return rec


# --------------------------------------------------------------------------
# ContinuousBatchingModel [S3 §5.4, B18]
# --------------------------------------------------------------------------

CB_MAX_SEQ = [128, 512, 1024, 2048, 4096, 8192, 32768, 131072, 100, 1000]
# Mean request length: None (= max_seq_len), a fraction of max_seq_len, or a token count
# (capped at max_seq_len).
CB_MEAN = [
    None,
    ("frac", 0.1),
    ("frac", 0.25),
    ("frac", 0.5),
    ("frac", 1.0),
    ("tokens", 1),
    ("tokens", 0.5),
    ("tokens", 333.3),
]
CB_BATCH = [1, 4, 16, 32, 64, 256, 1024, 4096]
CB_PAGE = [None, 1, 8, 16, 32, 64, 128, 256, 4096]
CB_HW_TIERS = ("Cloud", "Workstation", "Edge")


def _continuous_batching(base, call, lm, hardware):
    rec = base.Recorder("ContinuousBatchingModel", CONTINUOUS_BATCHING_UNITS, call)
    M8, H = "Language.Llama3_8B", "Cloud.H100"
    cb_hw = sorted(k for k in hardware if k.split(".")[0] in CB_HW_TIERS)

    example = {"model": M8, "hardware": H, "max_seq_len": 8192, "mean_request_tokens": 1024, "max_batch_size": 1024}
    rec.add(example)
    rec.add({"model": M8, "hardware": H, "max_seq_len": 2048})
    for m in lm:
        rec.add({"model": m, "hardware": H, "max_seq_len": 4096, "mean_request_tokens": 512, "max_batch_size": 256})

    rng = random.Random(11)
    next_model, next_hw = base.Cycler(lm, rng), base.Cycler(cb_hw, rng)
    next_seq, next_mean = base.Cycler(CB_MAX_SEQ, rng), base.Cycler(CB_MEAN, rng)
    next_batch, next_page = base.Cycler(CB_BATCH, rng), base.Cycler(CB_PAGE, rng)
    next_prec = base.Cycler(CANON * 2 + UPPER, rng)
    next_eff = base.Cycler(EFFICIENCIES, rng)
    added = 0
    while added < 1100:
        S = next_seq()
        inputs = {"model": next_model(), "hardware": next_hw(), "max_seq_len": S}
        mean = next_mean()
        if mean is not None:
            kind, value = mean
            inputs["mean_request_tokens"] = value * S if kind == "frac" else min(S, value)
        if rng.random() < 0.9:
            inputs["max_batch_size"] = next_batch()
        page = next_page()
        if page is not None:
            inputs["page_size"] = page
        if rng.random() < 0.85:
            inputs["precision"] = next_prec()
        if rng.random() < 0.5:
            inputs["efficiency"] = next_eff()
        added += rec.add(inputs)

    # Edge cases: no KV budget (weights fill or exceed memory), KV budget below one request,
    # pages larger than the sequence, mean == max (fixed lengths), one-token requests.
    for m, hw, kw in [
        ("Language.Llama3_405B", H, dict(max_seq_len=8192, mean_request_tokens=1024, max_batch_size=1024)),
        ("Language.Llama3_70B", H, dict(max_seq_len=2048, max_batch_size=32)),
        ("Language.Llama3_70B", "Cloud.H200", dict(max_seq_len=2048, max_batch_size=32, precision="fp8")),
        (M8, "Cloud.T4", dict(max_seq_len=32768, max_batch_size=64)),
        (M8, "Cloud.T4", dict(max_seq_len=32768, mean_request_tokens=100, max_batch_size=64)),
        (M8, "Cloud.T4", dict(max_seq_len=8192, mean_request_tokens=64, max_batch_size=64)),
        (M8, "Cloud.A100_40GB", dict(max_seq_len=131072, mean_request_tokens=512, max_batch_size=256)),
        (M8, H, dict(max_seq_len=16, page_size=64, max_batch_size=8)),
        (M8, H, dict(max_seq_len=1)),
        (M8, H, dict(max_seq_len=1, mean_request_tokens=1, max_batch_size=4096, page_size=1)),
        (M8, H, dict(max_seq_len=2048, mean_request_tokens=2048, max_batch_size=64)),
        (M8, H, dict(max_seq_len=2048, mean_request_tokens=1e-6, max_batch_size=64)),
        (M8, H, dict(max_seq_len=2048, max_batch_size=64, efficiency=1e-9)),
        (M8, H, dict(max_seq_len=2048, max_batch_size=64, efficiency=1.0)),
        (M8, H, dict(max_seq_len=8192, mean_request_tokens=1024, max_batch_size=1000000)),
        (
            "Language.DeepSeek_V3",
            "Cloud.GB200_NVL72",
            dict(max_seq_len=8192, mean_request_tokens=1024, max_batch_size=4096),
        ),
        ("Language.PaLM_540B", "Cloud.GB200_NVL72", dict(max_seq_len=8192, max_batch_size=256)),
    ]:
        rec.add({"model": m, "hardware": hw, **kw})
    # Errors [S3 §5.4]; the guides' keyword names (P18) are TypeErrors in 0.3.0.
    for kw in [
        dict(max_seq_len=0),
        dict(max_seq_len=-1),
        dict(max_batch_size=0),
        dict(page_size=0),
        dict(efficiency=0),
        dict(efficiency=1.5),
        dict(mean_request_tokens=0),
        dict(mean_request_tokens=-10),
        dict(mean_request_tokens=4096),
        dict(precision="banana"),
        dict(precision="fp4"),
        dict(seq_len=2048),
        dict(max_batch=32),
    ]:
        rec.add({"model": M8, "hardware": H, "max_seq_len": 2048, **kw})
    for m in NON_TRANSFORMERS:
        rec.add({"model": m, "hardware": H, "max_seq_len": 2048})

    _example(
        rec,
        example,
        max_active_requests=516.0,
        throughput_tokens_per_sec="20261",
        static_max_active_requests=65.0,
        static_throughput_tokens_per_sec="8786",
        speedup_vs_static="2.31",
        static_internal_fragmentation=0.875,
        paged_internal_fragmentation="0.0078",
    )
    _counts(rec, 1000)
    _covers(rec, "model", lm)
    _covers(rec, "hardware", cb_hw)
    _covers(rec, "max_seq_len", CB_MAX_SEQ)
    _covers(rec, "max_batch_size", CB_BATCH, default=1)
    _covers(rec, "page_size", CB_PAGE)
    _covers(rec, "precision", CANON, default="fp16", norm=_lower)
    _covers(rec, "precision", UPPER)
    _covers(rec, "efficiency", EFFICIENCIES, default=0.5)
    ok = _solved(rec)
    assert sum(c["inputs"].get("mean_request_tokens") is None for c in ok) >= 100
    assert sum(not c["outputs"]["feasible"] for c in ok) >= 50
    assert sum(c["outputs"]["speedup_vs_static"] == math.inf for c in ok) >= 5
    assert sum(c["outputs"]["itl"] == 1000.0 for c in ok) >= 20  # the no-KV-budget sentinel
    return rec


# --------------------------------------------------------------------------
# WeightStreamingModel [S3-2 §3, P5, P6]
# --------------------------------------------------------------------------

WS_SEQ = [1, 128, 512, 2048, 4096, 8192, 32768]
WS_BATCH = [1, 8, 32, 64, 65, 256, 1024]
WS_PHASE = [None, "decode", "prefill"]


def _weight_streaming(base, call, lm):
    rec = base.Recorder("WeightStreamingModel", WEIGHT_STREAMING_UNITS, call)
    M70, CS3 = "Language.Llama3_70B", "Cloud.Cerebras_CS3"

    # Spec examples [S3-2 §3, §20]: decode B=64 sits exactly on the SRAM capacity (P5).
    decode64 = {"model": M70, "hardware": CS3, "seq_len": 2048, "batch_size": 64}
    prefill8 = {"model": M70, "hardware": CS3, "seq_len": 2048, "batch_size": 8, "phase": "prefill"}
    over65 = {"model": M70, "hardware": CS3, "seq_len": 2048, "batch_size": 65}
    for inputs in (decode64, prefill8, over65):
        rec.add(inputs)
    # Further exact-boundary points: KV·1.1 == 44 GiB for Llama3-70B at S·B = 2^17 (fp16) or
    # 2^18 (fp8), and for Llama3-8B at S·B = 327,680 (fp16).
    for S, B in [(4096, 32), (8192, 16), (32768, 4), (131072, 1)]:
        for phase in ("decode", "prefill"):
            rec.add({"model": M70, "hardware": CS3, "seq_len": S, "batch_size": B, "phase": phase})
        rec.add({"model": M70, "hardware": CS3, "seq_len": S, "batch_size": 2 * B, "precision": "fp8"})
    for S, B in [(8192, 40), (32768, 10), (2048, 160)]:
        rec.add({"model": "Language.Llama3_8B", "hardware": CS3, "seq_len": S, "batch_size": B})
    for m in lm:
        rec.add({"model": m, "hardware": CS3, "seq_len": 2048})
        rec.add({"model": m, "hardware": CS3, "seq_len": 2048, "batch_size": 8, "phase": "prefill"})

    rng = random.Random(12)
    next_model, next_hw = base.Cycler(lm, rng), base.Cycler(WS_HW + [CS3] * 4, rng)
    next_seq, next_batch = base.Cycler(WS_SEQ, rng), base.Cycler(WS_BATCH, rng)
    next_phase = base.Cycler(WS_PHASE, rng)
    next_prec = base.Cycler(CANON * 2 + UPPER, rng)
    next_eff = base.Cycler(EFFICIENCIES, rng)
    added = 0
    while added < 900:
        inputs = {"model": next_model(), "hardware": next_hw(), "seq_len": next_seq()}
        if rng.random() < 0.9:
            inputs["batch_size"] = next_batch()
        phase = next_phase()
        if phase is not None:
            inputs["phase"] = phase
        if rng.random() < 0.85:
            inputs["precision"] = next_prec()
        if rng.random() < 0.5:
            inputs["efficiency"] = next_eff()
        added += rec.add(inputs)

    # Accepted edge inputs (P6 f, e) and errors.
    for kw in [
        dict(seq_len=0),
        dict(batch_size=0),
        dict(seq_len=0, phase="prefill"),
        dict(phase="Prefill"),
        dict(phase="PREFILL"),
        dict(phase="banana"),
        dict(efficiency=1.5),
        dict(efficiency=1e-9),
        dict(seq_len=-4),
        dict(efficiency=0),
        dict(efficiency=0, phase="prefill"),
        dict(precision="banana"),
        dict(precision="fp4"),
    ]:
        rec.add({"model": M70, "hardware": CS3, "seq_len": kw.pop("seq_len", 2048), **kw})
    for m in NON_TRANSFORMERS:
        rec.add({"model": m, "hardware": CS3, "seq_len": 2048})

    _example(
        rec,
        decode64,
        feasible=False,
        throughput_tokens_per_sec=0.0,
        wafer_memory_utilization=1.0,
        optimal_batch_size=52083.0,
        bottleneck="Interconnect-Bandwidth-Bound",
    )
    _example(
        rec,
        prefill8,
        feasible=True,
        throughput_tokens_per_sec="139240.8",
        wafer_memory_utilization=0.125,
        layer_injection_time_ms="1.4708",
    )
    _example(rec, over65, feasible=False, wafer_memory_utilization="1.015625")
    _counts(rec, 800)
    _covers(rec, "model", lm)
    _covers(rec, "hardware", WS_HW)
    _covers(rec, "seq_len", WS_SEQ)
    _covers(rec, "batch_size", WS_BATCH, default=1)
    _covers(rec, "phase", WS_PHASE)
    _covers(rec, "precision", CANON, default="fp16", norm=_lower)
    _covers(rec, "precision", UPPER)
    for phase in ("decode", "prefill"):
        for bottleneck in ("Compute-Bound", "Interconnect-Bandwidth-Bound"):
            assert any(
                c["inputs"].get("phase", "decode") == phase and c["outputs"]["bottleneck"] == bottleneck
                for c in _solved(rec)
            ), (phase, bottleneck)
    return rec


# --------------------------------------------------------------------------
# TailLatencyModel [S3 §5.3, B17]
# --------------------------------------------------------------------------

TL_QPS = [0.1, 1, 5, 10, 20, 50, 100, 500, 1000, 5000, 20000, 100000]
TL_SERVICE_MS = [0.1, 1, 5, 10, 50, 100, 250, 1000, 5000]
TL_REPLICAS = [1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
TL_CV = [None, 0.0, 0.5, 1.0, 2.0, 1.5, 3.0]
TL_RHO = [0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0001, 1.2, 3.0]


def _tail_latency(base, call):
    rec = base.Recorder("TailLatencyModel", TAIL_LATENCY_UNITS, call)

    example = {"arrival_rate_qps": 10, "service_latency_ms": 50, "num_replicas": 1}
    rec.add(example)
    rec.add({"arrival_rate_qps": 10, "service_latency_ms": 50})
    # Exact stability boundary λ = c·μ with exactly representable rates (unstable).
    for c, lam in [(1, 20), (5, 100), (1024, 20480), (2, 40)]:
        rec.add({"arrival_rate_qps": lam, "service_latency_ms": 50, "num_replicas": c})
        rec.add({"arrival_rate_qps": lam - 1, "service_latency_ms": 50, "num_replicas": c})

    rng = random.Random(13)
    next_qps, next_s = base.Cycler(TL_QPS, rng), base.Cycler(TL_SERVICE_MS, rng)
    next_c, next_cv = base.Cycler(TL_REPLICAS, rng), base.Cycler(TL_CV, rng)
    next_rho = base.Cycler(TL_RHO, rng)

    def with_cv(inputs):
        cv = next_cv()
        if cv is not None:
            inputs["service_time_cv"] = cv
        return inputs

    added = 0
    while added < 600:  # the plain cross product: mostly very stable or unstable
        inputs = {"arrival_rate_qps": next_qps(), "service_latency_ms": next_s()}
        c = next_c()
        if c != 1 or rng.random() < 0.5:
            inputs["num_replicas"] = c
        added += rec.add(with_cv(inputs))
    added = 0
    while added < 700:  # arrival rates placed at a target utilisation ρ = λ·s/(1000·c)
        s, c = next_s(), next_c()
        inputs = {"arrival_rate_qps": next_rho() * c * 1000.0 / s, "service_latency_ms": s, "num_replicas": c}
        added += rec.add(with_cv(inputs))

    # Accepted without validation (B17): λ ≤ 0, c ≤ 0, s ≤ 0.
    for kw in [
        dict(arrival_rate_qps=-10),
        dict(arrival_rate_qps=0),
        dict(num_replicas=0),
        dict(num_replicas=-3),
        dict(service_latency_ms=0),
        dict(service_latency_ms=-5),
        dict(arrival_rate_qps=0, service_time_cv=0.0),
        dict(arrival_rate_qps=-10, num_replicas=4),
    ]:
        rec.add({**example, **kw})
    for cv in [-1.0, -0.5, -1e-9]:
        rec.add({**example, "service_time_cv": cv})
        rec.add({"arrival_rate_qps": 500, "service_latency_ms": 10, "num_replicas": 8, "service_time_cv": cv})

    _example(rec, example, p50_latency_ms=50.0, p99_latency_ms="441.2", queue_utilization=0.5, is_stable=True)
    _counts(rec, 1000)
    _covers(rec, "num_replicas", TL_REPLICAS, default=1)
    _covers(rec, "service_latency_ms", TL_SERVICE_MS)
    _covers(rec, "arrival_rate_qps", TL_QPS)
    _covers(rec, "service_time_cv", TL_CV)
    ok = _solved(rec)
    for cv in TL_CV:
        for stable in (True, False):
            n = sum(c["inputs"].get("service_time_cv") == cv and c["outputs"]["is_stable"] == stable for c in ok)
            assert n >= 10, (cv, stable, n)
    assert (
        sum(
            c["outputs"]["is_stable"]
            and c["outputs"]["queue_utilization"] > 0.9
            and c["inputs"].get("num_replicas", 1) >= 256
            for c in ok
        )
        >= 10
    )
    return rec


# --------------------------------------------------------------------------
# ServingCapacityModel [S3 §5.1–5.2, §12.5, B1, B18]
# --------------------------------------------------------------------------

SC_QPS = [0.1, 1, 5, 20, 100, 500, 2000]
SC_TARGET_MS = [50, 200, 500, 1000, 2000, 5000, 20000, 60000]
SC_MAX_SEQ = [256, 512, 1024, 2048, 4096, 8192]
SC_OUTPUT = [None, 1, 16, 64, 256, 1024]
SC_BATCH = [None, 1, 4, 8, 64, 128, 256]
SC_MEAN = [None, 0.25, 0.5, 1.0]  # fractions of max_seq_len
SC_CV = [None, 0.0, 0.5, 1.0, 2.0]
SC_REPLICAS = [8, 16, 32, 64, 128]


def _serving_capacity(base, call, lm):
    rec = base.Recorder("ServingCapacityModel", SERVING_CAPACITY_UNITS, call)
    M8, H = "Language.Llama3_8B", "Cloud.H100"

    example = {
        "model": M8,
        "hardware": H,
        "qps": 20,
        "target_p99_latency_ms": 2000,
        "max_seq_len": 1024,
        "output_tokens": 64,
    }
    b1 = dict(example, target_p99_latency_ms=1000)  # B1: base 1509 ms > target; 1024-replica scan
    for inputs in (example, b1):
        rec.add(inputs)
    rec.add({"model": M8, "hardware": H, "qps": 20, "target_p99_latency_ms": 2000})
    rec.add(
        {"model": "Language.Llama3_405B", "hardware": H, "qps": 20, "target_p99_latency_ms": 2000}
    )  # memory-infeasible: no scan
    for m in lm:
        rec.add(
            {
                "model": m,
                "hardware": "Cloud.H200",
                "qps": 5,
                "target_p99_latency_ms": 20000,
                "max_seq_len": 1024,
                "output_tokens": 64,
                "max_replicas": 64,
            }
        )

    rng = random.Random(14)
    next_model, next_hw = base.Cycler(lm, rng), base.Cycler(CAPACITY_HW, rng)
    next_qps, next_target = base.Cycler(SC_QPS, rng), base.Cycler(SC_TARGET_MS, rng)
    next_seq, next_out = base.Cycler(SC_MAX_SEQ, rng), base.Cycler(SC_OUTPUT, rng)
    next_batch, next_mean = base.Cycler(SC_BATCH, rng), base.Cycler(SC_MEAN, rng)
    next_cv, next_rep = base.Cycler(SC_CV, rng), base.Cycler(SC_REPLICAS, rng)
    next_prec = base.Cycler(CANON * 2 + UPPER, rng)
    next_eff = base.Cycler(EFFICIENCIES, rng)
    added = 0
    while added < 700:
        S = next_seq()
        inputs = {
            "model": next_model(),
            "hardware": next_hw(),
            "qps": next_qps(),
            "target_p99_latency_ms": next_target(),
            "max_seq_len": S,
            "max_replicas": next_rep(),
        }
        for key, value in [
            ("output_tokens", next_out()),
            ("max_batch_size", next_batch()),
            ("service_time_cv", next_cv()),
        ]:
            if value is not None:
                inputs[key] = value
        mean = next_mean()
        if mean is not None:
            inputs["mean_request_tokens"] = mean * S
        if rng.random() < 0.8:
            inputs["precision"] = next_prec()
        if rng.random() < 0.4:
            inputs["efficiency"] = next_eff()
        added += rec.add(inputs)

    # Edge cases: the replica cap binding exactly, a fleet of hundreds, one replica, fractional
    # mean length, cap 1.
    for kw in [
        dict(qps=5000, target_p99_latency_ms=5000, max_replicas=256),
        dict(qps=5000, target_p99_latency_ms=5000, max_replicas=60),
        dict(qps=5000, target_p99_latency_ms=5000, max_replicas=61),
        dict(qps=20, target_p99_latency_ms=2000, max_replicas=1),
        dict(qps=200, target_p99_latency_ms=2000, max_replicas=1),
        dict(qps=20, target_p99_latency_ms=2000, mean_request_tokens=0.5, max_replicas=64),
        dict(qps=20, target_p99_latency_ms=2000, mean_request_tokens=1024, max_replicas=64),
        dict(qps=1e-6, target_p99_latency_ms=2000, max_replicas=64),
        dict(qps=20, target_p99_latency_ms=1e6, max_replicas=64),
        dict(qps=20, target_p99_latency_ms=1560.0, max_replicas=64),
        dict(qps=20, target_p99_latency_ms=1561.0, max_replicas=64),
        dict(qps=20, target_p99_latency_ms=2000, efficiency=1e-9, max_replicas=8),
        dict(qps=20, target_p99_latency_ms=2000, service_time_cv=0.0, max_replicas=64),
        dict(qps=20, target_p99_latency_ms=2000, max_batch_size=4096, max_replicas=64),
    ]:
        rec.add({"model": M8, "hardware": H, "max_seq_len": 1024, "output_tokens": 64, **kw})
    # Errors [S3 §5.1]; `seq_len` is not a keyword of 0.3.0 (§12.1).
    for kw in [
        dict(qps=0),
        dict(qps=-1),
        dict(target_p99_latency_ms=0),
        dict(target_p99_latency_ms=-5),
        dict(max_seq_len=0),
        dict(mean_request_tokens=0),
        dict(mean_request_tokens=4096),
        dict(output_tokens=0),
        dict(max_batch_size=0),
        dict(efficiency=0),
        dict(efficiency=1.5),
        dict(max_replicas=0),
        dict(service_time_cv=-1.0),
        dict(precision="banana"),
        dict(seq_len=1024),
    ]:
        rec.add({**example, "max_replicas": 64, **kw})
    for m in NON_TRANSFORMERS[:2]:
        rec.add({"model": m, "hardware": H, "qps": 20, "target_p99_latency_ms": 2000, "max_replicas": 64})

    _example(
        rec,
        example,
        feasible=True,
        required_replicas=1.0,
        qps_capacity="82.29",
        utilization="0.2430",
        estimated_p99_latency_ms="1560.37",
        base_request_latency_ms="1509.15",
        queue_wait_p99_ms="51.22",
        active_batch_size=32.0,
        ttft_ms="1099.8",
        itl_ms="6.396",
        bottleneck="Feasible",
    )
    _example(rec, b1, feasible=False, required_replicas=1024.0, queue_wait_p99_ms=0.0, bottleneck="Tail Latency")
    _counts(rec, 300)
    _covers(rec, "model", lm)
    _covers(rec, "hardware", CAPACITY_HW)
    _covers(rec, "qps", SC_QPS)
    _covers(rec, "target_p99_latency_ms", SC_TARGET_MS)
    _covers(rec, "max_seq_len", SC_MAX_SEQ, default=2048)
    _covers(rec, "output_tokens", SC_OUTPUT)
    _covers(rec, "max_batch_size", SC_BATCH)
    _covers(rec, "service_time_cv", SC_CV)
    _covers(rec, "max_replicas", SC_REPLICAS)
    _covers(rec, "precision", CANON, default="fp16", norm=_lower)
    ok = _solved(rec)
    verdicts = {c["outputs"]["bottleneck"] for c in ok}
    assert {"Feasible", "Tail Latency", "Memory"} <= verdicts, verdicts
    assert sum(c["outputs"]["feasible"] for c in ok) >= 100
    # B1/D9: base latency above target, reported as a scan to max_replicas.
    base_over = [c for c in ok if c["outputs"]["base_request_latency"] > c["inputs"]["target_p99_latency_ms"] / 1e3]
    assert len(base_over) >= 30 and not any(c["outputs"]["feasible"] for c in base_over)
    return rec


# --------------------------------------------------------------------------
# InferenceScalingModel [S3-2 §8, P17]
# --------------------------------------------------------------------------

IS_STEPS = [None, 0, 1, 2, 4, 8, 16, 32, 64, 128, 1000]
IS_CONTEXT = [None, 128, 512, 1024, 2048, 4096, 8192, 32768, 1]


def _inference_scaling(base, call, lm, serving_hw):
    rec = base.Recorder("InferenceScalingModel", INFERENCE_SCALING_UNITS, call)
    ex1 = {"model": "Language.Llama3_8B", "hardware": "Cloud.H100"}
    ex2 = {
        "model": "Language.Llama3_70B",
        "hardware": "Cloud.H200",
        "reasoning_steps": 32,
        "context_length": 8192,
        "precision": "fp8",
    }
    for inputs in (ex1, ex2):
        rec.add(inputs)
    for m in lm:
        rec.add({"model": m, "hardware": "Cloud.H100"})

    rng = random.Random(15)
    next_model, next_hw = base.Cycler(lm, rng), base.Cycler(serving_hw, rng)
    next_steps, next_ctx = base.Cycler(IS_STEPS, rng), base.Cycler(IS_CONTEXT, rng)
    next_prec = base.Cycler(CANON * 2 + UPPER, rng)
    next_eff = base.Cycler(EFFICIENCIES, rng)
    added = 0
    while added < 700:
        inputs = {"model": next_model(), "hardware": next_hw()}
        for key, value in [("reasoning_steps", next_steps()), ("context_length", next_ctx())]:
            if value is not None:
                inputs[key] = value
        if rng.random() < 0.85:
            inputs["precision"] = next_prec()
        if rng.random() < 0.5:
            inputs["efficiency"] = next_eff()
        added += rec.add(inputs)

    # Accepted without validation (P17): negative steps. Errors come from ServingModel.
    for kw in [
        dict(reasoning_steps=-2),
        dict(reasoning_steps=0, context_length=1),
        dict(context_length=0),
        dict(context_length=-1),
        dict(efficiency=0),
        dict(efficiency=1.5),
        dict(precision="banana"),
        dict(precision="fp4"),
    ]:
        rec.add({**ex1, **kw})
    for m in NON_TRANSFORMERS:
        rec.add({"model": m, "hardware": "Cloud.H100"})

    _example(
        rec,
        ex1,
        total_reasoning_time_ms="2148.63",
        ttft_ms="70.970",
        itl_ms="5.19416",
        tokens_generated=400.0,
        energy_per_query="1504.04",
        feasible=True,
    )
    _example(
        rec,
        ex2,
        total_reasoning_time_ms="26607.5",
        ttft_ms="1346.78",
        itl_ms="15.788",
        tokens_generated=1600.0,
        energy_per_query="18625.26",
    )
    _counts(rec, 600)
    _covers(rec, "model", lm)
    _covers(rec, "hardware", serving_hw)
    _covers(rec, "reasoning_steps", IS_STEPS)
    _covers(rec, "context_length", IS_CONTEXT)
    _covers(rec, "precision", CANON, default="fp16", norm=_lower)
    _covers(rec, "precision", UPPER)
    ok = _solved(rec)
    assert (
        sum(c["outputs"]["energy_per_query"] == 0.0 and c["outputs"]["total_reasoning_time"] > 0 for c in ok) >= 5
    )  # devices without a TDP
    assert sum(not c["outputs"]["feasible"] for c in ok) >= 50
    return rec


if __name__ == "__main__":
    base._bootstrap()
    build(base)
