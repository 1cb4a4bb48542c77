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
from ..physics.constants import PRECISION_BYTES, PRECISIONS
from ..units import Q_, is_quantity
from ..variables import BOTTLENECKS
from .base import HARDWARE, PRECISION, Resolver, precision_bytes, precision_terms

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

    The budget is training compute (any FLOP Quantity is converted: TFLOP, ``PFLOP/s*day``) or
    accelerator time: a time Quantity given as ``compute_budget`` (``1000 * ureg.day``) is
    passed on as ``accelerator_days`` and converted to FLOPs on ``hardware`` at ``precision``
    and ``mfu`` (without ``hardware``: the H100 reference, 989 TFLOP/s); ``hardware``,
    ``precision`` and ``mfu`` only matter for a time budget. ``target_model_size`` pins the
    parameter count (NaN entries of a sweep are compute-optimal). ``peak_flops_fallback`` says
    the hardware lists no peak at the precision, so its headline peak stood in.

    Notes
    -----
    Training a dense Transformer of ``N`` parameters on ``D`` tokens costs ``C = 6 N D`` FLOPs
    (Kaplan et al. 2020); the compute-optimal allocation keeps ``D = 20 N`` (Hoffmann et al.
    2022, the "Chinchilla" rule), so::

        N* = sqrt(C / 120)        D* = 20 N*
        pinned size N:            D  = C / (6 N)
        time budget t:            C  = t x peak x mfu
        tokens_per_parameter    = D / N        (0 when N = 0)

    Budgets in any FLOP unit are converted and time budgets are accelerator-time
    (docs/differences.md, D20). See ``docs/equations.md``, section "Scaling and compression".

    References
    ----------
    Hoffmann, J. et al. (2022). Training compute-optimal large language models.
    arXiv:2203.15556.

    Kaplan, J. et al. (2020). Scaling laws for neural language models. arXiv:2001.08361.
    """

    ARGS = (
        Arg(
            "compute_budget",
            default=None,
            unit="flop",
            low=0.0,
            doc="training compute budget; give it or ``accelerator_days``. A time Quantity "
            "(``1000 * ureg.day``) is an accelerator-time budget and is read as ``accelerator_days``",
        ),
        Arg("target_model_size", default=None, low=0.0, low_open=True),
        Arg(
            "accelerator_days",
            default=None,
            unit="day",
            low=0.0,
            doc="training budget as accelerator time on ``hardware`` at ``mfu`` (instead of "
            "``compute_budget``; docs/differences.md, D20)",
        ),
        dataclasses.replace(
            HARDWARE,
            default=None,
            doc="accelerator of a time budget (None: the H100 reference, 989 TFLOP/s; docs/differences.md, D20)",
        ),
        dataclasses.replace(PRECISION, doc="precision whose peak ``hardware`` runs a time budget at"),
        Arg(
            "mfu",
            default=alg.REFERENCE_MFU,
            low=0.0,
            high=1.0,
            low_open=True,
            doc="sustained model-FLOPs utilisation of a time budget",
        ),
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

    #: The budget is required (in one of its two forms): a NaN budget is an invalid input.
    NAN_INVALID = ("compute_budget", "accelerator_days")

    def _check(self, g: Grid) -> None:
        given = [name for name in ("compute_budget", "accelerator_days") if name in g.inputs]
        if not given:
            raise TypeError(
                "ScalingModel.solve() missing required argument 'compute_budget' (a FLOP count, or an "
                "accelerator-time Quantity / accelerator_days)"
            )
        if len(given) == 2:
            raise TypeError("ScalingModel.solve() got both compute_budget and accelerator_days; give one budget")

    OUTPUTS = (
        "optimal_parameters",
        "optimal_tokens",
        "compute_budget_flops",
        "tokens_per_parameter",
        "peak_flops_fallback",
    )

    def _compute(self, g: Grid) -> dict:
        inputs = g.inputs
        if "compute_budget" in inputs:
            out = alg.scaling_step(g["compute_budget"], target_parameters=self._target(g))
            fallback = False
        else:
            peak, fallback = alg.REFERENCE_PEAK_FLOPS, False
            if "hardware" in inputs:
                _, _, peak, fallback = precision_terms(g)
            out = alg.scaling_step(
                accelerator_time=g["accelerator_days"], peak_flops=peak, mfu=g["mfu"], target_parameters=self._target(g)
            )
        out["peak_flops_fallback"] = fallback
        return out

    @staticmethod
    def _target(g: Grid):
        return g["target_model_size"] if "target_model_size" in g.inputs else None


#: Bits per weight of each precision code (a quantization's largest target).
_BASELINE_BITS = tuple(8 * PRECISION_BYTES[p] for p in PRECISIONS)
_METHODS = ("quantization", "pruning")
_PRUNING = _METHODS.index("pruning")
_NM_ALIASES = {alias: "n_m" for alias in ("2:4", "2_4", "2-4", "nm", "n:m", "n-m")}
_MEMORY, _COMPUTE = BOTTLENECKS.index("Memory"), BOTTLENECKS.index("Compute")


class CompressionModel(Resolver):
    """Is quantization/pruning worth it? Size, accuracy and speed-up of a compressed model.

    ``method`` is quantization (to ``target_bitwidth`` bits per weight) or pruning (a fraction
    ``sparsity`` of the weights, in the pattern ``sparsity_type``: "unstructured",
    "structured" or "n_m", also spelled "2:4", "n:m"); choices are case-insensitive. The
    regime that decides the speed-up is the baseline roofline of one inference on
    ``hardware``: the FLOPs at the headline peak against the weight bytes at the memory
    bandwidth (no efficiency, no KV cache), so LLMs come out memory-bound and their speed-up is
    the compression ratio. ``bottleneck`` is that regime; ``peak_flops_fallback`` says a
    compute-bound quantization found no peak for its target precision.

    Notes
    -----
    With ``b0`` the bytes per weight at ``baseline_precision`` and ``W`` the weight bytes
    (a model known only by its size, such as DLRM, has that size at every baseline)::

        quantization   ratio = 8 b0 / bits
                       accuracy delta = 0 (bits >= 16), -0.002 (8), -0.025 (4..15), -0.05 (< 4)
                       speed-up = ratio (memory-bound), else
                                  min(peak at the target precision / headline peak, ratio)
        pruning        ratio = 1 / (1 - s)            (100 at s = 1)
                       accuracy delta = -0.001 (s <= 0.5), else -0.01 exp(2 s)
                       speed-up = ratio (structured), 2 (N:M within 0.05 of s = 0.5), else 1
        compressed_size = W / ratio,  memory_savings_fraction = 1 - 1/ratio

    The target precision of a quantization is int8/int4 at 8/4 bits and fp16/fp32 at 16/32
    bits; any other width has no peak (speed-up 1 when compute-bound). A ``target_bitwidth``
    above the baseline's bits (an up-cast, ratio < 1) raises ``ValueError`` (mlsysim 0.3.0
    reported negative savings; docs/differences.md, D22). These first-order rules and
    constants are mlsysim 0.3.0's. See ``docs/equations.md``, section "Scaling and
    compression", and "Roofline" for the regime.

    References
    ----------
    Williams, S., Waterman, A., Patterson, D. (2009). Roofline: an insightful visual
    performance model for multicore architectures. Communications of the ACM 52(4).
    doi:10.1145/1498765.1498785.

    Dettmers, T. et al. (2022). LLM.int8(): 8-bit matrix multiplication for transformers at
    scale. arXiv:2208.07339.

    Frantar, E., Alistarh, D. (2023). SparseGPT: massive language models can be accurately
    pruned in one-shot. arXiv:2301.00774.

    Mishra, A. et al. (2021). Accelerating sparse deep neural networks. arXiv:2104.08378.
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
    OUTPUTS = (
        "original_size",
        "compressed_size",
        "compression_ratio",
        "estimated_accuracy_delta",
        "memory_savings_fraction",
        "inference_speedup",
        "bottleneck",
        "peak_flops_fallback",
    )

    def _check(self, g: Grid) -> None:
        """A quantization stores at most the baseline's bits per weight: a ``target_bitwidth``
        above them is an up-cast, not a compression (docs/differences.md, D22)."""
        code, bits = g["baseline_precision"], g["target_bitwidth"]
        if not g.dims:  # a scalar call: plain Python (no array temporaries)
            if bits <= _BASELINE_BITS[int(code)] or int(g["method"]) == _PRUNING:
                return
        baseline = 8 * precision_bytes(code)[0]
        upcast = (bits > baseline) & (g["method"] != _PRUNING)
        if not np.any(upcast):
            return
        upcast, bits, baseline, code = (np.asarray(a) for a in np.broadcast_arrays(upcast, bits, baseline, code))
        first = np.flatnonzero(upcast)[0]
        bits, baseline, code = bits.flat[first], baseline.flat[first], code.flat[first]
        raise ValueError(
            f"target_bitwidth={bits:g} is above baseline_precision={PRECISIONS[int(code)]!r} ({baseline:g} bits): "
            f"a quantization stores at most the baseline's bits per weight (an up-cast compresses nothing); "
            f"target_bitwidth must be <= {baseline:g} here, or raise baseline_precision"
            + (f" (up-casts at {int(np.sum(upcast))} of {upcast.size} points)" if upcast.size > 1 else "")
        )

    def _compute(self, g: Grid) -> dict:
        model, hw = (lambda k: g.field("model", k)), (lambda k: g.field("hardware", k))
        b0, is_16bit = precision_bytes(g["baseline_precision"])
        out = alg.compression_step(
            parameters=model("parameters"),
            model_size=model("model_size"),
            weights_rule=model("weights_rule"),
            ops=model("ops_per_sample"),
            baseline_bytes=b0,
            baseline_is_16bit=is_16bit,
            peak_flops=hw("peak_flops"),
            memory_bandwidth=hw("memory_bandwidth"),
            target_peaks={bits: hw(f"flops_{p}") for bits, p in alg.TARGET_PRECISIONS.items()},
            pruning=g["method"] == _PRUNING,
            target_bits=g["target_bitwidth"],
            sparsity=g["sparsity"],
            sparsity_type=g["sparsity_type"],
        )
        memory_bound = out.pop("memory_bound")
        out["bottleneck"] = np.where(memory_bound, _MEMORY, _COMPUTE).astype(np.int8)
        out["peak_flops_fallback"] = out.pop("peak_flops_fallback")  # keep the declared order
        return out
