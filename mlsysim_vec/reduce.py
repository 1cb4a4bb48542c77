"""Reduction kernels of the optimizers: masked argmax/argmin, top-k and the 2-objective Pareto front.

Each reduction is a numba gufunc over one 1-D core slice, compiled on first use
(``target="cpu"``, ``nopython``, ``cache=False``; numba is imported then, never at
``import mlsysim_vec``, docs/differences.md, D18), paired with a plain-numpy reference of the same contract
in one table, :data:`KERNELS`, that the tests and benchmarks read (as numbagg pairs each of its
kernels with a numpy reference). The public functions move the reduced axes to the end, flatten them
(C order) and call the gufunc; the leading axes broadcast.

On dask arrays the same functions run chunk → combine → finalize (as flox's
arg-reductions do), so the answer does not depend on the chunking:

* ``masked_argmax`` — each block gives (best value, *global* flat index, count) per slice; two
  states combine by keeping the better value (ties: the smaller global index, i.e. the first in
  C order) and adding the counts.
* ``top_k`` — each block gives its k best (value, global index) per slice; states combine by
  sorting their union by (validity, value, global index) and keeping k.
* ``pareto_front_along`` — each block gives its own front per slice (the distinct
  non-dominated points, NaN-padded); states combine into the front of their union. A point
  dominated within its block is dominated in the whole set, so the union of block fronts holds
  the global front S. Finalize marks each block: a point is on the global front iff it is on
  the front of (its block's points ∪ S) — whatever dominates it, some point of S dominates it
  too (domination is transitive).

Blocks that share their position along the kept axes are tree-combined, ``SPLIT_EVERY`` states
at a time; the outputs keep the input's chunks along the kept axes.

Values are compared in float64. NaN and masked-out points never win; a slice with nothing
valid gives the sentinel ``index = -1``, ``best = NaN``, ``n_valid = 0`` (never an exception).
"""

from __future__ import annotations

import operator
import threading

import numpy as np

__all__ = ["masked_argmax", "top_k", "pareto_front", "pareto_front_along", "KERNELS", "SPLIT_EVERY"]

#: How many chunk states one combine step of the dask tree reduction merges.
SPLIT_EVERY = 8


# ---------------------------------------------------------------------------- numba kernels
# Plain Python functions over one core slice; numba compiles them in ``_gufunc`` on first use.


def _masked_argmax_kernel(values, mask, minimize, index, best, n_valid):
    """First position of the largest (smallest) allowed non-NaN value of one slice."""
    count = 0
    at = -1
    top = np.nan
    if minimize:
        for i in range(values.shape[0]):
            v = values[i]
            if mask[i] and v == v:
                if count == 0 or v < top:
                    at = i
                    top = v
                count += 1
    else:
        for i in range(values.shape[0]):
            v = values[i]
            if mask[i] and v == v:
                if count == 0 or v > top:
                    at = i
                    top = v
                count += 1
    index[0] = at
    best[0] = top
    n_valid[0] = count


def _top_k_kernel(values, mask, minimize, width, index, best):
    """The k best allowed non-NaN values of one slice, best first, ties in position order.

    A sorted buffer of k entries: a value enters only if strictly better than the buffer's
    worst, and sinks past the entries it strictly beats, so equal values keep their order.
    O(n) when few values enter, O(n·k) at worst. ``width`` (length k) only carries k.
    """
    k = index.shape[0]
    held = 0
    for i in range(values.shape[0]):
        v = values[i]
        if not mask[i] or v != v:
            continue
        if held == k:
            if not (v < best[k - 1] if minimize else v > best[k - 1]):
                continue
            pos = k - 1
        else:
            pos = held
            held += 1
        while pos > 0 and (v < best[pos - 1] if minimize else v > best[pos - 1]):
            best[pos] = best[pos - 1]
            index[pos] = index[pos - 1]
            pos -= 1
        best[pos] = v
        index[pos] = i
    for j in range(held, k):
        index[j] = -1
        best[j] = np.nan


