"""The command line (``mlsysim_vec.cli.main``): demo, zoo, sweep, and errors without tracebacks."""

import re

import pytest
import xarray as xr

import mlsysim_vec as ms
from mlsysim_vec.cli import main
from mlsysim_vec.sweep import load_spec, run_spec

SPEC_TOML = """
resolver = "SingleNodeModel"
[sweep]
model = ["Models.ResNet50", "Models.Language.Llama3_70B"]
hardware = ["Hardware.Cloud.H100", "Hardware.Cloud.T4"]
batch_size = [1, 32]
[fixed]
precision = "fp16"
"""

SPEC_YAML = """
resolver: TrainingMemoryModel
output: out/memory.parquet
sweep:
  model: [Models.Llama3_8B, Models.Llama3_70B]
  zero_stage: {range: [0, 3]}
fixed:
  hardware: Hardware.Cloud.H100
  batch_size: 256
"""


def test_demo_writes_parquet_and_summarises(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "mlsysim_vec_demo.parquet"
    result = ms.read_parquet(path)
    assert result.dims == ("model", "hardware", "batch_size", "precision")
    assert dict(result.dataset.sizes) == {"model": 7, "hardware": 14, "batch_size": 11, "precision": 5}
    # like for like: the demo sweeps the data-centre GPUs, one device each (no rack, no TPU)
    assert list(result.dataset["hardware"].values) == [hw.name for hw in ms.Hardware.GPUs]
    assert "7 model × 14 hardware × 11 batch_size × 5 precision = 5,390 points" in out
    assert f"wrote {path}" in out and "points/s" in out

    df = result.to_dataframe()
    memory = int((df["bottleneck"] == "Memory").sum())
    assert f"bottleneck: {memory:,} points memory-bound, {len(df) - memory:,} compute-bound" in out
    assert f"feasible:   {int(df['feasible'].sum()):,} of 5,390 points" in out

    # The table's cell for each model at batch 1 is the feasible row of lowest latency.
    header = next(line for line in out.splitlines() if line.startswith("model "))
    assert re.split(r"\s{2,}", header) == ["model", "batch 1", "batch 32", "batch 1024"]
    keys = {hw.name: key for key, hw in zip(ms.Hardware.keys(), ms.Hardware.list())}
    for model, rows in df[df["feasible"] & (df["batch_size"] == 1)].groupby("model", observed=True):
        best = rows.nsmallest(1, "latency").iloc[0]
        line = next(line for line in out.splitlines() if line.startswith(f"{model} "))
        assert line[len(model) :].split()[:2] == [keys[best["hardware"]], best["precision"]]


def test_demo_output_option_creates_directories(tmp_path, capsys):
    target = tmp_path / "sub" / "demo.parquet"
    assert main(["demo", "-o", str(target)]) == 0
    assert target.exists() and f"wrote {target}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "registry, expected",
    [
        (
            "hardware",
            [
                f"Hardware — {len(ms.Hardware)} entries",
                "peak TFLOP/s",
                "memory GiB",
                "bandwidth GB/s",
                "TDP W",
                "NVIDIA H100",
                "Cloud",
                "Tiny",
            ],
        ),
        (
            "models",
            [
                f"— {len(ms.Models)} entries",
                "params",
                "layers",
                "GFLOP",
                "Llama3_8B",
                "8.03 B",
                "TransformerWorkload",
                "GenerativeVision",
            ],
        ),
        (
            "systems",
            [
                "Clusters — 18 entries",
                "Nodes —",
                "Fabrics —",
                "Frontier_8K",
                "accelerators",
                "IB NDR",
                "intra-node GB/s",
            ],
        ),
        (
            "grids",
            [
                "Grids — 12 entries",
                "carbon g/kWh",
                "PUE",
                "WUE L/kWh",
                "Quebec (Hydro)",
                "Datacenters —",
                "Facility cooling —",
            ],
        ),
    ],
)
def test_zoo_tables(capsys, registry, expected):
    assert main(["zoo", registry]) == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out


def test_zoo_hardware_row(capsys):
    main(["zoo", "hardware"])
    out = capsys.readouterr().out
    h100 = next(line for line in out.splitlines() if line.split()[:2] == ["Cloud", "H100"])
    assert h100.split()[-4:] == ["989", "80", "3350", "700"]  # TFLOP/s, GiB, GB/s, W


