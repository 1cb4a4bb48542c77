"""Optimizers: ``ParallelismOptimizer``, ``BatchingOptimizer``, ``PlacementOptimizer``
(docs/differences.md, D8).

Each one evaluates its resolver on the whole candidate grid in **one** call (DistributedModel,
ServingModel + TailLatencyModel, EconomicsModel), builds the constraint masks of its question
(memory-feasible, divisible, SLA met, ...) and reduces over the candidate dimensions with
``optimize.search`` (the numba masked argmax / top-k of ``reduce``); PlacementOptimizer calls
those kernels itself on EconomicsModel's arrays (the regions on the last axis), and its Dataset
is only built when asked for. The answer is a ``Result`` over the dimensions that were not
searched (model × fleet × batch, model × hardware × rate × SLA, fleet × duration × carbon
price, ...): the winning coordinates ``best_<dim>``, the objective, the resolver's outputs at
the winner, ``feasible`` (some candidate satisfies every constraint), ``n_searched``
(candidates per point: the grid size) and ``n_feasible``. ``top_k=k`` adds a ``rank``
dimension (1 = best) holding the same fields for the k best candidates. A point where nothing
is feasible is reported (``feasible`` False, labels missing, numbers NaN), never raised.

The optimizers' own formulas (batch service time and capacity, carbon-adjusted cost) are in
``physics.placement``; ``docs/equations.md`` (section "Optimizers") states them, with the
deviations of docs/differences.md, D8 (objectives are what their names say).
"""

from __future__ import annotations

import math

import numpy as np

from .. import optimize, reduce
from ..grid import Arg, Grid
from ..infra.types import GridProfile
from ..options import FIDELITIES
from ..physics import placement
from ..result import Result
from ..variables import variable
from .base import Resolver
from .fleet import DistributedModel, none_as_auto, require_weight_bytes
from .ops import EconomicsModel
from .serving import ServingModel, TailLatencyModel

__all__ = ["ParallelismOptimizer", "BatchingOptimizer", "PlacementOptimizer", "DEFAULT_REGIONS"]

#: mlsysim 0.3.0's default region list of PlacementOptimizer (D8 keeps it).
DEFAULT_REGIONS = ("US_Avg", "Quebec", "Iowa")


_PARALLEL = ("tp_size", "pp_size", "microbatch_count", "ep_size")
#: Searched by default under ``fidelity="refined"`` as well (when not given): the microbatch
#: size (the count then follows from it), activation recomputation, the ZeRO stage and CP.
_REFINED_SEARCH = ("microbatch_size", "activation_recomputation", "zero_stage", "cp_size")
#: Largest microbatch size of the default refined search (Megatron-LM's runs use 1–8;
#: Narayanan et al. 2021, Table 1).
MAX_MICROBATCH_SIZE = 8
_REFINED = FIDELITIES.index("refined")
#: The parallel degrees of one serving replica that BatchingOptimizer passes to ServingModel
#: (those ServingModel takes).
_SERVING_DEGREES = tuple(n for n in ("tp_size", "pp_size", "ep_size") if n in ServingModel.arguments())


# ---------------------------------------------------------------------------- shared helpers
def _data_array(values, dims):
    import xarray as xr

    return xr.DataArray(np.asarray(values), dims=dims)


def _input(g: Grid, name: str):
    """An argument's values as a DataArray over its own dimensions (canonical units, no coords)."""
    inp = g.inputs[name]
    return _data_array(np.asarray(inp.values, dtype=float), inp.dims)


def _field(g: Grid, name: str, key: str):
    """A numeric field of a record argument's records as a DataArray over the argument's dimensions."""
    inp = g.inputs[name]
    flat = np.array([r.si[key] for r in inp.values.reshape(-1)], dtype=float)
    return _data_array(flat.reshape(inp.values.shape), inp.dims)


def _keywords(resolver: str, names: list[str], positional: tuple, kwargs: dict) -> dict:
    """Every argument by name: the positional ones in the order ``names``, then the keywords."""
    if len(positional) > len(names):
        raise TypeError(f"{resolver}.solve() takes at most {len(names)} positional arguments ({len(positional)} given)")
    named = dict(zip(names, positional))
    for key in named.keys() & kwargs.keys():
        raise TypeError(f"{resolver}.solve() got multiple values for argument {key!r}")
    return named | kwargs


def _plain(da):
    """A DataArray without coordinates or attributes (its dimensions only)."""
    import xarray as xr

    return xr.DataArray(da.data, dims=da.dims)


def _with_grid(ds, g: Grid, resolver: str, last: tuple[str, ...] = ()):
    """``ds`` with the grid's coordinates (every dimension, even one that only a constraint uses,
    and the 0-d arguments as scalar coordinates) and its dimension order (``last`` at the end)."""
    coords = {d: g.coords[d] for d in g.dims if d not in last}
    coords.update({k: v for k, v in g.scalars().items() if k not in ds.coords})
    ds = ds.assign_coords(coords)
    ds.attrs = {"resolver": resolver, "dims": [d for d in g.dims if d not in last] + list(last)}
    return ds


def _powers_of_two(upper: float) -> list[int]:
    """1, 2, 4, ... up to ``upper`` (at least [1]; NaN counts as 1)."""
    return [2**i for i in range(int(np.floor(np.log2(np.fmax(upper, 1.0)))) + 1)]


def _largest(g: Grid, name: str) -> float:
    """The largest value of a per-point input, ignoring NaN points (they are flagged
    ``invalid_input`` by the evaluation, not searched); NaN if every point is NaN."""
    values = np.asarray(g.inputs[name].values, dtype=float)
    return float(np.nanmax(values)) if not np.isnan(values).all() else np.nan


#: The most candidates an optimizer keeps per point (``top_k``): every kept candidate is a full
#: copy of the answer's fields, so the bound is a bound on memory.
MAX_TOP_K = 10_000
#: The largest candidate ranges an optimizer builds (batch sizes searched, TP and PP degrees):
#: 2^20 (about a million) accelerators, or batch sizes, per point.
MAX_CANDIDATE = 2**20


