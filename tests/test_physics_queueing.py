"""Tier-1 tests of the queueing kernels' evaluation paths (``physics.queueing``) and of the
capped-exponential scale (``physics.serving.capped_exponential_scale``).

Erlang C up to ``RECURSION_SERVERS`` servers comes from the Erlang B recursion
``B(0) = 1, B(k) = A·B(k−1)/(k + A·B(k−1))``, ``C = c·B/(c − A·(1 − B))``, by four paths: Python
floats (a few points), one shared count (every point every step), counts sorted in descending
order (step k updates the points with ``c >= k``) and one recursion per load giving every
count (a sweep of replica counts). They run the same operations, so they must give the same
bits as each other and as the plain loop below, and agree with the textbook sum
``C = T/(S + T)`` to rounding. The replica search tries counts upwards from the smallest stable
one on every point at once; it must give the scan's answer (the first stable count whose P99
wait fits) point by point.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlsysim_vec.physics import queueing as qu
from mlsysim_vec.physics import serving as sv

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def recursion_b(load, servers):
    """Erlang B by the recursion, on Python floats (the same operations as the kernels)."""
    b = 1.0
    for k in range(1, servers + 1):
        t = load * b
        b = t / (k + t)
    return b


def recursion_c(load, servers):
    b = recursion_b(load, servers)
    return servers * b / (servers - load * (1.0 - b))


def textbook_c(load, servers):
    """C(c, A) = T/(S + T), S = Σ_{i<c} A^i/i!, T = A^c/(c!·(1 − A/c))."""
    head = math.fsum(load**i / math.factorial(i) for i in range(servers))
    tail = load**servers / (math.factorial(servers) * (1.0 - load / servers))
    return tail / (head + tail)


def scan(lam, mu, budget, cap, quantile=0.99):
    """The first stable count r <= cap whose quantile wait fits the budget, and that wait."""
    free = 1.0 - quantile
    for r in range(1, int(cap) + 1):
        if r * mu <= lam:
            continue
        c = recursion_c(lam / mu, r)
        wait = 0.0 if c < free else math.log(c / free) / (r * mu - lam)
        if wait <= budget:
            return r, wait
    return None, None


# ---- Erlang B and C ---------------------------------------------------------------------------


def test_erlang_b_by_hand():
    """B(1, A) = A/(1 + A); B(2, A) = (A²/2)/(1 + A + A²/2): A = 2 gives 2/3 and 2/5;
    no server blocks every arrival (B = 1); a NaN load stays NaN."""
    out = qu.erlang_b(np.array([2.0, 2.0, 2.0, np.nan]), np.array([0.0, 1.0, 2.0, 2.0]))
    assert out[0] == 1.0
    assert out[1] == pytest.approx(2 / 3, rel=1e-15)
    assert out[2] == pytest.approx(2 / 5, rel=1e-15)
    assert math.isnan(out[3])


@pytest.mark.parametrize("servers", [1.5, -1.0, np.inf])
def test_erlang_b_rejects_a_count_that_is_not_whole(servers):
    with pytest.raises(ValueError, match=r"servers must be whole numbers >= 0.*" + str(servers)):
        qu.erlang_b(1.0, servers)


def test_erlang_c_paths_give_the_same_bits():
    """Loads 0.05 … 60 against counts 1 … RECURSION_SERVERS: the sweep (one recursion per load),
    the flat points (counts sorted), one count for every load and single points all equal the
    plain recursion exactly, and the textbook sum to 1e-12; unstable points (A >= c) wait
    surely (C = 1)."""
    loads = np.linspace(0.05, 60.0, 97)
    counts = np.arange(1.0, qu.RECURSION_SERVERS + 1)
    expected = np.array([[recursion_c(a, int(c)) if a < c else 1.0 for c in counts] for a in loads])
    sweep = qu.erlang_c(loads[:, None], counts[None, :])
    flat = qu.erlang_c(np.repeat(loads, counts.size), np.tile(counts, loads.size)).reshape(sweep.shape)
    per_count = np.stack([qu.erlang_c(loads, c) for c in counts], axis=1)
    np.testing.assert_array_equal(sweep, expected)
    np.testing.assert_array_equal(flat, expected)
    np.testing.assert_array_equal(per_count, expected)
    for i, j in [(0, 0), (10, 5), (50, 40), (96, 63), (80, 55)]:
        assert qu.erlang_c(loads[i], counts[j]) == expected[i, j]
    stable = loads[:, None] < counts[None, :]
    textbook = np.array([[textbook_c(a, int(c)) if a < c else 1.0 for c in counts] for a in loads])
    np.testing.assert_allclose(sweep[stable], textbook[stable], rtol=1e-12, atol=1e-300)


def test_erlang_c_either_side_of_the_recursion_limit():
    """At RECURSION_SERVERS the recursion, one server above it the log-space window: both
    agree with the plain recursion (a mix of both in one call too)."""
    top = qu.RECURSION_SERVERS
    loads = np.array([0.5, 20.0, 55.0, 63.5])
    for c in (top, top + 1):
        got = qu.erlang_c(loads, float(c))
        np.testing.assert_allclose(got, [recursion_c(a, c) for a in loads], rtol=1e-11)
    mixed = qu.erlang_c(np.array([55.0, 55.0, 70.0, np.nan, 0.0]), np.array([top, top + 1, 60.0, 3.0, 2.0]))
    assert mixed[0] == recursion_c(55.0, top)
    assert mixed[1] == pytest.approx(recursion_c(55.0, top + 1), rel=1e-11)
    assert mixed[2] == 1.0 and math.isnan(mixed[3]) and mixed[4] == 0.0


# ---- the replica search ------------------------------------------------------------------------


def test_search_on_many_points_equals_the_scan():
    """Thirty queues in no particular order (answers from 1 to beyond RECURSION_SERVERS, so both
    the upward search and the windowed bisection run), budgets 0 to 1 s, a cap that stops some:
    every point equals the scan, and the single-point call (Python floats) gives the same
    count and wait."""
    rng = np.random.default_rng(7)
    lam = np.concatenate([rng.uniform(0.1, 60.0, 24), [0.01, 70.0, 150.0, 5.0, 40.0, 7.0]])
    mu = np.concatenate([rng.uniform(0.5, 3.0, 24), [1.0, 1.0, 1.0, 1.0, 1.0, 0.2]])
    budget = np.concatenate([rng.uniform(0.0, 1.0, 24), [0.0, 0.05, 0.0, 1.0, 0.0, 0.3]])
    cap = np.where(np.arange(30) % 7 == 3, 2.0, 400.0)  # two replicas: too few for most loads
    servers, wait, found = qu.min_servers_for_wait(lam, mu, budget, cap, True)
    assert found.sum() > 20 and (~found).sum() >= 2
    assert np.nanmax(servers) > qu.RECURSION_SERVERS
    for i in range(30):
        r, w = scan(lam[i], mu[i], budget[i], cap[i])
        one_servers, one_wait, one_found = qu.min_servers_for_wait(lam[i], mu[i], budget[i], cap[i], True)
        if r is None:
            assert not found[i] and math.isnan(servers[i]) and math.isnan(wait[i]) and not one_found
        else:
            assert found[i] and servers[i] == r == one_servers
            assert wait[i] == pytest.approx(w, rel=1e-12, abs=1e-15)
            assert one_wait == pytest.approx(wait[i], rel=1e-14, abs=1e-15)


def test_search_shared_and_per_point_arguments():
    """One service rate, budget and cap for every point (passed once) or repeated per point,
    and queues shared by several budgets (a grid): the same counts and waits."""
    lam = np.linspace(0.5, 40.0, 50)
    shared = qu.min_servers_for_wait(lam, 2.0, 0.2, 64.0, True)
    repeated = qu.min_servers_for_wait(lam, np.full(50, 2.0), np.full(50, 0.2), np.full(50, 64.0), True)
    for x, y in zip(shared, repeated):
        np.testing.assert_array_equal(x, y)
    budgets = np.array([0.0, 0.2, 5.0])[:, None]
    grid_servers, grid_wait, _ = qu.min_servers_for_wait(lam[None, :], 2.0, budgets, 64.0, True)
    np.testing.assert_array_equal(grid_servers[1], shared[0])
    np.testing.assert_array_equal(grid_wait[1], shared[1])
    assert (np.diff(grid_servers, axis=0) <= 0).all()  # a larger budget never needs more replicas


def test_search_skips_what_cannot_fit():
    """A negative or NaN budget never fits, a point not searched stays NaN, and a cap below
    the smallest stable count finds nothing (nine points: the numpy path)."""
    lam = np.full(9, 10.0)
    budget = np.array([-1.0, np.nan, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    search = np.array([True, True, False, True, True, True, True, True, True])
    cap = np.array([50.0, 50.0, 50.0, 3.0, 50.0, 50.0, 50.0, 50.0, 50.0])
    servers, wait, found = qu.min_servers_for_wait(lam, 2.0, budget, cap, search)
    assert not found[:4].any() and np.isnan(servers[:4]).all() and np.isnan(wait[:4]).all()
    r, w = scan(10.0, 2.0, 0.1, 50)
    assert (servers[4:] == r).all() and (wait[4:] == pytest.approx(w, rel=1e-12))


def test_search_in_blocks_equals_the_search_in_pieces():
    """70,000 queues in random order (three blocks of the search, sorted by their smallest
    stable count across blocks) give the same counts and waits as the same queues searched in
    pieces of fewer than one block, and a sample of them equals the scan."""
    rng = np.random.default_rng(11)
    n = 70_000
    lam, mu = rng.uniform(0.01, 40.0, n), rng.uniform(0.5, 4.0, n)
    budget, cap = rng.uniform(0.0, 0.5, n), rng.choice([3.0, 500.0], n, p=[0.1, 0.9])
    servers, wait, found = qu.min_servers_for_wait(lam, mu, budget, cap, True)
    for piece in np.array_split(rng.permutation(n), 5):
        s_piece, w_piece, f_piece = qu.min_servers_for_wait(lam[piece], mu[piece], budget[piece], cap[piece], True)
        np.testing.assert_array_equal(s_piece, servers[piece])
        np.testing.assert_array_equal(w_piece, wait[piece])
        np.testing.assert_array_equal(f_piece, found[piece])
    for i in rng.choice(n, 40, replace=False):
        r, w = scan(lam[i], mu[i], budget[i], cap[i])
        assert (servers[i] == r and wait[i] == pytest.approx(w, rel=1e-12, abs=1e-15)) if r else not found[i]


queues = st.lists(
    st.tuples(st.floats(1e-3, 200.0), st.floats(0.05, 20.0), st.floats(0.0, 3.0), st.integers(1, 300)),
    min_size=9,
    max_size=40,
)


@FAST
@given(queues)
def test_search_equals_the_scan_point_by_point(points):
    lam, mu, budget, cap = (np.array(x, dtype=float) for x in zip(*points))
    servers, wait, found = qu.min_servers_for_wait(lam, mu, budget, cap, True)
    for i in range(lam.size):
        r, w = scan(lam[i], mu[i], budget[i], cap[i])
        assert bool(found[i]) == (r is not None)
        if r is not None:
            assert servers[i] == r and wait[i] == pytest.approx(w, rel=1e-12, abs=1e-15)


def test_servers_for_wait_at_the_cap_on_many_points():
    """Points whose count is not found report the cap with its wait when stable (the same as
    one point at a time), ∞ when unstable, and NaN when not searched."""
    lam = np.array([10.0, 10.0, 50.0, 10.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    search = np.array([True, True, True, False, True, True, True, True, True])
    budget = np.array([0.0, 0.5, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5])
    servers, wait, found, stable = qu.servers_for_wait(lam, 20.0, budget, 2.0, search, 2.0)
    for i in range(lam.size):
        one = qu.servers_for_wait(lam[i], 20.0, budget[i], 2.0, search[i], 2.0)
        assert servers[i] == one[0] and found[i] == one[2] and stable[i] == one[3]
        assert wait[i] == pytest.approx(float(one[1]), rel=1e-14) or (math.isnan(wait[i]) and math.isnan(one[1]))
    assert not found[0] and stable[0] and wait[0] > 0  # two servers are stable but wait
    assert not stable[2] and wait[2] == np.inf
    assert math.isnan(wait[3])


def test_tail_latency_step_all_stable_equals_the_selection():
    """Every point stable: the outputs are the stable values, broadcast over a dimension of
    service-time cvs, bit for bit those of the same points next to an unstable one."""
    lam = np.linspace(1.0, 70.0, 12)
    cv = np.array([0.5, 1.0, 2.0])[:, None]
    fast = qu.tail_latency_step(lam[None, :], 0.1, 8.0, cv)
    mixed = qu.tail_latency_step(np.append(lam, 90.0)[None, :], 0.1, 8.0, cv)
    for name, value in fast.items():
        assert value.shape == ((1, 12) if name == "is_stable" else (3, 12)), name
        np.testing.assert_array_equal(value, mixed[name][:, :12], err_msg=name)
    assert not mixed["is_stable"][0, 12] and mixed["p99_latency"][0, 12] == np.inf


# ---- the capped-exponential scale ---------------------------------------------------------------


def bisection_scale(mean, cap):
    """mlsysim 0.3.0's solution: 100 halvings of t = cap/μ on (0, cap/mean)."""
    target = mean / cap
    lo, hi = 0.0, 1.0 / target
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if -math.expm1(-mid) / mid > target:
            lo = mid
        else:
            hi = mid
    return cap / (0.5 * (lo + hi))


