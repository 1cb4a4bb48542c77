"""mlsysim_vec.io: streaming parquet writes of a Result (files and hive-partitioned dataset
directories), crash and concurrency safety, and selective reads (columns, filters, dask chunks)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xarray as xr

import mlsysim_vec as ms
from mlsysim_vec import io

H100, A100, T4 = ms.Hardware.Cloud.H100, ms.Hardware.Cloud.A100, ms.Hardware.Cloud.T4


@pytest.fixture(scope="module")
def grid():
    """Record, choice and integer dimensions; constants (efficiency, seq_len, ...); outputs that
    vary along some dimensions only; categorical and boolean outputs."""
    return ms.SingleNodeModel().solve(
        model=[ms.Models.ResNet50, ms.Models.Language.Llama3_70B],
        hardware=[H100, A100, T4],
        batch_size=[8, 1, 64],
        precision=["fp16", "fp8"],
    )


@pytest.fixture(scope="module")
def zipped():
    config = dict(
        hardware=xr.DataArray(np.array([H100, A100, T4], dtype=object), dims="config"),
        batch_size=xr.DataArray([1, 32, 4], dims="config"),
        precision=xr.DataArray(["FP16", "fp8", "fp16"], dims="config"),
    )
    return ms.SingleNodeModel().solve(model=[ms.Models.ResNet50, ms.Models.Language.Llama3_8B], **config)


def lazy_result(batches=64, chunk=16):
    pytest.importorskip("dask")
    return ms.SingleNodeModel().solve(
        model=list(ms.Models.Vision)[:3],
        hardware=[H100, A100, T4],
        batch_size=np.arange(1, batches + 1),
        precision=["fp16", "fp8"],
        chunks={"batch_size": chunk, "hardware": 2},
    )


def constants(ds):
    return [c for c in ds.coords if ds[c].ndim == 0]


# ---------------------------------------------------------------------------- round trips
def test_eager_round_trip_equals_the_dataset(grid, tmp_path):
    path = io.write_parquet(grid, tmp_path / "r.parquet")
    assert path == str(tmp_path / "r.parquet")
    xr.testing.assert_identical(io.read_dataset(path), grid.dataset)
    back = ms.Result.from_dataset(io.read_dataset(path))
    assert back.latency.pint.units == grid.latency.pint.units
    assert list(back.bottleneck.values.ravel()) == list(grid.bottleneck.values.ravel())
    assert not list(tmp_path.glob(".*")), "no temporary or lock file is left behind"


def test_constants_live_in_the_metadata_not_in_columns(grid, tmp_path):
    path = io.write_parquet(grid, tmp_path / "r.parquet")
    schema = pq.read_schema(path)
    meta = json.loads(schema.metadata[io.META_KEY])
    assert set(constants(grid.dataset)) == set(meta["scalars"]) and meta["scalars"]["efficiency"] == 0.5
    assert not set(constants(grid.dataset)) & set(schema.names)
    for name in ("model", "hardware", "precision", "bottleneck", "infeasible_reason"):
        assert pa.types.is_dictionary(schema.field(name).type), name
    assert schema.field("hardware").type.index_type == pa.int8()


def test_pandas_reads_the_tidy_table(grid, tmp_path):
    """A plain pandas reader gets to_dataframe() (labels as categoricals in grid order), without
    the constant columns unless constant_columns=True."""
    df = grid.to_dataframe()
    plain = pd.read_parquet(io.write_parquet(grid, tmp_path / "a.parquet"))
    pd.testing.assert_frame_equal(plain, df.drop(columns=constants(grid.dataset)))
    full = pd.read_parquet(io.write_parquet(grid, tmp_path / "b.parquet", constant_columns=True))
    pd.testing.assert_frame_equal(full, df)
    xr.testing.assert_identical(io.read_dataset(tmp_path / "b.parquet"), grid.dataset)


def test_scalar_result_round_trip(tmp_path):
    r = ms.TrainingMemoryModel().solve(model=ms.Models.Language.Llama3_8B, hardware=H100, batch_size=8)
    path = io.write_parquet(r, tmp_path / "s.parquet")
    xr.testing.assert_identical(io.read_dataset(path), r.dataset)
    assert pq.read_metadata(path).num_rows == 1
    assert ms.Result.from_dataset(io.read_dataset(path)).total_memory == r.total_memory


def test_a_dataset_with_text_outputs_round_trips(grid, tmp_path):
    """write_parquet takes a Dataset too; text outputs (labels, e.g. a search's best_<dim>) are
    dictionary-encoded with their distinct values."""
    ds = grid.dataset.copy()
    ds["best_label"] = xr.Variable(
        ("model", "precision"), np.array([["a", "b"], ["b", "c"]], dtype=object), {"description": "x"}
    )
    path = io.write_parquet(ds, tmp_path / "t.parquet", partition_on=["precision"])
    xr.testing.assert_identical(io.read_dataset(path), ds)
    field = pq.read_schema(next(Path(path).rglob("*.parquet"))).field("best_label")
    assert pa.types.is_dictionary(field.type)


def test_zipped_inputs_round_trip_and_filter(zipped, tmp_path):
    ds = zipped.dataset
    path = io.write_parquet(zipped, tmp_path / "z.parquet")
    xr.testing.assert_identical(io.read_dataset(path), ds)
    assert list(pd.read_parquet(path).columns[:5]) == ["model", "config", "hardware", "batch_size", "precision"]
    one = io.read_dataset(path, filters=[("hardware", "==", A100)])
    xr.testing.assert_identical(one, ds.isel(config=[1]))


def test_chunked_result_is_written_chunk_by_chunk(tmp_path):
    lazy = lazy_result()
    ds = lazy.dataset
    assert ds.latency.chunks is not None
    path = io.write_parquet(lazy, tmp_path / "lazy.parquet", row_group_size=100)
    xr.testing.assert_identical(io.read_dataset(path), lazy.compute().dataset)
    md = pq.read_metadata(path)
    assert md.num_rows == np.prod(list(ds.sizes.values()))
    assert max(md.row_group(i).num_rows for i in range(md.num_row_groups)) <= 100
    layout = json.loads(md.schema.to_arrow_schema().metadata[io.META_KEY])["layout"]
    assert sum(np.prod([b - a for a, b in zip(f[::2], f[1::2])]) for f in layout["blocks"]) == md.num_rows


def test_partitioned_dataset_round_trip(tmp_path):
    lazy = lazy_result()
    eager = lazy.compute().dataset
    root = Path(io.write_parquet(lazy, tmp_path / "sweep", partition_on=["hardware", "precision"]))
    assert (root / io.MARKER).is_file()
    parts = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    # one file per partition value per chunk: 3 hardware x 2 precisions, 4 batch chunks
    assert len(parts) == 3 * 2 * 4 and "hardware=NVIDIA%20H100/precision=fp16/part-00000.parquet" in parts
    manifest = json.loads((root / io.MARKER).read_text())
    assert sorted(f["path"] for f in manifest["files"]) == parts and manifest["rows"] == eager.latency.size
    assert "hardware" not in pq.read_schema(root / parts[0]).names  # in the path, not in the files
    xr.testing.assert_identical(io.read_dataset(root), eager)
    # a plain pyarrow/pandas reader of the directory gets the partition columns from the paths
    df = pd.read_parquet(root)
    assert len(df) == eager.latency.size and set(df.hardware.astype(str)) == set(eager.hardware.values)
    sub = io.read_dataset(
        root, columns=["latency"], filters=[("hardware", "==", "NVIDIA A100"), ("batch_size", ">", 60)]
    )
    xr.testing.assert_identical(sub, eager[["latency"]].sel(hardware=["NVIDIA A100"], batch_size=[61, 62, 63, 64]))


def test_overwrite_file_with_dataset_and_back(grid, tmp_path):
    target = tmp_path / "out"
    io.write_parquet(grid, target)
    io.write_parquet(grid, target, partition_on=["model"])
    assert target.is_dir()
    xr.testing.assert_identical(io.read_dataset(target), grid.dataset)
    io.write_parquet(grid, target, partition_on=["hardware"])  # a directory over a directory
    assert {p.name for p in target.iterdir()} == {
        io.MARKER,
        *(f"hardware={h.replace(' ', '%20')}" for h in grid.dataset.hardware.values),
    }
    io.write_parquet(grid, target)
    assert target.is_file()
    xr.testing.assert_identical(io.read_dataset(target), grid.dataset)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# ---------------------------------------------------------------------------- selective reads
def test_columns_reads_only_those_outputs(grid, tmp_path):
    path = io.write_parquet(grid, tmp_path / "r.parquet")
    ds = io.read_dataset(path, columns=["latency", "mfu", "bottleneck"])
    xr.testing.assert_identical(ds, grid.dataset[["latency", "mfu", "bottleneck"]])
    with pytest.raises(ValueError, match="has no output \\['latncy'\\]"):
        io.read_dataset(path, columns=["latncy"])


@pytest.mark.parametrize("partition_on", [None, ["hardware"]])
def test_filters_on_dimensions_select_coordinates(grid, tmp_path, partition_on):
    ds = grid.dataset
    path = io.write_parquet(grid, tmp_path / "r", partition_on=partition_on, row_group_size=6)
    got = io.read_dataset(path, filters=[("hardware", "==", H100)])  # a record, by its name
    xr.testing.assert_identical(got, ds.sel(hardware=["NVIDIA H100"]))
    got = io.read_dataset(path, filters=[("hardware", "in", ["NVIDIA T4", "NVIDIA H100"]), ("batch_size", ">=", 8)])
    xr.testing.assert_identical(got, ds.sel(hardware=["NVIDIA H100", "NVIDIA T4"], batch_size=[8, 64]))
    xr.testing.assert_identical(io.read_dataset(path, filters=[("efficiency", "==", 0.5)]), ds)  # a constant
    empty = io.read_dataset(path, filters=[("efficiency", "==", 0.9)])
    assert dict(empty.sizes) == dict.fromkeys(ds.dims, 0)


def test_filters_on_outputs_and_unions(grid, tmp_path):
    ds = grid.dataset
    path = io.write_parquet(grid, tmp_path / "r.parquet")
    fast = io.read_dataset(path, columns=["latency", "feasible"], filters=[("latency", "<", 1e-3)])
    lat = fast.latency.values
    assert np.nanmax(lat) < 1e-3 and np.isnan(lat).any()
    ref = ds.latency.where(ds.latency < 1e-3).sel({d: fast[d].values for d in ds.latency.dims})
    np.testing.assert_array_equal(lat, ref.values)
    either = io.read_dataset(path, filters=[[("hardware", "==", "NVIDIA T4")], [("batch_size", "==", 1)]])
    assert dict(either.sizes) == dict(ds.sizes)
    missing = ~((either.hardware == "NVIDIA T4") | (either.batch_size == 1))
    lat, gone = xr.broadcast(either.latency, missing)
    assert np.isnan(lat.values[gone.values]).all() and not np.isnan(lat.values[~gone.values]).any()
    assert either.bottleneck.dtype == np.float64  # points no row fills: codes promoted to float NaN
    assert either.feasible.dtype == bool  # ...but every (model, hardware, precision) has a row
    with pytest.raises(ValueError, match="not a column"):
        io.read_dataset(path, filters=[("nope", "==", 1)])


def test_chunks_gives_a_lazy_dataset(grid, tmp_path):
    pytest.importorskip("dask")
    path = io.write_parquet(grid, tmp_path / "r.parquet", row_group_size=10)
    lazy = io.read_dataset(path, chunks={"batch_size": 1})
    assert lazy.latency.chunks == ((2,), (3,), (1, 1, 1), (2,)) and hasattr(lazy.mfu.data, "dask")
    xr.testing.assert_identical(lazy.compute(), grid.dataset)
    part = io.read_dataset(path, columns=["latency"], filters=[("precision", "==", "fp8")], chunks="auto")
    xr.testing.assert_identical(part.compute(), grid.dataset[["latency"]].sel(precision=["fp8"]))
    rowwise = io.read_dataset(path, columns=["mfu"], filters=[("mfu", ">", 0.1)], chunks={"model": 1})
    assert rowwise.mfu.chunks[0] == (1, 1)
    for bad in (0, {"batch": 2}, {"model": 0}, {"model": "x"}):
        with pytest.raises(ValueError, match="chunks"):
            io.read_dataset(path, chunks=bad)


# ---------------------------------------------------------------------------- units
def test_units_in_arrow_field_metadata(grid, tmp_path):
    """A plain pyarrow reader sees each column's unit and description."""
    schema = pq.read_schema(io.write_parquet(grid, tmp_path / "r.parquet"))
    latency = schema.field("latency").metadata
    assert latency[b"unit"] == b"s" and latency[b"description"].decode() == grid.dataset.latency.attrs["description"]
    assert schema.field("mfu").metadata[b"unit"] == b"1"
    assert schema.field("memory_footprint").metadata[b"unit"] == b"byte"
    assert b"unit" not in schema.field("bottleneck").metadata and schema.field("bottleneck").metadata[b"description"]
    assert schema.field("model").metadata[b"description"]


def test_unit_suffix_names_columns_and_reads_back(grid, tmp_path):
    path = io.write_parquet(grid, tmp_path / "r.parquet", unit_suffix=True)
    names = pq.read_schema(path).names
    assert "latency [s]" in names and "memory_footprint [byte]" in names and "mfu" in names and "latency" not in names
    xr.testing.assert_identical(io.read_dataset(path), grid.dataset)
    got = io.read_dataset(path, columns=["latency [s]", "mfu"], filters=[("latency [s]", "<", 1.0)])
    assert list(got.data_vars) == ["latency", "mfu"]
    assert io.column_name("latency", "s", True) == "latency [s]" and io.column_name("mfu", "1", True) == "mfu"


def test_reads_files_of_the_earlier_to_parquet(grid, zipped, tmp_path):
    """Files of the pandas-based writer (every column, labels as categoricals, no layout) stay
    readable, with columns= and filters=."""
    for r, name in ((grid, "g"), (zipped, "z")):
        ds = r.dataset
        meta = {
            "resolver": ds.attrs["resolver"],
            "dims": list(ds.attrs["dims"]),
            "coords": {d: ds[d].values.tolist() for d in ds.dims},
            "coord_attrs": {c: dict(ds[c].attrs) for c in ds.coords},
            "scalars": {c: ds[c].values.tolist() for c in ds.coords if ds[c].ndim == 0},
            "zipped": {
                c: {"dims": list(ds[c].dims), "dtype": str(ds[c].dtype)}
                for c in ds.coords
                if ds[c].ndim > 0 and c not in ds.dims
            },
            "variables": {
                n: {"dims": list(ds[n].dims), "dtype": str(ds[n].dtype), "attrs": dict(ds[n].attrs)}
                for n in ds.data_vars
            },
        }
        table = pa.Table.from_pandas(r.to_dataframe(), preserve_index=False)
        table = table.replace_schema_metadata({**table.schema.metadata, io.META_KEY: json.dumps(meta).encode()})
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path)
        xr.testing.assert_identical(io.read_dataset(path), ds)
    got = io.read_dataset(tmp_path / "g.parquet", columns=["latency"], filters=[("hardware", "==", "NVIDIA T4")])
    xr.testing.assert_identical(got, grid.dataset[["latency"]].sel(hardware=["NVIDIA T4"]))


