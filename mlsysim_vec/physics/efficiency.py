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
    MFU_CONV_CAP,
    MFU_FFN_CAP,
    MFU_FLASH_ATTENTION,
    MFU_FLASH_ATTENTION_CAP,
    MFU_HIGH,
    MFU_LOW,
    SM_OCCUPANCY_HEADROOM,
    select_by_code,
)

__all__ = ["WORKLOAD_TYPES", "achievable_mfu", "efficiency_losses", "efficiency_step"]

#: Kernel classes, in code order.
WORKLOAD_TYPES = ("ffn", "attention", "conv", "other")


def achievable_mfu(workload_type, flash_attention, efficiency):
    """Achievable MFU (fraction) of a kernel class at a user efficiency η.

    ffn: min(0.50 s, 0.60); attention: min(0.75 s, 0.85) with flash attention, else 0.30 s;
    conv: min(0.40 s, 0.55) (0.40 = the middle of 0.30–0.50); other: 0.30 s; s = η/0.5;
    clipped to [0, 1].
    """
    s = efficiency / 0.5
    attention = np.where(flash_attention, np.minimum(MFU_FLASH_ATTENTION * s, MFU_FLASH_ATTENTION_CAP), MFU_LOW * s)
    mfu = select_by_code(
        workload_type,
        (
            np.minimum(MFU_HIGH * s, MFU_FFN_CAP),
            attention,
            np.minimum(0.5 * (MFU_LOW + MFU_HIGH) * s, MFU_CONV_CAP),
            MFU_LOW * s,
        ),
    )
    return np.clip(mfu, 0.0, 1.0)


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