def _check_top_k(top_k):
    if top_k is not None and (
        isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= MAX_TOP_K
    ):
        raise ValueError(
            f"top_k={top_k!r} is not allowed; top_k must be a whole number from 1 to {MAX_TOP_K:,} "
            f"(or None: the best candidate only)"
        )


def _chunks_within(chunks, g: Grid, dims: set):
    """The part of an optimizer's ``chunks`` that names the dimensions of one inner call: every
    name must be a dimension of the optimizer's grid or ``batch_size`` (the searched one);
    ``"auto"`` stays ``"auto"``. A dimension the inner call does not have is computed whole."""
    if chunks is None or chunks == "auto":
        return chunks
    if not isinstance(chunks, dict):
        raise TypeError(
            f"chunks={chunks!r} is a {type(chunks).__name__}; chunks must be None, 'auto' or a dict {{dimension: size}}"
        )
    unknown = sorted(set(chunks) - set(g.dims) - {"batch_size"})
    if unknown:
        raise ValueError(f"chunks names dimensions {unknown} that are not in the grid {[*g.dims, 'batch_size']}")
    return {d: size for d, size in chunks.items() if d in dims} or None


def _check_finite(g: Grid, names) -> None:
    """Arguments that set the candidates searched (not per-point inputs) may not be NaN: a NaN
    there would leave the search itself undefined."""
    for name in names:
        inp = g.inputs.get(name)
        if inp is not None and np.isnan(np.asarray(inp.labels, dtype=float)).any():
            raise ValueError(
                f"{name}=nan is not allowed; {name} sets the candidates searched and must be {inp.arg.allowed()}"
            )


def _gather(ds, found, over, names):
    """Outputs ``names`` of ``ds`` at the winners of a ``search`` result ``found`` (its ``best_<dim>``
    labels are turned back into positions); NaN where nothing is feasible."""
    import pandas as pd

    ok = found["feasible"]
    at = {}
    for dim in over:
        coord = pd.Index(np.asarray(ds[dim].values))
        first = ~coord.duplicated(keep="first")  # a repeated label: its first position wins
        labels = found[f"best_{dim}"].transpose(*ok.dims)
        wanted = np.where(ok.values, labels.values, coord[0])  # missing labels: any valid one, masked below
        index = np.flatnonzero(first)[coord[first].get_indexer(wanted.reshape(-1))]
        at[dim] = _data_array(index.reshape(wanted.shape), ok.dims)
    out = {}
    for name in names:
        da = ds[name].drop_vars(list(ds[name].coords))
        picked = da.isel({d: i for d, i in at.items() if d in da.dims})
        picked = picked.where(ok) if picked.dtype.kind == "f" else picked
        out[name] = picked.transpose(*[d for d in ok.dims if d in picked.dims]).assign_attrs(ds[name].attrs)
    return out


def _finish(resolver: str, found: Result, extra: dict) -> Result:
    """The search result with ``extra`` variables, renamed after the optimizer."""
    ds = found.dataset.assign(extra)
    ds.attrs["resolver"] = resolver
    return Result.from_dataset(ds, resolver)