def test_rejects_foreign_files_and_bad_arguments(grid, tmp_path):
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="was not written by mlsysim_vec"):
        io.read_dataset(tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="partition_on names \\['batch'\\]"):
        io.write_parquet(grid, tmp_path / "r", partition_on=["batch"])
    with pytest.raises(ValueError, match="row_group_size"):
        io.write_parquet(grid, tmp_path / "r", row_group_size=0)
    with pytest.raises(FileNotFoundError):
        io.write_parquet(grid, tmp_path / "no" / "r.parquet")


def test_progress_bar(grid, tmp_path, capsys):
    pytest.importorskip("tqdm")
    io.write_parquet(lazy_result(16, 4), tmp_path / "r.parquet", progress=True)
    err = capsys.readouterr().err
    assert "writing r.parquet" in err and "100%" in err


# ---------------------------------------------------------------------------- safety
def test_incomplete_dataset_is_refused_naming_what_is_missing(grid, tmp_path):
    root = Path(io.write_parquet(grid, tmp_path / "d", partition_on=["hardware"]))
    victim = next(iter(sorted(root.rglob("*.parquet"))))
    rel = victim.relative_to(root).as_posix()
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(io.IncompleteDatasetError, match=f"part {rel} is unreadable"):
        io.read_dataset(root)
    victim.unlink()
    with pytest.raises(io.IncompleteDatasetError, match=f"part {rel} \\(listed in _SUCCESS\\) is missing"):
        io.read_dataset(root)
    victim.write_bytes(data)
    io.read_dataset(root)
    (root / io.MARKER).unlink()
    with pytest.raises(io.IncompleteDatasetError, match="no _SUCCESS marker"):
        io.read_dataset(root)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_lock_of_a_dead_process_is_taken_over(grid, tmp_path):
    target = tmp_path / "r.parquet"
    io.write_parquet(grid, target)
    before = target.read_bytes()
    pid = _dead_pid()
    lock = tmp_path / ".r.parquet.lock"
    lock.write_text(json.dumps({"pid": pid, "host": os.uname().nodename, "start": None, "time": 0}))
    leftover = tmp_path / f".r.parquet.tmp-{pid}-deadbeef"
    leftover.write_bytes(before[:100])
    io.write_parquet(grid, target, unit_suffix=True)
    assert not lock.exists() and not leftover.exists()
    assert target.read_bytes() != before and "latency [s]" in pq.read_schema(target).names
    # an unreadable lock that is not fresh is stale too
    lock.write_text("")
    os.utime(lock, (time.time() - 60, time.time() - 60))
    io.write_parquet(grid, target)
    assert not lock.exists()


