"""The built-in registries: ``Hardware``, ``Models``, ``Systems``, ``Infra`` (``Infrastructure``).

The data lives in ``mlsysim_vec/data/*.csv``: one row per entry, a unit in square brackets in
every quantity column's header, and a ``source`` / ``source_url`` per row. The values are those
of the reference registry (mlsysim 0.3.0), with the fixes of docs/differences.md, D16. Nothing is
read at import: a file is parsed the first time one of its entries is asked for.

Access works both ways the user guides use it::

    Hardware.Cloud.H100, Models.Language.Llama3_8B, Models.ResNet50, Systems.Clusters.Frontier_8K
    Hardware.Cloud.list(), list(Models.Vision), Models.list()

A family (``Hardware.GPUs``), a whole registry (``Hardware``) or a list of records passed to
a resolver becomes one grid dimension whose coordinates are the records' names.

Hardware comes in two groupings. The families of the reference (``Cloud``, ``Workstation``,
``Mobile``, ``Edge``, ``Tiny``) sort records by where they are deployed, and ``Hardware.Cloud``
mixes single GPUs with a 72-GPU rack, a CPU and an enclave. The kind families sort the
data-centre records by what one record is, so that a sweep compares like with like:

- ``Hardware.GPUs``: data-centre GPUs, one device per record (NVIDIA K80 ... B200, AMD
  MI250X ... MI325X);
- ``Hardware.TPUs``: Google TPU v1 ... v6e, one chip per record;
- ``Hardware.Accelerators``: every single data-centre accelerator with off-chip DRAM/HBM: the
  GPUs, the TPUs, Intel Gaudi 2/3 and AWS Trainium 2;
- ``Hardware.SRAMAccelerators``: accelerators whose model memory is on-chip SRAM (Groq LPU,
  Graphcore GC200, Untether speedAI240, d-Matrix Corsair; 0.22 to 2 GiB) and the Cerebras CS-3
  wafer (44 GiB): a model larger than the SRAM needs many chips, which a one-device resolver
  does not model;
- ``Hardware.Racks``: multi-accelerator systems as one record (GB200 NVL72: 72 GPUs);
- ``Hardware.CPUs``: the reference desktop CPU (1 TFLOP/s);
- ``Hardware.Enclaves``: the Intel SGX trusted-execution enclave profile.

Every Cloud record is in exactly one of Accelerators, SRAMAccelerators, Racks, CPUs and
Enclaves; the records are the same objects (``Hardware.GPUs.H100 is Hardware.Cloud.H100``).
docs/registry.md lists every family with its members.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from functools import cache
from importlib import resources

from .hardware.types import ComputeCore, HardwareNode, IOInterconnect, MemoryHierarchy, StorageHierarchy
from .infra.types import CoolingProfile, Datacenter, GridProfile
from .models import types as mtypes
from .physics.constants import PRECISIONS
from .systems.types import Fleet, NetworkFabric, Node
from .units import Q_, canonical, is_quantity

__all__ = ["Family", "Registry", "Hardware", "Models", "Systems", "Infra", "Infrastructure"]

_HEADER = re.compile(r"^(?P<name>[^\[]+?)\s*(\[(?P<unit>[^\]]*)\])?$")


@cache
def _read(filename: str) -> tuple[dict, ...]:
    """Rows of a data file as dicts of Quantities (unit columns), ints/floats or strings."""
    text = resources.files("mlsysim_vec.data").joinpath(filename).read_text(encoding="utf-8")
    reader = csv.reader(text.splitlines())
    header = [_HEADER.match(h.strip()).group("name", "unit") for h in next(reader)]
    rows = []
    for line in reader:
        row = {}
        for (name, unit), cell in zip(header, line):
            cell = cell.strip()
            if cell == "":
                row[name] = None
            elif unit is not None and name != "other_precision_flops":
                row[name] = Q_(float(cell), unit)
            else:
                row[name] = cell
        row["_units"] = dict(header)
        rows.append(row)
    return tuple(rows)


def _num(value, kind=float):
    return None if value is None else kind(float(value))


@cache
def _prices() -> dict[tuple[str, str], tuple[object, str]]:
    """{(hardware key, kind): (price, "source (date), url")} from prices.csv."""
    out = {}
    for row in _read("prices.csv"):
        unit = "USD/hour" if row["per"] == "accelerator-hour" else "USD"
        price = Q_(row["price"].magnitude, unit)
        out[(row["key"], row["kind"])] = (price, f"{row['source']} ({row['date']}), {row['source_url']}")
    return out


def _price_fields(row) -> dict:
    """A record's published prices. A record that is a whole system of several accelerators
    (``accelerator_count``, e.g. a 72-GPU rack) costs its count times the per-accelerator price."""
    count = int(_num(row.get("accelerator_count")) or 1)
    out = {}
    for kind, field in (("rental_on_demand", "rental_price"), ("list", "list_price")):
        price, source = _prices().get((row["key"], kind), (None, ""))
        if price is not None and count > 1:
            price, source = price * count, f"{count} x the per-accelerator price: {source}"
        out[field], out[f"{field}_source"] = price, source
    return out


def _hardware(row) -> HardwareNode:
    table = {k: row[k] for k in PRECISIONS if row.get(k) is not None}
    for item in (row.get("other_precision_flops") or "").split(";"):
        if item.strip():
            key, value = item.split("=")
            table[key.strip()] = Q_(float(value), row["_units"]["other_precision_flops"])

    def link(prefix):
        if row.get(f"{prefix}_bandwidth") is None:
            return None
        return IOInterconnect(
            name=row.get(f"{prefix}_name") or "",
            bandwidth=row[f"{prefix}_bandwidth"],
            direction=row.get(f"{prefix}_direction") or "per_direction",
            latency=row.get(f"{prefix}_latency"),
        )

    storage = None
    if row.get("storage_bandwidth") is not None:
        storage = StorageHierarchy(bandwidth=row["storage_bandwidth"], capacity=row.get("storage_capacity"))
    return HardwareNode(
        name=row["name"],
        release_year=_num(row.get("release_year"), int),
        compute=ComputeCore(peak_flops=row["peak_flops"], precision_flops=table),
        memory=MemoryHierarchy(
            capacity=row["memory_capacity"],
            bandwidth=row["memory_bandwidth"],
            sram_capacity=row.get("sram_capacity"),
            sram_bandwidth=row.get("sram_bandwidth"),
            flash_capacity=row.get("flash_capacity"),
            flash_bandwidth=row.get("flash_bandwidth"),
        ),
        storage=storage,
        interconnect=link("interconnect"),
        nvlink=link("nvlink"),
        tdp=row.get("tdp"),
        unit_cost=row.get("unit_cost"),
        embodied_carbon_kg=row.get("embodied_carbon"),
        dispatch_tax=row["dispatch_tax"] if row.get("dispatch_tax") is not None else Q_(0.01, "ms"),
        **_price_fields(row),
        source=row.get("source") or "",
        source_url=row.get("source_url") or "",
    )


_INT_COLUMNS = {
    "layers",
    "hidden_dim",
    "heads",
    "kv_heads",
    "head_dim",
    "experts",
    "active_experts_per_token",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "context_length",
    "vocab_size",
    "state_size",
    "denoising_steps",
    "resolution",
    "training_accelerators_ref",
    "release_year",
}


def _workload(row):
    cls = getattr(mtypes, row["type"])
    fields = set(cls.__dataclass_fields__)
    kwargs = {}
    for key, value in row.items():
        if key in ("key", "family", "type", "_units") or value is None or key not in fields:
            continue
        if key in _INT_COLUMNS:
            value = _num(value, int)
        elif key == "training_energy_mwh":
            value = float(value.to("MWh").magnitude)
        elif key == "width_multiplier":
            value = _num(value)
        kwargs[key] = value
    return cls(**kwargs)


def _records(filename: str, build) -> dict[str, dict[str, object]]:
    """{family: {key: record}} for a data file (family '' when the file has none)."""
    out: dict[str, dict[str, object]] = {}
    for row in _read(filename):
        out.setdefault(row.get("family") or "", {})[row["key"]] = build(row)
    return out


@cache
def _hardware_records():
    return _records("hardware.csv", _hardware)


#: The kind families of ``Hardware`` (see the module docstring): name -> (description, keys of
#: ``Hardware.Cloud`` records). Racks are found from the data (``accelerator_count`` > 1).
_HARDWARE_KINDS = {
    "GPUs": (
        "data-centre GPUs, one device per record",
        ("A100", "A100_40GB", "B200", "H100", "H100_PCIe", "H200", "K80", "MI250X", "MI300X", "MI325X")
        + ("P100", "T4", "V100", "V100_PCIe"),
    ),
    "TPUs": ("Google TPUs, one chip per record", ("TPUv1", "TPUv2", "TPUv3", "TPUv4", "TPUv5p", "TPUv6")),
    "Accelerators": (
        "single data-centre accelerators with off-chip DRAM/HBM: the GPUs, the TPUs, Gaudi 2/3, Trainium 2",
        ("GPUs", "TPUs", "Gaudi2", "Gaudi3", "Trainium2"),
    ),
    "SRAMAccelerators": (
        "accelerators whose model memory is on-chip SRAM (0.22 to 2 GiB per chip; the Cerebras CS-3 "
        "wafer 44 GiB): a larger model needs many chips",
        ("Cerebras_CS3", "DMatrix_Corsair", "Graphcore_GC200", "Groq_LPU", "Untether_speedAI240"),
    ),
    "Racks": ("multi-accelerator systems as one record", ()),  # keys from the data: _rack_keys
    "CPUs": ("CPUs", ("ReferenceCPU",)),
    "Enclaves": ("trusted-execution enclave profiles", ("IntelSGX",)),
}


@cache
def _rack_keys() -> frozenset[str]:
    """Keys of the hardware records that are several accelerators (``accelerator_count`` > 1)."""
    return frozenset(row["key"] for row in _read("hardware.csv") if (_num(row.get("accelerator_count")) or 1) > 1)


def _kind_keys(kind: str) -> frozenset[str]:
    if kind == "Racks":
        return _rack_keys()
    keys = set()
    for key in _HARDWARE_KINDS[kind][1]:
        keys |= _kind_keys(key) if key in _HARDWARE_KINDS else {key}
    return frozenset(keys)


def _hardware_kind(kind: str):
    """Loader of a kind family: the Cloud records of that kind, in registry order."""

    def load():
        keys = _kind_keys(kind)
        return {key: record for key, record in _hardware_records()["Cloud"].items() if key in keys}

    return load


@cache
def _model_records():
    return _records("models.csv", _workload)


def _hardware_by_ref(ref: str) -> HardwareNode:
    family, key = ref.split(".")
    return _hardware_records()[family][key]


@cache
def _grid_records():
    def build(row):
        return GridProfile(
            name=row["name"],
            carbon_intensity_g_kwh=row["carbon_intensity"].to("g/kWh").m,
            pue=float(row["pue"]),
            wue=row["wue"].to("L/kWh").m,
            primary_source=row.get("primary_source") or "",
            lat=_num(row.get("lat")),
            lon=_num(row.get("lon")),
            renewable_fraction=_num(row.get("renewable_fraction")),
            kwh_price=row.get("kwh_price"),
            source=row.get("source") or "",
            source_url=row.get("source_url") or "",
        )

    return _records("grids.csv", build)[""]


@cache
def _datacenter_records():
    grids = _grid_records()

    def build(row):
        return Datacenter(
            name=row["name"],
            grid=grids[row["grid"]],
            pue_override=_num(row.get("pue_override")),
            description=row.get("description") or "",
            source=row.get("source") or "",
            source_url=row.get("source_url") or "",
        )

    return _records("datacenters.csv", build)[""]


@cache
def _cooling_records():
    def build(row):
        return CoolingProfile(
            name=row["name"],
            pue=float(row["pue"]),
            wue=row["wue"].to("L/kWh").m,
            source=row.get("source") or "",
            source_url=row.get("source_url") or "",
        )

    return _records("cooling.csv", build)[""]


@cache
def _node_records():
    def build(row):
        return Node(
            name=row["name"],
            accelerator=_hardware_by_ref(row["accelerator"]),
            accelerators_per_node=_num(row["accelerators_per_node"], int),
            intra_node_bw=row["intra_node_bw"],
            nics_per_node=_num(row.get("nics_per_node"), int) or 1,
            psus_per_node=_num(row.get("psus_per_node"), int) or 2,
            psu_redundancy=_num(row.get("psu_redundancy"), int) or 0,
            psu_rating=row.get("psu_rating"),
            max_power=row.get("max_power"),
            host_memory=row.get("host_memory"),
            host_memory_bw=row.get("host_memory_bw"),
            host_cpu=row.get("host_cpu"),
            host_cpu_cores=_num(row.get("host_cpu_cores"), int),
            source=row.get("source") or "",
            source_url=row.get("source_url") or "",
        )

    return _records("nodes.csv", build)[""]


@cache
def _fabric_records():
    def build(row):
        return NetworkFabric(
            name=row["name"],
            bandwidth=row["bandwidth"],
            topology=row.get("topology") or "fat-tree",
            latency=row.get("latency"),
            oversubscription_ratio=_num(row.get("oversubscription_ratio")) or 1.0,
            source=row.get("source") or "",
            source_url=row.get("source_url") or "",
        )

    return _records("fabrics.csv", build)[""]


@cache
def _cluster_records():
    nodes, fabrics, grids, dcs = _node_records(), _fabric_records(), _grid_records(), _datacenter_records()

    def build(row):
        return Fleet(
            name=row["name"],
            node=nodes[row["node"]],
            count=_num(row["count"], int),
            fabric=fabrics[row["fabric"]],
            region=grids.get(row.get("region") or ""),
            datacenter=dcs.get(row.get("datacenter") or ""),
            mtbf_hours=row.get("mtbf_hours"),
            source=row.get("source") or "",
            source_url=row.get("source_url") or "",
        )

    return _records("clusters.csv", build)[""]


def _flatten(record, prefix="", units=None) -> dict:
    """Scalar fields of a record (nested parts prefixed, linked records by name), quantities
    in canonical units (recorded in ``units``)."""
    out = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        key = f"{prefix}{field.name}"
        if value is None or isinstance(value, (str, int, float, bool)):
            out[key] = value
        elif is_quantity(value):
            out[key], units[key] = canonical(value)
        elif (
            dataclasses.is_dataclass(value)
            and hasattr(value, "name")
            and not prefix
            and field.name not in ("compute", "memory", "storage", "interconnect", "nvlink")
        ):
            out[key] = value.name
        elif dataclasses.is_dataclass(value):
            out.update(_flatten(value, f"{key}_", units))
        elif hasattr(value, "items"):  # precision_flops: one column per key
            for sub, q in value.items():
                out[f"{key}_{sub}"], units[f"{key}_{sub}"] = canonical(q)
    return out


class Family:
    """A named, ordered collection of records (``Hardware.Cloud``), loaded on first use.

    Attribute access gives one record; iteration, ``len`` and ``list()`` give all of them in
    registry order. Passed to a resolver it becomes one grid dimension. ``to_dataframe()`` and
    ``to_dataset()`` tabulate it (one row / one coordinate per record, canonical units).
    """

    def __init__(self, name: str, load, dim: str = "record", description: str = ""):
        self._name = name
        self._load = load
        self._dim = dim
        self.description = description
        if description:
            self.__doc__ = f"{name}: {description}."

    def _entries(self) -> dict:
        return self._load()

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        entries = self._entries()
        if key in entries:
            return entries[key]
        raise AttributeError(f"{self._name} has no entry {key!r}; available: {', '.join(entries)}")

    def __dir__(self):
        return list(self._entries()) + ["list", "keys"]

    def __iter__(self):
        return iter(self._entries().values())

    def __len__(self):
        return len(self._entries())

    def __contains__(self, item):
        entries = self._entries()
        return item in entries or any(item is r for r in entries.values())

    def keys(self) -> list[str]:
        """Attribute names of the entries."""
        return list(self._entries())

    def list(self) -> list:
        """The records, in registry order."""
        return list(self._entries().values())

    def __repr__(self):
        return f"<{self._name}: {len(self)} entries>"

    def to_dataframe(self):
        """One row per record: its key and every scalar field (quantities in canonical units,
        listed in ``df.attrs["units"]``)."""
        import pandas as pd

        units: dict[str, str] = {}
        rows = [{"key": key, **_flatten(record, units=units)} for key, record in self._entries().items()]
        df = pd.DataFrame(rows)
        df.attrs["units"] = units
        return df

    def to_dataset(self):
        """The family as an xarray Dataset with one dimension (``hardware``, ``model``, ``fleet``,
        ...) whose coordinates are the record names; units in each variable's attrs."""
        import xarray as xr

        df = self.to_dataframe()
        ds = xr.Dataset.from_dataframe(df.set_index("name").rename_axis(self._dim))
        for column, unit in df.attrs["units"].items():
            ds[column].attrs["units"] = unit
        return ds


