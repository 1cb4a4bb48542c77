"""Sensitivity and synthesis: the forward roofline of one accelerator, perturbed and inverted.

Pure numpy functions of float arrays in canonical SI units (s, byte, FLOP, FLOP/s, byte/s);
every argument may be a scalar, an ndarray or a dask array, and they broadcast. See
``docs/equations.md``, section "Sensitivity and synthesis".

The forward model is SingleNodeModel's inference step (``docs/equations.md``, section
"Roofline"; Williams, Waterman & Patterson, "Roofline: an insightful visual performance model
for multicore architectures", CACM 2009, doi:10.1145/1498765.1498785):
``T = max(ops/(F·η), traffic/BW) + O`` with ``traffic = W·(1 + r·B)`` (docs/differences.md,
D4) and the fixed overhead ``O = dispatch_tax + L·0.01 ms`` (``inference_overhead``).

* **Sensitivity** (``sensitivity_step``): the relative change of ``T`` when one hardware lever
  (peak FLOP/s, memory bandwidth, memory capacity) is scaled by ``1 + p``, every other field
  kept, and the elasticity (relative change / p) (docs/differences.md, D10).
* **Synthesis** (``synthesis_step``): the device a workload needs to finish one step within a
  target time, by two inversions:

  - mlsysim 0.3.0's: stream the weights once in ``T`` (``BW = W/T``) and do the work in ``T``
    at efficiency η (``F = ops/(T·η)``). It leaves out the per-sample activation traffic and
    the fixed overheads that the forward roofline charges, so a device built to it misses
    ``T`` (Llama-3-8B at 20 ms runs in 22.33 ms).
  - the exact inversion of the forward roofline: the roofline part must fit in the budget
    ``τ = T − O``; since ``max(a, b) ≤ τ ⇔ a ≤ τ and b ≤ τ``, the least peak FLOP/s and
    bandwidth are ``F = ops/(η·τ)`` and ``BW = traffic/τ``, and a device with exactly these
    takes exactly ``T`` (to float rounding). No device meets a target ``T ≤ O``.
"""

from __future__ import annotations

import numpy as np

from . import roofline as rl
from .constants import LAYER_TAX_S

__all__ = [
    "SENSITIVITY_LEVERS",
    "DEFAULT_DISPATCH_TAX_S",
    "sensitivity_step",
    "synthesis_step",
    "inference_overhead",
    "reference_requirements",
    "exact_requirements",
]

#: The hardware levers ``sensitivity_step`` perturbs, in mlsysim's tie-break order (the codes
#: of ``binding_constraint``).
SENSITIVITY_LEVERS = ("peak_flops", "memory_bandwidth", "memory_capacity")
_CAPACITY = SENSITIVITY_LEVERS.index("memory_capacity")

#: Dispatch tax of a device that states none [s]: 0.01 ms, the HardwareNode default.
DEFAULT_DISPATCH_TAX_S = 0.01e-3


def inference_overhead(dispatch_tax, layers):
    """Fixed overhead of one inference pass [s]: dispatch tax [s] + 0.01 ms per layer (one layer
    when the model states none, ``layers`` NaN), as SingleNodeModel charges it."""
    return dispatch_tax + np.where(np.isnan(layers), 1.0, layers) * LAYER_TAX_S


def _along_levers(x):
    """``x`` with a trailing axis of length 1, to broadcast against the lever axis."""
    return x[..., None] if hasattr(x, "ndim") else np.asarray(x)[..., None]


