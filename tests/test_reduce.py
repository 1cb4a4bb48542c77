"""The reduction kernels of ``mlsysim_vec.reduce`` (masked argmax, top-k, Pareto front).

Tier 1: hand cases, each derived in its docstring from the contract (issue 6,
``helper_issue6_contract.md``): NaN and masked values never win, ties go to the first position
in C order, the sentinel ``-1 / NaN / 0`` for a slice with nothing valid, duplicates of a
non-dominated point are all on the front.

Tier 3 (hypothesis, bounded): on random 1–4-d arrays drawn from a pool with NaN, ±inf, ±0 and
repeated values, random broadcastable masks (all-masked slices included) and random sets of
reduced axes, the numba engine, the numpy reference (both read from ``reduce.KERNELS``) and a
Python loop over the definition agree exactly; dask inputs with random chunkings give the eager
answer. The fast profile runs by default, the long one with ``pytest -m slow``.
"""

from __future__ import annotations

import math
import subprocess
import sys

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlsysim_vec import reduce

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHUNKED_FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENGINES = ("numba", "numpy")
POOL = [-math.inf, -2.5, -1.0, -0.0, 0.0, 1.0, 3.0, math.inf, math.nan]
nan, inf = math.nan, math.inf


def engine(name, which):
    return reduce.KERNELS[name][ENGINES.index(which)]


def same(x, y):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))  # NaN == NaN, exact otherwise


@pytest.fixture(autouse=True, scope="module")
def _sync_scheduler():
    with dask.config.set(scheduler="sync"):
        yield


# ---------------------------------------------------------------------------- the definition, as loops
def _slices(shape, axes):
    """(kept index, [full index of each reduced position in C order]) for every slice."""
    kept = [d for d in range(len(shape)) if d not in axes]
    for kid in np.ndindex(*(shape[d] for d in kept)):
        positions = []
        for rid in np.ndindex(*(shape[d] for d in axes)):
            full = [0] * len(shape)
            for d, j in zip(kept, kid):
                full[d] = j
            for d, j in zip(axes, rid):
                full[d] = j
            positions.append(tuple(full))
        yield kid, positions


def _candidates(values, mask, positions):
    return [(j, float(values[p])) for j, p in enumerate(positions) if mask[p] and not math.isnan(values[p])]


def loop_argmax(values, mask, axes, minimize):
    kept_shape = tuple(n for d, n in enumerate(values.shape) if d not in axes)
    index, best, count = np.full(kept_shape, -1), np.full(kept_shape, nan), np.zeros(kept_shape, int)
    for kid, positions in _slices(values.shape, axes):
        cand = _candidates(values, mask, positions)
        count[kid] = len(cand)
        if cand:
            top = (min if minimize else max)(v for _, v in cand)
            index[kid] = next(j for j, v in cand if v == top)
            best[kid] = top
    return index, best, count


def loop_top_k(values, k, mask, axes, minimize):
    kept_shape = tuple(n for d, n in enumerate(values.shape) if d not in axes)
    index, best = np.full(kept_shape + (k,), -1), np.full(kept_shape + (k,), nan)
    for kid, positions in _slices(values.shape, axes):
        ranked = sorted(_candidates(values, mask, positions), key=lambda jv: (jv[1] if minimize else -jv[1], jv[0]))
        for r, (j, v) in enumerate(ranked[:k]):
            index[kid + (r,)] = j
            best[kid + (r,)] = v
    return index, best


def loop_pareto(a, b, mask, axes, minimize):
    sa, sb = (1 if minimize[0] else -1), (1 if minimize[1] else -1)
    out = np.zeros(a.shape, bool)
    for _, positions in _slices(a.shape, axes):
        pts = [
            (p, sa * a[p], sb * b[p]) for p in positions if mask[p] and not math.isnan(a[p]) and not math.isnan(b[p])
        ]
        for p, x, y in pts:
            out[p] = not any(u <= x and v <= y and (u < x or v < y) for _, u, v in pts)
    return out


# ---------------------------------------------------------------------------- strategies
@st.composite
def problems(draw, max_side=5):
    """(values, second objective, mask or None, broadcast mask, axis as passed, sorted axes)."""
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=ndim, max_size=ndim)))
    elements = st.one_of(st.sampled_from(POOL), st.floats(-5, 5, allow_nan=False))
    values = draw(hnp.arrays(np.float64, shape, elements=elements))
    other = draw(hnp.arrays(np.float64, shape, elements=elements))
    mask = None
    if draw(st.booleans()):
        mask_shape = tuple(n if draw(st.booleans()) else 1 for n in shape)  # broadcastable
        mask = draw(hnp.arrays(np.bool_, mask_shape))
    axes = sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1)))
    if len(axes) == 1 and draw(st.booleans()):
        axis = axes[0] - ndim if draw(st.booleans()) else axes[0]
    else:
        axis = tuple(draw(st.permutations(axes)))  # any order: C order of the array
    full_mask = np.broadcast_to(True if mask is None else mask, shape)
    return values, other, mask, full_mask, axis, tuple(axes)


