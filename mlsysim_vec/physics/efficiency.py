"""Achievable model-FLOPs utilisation by kernel class (mlsysim 0.3.0's EfficiencyModel;
``docs/equations.md``, section "Efficiency").

The user's ``efficiency`` η is read relative to the typical 0.5 of a well-tuned dense GEMM
(``s = η/0.5``). MFU ranges: 30–50 % for large training runs (Chowdhery et al., "PaLM: scaling
language modeling with pathways", 2022, arXiv:2204.02311, Table 3; Narayanan et al., "Efficient
large-scale language model training on GPU clusters using Megatron-LM", SC 2021,
arXiv:2104.04473), up to ~75 % for fused attention kernels (Dao, "FlashAttention-2: faster
attention with better parallelism and work partitioning", 2023, arXiv:2307.08691), capped per
class.
"""

from __future__ import annotations

import numpy as np

from .constants import (
    GEMM_HALF_SIZE,
    GEMM_SHAPE_EXPONENT,
    MFU_CONV_CAP,
    MFU_FFN_CAP,
    MFU_FLASH_ATTENTION,
    MFU_FLASH_ATTENTION_CAP,
    MFU_HIGH,
    MFU_LOW,
    SM_OCCUPANCY_HEADROOM,
    select_by_code,
)

__all__ = [
    "WORKLOAD_TYPES",
    "achievable_mfu",
    "efficiency_losses",
    "efficiency_step",
    "gemm_size",
    "gemm_shape_factor",
    "layer_gemm_factor",
    "fit_gemm_curve",
]

#: Kernel classes, in code order.
WORKLOAD_TYPES = ("ffn", "attention", "conv", "other")


def achievable_mfu(workload_type, flash_attention, efficiency):
    """Achievable MFU (fraction) of a kernel class at a user efficiency η.

    ffn: min(0.50 s, 0.60); attention: min(0.75 s, 0.85) with flash attention, else 0.30 s;
    conv: min(0.40 s, 0.55) (0.40 = the middle of 0.30–0.50); other: 0.30 s; s = η/0.5;
    clipped to [0, 1].
    """
    s = efficiency / 0.5
    mfu = select_by_code(
        workload_type,
        (
            lambda: np.minimum(MFU_HIGH * s, MFU_FFN_CAP),
            lambda: np.where(
                flash_attention, np.minimum(MFU_FLASH_ATTENTION * s, MFU_FLASH_ATTENTION_CAP), MFU_LOW * s
            ),
            lambda: np.minimum(0.5 * (MFU_LOW + MFU_HIGH) * s, MFU_CONV_CAP),
            lambda: MFU_LOW * s,
        ),
    )
    return np.maximum(np.minimum(mfu, 1.0), 0.0)


def efficiency_losses(mfu, efficiency):
    """``(occupancy_loss, memory_stall)``: 1 − min(1.1 η, 1), and what is left of 1 − MFU
    after it, floored at 0. (They sum to 1 − MFU only when the occupancy loss is the smaller.)"""
    occupancy = 1.0 - np.minimum(SM_OCCUPANCY_HEADROOM * efficiency, 1.0)
    stall = np.maximum(0.0, (1.0 - mfu) - occupancy)
    return occupancy, stall


def efficiency_step(workload_type, flash_attention, efficiency, peak_flops) -> dict:
    """What MFU can a kernel class achieve? (EfficiencyModel.)

    workload_type : code into ``WORKLOAD_TYPES``; flash_attention : bool (fused attention);
    efficiency : the user's η in (0, 1]; peak_flops : peak at the precision [FLOP/s].

    Returns ``mfu`` (``achievable_mfu``), ``achievable_flops`` = peak × MFU [FLOP/s],
    ``peak_flops`` [FLOP/s], ``occupancy_loss`` and ``memory_stall`` (``efficiency_losses``).
    """
    mfu = achievable_mfu(workload_type, flash_attention, efficiency)
    occupancy, stall = efficiency_losses(mfu, efficiency)
    return {
        "mfu": mfu,
        "achievable_flops": peak_flops * mfu,
        "peak_flops": peak_flops,
        "occupancy_loss": occupancy,
        "memory_stall": stall,
    }


# ---- per-GEMM efficiency (refined fidelity) ---------------------------------------------------


