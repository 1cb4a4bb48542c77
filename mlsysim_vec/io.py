"""Parquet files of a ``Result``: streaming, partitioned and crash-safe writes, fast selective reads.

``write_parquet(result, path)`` writes the tidy table of a result (one row per grid point, a
column per dimension, zipped input and output) chunk by chunk, and ``read_dataset(path)`` gives
back the xarray Dataset that was written (values, dims, coordinates, units, constants), reading
only the columns and rows asked for, eagerly or lazily (dask).

Why pyarrow and not pandas
--------------------------
A sweep's outputs are numpy arrays on a grid; parquet is columnar. pyarrow wraps a contiguous
numpy buffer as an Arrow array without a copy and writes it; dictionary-encoded labels are an
index array plus the list of labels; ``pyarrow.parquet`` reads one column of one row group at a
time. pandas would add two full copies on each side (a long-format DataFrame with a
MultiIndex, then its conversion to Arrow) and cannot read a selection of rows straight into an
n-dimensional array. Here a chunk's arrays go to Arrow directly, and a read decodes row group
by row group into the preallocated arrays of the Dataset: the peak memory of a read is the
Dataset plus one row group.

The file
--------
* Rows are laid out in *blocks*: hyper-rectangles of the grid, each written in C order
  (the last dimension fastest). The blocks of a file and their order are in its metadata
  (``layout``), so a read places every value without reading the dimension columns. Every
  row group holds whole blocks (at most ``row_group_size`` rows).
* Columns: the dimensions, the zipped inputs (inputs that vary along a dimension they do not
  name), then the outputs, each broadcast to the grid. Labels (records, choices, categorical
  outputs such as ``bottleneck``) are dictionary-encoded with every label in the dictionary,
  in grid order. Constant inputs (0-d coordinates: ``efficiency=0.5``) are not columns: they
  are stored once in the metadata (``constant_columns=True`` adds them as columns too).
* Units for every reader: each field's Arrow metadata holds ``b"unit"`` (numbers only; ``"1"``
  when dimensionless) and ``b"description"``; ``unit_suffix=True`` names the columns
  ``latency [s]`` (dimensionless ones stay bare).
* The schema metadata ``b"mlsysim_vec"`` is a JSON document: resolver, dims, coordinates and
  their attributes, constants, zipped inputs (with values), variables (dims, dtype, attributes,
  categories), column names, partitioning and the layout. Files written by the earlier
  ``Result.to_parquet`` (the same document without ``layout``) are read too.

A dataset directory (``partition_on=[dims]``) is hive-partitioned
(``hardware=NVIDIA%20H100/part-00003.parquet``; one file per partition value per chunk of the
result; the partition dimensions are in the paths, not in the files) and holds a completion
marker ``_SUCCESS``: a JSON manifest of its files, their row counts and layouts, written last.

Safe writes
-----------
Nothing at ``path`` changes until the new content is complete: a file is written under a
hidden temporary sibling name (``.name.tmp-PID-XXXX``), flushed to disk and renamed over the
target (``os.replace``); a directory is written into a hidden temporary sibling directory,
gets its marker last, and takes the target's place by an atomic exchange (Linux
``renameat2(RENAME_EXCHANGE)``; elsewhere two renames). Ctrl-C removes the temporary; a killed
writer leaves only hidden temporaries, which the next writer of the path removes. A writer
holds ``.name.lock`` (created with ``O_CREAT | O_EXCL``, holding its PID, host and process start
time) next to the target: a second writer fails with ``ConcurrentWriteError``; a lock whose
process is gone (same host, PID dead or reused) is stale and is taken over.

Writes on a dask cluster
------------------------
A dataset directory of a chunked result, written while a ``dask.distributed`` Client is active
(or with ``scheduler=client``), is written by the workers: one task per chunk (``map_blocks``
over the chunks, the chunk's computation fused into it) computes the chunk and writes its part
files into the temporary directory, in parallel. The client keeps the lock, checks that it sees
every part, writes ``_SUCCESS`` last and renames, as above: the files are the ones it would have
written itself, byte for byte. The workers must reach the path (a filesystem they share with
the client; see docs/dask.md). An error or Ctrl-C cancels the pending tasks, and the temporary
directory is renamed before it is removed, so that a task still running adds nothing to it.
A single file has one writer: the client, with the chunks computed on the cluster.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import secrets
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .variables import variable

__all__ = [
    "DEFAULT_ROW_GROUP_SIZE",
    "MARKER",
    "META_KEY",
    "ConcurrentWriteError",
    "IncompleteDatasetError",
    "column_name",
    "write_parquet",
    "read_dataset",
]

#: Rows per row group: ~10^6 rows (a few tens of MB per column) suits pyarrow, pandas, DuckDB
#: and Spark readers, and bounds a write's buffer.
DEFAULT_ROW_GROUP_SIZE = 1 << 20
#: Completion marker (and manifest) of a dataset directory.
MARKER = "_SUCCESS"
#: Schema metadata key of the JSON document that restores the Dataset.
META_KEY = b"mlsysim_vec"
FORMAT = 2
#: Outputs with at most this many distinct grid positions are dictionary-encoded in parquet.
_DICTIONARY_MAX = 1 << 16
#: A lock file this young with no content yet is being written by its owner.
_LOCK_GRACE_S = 10.0


class ConcurrentWriteError(RuntimeError):
    """Another live process holds the write lock of the target path."""


class IncompleteDatasetError(ValueError):
    """A dataset directory without its completion marker, or with a part missing or short."""


def column_name(name: str, unit: str | None, unit_suffix: bool) -> str:
    """The parquet column of ``name``: ``"latency [s]"`` with ``unit_suffix`` and a unit other
    than ``"1"``, else ``name``."""
    return f"{name} [{unit}]" if unit_suffix and unit and unit != "1" else name


# ============================================================================ plan of a write
@dataclass
class _Column:
    name: str  # name in the Dataset
    column: str  # parquet column name
    role: str  # "dim", "zipped", "scalar" or "var"
    dims: tuple  # dims of the source array (grid order not assumed)
    kind: str  # "number", "bool", "category", "label"
    field: object  # pyarrow Field
    dictionary: object = None  # pyarrow Array of labels (category / label)
    labels: object = None  # numpy object array of the labels (label data variables)
    dictionary_encode: bool = False  # parquet dictionary encoding


def _dataset_of(result):
    ds = getattr(result, "dataset", result)
    if not hasattr(ds, "data_vars"):
        raise TypeError(f"write_parquet needs a Result or an xarray Dataset, not {type(result).__name__}")
    return ds


def _grid_dims(ds) -> list[str]:
    dims = [d for d in ds.attrs.get("dims", ()) if d in ds.dims]
    return dims + [d for d in ds.dims if d not in dims]


def _index_type(n: int):
    import pyarrow as pa

    return pa.int8() if n < 2**7 else pa.int16() if n < 2**15 else pa.int32()


def _index_dtype(n: int):
    return np.int8 if n < 2**7 else np.int16 if n < 2**15 else np.int32


def _categories(name: str, attrs: dict) -> list[str]:
    var = variable(name)
    if var.kind == "category" and len(var.categories) == len(attrs.get("flag_values", var.categories)):
        return list(var.categories)
    return [c.replace("_", " ") for c in str(attrs.get("flag_meanings", "")).split()]


def _field_metadata(attrs: dict) -> dict:
    meta = {b"description": str(attrs.get("description", "")).encode()}
    if "units" in attrs:
        meta[b"unit"] = str(attrs["units"]).encode()
    return meta


def _label_values(values) -> np.ndarray:
    """Labels as an object array of Python strings (records by name)."""
    out = np.asarray(values, dtype=object).reshape(-1)
    return np.array([v if isinstance(v, str) else getattr(v, "name", str(v)) for v in out], dtype=object)


def _plan(ds, dims, unit_suffix: bool, constant_columns: bool, partition_on: list) -> list[_Column]:
    import pyarrow as pa

    columns = []

    def add(name, role, var_dims, attrs, values=None):
        col = column_name(name, attrs.get("units"), unit_suffix)
        fmeta = _field_metadata(attrs)
        size = math.prod(ds.sizes[d] for d in var_dims)
        if "flag_values" in attrs and role == "var":
            cats = _categories(name, attrs)
            dictionary = pa.array(cats, pa.string())
            typ = pa.dictionary(_index_type(len(cats)), pa.string())
            columns.append(_Column(name, col, role, var_dims, "category", pa.field(col, typ, True, fmeta), dictionary))
            return
        dtype = ds[name].dtype
        if dtype.kind in "OUS":
            if role == "dim":
                labels = _label_values(values)
            else:
                labels = _label_values(np.asarray(ds[name].values))
                labels = np.array(list(dict.fromkeys(labels)), dtype=object)
            dictionary = pa.array(list(labels), pa.string())
            typ = pa.dictionary(_index_type(len(labels)), pa.string())
            columns.append(
                _Column(name, col, role, var_dims, "label", pa.field(col, typ, True, fmeta), dictionary, labels, True)
            )
            return
        kind = "bool" if dtype.kind == "b" else "number"
        typ = pa.from_numpy_dtype(dtype)
        encode = kind == "number" and (role != "var" or size <= _DICTIONARY_MAX)
        columns.append(
            _Column(name, col, role, var_dims, kind, pa.field(col, typ, True, fmeta), dictionary_encode=encode)
        )

    for d in dims:
        if d not in partition_on:
            add(d, "dim", (d,), dict(ds[d].attrs), ds[d].values)
    for name in ds.coords:
        if ds[name].ndim > 0 and name not in ds.dims:
            add(name, "zipped", tuple(ds[name].dims), dict(ds[name].attrs))
    if constant_columns:
        for name in ds.coords:
            if ds[name].ndim == 0:
                add(name, "scalar", (), dict(ds[name].attrs))
    for name, da in ds.data_vars.items():
        add(name, "var", tuple(da.dims), dict(da.attrs))
    names = [c.column for c in columns]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"columns {dup} would appear twice in the file")
    return columns


def _jsonable(values):
    return np.asarray(values).tolist()


def _metadata(ds, dims, columns: list[_Column], partition_on: list, constant_columns: bool) -> dict:
    """The JSON document of the schema (without ``layout``); a superset of the earlier format."""
    categories = {c.name: [str(x) for x in c.dictionary.to_pylist()] for c in columns if c.kind == "category"}
    return {
        "format": FORMAT,
        "resolver": ds.attrs.get("resolver", ""),
        "dims": list(dims),
        "coords": {d: _jsonable(ds[d].values) for d in ds.dims},
        "coord_attrs": {c: dict(ds[c].attrs) for c in ds.coords},
        "scalars": {c: _jsonable(ds[c].values) for c in ds.coords if ds[c].ndim == 0},
        "zipped": {
            c: {"dims": list(ds[c].dims), "dtype": str(ds[c].dtype), "values": _jsonable(np.asarray(ds[c].values))}
            for c in ds.coords
            if ds[c].ndim > 0 and c not in ds.dims
        },
        "variables": {
            n: {
                "dims": list(ds[n].dims),
                "dtype": str(ds[n].dtype),
                "attrs": dict(ds[n].attrs),
                **({"categories": categories[n]} if n in categories else {}),
            }
            for n in ds.data_vars
        },
        "columns": {c.name: c.column for c in columns},
        "constants": "columns" if constant_columns else "metadata",
        "partition_on": list(partition_on),
        "attrs": _result_attrs(ds.attrs),
    }


def _result_attrs(attrs: dict) -> dict:
    """The Dataset's own attributes beyond resolver and dims (an optimizer's objective, goal,
    over, constraints), as JSON: a constraint given as a mask is kept as its description."""
    out = {}
    for key, value in attrs.items():
        if key in ("resolver", "dims"):
            continue
        try:
            json.dumps(value)
        except TypeError:
            value = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value)
        out[key] = value
    return out


# ============================================================================ regions and blocks
def _chunk_bounds(ds, dims) -> dict[str, list[tuple[int, int]]]:
    """Per dimension, the (start, stop) of the chunks a dask-backed Dataset is computed in."""
    chunks = {}
    for da in ds.data_vars.values():
        if getattr(da.data, "chunks", None) is None or not hasattr(da.data, "dask"):
            continue
        for d, c in zip(da.dims, da.data.chunks):
            if len(c) > len(chunks.get(d, ())):
                chunks[d] = c
    out = {}
    for d in dims:
        c = chunks.get(d) or (ds.sizes[d],)
        edges = np.concatenate([[0], np.cumsum(c)]).astype(int)
        out[d] = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    return out


def _regions(bounds: dict, dims) -> list[tuple[tuple[int, int], ...]]:
    return list(itertools.product(*(bounds[d] for d in dims)))


def _blocks(region, limit: int, forced=()) -> list[tuple[tuple[int, int], ...]]:
    """Split a region (per dim (start, stop)) into hyper-rectangles of at most ``limit`` rows,
    in C order; dims at the positions ``forced`` are split into single indices."""
    sizes = [b - a for a, b in region]
    free = [j for j in range(len(region)) if j not in forced]
    split = -1  # the free dim that is split in steps (free dims before it: one index at a time)
    for j in reversed(free):
        inner = math.prod(sizes[k] for k in free if k > j)
        if inner * sizes[j] <= limit:
            continue
        split = j
        break
    ranges = []
    for j, (a, b) in enumerate(region):
        if j in forced or j < split:
            ranges.append([(k, k + 1) for k in range(a, b)])
        elif j == split:
            inner = math.prod(sizes[k] for k in free if k > j)
            step = max(1, limit // max(1, inner))
            ranges.append([(k, min(k + step, b)) for k in range(a, b, step)])
        else:
            ranges.append([(a, b)])
    return list(itertools.product(*ranges))


def _rows(block) -> int:
    return math.prod(b - a for a, b in block)


def _flat(block) -> list[int]:
    return [x for r in block for x in r]


def _unflat(flat) -> tuple[tuple[int, int], ...]:
    return tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))


# ============================================================================ arrays of a block
def _block_values(array, var_dims, dims, block, origin) -> np.ndarray:
    """``array`` (over ``var_dims``, starting at ``origin[d]`` of the grid) broadcast to
    ``block`` (grid order) and flattened in C order (a view when it can be)."""
    if not var_dims:
        return np.broadcast_to(np.asarray(array).reshape(()), (_rows(block),))
    pos = {d: j for j, d in enumerate(dims)}
    index = tuple(slice(block[pos[d]][0] - origin[d], block[pos[d]][1] - origin[d]) for d in var_dims)
    sub = array[index]
    order = sorted(range(len(var_dims)), key=lambda k: pos[var_dims[k]])
    if order != list(range(len(var_dims))):
        sub = sub.transpose(order)
    present = {var_dims[k] for k in order}
    shape = [b - a if d in present else 1 for d, (a, b) in zip(dims, block)]
    sub = sub.reshape(shape)
    full = tuple(b - a for a, b in block)
    if sub.shape != full:
        sub = np.broadcast_to(sub, full)
    return sub.reshape(-1)


class _Writer:
    """Turns the computed arrays of a region into Arrow record batches, block by block
    (picklable: a dask task carries it to a worker)."""

    def __init__(self, ds, dims, columns: list[_Column]):
        import pyarrow as pa

        self.dims = dims
        self.columns = columns
        self.schema = pa.schema([c.field for c in columns])
        self.zero = dict.fromkeys(dims, 0)
        self.dim_values = {}
        for c in columns:
            if c.role == "dim":
                n = ds.sizes[c.name]
                self.dim_values[c.name] = (
                    np.arange(n, dtype=_index_dtype(n)) if c.kind == "label" else np.asarray(ds[c.name].values)
                )
        self.lookups = {}
        for c in columns:
            if c.kind == "label" and c.role != "dim":
                import pandas as pd

                self.lookups[c.name] = pd.Index(c.labels)

    def prepare(self, arrays: dict) -> dict:
        """Labels (zipped record/choice inputs, text outputs) of a region as dictionary indices,
        mapped once over the array's own points before any broadcast."""
        out = dict(arrays)
        for name, index in self.lookups.items():
            values = np.asarray(arrays[name], dtype=object)
            codes = index.get_indexer(values.reshape(-1))
            if (codes < 0).any():
                codes = index.get_indexer(_label_values(values))
            out[name] = codes.astype(_index_dtype(len(index))).reshape(values.shape)
        return out

    def batch(self, arrays: dict, block, origin):
        """The record batch of ``block`` from the prepared arrays of its region."""
        import pyarrow as pa

        out = []
        for c in self.columns:
            if c.role == "dim":
                values = _block_values(self.dim_values[c.name], c.dims, self.dims, block, self.zero)
            else:
                values = _block_values(arrays[c.name], c.dims, self.dims, block, origin)
            if c.kind == "category":  # code -1 (a point without an answer): a null
                missing = values < 0
                indices = pa.array(values, c.field.type.index_type, mask=missing if missing.any() else None)
                out.append(pa.DictionaryArray.from_arrays(indices, c.dictionary))
            elif c.kind == "label":
                indices = pa.array(values, c.field.type.index_type)
                out.append(pa.DictionaryArray.from_arrays(indices, c.dictionary, safe=False))
            else:
                out.append(pa.array(values, c.field.type))
        return pa.RecordBatch.from_arrays(out, schema=self.schema)