class Registry(Family):
    """A registry of families (``Hardware``): ``Hardware.Cloud`` is a family, and every record
    is also reachable directly (``Models.ResNet50``), as the user guides write it.

    ``families()`` are the reference's families, which partition the registry (iterating the
    registry goes through them in order); ``groups()`` are further families over the same
    records (``Hardware.GPUs``), reached the same way."""

    def __init__(
        self,
        name: str,
        families: dict[str, Family],
        aliases: dict[str, str] | None = None,
        dim: str = "record",
        groups: dict[str, Family] | None = None,
    ):
        self._families = families
        self._aliases = aliases or {}
        self._groups = groups or {}
        super().__init__(name, self._flat, dim)

    def _flat(self) -> dict:
        out = {}
        for family in self._families.values():
            for key, record in family._entries().items():
                out.setdefault(key, record)
        return out

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        if key in self._families:
            return self._families[key]
        if key in self._aliases:
            return self._families[self._aliases[key]]
        if key in self._groups:
            return self._groups[key]
        return super().__getattr__(key)

    def __dir__(self):
        return list(self._families) + list(self._groups) + list(self._aliases) + super().__dir__()

    def families(self) -> dict[str, Family]:
        """The reference's families, which partition the registry: {name: family}."""
        return dict(self._families)

    def groups(self) -> dict[str, Family]:
        """Further families over the same records (``Hardware.GPUs``): {name: family}."""
        return dict(self._groups)


