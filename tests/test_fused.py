"""The fused full-grid kernels (``mlsysim_vec.physics.fused`` and ``roofline.FUSED_KERNELS``).

Every fused kernel must equal its numpy reference bit for bit: the same outputs, shapes and
dtypes, the same values (each operation rounds as numpy's does; NaN where numpy gives NaN, the
same sign of zero and infinity), and the same booleans. Tier 3 (hypothesis): random broadcast
shapes (1-4 dimensions of 1-7, each input broadcast along its own random dimensions), values
from a pool with NaN, ±inf, ±0, tiny and huge numbers or any float within ±1e13 (subnormals
included), the optional terms present or not, and
random engine settings (block sizes down to one point, one or two threads, supplied ``out=``
buffers) so that the walk, its chunking, the skipped refills and stores and the thread split
are all exercised. Then SingleNodeModel grids above the dispatch threshold against the same
grids forced onto numpy, and the threshold itself (a small grid or a scalar never imports numba).
"""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim_vec as ms
from mlsysim_vec.physics import roofline as rl

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

POOL = [0.0, -0.0, 1.0, 2.5, 3.0, 1e-18, 1e-20, 0.3, 7.0e5, 1.5e12, -2.0, math.inf, -math.inf, math.nan]
VALUES = st.one_of(st.sampled_from(POOL), st.floats(-1e13, 1e13, allow_subnormal=True))
TAIL_INPUTS = (
    "executed",
    "traffic",
    "flops_eff",
    "bandwidth",
    "overhead",
    "t_elementwise",
    "peak_flops",
    "model_ops",
    "batch",
    "tdp",
)


def same(name, got, want):
    """Bit-identical arrays: shape, dtype, NaN where NaN, every other value with its sign."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want, err_msg=name)
    if got.dtype.kind == "f":
        number = ~np.isnan(want)
        assert np.array_equal(np.signbit(got[number]), np.signbit(want[number])), name


@contextlib.contextmanager
def engine(block=None, threads=None, per_thread=None, min_points=None):
    """The fused engine's settings for the block of the ``with`` (restored after)."""
    from mlsysim_vec.physics import fused

    saved = fused.BLOCK, fused.threads, fused.POINTS_PER_THREAD, rl.FUSED_MIN_POINTS
    try:
        fused.BLOCK = saved[0] if block is None else block
        fused.threads = saved[1] if threads is None else threads
        fused.POINTS_PER_THREAD = saved[2] if per_thread is None else per_thread
        rl.FUSED_MIN_POINTS = saved[3] if min_points is None else min_points
        yield fused
    finally:
        fused.BLOCK, fused.threads, fused.POINTS_PER_THREAD, rl.FUSED_MIN_POINTS = saved


# ---------------------------------------------------------------------------- tier 3: random grids
@st.composite
def tail_inputs(draw):
    """The ten inputs of the tail on a random grid; each input keeps a random subset of the grid's
    dimensions (its others are 1 or absent), ``t_elementwise`` and ``model_ops`` may be None."""
    grid = draw(st.lists(st.integers(1, 7), min_size=1, max_size=4))
    out = {}
    for name in TAIL_INPUTS:
        if name in ("t_elementwise", "model_ops") and draw(st.booleans()):
            out[name] = None
            continue
        lead = draw(st.integers(0, len(grid)))  # leading dimensions it lacks altogether
        shape = tuple(n if draw(st.booleans()) else 1 for n in grid[lead:])
        size = math.prod(shape)
        if size == 1 and not shape and draw(st.booleans()):
            out[name] = np.float64(draw(VALUES))  # a numpy scalar
            continue
        values = draw(st.lists(VALUES, min_size=size, max_size=size))
        out[name] = np.array(values, dtype=np.float64).reshape(shape)
    return out