def test_zoo_hardware_shows_the_kind_family_of_each_cloud_record(capsys):
    """The group column names the narrowest kind family (a GPU is also an Accelerator); the
    note under the table lists every kind family with its size."""
    main(["zoo", "hardware"])
    out = capsys.readouterr().out
    group = {line.split()[1]: line.split()[2] for line in out.splitlines() if line.startswith("Cloud ")}
    assert len(group) == 31
    assert (group["H100"], group["TPUv5p"], group["Gaudi3"], group["Groq_LPU"]) == (
        "GPUs",
        "TPUs",
        "Accelerators",
        "SRAMAccelerators",
    )
    assert (group["GB200_NVL72"], group["ReferenceCPU"], group["IntelSGX"]) == ("Racks", "CPUs", "Enclaves")
    assert sorted(group.values()).count("GPUs") == len(ms.Hardware.GPUs) == 14
    assert (
        "Hardware.GPUs (14), Hardware.TPUs (6), Hardware.Accelerators (23), Hardware.SRAMAccelerators (5), "
        "Hardware.Racks (1), Hardware.CPUs (1), Hardware.Enclaves (1)" in out
    )
    jetson = next(line for line in out.splitlines() if line.split()[:2] == ["Edge", "JetsonOrinNX"])
    assert jetson.split()[2] == "NVIDIA"  # no group outside the Cloud family: the name follows


def test_zoo_lists_everything_by_default(capsys):
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    for title in ("Hardware —", "Models (", "Clusters —", "Nodes —", "Fabrics —", "Grids —", "Datacenters —"):
        assert title in out


def test_sweep_toml(tmp_path, capsys):
    spec = tmp_path / "roofline.toml"
    spec.write_text(SPEC_TOML)
    target = tmp_path / "r.parquet"
    assert main(["sweep", str(spec), "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SingleNodeModel: 8 points over model (2) × hardware (2) × batch_size (2)")
    assert "bottleneck: " in out and "points/s" in out and f"wrote {target}" in out
    xr.testing.assert_identical(ms.read_parquet(target).dataset, run_spec(spec).dataset)


def test_sweep_yaml_uses_the_spec_output_relative_to_the_current_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "memory.yaml").write_text(SPEC_YAML)
    assert main(["sweep", "memory.yaml"]) == 0
    out = capsys.readouterr().out
    target = tmp_path / "out" / "memory.parquet"
    assert out.startswith("TrainingMemoryModel: 8 points over model (2) × zero_stage (4)")
    assert "infeasible_reason: " in out and f"wrote {target}" in out
    xr.testing.assert_identical(ms.read_parquet(target).dataset, run_spec(load_spec("memory.yaml")).dataset)