def sensitivity_step(
    *,
    parameters,
    model_size,
    weights_rule,
    bytes_per_element,
    is_16bit,
    ops_per_sample,
    batch_size,
    peak_flops,
    efficiency,
    activation_traffic_ratio,
    memory_bandwidth,
    memory_capacity,
    sram_capacity,
    sram_bandwidth,
    flash_bandwidth,
    host_link_bandwidth,
    dispatch_tax,
    layers,
    perturbation,
) -> dict:
    """Which hardware lever moves the inference latency? One roofline over a lever axis.

    parameters, model_size, weights_rule : the model's weights as ``roofline.weight_bytes``
        reads them ([count], [byte], rule code); bytes_per_element [byte] and is_16bit of the
        precision
    ops_per_sample : FLOPs of one sample [FLOP]; batch_size : samples per step [count]
    peak_flops : peak at the precision [FLOP/s]; efficiency : achieved fraction η of it
    activation_traffic_ratio : r in traffic = W·(1 + r·B)
    memory_bandwidth, memory_capacity, sram_capacity, sram_bandwidth, flash_bandwidth,
        host_link_bandwidth : the device's memory system ([byte/s], [byte]; NaN where absent)
    dispatch_tax : fixed launch overhead [s]; layers : the model's layers (NaN: one)
    perturbation : relative change p of each lever (0.1 scales it by 1.1), > −1

    The levers are scaled one at a time by ``f = 1 + p``, every other field kept: peak FLOP/s
    (the headline and every per-precision peak), memory bandwidth (every tier — main, SRAM,
    flash — so the tier the weights stream from; the host link is not memory) and main-memory
    capacity (the offload decision; the SRAM capacity that picks the tier is kept). Returns
    ``baseline_latency`` T [s]; ``sensitivity_<lever>`` = (T_k − T)/T (0 where T ≤ 0);
    ``elasticity_<lever>`` = sensitivity/p (NaN at p = 0); ``binding_constraint``: the code in
    ``SENSITIVITY_LEVERS`` of the largest ``|sensitivity|`` (the first on ties), or
    memory_capacity when the baseline does not fit; ``feasible`` (the weights fit in memory)
    and ``memory_bound`` of the baseline.
    """
    weights = rl.weight_bytes(parameters, model_size, weights_rule, bytes_per_element, is_16bit)
    executed = ops_per_sample * batch_size
    traffic = weights * (1.0 + activation_traffic_ratio * batch_size)
    overhead = inference_overhead(dispatch_tax, layers)
    # Scaling every tier by f scales the fitting tier's bandwidth by f.
    fitting = rl.fitting_bandwidth(weights, memory_bandwidth, sram_capacity, sram_bandwidth, flash_bandwidth)

    # Lever axis (last): baseline, then SENSITIVITY_LEVERS in order. Each lever's factor is f on
    # its own slot and 1 elsewhere; the factors vary along the perturbation only.
    up, one = 1.0 + perturbation, np.ones_like(perturbation)
    flops_f, bw_f, cap_f = (np.stack([one] + [up if j == k else one for j in range(3)], axis=-1) for k in range(3))
    e = _along_levers
    fits = e(weights) <= e(memory_capacity) * cap_f
    bandwidth = rl.effective_bandwidth(fits, e(fitting) * bw_f, e(host_link_bandwidth))
    t_compute, t_memory = rl.roofline_times(e(executed), e(traffic), e(peak_flops * efficiency) * flops_f, bandwidth)
    latency, _ = rl.step_latency(t_compute, t_memory, e(overhead))

    baseline, fits0 = latency[..., 0], fits[..., 0]
    t0, zero = e(baseline), e(perturbation) == 0
    idle = t0 <= 0  # no time to change: 0, as mlsysim (NaN stays NaN)
    change = np.where(idle, 0.0, (latency[..., 1:] - t0) / np.where(idle, 1.0, t0))
    elasticity = np.where(zero, np.nan, change / np.where(zero, 1.0, e(perturbation)))
    out = {
        "baseline_latency": baseline,
        "binding_constraint": np.where(fits0, np.argmax(np.abs(change), axis=-1), _CAPACITY).astype(np.int8),
        "feasible": fits0,
        "memory_bound": rl.memory_bound(t_compute[..., 0], t_memory[..., 0]),
    }
    for k, lever in enumerate(SENSITIVITY_LEVERS):
        out[f"sensitivity_{lever}"] = change[..., k]
    for k, lever in enumerate(SENSITIVITY_LEVERS):
        out[f"elasticity_{lever}"] = elasticity[..., k]
    return out


