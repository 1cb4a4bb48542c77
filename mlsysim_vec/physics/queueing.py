"""Queueing kernels: the M/M/c queue with Erlang C, its wait quantiles, the Kingman
correction, and the smallest server count that meets a wait budget.

Pure numpy functions of float arrays (rates in 1/s, times in s); no Python loop over
configurations (the loops below run over server counts, over chunks of points and over
windows of candidate counts).

The M/M/c queue (Erlang 1917; Kleinrock, "Queueing Systems" vol. 1, 1975, section 3.5): arrivals at
λ, c servers of rate μ each, offered load ``A = λ/μ``, utilisation ``ρ = A/c``. The probability
that an arrival waits is Erlang C,

    C(c, A) = T / (S + T),  S = Σ_{i<c} A^i/i!,  T = A^c/(c!·(1 − ρ)),

and the wait is exponential beyond: ``P(W > t) = C·e^{−(cμ − λ)t}``, so the q-quantile of the
wait is ``ln(C/(1 − q))/(cμ − λ)`` when ``C ≥ 1 − q``, else 0. Up to ``RECURSION_SERVERS``
servers, C comes from the classical recursion of Erlang B (the blocking probability of c
servers), ``B(0) = 1``, ``B(k) = A·B(k−1)/(k + A·B(k−1))``, and ``C = c·B/(c − A·(1 − B))``
(the same identity as above: ``1/B(c) = 1 + S·c!/A^c``): c steps of three operations on
values in (0, 1], vectorised over the points (Python floats for a few points: the same
operations, so the same bits). Above, the sums are evaluated in log space on a
window of terms around the largest (the Poisson terms ``A^i/i!`` fall off as ``e^{−k²/2A}``
at ``k`` from the mode; the window keeps every term above ``e^{−40}`` of the largest), so any
server count works without overflow in ``O(√A)`` terms. With a general service-time
distribution the waits are scaled by Kingman's factor ``(cv² + 1)/2`` (Kingman, "The single
server queue in heavy traffic", Math. Proc. Cambridge Phil. Soc. 57(4), 1961,
doi:10.1017/S0305004100036094), as mlsysim 0.3.0 does. See ``docs/equations.md``, section
"Queueing".

Two step functions compose these kernels: ``tail_latency_step`` (TailLatencyModel: the
latency quantiles of a given queue) and ``servers_for_wait`` (the replica count of
ServingCapacityModel, ``physics.serving.serving_capacity_step``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "log_factorial",
    "log_poisson_head",
    "log_poisson_heads",
    "RECURSION_SERVERS",
    "erlang_b",
    "erlang_c",
    "wait_quantile",
    "kingman_factor",
    "min_stable_servers",
    "min_servers_for_wait",
    "servers_for_wait",
    "tail_latency_step",
]

#: Elements per chunk of (points × window) work arrays (bounds the kernels' memory).
_CHUNK_ELEMENTS = 1 << 21
#: Largest table of ln n! kept (8 MB); larger arguments use the series directly.
_TABLE_MAX = 1 << 20
_SMALL = 16
_LOG_FACTORIAL_SMALL = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1.0, _SMALL)))])
_table = np.empty(0)
#: Server counts up to which Erlang C comes from the recursion of Erlang B (c steps of three
#: operations per point); above, from the log-space window of O(√A) terms.
RECURSION_SERVERS = 64
#: Points up to which the recursions run on Python floats (no numpy call per step).
_FEW_POINTS = 8


def _log_factorial_series(n):
    """ln n!: exact sums below 16, Stirling's series with four correction terms above
    (absolute error < 2e-14)."""
    small = _LOG_FACTORIAL_SMALL[np.clip(n, 0, _SMALL - 1).astype(np.int64)]
    x = np.maximum(n, _SMALL)
    inv2 = 1.0 / (x * x)
    series = (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0))) / x
    large = x * np.log(x) - x + 0.5 * np.log(2.0 * np.pi * x) + series
    return np.where(n < _SMALL, small, large)


def log_factorial(n):
    """ln n! for whole numbers n >= 0 (floats), from a table of the same series for
    arguments below 2^20 (grown on demand, the values are identical either way)."""
    global _table
    n = np.asarray(n, dtype=float)
    top = float(np.max(n, initial=0.0)) if n.size else 0.0
    if not top < _TABLE_MAX:
        return _log_factorial_series(n)
    if top >= _table.size:
        _table = _log_factorial_series(np.arange(float(min(_TABLE_MAX, max(2 * _table.size, top + 1, 4096)))))
    return _table[n.astype(np.int64)]


def _half_window(load):
    """Terms kept on each side of the mode of ``A^i/i!`` (every term above e^{−40} of it)."""
    return np.ceil(9.0 * np.sqrt(load) + 25.0)


def _chunks(n_points, width):
    step = max(1, _CHUNK_ELEMENTS // max(1, int(width)))
    return [slice(i, min(i + step, n_points)) for i in range(0, n_points, step)]


def log_poisson_head(load, servers):
    """``ln Σ_{i<c} A^i/i!`` for offered loads ``A > 0`` and whole ``c >= 1`` (flat arrays).

    Only the terms within the window around the mode ``⌊A⌋`` (and below c) are summed. Points
    are processed in order of window width, in chunks, so the work is the sum of the widths.
    """
    load, servers = np.broadcast_arrays(np.asarray(load, float), np.asarray(servers, float))
    load, servers = load.reshape(-1), servers.reshape(-1)
    out = np.empty(load.shape)
    if not load.size:
        return out
    mode = np.floor(load)
    half = _half_window(load)
    lo = np.maximum(0.0, np.minimum(mode, servers - 1.0) - half)
    hi = np.minimum(servers, mode + half + 1.0)
    width = hi - lo
    order = np.argsort(width, kind="stable")
    log_load = np.log(load)
    for part in _chunks(load.size, width.max()):
        idx = order[part]
        w = int(width[idx].max())
        i = lo[idx, None] + np.arange(w)
        terms = i * log_load[idx, None] - log_factorial(i)
        terms[i >= hi[idx, None]] = -np.inf
        peak = terms.max(axis=1)
        out[idx] = peak + np.log(np.exp(terms - peak[:, None]).sum(axis=1))
    return out


def log_poisson_heads(load, servers_max):
    """``ln Σ_{i<c} A^i/i!`` for every ``c = 1 … servers_max`` (columns) of each load (rows):
    one cumulative log-sum-exp along the server axis."""
    load = np.asarray(load, float).reshape(-1)
    out = np.empty((load.size, int(servers_max)))
    i = np.arange(float(servers_max))
    for part in _chunks(load.size, servers_max):
        terms = i * np.log(load[part])[:, None] - log_factorial(i)
        out[part] = np.logaddexp.accumulate(terms, axis=1)
    return out


def _separable(a_shape, b_shape) -> bool:
    """True when two broadcastable shapes never vary along the same axis (an outer product)."""
    n = max(len(a_shape), len(b_shape))
    a_shape, b_shape = (1,) * (n - len(a_shape)) + a_shape, (1,) * (n - len(b_shape)) + b_shape
    return all(x == 1 or y == 1 for x, y in zip(a_shape, b_shape))


def _erlang_b_flat(load, servers):
    """Erlang B for flat arrays: loads ``A >= 0``, whole counts ``c >= 1``.

    The recursion runs once over ``k = 1 … max c``; with several counts the points are ordered
    by count (descending), so step k updates the prefix of the points with ``c >= k``.
    """
    n = load.size
    if n <= _FEW_POINTS:  # Python floats: the same operations as below, without numpy calls
        out = np.empty(n)
        for i, (a, c) in enumerate(zip(load.tolist(), servers.tolist())):
            b = 1.0
            for k in range(1, int(c) + 1):
                t = a * b
                b = t / (k + t)
            out[i] = b
        return out
    top = int(servers.max())
    b, t = np.ones(n), np.empty(n)
    if servers.min() == top:  # one count (a scalar replica count): every point, every step
        for k in range(1, top + 1):
            np.multiply(load, b, out=t)
            np.add(t, k, out=b)
            np.divide(t, b, out=b)
        return b
    counts = servers.astype(np.int64)
    key = top - counts  # c descending; a stable sort of small whole numbers is a radix sort
    order = np.argsort(key.astype(np.int8 if top < 128 else np.int16 if top < 32768 else np.int64), kind="stable")
    at_least = np.cumsum(np.bincount(counts, minlength=top + 1)[::-1])[::-1]  # points with c >= k
    a = load[order]
    for k in range(1, top + 1):
        m = int(at_least[k])
        np.multiply(a[:m], b[:m], out=t[:m])
        np.add(t[:m], k, out=b[:m])
        np.divide(t[:m], b[:m], out=b[:m])
    out = np.empty(n)
    out[order] = b
    return out


def _erlang_b_columns(load, top):
    """Erlang B for ``c = 1 … top`` (columns) of each load (rows), one recursion."""
    table = np.empty((load.size, top))
    b, t = np.ones(load.size), np.empty(load.size)
    for k in range(1, top + 1):
        np.multiply(load, b, out=t)
        np.add(t, k, out=b)
        np.divide(t, b, out=b)
        table[:, k - 1] = b
    return table


def erlang_b(load, servers):
    """Erlang B: the probability that an arrival finds all c servers busy when it cannot wait
    (the M/M/c/c loss system), by the recursion ``B(0) = 1``, ``B(k) = A·B(k−1)/(k + A·B(k−1))``
    (broadcast arrays).

    load : offered load ``A`` [dimensionless], >= 0 (NaN: NaN)
    servers : c, whole numbers >= 0 (the recursion takes c steps: meant for the counts up to
        ``RECURSION_SERVERS`` that ``erlang_c`` gives it)
    """
    load, servers = np.asarray(load, float), np.asarray(servers, float)
    shape = np.broadcast_shapes(load.shape, servers.shape)
    a, c = (x.reshape(-1) for x in np.broadcast_arrays(load, servers))
    bad = ~(np.isfinite(c) & (c >= 0) & (c == np.floor(c))) & ~np.isnan(c)
    if bad.any():
        raise ValueError(f"erlang_b: servers must be whole numbers >= 0 (a server count), got {c[bad][0]!r}")
    out = np.full(a.shape, np.nan)
    ok = (a >= 0) & (c >= 0)
    out[ok & (c == 0)] = 1.0
    run = ok & (c >= 1)
    if run.any():
        out[run] = _erlang_b_flat(a[run], c[run])
    return out.reshape(shape)


def _erlang_c_recursion(load, servers, shape, a, c, mask=None):
    """Erlang C of the points ``mask`` (None: every point; stable, ``c <= RECURSION_SERVERS``)
    from Erlang B.

    When loads and counts vary along different dimensions and the loads are few, one recursion
    per load gives every count (``_erlang_b_columns``); otherwise each point runs its own."""
    al, cl = (a, c) if mask is None else (a[mask], c[mask])
    top = int(cl.max())
    by_column = False
    if servers.size > 1 and _separable(load.shape, servers.shape):
        live_loads = np.isfinite(load) & (load > 0)
        by_column = 2 * np.count_nonzero(live_loads) * top <= np.sum(cl)
    if by_column:
        rows = np.flatnonzero(live_loads.reshape(-1))
        row_of = np.full(load.size, -1)
        row_of[rows] = np.arange(rows.size)
        row = np.broadcast_to(row_of.reshape(load.shape), shape).reshape(-1)
        row = row if mask is None else row[mask]
        b = _erlang_b_columns(load.reshape(-1)[rows], top)[row, cl.astype(np.int64) - 1]
    else:
        b = _erlang_b_flat(al, cl)
    return cl * b / (cl - al * (1.0 - b))


def _erlang_c_log_space(load, servers, shape, a, c, mask):
    """Erlang C of the points ``mask`` (stable, any count) from the log-space sums.

    When the loads and the server counts vary along different dimensions (a sweep of replica
    counts), the head sums of every load come from one cumulative log-sum-exp over
    ``c = 1 … max c``; otherwise each point sums its own window of terms."""
    al, cl = a[mask], c[mask]
    c_max = float(cl.max())
    live_loads = np.isfinite(load) & (load > 0)
    by_column = (
        _separable(load.shape, servers.shape)
        and c_max < _TABLE_MAX
        and np.count_nonzero(live_loads) * c_max <= np.sum(np.minimum(cl, 2 * _half_window(al) + 1))
    )
    if by_column:
        rows = np.flatnonzero(live_loads.reshape(-1))
        row_of = np.full(load.size, -1)
        row_of[rows] = np.arange(rows.size)
        row = np.broadcast_to(row_of.reshape(load.shape), shape).reshape(-1)[mask]
        log_head = log_poisson_heads(load.reshape(-1)[rows], c_max)[row, cl.astype(np.int64) - 1]
    else:
        log_head = log_poisson_head(al, cl)
    log_t = cl * np.log(al) - log_factorial(cl) - np.log1p(-al / cl)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(log_head - log_t))


def erlang_c(load, servers):
    """Erlang C: probability that an arrival waits in an M/M/c queue (broadcast arrays).

    load : offered load ``A = λ/μ`` [dimensionless], >= 0 (NaN: not evaluated)
    servers : c, whole numbers >= 1
    Returns 1 where the queue is unstable (``A >= c``) and 0 where ``A = 0``.

    Up to ``RECURSION_SERVERS`` servers ``C = c·B/(c − A·(1 − B))`` with Erlang B from its
    recursion (``erlang_b``); above, from the log-space sums over a window of terms.
    """
    load, servers = np.asarray(load, float), np.asarray(servers, float)
    shape = np.broadcast_shapes(load.shape, servers.shape)
    a, c = (x.reshape(-1) for x in np.broadcast_arrays(load, servers))
    live = (a > 0) & (a < c)
    if live.all() and np.max(servers, initial=0.0) <= RECURSION_SERVERS:  # every point stable
        return _erlang_c_recursion(load, servers, shape, a, c).reshape(shape)
    out = np.where(a > 0, 1.0, 0.0)
    out[np.isnan(a) | np.isnan(c)] = np.nan
    if not live.any():
        return out.reshape(shape)
    few = live & (c <= RECURSION_SERVERS)
    many = live & ~few
    if few.any():
        out[few] = _erlang_c_recursion(load, servers, shape, a, c, few)
    if many.any():
        out[many] = _erlang_c_log_space(load, servers, shape, a, c, many)
    return out.reshape(shape)


def wait_quantile(p_wait, servers, service_rate, arrival_rate, quantile):
    """q-quantile of the M/M/c wait [s]: ``ln(C/(1 − q))/(cμ − λ)`` when ``C >= 1 − q``,
    else 0 (``C`` = Erlang C). Callers pass stable points (``cμ > λ``)."""
    free = 1.0 - quantile
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.log(p_wait / free) / (servers * service_rate - arrival_rate)
    if not isinstance(wait, np.ndarray) or not wait.ndim:
        return np.where(p_wait < free, 0.0, wait)
    wait[np.broadcast_to(p_wait < free, wait.shape)] = 0.0
    return wait


def kingman_factor(cv):
    """Kingman's heavy-traffic correction of the M/M/c waits for a service-time coefficient of
    variation ``cv``: ``(cv² + 1)/2`` (1 for exponential service)."""
    return (cv * cv + 1.0) / 2.0


def min_stable_servers(arrival_rate, service_rate):
    """Smallest whole c with ``c·μ > λ`` (a stable queue)."""
    c = np.floor(arrival_rate / service_rate) + 1.0
    if not isinstance(c, np.ndarray) or not c.ndim:
        c = np.where((c - 1.0) * service_rate > arrival_rate, c - 1.0, c)  # float rounding of λ/μ
        c = np.where(c * service_rate <= arrival_rate, c + 1.0, c)
        return np.maximum(c, 1.0)
    c[(c - 1.0) * service_rate > arrival_rate] -= 1.0  # float rounding of λ/μ
    c[c * service_rate <= arrival_rate] += 1.0
    return np.maximum(c, 1.0, out=c)


def _wait_table(arrival, rate, start, width, quantile):
    """Wait quantiles [s] for c = start .. start + width − 1 (rows: points), all stable."""
    load = arrival / rate
    c = start[:, None] + np.arange(width)
    terms = c[:, :-1] * np.log(load)[:, None] - log_factorial(c[:, :-1])
    log_head = np.logaddexp.accumulate(np.concatenate([log_poisson_head(load, start)[:, None], terms], axis=1), axis=1)
    log_t = c * np.log(load)[:, None] - log_factorial(c) - np.log1p(-load[:, None] / c)
    with np.errstate(over="ignore"):
        p_wait = 1.0 / (1.0 + np.exp(log_head - log_t))
    return wait_quantile(p_wait, c, rate[:, None], arrival[:, None], quantile)


def _first_fit_few(lam, mu, start, budget, cap, quantile):
    """``_first_fit_by_recursion`` on Python floats (a few points: no numpy call per step)."""
    servers, wait = np.full(lam.size, np.nan), np.full(lam.size, np.nan)
    free = 1.0 - quantile
    columns = (np.broadcast_to(x, lam.shape).tolist() for x in (lam, mu, start, budget, cap))
    for i, (lam_i, mu_i, start_i, budget_i, cap_i) in enumerate(zip(*columns)):
        a, b, k = lam_i / mu_i, 1.0, 0
        while True:
            k += 1
            t = a * b
            b = t / (k + t)
            if k < start_i:
                continue
            p = k * b / (k - a * (1.0 - b))
            w = 0.0 if p < free else math.log(p / free) / (k * mu_i - lam_i)
            if w <= budget_i:
                servers[i], wait[i] = k, w
                break
            if k >= cap_i:
                break
    return servers, wait


def _first_fit_by_recursion(lam, mu, start, budget, cap, quantile):
    """The first count ``c >= start`` whose ``quantile`` wait fits ``budget`` (and ``c <= cap``),
    for flat arrays of points (``1 <= start <= cap``, ``budget >= 0``; ``mu``, ``budget`` and
    ``cap`` may be floats shared by every point).

    The points run in order of ``start`` (a stable radix sort when they are not in order
    already), in cache-sized blocks of ``_SEARCH_BLOCK`` (``_first_fit_block``). Returns
    ``(servers, wait)``, NaN where ``cap`` comes first.
    """
    n = lam.size
    if n <= _FEW_POINTS:
        return _first_fit_few(lam, mu, start, budget, cap, quantile)
    servers, wait = np.full(n, np.nan), np.full(n, np.nan)
    shared = {name: x for name, x in (("mu", mu), ("budget", budget), ("cap", cap)) if np.ndim(x) == 0}
    per_point = {
        name: x for name, x in (("lam", lam), ("mu", mu), ("budget", budget), ("cap", cap)) if name not in shared
    }
    order = None
    if np.any(start[1:] < start[:-1]):  # order by start
        order = np.argsort(start.astype(np.int8 if RECURSION_SERVERS < 128 else np.int64), kind="stable")
    for lo in range(0, n, _SEARCH_BLOCK):
        hi = min(n, lo + _SEARCH_BLOCK)
        points = np.arange(lo, hi) if order is None else order[lo:hi]
        cols = {name: x[lo:hi].copy() if order is None else x[points] for name, x in per_point.items()}
        cols["point"] = points
        _first_fit_block(cols, shared, start[points] if order is not None else start[lo:hi], quantile, servers, wait)
    return servers, wait


#: Points per block of the replica search (its work arrays stay in cache).
_SEARCH_BLOCK = 1 << 15


def _first_fit_block(cols, shared, start, quantile, servers, wait):
    """``_first_fit_by_recursion`` on one block of points in order of ``start``: writes the
    counts found and their waits into ``servers`` and ``wait`` at ``cols["point"]``.

    One upward pass over ``k = 1, 2, …``: Erlang B by its recursion for every point not yet
    decided and, from ``k = start`` on, Erlang C, the wait quantile (``wait_quantile``'s
    expression, so the same bits) and the test. The points under test at step k are one
    contiguous run, whose undecided points are moved to its end after each step (``cols``:
    writable arrays of the block, moved together).
    """
    n = start.size
    free = 1.0 - quantile
    a = cols["a"] = cols["lam"] / cols.get("mu", shared.get("mu"))
    b = cols["b"] = np.ones(n)
    t = np.empty(n)
    lo = hi = k = 0  # points before lo are decided; points in [lo, hi) are under test
    while lo < n:
        k += 1
        np.multiply(a[lo:], b[lo:], out=t[lo:])
        np.add(t[lo:], k, out=b[lo:])
        np.divide(t[lo:], b[lo:], out=b[lo:])
        hi += int(np.searchsorted(start[hi:], k, side="right"))  # points with start <= k
        if hi == lo:
            continue
        run = slice(lo, hi)

        def col(name, run=run):
            return shared[name] if name in shared else cols[name][run]

        br = b[run]
        p = k * br / (k - a[run] * (1.0 - br))
        with np.errstate(divide="ignore"):
            w = np.log(p / free) / (k * col("mu") - cols["lam"][run])
        w[p < free] = 0.0
        fits = w <= col("budget")
        done = fits | (k >= col("cap"))
        decided = np.count_nonzero(done)
        if not decided:
            continue
        if fits.any():
            hit = cols["point"][run][fits]
            servers[hit] = k
            wait[hit] = w[fits]
        if decided == hi - lo:
            lo = hi
            continue
        keep, lo = ~done, lo + decided
        for x in cols.values():  # the undecided points of the run, moved to its end
            x[lo:hi] = x[run][keep]


def min_servers_for_wait(arrival_rate, service_rate, wait_budget, max_servers, search, quantile=0.99):
    """Smallest server count ``c ∈ [1, max_servers]`` whose queue is stable and whose
    ``quantile`` wait is at most ``wait_budget`` [s], for every point.

    arrival_rate λ [1/s] > 0 and service_rate μ [1/s] > 0 broadcast to the *queue* shape (their
    joint shape, usually much smaller than the grid); ``wait_budget``, ``max_servers`` and the
    boolean ``search`` mask broadcast with them to the full shape. The wait quantile falls as
    c grows, so for each point the answer is the first c at or above the smallest stable
    count whose wait fits. Where that smallest stable count is at most ``RECURSION_SERVERS``
    the counts are tried one by one upwards, Erlang B by its recursion carried from one to
    the next (``_first_fit_by_recursion``: a few steps past the stable count, every point at
    once); above, the answer is found by bisection in windows of candidate counts (the wait
    table of a window is computed once per queue, not per point), widening the window for the
    few points not resolved by the first one.

    Returns ``(servers, wait, found)``: the count and its ``quantile`` wait [s] (NaN where not
    found or not searched) and whether a count within ``max_servers`` meets the budget.
    """
    lam, mu = np.broadcast_arrays(np.asarray(arrival_rate, float), np.asarray(service_rate, float))
    queue_shape = lam.shape
    shape = np.broadcast_shapes(queue_shape, np.shape(wait_budget), np.shape(max_servers), np.shape(search))
    lam, mu = lam.reshape(-1), mu.reshape(-1)
    one_per_queue = queue_shape == shape
    queue = (
        np.arange(lam.size)
        if one_per_queue
        else np.broadcast_to(np.arange(lam.size).reshape(queue_shape), shape).reshape(-1)
    )
    budget = np.broadcast_to(np.asarray(wait_budget, float), shape).reshape(-1)
    cap = np.broadcast_to(np.asarray(max_servers, float), shape).reshape(-1)
    servers = np.full(queue.shape, np.nan)
    wait = np.full(queue.shape, np.nan)
    start = min_stable_servers(lam, mu)  # per queue
    start_of = start if one_per_queue else start[queue]
    pending = np.broadcast_to(search, shape).reshape(-1) & (start_of <= cap) & (budget >= 0)  # a wait is >= 0
    stepped = pending & (start_of <= RECURSION_SERVERS)
    if stepped.any():
        points = None if stepped.all() else np.flatnonzero(stepped)

        def of_points(x, per_queue, given=None):  # a value given once for every point stays a float
            if given is not None and np.size(given) == 1:
                return float(np.reshape(given, -1)[0])
            x = x[queue] if per_queue and not one_per_queue else x
            return x if points is None else x[points]

        found_servers, found_wait = _first_fit_by_recursion(
            of_points(lam, True),
            of_points(mu, True, service_rate),
            of_points(start_of, False),
            of_points(budget, False, wait_budget),
            of_points(cap, False, max_servers),
            quantile,
        )
        if points is None:
            servers, wait = found_servers, found_wait
        else:
            servers[points], wait[points] = found_servers, found_wait
        pending &= ~stepped
    width = None
    while pending.any():
        points = np.flatnonzero(pending)
        rows, where = np.unique(queue[points], return_inverse=True)
        if width is None:  # about the square-root staffing margin of the largest load
            span = np.max(cap[points] - start[queue[points]]) + 1
            width = int(min(span, np.ceil(3.0 * np.sqrt(np.max(lam[rows] / mu[rows]))) + 16))
        table = _wait_table(lam[rows], mu[rows], start[rows], width, quantile)
        ok_budget = budget[points]
        lo = np.zeros(points.size, dtype=np.int64)
        hi = np.full(points.size, width, dtype=np.int64)
        for _ in range(int(np.ceil(np.log2(width + 1)))):  # first column whose wait fits
            mid = (lo + hi) // 2
            fits = table[where, np.minimum(mid, width - 1)] <= ok_budget
            fits &= mid < width
            hi = np.where(fits, mid, hi)
            lo = np.where(fits, lo, mid + 1)
        candidate = start[rows][where] + lo
        done = lo < width
        servers[points[done]] = candidate[done]
        wait[points[done]] = table[where[done], lo[done]]
        exhausted = ~done & (start[rows][where] + width > cap[points])
        pending[points[done | exhausted]] = False
        start[rows] += width
        width *= 2
    found = servers <= cap
    servers[~found] = np.nan
    wait[~found] = np.nan
    return servers.reshape(shape), wait.reshape(shape), found.reshape(shape)


def servers_for_wait(arrival_rate, service_rate, wait_budget, max_servers, search, wait_factor=1.0, quantile=0.99):
    """The server count a capacity plan reports, and its ``quantile`` wait [s].

    arrival_rate λ [1/s], service_rate μ [1/s] per server (<= 0: no service), wait_budget [s],
    max_servers, search (bool mask of the points to search), wait_factor (Kingman's factor:
    the M/M/c waits are multiplied by it, so the budget of the M/M/c wait is
    ``wait_budget/wait_factor``).

    Where ``min_servers_for_wait`` finds a count within ``max_servers`` (``search`` points
    only) that count is reported with its wait; elsewhere ``max_servers`` is reported, with
    its wait when that queue is stable (NaN for points not searched) and ∞ when it is
    unstable. Returns ``(servers, wait, found, stable)``; ``stable`` is ``servers·μ > λ``.
    """
    rate = np.where(service_rate > 0, service_rate, np.nan)
    found_servers, fitted_wait, found = min_servers_for_wait(
        arrival_rate, rate, wait_budget / wait_factor, max_servers, search, quantile
    )
    servers = np.where(found, found_servers, max_servers)
    stable = servers * rate > arrival_rate
    if found.all():
        wait = fitted_wait
    else:
        at_cap = np.where(stable, np.nan, np.inf)  # NaN: stable but not searched
        missed = search & ~found & stable  # the wait at max_servers
        if missed.any():
            points = np.flatnonzero(missed)
            lam, mu, c = (np.broadcast_to(x, servers.shape).reshape(-1)[points] for x in (arrival_rate, rate, servers))
            at_cap.reshape(-1)[points] = wait_quantile(erlang_c(lam / mu, c), c, mu, lam, quantile)
        wait = np.where(found, fitted_wait, at_cap)
    return servers, wait * wait_factor, found, stable


def tail_latency_step(arrival_rate, service_time, servers, service_cv) -> dict:
    """Latency quantiles of an M/M/c queue of replicas: TailLatencyModel's question.

    arrival_rate λ [1/s] >= 0, service_time s [s] >= 0 (mean; 0 means no service: unstable),
    servers c >= 1, service_cv (coefficient of variation of the service time; 1: exponential).

    With ``μ = 1/s``, ``A = λ·s``, Erlang C ``C(c, A)`` and Kingman's factor
    ``k = (cv² + 1)/2``::

        p50, p99         = k × wait_quantile(C, 0.5 / 0.99) + s     (inf when unstable)
        queue_utilization = A / c                                  (1 when unstable)
        slo_headroom     = P99 wait / (5 s)                         (1 when unstable)
        wait_probability = C                                        (1 when unstable)

    Stable means ``μ > 0`` and ``λ < c·μ``. A NaN input gives NaN outputs. Returns
    TailLatencyModel's outputs (``p50_latency``, ``p99_latency``, ``queue_utilization``,
    ``is_stable``, ``slo_headroom_ratio``, ``wait_probability``).
    """
    lam = np.asarray(arrival_rate)
    service = np.asarray(service_time)
    c = np.asarray(servers)
    with np.errstate(divide="ignore"):
        rate = np.where(service > 0, 1.0 / service, 0.0)
    load = lam * service
    stable = (rate > 0) & (lam < c * rate)
    p_wait = erlang_c(load, c)  # 1 where unstable
    k = kingman_factor(service_cv)
    w50 = wait_quantile(p_wait, c, rate, lam, 0.5)
    w99 = wait_quantile(p_wait, c, rate, lam, 0.99)
    if not (np.ndim(k) == 0 and k == 1.0):  # x·1 is x
        w50, w99 = w50 * k, w99 * k
    with np.errstate(divide="ignore", invalid="ignore"):
        headroom = w99 / (5.0 * service)
    unknown = np.isnan(load * c * k)  # a NaN input stays NaN

    if stable.all() and not unknown.any():  # nothing to select: the stable values, broadcast

        def pick(value, otherwise):
            value = np.asarray(value)
            shape = np.broadcast_shapes(stable.shape, value.shape, unknown.shape)
            return value if value.shape == shape else np.broadcast_to(value, shape).copy()
    else:

        def pick(value, otherwise):
            return np.where(stable, value, np.where(unknown, np.nan, otherwise))

    return {
        "p50_latency": pick(w50 + service, np.inf),
        "p99_latency": pick(w99 + service, np.inf),
        "queue_utilization": pick(load / c, 1.0),
        "is_stable": stable,
        "slo_headroom_ratio": pick(headroom, 1.0),
        "wait_probability": pick(p_wait, 1.0),
    }