@st.composite
def chunkings(draw, shape):
    """Random chunk sizes along every axis."""
    out = []
    for n in shape:
        cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=3))) if n > 1 else []
        edges = [0] + cuts + [n]
        out.append(tuple(edges[i + 1] - edges[i] for i in range(len(edges) - 1)) or (0,))
    return tuple(out)


# ---------------------------------------------------------------------------- tier 1: hand cases
@pytest.mark.parametrize("which", ENGINES)
def test_masked_argmax__ties_nan_mask(which):
    """[1, 3, NaN, 3]: the maximum 3 occurs at 1 and 3 → the first, 1; NaN is not counted → 3 valid.
    Masking position 1 makes position 3 the winner; masking both 3s gives 1 at position 0."""
    f = engine("masked_argmax", which)
    v = np.array([1.0, 3.0, nan, 3.0])
    same(f(v), (1, 3.0, 3))
    same(f(v, np.array([True, False, True, True])), (3, 3.0, 2))
    same(f(v, np.array([True, False, True, False])), (0, 1.0, 1))
    same(f(v, minimize=True), (0, 1.0, 3))


@pytest.mark.parametrize("which", ENGINES)
def test_masked_argmax__sentinel(which):
    """A slice with nothing valid (all masked, all NaN, or empty) gives index -1, best NaN,
    n_valid 0 — and the other slices are unaffected."""
    f = engine("masked_argmax", which)
    v = np.array([[1.0, 2.0], [nan, nan], [5.0, 4.0]])
    m = np.array([[False, False], [True, True], [True, True]])
    same(f(v, m), ([-1, -1, 0], [nan, nan, 5.0], [0, 0, 2]))
    same(f(np.empty((3, 0))), ([-1] * 3, [nan] * 3, [0] * 3))


@pytest.mark.parametrize("which", ENGINES)
def test_masked_argmax__infinities_are_values(which):
    """-inf is a valid value: where only -inf values are allowed, the first allowed -inf wins
    (position 1 here; position 0 is masked). +inf beats every finite value."""
    f = engine("masked_argmax", which)
    v = np.array([-inf, -inf, nan, -inf])
    same(f(v, np.array([False, True, True, True])), (1, -inf, 2))
    same(f(np.array([1.0, inf, inf])), (1, inf, 3))
    same(f(np.array([inf, -inf, 2.0]), minimize=True), (1, -inf, 3))


@pytest.mark.parametrize("which", ENGINES)
def test_masked_argmax__several_axes_flat_c_order(which):
    """values[i, j, l] = 10 i + l - j over a (2, 3, 4) array, reduced over axes (0, 2) for each j:
    the best is i = 1, l = 3 (value 13 - j) at flat position 1·4 + 3 = 7 of the (2, 4) reduced
    shape; the axis order given does not matter."""
    f = engine("masked_argmax", which)
    i, j, l = np.meshgrid(np.arange(2), np.arange(3), np.arange(4), indexing="ij")
    v = 10.0 * i + l - j
    for axis in [(0, 2), (2, 0), (-1, 0)]:
        same(f(v, axis=axis), ([7, 7, 7], [13.0, 12.0, 11.0], [8, 8, 8]))


@pytest.mark.parametrize("which", ENGINES)
def test_top_k__order_ties_padding(which):
    """[5, 1, 5, NaN, 3]: by value 5 (positions 0 and 2, in position order), 3 (4), 1 (1); NaN
    excluded; k = 7 > 5 pads with -1 / NaN; minimize reverses the order (ties still first-first)."""
    f = engine("top_k", which)
    v = np.array([5.0, 1.0, 5.0, nan, 3.0])
    same(f(v, 2), ([0, 2], [5.0, 5.0]))
    same(f(v, 7), ([0, 2, 4, 1, -1, -1, -1], [5, 5, 3, 1, nan, nan, nan]))
    same(f(v, 3, minimize=True), ([1, 4, 0], [1.0, 3.0, 5.0]))
    same(f(v, 2, mask=np.array([True, True, False, True, True])), ([0, 4], [5.0, 3.0]))
    same(f(np.zeros((2, 0)), 2), ([[-1, -1]] * 2, [[nan, nan]] * 2))


