"""What every resolver shares: argument handling, the grid, the ``Result``."""

from __future__ import annotations

import numpy as np

from ..grid import Arg, Grid, build_grid
from ..hardware.types import HardwareNode
from ..models.types import Workload
from ..options import FIDELITIES, Option
from ..physics import roofline as rl
from ..physics.constants import PRECISIONS
from ..result import Result
from ..variables import REASONS, variable

__all__ = [
    "Resolver",
    "HARDWARE",
    "PRECISION",
    "FIDELITY",
    "DEVICE_FIELDS",
    "device_fields",
    "model_fields",
    "model_arg",
    "precision_bytes",
    "precision_terms",
    "is_false",
]

_PRECISION_ALIASES = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16"}
_FP16, _BF16 = PRECISIONS.index("fp16"), PRECISIONS.index("bf16")

#: The ``hardware`` argument of the single-device resolvers.
HARDWARE = Arg("hardware", "record", types=(HardwareNode,), type_hint="HardwareNode record (Hardware.*)")
#: The ``precision`` argument (D15: eight precisions, case-insensitive).
PRECISION = Arg("precision", "choice", default="fp16", choices=PRECISIONS, aliases=_PRECISION_ALIASES)


#: The ``fidelity`` argument of the resolvers whose physics has a refined form: "first_order"
#: (mlsysim 0.3.0's equations with the deviations of docs/differences.md) or "refined" (the
#: project's best model, docs/equations.md); the default follows ``ms.set_options(fidelity=...)``.
FIDELITY = Arg("fidelity", "choice", default=Option("fidelity"), choices=FIDELITIES)


#: Fields of an accelerator that every roofline step reads (record names after the prefix).
DEVICE_FIELDS = (
    "memory_capacity",
    "memory_bandwidth",
    "sram_capacity",
    "sram_bandwidth",
    "flash_bandwidth",
    "host_link_bandwidth",
    "dispatch_tax",
    "tdp",
)


def device_fields(grid: Grid, records: str = "hardware", prefix: str = "") -> dict:
    """The accelerator's memory tiers, host link, dispatch tax and TDP as keyword arguments of a
    physics step: ``("hardware", "")`` for a HardwareNode argument, ``("fleet", "accelerator_")``
    for a fleet's accelerator."""
    return {name: grid.field(records, f"{prefix}{name}") for name in DEVICE_FIELDS}


def model_fields(grid: Grid) -> dict:
    """The workload's size and Transformer shape as keyword arguments of a physics step."""
    field = lambda key: grid.field("model", key)  # noqa: E731
    return {
        "ops_per_sample": field("ops_per_sample"),
        "parameters": field("parameters"),
        "model_size": field("model_size"),
        "weights_rule": field("weights_rule"),
        "is_transformer": field("is_transformer"),
        "layers": field("layers"),
        "hidden": field("hidden_dim"),
        "heads": field("heads"),
    }


def model_arg(name: str = "model", types: tuple = (Workload,), hint: str = "Workload record (Models.*)", **kw) -> Arg:
    """A workload argument (``model``, ``draft_model``...) accepting records of ``types``."""
    return Arg(name, "record", types=types, type_hint=hint, **kw)


def precision_bytes(code):
    """Bytes per element and the 16-bit flag (fp16/bf16) of precision codes."""
    return rl.bytes_per_element(code), (code == _FP16) | (code == _BF16)


def precision_terms(grid: Grid, records: str = "hardware", prefix: str = ""):
    """Bytes per element, 16-bit flag, peak FLOP/s at the precision and the fallback flag.

    ``records``/``prefix`` name where the accelerator's fields are: ``("hardware", "")`` for a
    HardwareNode argument, ``("fleet", "accelerator_")`` for a fleet's accelerator.
    """
    code = grid["precision"]
    if np.ndim(code) == 0:  # one precision: read its peak only
        table = [np.nan] * len(PRECISIONS)
        table[int(code)] = grid.field(records, f"{prefix}flops_{PRECISIONS[int(code)]}")
    else:
        table = [grid.field(records, f"{prefix}flops_{p}") for p in PRECISIONS]
    peak, fallback = rl.peak_flops_for_precision(code, table, grid.field(records, f"{prefix}peak_flops"))
    return (*precision_bytes(code), peak, fallback)


#: Full-size float arrays the kernels hold at once beyond their outputs (the memory guard's
#: estimate of an eager grid: ``Grid.check_memory``).
KERNEL_TEMPORARIES = 16
_INVALID = REASONS.index("invalid_input")