def test_capped_exponential_scale_solves_its_equation():
    """μ(1 − e^{−cap/μ}) = mean to rounding for mean/cap from 1e-6 to 1 − 1e-9 (both forms of
    the residual, and the series of e^{−t} − 1 + t near r = 1), in any order of the means; one
    point at a time (Python floats) agrees; the reference's bisection agrees to 1e-12 where it
    is itself accurate (mean/cap below 1 − 1e-3: its test loses digits near the cap)."""
    cap = 4096.0
    r = np.concatenate([np.logspace(-6, -0.01, 400), 1.0 - np.logspace(-9, -0.3, 400), np.linspace(0.01, 0.99, 99)])
    mean = r * cap
    mu = sv.capped_exponential_scale(mean, cap)
    np.testing.assert_allclose(mu * -np.expm1(-cap / mu), mean, rtol=2e-15)
    order = np.random.default_rng(3).permutation(r.size)
    np.testing.assert_array_equal(sv.capped_exponential_scale(mean[order], cap), mu[order])
    one = np.array([sv.capped_exponential_scale(float(m), cap) for m in mean])
    np.testing.assert_allclose(one, mu, rtol=1e-14)
    accurate = r < 1.0 - 1e-3
    reference = np.array([bisection_scale(m, cap) for m in mean[accurate]])
    np.testing.assert_allclose(mu[accurate], reference, rtol=1e-12)


