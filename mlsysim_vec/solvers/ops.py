"""Ops domain: what a fleet costs and emits, and the price of responsible training.
``EconomicsModel``, ``SustainabilityModel``, ``ResponsibleEngineeringModel``.

Thin facades over ``physics.economics``: arguments are validated and aligned by ``grid``.
"""

from __future__ import annotations

import numpy as np

from ..grid import Arg, Grid
from ..infra.types import Datacenter, GridProfile
from ..physics import economics as eco
from ..systems.types import Fleet
from .base import Resolver

__all__ = ["EconomicsModel", "SustainabilityModel", "ResponsibleEngineeringModel"]


_FLEET = Arg("fleet", "record", types=(Fleet,), type_hint="Fleet record (Systems.Clusters.* or ms.Fleet(...))")
_DATACENTER = Arg(
    "datacenter",
    "record",
    default=None,
    types=(Datacenter, GridProfile),
    type_hint="Datacenter or GridProfile record (Infra.Datacenters.*, Infra.Grids.*)",
)
_GRID = Arg("grid", "record", default=None, types=(GridProfile,), type_hint="GridProfile record (Infra.Grids.*)")
_DURATION = Arg("duration_days", unit="day", low=0.0)
_MFU = Arg("mfu", default=1.0, low=0.0, high=1.0)
_EMBODIED = Arg("embodied_carbon_per_device", default=0.0, unit="kg", low=0.0)


def _record_values(g: Grid, name: str, fn, numeric: bool = True):
    """``fn(record)`` for every record of argument ``name``, laid out on the grid."""
    inp = g.inputs[name]
    flat = [fn(r) for r in inp.values.reshape(-1)]
    if numeric:
        values = np.array(flat, dtype=float)
    else:
        values = np.empty(len(flat), dtype=object)
        values[:] = flat
    return g.layout(inp, values.reshape(inp.values.shape))


def _grid_of(env):
    """The grid region of a datacenter or grid record."""
    return env.grid if isinstance(env, Datacenter) else env


def _own_price(env) -> float:
    """A record's electricity price [USD/J]: its own, else (a datacenter) its grid's; NaN if none."""
    if env is None:
        return float("nan")
    price = env.si["kwh_price"]
    if price != price and isinstance(env, Datacenter):
        price = env.grid.si["kwh_price"]
    return price


def _fleet_price(fleet) -> float:
    """The price of the fleet's own placement [USD/J]: its datacenter's, else its region's."""
    price = _own_price(fleet.datacenter)
    return price if price == price else _own_price(fleet.region)


def _fleet_env(fleet):
    """Where the fleet itself is placed: its datacenter, else its region (None when neither)."""
    return fleet.datacenter if fleet.datacenter is not None else fleet.region


def _environment(g: Grid):
    """(carbon intensity [kg/J], PUE, WUE [L/J], region name) on the grid (DECISIONS D12).

    The ``datacenter`` argument (a Datacenter or a GridProfile), else the ``grid`` argument, else
    the fleet's datacenter or region, else the US average grid — for all four at once.
    """
    for name in ("datacenter", "grid"):
        if name in g.inputs:
            return (
                g.field(name, "carbon_intensity"),
                g.field(name, "pue"),
                g.field(name, "wue"),
                _record_values(g, name, lambda r: _grid_of(r).name, numeric=False),
            )
    from ..registry import Infra

    us = Infra.Grids.US_Avg

    def env_of(fleet):
        return _fleet_env(fleet) or us

    return (
        _record_values(g, "fleet", lambda f: env_of(f).si["carbon_intensity"]),
        _record_values(g, "fleet", lambda f: env_of(f).si["pue"]),
        _record_values(g, "fleet", lambda f: env_of(f).si["wue"]),
        _record_values(g, "fleet", lambda f: _grid_of(env_of(f)).name, numeric=False),
    )