def flag_invalid(outputs: dict, invalid) -> dict:
    """Outputs with the points where ``invalid`` is True given no answer: ``feasible`` False,
    ``infeasible_reason`` ``invalid_input``, every other number NaN, every category missing (code
    -1), every other flag False, every label None."""
    out = {}
    for name, array in outputs.items():
        if name == "infeasible_reason":
            out[name] = np.where(invalid, _INVALID, array)
            continue
        kind = variable(name).kind
        if kind == "category":
            out[name] = np.where(invalid, -1, array)
        elif kind == "bool":
            out[name] = np.where(invalid, False, array)
        elif kind in ("text", "record"):
            if hasattr(array, "dask") or hasattr(invalid, "dask"):  # dask has no object where: map per block
                import dask.array as da

                out[name] = da.map_blocks(_none_where, invalid, array, dtype=object)
            else:
                out[name] = _none_where(invalid, array)
        else:
            out[name] = np.where(invalid, np.nan, array)
    return out


def _none_where(invalid, array):
    """``array`` (labels) with None where ``invalid``, broadcast together."""
    invalid, array = np.broadcast_arrays(np.asarray(invalid), np.asarray(array, dtype=object))
    out = array.copy()
    out[invalid] = None
    return out


def is_false(grid: Grid, name: str) -> bool:
    """True when a boolean argument is the scalar False (lets a kernel skip a branch)."""
    inp = grid.inputs.get(name)
    return inp is not None and not inp.dims and not bool(np.asarray(inp.values))


class Resolver:
    """A stateless resolver: ``solve(**kwargs)`` is a pure function of its arguments.

    Subclasses declare ``ARGS`` (a tuple of ``grid.Arg``), ``OUTPUTS`` (the names of what they
    return, each catalogued in ``mlsysim_vec.variables``) and implement ``_compute(grid)``,
    returning a dict of output arrays laid out on the grid. Every argument may be a scalar, a
    sequence (a new dimension named after the keyword), a DataArray (its own dimensions) or a
    registry family. ``chunks`` (``{dim: size}`` or ``"auto"``) makes the outputs lazy dask
    arrays chunked along those dimensions.

    Each subclass's ``solve`` gets a real signature (every argument with its default) and a
    numpydoc docstring generated from ``ARGS``, ``OUTPUTS`` and the catalogue, followed by the
    ``Notes`` and ``References`` sections of the class docstring (see ``solvers.docs``).
    """

    ARGS: tuple[Arg, ...] = ()
    OUTPUTS: tuple[str, ...] = ()
    #: Optional arguments (default None) of which a NaN is an invalid input rather than "not
    #: given": alternatives one of which the resolver needs (``Grid.invalid``).
    NAN_INVALID: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not callable(getattr(cls, "_compute", None)) and "solve" not in cls.__dict__:
            # a resolver computes on its grid (_compute) or is a composite with its own solve
            raise TypeError(f"{cls.__name__} must define _compute(grid) -> dict of outputs, or its own solve")
        from .docs import document_solve

        document_solve(cls)

    def solve(self, *args, chunks=None, **kwargs) -> Result:
        return self.solve_grid(self.grid(*args, chunks=chunks, **kwargs))

    def grid(self, *args, chunks=None, **kwargs) -> Grid:
        """Validate and align the arguments without computing (used by sweeps and tests)."""
        name = type(self).__name__
        if len(args) > len(self.ARGS):
            raise TypeError(f"{name}.solve() takes at most {len(self.ARGS)} positional arguments")
        positional = dict(zip([a.name for a in self.ARGS], args))
        for key in positional.keys() & kwargs.keys():
            raise TypeError(f"{name}.solve() got multiple values for argument {key!r}")
        kwargs = positional | kwargs
        for arg in self.ARGS:  # defaults that follow ms.set_options (fidelity), read at call time
            if isinstance(arg.default, Option) and arg.name not in kwargs:
                kwargs[arg.name] = arg.default.value()
        grid = build_grid(self.ARGS, kwargs, name, chunks)
        grid.check_memory(len(self.OUTPUTS) + KERNEL_TEMPORARIES, name)
        self._check(grid)
        return grid

    def evaluate(self, grid: Grid) -> dict:
        """The outputs on a grid prepared by ``grid(...)``: ``{name: array}`` laid out on it
        (arrays broadcast against the grid; canonical SI units). A point where a numeric input
        is NaN is flagged (``flag_invalid``)."""
        out = self._compute(grid)
        invalid = grid.invalid(self.NAN_INVALID)
        return out if invalid is None else flag_invalid(out, invalid)

    def solve_grid(self, grid: Grid) -> Result:
        """The ``Result`` of ``evaluate(grid)``."""
        return Result.from_arrays(type(self).__name__, grid, self.evaluate(grid))

    def _check(self, grid: Grid) -> None:
        """Cross-argument validation before computing (raise ValueError/TypeError)."""

    @classmethod
    def arguments(cls) -> dict[str, Arg]:
        """The resolver's arguments by name (for specs, the CLI and documentation)."""
        return {a.name: a for a in cls.ARGS}
