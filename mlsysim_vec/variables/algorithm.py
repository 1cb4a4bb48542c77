"""Catalogue entries of ScalingModel, CompressionModel."""

from .core import Variable

VARIABLES: dict[str, Variable] = dict(
    # ---- ScalingModel -------------------------------------------------------------------
    compute_budget=Variable("flop", "flop", "training compute budget"),
    accelerator_days=Variable("day", "day", "training budget as accelerator time (docs/differences.md, D20)"),
    target_model_size=Variable("", "", "model size pinned by the user [parameters] (NaN: compute-optimal)"),
    optimal_parameters=Variable("", "", "parameters of the model [count]"),
    optimal_tokens=Variable("", "", "training tokens [count]"),
    compute_budget_flops=Variable(
        "flop", "flop", "the budget in FLOPs (a time budget converted; docs/differences.md, D20)"
    ),
    tokens_per_parameter=Variable("", "", "training tokens per parameter"),
    # ---- CompressionModel ---------------------------------------------------------------
    method=Variable(description="compression method: quantization or pruning", kind="text"),
    target_bitwidth=Variable("", "", "bits per weight after quantization"),
    sparsity=Variable("", "", "fraction of weights pruned"),
    sparsity_type=Variable(description="pruning pattern: unstructured, structured or n_m (2:4)", kind="text"),
    baseline_precision=Variable(
        description="precision of the uncompressed model (docs/differences.md, D15)", kind="text"
    ),
    original_size=Variable("byte", "GB", "weight bytes at the baseline precision"),
    compressed_size=Variable("byte", "GB", "weight bytes after compression"),
    compression_ratio=Variable("", "", "original size / compressed size"),
    estimated_accuracy_delta=Variable("", "", "signed accuracy change (fraction; negative is worse)"),
    memory_savings_fraction=Variable("", "", "1 - 1/compression_ratio (an up-cast is refused)"),
    inference_speedup=Variable("", "", "inference speed-up over the baseline"),
)