def _pareto_kernel(a, b, mask, minimize_a, minimize_b, front):
    """Non-dominated mask of one slice of 2-objective points (sort by a, sweep).

    In the orientation where both objectives are minimised, a point p is dominated iff some
    point has a smaller a and b <= p.b, or the same a and a smaller b. Sorting by a and
    sweeping the groups of equal a with the running minimum of b over the earlier groups
    decides every point: O(n log n).
    """
    n = a.shape[0]
    sign_a = 1.0 if minimize_a else -1.0
    sign_b = 1.0 if minimize_b else -1.0
    valid = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        front[i] = False
        if mask[i] and a[i] == a[i] and b[i] == b[i]:
            valid[m] = i
            m += 1
    key_a = np.empty(m)
    key_b = np.empty(m)
    for j in range(m):
        key_a[j] = sign_a * a[valid[j]]
        key_b[j] = sign_b * b[valid[j]]
    order = np.argsort(key_a)
    earlier = False
    lowest = np.inf
    start = 0
    while start < m:
        group_a = key_a[order[start]]
        group_min = key_b[order[start]]
        stop = start + 1
        while stop < m and key_a[order[stop]] == group_a:
            group_min = min(group_min, key_b[order[stop]])
            stop += 1
        if not earlier or group_min < lowest:
            for t in range(start, stop):
                if key_b[order[t]] == group_min:
                    front[valid[order[t]]] = True
            lowest = group_min
        earlier = True
        start = stop


_COMPILED: dict = {}
_COMPILE_LOCK = threading.Lock()


def _compile(name: str):
    """Compile one kernel into a gufunc (imports numba; no caching: see ``_gufunc``)."""
    from numba import boolean, float64, guvectorize, int64

    specs = {
        "masked_argmax": (
            _masked_argmax_kernel,
            [(float64[:], boolean[:], boolean, int64[:], float64[:], int64[:])],
            "(n),(n),()->(),(),()",
        ),
        "top_k": (
            _top_k_kernel,
            [(float64[:], boolean[:], boolean, boolean[:], int64[:], float64[:])],
            "(n),(n),(),(k)->(k),(k)",
        ),
        "pareto_front": (
            _pareto_kernel,
            [(float64[:], float64[:], boolean[:], boolean, boolean, boolean[:])],
            "(n),(n),(n),(),()->(n)",
        ),
    }
    kernel, signatures, layout = specs[name]
    return guvectorize(signatures, layout, target="cpu", nopython=True, cache=False)(kernel)


def _gufunc(name: str):
    """The compiled gufunc of kernel ``name``, compiled once per process on first use."""
    if name not in _COMPILED:
        with _COMPILE_LOCK:
            if name not in _COMPILED:
                _COMPILED[name] = _compile(name)
    return _COMPILED[name]


# ---------------------------------------------------------------------------- argument handling
def _is_dask(x) -> bool:
    return hasattr(x, "dask")


def _axes(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (int, tuple of ints or None = all) as sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    items = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for item in items:
        try:
            a = operator.index(item)
        except TypeError:
            raise TypeError(f"axis must be an int or a tuple of ints, got {axis!r}") from None
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {item} is out of bounds for the {ndim}-d inputs (axis={axis!r})")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axis {axis!r} repeats an axis")
    return tuple(sorted(out))


def _check_values(x, name: str):
    kind = np.dtype(x.dtype).kind
    if kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {x.dtype}")


def _check_mask(mask):
    if np.dtype(mask.dtype).kind != "b":
        raise TypeError(f"mask must be a boolean array (True = allowed), got dtype {mask.dtype}")


def _names(arrays):
    return ("values",) if len(arrays) == 1 else ("objective_a", "objective_b")


def _broadcast_shape(arrays, mask):
    shapes = [x.shape for x in arrays] + ([] if mask is None else [mask.shape])
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        names = list(_names(arrays)) + ([] if mask is None else ["mask"])
        given = ", ".join(f"{n} {tuple(sh)}" for n, sh in zip(names, shapes))
        raise ValueError(f"the shapes do not broadcast together: {given}") from None


def _eager(arrays, mask):
    """numpy float64 arrays and a bool mask (None → all True), broadcast to one shape."""
    arrays = [np.asarray(x) for x in arrays]
    for x, name in zip(arrays, _names(arrays)):
        _check_values(x, name)
    if mask is not None:
        mask = np.asarray(mask)
        _check_mask(mask)
    shape = _broadcast_shape(arrays, mask)
    arrays = [np.broadcast_to(x.astype(np.float64, copy=False), shape) for x in arrays]
    mask = np.broadcast_to(True if mask is None else mask, shape)
    return arrays, mask, shape


