"""Check ``mlsysim_vec/data/*.csv`` against the reference registries of ``mlsysim==0.3.0``.

Run with the reference virtualenv, after ``scripts/dump_registry.py``::

    /work/refvenv/bin/python scripts/check_registry_dump.py

Independent of the dump script: it enumerates the registries itself, resolves
each column to a reference attribute by its own rules, and converts units with
a *fresh* pint registry (plain pint plus the project's unit definitions), not
the reference's.  For every row and column it asserts that the cell equals the
reference value (relative tolerance 1e-12; text exactly; empty == None), that
every registry entry has a row, and that the only differences are the
deliberate DECISIONS D16 fixes, which must be named in the row's ``source``.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import mlsysim
import pint
from mlsysim.hardware.types import HardwareNode
from mlsysim.infrastructure.types import CoolingProfile, Datacenter, GridProfile
from mlsysim.models.types import Workload
from mlsysim.systems.types import Fleet, NetworkFabric, Node

DATA = Path(__file__).resolve().parents[1] / "mlsysim_vec" / "data"
REL = 1e-12

# ---- a fresh unit registry: plain pint + the definitions the project makes
U = pint.UnitRegistry()
PROJECT_DEFS = ["flop = [flop]", "TFLOP = 1e12 flop", "USD = [currency]", "count = []"]
for d in PROJECT_DEFS:
    name = d.split("=")[0].strip()
    if name not in U:
        U.define(d)
# Header units are parsed with only these definitions (no reference aliases).
U_HEADER = pint.UnitRegistry()
for d in PROJECT_DEFS:
    if d.split("=")[0].strip() not in U_HEADER:
        U_HEADER.define(d)
# Header units allowed to need one more definition (reported, not fatal).
EXTRA_HEADER_DEFS = {"GFLOP": "GFLOP = 1e9 flop"}
# Names the *reference* uses for its values; defined here from their meaning.
REFERENCE_UNIT_ALIASES = [
    "MFLOPs = 1e6 flop",
    "GFLOPs = 1e9 flop",
    "TFLOPs = 1e12 flop",
    "PFLOPs = 1e15 flop",
    "TOPS = 1e12 flop / second",
    "dollar = USD",
    "param = count",
    "Bparam = 1e9 count",
    "Tparam = 1e12 count",
    "Gbps = 1e9 bit / second",
]

# Expected D16 fixes: (file, key, column) -> value.
D16 = {
    ("hardware", "GB200_NVL72", "fp16 [TFLOP/s]"): 162000.0,
    ("hardware", "GB200_NVL72", "bf16 [TFLOP/s]"): 162000.0,
    ("models", "Llama2_70B", "kv_heads"): 8,
}

SKIP = object()  # column checked separately
failures: list[str] = []
warnings: list[str] = []


def fail(msg: str):
    failures.append(msg)


def split_col(col):
    if col.endswith("]") and " [" in col:
        a, b = col[:-1].split(" [", 1)
        return a, b
    return col, None


def read(name):
    with (DATA / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
        fh.seek(0)
        header = next(csv.reader(fh))
    return header, rows


def registry(group, cls):
    return {a: getattr(group, a) for a in dir(group) if not a.startswith("_") and isinstance(getattr(group, a), cls)}


def ref_quantity(value, implied_unit=None):
    """Reference value -> Quantity of the fresh registry."""
    if hasattr(value, "units"):
        return U.Quantity(value.magnitude, str(value.units))
    return U.Quantity(value, implied_unit)


def close(a, b):
    return a == b or math.isclose(a, b, rel_tol=REL, abs_tol=0.0)


def check_number_text(where, text):
    """Numbers are written as ints or as repr(float) (exact round-trip)."""
    try:
        int(text)
        return
    except ValueError:
        pass
    if repr(float(text)) != text:
        fail(f"{where}: {text!r} is not repr(float)")


def compare(where, text, ref, unit, implied_unit=None):
    """One cell against one reference value."""
    if ref is None:
        if text != "":
            fail(f"{where}: reference unset, CSV {text!r}")
        return
    if text == "":
        fail(f"{where}: reference {ref!r}, CSV empty")
        return
    if isinstance(ref, str):
        if text != ref:
            fail(f"{where}: {text!r} != {ref!r}")
        return
    check_number_text(where, text)
    ours = float(text)
    if unit is not None:
        try:
            expect = ref_quantity(ref, implied_unit or unit).to(unit).magnitude
        except Exception as exc:  # noqa: BLE001
            fail(f"{where}: cannot convert reference {ref!r} to {unit}: {exc}")
            return
        # and the other way round: our cell, read back, in the reference's unit
        if hasattr(ref, "units"):
            back = U.Quantity(ours, unit).to(str(ref.units)).magnitude
            if not close(back, float(ref.magnitude)):
                fail(f"{where}: read back {back!r} != reference {ref!r}")
    else:
        expect = ref.to("count").magnitude if hasattr(ref, "units") else ref
    if not close(ours, float(expect)):
        fail(f"{where}: {ours!r} != reference {expect!r}")


def check_file(name, objs, resolve, sort_key, expected_keys=None, row_extra=None):
    """Generic per-file check.  ``resolve(obj, base, unit, row) -> (ref, implied_unit)``."""
    header, rows = read(name)
    if header[-2:] != ["source", "source_url"]:
        fail(f"{name}: last columns are {header[-2:]}")
    if len(set(header)) != len(header):
        fail(f"{name}: duplicate columns")
    for col in header:
        unit = split_col(col)[1]
        if unit is None:
            continue
        try:
            U_HEADER.parse_units(unit)
        except pint.UndefinedUnitError:
            if unit in EXTRA_HEADER_DEFS:
                warnings.append(
                    f"{name}: header unit {unit!r} is not parseable with "
                    f"{PROJECT_DEFS}; needs {EXTRA_HEADER_DEFS[unit]!r}"
                )
            else:
                fail(f"{name}: header unit {unit!r} is not parseable")
    keys = [r["key"] for r in rows]
    if len(set(keys)) != len(keys):
        fail(f"{name}: duplicate keys")
    if [sort_key(r) for r in rows] != sorted(sort_key(r) for r in rows):
        fail(f"{name}: rows not sorted")
    want = set(expected_keys if expected_keys is not None else objs)
    if set(keys) != want:
        fail(f"{name}: keys missing {sorted(want - set(keys))}, extra {sorted(set(keys) - want)}")
    for r in rows:
        obj = objs.get(r["key"])
        if obj is None:
            continue
        prov = obj.metadata.provenance if obj.metadata else None
        if not r["source"]:
            fail(f"{name}:{r['key']}: empty source")
        if prov is not None:
            if not r["source"].startswith(prov.ref):
                fail(f"{name}:{r['key']}: source {r['source']!r} does not start with ref")
            if r["source_url"] != (prov.url or ""):
                fail(f"{name}:{r['key']}: source_url mismatch")
        for col in header:
            if col in ("key", "source", "source_url"):
                continue
            base, unit = split_col(col)
            where = f"{name}:{r['key']}:{col}"
            ref, implied = resolve(obj, base, unit, r)
            if ref is SKIP:
                continue
            fix = D16.get((name, r["key"], col))
            if fix is not None:
                ref_text_ok = ref is not None and close(
                    ref_quantity(ref, unit).to(unit).magnitude if unit else float(ref), float(fix)
                )
                compare(where, r[col], fix, None)
                if not ref_text_ok and "D16" not in r["source"]:
                    fail(f"{where}: changed from the reference without a D16 note")
                if not ref_text_ok:
                    print(f"  D16 fix present: {where} = {r[col]} (reference {ref!r})")
                continue
            compare(where, r[col], ref, unit, implied)
        if row_extra:
            row_extra(obj, r)
    print(f"{name}.csv: {len(rows)} rows, {len(header)} columns checked")
    return rows


# --------------------------------------------------------------------------- hardware

HW_FAMS = ["Cloud", "Workstation", "Mobile", "Edge", "Tiny"]
PREC = ["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp4"]


def hw_resolve(hw, base, unit, row):
    if base == "family":
        return row["family"], None  # checked through the key lookup below
    if base in PREC:
        return (hw.compute.precision_flops or {}).get(base), None
    if base in ("other_precision_flops", "mig_profiles"):
        return SKIP, None  # checked in hw_extra
    if base == "embodied_carbon":
        return hw.embodied_carbon_kg, "kg"
    for prefix, sub in (("storage_", "storage"), ("interconnect_", "interconnect"), ("nvlink_", "nvlink")):
        if base.startswith(prefix):
            part = getattr(hw, sub)
            return (None if part is None else getattr(part, base[len(prefix) :])), None
    if base.startswith("memory_"):
        return getattr(hw.memory, base[len("memory_") :]), None
    for holder in (hw, hw.compute, hw.memory):
        if base in type(holder).model_fields:
            return getattr(holder, base), None
    raise KeyError(f"hardware column {base} has no reference field")


def hw_extra(hw, row):
    where = f"hardware:{row['key']}"
    pf = hw.compute.precision_flops or {}
    others = {k: v for k, v in pf.items() if k not in PREC}
    text = row["other_precision_flops [TFLOP/s]"]
    got = dict(item.split("=") for item in text.split(";")) if text else {}
    if set(got) != set(others):
        fail(f"{where}: other_precision_flops keys {sorted(got)} != {sorted(others)}")
    for k, v in others.items():
        if k in got:
            compare(f"{where}:other_precision_flops[{k}]", got[k], v, "TFLOP/s")
    mig = json.loads(row["mig_profiles"]) if row["mig_profiles"] else []
    ref_mig = list(hw.mig_profiles or [])
    if len(mig) != len(ref_mig):
        fail(f"{where}: mig_profiles length")
    for m, rm in zip(mig, ref_mig):
        if m["name"] != rm.name or m["sm_count"] != rm.sm_count or m["typical_workload"] != rm.typical_workload:
            fail(f"{where}: mig profile {m} != {rm}")
        compare(
            f"{where}:mig[{rm.name}]",
            repr(m["gpu_memory [GiB]"]) if isinstance(m["gpu_memory [GiB]"], float) else str(m["gpu_memory [GiB]"]),
            rm.gpu_memory,
            "GiB",
        )


# --------------------------------------------------------------------------- models

MODEL_FAMS = ["Language", "Vision", "Tiny", "Recommendation", "StateSpace", "GenerativeVision", "Embodied"]


def model_resolve(wl, base, unit, row):
    if base == "family":
        return row["family"], None
    if base == "type":
        return type(wl).__name__, None
    if base == "training_gpu_days":
        return getattr(wl, "training_gpu_days", None), "day"
    if base in type(wl).model_fields or base in Workload.model_fields:
        return getattr(wl, base, None), None
    # a column for a field this workload class does not have must be empty
    for cls in Workload.__subclasses__() + [c for s in Workload.__subclasses__() for c in s.__subclasses__()]:
        if base in cls.model_fields:
            return None, None
    raise KeyError(f"model column {base} has no reference field")


def main() -> int:
    assert mlsysim.__version__ == "0.3.0"
    for d in REFERENCE_UNIT_ALIASES:
        U.define(d)
    for unit, d in EXTRA_HEADER_DEFS.items():
        U.define(d)

    # hardware
    hw_objs, hw_fam, hw_by_name = {}, {}, {}
    for fam in HW_FAMS:
        for k, v in registry(getattr(mlsysim.Hardware, fam), HardwareNode).items():
            assert k not in hw_objs, f"hardware key {k} in two families"
            hw_objs[k], hw_fam[k] = v, fam
            hw_by_name.setdefault(v.name, []).append(f"{fam}.{k}")
    # every public HardwareNode of any other Hardware group must be an alias of a listed one
    ids = {id(v) for v in hw_objs.values()}
    for grp in dir(mlsysim.Hardware):
        if grp.startswith("_") or grp in HW_FAMS:
            continue
        g = getattr(mlsysim.Hardware, grp)
        if isinstance(g, type):
            for k, v in registry(g, HardwareNode).items():
                if id(v) not in ids:
                    fail(f"Hardware.{grp}.{k} is a HardwareNode not in any dumped family")
    fam_rank = {f: i for i, f in enumerate(HW_FAMS)}

    def hw_row(hw, row):
        if row["family"] != hw_fam[row["key"]]:
            fail(f"hardware:{row['key']}: family {row['family']}")
        hw_extra(hw, row)

    check_file("hardware", hw_objs, hw_resolve, lambda r: (fam_rank[r["family"]], r["key"]), row_extra=hw_row)

    # models
    m_objs, m_fam = {}, {}
    for fam in MODEL_FAMS:
        for k, v in registry(getattr(mlsysim.Models, fam), Workload).items():
            assert k not in m_objs, f"model key {k} in two families"
            m_objs[k], m_fam[k] = v, fam
    mrank = {f: i for i, f in enumerate(MODEL_FAMS)}

    def m_row(wl, row):
        if row["family"] != m_fam[row["key"]]:
            fail(f"models:{row['key']}: family {row['family']}")

    check_file("models", m_objs, model_resolve, lambda r: (mrank[r["family"]], r["key"]), row_extra=m_row)

    # systems / infrastructure
    S, I = mlsysim.Systems, mlsysim.Infrastructure
    nodes, fabrics, clusters = registry(S.Nodes, Node), registry(S.Fabrics, NetworkFabric), registry(S.Clusters, Fleet)
    grids, dcs, cool = (
        registry(I.Grids, GridProfile),
        registry(I.Datacenters, Datacenter),
        registry(I.FacilityCooling, CoolingProfile),
    )
    _, node_rows = read("nodes")
    _, fabric_rows = read("fabrics")
    # rows for nodes / fabrics that are used by clusters but not registered
    used_nodes = [f.node for f in clusters.values()]
    used_fabrics = [f.fabric for f in clusters.values()]
    for r in node_rows:
        if r["key"] not in nodes:
            match = [n for n in used_nodes if n.name == r["name"]]
            if not match:
                fail(f"nodes:{r['key']}: neither registered nor used by a cluster")
            else:
                nodes[r["key"]] = match[0]
    for r in fabric_rows:
        if r["key"] not in fabrics:
            match = [f for f in used_fabrics if f.name == r["name"]]
            if not match:
                fail(f"fabrics:{r['key']}: neither registered nor used by a cluster")
            else:
                fabrics[r["key"]] = match[0]
    for fl in clusters.values():
        if not any(n == fl.node for n in nodes.values()):
            fail(f"cluster node {fl.node.name} has no row in nodes.csv")
        if not any(f == fl.fabric for f in fabrics.values()):
            fail(f"cluster fabric {fl.fabric.name} has no row in fabrics.csv")

    def plain(obj, base, unit, row):
        return getattr(obj, base), None

    def node_resolve(n, base, unit, row):
        if base == "accelerator":
            fam, key = row["accelerator"].split(".")
            if hw_fam.get(key) != fam or hw_objs[key] != n.accelerator:
                fail(f"nodes:{row['key']}: accelerator {row['accelerator']} does not match")
            if hw_by_name[n.accelerator.name] != [row["accelerator"]]:
                fail(f"nodes:{row['key']}: accelerator name is ambiguous or wrong")
            return row["accelerator"], None
        return getattr(n, base), None

    check_file("nodes", nodes, node_resolve, lambda r: r["key"])
    check_file("fabrics", fabrics, plain, lambda r: r["key"])

    def key_of(obj, table, row, col):
        if obj is None:
            return None
        k = row[col]
        if k not in table or table[k] != obj:
            fail(f"clusters:{row['key']}:{col}: {k!r} does not resolve to the reference object")
        return k

    def cluster_resolve(fl, base, unit, row):
        if base == "node":
            return key_of(fl.node, nodes, row, "node"), None
        if base == "fabric":
            return key_of(fl.fabric, fabrics, row, "fabric"), None
        if base == "region":
            return key_of(fl.region, grids, row, "region"), None
        if base == "datacenter":
            return key_of(fl.datacenter, dcs, row, "datacenter"), None
        if base == "mtbf_hours":
            return fl.mtbf_hours, "hour"
        return getattr(fl, base), None

    check_file("clusters", clusters, cluster_resolve, lambda r: r["key"])

    def grid_resolve(g, base, unit, row):
        if base == "carbon_intensity":
            return g.carbon_intensity_g_kwh, "g/kWh"
        if base == "wue":
            return g.wue, "L/kWh"
        if base == "renewable_fraction":
            return (None if g.renewable_pct is None else g.renewable_pct / 100), None
        if base == "kwh_price":
            return getattr(g, "kwh_price", None), "USD/kWh"
        return getattr(g, base), None

    check_file("grids", grids, grid_resolve, lambda r: r["key"])

    def dc_resolve(d, base, unit, row):
        if base == "grid":
            k = row["grid"]
            if grids.get(k) != d.grid:
                fail(f"datacenters:{row['key']}: grid {k!r} does not resolve")
            return k, None
        if base == "description":
            return d.metadata.description, None
        return getattr(d, base), None

    check_file("datacenters", dcs, dc_resolve, lambda r: r["key"])

    def cool_resolve(c, base, unit, row):
        if base == "wue":
            return c.wue, "L/kWh"
        return getattr(c, base), None

    check_file("cooling", cool, cool_resolve, lambda r: r["key"])

    for w in warnings:
        print("WARNING:", w)
    if failures:
        print(f"{len(failures)} FAILURES")
        for f in failures[:200]:
            print("  ", f)
        return 1
    print("all CSV cells match the mlsysim 0.3.0 registries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
