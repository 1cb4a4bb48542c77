"""Ops domain: what a fleet costs and emits, and the price of responsible training.
``EconomicsModel``, ``SustainabilityModel``, ``ResponsibleEngineeringModel``.

Thin facades over ``physics.economics``: arguments are validated and aligned by ``grid``; the
helpers below only read record fields (prices, environments, names) into grid arrays.
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
    """(carbon intensity [kg/J], PUE, WUE [L/J], region name) on the grid (docs/differences.md, D12).

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


def _fleet_terms(g: Grid) -> tuple[dict, object]:
    """The keyword arguments of ``sustainability_step`` read from the grid, and the region name."""
    ci, pue, wue, region = _environment(g)
    terms = dict(
        tdp=g.field("fleet", "accelerator_tdp"),
        devices=g.field("fleet", "total_accelerators"),
        mfu=g["mfu"],
        duration=g["duration_days"],
        carbon_intensity=ci,
        pue=pue,
        wue=wue,
        embodied_per_device=g["embodied_carbon_per_device"],
    )
    return terms, region


_SUSTAINABILITY_OUTPUTS = (
    "it_energy",
    "total_energy",
    "carbon_footprint",
    "embodied_carbon",
    "water_usage",
    "pue",
    "region_name",
)


class SustainabilityModel(Resolver):
    """Where should I train to minimize carbon? Energy, carbon and water of a fleet over a period.

    Sweep ``grid`` over ``Infra.Grids`` (or ``datacenter`` over ``Infra.Datacenters``) to
    compare every region in one call. The environment is taken from one place for carbon
    intensity, PUE and WUE alike: the ``datacenter`` argument (a Datacenter or a GridProfile),
    else ``grid``, else the fleet's own datacenter or region, else ``Infra.Grids.US_Avg``
    (docs/differences.md, D12). Only the accelerators draw power (hosts, network and storage
    are not counted), as mlsysim 0.3.0.

    Notes
    -----
    For ``N`` accelerators of thermal design power ``TDP`` (700 W when the record has none)
    running for ``t`` at utilisation ``mfu``, in a facility of power usage effectiveness
    ``PUE`` on a grid of carbon intensity ``CI`` and water usage effectiveness ``WUE``::

        P      = TDP (0.3 + 0.7 mfu)                 per accelerator
        E_IT   = P N t                               (it_energy)
        E      = E_IT PUE                            (total_energy)
        carbon = E CI + embodied_per_device N        [kg CO2e]
        water  = E WUE                               [L]

    Operational carbon is facility energy times the grid's carbon intensity (Patterson et al.
    2021). See ``docs/equations.md``, section "Economics and sustainability".

    References
    ----------
    Patterson, D. et al. (2021). Carbon emissions and large neural network training.
    arXiv:2104.10350.

    The Green Grid (2012). PUE: a comprehensive examination of the metric. White Paper 49.
    """

    ARGS = (_FLEET, _DURATION, _DATACENTER, _GRID, _MFU, _EMBODIED)
    OUTPUTS = _SUSTAINABILITY_OUTPUTS

    def _compute(self, g: Grid) -> dict:
        terms, region = _fleet_terms(g)
        out = eco.sustainability_step(**terms)
        out["region_name"] = region
        return out