def _compute_region(ds, dims, region, names, scheduler=None):
    """The arrays of ``names`` (data variables and zipped coordinates) over ``region``, as numpy
    arrays, with the origin of each (grid index of its first element per dim); dask-backed ones
    are computed by ``scheduler`` (None: dask's current one)."""
    sel = {d: slice(a, b) for d, (a, b) in zip(dims, region)}
    sub = ds.isel(sel)
    lazy = [n for n in names if hasattr(sub[n].data, "dask")]
    arrays = {n: np.asarray(sub[n].data) for n in names if n not in lazy}
    if lazy:
        import dask

        arrays.update(zip(lazy, dask.compute(*(sub[n].data for n in lazy), scheduler=scheduler)))
    origin = {d: a for d, (a, _) in zip(dims, region)}
    return arrays, origin


def _computed(ds, dims, regions, names, scheduler=None):
    """(region, arrays, origin) of every region in order; while one region is being written the
    next one is computed in a background thread (dask releases the GIL), so at most two
    regions are in memory."""
    lazy = any(hasattr(ds[n].data, "dask") for n in names) and len(regions) > 1
    if not lazy:
        for region in regions:
            yield (region, *_compute_region(ds, dims, region, names, scheduler))
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlsysim-vec-write")
    try:
        ahead = pool.submit(_compute_region, ds, dims, regions[0], names, scheduler)
        for k, region in enumerate(regions):
            arrays, origin = ahead.result()
            ahead = (
                pool.submit(_compute_region, ds, dims, regions[k + 1], names, scheduler)
                if k + 1 < len(regions)
                else None
            )
            yield region, arrays, origin
            del arrays
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


