"""Node domain: one accelerator. ``SingleNodeModel`` (and ``Engine``), ``EfficiencyModel``,
``TrainingMemoryModel``.

Thin facades: arguments are validated and aligned by ``grid``, the numbers come from the
kernels in ``physics``.
"""

from __future__ import annotations

import numpy as np

from ..grid import Arg, Grid
from ..models.types import EmbodiedWorkload, SSMWorkload, TransformerWorkload
from ..physics import efficiency as eff
from ..physics import memory as mem
from ..physics import roofline as rl
from ..physics.constants import (
    ACTIVATION_TRAFFIC_RATIO,
    CHECKPOINTING,
    DEFAULT_HEADS,
    DEFAULT_HIDDEN_DIM,
    LAYER_TAX_S,
    LORA_RANK,
    OPTIMIZER_BYTES,
    OPTIMIZERS,
    PRECISIONS,
)
from ..variables import reason
from .base import HARDWARE, PRECISION, Resolver, is_false, model_arg, precision_terms

__all__ = ["SingleNodeModel", "Engine", "EfficiencyModel", "TrainingMemoryModel", "OOMError"]


class OOMError(MemoryError):
    """Raised by ``SingleNodeModel.solve(..., raise_errors=True)`` when a point does not fit.

    ``required_bytes`` / ``available_bytes``: of the first point that does not fit.
    """

    def __init__(self, message, required_bytes=None, available_bytes=None):
        super().__init__(message)
        self.required_bytes = required_bytes
        self.available_bytes = available_bytes


