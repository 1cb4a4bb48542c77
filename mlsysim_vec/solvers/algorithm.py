"""Algorithm domain: how big should the model be, and does compressing it pay?
``ScalingModel`` (Chinchilla-optimal size and tokens) and ``CompressionModel`` (quantization and
pruning). Thin facades over ``physics.algorithm``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..grid import Arg, Grid
from ..models.types import Workload
from ..physics import algorithm as alg
from ..physics import roofline as rl
from ..physics.constants import PRECISION_BYTES
from ..units import Q_, is_quantity
from ..variables import BOTTLENECKS
from .base import HARDWARE, PRECISION, Resolver, precision_terms

__all__ = ["ScalingModel", "CompressionModel"]


def _is_time(value) -> bool:
    """True when a budget is a time: a time Quantity, a list of them, or a DataArray in time units."""
    if is_quantity(value):
        return value.check("[time]")
    if isinstance(value, (list, tuple)) and value and is_quantity(value[0]):
        return value[0].check("[time]")
    if type(value).__name__ == "DataArray":
        if is_quantity(value.data):
            return value.data.check("[time]")
        units = value.attrs.get("units")
        return bool(units) and Q_(1.0, units).check("[time]")
    return False


class ScalingModel(Resolver):
    """What is my optimal model size? Chinchilla-optimal parameters and tokens for a budget.

    compute_budget : training compute [FLOP for plain numbers; any FLOP Quantity — TFLOP,
        ``PFLOP/s*day`` — is converted, D20], >= 0. A *time* Quantity (``1000 * ureg.day``) is an
        accelerator-time budget and is passed on as ``accelerator_days``.
    accelerator_days : accelerator-time budget [day], >= 0 (instead of ``compute_budget``);
        FLOPs = time × peak × mfu on ``hardware`` (default: the reference device, 989 TFLOP/s).
    target_model_size : pin the parameter count [count], > 0 (default: compute-optimal; NaN
        entries of a sweep are compute-optimal)
    hardware : HardwareNode of a time budget (default: none — the H100 reference, D20)
    precision : precision whose peak ``hardware`` runs at (default "fp16", D15)
    mfu : sustained MFU of a time budget, in (0, 1] (default 0.40)

    Equations (``reference/anchor-0.3.0-spec-part2.md`` §7): ``N* = √(C/120)``, ``D* = 20·N*``;
    with a pinned size N, ``D = C/(6·N)``; tokens_per_parameter = D/N (0 when N = 0).
    ``hardware``, ``precision`` and ``mfu`` only matter for a time budget.

    Outputs: optimal_parameters, optimal_tokens [count], compute_budget_flops [FLOP],
    tokens_per_parameter, peak_flops_fallback (the hardware has no peak at the precision, D15).
    """

    ARGS = (
        Arg("compute_budget", default=None, unit="flop", low=0.0),
        Arg("target_model_size", default=None, low=0.0, low_open=True),
        Arg("accelerator_days", default=None, unit="day", low=0.0),
        dataclasses.replace(HARDWARE, default=None),
        PRECISION,
        Arg("mfu", default=alg.REFERENCE_MFU, low=0.0, high=1.0, low_open=True),
    )

    def grid(self, *args, chunks=None, **kwargs) -> Grid:
        """Route a time-valued ``compute_budget`` to ``accelerator_days`` (D20), then validate."""
        budget = args[0] if args else kwargs.get("compute_budget")
        if not _is_time(budget):
            return super().grid(*args, chunks=chunks, **kwargs)
        if args and "compute_budget" in kwargs:
            raise TypeError("ScalingModel.solve() got multiple values for argument 'compute_budget'")
        if kwargs.get("accelerator_days") is not None:
            raise TypeError("ScalingModel.solve() got a time compute_budget and accelerator_days; give one budget")
        kwargs = {"compute_budget": budget, **kwargs} if args else kwargs
        # renamed in place: the dimension order follows the keyword order
        kwargs = {
            ("accelerator_days" if k == "compute_budget" else k): v
            for k, v in kwargs.items()
            if k != "accelerator_days"
        }
        return super().grid(None, *args[1:], chunks=chunks, **kwargs)

    def _check(self, g: Grid) -> None:
        given = [name for name in ("compute_budget", "accelerator_days") if name in g.inputs]
        if not given:
            raise TypeError(
                "ScalingModel.solve() missing required argument 'compute_budget' (a FLOP count, or an "
                "accelerator-time Quantity / accelerator_days)"
            )
        if len(given) == 2:
            raise TypeError("ScalingModel.solve() got both compute_budget and accelerator_days; give one budget")

    def _compute(self, g: Grid) -> dict:
        fallback = False
        if "compute_budget" in g.inputs:
            budget = g["compute_budget"]
        else:
            if "hardware" in g.inputs:
                _, _, peak, fallback = precision_terms(g)
            else:
                peak = alg.REFERENCE_PEAK_FLOPS
            budget = alg.time_budget_flops(g["accelerator_days"], peak, g["mfu"])
        params, tokens = alg.compute_optimal(budget)
        if "target_model_size" in g.inputs:
            target = g["target_model_size"]
            pinned = ~np.isnan(target)
            params = np.where(pinned, target, params)
            tokens = np.where(pinned, alg.tokens_for_size(budget, np.where(pinned, target, 1.0)), tokens)
        return {
            "optimal_parameters": params,
            "optimal_tokens": tokens,
            "compute_budget_flops": budget,
            "tokens_per_parameter": alg.tokens_per_parameter(params, tokens),
            "peak_flops_fallback": fallback,
        }


_METHODS = ("quantization", "pruning")
_PRUNING = _METHODS.index("pruning")
_NM_ALIASES = {alias: "n_m" for alias in ("2:4", "2_4", "2-4", "nm", "n:m", "n-m")}
_MEMORY, _COMPUTE = BOTTLENECKS.index("Memory"), BOTTLENECKS.index("Compute")
#: Precision whose peak a quantized model runs at: int{bits} up to 8 bits, fp{bits} above,
#: among the selectable precisions (D15); any other width has none.
_TARGET_PRECISIONS = {4: "int4", 8: "int8", 16: "fp16", 32: "fp32"}


class CompressionModel(Resolver):
    """Is quantization/pruning worth it? Size, accuracy and speed-up of a compressed model.

    model : Workload record
    hardware : HardwareNode record (its regime and precision peaks decide the speed-up)
    method : "quantization" (default) or "pruning", case-insensitive (D15/P9)
    target_bitwidth : bits per weight after quantization, >= 1 (default 8)
    sparsity : fraction of weights pruned, in [0, 1] (default 0)
    sparsity_type : "unstructured" (default), "structured" or "n_m" (aliases "2:4", "2_4", "nm",
        "n:m"), case-insensitive (P9)
    baseline_precision : precision of the uncompressed model (default "fp32"; D15)

    Equations (``reference/anchor-0.3.0-spec-part2.md`` §9), with these documented decisions
    (P9): the regime is the baseline roofline of one inference (FLOPs at the headline peak
    against the weight bytes at the memory bandwidth; no efficiency, no KV cache), so LLMs come
    out memory-bound and their speed-up is the compression ratio; a compute-bound model speeds
    up by its target precision's peak over the headline peak, capped at the ratio, with the
    target precision int8/int4 at 8/4 bits and fp16/fp32 at 16/32 bits (other widths have no
    peak: speed-up 1, ``peak_flops_fallback``); 8 bits takes the FP8 accuracy delta (−0.002);
    an up-cast (ratio < 1) reports negative savings and, memory-bound, a slow-down; sparsity 1
    is credited a ratio of 100; N:M sparsity earns 2× within ±0.05 of 50 %; a model known only
    by its size (DLRM) has that size at every baseline precision.

    * quantization: ratio ``8·b₀/bits``; accuracy 0 (≥ 16 bits), −0.002 (8), −0.025 (4–15),
      −0.05 (< 4);
    * pruning: ratio ``1/(1 − s)``; accuracy −0.001 (s ≤ 0.5) else ``−0.01·e^{2s}``; speed-up
      ratio (structured), 2 (N:M near 50 %) or 1.

    Outputs: original_size, compressed_size [byte; GB as scalars], compression_ratio,
    estimated_accuracy_delta, memory_savings_fraction, inference_speedup, bottleneck (regime of
    the baseline), peak_flops_fallback.
    """

    ARGS = (
        Arg("model", "record", types=(Workload,), type_hint="Workload record (Models.*)"),
        HARDWARE,
        Arg("method", "choice", default="quantization", choices=_METHODS),
        Arg("target_bitwidth", default=8.0, low=1.0),
        Arg("sparsity", default=0.0, low=0.0, high=1.0),
        Arg("sparsity_type", "choice", default="unstructured", choices=alg.SPARSITY_TYPES, aliases=_NM_ALIASES),
        dataclasses.replace(PRECISION, name="baseline_precision", default="fp32"),
    )

    def _compute(self, g: Grid) -> dict:
        model, hw = (lambda k: g.field("model", k)), (lambda k: g.field("hardware", k))
        code = g["baseline_precision"]
        b0 = rl.select_by_code(code, tuple(PRECISION_BYTES.values()))
        is_16bit = b0 == 2.0
        original = rl.weight_bytes(model("parameters"), model("model_size"), model("weights_rule"), b0, is_16bit)
        headline = hw("peak_flops")
        t_compute, t_memory = rl.roofline_times(model("ops_per_sample"), original, headline, hw("memory_bandwidth"))
        memory_bound = rl.memory_bound(t_compute, t_memory)

        bits, sparsity = g["target_bitwidth"], g["sparsity"]
        q_ratio = alg.quantization_ratio(b0, bits)
        target_peak = np.nan
        for width, precision in _TARGET_PRECISIONS.items():
            target_peak = np.where(bits == width, hw(f"flops_{precision}"), target_peak)
        q_speedup = alg.quantization_speedup(memory_bound, q_ratio, target_peak, headline)
        p_ratio = alg.pruning_ratio(sparsity)

        pruning = g["method"] == _PRUNING
        ratio = np.where(pruning, p_ratio, q_ratio)
        return {
            "original_size": original,
            "compressed_size": original / ratio,
            "compression_ratio": ratio,
            "estimated_accuracy_delta": np.where(
                pruning, alg.pruning_accuracy_delta(sparsity), alg.quantization_accuracy_delta(bits)
            ),
            "memory_savings_fraction": alg.savings_fraction(ratio),
            "inference_speedup": np.where(
                pruning, alg.pruning_speedup(g["sparsity_type"], sparsity, p_ratio), q_speedup
            ),
            "bottleneck": np.where(memory_bound, _MEMORY, _COMPUTE).astype(np.int8),
            "peak_flops_fallback": ~pruning & ~memory_bound & np.isnan(target_peak),
        }
