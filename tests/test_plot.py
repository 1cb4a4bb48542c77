"""``mlsysim_vec.plot``: every figure returns a Figure whose axes name the quantity and its unit,
whose drawn data (read back from the artists by their ``gid``) equal the result's values, and whose
bad input raises a ValueError naming the argument; without matplotlib, an ImportError names the
extra. The hand-derived numbers come from the registry records (H100: 989 TFLOP/s dense 16-bit,
3350 GB/s HBM3, 80 GiB, PCIe Gen5 host link 64 GB/s; A100: 312 TFLOP/s, 2039 GB/s, PCIe Gen4
32 GB/s; ResNet-50: 8.2 GFLOP per image; Llama-3.1-8B: 8.03e9 parameters)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import mlsysim_vec as ms
from mlsysim_vec import optimize, plot

HAVE_MPL = importlib.util.find_spec("matplotlib") is not None
needs_mpl = pytest.mark.skipif(not HAVE_MPL, reason="matplotlib is the optional extra mlsysim-vec[plot]")

if HAVE_MPL:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

C = ms.Hardware.Cloud
R50, L8B, L70B = ms.Models.ResNet50, ms.Models.Language.Llama3_8B, ms.Models.Language.Llama3_70B


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if HAVE_MPL:
        plt.close("all")


@pytest.fixture(scope="module")
def roof():
    """2 models × 2 GPUs × 3 batches at the default fp16 (the dense 16-bit peak): every point fits (8B: 16 GB)."""
    return ms.SingleNodeModel().solve(model=[R50, L8B], hardware=[C.A100, C.H100], batch_size=[1, 8, 64])


@pytest.fixture(scope="module")
def memory():
    """Llama-3.1-8B, fp16 (2 B), Adam, global batch 8 over dp 8, tp ∈ {1, 2} × ZeRO ∈ {0, 3};
    first-order (gradients at the weights' 2 B, which the by-hand figures below use)."""
    return ms.TrainingMemoryModel().solve(
        model=L8B, hardware=C.H100, batch_size=8, tp_size=[1, 2], zero_stage=[0, 3], dp_size=8, fidelity="first_order"
    )


def gid(ax, name):
    """The artists of ``ax`` with this gid (lines, collections, patches)."""
    return [a for a in (*ax.lines, *ax.collections, *ax.patches) if a.get_gid() == name]


def offsets(ax, name):
    return np.concatenate([c.get_offsets() for c in gid(ax, name)])


def full(result, name):
    """An output broadcast over every dimension of the result, in their C order."""
    ds = result.dataset
    da = ds[name].expand_dims([d for d in result.dims if d not in ds[name].dims]).transpose(*result.dims)
    return np.broadcast_to(da.values, [ds.sizes[d] for d in result.dims])


# ---- optional dependency -------------------------------------------------------------------------


def test_importing_the_package_and_plot_loads_no_matplotlib():
    code = "import sys, mlsysim_vec, mlsysim_vec.plot; assert 'matplotlib' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_matplotlib_each_function_names_the_extra(monkeypatch, roof, memory):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    calls = [
        lambda: plot.roofline(roof),
        lambda: plot.heatmap(roof, "latency", x="batch_size", y="hardware", sel={"model": "ResNet-50"}),
        lambda: plot.pareto(roof, "latency", "throughput"),
        lambda: plot.memory_breakdown(memory),
    ]
    for call in calls:
        with pytest.raises(ImportError, match=r'pip install "mlsysim-vec\[plot\]"'):
            call()


def test_result_must_be_a_result():
    if not HAVE_MPL:
        pytest.skip("matplotlib is imported before the argument check")
    with pytest.raises(ValueError, match=r"result=\[1, 2\] is a list; .*mlsysim_vec.Result"):
        plot.roofline([1, 2])


# ---- roofline -------------------------------------------------------------------------------------


