"""EconomicsModel, SustainabilityModel, ResponsibleEngineeringModel.

Tier 1: hand-derived values (``docs/equations.md``, sections "Economics and sustainability" and
"Responsible engineering") and the corrected behaviour of D12, D13 and D14 (docs/differences.md);
tier 2: the grid contract (grid == loop, the input-type matrix of the unit-bearing inputs, bad
arguments); tier 3: hypothesis properties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim_vec as ms
from mlsysim_vec import Q_, ureg

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

C, G, D = ms.Systems.Clusters, ms.Infra.Grids, ms.Infra.Datacenters
ECO, SUS, RESP = ms.EconomicsModel(), ms.SustainabilityModel(), ms.ResponsibleEngineeringModel()
KWH = 3.6e6


def approx(x, rel=1e-12):
    return pytest.approx(x, rel=rel)


def si(value, unit):
    """Magnitude of a scalar Quantity or a quantified DataArray in ``unit``."""
    if isinstance(value, xr.DataArray):
        return value.pint.to(unit).pint.magnitude
    return value.to(unit).magnitude


def fleet(name, hardware, per_node=8, count=1, **placement):
    node = ms.Node(
        name=f"{name} node", accelerator=hardware, accelerators_per_node=per_node, intra_node_bw=450 * ureg("GB/s")
    )
    return ms.Fleet(name=name, node=node, count=count, fabric=ms.Systems.Fabrics.InfiniBand_NDR, **placement)


# ---- tier 1: values -----------------------------------------------------------------------


def test_research_256_thirty_days_by_hand():
    """Research_256 (256 H100, 700 W, 25,000 USD), 30 days, mfu 1, no placement (spec §8.2):
    E_IT = 700 W·256·720 h = 129,024 kWh; PUE 1.12 → 144,506.88 kWh; carbon ×0.429 kg/kWh =
    61,993.45 kg; water ×1.8 L/kWh = 260,112.38 L; energy ×0.12 USD/kWh = 17,340.83 USD;
    CapEx 6.4 M USD → capex 6.4e6/3·30/365 = 175,342.47; maintenance 6.4e6·0.05·30/365 =
    26,301.37; TCO 218,984.66 USD."""
    r = ECO.solve(fleet=C.Research_256, duration_days=30)
    it = 700 * 256 * 720 / 1000
    assert si(r.it_energy, "kWh") == approx(it)
    assert si(r.total_energy, "kWh") == approx(1.12 * it)
    assert si(r.carbon_footprint, "kg") == approx(1.12 * it * 0.429)
    assert si(r.water_usage, "L") == approx(1.12 * it * 1.8)
    assert si(r.opex_energy, "USD") == approx(1.12 * it * 0.12)
    assert si(r.capex, "USD") == approx(6.4e6 / 3 * 30 / 365)
    assert si(r.opex_maintenance, "USD") == approx(6.4e6 * 0.05 * 30 / 365)
    assert si(r.tco, "USD") == approx(218_984.66121643837)
    assert si(r.total_opex, "USD") == approx(1.12 * it * 0.12 + 6.4e6 * 0.05 * 30 / 365)
    assert r.pue == 1.12 and r.region_name == "US Average"
    assert si(r.electricity_price, "USD/kWh") == approx(0.12)
    assert si(r.embodied_carbon, "kg") == 0.0


def test_frontier_on_quebec_half_mfu():
    """Frontier_8K (8192 H100) on the Quebec grid, mfu 0.5, 30 days (0.1.1 spec §11 energy
    figures): P = 700·(0.3 + 0.35) = 455 W; E_IT = 455·8192·720 h = 2,683,699.2 kWh; PUE 1.06;
    carbon 20 g/kWh; WUE 0 → no water; region 'Quebec (Hydro)'."""
    r = ECO.solve(fleet=C.Frontier_8K, duration_days=30, grid=G.Quebec, mfu=0.5)
    it = 455 * 8192 * 720 / 1000
    assert si(r.it_energy, "kWh") == approx(it)
    assert si(r.total_energy, "kWh") == approx(2_844_721.152)
    assert si(r.carbon_footprint, "kg") == approx(56_894.42304)
    assert si(r.water_usage, "L") == 0.0
    assert r.pue == 1.06 and r.region_name == "Quebec (Hydro)"
    assert si(r.capex, "USD") == approx(8192 * 25_000 / 3 * 30 / 365)


def test_sustainability_grid_as_datacenter_with_embodied_carbon():
    """A GridProfile passed as ``datacenter`` (reference usage): Frontier_8K on Poland (820 g,
    PUE 1.58, WUE 1.8), mfu 0.4, 150 kg per device: P = 700·0.58 = 406 W; E_IT = 406·8192·720 h
    = 2,394,685.44 kWh; carbon = E·1.58·0.82 + 150·8192 = 4,331,354.456 kg (0.1.1 §11)."""
    r = SUS.solve(fleet=C.Frontier_8K, duration_days=30, datacenter=G.Poland, mfu=0.4, embodied_carbon_per_device=150)
    it = 406 * 8192 * 720 / 1000
    assert si(r.it_energy, "kWh") == approx(it)
    assert si(r.embodied_carbon, "kg") == approx(150 * 8192)
    assert si(r.carbon_footprint, "kg") == approx(it * 1.58 * 0.82 + 150 * 8192)
    assert si(r.water_usage, "L") == approx(it * 1.58 * 1.8)
    assert r.region_name == "Poland (Coal)" and r.pue == 1.58


def test_datacenter_uses_its_grid_and_pue():
    """A Datacenter gives its grid's intensity/WUE and its own PUE; with both arguments the
    datacenter decides the energy (reference: ``datacenter or grid``)."""
    r = SUS.solve(fleet=C.Research_256, duration_days=30, datacenter=D.Quebec_Hydro, grid=G.Poland)
    it = 700 * 256 * 720 / 1000
    assert r.region_name == "Quebec (Hydro)" and r.pue == 1.06
    assert si(r.carbon_footprint, "kg") == approx(it * 1.06 * 0.020)


def test_missing_unit_cost_and_tdp():
    """No unit cost → CapEx 0 (reference 0.3.0); no TDP → 700 W (the H100's, as the reference)."""
    bare = ms.HardwareNode(
        name="bare", compute=ms.ComputeCore(peak_flops=100), memory=ms.MemoryHierarchy(capacity=16, bandwidth=500)
    )
    r = ECO.solve(fleet=fleet("bare fleet", bare, per_node=4, count=2), duration_days=10)
    assert si(r.capex, "USD") == 0.0 and si(r.opex_maintenance, "USD") == 0.0
    assert si(r.it_energy, "kWh") == approx(700 * 8 * 240 / 1000)


def test_amortization_and_multiplier():
    """capex = unit·N·m/years·t/365 d; maintenance is on the full (multiplied) CapEx."""
    r = ECO.solve(fleet=C.Lab_64_A100, duration_days=365, amortization_years=4, infrastructure_multiplier=1.5)
    purchase = 15_000 * 64 * 1.5
    assert si(r.capex, "USD") == approx(purchase / 4)
    assert si(r.opex_maintenance, "USD") == approx(0.05 * purchase)


def test_units_of_duration_and_price():
    """A duration in any time unit and a price in any currency/energy unit are converted."""
    base = ECO.solve(fleet=C.Research_256, duration_days=365, kwh_price=0.08)
    other = ECO.solve(fleet=C.Research_256, duration_days=Q_(1, "year") * 365 / 365.25, kwh_price=Q_(80, "USD/MWh"))
    assert si(other.tco, "USD") == approx(si(base.tco, "USD"))
    assert si(other.electricity_price, "USD/kWh") == approx(0.08)
    with pytest.raises(TypeError, match="kwh_price=.*expected a quantity convertible to USD/kWh"):
        ECO.solve(fleet=C.Research_256, duration_days=30, kwh_price=Q_(0.1, "1/kWh"))
    with pytest.raises(TypeError, match="duration_days=.*expected a quantity convertible to day"):
        ECO.solve(fleet=C.Research_256, duration_days=Q_(3, "kg"))


def test_d12_one_fallback_for_pue_carbon_and_water():
    """D12 (B14): a fleet with neither datacenter nor region takes PUE, carbon intensity and
    WUE all from Infra.Grids.US_Avg (the reference took PUE from a separate BestAir default)."""
    us = G.US_Avg
    r = SUS.solve(fleet=C.Training_1K, duration_days=7, mfu=0.6)
    it = si(r.it_energy, "J")
    assert r.pue == us.pue
    assert si(r.total_energy, "J") == approx(it * us.pue)
    assert si(r.carbon_footprint, "kg") == approx(it * us.pue * us.carbon_intensity_g_kwh / 1000 / KWH)
    assert si(r.water_usage, "L") == approx(it * us.pue * us.wue / KWH)
    assert r.region_name == us.name


def test_d12_fleet_placement_and_arguments_take_precedence():
    """A fleet placed in a region uses that region for all three; a grid argument overrides the
    fleet's placement; a datacenter argument overrides both."""
    placed = fleet("placed", ms.Hardware.Cloud.H100, count=4, region=G.Iceland)
    r = SUS.solve(fleet=placed, duration_days=1)
    it = 700 * 32 * 24 * 3600.0
    assert r.pue == 1.06 and r.region_name == "Iceland (Geothermal)"
    assert si(r.carbon_footprint, "kg") == approx(it * 1.06 * 28 / 1000 / KWH)
    assert si(r.water_usage, "L") == 0.0
    assert SUS.solve(fleet=placed, duration_days=1, grid=G.Poland).region_name == "Poland (Coal)"
    assert SUS.solve(fleet=placed, duration_days=1, grid=G.Poland, datacenter=D.France_Nuclear).pue == 1.12
    in_dc = fleet("in dc", ms.Hardware.Cloud.H100, datacenter=D.Norway_Hydro, region=G.Poland)
    assert SUS.solve(fleet=in_dc, duration_days=1).region_name == "Norway (Hydro)"


def test_d13_price_chain():
    """D13 (B15): explicit kwh_price, then the datacenter's price (its own, else its grid's),
    then the grid argument's, then the fleet's own placement, else 0.12 USD/kWh."""
    cheap_grid = ms.GridProfile(name="cheap grid", carbon_intensity_g_kwh=100, pue=1.1, wue=1.0, kwh_price=0.05)
    dear_grid = ms.GridProfile(name="dear grid", carbon_intensity_g_kwh=300, pue=1.2, wue=1.0, kwh_price=0.30)
    dc_priced = ms.Datacenter(name="priced dc", grid=dear_grid, kwh_price=0.07)
    dc_on_cheap = ms.Datacenter(name="dc on cheap grid", grid=cheap_grid)

    def price(**kw):
        return si(ECO.solve(fleet=C.Research_256, duration_days=30, **kw).electricity_price, "USD/kWh")

    assert price() == approx(0.12)
    assert price(grid=cheap_grid) == approx(0.05)
    assert price(grid=cheap_grid, kwh_price=0.2) == approx(0.2)
    assert price(datacenter=dc_priced, grid=cheap_grid) == approx(0.07)
    assert price(datacenter=dc_on_cheap, grid=dear_grid) == approx(0.05)  # its grid's price
    assert price(datacenter=G.Quebec, grid=dear_grid) == approx(0.30)  # no price on Quebec
    placed = fleet("placed", ms.Hardware.Cloud.H100, region=dear_grid)
    assert si(ECO.solve(fleet=placed, duration_days=1).electricity_price, "USD/kWh") == approx(0.30)
    assert si(ECO.solve(fleet=placed, duration_days=1, grid=cheap_grid).electricity_price, "USD/kWh") == approx(0.05)
    # the energy cost uses that price: facility energy × price
    r = ECO.solve(fleet=C.Research_256, duration_days=30, grid=cheap_grid)
    assert si(r.opex_energy, "USD") == approx(si(r.total_energy, "kWh") * 0.05)
    # NaN entries of a swept price fall through to the records
    swept = ECO.solve(fleet=C.Research_256, duration_days=30, grid=cheap_grid, kwh_price=[0.2, np.nan])
    assert list(si(swept.electricity_price, "USD/kWh")) == [approx(0.2), approx(0.05)]


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(duration_days=-5), r"duration_days=-5 is not allowed; duration_days must be a number \[day\] >= 0"),
        (dict(duration_days=[30, -1]), r"duration_days=-1 is not allowed \(1 of 2 values rejected\)"),
        (
            dict(amortization_years=0),
            r"amortization_years=0 is not allowed; amortization_years must be a number "
            r"\[common_year\] > 0",
        ),
        (dict(amortization_years=-3), r"amortization_years=-3"),
        (dict(mfu=1.5), r"mfu=1.5 is not allowed; mfu must be a number >= 0 and <= 1"),
        (dict(kwh_price=-0.1), r"kwh_price=-0.1 is not allowed"),
        (dict(infrastructure_multiplier=-1), r"infrastructure_multiplier=-1 is not allowed"),
        (dict(embodied_carbon_per_device=-1), r"embodied_carbon_per_device=-1 is not allowed"),
    ],
)
def test_d14_validation(kwargs, pattern):
    """D14 (B14, B15): negative durations, amortization_years <= 0 and the other out-of-range
    arguments raise ValueError naming the argument (the reference returned negative energy or
    raised ZeroDivisionError)."""
    with pytest.raises(ValueError, match=pattern):
        ECO.solve(**({"fleet": C.Research_256, "duration_days": 30} | kwargs))


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (
            dict(fleet=ms.Hardware.Cloud.H100),
            TypeError,
            r"fleet=HardwareNode\('NVIDIA H100'\) is a HardwareNode; "
            r"fleet must be a Fleet record",
        ),
        (dict(grid=D.Quebec_Hydro), TypeError, r"grid=Datacenter\('Quebec Hydro Campus'\) is a Datacenter"),
        (dict(datacenter="Quebec"), TypeError, r"datacenter='Quebec' is a str"),
        (dict(kwh_price=[]), ValueError, r"kwh_price: an empty sequence"),
        (dict(duration=30), TypeError, r"unexpected keyword argument 'duration'"),
    ],
)
def test_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        ECO.solve(**({"fleet": C.Research_256, "duration_days": 30} | kwargs))


