"""Algorithm kernels: compute-optimal model size (Chinchilla scaling) and model compression
(quantization, pruning). Pure numpy functions of float arrays in canonical units (FLOP, count,
byte, FLOP/s, byte/s, s); they broadcast. See ``docs/equations.md``, section "Scaling and
compression".

Scaling: training a dense Transformer of N parameters on D tokens costs C ≈ 6·N·D FLOPs
(Kaplan et al., "Scaling laws for neural language models", 2020, arXiv:2001.08361), and the
compute-optimal allocation keeps D ≈ 20·N (Hoffmann et al., "Training compute-optimal large
language models", 2022, arXiv:2203.15556), so N* = √(C/120), D* = 20·N*. A budget in
accelerator time is converted at the device's peak and a sustained MFU (docs/differences.md,
D20).

Compression: first-order effects of quantization and pruning on size, accuracy and speed, as
mlsysim 0.3.0. The accuracy deltas are mlsysim's literature-calibrated constants (Dettmers et
al., "LLM.int8()", 2022, arXiv:2208.07339; Frantar et al., "GPTQ", 2023, arXiv:2210.17323;
Frantar & Alistarh, "SparseGPT", 2023, arXiv:2301.00774); 2:4 structured sparsity doubles the
math rate of sparse tensor cores (Mishra et al., "Accelerating sparse deep neural networks",
2021, arXiv:2104.08378). The regime (compute- or memory-bound) is the roofline of one
inference (Williams, Waterman & Patterson, "Roofline", CACM 2009, doi:10.1145/1498765.1498785).

The step functions ``scaling_step`` and ``compression_step`` answer one question each and
return their outputs by name.
"""

from __future__ import annotations

import numpy as np

from . import roofline as rl

__all__ = [
    "COMPUTE_CONSTANT",
    "TOKENS_PER_PARAMETER",
    "REFERENCE_PEAK_FLOPS",
    "REFERENCE_MFU",
    "SPARSITY_TYPES",
    "TARGET_PRECISIONS",
    "scaling_step",
    "compression_step",
    "time_budget_flops",
    "compute_optimal",
    "tokens_for_size",
    "tokens_per_parameter",
    "quantization_ratio",
    "quantization_accuracy_delta",
    "target_peak_for_bits",
    "quantization_speedup",
    "pruning_ratio",
    "pruning_accuracy_delta",
    "pruning_speedup",
    "savings_fraction",
]

#: FLOPs per parameter per training token (forward 2 + backward 4; Kaplan et al. 2020).
COMPUTE_CONSTANT = 6.0
#: Compute-optimal tokens per parameter (Hoffmann et al. 2022).
TOKENS_PER_PARAMETER = 20.0
#: The reference device of a time budget (docs/differences.md, D20): the H100's headline peak
#: [FLOP/s] at 0.40 sustained MFU, as mlsysim 0.3.0.
REFERENCE_PEAK_FLOPS = 989e12
REFERENCE_MFU = 0.40

#: Quantization accuracy deltas: 8 bits (mlsysim's FP8 constant), 4–15 bits except 8, below 4
#: bits; none at 16 bits and above.
_DELTA_8BIT, _DELTA_4BIT, _DELTA_SUB4 = -0.002, -0.025, -0.050
#: Pruning: mild delta up to 50 % sparsity, then −0.01·e^{2s}.
_PRUNE_THRESHOLD, _PRUNE_MILD, _PRUNE_COEFF, _PRUNE_EXP = 0.5, -0.001, 0.01, 2.0
#: Compression ratio credited at sparsity 1 (mlsysim's cap).
_FULL_SPARSITY_RATIO = 100.0
#: N:M sparsity gets its 2x only within this distance of 50 % sparsity.
_NM_TOLERANCE = 0.05
#: Sparsity patterns, in code order.
SPARSITY_TYPES = ("unstructured", "structured", "n_m")
_STRUCTURED, _NM = 1, 2
#: Precision whose peak a quantized model runs at, by bits per weight: int{bits} up to 8 bits,
#: fp{bits} above; any other width has none (the headline peak stands in).
TARGET_PRECISIONS = {4: "int4", 8: "int8", 16: "fp16", 32: "fp32"}


