"""The engine of the fused full-grid kernels: one pass over a broadcast grid, every output once.

A step function of ``physics`` computes most of its terms on small broadcast arrays (a model
dimension, a hardware dimension, ...) and then a *tail* of elementwise formulas that span the
whole grid. numpy evaluates that tail as one full-size pass per operation; a fused kernel walks
the grid once, reads each (small) input where it lies, computes every output of a point in
registers and writes each output once. This module is the part every fused kernel shares; the
formula of each kernel is its own module-level function next to its numpy reference (e.g.
``roofline._tail_kernel`` and ``roofline._tail_numpy``, listed in ``roofline.FUSED_KERNELS``),
compiled with :func:`jit` on first use. numba is imported with this module, and this module
only inside the first large call (``import mlsysim_vec`` imports neither, docs/differences.md, D18).

How a kernel walks the grid
---------------------------
:func:`layout` broadcasts the operands (inputs, then outputs) to their common shape and gives
each its underlying C-contiguous buffer and its element strides per grid dimension (0 along
dimensions it does not vary along). Dimensions of length 1 are dropped and neighbouring ones
merged where every operand allows (as numpy's iterator coalesces), so a grid whose trailing
dimensions are short still has long contiguous runs. The grid is then cut into *blocks* of the
trailing dimensions (the first of them possibly in chunks) of about :data:`BLOCK` points:

* an odometer (:func:`advance`) walks the outer dimensions, keeping each operand's offset;
* in each block every input becomes one contiguous row (:func:`input_row`): a view of its
  buffer where the input is contiguous over the block, else a scratch row filled by a gather of
  its distinct values and copies along the dimensions it does not vary along, and refilled only
  when its offset changed since the last block (an input that depends on few dimensions is
  gathered rarely);
* the kernel's inner loop runs over the rows (plain contiguous arrays, so LLVM vectorizes it)
  and writes each output row either straight into the output (a full-size output, contiguous
  over the block) or into a scratch row that :func:`store_row` scatters into a smaller output,
  once per distinct element and only when that output's offset changed.

Outputs are C-ordered arrays of their natural (broadcast) shape, allocated here or supplied
(``out=``, reused between calls). numba.guvectorize was measured slower than numpy on these
grids (its per-call overhead on a short last axis), hence the explicit loop.
"""

from __future__ import annotations

import math
from functools import lru_cache
from os import cpu_count, getpid
from threading import Lock, current_thread, main_thread

import numpy as np
from numba import njit

__all__ = [
    "BLOCK",
    "OPTIONS",
    "POINTS_PER_THREAD",
    "threads",
    "jit",
    "layout",
    "blocks",
    "run",
    "seek",
    "block_size",
    "advance",
    "input_row",
    "output_row",
    "stale",
    "store_row",
]

#: Points per block: the rows of a block (about 20 of them for the roofline tail, 8 bytes a
#: point) stay in the L2 cache (1 MiB per core here) while the outputs stream out.
BLOCK = 2048

#: Options of every fused kernel: cached on disk, the GIL released (threads may run kernels
#: side by side), numpy's division semantics (x/0 = ±inf or NaN, never an exception; no
#: fast-math, so each operation rounds as numpy's does), no bounds checks, and no reference
#: counting (``_nrt=False``: the kernels allocate nothing, :func:`layout` does; with it, every
#: array view a block makes cost atomic increments, ~0.1 µs per helper call, measured).
OPTIONS = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False, _nrt=False)

_COMPILED: dict = {}
_LOCK = Lock()


def jit(fn):
    """``fn`` compiled with :data:`OPTIONS` (once per process; numba's on-disk cache makes a new
    process load it instead of compiling). numba tracks the source file of ``fn`` only: after
    editing this module, clear the ``__pycache__/*.nbi`` of the kernels that call it."""
    if fn not in _COMPILED:
        with _LOCK:
            if fn not in _COMPILED:
                _COMPILED[fn] = njit(**OPTIONS)(fn)
    return _COMPILED[fn]


# ---------------------------------------------------------------------------- layout (Python side)
#: Positions in ``lay``, the tuple a kernel receives: the tables (shared by calls on the same
#: shapes; ``REL``, ``POS``, ``COUNT``, ``STEP`` and ``CONTIGUOUS`` are described in
#: ``_tables``) then one walker's state (outer index, operand offsets, row states, scratch rows).
SHAPE, STRIDES, REL, POS, COUNT, CONTIGUOUS, STEP, SIZES, IDX, BASE, LAST, ROWS, FLAGS = range(13)


def _strides(shape: tuple, grid: tuple) -> list:
    """Element strides of a C-contiguous array of ``shape`` over ``grid`` (0 where it broadcasts)."""
    nd = len(grid)
    padded = (1,) * (nd - len(shape)) + tuple(shape)
    out = [0] * nd
    step = 1
    for d in range(nd - 1, -1, -1):
        if padded[d] != 1:
            out[d] = step
        step *= padded[d]
    return out