def test_required_arguments():
    with pytest.raises(TypeError, match="missing required argument 'duration_days'"):
        SUS.solve(fleet=C.Research_256)


def test_responsible_engineering_examples():
    """Part 2 §11/§20: 100 h → ×3 = 300 h, data ×100; 30 d with ε = 8, p = 0.05 →
    1 + 2/8 = 1.25 → 37.5 d, data ×20."""
    r = RESP.solve(base_training_time=Q_(100, "hour"))
    assert r.dp_slowdown_factor == approx(3.0) and r.privacy_cost_ratio == approx(3.0)
    assert si(r.effective_training_time, "hour") == approx(300.0)
    assert r.additional_data_requirement == approx(100.0) and r.fairness_data_ratio == approx(100.0)
    r = RESP.solve(Q_(30, "day"), epsilon=8, min_subgroup_prevalence=0.05)
    assert si(r.effective_training_time, "day") == approx(37.5) and r.additional_data_requirement == approx(20.0)
    assert si(RESP.solve(100).effective_training_time, "hour") == approx(300.0)  # plain numbers are hours


def test_responsible_engineering_floors_and_validation():
    """ε below 0.01 reads as 0.01 (slowdown 201, as the reference); p below 1e-6 reads as 1e-6.
    D14/P14: ε <= 0, p <= 0 or > 1, δ outside (0, 1) and negative times raise (the reference
    floored ε = 0 to a 201× slowdown and turned p = 2 into a factor 0.5)."""
    assert RESP.solve(1, epsilon=0.001).dp_slowdown_factor == approx(201.0)
    assert RESP.solve(1, min_subgroup_prevalence=1e-9).additional_data_requirement == approx(1e6)
    for kwargs, name in (
        (dict(epsilon=0), "epsilon"),
        (dict(epsilon=-1), "epsilon"),
        (dict(min_subgroup_prevalence=2), "min_subgroup_prevalence"),
        (dict(min_subgroup_prevalence=0), "min_subgroup_prevalence"),
        (dict(delta=1.5), "delta"),
        (dict(base_training_time=-1), "base_training_time"),
    ):
        with pytest.raises(ValueError, match=f"{name}="):
            RESP.solve(**({"base_training_time": 10} | kwargs))
    with pytest.raises(TypeError, match="base_training_time=.*expected a quantity convertible to hour"):
        RESP.solve(Q_(3, "GB"))


