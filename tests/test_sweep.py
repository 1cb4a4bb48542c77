"""Declarative sweeps (``mlsysim_vec.sweep``): every value form, every error, run_spec == solve."""

import dataclasses
import re
import sys

import numpy as np
import pytest
import xarray as xr

import mlsysim_vec as ms
from mlsysim_vec import specs
from mlsysim_vec.grid import Arg
from mlsysim_vec.solvers.base import Resolver
from mlsysim_vec.sweep import (
    MAX_RANGE_VALUES,
    Spec,
    SpecError,
    format_table,
    format_value,
    grid_points,
    load_spec,
    point_counts,
    resolvers,
    run_spec,
    summarize,
)

H100, RESNET = ms.Hardware.Cloud.H100, ms.Models.ResNet50


def node_spec(sweep=None, fixed=None, **top):
    """A SingleNodeModel spec on ResNet-50 / H100 unless ``sweep``/``fixed`` say otherwise."""
    defaults = {"model": "Models.ResNet50", "hardware": "Hardware.Cloud.H100"}
    fixed = {**{k: v for k, v in defaults.items() if k not in (sweep or {})}, **(fixed or {})}
    return {"resolver": "SingleNodeModel", "sweep": sweep or {}, "fixed": fixed, **top}


# ---- value forms ---------------------------------------------------------------------------------


def test_list_and_fixed_values():
    spec = load_spec(
        node_spec({"batch_size": [1, 8], "precision": ["fp16", "fp8"]}, {"efficiency": 0.4, "is_training": False})
    )
    assert spec.resolver is ms.SingleNodeModel
    assert spec.sweep == {"batch_size": [1, 8], "precision": ["fp16", "fp8"]}
    assert spec.fixed == {"model": RESNET, "hardware": H100, "efficiency": 0.4, "is_training": False}
    assert list(spec.arguments) == ["batch_size", "precision", "model", "hardware", "efficiency", "is_training"]
    assert spec.chunks is None and spec.output is None


@pytest.mark.parametrize(
    "table, expected",
    [
        ({"start": 0.2, "stop": 0.8, "num": 4}, np.linspace(0.2, 0.8, 4)),
        ({"start": 0.2, "stop": 0.8, "num": 4, "scale": "linear"}, np.linspace(0.2, 0.8, 4)),
        ({"start": 1, "stop": 1000, "num": 4, "scale": "log"}, [1.0, 10.0, 100.0, 1000.0]),
        ({"start": 1, "stop": 1024, "num": 11, "scale": "log", "integer": True}, 2 ** np.arange(11)),
        ({"start": 1, "stop": 4, "num": 6, "scale": "log", "integer": True}, [1, 2, 3, 4]),  # repeats dropped
        ({"start": 1, "stop": 9, "num": 3, "integer": True}, [1, 5, 9]),
        ({"range": [1, 9, 2]}, [1, 3, 5, 7, 9]),  # stop included when it falls on a step
        ({"range": [1, 10, 2]}, [1, 3, 5, 7, 9]),
        ({"range": [1, 4]}, [1, 2, 3, 4]),  # step 1
        ({"range": [0.3, 0.7, 0.1]}, [0.3, 0.4, 0.5, 0.6, 0.7]),
        ({"range": [8, 2, -3]}, [8, 5, 2]),
    ],
)
def test_range_tables(table, expected):
    values = load_spec(node_spec({"activation_traffic_ratio": table})).sweep["activation_traffic_ratio"]
    np.testing.assert_allclose(values, expected)
    integer = table.get("integer") or all(isinstance(b, int) for b in table.get("range", [0.5]))
    assert (values.dtype.kind == "i") == bool(integer)


def test_registry_references():
    spec = load_spec(
        {
            "resolver": "SingleNodeModel",
            "sweep": {"model": "Models", "hardware": "Hardware.Cloud", "precision": ["fp16"]},
        }
    )
    assert spec.sweep["model"] is ms.Models and spec.sweep["hardware"] is ms.Hardware.Cloud
    one = load_spec(node_spec({"hardware": "Hardware.Cloud.H100"}))
    assert one.sweep["hardware"] == [H100]  # a swept record is a 1-long dimension
    flat = load_spec(node_spec(fixed={"model": "Models.Language.Llama3_8B", "hardware": "Hardware.Edge.Coral"}))
    assert flat.fixed["model"] is ms.Models.Llama3_8B and flat.fixed["hardware"] is ms.Hardware.Edge.Coral


