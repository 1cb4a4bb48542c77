"""Single-accelerator roofline kernels, and ``single_node_step``: SingleNodeModel's whole step.

Pure numpy functions of float arrays in canonical SI units (s, byte, FLOP, FLOP/s, byte/s, W,
J); every argument may be a scalar, an ndarray or a dask array, and they broadcast.

The roofline (Williams, Waterman & Patterson, "Roofline: an insightful visual performance model
for multicore architectures", CACM 52(4), 2009, doi:10.1145/1498765.1498785): a step that
performs ``ops`` FLOPs and moves ``traffic`` bytes takes at least ``max(ops / F, traffic / BW)``.
The first-order step model and its constants follow mlsysim 0.3.0 (``docs/equations.md``,
section "Roofline"), with the deviations D3, D4, D15 and D19 of docs/differences.md.
"""

from __future__ import annotations

import math

import numpy as np

from .constants import (
    ACTIVATION_TRAFFIC_RATIO,
    ATTENTION_SCORE_FLOPS,
    DEFAULT_HEADS,
    DEFAULT_HIDDEN_DIM,
    ELEMENTWISE_BYTES_PER_SBH,
    ENERGY_DYNAMIC_FRACTION,
    ENERGY_IDLE_FRACTION,
    FALLBACK_HOST_LINK_BW,
    GEMM_HALF_SIZE,
    GEMM_SHAPE_EXPONENT,
    LAYER_TAX_S,
    PRECISION_BYTES,
    RECOMPUTATION_FLOPS_FACTOR,
    SOFTMAX_BYTES_PER_AS2B,
    TRAINING_FLOPS_FACTOR,
    TRAINING_PASSES,
    add_into,
    as_float,
    select_by_code,
)
from .efficiency import layer_gemm_factor
from .memory import FULL, NONE, training_footprint

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
    "single_node_step",
    "FUSED_KERNELS",
    "FUSED_MIN_POINTS",
    "is_plain_false",
    "is_plain_true",
    "is_plain_equal",
    "is_plain_nan",
]

#: Both times below this [s] (1e-15 ms) count as "no time": the bottleneck is then "Compute".
_NEGLIGIBLE_S = 1e-18


def peak_flops_for_precision(precision_code, table, headline):
    """Peak FLOP/s at a precision [FLOP/s] and whether the headline peak stood in.

    precision_code : index into ``constants.PRECISIONS``
    table : per-precision peaks in ``PRECISIONS`` order [FLOP/s], NaN where the hardware has none
    headline : the hardware's headline peak [FLOP/s], used where ``table`` has no entry
        (docs/differences.md, D15)
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
    precision (rule 1), as mlsysim 0.3.0's ``size_in_bytes``.
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
    first term is docs/differences.md, D19: offload is never faster than fitting.
    """
    host = np.where(np.isnan(host_link_bw), FALLBACK_HOST_LINK_BW, host_link_bw)
    return np.where(fits, fitting_bw, np.minimum(fitting_bw, host))