class SingleNodeModel(Resolver):
    """The roofline of one accelerator: is the workload compute- or memory-bound?

    Arguments (each may be swept):

    model : Workload record
    hardware : HardwareNode record
    batch_size : samples per step [count], >= 1 (default 1)
    precision : fp32, tf32, bf16, fp16, fp8, int8, int4 or fp4 (default "fp16", D15)
    efficiency : fraction of peak FLOP/s achieved, in [1e-9, 1] (default 0.5); derates compute only
    is_training : a training step (forward + backward) instead of inference (default False)
    seq_len : tokens per sample for Transformer training [count] (default 2048; D3)
    zero_stage : ZeRO stage 0–3 for the training memory (default 0)
    dp_size : data-parallel degree for ZeRO sharding (default 1)
    is_lora : LoRA fine-tune, rank-16 adapters trained (default False)
    activation_recomputation : recompute activations (4x FLOPs instead of 3x; default False)
    activation_traffic_ratio : extra bytes per sample as a fraction of weight bytes (default 0.1; D4)

    Equations (``reference/anchor-0.3.0-spec.md`` §3.2, part 2 §1; DECISIONS D3, D4, D15, D19):
    ``T = max(ops·B/(F·η), W·(1 + r·B)/BW_eff) + dispatch_tax + L·0.01 ms·(3 if training)``,
    throughput ``B/T``, MFU ``model FLOPs/(T·F)``, energy ``TDP·(0.3 + 0.7·HFU)·T``. A model that
    does not fit in device memory is *infeasible* and streams over the host link (offload).
    LLM token-by-token decoding is modelled by ServingModel (traffic = weights + KV cache).

    ``raise_errors=True`` raises ``OOMError`` when any point does not fit.
    """

    ARGS = (
        model_arg(),
        HARDWARE,
        Arg("batch_size", "integer", default=1, low=1),
        PRECISION,
        Arg("efficiency", default=0.5, low=1e-9, high=1.0),
        Arg("is_training", "bool", default=False),
        Arg("seq_len", "integer", default=2048, low=1),
        Arg("zero_stage", "integer", default=0, low=0, high=3),
        Arg("dp_size", "integer", default=1, low=1),
        Arg("is_lora", "bool", default=False),
        Arg("activation_recomputation", "bool", default=False),
        Arg("activation_traffic_ratio", default=ACTIVATION_TRAFFIC_RATIO, low=0.0),
    )

    def solve(self, *args, raise_errors: bool = False, chunks=None, **kwargs):
        result = super().solve(*args, chunks=chunks, **kwargs)
        if raise_errors:
            _raise_if_infeasible(result)
        return result

    def _compute(self, g: Grid) -> dict:
        model, hw = (lambda k: g.field("model", k)), (lambda k: g.field("hardware", k))
        b, is_16bit, peak, fallback = precision_terms(g)
        batch, eta = g["batch_size"], g["efficiency"]
        weights = rl.weight_bytes(model("parameters"), model("model_size"), model("weights_rule"), b, is_16bit)

        inference_only = is_false(g, "is_training")
        training = g["is_training"]
        if inference_only:
            ops_sample, k_exec, k_model, footprint, tax_passes = model("ops_per_sample"), 1.0, 1.0, weights, 1.0
        else:
            transformer = model("is_transformer") == 1.0
            recompute = g["activation_recomputation"]
            tokens = np.where(training & transformer, g["seq_len"], 1.0)  # D3: a sample is seq_len tokens
            ops_sample = model("ops_per_sample") * tokens
            k_exec = np.where(training, np.where(recompute, 4.0, 3.0), 1.0)
            k_model = np.where(training, 3.0, 1.0)
            tax_passes = np.where(training, 3.0, 1.0)
            footprint = np.where(training, self._training_footprint(g, weights, b, transformer, recompute), weights)

        capacity = hw("memory_capacity")
        fits = footprint <= capacity
        fitting_bw = rl.fitting_bandwidth(
            weights, hw("memory_bandwidth"), hw("sram_capacity"), hw("sram_bandwidth"), hw("flash_bandwidth")
        )
        bandwidth = rl.effective_bandwidth(fits, fitting_bw, hw("host_link_bandwidth"))
        flops_eff = peak * eta
        executed = ops_sample * k_exec * batch
        traffic = weights * (1.0 + g["activation_traffic_ratio"] * batch)
        layers = model("layers")
        overhead = hw("dispatch_tax") + np.where(np.isnan(layers), 1.0, layers) * LAYER_TAX_S * tax_passes
        # The arrays above vary along few dimensions; from here on they span the whole grid,
        # so each step writes into as few full-size arrays as it can.
        t_compute, t_memory = rl.roofline_times(executed, traffic, flops_eff, bandwidth)
        latency, overhead_dominated = rl.step_latency(t_compute, t_memory, overhead)
        hfu = rl.utilization(executed / peak, latency)
        mfu = hfu if inference_only else rl.utilization(ops_sample * k_model * batch / peak, latency)
        return {
            "latency": latency,
            "latency_compute": t_compute,
            "latency_memory": t_memory,
            "latency_overhead": overhead,
            "throughput": batch / latency,
            "bottleneck": rl.memory_bound(t_compute, t_memory).view(np.int8),
            "arithmetic_intensity": rl.arithmetic_intensity(executed, traffic),
            "energy": rl.step_energy(hw("tdp"), hfu, latency),
            "memory_footprint": footprint,
            "peak_flops_actual": flops_eff,
            "peak_bw_actual": bandwidth,
            "mfu": mfu,
            "hfu": hfu,
            "feasible": fits,
            "infeasible_reason": np.where(fits, 0, reason("memory_capacity")).astype(np.int8),
            "offload_spill_bytes": np.where(fits, np.nan, footprint - capacity),
            "offload_effective_bw": np.where(fits, np.nan, bandwidth),
            "overhead_dominated": overhead_dominated,
            "peak_flops_fallback": fallback,
        }

    @staticmethod
    def _training_footprint(g: Grid, weights, b, transformer, recompute):
        """Bytes resident during a training step.

        Transformers: the TrainingMemoryModel equations (D3) with Adam, this device's batch
        (``batch_size``, so the global batch is ``batch_size × dp_size``), ZeRO over
        ``dp_size``, activations stored in full or recomputed (``activation_recomputation``),
        and LoRA training ``min(2·16·h·4L/P, 1)`` of the parameters. Other workloads: weights
        and gradients at ``b`` plus 12 B/parameter of Adam state; ``1.1 W`` for LoRA.
        """
        model = lambda k: g.field("model", k)  # noqa: E731
        lora = g["is_lora"]
        params = model("parameters")
        layers = model("layers")
        hidden = np.where(np.isnan(model("hidden_dim")), DEFAULT_HIDDEN_DIM, model("hidden_dim"))
        heads = np.where(np.isnan(model("heads")), DEFAULT_HEADS, model("heads"))
        with np.errstate(divide="ignore", invalid="ignore"):
            lora_fraction = np.minimum(2.0 * LORA_RANK * hidden * 4.0 * layers / params, 1.0)
        dp = g["dp_size"]
        transformer_total = mem.training_memory(
            params,
            b,
            OPTIMIZER_BYTES["adam"],
            np.where(lora, lora_fraction, 1.0),
            tp=1.0,
            pp=1.0,
            dp=dp,
            ep=1.0,
            zero_stage=g["zero_stage"],
            global_batch=g["batch_size"] * dp,
            seq_len=g["seq_len"],
            accumulation_steps=1.0,
            layers=np.where(np.isnan(layers), 1.0, layers),
            hidden=hidden,
            heads=heads,
            strategy=np.where(recompute, mem.FULL, mem.NONE),
            buffer_fraction=0.05,
            sequence_parallel=False,
        )["total_memory"]
        other = np.where(lora, 1.1 * weights, 2.0 * weights + OPTIMIZER_BYTES["adam"] * weights / b)
        return np.where(transformer, transformer_total, other)


