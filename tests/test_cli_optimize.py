"""Optimize specs (a sweep spec plus an ``[objective]`` table) and ``mlsysim-vec optimize``:
the built-in demo, TOML and YAML files, every spec mistake, and the winners against a
brute-force pass over the solved grid's DataFrame."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

import mlsysim_vec as ms
from mlsysim_vec import optimize, specs
from mlsysim_vec.cli import main
from mlsysim_vec.sweep import SpecError, load_spec, run_spec, search_spec

SPEC_TOML = """
resolver = "SingleNodeModel"
output = "roofline_best.parquet"

[sweep]
model = ["Models.ResNet50", "Models.Language.Llama3_70B"]
hardware = ["Hardware.Cloud.H100", "Hardware.Cloud.T4", "Hardware.Cloud.A100"]
batch_size = [1, 32, 512]
precision = ["fp16", "fp8", "fp32"]

[objective]
name = "latency"
goal = "minimize"
constraints = ["feasible", "latency < 100 ms", "bottleneck == Memory"]
over = ["hardware", "precision"]
"""

SPEC_YAML = """
resolver: SingleNodeModel
output: roofline_best.parquet
sweep:
  model: [Models.ResNet50, Models.Language.Llama3_70B]
  hardware: [Hardware.Cloud.H100, Hardware.Cloud.T4, Hardware.Cloud.A100]
  batch_size: [1, 32, 512]
  precision: [fp16, fp8, fp32]
objective:
  name: latency
  goal: minimize
  constraints: [feasible, latency < 100 ms, bottleneck == Memory]
  over: [hardware, precision]