def scaling_step(
    compute_budget=None,
    *,
    accelerator_time=None,
    peak_flops=REFERENCE_PEAK_FLOPS,
    mfu=REFERENCE_MFU,
    target_parameters=None,
) -> dict:
    """What is the optimal model size for a training budget? (Chinchilla allocation)

    compute_budget : training compute C [FLOP]; or, when None,
    accelerator_time : an accelerator-time budget [s], converted to C = time × peak × MFU at
    peak_flops : the device's peak [FLOP/s] (default the H100 reference, 989 TFLOP/s) and
    mfu : the sustained model-FLOPs utilisation (default 0.40)
    target_parameters : pin the parameter count N [count] (None or NaN: compute-optimal)

    Returns ``optimal_parameters`` N = √(C/120) (or the pinned N), ``optimal_tokens``
    D = 20·N (pinned: C/(6·N)), ``compute_budget_flops`` C [FLOP] and
    ``tokens_per_parameter`` D/N (0 when N = 0).
    """
    if compute_budget is None:
        if accelerator_time is None:
            raise TypeError("scaling_step needs compute_budget or accelerator_time")
        compute_budget = time_budget_flops(accelerator_time, peak_flops, mfu)
    params, tokens = compute_optimal(compute_budget)
    if target_parameters is not None:
        pinned = ~np.isnan(target_parameters)
        params = np.where(pinned, target_parameters, params)
        tokens = np.where(pinned, tokens_for_size(compute_budget, np.where(pinned, target_parameters, 1.0)), tokens)
    return {
        "optimal_parameters": params,
        "optimal_tokens": tokens,
        "compute_budget_flops": compute_budget,
        "tokens_per_parameter": tokens_per_parameter(params, tokens),
    }


def compression_step(
    *,
    parameters,
    model_size,
    weights_rule,
    ops,
    baseline_bytes,
    baseline_is_16bit,
    peak_flops,
    memory_bandwidth,
    target_peaks,
    pruning,
    target_bits,
    sparsity,
    sparsity_type,
) -> dict:
    """Is quantization or pruning worth it? Size, accuracy and speed-up of a compressed model.

    parameters, model_size, weights_rule : the model's weights as ``roofline.weight_bytes``
        reads them ([count], [byte], rule code)
    ops : FLOPs of one inference [FLOP]
    baseline_bytes : bytes per weight of the uncompressed model b₀ [byte];
        baseline_is_16bit : whether that precision is fp16/bf16
    peak_flops : the device's headline peak [FLOP/s]; memory_bandwidth [byte/s]
    target_peaks : ``{bits: peak [FLOP/s]}`` of the precisions of ``TARGET_PRECISIONS`` (NaN
        where the device has none)
    pruning : True for pruning, False for quantization
    target_bits : bits per weight after quantization; sparsity : fraction pruned in [0, 1];
    sparsity_type : a code of ``SPARSITY_TYPES``

    The regime is the baseline roofline of one inference: FLOPs at the headline peak against
    the weight bytes at the memory bandwidth (no efficiency, no activations). Returns
    ``original_size`` W [byte], ``compressed_size`` W/ratio [byte], ``compression_ratio``
    (quantization 8·b₀/bits, pruning 1/(1 − s)), ``estimated_accuracy_delta``,
    ``memory_savings_fraction`` 1 − 1/ratio, ``inference_speedup``, ``memory_bound`` (the
    baseline's regime) and ``peak_flops_fallback`` (a compute-bound quantization whose target
    precision has no peak on the device: speed-up 1).
    """
    original = rl.weight_bytes(parameters, model_size, weights_rule, baseline_bytes, baseline_is_16bit)
    t_compute, t_memory = rl.roofline_times(ops, original, peak_flops, memory_bandwidth)
    memory_bound = rl.memory_bound(t_compute, t_memory)
    q_ratio = quantization_ratio(baseline_bytes, target_bits)
    target_peak = target_peak_for_bits(target_bits, target_peaks)
    q_speedup = quantization_speedup(memory_bound, q_ratio, target_peak, peak_flops)
    p_ratio = pruning_ratio(sparsity)
    ratio = np.where(pruning, p_ratio, q_ratio)
    return {
        "original_size": original,
        "compressed_size": original / ratio,
        "compression_ratio": ratio,
        "estimated_accuracy_delta": np.where(
            pruning, pruning_accuracy_delta(sparsity), quantization_accuracy_delta(target_bits)
        ),
        "memory_savings_fraction": savings_fraction(ratio),
        "inference_speedup": np.where(pruning, pruning_speedup(sparsity_type, sparsity, p_ratio), q_speedup),
        "memory_bound": memory_bound,
        "peak_flops_fallback": np.logical_not(pruning) & np.logical_not(memory_bound) & np.isnan(target_peak),
    }


