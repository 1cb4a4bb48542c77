"""Parquet I/O benchmarks: a chunked SingleNodeModel sweep written to parquet end to end, against
pyarrow alone writing the same columns from ready arrays; ``read_dataset(columns=3 outputs)``
against ``pandas.read_parquet`` of the same columns.

Run::

    python -m benchmarks.bench_io                 # a ~1e6-point sweep (a few seconds)
    python -m benchmarks.bench_io --full          # the 1e8-point sweep of the targets (~1.5 GB on disk)
    python -m benchmarks.bench_io --huge          # also a 1e9-point sweep to a partitioned dataset
    python -m benchmarks.bench_io --json out.json # also write the rows as JSON
    python benchmarks/bench_io.py --quick         # every benchmark once, tiny (smoke test)

Every measurement runs in a fresh interpreter (``python -c``), after an untimed warm-up in that
interpreter (imports, kernels, a tiny write or read), so that each figure is one operation's:

* ``seconds``: wall time of the operation (one run: the machine is shared and the large runs
  are long). The write is ``solve(..., chunks=...)`` + ``write_parquet`` (compute, conversion,
  encoding, fsync, rename).
* ``RSS MB``: the process's peak resident set size during the operation minus its RSS just
  before (the high-water mark is reset through ``/proc/self/clear_refs``). The write target
  is on the *absolute* peak (in the note and ``extra["peak_rss_mb"]``).
* ``x base``: this row's seconds over its baseline's seconds, measured in the same run (lower
  is better). Baselines: ``pyarrow write`` takes the first row group of the file just
  written (ready Arrow arrays of every column), and writes it again and again with
  ``pyarrow.parquet.ParquetWriter`` until the file has as many rows, with the same codec,
  dictionary-encoded columns and statistics as the file (no fsync);
  ``pandas.read_parquet`` reads the same three columns of the same file; the single-process
  partitioned write is the base of the same write through a 2-worker dask LocalCluster (the
  workers compute and write the parts; the cluster is started before the clock, and the RSS
  is the client's, the workers' peaks in the note).

Targets (issue 12), asserted on the ``--full`` run: the 1e8-point write within 2.5x pyarrow's
time at a peak RSS of at most 2 GiB; the read within 1.5x pandas' time and peak memory; with
``--huge``, the 1e9-point partitioned write within 10 minutes at most 2 GiB.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness  # noqa: E402
from benchmarks.bench_spine import single_node_axes  # noqa: E402
from benchmarks.harness import Row  # noqa: E402

__all__ = [
    "SIZE",
    "FULL_SIZE",
    "HUGE_SIZE",
    "TARGETS",
    "READ_COLUMNS",
    "COLUMNS",
    "sweep_chunks",
    "model_chunks",
    "bench_write",
    "bench_read",
    "bench_partitioned",
    "bench_distributed",
    "run_all",
    "main",
]

SIZE = 10**6
FULL_SIZE = 10**8
HUGE_SIZE = 10**9
#: Points per chunk of the sweep (bounds the memory of a write: ~20 outputs x 8 B x this).
CHUNK_POINTS = 1 << 21
READ_COLUMNS = ("latency", "mfu", "energy")

TARGETS = {
    "write_x_pyarrow": 2.5,  # end-to-end write time over pyarrow's, on >= write_min_points
    "write_peak_rss_mb": 2048.0,
    "write_min_points": FULL_SIZE,
    "read_x_pandas_time": 1.5,  # read_dataset(columns=3) over pandas.read_parquet, same file
    "read_x_pandas_rss": 1.5,
    "partitioned_s": 600.0,  # the 1e9-point partitioned write (--huge)
    "partitioned_min_points": HUGE_SIZE,
}

#: The shared table, with the ratio column titled for this module's baselines.
COLUMNS = harness.retitled(ratio_vs_loop="x base")


# ---------------------------------------------------------------------------- the sweep
def sweep_chunks(axes: dict, points: int = CHUNK_POINTS) -> dict:
    """``chunks=`` for ``single_node_axes``: batch sizes per chunk so that a chunk holds about
    ``points`` points (at least 4 chunks), and models too when one batch size is more."""
    n = harness.n_points(axes)
    batches = len(axes["batch_size"])
    per_batch = n / batches
    chunks = {"batch_size": max(1, min(math.ceil(batches / 4), round(points / per_batch)))}
    if per_batch > points:
        chunks["model"] = max(1, math.ceil(len(axes["model"]) * points / per_batch))
    return chunks


def model_chunks(axes: dict, points: int = CHUNK_POINTS) -> dict:
    """``chunks=`` with one model per chunk and batch sizes for about ``points`` points: with
    ``partition_on=["model"]`` every file holds one chunk's rows (a few large files per model)."""
    per_batch = harness.n_points(axes) / len(axes["model"]) / len(axes["batch_size"])
    return {"model": 1, "batch_size": max(1, min(len(axes["batch_size"]), round(points / per_batch)))}