@pytest.mark.parametrize("which", ENGINES)
def test_pareto_front__hand_case(which):
    """Points (a, b), both minimised: (1,5) (2,3) (3,4) (4,1) (2,3) (5,5) (0,NaN).
    (3,4) is dominated by (2,3); (5,5) by all of (1,5) (2,3) (4,1); the NaN point is excluded;
    both copies of (2,3) are on the front. Minimising a and maximising b: (1,5) has the
    smallest a and the largest b, so it dominates every other point and is the whole front.
    Masking (1,5) out leaves the both-minimised front (2,3) (2,3) (4,1)."""
    f = engine("pareto_front", which)
    a = np.array([1.0, 2, 3, 4, 2, 5, 0])
    b = np.array([5.0, 3, 4, 1, 3, 5, nan])
    same(f(a, b), [True, True, False, True, True, False, False])
    same(f(a, b, minimize=(True, False)), [True, False, False, False, False, False, False])
    same(
        f(a, b, mask=np.array([False, True, True, True, True, True, True])),
        [False, True, False, True, True, False, False],
    )


@pytest.mark.parametrize("which", ENGINES)
def test_pareto_front__infinities_and_equal_a(which):
    """Minimising both: (inf, inf) alone is on its own front; with (inf, 0) it is dominated.
    Equal a: (1, 2) and (1, 3) — only (1, 2). (-inf, 7) is on the front (nothing has a smaller a)."""
    f = engine("pareto_front", which)
    same(f(np.array([inf]), np.array([inf])), [True])
    same(f(np.array([inf, inf]), np.array([inf, 0.0])), [False, True])
    same(f(np.array([1.0, 1.0, -inf]), np.array([2.0, 3.0, 7.0])), [True, False, True])


def test_pareto_front_along__slices_are_independent():
    """Along axis 1 each row has its own front; axis=None is one front over all six points.
    Rows (a, b): [(1,1) (2,0) (3,3)] and [(0,9) (5,5) (6,6)]."""
    a = np.array([[1.0, 2, 3], [0, 5, 6]])
    b = np.array([[1.0, 0, 3], [9, 5, 6]])
    same(reduce.pareto_front_along(a, b, axis=1), [[True, True, False], [True, True, False]])
    same(reduce.pareto_front_along(a, b, axis=None), [[True, True, False], [True, False, False]])
    same(reduce.pareto_front(a, b), [[True, True, False], [True, False, False]])
    same(reduce.pareto_front_along(a.T, b.T, axis=0), [[True, True], [True, True], [False, False]])


def test_bad_arguments_raise_naming_them():
    v = np.zeros((2, 3))
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        reduce.masked_argmax(v, axis=2)
    with pytest.raises(ValueError, match="repeats"):
        reduce.masked_argmax(v, axis=(1, -1))
    with pytest.raises(TypeError, match="axis must be"):
        reduce.masked_argmax(v, axis=1.5)
    with pytest.raises(TypeError, match="mask must be a boolean"):
        reduce.masked_argmax(v, mask=np.ones((2, 3)))
    with pytest.raises(TypeError, match="values must be a real numeric"):
        reduce.masked_argmax(np.zeros(3, complex))
    with pytest.raises(ValueError, match="k must be >= 1"):
        reduce.top_k(v, 0)
    with pytest.raises(TypeError, match="k must be an integer"):
        reduce.top_k(v, 2.5)
    with pytest.raises(ValueError, match="minimize must be a pair"):
        reduce.pareto_front(v, v, minimize=True)
    with pytest.raises(TypeError, match="objective_b must be"):
        reduce.pareto_front(v, np.array(["x"]))
    with pytest.raises(ValueError, match=r"do not broadcast together: values \(2, 3\), mask \(4,\)"):
        reduce.masked_argmax(v, mask=np.ones(4, bool))
    with pytest.raises(ValueError, match="mask"):
        reduce.masked_argmax(da.zeros((2, 3)), mask=np.ones(4, bool))