# ---- tier 2: the grid contract -------------------------------------------------------------


def test_every_region_in_one_call():
    """Sweeping ``grid`` over every built-in region: one dimension, region names follow it."""
    r = ECO.solve(fleet=C.Research_256, duration_days=30, grid=G)
    assert r.dims == ("grid",)
    assert list(r.region_name.values) == [g.name for g in G]
    carbon = si(r.carbon_footprint, "kg")
    assert G.list()[int(np.argmin(carbon))].name == "Norway (Hydro)"
    assert r.pue.dims == ("grid",) and r.capex.dims == ()  # CapEx does not depend on the region


ECO_OUTPUTS = (
    "capex",
    "opex_energy",
    "opex_maintenance",
    "total_opex",
    "tco",
    "electricity_price",
    "it_energy",
    "total_energy",
    "carbon_footprint",
    "embodied_carbon",
    "water_usage",
    "pue",
)


def check_grid_equals_loop(solver, axes: dict, fixed: dict, outputs):
    r = solver.solve(**axes, **fixed)
    ds = r.dataset
    names = list(axes)
    for index in np.ndindex(*[len(axes[n]) for n in names]):
        point = {n: axes[n][i] for n, i in zip(names, index)}
        one = solver.solve(**point, **fixed).dataset
        sel = ds.sel({n: (v.name if hasattr(v, "si") else v) for n, v in point.items()})
        for name in outputs:
            np.testing.assert_array_equal(sel[name].values, one[name].values, err_msg=f"{name} at {point}")
        assert sel["region_name"].values.item() == one["region_name"].values.item()


