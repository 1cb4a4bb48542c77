"""Tier 1 of the step functions behind the data, algorithm, ops and analysis resolvers, called
directly (no grid, no records) with hand-derived numbers; each docstring gives the derivation.

Sources of the equations: ``docs/equations.md`` (sections "Data", "Scaling and compression",
"Economics and sustainability", "Responsible engineering", "Sensitivity and synthesis",
"Roofline"); Hoffmann et al. 2022 (arXiv:2203.15556) for the Chinchilla allocation, Patterson
et al. 2021 (arXiv:2104.10350) for operational carbon, Abadi et al. 2016
(doi:10.1145/2976749.2978318) for DP-SGD, Williams et al. 2009 (doi:10.1145/1498765.1498785) for
the roofline. Every quantity is in SI: s, byte, byte/s, FLOP, FLOP/s, W, J, USD, USD/J, kg/J, L/J.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlsysim_vec.physics import algorithm as alg
from mlsysim_vec.physics import data as dp
from mlsysim_vec.physics import economics as eco
from mlsysim_vec.physics import synthesis as syn

NAN = float("nan")
KWH = 3.6e6  # J per kWh
DAY = 86_400.0  # s
YEAR = 365 * DAY  # s, the 365-day year of the amortisation


def approx(x, rel=1e-12):
    return pytest.approx(x, rel=rel)


# ---- Data ------------------------------------------------------------------------------------


def test_ingestion_step_by_hand():
    """Storage 7 GB/s and host link 64 GB/s against 5 GB/s: the slower path (storage) supplies
    7 GB/s; utilization 5/7 = 0.714, margin 2 GB/s, not stalled."""
    out = dp.ingestion_step(5e9, 7e9, 64e9)
    assert out["supply_bw"] == 7e9 and out["demand_bw"] == 5e9 and out["margin"] == 2e9
    assert out["utilization"] == approx(5 / 7) and not out["is_stalled"]
    assert dp.INGESTION_PATHS[int(out["ingestion_bottleneck"])] == "Storage"


def test_ingestion_step_broadcasts_paths_and_demands():
    """Demands (2, 1) × devices (3,): (7 GB/s storage, 64 GB/s link) → storage 7;
    (no storage, 32 GB/s link) → link 32; (storage 0, no link) → nothing counts: supply 0,
    utilization ∞, stalled even at any demand. 20 GB/s over 7 GB/s is 2.857 (stalled)."""
    out = dp.ingestion_step(np.array([[5e9], [20e9]]), np.array([7e9, NAN, 0.0]), np.array([64e9, 32e9, NAN]))
    assert out["supply_bw"].shape == (3,) and out["utilization"].shape == (2, 3)
    assert out["supply_bw"].tolist() == [7e9, 32e9, 0.0]
    assert [dp.INGESTION_PATHS[c] for c in out["ingestion_bottleneck"]] == ["Storage", "Interconnect", "Unknown"]
    np.testing.assert_allclose(out["utilization"], [[5 / 7, 5 / 32, np.inf], [20 / 7, 20 / 32, np.inf]], rtol=1e-12)
    assert out["is_stalled"].tolist() == [[False, False, True], [True, False, True]]
    assert out["margin"][1].tolist() == [-13e9, 12e9, -20e9]


def test_transformation_step_by_hand():
    """B = 32 samples of 100 kB at 1 GB/s: T_x = 32·1e5/1e9 = 3.2 ms. Against T_a = 100 ms the
    accelerator binds (utilization 1, slowdown 1); against 1 ms the CPU binds: wall 3.2 ms,
    utilization 1/3.2 = 0.3125, slowdown 3.2; against 0 ms: utilization 0, slowdown ∞."""
    out = dp.transformation_step(32, 1e5, 1e9, np.array([0.1, 1e-3, 0.0]))
    assert out["transform_time"] == approx(3.2e-3)
    assert out["is_bottleneck"].tolist() == [False, True, True]
    np.testing.assert_allclose(out["accelerator_utilization"], [1.0, 0.3125, 0.0], rtol=1e-12)
    np.testing.assert_allclose(out["slowdown_factor"], [1.0, 3.2, np.inf], rtol=1e-12)


def test_transformation_step_nothing_to_do():
    """No bytes and no step: wall 0 → utilization 0 (not NaN), slowdown ∞, not a bottleneck."""
    out = dp.transformation_step(8, 0.0, 1e9, 0.0)
    assert out["transform_time"] == 0.0 and not out["is_bottleneck"]
    assert out["accelerator_utilization"] == 0.0 and out["slowdown_factor"] == math.inf


# ---- Scaling and compression ---------------------------------------------------------------------


def test_scaling_step_compute_optimal_by_hand():
    """Hoffmann et al. 2022: C = 6·N·D with D = 20·N, so N = √(C/120). C = 1.2e23 FLOP →
    N = √1e21 = 3.1623e10, D = 6.3246e11, D/N = 20; and 6·N·D gives C back."""
    out = alg.scaling_step(1.2e23)
    n, d = out["optimal_parameters"], out["optimal_tokens"]
    assert n == approx(math.sqrt(1e21)) and d == approx(20 * math.sqrt(1e21))
    assert out["tokens_per_parameter"] == approx(20.0) and out["compute_budget_flops"] == 1.2e23
    assert 6 * n * d == approx(1.2e23)


def test_scaling_step_time_budgets():
    """One device-day at 1 PFLOP/s and MFU 0.5: C = 86,400 s·1e15·0.5 = 4.32e19 FLOP →
    N = √(4.32e19/120) = √3.6e17 = 6e8, D = 1.2e10. Without a device: the H100 reference,
    1000 days → 1000·86,400·989e12·0.40 = 3.418e22 FLOP."""
    out = alg.scaling_step(accelerator_time=DAY, peak_flops=1e15, mfu=0.5)
    assert out["compute_budget_flops"] == approx(4.32e19)
    assert out["optimal_parameters"] == approx(6e8) and out["optimal_tokens"] == approx(1.2e10)
    ref = alg.scaling_step(accelerator_time=1000 * DAY)
    assert ref["compute_budget_flops"] == approx(1000 * DAY * 989e12 * 0.4)
    with pytest.raises(TypeError, match="compute_budget or accelerator_time"):
        alg.scaling_step()


def test_scaling_step_pinned_sizes_broadcast():
    """Budgets (3, 1) × targets (2,) with NaN (compute-optimal) and 1e10: a pinned N takes
    D = C/(6·N): C = 1.2e23 → 1.2e23/6e10 = 2e12 tokens, 200 per parameter. A zero budget
    gives a zero model and 0 tokens per parameter (not NaN)."""
    budgets = np.array([[0.0], [1.2e21], [1.2e23]])
    out = alg.scaling_step(budgets, target_parameters=np.array([NAN, 1e10]))
    assert out["optimal_parameters"].shape == (3, 2)
    assert out["optimal_parameters"][:, 1].tolist() == [1e10, 1e10, 1e10]
    assert out["optimal_parameters"][:, 0] == approx(np.sqrt(budgets[:, 0] / 120))
    assert out["optimal_tokens"][2, 1] == approx(2e12) and out["tokens_per_parameter"][2, 1] == approx(200.0)
    assert out["tokens_per_parameter"][0].tolist() == [0.0, 0.0]
    assert out["tokens_per_parameter"][1:, 0] == approx([20.0, 20.0])


def test_tokens_per_parameter_scalar_and_missing_sizes():
    """D/N elementwise; 0 where N is 0 or NaN, for scalars and arrays alike."""
    assert alg.tokens_per_parameter(2.0, 10.0) == 5.0 and alg.tokens_per_parameter(0.0, 10.0) == 0.0
    assert alg.tokens_per_parameter(np.array([2.0, 0.0, NAN]), 10.0).tolist() == [5.0, 0.0, 0.0]


MODEL_1B = dict(parameters=1e9, model_size=NAN, weights_rule=0.0, baseline_bytes=4.0, baseline_is_16bit=False)
DEVICE = dict(peak_flops=1e14, memory_bandwidth=1e12)


def test_compression_step_memory_bound_quantization():
    """1e9 parameters at fp32: W = 4 GB. 2 GFLOP at 100 TFLOP/s = 20 µs < 4 GB at 1 TB/s = 4 ms:
    memory-bound, so 8 bits → ratio 8·4/8 = 4, speed-up 4, 1 GB, savings 0.75, delta −0.002."""
    out = alg.compression_step(
        **MODEL_1B,
        **DEVICE,
        ops=2e9,
        target_peaks={8: 2e14},
        pruning=False,
        target_bits=8.0,
        sparsity=0.0,
        sparsity_type=0,
    )
    assert out["original_size"] == 4e9 and out["compressed_size"] == 1e9 and out["compression_ratio"] == 4.0
    assert out["inference_speedup"] == 4.0 and out["memory_savings_fraction"] == 0.75
    assert out["estimated_accuracy_delta"] == -0.002 and out["memory_bound"] and not out["peak_flops_fallback"]


def test_compression_step_compute_bound_and_pruning():
    """1 TFLOP at 100 TFLOP/s = 10 ms > 4 ms: compute-bound. 8 bits → min(200/100, 4) = 2; 16
    bits on a device without an fp16 peak → 1 and the fallback flag (ratio 2, delta 0).
    Pruning s = 0.75 structured → ratio 1/(1 − 0.75) = 4, speed-up 4, delta −0.01·e^{1.5} =
    −0.0448169; N:M at s = 0.5 → ratio 2, speed-up 2, delta −0.001."""
    quant = alg.compression_step(
        **MODEL_1B,
        **DEVICE,
        ops=1e12,
        target_peaks={8: 2e14, 16: NAN},
        pruning=False,
        target_bits=np.array([8.0, 16.0]),
        sparsity=0.0,
        sparsity_type=0,
    )
    assert not quant["memory_bound"]
    assert quant["inference_speedup"].tolist() == [2.0, 1.0] and quant["compression_ratio"].tolist() == [4.0, 2.0]
    assert quant["peak_flops_fallback"].tolist() == [False, True]
    assert quant["estimated_accuracy_delta"].tolist() == [-0.002, 0.0]
    structured, nm = alg.SPARSITY_TYPES.index("structured"), alg.SPARSITY_TYPES.index("n_m")
    pruned = alg.compression_step(
        **MODEL_1B,
        **DEVICE,
        ops=1e12,
        target_peaks={},
        pruning=True,
        target_bits=8.0,
        sparsity=np.array([0.75, 0.5]),
        sparsity_type=np.array([structured, nm]),
    )
    assert pruned["compression_ratio"].tolist() == [4.0, 2.0] and pruned["inference_speedup"].tolist() == [4.0, 2.0]
    assert pruned["estimated_accuracy_delta"] == approx([-0.01 * math.exp(1.5), -0.001])
    assert not np.any(pruned["peak_flops_fallback"])  # pruning never falls back


# ---- Economics and sustainability, responsible engineering ----------------------------------------

FLEET_256 = dict(
    tdp=700.0,
    devices=256.0,
    mfu=1.0,
    duration=30 * DAY,
    carbon_intensity=0.429 / KWH,
    pue=1.12,
    wue=1.8 / KWH,
)


def test_sustainability_step_by_hand():
    """256 accelerators of 700 W at MFU 1 for 30 days: E_IT = 700·256·720 h = 129,024 kWh;
    PUE 1.12 → 144,506.88 kWh; × 0.429 kg/kWh = 61,993.452 kg (Patterson et al. 2021: facility
    energy × grid intensity) plus 150 kg × 256 = 38,400 kg embodied; water × 1.8 L/kWh =
    260,112.384 L."""
    out = eco.sustainability_step(**FLEET_256, embodied_per_device=150.0)
    assert out["it_energy"] == approx(129_024 * KWH) and out["total_energy"] == approx(144_506.88 * KWH)
    assert out["embodied_carbon"] == 38_400.0
    assert out["carbon_footprint"] == approx(61_993.45152 + 38_400.0)
    assert out["water_usage"] == approx(260_112.384) and out["pue"] == 1.12


def test_sustainability_step_power_model_broadcasts():
    """P = TDP·(0.3 + 0.7·mfu): mfu (0, 0.5, 1) → 210, 455, 700 W; a missing TDP is 700 W; no
    embodied carbon adds nothing."""
    out = eco.sustainability_step(**dict(FLEET_256, tdp=NAN, mfu=np.array([0.0, 0.5, 1.0]), duration=1.0))
    np.testing.assert_allclose(out["it_energy"], np.array([210.0, 455.0, 700.0]) * 256, rtol=1e-12)
    np.testing.assert_allclose(out["carbon_footprint"], out["total_energy"] * 0.429 / KWH, rtol=1e-12)


def test_tco_step_by_hand():
    """The same fleet at 25,000 USD per accelerator over 3 years: CapEx 6.4 M USD; capex
    6.4e6/3·30/365 = 175,342.47; maintenance 0.05·6.4e6·30/365 = 26,301.37; energy
    144,506.88 kWh × 0.12 USD/kWh (the default price) = 17,340.83; TCO 218,984.66 USD."""
    out = eco.tco_step(
        **FLEET_256,
        embodied_per_device=0.0,
        unit_cost=25_000.0,
        infrastructure_multiplier=1.0,
        amortization_period=3 * YEAR,
    )
    assert out["capex"] == approx(6.4e6 / 3 * 30 / 365)
    assert out["opex_maintenance"] == approx(6.4e6 * 0.05 * 30 / 365)
    assert out["opex_energy"] == approx(144_506.88 * 0.12)
    assert out["total_opex"] == approx(144_506.88 * 0.12 + 6.4e6 * 0.05 * 30 / 365)
    assert out["tco"] == approx(218_984.66121643837)
    assert out["electricity_price"] == approx(0.12 / KWH) and out["it_energy"] == approx(129_024 * KWH)


def test_tco_step_price_chain_and_missing_cost():
    """The first price that is not NaN applies (docs/differences.md, D13): (NaN, 0.20) → 0.20,
    (0.08, 0.20) → 0.08, elementwise; nothing → 0.12 USD/kWh. No unit cost → no CapEx."""
    prices = (np.array([NAN, 0.08 / KWH]), 0.20 / KWH)
    out = eco.tco_step(
        **FLEET_256,
        embodied_per_device=0.0,
        unit_cost=NAN,
        infrastructure_multiplier=1.5,
        amortization_period=3 * YEAR,
        prices=prices,
    )
    np.testing.assert_allclose(out["electricity_price"] * KWH, [0.20, 0.08], rtol=1e-12)
    np.testing.assert_allclose(out["opex_energy"], [144_506.88 * 0.20, 144_506.88 * 0.08], rtol=1e-12)
    assert out["capex"] == 0.0 and out["opex_maintenance"] == 0.0


def test_responsible_step_by_hand():
    """Abadi et al. 2016 (first-order): slowdown 1 + 2/ε. ε = 1 → 3, 10 h → 30 h; ε = 0.001 is
    read as 0.01 → 201; prevalence 0.01 → 100× the data, 1e-9 read as 1e-6 → 1e6."""
    out = eco.responsible_step(10 * 3600.0, np.array([1.0, 0.001]), np.array([0.01, 1e-9]))
    assert out["dp_slowdown_factor"].tolist() == [3.0, 201.0]
    assert out["privacy_cost_ratio"].tolist() == [3.0, 201.0]
    assert out["effective_training_time"].tolist() == [30 * 3600.0, 201 * 36000.0]
    assert out["additional_data_requirement"] == approx([100.0, 1e6])
    assert out["fairness_data_ratio"] == approx([100.0, 1e6])


# ---- Sensitivity and synthesis ------------------------------------------------------------------

#: Llama-3-8B-like at fp16: 8.03e9 parameters → W = 16.06 GB; 16.06 GFLOP per sample; 32 layers.
LLAMA = dict(
    parameters=8.03e9,
    model_size=NAN,
    weights_rule=0.0,
    bytes_per_element=2.0,
    is_16bit=True,
    ops_per_sample=16.06e9,
    layers=32.0,
)
#: H100-like: 989 TFLOP/s, 3.35 TB/s, 80 GB, no SRAM or flash tier, 0.01 ms dispatch tax.
H100 = dict(
    peak_flops=989e12,
    memory_bandwidth=3.35e12,
    memory_capacity=80e9,
    sram_capacity=NAN,
    sram_bandwidth=NAN,
    flash_bandwidth=NAN,
    host_link_bandwidth=NAN,
    dispatch_tax=1e-5,
)


def test_inference_overhead_by_hand():
    """O = dispatch tax + L·0.01 ms: 0.01 + 32·0.01 = 0.33 ms; a model without layers counts one."""
    assert syn.inference_overhead(1e-5, 32.0) == approx(3.3e-4)
    assert syn.inference_overhead(1e-5, np.array([NAN, 2.0])).tolist() == [approx(2e-5), approx(3e-5)]


def test_sensitivity_step_by_hand():
    """Batch 1, η = 0.5, r = 0.1: traffic 1.1 W = 17.666 GB → T_m = 17.666e9/3.35e12 = 5.27343 ms;
    T_c = 16.06e9/(989e12·0.5) = 0.0325 ms; O = 0.33 ms; T = T_m + O = 5.603433 ms. Bandwidth
    ×1.1: (T_m/1.1 + O − T)/T = −0.0855552, elasticity −0.855552; FLOP/s and capacity change
    nothing (0). binding: memory_bandwidth; memory-bound; the weights fit."""
    out = syn.sensitivity_step(
        **LLAMA, **H100, batch_size=1.0, efficiency=0.5, activation_traffic_ratio=0.1, perturbation=0.1
    )
    t_m, o = 16.06e9 * 1.1 / 3.35e12, 3.3e-4
    t0 = t_m + o
    assert out["baseline_latency"] == approx(t0)
    assert out["sensitivity_memory_bandwidth"] == approx((t_m / 1.1 + o - t0) / t0)
    assert out["sensitivity_memory_bandwidth"] == approx(-0.08555523000293008)
    assert out["elasticity_memory_bandwidth"] == approx(-0.8555523000293008)
    assert out["sensitivity_peak_flops"] == 0.0 and out["sensitivity_memory_capacity"] == 0.0
    assert syn.SENSITIVITY_LEVERS[int(out["binding_constraint"])] == "memory_bandwidth"
    assert out["memory_bound"] and out["feasible"]


def test_sensitivity_step_broadcasts_perturbations_and_capacity():
    """Perturbations (0.1, 0.2, 0) × capacities (80 GB, 10 GB): at 0 the changes are 0 and the
    elasticities NaN; ×1.2 bandwidth → (T_m/1.2 + O − T)/T. With 10 GB the 16.06 GB of
    weights do not fit: infeasible and memory_capacity binds."""
    out = syn.sensitivity_step(
        **LLAMA,
        **dict(H100, memory_capacity=np.array([80e9, 10e9])),
        batch_size=1.0,
        efficiency=0.5,
        activation_traffic_ratio=0.1,
        perturbation=np.array([[0.1], [0.2], [0.0]]),
    )
    assert out["baseline_latency"].shape == (3, 2)
    t_m, o = 16.06e9 * 1.1 / 3.35e12, 3.3e-4
    assert out["sensitivity_memory_bandwidth"][1, 0] == approx((t_m / 1.2 + o - (t_m + o)) / (t_m + o))
    assert out["sensitivity_memory_bandwidth"][2].tolist() == [0.0, 0.0]
    assert np.isnan(out["elasticity_memory_bandwidth"][2]).all()
    assert out["feasible"].tolist() == [[True, False]] * 3
    assert [syn.SENSITIVITY_LEVERS[c] for c in out["binding_constraint"][0]] == ["memory_bandwidth", "memory_capacity"]


def test_synthesis_step_by_hand():
    """T = 20 ms, η = 0.5, batch 1: mlsysim's inversion BW = W/T = 16.06e9/0.02 = 803 GB/s,
    F = ops/(T·η) = 1.606 TFLOP/s, ratio 2 FLOP/byte. Exact: τ = T − O = 19.67 ms,
    F = 16.06e9/(0.5·0.01967) = 1.63294 TFLOP/s, BW = 17.666e9/0.01967 = 898.12 GB/s, and the
    forward roofline of that device, max(ops/(F·η), traffic/BW) + O, is T again."""
    out = syn.synthesis_step(
        **LLAMA,
        batch_size=1.0,
        target_latency=0.02,
        efficiency=0.5,
        activation_traffic_ratio=0.1,
        dispatch_tax=1e-5,
    )
    assert out["required_bw"] == approx(8.03e11) and out["required_flops"] == approx(1.606e12)
    assert out["compute_memory_ratio"] == approx(2.0) and out["total_ops"] == 16.06e9
    assert out["required_memory"] == 16.06e9 and out["model_size"] == 16.06e9
    assert out["latency_overhead"] == approx(3.3e-4) and out["feasible"]
    tau = 0.02 - 3.3e-4
    assert out["required_flops_exact"] == approx(16.06e9 / (0.5 * tau))
    assert out["required_bw_exact"] == approx(17.666e9 / tau)
    forward = max(16.06e9 / (out["required_flops_exact"] * 0.5), 17.666e9 / out["required_bw_exact"]) + 3.3e-4
    assert forward == approx(0.02)


def test_synthesis_step_unmeetable_targets_broadcast():
    """Targets (20 ms, 0.2 ms) with O = 0.33 ms: the second is below the overhead, so no device
    meets it: both exact rates ∞ and infeasible; mlsysim's rates stay finite (W/T)."""
    out = syn.synthesis_step(
        **LLAMA,
        batch_size=1.0,
        target_latency=np.array([0.02, 2e-4]),
        efficiency=0.5,
        activation_traffic_ratio=0.1,
        dispatch_tax=1e-5,
    )
    assert out["feasible"].tolist() == [True, False]
    assert out["required_bw_exact"][1] == math.inf and out["required_flops_exact"][1] == math.inf
    assert out["required_bw"][1] == approx(16.06e9 / 2e-4)


# ---- select_by_code: the lookup every choice argument goes through ---------------------------
def test_select_by_code_picks_per_point_and_computes_only_used_columns():
    from mlsysim_vec.physics.constants import select_by_code

    calls = []

    def column(k, value):
        def make():
            calls.append(k)
            return value

        return make

    columns = (column(0, np.array([1.0, 2.0, 3.0])), column(1, 10.0), column(2, -1.0))
    code = np.array([1, 0, 1])
    np.testing.assert_array_equal(select_by_code(code, columns), [10.0, 2.0, 10.0])
    assert sorted(calls) == [0, 1]  # column 2 is selected by no point: never computed
    calls.clear()
    assert select_by_code(np.int64(2), columns) == -1.0 and calls == [2]  # a scalar code: its column only
    assert np.isnan(select_by_code(5, columns)) and np.isnan(select_by_code(np.array([7]), columns))[0]
    # plain columns (no functions) give the same answers
    np.testing.assert_array_equal(select_by_code(code, ([1.0, 2.0, 3.0], 10.0, -1.0)), [10.0, 2.0, 10.0])
    assert select_by_code(0.0, (4.0, 5.0)) == 4.0 and np.isnan(select_by_code(0.5, (4.0, 5.0)))
