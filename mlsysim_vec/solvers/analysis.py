"""Analysis resolvers: which hardware lever moves latency (``SensitivitySolver``), and which
device a latency target needs (``SynthesisSolver``).

Both are built on the forward roofline of one accelerator, as ``SingleNodeModel`` evaluates it
for inference: the sensitivity evaluates it for the baseline device and every perturbed one at
once, the synthesis inverts it. Thin facades over ``physics.synthesis``.
"""

from __future__ import annotations

import numpy as np

from ..grid import Arg, Grid
from ..physics import synthesis as syn
from ..physics.constants import ACTIVATION_TRAFFIC_RATIO
from ..variables import reason
from ..variables.analysis import SENSITIVITY_PARAMETERS
from .base import HARDWARE, PRECISION, Resolver, model_arg, precision_bytes, precision_terms

__all__ = ["SensitivitySolver", "SynthesisSolver", "SENSITIVITY_PARAMETERS"]


def _model_weights(g: Grid) -> dict:
    """The model fields ``physics.synthesis`` steps read, with the precision's bytes per element."""
    model = lambda k: g.field("model", k)  # noqa: E731
    b, is_16bit = precision_bytes(g["precision"])
    return dict(
        parameters=model("parameters"),
        model_size=model("model_size"),
        weights_rule=model("weights_rule"),
        bytes_per_element=b,
        is_16bit=is_16bit,
        ops_per_sample=model("ops_per_sample"),
        layers=model("layers"),
    )


class SensitivitySolver(Resolver):
    """Which hardware parameter should I invest in? The latency response to upgrading peak
    FLOP/s, memory bandwidth or memory capacity, one at a time.

    The baseline latency ``T`` is SingleNodeModel's inference latency on ``hardware``. Three
    devices differ from it in one lever each, every other field kept (docs/differences.md,
    D10): peak FLOP/s (the headline and every per-precision peak), memory bandwidth, memory
    capacity, each scaled by ``1 + perturbation_pct``; negative values model a downgrade and 0
    gives zero changes and NaN elasticities. Their latencies come from one evaluation of the
    roofline over the grid and a lever axis (no perturbed record is built). ``bottleneck``
    (Compute or Memory), ``feasible`` and ``infeasible_reason`` describe the baseline;
    ``peak_flops_fallback`` says the hardware lists no peak at the precision.

    Notes
    -----
    With ``f = 1 + perturbation_pct`` and ``T_k`` the latency with lever ``k`` scaled by ``f``::

        T              = max(ops B / (F eta), W (1 + r B) / BW) + dispatch_tax + L x 0.01 ms
        sensitivity_k  = (T_k - T) / T              (0 where T <= 0)
        elasticity_k   = sensitivity_k / (f - 1)    (in [-1, 0] for upgrades of F and BW)

    ``binding_constraint`` is the lever of largest ``|sensitivity|`` (the first in the order
    peak_flops, memory_bandwidth, memory_capacity on ties, as mlsysim 0.3.0), or
    memory_capacity when the baseline does not fit.

    Memory bandwidth scales every memory tier (main, SRAM, flash), i.e. the tier the weights
    actually stream from; the host link is not memory and is not scaled. mlsysim scaled main
    memory only, so on a device that streams from SRAM or flash its bandwidth sensitivity was
    structurally zero (docs/differences.md, D10). Memory capacity scales main memory only (the
    offload decision); the SRAM capacity, which picks the tier, is kept. See
    ``docs/equations.md``, sections "Sensitivity and synthesis" and "Roofline".

    References
    ----------
    Williams, S., Waterman, A., Patterson, D. (2009). Roofline: an insightful visual
    performance model for multicore architectures. Communications of the ACM 52(4).
    doi:10.1145/1498765.1498785.
    """

    ARGS = (
        model_arg(),
        HARDWARE,
        Arg("batch_size", "integer", default=1, low=1),
        PRECISION,
        Arg("perturbation_pct", default=10.0, unit="percent", low=-100.0, low_open=True),
        Arg("efficiency", default=0.5, low=1e-9, high=1.0),
        Arg("activation_traffic_ratio", default=ACTIVATION_TRAFFIC_RATIO, low=0.0),
    )

    OUTPUTS = (
        "baseline_latency",
        "binding_constraint",
        "feasible",
        "infeasible_reason",
        "bottleneck",
        "peak_flops_fallback",
        *(f"sensitivity_{lever}" for lever in SENSITIVITY_PARAMETERS),
        *(f"elasticity_{lever}" for lever in SENSITIVITY_PARAMETERS),
    )

    def _compute(self, g: Grid) -> dict:
        hw = lambda k: g.field("hardware", k)  # noqa: E731
        _, _, peak, fallback = precision_terms(g)
        step = syn.sensitivity_step(
            **_model_weights(g),
            batch_size=g["batch_size"],
            peak_flops=peak,
            efficiency=g["efficiency"],
            activation_traffic_ratio=g["activation_traffic_ratio"],
            memory_bandwidth=hw("memory_bandwidth"),
            memory_capacity=hw("memory_capacity"),
            sram_capacity=hw("sram_capacity"),
            sram_bandwidth=hw("sram_bandwidth"),
            flash_bandwidth=hw("flash_bandwidth"),
            host_link_bandwidth=hw("host_link_bandwidth"),
            dispatch_tax=hw("dispatch_tax"),
            perturbation=g["perturbation_pct"],
        )
        fits = step["feasible"]
        out = {
            "baseline_latency": step["baseline_latency"],
            "binding_constraint": step["binding_constraint"],
            "feasible": fits,
            "infeasible_reason": np.where(fits, 0, reason("memory_capacity")).astype(np.int8),
            "bottleneck": step["memory_bound"].view(np.int8),
            "peak_flops_fallback": fallback,
        }
        out.update((k, v) for k, v in step.items() if k.startswith(("sensitivity_", "elasticity_")))
        return out