def test_economics_grid_equals_loop():
    axes = {
        "fleet": [C.Research_256, C.Lab_64_A100, C.Training_1K_B200],
        "duration_days": [0, 30, 1095],
        "grid": [G.Quebec, G.Poland],
        "mfu": [0.0, 0.45],
    }
    check_grid_equals_loop(ECO, axes, {"kwh_price": None, "embodied_carbon_per_device": 100.0}, ECO_OUTPUTS)


def test_sustainability_grid_equals_loop_over_datacenters():
    axes = {"datacenter": D.list()[:3], "fleet": [C.Frontier_8K, C.Lab_64_H100], "embodied_carbon_per_device": [0, 150]}
    check_grid_equals_loop(
        SUS,
        axes,
        {"duration_days": 14},
        ("it_energy", "total_energy", "carbon_footprint", "embodied_carbon", "water_usage", "pue"),
    )


@pytest.mark.parametrize(
    "value, dims",
    [
        (30, ()),
        (30.0, ()),
        (np.float64(30), ()),
        (Q_(30, "day"), ()),
        (Q_(720, "hour"), ()),
        ([30], ("duration_days",)),
        ((30,), ("duration_days",)),
        (np.array([30]), ("duration_days",)),
        ([Q_(30, "day")], ("duration_days",)),
        (Q_(np.array([30.0]), "day"), ("duration_days",)),
        (xr.DataArray([30], dims="d"), ("d",)),
        (xr.DataArray([720], dims="d", attrs={"units": "hour"}), ("d",)),
        (xr.DataArray(Q_(np.array([720.0]), "hour"), dims="d"), ("d",)),
    ],
)
def test_input_type_matrix_duration(value, dims):
    """Every form of 30 days gives the same TCO; sequences add a dimension."""
    expected = si(ECO.solve(fleet=C.Research_256, duration_days=30).tco, "USD")
    r = ECO.solve(fleet=C.Research_256, duration_days=value)
    assert r.dims == dims
    assert np.all(np.asarray(si(r.tco, "USD")) == approx(expected))