"""


def first_best(rows, column, maximize):
    """The first row (in grid order) of the best value: the brute-force winner."""
    best = rows[column].max() if maximize else rows[column].min()
    return rows[rows[column] == best].iloc[0]


def test_builtin_optimize_demo(tmp_path, capsys):
    """The demo spec: per model and cluster, the two best TP × PP × microbatch × ZeRO layouts."""
    target = tmp_path / "demo.parquet"
    assert main(["optimize", "optimize_demo", "-o", str(target)]) == 0
    out = capsys.readouterr().out
    spec = load_spec(specs.path("optimize_demo"))
    grid = run_spec(spec)
    df = grid.to_dataframe()
    allowed = df[df.feasible & (df.memory_utilization <= 0.9) & df.mfu.notna()]
    back = ms.read_parquet(target)
    assert back.dims == ("model", "fleet", "rank")
    ds = back.dataset
    assert out.startswith(
        "DistributedModel: maximize mfu over tp_size × pp_size × microbatch_count × zero_stage "
        "(180 candidates per point) subject to feasible, memory_utilization <= 0.9\n"
    )
    points_with = allowed.groupby(["model", "fleet"], observed=True).ngroups
    assert (
        f"9 points (model × fleet); a feasible candidate at {points_with} of 9; "
        f"{len(allowed):,} of 1,620 candidates satisfy the constraints"
    ) in out
    assert "time: 1,620 candidates solved in" in out and f"wrote {target}" in out
    for (model, fleet), rows in df.groupby(["model", "fleet"], observed=True):
        at = ds.sel(model=model, fleet=fleet, rank=1)
        ok = allowed[(allowed.model == model) & (allowed.fleet == fleet)]
        assert int(at.n_feasible) == len(ok)
        if ok.empty:
            assert not bool(at.feasible) and np.isnan(float(at.objective))
            continue
        best = first_best(ok, "mfu", maximize=True)
        assert float(at.objective) == float(at.mfu) == best.mfu
        assert [int(at[f"best_{d}"]) for d in ("tp_size", "pp_size", "microbatch_count", "zero_stage")] == [
            best.tp_size,
            best.pp_size,
            best.microbatch_count,
            best.zero_stage,
        ]
        line = next(
            line
            for line in out.splitlines()
            if line.startswith(f"{model} ") and fleet in line and line.split(fleet)[1].split()[0] == "1"
        )
        assert line.split(fleet)[1].split()[1:6] == [
            str(best.tp_size),
            str(best.pp_size),
            str(best.microbatch_count),
            str(best.zero_stage),
            f"{best.mfu:.4g}",
        ]
    assert ds.sizes["rank"] == 2


@pytest.mark.parametrize("name, text", [("best.toml", SPEC_TOML), ("best.yaml", SPEC_YAML)])
def test_toml_and_yaml_specs(tmp_path, monkeypatch, capsys, name, text):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(text)
    assert main(["optimize", name]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "roofline_best.parquet"
    assert f"wrote {path}" in out and "time: 54 candidates solved in" in out
    assert out.startswith(
        "SingleNodeModel: minimize latency over hardware × precision (9 candidates per point) "
        "subject to feasible, latency < 100 ms, bottleneck == Memory\n"
    )
    df = run_spec(load_spec(tmp_path / name)).to_dataframe()
    ok = df[df.feasible & (df.latency < 0.1) & (df.bottleneck == "Memory")]
    back = ms.read_parquet(path)
    assert back.dims == ("model", "batch_size")
    for (model, batch), rows in df.groupby(["model", "batch_size"], observed=True):
        allowed = ok[(ok.model == model) & (ok.batch_size == batch)]
        at = back.dataset.sel(model=model, batch_size=batch)
        assert int(at.n_feasible) == len(allowed) and int(at.n_searched) == 9
        line = next(line for line in out.splitlines() if re.match(rf"{re.escape(model)}\s+{batch}\s", line))
        if allowed.empty:
            assert not bool(at.feasible) and line.split()[-1] == "0"
            continue
        best = first_best(allowed, "latency", maximize=False)
        assert float(at.objective) == best.latency
        assert f"{best.hardware}  " in line and f" {best.precision} " in line and f"{best.latency * 1e3:.4g}" in line
    assert "latency [ms]" in out


def test_spec_objective_becomes_search_arguments(tmp_path):
    (tmp_path / "a.toml").write_text(SPEC_TOML)
    (tmp_path / "a.yml").write_text(SPEC_YAML)
    a, b = load_spec(tmp_path / "a.toml"), load_spec(tmp_path / "a.yml")
    assert (
        a.objective
        == b.objective
        == {
            "objective": "latency",
            "minimize": True,
            "over": ("hardware", "precision"),
            "top_k": None,
            "constraints": ("feasible", "latency < 100 ms", "bottleneck == Memory"),
        }
    )
    assert load_spec(specs.path("demo")).objective is None
    found = search_spec(a)
    xr.testing.assert_identical(found.dataset, optimize.search(run_spec(a), **a.objective).dataset)
    with pytest.raises(SpecError, match=re.escape("the spec has no [objective] table")):
        search_spec(specs.path("demo"))


def test_sweep_command_runs_the_grid_of_an_optimize_spec(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(SPEC_TOML)
    assert main(["sweep", str(tmp_path / "s.toml"), "-o", str(tmp_path / "grid.parquet")]) == 0
    assert ms.read_parquet(tmp_path / "grid.parquet").dims == ("model", "hardware", "batch_size", "precision")
    assert "SingleNodeModel: 54 points" in capsys.readouterr().out


def spec_with(objective, **top):
    base = {
        "resolver": "SingleNodeModel",
        "sweep": {"hardware": ["Hardware.Cloud.H100", "Hardware.Cloud.T4"], "batch_size": [1, 8]},
        "fixed": {"model": "Models.ResNet50"},
        "objective": objective,
        **top,
    }
    return base


SPEC_ERRORS = [
    (
        spec_with("latency"),
        "objective = 'latency' must be a table with name, goal and optionally constraints, over and top_k",
    ),
    (
        spec_with({"name": "latency", "goals": "minimize"}),
        "objective: unknown key 'goals' (did you mean 'goal'?); allowed: name, goal, constraints, over, top_k",
    ),
    (spec_with({"goal": "minimize"}), "objective.name = None must name the output (or input) to optimise"),
    (spec_with({"name": "latency", "goal": "max"}), "objective.goal = 'max'; allowed: 'maximize', 'minimize'"),
    (spec_with({"name": "latency"}), "objective.goal = None; allowed: 'maximize', 'minimize'"),
    (
        spec_with({"name": "latency", "goal": "minimize", "constraints": "feasible"}),
        "objective.constraints = 'feasible' must be a list of strings",
    ),
    (
        spec_with({"name": "latency", "goal": "minimize", "constraints": ["feasible", "latency <"]}),
        "objective.constraints[1]: constraint 'latency <' is not understood; a constraint is 'name', 'not name' or "
        "'name OP value [unit]'",
    ),
    (
        spec_with({"name": "latency", "goal": "minimize", "constraints": [3]}),
        "objective.constraints[0]: constraint 3 is a int; a constraint is a string",
    ),
    (
        spec_with({"name": "latency", "goal": "minimize", "over": ["hardwre"]}),
        "objective.over: 'hardwre' is not a swept dimension (did you mean 'hardware'?); swept dimensions: hardware, "
        "batch_size",
    ),
    (
        spec_with({"name": "latency", "goal": "minimize", "over": []}),
        "objective.over = [] must be a list of swept dimensions: hardware, batch_size",
    ),
    (spec_with({"name": "latency", "goal": "minimize", "top_k": 0}), "objective.top_k = 0 must be a whole number >= 1"),
    (spec_with({"name": "latency", "goal": "minimize", "top_k": "3"}), "objective.top_k = '3' must be a whole number"),
    (
        {**spec_with({"name": "latency", "goal": "minimize"}), "objectives": {}},
        "unknown key 'objectives'; allowed: resolver, sweep, fixed, chunks, output, objective",
    ),
]


@pytest.mark.parametrize("spec, message", SPEC_ERRORS, ids=[m[:40] for _, m in SPEC_ERRORS])
def test_objective_spec_errors(spec, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        load_spec(spec)


def test_cli_errors_exit_2_with_one_line(tmp_path, capsys):
    (tmp_path / "plain.toml").write_text(SPEC_TOML.split("[objective]")[0])
    (tmp_path / "typo.toml").write_text(SPEC_TOML.replace('name = "latency"', 'name = "latncy"'))
    (tmp_path / "bad.yaml").write_text(SPEC_YAML.replace("latency < 100 ms", "latency < 100 GB"))
    cases = [
        ("plain.toml", "plain.toml: the spec has no [objective] table; add one with name, goal"),
        ("typo.toml", "error: objective: objective='latncy' names no output or input of the result; outputs: latency"),
        ("bad.yaml", "error: objective: constraint 'latency < 100 GB': cannot read 'GB' as a unit of latency [s]"),
        ("nope.toml", "error: nope.toml: no such file"),
    ]
    for name, message in cases:
        assert main(["optimize", str(tmp_path / name) if name != "nope.toml" else name]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and captured.err.count("\n") == 1 and not captured.out
    assert not list(tmp_path.glob("*.parquet"))
