"""Operations kernels: energy, carbon, water, total cost of ownership, and the two
responsible-engineering overheads (differential-privacy slowdown, subgroup data).

Pure numpy functions of float arrays in canonical SI units (s, W, J, USD, USD/J, kg CO2e, L);
they broadcast. The equations follow mlsysim 0.3.0 (``docs/equations.md``, sections
"Economics and sustainability" and "Responsible engineering") with one environment fallback
and one electricity price chain (docs/differences.md, D12, D13).

* Accelerator power: TDP × (0.30 idle + 0.70 × MFU) (the same idle/dynamic split as the
  roofline's step energy). Facility energy = IT energy × PUE (The Green Grid, "PUE: a
  comprehensive examination of the metric", White Paper 49, 2012).
* Operational carbon = facility energy × grid carbon intensity (Patterson et al., "Carbon
  emissions and large neural network training", 2021, arXiv:2104.10350); water = facility
  energy × WUE (The Green Grid, "Water Usage Effectiveness", White Paper 35, 2011).
* TCO = CapEx amortised over the period + energy OpEx + maintenance OpEx (a fixed fraction of the
  full CapEx per year, as mlsysim charges it).
* DP-SGD slowdown 1 + 2/ε (a first-order penalty for per-example clipping and noise; Abadi et
  al., "Deep learning with differential privacy", CCS 2016, doi:10.1145/2976749.2978318); data
  to represent a subgroup of prevalence p: 1/p more samples.

The step functions ``sustainability_step``, ``tco_step`` and ``responsible_step`` answer one
question each and return their outputs by name.
"""

from __future__ import annotations

import numpy as np

from .constants import ENERGY_DYNAMIC_FRACTION, ENERGY_IDLE_FRACTION

__all__ = [
    "sustainability_step",
    "tco_step",
    "cost_rate",
    "responsible_step",
    "SECONDS_PER_DAY",
    "SECONDS_PER_YEAR",
    "JOULES_PER_KWH",
    "DEFAULT_KWH_PRICE",
    "DEFAULT_TDP",
    "MAINTENANCE_RATIO_PER_YEAR",
    "DP_SGD_SLOWDOWN_COEFFICIENT",
    "EPSILON_FLOOR",
    "PREVALENCE_FLOOR",
    "first_available",
    "device_power",
    "it_energy",
    "facility_energy",
    "embodied_carbon",
    "capex_total",
    "amortized_capex",
    "maintenance_cost",
    "dp_sgd_slowdown",
    "subgroup_data_factor",
]

SECONDS_PER_DAY = 86_400.0
#: mlsysim 0.3.0 prorates yearly figures by days/365.
SECONDS_PER_YEAR = 365.0 * SECONDS_PER_DAY
JOULES_PER_KWH = 3.6e6
#: Electricity price when neither the argument nor a record gives one [USD/J]
#: (0.12 USD/kWh, mlsysim's cloud electricity price; docs/differences.md, D13).
DEFAULT_KWH_PRICE = 0.12 / JOULES_PER_KWH
#: TDP of an accelerator whose record has none [W] (the H100's 700 W, as mlsysim 0.3.0).
DEFAULT_TDP = 700.0
#: Annual maintenance as a fraction of CapEx (mlsysim's annual maintenance ratio).
MAINTENANCE_RATIO_PER_YEAR = 0.05
#: DP-SGD slowdown coefficient k in 1 + k/ε (mlsysim 0.3.0's constant).
DP_SGD_SLOWDOWN_COEFFICIENT = 2.0
#: ε below this is read as this (mlsysim caps the slowdown at 1 + 2/0.01 = 201).
EPSILON_FLOOR = 0.01
#: Subgroup prevalence below this is read as this (the data factor is at most 1e6).
PREVALENCE_FLOOR = 1e-6


