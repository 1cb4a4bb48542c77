"""Inverse roofline: the device a workload needs to finish one step within a target time.

Pure numpy functions of float arrays in canonical SI units (s, byte, FLOP, FLOP/s, byte/s);
every argument may be a scalar, an ndarray or a dask array, and they broadcast.

Two inversions are offered:

* **The reference's** (mlsysim 0.3.0 ``SynthesisSolver``, ``reference/anchor-0.3.0-spec-part2.md``
  §13): stream the weights once in ``T`` (``BW = W/T``) and do the work in ``T`` at efficiency
  η (``F = ops/(T·η)``). It leaves out the per-sample activation traffic and the fixed
  overheads that the forward roofline charges, so a device built to it misses ``T`` (finding P16:
  Llama-3-8B at 20 ms runs in 22.33 ms).
* **The exact inversion of the forward roofline** (``physics.roofline``; SingleNodeModel's
  inference step, ``reference/anchor-0.3.0-spec.md`` §3.2 with DECISIONS D4):
  ``T = max(ops/(F·η), traffic/BW) + O`` with ``traffic = W·(1 + r·B)`` and the fixed overhead
  ``O``. The roofline part must fit in the budget ``τ = T − O``; since
  ``max(a, b) ≤ τ ⇔ a ≤ τ and b ≤ τ``, the least peak FLOP/s and bandwidth are
  ``F = ops/(η·τ)`` and ``BW = traffic/τ``, and a device with exactly these takes exactly ``T``
  (to float rounding). No device meets a target ``T ≤ O``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_DISPATCH_TAX_S", "reference_requirements", "exact_requirements"]

#: Dispatch tax of a device that states none [s]: 0.01 ms, the HardwareNode default (as the
#: reference's ``HardwareNode.dispatch_tax``).
DEFAULT_DISPATCH_TAX_S = 0.01e-3


def reference_requirements(weights, ops, target, efficiency):
    """Bandwidth and peak FLOP/s of the reference's synthesis (part 2 §13).

    weights : weight bytes W [byte]
    ops : FLOPs of one step [FLOP]
    target : target step time T [s], > 0
    efficiency : achieved fraction η of peak FLOP/s, > 0
    Returns ``(W/T [byte/s], ops/(T·η) [FLOP/s])``; η derates compute only, and neither term
    counts the activation traffic or the fixed overheads (P16).
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
