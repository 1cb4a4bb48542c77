"""Figures of a ``Result``: a roofline, a heatmap, a Pareto front and a memory breakdown.

::

    import mlsysim_vec as ms
    from mlsysim_vec import plot

    r = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.Cloud.H100,
                                   batch_size=[1, 8, 64, 512], precision=["bf16", "fp8"])
    plot.roofline(r, color_by="batch_size")
    plot.heatmap(r, "latency", x="batch_size", y="precision")
    plot.pareto(r, "latency", "throughput", minimize=(True, False))

Each function is one call on a ``Result``, draws on ``ax`` (a new figure when omitted) and returns
the ``matplotlib.figure.Figure``. Axes and colour bars name the quantity and its unit
(``latency [ms]``): values are shown in the catalogue's display unit (``mlsysim_vec.variables``;
seconds as ms, bytes as GB, FLOP/s as TFLOP/s) unless ``unit`` says otherwise; dimensionless
quantities show ``[1]``. Bad input (an output or dimension the result does not have, a result of a
resolver that does not compute what a figure needs) raises ``ValueError`` naming the argument, its
value and what is allowed.

The drawn artists carry a ``gid`` (``"roof"``, ``"ridge"``, ``"points"``, ``"front"``, a memory
component's name...) so that code and tests can read the plotted data back.

matplotlib is an optional dependency (``pip install "mlsysim-vec[plot]"``): importing this module
does not import it; calling a function without it raises ``ImportError`` naming the extra.
See docs/plots.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from . import optimize
from .result import Result
from .units import conversion_factor
from .variables import variable

__all__ = ["roofline", "heatmap", "pareto", "memory_breakdown", "MEMORY_COMPONENTS", "ROOFLINE_OUTPUTS", "REDUCTIONS"]

#: The outputs ``roofline`` reads (SingleNodeModel's roofline terms).
ROOFLINE_OUTPUTS = ("arithmetic_intensity", "peak_flops_actual", "peak_bw_actual", "latency_compute", "latency")

#: The per-accelerator memory components ``memory_breakdown`` stacks, bottom to top.
MEMORY_COMPONENTS = ("weights", "gradients", "optimizer_state", "activations", "communication_buffers")

#: The reductions ``heatmap`` applies over the dimensions it does not draw (NaN points skipped).
REDUCTIONS = ("min", "max", "mean", "median")

_EXTRA = 'pip install "mlsysim-vec[plot]"'
_NORMS = ("linear", "log")


# ---- public functions ------------------------------------------------------------------------------


def roofline(result: Result, *, color_by: str | None = None, sel: Mapping | None = None, ax=None):
    """The roofline of a SingleNodeModel result with its points.

    Each distinct roof of the result (one per hardware, precision, efficiency... and memory tier:
    a point whose weights spill to the host streams at the offload bandwidth) is drawn as
    ``min(F·η, I·BW)`` with ``F·η = peak_flops_actual`` and ``BW = peak_bw_actual``, its ridge point
    ``I* = F·η / BW`` marked; every grid point is placed at its ``arithmetic_intensity`` and the
    FLOP/s it achieves, ``executed FLOPs / latency = peak_flops_actual · latency_compute / latency``
    (overhead included, so a point lies on or below its roof). Log-log axes. See
    ``docs/equations.md`` (section "Roofline").

    Parameters
    ----------
    result : Result
        A result with the outputs ``ROOFLINE_OUTPUTS`` (SingleNodeModel).
    color_by : str, optional
        The dimension that colours the points: a colour bar for a numeric dimension (log scale when
        its values span two decades), a legend for labels (records, precisions). Default: ``batch_size``
        when it is a dimension, else the first dimension; one colour for a single point.
    sel : dict, optional
        ``{dimension: label}`` selected before drawing (``Result.sel``; records or their names).
    ax : matplotlib.axes.Axes, optional
        The axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure; roofs have ``gid="roof"`` (x: ``[lo, I*, hi]``), ridge markers ``gid="ridge"``,
        the points' collections ``gid="points"`` (in the C order of the result's dimensions).

    Raises
    ------
    ValueError
        A result without the roofline outputs (naming the resolvers that have them), an unknown
        ``color_by`` or ``sel`` dimension or label, an ``ax`` that is no matplotlib Axes.
    ImportError
        matplotlib is not installed.
    """
    plt = _pyplot()
    result = _select(_check_result(result), sel)
    _require(result, ROOFLINE_OUTPUTS, "roofline")
    ds = result.dataset
    dims = list(result.dims)
    color_by = _color_dimension(result, color_by)
    fig, ax = _axes(plt, ax, (7.5, 5.5))

    flops, bandwidth = ds["peak_flops_actual"], ds["peak_bw_actual"]
    y_factor, y_unit = _display(ds, "peak_flops_actual")
    x_factor, x_unit = _display(ds, "arithmetic_intensity")
    intensity = _full(ds, "arithmetic_intensity", dims)
    with np.errstate(divide="ignore", invalid="ignore"):
        achieved = (
            _full(ds, "peak_flops_actual", dims) * _full(ds, "latency_compute", dims) / _full(ds, "latency", dims)
        )
    xs, ys = intensity.ravel() * x_factor, achieved.ravel() * y_factor

    # the roofs: one per distinct (F·η, BW) pair over the dimensions those two outputs vary along
    roof_dims = [d for d in dims if d in flops.dims or d in bandwidth.dims]
    f_roof, bw_roof = _full(ds, "peak_flops_actual", roof_dims).ravel(), _full(ds, "peak_bw_actual", roof_dims).ravel()
    shape = [ds.sizes[d] for d in roof_dims]
    groups: dict[tuple[float, float], list[int]] = {}
    for i, pair in enumerate(zip(f_roof.tolist(), bw_roof.tolist())):
        if all(math.isfinite(v) and v > 0 for v in pair):
            groups.setdefault(pair, []).append(i)
    ridges = [f / bw * x_factor for f, bw in groups]
    finite = [*xs[np.isfinite(xs) & (xs > 0)].tolist(), *ridges]
    lo, hi = (min(finite) / 4, max(finite) * 4) if finite else (1e-1, 1e4)

    palette, legend = _category_colours(ds, color_by), len(groups) <= 12
    styles = ("-", "--", ":", "-.")
    where = [[np.unravel_index(i, shape) for i in members] for members in groups.values()]
    colours = [_roof_colour(ds, roof_dims, w, color_by, palette, k, len(groups)) for k, w in enumerate(where)]
    for k, (f, bw) in enumerate(groups):
        label, colour = _roof_label(ds, roof_dims, where[k]), colours[k]
        ridge = f / bw * x_factor
        xs_roof = [lo, ridge, hi] if lo < ridge < hi else [lo, hi]
        ys_roof = [(f if x >= ridge else min(f, x / x_factor * bw)) * y_factor for x in xs_roof]
        style = styles[k % len(styles)] if palette and colour == "k" else "-"
        ax.plot(xs_roof, ys_roof, style, color=colour, lw=1.6, gid="roof", label=label if legend else None, zorder=2)
        ax.plot([ridge], [f * y_factor], "D", color=colour, ms=5, mec="k", mew=0.5, gid="ridge", zorder=3)
        if len(groups) <= 3:
            ax.annotate(
                f"I* = {ridge:.4g} {x_unit}",
                (ridge, f * y_factor),
                textcoords="offset points",
                xytext=(4, 6),
                fontsize=8,
                color=colour,
            )

    # the legend names the categories of the points unless every roof already shows its own
    named = not (legend and palette and colours and all(c != "k" for c in colours))
    _scatter_points(fig, ax, ds, dims, color_by, palette, xs, ys, named=named)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel(_label("arithmetic_intensity", x_unit))
    ax.set_ylabel(_label("achieved FLOP/s", y_unit))
    ax.set_title("Roofline" + _fixed(ds, ("hardware", "model", "precision")))
    ax.grid(True, which="major", alpha=0.3)
    if legend or palette:
        ax.legend(fontsize=8, loc="lower right")
    return fig


def heatmap(
    result: Result,
    output: str,
    *,
    x: str | None = None,
    y: str | None = None,
    sel: Mapping | None = None,
    reduce: str | None = None,
    unit: str | None = None,
    norm: str | None = None,
    cmap: str | None = None,
    ax=None,
):
    """Any output of a result over two of its dimensions.

    The output is drawn over ``x`` (columns) and ``y`` (rows), one cell per coordinate value
    (labels on the ticks, in the result's order; rows of labels read top to bottom). A dimension
    the output does not vary along is broadcast. Every other dimension along which it varies must
    be narrowed to one value with ``sel`` or reduced with ``reduce``; otherwise the choice is
    ambiguous and ``ValueError`` says which dimensions remain. Numeric outputs get a colour bar
    labelled with the output's unit; boolean and categorical outputs (``feasible``,
    ``bottleneck``) get one colour per value present and a colour bar of their names.

    Parameters
    ----------
    result : Result
        Any resolver's (or search's) result with at least two dimensions.
    output : str
        The output to draw (``result.outputs``).
    x, y : str, optional
        The dimensions along the columns and the rows. Default: when the result (after ``sel``)
        has exactly two dimensions, ``y`` the first and ``x`` the second.
    sel : dict, optional
        ``{dimension: label}`` selected before drawing (records or their names).
    reduce : {'min', 'max', 'mean', 'median'}, optional
        Reduce a numeric output over the remaining dimensions (NaN points skipped).
    unit : str, optional
        The unit to show a dimensional output in (default: the catalogue's display unit).
    norm : {'linear', 'log'}, optional
        The colour scale; default log when every value is positive and they span two decades.
    cmap : str, optional
        A matplotlib colour map name for numeric outputs (default ``viridis``).
    ax : matplotlib.axes.Axes, optional
        The axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure; the cells are the ``QuadMesh`` with ``gid="heatmap"``, shape (len(y), len(x)),
        in the shown unit (category and boolean outputs: their codes).

    Raises
    ------
    ValueError
        An unknown ``output``, ``x``, ``y``, ``sel``, ``reduce``, ``unit`` or ``norm``; an output
        of labels; remaining dimensions without ``sel`` or ``reduce``.
    ImportError
        matplotlib is not installed.
    """
    plt = _pyplot()
    result = _select(_check_result(result), sel)
    ds = result.dataset
    dims = list(result.dims)
    if not isinstance(output, str) or output not in ds.data_vars:
        raise ValueError(
            f"output={output!r} is not an output of the {_resolver(ds)} result; outputs: {', '.join(ds.data_vars)}"
        )
    kind = _value_kind(ds, output)
    if kind == "label":
        raise ValueError(
            f"output={output!r} holds labels (text or records); heatmap draws numeric, boolean and categorical "
            f"outputs: {', '.join(n for n in ds.data_vars if _value_kind(ds, n) != 'label')}"
        )
    if x is None and y is None and len(dims) == 2:
        y, x = dims
    for arg, name in (("x", x), ("y", y)):
        if name not in dims:
            raise ValueError(
                f"{arg}={name!r} is not a dimension of the result{' (after sel)' if sel else ''}; "
                f"{arg} takes one of: {', '.join(dims) or '(none: the result is a single point)'}"
            )
    if x == y:
        raise ValueError(f"x={x!r} and y={y!r} are the same dimension; give two different dimensions of {dims}")
    if reduce is not None and reduce not in REDUCTIONS:
        raise ValueError(f"reduce={reduce!r} is not allowed; reduce is one of {', '.join(REDUCTIONS)} (or None)")
    if norm is not None and norm not in _NORMS:
        raise ValueError(f"norm={norm!r} is not allowed; norm is one of {', '.join(_NORMS)} (or None: automatic)")
    if unit is not None and kind != "number":
        raise ValueError(f"unit={unit!r} is not allowed for output {output!r}, which is {kind}; leave unit=None")

    da = ds[output]
    rest = [d for d in dims if d not in (x, y) and d in da.dims]
    varying = [d for d in rest if ds.sizes[d] > 1]
    if varying and reduce is None:
        what = "; ".join(f"{d} ({ds.sizes[d]} values: {_values_text(ds[d].values)})" for d in varying)
        raise ValueError(
            f"output {output!r} also varies along {what}; choose one value of each with "
            f"sel={{{', '.join(repr(d) + ': ...' for d in varying)}}} or reduce them with reduce= one of "
            f"{', '.join(REDUCTIONS)}"
        )
    if reduce is not None and kind != "number" and varying:
        raise ValueError(
            f"reduce={reduce!r} applies to numeric outputs; {output!r} is {kind}: select the dimensions "
            f"{', '.join(varying)} with sel instead"
        )
    if rest:
        da = getattr(da, reduce)(rest, skipna=True) if reduce is not None else da.isel({d: 0 for d in rest})
    for d in (x, y):
        if d not in da.dims:
            da = da.expand_dims({d: ds.sizes[d]})
    values = np.asarray(da.transpose(y, x).values, dtype=float)

    fig, ax = _axes(plt, ax, (max(4.5, min(12, 1.2 + 0.45 * ds.sizes[x])), max(3.5, min(12, 1.5 + 0.32 * ds.sizes[y]))))
    edges_x, edges_y = np.arange(ds.sizes[x] + 1), np.arange(ds.sizes[y] + 1)
    if kind == "number":
        factor, shown = _display(ds, output, unit)
        values = values * factor
        finite = values[np.isfinite(values)]
        use_log = norm == "log" or (
            norm is None and finite.size and finite.min() > 0 and finite.max() >= 100 * finite.min()
        )
        if use_log and finite.size and finite.min() <= 0:
            raise ValueError(f"norm='log' needs positive values; {output!r} has values <= 0 here: use norm='linear'")
        colors = _colors()
        scale = colors.LogNorm() if use_log else colors.Normalize()
        mesh = ax.pcolormesh(edges_x, edges_y, np.ma.masked_invalid(values), cmap=cmap or "viridis", norm=scale)
        fig.colorbar(mesh, ax=ax, label=_label(output, shown))
    else:
        codes, names = _categories(ds, output, values)
        colors = _colors()
        palette = plt.get_cmap("tab10")
        listed = colors.ListedColormap([palette(i % 10) for i in range(len(codes))])
        bounds = [codes[0] - 0.5, *[(a + b) / 2 for a, b in zip(codes, codes[1:])], codes[-1] + 0.5]
        mesh = ax.pcolormesh(
            edges_x,
            edges_y,
            np.ma.masked_invalid(values),
            cmap=listed,
            norm=colors.BoundaryNorm(bounds, listed.N),
        )
        bar = fig.colorbar(mesh, ax=ax, label=output, ticks=codes)
        bar.ax.set_yticklabels(names)
    mesh.set_gid("heatmap")
    _ticks(ax.set_xticks, ds, x)
    _ticks(ax.set_yticks, ds, y)
    if _value_kind(ds, y) == "label":
        ax.invert_yaxis()
    ax.set_xlabel(_coord_label(ds, x))
    ax.set_ylabel(_coord_label(ds, y))
    how = f" ({reduce} over {', '.join(rest)})" if reduce is not None and rest else ""
    ax.set_title(f"{output}{how}" + _fixed(ds, list(sel or ())))
    return fig


def pareto(
    result: Result,
    x: str,
    y: str,
    *,
    minimize=(True, True),
    constraints=(),
    sel: Mapping | None = None,
    label_by=None,
    max_labels: int = 20,
    log=False,
    ax=None,
):
    """The Pareto front of two outputs, the winners labelled by their coordinates.

    The front is ``mlsysim_vec.optimize.pareto`` over the whole (selected) grid: the points that
    meet the constraints, have both values, and that no other such point beats in one objective
    without losing in the other (``minimize`` gives each one's direction). Every point is drawn
    (grey; hollow where it fails a constraint), the front in colour, joined in order of ``x``, and
    each front point is annotated with its coordinates (``NVIDIA H100, batch_size=8``).

    Parameters
    ----------
    result : Result
        Any result with at least one dimension.
    x, y : str
        The two objectives: numeric outputs (or numeric input coordinates) of the result.
    minimize : (bool, bool)
        True where smaller is better, per objective (``(True, False)``: low latency, high
        throughput).
    constraints : sequence of str or xarray.DataArray
        As ``optimize.search`` (``"feasible"``, ``"itl < 50 ms"``...).
    sel : dict, optional
        ``{dimension: label}`` selected before the front is computed.
    label_by : str or sequence of str, optional
        The dimensions named in the labels (default: every dimension with more than one value).
    max_labels : int
        At most this many front points are annotated (evenly spread along the front).
    log : bool or {'x', 'y'}
        Logarithmic axes: True for both, ``'x'`` or ``'y'`` for one (default: linear).
    ax : matplotlib.axes.Axes, optional
        The axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure; collections ``gid="points"`` (points meeting the constraints),
        ``gid="excluded"`` (the others), ``gid="front"`` (the front, sorted by ``x``), the line
        ``gid="front_line"``, the annotations as ``ax.texts``.

    Raises
    ------
    ValueError
        An unknown or non-numeric ``x`` / ``y``, a bad ``minimize``, ``constraints``, ``sel``,
        ``label_by``, ``max_labels`` or ``log``.
    ImportError
        matplotlib is not installed.
    """
    plt = _pyplot()
    result = _select(_check_result(result), sel)
    ds = result.dataset
    dims = list(result.dims)
    if not dims:
        raise ValueError("result= is a single point; a Pareto front needs a result with at least one dimension")
    numeric = ", ".join(n for n in ds.data_vars if _value_kind(ds, n) == "number")
    for arg, name in (("x", x), ("y", y)):
        if not isinstance(name, str) or name not in ds.variables:
            raise ValueError(
                f"{arg}={name!r} is not an output of the {_resolver(ds)} result; {arg} takes a numeric output "
                f"(or numeric input): {numeric}"
            )
        if _value_kind(ds, name) != "number":
            raise ValueError(
                f"{arg}={name!r} is {_value_kind(ds, name)}, not numeric; {arg} takes a numeric output "
                f"(or numeric input): {numeric}"
            )
    if not isinstance(max_labels, (int, np.integer)) or isinstance(max_labels, bool) or max_labels < 0:
        raise ValueError(f"max_labels={max_labels!r} is not allowed; max_labels is a whole number >= 0")
    if not (isinstance(log, bool) or (isinstance(log, str) and log in ("x", "y"))):
        raise ValueError(f"log={log!r} is not allowed; log is True (both axes), False, 'x' or 'y'")
    if label_by is None:
        label_by = [d for d in dims if ds.sizes[d] > 1] or dims
    else:
        label_by = [label_by] if isinstance(label_by, str) else list(label_by)
        bad = [d for d in label_by if d not in dims]
        if bad:
            raise ValueError(
                f"label_by={label_by!r} names {bad[0]!r}, which is not a dimension of the result; "
                f"dimensions: {', '.join(dims)}"
            )
    marked = optimize.pareto(result, x, y, minimize=minimize, constraints=constraints).dataset
    on_front = _full(marked, "on_front", dims).ravel().astype(bool)
    meets = _full(marked, "meets_constraints", dims).ravel().astype(bool)
    x_factor, x_unit = _display(ds, x)
    y_factor, y_unit = _display(ds, y)
    xs, ys = _full(ds, x, dims).ravel() * x_factor, _full(ds, y, dims).ravel() * y_factor

    fig, ax = _axes(plt, ax, (7.5, 5.5))
    ax.scatter(xs[meets], ys[meets], s=14, color="0.6", gid="points", label="points", zorder=1)
    if not meets.all():
        ax.scatter(
            xs[~meets],
            ys[~meets],
            s=14,
            facecolors="none",
            edgecolors="0.75",
            gid="excluded",
            label="fails a constraint",
            zorder=1,
        )
    index = np.flatnonzero(on_front)
    index = index[np.lexsort((ys[index], xs[index]))]
    ax.plot(xs[index], ys[index], "-", color="tab:red", lw=1.2, gid="front_line", zorder=2)
    ax.scatter(
        xs[index], ys[index], s=36, color="tab:red", edgecolor="k", lw=0.4, gid="front", label="Pareto front", zorder=3
    )
    shape = [ds.sizes[d] for d in dims]
    chosen = (
        index if len(index) <= max_labels else index[np.linspace(0, len(index) - 1, max_labels).round().astype(int)]
    )
    for i in chosen if max_labels else ():
        where = dict(zip(dims, np.unravel_index(i, shape)))
        text = ", ".join(_point_text(ds, d, where[d]) for d in label_by)
        ax.annotate(text, (xs[i], ys[i]), textcoords="offset points", xytext=(5, 4), fontsize=7)
    if log in (True, "x"):
        ax.set_xscale("log")
    if log in (True, "y"):
        ax.set_yscale("log")
    ax.set_xlabel(_label(x, x_unit))
    ax.set_ylabel(_label(y, y_unit))
    goal = lambda m: "min" if m else "max"  # noqa: E731
    ax.set_title(f"Pareto front: {goal(minimize[0])} {x}, {goal(minimize[1])} {y} ({len(index)} of {len(xs)} points)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def memory_breakdown(
    result: Result, *, sel: Mapping | None = None, unit: str | None = None, max_bars: int = 64, ax=None
):
    """The memory per accelerator of every configuration, as stacked bars of its components.

    One bar per grid point (in the C order of the result's dimensions, labelled with the
    coordinates of the dimensions that have several values), stacked bottom to top from
    ``MEMORY_COMPONENTS`` (weights, gradients, optimizer state, activations, communication
    buffers). When the result reports the device memory (``available_memory``,
    TrainingMemoryModel) it is drawn as a line across each bar: a bar above its line does not fit.
    See ``docs/equations.md`` (section "Training memory").

    Parameters
    ----------
    result : Result
        A result with the outputs ``MEMORY_COMPONENTS`` (TrainingMemoryModel, DistributedModel).
    sel : dict, optional
        ``{dimension: label}`` selected before drawing.
    unit : str, optional
        A unit of bytes to show the bars in (default: GB).
    max_bars : int
        The most configurations drawn; a larger result raises ``ValueError`` (select with ``sel``).
    ax : matplotlib.axes.Axes, optional
        The axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure
        The figure; every bar segment is a ``Rectangle`` whose ``gid`` is its component's name;
        the device-memory lines have ``gid="capacity"``.

    Raises
    ------
    ValueError
        A result without the memory components (naming the resolvers that have them), more
        configurations than ``max_bars``, a bad ``unit``, ``sel`` or ``max_bars``.
    ImportError
        matplotlib is not installed.
    """
    plt = _pyplot()
    result = _select(_check_result(result), sel)
    _require(result, MEMORY_COMPONENTS, "memory_breakdown")
    if not isinstance(max_bars, (int, np.integer)) or isinstance(max_bars, bool) or max_bars < 1:
        raise ValueError(f"max_bars={max_bars!r} is not allowed; max_bars is a whole number >= 1")
    ds = result.dataset
    dims = list(result.dims)
    n = math.prod(ds.sizes[d] for d in dims)
    if n > max_bars:
        sizes = " × ".join(f"{d}: {ds.sizes[d]}" for d in dims)
        raise ValueError(
            f"the result has {n} configurations ({sizes}); memory_breakdown draws one bar per configuration, "
            f"at most max_bars={max_bars}: select some with sel={{dimension: label}} or raise max_bars"
        )
    factor, shown = _display(ds, MEMORY_COMPONENTS[0], unit)
    fig, ax = _axes(plt, ax, (max(6.0, min(16, 2.8 + 0.9 * n)), 4.5))
    positions = np.arange(n)
    bottom = np.zeros(n)
    palette = plt.get_cmap("tab10")
    handles = []
    for k, name in enumerate(MEMORY_COMPONENTS):
        heights = _full(ds, name, dims).ravel() * factor
        handles.append(ax.bar(positions, heights, 0.7, bottom=bottom, color=palette(k), label=name, gid=name))
        bottom = bottom + heights
    if "available_memory" in ds.data_vars:
        capacity = _full(ds, "available_memory", dims).ravel() * factor
        ax.hlines(capacity, positions - 0.45, positions + 0.45, colors="k", lw=1.5, gid="capacity")
        handles += ax.plot([], [], "-", color="k", lw=1.5, label="device memory")
    shape = [ds.sizes[d] for d in dims]
    shown_dims = [d for d in dims if ds.sizes[d] > 1] or dims
    labels = [
        "\n".join(_point_text(ds, d, dict(zip(dims, np.unravel_index(i, shape)))[d]) for d in shown_dims)
        for i in range(n)
    ]
    ax.set_xticks(positions, labels, fontsize=8, rotation=0 if n <= 8 else 90)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylabel(_label("memory per accelerator", shown))
    ax.set_xlabel(", ".join(shown_dims) if dims else "configuration")
    ax.set_title("Memory per accelerator" + _fixed(ds, ("model", "hardware", "fleet")))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, axis="y", alpha=0.3)
    return fig


# ---- helpers ---------------------------------------------------------------------------------------


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(f"mlsysim_vec.plot needs matplotlib, an optional extra: {_EXTRA}") from err
    return plt


def _colors():
    import matplotlib.colors

    return matplotlib.colors


def _axes(plt, ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size, layout="constrained")
        return fig, ax
    if not (hasattr(ax, "figure") and hasattr(ax, "pcolormesh")):
        raise ValueError(f"ax={ax!r} is not a matplotlib Axes; give an Axes (fig, ax = plt.subplots()) or None")
    return ax.figure, ax


def _check_result(result) -> Result:
    if not isinstance(result, Result):
        raise ValueError(
            f"result={result!r} is a {type(result).__name__}; the plot functions take a mlsysim_vec.Result "
            f"(what a resolver's solve, optimize.search or read_parquet returns)"
        )
    return result


def _resolver(ds) -> str:
    return ds.attrs.get("resolver") or "given"


def _resolvers_with(outputs) -> list[str]:
    """The resolver classes whose outputs include every name of ``outputs``."""
    from . import solvers

    return [
        name for name in solvers.__all__ if set(outputs) <= set(getattr(getattr(solvers, name), "OUTPUTS", ()) or ())
    ]


def _require(result: Result, outputs, function: str) -> None:
    missing = [o for o in outputs if o not in result.outputs]
    if missing:
        resolver = _resolver(result.dataset)
        raise ValueError(
            f"result=<{resolver} result> has no output {', '.join(missing)}; {function} takes a result of "
            f"{' or '.join(_resolvers_with(outputs))} (outputs {', '.join(outputs)})"
        )


def _select(result: Result, sel) -> Result:
    if sel is None:
        return result
    if not isinstance(sel, Mapping):
        raise ValueError(f"sel={sel!r} is not allowed; sel is a dict {{dimension: label}} (or None)")
    for dim, label in sel.items():
        if dim not in result.dims:
            raise ValueError(
                f"sel={dict(sel)!r} names {dim!r}, which is not a dimension of the result; "
                f"dimensions: {', '.join(result.dims) or '(none)'}"
            )
        try:
            result = result.sel(**{dim: label})
        except (KeyError, TypeError, ValueError):
            values = result.dataset[dim].values
            raise ValueError(
                f"sel={dict(sel)!r}: {label!r} is not a value of {dim!r}; values: {_values_text(values, 12)}"
            ) from None
    return result


def _full(ds, name, dims) -> np.ndarray:
    """``ds[name]`` as a float array over ``dims`` (broadcast along those it does not vary along)."""
    da = ds[name]
    for d in dims:
        if d not in da.dims:
            da = da.expand_dims({d: ds.sizes[d]})
    return np.asarray(da.transpose(*dims).values, dtype=float)


def _value_kind(ds, name) -> str:
    """'number', 'bool', 'category' or 'label' (text and record values)."""
    da = ds[name]
    if variable(name).kind == "category" and "flag_values" in da.attrs:
        return "category"
    if da.dtype == bool:
        return "bool"
    if da.dtype.kind in "fiu":
        return "number"
    return "label"


def _display(ds, name, unit=None) -> tuple[float, str]:
    """(factor, unit): multiply the dataset's values of ``name`` by factor to show them in unit."""
    canonical = ds[name].attrs.get("units") or "1"
    target = unit if unit is not None else (variable(name).display or canonical)
    factor = conversion_factor(canonical, target) if isinstance(target, str) else None
    if factor is None:
        if unit is not None:
            raise ValueError(
                f"unit={unit!r} cannot express {name} (in {canonical}); give a unit of the same dimension, "
                f"e.g. {variable(name).display or canonical!r}"
            )
        return 1.0, canonical
    return factor, target


def _label(name: str, unit: str | None) -> str:
    return name if unit is None else f"{name} [{unit}]"


def _coord_label(ds, dim) -> str:
    if _value_kind(ds, dim) != "number":
        return dim
    return _label(dim, ds[dim].attrs.get("units") or "1")


def _format(value) -> str:
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _values_text(values, limit: int = 6) -> str:
    values = list(np.asarray(values).reshape(-1))
    text = ", ".join(_format(v) for v in values[:limit])
    return text + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _point_text(ds, dim, position) -> str:
    value = _format(ds[dim].values[position])
    return value if _value_kind(ds, dim) == "label" else f"{dim}={value}"


def _fixed(ds, names) -> str:
    """' — a, b' naming the values of the 0-d (selected or fixed) coordinates among ``names``."""
    parts = [
        _point_text(ds, n, ()) for n in names if n in ds.coords and ds[n].ndim == 0 and ds[n].values.item() is not None
    ]
    return f" — {', '.join(parts)}" if parts else ""


def _ticks(setter, ds, dim) -> None:
    labels = [_format(v) for v in ds[dim].values]
    step = max(1, math.ceil(len(labels) / 25))
    positions = np.arange(len(labels))[::step]
    setter(positions + 0.5, labels[::step], fontsize=8)


def _categories(ds, name, codes) -> tuple[list[int], list[str]]:
    """The codes present in ``codes`` (a float array, NaN for missing) and their names."""
    present = sorted({int(c) for c in codes[np.isfinite(codes)].tolist()}) or [0]
    if _value_kind(ds, name) == "bool":
        return present, [str(bool(c)) for c in present]
    categories = variable(name).categories
    return present, [categories[c] if 0 <= c < len(categories) else str(c) for c in present]


def _color_dimension(result: Result, color_by):
    dims = list(result.dims)
    if color_by is None:
        return "batch_size" if "batch_size" in dims else (dims[0] if dims else None)
    if color_by not in dims:
        raise ValueError(
            f"color_by={color_by!r} is not a dimension of the result; color_by takes one of: "
            f"{', '.join(dims) or '(none: the result is a single point)'} (or None)"
        )
    return color_by


def _category_colours(ds, dim) -> dict:
    """{label: colour} when ``dim`` holds labels (records, text, bools), else {}."""
    if dim is None or _value_kind(ds, dim) == "number":
        return {}
    import matplotlib

    palette = matplotlib.colormaps["tab10"]
    return {_format(v): palette(i % 10) for i, v in enumerate(ds[dim].values)}


def _roof_label(ds, roof_dims, where) -> str:
    parts = []
    for axis, dim in enumerate(roof_dims):
        if ds.sizes[dim] < 2:
            continue
        taken = sorted({int(w[axis]) for w in where})
        if len(taken) == ds.sizes[dim]:
            continue
        names = [_format(ds[dim].values[i]) for i in taken]
        text = "/".join(names[:3]) + ("/..." if len(names) > 3 else "")
        parts.append(text if _value_kind(ds, dim) == "label" else f"{dim}={text}")
    return ", ".join(parts) or _fixed(ds, ("hardware",)).removeprefix(" — ") or "roof"


def _roof_colour(ds, roof_dims, where, color_by, palette, k, n):
    if palette:
        if color_by in roof_dims:
            axis = roof_dims.index(color_by)
            taken = {int(w[axis]) for w in where}
            if len(taken) == 1:
                return palette[_format(ds[color_by].values[taken.pop()])]
        return "k"
    import matplotlib

    return matplotlib.colormaps["tab10"](k % 10) if n <= 10 else "0.5"


def _scatter_points(fig, ax, ds, dims, color_by, palette, xs, ys, named: bool) -> None:
    if color_by is None:
        ax.scatter(xs, ys, s=22, color="tab:blue", edgecolor="k", lw=0.3, gid="points", zorder=4)
        return
    shape = [ds.sizes[d] for d in dims]
    position = np.indices(shape)[dims.index(color_by)].ravel()
    if palette:
        values = [_format(v) for v in ds[color_by].values]
        for i, name in enumerate(values):
            mine = position == i
            ax.scatter(
                xs[mine],
                ys[mine],
                s=22,
                color=palette[name],
                edgecolor="k",
                lw=0.3,
                gid="points",
                label=name if named else None,
                zorder=4,
            )
        return
    coord = np.asarray(ds[color_by].values, dtype=float)
    values = coord[position]
    finite = coord[np.isfinite(coord)]
    colors = _colors()
    log = finite.size and finite.min() > 0 and finite.max() >= 100 * finite.min()
    scatter = ax.scatter(
        xs,
        ys,
        c=values,
        s=22,
        cmap="viridis",
        norm=colors.LogNorm() if log else colors.Normalize(),
        edgecolor="k",
        lw=0.3,
        gid="points",
        zorder=4,
    )
    fig.colorbar(scatter, ax=ax, label=_coord_label(ds, color_by))