def _flatten(x, axes):
    """Move ``axes`` to the end and flatten them in C order: shape (kept..., n)."""
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    kept = moved.ndim - len(axes)
    return moved.reshape(moved.shape[:kept] + (int(np.prod(moved.shape[kept:], dtype=np.int64)),))


def _unflatten(flat, shape, axes):
    """Inverse of ``_flatten`` for a same-size output."""
    kept = [n for d, n in enumerate(shape) if d not in axes]
    moved = flat.reshape(tuple(kept) + tuple(shape[d] for d in axes))
    return np.moveaxis(moved, tuple(range(len(kept), len(shape))), axes)


def _check_k(k) -> int:
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"k must be an integer, got {k!r}") from None
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return k


def _check_minimize_pair(minimize):
    try:
        pair = tuple(bool(m) for m in minimize)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise ValueError(f"minimize must be a pair of booleans (objective_a, objective_b), got {minimize!r}")
    return pair


# ---------------------------------------------------------------------------- eager: numba and numpy
def _masked_argmax_numba(values, mask=None, axis=-1, minimize=False):
    """numba engine of :func:`masked_argmax` on numpy inputs."""
    (v,), m, shape = _eager([values], mask)
    axes = _axes(axis, len(shape))
    index, best, n_valid = _gufunc("masked_argmax")(_flatten(v, axes), _flatten(m, axes), bool(minimize))
    return np.asarray(index), np.asarray(best), np.asarray(n_valid)


def _masked_argmax_numpy(values, mask=None, axis=-1, minimize=False):
    """numpy reference of :func:`masked_argmax`: arg-max of ``where(valid, values, -inf)``, then
    the first valid position where only (valid) -inf values remain, and the sentinel."""
    (v,), m, shape = _eager([values], mask)
    axes = _axes(axis, len(shape))
    v, m = _flatten(v, axes), _flatten(m, axes)
    valid = m & ~np.isnan(v)
    n_valid = valid.sum(axis=-1, dtype=np.int64)
    if v.shape[-1] == 0:
        return np.full(n_valid.shape, -1, np.int64), np.full(n_valid.shape, np.nan), np.asarray(n_valid)
    filled = np.where(valid, v, np.inf if minimize else -np.inf)
    index = (np.argmin if minimize else np.argmax)(filled, axis=-1)
    won = np.take_along_axis(valid, index[..., None], axis=-1)[..., 0]
    index = np.where(won, index, np.argmax(valid, axis=-1))
    best = np.take_along_axis(v, index[..., None], axis=-1)[..., 0]
    return np.where(n_valid > 0, index, -1).astype(np.int64), np.where(n_valid > 0, best, np.nan), np.asarray(n_valid)


def _top_k_numba(values, k, mask=None, axis=-1, minimize=False):
    """numba engine of :func:`top_k` on numpy inputs."""
    k = _check_k(k)
    (v,), m, shape = _eager([values], mask)
    axes = _axes(axis, len(shape))
    width = np.broadcast_to(False, (k,))
    index, best = _gufunc("top_k")(_flatten(v, axes), _flatten(m, axes), bool(minimize), width)
    return np.asarray(index), np.asarray(best)


def _top_k_numpy(values, k, mask=None, axis=-1, minimize=False):
    """numpy reference of :func:`top_k`: a stable lexsort by (invalid, ∓value), first k, padded."""
    k = _check_k(k)
    (v,), m, shape = _eager([values], mask)
    axes = _axes(axis, len(shape))
    v, m = _flatten(v, axes), _flatten(m, axes)
    valid = m & ~np.isnan(v)
    key = np.where(valid, v if minimize else -v, 0.0)
    order = np.lexsort((key, ~valid), axis=-1)[..., :k]
    taken = np.take_along_axis(valid, order, axis=-1)
    index = np.where(taken, order, -1).astype(np.int64)
    best = np.where(taken, np.take_along_axis(v, order, axis=-1), np.nan)
    pad = k - index.shape[-1]
    if pad > 0:
        widths = [(0, 0)] * (index.ndim - 1) + [(0, pad)]
        index = np.pad(index, widths, constant_values=-1)
        best = np.pad(best, widths, constant_values=np.nan)
    return index, best