def _family_of(load, family):
    return lambda: load().get(family, {})


_TIERS = {
    "Cloud": "data-centre devices as mlsysim groups them: single GPUs and accelerators, the GB200 NVL72 "
    "rack, a reference CPU and an SGX enclave (sweep Hardware.GPUs or Hardware.Accelerators to compare like "
    "with like)",
    "Workstation": "desktop and laptop machines",
    "Mobile": "mobile systems-on-chip (phones, Apple M2)",
    "Edge": "embedded and edge modules (Jetson, DRIVE, Coral) and an edge server",
    "Tiny": "microcontrollers",
}

Hardware = Registry(
    "Hardware",
    {f: Family(f"Hardware.{f}", _family_of(_hardware_records, f), "hardware", about) for f, about in _TIERS.items()},
    aliases={"Embodied": "Edge"},
    dim="hardware",
    groups={
        kind: Family(f"Hardware.{kind}", _hardware_kind(kind), "hardware", about)
        for kind, (about, _) in _HARDWARE_KINDS.items()
    },
)

Models = Registry(
    "Models",
    {
        f: Family(f"Models.{f}", _family_of(_model_records, f), "model")
        for f in ("Language", "Vision", "Tiny", "Recommendation", "StateSpace", "GenerativeVision", "Embodied")
    },
    dim="model",
)

Systems = Registry(
    "Systems",
    {
        "Nodes": Family("Systems.Nodes", _node_records, "node"),
        "Fabrics": Family("Systems.Fabrics", _fabric_records, "fabric"),
        "Clusters": Family("Systems.Clusters", _cluster_records, "fleet"),
    },
)

Infra = Registry(
    "Infra",
    {
        "Grids": Family("Infra.Grids", _grid_records, "grid"),
        "Datacenters": Family("Infra.Datacenters", _datacenter_records, "datacenter"),
        "FacilityCooling": Family("Infra.FacilityCooling", _cooling_records, "cooling"),
    },
)
Infrastructure = Infra