@pytest.mark.parametrize(
    "value",
    [
        0.08,
        Q_(0.08, "USD/kWh"),
        Q_(80, "USD/MWh"),
        [0.08],
        np.array([0.08]),
        xr.DataArray([0.08], dims="price"),
        Q_(np.array([8.0e-5]), "USD/Wh"),
    ],
)
def test_input_type_matrix_price(value):
    expected = si(ECO.solve(fleet=C.Research_256, duration_days=30, kwh_price=0.08).opex_energy, "USD")
    got = si(ECO.solve(fleet=C.Research_256, duration_days=30, kwh_price=value).opex_energy, "USD")
    assert np.all(np.asarray(got) == approx(expected))


def test_nan_duration_propagates():
    r = ECO.solve(fleet=C.Research_256, duration_days=[30, np.nan])
    tco = si(r.tco, "USD")
    assert math.isnan(tco[1]) and tco[0] == approx(218_984.66121643837)


def test_dataframe_and_parquet(tmp_path):
    r = ECO.solve(fleet=[C.Research_256, C.Lab_64_A100], duration_days=[30, 365], grid=[G.Quebec, G.Texas])
    df = r.to_dataframe()
    assert len(df) == 8 and {"tco", "region_name", "fleet", "grid"} <= set(df.columns)
    back = ms.read_parquet(r.to_parquet(tmp_path / "tco.parquet"))
    np.testing.assert_array_equal(back.dataset["tco"].values, r.dataset["tco"].values)


# ---- tier 3: properties --------------------------------------------------------------------