def _pareto_numba(objective_a, objective_b, mask=None, minimize=(True, True), axis=None):
    """numba engine of :func:`pareto_front_along` on numpy inputs (``axis=None``: all elements,
    i.e. :func:`pareto_front`)."""
    min_a, min_b = _check_minimize_pair(minimize)
    (a, b), m, shape = _eager([objective_a, objective_b], mask)
    axes = _axes(axis, len(shape))
    flat = _gufunc("pareto_front")(_flatten(a, axes), _flatten(b, axes), _flatten(m, axes), min_a, min_b)
    return _unflatten(np.asarray(flat), shape, axes)


def _pareto_numpy(objective_a, objective_b, mask=None, minimize=(True, True), axis=None):
    """numpy reference of :func:`pareto_front_along`: lexsort by (invalid, a, b) in the
    minimising orientation; a point is on the front iff its b is its equal-a group's minimum and
    below the running minimum of b over the earlier groups."""
    min_a, min_b = _check_minimize_pair(minimize)
    (a, b), m, shape = _eager([objective_a, objective_b], mask)
    axes = _axes(axis, len(shape))
    a, b, m = _flatten(a, axes), _flatten(b, axes), _flatten(m, axes)
    valid = m & ~np.isnan(a) & ~np.isnan(b)
    key_a = np.where(valid, a if min_a else -a, 0.0)
    key_b = np.where(valid, b if min_b else -b, 0.0)
    order = np.lexsort((key_b, key_a, ~valid), axis=-1)
    sa, sb, sv = (np.take_along_axis(x, order, axis=-1) for x in (key_a, key_b, valid))
    n = sa.shape[-1]
    position = np.broadcast_to(np.arange(n), sa.shape)
    starts = np.ones(sa.shape, bool)
    starts[..., 1:] = sa[..., 1:] != sa[..., :-1]
    group = np.maximum.accumulate(np.where(starts, position, 0), axis=-1)
    running = np.minimum.accumulate(sb, axis=-1)
    before = np.take_along_axis(running, np.maximum(group - 1, 0), axis=-1)
    group_min = np.take_along_axis(sb, group, axis=-1)
    on = sv & (sb == group_min) & ((group == 0) | (sb < before))
    flat = np.empty(on.shape, bool)
    np.put_along_axis(flat, order, on, axis=-1)
    return _unflatten(flat, shape, axes)


#: name -> (numba engine, numpy reference): the same contract on numpy inputs, each with the
#: signature of the public function; the ``pareto_front`` pair also takes a trailing
#: ``axis=None`` (None: all elements, as ``pareto_front``; else as ``pareto_front_along``).
KERNELS = {
    "masked_argmax": (_masked_argmax_numba, _masked_argmax_numpy),
    "top_k": (_top_k_numba, _top_k_numpy),
    "pareto_front": (_pareto_numba, _pareto_numpy),
}


# ---------------------------------------------------------------------------- dask: chunk → combine → finalize
def _dask_inputs(arrays, mask):
    """dask arrays (mask None or bool) broadcast to one shape and one chunking."""
    import dask.array as da
    from dask.array.core import unify_chunks

    arrays = [da.asarray(x) for x in arrays]
    for x, name in zip(arrays, _names(arrays)):
        _check_values(x, name)
    arrays = [x.astype(np.float64) for x in arrays]
    if mask is not None:
        mask = da.asarray(mask)
        _check_mask(mask)
    _broadcast_shape(arrays, mask)
    parts = da.broadcast_arrays(*arrays, *(() if mask is None else (mask,)))
    index = tuple(range(parts[0].ndim))
    _, parts = unify_chunks(*(y for x in parts for y in (x, index)))
    if mask is None:
        return list(parts), None
    return list(parts[:-1]), parts[-1]


def _global_index(local, block_shape, offsets, shape):
    """Flat C-order index within the reduced axes of the whole array, from one within a block."""
    if not shape:
        return local
    out = np.full(local.shape, -1, np.int64)
    hit = local >= 0
    coords = np.unravel_index(local[hit], block_shape)
    out[hit] = np.ravel_multi_index(tuple(c + o for c, o in zip(coords, offsets)), shape)
    return out