def roofline_times(ops, traffic, flops_eff, bandwidth):
    """Compute time ``ops / flops_eff`` and memory time ``traffic / bandwidth`` [s].

    No work or no traffic takes 0 s; a zero bandwidth is treated as "no memory term" (0 s),
    as mlsysim 0.3.0 does.
    """
    bandwidth = np.where(bandwidth > 0, bandwidth, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(ops, flops_eff), np.divide(traffic, bandwidth)


def step_latency(t_compute, t_memory, overhead):
    """Latency of a step [s] = max(compute, memory) + overhead, and whether the overhead
    exceeds both (``overhead_dominated``)."""
    latency = np.maximum(t_compute, t_memory)
    dominated = overhead > latency
    latency = add_into(latency, overhead)
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
    energy = add_into(energy, ENERGY_IDLE_FRACTION * tdp)
    energy *= latency  # hfu spans latency's dimensions (utilization)
    return energy


def is_plain_false(flag) -> bool:
    """True when ``flag`` is a plain False (a Python or numpy scalar, not an array): a step
    can then skip the branch it guards."""
    return isinstance(flag, (bool, np.bool_)) and not flag


def is_plain_true(flag) -> bool:
    """True when ``flag`` is a plain True (a Python or numpy scalar, not an array)."""
    return isinstance(flag, (bool, np.bool_)) and bool(flag)


def is_plain_nan(value) -> bool:
    """True when ``value`` is a plain float NaN (an argument that was not given)."""
    return isinstance(value, (float, np.floating)) and value != value


def is_plain_equal(value, constant) -> bool:
    """True when ``value`` is a plain number (not an array) equal to ``constant``."""
    return isinstance(value, (int, float, np.integer, np.floating)) and value == constant


def _one_false(flag) -> bool:
    """True when ``flag`` is a single False (a bool, or an array of one element, a lazy one
    included): a step can then skip the branch it guards."""
    if isinstance(flag, (bool, np.bool_)):
        return not flag
    return getattr(flag, "size", 0) == 1 and not bool(np.asarray(flag).reshape(-1)[0])


def single_node_step(
    *,
    ops_per_sample,
    parameters,
    model_size,
    weights_rule,
    is_transformer,
    layers,
    hidden,
    heads,
    peak_flops,
    bytes_per_el,
    is_16bit,
    memory_capacity,
    memory_bandwidth,
    sram_capacity,
    sram_bandwidth,
    flash_bandwidth,
    host_link_bandwidth,
    dispatch_tax,
    tdp,
    batch=1.0,
    efficiency=0.5,
    training=False,
    seq_len=2048.0,
    zero_stage=0.0,
    dp=1.0,
    lora=False,
    recompute=False,
    activation_traffic_ratio=ACTIVATION_TRAFFIC_RATIO,
    refined=False,
    flash_attention=False,
    vocab=np.nan,
    gemm_half_size=GEMM_HALF_SIZE,
    gemm_exponent=GEMM_SHAPE_EXPONENT,
    frozen_bytes_per_el=np.nan,
    out=None,
) -> dict:
    """One step of one accelerator (SingleNodeModel): is the workload compute- or memory-bound?

    The model : ops_per_sample [FLOP] (one forward pass of one sample), parameters [count],
    model_size [byte], weights_rule (``weight_bytes``), is_transformer (0/1 or bool), layers,
    hidden, heads [count] (NaN when not on record).
    The accelerator : peak_flops at the precision [FLOP/s], bytes_per_el [byte], is_16bit (bool),
    memory_capacity [byte], memory_bandwidth, sram_bandwidth, flash_bandwidth,
    host_link_bandwidth [byte/s], sram_capacity [byte] (NaN when absent), dispatch_tax [s],
    tdp [W] (NaN: no energy).
    The step : batch [samples], efficiency η (derates compute only), training (bool; a single
    False skips the training branch), seq_len [tokens per Transformer training sample],
    zero_stage and dp (ZeRO sharding of the training memory), lora, recompute (bool),
    activation_traffic_ratio r.

    Equations (``docs/equations.md``, section "Roofline"; docs/differences.md, D3, D4, D19)::

        W       = weight bytes at the precision
        ops     = ops_per_sample · tokens · k · B      tokens = seq_len (Transformer training) else 1
                                                       k = 3 training (4 with recomputation), 1 inference
        traffic = W · (1 + r · B)
        T       = max(ops / (F · η), traffic / BW) + dispatch_tax + L · 0.01 ms · (3 if training)
        MFU     = model FLOPs / (F · T)                model FLOPs use k = 3 (1 for inference)
        energy  = TDP · (0.3 + 0.7 · HFU) · T

    The footprint is ``W`` for inference and ``memory.training_footprint`` for training (Adam,
    activations stored in full or recomputed, ZeRO over ``dp``, the global batch ``B·dp``). A
    footprint above the capacity is infeasible and streams over the host link (offload):
    ``BW = min(fitting tier, host link)``.

    Refined training (``refined``, Transformers; the terms of ``parallel.distributed_step`` on
    one device): executed FLOPs add the attention scores ``k·4·s²·h·L·B``
    (``parallel.attention_score_flops``), the compute runs at ``η·layer_gemm_factor(B·s, h, 1)``
    (``efficiency.layer_gemm_factor``), the element-wise and softmax bytes
    ``k·L·B·parallel.elementwise_bytes`` add their time at the bandwidth (``latency_elementwise``,
    its own term: ``T = max(...) + overhead + T_elementwise``), and the footprint is
    ``training_footprint`` with the refined terms (FlashAttention when ``flash_attention``, fp32
    gradients, the logits of a vocabulary ``vocab``). ``frozen_bytes_per_el`` [byte] (either
    fidelity; NaN: none) keeps the frozen base weights of a LoRA fine-tune at that width (QLoRA,
    Dettmers et al. 2023, arXiv:2305.14314) in the training footprint.

    Returns the SingleNodeModel outputs ``latency``, ``latency_compute``, ``latency_memory``,
    ``latency_overhead``, ``latency_elementwise`` [s], ``throughput`` [1/s], ``arithmetic_intensity`` [FLOP/byte],
    ``energy`` [J], ``memory_footprint`` [byte], ``peak_flops_actual`` [FLOP/s],
    ``peak_bw_actual`` [byte/s], ``mfu``, ``hfu``, ``feasible`` (bool), ``offload_spill_bytes``
    [byte] and ``offload_effective_bw`` [byte/s] (NaN when it fits), ``overhead_dominated``
    (bool), and ``memory_bound`` (bool: the bottleneck is memory, else compute).

    The outputs that span the grid (``TAIL_OUTPUTS``) come from one fused numba pass when the
    inputs are numpy arrays of at least ``FUSED_MIN_POINTS`` points, else from numpy: the same
    values either way (``FUSED_KERNELS``). ``out`` ({name: array}, optional) gives arrays of
    the right shapes to write those outputs into (reused between calls, e.g. chunk by chunk).
    """
    weights = weight_bytes(parameters, model_size, weights_rule, bytes_per_el, is_16bit)
    inference_only = _one_false(training)
    if inference_only:
        ops_sample, k_exec, k_model, footprint, tax_passes = ops_per_sample, 1.0, 1.0, weights, 1.0
    else:
        transformer = is_transformer == 1.0
        tokens = np.where(training & transformer, seq_len, 1.0)  # D3: a sample is seq_len tokens
        ops_sample = ops_per_sample * tokens
        k_exec = np.where(training, np.where(recompute, RECOMPUTATION_FLOPS_FACTOR, TRAINING_FLOPS_FACTOR), 1.0)
        k_model = np.where(training, TRAINING_FLOPS_FACTOR, 1.0)
        tax_passes = np.where(training, TRAINING_PASSES, 1.0)
        trained = training_footprint(
            parameters,
            weights,
            bytes_per_el,
            transformer,
            lora,
            global_batch=batch * dp,
            seq_len=seq_len,
            layers=layers,
            hidden=hidden,
            heads=heads,
            strategy=np.where(recompute, FULL, NONE),
            dp=dp,
            zero_stage=zero_stage,
            sequence_parallel=False,
            refined=refined,
            flash_attention=flash_attention,
            vocab=vocab,
            frozen_bytes_per_el=frozen_bytes_per_el,
        )["total_memory"]
        footprint = np.where(training, trained, weights)

    fits = footprint <= memory_capacity
    fitting_bw = fitting_bandwidth(weights, memory_bandwidth, sram_capacity, sram_bandwidth, flash_bandwidth)
    bandwidth = effective_bandwidth(fits, fitting_bw, host_link_bandwidth)
    flops_eff = peak_flops * efficiency
    executed = ops_sample * k_exec * batch
    traffic = weights * (1.0 + activation_traffic_ratio * batch)
    overhead = dispatch_tax + np.where(np.isnan(layers), 1.0, layers) * LAYER_TAX_S * tax_passes
    t_elementwise = 0.0
    if not (inference_only or is_plain_false(refined)):
        refine = refined & training & transformer
        n_layers = np.where(np.isnan(layers), 1.0, layers)
        width = np.where(np.isnan(hidden), DEFAULT_HIDDEN_DIM, hidden)
        heads_ = np.where(np.isnan(heads), DEFAULT_HEADS, heads)
        scores = ATTENTION_SCORE_FLOPS * seq_len * seq_len * width * n_layers
        executed = executed + np.where(refine, k_exec * scores * batch, 0.0)
        flops_eff = flops_eff * np.where(
            refine, layer_gemm_factor(batch * seq_len, width, 1.0, gemm_half_size, gemm_exponent), 1.0
        )
        softmax = np.where(flash_attention, 0.0, SOFTMAX_BYTES_PER_AS2B * heads_ * seq_len * seq_len)
        elementwise = (ELEMENTWISE_BYTES_PER_SBH * seq_len * width + softmax) * (bytes_per_el / 2.0)
        t_elementwise = np.where(refine, k_exec * n_layers * batch * elementwise / bandwidth, 0.0)
    # The arrays above vary along few dimensions; from here on they span the whole grid: one
    # fused pass over a large grid of numpy arrays, else numpy (its reference, FUSED_KERNELS).
    tail = dict(
        executed=executed,
        traffic=traffic,
        flops_eff=flops_eff,
        bandwidth=bandwidth,
        overhead=overhead,
        t_elementwise=None if isinstance(t_elementwise, float) else t_elementwise,
        peak_flops=peak_flops,
        model_ops=None if inference_only else ops_sample * k_model * batch,
        batch=batch,
        tdp=tdp,
    )
    full = (_tail_numba if _fused_pays(tail.values()) else _tail_numpy)(**tail, out=out)
    return {
        "latency": full["latency"],
        "latency_compute": full["latency_compute"],
        "latency_memory": full["latency_memory"],
        "latency_overhead": overhead,
        "latency_elementwise": as_float(t_elementwise),
        "throughput": full["throughput"],
        "memory_bound": full["memory_bound"],
        "arithmetic_intensity": full["arithmetic_intensity"],
        "energy": full["energy"],
        "memory_footprint": footprint,
        "peak_flops_actual": flops_eff,
        "peak_bw_actual": bandwidth,
        "mfu": full["mfu"],
        "hfu": full["hfu"],
        "feasible": fits,
        "offload_spill_bytes": np.where(fits, np.nan, footprint - memory_capacity),
        "offload_effective_bw": np.where(fits, np.nan, bandwidth),
        "overhead_dominated": full["overhead_dominated"],
    }


# ---------------------------------------------------------------------------- the full-grid tail
#: A grid of numpy arrays with at least this many points runs the tail of ``single_node_step``
#: as one fused numba pass (``_tail_numba``); smaller grids, scalars and dask arrays (a chunked
#: solve) keep numpy (``_tail_numpy``). Once loaded the fused step is faster from a few thousand
#: points on (measured here: 0.55x numpy's time at 4 464 points, 0.44x at 66 464), but the first
#: fused call of a process imports numba and loads the kernel from numba's cache (~0.25 s; the
#: very first compiles it, ~6 s): only a grid of this size is worth that, and a scalar solve or
#: a small grid never imports numba (docs/differences.md, D18).
FUSED_MIN_POINTS = 2**16

#: The tail's outputs, in the order of the fused kernel's operands (after its ten inputs).
TAIL_FLOAT_OUTPUTS = (
    "latency",
    "latency_compute",
    "latency_memory",
    "throughput",
    "arithmetic_intensity",
    "energy",
    "hfu",
    "mfu",
)
TAIL_BOOL_OUTPUTS = ("overhead_dominated", "memory_bound")
TAIL_OUTPUTS = TAIL_FLOAT_OUTPUTS + TAIL_BOOL_OUTPUTS


def _broadcast(*shapes) -> tuple:
    """``np.broadcast_shapes`` for a few short shapes, without its temporary arrays (it is
    called a dozen times a step)."""
    out = ()
    for shape in shapes:
        if len(shape) > len(out):
            out = (1,) * (len(shape) - len(out)) + out
        lead = len(out) - len(shape)
        merged = list(out)
        for i, n in enumerate(shape):
            m = merged[lead + i]
            if m == 1:
                merged[lead + i] = n
            elif n != 1 and n != m:
                raise ValueError(f"shapes {shapes} do not broadcast")
        out = tuple(merged)
    return out


def _fused_pays(values) -> bool:
    """True when every value is a plain numpy array or number and their grid has at least
    ``FUSED_MIN_POINTS`` points."""
    shapes = []
    for v in values:
        if v is None:
            continue
        if not isinstance(v, (np.ndarray, np.generic, float, int)):
            return False  # a dask array (chunks keep numpy), or anything else numpy handles
        shapes.append(np.shape(v))
    return math.prod(_broadcast(*shapes)) >= FUSED_MIN_POINTS


def _tail_numpy(
    executed, traffic, flops_eff, bandwidth, overhead, t_elementwise, peak_flops, model_ops, batch, tdp, out=None
) -> dict:
    """The full-grid tail of ``single_node_step`` in numpy (the reference of ``_tail_numba``).

    executed, model_ops [FLOP] (``model_ops`` None for inference: ``mfu`` is then ``hfu``),
    traffic [byte], flops_eff, peak_flops [FLOP/s], bandwidth [byte/s], overhead,
    t_elementwise [s] (None: no element-wise term), batch [samples], tdp [W]; numpy or dask
    arrays or numbers that broadcast. Returns ``TAIL_OUTPUTS``, each of the shape its terms
    broadcast to; ``out`` ({name: array}) receives the numpy results (a copy).
    """
    t_compute, t_memory = roofline_times(executed, traffic, flops_eff, bandwidth)
    latency, overhead_dominated = step_latency(t_compute, t_memory, overhead)
    if t_elementwise is not None:
        latency = latency + t_elementwise
    hfu = utilization(executed / peak_flops, latency)
    mfu = hfu if model_ops is None else utilization(model_ops / peak_flops, latency)
    result = {
        "latency": latency,
        "latency_compute": t_compute,
        "latency_memory": t_memory,
        "throughput": batch / latency,
        "arithmetic_intensity": arithmetic_intensity(executed, traffic),
        "energy": step_energy(tdp, hfu, latency),
        "hfu": hfu,
        "mfu": mfu,
        "overhead_dominated": overhead_dominated,
        "memory_bound": memory_bound(t_compute, t_memory),
    }
    for name, target in (out or {}).items():
        if model_ops is None and name == "mfu":
            continue
        value = result[name]
        if not isinstance(target, np.ndarray) or target.shape != np.shape(value) or target.dtype != value.dtype:
            raise ValueError(
                f"out[{name!r}] must be a numpy array of shape {np.shape(value)} and dtype {value.dtype}, "
                f"not {type(target).__name__} {getattr(target, 'shape', '')} {getattr(target, 'dtype', '')}"
            )
        np.copyto(target, value)
        result[name] = target
    if model_ops is None:
        result["mfu"] = result["hfu"]
    return result


def _tail_shapes(executed, traffic, flops_eff, bandwidth, overhead, t_elementwise, peak_flops, model_ops, batch, tdp):
    """{output: shape} of the tail's outputs, as numpy's broadcasting gives them."""
    s, bs = np.shape, _broadcast
    compute, memory = bs(s(executed), s(flops_eff)), bs(s(traffic), s(bandwidth))
    dominated = bs(compute, memory, s(overhead))
    latency = dominated if t_elementwise is None else bs(dominated, s(t_elementwise))
    hfu = bs(s(executed), s(peak_flops), latency)
    return {
        "latency": latency,
        "latency_compute": compute,
        "latency_memory": memory,
        "throughput": bs(s(batch), latency),
        "arithmetic_intensity": bs(s(executed), s(traffic)),
        "energy": bs(s(tdp), hfu),
        "hfu": hfu,
        "mfu": hfu if model_ops is None else bs(s(model_ops), s(peak_flops), latency),
        "overhead_dominated": dominated,
        "memory_bound": bs(compute, memory),
    }


# Set by ``_tail_compiled`` (the first fused call): the module mlsysim_vec.physics.fused (it
# imports numba) and ``_tail_rows`` compiled, both read by ``_tail_kernel`` when it compiles.
_fused = None
_tail_rows_jit = None


def _tail_compiled():
    """``_tail_kernel`` compiled (or loaded from numba's cache); imports numba on first use."""
    global _fused, _tail_rows_jit
    if _fused is None:
        from . import fused

        _tail_rows_jit = fused.jit(_tail_rows)
        _fused = fused
    return _fused.jit(_tail_kernel)


def _tail_numba(
    executed, traffic, flops_eff, bandwidth, overhead, t_elementwise, peak_flops, model_ops, batch, tdp, out=None
) -> dict:
    """The full-grid tail of ``single_node_step`` in one fused numba pass: the contract of
    ``_tail_numpy`` (numpy inputs; the same outputs, shapes and values: each operation rounds as
    numpy's does, NaN and infinities included). ``out`` ({name: array}, any subset of
    ``TAIL_OUTPUTS`` but ``mfu`` for inference) are written in place instead of allocated."""
    kernel = _tail_compiled()
    with_te, with_mfu = t_elementwise is not None, model_ops is not None
    shapes = _tail_shapes(
        executed, traffic, flops_eff, bandwidth, overhead, t_elementwise, peak_flops, model_ops, batch, tdp
    )
    if 0 in _broadcast(*shapes.values(), np.shape(batch), np.shape(tdp)):  # no points: nothing to fuse
        return _tail_numpy(
            executed, traffic, flops_eff, bandwidth, overhead, t_elementwise, peak_flops, model_ops, batch, tdp, out
        )
    inputs = (executed, traffic, flops_eff, bandwidth, overhead, t_elementwise if with_te else 0.0)
    inputs += (peak_flops, model_ops if with_mfu else 0.0, batch, tdp)
    if not with_mfu:
        shapes["mfu"] = ()  # not computed: a one-element placeholder; mfu is hfu
    outputs = [(name, shapes[name], np.float64) for name in TAIL_FLOAT_OUTPUTS]
    outputs += [(name, shapes[name], np.bool_) for name in TAIL_BOOL_OUTPUTS]
    given = dict(out or {})
    if not with_mfu:
        given.pop("mfu", None)
    tables, buffers, arrays, flat = _fused.layout(inputs, outputs, given)
    _fused.run(
        kernel,
        tables,
        tuple(buffers),
        tuple(flat[name] for name in TAIL_FLOAT_OUTPUTS),
        tuple(flat[name] for name in TAIL_BOOL_OUTPUTS),
        with_te,
        with_mfu,
    )
    if not with_mfu:
        arrays["mfu"] = arrays["hfu"]
    return arrays


def _tail_kernel(lay, ins, fouts, bouts, with_te, with_mfu, first, end):
    """The fused loop of ``_tail_numba`` (compiled by ``fused.jit`` on first use): for each block
    of the grid, the inputs as rows, then every output of every point, formula by formula as
    ``_tail_numpy`` (``roofline_times``, ``step_latency``, ``utilization``, ``memory_bound``,
    ``arithmetic_intensity``, ``step_energy``). Operands: inputs 0-9 (``_tail_numba``'s order),
    float outputs 10-17, bool outputs 18-19 (``TAIL_FLOAT_OUTPUTS``, ``TAIL_BOOL_OUTPUTS``);
    blocks ``first`` to ``end`` (excluded) of the grid (``fused.run``)."""
    f = _fused
    idx, base, rows, flags = lay[f.IDX], lay[f.BASE], lay[f.ROWS], lay[f.FLAGS]
    f.seek(lay, first)
    for _ in range(first, end):
        n = f.block_size(lay, idx)
        ex = f.input_row(lay, 0, ins[0], base, n)
        tr = f.input_row(lay, 1, ins[1], base, n)
        fe = f.input_row(lay, 2, ins[2], base, n)
        bw = f.input_row(lay, 3, ins[3], base, n)
        ov = f.input_row(lay, 4, ins[4], base, n)
        te = f.input_row(lay, 5, ins[5], base, n)
        pk = f.input_row(lay, 6, ins[6], base, n)
        mo = f.input_row(lay, 7, ins[7], base, n)
        bt = f.input_row(lay, 8, ins[8], base, n)
        td = f.input_row(lay, 9, ins[9], base, n)
        lat = f.output_row(lay, 10, fouts[0], base, n, rows)
        tc = f.output_row(lay, 11, fouts[1], base, n, rows)
        tm = f.output_row(lay, 12, fouts[2], base, n, rows)
        thr = f.output_row(lay, 13, fouts[3], base, n, rows)
        ai = f.output_row(lay, 14, fouts[4], base, n, rows)
        en = f.output_row(lay, 15, fouts[5], base, n, rows)
        hfu = f.output_row(lay, 16, fouts[6], base, n, rows)
        mfu = f.output_row(lay, 17, fouts[7], base, n, rows)
        dom = f.output_row(lay, 18, bouts[0], base, n, flags)
        mb = f.output_row(lay, 19, bouts[1], base, n, flags)
        _tail_rows_jit(n, ex, tr, fe, bw, ov, te, pk, bt, td, lat, tc, tm, thr, en, hfu, dom, mb, with_te)
        if f.stale(lay, 14, base, n):  # (apart: LLVM vectorizes a loop of up to some 17 rows)
            for j in range(n):
                e, t = ex[j], tr[j]
                q = e / t
                ai[j] = q if t > 0.0 else (np.inf if e > 0.0 else 0.0)
        if with_mfu and f.stale(lay, 17, base, n):
            for j in range(n):
                v = (mo[j] / pk[j]) / lat[j]
                mfu[j] = 0.0 if v < 0.0 else (1.0 if v > 1.0 else v)
        for k in range(10, 18):
            f.store_row(lay, k, fouts[k - 10], base, n, rows)
        for k in range(18, 20):
            f.store_row(lay, k, bouts[k - 18], base, n, flags)
        f.advance(lay, idx, base)


def _tail_rows(n, ex, tr, fe, bw, ov, te, pk, bt, td, lat, tc, tm, thr, en, hfu, dom, mb, with_te):
    """The tail's formulas over one block's rows (compiled with ``_tail_kernel``)."""
    for j in range(n):
        e, b = ex[j], bw[j]
        b = b if b > 0.0 else np.inf  # roofline_times: no bandwidth, no memory term
        c = e / fe[j]
        m = tr[j] / b
        top = c if (c > m or c != c) else m  # np.maximum: NaN wins, a tie (±0) gives the second
        o = ov[j]
        dom[j] = o > top
        top = top + o
        if with_te:
            top = top + te[j]
        u = (e / pk[j]) / top
        u = 0.0 if u < 0.0 else (1.0 if u > 1.0 else u)  # np.clip: NaN stays
        w = td[j]
        w = 0.0 if w != w else w  # step_energy: no TDP, no energy
        lat[j] = top
        tc[j] = c
        tm[j] = m
        thr[j] = bt[j] / top
        en[j] = (u * (ENERGY_DYNAMIC_FRACTION * w) + ENERGY_IDLE_FRACTION * w) * top
        hfu[j] = u
        mb[j] = (m > c) & (m >= _NEGLIGIBLE_S)


#: name -> (numba engine, numpy reference): the same contract on numpy inputs (see
#: ``_tail_numpy``), read by the tests and the benchmarks (as ``reduce.KERNELS``).
FUSED_KERNELS = {
    "single_node_tail": (_tail_numba, _tail_numpy),
}