# ---------------------------------------------------------------------------- ParallelismOptimizer
class ParallelismOptimizer(Resolver):
    """What is the optimal TP/PP/DP split? The best parallel layout of a training job.

    The arguments are mlsysim 0.3.0's in its order, then every other DistributedModel argument;
    each may be swept (a list is a dimension of the answer: one best layout per model × fleet ×
    batch × ...). The candidate grid is evaluated by ONE DistributedModel call and reduced with
    ``optimize.search``. Searched by default:

    * ``tp_size``: powers of two up to ``max_tp`` (default: the fleet's accelerators per node,
      so tensor parallelism stays inside a node unless ``max_tp`` is raised);
    * ``pp_size``: powers of two up to ``max_pp`` (default: the fleet's accelerators), never
      more stages than layers;
    * ``microbatch_count``: powers of two up to the global batch; a pipeline needs at least one
      sample per microbatch, and without a pipeline only ``m = 1`` is kept (the count changes
      nothing there);
    * ``ep_size``: for mixture-of-experts models, powers of two dividing the expert count
      (dense models: 1).

    Under ``fidelity="refined"`` (any refined point of the grid) the microbatch count is not
    searched but follows from the microbatch size (DistributedModel's refined rule), and these
    are searched as well unless given:

    * ``microbatch_size``: powers of two up to ``min(8, batch)``, at most the local batch
      (a size above it is the same schedule as the local batch);
    * ``activation_recomputation``: False, True;
    * ``zero_stage``: 0, 1, 2, 3;
    * ``cp_size``: powers of two up to the accelerators per node, dividing ``seq_len``.

    Under refined these four are searched like the degrees: a list is the candidates, a scalar
    is fixed (under first_order a list is a dimension of the answer unless ``search_over``
    names it).

    The winner's ``microbatches_per_flush`` is its ``best_microbatch_count`` then, and its
    ``notes`` (DistributedModel's bit field) come with the answer under either fidelity.

    Each degree may instead be given as a list (those candidates), a DataArray (e.g.
    ``tp_size`` and ``pp_size`` zipped along a ``candidate`` dimension: those pairs; a dimension
    the DataArray shares with another argument, such as a ``case`` dimension zipping models and
    fleets, is a dimension of the answer, not a searched one) or a scalar (fixed). ``search_over``
    names further swept arguments to search, e.g. ``zero_stage=[0, 1, 2, 3],
    search_over=("zero_stage",)``. The answer holds ``best_<dim>`` for every searched dimension,
    ``objective``, the DistributedModel outputs at the winner, ``feasible``, ``n_searched`` (the
    candidate-grid size) and ``n_feasible``; ``top_k=k`` adds a ``rank`` dimension with the k
    best candidates.

    Notes
    -----
    A candidate is allowed when it is DistributedModel-feasible (the full training-memory
    model at the chosen precision fits, ``tp·pp·ep`` divides the fleet, ``pp <= layers``), has
    ``dp <= batch`` (no replica without a sample) and obeys the candidate rules above. The
    objective is maximised over the allowed candidates::

        objective = "mfu":        mfu = 3·ops·B / (N · F · T_step)     (real MFU)
        objective = "throughput": effective_throughput = B / T_step

    Ties go to the first candidate in the order tp, pp, microbatches, ep (smallest first), as
    in mlsysim 0.3.0. See ``docs/equations.md`` (sections "Optimizers" and "Distributed
    training") and docs/differences.md, D8 (mlsysim 0.3.0 maximised scaling efficiency × η).

    References
    ----------
    Narayanan, D. et al. (2021). Efficient large-scale language model training on GPU clusters
    using Megatron-LM. SC 2021. arXiv:2104.04473.

    Zheng, L. et al. (2022). Alpa: automating inter- and intra-operator parallelism for
    distributed deep learning. OSDI 2022. arXiv:2201.12023.
    """

    ARGS = (
        DistributedModel.arguments()["model"],
        DistributedModel.arguments()["fleet"],
        Arg("batch_size", "integer", low=1),
        DistributedModel.arguments()["precision"],
        DistributedModel.arguments()["efficiency"],
        Arg("max_tp", "integer", default=None, low=1, high=MAX_CANDIDATE),
        Arg("max_pp", "integer", default=None, low=1, high=MAX_CANDIDATE),
        Arg("overlap_comm", "bool", default=True),
        DistributedModel.arguments()["seq_len"],
        DistributedModel.arguments()["activation_recomputation"],
        *(Arg(name, "integer", default=None, low=1) for name in _PARALLEL),
        *(
            a
            for a in DistributedModel.ARGS
            if a.name
            not in (
                "model",
                "fleet",
                "batch_size",
                "precision",
                "efficiency",
                "overlap_comm",
                "seq_len",
                "activation_recomputation",
                *_PARALLEL,
            )
        ),
    )
    OBJECTIVES = {"mfu": "mfu", "throughput": "effective_throughput"}
    #: Always returned; ``best_ep_size`` (mixture-of-experts models) and ``best_<dim>`` of
    #: ``search_over`` come with what is searched.
    OUTPUTS = (
        "best_tp_size",
        "best_pp_size",
        "best_microbatch_count",
        "best_microbatch_size",  # the refined search's own dimensions (searched unless given)
        "best_activation_recomputation",
        "best_zero_stage",
        "best_cp_size",
        "objective",
        "mfu",
        "effective_throughput",
        "step_latency_total",
        "scaling_efficiency",
        "dp_degree",
        "memory_footprint",
        "memory_utilization",
        "microbatches_per_flush",
        "notes",
        "feasible",
        "n_searched",
        "n_feasible",
    )
    OPTIONS = {
        "objective": (
            "{'mfu', 'throughput'}",
            "What the search maximises: ``'mfu'`` the real model-FLOPs utilisation, ``'throughput'`` "
            "the global samples per second (``effective_throughput``).",
        ),
        "top_k": (
            "int, optional",
            "Keep the k best candidates along a new ``rank`` dimension (1 = best) instead of the "
            "best only (None, the default).",
        ),
        "search_over": (
            "str or sequence of str",
            "Further swept arguments (grid dimensions) searched as well as the parallel degrees, "
            "e.g. ``('zero_stage', 'activation_recomputation')``; each gets a ``best_<dim>`` output.",
        ),
    }
    REPORTED = (
        "mfu",
        "effective_throughput",
        "step_latency_total",
        "scaling_efficiency",
        "dp_degree",
        "memory_footprint",
        "memory_utilization",
        "microbatches_per_flush",
        "notes",
    )

    def solve(
        self, *args, objective: str = "mfu", top_k: int | None = None, search_over=(), chunks=None, **kwargs
    ) -> Result:
        if not isinstance(objective, str) or objective not in self.OBJECTIVES:
            raise ValueError(
                f"objective={objective!r} is not allowed; objective must be one of "
                f"{', '.join(map(repr, self.OBJECTIVES))}"
            )
        _check_top_k(top_k)
        kwargs = _keywords(type(self).__name__, [a.name for a in self.ARGS], args, kwargs)
        filled = self.candidates(**kwargs)
        kwargs.update(filled)
        g = self.grid(chunks=chunks, **kwargs)
        searched = _PARALLEL + (_REFINED_SEARCH if self._refined(g) else ())
        over = self._over(g, search_over, searched)
        ds = Result.from_arrays(type(self).__name__, g, DistributedModel().evaluate(g)).dataset
        zipped = {
            n: (g.inputs[n].dims, np.asarray(g.inputs[n].values))
            for n in _PARALLEL
            if n in g.inputs and g.inputs[n].dims not in ((), (n,))
        }
        ds = ds.assign_coords(zipped)
        constraints = ["feasible", self._allowed(g, ds)]
        found = optimize.search(
            Result.from_dataset(ds),
            self.OBJECTIVES[objective],
            minimize=False,
            constraints=constraints,
            over=over,
            top_k=top_k,
        )
        extra = _gather(ds, found.dataset, over, [n for n in self.REPORTED if n not in found.dataset])
        extra.update({f"best_{n}": found.dataset[n] for n in zipped})
        if "best_microbatch_count" not in found.dataset and "best_microbatch_count" not in extra:
            extra["best_microbatch_count"] = extra["microbatches_per_flush"]  # derived from the size
        return _finish(type(self).__name__, Result.from_dataset(found.dataset.drop_vars(list(zipped))), extra)

    def grid(self, *args, chunks=None, **kwargs) -> Grid:
        """As ``Resolver.grid``; ``topology_override=None`` means "auto" (as DistributedModel)."""
        kwargs = _keywords(type(self).__name__, [a.name for a in self.ARGS], args, kwargs)
        if "topology_override" in kwargs:
            kwargs["topology_override"] = none_as_auto(kwargs["topology_override"])
        return super().grid(chunks=chunks, **kwargs)

    def _check(self, g: Grid) -> None:
        require_weight_bytes(g, type(self).__name__)

    def candidates(self, *args, **kwargs) -> dict:
        """The default candidate lists of the parallel degrees not given in the arguments (see
        the class docstring): one list per degree for the whole grid; the per-point limits
        (accelerators per node, layers, local batch, experts) are masks of ``solve``."""
        kwargs = _keywords(type(self).__name__, [a.name for a in self.ARGS], args, kwargs)
        g = self.grid(**kwargs)
        out = {k: v for k, v in self._candidates(g).items() if kwargs.get(k) is None}
        if self._refined(g):
            if kwargs.get("microbatch_count") is None:
                out.pop("microbatch_count", None)  # refined: the count follows from the size
            else:
                out.pop("microbatch_size", None)  # an explicit count wins over any size
        else:
            for name in _REFINED_SEARCH:
                out.pop(name, None)
        return out

    @staticmethod
    def _refined(g: Grid) -> bool:
        """Some point of the grid is computed with ``fidelity="refined"``."""
        return _REFINED in np.unique(g.inputs["fidelity"].values)

    @staticmethod
    def _candidates(g: Grid) -> dict:
        _check_finite(g, ("max_tp", "max_pp"))
        fleets, models = g.records("fleet"), g.records("model")
        max_tp = (
            np.max(g.inputs["max_tp"].values)
            if "max_tp" in g.inputs
            else max(f.si["accelerators_per_node"] for f in fleets)
        )
        max_pp = (
            np.max(g.inputs["max_pp"].values)
            if "max_pp" in g.inputs
            else max(f.si["total_accelerators"] for f in fleets)
        )
        layers = max(m.si["layers"] if m.si["layers"] == m.si["layers"] else 1.0 for m in models)
        experts = [m.si["experts"] for m in models if m.si["is_sparse"] == 1.0 and m.si["experts"] > 1]
        out = {
            "tp_size": _powers_of_two(max_tp),
            "pp_size": _powers_of_two(min(max_pp, layers)),
            "microbatch_count": _powers_of_two(_largest(g, "batch_size")),
        }
        out["ep_size"] = _powers_of_two(max(experts)) if experts else 1
        per_node = max(f.si["accelerators_per_node"] for f in fleets)
        out["microbatch_size"] = _powers_of_two(np.minimum(MAX_MICROBATCH_SIZE, _largest(g, "batch_size")))
        out["activation_recomputation"] = [False, True]
        out["zero_stage"] = [0, 1, 2, 3]
        out["cp_size"] = _powers_of_two(np.minimum(per_node, _largest(g, "seq_len")))
        return out

    @staticmethod
    def _over(g: Grid, search_over, searched=_PARALLEL) -> list[str]:
        if isinstance(search_over, str):
            names = [search_over]
        elif isinstance(search_over, (list, tuple)) and all(isinstance(n, str) for n in search_over):
            names = list(search_over)
        else:
            raise TypeError(
                f"search_over={search_over!r} is not allowed; search_over must be a dimension name or a list "
                f"of them (the arguments given as lists); dimensions: {', '.join(g.dims)}"
            )
        bad = [n for n in names if n not in g.dims]
        if bad:
            raise ValueError(
                f"search_over={search_over!r}: {bad[0]!r} is not a dimension of the grid; give the "
                f"argument as a list to search it; dimensions: {', '.join(g.dims)}"
            )
        shared = {d for name, inp in g.inputs.items() if name not in searched for d in inp.dims}
        over = [d for n in searched if n in g.inputs for d in g.inputs[n].dims if d not in shared] + names
        over = [d for i, d in enumerate(over) if d not in over[:i]]
        if not over:
            raise ValueError(
                "nothing to search: tp_size, pp_size, microbatch_count and ep_size are all fixed and "
                "search_over is empty"
            )
        return over

    @staticmethod
    def _allowed(g: Grid, ds):
        """The candidate rules as one boolean mask: tp <= max_tp, pp <= max_pp, dp <= batch (D8),
        m <= the local batch, m = 1 without a pipeline, ep = 1 for dense models and ep dividing the
        experts otherwise; a microbatch size at most the local batch (or 1) and ``cp`` dividing
        ``seq_len``."""
        tp, pp, ep = (_input(g, n) for n in ("tp_size", "pp_size", "ep_size"))
        m = _input(g, "microbatch_count") if "microbatch_count" in g.inputs else 1.0
        max_tp = _input(g, "max_tp") if "max_tp" in g.inputs else _field(g, "fleet", "accelerators_per_node")
        max_pp = _input(g, "max_pp") if "max_pp" in g.inputs else _field(g, "fleet", "total_accelerators")
        sparse = _field(g, "model", "is_sparse") == 1.0
        experts = _field(g, "model", "experts")
        expert_split = (ep == 1) | (sparse & (np.mod(experts, ep) == 0))
        dp_ok = _plain(ds["dp_degree"]) <= _input(g, "batch_size")
        whole = ~_plain(ds["microbatches_exceed_local_batch"])
        allowed = (tp <= max_tp) & (pp <= max_pp) & ((pp > 1) | (m == 1)) & expert_split & dp_ok & whole
        if "microbatch_size" in g.inputs and "microbatch_count" not in g.inputs:
            size = _input(g, "microbatch_size")
            allowed = allowed & ((size <= _plain(ds["local_batch_size"])) | (size == 1))
        if g.inputs["cp_size"].dims:
            allowed = allowed & (np.mod(_input(g, "seq_len"), _input(g, "cp_size")) == 0)
        return allowed