@needs_mpl
def test_roofline_roofs_ridges_and_labels_by_hand(roof):
    fig = plot.roofline(roof)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "arithmetic_intensity [flop/byte]"
    assert ax.get_ylabel() == "achieved FLOP/s [TFLOP/s]"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    roofs, ridges = gid(ax, "roof"), gid(ax, "ridge")
    assert len(roofs) == len(ridges) == 2  # one per GPU: both models fit, so one bandwidth each
    # F·η = 0.5 × peak: A100 156 TFLOP/s, H100 494.5 TFLOP/s; I* = F·η / BW
    expected = {"NVIDIA A100": (156.0, 2039e9), "NVIDIA H100": (494.5, 3350e9)}
    for line, ridge in zip(roofs, ridges):
        flat, bw = expected[line.get_label()]
        x, y = line.get_xdata(), line.get_ydata()
        assert x[1] == pytest.approx(flat * 1e12 / bw, rel=1e-12)  # A100 76.51, H100 147.61 flop/byte
        assert y[1] == y[2] == pytest.approx(flat, rel=1e-12)
        assert y[0] == pytest.approx(x[0] * bw * 1e-12, rel=1e-12)  # the bandwidth slope, in TFLOP/s
        assert (ridge.get_xdata()[0], ridge.get_ydata()[0]) == pytest.approx((x[1], y[1]), rel=1e-12)
    assert expected["NVIDIA H100"][0] * 1e12 / 3350e9 == pytest.approx(147.61, abs=0.01)


@needs_mpl
def test_roofline_points_are_the_results_intensity_and_achieved_flops(roof):
    ax = plot.roofline(roof).axes[0]
    points = offsets(ax, "points")
    intensity = full(roof, "arithmetic_intensity").ravel()
    latency = full(roof, "latency").ravel()
    np.testing.assert_allclose(points[:, 0], intensity, rtol=1e-12)
    # achieved = executed FLOPs / latency; ResNet-50 executes 8.2 GFLOP per image (by hand)
    batch = np.broadcast_to(np.array([1, 8, 64]), (2, 2, 3)).ravel()
    resnet = np.repeat([True, False], 6)
    np.testing.assert_allclose(points[resnet, 1], 8.2e9 * batch[resnet] / latency[resnet] * 1e-12, rtol=1e-9)
    ds = roof.dataset
    achieved = full(roof, "peak_flops_actual") * full(roof, "latency_compute") / full(roof, "latency")
    np.testing.assert_allclose(points[:, 1], achieved.ravel() * 1e-12, rtol=1e-12)
    # on or below the roof min(F·η, I·BW)
    top = np.minimum(full(roof, "peak_flops_actual"), full(roof, "arithmetic_intensity") * full(roof, "peak_bw_actual"))
    assert np.all(points[:, 1] <= top.ravel() * 1e-12 * (1 + 1e-12))
    # coloured by batch size (the default): a colour bar labelled with the dimension
    (scatter,) = gid(ax, "points")
    np.testing.assert_array_equal(scatter.get_array(), batch)
    assert ds.batch_size.attrs["units"] == "1"
    assert any(a.get_ylabel() == "batch_size [1]" for a in ax.figure.axes[1:])