class SynthesisSolver(Resolver):
    """What hardware do I need for this SLA? The memory bandwidth, peak FLOP/s and memory a
    device needs to run one step of the model within a target latency.

    Two answers are given. mlsysim 0.3.0's requirements (``required_bw``, ``required_flops``,
    ``required_memory``) stream the weights once and do the work within the target; they leave
    out the activation traffic and the fixed overheads that SingleNodeModel charges, so a device
    built to them is slower than the target (Llama-3-8B at 20 ms runs in 22.33 ms). The exact
    inversion (``required_flops_exact``, ``required_bw_exact``) does not: a device with these
    peak FLOP/s (at the precision), this bandwidth (main memory, no SRAM or flash tier),
    ``required_memory`` of capacity and this ``dispatch_tax`` runs the step on SingleNodeModel
    in exactly the target, to float rounding. Where the target is not above the fixed overhead
    no device can: ``feasible`` is False, ``infeasible_reason`` "base_latency" and both exact
    outputs are ``inf``.

    Notes
    -----
    With ``W`` the weight bytes, ``ops`` the FLOPs of the step (per-sample FLOPs x batch
    ``B``), ``T`` the target latency, ``eta`` the efficiency and ``r`` the activation traffic
    ratio::

        required_bw          = W / T
        required_flops       = ops / (T eta)
        required_memory      = model_size = W
        compute_memory_ratio = required_flops / required_bw
        O                    = dispatch_tax + L x 0.01 ms        (latency_overhead)
        required_flops_exact = ops / (eta (T - O))
        required_bw_exact    = W (1 + r B) / (T - O)

    The exact pair inverts ``T = max(ops/(F eta), W (1 + r B)/BW) + O``: since
    ``max(a, b) <= tau`` if and only if both are, the least rates put each term at exactly
    ``tau = T - O``. See ``docs/equations.md``, sections "Sensitivity and synthesis" and
    "Roofline".

    References
    ----------
    Williams, S., Waterman, A., Patterson, D. (2009). Roofline: an insightful visual
    performance model for multicore architectures. Communications of the ACM 52(4).
    doi:10.1145/1498765.1498785.
    """

    ARGS = (
        model_arg(),
        Arg("target_latency", unit="s", low=0.0, low_open=True),
        PRECISION,
        Arg("efficiency", default=0.5, low=1e-9, high=1.0),
        Arg("batch_size", "integer", default=1, low=1),
        Arg("activation_traffic_ratio", default=ACTIVATION_TRAFFIC_RATIO, low=0.0),
        Arg("dispatch_tax", default=syn.DEFAULT_DISPATCH_TAX_S, unit="s", low=0.0),
    )

    OUTPUTS = (
        "required_bw",
        "required_flops",
        "required_memory",
        "compute_memory_ratio",
        "model_size",
        "total_ops",
        "required_bw_exact",
        "required_flops_exact",
        "latency_overhead",
        "feasible",
        "infeasible_reason",
    )

    def _compute(self, g: Grid) -> dict:
        out = syn.synthesis_step(
            **_model_weights(g),
            batch_size=g["batch_size"],
            target_latency=g["target_latency"],
            efficiency=g["efficiency"],
            activation_traffic_ratio=g["activation_traffic_ratio"],
            dispatch_tax=g["dispatch_tax"],
        )
        out["infeasible_reason"] = np.where(out["feasible"], 0, reason("base_latency")).astype(np.int8)
        return out
