"""A chunked sweep and its partitioned parquet write on the workers of a dask.distributed cluster
(issue 12, items 1 and 7): each chunk is computed and its part files written by a task on a
worker process, the client writes the ``_SUCCESS`` manifest last and renames; the files are the
ones the single-process write makes, byte for byte; a failed, interrupted or refused write leaves
no complete-looking dataset. The cluster is a 2-worker LocalCluster (processes, like
tests/test_result.py); a side channel (``io._write_file`` wrapped on the workers by
``client.run``) records which process wrote which part."""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

import mlsysim_vec as ms
from mlsysim_vec import io

distributed = pytest.importorskip("distributed")

H100, A100, T4 = ms.Hardware.Cloud.H100, ms.Hardware.Cloud.A100, ms.Hardware.Cloud.T4
PARTITION = ["hardware", "precision"]


def lazy_result():
    """3 models x 3 GPUs x 64 batch sizes x 2 precisions = 1,152 points in 2 x 4 = 8 chunks
    (hardware in 2 chunks, batch size in 4): 8 write tasks, 2 x 2 x 4 + 1 x 2 x 4 = 24 parts
    (a chunk of 2 GPUs x 2 precisions makes 4 files, one of 1 GPU x 2 precisions 2)."""
    return ms.SingleNodeModel().solve(
        model=list(ms.Models.Vision)[:3],
        hardware=[H100, A100, T4],
        batch_size=np.arange(1, 65),
        precision=["fp16", "fp8"],
        chunks={"batch_size": 16, "hardware": 2},
    )


@pytest.fixture(scope="module")
def lazy():
    return lazy_result()


@pytest.fixture(scope="module")
def eager(lazy):
    return lazy.compute().dataset


def contents(root: Path) -> dict:
    """Every file below ``root`` (relative path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------- the side channel
def record_part_writes(log_dir: str, fail_after: int | None = None, redirect: str | None = None) -> int:
    """Run on each worker by ``client.run``: wrap ``io._write_file`` so that every part file it
    writes is logged to ``log_dir/<pid>.log``; with ``fail_after``, writes after that many raise
    OSError; with ``redirect``, parts go to that directory instead (a disk the client does not
    see). Returns the worker's PID."""
    from mlsysim_vec import io as wio

    original = wio.__dict__.setdefault("_original_write_file", wio._write_file)
    count = itertools.count(1)

    def write_file(path, schema, row_groups, options):
        if fail_after is not None and next(count) > fail_after:
            raise OSError(f"simulated: no space left on device (worker PID {os.getpid()})")
        with open(Path(log_dir) / f"{os.getpid()}.log", "a") as fh:
            fh.write(f"{path}\n")
        if redirect is not None:
            path = Path(redirect) / f"{os.getpid()}-{Path(path).name}"
        return original(path, schema, row_groups, options)

    wio._write_file = write_file
    return os.getpid()


def restore_write_file() -> None:
    from mlsysim_vec import io as wio

    wio._write_file = wio.__dict__.pop("_original_write_file", wio._write_file)


def logged(log_dir: Path, depth: int = len(PARTITION)) -> dict:
    """{pid: [part path relative to its temporary dataset directory]} from the side channel
    (``depth``: the number of partition dimensions)."""
    out = {}
    for log in log_dir.glob("*.log"):
        out[int(log.stem)] = [Path(p).relative_to(Path(p).parents[depth]).as_posix() for p in log.read_text().split()]
    return out