def check_kernel(inputs, block, threads, reuse):
    numba_fn, numpy_fn = rl.FUSED_KERNELS["single_node_tail"]
    with np.errstate(all="ignore"):
        want = numpy_fn(**inputs)
    out = None
    if reuse:  # supplied buffers of the right shapes (garbage inside), mfu only when it is its own
        out = {
            k: np.full(np.shape(v), 7.0) if np.asarray(v).dtype.kind == "f" else np.ones(np.shape(v), bool)
            for k, v in want.items()
            if not (k == "mfu" and inputs["model_ops"] is None)
        }
    with engine(block=block, threads=threads, per_thread=1):
        got = numba_fn(**inputs, out=out)
    assert set(got) == set(want) == set(rl.TAIL_OUTPUTS)
    for name in rl.TAIL_OUTPUTS:
        same(name, got[name], want[name])
    if inputs["model_ops"] is None:
        assert got["mfu"] is got["hfu"]
    if out is not None:
        for name, array in out.items():
            assert got[name] is array, name


@FAST
@given(tail_inputs(), st.sampled_from([1, 2, 3, 5, 16, 64, 2048]), st.sampled_from([1, 2]), st.booleans())
def test_tail_kernel_equals_numpy_reference(inputs, block, threads, reuse):
    check_kernel(inputs, block, threads, reuse)


@pytest.mark.slow
@LONG
@given(tail_inputs(), st.sampled_from([1, 2, 3, 4, 5, 7, 16, 64, 2048]), st.sampled_from([1, 2, 3]), st.booleans())
def test_tail_kernel_equals_numpy_reference_long(inputs, block, threads, reuse):
    check_kernel(inputs, block, threads, reuse)


def test_tail_kernel_hand_cases():
    """Each special value where the formulas branch: no bandwidth (memory term 0 s), no traffic
    (intensity ∞ with work, 0 without), NaN TDP (no energy), utilization clipped to [0, 1],
    NaN in, NaN out, a tie between compute and memory time (compute-bound; numpy's maximum
    keeps the second operand's zero sign)."""
    nan, inf = math.nan, math.inf
    inputs = dict(
        executed=np.array([1e12, 1e12, 0.0, nan, 2e12, 1e12, 0.0, -0.0]),
        traffic=np.array([1e9, 0.0, 0.0, 1e9, 4e9, 1e9, -0.0, 0.0]),
        flops_eff=np.array([1e14, 1e14, 1e14, 1e14, 1e15, 1e10, 1.0, 1.0]),
        bandwidth=np.array([0.0, 2e12, nan, 2e12, 2e12, 2e12, 1.0, 1.0]),
        overhead=1e-5,
        t_elementwise=None,
        peak_flops=np.array([2e14, 2e14, 2e14, 2e14, 1e15, 1e9, 1.0, 1.0]),
        model_ops=None,
        batch=8.0,
        tdp=np.array([700.0, nan, 700.0, 700.0, 700.0, 700.0, 0.0, 1.0]),
    )
    with engine(block=3, threads=1):
        check_kernel(inputs, 3, 1, False)
    got = rl._tail_numba(**inputs)
    assert got["latency_memory"][0] == 0.0 and got["arithmetic_intensity"][1] == inf
    assert got["arithmetic_intensity"][2] == 0.0 and got["energy"][1] == 0.0
    assert got["hfu"][5] == 1.0 and np.isnan(got["latency"][3]) and not got["memory_bound"][4]


def test_out_buffers_are_checked():
    inputs = dict.fromkeys(TAIL_INPUTS, 1.0) | {"t_elementwise": None, "model_ops": None, "executed": np.ones((2, 3))}
    for kernel in rl.FUSED_KERNELS["single_node_tail"]:
        with pytest.raises(ValueError, match="shape"):
            kernel(**inputs, out={"latency": np.empty((3, 2))})
        with pytest.raises(ValueError, match="dtype"):
            kernel(**inputs, out={"memory_bound": np.empty((2, 3))})
    with pytest.raises(ValueError, match="C-contiguous"):
        rl._tail_numba(**inputs, out={"latency": np.empty((3, 2)).T})
    with pytest.raises(ValueError, match="overlaps"):
        rl._tail_numba(**inputs, out={"latency": inputs["executed"]})