@lru_cache(maxsize=64)
def _tables(shapes: tuple, n_inputs: int, block: int) -> tuple:
    """The part of a layout that depends on the operands' shapes only (so a chunked sweep, whose
    chunks share their shapes, computes it once): ``(grid, tables)``, the broadcast grid and

    * ``SHAPE``, ``STRIDES``: the coalesced grid and each operand's element strides over it;
    * ``REL``: inputs: the offset (from the block's) of each element of the row; outputs: the
      offset of each distinct element;
    * ``POS``: outputs: the row position of each distinct element (ascending);
    * ``COUNT``: inputs: how many leading row elements to gather (the rest repeats them);
      outputs: how many distinct elements a block has;
    * ``CONTIGUOUS``: the operand's row is a slice of its buffer;
    * ``STEP``: outputs: s > 0 when the distinct elements are every s-th of the row, stored
      contiguously (a strided copy instead of the scatter);
    * ``SIZES``: the split dimension, the chunk along it, the points of the dimensions after it,
      the points of a block.
    """
    grid = np.broadcast_shapes(*shapes)
    strides = np.array([_strides(s, grid) for s in shapes], np.int64).reshape(len(shapes), len(grid))
    # Drop length-1 dimensions; merge a dimension into the one before it where every operand allows.
    dims, cols = [], []
    for d, size in enumerate(grid):
        if size == 1:
            continue
        if dims and np.array_equal(cols[-1], strides[:, d] * size):
            dims[-1] *= size
            cols[-1] = strides[:, d]
        else:
            dims.append(size)
            cols.append(strides[:, d])
    if not dims:
        dims, cols = [1], [np.zeros(len(shapes), np.int64)]
    shape = np.array(dims, np.int64)
    strides = np.ascontiguousarray(np.stack(cols, axis=1))
    # Blocks: the trailing dimensions after ``split`` whole (``inner`` points), dimension ``split``
    # in chunks of ``chunk``.
    split, inner = len(dims) - 1, 1
    while split > 0 and 0 < inner * dims[split] <= block:
        inner *= dims[split]
        split -= 1
    chunk = max(1, min(dims[split], block // max(1, inner)))
    size = chunk * inner
    extent = [chunk] + dims[split + 1 :]
    index = np.indices(extent).reshape(len(extent), size)  # block dimension indices of each row element
    block_strides = strides[:, split:]
    offsets = np.zeros((len(shapes), size), np.int64)
    # ``repeated``: the element repeats an earlier one (it is not the first along a dimension the
    # operand does not vary along)
    repeated = np.zeros((len(shapes), size), np.bool_)
    for d, n in enumerate(extent):
        offsets += block_strides[:, d, None] * index[d]
        if n > 1:
            repeated |= (block_strides[:, d, None] == 0) & (index[d] != 0)
    contiguous = np.all(offsets == np.arange(size), axis=1)
    rel = offsets
    pos = np.zeros((len(shapes), size), np.int64)
    count = np.zeros(len(shapes), np.int64)
    step = np.zeros(len(shapes), np.int64)
    for k in range(len(shapes)):
        varying = [d for d, n in enumerate(extent) if n > 1 and block_strides[k, d] != 0]
        if k < n_inputs:  # gather the row up to the outermost dimension the input varies along
            count[k] = math.prod(extent[varying[0] :]) if varying else 1
        elif not contiguous[k]:  # store each distinct element once
            distinct = np.flatnonzero(~repeated[k])
            dest = offsets[k, distinct]
            count[k] = distinct.size
            pos[k, : distinct.size] = distinct
            rel[k, : distinct.size] = dest  # (rel is offsets: row k is rewritten in place)
            if distinct.size > 1 and np.array_equal(dest, np.arange(distinct.size)):
                gaps = np.diff(distinct)
                if np.all(gaps == gaps[0]):
                    step[k] = gaps[0]
    sizes = np.array([split, chunk, inner, size], np.int64)
    tables = (shape, strides, rel, pos, count, contiguous, step, sizes)
    for a in tables:
        a.flags.writeable = False  # shared by every call with these shapes
    return grid, tables


def layout(inputs, outputs, out=None, block: int | None = None):
    """The arguments of a fused kernel for ``inputs`` and ``outputs``.

    inputs : array-likes (cast to float64; any shapes that broadcast together)
    outputs : (name, shape, dtype) of each output; each shape must broadcast into the grid
    out : optional {name: array} of outputs to reuse (exactly the shape and dtype, C-contiguous,
        writeable; not overlapping an input); the others are allocated
    Returns ``(tables, buffers, arrays, flat)``: ``tables`` the grid's tables (the coalesced
    shape, every operand's strides, the block tables and sizes: the first items of the ``lay``
    tuple a kernel receives, :func:`run` appending each walker's state), ``buffers`` the flat
    input buffers, ``arrays`` {name: output array} and ``flat`` the same outputs as flat views.
    Operands are numbered inputs first, then outputs in the order given.
    """
    buffers = [np.ascontiguousarray(x, dtype=np.float64) for x in inputs]
    out = {} if out is None else out
    arrays = {}
    for name, shape, dtype in outputs:
        given = out.get(name)
        if given is None:
            arrays[name] = np.empty(shape, dtype)
            continue
        if not isinstance(given, np.ndarray) or given.shape != tuple(shape) or given.dtype != np.dtype(dtype):
            raise ValueError(
                f"out[{name!r}] must be a numpy array of shape {tuple(shape)} and dtype {np.dtype(dtype)}, "
                f"not {type(given).__name__} {getattr(given, 'shape', '')} {getattr(given, 'dtype', '')}"
            )
        if not (given.flags.c_contiguous and given.flags.writeable):
            raise ValueError(f"out[{name!r}] must be C-contiguous and writeable")
        if any(np.shares_memory(given, b) for b in buffers):
            raise ValueError(f"out[{name!r}] overlaps an input")
        arrays[name] = given
    shapes = tuple(b.shape for b in buffers) + tuple(a.shape for a in arrays.values())
    grid, tables = _tables(shapes, len(buffers), BLOCK if block is None else block)
    flat = {name: a.reshape(-1) for name, a in arrays.items()}
    return tables, [b.reshape(-1) for b in buffers], arrays, flat


def _state(tables) -> tuple:
    """One walker's state: outer index, offset of each operand, (offset, length) each scratch
    row was last filled or stored for, the scratch rows (float, bool)."""
    n_ops, size = tables[STRIDES].shape[0], int(tables[SIZES][3])
    return (
        np.zeros(tables[SHAPE].shape[0], np.int64),
        np.zeros(n_ops, np.int64),
        np.full((n_ops, 2), -1, np.int64),
        np.empty((n_ops, size)),
        np.empty((n_ops, size), np.bool_),
    )


def blocks(tables) -> int:
    """How many blocks the grid of ``tables`` has."""
    shape, sizes = tables[SHAPE], tables[SIZES]
    split, chunk = int(sizes[0]), int(sizes[1])
    return math.prod(int(n) for n in shape[:split]) * -(-int(shape[split]) // chunk)


def _available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS has one)."""
    try:
        from os import sched_getaffinity
    except ImportError:  # not on Linux
        return cpu_count() or 1
    return len(sched_getaffinity(0))


#: Threads a fused call may use (the CPUs this process may run on, at most 8): a call from the
#: main thread runs the kernel over contiguous ranges of blocks in that many threads (the GIL
#: released); a call from any other thread (a dask worker, a user's pool) keeps to its own, the
#: caller already running things side by side. ``threads = 1`` keeps every call in one thread.
threads = min(8, _available_cpus())

#: Points each thread gets at least (fewer threads on smaller grids): a thread's start (some
#: 50 µs here) must stay small against its share.
POINTS_PER_THREAD = 2**17

_POOL: dict = {}


def _pool(workers: int):
    """A pool of ``workers`` threads, made once per process (a forked child makes its own: the
    parent's threads do not exist there)."""
    key = (getpid(), workers)
    with _LOCK:
        pool = _POOL.get(key)
        if pool is None:
            from concurrent.futures import ThreadPoolExecutor

            pool = _POOL[key] = ThreadPoolExecutor(workers, thread_name_prefix="mlsysim-fused")
    return pool


def run(kernel, tables, *args):
    """Run ``kernel(lay, *args, first_block, end_block)`` over every block of the grid of
    ``tables``: in the calling thread, or (see :data:`threads`) split into contiguous ranges of
    blocks, one per thread, each with its own state. Different ranges write different elements of
    a full-size output; an element of a smaller output may be written by two ranges, with the
    same value."""
    points = math.prod(int(n) for n in tables[SHAPE])
    if points == 0:
        return
    total = blocks(tables)
    n = 1
    if current_thread() is main_thread():
        n = max(1, min(threads, total, points // POINTS_PER_THREAD))
    cuts = [total * i // n for i in range(n + 1)]
    lays = [tables + _state(tables) for _ in range(n)]
    if n == 1:
        kernel(lays[0], *args, 0, total)
        return
    pool = _pool(n - 1)
    futures = [pool.submit(kernel, lays[i], *args, cuts[i], cuts[i + 1]) for i in range(1, n)]
    kernel(lays[0], *args, cuts[0], cuts[1])
    for future in futures:
        future.result()


# ---------------------------------------------------------------------------- the walk (njit helpers)


@njit(**OPTIONS)
def block_size(lay, idx):
    """Points of the block at ``idx`` (the last chunk along the split dimension may be short)."""
    shape, sizes = lay[SHAPE], lay[SIZES]
    split, chunk, inner = sizes[0], sizes[1], sizes[2]
    return min(chunk, shape[split] - idx[split]) * inner


@njit(**OPTIONS)
def seek(lay, block):
    """Set the walk's state (outer index, offsets, row states) to the start of block number ``block``
    (in C order)."""
    shape, strides, sizes, idx, base, last = lay[SHAPE], lay[STRIDES], lay[SIZES], lay[IDX], lay[BASE], lay[LAST]
    split, chunk = sizes[0], sizes[1]
    per = (shape[split] + chunk - 1) // chunk
    idx[:] = 0
    idx[split] = (block % per) * chunk
    rest = block // per
    for d in range(split - 1, -1, -1):
        idx[d] = rest % shape[d]
        rest //= shape[d]
    for k in range(strides.shape[0]):
        b = 0
        for d in range(split + 1):
            b += idx[d] * strides[k, d]
        base[k] = b
        last[k, 0] = -1
        last[k, 1] = -1


@njit(**OPTIONS)
def advance(lay, idx, base):
    """Move the odometer to the next block, updating every operand's offset; False after the last."""
    shape, strides, sizes = lay[SHAPE], lay[STRIDES], lay[SIZES]
    d = sizes[0]
    step = sizes[1]
    n_ops = strides.shape[0]
    while d >= 0:
        idx[d] += step
        for k in range(n_ops):
            base[k] += step * strides[k, d]
        if idx[d] < shape[d]:
            return True
        for k in range(n_ops):
            base[k] -= idx[d] * strides[k, d]
        idx[d] = 0
        d -= 1
        step = 1
    return False


@njit(**OPTIONS)
def _copy(dst, src):
    """``dst[:] = src`` for two rows that do not overlap (a loop LLVM vectorizes)."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@njit(inline="always", **OPTIONS)
def input_row(lay, k, buf, base, n):
    """Input ``k`` over the current block as one contiguous row of ``n`` values."""
    b = base[k]
    if lay[CONTIGUOUS][k]:
        return buf[b : b + n]
    row, last = lay[ROWS][k], lay[LAST]
    if last[k, 0] != b or last[k, 1] < n:
        filled = min(lay[COUNT][k], n)
        if filled == 1:  # constant over the block
            value = buf[b]
            for j in range(n):
                row[j] = value
        else:
            rel = lay[REL][k]
            for j in range(filled):
                row[j] = buf[b + rel[j]]
            while filled < n:  # the rest repeats the gathered part (dimensions the input does not vary along)
                m = min(filled, n - filled)
                _copy(row[filled : filled + m], row[:m])
                filled += m
        last[k, 0] = b
        last[k, 1] = n
    return row[:n]


@njit(inline="always", **OPTIONS)
def output_row(lay, k, buf, base, n, scratch):
    """Where the kernel writes output ``k`` for the current block: the output itself where it is
    contiguous over the block (a full-size output), else a row of ``scratch`` (``lay[ROWS]`` for
    float outputs, ``lay[FLAGS]`` for bool ones) for :func:`store_row`."""
    if lay[CONTIGUOUS][k]:
        b = base[k]
        return buf[b : b + n]
    return scratch[k][:n]


@njit(**OPTIONS)
def stale(lay, k, base, n):
    """Whether output ``k`` needs values for the current block: always for an output contiguous
    over the block; for a smaller one, only when the block maps onto elements the last store did
    not write (a kernel may then skip computing it)."""
    if lay[CONTIGUOUS][k]:
        return True
    last = lay[LAST]
    return last[k, 0] != base[k] or last[k, 1] < n


@njit(**OPTIONS)
def store_row(lay, k, buf, base, n, scratch):
    """Scatter a scratch row of output ``k`` into the output: each distinct element once, and
    nothing when this block maps onto the elements the last store already wrote."""
    if not stale(lay, k, base, n) or lay[CONTIGUOUS][k]:
        return
    b, last = base[k], lay[LAST]
    rel, pos, row = lay[REL][k], lay[POS][k], scratch[k]
    count = lay[COUNT][k]
    if n < lay[SIZES][3]:  # a short last chunk: the distinct elements within it
        count = np.searchsorted(pos[:count], n)
    step = lay[STEP][k]
    if step > 0:  # the distinct elements are every step-th of the row, stored contiguously
        _copy(buf[b : b + count], row[: count * step : step])
    else:
        for i in range(count):
            buf[b + rel[i]] = row[pos[i]]
    last[k, 0] = b
    last[k, 1] = n