def synthesis_step(
    *,
    parameters,
    model_size,
    weights_rule,
    bytes_per_element,
    is_16bit,
    ops_per_sample,
    batch_size,
    target_latency,
    efficiency,
    activation_traffic_ratio,
    dispatch_tax,
    layers,
) -> dict:
    """What device runs one step within a target latency? Both inversions of the roofline.

    parameters, model_size, weights_rule, bytes_per_element, is_16bit : the weights, as in
        ``sensitivity_step``
    ops_per_sample : FLOPs of one sample [FLOP]; batch_size : samples per step [count]
    target_latency : target time of one step T [s], > 0
    efficiency : achieved fraction η of peak FLOP/s, > 0
    activation_traffic_ratio : r in traffic = W·(1 + r·B)
    dispatch_tax : fixed launch overhead of the device [s]; layers : the model's layers (NaN: one)

    Returns mlsysim's requirements ``required_bw`` = W/T [byte/s], ``required_flops`` =
    ops/(T·η) [FLOP/s], ``required_memory`` = ``model_size`` = W [byte], ``total_ops`` = ops
    [FLOP], ``compute_memory_ratio`` = required_flops/required_bw [FLOP/byte]; the exact
    inversion ``required_flops_exact`` = ops/(η·τ), ``required_bw_exact`` = W·(1 + r·B)/τ with
    τ = T − O (``inf`` where τ ≤ 0), the overhead ``latency_overhead`` O [s] and ``feasible``
    (τ > 0).
    """
    weights = rl.weight_bytes(parameters, model_size, weights_rule, bytes_per_element, is_16bit)
    ops = ops_per_sample * batch_size
    bandwidth, flops = reference_requirements(weights, ops, target_latency, efficiency)
    overhead = inference_overhead(dispatch_tax, layers)
    budget = target_latency - overhead
    flops_exact, bandwidth_exact = exact_requirements(
        ops, weights * (1.0 + activation_traffic_ratio * batch_size), efficiency, budget
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = flops / bandwidth
    return {
        "required_bw": bandwidth,
        "required_flops": flops,
        "required_memory": weights,
        "compute_memory_ratio": ratio,
        "model_size": weights,
        "total_ops": ops,
        "required_bw_exact": bandwidth_exact,
        "required_flops_exact": flops_exact,
        "latency_overhead": overhead,
        "feasible": budget > 0,
    }


def reference_requirements(weights, ops, target, efficiency):
    """Bandwidth and peak FLOP/s of mlsysim 0.3.0's synthesis.

    weights : weight bytes W [byte]
    ops : FLOPs of one step [FLOP]
    target : target step time T [s], > 0
    efficiency : achieved fraction η of peak FLOP/s, > 0
    Returns ``(W/T [byte/s], ops/(T·η) [FLOP/s])``; η derates compute only, and neither term
    counts the activation traffic or the fixed overheads.
    """
    return weights / target, ops / (target * efficiency)


def exact_requirements(ops, traffic, efficiency, budget):
    """Least peak FLOP/s and memory bandwidth for which the forward roofline meets the target.

    ops : FLOPs of one step [FLOP]
    traffic : bytes moved in one step, ``W·(1 + r·B)`` [byte]
    efficiency : achieved fraction η of peak FLOP/s, > 0
    budget : time left for the roofline, τ = target − fixed overhead [s]
    Returns ``(ops/(η·τ) [FLOP/s], traffic/τ [byte/s])``: ``max(ops/(F·η), traffic/BW) = τ`` at
    exactly these rates. Where ``τ ≤ 0`` no device meets the target: both are ``inf``.
    """
    unmeetable = budget <= 0  # NaN budgets stay NaN
    budget = np.where(unmeetable, 1.0, budget)
    return np.where(unmeetable, np.inf, ops / (efficiency * budget)), np.where(unmeetable, np.inf, traffic / budget)
