"""Constants of the first-order models, in canonical SI units (plain floats), the code lists of
the choices kernels receive as integer codes, and ``select_by_code``, the lookup by code.

Values follow mlsysim 0.3.0's calibration constants; each line says where it is used, and
``docs/equations.md`` (section "Units and conventions") lists them with their sources.
"""

import numpy as np

__all__ = [
    "PRECISION_BYTES",
    "PRECISIONS",
    "LAYER_TAX_S",
    "FALLBACK_HOST_LINK_BW",
    "ENERGY_IDLE_FRACTION",
    "ENERGY_DYNAMIC_FRACTION",
    "ACTIVATION_TRAFFIC_RATIO",
    "OPTIMIZER_BYTES",
    "OPTIMIZERS",
    "CHECKPOINTING",
    "LORA_RANK",
    "DEFAULT_HIDDEN_DIM",
    "DEFAULT_HEADS",
    "MFU_LOW",
    "MFU_HIGH",
    "MFU_FLASH_ATTENTION",
    "MFU_FLASH_ATTENTION_CAP",
    "MFU_FFN_CAP",
    "MFU_CONV_CAP",
    "SM_OCCUPANCY_HEADROOM",
    "TRAINING_FLOPS_FACTOR",
    "RECOMPUTATION_FLOPS_FACTOR",
    "TRAINING_PASSES",
    "GEMM_HALF_SIZE",
    "GEMM_SHAPE_EXPONENT",
    "GEMM_PEAK_EFFICIENCY_A100",
    "ELEMENTWISE_BYTES_PER_SBH",
    "SOFTMAX_BYTES_PER_AS2B",
    "ATTENTION_SCORE_FLOPS",
    "TP_ALLREDUCES_RECOMPUTED",
    "select_by_code",
    "as_float",
    "add_into",
]

#: Bytes per element of each selectable precision (docs/differences.md, D15). Keys are
#: canonical lower-case names; the order fixes the integer precision codes used on grids.
PRECISION_BYTES = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "fp4": 0.5}
PRECISIONS = tuple(PRECISION_BYTES)

#: Framework launch tax per layer per pass [s] (mlsysim's FRAMEWORK_LAYER_TAX_MS = 0.01 ms).
LAYER_TAX_S = 0.01e-3
#: Host-link bandwidth when a device has no interconnect [byte/s] (FALLBACK_PCIE_BANDWIDTH_GB_S).
FALLBACK_HOST_LINK_BW = 64e9
#: Energy model: idle fraction of TDP plus a dynamic part proportional to utilisation.
ENERGY_IDLE_FRACTION = 0.30
ENERGY_DYNAMIC_FRACTION = 0.70
#: Roofline traffic heuristic: extra bytes per sample as a fraction of weight bytes (D4).
ACTIVATION_TRAFFIC_RATIO = 0.1
#: Optimizer state bytes per trainable parameter (TRAINING_OPTIMIZER_BYTES_*): Adam keeps an
#: fp32 master copy and two fp32 moments (Kingma & Ba, "Adam", 2015, arXiv:1412.6980), SGD
#: with momentum one fp32 copy.
OPTIMIZER_BYTES = {"adam": 12.0, "adamw": 12.0, "sgd": 4.0, "none": 0.0}
OPTIMIZERS = tuple(OPTIMIZER_BYTES)
#: Activation-checkpointing strategies of the Korthikanti et al. (2022) activation model.
CHECKPOINTING = ("none", "selective", "full")
#: LoRA rank used to size the trainable fraction of a LoRA fine-tune (Hu et al., "LoRA",
#: 2021, arXiv:2106.09685).
LORA_RANK = 16
#: A training step executes 3x the forward FLOPs (forward, and a backward pass of twice the
#: forward: Kaplan et al., "Scaling laws for neural language models", 2020, arXiv:2001.08361,
#: the 6N-per-token rule); 4x with full activation recomputation (one more forward pass;
#: Chen et al., "Training deep nets with sublinear memory cost", 2016, arXiv:1604.06174).
TRAINING_FLOPS_FACTOR = 3.0
RECOMPUTATION_FLOPS_FACTOR = 4.0
#: Launch passes of a training step (forward, backward, optimizer), each paying the per-layer tax.
TRAINING_PASSES = 3.0
#: Defaults of a Transformer record that lacks the field (mlsysim 0.3.0's behaviour).
DEFAULT_HIDDEN_DIM = 4096
DEFAULT_HEADS = 32
#: EfficiencyModel constants (mlsysim's MfuLow/MfuHigh, MFU_* caps, SM_OCCUPANCY_HEADROOM).
MFU_LOW, MFU_HIGH = 0.30, 0.50
MFU_FLASH_ATTENTION, MFU_FLASH_ATTENTION_CAP = 0.75, 0.85
MFU_FFN_CAP, MFU_CONV_CAP = 0.60, 0.55
SM_OCCUPANCY_HEADROOM = 1.1