def time_budget_flops(accelerator_seconds, peak_flops, mfu):
    """FLOPs of an accelerator-time budget [FLOP] = time [s] × peak [FLOP/s] × MFU."""
    return accelerator_seconds * peak_flops * mfu


def compute_optimal(budget):
    """Compute-optimal ``(parameters, tokens)`` for a budget C [FLOP]: N = √(C/(6·20)), D = 20·N."""
    params = np.divide(budget, COMPUTE_CONSTANT * TOKENS_PER_PARAMETER)
    params = np.sqrt(params, out=params) if isinstance(params, np.ndarray) else np.sqrt(params)
    return params, TOKENS_PER_PARAMETER * params


def tokens_for_size(budget, parameters):
    """Tokens a budget C [FLOP] buys for a model of fixed size N: D = C/(6·N)."""
    return budget / (COMPUTE_CONSTANT * parameters)


def tokens_per_parameter(parameters, tokens):
    """D/N (0 where N = 0 or N is NaN)."""
    if isinstance(tokens, np.ndarray) and isinstance(parameters, np.ndarray) and tokens.ndim:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.divide(tokens, parameters)
        np.copyto(ratio, 0.0, where=~(parameters > 0))  # in place: one full-size array, not four
        return ratio
    counted = parameters > 0  # lazy (dask) or scalar inputs: safe denominators, no warning later
    return np.where(counted, tokens / np.where(counted, parameters, 1.0), 0.0)


def quantization_ratio(baseline_bytes, target_bits):
    """Size ratio baseline/quantized = 8·b₀/bits (< 1 for an up-cast)."""
    return 8.0 * baseline_bytes / target_bits


def quantization_accuracy_delta(target_bits):
    """Signed accuracy change: 0 at ≥ 16 bits, −0.002 at 8, −0.025 at 4–15, −0.05 below 4.
    (8 bits takes mlsysim's FP8 constant; its INT8 constant −0.005 is unused.)"""
    return np.where(
        target_bits >= 16,
        0.0,
        np.where(target_bits == 8, _DELTA_8BIT, np.where(target_bits >= 4, _DELTA_4BIT, _DELTA_SUB4)),
    )


def target_peak_for_bits(target_bits, peaks):
    """Peak FLOP/s a model quantized to ``target_bits`` runs at [FLOP/s]: ``peaks[bits]`` for
    the widths of ``TARGET_PRECISIONS``, NaN for any other width (or where the device has none)."""
    out = np.nan
    for width, peak in peaks.items():
        out = np.where(target_bits == width, peak, out)
    return out


def quantization_speedup(memory_bound, ratio, target_peak, headline_peak):
    """Inference speed-up of quantization.

    Memory-bound at the baseline: the bytes shrink by ``ratio``, so the speed-up is ``ratio``.
    Compute-bound: the math rate of the target precision over the headline peak, capped at
    ``ratio``; 1 (the headline peak, no change) when the hardware has no peak for the target
    precision (``target_peak`` NaN).
    """
    compute = np.where(np.isnan(target_peak), 1.0, np.minimum(target_peak / headline_peak, ratio))
    return np.where(memory_bound, ratio, compute)


def pruning_ratio(sparsity):
    """Size ratio of pruning: 1/(1 − s); 100 at s = 1 (mlsysim's cap)."""
    below_one = sparsity < 1.0
    return np.where(below_one, 1.0 / (1.0 - np.where(below_one, sparsity, 0.0)), _FULL_SPARSITY_RATIO)


def pruning_accuracy_delta(sparsity):
    """Signed accuracy change of pruning: −0.001 up to s = 0.5, then −0.01·e^{2s}."""
    return np.where(sparsity <= _PRUNE_THRESHOLD, _PRUNE_MILD, -_PRUNE_COEFF * np.exp(_PRUNE_EXP * sparsity))


def pruning_speedup(sparsity_type, sparsity, ratio):
    """Speed-up of pruning: structured (whole channels/heads removed) runs ``ratio`` faster;
    N:M runs 2× within 0.05 of 50 % sparsity, else 1×; unstructured 1× (dense kernels)."""
    nm = np.where(np.abs(sparsity - 0.5) < _NM_TOLERANCE, 2.0, 1.0)
    return np.where(sparsity_type == _STRUCTURED, ratio, np.where(sparsity_type == _NM, nm, 1.0))


def savings_fraction(ratio):
    """Fraction of memory saved, 1 − 1/ratio (negative for an up-cast)."""
    return 1.0 - 1.0 / ratio
