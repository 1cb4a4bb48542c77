"""Analysis resolvers: which hardware lever moves latency (``SensitivitySolver``), and which
device a latency target needs (``SynthesisSolver``).

Both are built on the forward roofline of one accelerator, as ``SingleNodeModel`` evaluates it
for inference (``physics.roofline``; ``reference/anchor-0.3.0-spec.md`` §3.2): the sensitivity
evaluates it for the baseline device and every perturbed one at once, the synthesis inverts it
(``physics.synthesis``).
"""

from __future__ import annotations

import numpy as np

from ..grid import Arg, Grid
from ..physics import roofline as rl
from ..physics import synthesis as syn
from ..physics.constants import ACTIVATION_TRAFFIC_RATIO, LAYER_TAX_S
from ..variables import reason
from ..variables.analysis import SENSITIVITY_PARAMETERS
from .base import HARDWARE, PRECISION, Resolver, model_arg, precision_bytes, precision_terms

__all__ = ["SensitivitySolver", "SynthesisSolver", "SENSITIVITY_PARAMETERS"]

_CAPACITY = SENSITIVITY_PARAMETERS.index("memory_capacity")


def _inference_overhead(dispatch_tax, layers):
    """Fixed overhead of one inference pass [s]: dispatch tax + 0.01 ms per layer (one layer
    when the model states none), as SingleNodeModel charges it."""
    return dispatch_tax + np.where(np.isnan(layers), 1.0, layers) * LAYER_TAX_S


def _along_levers(x):
    """``x`` with a trailing axis of length 1, to broadcast against the lever axis."""
    return x[..., None] if hasattr(x, "ndim") else np.asarray(x)[..., None]


