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

__all__ = [
    "Workload",
    "TransformerWorkload",
    "SparseTransformerWorkload",
    "CNNWorkload",
    "SSMWorkload",
    "DiffusionWorkload",
    "EmbodiedWorkload",
    "from_hf_config",
]

#: How the weight bytes W of a model are found (see ``Workload.si``).
WEIGHTS_FROM_PARAMETERS, WEIGHTS_FROM_SIZE_AT_16BIT, WEIGHTS_FROM_SIZE = 0, 1, 2

_INT_FIELDS = (
    "layers",
    "hidden_dim",
    "heads",
    "kv_heads",
    "head_dim",
    "experts",
    "active_experts_per_token",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "context_length",
    "vocab_size",
    "state_size",
    "denoising_steps",
    "resolution",
    "training_accelerators_ref",
)


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
        Integer fields are floats here (NaN when unset); ``*_or_default`` apply the reference's
        Transformer defaults (hidden 4096, 32 heads, KV heads = heads) and ``head_width`` is
        D2's one head width.
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
            "is_sparse": float(isinstance(self, SparseTransformerWorkload)),
        }
        nan = float("nan")

        def number(name):
            value = getattr(self, name, None)
            return float(value) if value else nan

        for name in (
            "layers",
            "hidden_dim",
            "heads",
            "kv_heads",
            "head_dim",
            "kv_lora_rank",
            "qk_rope_head_dim",
            "experts",
            "context_length",
            "vocab_size",
            "state_size",
            "intermediate_size",
            "sliding_window",
        ):
            out[name] = number(name)
        out["active_experts_per_token"] = float(getattr(self, "active_experts_per_token", 1) or 1)
        gated = getattr(self, "gated_mlp", None)
        out["gated_mlp"] = nan if gated is None else float(bool(gated))
        if self.is_transformer:
            # Defaults the reference applies to a Transformer that lacks the field, and one head
            # width everywhere (docs/differences.md, D2): head_dim when set, else hidden_dim // heads.
            hidden = self.hidden_dim or DEFAULT_HIDDEN_DIM
            heads = self.heads or DEFAULT_HEADS
            out["hidden_or_default"] = float(hidden)
            out["heads_or_default"] = float(heads)
            out["kv_heads_or_default"] = float(self.kv_heads or heads)
            out["head_width"] = float(self.head_width)
            out["is_mla"] = float(bool(self.kv_lora_rank and self.qk_rope_head_dim))
        else:
            for name in ("hidden_or_default", "heads_or_default", "kv_heads_or_default", "head_width", "is_mla"):
                out[name] = nan
        return out


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class TransformerWorkload(Workload):
    """A (dense) Transformer. layers is required; hidden_dim, heads, kv_heads (GQA), head_dim,
    and the MLA ranks kv_lora_rank / qk_rope_head_dim are optional integers.

    intermediate_size (the MLP width), gated_mlp (a SwiGLU/GeGLU MLP with three projections,
    else two) and sliding_window (tokens a layer attends to, which also bounds its KV cache) are
    optional shape facts, read from ``config.json`` by ``from_hf_config``.
    """

    layers: int | None = None
    hidden_dim: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    context_length: int | None = None
    vocab_size: int | None = None
    intermediate_size: int | None = None
    gated_mlp: bool | None = None
    sliding_window: int | None = None

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


#: ``model_type`` values of HuggingFace configs whose MLP is gated (SwiGLU/GeGLU: gate, up and
#: down projections, 3·h·I parameters) or plain (up and down, 2·h·I). Other types are judged by
#: their activation: SiLU/Swish is the gated form in every public decoder that uses it.
GATED_MLP_TYPES = frozenset(
    {
        "llama",
        "mistral",
        "mixtral",
        "qwen2",
        "qwen2_moe",
        "qwen3",
        "qwen3_moe",
        "gemma",
        "gemma2",
        "gemma3",
        "gemma3_text",
        "deepseek_v2",
        "deepseek_v3",
        "phi3",
        "olmo",
        "olmo2",
        "granite",
        "cohere",
        "internlm2",
        "starcoder2_gated",
        "exaone",
        "nemotron_gated",
    }
)
PLAIN_MLP_TYPES = frozenset(
    {
        "gptj",
        "gpt2",
        "gpt_neox",
        "gpt_neo",
        "falcon",
        "bloom",
        "opt",
        "gpt_bigcode",
        "phi",
        "mpt",
        "codegen",
        "starcoder2",
        "bert",
        "roberta",
        "t5",
    }
)


def _hf_gated(config: dict) -> bool:
    kind = str(config.get("model_type", "")).lower()
    if kind in GATED_MLP_TYPES:
        return True
    if kind in PLAIN_MLP_TYPES:
        return False
    act = str(config.get("hidden_act") or config.get("activation_function") or "").lower()
    return act in ("silu", "swish", "swiglu", "geglu")


