"""Operations kernels: energy, carbon, water, total cost of ownership, and the two
responsible-engineering overheads (differential-privacy slowdown, subgroup data).

Pure numpy functions of float arrays in canonical SI units (s, W, J, USD, kg CO2e, L); they
broadcast. The equations follow mlsysim 0.3.0 (``reference/anchor-0.3.0-spec.md`` §8.1–8.2,
part 2 §11) with DECISIONS D12 (one environment fallback) and D13 (electricity price chain).

* Accelerator power: TDP × (0.30 idle + 0.70 × MFU) (the same idle/dynamic split as the
  roofline's step energy). Facility energy = IT energy × PUE (The Green Grid, "PUE: a
  comprehensive examination of the metric", White Paper 49, 2012).
* Operational carbon = facility energy × grid carbon intensity; water = facility energy × WUE
  (The Green Grid, "Water Usage Effectiveness", White Paper 35, 2011).
* TCO = CapEx amortised over the period + energy OpEx + maintenance OpEx (a fixed fraction of the
  full CapEx per year, as the reference charges it).
* DP-SGD slowdown 1 + 2/ε (a first-order penalty for per-example clipping and noise; Abadi et
  al., "Deep learning with differential privacy", CCS 2016); data to represent a subgroup of
  prevalence p: 1/p more samples.
"""

from __future__ import annotations

import numpy as np

from .constants import ENERGY_DYNAMIC_FRACTION, ENERGY_IDLE_FRACTION

__all__ = [
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
#: The reference prorates yearly figures by days/365.
SECONDS_PER_YEAR = 365.0 * SECONDS_PER_DAY
JOULES_PER_KWH = 3.6e6
#: Electricity price when neither the argument nor a record gives one [USD/J]
#: (0.12 USD/kWh, ``Infrastructure.Pricing.Cloud.ElectricityPerKwh``; DECISIONS D13).
DEFAULT_KWH_PRICE = 0.12 / JOULES_PER_KWH
#: TDP of an accelerator whose record has none [W] (the H100's 700 W, as the reference).
DEFAULT_TDP = 700.0
#: Annual maintenance as a fraction of CapEx (``Pricing.Capital.AnnualMaintenanceRatio``).
MAINTENANCE_RATIO_PER_YEAR = 0.05
#: DP-SGD slowdown coefficient k in 1 + k/ε (``DP_SGD_SLOWDOWN_COEFFICIENT``).
DP_SGD_SLOWDOWN_COEFFICIENT = 2.0
#: ε below this is read as this (the reference caps the slowdown at 1 + 2/0.01 = 201).
EPSILON_FLOOR = 0.01
#: Subgroup prevalence below this is read as this (the data factor is at most 1e6).
PREVALENCE_FLOOR = 1e-6


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
    Only accelerators are counted (hosts, network and storage are not), as the reference."""
    return power * devices * duration


def facility_energy(it, pue):
    """Energy drawn by the facility [J] = IT energy × PUE."""
    return it * pue


def embodied_carbon(per_device, devices):
    """Embodied (manufacturing) carbon of the fleet [kg CO2e] = per-device figure × devices."""
    return per_device * devices


def capex_total(unit_cost, devices, multiplier):
    """Purchase cost of the fleet [USD] = accelerator unit cost × accelerators × infrastructure
    multiplier; a missing unit cost (NaN) counts as 0 USD, as the reference."""
    return np.where(np.isnan(unit_cost), 0.0, unit_cost) * devices * multiplier


def amortized_capex(capex, amortization_period, duration):
    """CapEx charged to a period of ``duration`` [s]: straight-line over ``amortization_period``
    [s] (the reference counts 365-day years) [USD]."""
    return capex / amortization_period * duration


def maintenance_cost(capex, duration):
    """Maintenance over ``duration`` [s] [USD]: 5 % of the full CapEx per year (charged on the
    whole CapEx, not on the amortised slice, as the reference)."""
    return capex * (MAINTENANCE_RATIO_PER_YEAR / SECONDS_PER_YEAR) * duration


def dp_sgd_slowdown(epsilon):
    """Training-time factor of differentially private SGD: 1 + 2/max(ε, 0.01)."""
    return 1.0 + DP_SGD_SLOWDOWN_COEFFICIENT / np.maximum(epsilon, EPSILON_FLOOR)


def subgroup_data_factor(prevalence):
    """Factor by which the data must grow to hold a subgroup of prevalence p: 1/max(p, 1e-6)."""
    return 1.0 / np.maximum(prevalence, PREVALENCE_FLOOR)