def test_layout_coalesces_and_blocks():
    """On a (20, 31, 202, 4, 2) grid: inputs that vary along (p, e) together and full-size outputs
    let the walk merge (p, e) into one dimension of 8; a latency_memory-like output (e broadcast)
    keeps them apart. Blocks are the trailing 202 × 8 points; a full-size output is contiguous over
    a block, an input varying along (p, e) only is gathered over 8 points and repeated, one constant
    over a block gathered once, and the smaller output stored every 2nd point."""
    from mlsysim_vec.physics import fused

    inputs = ((1, 31, 1, 4, 2), (20, 31, 1, 1, 1))
    grid, tables = fused._tables(inputs + ((20, 31, 202, 4, 2),), 2, 2048)
    assert grid == (20, 31, 202, 4, 2) and list(tables[fused.SHAPE]) == [20, 31, 202, 8]
    grid, tables = fused._tables(inputs + ((20, 31, 202, 4, 2), (20, 31, 202, 4, 1)), 2, 2048)
    assert list(tables[fused.SHAPE]) == [20, 31, 202, 4, 2]
    assert list(tables[fused.SIZES]) == [1, 1, 1616, 1616] and fused.blocks(tables) == 620
    assert list(tables[fused.CONTIGUOUS]) == [False, False, True, False]
    assert list(tables[fused.COUNT]) == [8, 1, 0, 808] and list(tables[fused.STEP]) == [0, 0, 0, 2]
    grid, tables = fused._tables(inputs + ((20, 31, 202, 4, 2),), 2, 64)  # blocks of 8 x 8 points
    assert list(tables[fused.SIZES]) == [2, 8, 8, 64] and fused.blocks(tables) == 20 * 31 * 26


# ---------------------------------------------------------------------------- SingleNodeModel grids
def _grid_axes():
    """A SingleNodeModel grid of 5 · 31 · 66 · 4 · 2 = 81 840 points (above 2**16)."""
    models = [ms.Models.ResNet50, ms.Models.Language.Llama3_8B, ms.Models.Language.GPT3, ms.Models.MobileNetV2]
    models.append(ms.Models.Language.Llama3_70B)
    return dict(
        model=models,
        hardware=list(ms.Hardware.Cloud),
        batch_size=np.arange(1, 67),
        precision=["fp32", "bf16", "fp8", "int8"],
        efficiency=[0.3, 0.6],
    )


def _solve_both(monkeypatch, **kwargs):
    """The dataset of one solve on the fused path and on the numpy path, and how many fused calls."""
    calls = []
    fused_tail = rl._tail_numba

    def counted(*args, **kw):
        calls.append(1)
        return fused_tail(*args, **kw)

    monkeypatch.setattr(rl, "_tail_numba", counted)
    fused_ds = ms.SingleNodeModel().solve(**kwargs).dataset
    n_fused = len(calls)
    monkeypatch.setattr(rl, "FUSED_MIN_POINTS", 2**62)
    numpy_ds = ms.SingleNodeModel().solve(**kwargs).dataset
    assert len(calls) == n_fused
    return fused_ds, numpy_ds, n_fused


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"is_training": True, "seq_len": 1024},
        {"is_training": [False, True], "fidelity": "refined", "flash_attention": [False, True]},
    ],
    ids=["inference", "training", "refined"],
)
def test_single_node_grid_fused_equals_numpy(monkeypatch, extra):
    axes, threshold = _grid_axes() | extra, rl.FUSED_MIN_POINTS
    fused_ds, numpy_ds, n_fused = _solve_both(monkeypatch, **axes)
    assert math.prod(fused_ds.sizes.values()) >= threshold
    assert n_fused == 1, "the grid did not take the fused path"
    assert set(fused_ds.data_vars) == set(numpy_ds.data_vars)
    for name in fused_ds.data_vars:
        same(name, fused_ds[name].transpose(*numpy_ds[name].dims).values, numpy_ds[name].values)