# ============================================================================ locks and commits
def _sibling(target: Path, kind: str, pid: int | None = None) -> Path:
    tail = f"-{pid if pid is not None else os.getpid()}-{secrets.token_hex(4)}" if kind in ("tmp", "old") else ""
    return target.with_name(f".{target.name}.{kind}{tail}")


def _process_start(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return None if fields[0] == "Z" else fields[19]
    except (OSError, IndexError):
        return None


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # cannot tell: treat as live
    pid = int(holder.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if os.path.exists(f"/proc/{pid}"):
        start = _process_start(pid)
        if start is None:
            return False  # zombie: the process has ended
        if holder.get("start") and holder["start"] != start:
            return False  # the PID was reused by another process
    return True


def _cleanup_leftovers(target: Path, pid: int) -> None:
    """Remove the temporaries a dead writer ``pid`` left beside ``target`` (and put the previous
    content back if it was moved aside and the new one never arrived)."""
    for old in target.parent.glob(f".{target.name}.old-{pid}-*"):
        if not target.exists():
            os.rename(old, target)
        else:
            _remove(old)
    for tmp in target.parent.glob(f".{target.name}.tmp-{pid}-*"):
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def _locked(target: Path):
    """Hold the exclusive write lock of ``target`` (see the module docstring)."""
    lock = _sibling(target, "lock")
    me = {"pid": os.getpid(), "host": socket.gethostname(), "start": _process_start(os.getpid()), "time": time.time()}
    for _ in range(5):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                st = os.stat(lock)
                text = lock.read_text()
            except FileNotFoundError:
                continue
            try:
                holder = json.loads(text)
            except ValueError:
                holder = None
            if holder is None and time.time() - st.st_mtime < _LOCK_GRACE_S:
                holder = {"pid": "?", "host": "?"}  # being created right now
            if holder is not None and _alive(holder):
                raise ConcurrentWriteError(
                    f"{target} is being written by another process (PID {holder.get('pid')} on "
                    f"{holder.get('host')}; lock {lock}); wait for it to finish, or remove the lock "
                    "if that process no longer exists"
                ) from None
            _break_stale(lock, st.st_ino)
            if holder is not None and str(holder.get("pid", "")).isdigit():
                _cleanup_leftovers(target, int(holder["pid"]))
            continue
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
            fh.flush()
            os.fsync(fh.fileno())
        break
    else:
        raise ConcurrentWriteError(f"could not take the write lock {lock} of {target}")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def _break_stale(lock: Path, inode: int) -> None:
    grave = lock.with_name(f"{lock.name}.stale-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.rename(lock, grave)
    except FileNotFoundError:
        return  # another process broke it first
    if os.stat(grave).st_ino != inode:  # a fresh lock replaced the stale one meanwhile: put it back
        with contextlib.suppress(FileExistsError):
            os.link(grave, lock)
    os.unlink(grave)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    ok = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
    return ok


def _commit(tmp: Path, target: Path) -> None:
    """Put the completed ``tmp`` at ``target`` atomically and remove what was there."""
    if tmp.is_file() and (target.is_file() or not os.path.lexists(target)):
        os.replace(tmp, target)
    elif not os.path.lexists(target):
        os.rename(tmp, target)
    elif _exchange(tmp, target):
        _remove(tmp)  # now the previous content
    else:
        old = _sibling(target, "old")
        os.rename(target, old)
        os.rename(tmp, target)
        _remove(old)
    _fsync(target.parent)


# ============================================================================ write
def _progress_bar(enabled: bool, total: int, desc: str):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:  # pragma: no cover - tqdm is a core dependency
        raise ImportError("progress=True needs tqdm (pip install tqdm)") from exc
    return tqdm(total=total, unit="pt", unit_scale=True, desc=desc, leave=True)


def _write_file(path: Path, schema, row_groups, options: dict) -> int:
    """Write ``row_groups`` (an iterable of lists of record batches, one list per row group) to
    ``path``; fsync; return the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    pw = pq.ParquetWriter(str(path), schema, **options)
    try:
        for batches in row_groups:
            table = pa.Table.from_batches(batches, schema=schema)
            pw.write_table(table, row_group_size=max(1, table.num_rows))
            rows += table.num_rows
    finally:
        pw.close()
    _fsync(path)
    return rows


def _row_groups(blocks, limit: int) -> list[list]:
    """Consecutive blocks grouped into row groups of at most ``limit`` rows (a block larger than
    that is a row group of its own)."""
    groups, current, n = [], [], 0
    for block in blocks:
        r = _rows(block)
        if current and n + r > limit:
            groups.append(current)
            current, n = [], 0
        current.append(block)
        n += r
    if current:
        groups.append(current)
    return groups


def _schema(writer: _Writer, meta: dict, blocks, extra: dict):
    """The file schema with the JSON document of a file holding ``blocks`` (its layout)."""
    doc = {**meta, **extra, "layout": {"rows": sum(map(_rows, blocks)), "blocks": [_flat(b) for b in blocks]}}
    return writer.schema.with_metadata({META_KEY: json.dumps(doc).encode()})


def _batches(writer: _Writer, blocks, arrays, origin, limit: int):
    """The row groups of ``blocks``: lists of record batches of at most ``limit`` rows."""
    for group in _row_groups(blocks, limit):
        yield [writer.batch(arrays, block, origin) for block in group]


@dataclass
class _PartsSpec:
    """What writing the parts of a region of a dataset directory needs; picklable, so that a dask
    task carries it to the worker that runs it."""

    writer: _Writer
    meta: dict  # the JSON document of the schema (without layout and partition)
    partition_on: list
    partition_values: dict  # {partition dim: its coordinate values}
    bounds: dict  # {grid dim: [(start, stop) of each region]}
    row_group_size: int
    options: dict  # of pyarrow.parquet.ParquetWriter
    tmp: str  # the temporary dataset directory the parts go to


def _write_parts(spec: _PartsSpec, k: int, region, arrays: dict, origin: dict) -> list[dict]:
    """Write the rows of region ``k`` of a dataset directory: one file ``part-{k:05d}.parquet``
    per partition value the region holds, under ``dim=value/`` below ``spec.tmp``; return
    their manifest entries (path, rows, blocks), in the order written."""
    writer = spec.writer
    dims = writer.dims
    forced = [dims.index(d) for d in spec.partition_on]
    arrays = writer.prepare(arrays)
    parts: dict = {}
    for block in _blocks(region, spec.row_group_size, forced):
        parts.setdefault(tuple(block[j][0] for j in forced), []).append(block)
    tmp = Path(spec.tmp)
    files = []
    for key, blocks in parts.items():
        values = {d: spec.partition_values[d][i] for d, i in zip(spec.partition_on, key)}
        rel = Path(*[f"{d}={_partition_text(v)}" for d, v in values.items()], f"part-{k:05d}.parquet")
        folder = tmp
        for name in rel.parent.parts:  # one level at a time: a discarded temporary is not recreated
            folder = folder / name
            folder.mkdir(exist_ok=True)
        extra = {"partition": {d: _jsonable(v) for d, v in values.items()}}
        schema = _schema(writer, spec.meta, blocks, extra)
        rows = _write_file(
            tmp / rel, schema, _batches(writer, blocks, arrays, origin, spec.row_group_size), spec.options
        )
        files.append({"path": rel.as_posix(), "rows": rows, "blocks": [_flat(b) for b in blocks]})
    return files


# ---------------------------------------------------------------------------- parts written by dask tasks
#: dask's local schedulers (``dask.compute(scheduler=...)``) accepted as ``scheduler``.
_LOCAL_SCHEDULERS = ("threads", "threading", "processes", "multiprocessing", "sync", "synchronous", "single-threaded")
_SCHEDULERS = (
    "scheduler must be None (a dask.distributed Client's workers write the parts when one is active), "
    "'stream' (this process writes, region by region), 'distributed' (the default Client), a "
    f"dask.distributed Client, or one of dask's local schedulers {list(_LOCAL_SCHEDULERS)}"
)


def _is_client(obj) -> bool:
    if obj is None or sys.modules.get("distributed") is None:
        return False
    from distributed import Client

    return isinstance(obj, Client)


def _active_client():
    """The dask.distributed Client dask computes on now (the default one, unless ``dask.config``
    names another scheduler), or None. distributed is not imported when it is not in use."""
    if sys.modules.get("distributed") is None:
        return None  # never imported (or blocked): no Client can exist
    from dask.base import get_scheduler

    owner = getattr(get_scheduler(), "__self__", None)
    return owner if _is_client(owner) else None


def _runner(scheduler, ds, partitioned: bool):
    """(runner, compute): ``runner`` the scheduler whose tasks compute and write the parts of a
    dataset directory (a Client or a local scheduler's name), None when this process writes;
    ``compute`` the scheduler that computes the regions this process writes (None: dask's)."""
    if isinstance(scheduler, str):
        if scheduler == "stream":
            return None, None
        if scheduler == "distributed":
            client = _active_client()
            if client is None:
                try:
                    from distributed import default_client

                    client = default_client()
                except (ImportError, ValueError):
                    raise ValueError(
                        "scheduler='distributed' needs a running dask.distributed Client (none is active): "
                        "create one first (Client(...), or Client(LocalCluster()) on this machine), or pass it "
                        "as scheduler=client"
                    ) from None
            scheduler = client
        elif scheduler not in _LOCAL_SCHEDULERS:
            raise ValueError(f"scheduler={scheduler!r} is not allowed; {_SCHEDULERS}")
    elif scheduler is None:
        client = _active_client()
        lazy = any(hasattr(v.data, "dask") for v in ds.data_vars.values())
        return (client if partitioned and lazy and client is not None else None), None
    elif not _is_client(scheduler):
        raise ValueError(f"scheduler={scheduler!r} (a {type(scheduler).__name__}) is not allowed; {_SCHEDULERS}")
    try:
        import dask  # noqa: F401
    except ImportError as exc:  # pragma: no cover - dask is the [dask] extra
        raise ImportError(f"scheduler={scheduler!r} needs dask: pip install 'mlsysim-vec[dask]'") from exc
    return (scheduler, None) if partitioned else (None, scheduler)


def _on_grid(ds, name: str, dims, bounds: dict):
    """``ds[name]`` as a dask array over every grid dimension in grid order (length-1 axes for the
    dimensions it does not span), chunked like the regions along the others. A numpy variable
    is cut into the regions' pieces (each task is sent only its own), a broadcast view (stride
    0) first reduced to its one distinct slice along the broadcast axes."""
    import dask.array as da

    v = ds[name]
    perm = [v.dims.index(d) for d in dims if d in v.dims]
    expand = tuple(slice(None) if d in v.dims else None for d in dims)
    if hasattr(v.data, "dask"):
        array = (v.data.transpose(perm) if perm != sorted(perm) else v.data)[expand]
    else:
        array = np.asarray(v.data).transpose(perm)
        if array.ndim:
            array = array[
                tuple(slice(0, 1) if s == 0 and n > 1 else slice(None) for s, n in zip(array.strides, array.shape))
            ]
        shape = iter(array.shape)
        array = array.reshape(tuple(next(shape) if d in v.dims else 1 for d in dims))
    chunks = tuple(tuple(b - a for a, b in bounds[d]) if n == ds.sizes[d] else (n,) for d, n in zip(dims, array.shape))
    if not hasattr(array, "dask"):
        return da.from_array(array, chunks=chunks, name=False)
    return array if array.chunks == chunks else array.rechunk(chunks)


def _region_task(*blocks, spec: _PartsSpec, names: tuple, var_dims: tuple, block_info=None):
    """A dask task (``map_blocks`` over the regions): write the parts of one region from the
    blocks of its variables, on whichever worker runs it. Returns a one-element object array
    (the block of the output) holding ``{"files": manifest entries, "rows", "host", "pid"}``."""
    dims = spec.writer.dims
    tmp = Path(spec.tmp)
    if not tmp.is_dir():
        raise FileNotFoundError(
            f"the temporary dataset directory {tmp} does not exist on host {socket.gethostname()} (worker "
            f"PID {os.getpid()}): every dask worker must write to a filesystem it shares with the client "
            "that called write_parquet (a network filesystem; a LocalCluster's workers share this machine's "
            "disk), see docs/dask.md"
        )
    index = tuple(block_info[None]["chunk-location"])
    numblocks = tuple(len(spec.bounds[d]) for d in dims)
    region = tuple(spec.bounds[d][i] for d, i in zip(dims, index))
    arrays = {}
    for name, vdims, block in zip(names, var_dims, blocks):
        order = [d for d in dims if d in vdims]
        values = np.asarray(block).reshape([block.shape[j] for j, d in enumerate(dims) if d in vdims])
        values = np.broadcast_to(values, [b - a for d, (a, b) in zip(dims, region) if d in vdims])
        arrays[name] = values.transpose([order.index(d) for d in vdims]) if list(vdims) != order else values
    origin = {d: a for d, (a, _) in zip(dims, region)}
    k = int(np.ravel_multi_index(index, numblocks))
    out = np.empty((1,) * len(dims), dtype=object)
    files = _write_parts(spec, k, region, arrays, origin)
    out.reshape(-1)[0] = {
        "files": files,
        "rows": _rows(region),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    return out


def _run_tasks(ds, names: list, spec: _PartsSpec, runner, bar) -> list[dict]:
    """Compute and write every region of a dataset directory as dask tasks of ``runner`` (a
    Client: on its workers; a local scheduler's name: in this machine), in parallel; return
    the tasks' results in region order. On an error or an interrupt the pending tasks are
    cancelled and the error raised."""
    import dask.array as da

    dims = spec.writer.dims
    arrays = [_on_grid(ds, n, dims, spec.bounds) for n in names]
    token = secrets.token_hex(8)
    out = da.map_blocks(
        _region_task,
        *arrays,
        spec=spec,
        names=tuple(names),
        var_dims=tuple(tuple(ds[n].dims) for n in names),
        dtype=object,
        chunks=tuple((1,) * len(spec.bounds[d]) for d in dims),
        meta=np.empty((0,) * len(dims), dtype=object),
        name=f"write-parquet-{token}",
    )
    tasks = out.to_delayed().reshape(-1).tolist()
    results: list = [None] * len(tasks)

    def done(i, value):
        results[i] = np.asarray(value, dtype=object).reshape(-1)[0]
        if bar is not None:
            bar.update(results[i]["rows"])

    if _is_client(runner):
        from distributed import as_completed

        futures = runner.compute(tasks)
        position = {f.key: i for i, f in enumerate(futures)}
        try:
            for future, value in as_completed(futures, with_results=True):
                done(position[future.key], value)
        except BaseException:
            runner.cancel(futures)
            raise
        finally:
            del futures
    else:
        import dask
        from dask.callbacks import Callback

        position = {t.key: i for i, t in enumerate(tasks)}

        def posttask(key, value, dsk, state, worker_id):
            if key in position:
                done(position[key], value)

        with Callback(posttask=posttask):
            computed = dask.compute(*tasks, scheduler=runner)
        for i, value in enumerate(computed):
            if results[i] is None:
                done(i, value)
    return results


def _visible(tmp: Path, results: list[dict]) -> None:
    """Every part the tasks wrote is in ``tmp`` as this process sees it (a worker that wrote to
    a disk the client does not share fails here, before any marker is written)."""
    me = socket.gethostname()
    for res in results:
        for entry in res["files"]:
            if not (tmp / entry["path"]).is_file():
                raise FileNotFoundError(
                    f"part {entry['path']} written by PID {res['pid']} on host {res['host']} is not in {tmp} "
                    f"as host {me} sees it: the dask workers must write to a filesystem they share with the "
                    "client (a network filesystem; a LocalCluster's workers share this machine's disk), see "
                    "docs/dask.md"
                )


def _discard(target: Path, tmp: Path) -> None:
    """Remove the temporary of a failed write. A directory is first renamed to another hidden
    temporary name, so that a dask task still running writes nothing more under its old path
    (a new file or folder there now fails) and no complete-looking copy can appear."""
    if tmp.is_dir() and not tmp.is_symlink():
        grave = _sibling(target, "tmp")
        try:
            os.rename(tmp, grave)
        except FileNotFoundError:
            return
        tmp = grave
    _remove(tmp)


def write_parquet(
    result,
    path,
    *,
    partition_on=None,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    unit_suffix: bool = False,
    progress: bool = False,
    constant_columns: bool = False,
    compression: str | None = "snappy",
    scheduler=None,
) -> str:
    """Write a ``Result`` (or its Dataset) as a parquet file, or as a hive-partitioned dataset
    directory with ``partition_on``; return ``str(path)``.

    Parameters
    ----------
    result : Result or xarray.Dataset
        What to write. A chunked (dask) result is computed one chunk at a time, so memory stays
        bounded by a chunk plus a row group.
    path : str or os.PathLike
        Target file (or directory with ``partition_on``). Replaced atomically when the write
        has completed; untouched if it fails or is interrupted.
    partition_on : list of str, optional
        Grid dimensions to partition on: one file per value (per chunk), under
        ``dim=value/`` directories, and a ``_SUCCESS`` manifest written last.
    row_group_size : int
        Most rows per row group (whole blocks of the grid per group).
    unit_suffix : bool
        Name columns with their unit, ``"latency [s]"``; ``read_dataset`` maps them back.
    progress : bool
        Show a progress bar (tqdm) advancing as chunks are written.
    constant_columns : bool
        Also store constant inputs (0-d coordinates) as columns (they are always in the
        metadata).
    compression : str or None
        Parquet compression codec (``"snappy"``, ``"zstd"``, ``"lz4"``, None).
    scheduler : None, str or dask.distributed.Client
        Who computes and writes the chunks of a dataset directory (``partition_on``). None
        (default): the workers of the active dask.distributed Client, if there is one and the
        result is chunked, else this process. A Client, or ``"distributed"`` (the default
        Client): each chunk is computed and its part files written by a task on a worker, in
        parallel, into the temporary directory; this process then checks the parts, writes
        the ``_SUCCESS`` manifest last and renames, as when it writes alone (the files are the
        same). The workers must reach ``path``: a filesystem they share with this process
        (docs/dask.md). ``"threads"``, ``"processes"`` or ``"synchronous"``: the same tasks on
        dask's local scheduler. ``"stream"``: this process writes every part, chunk by chunk,
        as dask's current scheduler computes them. A single file (no ``partition_on``) is
        always written by this process; ``scheduler`` (other than None or ``"stream"``) then
        computes its chunks.

    Raises
    ------
    ConcurrentWriteError
        Another live process is writing the same path.
    FileNotFoundError
        The directory of ``path`` does not exist, or a dask worker cannot reach it.
    """
    ds = _dataset_of(result)
    dims = _grid_dims(ds)
    partition_on = list(partition_on or [])
    unknown = [d for d in partition_on if d not in dims]
    if unknown:
        raise ValueError(f"partition_on names {unknown}, which are not dimensions of the result {dims}")
    if int(row_group_size) < 1:
        raise ValueError(f"row_group_size must be a positive number of rows, not {row_group_size!r}")
    row_group_size = int(row_group_size)
    runner, compute = _runner(scheduler, ds, bool(partition_on))
    target = Path(os.fspath(path)).expanduser().absolute()
    if not target.parent.is_dir():
        raise FileNotFoundError(f"the directory of {target} does not exist")

    columns = _plan(ds, dims, unit_suffix, constant_columns, partition_on)
    meta = _metadata(ds, dims, columns, partition_on, constant_columns)
    writer = _Writer(ds, dims, columns)
    options = {
        "compression": compression,
        "use_dictionary": [c.column for c in columns if c.dictionary_encode or c.kind in ("category", "label")],
        "write_statistics": [c.column for c in columns if c.role != "var" or c.kind != "number"],
    }
    names = [c.name for c in columns if c.role in ("var", "zipped", "scalar")]
    bounds = _chunk_bounds(ds, dims)
    regions = _regions(bounds, dims)
    total = math.prod(ds.sizes[d] for d in dims)

    with _locked(target):
        tmp = _sibling(target, "tmp")
        bar = None
        try:
            bar = _progress_bar(progress, total, f"writing {target.name}")
            if not partition_on:
                blocks = [b for region in regions for b in _blocks(region, row_group_size)]

                def stream():
                    for region, arrays, origin in _computed(ds, dims, regions, names, compute):
                        arrays = writer.prepare(arrays)
                        yield from _batches(writer, _blocks(region, row_group_size), arrays, origin, row_group_size)
                        if bar is not None:
                            bar.update(_rows(region))

                _write_file(tmp, _schema(writer, meta, blocks, {}), stream(), options)
            else:
                tmp.mkdir()
                spec = _PartsSpec(
                    writer=writer,
                    meta=meta,
                    partition_on=partition_on,
                    partition_values={d: ds[d].values for d in partition_on},
                    bounds=bounds,
                    row_group_size=row_group_size,
                    options=options,
                    tmp=str(tmp),
                )
                files = []
                if runner is None:
                    for k, (region, arrays, origin) in enumerate(_computed(ds, dims, regions, names, compute)):
                        files += _write_parts(spec, k, region, arrays, origin)
                        if bar is not None:
                            bar.update(_rows(region))
                else:
                    results = _run_tasks(ds, names, spec, runner, bar)
                    _visible(tmp, results)
                    files = [entry for res in results for entry in res["files"]]
                for d in [p for p in tmp.rglob("*") if p.is_dir()]:
                    _fsync(d)
                manifest = {
                    "format": "mlsysim_vec dataset",
                    "version": 1,
                    "rows": sum(f["rows"] for f in files),
                    "partition_on": partition_on,
                    "files": files,
                    "metadata": meta,
                }
                marker = tmp / MARKER
                marker.write_text(json.dumps(manifest))
                _fsync(marker)
                _fsync(tmp)
            _commit(tmp, target)
        except BaseException:
            _discard(target, tmp)
            raise
        finally:
            if bar is not None:
                bar.close()
    return str(path)


def _partition_text(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        text = "True" if value else "False"
    elif isinstance(value, (float, np.floating)):
        text = repr(float(value))
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    else:
        text = str(getattr(value, "name", value))
    return quote(text, safe="")


# ============================================================================ read
@dataclass
class _Part:
    path: str
    rows: int
    blocks: list  # of tuples of (start, stop) per grid dim, in file row order; None: no layout


@dataclass
class _Source:
    """What a read needs to know about a file or dataset directory (picklable, for dask)."""

    path: str
    meta: dict
    parts: list
    directory: bool

    @property
    def dims(self) -> list:
        return list(self.meta["dims"])

    @property
    def has_layout(self) -> bool:
        return all(p.blocks is not None for p in self.parts)

    def column(self, name: str) -> str:
        return self.meta.get("columns", {}).get(name, name)


def _meta_of(schema, path) -> dict:
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise ValueError(f"{path} was not written by mlsysim_vec (no {META_KEY.decode()!r} metadata)")
    return json.loads(raw)


def _open(path) -> _Source:
    import pyarrow.parquet as pq

    root = Path(os.fspath(path)).expanduser()
    if root.is_dir():
        marker = root / MARKER
        if not marker.is_file():
            raise IncompleteDatasetError(
                f"{root} is an incomplete dataset: it has no {MARKER} marker (its write did not finish)"
            )
        manifest = json.loads(marker.read_text())
        parts = []
        for entry in manifest["files"]:
            file = root / entry["path"]
            if not file.is_file():
                raise IncompleteDatasetError(
                    f"{root} is incomplete: part {entry['path']} (listed in {MARKER}) is missing"
                )
            try:
                rows = pq.read_metadata(str(file)).num_rows
            except Exception as exc:
                raise IncompleteDatasetError(
                    f"{root} is incomplete: part {entry['path']} is unreadable ({exc})"
                ) from None
            if rows != entry["rows"]:
                raise IncompleteDatasetError(
                    f"{root} is incomplete: part {entry['path']} has {rows} rows, {MARKER} lists {entry['rows']}"
                )
            parts.append(_Part(str(file), rows, [_unflat(b) for b in entry["blocks"]]))
        return _Source(str(root), manifest["metadata"], parts, True)
    pf = pq.ParquetFile(str(root))
    meta = _meta_of(pf.schema_arrow, root)
    layout = meta.get("layout")
    rows = pf.metadata.num_rows
    blocks = None
    if layout is not None:
        blocks = [_unflat(b) for b in layout["blocks"]]
        if layout["rows"] != rows:
            raise IncompleteDatasetError(f"{root} holds {rows} rows, its layout {layout['rows']}")
    return _Source(str(root), meta, [_Part(str(root), rows, blocks)], False)


_OPS = {
    "=": np.equal,
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _filter_value(value):
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return [_filter_value(v) for v in value]
    if hasattr(value, "name") and hasattr(value, "si"):
        return value.name  # a record: its label
    return value


def _evaluate(values: np.ndarray, op: str, value) -> np.ndarray:
    values = np.asarray(values)
    if op in ("in", "not in"):
        mask = np.isin(values, np.asarray(list(value), dtype=values.dtype if values.dtype != object else object))
        return ~mask if op == "not in" else mask
    if op not in _OPS:
        raise ValueError(f"unknown filter operator {op!r}; use one of {sorted(_OPS) + ['in', 'not in']}")
    return np.asarray(_OPS[op](values, value), dtype=bool)


def _normalise_filters(filters, source: _Source):
    """``filters`` as a list of conjunctions of (name in the Dataset, op, value); an Arrow
    Expression is returned as is."""
    if filters is None:
        return None
    if not isinstance(filters, (list, tuple)):
        return filters  # a pyarrow.compute.Expression
    if not filters:
        return None
    first = filters[0]
    conjunction = isinstance(first, tuple) or (isinstance(first, list) and first and isinstance(first[0], str))
    groups = [filters] if conjunction else filters
    back = {c: n for n, c in source.meta.get("columns", {}).items()}
    known = set(source.meta["variables"]) | set(source.meta["coords"]) | set(source.meta["scalars"])
    known |= set(source.meta.get("zipped", {}))
    out = []
    for group in groups:
        terms = []
        for term in group:
            if len(term) != 3:
                raise ValueError(f"a filter is (column, op, value), not {term!r}")
            name, op, value = term
            name = back.get(name, name)
            if name not in known:
                raise ValueError(
                    f"filter on {name!r}, which is not a column of {source.path}; columns: {sorted(known)}"
                )
            terms.append((name, str(op).strip().lower(), _filter_value(value)))
        out.append(terms)
    return out


def _coords_of(meta, d) -> np.ndarray:
    values = np.asarray(meta["coords"][d])
    return values.astype(object) if values.dtype.kind in "US" else values


def _zipped_of(meta, name) -> np.ndarray | None:
    info = meta.get("zipped", {}).get(name, {})
    if "values" not in info:
        return None
    values = np.asarray(info["values"]).astype(info["dtype"])
    return values


def _rectangle(groups, source: _Source):
    """Per-dim sorted index arrays selected by ``groups`` when they select a rectangle of the grid
    from coordinates and constants alone (else None); ``False`` when they select nothing."""
    meta = source.meta
    dims = source.dims
    live = []
    for terms in groups:
        masks = {d: np.ones(len(meta["coords"][d]), bool) for d in dims}
        keep = True
        for name, op, value in terms:
            if name in meta["scalars"]:
                keep &= bool(_evaluate(np.asarray(meta["scalars"][name]), op, value))
            elif name in dims:
                masks[name] &= _evaluate(_coords_of(meta, name), op, value)
            elif name in meta.get("zipped", {}) and len(meta["zipped"][name]["dims"]) == 1:
                values = _zipped_of(meta, name)
                if values is None:
                    return None
                masks[meta["zipped"][name]["dims"][0]] &= _evaluate(values, op, value)
            else:
                return None  # a filter on an output: row by row
        if keep:
            live.append(masks)
    if not live:
        return False
    if len(live) > 1:
        first = live[0]
        if not all(all(np.array_equal(m[d], first[d]) for d in dims) for m in live[1:]):
            return None  # a union of rectangles
    return {d: np.flatnonzero(m) for d, m in live[0].items()}


def _segments(part: _Part, pf):
    """(row groups, [(block, first row in segment)]) with whole blocks per segment."""
    sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
    out = []
    blocks = iter(part.blocks)
    pending = []
    group, rows_g, rows_b = [], 0, 0
    for i, n in enumerate(sizes):
        group.append(i)
        start = rows_g
        rows_g += n
        while rows_b < rows_g:
            block = next(blocks, None)
            if block is None:
                raise IncompleteDatasetError(f"{part.path}: its layout lists fewer rows than the file holds")
            pending.append((block, rows_b - (start - sum(sizes[j] for j in group[:-1]))))
            rows_b += _rows(block)
        if rows_b == rows_g:
            out.append((group, pending))
            group, pending = [], []
    if group or next(blocks, None) is not None:
        raise IncompleteDatasetError(f"{part.path}: its layout does not match its row groups")
    return out


def _to_numpy(chunked, info: dict) -> np.ndarray:
    """A column (chunked array) as the dtype of its variable: category labels to their codes,
    text labels to an object array."""
    import pyarrow as pa

    parts = []
    for chunk in chunked.chunks:
        if pa.types.is_dictionary(chunk.type):
            labels = np.asarray(chunk.dictionary.to_pylist(), dtype=object)
            nulls = chunk.indices.null_count
            indices = chunk.indices.fill_null(0).to_numpy(zero_copy_only=False) if nulls else chunk.indices.to_numpy()
            cats = info.get("categories")
            if cats is None and "flag_values" in info.get("attrs", {}):
                cats = _categories(info["name"], info["attrs"])
            if cats is not None:
                code = {c: k for k, c in enumerate(cats)}
                lookup = np.array([code[x] for x in labels], dtype=info["dtype"])
                identity = np.array_equal(lookup, np.arange(len(lookup)))
                codes = indices.astype(info["dtype"], copy=True) if identity else lookup[indices]
                if nulls:  # a missing category: code -1
                    codes[chunk.indices.is_null().to_numpy(zero_copy_only=False)] = -1
                parts.append(codes)
            else:
                values = labels[indices]
                if nulls:
                    values[chunk.indices.is_null().to_numpy(zero_copy_only=False)] = None
                parts.append(values)
        else:
            parts.append(chunk.to_numpy(zero_copy_only=False))
    if not parts:
        return np.empty(0, dtype=info.get("dtype", "float64"))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _fill(source: _Source, names: list, sel: dict, outs: dict) -> None:
    """Fill ``outs[name]`` (arrays over the variable's dims, at the positions ``sel[d]``: sorted
    grid indices) from the blocks of every part that meet the selection."""
    import pyarrow.parquet as pq

    dims = source.dims
    pos = {d: j for j, d in enumerate(dims)}
    infos = {n: {**source.meta["variables"][n], "name": n} for n in names}
    contiguous = {d: len(s) == 0 or (s[-1] - s[0] + 1 == len(s)) for d, s in sel.items()}

    def meet(block, vdims):
        """(output slices, block index per grid dim) or None."""
        out_index, take = [], {}
        for d in vdims:
            a, b = block[pos[d]]
            s = sel[d]
            lo, hi = np.searchsorted(s, a), np.searchsorted(s, b)
            if lo == hi:
                return None
            out_index.append(slice(int(lo), int(hi)))
            take[d] = slice(int(s[lo] - a), int(s[hi - 1] - a + 1)) if contiguous[d] else s[lo:hi] - a
        return tuple(out_index), take

    # outputs that do not span every dimension repeat along the others: each of their points is
    # read once, and row groups that hold only points already read are skipped
    filled = {n: np.zeros(outs[n].shape, bool) for n in names if len(infos[n]["dims"]) < len(dims)}

    def needed(n, block):
        hit = meet(block, infos[n]["dims"])
        return hit is not None and (n not in filled or not filled[n][hit[0]].all())

    for part in source.parts:
        pf = pq.ParquetFile(part.path)
        for groups, blocks in _segments(part, pf):
            wanted = [n for n in names if any(needed(n, b) for b, _ in blocks)]
            if not wanted:
                continue
            table = pf.read_row_groups(groups, columns=[source.column(n) for n in wanted], use_threads=True)
            for n in wanted:
                values = _to_numpy(table.column(source.column(n)), infos[n])
                vdims = infos[n]["dims"]
                for block, first in blocks:
                    if not needed(n, block):
                        continue
                    out_index, take = meet(block, vdims)
                    if n in filled:
                        filled[n][out_index] = True
                    shape = tuple(b - a for a, b in block)
                    vals = values[first : first + math.prod(shape)].reshape(shape)
                    index = tuple(
                        take[d] if isinstance(take.get(d), slice) else (0 if d not in vdims else slice(None))
                        for d in dims
                    )
                    vals = vals[index]
                    for axis, d in enumerate(d for d in dims if d in vdims):
                        if not isinstance(take[d], slice):
                            vals = np.take(vals, take[d], axis=axis)
                    order = [d for d in dims if d in vdims]
                    if order != list(vdims):
                        vals = vals.transpose([order.index(d) for d in vdims])
                    outs[n][out_index] = vals
            del table


def _read_region(source: _Source, name: str, sel: dict) -> np.ndarray:
    info = source.meta["variables"][name]
    out = np.empty(tuple(len(sel[d]) for d in info["dims"]), dtype=info["dtype"])
    _fill(source, [name], sel, {name: out})
    return out


def _dask_variable(source: _Source, name: str, sel: dict, chunks: dict):
    """A dask array of ``name`` over ``sel``, each chunk read from the parts it meets."""
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    info = source.meta["variables"][name]
    vdims = info["dims"]
    vchunks = tuple(chunks[d] for d in vdims)
    stamp = [os.stat(p.path).st_mtime_ns for p in source.parts]
    key = f"read-parquet-{name}-{tokenize(source.path, stamp, name, [sel[d] for d in vdims], vchunks)}"
    graph = {}
    edges = [np.concatenate([[0], np.cumsum(c)]).astype(int) for c in vchunks]
    for idx in itertools.product(*(range(len(c)) for c in vchunks)):
        sub = {d: sel[d] for d in source.dims}
        for k, d in enumerate(vdims):
            sub[d] = sel[d][edges[k][idx[k]] : edges[k][idx[k] + 1]]
        graph[(key, *idx)] = (_read_region, source, name, sub)
    hlg = HighLevelGraph.from_collections(key, graph, dependencies=[])
    return da.Array(hlg, key, vchunks, dtype=np.dtype(info["dtype"]))


def _normalise_chunks(chunks, dims, shape) -> dict:
    from dask.array.core import normalize_chunks

    if chunks == "auto" or isinstance(chunks, int):
        chunks = dict.fromkeys(dims, chunks)
    if not isinstance(chunks, dict):
        raise ValueError(f"chunks must be a dict {{dim: size}}, an int or 'auto', not {chunks!r}")
    unknown = sorted(set(chunks) - set(dims))
    if unknown:
        raise ValueError(f"chunks names dimensions {unknown} that are not in the grid {list(dims)}")
    spec = tuple(chunks.get(d, -1) for d in dims)
    for d, c in zip(dims, spec):
        if not (c == "auto" or (isinstance(c, (int, np.integer)) and not isinstance(c, bool) and (c > 0 or c == -1))):
            raise ValueError(f"chunks[{d!r}] must be a positive int, -1 or 'auto', not {c!r}")
    normal = normalize_chunks(spec, tuple(shape), dtype=np.float64)
    return dict(zip(dims, normal))


def _general(source: _Source, names: list, groups, expression) -> tuple[dict, dict]:
    """Read with pyarrow (dimension columns included) and place every row by its coordinates:
    for filters on outputs and files without a layout. Returns (sel, arrays)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as pads

    meta = source.meta
    dims = source.dims
    partition_on = list(meta.get("partition_on", []))
    old_zipped = [z for z in meta.get("zipped", {}) if _zipped_of(meta, z) is None]
    if source.directory:
        fields = []
        for d in partition_on:
            kind = _coords_of(meta, d).dtype.kind
            fields.append(pa.field(d, pa.int64() if kind in "iu" else pa.float64() if kind == "f" else pa.string()))
        data = pads.dataset(
            [p.path for p in source.parts],
            format="parquet",
            partitioning=pads.partitioning(pa.schema(fields), flavor="hive"),
            partition_base_dir=source.path,
        )
    else:
        data = pads.dataset(source.path, format="parquet")
    file_names = set(data.schema.names)
    wanted = [d for d in dims if d in partition_on or source.column(d) in file_names]
    missing = [d for d in dims if d not in wanted]
    if missing:
        raise ValueError(f"{source.path} has no column for dimension(s) {missing}")

    def col(n):
        return n if n in partition_on else source.column(n)

    expr = expression
    if groups is not None:
        expr = None
        for terms in groups:
            conj = None
            for name, op, value in terms:
                if name in meta["scalars"] and source.column(name) not in file_names:
                    if bool(_evaluate(np.asarray(meta["scalars"][name]), op, value)):
                        continue
                    conj = pads.scalar(False)
                    break
                f = pads.field(col(name))
                v = value
                if name in partition_on and _coords_of(meta, name).dtype.kind == "b":
                    v = [_partition_text(x) for x in v] if isinstance(v, list) else _partition_text(v)
                term = {
                    "=": f == v,
                    "==": f == v,
                    "!=": f != v,
                    "<": f < v,
                    "<=": f <= v,
                    ">": f > v,
                    ">=": f >= v,
                }.get(op)
                if op == "in":
                    term = f.isin(v)
                elif op == "not in":
                    term = ~f.isin(v)
                conj = term if conj is None else conj & term
            conj = pads.scalar(True) if conj is None else conj
            expr = conj if expr is None else expr | conj
    read = [col(d) for d in dims] + [source.column(n) for n in names] + [source.column(z) for z in old_zipped]
    table = data.to_table(columns=list(dict.fromkeys(read)), filter=expr)

    index = {}
    for d in dims:
        coords = _coords_of(meta, d)
        column = table.column(col(d))
        if d in partition_on and coords.dtype.kind == "b":
            coords = np.array([_partition_text(x) for x in coords], dtype=object)
        values = pd.Index(coords)
        found = []
        for chunk in column.chunks:
            if pa.types.is_dictionary(chunk.type):
                lookup = values.get_indexer(pd.Index(chunk.dictionary.to_pylist()))
                found.append(lookup[chunk.indices.to_numpy(zero_copy_only=False)])
            else:
                found.append(values.get_indexer(chunk.to_numpy(zero_copy_only=False)))
        at = np.concatenate(found) if found else np.empty(0, int)
        if (at < 0).any():
            raise ValueError(f"{source.path}: column {d!r} holds values that are not among its coordinates")
        index[d] = at
    sel = {d: np.unique(index[d]) for d in dims}
    shape = {d: len(sel[d]) for d in dims}
    local = {d: np.searchsorted(sel[d], index[d]) for d in dims}
    complete = table.num_rows == math.prod(shape.values())
    arrays = {}
    infos = {n: {**meta["variables"][n], "name": n} for n in names}
    infos.update({z: {"dims": meta["zipped"][z]["dims"], "dtype": meta["zipped"][z]["dtype"]} for z in old_zipped})
    for n, info in infos.items():
        vdims = info["dims"]
        values = _to_numpy(table.column(source.column(n)), info)
        vshape = tuple(shape[d] for d in vdims)
        flat = np.ravel_multi_index(tuple(local[d] for d in vdims), vshape) if vdims else np.zeros(len(values), int)
        dtype = np.dtype(info["dtype"])
        covered = complete
        if not complete:
            seen = np.zeros(math.prod(vshape), bool)
            seen[flat] = True
            covered = bool(seen.all())
        if not covered and dtype.kind in "fc":
            out = np.full(math.prod(vshape), np.nan, dtype)
        elif not covered and dtype.kind != "O":
            out = np.full(math.prod(vshape), np.nan)  # missing points: promoted to float NaN
        else:
            out = np.empty(math.prod(vshape), dtype)
        out[flat] = values
        arrays[n] = out.reshape(vshape)
    return sel, arrays


def read_dataset(path, *, columns=None, filters=None, chunks=None):
    """Read a file or dataset directory written by ``write_parquet`` (or the earlier
    ``Result.to_parquet``) back into the xarray Dataset that was written.

    Parameters
    ----------
    path : str or os.PathLike
        A parquet file, or a dataset directory holding a ``_SUCCESS`` manifest.
    columns : list of str, optional
        Outputs to read (by name, or by unit-suffixed column name); all by default. The
        dimensions, zipped inputs and constants always come along.
    filters : list, optional
        pyarrow's form: ``[("hardware", "==", "NVIDIA H100"), ("batch_size", "<=", 8)]`` (a
        conjunction) or a list of such lists (their union), or a ``pyarrow.compute.Expression``.
        Records may be given as records. Filters on dimensions, zipped inputs and constants
        select coordinates without reading any dimension column (and only the row groups
        that meet them); filters on outputs are evaluated row by row, and the grid points of
        the selected coordinates that no row fills are NaN (outputs that are not floats are
        then promoted to float).
    chunks : dict, int or "auto", optional
        Give a lazy, dask-backed Dataset in these chunks (``{dim: size}``); each chunk reads
        only the row groups it meets when computed. With a filter on outputs the data are read
        first and then chunked.

    Returns
    -------
    xarray.Dataset
        Float, bool and code arrays with units in ``attrs`` (as ``Result.dataset``);
        ``Result.from_dataset`` wraps it.

    Raises
    ------
    IncompleteDatasetError
        A dataset directory without its marker, or with a part missing, unreadable or short.
    """
    import xarray as xr

    source = _open(path)
    meta = source.meta
    dims = source.dims
    names = list(meta["variables"])
    if columns is not None:
        back = {c: n for n, c in meta.get("columns", {}).items()}
        asked = [back.get(c, c) for c in ([columns] if isinstance(columns, str) else list(columns))]
        coords = set(meta["coords"]) | set(meta["scalars"]) | set(meta.get("zipped", {}))
        unknown = [c for c in asked if c not in meta["variables"] and c not in coords]
        if unknown:
            raise ValueError(f"{path} has no output {unknown}; outputs: {', '.join(names)}")
        names = [n for n in dict.fromkeys(asked) if n in meta["variables"]]
    groups = _normalise_filters(filters, source)
    expression = groups if groups is not None and not isinstance(groups, list) else None
    groups = groups if isinstance(groups, list) else None

    sel = None
    if expression is None and source.has_layout:
        if groups is None:
            sel = {d: np.arange(len(meta["coords"][d])) for d in dims}
        else:
            sel = _rectangle(groups, source)
            if sel is False:
                sel = {d: np.arange(0) for d in dims}
    arrays = {}
    lazy = False
    if sel is not None:
        covered = sum(math.prod(b - a for a, b in block) for p in source.parts for block in p.blocks)
        if covered != math.prod(len(meta["coords"][d]) for d in dims):
            raise IncompleteDatasetError(
                f"{path}: its parts hold {covered} grid points, the grid has "
                f"{math.prod(len(meta['coords'][d]) for d in dims)}"
            )
        if chunks is not None:
            normal = _normalise_chunks(chunks, dims, [len(sel[d]) for d in dims])
            arrays = {n: _dask_variable(source, n, sel, normal) for n in names}
            lazy = True
        else:
            for n in names:
                info = meta["variables"][n]
                arrays[n] = np.empty(tuple(len(sel[d]) for d in info["dims"]), dtype=info["dtype"])
            _fill(source, names, sel, arrays)
    else:
        sel, arrays = _general(source, names, groups, expression)

    data_vars = {n: xr.Variable(meta["variables"][n]["dims"], arrays[n], meta["variables"][n]["attrs"]) for n in names}
    coords = {}
    for d in dims:
        coords[d] = xr.Variable((d,), _coords_of(meta, d)[sel[d]], meta["coord_attrs"].get(d, {}))
    for name, value in meta["scalars"].items():
        coords[name] = xr.Variable((), value, meta["coord_attrs"].get(name, {}))
    for name, info in meta.get("zipped", {}).items():
        values = _zipped_of(meta, name)
        if values is None:
            values = arrays.pop(name)
        else:
            values = values[np.ix_(*(sel[d] for d in info["dims"]))] if info["dims"] else values
        coords[name] = xr.Variable(info["dims"], values, meta["coord_attrs"].get(name, {}))
    ds = xr.Dataset(data_vars, coords, attrs={"resolver": meta["resolver"], "dims": dims, **meta.get("attrs", {})})
    if chunks is not None and not lazy:
        ds = ds.chunk(_normalise_chunks(chunks, dims, [ds.sizes[d] for d in dims]))
    return ds