def _raise_if_infeasible(result):
    ds = result.dataset
    fits = ds["feasible"]
    if bool(fits.all()):
        return
    bad = fits.where(~fits, drop=True)
    index = {d: bad[d].values[0] for d in bad.dims}
    point = ds.sel(index) if index else ds
    required = float(point["memory_footprint"].values)
    spill = float(point["offload_spill_bytes"].values)
    where = ", ".join(
        f"{k}={v}"
        for k, v in {
            **index,
            **{k: ds[k].item() for k in ("model", "hardware") if k in ds.coords and ds[k].ndim == 0},
        }.items()
    )
    raise OOMError(
        f"{where}: requires {required / 1e9:.3f} GB but the hardware has only "
        f"{(required - spill) / 1e9:.3f} GB ({int((~fits).sum())} of {fits.size} points do not fit)",
        required_bytes=required,
        available_bytes=required - spill,
    )


class Engine:
    """``Engine.solve(...)`` is ``SingleNodeModel().solve(...)`` (same arguments, same result)."""

    @staticmethod
    def solve(*args, **kwargs):
        return SingleNodeModel().solve(*args, **kwargs)


class EfficiencyModel(Resolver):
    """What MFU can a kernel class achieve? (``reference/anchor-0.3.0-spec-part2.md`` §2)

    model : Workload record (not used by the equations; accepted as the reference does)
    hardware : HardwareNode record
    workload_type : "ffn" (default), "attention", "conv" or "other" (case-insensitive)
    use_flash_attention : fused attention kernels (default False; used by "attention")
    precision : picks the peak (default "fp16", D15: canonicalised like every resolver)
    efficiency : η in (0, 1] (default 0.5), read relative to a well-tuned GEMM's 0.5

    Outputs: mfu (achievable MFU), achievable_flops = peak × mfu [FLOP/s], peak_flops [FLOP/s],
    occupancy_loss and memory_stall (fractions), peak_flops_fallback (D15).
    """

    ARGS = (
        model_arg(default=None),
        HARDWARE,
        Arg("workload_type", "choice", default="ffn", choices=eff.WORKLOAD_TYPES),
        Arg("use_flash_attention", "bool", default=False),
        PRECISION,
        Arg("efficiency", default=0.5, low=0.0, low_open=True, high=1.0),
    )

    def _compute(self, g: Grid) -> dict:
        _, _, peak, fallback = precision_terms(g)
        eta = g["efficiency"]
        mfu = eff.achievable_mfu(g["workload_type"], g["use_flash_attention"], eta)
        occupancy, stall = eff.efficiency_losses(mfu, eta)
        return {
            "mfu": mfu,
            "achievable_flops": peak * mfu,
            "peak_flops": peak,
            "occupancy_loss": occupancy,
            "memory_stall": stall,
            "peak_flops_fallback": fallback,
        }


def _has_transformer_shape(record) -> bool:
    return record.parameters is not None and bool(getattr(record, "layers", None))