def gemm_size(m, k, n):
    """Size of an ``m × k`` by ``k × n`` GEMM that sets its efficiency [elements]: the geometric
    mean of its two smallest dimensions, ``sqrt(m·k·n / max(m, k, n))``.

    (One small dimension, e.g. few tokens against a large weight, leaves the GEMM far less
    starved than two: this size puts both sweeps of the A100 measurements on one curve.)
    """
    largest = np.maximum(np.maximum(m, k), n)
    return np.sqrt(m * k * n / largest)


def gemm_shape_factor(size, half_size=GEMM_HALF_SIZE, exponent=GEMM_SHAPE_EXPONENT):
    """Fraction of the large-GEMM efficiency a GEMM of ``size`` reaches: the saturating curve
    ``x/(1 + x)``, ``x = (size/half_size)^exponent`` (1/2 at ``half_size``; → 1 for large GEMMs).
    """
    x = (size / half_size) ** exponent
    return x / (1.0 + x)


def layer_gemm_factor(tokens, hidden, tp, half_size=GEMM_HALF_SIZE, exponent=GEMM_SHAPE_EXPONENT):
    """Shape factor of a Transformer layer's four GEMMs on one of ``tp`` ranks.

    tokens : rows of the GEMMs [count] (microbatch × sequence per device); hidden ``h``.
    The GEMMs (rows × in × out, FLOP share): QKV ``T × h × 3h/t`` (3/12), attention projection
    ``T × h/t × h`` (1/12), MLP up ``T × h × 4h/t`` (4/12), MLP down ``T × 4h/t × h`` (4/12)
    (Shoeybi et al. 2019, arXiv:1909.08053, §3). The layer's time is the sum of the GEMMs'
    times, so its factor is the FLOP-weighted harmonic mean ``1/Σ wᵢ/φ(mᵢ)`` with
    ``φ = gemm_shape_factor`` and ``mᵢ = gemm_size`` of each GEMM.

    Computed as ``1/(1 + Σ wᵢ/xᵢ)`` (``Σ wᵢ = 1``, ``1/φ = 1 + 1/x``) with
    ``1/xᵢ = m_half^k · min(T, hiᵢ)^(−k/2) · loᵢ^(−k/2)`` (``loᵢ ≤ hiᵢ`` the GEMM's weight
    dimensions, so ``mᵢ² = min(T, hiᵢ)·loᵢ``): one power of the token count, which spans the
    whole grid, and ``min(T, hi)^c = max(T^c, hi^c)`` for ``c < 0``.
    """
    c = -0.5 * exponent
    t_c = np.power(tokens, c)
    total = 0.0
    for weight, k, n in (
        (3.0, hidden, 3.0 * hidden / tp),
        (1.0, hidden / tp, hidden),
        (4.0, hidden, 4.0 * hidden / tp),
        (4.0, 4.0 * hidden / tp, hidden),
    ):
        lo, hi = np.minimum(k, n), np.maximum(k, n)
        total = total + np.maximum(t_c, np.power(hi, c)) * ((weight / 12.0) * np.power(lo, c))
    total = total * np.power(half_size, exponent)
    total += 1.0
    return np.reciprocal(total, out=total) if isinstance(total, np.ndarray) else 1.0 / total


def fit_gemm_curve(m, k, n, fraction_of_peak, half_sizes=None, exponents=None):
    """Least-squares fit of ``η_max · gemm_shape_factor(gemm_size(m, k, n))`` to measured
    fractions of peak, minimising the squared relative error (a vectorized grid search over
    ``half_sizes × exponents``, ``η_max`` in closed form for each pair).

    Returns ``(η_max, half_size, exponent, relative errors)``.
    """
    if half_sizes is None:
        half_sizes = np.logspace(1.5, 4.0, 400)
    if exponents is None:
        exponents = np.linspace(0.5, 3.0, 251)
    y = np.asarray(fraction_of_peak, dtype=float)
    size = gemm_size(np.asarray(m, float), np.asarray(k, float), np.asarray(n, float))
    shape = gemm_shape_factor(size, np.asarray(half_sizes)[:, None, None], np.asarray(exponents)[None, :, None])
    ratio = shape / y
    eta = ratio.sum(-1) / (ratio**2).sum(-1)  # argmin of Σ(η·rᵢ − 1)²
    loss = ((eta[..., None] * ratio - 1.0) ** 2).sum(-1)
    i, j = np.unravel_index(np.argmin(loss), loss.shape)
    best = eta[i, j]
    return float(best), float(half_sizes[i]), float(exponents[j]), best * ratio[i, j] - 1.0
