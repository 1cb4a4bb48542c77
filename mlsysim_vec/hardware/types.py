"""Accelerator records: ``HardwareNode`` and its parts.

Immutable records with pint-valued fields, built by the registry from
``mlsysim_vec/data/hardware.csv`` or by users::

    from mlsysim_vec.hardware.types import HardwareNode, ComputeCore, MemoryHierarchy
    from mlsysim_vec import ureg
    gpu = HardwareNode(name="MyGPU",
                       compute=ComputeCore(peak_flops=500 * ureg("TFLOP/s")),
                       memory=MemoryHierarchy(capacity=96 * ureg.GiB, bandwidth=3 * ureg("TB/s")),
                       tdp=600 * ureg.W)

Plain numbers are accepted and read in the unit each field documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from ..physics.constants import PRECISIONS
from ..units import Q_, as_quantity, si

__all__ = ["ComputeCore", "MemoryHierarchy", "StorageHierarchy", "IOInterconnect", "HardwareNode"]


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class ComputeCore:
    """Compute capability.

    peak_flops : headline peak [FLOP/s] (FP16 dense for GPUs); used for any precision the
        table below has no entry for.
    precision_flops : peak per precision key [FLOP/s]; keys outside D15's selectable set
        (``fp16_dense``, ``fp16_sparse``, ``mxint4``, ...) are kept for the record but never
        selected.
    """

    peak_flops: object
    precision_flops: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self):
        _set(self, "peak_flops", as_quantity(self.peak_flops, "TFLOP/s", "peak_flops"))
        table = {
            str(k): as_quantity(v, "TFLOP/s", f"precision_flops[{k!r}]") for k, v in dict(self.precision_flops).items()
        }
        _set(self, "precision_flops", MappingProxyType(table))


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class MemoryHierarchy:
    """Device memory: capacity [bytes] and bandwidth [bytes/s]; optional on-chip SRAM and
    flash tiers (capacity, bandwidth). Plain numbers: GiB for capacities, GB/s for bandwidths."""

    capacity: object
    bandwidth: object
    sram_capacity: object = None
    sram_bandwidth: object = None
    flash_capacity: object = None
    flash_bandwidth: object = None

    def __post_init__(self):
        _set(self, "capacity", as_quantity(self.capacity, "GiB", "memory.capacity"))
        _set(self, "bandwidth", as_quantity(self.bandwidth, "GB/s", "memory.bandwidth"))
        for tier in ("sram", "flash"):
            _set(
                self,
                f"{tier}_capacity",
                as_quantity(getattr(self, f"{tier}_capacity"), "MiB", f"memory.{tier}_capacity", True),
            )
            _set(
                self,
                f"{tier}_bandwidth",
                as_quantity(getattr(self, f"{tier}_bandwidth"), "GB/s", f"memory.{tier}_bandwidth", True),
            )


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class StorageHierarchy:
    """Local storage: capacity [bytes, TB for plain numbers] and bandwidth [GB/s]."""

    bandwidth: object
    capacity: object = None

    def __post_init__(self):
        _set(self, "bandwidth", as_quantity(self.bandwidth, "GB/s", "storage.bandwidth"))
        _set(self, "capacity", as_quantity(self.capacity, "TB", "storage.capacity", True))


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class IOInterconnect:
    """A link (host PCIe, NVLink, ICI). ``direction`` says whether ``bandwidth`` is the rate in
    one direction (``per_direction``) or both summed (``bidirectional_total``)."""

    name: str = ""
    bandwidth: object = None
    direction: str = "per_direction"
    latency: object = None

    def __post_init__(self):
        _set(self, "bandwidth", as_quantity(self.bandwidth, "GB/s", "interconnect.bandwidth"))
        _set(self, "latency", as_quantity(self.latency, "ns", "interconnect.latency", True))
        if self.direction not in ("per_direction", "bidirectional_total"):
            raise ValueError(f"direction={self.direction!r}; allowed: 'per_direction', 'bidirectional_total'")

    @property
    def bandwidth_per_direction(self):
        """Rate in one direction [bytes/s]: half of a bidirectional total."""
        return self.bandwidth / 2 if self.direction == "bidirectional_total" else self.bandwidth


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class HardwareNode:
    """One accelerator.

    tdp [W], unit_cost [USD], embodied_carbon_kg [kg CO2e], dispatch_tax [s] (fixed launch
    overhead per pass; plain numbers in ms, default 0.01 ms as the reference).
    rental_price [USD per accelerator-hour]: a published on-demand rental price (plain numbers in
    USD/hour), with ``rental_price_source`` naming the source and its date; list_price [USD]: a
    published purchase price of one accelerator, with ``list_price_source``. The built-in ones
    come from ``mlsysim_vec/data/prices.csv`` (see ``prices.md`` beside it).
    """

    name: str
    compute: ComputeCore
    memory: MemoryHierarchy
    release_year: int | None = None
    storage: StorageHierarchy | None = None
    interconnect: IOInterconnect | None = None
    nvlink: IOInterconnect | None = None
    tdp: object = None
    unit_cost: object = None
    embodied_carbon_kg: object = None
    dispatch_tax: object = Q_(0.01, "ms")
    rental_price: object = None
    rental_price_source: str = ""
    list_price: object = None
    list_price_source: str = ""
    source: str = ""
    source_url: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name={self.name!r}: a HardwareNode needs a non-empty string name")
        if not isinstance(self.compute, ComputeCore):
            raise TypeError(f"compute={self.compute!r} must be a ComputeCore")
        if not isinstance(self.memory, MemoryHierarchy):
            raise TypeError(f"memory={self.memory!r} must be a MemoryHierarchy")
        _set(self, "tdp", as_quantity(self.tdp, "W", "tdp", True))
        _set(self, "unit_cost", as_quantity(self.unit_cost, "USD", "unit_cost", True))
        _set(self, "embodied_carbon_kg", as_quantity(self.embodied_carbon_kg, "kg", "embodied_carbon_kg", True))
        _set(self, "dispatch_tax", as_quantity(self.dispatch_tax, "ms", "dispatch_tax"))
        _set(self, "rental_price", as_quantity(self.rental_price, "USD/hour", "rental_price", True))
        _set(self, "list_price", as_quantity(self.list_price, "USD", "list_price", True))

    def __repr__(self):
        return f"HardwareNode({self.name!r})"

    def ridge_point(self, precision: str | None = None):
        """Peak FLOP/s over memory bandwidth [FLOP/byte] at ``precision`` (headline peak if None)."""
        peak = self.compute.peak_flops
        if precision is not None:
            peak = self.compute.precision_flops.get(str(precision).lower(), peak)
        return (peak / self.memory.bandwidth).to("flop/byte")

    @cached_property
    def si(self) -> dict[str, float]:
        """The numeric fields in canonical SI units (NaN where unset), read by the kernels.

        ``host_link_bandwidth`` is the host link per direction (the offload path);
        ``host_link_bandwidth_raw`` its figure as stored; ``nvlink_*`` the device-to-device link
        per direction and its latency.
        """
        mem, link = self.memory, self.interconnect
        out = {
            "peak_flops": si(self.compute.peak_flops, "flop/s"),
            "memory_capacity": si(mem.capacity, "byte"),
            "memory_bandwidth": si(mem.bandwidth, "byte/s"),
            "sram_capacity": si(mem.sram_capacity, "byte"),
            "sram_bandwidth": si(mem.sram_bandwidth, "byte/s"),
            "flash_capacity": si(mem.flash_capacity, "byte"),
            "flash_bandwidth": si(mem.flash_bandwidth, "byte/s"),
            "host_link_bandwidth": si(link.bandwidth_per_direction if link else None, "byte/s"),
            "host_link_bandwidth_raw": si(link.bandwidth if link else None, "byte/s"),
            "nvlink_bandwidth": si(self.nvlink.bandwidth_per_direction if self.nvlink else None, "byte/s"),
            "nvlink_latency": si(self.nvlink.latency if self.nvlink else None, "s"),
            "storage_bandwidth": si(self.storage.bandwidth if self.storage else None, "byte/s"),
            "storage_capacity": si(self.storage.capacity if self.storage else None, "byte"),
            "tdp": si(self.tdp, "W"),
            "unit_cost": si(self.unit_cost, "USD"),
            "embodied_carbon": si(self.embodied_carbon_kg, "kg"),
            "dispatch_tax": si(self.dispatch_tax, "s"),
            "rental_price": si(self.rental_price, "USD/s"),
            "list_price": si(self.list_price, "USD"),
        }
        for key in PRECISIONS:
            out[f"flops_{key}"] = si(self.compute.precision_flops.get(key), "flop/s")
        return out