# ---------------------------------------------------------------------------- BatchingOptimizer
class BatchingOptimizer(Resolver):
    """What max batch size is safe for my SLA? The largest batch meeting a P99 target.

    Every argument may be swept (model × hardware × seq_len × SLA × rate × ...). ServingModel
    is evaluated once over the grid × batch sizes ``1 … max_search_batch`` (a list searches
    ``1 … max(N)`` and masks larger batches per point), TailLatencyModel once over that × rates
    × replicas. ``seq_len`` is both the prompt and the generated length, as in mlsysim 0.3.0.
    A replica spans ``tp_size · pp_size · ep_size`` accelerators (ServingModel's parallel
    degrees, passed to it as given; ``num_replicas`` counts such replicas).
    The answer holds ``best_batch_size`` (``objective`` holds the same number), the outputs at
    that batch, ``feasible``, ``n_searched`` and ``n_feasible``; when no batch is allowed,
    ``feasible`` is False, the label missing and the numbers NaN (mlsysim 0.3.0: zeros).

    Notes
    -----
    Whole batches are the customers of an M/M/c queue (``c = num_replicas``)::

        s_b = TTFT(b) + seq_len · ITL(b)            (batch_service_time)
        arrivals λ / b, service time s_b            (TailLatencyModel: P99, utilisation)
        allowed(b) = fits in memory  and  stable  and  P99 <= SLA
        b* = max allowed b,   max_throughput = c · b* · seq_len / s_b*   (tokens/s)

    ``max_throughput`` is the capacity at the chosen batch (mlsysim 0.3.0 reported the offered
    load λ·seq_len). See ``docs/equations.md`` (sections "Optimizers", "Serving" and
    "Queueing") and docs/differences.md, D8.

    References
    ----------
    Kleinrock, L. (1975). Queueing Systems, Volume 1: Theory. Wiley. ISBN 978-0471491101.
    """

    ARGS = (
        ServingModel.arguments()["model"],
        ServingModel.arguments()["hardware"],
        Arg("seq_len", "integer", low=1),
        Arg("sla_latency_ms", unit="ms", low=0.0, low_open=True),
        Arg("arrival_rate_qps", unit="1/s", low=0.0),
        Arg("num_replicas", "integer", default=1, low=1),
        ServingModel.arguments()["precision"],
        ServingModel.arguments()["efficiency"],
        Arg("max_search_batch", "integer", default=256, low=1, high=MAX_CANDIDATE),
        *(ServingModel.arguments()[n] for n in _SERVING_DEGREES),
    )
    OPTIONS = {
        "top_k": (
            "int, optional",
            "Keep the k best candidates along a new ``rank`` dimension (1 = best) instead of the "
            "best only (None, the default).",
        ),
    }
    OUTPUTS = (
        "best_batch_size",
        "objective",
        "p99_latency",
        "slo_headroom_ratio",
        "queue_utilization",
        "ttft",
        "itl",
        "batch_service_time",
        "max_throughput",
        "feasible",
        "n_searched",
        "n_feasible",
    )
    REPORTED = (
        "p99_latency",
        "slo_headroom_ratio",
        "queue_utilization",
        "ttft",
        "itl",
        "batch_service_time",
        "max_throughput",
    )

    def solve(self, *args, top_k: int | None = None, chunks=None, **kwargs) -> Result:
        import xarray as xr

        _check_top_k(top_k)
        kwargs = _keywords(type(self).__name__, [a.name for a in self.ARGS], args, kwargs)
        g = self.grid(**kwargs)
        _check_finite(g, ("max_search_batch",))
        n_max = int(np.max(g.inputs["max_search_batch"].values))
        served_names = ("model", "hardware", "seq_len", "precision", "efficiency", *_SERVING_DEGREES)
        serve_args = {k: kwargs[k] for k in served_names if k in kwargs}
        served_dims = {"batch_size", *(d for k in serve_args if k in g.inputs for d in g.inputs[k].dims)}
        served = (
            ServingModel()
            .solve(**serve_args, batch_size=np.arange(1, n_max + 1), chunks=_chunks_within(chunks, g, served_dims))
            .dataset
        )
        served = served.drop_vars([c for c in served.coords])
        batch = _data_array(np.arange(1.0, n_max + 1), "batch_size")
        seq, replicas = _input(g, "seq_len"), _input(g, "num_replicas")
        service = _plain(placement.batch_service_time(served["ttft"], served["itl"], seq)).assign_attrs(units="s")
        queue = (
            TailLatencyModel()
            .solve(
                arrival_rate_qps=_input(g, "arrival_rate_qps") / batch,
                service_latency_ms=service,  # seconds, as its units attribute says
                num_replicas=replicas,
            )
            .dataset
        )
        ds = xr.merge([served[["ttft", "itl"]], queue.drop_vars([c for c in queue.coords])])
        ds = ds.assign(
            batch_service_time=service,
            max_throughput=placement.batch_token_capacity(replicas, batch, seq, service).assign_attrs(units="1/s"),
        )
        allowed = (
            served["feasible"]
            & ds["is_stable"]
            & (ds["p99_latency"] <= _input(g, "sla_latency_ms"))
            & (batch <= _input(g, "max_search_batch"))
        )
        ds = _with_grid(
            ds.assign_coords(batch_size=batch.values.astype(np.int64)), g, type(self).__name__, last=("batch_size",)
        )
        found = optimize.search(
            Result.from_dataset(ds),
            "batch_size",
            minimize=False,
            constraints=[_plain(allowed)],
            over="batch_size",
            top_k=top_k,
        )
        return _finish(type(self).__name__, found, _gather(ds, found.dataset, ["batch_size"], self.REPORTED))