# ---------------------------------------------------------------------------- without a cluster
def test_scheduler_is_validated(lazy, tmp_path):
    for bad in ("thread", 3, object()):
        with pytest.raises(ValueError, match=r"scheduler=.* is not allowed; scheduler must be None .*'stream'"):
            io.write_parquet(lazy, tmp_path / "d", partition_on=PARTITION, scheduler=bad)
    assert distributed.client._get_global_client() is None
    with pytest.raises(ValueError, match="scheduler='distributed' needs a running dask.distributed Client"):
        io.write_parquet(lazy, tmp_path / "d", partition_on=PARTITION, scheduler="distributed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("scheduler", ["threads", "synchronous"])
def test_local_dask_tasks_write_the_same_files(lazy, eager, tmp_path, scheduler):
    """The parts written by tasks of dask's local schedulers (in parallel with threads) are the
    files the single-process write makes, byte for byte, manifest included."""
    ref = Path(io.write_parquet(lazy, tmp_path / "ref", partition_on=PARTITION))
    root = Path(io.write_parquet(lazy, tmp_path / "d", partition_on=PARTITION, scheduler=scheduler))
    assert len(list(root.rglob("*.parquet"))) == 24
    assert contents(root) == contents(ref)
    xr.testing.assert_identical(io.read_dataset(root), eager)


@pytest.mark.parametrize("chunks", [None, {"config": 1}], ids=["eager", "chunked"])
def test_tasks_write_zipped_inputs_constants_and_unit_suffixes_alike(tmp_path, chunks):
    """Inputs zipped along ``config`` (records, choices), constants as columns (0-d variables)
    and unit-suffixed names: the tasks' parts equal this process's, byte for byte."""
    config = dict(
        hardware=xr.DataArray(np.array([H100, A100, T4], dtype=object), dims="config"),
        batch_size=xr.DataArray([1, 32, 4], dims="config"),
        precision=xr.DataArray(["FP16", "fp8", "fp16"], dims="config"),
    )
    r = ms.SingleNodeModel().solve(
        model=[ms.Models.ResNet50, ms.Models.Language.Llama3_8B], efficiency=[0.3, 0.5], chunks=chunks, **config
    )
    options = dict(partition_on=["model", "efficiency"], constant_columns=True, unit_suffix=True)
    alone = Path(io.write_parquet(r, tmp_path / "alone", scheduler="stream", **options))
    root = Path(io.write_parquet(r, tmp_path / "tasks", scheduler="threads", **options))
    assert contents(root) == contents(alone) and len(list(root.rglob("*.parquet"))) == (12 if chunks else 4)
    xr.testing.assert_identical(io.read_dataset(root), r.compute().dataset)


# ---------------------------------------------------------------------------- on a LocalCluster
@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture
def side_channel(client, tmp_path):
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    yield client, log_dir
    client.run(restore_write_file)


def test_workers_compute_and_write_the_parts(lazy, eager, side_channel, tmp_path, monkeypatch):
    client, log_dir = side_channel
    worker_pids = set(client.run(record_part_writes, str(log_dir)).values())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids
    here = []
    monkeypatch.setattr(io, "_write_file", lambda path, *a: here.append(path))  # the client writes no part
    root = Path(lazy.to_parquet(tmp_path / "sweep", partition_on=PARTITION))  # the active Client: no option
    assert here == []
    manifest = json.loads((root / io.MARKER).read_text())
    parts = sorted(f["path"] for f in manifest["files"])
    assert len(parts) == 24 and manifest["rows"] == 3 * 3 * 64 * 2
    by_pid = logged(log_dir)
    assert set(by_pid) <= worker_pids, "every part was written by a worker process"
    assert sorted(p for paths in by_pid.values() for p in paths) == parts, "each part once"
    assert len(by_pid) == 2, f"both workers wrote parts (in parallel): {by_pid}"
    # the dataset reads back equal to the eager result, whole and selectively
    xr.testing.assert_identical(ms.read_parquet(root).dataset, eager)
    sub = ms.read_parquet(
        root, columns=["latency"], filters=[("hardware", "==", "NVIDIA A100"), ("batch_size", ">", 60)]
    )
    xr.testing.assert_identical(
        sub.dataset, eager[["latency"]].sel(hardware=["NVIDIA A100"], batch_size=[61, 62, 63, 64])
    )
    # same files as this process writing alone (scheduler="stream"), byte for byte
    monkeypatch.undo()
    alone = Path(io.write_parquet(lazy, tmp_path / "alone", partition_on=PARTITION, scheduler="stream"))
    assert contents(root) == contents(alone)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone", "log", "sweep"]


def test_a_worker_failing_mid_write_keeps_the_previous_dataset(lazy, eager, side_channel, tmp_path):
    """Each worker writes one part, then its writes fail: the error reaches the caller, the
    previous dataset is unchanged, and no temporary, lock or marker is left behind."""
    client, log_dir = side_channel
    target = tmp_path / "sweep"
    io.write_parquet(eager, target, partition_on=["model"])  # the previous result
    before = contents(target)
    client.run(record_part_writes, str(log_dir), 1)
    with pytest.raises(OSError, match="simulated: no space left on device"):
        io.write_parquet(lazy, target, partition_on=PARTITION)
    assert sum(len(p) for p in logged(log_dir).values()) >= 1, "parts were written before the failure"
    assert contents(target) == before
    xr.testing.assert_identical(io.read_dataset(target), eager)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log", "sweep"]
    client.run(restore_write_file)
    io.write_parquet(lazy, target, partition_on=PARTITION)  # the cluster and the path are usable again
    xr.testing.assert_identical(io.read_dataset(target), eager)


def test_ctrl_c_in_the_client_cancels_the_tasks_and_leaves_nothing(lazy, eager, client, tmp_path, monkeypatch):
    """KeyboardInterrupt while the workers write (raised by the progress bar's first update,
    i.e. once a chunk's parts are on disk): no dataset, no temporary, no lock; the cluster
    then writes the path normally."""

    class Interrupting:
        def update(self, n):
            raise KeyboardInterrupt

        def close(self):
            pass

    monkeypatch.setattr(io, "_progress_bar", lambda *a: Interrupting())
    target = tmp_path / "sweep"
    with pytest.raises(KeyboardInterrupt):
        io.write_parquet(lazy, target, partition_on=PARTITION, progress=True)
    assert list(tmp_path.iterdir()) == []
    time.sleep(0.5)  # a task still running when cancelled cannot write into the discarded temporary
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    io.write_parquet(lazy, target, partition_on=PARTITION)
    xr.testing.assert_identical(io.read_dataset(target), eager)


def test_a_second_writer_is_refused_before_any_worker_writes(lazy, side_channel, tmp_path):
    client, log_dir = side_channel
    client.run(record_part_writes, str(log_dir))
    lock = tmp_path / ".sweep.lock"
    lock.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "time": 0}))
    with pytest.raises(io.ConcurrentWriteError, match=f"PID {os.getppid()}"):
        io.write_parquet(lazy, tmp_path / "sweep", partition_on=PARTITION)
    assert logged(log_dir) == {} and sorted(p.name for p in tmp_path.iterdir()) == [".sweep.lock", "log"]


