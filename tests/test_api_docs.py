"""The self-documenting API: every resolver's ``solve`` has a real signature and a generated
numpydoc docstring (Parameters with units and defaults, Returns with every output), every output
is catalogued, and the API reference (docs/api, Sphinx + numpydoc) builds without a warning."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import mlsysim_vec as ms
from mlsysim_vec.grid import REQUIRED
from mlsysim_vec.solvers.base import Resolver
from mlsysim_vec.variables import VARIABLES

ROOT = Path(__file__).resolve().parents[1]

RESOLVERS = {
    name: getattr(ms.solvers, name)
    for name in ms.solvers.__all__
    if inspect.isclass(getattr(ms.solvers, name)) and issubclass(getattr(ms.solvers, name), Resolver)
}

H100, A100 = ms.Hardware.Cloud.H100, ms.Hardware.Cloud.A100
LLAMA, R50 = ms.Models.Language.Llama3_8B, ms.Models.ResNet50

#: One scalar call per resolver: the required arguments, seed-style values.
EXAMPLES = {
    "SingleNodeModel": dict(model=R50, hardware=A100),
    "EfficiencyModel": dict(hardware=H100),
    "TrainingMemoryModel": dict(model=LLAMA, hardware=H100, batch_size=8),
    "ServingModel": dict(model=LLAMA, hardware=H100, seq_len=2048),
    "ContinuousBatchingModel": dict(model=LLAMA, hardware=H100, max_seq_len=2048),
    "WeightStreamingModel": dict(model=LLAMA, hardware=H100, seq_len=2048),
    "TailLatencyModel": dict(arrival_rate_qps=10.0, service_latency_ms=50.0),
    "ServingCapacityModel": dict(model=LLAMA, hardware=H100, qps=10.0, target_p99_latency_ms=2000.0),
    "InferenceScalingModel": dict(model=LLAMA, hardware=H100),
    "DataModel": dict(workload_data_rate=2.0, hardware=H100),
    "TransformationModel": dict(batch_size=32, sample_size_bytes=1e5, cpu_throughput=1.0, accelerator_step_time=100.0),
    "ScalingModel": dict(compute_budget=1e24),
    "CompressionModel": dict(model=LLAMA, hardware=H100),
    "DistributedModel": dict(model=LLAMA, fleet=ms.Systems.Clusters.Research_256),
    "MoERoutingModel": dict(model=ms.Models.Language.Mixtral_8x7B, batch_size=8, seq_len=2048),
    "TopologyModel": dict(fabric=ms.Systems.Fabrics.InfiniBand_HDR),
    "NetworkRooflineModel": dict(model=LLAMA, fleet=ms.Systems.Clusters.Research_256),
    "ReliabilityModel": dict(fleet=ms.Systems.Clusters.Research_256, job_duration_hours=24.0),
    "CheckpointModel": dict(model=LLAMA, hardware=H100),
    "OrchestrationModel": dict(arrival_rate_jobs_per_day=10.0, avg_job_duration_days=0.05),
    "EconomicsModel": dict(fleet=ms.Systems.Clusters.Research_256, duration_days=30.0),
    "SustainabilityModel": dict(fleet=ms.Systems.Clusters.Research_256, duration_days=30.0),
    "ResponsibleEngineeringModel": dict(base_training_time=10.0),
    "SensitivitySolver": dict(model=R50, hardware=A100),
    "SynthesisSolver": dict(model=R50, target_latency=0.01),
    "ParallelismOptimizer": dict(model=LLAMA, fleet=ms.Systems.Clusters.Research_256, batch_size=256),
    "BatchingOptimizer": dict(model=LLAMA, hardware=H100, seq_len=2048, sla_latency_ms=500.0, arrival_rate_qps=5.0),
    "PlacementOptimizer": dict(fleet=ms.Systems.Clusters.Research_256, duration_days=30.0),
}


def test_every_resolver_has_an_example():
    assert set(EXAMPLES) == set(RESOLVERS)


@pytest.mark.parametrize("name", sorted(RESOLVERS))
def test_signature_lists_every_argument_with_its_default(name):
    cls = RESOLVERS[name]
    params = inspect.signature(cls().solve).parameters
    for arg in cls.ARGS:
        assert arg.name in params, f"{name}.solve signature lacks {arg.name}"
        expected = inspect.Parameter.empty if arg.default is REQUIRED else arg.default
        assert params[arg.name].default == expected or params[arg.name].default is expected
    assert "chunks" in params


@pytest.mark.parametrize("name", sorted(RESOLVERS))
def test_docstring_has_parameters_and_returns_with_units(name):
    cls = RESOLVERS[name]
    doc = inspect.getdoc(cls().solve)
    assert "Parameters\n----------" in doc and "Returns\n-------" in doc
    for arg in cls.ARGS:
        assert f"\n{arg.name} : " in doc
        if arg.unit:
            assert f"[{arg.unit}]" in doc.split(f"\n{arg.name} : ", 1)[1].split("\n", 1)[0]
    for output in cls.OUTPUTS:
        line = doc.split(f"\n{output} : ", 1)[1].split("\n", 1)[0]
        unit = VARIABLES[output].unit
        if VARIABLES[output].kind == "float" and unit:
            assert f"[{unit}]" in line
    text = pydoc_text(cls().solve)
    assert "Parameters" in text and "Returns" in text


def pydoc_text(obj) -> str:
    import pydoc

    return pydoc.render_doc(obj, renderer=pydoc.plaintext)


@pytest.mark.parametrize("name", sorted(RESOLVERS))
def test_every_output_is_declared_and_catalogued(name):
    """``OUTPUTS`` lists exactly what a call returns; each name has a unit and a description."""
    cls = RESOLVERS[name]
    assert cls.OUTPUTS, f"{name} declares no OUTPUTS"
    result = cls().solve(**EXAMPLES[name])
    produced = set(result.outputs)
    assert produced == set(cls.OUTPUTS), (
        f"{name}: returned but not declared {sorted(produced - set(cls.OUTPUTS))}; "
        f"declared but not returned {sorted(set(cls.OUTPUTS) - produced)}"
    )
    for output in cls.OUTPUTS:
        var = VARIABLES.get(output)
        assert var is not None, f"{name}.{output} is not catalogued"
        assert var.description and var.description != output


@pytest.mark.parametrize("name", sorted(RESOLVERS))
def test_every_argument_is_catalogued(name):
    for arg in RESOLVERS[name].ARGS:
        assert arg.doc or arg.name in VARIABLES, f"{name} argument {arg.name} is not catalogued"


def test_resolver_docstrings_cite_only_what_the_repository_holds():
    """Nothing in the package cites the out-of-tree specs; every docs/ file it cites exists."""
    import re

    cited = set()
    for path in (ROOT / "mlsysim_vec").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"reference/anchor|DECISIONS\.md|\bDECISIONS D\d|spec-part2|anchor-0\.", text), path
        cited |= set(re.findall(r"docs/[\w./-]+\.md", text))
    missing = sorted(c for c in cited if not (ROOT / c).exists())
    assert not missing, f"cited but missing: {missing}"


def test_api_reference_builds_without_warnings(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-E",
            "-a",
            "-q",
            "-W",
            "--keep-going",
            "-b",
            "html",
            "docs/api",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (tmp_path / "resolvers" / "serving.html").read_text(encoding="utf-8")
    assert "ServingModel" in page and "Parameters" in page and "Returns" in page


def test_a_resolver_without_compute_is_refused_at_definition():
    with pytest.raises(TypeError, match="Incomplete must define _compute"):

        class Incomplete(Resolver):
            ARGS = ()


def test_device_and_model_fields_are_the_record_fields():
    """The keyword arguments every roofline step reads, from a HardwareNode or a fleet's accelerator."""
    from mlsysim_vec.solvers.base import DEVICE_FIELDS, device_fields, model_fields

    g = ms.SingleNodeModel().grid(model=R50, hardware=A100)
    fields = device_fields(g)
    assert list(fields) == list(DEVICE_FIELDS)
    assert fields["memory_bandwidth"] == A100.si["memory_bandwidth"]
    fleet = ms.Systems.Clusters.Research_256
    d = ms.DistributedModel().grid(model=LLAMA, fleet=fleet)
    assert device_fields(d, "fleet", "accelerator_")["tdp"] == fleet.si["accelerator_tdp"]
    assert model_fields(g)["hidden"] is g.field("model", "hidden_dim")