# ---------------------------------------------------------------------------- PlacementOptimizer
class PlacementOptimizer(Resolver):
    """Where should I build my datacenter? The region of least TCO plus carbon price.

    One EconomicsModel call evaluates fleet × duration × region × ... (every argument but
    ``regions`` may be swept); the carbon-adjusted TCO is minimised over the ``region``
    dimension (ties: the first region listed, as in mlsysim 0.3.0). ``regions`` is None for
    mlsysim 0.3.0's list (US_Avg, Quebec, Iowa), ``"all"`` (or ``Infra.Grids``) for every
    built-in grid, or a list of registry names (case-insensitive) and GridProfile records; an
    unknown name raises ValueError listing the valid ones, and so does a region listed twice.
    The answer holds ``best_region``, ``objective`` (the carbon-adjusted TCO), the EconomicsModel
    outputs at the winner (carbon in kg; mlsysim 0.3.0 reported tonnes), ``feasible``,
    ``n_searched`` (regions) and ``n_feasible``; ``top_k=len(regions)`` ranks every region.

    Notes
    -----
    With ``τ`` the carbon price per kilogram (``carbon_tax_per_ton`` / 1000) and ``C`` the
    carbon footprint of the period in the region (EconomicsModel)::

        carbon_cost         = C · τ
        carbon_adjusted_tco = TCO + C · τ
        best_region         = argmin over regions of carbon_adjusted_tco

    See ``docs/equations.md`` (sections "Optimizers" and "Economics and sustainability") and
    docs/differences.md, D8.

    References
    ----------
    Patterson, D. et al. (2021). Carbon emissions and large neural network training.
    arXiv:2104.10350.
    """

    ARGS = (
        EconomicsModel.arguments()["fleet"],
        EconomicsModel.arguments()["duration_days"],
        Arg("carbon_tax_per_ton", default=100.0, unit="USD/t", low=0.0),
        EconomicsModel.arguments()["mfu"],
        EconomicsModel.arguments()["kwh_price"],
        EconomicsModel.arguments()["amortization_years"],
        EconomicsModel.arguments()["infrastructure_multiplier"],
        EconomicsModel.arguments()["embodied_carbon_per_device"],
    )
    OPTIONS = {
        "regions": (
            "str, GridProfile or sequence of them, optional",
            "The regions searched: None (the default) for mlsysim 0.3.0's list (US_Avg, Quebec, "
            "Iowa); ``'all'`` (or ``Infra.Grids``) for every built-in grid; or registry names "
            "(case-insensitive) and GridProfile records. An unknown or repeated region raises "
            "ValueError.",
        ),
        "top_k": (
            "int, optional",
            "Keep the k best candidates along a new ``rank`` dimension (1 = best) instead of the "
            "best only (None, the default).",
        ),
    }
    OUTPUTS = (
        "best_region",
        "objective",
        "carbon_adjusted_tco",
        "tco",
        "carbon_footprint",
        "carbon_cost",
        "pue",
        "total_energy",
        "grid",
        "feasible",
        "n_searched",
        "n_feasible",
    )
    REPORTED = ("tco", "carbon_footprint", "carbon_cost", "pue", "total_energy")

    def solve(self, *args, regions=None, top_k: int | None = None, chunks=None, **kwargs) -> Result:
        _check_top_k(top_k)
        kwargs = _keywords(type(self).__name__, [a.name for a in self.ARGS], args, kwargs)
        labels, records = self.regions(regions)
        g = self.grid(**kwargs)
        econ = _economics_grid(g, kwargs, records, chunks)
        out = EconomicsModel().evaluate(econ)
        dims, src = [*g.dims, _REGION_DIM], list(econ.dims)
        fields = tuple(_on(out[name], src, dims) for name in _PLACEMENT_FIELDS)
        price = g["carbon_tax_per_ton"]
        if hasattr(price, "dask"):  # a lazy DataArray given: the answer is computed anyway
            price = price.compute()
        adjusted = placement.carbon_adjusted_cost(fields[0], fields[1], _on(price, list(g.dims), dims))[1]
        shape = (*g.shape, len(records))
        chunks = None if econ.chunks is None else [econ.chunks.get(d, -1) for d in dims]
        index, best, n_valid, picked = _least_cost(shape, chunks, adjusted, fields, top_k)
        found = dict(zip(_PLACEMENT_FIELDS, picked))
        if top_k is not None and np.ndim(price):
            price = price[..., None]  # over the rank dimension too
        found["carbon_cost"] = placement.carbon_cost(found["carbon_footprint"], price)  # τ·C at the winner
        found["carbon_adjusted_tco"] = best.copy()  # TCO + τ·C at the winner: the objective itself
        return _placement_result(g, labels, records, index, best, n_valid, found, top_k)

    @staticmethod
    def regions(regions=None) -> tuple[list[str], list[GridProfile]]:
        """(labels, GridProfile records) of a ``regions`` argument (see the class docstring)."""
        from ..registry import Infra

        keys = Infra.Grids.keys()
        if regions is None:
            regions = DEFAULT_REGIONS
        elif isinstance(regions, str):
            if regions.lower() != "all":
                regions = [regions]
            else:
                regions = keys
        elif isinstance(regions, GridProfile) or not hasattr(regions, "__iter__"):
            regions = [regions]
        try:
            regions = list(regions)
        except TypeError:  # iterable in name only (a scalar Quantity): one item, refused below
            regions = [regions]
        if not regions:
            raise ValueError(
                "regions=[] is not allowed; give at least one region: 'all', None (the default "
                f"{list(DEFAULT_REGIONS)}) or names among {', '.join(keys)}"
            )
        entries = dict(zip(keys, Infra.Grids.list()))
        folded = {k.lower(): k for k in keys}
        key_of = None
        labels, records = [], []
        for item in regions:
            if isinstance(item, GridProfile):
                if key_of is None:
                    key_of = {id(r): k for k, r in entries.items()}
                labels.append(key_of.get(id(item), item.name))  # a built-in record is named by its key
                records.append(item)
            elif isinstance(item, str) and item.lower() in folded:
                labels.append(folded[item.lower()])
                records.append(entries[labels[-1]])
            else:
                raise ValueError(
                    f"regions: {item!r} is not a known region; regions are 'all', None or a list of "
                    f"GridProfile records and names among {', '.join(keys)}"
                )
        if len(set(labels)) != len(labels):
            raise ValueError(
                f"regions: {sorted({x for x in labels if labels.count(x) > 1})} listed more than once; "
                f"each region may appear once"
            )
        return labels, records