def test_single_node_step_out_buffers(monkeypatch):
    """``out=`` receives the full-grid outputs in place, on either path, with the same values."""
    captured = {}
    step = rl.single_node_step

    def spy(**kw):
        captured.update(kw)
        return step(**kw)

    monkeypatch.setattr(rl, "single_node_step", spy)
    ms.SingleNodeModel().solve(**_grid_axes())
    monkeypatch.setattr(rl, "single_node_step", step)
    first = step(**captured)
    out = {name: np.empty_like(first[name]) for name in rl.TAIL_OUTPUTS if name != "mfu"}
    for threshold in (rl.FUSED_MIN_POINTS, 2**62):
        monkeypatch.setattr(rl, "FUSED_MIN_POINTS", threshold)
        again = step(**captured, out=out)
        for name, array in out.items():
            assert again[name] is array
            same(name, array, first[name])
        assert again["mfu"] is again["hfu"]


def test_chunked_grid_keeps_numpy(monkeypatch):
    """Dask arrays (a chunked solve) never reach the fused kernel, and give the same values."""
    pytest.importorskip("dask")
    calls = []
    fused_tail = rl._tail_numba
    monkeypatch.setattr(rl, "_tail_numba", lambda *a, **k: calls.append(1) or fused_tail(*a, **k))
    axes = _grid_axes()
    lazy = ms.SingleNodeModel().solve(**axes, chunks={"batch_size": 33}).compute().dataset
    assert not calls
    eager = ms.SingleNodeModel().solve(**axes).dataset
    assert calls
    for name in eager.data_vars:
        same(name, lazy[name].transpose(*eager[name].dims).values, eager[name].values)


def test_small_grids_and_scalars_do_not_import_numba():
    """Below ``FUSED_MIN_POINTS`` (and for a scalar solve) numpy evaluates the step and numba is
    never imported; a grid above it imports numba (docs/differences.md, D18)."""
    code = (
        "import sys, numpy as np, mlsysim_vec as ms\n"
        "from mlsysim_vec.physics import roofline as rl\n"
        "ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.Cloud.A100, batch_size=8).latency\n"
        "r = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=list(ms.Hardware.Cloud),\n"
        "                               batch_size=np.arange(1, 2**16 // 31 - 1))\n"
        "assert r.dataset.latency.size < rl.FUSED_MIN_POINTS\n"
        "assert 'numba' not in sys.modules, 'a small grid imported numba'\n"
        "r = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=list(ms.Hardware.Cloud),\n"
        "                               batch_size=np.arange(1, 2**16 // 31 + 2))\n"
        "assert r.dataset.latency.size >= rl.FUSED_MIN_POINTS\n"
        "assert 'numba' in sys.modules, 'a large grid did not take the fused path'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bandwidth_benchmark_tiny():
    """The benchmark of ``benchmarks/bench_spine.py`` runs (tiny grid: the fraction is a target on
    the 1e6 grid only) and its fused outputs equal numpy's."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks import bench_spine

    with engine() as fused:
        threads = fused.threads
    rows = bench_spine.bench_fused_bandwidth(10**3, rounds=1)
    assert [r.benchmark.split(", ", 1)[-1] for r in rows[1:]] == [
        "numpy",
        "fused, 1 thread",
        f"fused, {threads} threads",
        f"fused, {threads} threads, out= reused",
    ]
    assert all(r.seconds > 0 and r.points >= 10**3 for r in rows)
    assert all(r.extra["agree"] for r in rows[1:]) and rows[3].passed is True
    assert rows[1].extra["full_size_bytes"] > 0 and 0 < rows[3].extra["fraction"]
