"""Single-accelerator roofline kernels.

Pure numpy functions of float arrays in canonical SI units (s, byte, FLOP, FLOP/s, byte/s, W,
J); every argument may be a scalar, an ndarray or a dask array, and they broadcast.

The roofline (Williams, Waterman & Patterson, "Roofline: an insightful visual performance model
for multicore architectures", CACM 52(4), 2009): a step that performs ``ops`` FLOPs and moves
``traffic`` bytes takes at least ``max(ops / F, traffic / BW)``. The first-order step model and
its constants follow mlsysim 0.3.0 (``reference/anchor-0.3.0-spec.md`` §3.2, part 2 §1), with
the deviations D3, D4, D15 and D19 of DECISIONS.md.
"""

from __future__ import annotations

import numpy as np

from .constants import ENERGY_DYNAMIC_FRACTION, ENERGY_IDLE_FRACTION, FALLBACK_HOST_LINK_BW, PRECISION_BYTES

__all__ = [
    "select_by_code",
    "peak_flops_for_precision",
    "bytes_per_element",
    "weight_bytes",
    "fitting_bandwidth",
    "effective_bandwidth",
    "roofline_times",
    "step_latency",
    "memory_bound",
    "arithmetic_intensity",
    "utilization",
    "step_energy",
]

#: Both times below this [s] (1e-15 ms) count as "no time": the bottleneck is then "Compute".
_NEGLIGIBLE_S = 1e-18


def select_by_code(code, columns):
    """``columns[code]`` elementwise: the k-th array where ``code == k`` (NaN if out of range)."""
    out = np.nan
    for k, column in enumerate(columns):
        out = np.where(code == k, column, out)
    return out


def peak_flops_for_precision(precision_code, table, headline):
    """Peak FLOP/s at a precision [FLOP/s] and whether the headline peak stood in.

    precision_code : index into ``constants.PRECISIONS``
    table : per-precision peaks in ``PRECISIONS`` order [FLOP/s], NaN where the hardware has none
    headline : the hardware's headline peak [FLOP/s], used where ``table`` has no entry (D15)
    Returns ``(F, fallback)``.
    """
    chosen = select_by_code(precision_code, table)
    fallback = np.isnan(chosen)
    return np.where(fallback, headline, chosen), fallback


def bytes_per_element(precision_code):
    """Bytes per element of each precision code [byte]."""
    return select_by_code(precision_code, tuple(PRECISION_BYTES.values()))


def weight_bytes(parameters, model_size, weights_rule, bytes_per_el, is_16bit):
    """Weight bytes W [byte] of a model at a precision.

    parameters [count] × bytes per element, except: a model with no parameter count uses its
    recorded ``model_size`` (rule 2); a Transformer with a recorded size uses it at 16-bit
    precision (rule 1), as the reference's ``size_in_bytes``.
    """
    from_params = parameters * bytes_per_el
    return np.where(weights_rule == 2, model_size, np.where((weights_rule == 1) & is_16bit, model_size, from_params))


def fitting_bandwidth(weights, memory_bw, sram_capacity, sram_bw, flash_bw):
    """Bandwidth of the memory tier a resident model streams from [byte/s].

    On-chip SRAM when the device has an SRAM capacity and bandwidth and the weights fit in it;
    else flash when the device has a flash bandwidth (MCUs execute in place); else main memory.
    """
    in_sram = ~np.isnan(sram_bw) & ~np.isnan(sram_capacity) & (weights <= sram_capacity)
    return np.where(in_sram, sram_bw, np.where(np.isnan(flash_bw), memory_bw, flash_bw))


def effective_bandwidth(fits, fitting_bw, host_link_bw):
    """Bandwidth the memory time is charged at [byte/s].

    When the footprint fits: the fitting tier's bandwidth. When it spills (offload), every byte
    crosses the host link: the lower of the fitting bandwidth and the host link (per direction;
    64 GB/s when the device has none). Taking the fitting tier rather than main memory as the
    first term is DECISIONS D19: offload is never faster than fitting.
    """
    host = np.where(np.isnan(host_link_bw), FALLBACK_HOST_LINK_BW, host_link_bw)
    return np.where(fits, fitting_bw, np.minimum(fitting_bw, host))


def roofline_times(ops, traffic, flops_eff, bandwidth):
    """Compute time ``ops / flops_eff`` and memory time ``traffic / bandwidth`` [s].

    No work or no traffic takes 0 s; a zero bandwidth is treated as "no memory term" (0 s),
    as the reference does.
    """
    bandwidth = np.where(bandwidth > 0, bandwidth, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(ops, flops_eff), np.divide(traffic, bandwidth)


def step_latency(t_compute, t_memory, overhead):
    """Latency of a step [s] = max(compute, memory) + overhead, and whether the overhead
    exceeds both (``overhead_dominated``)."""
    latency = np.maximum(t_compute, t_memory)
    dominated = overhead > latency
    latency += overhead
    return latency, dominated


def memory_bound(t_compute, t_memory):
    """True where the memory time strictly exceeds the compute time (a tie is compute-bound;
    both negligible, below 1e-15 ms, is compute-bound)."""
    bound = t_memory > t_compute
    bound &= t_memory >= _NEGLIGIBLE_S
    return bound


def arithmetic_intensity(ops, traffic):
    """FLOPs per byte moved [FLOP/byte]: ∞ when nothing moves but work is done, 0 for no work."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = ops / traffic
    return np.where(traffic > 0, ratio, np.where(ops > 0, np.inf, 0.0))


def utilization(ops_over_peak, latency):
    """Achieved fraction of peak, clipped to [0, 1]: (FLOPs / peak FLOP/s) / latency.

    ops_over_peak [s] is the time the FLOPs would take at peak."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(ops_over_peak, latency)
    return np.clip(out, 0.0, 1.0, out=out if isinstance(out, np.ndarray) else None)


def step_energy(tdp, hfu, latency):
    """Energy of a step [J]: TDP × (0.30 idle + 0.70 × HFU) × latency; 0 J without a TDP."""
    tdp = np.where(np.isnan(tdp), 0.0, tdp)
    energy = hfu * (ENERGY_DYNAMIC_FRACTION * tdp)
    energy += ENERGY_IDLE_FRACTION * tdp
    energy *= latency
    return energy