def test_kind_families_are_references_and_flatten_in_lists():
    """``Hardware.GPUs`` and the other kind families resolve like the reference's families; in
    a list they flatten; the reference's alias ``Hardware.Embodied`` still resolves."""
    spec = load_spec(node_spec({"hardware": "Hardware.GPUs"}))
    assert spec.sweep["hardware"] is ms.Hardware.GPUs
    both = load_spec(node_spec({"hardware": ["Hardware.GPUs", "Hardware.TPUs", "Hardware.Racks.GB200_NVL72"]}))
    assert both.sweep["hardware"] == [*ms.Hardware.GPUs, *ms.Hardware.TPUs, ms.Hardware.Cloud.GB200_NVL72]
    assert len(both.sweep["hardware"]) == 14 + 6 + 1
    assert load_spec(node_spec({"hardware": "Hardware.Embodied"})).sweep["hardware"] is ms.Hardware.Edge
    assert run_spec(spec).dataset.sizes["hardware"] == 14
    with pytest.raises(SpecError, match=re.escape("hardware: record names must be unique along a dimension")):
        load_spec(node_spec({"hardware": ["Hardware.GPUs", "Hardware.Accelerators"]}))  # GPUs are Accelerators


@pytest.mark.parametrize(
    "ref, message",
    [
        (
            "Hardware.__dict__",
            "sweep.hardware = 'Hardware.__dict__': Hardware has no '__dict__'; families: Cloud, Workstation, "
            "Mobile, Edge, Tiny, GPUs, TPUs, Accelerators, SRAMAccelerators, Racks, CPUs, Enclaves (or a record key",
        ),
        (
            "Hardware.Cloud.list",
            "sweep.hardware = 'Hardware.Cloud.list': Hardware.Cloud has no 'list'; available: A100",
        ),
        ("Hardware.GPUs.__class__", "Hardware.GPUs has no '__class__'; available: A100, A100_40GB, B200, H100,"),
        ("Hardware.keys", "sweep.hardware = 'Hardware.keys': Hardware has no 'keys'; families: Cloud"),
        ("Hardware.GPU", "Hardware has no 'GPU' (did you mean 'GPUs'?); families: Cloud"),
        ("Hardware.GPUs.TPUv5p", "Hardware.GPUs has no 'TPUv5p'; available: A100, "),
    ],
)
def test_references_reach_only_families_and_records(ref, message):
    """A dotted reference cannot reach methods or dunder attributes (issue 13, item 7)."""
    with pytest.raises(SpecError, match=re.escape(message)):
        load_spec(node_spec({"hardware": ref}))


def test_mixed_list_flattens_families():
    spec = load_spec(
        node_spec(
            {
                "model": ["Models.ResNet50", "Models.Language.Llama3_8B", "Models.Tiny"],
                "hardware": ["Hardware.Cloud.H100", "Hardware.Mobile"],
            }
        )
    )
    assert spec.sweep["model"] == [RESNET, ms.Models.Llama3_8B, *ms.Models.Tiny.list()]
    assert spec.sweep["hardware"] == [H100, *ms.Hardware.Mobile.list()]


def test_python_objects_pass_through_and_chunks_output():
    spec = load_spec(
        {
            "resolver": ms.SingleNodeModel,
            "sweep": {"model": [RESNET], "hardware": ms.Hardware.Cloud, "batch_size": np.array([1, 2])},
            "chunks": {"hardware": 8},
            "output": "out.parquet",
        }
    )
    assert spec.sweep["hardware"] is ms.Hardware.Cloud and spec.sweep["model"] == [RESNET]
    assert spec.chunks == {"hardware": 8} and spec.output == "out.parquet"


def test_keyword_aliases(monkeypatch):
    class Toy(Resolver):
        ARGS = (Arg("size", "integer", default=1, low=1, keyword_aliases=("n",)),)

        def _compute(self, grid):
            return {"latency": grid["size"] * 1.0}

    monkeypatch.setattr("mlsysim_vec.sweep.resolvers", lambda: {"Toy": Toy})
    spec = load_spec({"resolver": "Toy", "sweep": {"n": [1, 2]}})
    assert spec.sweep == {"n": [1, 2]} and run_spec(spec).dims == ("size",)
    with pytest.raises(SpecError, match=re.escape("Toy.solve() got 'size' twice (directly and through an alias)")):
        load_spec({"resolver": "Toy", "sweep": {"n": [1], "size": [2]}})