def test_capped_exponential_scale_edges():
    """mean = cap (or above): every request fills the cap, μ = ∞; mean <= 0: μ = 0; NaN stays
    NaN; array and scalar alike."""
    out = sv.capped_exponential_scale(np.array([10.0, 12.0, 0.0, -1.0, np.nan, 5.0]), 10.0)
    assert out[0] == out[1] == np.inf and out[2] == out[3] == 0.0 and math.isnan(out[4])
    assert out[5] == pytest.approx(bisection_scale(5.0, 10.0), rel=1e-13)
    assert sv.capped_exponential_scale(10.0, 10.0) == np.inf and sv.capped_exponential_scale(0.0, 10.0) == 0.0
    assert math.isnan(sv.capped_exponential_scale(NAN := float("nan"), 10.0)) and math.isnan(NAN)


def test_capped_exponential_scale_any_shape_and_lazy():
    """Means along one dimension, caps along another (both forms of the residual, a full
    cap, an empty request): each point equals its own scalar call; a dask array solved block
    by block (blocks of two dimensions) equals the eager array."""
    mean = np.array([1.0, 20.0, 60.0, 64.0, 500.0, 2047.5, 0.0])[:, None]
    cap = np.array([64.0, 2048.0, 4096.0])[None, :]
    mean = np.minimum(mean, cap)
    eager = sv.capped_exponential_scale(mean, cap)
    assert eager.shape == (7, 3)
    for i in range(7):
        for j in range(3):
            one = sv.capped_exponential_scale(float(mean[i, j]), float(cap[0, j]))
            assert eager[i, j] == pytest.approx(one, rel=1e-14) or eager[i, j] == one
    assert eager[3, 0] == np.inf and eager[6, 0] == 0.0
    da = pytest.importorskip("dask.array")
    lazy = sv.capped_exponential_scale(da.from_array(mean, chunks=(3, 1)), da.from_array(cap, chunks=(1, 2)))
    np.testing.assert_array_equal(lazy.compute(), eager)