# ---------------------------------------------------------------------------- PlacementOptimizer's search
#: The dimension of the searched regions: EconomicsModel's ``grid`` argument, given as the list
#: of region records (the last axis of the candidate arrays).
_REGION_DIM = "grid"
#: EconomicsModel's outputs read at the winning region (the first two make the objective).
_PLACEMENT_FIELDS = ("tco", "carbon_footprint", "pue", "total_energy")
#: The attributes the search gives its own outputs (as ``optimize.search`` writes them) instead
#: of the catalogue's.
_SEARCH_ATTRS = {
    "carbon_adjusted_tco": {"units": "USD"},
    "carbon_cost": {"units": "USD"},
    "objective": {
        "units": "USD",
        "description": "minimum of carbon_adjusted_tco over region subject to the constraints",
    },
    "feasible": {"description": "some candidate satisfies every constraint (for top-k: this rank is filled)"},
}


def _economics_grid(g: Grid, kwargs: dict, records: list, chunks) -> Grid:
    """EconomicsModel's grid of the arguments (all but the carbon price) × the regions, its last
    dimension ``grid``; ``g`` is PlacementOptimizer's grid of the same arguments."""
    if _REGION_DIM in g.dims:
        raise ValueError(
            f"a dimension named {_REGION_DIM!r} is not allowed (the searched regions use that name); "
            f"give the argument's dimension another name"
        )
    names = [r.name for r in records]
    if len(set(names)) == len(names):
        regions = list(records)
    else:  # a GridProfile named as another region's record: the region dimension needs no labels
        import xarray as xr

        values = np.empty(len(records), dtype=object)
        values[:] = records
        regions = xr.DataArray(values, dims=_REGION_DIM)
    if isinstance(chunks, dict):  # the answer's dimensions and ``region``; those EconomicsModel spans
        known = [*g.dims, *(() if "region" in g.dims else ("region",))]
        unknown = set(chunks) - set(known)
        if unknown:
            raise ValueError(f"chunks names dimensions {sorted(unknown)} that are not in the grid {known}")
        spanned = {d for name, inp in g.inputs.items() if name != "carbon_tax_per_ton" for d in inp.dims}
        chunks = {
            (_REGION_DIM if k == "region" and "region" not in g.dims else k): v
            for k, v in chunks.items()
            if k in spanned or (k == "region" and "region" not in g.dims)
        }
    econ = {k: v for k, v in kwargs.items() if k != "carbon_tax_per_ton"}
    return EconomicsModel().grid(**econ, grid=regions, chunks=chunks)