class SensitivitySolver(Resolver):
    """Which hardware parameter should I invest in? The latency response to upgrading peak
    FLOP/s, memory bandwidth or memory capacity, one at a time.

    Arguments (each may be swept):

    model : Workload record
    hardware : HardwareNode record (the baseline device)
    batch_size : samples per step [count], >= 1 (default 1; the reference always uses 1)
    precision : fp32, tf32, bf16, fp16, fp8, int8, int4 or fp4 (default "fp16", D15)
    perturbation_pct : upgrade of each lever [percent], > -100 (default 10: ×1.1; negative values
        model a downgrade; 0 gives zero changes and NaN elasticities)
    efficiency : fraction of peak FLOP/s achieved, in [1e-9, 1] (default 0.5)
    activation_traffic_ratio : extra bytes per sample as a fraction of weight bytes (default 0.1; D4)

    Equations (``reference/anchor-0.3.0-spec-part2.md`` §12; DECISIONS D10): the baseline latency
    ``T`` is SingleNodeModel's inference latency. With ``f = 1 + pct/100``, three devices differ
    from the baseline in one lever each, every other field kept (D10): peak FLOP/s ×f (the
    headline and every per-precision peak), memory bandwidth ×f, memory capacity ×f. Their
    latencies ``T_k`` come from one evaluation of the roofline kernels over the grid and a lever
    axis (the perturbation is a factor on one field group, so no perturbed record is built).

    Outputs: ``baseline_latency`` [s]; ``sensitivity_<lever> = (T_k − T)/T`` (the reference's
    ``sensitivities[lever]``; 0 where ``T ≤ 0``); ``elasticity_<lever> = sensitivity / (pct/100)``
    (D10; in [−1, 0] for upgrades of peak FLOP/s and bandwidth); ``binding_constraint`` = the
    lever of largest ``|sensitivity|`` (first in the order peak_flops, memory_bandwidth,
    memory_capacity on ties, as the reference) or ``memory_capacity`` when the baseline does not
    fit; ``feasible`` / ``infeasible_reason`` of the baseline; ``bottleneck`` (Compute or Memory)
    of the baseline roofline; ``peak_flops_fallback`` (D15).

    Memory bandwidth (finding P15): the reference scales only main-memory bandwidth, so on a
    device that streams from SRAM or flash the bandwidth sensitivity is structurally zero and the
    all-zero tie names peak_flops. Here "memory bandwidth" scales every memory tier (main, SRAM,
    flash), i.e. the tier the weights actually stream from; the host link is not memory and is
    not scaled. On devices without SRAM or flash this is the reference's perturbation. Memory
    capacity scales main memory only (the offload decision); SRAM capacity, which picks the
    tier, is kept.
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

    def _compute(self, g: Grid) -> dict:
        model, hw = (lambda k: g.field("model", k)), (lambda k: g.field("hardware", k))
        b, is_16bit, peak, fallback = precision_terms(g)
        batch = g["batch_size"]
        weights = rl.weight_bytes(model("parameters"), model("model_size"), model("weights_rule"), b, is_16bit)
        executed = model("ops_per_sample") * batch
        traffic = weights * (1.0 + g["activation_traffic_ratio"] * batch)
        overhead = _inference_overhead(hw("dispatch_tax"), model("layers"))
        # Scaling every tier by f scales the fitting tier's bandwidth by f (P15 choice above).
        fitting = rl.fitting_bandwidth(
            weights, hw("memory_bandwidth"), hw("sram_capacity"), hw("sram_bandwidth"), hw("flash_bandwidth")
        )

        # Lever axis (last): baseline, then SENSITIVITY_PARAMETERS in order. Each lever's factor
        # is f on its own slot and 1 elsewhere; the factors vary along perturbation_pct only.
        relative = g["perturbation_pct"]
        up, one = 1.0 + relative, np.ones_like(relative)
        flops_f, bw_f, cap_f = (np.stack([one] + [up if j == k else one for j in range(3)], axis=-1) for k in range(3))
        e = _along_levers
        fits = e(weights) <= e(hw("memory_capacity")) * cap_f
        bandwidth = rl.effective_bandwidth(fits, e(fitting) * bw_f, e(hw("host_link_bandwidth")))
        t_compute, t_memory = rl.roofline_times(e(executed), e(traffic), e(peak * g["efficiency"]) * flops_f, bandwidth)
        latency, _ = rl.step_latency(t_compute, t_memory, e(overhead))

        baseline, fits0 = latency[..., 0], fits[..., 0]
        t0, zero = e(baseline), e(relative) == 0
        idle = t0 <= 0  # no time to change: 0, as the reference (NaN stays NaN)
        change = np.where(idle, 0.0, (latency[..., 1:] - t0) / np.where(idle, 1.0, t0))
        elasticity = np.where(zero, np.nan, change / np.where(zero, 1.0, e(relative)))
        binding = np.where(fits0, np.argmax(np.abs(change), axis=-1), _CAPACITY).astype(np.int8)
        out = {
            "baseline_latency": baseline,
            "binding_constraint": binding,
            "feasible": fits0,
            "infeasible_reason": np.where(fits0, 0, reason("memory_capacity")).astype(np.int8),
            "bottleneck": rl.memory_bound(t_compute[..., 0], t_memory[..., 0]).view(np.int8),
            "peak_flops_fallback": fallback,
        }
        for k, lever in enumerate(SENSITIVITY_PARAMETERS):
            out[f"sensitivity_{lever}"] = change[..., k]
        for k, lever in enumerate(SENSITIVITY_PARAMETERS):
            out[f"elasticity_{lever}"] = elasticity[..., k]
        return out


class SynthesisSolver(Resolver):
    """What hardware do I need for this SLA? The memory bandwidth, peak FLOP/s and memory a
    device needs to run one step of the model within a target latency.

    Arguments (each may be swept):

    model : Workload record
    target_latency : target time of one step [s; plain numbers in seconds, a Quantity in any
        time unit], > 0 (D14)
    precision : fp32, tf32, bf16, fp16, fp8, int8, int4 or fp4 (default "fp16", D15)
    efficiency : fraction of peak FLOP/s achieved, in [1e-9, 1] (default 0.5; D14: validated)
    batch_size : samples per step [count], >= 1 (default 1; the reference has no batch)
    activation_traffic_ratio : extra bytes per sample as a fraction of weight bytes (default 0.1;
        D4), used by the exact outputs
    dispatch_tax : fixed launch overhead of the device [s; plain numbers in seconds], >= 0
        (default 0.01 ms, the HardwareNode default), used by the exact outputs

    Outputs with the reference's equations (``reference/anchor-0.3.0-spec-part2.md`` §13), W the
    weight bytes and ops the FLOPs of the step (per-sample FLOPs × batch):
    ``required_bw = W/T`` [byte/s], ``required_flops = ops/(T·η)`` [FLOP/s],
    ``required_memory = model_size = W`` [byte], ``total_ops = ops`` [FLOP],
    ``compute_memory_ratio = required_flops/required_bw`` [FLOP/byte].

    These do not invert SingleNodeModel (finding P16: they leave out the activation traffic and
    the fixed overheads; a device built to them is slower than ``T``). The exact inversion is
    given beside them (``physics.synthesis``): with the overhead ``O = dispatch_tax + L·0.01 ms``
    (``latency_overhead``), ``required_flops_exact = ops/(η·(T − O))`` and
    ``required_bw_exact = W·(1 + r·B)/(T − O)``. A device with these peak FLOP/s (at the
    precision), this bandwidth (main memory, no SRAM/flash tier), ``required_memory`` of capacity
    and this dispatch tax runs the step on SingleNodeModel in exactly ``T``, to float rounding.
    Where ``T ≤ O`` no device can: ``feasible`` is False, ``infeasible_reason`` "base_latency"
    and both exact outputs are ``inf``.
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

    def _compute(self, g: Grid) -> dict:
        model = lambda k: g.field("model", k)  # noqa: E731
        code, batch, eta = g["precision"], g["batch_size"], g["efficiency"]
        target = g["target_latency"]
        weights = rl.weight_bytes(
            model("parameters"), model("model_size"), model("weights_rule"), *precision_bytes(code)
        )
        ops = model("ops_per_sample") * batch
        bandwidth, flops = syn.reference_requirements(weights, ops, target, eta)
        overhead = _inference_overhead(g["dispatch_tax"], model("layers"))
        budget = target - overhead
        flops_exact, bandwidth_exact = syn.exact_requirements(
            ops, weights * (1.0 + g["activation_traffic_ratio"] * batch), eta, budget
        )
        feasible = budget > 0
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
            "feasible": feasible,
            "infeasible_reason": np.where(feasible, 0, reason("base_latency")).astype(np.int8),
        }
