"""Workload records: what a model is, in the few numbers the first-order models need.

``Workload`` is the base; ``TransformerWorkload``, ``SparseTransformerWorkload`` (MoE),
``CNNWorkload``, ``SSMWorkload``, ``DiffusionWorkload`` and ``EmbodiedWorkload`` add fields.
Counts (``parameters``) accept ``64e9 * ureg.count``, ``8 * ureg.Bparam`` or a plain number.

``inference_flops`` is per token for language models, per sequence for encoders and per
input for vision models, as in the reference registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..physics.constants import DEFAULT_HEADS, DEFAULT_HIDDEN_DIM
from ..units import as_quantity, si

__all__ = ["Workload", "TransformerWorkload", "SparseTransformerWorkload", "CNNWorkload",
           "SSMWorkload", "DiffusionWorkload", "EmbodiedWorkload"]

#: How the weight bytes W of a model are found (see ``Workload.si``).
WEIGHTS_FROM_PARAMETERS, WEIGHTS_FROM_SIZE_AT_16BIT, WEIGHTS_FROM_SIZE = 0, 1, 2

_INT_FIELDS = ("layers", "hidden_dim", "heads", "kv_heads", "head_dim", "experts",
               "active_experts_per_token", "kv_lora_rank", "qk_rope_head_dim", "context_length",
               "vocab_size", "state_size", "denoising_steps", "resolution",
               "training_accelerators_ref")


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class Workload:
    """A model. parameters [count], model_size [bytes; plain numbers in GB],
    inference_flops [FLOP; plain numbers in FLOP]."""

    name: str
    architecture: str = ""
    parameters: object = None
    model_size: object = None
    inference_flops: object = None
    release_year: int | None = None
    training_tokens: object = None
    training_ops: object = None
    training_accelerators_ref: int | None = None
    training_days_ref: object = None
    training_gpu_days: object = None
    training_energy_mwh: float | None = None
    training_co2e: object = None
    source: str = ""
    source_url: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name={self.name!r}: a workload needs a non-empty string name")
        _set(self, "parameters", as_quantity(self.parameters, "count", "parameters", True))
        _set(self, "model_size", as_quantity(self.model_size, "GB", "model_size", True))
        _set(self, "inference_flops", as_quantity(self.inference_flops, "flop", "inference_flops", True))
        _set(self, "training_tokens", as_quantity(self.training_tokens, "count", "training_tokens", True))
        _set(self, "training_ops", as_quantity(self.training_ops, "flop", "training_ops", True))
        _set(self, "training_days_ref", as_quantity(self.training_days_ref, "day", "training_days_ref", True))
        _set(self, "training_gpu_days", as_quantity(self.training_gpu_days, "day", "training_gpu_days", True))
        _set(self, "training_co2e", as_quantity(self.training_co2e, "kg", "training_co2e", True))
        for name in _INT_FIELDS:
            value = getattr(self, name, None)
            if value is not None:
                if isinstance(value, bool) or float(value) != int(value) or int(value) < 0:
                    raise ValueError(f"{name}={value!r} must be a non-negative integer")
                _set(self, name, int(value))
        self._check()

    def _check(self):
        """Type-specific required fields."""

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"

    @property
    def is_transformer(self) -> bool:
        return isinstance(self, TransformerWorkload)

    @cached_property
    def si(self) -> dict[str, float]:
        """Numbers the kernels read, canonical units, NaN where unset.

        ``ops_per_sample`` [FLOP] is ``inference_flops`` or, when unset, 2·(active) parameters
        (0 for a size-only model such as DLRM), times ``denoising_steps`` for diffusion models.
        ``weights_rule`` says how weight bytes are found: from parameters × bytes per element
        (0); from ``model_size`` at 16-bit precision and from parameters otherwise (1, a
        Transformer with a size on record); from ``model_size`` always (2, no parameter count).
        """
        params = si(self.parameters, "count")
        active = params
        if isinstance(self, SparseTransformerWorkload):
            active = si(self.active_parameters, "count")
        flops = si(self.inference_flops, "flop")
        if flops != flops:  # NaN: not on record
            flops = 2.0 * active if active == active else 0.0
        steps = getattr(self, "denoising_steps", None)
        if steps:
            flops *= steps
        size = si(self.model_size, "byte")
        if params != params and size == size:
            rule = WEIGHTS_FROM_SIZE
        elif size == size and self.is_transformer:
            rule = WEIGHTS_FROM_SIZE_AT_16BIT
        else:
            rule = WEIGHTS_FROM_PARAMETERS
        out = {
            "parameters": params,
            "active_parameters": active,
            "ops_per_sample": flops,
            "model_size": size,
            "weights_rule": float(rule),
            "is_transformer": float(self.is_transformer),
        }
        layers = getattr(self, "layers", None)
        out["layers"] = float(layers) if layers else float("nan")
        hidden = getattr(self, "hidden_dim", None)
        heads = getattr(self, "heads", None)
        out["hidden_dim"] = float(hidden) if hidden else float("nan")
        out["heads"] = float(heads) if heads else float("nan")
        return out


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class TransformerWorkload(Workload):
    """A (dense) Transformer. layers is required; hidden_dim, heads, kv_heads (GQA), head_dim,
    and the MLA ranks kv_lora_rank / qk_rope_head_dim are optional integers."""

    layers: int | None = None
    hidden_dim: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    context_length: int | None = None
    vocab_size: int | None = None

    def _check(self):
        if self.parameters is None:
            raise TypeError(f"{type(self).__name__} {self.name!r}: parameters is required")
        if not self.layers:
            raise TypeError(f"{type(self).__name__} {self.name!r}: layers is required (a positive integer)")

    @property
    def head_width(self) -> int:
        """head_dim when set, else hidden_dim // heads (defaults 4096 and 32)."""
        hidden = self.hidden_dim or DEFAULT_HIDDEN_DIM
        heads = self.heads or DEFAULT_HEADS
        return self.head_dim or hidden // heads


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class SparseTransformerWorkload(TransformerWorkload):
    """A mixture-of-experts Transformer: total ``parameters`` set memory, ``active_parameters``
    (per token) set compute."""

    active_parameters: object = None
    experts: int | None = None
    active_experts_per_token: int = 1

    def _check(self):
        super()._check()
        _set(self, "active_parameters", as_quantity(self.active_parameters, "count", "active_parameters"))
        if not self.experts:
            raise TypeError(f"SparseTransformerWorkload {self.name!r}: experts is required (a positive integer)")


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class CNNWorkload(Workload):
    """A convolutional network; parameters and inference_flops (per input) are required."""

    layers: int | None = None
    width_multiplier: float | None = None

    def _check(self):
        if self.parameters is None or self.inference_flops is None:
            raise TypeError(f"CNNWorkload {self.name!r}: parameters and inference_flops are required")


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class SSMWorkload(Workload):
    """A state-space model (Mamba): layers, hidden_dim, state_size."""

    layers: int | None = None
    hidden_dim: int | None = None
    state_size: int | None = None


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class DiffusionWorkload(Workload):
    """A diffusion model: inference_flops per denoising step × denoising_steps."""

    denoising_steps: int | None = None
    resolution: int | None = None


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class EmbodiedWorkload(Workload):
    """A robot policy (vision-language-action model)."""

    layers: int | None = None
    hidden_dim: int | None = None