#: Refined per-GEMM efficiency ``η(m) = η · x/(1 + x)``, ``x = (m/m_half)^k`` with ``m`` the
#: geometric mean of a GEMM's two smallest dimensions per device: ``m_half`` and ``k`` fitted to
#: measured A100 fp16 GEMM throughput (LLMCompass artifact, Zhang et al., "LLMCompass: enabling
#: efficient hardware design for large language model inference", ISCA 2024; 20 shapes; mean
#: |error| 6.7 %, max 37 % at M = 64), with the large-GEMM efficiency 0.918 of that fit.
GEMM_HALF_SIZE = 912.0
GEMM_SHAPE_EXPONENT = 1.79
GEMM_PEAK_EFFICIENCY_A100 = 0.918
#: Memory-bound element-wise work of a Transformer layer (layer norms, GeLU, dropout, bias and
#: residual adds) moves about the 34·s·b·h bytes (at 16 bit) Korthikanti et al. (2022, eq. 1,
#: arXiv:2205.05198) count as its stored activations, per pass; the softmax (and its dropout)
#: 5·a·s²·b more unless fused (FlashAttention).
ELEMENTWISE_BYTES_PER_SBH = 34.0
SOFTMAX_BYTES_PER_AS2B = 5.0
#: Attention-score FLOPs per layer per token of a forward pass, per unit ``s·h``: ``Q·Kᵀ`` and
#: ``scores·V`` are ``2·s·h`` each (Narayanan et al. 2021, doi:10.1145/3458817.3476209, Eq. 3).
ATTENTION_SCORE_FLOPS = 4.0
#: Tensor-parallel all-reduces per layer per step with full recomputation: the recomputed
#: forward repeats its two (Korthikanti et al. 2022, §5: 2 forward, 2 recomputed forward, 2 backward).
TP_ALLREDUCES_RECOMPUTED = 6.0


def select_by_code(code, columns):
    """``columns[code]`` elementwise: the k-th array where ``code == k`` (NaN if out of range).

    code : integer codes (an index into one of the code lists above, or a kernel's own);
    columns : one array (or scalar) per code, broadcasting against ``code``, or a function of no
        argument that computes it: a column is then computed only if some code selects it.
    """
    if np.ndim(code) == 0:  # one code (a scalar call): compute and return the chosen column only
        k = float(code)
        if k.is_integer() and 0 <= k < len(columns):
            column = columns[int(k)]
            return column() if callable(column) else column
        return np.nan
    lazy = not hasattr(code, "dask")  # a dask array is not computed to find the columns it uses
    out = np.nan
    for k, column in enumerate(columns):
        chosen = code == k
        if callable(column):
            if lazy and not chosen.any():
                continue
            column = column()
        out = np.where(chosen, column, out)
    if np.ndim(out) < np.ndim(code):  # no point selected any column
        out = np.full(np.shape(code), np.nan)
    return out


def as_float(x):
    """``x`` as a float array (a Python 0.0 becomes a 0-d array); a lazy dask array stays lazy
    (``np.asarray`` would compute it whole, outside the chunks)."""
    return x if hasattr(x, "dask") else np.asarray(x, dtype=float)


def add_into(out, *terms):
    """``out + Σ terms``, accumulated in place into ``out`` (a new array of the caller's, never
    an input) where it is a numpy array that already has the full shape; otherwise a new
    array. The same values either way."""
    for term in terms:
        if (
            isinstance(out, np.ndarray)
            and not hasattr(term, "dask")
            and out.ndim >= np.ndim(term)
            and np.broadcast_shapes(out.shape, np.shape(term)) == out.shape
        ):
            out += term
        else:
            out = out + term
    return out