class TrainingMemoryModel(Resolver):
    """Why does training not fit? Memory per accelerator of a training step.

    model : TransformerWorkload (or another layered model with parameters, layers, hidden_dim)
    hardware : HardwareNode record (capacity for feasibility)
    batch_size : global batch [samples], >= 1 (required)
    seq_len : tokens per sample (default 2048)
    precision : width of weights, gradients and activations (default "fp16")
    optimizer : "adam"/"adamw" (12 B per trainable parameter), "sgd" (4 B), "none" (default "adam")
    activation_checkpointing : "none", "selective" (default) or "full"
    tp_size, pp_size, dp_size, ep_size : parallel degrees, >= 1 (default 1)
    zero_stage : 0–3 (default 0)
    gradient_accumulation_steps : >= 1 (default 1)
    trainable_fraction : [0, 1] (default 1; LoRA/PEFT)
    communication_buffer_fraction : [0, 1] (default 0.05 of gradients)
    sequence_parallel : with TP > 1, all activations divided by TP (default True); without it
        only the parts inside the attention and MLP blocks are (Korthikanti et al. eq. 2; V1)
    v_stages : model chunks per device of an interleaved pipeline schedule (default 1); with
        pp > 1 the first stage keeps 1 + (pp−1)/(pp·v) times the activations (V1)
    gradient_precision : precision gradients are kept in (default: ``precision``; Megatron-LM
        accumulates fp32 gradients, 4 B per parameter)

    Equations in ``physics.memory``. ``feasible`` = total ≤ device capacity. EP shards every
    parameter (dense ones included), as the reference does (B20, documented).
    """

    ARGS = (
        model_arg(
            types=(TransformerWorkload, SSMWorkload, EmbodiedWorkload),
            hint="TransformerWorkload (or a layered model with parameters, layers and hidden_dim)",
        ),
        HARDWARE,
        Arg("batch_size", "integer", low=1),
        Arg("seq_len", "integer", default=2048, low=1),
        PRECISION,
        Arg("optimizer", "choice", default="adam", choices=OPTIMIZERS),
        Arg("activation_checkpointing", "choice", default="selective", choices=CHECKPOINTING),
        Arg("tp_size", "integer", default=1, low=1),
        Arg("pp_size", "integer", default=1, low=1),
        Arg("dp_size", "integer", default=1, low=1),
        Arg("ep_size", "integer", default=1, low=1),
        Arg("zero_stage", "integer", default=0, low=0, high=3),
        Arg("gradient_accumulation_steps", "integer", default=1, low=1),
        Arg("trainable_fraction", default=1.0, low=0.0, high=1.0),
        Arg("communication_buffer_fraction", default=0.05, low=0.0, high=1.0),
        Arg("sequence_parallel", "bool", default=True),
        Arg("v_stages", "integer", default=1, low=1),
        Arg("gradient_precision", "choice", default=None, choices=PRECISIONS),
    )

    def _check(self, g: Grid) -> None:
        for record in g.records("model"):
            if not _has_transformer_shape(record):
                raise TypeError(
                    f"model={record!r} has no parameters or no layers; TrainingMemoryModel needs a "
                    f"TransformerWorkload (or a layered model with parameters, layers, hidden_dim)"
                )
        no_heads = [r for r in g.records("model") if not getattr(r, "heads", None)]
        if no_heads and CHECKPOINTING.index("none") in np.unique(g.inputs["activation_checkpointing"].values):
            raise ValueError(
                f"activation_checkpointing='none' needs the number of attention heads (the "
                f"attention-score term), which {no_heads[0]!r} does not have; use 'selective' or 'full'"
            )

    def _compute(self, g: Grid) -> dict:
        model = lambda k: g.field("model", k)  # noqa: E731
        b, _, _, _ = precision_terms(g)
        hidden = model("hidden_dim")
        gradient_b = rl.bytes_per_element(g["gradient_precision"]) if "gradient_precision" in g.inputs else b
        parts = mem.training_memory(
            model("parameters"),
            b,
            rl.select_by_code(g["optimizer"], tuple(OPTIMIZER_BYTES.values())),
            g["trainable_fraction"],
            tp=g["tp_size"],
            pp=g["pp_size"],
            dp=g["dp_size"],
            ep=g["ep_size"],
            zero_stage=g["zero_stage"],
            global_batch=g["batch_size"],
            seq_len=g["seq_len"],
            accumulation_steps=g["gradient_accumulation_steps"],
            layers=model("layers"),
            hidden=np.where(np.isnan(hidden), DEFAULT_HIDDEN_DIM, hidden),
            heads=model("heads"),
            strategy=g["activation_checkpointing"],
            buffer_fraction=g["communication_buffer_fraction"],
            sequence_parallel=g["sequence_parallel"],
            gradient_bytes_per_el=gradient_b,
            interleave=g["v_stages"],
        )
        capacity = g.field("hardware", "memory_capacity")
        fits = parts["total_memory"] <= capacity
        return {
            **parts,
            "available_memory": capacity,
            "memory_utilization": parts["total_memory"] / capacity,
            "feasible": fits,
            "infeasible_reason": np.where(fits, 0, reason("memory_capacity")).astype(np.int8),
        }
