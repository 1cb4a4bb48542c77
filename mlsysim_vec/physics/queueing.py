"""Queueing kernels: the M/M/c queue with Erlang C in log space, its wait quantiles, the
Kingman correction, and the smallest server count that meets a wait budget.

Pure numpy functions of float arrays (rates in 1/s, times in s); no Python loop over
configurations or over server counts (the loops below run over chunks of points and over
windows of candidate counts).

The M/M/c queue (Erlang 1917; Kleinrock, "Queueing Systems" vol. 1, 1975, section 3.5): arrivals at
λ, c servers of rate μ each, offered load ``A = λ/μ``, utilisation ``ρ = A/c``. The probability
that an arrival waits is Erlang C,

    C(c, A) = T / (S + T),  S = Σ_{i<c} A^i/i!,  T = A^c/(c!·(1 − ρ)),

and the wait is exponential beyond: ``P(W > t) = C·e^{−(cμ − λ)t}``, so the q-quantile of the
wait is ``ln(C/(1 − q))/(cμ − λ)`` when ``C ≥ 1 − q``, else 0. The sums are evaluated in log
space on a window of terms around the largest (the Poisson terms ``A^i/i!`` fall off as
``e^{−k²/2A}`` at ``k`` from the mode; the window keeps every term above ``e^{−40}`` of the
largest), so any server count works without overflow. With a general service-time
distribution the waits are scaled by Kingman's factor ``(cv² + 1)/2`` (Kingman, "The single
server queue in heavy traffic", Math. Proc. Cambridge Phil. Soc. 57(4), 1961,
doi:10.1017/S0305004100036094), as mlsysim 0.3.0 does. See ``docs/equations.md``, section
"Queueing".

Two step functions compose these kernels: ``tail_latency_step`` (TailLatencyModel: the
latency quantiles of a given queue) and ``servers_for_wait`` (the replica count of
ServingCapacityModel, ``physics.serving.serving_capacity_step``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "log_factorial",
    "log_poisson_head",
    "log_poisson_heads",
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


def erlang_c(load, servers):
    """Erlang C: probability that an arrival waits in an M/M/c queue (broadcast arrays).

    load : offered load ``A = λ/μ`` [dimensionless], >= 0 (NaN: not evaluated)
    servers : c, whole numbers >= 1
    Returns 1 where the queue is unstable (``A >= c``) and 0 where ``A = 0``.

    When the loads and the server counts vary along different dimensions (a sweep of replica
    counts), the head sums of every load come from one cumulative log-sum-exp over
    ``c = 1 … max c``; otherwise each point sums its own window of terms.
    """
    load, servers = np.asarray(load, float), np.asarray(servers, float)
    shape = np.broadcast_shapes(load.shape, servers.shape)
    a, c = (x.reshape(-1) for x in np.broadcast_arrays(load, servers))
    out = np.where(a > 0, 1.0, 0.0)
    out[np.isnan(a) | np.isnan(c)] = np.nan
    live = (a > 0) & (a < c)
    if not live.any():
        return out.reshape(shape)
    c_max = float(c[live].max())
    live_loads = np.isfinite(load) & (load > 0)
    by_column = (
        _separable(load.shape, servers.shape)
        and c_max < _TABLE_MAX
        and np.count_nonzero(live_loads) * c_max <= np.sum(np.minimum(c[live], 2 * _half_window(a[live]) + 1))
    )
    if by_column:
        rows = np.flatnonzero(live_loads.reshape(-1))
        row_of = np.full(load.size, -1)
        row_of[rows] = np.arange(rows.size)
        row = np.broadcast_to(row_of.reshape(load.shape), shape).reshape(-1)[live]
        log_head = log_poisson_heads(load.reshape(-1)[rows], c_max)[row, c[live].astype(np.int64) - 1]
    else:
        log_head = log_poisson_head(a[live], c[live])
    al, cl = a[live], c[live]
    log_t = cl * np.log(al) - log_factorial(cl) - np.log1p(-al / cl)
    with np.errstate(over="ignore"):
        out[live] = 1.0 / (1.0 + np.exp(log_head - log_t))
    return out.reshape(shape)


def wait_quantile(p_wait, servers, service_rate, arrival_rate, quantile):
    """q-quantile of the M/M/c wait [s]: ``ln(C/(1 − q))/(cμ − λ)`` when ``C >= 1 − q``,
    else 0 (``C`` = Erlang C). Callers pass stable points (``cμ > λ``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.log(p_wait / (1.0 - quantile)) / (servers * service_rate - arrival_rate)
    return np.where(p_wait < 1.0 - quantile, 0.0, wait)


def kingman_factor(cv):
    """Kingman's heavy-traffic correction of the M/M/c waits for a service-time coefficient of
    variation ``cv``: ``(cv² + 1)/2`` (1 for exponential service)."""
    return (cv * cv + 1.0) / 2.0


def min_stable_servers(arrival_rate, service_rate):
    """Smallest whole c with ``c·μ > λ`` (a stable queue)."""
    c = np.floor(arrival_rate / service_rate) + 1.0
    c = np.where((c - 1.0) * service_rate > arrival_rate, c - 1.0, c)  # float rounding of λ/μ
    c = np.where(c * service_rate <= arrival_rate, c + 1.0, c)
    return np.maximum(c, 1.0)


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


def min_servers_for_wait(arrival_rate, service_rate, wait_budget, max_servers, search, quantile=0.99):
    """Smallest server count ``c ∈ [1, max_servers]`` whose queue is stable and whose
    ``quantile`` wait is at most ``wait_budget`` [s], for every point.

    arrival_rate λ [1/s] > 0 and service_rate μ [1/s] > 0 broadcast to the *queue* shape (their
    joint shape, usually much smaller than the grid); ``wait_budget``, ``max_servers`` and the
    boolean ``search`` mask broadcast with them to the full shape. The wait quantile falls as
    c grows, so for each point the answer is the first c at or above the smallest stable
    count whose wait fits: it is found by bisection in windows of candidate counts (the wait
    table of a window is computed once per queue, not per point), widening the window for the
    few points not resolved by the first one.

    Returns ``(servers, wait, found)``: the count and its ``quantile`` wait [s] (NaN where not
    found or not searched) and whether a count within ``max_servers`` meets the budget.
    """
    lam, mu = np.broadcast_arrays(np.asarray(arrival_rate, float), np.asarray(service_rate, float))
    queue_shape = lam.shape
    shape = np.broadcast_shapes(queue_shape, np.shape(wait_budget), np.shape(max_servers), np.shape(search))
    lam, mu = lam.reshape(-1), mu.reshape(-1)
    queue = np.broadcast_to(np.arange(lam.size).reshape(queue_shape), shape).reshape(-1)
    budget = np.broadcast_to(wait_budget, shape).reshape(-1)
    cap = np.broadcast_to(max_servers, shape).reshape(-1)
    servers = np.full(queue.shape, np.nan)
    wait = np.full(queue.shape, np.nan)
    start = min_stable_servers(lam, mu)  # per queue
    pending = np.broadcast_to(search, shape).reshape(-1) & (start[queue] <= cap) & ~np.isnan(budget)
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
    missed = search & ~found & stable  # the wait at max_servers
    p_wait = erlang_c(np.where(missed, arrival_rate / rate, np.nan), np.where(missed, servers, 1.0))
    at_cap = np.where(stable, wait_quantile(p_wait, servers, rate, arrival_rate, quantile), np.inf)
    wait = np.where(found, fitted_wait, at_cap) * wait_factor
    return servers, wait, found, stable


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
    w50 = wait_quantile(p_wait, c, rate, lam, 0.5) * k
    w99 = wait_quantile(p_wait, c, rate, lam, 0.99) * k
    with np.errstate(divide="ignore", invalid="ignore"):
        headroom = w99 / (5.0 * service)
    unknown = np.isnan(load * c * k)  # a NaN input stays NaN

    def unstable(value):
        return np.where(unknown, np.nan, value)

    return {
        "p50_latency": np.where(stable, w50 + service, unstable(np.inf)),
        "p99_latency": np.where(stable, w99 + service, unstable(np.inf)),
        "queue_utilization": np.where(stable, load / c, unstable(1.0)),
        "is_stable": stable,
        "slo_headroom_ratio": np.where(stable, headroom, unstable(1.0)),
        "wait_probability": np.where(stable, p_wait, unstable(1.0)),
    }