@needs_mpl
def test_roofline_offloaded_points_get_their_own_roof():
    """Llama-3.1-70B at fp16 (141 GB) does not fit an 80 GiB A100: it streams over PCIe Gen4 at
    32 GB/s, a second roof with ridge 156e12 / 32e9 = 4875 flop/byte."""
    r = ms.SingleNodeModel().solve(model=[R50, L70B], hardware=C.A100, batch_size=[1, 64])
    ax = plot.roofline(r, color_by="model").axes[0]
    ridges = sorted(line.get_xdata()[0] for line in gid(ax, "ridge"))
    assert ridges == pytest.approx([156e12 / 2039e9, 156e12 / 32e9], rel=1e-12)
    # color_by a dimension of the roofs: each roof and its points in one colour, named in the legend
    assert [line.get_label() for line in gid(ax, "roof")] == ["ResNet-50", "Llama-3.1-70B"]
    for line, points in zip(gid(ax, "roof"), gid(ax, "points")):
        np.testing.assert_allclose(matplotlib.colors.to_rgba(line.get_color()), points.get_facecolor()[0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ResNet-50", "Llama-3.1-70B"]
    # two models that share one roof (both fit the H100): a black roof, the models in the legend
    r2 = ms.SingleNodeModel().solve(model=[R50, L8B], hardware=C.H100, batch_size=[1, 64])
    ax = plot.roofline(r2, color_by="model").axes[0]
    (line,) = gid(ax, "roof")
    assert line.get_color() == "k" and line.get_label() == "NVIDIA H100"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["NVIDIA H100", "ResNet-50", "Llama-3.1-8B"]


@needs_mpl
def test_roofline_colours_roofs_like_their_hardware_and_draws_on_a_given_axes(roof):
    fig, (left, right) = plt.subplots(1, 2)
    assert plot.roofline(roof, color_by="hardware", sel={"model": "ResNet-50"}, ax=right) is fig
    assert not left.lines and len(gid(right, "roof")) == 2
    for line, points in zip(gid(right, "roof"), gid(right, "points")):
        np.testing.assert_allclose(matplotlib.colors.to_rgba(line.get_color()), points.get_facecolor()[0])
    assert len(offsets(right, "points")) == 6  # 2 GPUs × 3 batches of ResNet-50


@needs_mpl
def test_roofline_of_one_point():
    p = ms.SingleNodeModel().solve(model=R50, hardware=C.H100, batch_size=8)
    ax = plot.roofline(p).axes[0]
    assert len(gid(ax, "roof")) == 1 and offsets(ax, "points").shape == (1, 2)
    assert ax.get_title() == "Roofline — NVIDIA H100, ResNet-50, fp16"


@needs_mpl
def test_roofline_errors(roof, memory):
    with pytest.raises(
        ValueError,
        match=r"result=<TrainingMemoryModel result> has no output arithmetic_intensity.*"
        r"roofline takes a result of SingleNodeModel",
    ):
        plot.roofline(memory)
    with pytest.raises(ValueError, match=r"color_by='precision' is not a dimension.*model, hardware, batch_size"):
        plot.roofline(roof, color_by="precision")
    with pytest.raises(ValueError, match=r"sel=\{'gpu': 'x'\} names 'gpu', which is not a dimension"):
        plot.roofline(roof, sel={"gpu": "x"})
    with pytest.raises(ValueError, match=r"'TPU' is not a value of 'hardware'; values: NVIDIA A100, NVIDIA H100"):
        plot.roofline(roof, sel={"hardware": "TPU"})
    with pytest.raises(ValueError, match=r"sel=\['model'\] is not allowed; sel is a dict"):
        plot.roofline(roof, sel=["model"])
    with pytest.raises(ValueError, match=r"ax='left' is not a matplotlib Axes"):
        plot.roofline(roof, ax="left")


# ---- heatmap --------------------------------------------------------------------------------------


@needs_mpl
def test_heatmap_values_units_and_ticks(roof):
    fig = plot.heatmap(roof, "latency", x="batch_size", y="hardware", sel={"model": "ResNet-50"})
    assert isinstance(fig, Figure)
    ax, bar = fig.axes
    (mesh,) = gid(ax, "heatmap")
    seconds = roof.dataset.latency.sel(model="ResNet-50").transpose("hardware", "batch_size").values
    np.testing.assert_allclose(mesh.get_array(), seconds * 1e3, rtol=1e-12)  # 1 s = 1000 ms
    assert bar.get_ylabel() == "latency [ms]"
    assert ax.get_xlabel() == "batch_size [1]" and ax.get_ylabel() == "hardware"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "8", "64"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["NVIDIA A100", "NVIDIA H100"]
    assert ax.get_title() == "latency — ResNet-50"
    # another unit: microseconds
    mesh_us = gid(
        plot.heatmap(roof, "latency", x="batch_size", y="hardware", sel={"model": "ResNet-50"}, unit="us").axes[0],
        "heatmap",
    )[0]
    np.testing.assert_allclose(mesh_us.get_array(), seconds * 1e6, rtol=1e-12)


@needs_mpl
def test_heatmap_broadcasts_an_output_that_does_not_vary_along_an_axis(roof):
    """peak_flops_actual depends on the hardware only: each row is 0.5 × the 16-bit peak."""
    ax = plot.heatmap(roof, "peak_flops_actual", x="batch_size", y="hardware", sel={"model": "ResNet-50"}).axes[0]
    np.testing.assert_allclose(gid(ax, "heatmap")[0].get_array(), [[156.0] * 3, [494.5] * 3], rtol=1e-12)
    assert ax.figure.axes[1].get_ylabel() == "peak_flops_actual [TFLOP/s]"


@needs_mpl
def test_heatmap_default_axes_reduce_and_norm(roof):
    two = roof.sel(model="Llama-3.1-8B")
    ax = plot.heatmap(two, "throughput").axes[0]  # two dimensions: y the first, x the second
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("hardware", "batch_size [1]")
    reduced = plot.heatmap(roof, "mfu", x="batch_size", y="hardware", reduce="max").axes[0]
    best = roof.dataset.mfu.max("model").transpose("hardware", "batch_size").values
    np.testing.assert_allclose(gid(reduced, "heatmap")[0].get_array(), best, rtol=1e-12)
    assert reduced.get_title() == "mfu (max over model)"
    assert reduced.figure.axes[1].get_ylabel() == "mfu [1]"
    # latency spans less than two decades over this slice: linear unless log is asked for
    lat = plot.heatmap(roof, "latency", x="batch_size", y="hardware", sel={"model": "ResNet-50"}).axes[0]
    assert type(gid(lat, "heatmap")[0].norm).__name__ == "Normalize"
    log = plot.heatmap(roof, "latency", x="batch_size", y="hardware", sel={"model": "ResNet-50"}, norm="log")
    assert type(gid(log.axes[0], "heatmap")[0].norm).__name__ == "LogNorm"


@needs_mpl
def test_heatmap_of_categories_and_booleans(roof):
    r = ms.SingleNodeModel().solve(model=[R50, L70B], hardware=[C.A100, C.H100], batch_size=[1, 8, 64])
    ax = plot.heatmap(r, "bottleneck", x="batch_size", y="model", sel={"hardware": "NVIDIA H100"}).axes[0]
    codes = r.dataset.bottleneck.sel(hardware="NVIDIA H100").transpose("model", "batch_size").values
    np.testing.assert_array_equal(gid(ax, "heatmap")[0].get_array(), codes)
    names = [t.get_text() for t in ax.figure.axes[1].get_yticklabels()]
    assert names == [ms.variables.BOTTLENECKS[c] for c in sorted(set(codes.ravel().tolist()))]
    ax = plot.heatmap(r, "feasible", x="hardware", y="model").axes[0]
    fits = r.dataset.feasible.transpose("model", "hardware").values  # 70B does not fit either GPU
    np.testing.assert_array_equal(gid(ax, "heatmap")[0].get_array(), fits.astype(float))
    assert fits.tolist() == [[True, True], [False, False]]
    assert [t.get_text() for t in ax.figure.axes[1].get_yticklabels()] == ["False", "True"]


@needs_mpl
def test_heatmap_errors(roof):
    sel = {"model": "ResNet-50"}
    with pytest.raises(
        ValueError,
        match=r"output='latnecy' is not an output of the SingleNodeModel result; "
        r"outputs: latency, ",
    ):
        plot.heatmap(roof, "latnecy", x="batch_size", y="hardware")
    with pytest.raises(ValueError, match=r"x='batch' is not a dimension of the result; x takes one of: model, "):
        plot.heatmap(roof, "latency", x="batch", y="hardware")
    with pytest.raises(ValueError, match=r"y='model' is not a dimension of the result \(after sel\)"):
        plot.heatmap(roof, "latency", x="batch_size", y="model", sel=sel)
    with pytest.raises(ValueError, match=r"x='hardware' and y='hardware' are the same dimension"):
        plot.heatmap(roof, "latency", x="hardware", y="hardware")
    with pytest.raises(ValueError, match=r"x=None is not a dimension"):
        plot.heatmap(roof, "latency")  # three dimensions: x and y must be given
    with pytest.raises(
        ValueError,
        match=r"output 'latency' also varies along model \(2 values: ResNet-50, Llama-3.1-8B\); choose one value "
        r"of each with sel=\{'model': ...\} or reduce them with reduce= one of min, max, mean, median",
    ):
        plot.heatmap(roof, "latency", x="batch_size", y="hardware")
    with pytest.raises(ValueError, match=r"reduce='sum' is not allowed; reduce is one of min, max, mean, median"):
        plot.heatmap(roof, "latency", x="batch_size", y="hardware", reduce="sum")
    with pytest.raises(ValueError, match=r"reduce='max' applies to numeric outputs; 'bottleneck' is category"):
        plot.heatmap(roof, "bottleneck", x="batch_size", y="hardware", reduce="max")
    with pytest.raises(ValueError, match=r"norm='sqrt' is not allowed; norm is one of linear, log"):
        plot.heatmap(roof, "latency", x="batch_size", y="hardware", sel=sel, norm="sqrt")
    with pytest.raises(ValueError, match=r"unit='GB' cannot express latency \(in s\); .* e.g. 'ms'"):
        plot.heatmap(roof, "latency", x="batch_size", y="hardware", sel=sel, unit="GB")
    with pytest.raises(ValueError, match=r"unit='ms' is not allowed for output 'feasible', which is bool"):
        plot.heatmap(roof, "feasible", x="batch_size", y="hardware", sel=sel, unit="ms")
    best = optimize.search(roof, "latency", over="hardware")
    with pytest.raises(ValueError, match=r"output='best_hardware' holds labels .* heatmap draws numeric"):
        plot.heatmap(best, "best_hardware", x="batch_size", y="model")


# ---- pareto ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def serving_grid():
    return ms.SingleNodeModel().solve(model=L8B, hardware=[C.A100, C.H100, C.B200], batch_size=[1, 4, 16, 64, 256])


def brute_front(xs, ys, ok):
    """Indices not dominated (min x, max y) among the points with ok, by pairwise comparison."""
    idx = [i for i in range(len(xs)) if ok[i] and np.isfinite(xs[i]) and np.isfinite(ys[i])]
    return sorted(
        i for i in idx if not any(xs[j] <= xs[i] and ys[j] >= ys[i] and (xs[j] < xs[i] or ys[j] > ys[i]) for j in idx)
    )


@needs_mpl
def test_pareto_front_equals_brute_force_and_labels_its_coordinates(serving_grid):
    r = serving_grid
    fig = plot.pareto(r, "latency", "throughput", minimize=(True, False))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("latency [ms]", "throughput [1/s]")
    xs, ys = full(r, "latency").ravel() * 1e3, full(r, "throughput").ravel()
    np.testing.assert_allclose(offsets(ax, "points"), np.c_[xs, ys], rtol=1e-12)  # every point meets ()
    front = brute_front(xs, ys, np.ones(len(xs), bool))
    front = sorted(front, key=lambda i: (xs[i], ys[i]))
    np.testing.assert_allclose(offsets(ax, "front"), np.c_[xs[front], ys[front]], rtol=1e-12)
    np.testing.assert_allclose(gid(ax, "front_line")[0].get_xydata(), np.c_[xs[front], ys[front]], rtol=1e-12)
    hardware, batch = np.unravel_index(front, (3, 5))
    names = r.dataset.hardware.values
    assert [t.get_text() for t in ax.texts] == [
        f"{names[h]}, batch_size={[1, 4, 16, 64, 256][b]}" for h, b in zip(hardware, batch)
    ]
    assert ax.get_title().endswith(f"({len(front)} of 15 points)")


@needs_mpl
def test_pareto_constraints_labels_and_log_axes(serving_grid):
    r = serving_grid
    ax = plot.pareto(
        r, "latency", "energy", constraints=["latency < 20 ms"], label_by="batch_size", max_labels=2, log=True
    ).axes[0]
    xs, ys = full(r, "latency").ravel() * 1e3, full(r, "energy").ravel()
    ok = xs < 20
    assert 0 < ok.sum() < len(xs)
    np.testing.assert_allclose(offsets(ax, "excluded"), np.c_[xs[~ok], ys[~ok]], rtol=1e-12)
    front = sorted(brute_front(xs, -ys, ok), key=lambda i: (xs[i], ys[i]))  # min energy = max -energy
    np.testing.assert_allclose(offsets(ax, "front"), np.c_[xs[front], ys[front]], rtol=1e-12)
    assert len(ax.texts) == min(2, len(front)) and all(t.get_text().startswith("batch_size=") for t in ax.texts)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert not plot.pareto(r, "latency", "energy", max_labels=0).axes[0].texts


@needs_mpl
def test_pareto_errors(serving_grid, roof):
    r = serving_grid
    with pytest.raises(ValueError, match=r"x='lat' is not an output of the SingleNodeModel result; x takes a numeric"):
        plot.pareto(r, "lat", "energy")
    with pytest.raises(ValueError, match=r"y='bottleneck' is category, not numeric"):
        plot.pareto(r, "latency", "bottleneck")
    with pytest.raises(ValueError, match=r"minimize=True is not allowed; give two booleans"):
        plot.pareto(r, "latency", "energy", minimize=True)
    with pytest.raises(ValueError, match=r"constraint 'latency <<' is not understood"):
        plot.pareto(r, "latency", "energy", constraints=["latency <<"])
    with pytest.raises(ValueError, match=r"label_by=\['gpu'\] names 'gpu', which is not a dimension"):
        plot.pareto(r, "latency", "energy", label_by="gpu")
    with pytest.raises(ValueError, match=r"max_labels=-1 is not allowed"):
        plot.pareto(r, "latency", "energy", max_labels=-1)
    with pytest.raises(ValueError, match=r"log='z' is not allowed; log is True \(both axes\), False, 'x' or 'y'"):
        plot.pareto(r, "latency", "energy", log="z")
    one = ms.SingleNodeModel().solve(model=R50, hardware=C.H100)
    with pytest.raises(ValueError, match=r"result= is a single point"):
        plot.pareto(one, "latency", "energy")


# ---- memory breakdown -----------------------------------------------------------------------------


@needs_mpl
def test_memory_breakdown_components_by_hand(memory):
    """Per accelerator, P = 8.03e9, b = 2 B, Adam 12 B/parameter, dp = 8; C order (tp, zero):
    weights = P·b/tp (ZeRO-3: /dp) = 16.06, 2.0075, 8.03, 1.00375 GB; gradients likewise (ZeRO ≥ 2);
    optimizer = 12·P/tp (ZeRO ≥ 1: /dp) = 96.36, 12.045, 48.18, 6.0225 GB."""
    fig = plot.memory_breakdown(memory)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "memory per accelerator [GB]"
    heights = {name: [p.get_height() for p in gid(ax, name)] for name in plot.MEMORY_COMPONENTS}
    np.testing.assert_allclose(heights["weights"], [16.06, 2.0075, 8.03, 1.00375], rtol=1e-12)
    np.testing.assert_allclose(heights["gradients"], [16.06, 2.0075, 8.03, 1.00375], rtol=1e-12)
    np.testing.assert_allclose(heights["optimizer_state"], [96.36, 12.045, 48.18, 6.0225], rtol=1e-12)
    for name in ("activations", "communication_buffers"):
        np.testing.assert_allclose(heights[name], full(memory, name).ravel() / 1e9, rtol=1e-12)
    # stacked: each segment starts where the one below ends; the tops are total_memory
    bottom = np.zeros(4)
    for name in plot.MEMORY_COMPONENTS:
        np.testing.assert_allclose([p.get_y() for p in gid(ax, name)], bottom, rtol=1e-12, atol=0)
        bottom = bottom + heights[name]
    np.testing.assert_allclose(bottom, full(memory, "total_memory").ravel() / 1e9, rtol=1e-12)
    # the device memory, 80 GiB = 85.899 GB, across each bar
    (capacity,) = gid(ax, "capacity")
    np.testing.assert_allclose([s[0][1] for s in capacity.get_segments()], [80 * 2**30 / 1e9] * 4, rtol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "tp_size=1\nzero_stage=0",
        "tp_size=1\nzero_stage=3",
        "tp_size=2\nzero_stage=0",
        "tp_size=2\nzero_stage=3",
    ]
    assert [t.get_text() for t in ax.get_legend().get_texts()][:5] == list(plot.MEMORY_COMPONENTS)


@needs_mpl
def test_memory_breakdown_unit_sel_and_distributed(memory):
    ax = plot.memory_breakdown(memory, unit="GiB", sel={"tp_size": 1}).axes[0]
    assert ax.get_ylabel() == "memory per accelerator [GiB]"
    np.testing.assert_allclose([p.get_height() for p in gid(ax, "weights")], np.array([16.06e9, 2.0075e9]) / 2**30)
    r = ms.DistributedModel().solve(model=L8B, fleet=ms.Systems.Clusters.Research_256, batch_size=256, tp_size=[1, 8])
    ax = plot.memory_breakdown(r).axes[0]
    np.testing.assert_allclose([p.get_height() for p in gid(ax, "weights")], full(r, "weights").ravel() / 1e9)
    assert not gid(ax, "capacity")  # DistributedModel reports no available_memory


@needs_mpl
def test_memory_breakdown_errors(memory, roof):
    with pytest.raises(
        ValueError,
        match=r"result=<SingleNodeModel result> has no output weights.*memory_breakdown "
        r"takes a result of DistributedModel or TrainingMemoryModel",
    ):
        plot.memory_breakdown(roof)
    with pytest.raises(
        ValueError,
        match=r"the result has 4 configurations \(tp_size: 2 × zero_stage: 2\).* at most "
        r"max_bars=3",
    ):
        plot.memory_breakdown(memory, max_bars=3)
    with pytest.raises(ValueError, match=r"max_bars=0 is not allowed"):
        plot.memory_breakdown(memory, max_bars=0)
    with pytest.raises(ValueError, match=r"unit='s' cannot express weights \(in byte\)"):
        plot.memory_breakdown(memory, unit="s")
    with pytest.raises(ValueError, match=r"3 is not a value of 'tp_size'; values: 1, 2"):
        plot.memory_breakdown(memory, sel={"tp_size": 3})


def test_the_package_reaches_plot_without_importing_matplotlib_first():
    """``ms.plot`` is the module, loaded on first use; importing mlsysim_vec alone loads no matplotlib."""
    import subprocess
    import sys

    code = "import sys, mlsysim_vec as ms; assert 'matplotlib' not in sys.modules; assert ms.plot.heatmap"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert ms.plot is plot
