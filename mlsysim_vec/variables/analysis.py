"""Catalogue entries of SensitivitySolver, SynthesisSolver."""

from ..physics.synthesis import SENSITIVITY_LEVERS
from .core import Variable

#: The hardware levers SensitivitySolver perturbs, in mlsysim's tie-break order; also the
#: categories of ``binding_constraint``.
SENSITIVITY_PARAMETERS = SENSITIVITY_LEVERS

_LEVER_MEANING = {
    "peak_flops": "peak FLOP/s (the headline peak and every per-precision peak)",
    "memory_bandwidth": "memory bandwidth (main memory, SRAM and flash alike: the tier the weights stream from)",
    "memory_capacity": "main-memory capacity",
}

VARIABLES: dict[str, Variable] = dict(
    perturbation_pct=Variable(
        "percent",
        "percent",
        "upgrade applied to one hardware lever at a time, in percent "
        "(10 scales it by 1.1; negative values model a downgrade)",
    ),
    baseline_latency=Variable("s", "ms", "SingleNodeModel latency of the unperturbed device"),
    binding_constraint=Variable(
        description="hardware lever whose perturbation changes latency the most "
        "(memory_capacity when the baseline does not fit)",
        kind="category",
        categories=SENSITIVITY_PARAMETERS,
    ),
    **{
        f"sensitivity_{p}": Variable(
            "", "", f"relative latency change (T' - T)/T when the {m} is scaled by 1 + perturbation_pct/100"
        )
        for p, m in _LEVER_MEANING.items()
    },
    **{
        f"elasticity_{p}": Variable(
            "",
            "",
            f"elasticity of latency to the {m}: relative latency change / "
            f"relative perturbation (NaN at a zero perturbation; docs/differences.md, D10)",
            optional=True,
        )
        for p, m in _LEVER_MEANING.items()
    },
    target_latency=Variable("s", "ms", "target time of one step"),
    dispatch_tax=Variable("s", "ms", "fixed launch overhead per pass of a device"),
    required_bw=Variable(
        "byte/s",
        "GB/s",
        "memory bandwidth to stream the weights once within the target: W/T (mlsysim's synthesis)",
    ),
    required_flops=Variable(
        "flop/s",
        "TFLOP/s",
        "peak FLOP/s to do the step's work within the target at the "
        "efficiency: ops/(T x efficiency) (mlsysim's synthesis)",
    ),
    required_memory=Variable("byte", "GB", "device memory the weights need: W"),
    compute_memory_ratio=Variable(
        "flop/byte", "flop/byte", "required_flops / required_bw: the ridge point the target calls for"
    ),
    model_size=Variable("byte", "GB", "weight bytes W of the model at the precision"),
    total_ops=Variable("flop", "GFLOP", "FLOPs of one step (all samples of the batch)"),
    required_bw_exact=Variable(
        "byte/s",
        "GB/s",
        "least memory bandwidth for which SingleNodeModel meets the target: "
        "W(1 + r B)/(T - overhead); inf when no device can",
    ),
    required_flops_exact=Variable(
        "flop/s",
        "TFLOP/s",
        "least peak FLOP/s for which SingleNodeModel meets the "
        "target: ops/(efficiency (T - overhead)); inf when no device "
        "can",
    ),
)
