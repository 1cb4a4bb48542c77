"""Algorithm kernels: compute-optimal model size (Chinchilla scaling) and model compression
(quantization, pruning). Pure numpy functions of float arrays in canonical units (FLOP, count,
byte, FLOP/s, s); they broadcast.

Scaling: training a dense Transformer of N parameters on D tokens costs C ≈ 6·N·D FLOPs
(Kaplan et al., "Scaling laws for neural language models", 2020), and the compute-optimal
allocation keeps D ≈ 20·N (Hoffmann et al., "Training compute-optimal large language models",
NeurIPS 2022), so N* = √(C/120), D* = 20·N*. Constants as mlsysim 0.3.0
(``reference/anchor-0.3.0-spec-part2.md`` §7; DECISIONS D20 for units and time budgets).

Compression: first-order effects of quantization and pruning on size, accuracy and speed, as
mlsysim 0.3.0 (part 2 §9). The accuracy deltas are the reference's literature-calibrated
constants (Dettmers et al., "LLM.int8()", 2022; Frantar et al., "GPTQ", 2023; Frantar &
Alistarh, "SparseGPT", 2023); 2:4 structured sparsity doubles the math rate of sparse tensor
cores (Mishra et al., "Accelerating sparse deep neural networks", 2021).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "COMPUTE_CONSTANT",
    "TOKENS_PER_PARAMETER",
    "REFERENCE_PEAK_FLOPS",
    "REFERENCE_MFU",
    "SPARSITY_TYPES",
    "time_budget_flops",
    "compute_optimal",
    "tokens_for_size",
    "tokens_per_parameter",
    "quantization_ratio",
    "quantization_accuracy_delta",
    "quantization_speedup",
    "pruning_ratio",
    "pruning_accuracy_delta",
    "pruning_speedup",
    "savings_fraction",
]

#: FLOPs per parameter per training token (forward 2 + backward 4; Literature.Chinchilla.ComputeConstant).
COMPUTE_CONSTANT = 6.0
#: Compute-optimal tokens per parameter (Literature.Chinchilla.TokensPerParam).
TOKENS_PER_PARAMETER = 20.0
#: The reference device of a time budget (D20): H100 headline peak [FLOP/s] at 0.40 MFU
#: (REFERENCE_HARDWARE_TFLOPS, REFERENCE_MFU_SUSTAINED).
REFERENCE_PEAK_FLOPS = 989e12
REFERENCE_MFU = 0.40

#: Quantization accuracy deltas (QUANT_ACCURACY_DELTA_FP8 / _INT4 / _SUB_INT4): 8 bits, 4–15
#: bits except 8, below 4 bits; none at 16 bits and above.
_DELTA_8BIT, _DELTA_4BIT, _DELTA_SUB4 = -0.002, -0.025, -0.050
#: Pruning: mild delta up to 50 % sparsity, then −0.01·e^{2s} (PRUNING_* constants).
_PRUNE_THRESHOLD, _PRUNE_MILD, _PRUNE_COEFF, _PRUNE_EXP = 0.5, -0.001, 0.01, 2.0
#: Compression ratio credited at sparsity 1 (the reference's cap).
_FULL_SPARSITY_RATIO = 100.0
#: N:M sparsity gets its 2x only within this distance of 50 % sparsity.
_NM_TOLERANCE = 0.05
#: Sparsity patterns, in code order.
SPARSITY_TYPES = ("unstructured", "structured", "n_m")
_STRUCTURED, _NM = 1, 2


def time_budget_flops(accelerator_seconds, peak_flops, mfu):
    """FLOPs of an accelerator-time budget [FLOP] = time [s] × peak [FLOP/s] × MFU (D20)."""
    return accelerator_seconds * peak_flops * mfu


def compute_optimal(budget):
    """Compute-optimal ``(parameters, tokens)`` for a budget C [FLOP]: N = √(C/(6·20)), D = 20·N."""
    params = np.sqrt(budget / (COMPUTE_CONSTANT * TOKENS_PER_PARAMETER))
    return params, TOKENS_PER_PARAMETER * params


def tokens_for_size(budget, parameters):
    """Tokens a budget C [FLOP] buys for a model of fixed size N: D = C/(6·N)."""
    return budget / (COMPUTE_CONSTANT * parameters)


def tokens_per_parameter(parameters, tokens):
    """D/N (0 when N = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(parameters > 0, tokens / np.where(parameters > 0, parameters, 1.0), 0.0)


def quantization_ratio(baseline_bytes, target_bits):
    """Size ratio baseline/quantized = 8·b₀/bits (< 1 for an up-cast)."""
    return 8.0 * baseline_bytes / target_bits


def quantization_accuracy_delta(target_bits):
    """Signed accuracy change: 0 at ≥ 16 bits, −0.002 at 8, −0.025 at 4–15, −0.05 below 4.
    (8 bits takes the FP8 constant; the reference's INT8 constant −0.005 is unused, P9.)"""
    return np.where(
        target_bits >= 16,
        0.0,
        np.where(target_bits == 8, _DELTA_8BIT, np.where(target_bits >= 4, _DELTA_4BIT, _DELTA_SUB4)),
    )


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
    """Size ratio of pruning: 1/(1 − s); 100 at s = 1 (the reference's cap)."""
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