CLUSTERS, GRIDS = C.list(), G.list()

economics_grids = st.fixed_dictionaries(
    {
        "fleet": st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=3, unique_by=lambda f: f.name),
        "grid": st.lists(st.sampled_from(GRIDS), min_size=1, max_size=3, unique_by=lambda g: g.name),
        "duration_days": st.lists(st.floats(0, 3650), min_size=2, max_size=4, unique=True),
        "mfu": st.lists(st.floats(0, 1), min_size=2, max_size=3, unique=True),
        "amortization_years": st.floats(0.5, 10),
    }
)


def check_properties(kwargs):
    """Costs, energy, carbon and water never decrease with duration or MFU; carbon of every
    region is ordered as the regions' PUE × intensity; TCO = capex + total_opex."""
    kwargs = dict(kwargs, duration_days=sorted(kwargs["duration_days"]), mfu=sorted(kwargs["mfu"]))
    r = ECO.solve(**kwargs)
    ds = r.dataset.transpose("fleet", "duration_days", "grid", "mfu")
    full = {
        n: np.broadcast_to(ds[n].broadcast_like(ds["tco"]).values, ds["tco"].shape)
        for n in ("tco", "total_energy", "carbon_footprint", "water_usage", "capex", "total_opex")
    }
    for name in ("tco", "total_energy", "carbon_footprint", "water_usage"):
        assert np.all(np.diff(full[name], axis=1) >= -1e-9 * np.abs(full[name][:, 1:])), name
        assert np.all(np.diff(full[name], axis=3) >= -1e-9 * np.abs(full[name][..., 1:])), name
    np.testing.assert_allclose(full["tco"], full["capex"] + full["total_opex"], rtol=1e-12)
    weight = np.array([g.pue * g.carbon_intensity_g_kwh for g in kwargs["grid"]])
    order = np.argsort(weight, kind="stable")
    carbon = full["carbon_footprint"][:, :, order, :]
    assert np.all(np.diff(carbon, axis=2) >= -1e-9 * np.abs(carbon[:, :, 1:, :]))


@FAST
@given(economics_grids)
def test_economics_properties(kwargs):
    check_properties(kwargs)


@pytest.mark.slow
@LONG
@given(economics_grids)
def test_economics_properties_long(kwargs):
    check_properties(kwargs)


@FAST
@given(st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=5, unique=True), st.floats(1e-4, 1.0))
def test_dp_slowdown_decreases_with_epsilon(epsilons, prevalence):
    eps = sorted(epsilons)
    r = RESP.solve(base_training_time=10, epsilon=eps, min_subgroup_prevalence=prevalence)
    slowdown = np.asarray(r.dp_slowdown_factor.values)
    assert np.all(np.diff(slowdown) <= 0) and np.all(slowdown > 1)
    assert np.asarray(si(r.effective_training_time, "hour")) == approx(10 * slowdown)


@FAST
@given(st.integers(1, 3), st.integers(1, 4))
def test_chunked_equals_eager(grid_chunk, duration_chunk):
    pytest.importorskip("dask")
    kwargs = dict(fleet=CLUSTERS[:4], grid=GRIDS[:5], duration_days=[1, 7, 30, 90, 365, 1095], mfu=[0.3, 0.6])
    eager = ECO.solve(**kwargs)
    lazy = ECO.solve(chunks={"grid": grid_chunk, "duration_days": duration_chunk}, **kwargs)
    assert lazy.dataset.tco.chunks is not None
    xr.testing.assert_identical(lazy.compute().dataset, eager.dataset)


def test_hourly_cost_is_tco_per_hour_and_per_accelerator():
    """hourly_cost = tco / t; cost_per_accelerator_hour = tco / (t·N): Research_256 (256 H100)
    over 30 days; a zero duration has no rate (None), not a division by zero."""
    fleet = C.Research_256
    r = ECO.solve(fleet=fleet, duration_days=30)
    hours = 30 * 24
    assert r.hourly_cost.to("USD/hour").m == pytest.approx(r.tco.to("USD").m / hours, rel=1e-12)
    per_gpu = r.tco.to("USD").m / (hours * fleet.total_accelerators)
    assert r.cost_per_accelerator_hour.to("USD/hour").m == pytest.approx(per_gpu, rel=1e-12)
    zero = ECO.solve(fleet=fleet, duration_days=0)
    assert zero.hourly_cost is None and zero.cost_per_accelerator_hour is None
