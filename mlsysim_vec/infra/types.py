"""Electricity grids, datacenters and cooling profiles (records for cost and carbon models)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..units import as_quantity, si

#: Joules per kWh: intensities per kWh become per joule, the kernels' energy unit.
_KWH = 3.6e6

__all__ = ["GridProfile", "Datacenter", "CoolingProfile"]


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class GridProfile:
    """A region's electricity grid: carbon intensity [gCO2e/kWh], facility PUE, water usage
    effectiveness [L/kWh], optional electricity price [USD/kWh] (docs/differences.md, D13)."""

    name: str
    carbon_intensity_g_kwh: float
    pue: float
    wue: float
    primary_source: str = ""
    lat: float | None = None
    lon: float | None = None
    renewable_fraction: float | None = None
    kwh_price: object = None
    source: str = ""
    source_url: str = ""

    def __post_init__(self):
        _set(self, "kwh_price", as_quantity(self.kwh_price, "USD/kWh", "kwh_price", True))
        if not self.pue >= 1.0:
            raise ValueError(f"pue={self.pue!r} must be >= 1")

    def __repr__(self):
        return f"GridProfile({self.name!r})"

    @property
    def carbon_intensity_kg_kwh(self) -> float:
        return self.carbon_intensity_g_kwh / 1000.0

    @cached_property
    def si(self) -> dict[str, float]:
        """Numbers for the kernels: carbon intensity [kg CO2e/J], PUE, WUE [L/J], electricity
        price [USD/J] (NaN when the grid has none)."""
        return {
            "carbon_intensity": self.carbon_intensity_g_kwh / 1000.0 / _KWH,
            "pue": float(self.pue),
            "wue": float(self.wue) / _KWH,
            "kwh_price": si(self.kwh_price, "USD/J"),
        }


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class Datacenter:
    """A facility on a grid; ``pue_override`` replaces the grid's PUE when set."""

    name: str
    grid: GridProfile
    pue_override: float | None = None
    description: str = ""
    kwh_price: object = None
    source: str = ""
    source_url: str = ""

    def __post_init__(self):
        _set(self, "kwh_price", as_quantity(self.kwh_price, "USD/kWh", "kwh_price", True))

    def __repr__(self):
        return f"Datacenter({self.name!r})"

    @property
    def pue(self) -> float:
        return self.pue_override if self.pue_override is not None else self.grid.pue

    @cached_property
    def si(self) -> dict[str, float]:
        """The grid's numbers with this facility's PUE and price (NaN when it has none)."""
        return {**self.grid.si, "pue": float(self.pue), "kwh_price": si(self.kwh_price, "USD/J")}


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class CoolingProfile:
    """A facility cooling class: PUE and WUE [L/kWh]."""

    name: str
    pue: float
    wue: float
    source: str = ""
    source_url: str = ""

    def __repr__(self):
        return f"CoolingProfile({self.name!r})"

    @cached_property
    def si(self) -> dict[str, float]:
        return {"pue": float(self.pue), "wue": float(self.wue) / _KWH}
