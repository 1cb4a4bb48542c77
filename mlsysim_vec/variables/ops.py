"""Catalogue entries of EconomicsModel, SustainabilityModel, ResponsibleEngineeringModel."""

from .core import Variable

VARIABLES: dict[str, Variable] = dict(
    # ---- inputs -------------------------------------------------------------------------
    fleet=Variable(description="cluster (record name)", kind="record"),
    datacenter=Variable(description="datacenter, or a grid region used as one (record name)", kind="record"),
    grid=Variable(description="electricity grid region (record name)", kind="record"),
    duration_days=Variable("day", "day", "length of the period costed (run or ownership)"),
    kwh_price=Variable(
        "USD/kWh", "USD/kWh", "electricity price given as an argument (NaN: from the records; docs/differences.md, D13)"
    ),
    amortization_years=Variable(
        "common_year", "common_year", "straight-line depreciation period of the hardware (365-day years)"
    ),
    infrastructure_multiplier=Variable("", "", "purchase cost of the whole installation / accelerators' cost"),
    embodied_carbon_per_device=Variable("kg", "kg", "manufacturing carbon per accelerator [kg CO2e]"),
    base_training_time=Variable("hour", "hour", "training time without differential privacy"),
    epsilon=Variable("", "", "differential-privacy budget ε"),
    delta=Variable("", "", "differential-privacy δ (reported; the first-order model does not use it)"),
    min_subgroup_prevalence=Variable("", "", "prevalence of the rarest subgroup that must be represented"),
    # ---- sustainability outputs ---------------------------------------------------------
    it_energy=Variable("J", "kWh", "energy drawn by the accelerators over the period"),
    total_energy=Variable("J", "kWh", "energy drawn by the facility: IT energy x PUE"),
    carbon_footprint=Variable(
        "kg", "kg", "operational carbon (facility energy x grid intensity) plus embodied carbon [kg CO2e]"
    ),
    embodied_carbon=Variable("kg", "kg", "embodied carbon of the fleet's accelerators [kg CO2e]"),
    water_usage=Variable("L", "L", "water consumed on site: facility energy x WUE"),
    pue=Variable("", "", "power usage effectiveness of the facility used (docs/differences.md, D12)"),
    region_name=Variable(
        description="grid region whose carbon intensity and WUE are used (docs/differences.md, D12)", kind="text"
    ),
    # ---- economics outputs --------------------------------------------------------------
    capex=Variable("USD", "USD", "purchase cost amortised over the period (straight line)"),
    opex_energy=Variable("USD", "USD", "electricity cost of the facility energy"),
    opex_maintenance=Variable("USD", "USD", "maintenance: 5 % of the full purchase cost per year"),
    total_opex=Variable("USD", "USD", "energy + maintenance"),
    tco=Variable("USD", "USD", "total cost of ownership over the period: amortised CapEx + OpEx"),
    hourly_cost=Variable(
        "USD/s", "USD/hour", "cost of owning and running the fleet per unit of time: tco / duration", optional=True
    ),
    cost_per_accelerator_hour=Variable(
        "USD/s",
        "USD/hour",
        "ownership cost per accelerator per unit of time: tco / (duration x accelerators), comparable with "
        "a rental price",
        optional=True,
    ),
    electricity_price=Variable(
        "USD/J",
        "USD/kWh",
        "electricity price charged: the argument, else the datacenter's, the grid's, the fleet's "
        "placement's, else 0.12 USD/kWh (docs/differences.md, D13)",
    ),
    # ---- responsible-engineering outputs ------------------------------------------------
    dp_slowdown_factor=Variable("", "", "training-time factor of DP-SGD: 1 + 2/max(ε, 0.01)"),
    privacy_cost_ratio=Variable("", "", "the same factor, under mlsysim's second name for it"),
    effective_training_time=Variable("s", "hour", "training time with DP-SGD"),
    additional_data_requirement=Variable("", "", "data factor to represent the rarest subgroup: 1/max(p, 1e-6)"),
    fairness_data_ratio=Variable("", "", "the same factor, under mlsysim's second name for it"),
)