def _on(x, src: list, dst: list):
    """An array laid out on the dimensions ``src`` (one axis each, or fewer leading ones), laid out
    on ``dst`` (a superset, in any order): transposed, with length-1 axes where it does not vary."""
    if np.ndim(x) == 0 or src == dst:
        return x
    src = src[len(src) - np.ndim(x) :]
    order = [src.index(d) for d in dst if d in src]
    if order != list(range(len(order))):
        x = x.transpose(order)
    return x[tuple(slice(None) if d in src else None for d in dst)]


def _take_last(values, at):
    """``values`` at positions ``at`` along the last axis (a position < 0, nothing feasible,
    reads the first: masked by the caller)."""
    return np.take_along_axis(values, np.maximum(at, 0), axis=-1)


def _pick(fields: tuple, shape: tuple, at) -> list:
    """Each field (numpy, broadcastable to ``shape``) at the positions ``at`` (>= 0) of the last
    axis; ``at`` spans the other axes and a trailing axis of the positions kept. A full array is
    read by one flat ``take``, one varying with the region only by a lookup, others by index."""
    regions = shape[-1]
    flat = where = None
    out = []
    for v in fields:
        v = np.asarray(v)
        if v.shape == shape and v.flags.c_contiguous:
            if flat is None:
                rows = np.arange(math.prod(shape[:-1]), dtype=np.intp).reshape(shape[:-1] + (1,))
                flat = rows * regions + at
            out.append(np.take(v.reshape(-1), flat))
        elif v.ndim == len(shape) and v.size == regions and v.shape[-1] == regions:
            out.append(np.take(v.reshape(-1), at))
        else:
            if where is None:
                kept = len(shape) - 1  # one index array per kept axis, then the positions
                where = tuple(
                    np.arange(n).reshape((1,) * i + (n,) + (1,) * (kept - i)) for i, n in enumerate(shape[:-1])
                ) + (at,)
            out.append(np.broadcast_to(v, shape)[where])
    return out


def _least_cost(shape: tuple, chunks, adjusted, fields: tuple, top_k):
    """The least carbon-adjusted cost over the regions (the last axis of ``shape``) at every point
    of the other axes, by the masked arg-min / top-k kernels of ``reduce``: (index, objective,
    n_feasible, [each field at the winners]), numpy, over those axes (and ``rank`` with
    ``top_k``); index -1 and NaN where nothing is feasible (every cost NaN). Dask inputs
    (``chunks``: the chunks of each axis) are reduced block by block by the same kernels and
    computed in one pass."""
    if any(hasattr(x, "dask") for x in (adjusted, *fields)):
        import dask
        import dask.array as da

        values = da.broadcast_to(da.asarray(adjusted), shape)
        if chunks is not None:  # the grid's chunks (a lazy argument without ``chunks`` keeps its own)
            values = values.rechunk(dict(enumerate(chunks)))
        if top_k is None:
            index, best, n_valid = reduce.masked_argmax(values, axis=-1, minimize=True)
            at = index[..., None]
        else:
            index, best = reduce.top_k(values, top_k, axis=-1, minimize=True)
            n_valid = (~da.isnan(values)).sum(axis=-1)
            at = index
        lazy = [
            da.map_blocks(
                _take_last,
                da.broadcast_to(da.asarray(v), shape).rechunk(values.chunks[:-1] + (-1,)),
                at,
                dtype=np.float64,
                chunks=at.chunks,
            )
            for v in fields
        ]
        index, best, n_valid, *picked = (np.asarray(x) for x in dask.compute(index, best, n_valid, *lazy))
    else:
        values = np.broadcast_to(adjusted, shape)
        if top_k is None:
            index, best, n_valid = reduce.masked_argmax(values, axis=-1, minimize=True)
            at = index[..., None]
        else:
            index, best = reduce.top_k(values, top_k, axis=-1, minimize=True)
            n_valid = np.count_nonzero(~np.isnan(values), axis=-1)
            at = index
        picked = _pick(fields, shape, np.maximum(at, 0))
    found = index >= 0
    if top_k is None:
        picked = [v[..., 0] for v in picked]
    if not found.all():
        picked = [np.where(found, v, np.nan) for v in picked]
    return index, best, n_valid, picked