def sustainability_step(*, tdp, devices, mfu, duration, carbon_intensity, pue, wue, embodied_per_device=0.0) -> dict:
    """Energy, carbon and water of a fleet over a period.

    tdp : TDP of one accelerator [W] (NaN: 700 W); devices : accelerators [count]
    mfu : average model-FLOPs utilisation in [0, 1]; duration : the period [s]
    carbon_intensity : grid carbon intensity [kg/J]; pue : power usage effectiveness;
    wue : water usage effectiveness [L/J]
    embodied_per_device : manufacturing carbon per accelerator [kg CO2e]

    Returns ``it_energy`` E_IT = P·N·t with P = TDP·(0.3 + 0.7·mfu) [J], ``total_energy``
    E = E_IT·PUE [J], ``carbon_footprint`` E·CI + embodied [kg], ``embodied_carbon``
    [kg], ``water_usage`` E·WUE [L] and ``pue``.
    """
    it = it_energy(device_power(tdp, mfu), devices, duration)
    # ``it`` spans the whole grid; every product below is one full-size array.
    embodied = embodied_carbon(embodied_per_device, devices)
    carbon = it * (pue * carbon_intensity)
    if not _is_scalar_zero(embodied_per_device):
        carbon = carbon + embodied
    return {
        "it_energy": it,
        "total_energy": facility_energy(it, pue),
        "carbon_footprint": carbon,
        "embodied_carbon": embodied,
        "water_usage": it * (pue * wue),
        "pue": pue,
    }