def test_dask_outputs_are_lazy_and_keep_the_kept_chunks():
    x = da.from_array(np.arange(24.0).reshape(4, 6), chunks=(2, 4))
    index, best, n_valid = reduce.masked_argmax(x, axis=1)
    assert isinstance(index, da.Array) and index.chunks == ((2, 2),)
    same(dask.compute(index, best, n_valid), ([5] * 4, [5.0, 11, 17, 23], [6] * 4))
    idx, val = reduce.top_k(x, 3, axis=0)
    assert idx.chunks == ((4, 2), (3,))
    same(idx.compute(), [[3, 2, 1]] * 6)
    mixed = reduce.masked_argmax(np.array([1.0, 9, 3, 2]), da.from_array(np.array([True, False, True, True]), chunks=2))
    same(dask.compute(*mixed), (2, 3.0, 3))  # numpy values, dask mask
    front = reduce.pareto_front(x, -x)
    assert front.chunks == x.chunks and front.compute().all()  # a = -b: nothing dominates


def test_import_compiles_nothing():
    """D18: importing the module (and the package) imports neither numba nor dask.array."""
    code = (
        "import sys, mlsysim_vec, mlsysim_vec.reduce; "
        "bad = [m for m in ('numba', 'llvmlite', 'dask.array') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gufuncs_compile_once():
    reduce.masked_argmax(np.zeros(2))
    assert reduce._gufunc("masked_argmax") is reduce._gufunc("masked_argmax")
    assert set(reduce.KERNELS) == {"masked_argmax", "top_k", "pareto_front"}


# ---------------------------------------------------------------------------- tier 3: properties
def check_argmax(problem, minimize):
    values, _, mask, full_mask, axis, axes = problem
    expected = loop_argmax(values, full_mask, axes, minimize)
    for which in ENGINES:
        same(engine("masked_argmax", which)(values, mask, axis, minimize), expected)


def check_top_k(problem, k, minimize):
    values, _, mask, full_mask, axis, axes = problem
    expected = loop_top_k(values, k, full_mask, axes, minimize)
    for which in ENGINES:
        same(engine("top_k", which)(values, k, mask, axis, minimize), expected)


def check_pareto(problem, minimize):
    a, b, mask, full_mask, axis, axes = problem
    expected = loop_pareto(a, b, full_mask, axes, minimize)
    for which in ENGINES:
        same(engine("pareto_front", which)(a, b, mask, minimize, axis), expected)
    same(reduce.pareto_front_along(a, b, mask, axis, minimize), expected)


@FAST
@given(problems(), st.booleans())
def test_masked_argmax__engines_equal_definition(problem, minimize):
    check_argmax(problem, minimize)


@FAST
@given(problems(), st.integers(1, 8), st.booleans())
def test_top_k__engines_equal_definition(problem, k, minimize):
    check_top_k(problem, k, minimize)


@FAST
@given(problems(), st.tuples(st.booleans(), st.booleans()))
def test_pareto__engines_equal_definition(problem, minimize):
    check_pareto(problem, minimize)


def check_chunked(data, problem):
    values, b, mask, full_mask, axis, axes = problem
    chunks = data.draw(chunkings(values.shape))
    lazy = da.from_array(values, chunks=chunks)
    lazy_mask = (
        None if mask is None else (da.from_array(full_mask, chunks=chunks) if data.draw(st.booleans()) else mask)
    )
    minimize = data.draw(st.booleans())
    k = data.draw(st.integers(1, 6))
    same(
        dask.compute(*reduce.masked_argmax(lazy, lazy_mask, axis, minimize)),
        reduce.masked_argmax(values, mask, axis, minimize),
    )
    same(dask.compute(*reduce.top_k(lazy, k, lazy_mask, axis, minimize)), reduce.top_k(values, k, mask, axis, minimize))
    pair = (minimize, data.draw(st.booleans()))
    same(
        reduce.pareto_front_along(lazy, b, lazy_mask, axis, pair).compute(),
        reduce.pareto_front_along(values, b, mask, axis, pair),
    )


@CHUNKED_FAST
@given(st.data(), problems(max_side=4))
def test_chunked_equals_eager(data, problem):
    check_chunked(data, problem)


@pytest.mark.slow
@LONG
@given(problems(), st.booleans())
def test_masked_argmax__engines_equal_definition_long(problem, minimize):
    check_argmax(problem, minimize)


@pytest.mark.slow
@LONG
@given(problems(), st.integers(1, 8), st.booleans())
def test_top_k__engines_equal_definition_long(problem, k, minimize):
    check_top_k(problem, k, minimize)


@pytest.mark.slow
@LONG
@given(problems(), st.tuples(st.booleans(), st.booleans()))
def test_pareto__engines_equal_definition_long(problem, minimize):
    check_pareto(problem, minimize)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), problems(max_side=4))
def test_chunked_equals_eager_long(data, problem):
    check_chunked(data, problem)