TOML = """
resolver = "SingleNodeModel"
output = "roofline.parquet"

[sweep]
model = ["Models.ResNet50", "Models.Language.Llama3_8B"]
hardware = "Hardware.Cloud"
batch_size = {start = 1, stop = 64, num = 4, scale = "log", integer = true}
precision = ["fp16", "fp8"]

[fixed]
efficiency = 0.4

[chunks]
hardware = 8
"""

YAML = """
resolver: SingleNodeModel
output: roofline.parquet
sweep:
  model: [Models.ResNet50, Models.Language.Llama3_8B]
  hardware: Hardware.Cloud
  batch_size: {start: 1, stop: 64, num: 4, scale: log, integer: true}
  precision: [fp16, fp8]
fixed:
  efficiency: 0.4
chunks:
  hardware: 8
"""


def test_toml_and_yaml_files_give_the_same_spec(tmp_path):
    (tmp_path / "s.toml").write_text(TOML)
    (tmp_path / "s.yml").write_text(YAML)
    a, b = load_spec(tmp_path / "s.toml"), load_spec(str(tmp_path / "s.yml"))
    assert a.resolver is b.resolver and a.fixed == b.fixed and a.chunks == b.chunks == {"hardware": 8}
    assert a.output == b.output == "roofline.parquet"
    assert list(a.sweep) == list(b.sweep) == ["model", "hardware", "batch_size", "precision"]
    np.testing.assert_array_equal(a.sweep["batch_size"], [1, 4, 16, 64])
    assert a.sweep["model"] == b.sweep["model"] and a.sweep["hardware"] is b.sweep["hardware"]


def test_builtin_specs():
    assert "demo" in specs.names()
    demo = load_spec(specs.path("demo"))
    assert [len(v) for v in demo.sweep.values()] == [7, 14, 11, 5]
    assert demo.sweep["hardware"] is ms.Hardware.GPUs  # like for like: single data-centre GPUs
    with pytest.raises(ValueError, match="no built-in spec 'nope'; built-in specs: demo"):
        specs.path("nope")


# ---- errors --------------------------------------------------------------------------------------