def test_sweep_default_output_is_the_spec_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roofline.toml").write_text(SPEC_TOML)
    assert main(["sweep", "roofline.toml"]) == 0
    assert (tmp_path / "roofline.parquet").exists()


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            'resolver = "SingleNodeModel"\n[sweep]\nbatch = [1]\n',
            "error: bad.toml: sweep.batch: SingleNodeModel has no argument 'batch' (did you mean 'batch_size'?)",
        ),
        (
            'resolver = "SingleNodeModel"\n[fixed]\nhardware = "Hardware.Cloud.H1000"\nmodel = "Models.ResNet50"\n',
            "error: bad.toml: fixed.hardware = 'Hardware.Cloud.H1000': Hardware.Cloud has no 'H1000'",
        ),
        ("resolver = \n", "error: bad.toml: invalid TOML:"),
    ],
)
def test_bad_spec_exits_2_with_one_line(tmp_path, capsys, spec, message):
    (tmp_path / "bad.toml").write_text(spec)
    assert main(["sweep", str(tmp_path / "bad.toml")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(message.replace("bad.toml", str(tmp_path / "bad.toml")))
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_missing_spec_and_unwritable_output(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nothere.toml")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nothere.toml'}: no such file\n"
    (tmp_path / "s.toml").write_text(SPEC_TOML)
    (tmp_path / "file").write_text("")
    assert main(["sweep", str(tmp_path / "s.toml"), "-o", str(tmp_path / "file" / "r.parquet")]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot write {tmp_path / 'file' / 'r.parquet'}: ")


def test_usage_errors_and_help(capsys):
    assert main(["zoo", "bogus"]) == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_no_command_prints_the_help_and_exits_0(capsys):
    assert main([]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("usage: mlsysim-vec")
    for command in ("demo", "zoo", "sweep", "optimize", "validate"):
        assert f"\n    {command} " in captured.out
    assert main(["--help"]) == 0
    assert capsys.readouterr().out == captured.out  # the same text as --help


def test_sweep_runs_a_builtin_spec_by_name(tmp_path, capsys):
    target = tmp_path / "d.parquet"
    assert main(["sweep", "demo", "-o", str(target)]) == 0
    assert capsys.readouterr().out.startswith("SingleNodeModel: 5,390 points over model (7) × hardware (14)")
    assert dict(ms.read_parquet(target).dataset.sizes) == {"model": 7, "hardware": 14, "batch_size": 11, "precision": 5}


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["sweep", "dmeo"],
            "error: dmeo: no such file, and no built-in spec of that name (did you mean the built-in spec "
            "'demo'?); built-in specs: demo, optimize_demo\n",
        ),
        (
            ["optimize", "optimize_dem"],
            "error: optimize_dem: no such file, and no built-in spec of that name (did you mean the "
            "built-in spec 'optimize_demo'?); built-in specs: demo, optimize_demo\n",
        ),
        (["sweep", "demo.toml"], "error: demo.toml: no such file (did you mean the built-in spec 'demo'?)\n"),
        (
            ["optimize", "specs/optimze_demo.yaml"],
            "error: specs/optimze_demo.yaml: no such file (did you mean the built-in spec 'optimize_demo'?)\n",
        ),
        (["sweep", "zzz"], "error: zzz: no such file, and no built-in spec of that name; built-in specs: demo, "),
    ],
)
def test_unknown_spec_names_suggest_the_nearest_builtin(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(message) and captured.err.count("\n") == 1
    assert not list(tmp_path.iterdir())


RANGE_SPEC = """
resolver = "SingleNodeModel"
[sweep]
batch_size = {{ range = {bounds} }}
[fixed]
model = "Models.ResNet50"
hardware = "Hardware.Cloud.H100"
"""


@pytest.mark.parametrize(
    "bounds, message",
    [
        ("[1, nan, 1]", "sweep.batch_size.range = [1, nan, 1]: stop = nan must be a finite number"),
        ("[1, inf, 1]", "sweep.batch_size.range = [1, inf, 1]: stop = inf must be a finite number"),
        ("[-inf, 8, 1]", "sweep.batch_size.range = [-inf, 8, 1]: start = -inf must be a finite number"),
        ("[1, 8, nan]", "sweep.batch_size.range = [1, 8, nan]: step = nan must be a finite number"),
        (
            "[1, 1e12, 1]",
            "sweep.batch_size.range = [1, 1000000000000.0, 1] gives 1,000,000,000,000 values; "
            "a range gives at most 1,000,000",
        ),
        ("[1, 8, 1e-300]", "sweep.batch_size.range = [1, 8, 1e-300] gives 7e+300 values; a range gives at most"),
    ],
)
def test_bad_ranges_exit_2_with_one_line(tmp_path, capsys, bounds, message):
    """TOML allows nan and inf; a huge range used to try to allocate terabytes (issue 13, item 9)."""
    (tmp_path / "r.toml").write_text(RANGE_SPEC.format(bounds=bounds))
    assert main(["sweep", str(tmp_path / "r.toml"), "-o", str(tmp_path / "r.parquet")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {tmp_path / 'r.toml'}: {message}")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert not (tmp_path / "r.parquet").exists()


def test_non_utf8_spec_exits_2_with_one_line(tmp_path, capsys):
    """A spec saved as Latin-1 (the é of a comment is byte 0xe9 on line 2)."""
    (tmp_path / "latin.toml").write_bytes(SPEC_TOML.replace("\nresolver", "\n# café\nresolver", 1).encode("latin-1"))
    assert main(["sweep", str(tmp_path / "latin.toml")]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'latin.toml'}: the file is not UTF-8 text (byte 0xe9 on line 2); save it as UTF-8\n"
    )


def test_a_grid_too_large_for_memory_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    """MemoryError while solving (a product of swept dimensions larger than RAM) is the user's
    grid, not a crash: one line, status 2, nothing written."""

    def too_large(spec):
        raise MemoryError("Unable to allocate 7.28 TiB for an array")

    monkeypatch.setattr("mlsysim_vec.cli.run_spec", too_large)
    (tmp_path / "s.toml").write_text(SPEC_TOML)
    assert main(["sweep", str(tmp_path / "s.toml"), "-o", str(tmp_path / "s.parquet")]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "error: the grid does not fit in memory; sweep fewer values, or add a [chunks] table to compute it "
        "out-of-core with dask\n"
    )
    assert not (tmp_path / "s.parquet").exists()


def test_version_is_the_package_version(capsys):
    """One version, single-sourced: ``mlsysim_vec.__version__`` is what pip and the CLI report."""
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mlsysim-vec {ms.__version__}"
    assert version("mlsysim-vec") == ms.__version__


def test_ctrl_c_ends_with_one_line_and_status_130(tmp_path, monkeypatch, capsys):
    """A KeyboardInterrupt during a sweep prints one line, no traceback, exit status 130."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ms.Result, "to_parquet", interrupted)
    assert main(["demo", "-o", str(tmp_path / "d.parquet")]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["interrupted: nothing was written (an existing output file is unchanged)"]