def _catalogue_attrs(name: str) -> dict:
    """An output's (or an echoed argument's) attributes from the catalogue: its description, and
    its unit for a number (as every Result's Dataset has them)."""
    var = variable(name)
    attrs = {"description": var.description}
    if var.kind == "float":
        attrs["units"] = var.unit or "1"
    return attrs


def _labels_as_stored(table: np.ndarray, index):
    """``table[index]`` (index -1: the last entry) as an xarray Variable stores it. xarray passes
    an object array through pandas, whose inference (text, a missing label becoming NaN; whole
    numbers becoming int64) depends only on which values are present: the entries used are
    converted once, then indexed, instead of a round trip of every element."""
    import xarray as xr

    index = np.asarray(index)
    counts = np.bincount(index.reshape(-1) + 1, minlength=len(table))  # counts[0]: index -1, the last entry
    used = np.flatnonzero(np.append(counts[1:], counts[0]))
    converted = xr.Variable(("entry",), table[used]).values
    stored = np.zeros(len(table), dtype=converted.dtype)
    stored[used] = converted
    return np.asarray(stored[index], dtype=stored.dtype).reshape(index.shape)


def _placement_dataset(dims, coords, variables, scalars, zipped, stored) -> object:
    """The Dataset of a PlacementOptimizer answer, as the search writes it: the search's own
    attributes (``_SEARCH_ATTRS``, the grid dimensions and the carbon price echoed without
    attributes), the catalogue's otherwise; the outputs ``stored`` are already as xarray stores
    them (``_labels_as_stored``)."""
    import xarray as xr

    data_vars = {}
    for name, (vdims, array) in variables.items():
        attrs = dict(_SEARCH_ATTRS[name]) if name in _SEARCH_ATTRS else _catalogue_attrs(name)
        data_vars[name] = xr.Variable(vdims, np.asarray(array), attrs, fastpath=name in stored)
    coordinates = {d: xr.Variable((d,), coords[d]) for d in dims if d != "rank"}
    if "rank" in dims:
        coordinates["rank"] = xr.Variable(("rank",), coords["rank"], {"description": variable("rank").description})
    for name, value in scalars.items():
        coordinates[name] = xr.Variable((), value, {} if name == "carbon_tax_per_ton" else _catalogue_attrs(name))
    for name, (zdims, values) in zipped.items():
        coordinates[name] = xr.Variable(zdims, values, _catalogue_attrs(name))
    attrs = {
        "resolver": PlacementOptimizer.__name__,
        "dims": list(dims),
        "objective": "carbon_adjusted_tco",
        "goal": "minimize",
        "over": ["region"],
        "constraints": [],
    }
    return xr.Dataset(data_vars, coordinates, attrs)


class _PlacementAnswer(Result):
    """PlacementOptimizer's answer: a Result of its arrays whose Dataset, built when first asked
    for, is ``_placement_dataset``'s."""

    def __init__(self, dims, coords, variables, scalars, zipped, stored=frozenset()):
        super().__init__(PlacementOptimizer.__name__, dims, coords, variables, scalars, zipped)
        self._parts = (tuple(dims), dict(coords), dict(variables), dict(scalars), dict(zipped), frozenset(stored))
        self._built = None

    @property
    def dataset(self):
        if self._built is None:
            self._built = _placement_dataset(*self._parts)
        return self._built


def _placement_result(g: Grid, labels, records, index, best, n_valid, found: dict, top_k) -> Result:
    """The answer over PlacementOptimizer's grid (and ``rank``): ``best_region`` (None when
    nothing is feasible), the outputs at the winner (NaN), the region's record name ``grid`` (0,
    the search's missing record label), ``feasible``, ``n_searched``, ``n_feasible``."""
    dims = list(g.dims)
    point = dims + ([] if top_k is None else ["rank"])
    tables = {  # index -1 (nothing feasible) reads the last entry
        "best_region": np.array([*labels, None], dtype=object),
        "grid": np.array([*(r.name for r in records), 0], dtype=object),
    }
    if point:  # arrays: stored as the Dataset stores them, once
        named = {name: _labels_as_stored(table, index) for name, table in tables.items()}
    else:  # one point: read as they are (the Dataset, if built, converts the two 0-d values)
        named = {name: np.asarray(table[index], dtype=object) for name, table in tables.items()}
    variables = {
        "best_region": (point, named["best_region"]),
        "carbon_adjusted_tco": (point, found["carbon_adjusted_tco"]),
        "grid": (point, named["grid"]),
        "objective": (point, best),
        "feasible": (point, index >= 0),
        "n_searched": ((), np.int64(len(labels))),
        "n_feasible": (dims, np.broadcast_to(n_valid, tuple(g.shape)).astype(np.int64)),
    }
    variables.update({name: (point, found[name]) for name in PlacementOptimizer.REPORTED})
    coords = {d: g.coords[d] for d in dims}
    if top_k is not None:
        coords["rank"] = np.arange(1, int(top_k) + 1)
    zipped = {k: v for k, v in g.zipped().items() if k != "carbon_tax_per_ton"}
    return _PlacementAnswer(point, coords, variables, g.scalars(), zipped, set(tables) if point else ())