def _is_zero(g: Grid, name: str) -> bool:
    """True when a number argument is the scalar 0 (lets a kernel skip a term)."""
    inp = g.inputs.get(name)
    return inp is not None and not inp.dims and float(inp.values) == 0.0


def _sustainability(g: Grid) -> tuple[dict, object, object]:
    """The sustainability outputs, the IT energy and the PUE (shared by both resolvers)."""
    ci, pue, wue, region = _environment(g)
    devices = g.field("fleet", "total_accelerators")
    power = eco.device_power(g.field("fleet", "accelerator_tdp"), g["mfu"])
    it = eco.it_energy(power, devices, g["duration_days"])
    # ``it`` spans fleet × mfu × duration; every product below is one full-grid array.
    embodied = eco.embodied_carbon(g["embodied_carbon_per_device"], devices)
    carbon = it * (pue * ci)
    if not _is_zero(g, "embodied_carbon_per_device"):
        carbon = carbon + embodied
    out = {
        "it_energy": it,
        "total_energy": eco.facility_energy(it, pue),
        "carbon_footprint": carbon,
        "embodied_carbon": embodied,
        "water_usage": it * (pue * wue),
        "pue": pue,
        "region_name": region,
    }
    return out, it, pue


class SustainabilityModel(Resolver):
    """Where should I train to minimize carbon? Energy, carbon and water of a fleet over a period.

    Arguments (each may be swept; a registry family or list becomes a dimension):

    fleet : Fleet record (``Systems.Clusters.*`` or ``ms.Fleet(...)``)
    duration_days : length of the run [day], >= 0 (D14); Quantities in any time unit
    datacenter : Datacenter or GridProfile record (default: none); sweep ``Infra.Datacenters``
    grid : GridProfile record (default: none); sweep ``Infra.Grids`` to compare every region
    mfu : average model-FLOPs utilisation in [0, 1] (default 1.0)
    embodied_carbon_per_device : manufacturing carbon per accelerator [kg CO2e], >= 0 (default 0)

    Environment (D12): the ``datacenter`` argument, else ``grid``, else the fleet's datacenter or
    region, else ``Infra.Grids.US_Avg`` — carbon intensity, PUE and WUE all from the same place.

    Equations (``reference/anchor-0.3.0-spec.md`` §8.1): ``P = TDP·(0.3 + 0.7·mfu)`` per
    accelerator (700 W when the record has no TDP); ``E_IT = P·N·t``; ``E = E_IT·PUE``;
    carbon ``= E·CI + embodied·N`` [kg CO2e]; water ``= E·WUE`` [L].

    Outputs: it_energy, total_energy [J; kWh as scalars], carbon_footprint, embodied_carbon [kg],
    water_usage [L], pue, region_name.
    """

    ARGS = (_FLEET, _DURATION, _DATACENTER, _GRID, _MFU, _EMBODIED)

    def _compute(self, g: Grid) -> dict:
        return _sustainability(g)[0]