def test_workers_writing_to_a_disk_the_client_does_not_see_fail_clearly(lazy, side_channel, tmp_path):
    """A worker whose parts land elsewhere (a disk not shared with the client) is caught before
    the marker is written, naming the part, the worker and the fix."""
    client, log_dir = side_channel
    elsewhere = tmp_path / "worker-local-disk"
    elsewhere.mkdir()
    client.run(record_part_writes, str(log_dir), None, str(elsewhere))
    with pytest.raises(FileNotFoundError, match=r"written by PID \d+ on host .* must write to a filesystem they share"):
        io.write_parquet(lazy, tmp_path / "sweep", partition_on=PARTITION)
    assert not (tmp_path / "sweep").exists() and not list(tmp_path.rglob(io.MARKER))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log", "worker-local-disk"]


def test_a_worker_that_cannot_see_the_temporary_refuses_to_write(tmp_path):
    """The worker's own check: the temporary directory is not there (another machine's disk),
    so the task writes nothing (it creates no directory of its own) and says why."""
    spec = io._PartsSpec(
        writer=SimpleNamespace(dims=["hardware"]),
        meta={},
        partition_on=["hardware"],
        partition_values={},
        bounds={},
        row_group_size=1,
        options={},
        tmp=str(tmp_path / ".sweep.tmp-1-abcd"),
    )
    with pytest.raises(FileNotFoundError, match="does not exist on host .* shares with the client .* docs/dask.md"):
        io._region_task(spec=spec, names=(), var_dims=(), block_info={None: {"chunk-location": (0,)}})
    assert list(tmp_path.iterdir()) == []


def test_numpy_and_broadcast_variables_go_to_the_workers_in_pieces(eager, side_channel, tmp_path):
    """A Dataset mixing a chunked variable (4 chunks along batch_size), full numpy arrays and a
    broadcast numpy view (stride 0 along batch_size): each task gets its region's piece of the
    numpy arrays, the view is rebuilt from its one distinct slice, and the files equal this
    process's own write."""
    client, log_dir = side_channel
    client.run(record_part_writes, str(log_dir))
    ds = eager.copy()
    ds["latency"] = ds.latency.chunk({"batch_size": 16})
    axis = ds.mfu.get_axis_num("batch_size")
    flat = np.take(ds.mfu.values, [0], axis=axis)
    ds["mfu"] = ds.mfu.copy(data=np.broadcast_to(flat, ds.mfu.shape))
    assert ds.mfu.values.strides[axis] == 0
    root = Path(io.write_parquet(ds, tmp_path / "mixed", partition_on=["precision"], scheduler=client))
    alone = Path(io.write_parquet(ds, tmp_path / "alone", partition_on=["precision"], scheduler="stream"))
    assert contents(root) == contents(alone) and len(list(root.rglob("*.parquet"))) == 4 * 2
    assert sum(len(p) for p in logged(log_dir, depth=1).values()) == 8
    xr.testing.assert_identical(io.read_dataset(root), ds.compute())


def test_a_single_file_is_computed_on_the_cluster_and_written_here(lazy, eager, side_channel, tmp_path):
    client, log_dir = side_channel
    client.run(record_part_writes, str(log_dir))
    path = lazy.to_parquet(tmp_path / "r.parquet", scheduler=client)
    assert logged(log_dir) == {}  # one file has one writer: this process
    xr.testing.assert_identical(ms.read_parquet(path).dataset, eager)
