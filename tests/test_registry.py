"""Registries: both access styles of the user guides, completeness against the reference's
0.3.0 tables (anchor-0.3.0-spec.md §10), typed immutable records, user-built records, lazy
loading (D18)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

import mlsysim_vec as ms
from mlsysim_vec import ureg


def test_counts_match_the_reference_registry():
    """Entries in the 0.3.0 registry (spec §10): 52 accelerators, 42 models, 8 nodes,
    14 fabrics, 18 clusters, 12 grids, 7 datacenters, 6 cooling profiles."""
    assert {f: len(v) for f, v in ms.Hardware.families().items()} == {
        "Cloud": 31,
        "Workstation": 3,
        "Mobile": 4,
        "Edge": 8,
        "Tiny": 6,
    }
    assert len(ms.Models) == 42
    assert (len(ms.Systems.Nodes), len(ms.Systems.Fabrics), len(ms.Systems.Clusters)) == (8, 14, 18)
    assert (len(ms.Infra.Grids), len(ms.Infra.Datacenters), len(ms.Infra.FacilityCooling)) == (12, 7, 6)


def test_both_access_styles():
    assert ms.Models.ResNet50 is ms.Models.Vision.ResNet50
    assert ms.Models.Llama3_8B is ms.Models.Language.Llama3_8B
    assert ms.Hardware.A100 is ms.Hardware.Cloud.A100
    assert ms.Hardware.Embodied.JetsonOrinNX is ms.Hardware.Edge.JetsonOrinNX
    assert ms.Infrastructure.Grids.Quebec is ms.Infra.Grids.Quebec
    assert ms.Hardware.Cloud.list()[0].name == "NVIDIA A100"
    assert "H100" in ms.Hardware.Cloud.keys() and ms.Hardware.Cloud.H100 in ms.Hardware.Cloud
    with pytest.raises(AttributeError, match="Hardware.Cloud has no entry 'H1000'; available: A100"):
        ms.Hardware.Cloud.H1000


def test_published_values_and_sources():
    h100 = ms.Hardware.Cloud.H100
    assert h100.compute.peak_flops == 989 * ureg("TFLOP/s")
    assert h100.memory.capacity.to("GB").m == pytest.approx(85.89934592)
    assert h100.memory.bandwidth == 3350 * ureg("GB/s") and h100.tdp == 700 * ureg.W
    assert h100.interconnect.bandwidth_per_direction == 64 * ureg("GB/s")
    assert h100.nvlink.bandwidth_per_direction == 450 * ureg("GB/s")  # 900 GB/s bidirectional total
    assert h100.source and h100.source_url.startswith("http")
    llama = ms.Models.Language.Llama3_70B
    assert (llama.layers, llama.hidden_dim, llama.heads, llama.kv_heads) == (80, 8192, 64, 8)
    assert llama.head_width == 128
    frontier = ms.Systems.Clusters.Frontier_8K
    assert frontier.total_accelerators == 8192 and frontier.node.accelerator is h100
    assert frontier.fabric.bandwidth.to("GB/s").m == pytest.approx(50) and frontier.effective_pue == 1.12
    assert ms.Infra.Grids.Quebec.carbon_intensity_g_kwh == 20 and ms.Infra.Grids.Quebec.pue == 1.06
    assert ms.Infra.Datacenters.Quebec_Hydro.grid is ms.Infra.Grids.Quebec
    every = ms.Hardware.list() + ms.Models.list() + ms.Systems.list() + ms.Infra.list()
    assert all(r.source for r in every), [r for r in every if not r.source]


def test_records_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ms.Hardware.Cloud.H100.tdp = 1 * ureg.W
    with pytest.raises(TypeError):
        ms.Hardware.Cloud.H100.compute.precision_flops["fp8"] = 1


def test_user_records_from_the_guide():
    moe = ms.SparseTransformerWorkload(
        name="Toy-MoE-64B",
        architecture="Sparse Transformer",
        parameters=64e9 * ureg.count,
        active_parameters=8e9 * ureg.count,
        experts=8,
        active_experts_per_token=2,
        layers=32,
        hidden_dim=4096,
        heads=32,
    )
    assert moe.si["active_parameters"] == 8e9 and moe.si["ops_per_sample"] == 16e9
    r = ms.SingleNodeModel().solve(model=moe, hardware=ms.Hardware.Cloud.H100)
    assert r.memory_footprint.to("GB").m == pytest.approx(128)  # weights: total parameters
    gpu = ms.HardwareNode(
        name="MyGPU",
        compute=ms.ComputeCore(peak_flops=500 * ureg("TFLOP/s")),
        memory=ms.MemoryHierarchy(capacity=96, bandwidth=3 * ureg("TB/s")),
    )
    assert gpu.memory.capacity == 96 * ureg.GiB and gpu.dispatch_tax == 0.01 * ureg.ms
    with pytest.raises(TypeError, match="memory.bandwidth=.*expected a quantity convertible to GB/s"):
        ms.MemoryHierarchy(capacity=96, bandwidth=3 * ureg.s)
    with pytest.raises(TypeError, match="layers is required"):
        ms.TransformerWorkload(name="x", parameters=1e9)
    with pytest.raises(ValueError, match="heads=2.5 must be a non-negative integer"):
        ms.TransformerWorkload(name="x", parameters=1e9, layers=2, heads=2.5)


def test_import_loads_no_data_and_compiles_nothing():
    """D18: `import mlsysim_vec` reads no data file and imports neither numba, dask.array nor
    xarray (pint itself imports dask's core when dask is installed)."""
    code = (
        "import sys, mlsysim_vec, mlsysim_vec.registry as r; "
        "assert r._read.cache_info().currsize == 0; "
        "bad = [m for m in ('numba', 'dask.array', 'xarray', 'pint_xarray') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_families_tabulate_as_dataframe_and_dataset():
    ds = ms.Hardware.Cloud.to_dataset()
    assert ds.sizes == {"hardware": 31}
    assert ds.memory_capacity.attrs["units"] == "byte"
    assert float(ds.memory_capacity.sel(hardware="NVIDIA H100")) == 80 * 2**30
    assert float(ds.compute_precision_flops_fp8.sel(hardware="NVIDIA H100")) == 1979e12
    df = ms.Systems.Clusters.to_dataframe()
    assert df.set_index("key").loc["Frontier_8K", "node"] == "DGX H100"
    assert ms.Models.to_dataset().sizes == {"model": 42}


def test_model_from_huggingface_config(tmp_path):
    """Parameter counts from config shapes: Llama-3.1-8B 8.03 B (registry 8.03e9), Mixtral-8x7B
    46.7 B total / 12.9 B active (registry 4.67e10 / 1.29e10)."""
    import json

    llama = {
        "num_hidden_layers": 32,
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 14336,
        "vocab_size": 128256,
        "max_position_embeddings": 131072,
        "model_type": "llama",
        "tie_word_embeddings": False,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(llama))
    m = ms.from_hf_config(path, name="Llama-3.1-8B (config.json)")
    assert isinstance(m, ms.TransformerWorkload)
    assert m.parameters.to("count").m == pytest.approx(8.03e9, rel=1e-3)
    assert (m.layers, m.kv_heads, m.head_width, m.context_length) == (32, 8, 128, 131072)
    mixtral = dict(llama, vocab_size=32000, num_local_experts=8, num_experts_per_tok=2, model_type="mixtral")
    moe = ms.from_hf_config(mixtral)
    assert isinstance(moe, ms.SparseTransformerWorkload) and moe.experts == 8
    assert moe.parameters.to("count").m == pytest.approx(4.67e10, rel=2e-3)
    assert moe.active_parameters.to("count").m == pytest.approx(1.29e10, rel=2e-3)
    r = ms.SingleNodeModel().solve(model=[m, ms.Models.Language.Llama3_8B], hardware=ms.Hardware.Cloud.H100)
    lat = r.latency.pint.magnitude
    assert lat[0] == pytest.approx(lat[1], rel=1e-3)
    with pytest.raises(ValueError, match="config needs num_hidden_layers"):
        ms.from_hf_config({"hidden_size": 8})


# ---- from_hf_config on the published configs shipped with the package ----------------------------


def _hf(name):
    from importlib import resources

    return ms.from_hf_config(str(resources.files("mlsysim_vec.data").joinpath("hf_configs", f"{name}.json")))


@pytest.mark.parametrize(
    ("name", "published", "tolerance"),
    [
        ("gpt-j-6b", 6_053_381_344, 1e-3),  # EleutherAI model card; biases (2.5 M) are not counted
        ("llama-2-7b", 6_738_415_616, 1e-9),  # the shapes' exact count
        ("llama-2-70b", 68_976_648_192, 1e-9),
        ("falcon-180b", 180e9, 0.01),  # "180B"; the shapes give 178.55 B with the tied head
    ],
)
def test_hf_configs_count_their_published_parameters(name, published, tolerance):
    assert _hf(name).parameters.m == pytest.approx(published, rel=tolerance)


def test_hf_config_shapes_of_plain_mlp_and_multi_kv_models():
    """GPT-J and Falcon have plain (2-projection) MLPs; Falcon-180B's 8 KV heads are under
    ``num_kv_heads``; a config without ``tie_word_embeddings`` ties the head (HuggingFace's default)."""
    gptj, falcon, llama = _hf("gpt-j-6b"), _hf("falcon-180b"), _hf("llama-2-70b")
    assert (gptj.gated_mlp, falcon.gated_mlp, llama.gated_mlp) == (False, False, True)
    assert (gptj.kv_heads, falcon.kv_heads, llama.kv_heads) == (16, 8, 8)
    assert gptj.context_length == 2048 and gptj.name == "gpt-j-6b"
    h, layers, heads, d, kv, vocab = 14848, 80, 232, 64, 8, 65024
    by_hand = layers * (2 * h * heads * d + 2 * h * kv * d + 2 * h + 2 * h * 4 * h) + vocab * h + h
    assert falcon.parameters.m == by_hand


def test_hf_config_kv_head_spellings_and_overrides():
    base = {"model_type": "falcon", "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 8}
    assert ms.from_hf_config({**base, "n_head_kv": 2}).kv_heads == 2
    assert ms.from_hf_config({**base, "multi_query": True}).kv_heads == 1
    assert ms.from_hf_config(base).kv_heads == 8
    plain = ms.from_hf_config({**base, "vocab_size": 10})
    gated = ms.from_hf_config({**base, "vocab_size": 10}, gated_mlp=True)
    assert gated.parameters.m - plain.parameters.m == 2 * 64 * 4 * 64  # one more h x 4h projection per layer
    window = ms.from_hf_config({**base, "model_type": "mistral", "sliding_window": 4096})
    assert window.sliding_window == 4096 and window.gated_mlp is True
    assert window.si["sliding_window"] == 4096.0


def test_published_prices_are_on_the_records_with_their_sources():
    """prices.csv: every Cloud accelerator with a public price carries it (USD per accelerator-
    hour for rental, USD for list), with its source and date; a rack record costs its count times
    the per-accelerator price."""
    import csv
    from importlib import resources

    rows = list(csv.DictReader(resources.files("mlsysim_vec.data").joinpath("prices.csv").open(encoding="utf-8")))
    assert rows and all(r["source"] and r["source_url"].startswith("http") and r["date"] for r in rows)
    h100 = ms.Hardware.Cloud.H100
    price = next(float(r["price [USD]"]) for r in rows if r["key"] == "H100" and r["kind"] == "rental_on_demand")
    assert h100.rental_price.to("USD/hour").m == price
    assert h100.si["rental_price"] == pytest.approx(price / 3600.0)
    assert "Lambda" in h100.rental_price_source and "2026" in h100.rental_price_source
    priced = {r["key"] for r in rows if r["kind"] == "rental_on_demand"}
    for key in ms.Hardware.Cloud.keys():
        record = getattr(ms.Hardware.Cloud, key)
        assert (record.rental_price is not None) == (key in priced), key
    rack = ms.Hardware.Cloud.GB200_NVL72
    per_gpu = next(
        float(r["price [USD]"]) for r in rows if r["key"] == "GB200_NVL72" and r["kind"] == "rental_on_demand"
    )
    assert rack.rental_price.to("USD/hour").m == pytest.approx(72 * per_gpu)
    assert np.isnan(ms.Hardware.Cloud.V100.si["rental_price"])


# ---- kind families (issue 13, item 11) -----------------------------------------------------------

KINDS = {
    "GPUs": {"A100", "A100_40GB", "B200", "H100", "H100_PCIe", "H200", "K80", "P100", "T4", "V100", "V100_PCIe"}
    | {"MI250X", "MI300X", "MI325X"},
    "TPUs": {"TPUv1", "TPUv2", "TPUv3", "TPUv4", "TPUv5p", "TPUv6"},
    "SRAMAccelerators": {"Cerebras_CS3", "DMatrix_Corsair", "Graphcore_GC200", "Groq_LPU", "Untether_speedAI240"},
    "Racks": {"GB200_NVL72"},
    "CPUs": {"ReferenceCPU"},
    "Enclaves": {"IntelSGX"},
}
KINDS["Accelerators"] = KINDS["GPUs"] | KINDS["TPUs"] | {"Gaudi2", "Gaudi3", "Trainium2"}


def test_kind_families_hold_what_their_names_say():
    """Hand-checked members; the records are the Cloud family's own objects, in registry order."""
    groups = ms.Hardware.groups()
    assert list(groups) == ["GPUs", "TPUs", "Accelerators", "SRAMAccelerators", "Racks", "CPUs", "Enclaves"]
    for name, keys in KINDS.items():
        family = getattr(ms.Hardware, name)
        assert family is groups[name] and set(family.keys()) == keys, name
        assert all(getattr(family, key) is getattr(ms.Hardware.Cloud, key) for key in keys)
        cloud_order = [k for k in ms.Hardware.Cloud.keys() if k in keys]
        assert family.keys() == cloud_order
    assert all(hw.name.startswith(("NVIDIA", "AMD")) for hw in ms.Hardware.GPUs)
    assert all(hw.name.startswith("Google TPU") for hw in ms.Hardware.TPUs)


def test_kind_families_partition_the_cloud_family():
    """Every Cloud record is in exactly one of Accelerators, SRAMAccelerators, Racks, CPUs,
    Enclaves: a record added to hardware.csv without a kind fails here."""
    parts = ["Accelerators", "SRAMAccelerators", "Racks", "CPUs", "Enclaves"]
    members = [key for part in parts for key in getattr(ms.Hardware, part).keys()]
    assert sorted(members) == sorted(ms.Hardware.Cloud.keys()) and len(members) == 31


def test_racks_are_the_records_of_several_accelerators():
    """Racks come from the data: accelerator_count > 1 in hardware.csv (GB200 NVL72: 72)."""
    import csv
    from importlib import resources

    rows = list(csv.DictReader(resources.files("mlsysim_vec.data").joinpath("hardware.csv").open(encoding="utf-8")))
    several = {r["key"] for r in rows if r["accelerator_count"] and float(r["accelerator_count"]) > 1}
    assert several == set(ms.Hardware.Racks.keys()) == {"GB200_NVL72"}


def test_kind_families_are_physically_alike():
    """What makes each family like-for-like, from the records: a single accelerator holds 8 to
    256 GiB of off-chip memory at 34 GB/s (TPU v1) to 8 TB/s (B200); an SRAM accelerator streams
    its weights at >= 45 TB/s (GC200) from at most 44 GiB (CS-3); the rack has 72 x 192 GiB."""
    gib, tbs = 2**30, 1e12
    for hw in ms.Hardware.Accelerators:
        assert 8 * gib <= hw.si["memory_capacity"] <= 256 * gib, hw.name
        assert 34e9 <= hw.si["memory_bandwidth"] <= 8 * tbs, hw.name
    for hw in ms.Hardware.SRAMAccelerators:
        assert hw.si["memory_capacity"] <= 44 * gib and hw.si["memory_bandwidth"] >= 45 * tbs, hw.name
    assert ms.Hardware.Racks.GB200_NVL72.si["memory_capacity"] == 72 * 192 * gib


def test_kind_families_leave_the_reference_paths_alone():
    """Hardware.Cloud iterates as in mlsysim 0.3.0 (31 records, A100 first), families() is
    still the reference's five, and the kind families are not counted twice in Hardware."""
    assert len(ms.Hardware.Cloud) == 31 and ms.Hardware.Cloud.list()[0] is ms.Hardware.Cloud.A100
    assert list(ms.Hardware.families()) == ["Cloud", "Workstation", "Mobile", "Edge", "Tiny"]
    assert len(ms.Hardware) == 52 and len(set(map(id, ms.Hardware))) == 52
    assert ms.Hardware.GPUs.H100 is ms.Hardware.Cloud.H100 is ms.Hardware.H100
    assert {"GPUs", "Accelerators", "Racks"} <= set(dir(ms.Hardware))
    assert ms.Hardware.GPUs.__doc__ == "Hardware.GPUs: data-centre GPUs, one device per record."
    assert "GB200 NVL72" in ms.Hardware.Cloud.description and repr(ms.Hardware.GPUs) == "<Hardware.GPUs: 14 entries>"
    with pytest.raises(AttributeError, match="Hardware.GPUs has no entry 'TPUv4'; available: A100"):
        ms.Hardware.GPUs.TPUv4


def test_a_kind_family_is_one_grid_dimension():
    """Passed to a resolver, a kind family is the hardware dimension (coordinates: the record
    names) and gives the values of its records one by one."""
    r = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.GPUs, batch_size=[1, 8])
    assert r.dims == ("hardware", "batch_size")
    assert list(r.dataset["hardware"].values) == [hw.name for hw in ms.Hardware.GPUs]
    one = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=ms.Hardware.GPUs.T4, batch_size=[1, 8])
    np.testing.assert_array_equal(
        r.sel(hardware=ms.Hardware.GPUs.T4).latency.pint.magnitude, one.latency.pint.magnitude
    )
    assert ms.Hardware.TPUs.to_dataset().sizes == {"hardware": 6}


def test_docs_registry_lists_every_family_and_its_members():
    """docs/registry.md's tables: one row per family, `Registry.Family` | count | ... | keys."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "registry.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            rows[cells[0].strip("`")] = (int(cells[1]), cells[-1].split(", "))
    expected = {}
    for prefix, registry in {
        "Hardware": ms.Hardware,
        "Models": ms.Models,
        "Systems": ms.Systems,
        "Infra": ms.Infra,
    }.items():
        for name, family in {**registry.families(), **registry.groups()}.items():
            expected[f"{prefix}.{name}"] = (len(family), family.keys())
    assert rows == expected