class EconomicsModel(Resolver):
    """What will this cost over 3 years? Total cost of ownership of a fleet over a period.

    Arguments (each may be swept):

    fleet : Fleet record
    duration_days : period [day], >= 0 (D14)
    kwh_price : electricity price [USD/kWh; Quantities accepted], >= 0 (default: from the records, D13)
    datacenter : Datacenter or GridProfile record (default: none)
    grid : GridProfile record (default: none); sweep ``Infra.Grids`` for every region
    mfu : average utilisation in [0, 1] (default 1.0)
    amortization_years : depreciation period [year], > 0 (D14; default 3)
    infrastructure_multiplier : installation cost / accelerator cost, >= 0 (default 1)
    embodied_carbon_per_device : [kg CO2e] per accelerator, >= 0 (default 0)

    Electricity price (D13): ``kwh_price`` (NaN entries of a swept price fall through), then the
    datacenter's price (or its grid's), then the grid argument's, then the fleet's own datacenter
    or region, else 0.12 USD/kWh. Energy, carbon and water are SustainabilityModel's (D12).

    Equations (``reference/anchor-0.3.0-spec.md`` §8.2): ``CapEx = unit_cost·N·multiplier``
    (0 without a unit cost); ``capex = CapEx/years·t/365 d``; ``opex_maintenance =
    0.05·CapEx·t/365 d``; ``opex_energy = E·price``; ``tco = capex + opex_energy +
    opex_maintenance`` [USD].

    Outputs: capex, opex_energy, opex_maintenance, total_opex, tco [USD], electricity_price
    [USD/J; USD/kWh as scalars] and the sustainability outputs.
    """

    ARGS = (
        _FLEET,
        _DURATION,
        Arg("kwh_price", default=None, unit="USD/kWh", low=0.0),
        _DATACENTER,
        _GRID,
        _MFU,
        Arg("amortization_years", default=3.0, unit="common_year", low=0.0, low_open=True),
        Arg("infrastructure_multiplier", default=1.0, low=0.0),
        _EMBODIED,
    )

    def _compute(self, g: Grid) -> dict:
        out, it, pue = _sustainability(g)
        price = self._price(g)
        devices = g.field("fleet", "total_accelerators")
        duration = g["duration_days"]
        purchase = eco.capex_total(g.field("fleet", "accelerator_unit_cost"), devices, g["infrastructure_multiplier"])
        capex = eco.amortized_capex(purchase, g["amortization_years"], duration)
        maintenance = eco.maintenance_cost(purchase, duration)
        energy_cost = it * (pue * price)
        total_opex = energy_cost + maintenance
        return {
            "capex": capex,
            "opex_energy": energy_cost,
            "opex_maintenance": maintenance,
            "total_opex": total_opex,
            "tco": total_opex + capex,
            "electricity_price": price,
            **out,
        }

    @staticmethod
    def _price(g: Grid):
        """Electricity price [USD/J] on the grid (DECISIONS D13)."""
        chain = []
        if "kwh_price" in g.inputs:
            chain.append(g["kwh_price"])
        for name in ("datacenter", "grid"):
            if name in g.inputs:
                chain.append(_record_values(g, name, _own_price))
        chain.append(_record_values(g, "fleet", _fleet_price))
        chain.append(eco.DEFAULT_KWH_PRICE)
        return eco.first_available(*chain)


class ResponsibleEngineeringModel(Resolver):
    """What is the cost of differential privacy? Training-time and data overheads.

    base_training_time : training time without DP [hour; Quantities in any time unit], >= 0
    epsilon : privacy budget ε > 0 (default 1.0; values below 0.01 are read as 0.01, as the
        reference, which caps the slowdown at 201×)
    delta : δ in (0, 1) (default 1e-5; echoed, not used by the first-order model)
    min_subgroup_prevalence : prevalence p in (0, 1] (default 0.01; below 1e-6 read as 1e-6)

    Validation (D14, P14): ε ≤ 0, p ≤ 0 or p > 1, δ outside (0, 1) and negative times raise.
    Equations (``reference/anchor-0.3.0-spec-part2.md`` §11): slowdown ``1 + 2/max(ε, 0.01)``;
    effective time = base × slowdown; data factor ``1/max(p, 1e-6)``.
    """

    ARGS = (
        Arg("base_training_time", unit="hour", low=0.0),
        Arg("epsilon", default=1.0, low=0.0, low_open=True),
        Arg("delta", default=1e-5, low=0.0, high=1.0, low_open=True, high_open=True),
        Arg("min_subgroup_prevalence", default=0.01, low=0.0, high=1.0, low_open=True),
    )

    def _compute(self, g: Grid) -> dict:
        slowdown = eco.dp_sgd_slowdown(g["epsilon"])
        data = eco.subgroup_data_factor(g["min_subgroup_prevalence"])
        return {
            "dp_slowdown_factor": slowdown,
            "privacy_cost_ratio": slowdown,
            "effective_training_time": g["base_training_time"] * slowdown,
            "additional_data_requirement": data,
            "fairness_data_ratio": data,
        }