def _hf_kv_heads(config: dict, heads: int) -> int:
    """KV heads: ``num_key_value_heads`` (LLaMA-style), ``num_kv_heads`` (Falcon's new
    decoder), ``n_head_kv`` (early Falcon); ``multi_query: true`` without a count is one KV head."""
    explicit = _hf_int(config, "num_key_value_heads", "num_kv_heads", "n_head_kv")
    if explicit:
        return explicit
    return 1 if config.get("multi_query") else heads


def _hf_int(config: dict, *keys, default=None):
    for key in keys:
        if config.get(key) is not None:
            return int(config[key])
    return default


def from_hf_config(config, name: str | None = None, parameters=None, gated_mlp: bool | None = None):
    """A Transformer record from a HuggingFace-style ``config.json`` (a path or a dict).

    Reads the shape under the names the public configs use: layers (``num_hidden_layers``,
    ``n_layer``), width (``hidden_size``, ``n_embd``), heads (``num_attention_heads``,
    ``n_head``), KV heads (``num_key_value_heads``, ``num_kv_heads``, ``n_head_kv``, or one for
    ``multi_query``), ``head_dim``, the MLP width (``intermediate_size``, ``n_inner``,
    ``ffn_hidden_size``; default 4h), ``vocab_size``, the context (``max_position_embeddings``,
    ``n_positions``), ``sliding_window``, ``tie_word_embeddings`` (absent means tied, as in
    HuggingFace's own default); for mixture-of-experts configs ``num_local_experts`` /
    ``n_routed_experts``, ``num_experts_per_tok`` and ``moe_intermediate_size``.

    The parameter count, when not given, is counted from the shapes: per layer q/o projections
    ``2·h·a·d``, k/v ``2·h·a_kv·d``, the MLP ``3·h·I`` when gated (SwiGLU/GeGLU; LLaMA-style)
    or ``2·h·I`` when plain (GPT-J, Falcon; ``GATED_MLP_TYPES``/``PLAIN_MLP_TYPES``, else by
    the activation, or ``gated_mlp=`` to say so), per expert for MoE, router ``h·E``, two norms
    ``2h``; token embeddings ``V·h`` (twice when the output head is not tied) and a final norm
    ``h``. Biases are not counted (a few million parameters at most). Llama-3.1-8B's config gives
    8.03 B, LLaMA-2-70B's 68.98 B, GPT-J 6B's 6.05 B (published 6.05 B), Falcon-180B's 178.6 B;
    Mixtral-8x7B's 46.7 B total / 12.9 B active.
    """
    import json
    from pathlib import Path

    if not isinstance(config, dict):
        path = Path(config)
        config = json.loads(path.read_text(encoding="utf-8"))
        name = name or config.get("_name_or_path") or path.stem
    layers = _hf_int(config, "num_hidden_layers", "n_layer", "num_layers")
    hidden = _hf_int(config, "hidden_size", "n_embd", "d_model")
    heads = _hf_int(config, "num_attention_heads", "n_head")
    if not (layers and hidden and heads):
        raise ValueError("config needs num_hidden_layers, hidden_size and num_attention_heads")
    kv_heads = _hf_kv_heads(config, heads)
    head_dim = _hf_int(config, "head_dim", default=hidden // heads)
    inter = _hf_int(config, "intermediate_size", "n_inner", "ffn_hidden_size", default=4 * hidden)
    gated = _hf_gated(config) if gated_mlp is None else bool(gated_mlp)
    projections = 3 if gated else 2
    vocab = _hf_int(config, "vocab_size", default=0)
    experts = _hf_int(config, "num_local_experts", "n_routed_experts", "num_experts", default=0)
    top_k = _hf_int(config, "num_experts_per_tok", default=1)
    expert_inter = _hf_int(config, "moe_intermediate_size", default=inter)
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim + 2 * hidden
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings", True) else 2) + hidden
    name = name or config.get("_name_or_path") or config.get("model_type") or "hf-model"
    common = dict(
        name=name,
        architecture=str(config.get("model_type", "Transformer")),
        layers=layers,
        hidden_dim=hidden,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=vocab or None,
        context_length=_hf_int(config, "max_position_embeddings", "n_positions", "max_seq_len"),
        intermediate_size=inter,
        gated_mlp=gated,
        sliding_window=_hf_int(config, "sliding_window"),
        kv_lora_rank=_hf_int(config, "kv_lora_rank"),
        qk_rope_head_dim=_hf_int(config, "qk_rope_head_dim"),
        source="HuggingFace config.json",
    )
    if experts:
        total = layers * (attention + experts * projections * hidden * expert_inter + hidden * experts) + embeddings
        active = layers * (attention + top_k * projections * hidden * expert_inter + hidden * experts) + embeddings
        return SparseTransformerWorkload(
            parameters=parameters if parameters is not None else float(total),
            active_parameters=float(active),
            experts=experts,
            active_experts_per_token=top_k,
            **common,
        )
    total = layers * (attention + projections * hidden * inter) + embeddings
    return TransformerWorkload(parameters=parameters if parameters is not None else float(total), **common)