def _tree(arrays, mask, axes, chunk, combine, params):
    """Chunk every block, tree-combine the blocks that share their position along the kept axes.

    ``chunk(*blocks, mask_block, axes, offsets, reduced_shape, *params) -> state`` (``offsets``:
    the block's start along each reduced axis); ``combine(states, *params) -> state``.
    Returns ({kept block id: delayed state}, kept axes, kept block ids in C order).
    """
    from dask import delayed

    first = arrays[0]
    blocks = [x.to_delayed(optimize_graph=False) for x in arrays]
    mask_blocks = None if mask is None else mask.to_delayed(optimize_graph=False)
    kept = tuple(d for d in range(first.ndim) if d not in axes)
    starts = [np.concatenate(([0], np.cumsum(c)[:-1])).astype(int) for c in first.chunks]
    reduced_shape = tuple(first.shape[d] for d in axes)
    chunk_d, combine_d = delayed(chunk, pure=True), delayed(combine, pure=True)
    states = {}
    kept_ids = list(np.ndindex(*(first.numblocks[d] for d in kept)))
    for kept_id in kept_ids:
        parts = []
        for red_id in np.ndindex(*(first.numblocks[d] for d in axes)):
            block_id = [0] * first.ndim
            for d, j in zip(kept + axes, kept_id + red_id):
                block_id[d] = j
            block_id = tuple(block_id)
            offsets = tuple(int(starts[d][j]) for d, j in zip(axes, red_id))
            parts.append(
                chunk_d(
                    *(x[block_id] for x in blocks),
                    None if mask_blocks is None else mask_blocks[block_id],
                    axes,
                    offsets,
                    reduced_shape,
                    *params,
                )
            )
        while len(parts) > 1:
            parts = [combine_d(parts[i : i + SPLIT_EVERY], *params) for i in range(0, len(parts), SPLIT_EVERY)]
        states[kept_id] = parts[0]
    return states, kept, kept_ids


def _assemble(pieces: dict, ndim: int):
    """One dask array from a dict {block id: dask array}, concatenating along axes 0..ndim-1."""
    import dask.array as da

    def level(prefix, depth):
        if depth == ndim:
            return pieces[prefix]
        ids = sorted({key[depth] for key in pieces if key[:depth] == prefix})
        return da.concatenate([level(prefix + (j,), depth + 1) for j in ids], axis=depth)

    return level((), 0)


def _block_shape(x, block_id, dims):
    return tuple(x.chunks[d][block_id[i]] for i, d in enumerate(dims))


def _fields(states, kept_ids, kept, like, specs):
    """Finalize: one dask array per field of the combined states; ``specs`` = [(dtype, extra shape)]."""
    import dask.array as da
    from dask import delayed

    field = delayed(operator.getitem, pure=True)
    return tuple(
        _assemble(
            {
                kid: da.from_delayed(field(states[kid], i), shape=_block_shape(like, kid, kept) + extra, dtype=dtype)
                for kid in kept_ids
            },
            len(kept),
        )
        for i, (dtype, extra) in enumerate(specs)
    )


def _argmax_chunk(values, mask, axes, offsets, reduced_shape, minimize):
    """State of one block: (global index, best, n_valid) per kept position."""
    index, best, n_valid = _masked_argmax_numba(values, mask, axes, minimize)
    block_shape = tuple(values.shape[d] for d in axes)
    return _global_index(index, block_shape, offsets, reduced_shape), best, n_valid


def _argmax_combine(states, minimize):
    """The better value (ties: the smaller global index); counts add."""
    index, best, n_valid = (np.stack(field, axis=-1) for field in zip(*states))
    valid = n_valid > 0
    top = (np.min if minimize else np.max)(np.where(valid, best, np.inf if minimize else -np.inf), axis=-1)
    won = valid & (best == top[..., None])
    at = np.min(np.where(won, index, np.iinfo(np.int64).max), axis=-1)
    total = n_valid.sum(axis=-1)
    return np.where(total > 0, at, -1), np.where(total > 0, top, np.nan), np.asarray(total)


