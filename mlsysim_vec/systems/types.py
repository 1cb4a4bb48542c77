"""Nodes, network fabrics and fleets (clusters)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..hardware.types import HardwareNode
from ..infra.types import Datacenter, GridProfile
from ..units import as_quantity, si

__all__ = ["Node", "NetworkFabric", "Fleet"]

#: PUE when a fleet has neither a datacenter nor a region (FacilityCooling.BestAir).
DEFAULT_PUE = 1.12


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class Node:
    """A server: ``accelerators_per_node`` accelerators joined by ``intra_node_bw`` [bytes/s,
    per direction; plain numbers in GB/s]; NICs and power supplies for reliability models."""

    name: str
    accelerator: HardwareNode
    accelerators_per_node: int
    intra_node_bw: object
    nics_per_node: int = 1
    psus_per_node: int = 2
    psu_redundancy: int = 0
    psu_rating: object = None
    max_power: object = None
    host_memory: object = None
    host_memory_bw: object = None
    host_cpu: str | None = None
    host_cpu_cores: int | None = None
    source: str = ""
    source_url: str = ""

    def __post_init__(self):
        if not isinstance(self.accelerator, HardwareNode):
            raise TypeError(f"accelerator={self.accelerator!r} must be a HardwareNode")
        if int(self.accelerators_per_node) < 1:
            raise ValueError(f"accelerators_per_node={self.accelerators_per_node!r} must be >= 1")
        _set(self, "intra_node_bw", as_quantity(self.intra_node_bw, "GB/s", "intra_node_bw"))
        _set(self, "psu_rating", as_quantity(self.psu_rating, "W", "psu_rating", True))
        _set(self, "max_power", as_quantity(self.max_power, "W", "max_power", True))
        _set(self, "host_memory", as_quantity(self.host_memory, "GiB", "host_memory", True))
        _set(self, "host_memory_bw", as_quantity(self.host_memory_bw, "GB/s", "host_memory_bw", True))
        if not 0 <= self.psu_redundancy < self.psus_per_node:
            raise ValueError(f"psu_redundancy={self.psu_redundancy!r} must be in [0, psus_per_node)")

    def __repr__(self):
        return f"Node({self.name!r})"

    @property
    def series_psus(self) -> int:
        """PSUs whose failure stops the node: none with redundancy, all without."""
        return 0 if self.psu_redundancy > 0 else self.psus_per_node


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class NetworkFabric:
    """The scale-out network: per-link bandwidth [bytes/s; plain numbers GB/s], latency [s;
    plain numbers µs], topology name and oversubscription ratio."""

    name: str
    bandwidth: object
    topology: str = "fat-tree"
    latency: object = None
    oversubscription_ratio: float = 1.0
    source: str = ""
    source_url: str = ""

    def __post_init__(self):
        _set(self, "bandwidth", as_quantity(self.bandwidth, "GB/s", "bandwidth"))
        _set(self, "latency", as_quantity(self.latency, "us", "latency", True))

    def __repr__(self):
        return f"NetworkFabric({self.name!r})"

    @cached_property
    def si(self) -> dict[str, float]:
        """Numbers for the kernels: link ``bandwidth`` [byte/s], ``latency`` [s] (NaN when
        unset), ``oversubscription_ratio``."""
        return {
            "bandwidth": si(self.bandwidth, "byte/s"),
            "latency": si(self.latency, "s"),
            "oversubscription_ratio": float(self.oversubscription_ratio),
        }


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class Fleet:
    """A cluster: ``count`` nodes on a fabric, optionally placed in a region (grid) or a
    datacenter; ``mtbf_hours`` overrides the component-based fleet MTBF when set (D6)."""

    name: str
    node: Node
    count: int
    fabric: NetworkFabric
    region: GridProfile | None = None
    datacenter: Datacenter | None = None
    mtbf_hours: object = None
    source: str = ""
    source_url: str = ""

    def __post_init__(self):
        if int(self.count) < 1:
            raise ValueError(f"count={self.count!r} must be >= 1 node")
        _set(self, "mtbf_hours", as_quantity(self.mtbf_hours, "hour", "mtbf_hours", True))

    def __repr__(self):
        return f"Fleet({self.name!r})"

    @property
    def total_accelerators(self) -> int:
        return int(self.count) * int(self.node.accelerators_per_node)

    @property
    def effective_pue(self) -> float:
        if self.datacenter is not None:
            return self.datacenter.pue
        if self.region is not None:
            return self.region.pue
        return DEFAULT_PUE

    @cached_property
    def si(self) -> dict[str, float]:
        """Numbers for the kernels (canonical SI, NaN where unset): the fleet's shape, its node
        and fabric, its environment (``env_*`` from the datacenter, else the region; NaN when
        it has neither) and every field of its accelerator as ``accelerator_<field>``."""
        node, fabric = self.node, self.fabric
        env = self.datacenter if self.datacenter is not None else self.region
        nan = float("nan")
        out = {
            "node_count": float(self.count),
            "accelerators_per_node": float(node.accelerators_per_node),
            "total_accelerators": float(self.total_accelerators),
            "intra_node_bw": si(node.intra_node_bw, "byte/s"),
            "nics_per_node": float(node.nics_per_node),
            "psus_per_node": float(node.psus_per_node),
            "series_psus": float(node.series_psus),
            "fabric_bandwidth": si(fabric.bandwidth, "byte/s"),
            "fabric_latency": si(fabric.latency, "s"),
            "oversubscription_ratio": float(fabric.oversubscription_ratio),
            "mtbf": si(self.mtbf_hours, "s"),
            "effective_pue": float(self.effective_pue),
        }
        for key in ("carbon_intensity", "pue", "wue", "kwh_price"):
            out[f"env_{key}"] = env.si[key] if env is not None else nan
        out.update({f"accelerator_{k}": v for k, v in node.accelerator.si.items()})
        return out