# ---------------------------------------------------------------------------- in the child
def _rss_now() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _fresh_peak() -> int:
    """Return freed heap to the OS, reset the RSS high-water mark; the RSS now [byte]."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _rss_now()


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _child_write(task: dict) -> dict:
    import mlsysim_vec as ms
    from mlsysim_vec.io import write_parquet

    cluster = None
    if task.get("workers"):  # a LocalCluster of that many 1-thread worker processes, started untimed
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=task["workers"], threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        out = _timed_write(ms, write_parquet, task)
        if cluster is not None:
            out["worker_peak_rss"] = sorted(client.run(_peak_rss).values())
    finally:
        if cluster is not None:
            client.close()
            cluster.close()
    return out


def _timed_write(ms, write_parquet, task: dict) -> dict:
    solver = ms.SingleNodeModel()
    path = Path(task["path"])
    warm = path.with_name(path.name + ".warm")
    small = single_node_axes(10**4)
    write_parquet(solver.solve(**small, chunks=sweep_chunks(small, 2000)), warm, partition_on=task["partition_on"])
    shutil.rmtree(warm) if warm.is_dir() else warm.unlink()
    axes = single_node_axes(task["points"])
    chunks = task.get("chunks") or sweep_chunks(axes)
    before = _fresh_peak()
    t0 = time.perf_counter()
    result = solver.solve(**axes, chunks=chunks)
    write_parquet(result, path, partition_on=task["partition_on"])
    seconds = time.perf_counter() - t0
    peak = _peak_rss()
    return {
        "seconds": seconds,
        "peak_rss": peak,
        "rss_before": before,
        "points": harness.n_points(axes),
        "bytes": _size(path),
        "chunks": chunks,
        "n_chunks": math.prod(math.ceil(len(axes[d]) / c) for d, c in chunks.items()),
    }


def _child_pyarrow(task: dict) -> dict:
    import pyarrow.parquet as pq

    source = pq.ParquetFile(task["source"])
    md = source.metadata
    group = md.row_group(0)
    names = source.schema_arrow.names
    dictionary = [names[i] for i in range(group.num_columns) if any("DICT" in e for e in group.column(i).encodings)]
    statistics = [names[i] for i in range(group.num_columns) if group.column(i).is_stats_set]
    codec = group.column(0).compression.lower()
    table = source.read_row_group(0)
    rows = md.num_rows
    warm = Path(task["path"] + ".warm")
    pq.write_table(table.slice(0, 1000), warm)
    warm.unlink()
    before = _fresh_peak()
    t0 = time.perf_counter()
    writer = pq.ParquetWriter(
        task["path"],
        table.schema,
        compression=None if codec == "uncompressed" else codec,
        use_dictionary=dictionary,
        write_statistics=statistics,
    )
    written = 0
    while written < rows:
        k = min(table.num_rows, rows - written)
        writer.write_table(table.slice(0, k), row_group_size=k)
        written += k
    writer.close()
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "peak_rss": _peak_rss(),
        "rss_before": before,
        "points": rows,
        "bytes": os.path.getsize(task["path"]),
        "dictionary_columns": len(dictionary),
        "columns": len(names),
    }


def _child_read(task: dict) -> dict:
    import pandas as pd

    from mlsysim_vec.io import read_dataset

    columns = list(task["columns"])
    path = task["path"]
    first = task["first_hardware"]
    if task["reader"] == "pandas":
        pd.read_parquet(path, columns=columns[:1], filters=[("hardware", "==", first)])  # warm-up
        before = _fresh_peak()
        t0 = time.perf_counter()
        frame = pd.read_parquet(path, columns=columns)
        seconds = time.perf_counter() - t0
        sums = [float(np.nansum(frame[c].to_numpy())) for c in columns]
    else:
        read_dataset(path, columns=columns[:1], filters=[("hardware", "==", first)])  # warm-up
        before = _fresh_peak()
        t0 = time.perf_counter()
        ds = read_dataset(path, columns=columns)
        seconds = time.perf_counter() - t0
        n = math.prod(ds.sizes.values())
        sums = [float(np.nansum(ds[c].values)) * n / ds[c].size for c in columns]  # as if broadcast to rows
    return {"seconds": seconds, "peak_rss": _peak_rss(), "rss_before": before, "sums": sums}


def _child(task: dict) -> dict:
    """Run one measured task (``bench_io`` calls this in a fresh interpreter)."""
    return {"write": _child_write, "pyarrow": _child_pyarrow, "read": _child_read}[task["kind"]](task)


_CHILD = "import json, sys; from benchmarks.bench_io import _child; print(json.dumps(_child(json.loads(sys.argv[1]))))"


def _spawn(task: dict) -> dict:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(task)], cwd=root, capture_output=True, text=True, check=False
    )
    if proc.returncode:
        raise RuntimeError(f"benchmark child {task['kind']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mb(nbytes) -> float:
    return nbytes / 2**20


def _agrees(path: Path, axes: dict) -> bool:
    """The file's latency and bottleneck for the first accelerator equal an eager solve's."""
    import mlsysim_vec as ms
    from mlsysim_vec.io import read_dataset

    first = axes["hardware"][0]
    got = read_dataset(path, columns=["latency", "bottleneck"], filters=[("hardware", "==", first)])
    ref = ms.SingleNodeModel().solve(**{**axes, "hardware": [first]}).dataset
    return all(
        np.array_equal(got[n].values, ref[n].values, equal_nan=got[n].dtype.kind == "f")
        for n in ("latency", "bottleneck")
    )


# ---------------------------------------------------------------------------- benchmarks
def bench_write(points: int = SIZE, workdir: str | None = None, keep: bool = False) -> list[Row]:
    """The sweep written end to end (``solve(chunks=...)`` + ``write_parquet``), then the
    pyarrow baseline on the file it wrote. Returns [baseline, write]; with ``keep`` the file
    stays in ``workdir`` for ``bench_read`` (its path in ``extra["path"]``)."""
    work = Path(workdir or tempfile.mkdtemp(prefix="bench_io_"))
    path = work / f"sweep_{points:.0e}.parquet"
    axes = single_node_axes(points)
    w = _spawn({"kind": "write", "path": str(path), "points": points, "partition_on": None})
    b = _spawn({"kind": "pyarrow", "source": str(path), "path": str(work / "pyarrow.parquet")})
    os.unlink(work / "pyarrow.parquet")
    agree = _agrees(path, axes)
    n = w["points"]
    ratio = w["seconds"] / b["seconds"]
    big = n >= TARGETS["write_min_points"]
    peak_mb = _mb(w["peak_rss"])
    ok = agree and (not big or (ratio <= TARGETS["write_x_pyarrow"] and peak_mb <= TARGETS["write_peak_rss_mb"]))
    rows = [
        Row(
            f"pyarrow write, ready arrays {points:.0e}",
            b["points"],
            b["seconds"],
            b["points"] / b["seconds"],
            None,
            _mb(b["peak_rss"] - b["rss_before"]),
            1.0,
            "baseline",
            None,
            f"the file's first row group rewritten; {b['columns']} columns, {b['dictionary_columns']} dictionary",
            {"bytes": b["bytes"], "peak_rss_mb": _mb(b["peak_rss"])},
        ),
        Row(
            f"write_parquet SingleNodeModel {points:.0e}",
            n,
            w["seconds"],
            n / w["seconds"],
            None,
            _mb(w["peak_rss"] - w["rss_before"]),
            ratio,
            "<= 2.5x, peak <= 2 GiB" if big else "file == eager",
            ok,
            f"{w['n_chunks']} chunks {w['chunks']}; peak RSS {peak_mb:.0f} MB; {_mb(w['bytes']):.0f} MB file",
            {
                "chunks": w["chunks"],
                "n_chunks": w["n_chunks"],
                "bytes": w["bytes"],
                "peak_rss_mb": peak_mb,
                "agrees": agree,
                "path": str(path) if keep else None,
            },
        ),
    ]
    if not keep:
        path.unlink()
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return rows


def bench_read(path: str, points: int, columns=READ_COLUMNS) -> list[Row]:
    """``read_dataset(path, columns=...)`` against ``pandas.read_parquet(path, columns=...)``,
    each in a fresh process. Returns [pandas, read_dataset]."""
    import pyarrow.parquet as pq

    first = pq.ParquetFile(path).read_row_group(0, columns=["hardware"]).column(0)[0].as_py()
    task = {"kind": "read", "path": str(path), "columns": list(columns), "first_hardware": first}
    p = _spawn({**task, "reader": "pandas"})
    r = _spawn({**task, "reader": "io"})
    p_rss, r_rss = p["peak_rss"] - p["rss_before"], r["peak_rss"] - r["rss_before"]
    t_ratio, m_ratio = r["seconds"] / p["seconds"], r_rss / max(p_rss, 1)
    agree = bool(np.allclose(p["sums"], r["sums"], rtol=1e-9))
    big = points >= TARGETS["write_min_points"]
    ok = agree and (not big or (t_ratio <= TARGETS["read_x_pandas_time"] and m_ratio <= TARGETS["read_x_pandas_rss"]))
    names = ", ".join(columns)
    return [
        Row(
            f"pandas.read_parquet {len(columns)} columns",
            points,
            p["seconds"],
            points / p["seconds"],
            None,
            _mb(p_rss),
            1.0,
            "baseline",
            None,
            f"columns={names}",
            {"peak_rss_mb": _mb(p["peak_rss"])},
        ),
        Row(
            f"read_dataset {len(columns)} columns",
            points,
            r["seconds"],
            points / r["seconds"],
            None,
            _mb(r_rss),
            t_ratio,
            "<= 1.5x time and RSS" if big else "== pandas",
            ok,
            f"RSS {m_ratio:.2f}x pandas'; sums equal: {'yes' if agree else 'NO'}",
            {"rss_ratio": m_ratio, "agrees": agree, "peak_rss_mb": _mb(r["peak_rss"])},
        ),
    ]


def _partitioned_write(points: int, partition_on: list, **extra) -> tuple[dict, int, bool]:
    """Write the sweep of ``points`` points (``model_chunks``) to a dataset directory partitioned
    on ``partition_on`` in a fresh process (``extra``: more task keys, e.g. ``workers``), then
    count its files and read one column back; return (the child's figures, files, complete)."""
    work = Path(tempfile.mkdtemp(prefix="bench_io_"))
    path = work / "sweep"
    task = {"kind": "write", "path": str(path), "points": points, "partition_on": partition_on, **extra}
    try:
        w = _spawn({**task, "chunks": model_chunks(single_node_axes(points))})
        from mlsysim_vec.io import read_dataset

        files = len(list(path.rglob("*.parquet")))
        sample = read_dataset(path, columns=["latency"], filters=[("hardware", "==", "NVIDIA A100")]).latency
        complete = bool(np.isfinite(sample.values).all())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return w, files, complete


def bench_partitioned(points: int = SIZE, baseline: Row | None = None) -> list[Row]:
    """The sweep written to a dataset directory partitioned on ``model`` (``model_chunks``: one
    file per model per chunk); ``x base`` against ``baseline`` (a pyarrow row) scaled to the
    same points."""
    partition_on = ["model"]
    w, files, complete = _partitioned_write(points, partition_on)
    n = w["points"]
    peak_mb = _mb(w["peak_rss"])
    big = n >= TARGETS["partitioned_min_points"]
    ok = complete and (
        not big or (w["seconds"] <= TARGETS["partitioned_s"] and peak_mb <= TARGETS["write_peak_rss_mb"])
    )
    ratio = None if baseline is None else w["seconds"] / (baseline.seconds * n / baseline.points)
    return [
        Row(
            f"write_parquet partitioned {points:.0e}",
            n,
            w["seconds"],
            n / w["seconds"],
            None,
            _mb(w["peak_rss"] - w["rss_before"]),
            ratio,
            "<= 10 min, peak <= 2 GiB" if big else "complete",
            ok,
            f"partition_on={partition_on}: {files} files; {w['n_chunks']} chunks; peak RSS {peak_mb:.0f} MB; "
            f"{_mb(w['bytes']):.0f} MB",
            {"files": files, "bytes": w["bytes"], "peak_rss_mb": peak_mb, "chunks": w["chunks"]},
        )
    ]


def bench_distributed(points: int = SIZE, baseline: Row | None = None, workers: int = 2) -> list[Row]:
    """The partitioned write of ``bench_partitioned`` (same sweep, chunks and ``partition_on``)
    with a dask.distributed LocalCluster of ``workers`` 1-thread processes active: each chunk
    computed and its files written by a task on a worker, the manifest by this process; ``x
    base`` against ``baseline`` (the single-process partitioned row) scaled to the same points.
    No row without distributed installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return []
    w, files, complete = _partitioned_write(points, ["model"], workers=workers)
    n = w["points"]
    ratio = None if baseline is None else w["seconds"] / (baseline.seconds * n / baseline.points)
    workers_mb = [round(_mb(r)) for r in w["worker_peak_rss"]]
    return [
        Row(
            f"write_parquet partitioned, {workers} dask workers {points:.0e}",
            n,
            w["seconds"],
            n / w["seconds"],
            None,
            _mb(w["peak_rss"] - w["rss_before"]),
            ratio,
            "complete",
            complete,
            f"LocalCluster({workers} processes x 1 thread) writes {files} files; x base: over the "
            f"single-process partitioned write; client peak RSS {_mb(w['peak_rss']):.0f} MB, workers' "
            f"{workers_mb} MB",
            {"files": files, "workers": workers, "peak_rss_mb": _mb(w["peak_rss"]), "worker_peak_rss_mb": workers_mb},
        )
    ]


# ---------------------------------------------------------------------------- driver
def run_all(points: int = SIZE, huge: bool = False, repeats: int = 1, progress: bool = False) -> list[Row]:
    """The write and its baseline, the read and its baseline on the written file, a partitioned
    write of the same sweep, the same written by the workers of a 2-process LocalCluster (and a
    1e9-point partitioned write with ``huge``). ``repeats`` is ignored: every figure is one run
    in a fresh process."""
    work = tempfile.mkdtemp(prefix="bench_io_")
    try:
        rows = []

        def write():
            rows.extend(bench_write(points, work, keep=True))
            return rows[-2:]

        parted = []

        def partitioned():
            parted.extend(bench_partitioned(points, baseline=rows[0]))
            return parted

        steps = [
            write,
            lambda: bench_read(rows[1].extra["path"], rows[1].points),
            partitioned,
            lambda: bench_distributed(points, baseline=parted[0]),
        ]
        if huge:
            steps.append(lambda: bench_partitioned(HUGE_SIZE, baseline=rows[0]))
        out = harness.run_steps(steps, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for row in out:
        row.extra.pop("path", None)
    return out


def main(argv=None) -> int:
    return harness.cli(
        argv,
        prog="bench_io",
        doc=__doc__,
        run_all=run_all,
        targets=TARGETS,
        columns=COLUMNS,
        quick=dict(points=2 * 10**4),
        default=lambda args: dict(points=FULL_SIZE if args.full or args.huge else SIZE, huge=args.huge),
        extra_args=[
            ("--full", dict(action="store_true", help="the 1e8-point sweep of the targets (~1.5 GB on disk)")),
            ("--huge", dict(action="store_true", help="--full and a 1e9-point partitioned write (~15 GB on disk)")),
        ],
        footnote="One run per figure, each in a fresh process after a warm-up. x base: seconds over the "
        "baseline's (pyarrow writing the file's first row group again to the same row count with the same "
        "encodings; pandas.read_parquet of the same columns; the single-process partitioned write for the dask "
        "workers' one). RSS MB: peak RSS during the operation minus "
        "RSS before (clear_refs + ru_maxrss); write targets on the absolute peak (note).",
    )


if __name__ == "__main__":
    sys.exit(main())
