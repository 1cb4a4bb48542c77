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
    h100 = next(line for line in capsys.readouterr().out.splitlines() if line.split()[:2] == ["Cloud", "H100"])
    assert h100.split()[-4:] == ["989", "80", "3350", "700"]  # TFLOP/s, GiB, GB/s, W


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
    assert main([]) == 2
    assert main(["zoo", "bogus"]) == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


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