ERRORS = [
    ({"sweep": {"batch_size": [1]}}, "the spec names no resolver; add resolver = one of "),
    (
        {"resolver": "SingleNode"},
        "resolver = 'SingleNode' is not a resolver (did you mean 'SingleNodeModel'?); allowed: ",
    ),
    ({"resolver": ["SingleNodeModel"]}, "is not a resolver"),
    (node_spec(sweeps={}), "unknown key 'sweeps'; allowed: resolver, sweep, fixed, chunks, output"),
    (
        node_spec({"batch": [1]}),
        "sweep.batch: SingleNodeModel has no argument 'batch' (did you mean "
        "'batch_size'?); arguments: model, hardware, batch_size",
    ),
    (node_spec(fixed={"bogus": 1}), "fixed.bogus: SingleNodeModel has no argument 'bogus'; arguments:"),
    ({"resolver": "SingleNodeModel", "sweep": [1]}, "sweep = [1] must be a table of argument names"),
    (node_spec({"batch_size": [1]}, {"batch_size": 2}), "'batch_size' is in both sweep and fixed"),
    (
        node_spec({"hardware": "Hardwear.Cloud"}),
        "sweep.hardware = 'Hardwear.Cloud' is not a registry reference; "
        "hardware takes a HardwareNode record (Hardware.*) named like "
        "'Hardware.Cloud.H100' (registries: Hardware, Models, Systems, Infra)",
    ),
    (
        node_spec(fixed={"model": "ResNet50"}),
        "fixed.model = 'ResNet50' is not a registry reference; model takes a Workload record (Models.*) "
        "named like 'Models.Language.Llama3_8B' (registries: Hardware, Models, Systems, Infra)",
    ),
    (
        {"resolver": "MoERoutingModel", "fixed": {"model": "Mixtral"}},
        "fixed.model = 'Mixtral' is not a registry reference; model takes a SparseTransformerWorkload "
        "(a mixture-of-experts model) named like 'Models.Language.Mixtral_8x7B'",
    ),
    (
        {"resolver": "DistributedModel", "sweep": {"fleet": ["frontier"]}},
        "sweep.fleet = 'frontier' is not a registry reference; fleet takes a Fleet record (Systems.Clusters.*) "
        "named like 'Systems.Clusters.Research_256'",
    ),
    (
        {"resolver": "TopologyModel", "fixed": {"fabric": "NDR"}},
        "named like 'Systems.Fabrics.InfiniBand_NDR'",
    ),
    (
        node_spec({"precision": "fp16"}),
        "sweep.precision = 'fp16': a swept value must be a list, a range table ({start, stop, num[, scale, "
        "integer]} or {range = [start, stop, step]}) or a registry reference such as 'Hardware.GPUs'; put "
        "single values in [fixed]",
    ),
    (node_spec({"batch_size": "8"}), "sweep.batch_size = '8': a swept value must be a list"),
    (
        node_spec({"hardware": "Hardware.Clod"}),
        "sweep.hardware = 'Hardware.Clod': Hardware has no 'Clod' (did you "
        "mean 'Cloud'?); families: Cloud, Workstation, Mobile, Edge, Tiny",
    ),
    (
        node_spec({"hardware": ["Hardware.Cloud.H1000"]}),
        "sweep.hardware = 'Hardware.Cloud.H1000': Hardware.Cloud "
        "has no 'H1000' (did you mean 'H100'?); available: A100,",
    ),
    (
        node_spec(fixed={"hardware": "Hardware.Cloud.H100.memory"}),
        "Hardware.Cloud.H100 is a record; a reference ends at a record",
    ),
    (
        node_spec(fixed={"hardware": "Hardware.Cloud"}),
        "fixed.hardware = 'Hardware.Cloud' is a family of 31 records; "
        "a fixed argument takes one record (e.g. Hardware.Cloud.A100)",
    ),
    (
        node_spec(fixed={"batch_size": [1, 2]}),
        "fixed.batch_size = [1, 2]: a fixed argument takes one value; move lists, ranges and families to [sweep]",
    ),
    (node_spec({"batch_size": 8}), "sweep.batch_size = 8: a swept value must be a list, a range table"),
    (node_spec({"batch_size": []}), "sweep.batch_size = []: an empty list gives an empty dimension"),
    (node_spec({"batch_size": {"start": 1, "stop": 8}}), "sweep.batch_size = {'start': 1, 'stop': 8}: missing num"),
    (
        node_spec({"batch_size": {"start": 1, "stop": 8, "num": 2, "step": 1}}),
        "unknown key 'step'; a range table has start, stop, num",
    ),
    (node_spec({"batch_size": {"start": 1, "stop": 8, "num": 0}}), "sweep.batch_size.num = 0 must be a whole number"),
    (node_spec({"batch_size": {"start": 1, "stop": 8, "num": 2.5}}), "sweep.batch_size.num = 2.5 must be a whole"),
    (node_spec({"batch_size": {"start": "1", "stop": 8, "num": 2}}), "sweep.batch_size.start = '1' must be a number"),
    (
        node_spec({"batch_size": {"start": 1, "stop": 8, "num": 2, "scale": "ln"}}),
        "sweep.batch_size.scale = 'ln'; allowed: 'linear', 'log'",
    ),
    (
        node_spec({"batch_size": {"start": 1, "stop": 8, "num": 2, "integer": "yes"}}),
        "sweep.batch_size.integer = 'yes'; allowed: true, false",
    ),
    (
        node_spec({"efficiency": {"start": 0, "stop": 1, "num": 3, "scale": "log"}}),
        "sweep.efficiency: scale = 'log' needs start > 0 and stop > 0; got start=0, stop=1",
    ),
    (
        node_spec({"batch_size": {"range": [1, 8], "num": 3}}),
        "a {range = [start, stop, step]} table takes no other key; got 'num'",
    ),
    (
        node_spec({"batch_size": {"range": [1, 8, 1, 1]}}),
        "sweep.batch_size.range = [1, 8, 1, 1]: expected [start, stop] or [start, stop, step] (numbers)",
    ),
    (
        node_spec({"batch_size": {"range": [1, 8, 0]}}),
        "sweep.batch_size.range = [1, 8, 0] is empty: step must be non-zero and go from start towards stop",
    ),
    (node_spec({"batch_size": {"range": [8, 1, 1]}}), "is empty"),
    (
        node_spec({"batch_size": {"range": [1, float("nan"), 1]}}),
        "sweep.batch_size.range = [1, nan, 1]: stop = nan must be a finite number",
    ),
    (
        node_spec({"batch_size": {"range": [1, 8, float("inf")]}}),  # was silently [1]
        "sweep.batch_size.range = [1, 8, inf]: step = inf must be a finite number",
    ),
    (
        node_spec({"batch_size": {"range": [1, 10**400]}}),  # a YAML integer beyond the float range
        "sweep.batch_size.range = [1, 1" + "0" * 400 + "]: stop = 1" + "0" * 400 + " must be a finite number",
    ),
    (
        node_spec({"batch_size": {"range": [1, MAX_RANGE_VALUES + 1]}}),
        "sweep.batch_size.range = [1, 1000001] gives 1,000,001 values; a range gives at most 1,000,000 (use a "
        "larger step, or a log-scaled {start, stop, num} table)",
    ),
    (
        node_spec({"efficiency": {"range": [0.0, 1e308, 1e-300]}}),  # (stop - start) / step overflows
        "sweep.efficiency.range = [0.0, 1e+308, 1e-300] gives more than 1e308 values; a range gives at most",
    ),
    (
        node_spec({"batch_size": {"range": [2**63 + 5, 2**63 - 1, -1]}}),  # YAML integers beyond int64
        "sweep.batch_size.range = [9223372036854775813, 9223372036854775807, -1] goes beyond the 64-bit integer range",
    ),
    (
        node_spec({"efficiency": {"start": float("-inf"), "stop": 1, "num": 3}}),
        "sweep.efficiency.start = -inf must be a finite number",
    ),
    (
        node_spec({"batch_size": {"start": 1, "stop": 8, "num": MAX_RANGE_VALUES + 1}}),
        "sweep.batch_size.num = 1000001: a range gives at most 1,000,000 values",
    ),
    (
        node_spec({"efficiency": {"start": -1e308, "stop": 1e308, "num": 3}}),  # the step overflows to inf
        "sweep.efficiency = {'start': -1e+308, 'stop': 1e+308, 'num': 3} gives values beyond the float range",
    ),
    (
        node_spec({"batch_size": {"start": 1, "stop": 1e30, "num": 3, "integer": True}}),
        "integer = true, but the values go beyond the 64-bit integer range",
    ),
    (
        node_spec({"batch_size": [1, -2]}),
        "batch_size=-2 is not allowed (1 of 2 values rejected); batch_size must be a whole number >= 1",
    ),
    (node_spec({"precision": ["fp16", "fp17"]}), "precision='fp17' is not allowed; precision must be one of 'fp32'"),
    (
        {"resolver": "SingleNodeModel", "fixed": {"hardware": "Hardware.Cloud.H100"}},
        "SingleNodeModel.solve() missing required argument 'model'",
    ),
    (
        node_spec(fixed={"model": "Hardware.Cloud.A100"}),
        "model=HardwareNode('NVIDIA A100') is a HardwareNode; model must be a Workload record (Models.*)",
    ),
    (
        node_spec({"model": ["Models.ResNet50", "Models.Vision"]}),
        "model: record names must be unique along a dimension; repeated: ['ResNet-50']",
    ),
    (
        node_spec({"batch_size": [1, 2]}, chunks={"batch": 1}),
        "chunks names dimensions ['batch'] that are not in the grid ['batch_size']",
    ),
    (node_spec(chunks={"batch_size": 0}), "chunks.batch_size = 0 must be a whole number >= 1"),
    (node_spec(chunks=4), "chunks = 4 must be a table of dimension = chunk size"),
    (node_spec(output=3), "output = 3 must be a file path (a string)"),
]