class EconomicsModel(Resolver):
    """What will this cost over 3 years? Total cost of ownership of a fleet over a period.

    The energy, carbon and water are SustainabilityModel's (same environment rule,
    docs/differences.md, D12). The electricity price is the first available of: ``kwh_price``
    (NaN entries of a swept price fall through), the ``datacenter``'s price (or its grid's),
    the ``grid`` argument's, the fleet's own datacenter or region, else 0.12 USD/kWh
    (docs/differences.md, D13); the price used is the output ``electricity_price``.

    Notes
    -----
    For ``N`` accelerators of unit cost ``c`` (0 when the record has none), installation
    multiplier ``m``, depreciation period ``Y`` and a period ``t`` (years of 365 days)::

        CapEx            = c N m
        capex            = CapEx / Y x t                  (straight-line amortisation)
        opex_maintenance = 0.05 CapEx per year x t        (on the full CapEx)
        opex_energy      = E x price                      (E = facility energy)
        total_opex       = opex_energy + opex_maintenance
        tco              = capex + total_opex             [USD]

    See ``docs/equations.md``, section "Economics and sustainability".

    References
    ----------
    Patterson, D. et al. (2021). Carbon emissions and large neural network training.
    arXiv:2104.10350.
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
    OUTPUTS = (
        "capex",
        "opex_energy",
        "opex_maintenance",
        "total_opex",
        "tco",
        "hourly_cost",
        "cost_per_accelerator_hour",
        "electricity_price",
        *_SUSTAINABILITY_OUTPUTS,
    )

    def _compute(self, g: Grid) -> dict:
        terms, region = _fleet_terms(g)
        out = eco.tco_step(
            **terms,
            unit_cost=g.field("fleet", "accelerator_unit_cost"),
            infrastructure_multiplier=g["infrastructure_multiplier"],
            amortization_period=g["amortization_years"],
            prices=self._prices(g),
        )
        out["region_name"] = region
        return out

    @staticmethod
    def _prices(g: Grid) -> list:
        """Candidate electricity prices [USD/J] on the grid, in order of precedence (D13)."""
        chain = []
        if "kwh_price" in g.inputs:
            chain.append(g["kwh_price"])
        for name in ("datacenter", "grid"):
            if name in g.inputs:
                chain.append(_record_values(g, name, _own_price))
        chain.append(_record_values(g, "fleet", _fleet_price))
        return chain


class ResponsibleEngineeringModel(Resolver):
    """What is the cost of differential privacy? Training-time and data overheads.

    ``epsilon`` below 0.01 is read as 0.01 (the slowdown is capped at 201x) and
    ``min_subgroup_prevalence`` below 1e-6 as 1e-6, as mlsysim 0.3.0; ``delta`` is validated
    and echoed but not used by the first-order model. Non-positive ``epsilon``, prevalences
    outside (0, 1], ``delta`` outside (0, 1) and negative times raise (docs/differences.md,
    D14).

    Notes
    -----
    DP-SGD clips every per-example gradient and adds Gaussian noise (Abadi et al. 2016); its
    first-order cost is taken as a slowdown that grows as the privacy budget shrinks, and a
    subgroup of prevalence ``p`` needs ``1/p`` times the data to be represented::

        slowdown                = 1 + 2 / max(epsilon, 0.01)     (dp_slowdown_factor)
        effective_training_time = base_training_time x slowdown
        data factor             = 1 / max(p, 1e-6)               (additional_data_requirement)

    ``privacy_cost_ratio`` and ``fairness_data_ratio`` are the same two factors under
    mlsysim's second names. See ``docs/equations.md``, section "Responsible engineering".

    References
    ----------
    Abadi, M. et al. (2016). Deep learning with differential privacy. Proc. ACM CCS 2016.
    doi:10.1145/2976749.2978318.
    """

    ARGS = (
        Arg("base_training_time", unit="hour", low=0.0),
        Arg("epsilon", default=1.0, low=0.0, low_open=True),
        Arg("delta", default=1e-5, low=0.0, high=1.0, low_open=True, high_open=True),
        Arg("min_subgroup_prevalence", default=0.01, low=0.0, high=1.0, low_open=True),
    )
    OUTPUTS = (
        "dp_slowdown_factor",
        "privacy_cost_ratio",
        "effective_training_time",
        "additional_data_requirement",
        "fairness_data_ratio",
    )

    def _compute(self, g: Grid) -> dict:
        return eco.responsible_step(g["base_training_time"], g["epsilon"], g["min_subgroup_prevalence"])