def _top_k_chunk(values, mask, axes, offsets, reduced_shape, k, minimize):
    """State of one block: its k best (global index, value) per kept position."""
    index, best = _top_k_numba(values, k, mask, axes, minimize)
    block_shape = tuple(values.shape[d] for d in axes)
    return _global_index(index, block_shape, offsets, reduced_shape), best


def _top_k_combine(states, k, minimize):
    """The k best of the union, ordered by (validity, value, global index)."""
    index = np.concatenate([s[0] for s in states], axis=-1)
    best = np.concatenate([s[1] for s in states], axis=-1)
    valid = index >= 0
    key = np.where(valid, best if minimize else -best, 0.0)
    order = np.lexsort((index, key, ~valid), axis=-1)[..., :k]
    return np.take_along_axis(index, order, axis=-1), np.take_along_axis(best, order, axis=-1)


def _pareto_state(a, b, front):
    """The distinct points of a front, packed to the left of the last axis and NaN-padded to
    the largest count of the kept positions."""
    order = np.lexsort((np.where(front, a, 0.0), ~front), axis=-1)
    sa, sb, sf = (np.take_along_axis(x, order, axis=-1) for x in (a, b, front))
    keep = sf.copy()
    keep[..., 1:] &= ~(sf[..., :-1] & (sa[..., 1:] == sa[..., :-1]))  # on a front, equal a ⇒ equal b
    width = int(keep.sum(axis=-1).max(initial=0))
    pack = np.argsort(~keep, axis=-1, kind="stable")[..., :width]
    kept = np.take_along_axis(keep, pack, axis=-1)
    return (
        np.where(kept, np.take_along_axis(sa, pack, axis=-1), np.nan),
        np.where(kept, np.take_along_axis(sb, pack, axis=-1), np.nan),
    )


def _pareto_chunk(a, b, mask, axes, offsets, reduced_shape, minimize):
    """State of one block: its front per kept position (``offsets`` are not needed)."""
    (a, b), m, _ = _eager([a, b], mask)
    a, b, m = _flatten(a, axes), _flatten(b, axes), _flatten(m, axes)
    return _pareto_state(a, b, _gufunc("pareto_front")(a, b, m, *minimize))


def _pareto_combine(states, minimize):
    """The front of the union of the states' fronts."""
    a = np.concatenate([s[0] for s in states], axis=-1)
    b = np.concatenate([s[1] for s in states], axis=-1)
    return _pareto_state(a, b, _gufunc("pareto_front")(a, b, np.broadcast_to(True, a.shape), *minimize))


def _pareto_mark(a, b, mask, state, axes, minimize):
    """Finalize one block: its points that are on the front of (block ∪ global front)."""
    (a, b), m, shape = _eager([a, b], mask)
    fa, fb, fm = _flatten(a, axes), _flatten(b, axes), _flatten(m, axes)
    n = fa.shape[-1]
    sa, sb = state
    union_mask = np.concatenate([fm, np.broadcast_to(True, sa.shape)], axis=-1)
    front = _gufunc("pareto_front")(
        np.concatenate([fa, sa], axis=-1), np.concatenate([fb, sb], axis=-1), union_mask, *minimize
    )
    return _unflatten(np.ascontiguousarray(front[..., :n]), shape, axes)


def _argmax_dask(values, mask, axis, minimize):
    (v,), m = _dask_inputs([values], mask)
    axes = _axes(axis, v.ndim)
    states, kept, kept_ids = _tree([v], m, axes, _argmax_chunk, _argmax_combine, (bool(minimize),))
    return _fields(states, kept_ids, kept, v, [(np.int64, ()), (np.float64, ()), (np.int64, ())])


def _top_k_dask(values, k, mask, axis, minimize):
    (v,), m = _dask_inputs([values], mask)
    axes = _axes(axis, v.ndim)
    states, kept, kept_ids = _tree([v], m, axes, _top_k_chunk, _top_k_combine, (k, bool(minimize)))
    return _fields(states, kept_ids, kept, v, [(np.int64, (k,)), (np.float64, (k,))])