@pytest.mark.parametrize("spec, message", ERRORS, ids=[m[:40] for _, m in ERRORS])
def test_errors_name_key_value_and_allowed(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        load_spec(spec)
    assert caught.type is SpecError
    if message.startswith(("the spec names no resolver", "resolver = ")):  # lists every resolver
        for name in ("SingleNodeModel", "EfficiencyModel", "TrainingMemoryModel"):
            assert name in str(caught.value)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("s.json", "{}", "s.json: unknown spec format '.json'; allowed: .toml, .yaml, .yml"),
        ("s.toml", "resolver = ", "s.toml: invalid TOML: "),
        ("s.yaml", "sweep: [1,", "s.yaml: invalid YAML: "),
        (
            "s.yaml",
            "- 1\n- 2\n",
            "s.yaml: a spec is a table of keys (resolver, sweep, fixed, chunks, output), not a list",
        ),
        ("s.toml", 'resolver = "Nope"', "s.toml: resolver = 'Nope' is not a resolver"),
    ],
)
def test_file_errors(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(SpecError, match=re.escape(message)):
        load_spec(tmp_path / name)


def test_the_longest_range_is_accepted():
    """MAX_RANGE_VALUES values exactly: [1, 10^6] step 1 and a 10^6-point linspace."""
    values = load_spec(node_spec({"batch_size": {"range": [1, MAX_RANGE_VALUES]}})).sweep["batch_size"]
    assert values.dtype == np.int64 and len(values) == MAX_RANGE_VALUES == 1_000_000
    assert (values[0], values[-1]) == (1, 1_000_000)
    table = {"start": 0.0, "stop": 1.0, "num": MAX_RANGE_VALUES}
    assert len(load_spec(node_spec({"activation_traffic_ratio": table})).sweep["activation_traffic_ratio"]) == 10**6


def test_spec_encoding(tmp_path):
    """UTF-8 with a byte-order mark (as Windows editors save it) reads; Latin-1 is refused
    naming the first bad byte and its line."""
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + TOML.encode("utf-8"))
    assert load_spec(tmp_path / "bom.toml").sweep["hardware"] is ms.Hardware.Cloud
    (tmp_path / "latin.yaml").write_bytes(("# Zürich\n" + YAML).encode("latin-1"))
    with pytest.raises(SpecError, match=re.escape("latin.yaml: the file is not UTF-8 text (byte 0xfc on line 1)")):
        load_spec(tmp_path / "latin.yaml")