def test_live_lock_refuses_a_second_writer(grid, tmp_path):
    target = tmp_path / "r.parquet"
    lock = tmp_path / ".r.parquet.lock"
    lock.write_text(json.dumps({"pid": os.getppid(), "host": os.uname().nodename, "time": 0}))
    with pytest.raises(io.ConcurrentWriteError, match=f"PID {os.getppid()}"):
        io.write_parquet(grid, target)
    assert lock.exists() and not target.exists()
    lock.unlink()


CHILD = textwrap.dedent(
    """
    import signal, sys
    import numpy as np
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import mlsysim_vec as ms
    from mlsysim_vec.io import write_parquet
    batches = int(sys.argv[3])
    r = ms.SingleNodeModel().solve(
        model=list(ms.Models.Vision), hardware=ms.Hardware.Cloud, batch_size=np.arange(1, batches + 1),
        chunks={"batch_size": 2},
    )
    write_parquet(r, sys.argv[1], row_group_size=500, partition_on=[sys.argv[2]] if sys.argv[2] else None)
    print("done", flush=True)
    """
)


def _start_writer(target: Path, partition: str = "", batches: int = 4000):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(target), partition, str(batches)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_mid_write(proc, target: Path, timeout=120.0):
    """Wait until the child's temporary holds data (it is writing)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        assert proc.poll() is None, proc.stderr.read()
        for tmp in target.parent.glob(f".{target.name}.tmp-{proc.pid}-*"):
            size = tmp.stat().st_size if tmp.is_file() else sum(1 for _ in tmp.rglob("*.parquet"))
            if size > 4:
                return tmp
        time.sleep(0.02)
    raise AssertionError("the writer never started writing")


def _contents(target: Path) -> dict:
    paths = [target] if target.is_file() else sorted(p for p in target.rglob("*") if p.is_file())
    return {p: p.read_bytes() for p in paths}


@pytest.mark.parametrize(
    "sig, partition",
    [(signal.SIGINT, ""), (signal.SIGKILL, ""), (signal.SIGKILL, "hardware")],
    ids=["SIGINT-file", "SIGKILL-file", "SIGKILL-dataset"],
)
def test_interrupted_write_keeps_the_previous_result(grid, tmp_path, sig, partition):
    target = tmp_path / ("d" if partition else "r.parquet")
    io.write_parquet(grid, target, partition_on=[partition] if partition else None)
    files = _contents(target)
    proc = _start_writer(target, partition)
    tmp = _wait_mid_write(proc, target)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert _contents(target) == files, "the previous result changed"
    xr.testing.assert_identical(io.read_dataset(target), grid.dataset)
    leftovers = [p for p in tmp_path.iterdir() if p.name != target.name]
    if sig == signal.SIGINT:
        assert not leftovers, "Ctrl-C leaves no temporary and no lock"
    else:
        # only hidden names remain, and the temporary does not read as a complete result
        assert leftovers and all(p.name.startswith(".") for p in leftovers)
        if tmp.exists():
            with pytest.raises((ValueError, OSError)):
                io.read_dataset(tmp)
        io.write_parquet(grid, target, unit_suffix=True)  # the next writer takes over the stale lock
        assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_two_writers_one_fails_clearly(grid, tmp_path):
    target = tmp_path / "r.parquet"
    proc = _start_writer(target, batches=100)
    _wait_mid_write(proc, target)
    with pytest.raises(io.ConcurrentWriteError, match=f"being written by another process \\(PID {proc.pid}"):
        io.write_parquet(grid, target)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and out.strip() == "done", err
    ds = io.read_dataset(target)
    assert ds.sizes["batch_size"] == 100 and [p.name for p in tmp_path.iterdir()] == ["r.parquet"]


@pytest.mark.parametrize("partition", [False, True])
def test_an_optimizers_search_attributes_survive_parquet(tmp_path, partition):
    """objective, goal, over and constraints of an optimizer's answer are written with it (a
    constraint given as a mask is kept as its description) and read back."""
    r = ms.PlacementOptimizer().solve(fleet=ms.Systems.Clusters.Research_256, duration_days=[30, 365])
    options = {"partition_on": ["duration_days"]} if partition else {}
    r.to_parquet(tmp_path / "placement", **options)
    back = ms.read_parquet(tmp_path / "placement").dataset.attrs
    for key in ("objective", "goal", "over", "constraints"):
        assert back[key] == r.dataset.attrs[key], key
    b = ms.BatchingOptimizer().solve(
        model=ms.Models.Language.Llama3_8B,
        hardware=ms.Hardware.Cloud.H100,
        seq_len=2048,
        sla_latency_ms=2000.0,
        arrival_rate_qps=[5.0, 10.0],
    )
    b.to_parquet(tmp_path / "batching.parquet")
    attrs = ms.read_parquet(tmp_path / "batching.parquet").dataset.attrs
    assert attrs["objective"] == b.dataset.attrs["objective"] and attrs["over"] == ["batch_size"]
    assert attrs["constraints"] == [str(c) for c in b.dataset.attrs["constraints"]]