def _pareto_dask(objective_a, objective_b, mask, axis, minimize):
    import dask.array as da
    from dask import delayed

    (a, b), m = _dask_inputs([objective_a, objective_b], mask)
    axes = _axes(axis, a.ndim)
    states, kept, _ = _tree([a, b], m, axes, _pareto_chunk, _pareto_combine, (minimize,))
    mark = delayed(_pareto_mark, pure=True)
    blocks = [x.to_delayed(optimize_graph=False) for x in (a, b)]
    mask_blocks = None if m is None else m.to_delayed(optimize_graph=False)
    pieces = {}
    for block_id in np.ndindex(*a.numblocks):
        piece = mark(
            blocks[0][block_id],
            blocks[1][block_id],
            None if mask_blocks is None else mask_blocks[block_id],
            states[tuple(block_id[d] for d in kept)],
            axes,
            minimize,
        )
        pieces[block_id] = da.from_delayed(piece, shape=_block_shape(a, block_id, range(a.ndim)), dtype=bool)
    return _assemble(pieces, a.ndim)


# ---------------------------------------------------------------------------- public functions
def masked_argmax(values, mask=None, axis=-1, minimize=False):
    """Position, value and valid count of the best allowed value along ``axis``.

    Parameters
    ----------
    values : array_like or dask array of real numbers [any unit; compared in float64]
    mask : bool array broadcastable with ``values``, True = allowed; None = all allowed
    axis : int, tuple of ints or None
        The reduced axes; several are reduced together as if flattened in C order (in the
        arrays' own axis order, whatever the order given); None: all axes.
    minimize : bool
        Argmin instead of argmax.

    Returns
    -------
    index : int64 array [position]
        Flat C-order position of the winner within the reduced axes; -1 when nothing is valid.
    best : float64 array [unit of values]
        The winning value; NaN when nothing is valid.
    n_valid : int64 array [count]
        Allowed, non-NaN values per slice.

    NaN and masked-out values never win; ties go to the first position in C order; ±inf are
    ordinary values. Dask inputs give lazy dask outputs that do not depend on the chunking.
    """
    if _is_dask(values) or _is_dask(mask):
        return _argmax_dask(values, mask, axis, minimize)
    return _masked_argmax_numba(values, mask, axis, minimize)


def top_k(values, k, mask=None, axis=-1, minimize=False):
    """The ``k`` best allowed values along ``axis``, best first.

    Parameters as :func:`masked_argmax`, and ``k`` (int >= 1, may exceed the slice length).

    Returns
    -------
    indices : int64 array [..., k] [position]
        Flat C-order positions within the reduced axes, best first; ties in position order;
        ``-1`` padding at the end when fewer than k values are valid.
    best : float64 array [..., k] [unit of values]
        The values at those positions; ``NaN`` padding.
    """
    k = _check_k(k)
    if _is_dask(values) or _is_dask(mask):
        return _top_k_dask(values, k, mask, axis, minimize)
    return _top_k_numba(values, k, mask, axis, minimize)


def pareto_front_along(objective_a, objective_b, mask=None, axis=-1, minimize=(True, True)):
    """Non-dominated mask of 2-objective points within each slice along ``axis``.

    Parameters
    ----------
    objective_a, objective_b : arrays (numpy or dask) of real numbers, broadcastable [any units]
    mask : bool array broadcastable with them, True = allowed; None = all allowed
    axis : int, tuple of ints or None
        The axes whose points compete (flattened together); the other axes index independent
        slices. None: all axes (:func:`pareto_front`).
    minimize : (bool, bool)
        Whether each objective is minimised (False: maximised).

    Returns
    -------
    bool array, the broadcast shape of the inputs: True where a point is allowed, has no NaN
    objective, and no allowed point of its slice is at least as good in both objectives and
    strictly better in one. Duplicates of a non-dominated point are all on the front.

    O(n log n) per slice (sort by the first objective and sweep).
    """
    minimize = _check_minimize_pair(minimize)
    if _is_dask(objective_a) or _is_dask(objective_b) or _is_dask(mask):
        return _pareto_dask(objective_a, objective_b, mask, axis, minimize)
    return _pareto_numba(objective_a, objective_b, mask, minimize, axis)


def pareto_front(objective_a, objective_b, mask=None, minimize=(True, True)):
    """Non-dominated mask over ALL elements of the broadcast inputs (flattened): see
    :func:`pareto_front_along` with ``axis=None``."""
    return pareto_front_along(objective_a, objective_b, mask, None, minimize)