def test_chunks_without_dask(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(SpecError, match=re.escape("chunks needs dask: pip install 'mlsysim-vec[dask]'")):
        load_spec(node_spec({"batch_size": [1, 2]}, chunks={"batch_size": 1}))


def test_missing_file_and_missing_pyyaml(tmp_path, monkeypatch):
    with pytest.raises(SpecError, match="nothere.toml: no such file"):
        load_spec(tmp_path / "nothere.toml")
    (tmp_path / "s.yaml").write_text(YAML)
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(SpecError, match=re.escape("reading a YAML spec needs PyYAML (pip install pyyaml)")):
        load_spec(tmp_path / "s.yaml")


# ---- running -------------------------------------------------------------------------------------


def test_run_spec_equals_direct_solve(tmp_path):
    direct = ms.SingleNodeModel().solve(
        model=[RESNET, ms.Models.Llama3_8B],
        hardware=ms.Hardware.Cloud,
        batch_size=np.array([1, 4, 16, 64]),
        precision=["fp16", "fp8"],
        efficiency=0.4,
    )
    (tmp_path / "s.toml").write_text(TOML.replace("[chunks]\nhardware = 8\n", ""))
    xr.testing.assert_identical(run_spec(tmp_path / "s.toml").dataset, direct.dataset)
    chunked = run_spec(dataclasses.replace(load_spec(tmp_path / "s.toml"), chunks={"hardware": 8}))
    assert chunked.dataset["latency"].chunks is not None
    xr.testing.assert_identical(chunked.compute().dataset, direct.dataset)


def test_run_spec_other_resolver():
    spec = {
        "resolver": "TrainingMemoryModel",
        "sweep": {"model": ["Models.Llama3_8B", "Models.Llama3_70B"], "zero_stage": {"range": [0, 3]}},
        "fixed": {"hardware": "Hardware.Cloud.H100", "batch_size": 256, "optimizer": "adam"},
    }
    direct = ms.TrainingMemoryModel().solve(
        model=[ms.Models.Llama3_8B, ms.Models.Llama3_70B],
        zero_stage=np.arange(4),
        hardware=H100,
        batch_size=256,
        optimizer="adam",
    )
    xr.testing.assert_identical(run_spec(spec).dataset, direct.dataset)


def test_resolvers_are_the_exported_resolver_classes():
    assert {"SingleNodeModel", "EfficiencyModel", "TrainingMemoryModel"} <= set(resolvers())
    assert "Engine" not in resolvers() and "OOMError" not in resolvers()
    assert isinstance(load_spec(node_spec()), Spec)


# ---- summary -------------------------------------------------------------------------------------


def test_summarize_counts_every_grid_point():
    result = run_spec(
        node_spec(
            {
                "model": ["Models.ResNet50", "Models.Llama3_70B"],
                "hardware": "Hardware.Cloud",
                "batch_size": [1, 64, 1024],
                "precision": ["fp32", "fp8"],
            }
        )
    )
    df = result.to_dataframe()
    text = summarize(result)
    assert text.startswith(
        f"SingleNodeModel: {len(df):,} points over model (2) × hardware (31) × batch_size (3) × precision (2)"
    )
    assert "  batch_size: 1, 64, 1024" in text
    counts = df["bottleneck"].value_counts()
    assert f"Memory {counts['Memory']:,} " in text and f"Compute {counts['Compute']:,} " in text
    assert f"feasible: {df['feasible'].sum():,} of {len(df):,} points" in text
    assert f"overhead_dominated: {df['overhead_dominated'].sum():,} of" in text
    latency = next(line for line in text.splitlines() if line.startswith("latency "))
    assert latency.split()[1] == "ms"
    assert float(latency.split()[2]) == pytest.approx(df["latency"].min() * 1e3, rel=1e-3)
    spill = next(line for line in text.splitlines() if line.startswith("offload_spill_bytes"))
    assert spill.split()[-1] == str(int(df["feasible"].sum()))  # NaN wherever the model fits


def test_point_counts_broadcast_outputs_stored_without_some_dimensions():
    result = run_spec(
        node_spec(
            {
                "model": ["Models.ResNet50", "Models.Llama3_70B"],
                "hardware": "Hardware.Cloud",
                "batch_size": [1, 64, 1024],
            }
        )
    )
    assert "batch_size" not in result.dataset["feasible"].dims
    df = result.to_dataframe()
    assert grid_points(result) == len(df) == 2 * 31 * 3
    assert point_counts(result, "feasible") == {False: int((~df["feasible"]).sum()), True: int(df["feasible"].sum())}
    assert point_counts(result, "bottleneck") == df["bottleneck"].value_counts().to_dict()


def test_point_counts_and_summary_count_missing_categories():
    """A point whose categorical output is missing (code -1: an invalid input) is counted under
    None and shown as "(missing)"; the known labels keep their counts. Here 2 of the 2 x 2
    points (hardware x batch_size) lose their bottleneck."""
    result = run_spec(node_spec({"hardware": ["Hardware.Cloud.H100", "Hardware.Cloud.T4"], "batch_size": [1, 2]}))
    ds = result.dataset.copy(deep=True)
    codes = ds["bottleneck"].values
    assert codes.shape == (2, 2) and (codes >= 0).all()
    before = point_counts(result, "bottleneck")
    codes[0, :] = -1  # the H100 row
    edited = ms.Result.from_dataset(ds, resolver="SingleNodeModel")
    after = point_counts(edited, "bottleneck")
    assert after[None] == 2 and sum(after.values()) == 4
    kept = {k: v for k, v in after.items() if k is not None}
    assert sum(kept.values()) == 2 and all(kept[k] <= before[k] for k in kept)
    assert "(missing) 2 (50.0%)" in summarize(edited)


def test_summarize_other_resolvers_and_scalars():
    text = summarize(ms.EfficiencyModel().solve(hardware=ms.Hardware.Cloud, workload_type=["ffn", "attention"]))
    assert text.startswith("EfficiencyModel: 62 points over hardware (31) × workload_type (2)")
    assert "feasible:" not in text and "peak_flops_fallback:" in text and "achievable_flops" in text
    scalar = summarize(ms.SingleNodeModel().solve(model=RESNET, hardware=H100))
    assert scalar.startswith("SingleNodeModel: 1 point\n") and "bottleneck: " in scalar


def test_format_helpers():
    assert [format_value(v) for v in (None, np.nan, 2.0, 1024.0, 0.12345, 2.1e7, np.inf, True, "x", 3)] == [
        "",
        "",
        "2",
        "1024",
        "0.1235",
        "2.1e+07",
        "inf",
        "True",
        "x",
        "3",
    ]
    import pandas as pd

    text = format_table(pd.DataFrame({"name": ["a", "bbb"], "value": [1.5, np.nan]}))
    assert text.splitlines() == ["name  value", "a       1.5", "bbb"]