def cost_rate(cost, per):
    """``cost / per`` with NaN where ``per`` is 0 (a cost per unit of time or per device)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(per > 0, np.divide(cost, np.where(per > 0, per, 1.0)), np.nan)


def tco_step(
    *,
    tdp,
    devices,
    mfu,
    duration,
    carbon_intensity,
    pue,
    wue,
    embodied_per_device,
    unit_cost,
    infrastructure_multiplier,
    amortization_period,
    prices=(),
) -> dict:
    """Total cost of ownership of a fleet over a period, with its energy, carbon and water.

    The arguments of ``sustainability_step``, and:
    unit_cost : purchase cost of one accelerator [USD] (NaN: 0)
    infrastructure_multiplier : installation cost / accelerators' cost
    amortization_period : straight-line depreciation period [s]
    prices : candidate electricity prices [USD/J] in order of precedence; the first that is
        not NaN applies, else 0.12 USD/kWh (docs/differences.md, D13)

    Returns ``capex`` = CapEx/period·t with CapEx = unit cost·N·multiplier, ``opex_energy``
    = E·price, ``opex_maintenance`` = 0.05·CapEx per 365-day year·t, ``total_opex``, ``tco``
    [USD], ``hourly_cost`` = tco/t and ``cost_per_accelerator_hour`` = tco/(t·N) [USD/s]
    (NaN for a zero period or no accelerators), ``electricity_price`` [USD/J], then the
    outputs of ``sustainability_step``.
    """
    sustainability = sustainability_step(
        tdp=tdp,
        devices=devices,
        mfu=mfu,
        duration=duration,
        carbon_intensity=carbon_intensity,
        pue=pue,
        wue=wue,
        embodied_per_device=embodied_per_device,
    )
    price = first_available(*prices, DEFAULT_KWH_PRICE)
    purchase = capex_total(unit_cost, devices, infrastructure_multiplier)
    capex = amortized_capex(purchase, amortization_period, duration)
    maintenance = maintenance_cost(purchase, duration)
    energy_cost = sustainability["it_energy"] * (pue * price)
    total_opex = energy_cost + maintenance
    tco = total_opex + capex
    hourly = cost_rate(tco, duration)
    return {
        "capex": capex,
        "opex_energy": energy_cost,
        "opex_maintenance": maintenance,
        "total_opex": total_opex,
        "tco": tco,
        "hourly_cost": hourly,
        "cost_per_accelerator_hour": cost_rate(hourly, devices),
        "electricity_price": price,
        **sustainability,
    }


def responsible_step(base_training_time, epsilon, min_subgroup_prevalence) -> dict:
    """The price of responsible training: the DP-SGD slowdown and the subgroup data factor.

    base_training_time : training time without differential privacy [s]
    epsilon : privacy budget ε > 0 (below 0.01 read as 0.01)
    min_subgroup_prevalence : prevalence p of the rarest subgroup (below 1e-6 read as 1e-6)

    Returns ``dp_slowdown_factor`` = ``privacy_cost_ratio`` = 1 + 2/max(ε, 0.01),
    ``effective_training_time`` = base × slowdown [s] and ``additional_data_requirement`` =
    ``fairness_data_ratio`` = 1/max(p, 1e-6).
    """
    slowdown = dp_sgd_slowdown(epsilon)
    data = subgroup_data_factor(min_subgroup_prevalence)
    return {
        "dp_slowdown_factor": slowdown,
        "privacy_cost_ratio": slowdown,
        "effective_training_time": base_training_time * slowdown,
        "additional_data_requirement": data,
        "fairness_data_ratio": data,
    }


def _is_scalar_zero(value) -> bool:
    """True for one in-memory number equal to 0 (lets a step skip adding a zero term)."""
    if not isinstance(value, (int, float, np.number, np.ndarray)) or np.size(value) != 1:
        return False
    return float(np.reshape(value, -1)[0]) == 0.0


def first_available(*candidates):
    """Elementwise the first candidate that is not NaN (NaN when every one is)."""
    out = candidates[-1]
    for value in reversed(candidates[:-1]):
        out = np.where(np.isnan(value), out, value)
    return out


def device_power(tdp, mfu):
    """Average power of one accelerator [W]: TDP × (0.30 + 0.70 × MFU); TDP 700 W when NaN."""
    tdp = np.where(np.isnan(tdp), DEFAULT_TDP, tdp)
    return tdp * (ENERGY_IDLE_FRACTION + ENERGY_DYNAMIC_FRACTION * mfu)


def it_energy(power, devices, duration):
    """IT (accelerator) energy [J] of ``devices`` accelerators at ``power`` [W] for ``duration`` [s].
    Only accelerators are counted (hosts, network and storage are not), as mlsysim 0.3.0."""
    return power * devices * duration


def facility_energy(it, pue):
    """Energy drawn by the facility [J] = IT energy × PUE."""
    return it * pue


def embodied_carbon(per_device, devices):
    """Embodied (manufacturing) carbon of the fleet [kg CO2e] = per-device figure × devices."""
    return per_device * devices


def capex_total(unit_cost, devices, multiplier):
    """Purchase cost of the fleet [USD] = accelerator unit cost × accelerators × infrastructure
    multiplier; a missing unit cost (NaN) counts as 0 USD, as mlsysim 0.3.0."""
    return np.where(np.isnan(unit_cost), 0.0, unit_cost) * devices * multiplier


def amortized_capex(capex, amortization_period, duration):
    """CapEx charged to a period of ``duration`` [s]: straight-line over ``amortization_period``
    [s] (365-day years, as mlsysim 0.3.0) [USD]."""
    return capex / amortization_period * duration


def maintenance_cost(capex, duration):
    """Maintenance over ``duration`` [s] [USD]: 5 % of the full CapEx per year (charged on the
    whole CapEx, not on the amortised slice, as mlsysim 0.3.0)."""
    return capex * (MAINTENANCE_RATIO_PER_YEAR / SECONDS_PER_YEAR) * duration


def dp_sgd_slowdown(epsilon):
    """Training-time factor of differentially private SGD: 1 + 2/max(ε, 0.01)."""
    return 1.0 + DP_SGD_SLOWDOWN_COEFFICIENT / np.maximum(epsilon, EPSILON_FLOOR)


def subgroup_data_factor(prevalence):
    """Factor by which the data must grow to hold a subgroup of prevalence p: 1/max(p, 1e-6)."""
    return 1.0 / np.maximum(prevalence, PREVALENCE_FLOOR)
