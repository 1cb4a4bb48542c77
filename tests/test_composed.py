"""The user guide's composed questions (seeds 000 "Combining Solvers"), each answered with ONE
grid call per resolver — no Python loop over configurations; the loops below only verify.

* "Should I use A100s or H100s for inference?" — SingleNodeModel over [A100, H100] × batch, then
  EconomicsModel over one-GPU fleets of those GPUs, fed the roofline's MFU: cost per query.
* "Can I serve Llama-70B on 4 H100s within budget?" — ServingModel over one H100 and a 4-H100
  tensor-parallel group × precision × batch, then EconomicsModel over the matching fleets × years.
"""

from __future__ import annotations

import pytest

import mlsysim_vec as ms

H100, A100 = ms.Hardware.Cloud.H100, ms.Hardware.Cloud.A100
SECONDS_PER_DAY = 86_400.0


def one_node_fleet(hardware, gpus: int):
    """``gpus`` accelerators in one server on an NDR InfiniBand fabric."""
    node = ms.Node(
        name=f"{gpus}x {hardware.name} server",
        accelerator=hardware,
        accelerators_per_node=gpus,
        intra_node_bw=hardware.nvlink.bandwidth,
    )
    return ms.Fleet(name=f"{gpus}x {hardware.name}", node=node, count=1, fabric=ms.Systems.Fabrics.InfiniBand_NDR)


def by_hand_tco(hardware, gpus, days, mfu, pue=1.12, price_kwh=0.12, years=3.0):
    """Spec §8.2 with no placement (D12: the US average grid, PUE 1.12; D13: 0.12 USD/kWh)."""
    purchase = hardware.unit_cost.to("USD").m * gpus
    energy_kwh = hardware.tdp.to("W").m * (0.3 + 0.7 * mfu) * gpus * days * 24 / 1000 * pue
    return purchase / years * days / 365 + purchase * 0.05 * days / 365 + energy_kwh * price_kwh


def test_a100_or_h100_for_inference_cost_per_query():
    """SingleNodeModel(ResNet-50, [A100, H100] × batch) then EconomicsModel([1×A100, 1×H100],
    3 years, mfu = the roofline's MFU at each batch): cost per query = TCO / (throughput × 3 y).
    Every point equals the by-hand TCO (spec §8.2) over the scalar roofline's throughput."""
    batches = [1, 8, 32, 128]
    days = 3 * 365
    perf = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=[A100, H100], batch_size=batches)
    fleets = [one_node_fleet(A100, 1), one_node_fleet(H100, 1)]
    names = [f.name for f in fleets]
    on_fleets = {"hardware": "fleet"}
    mfu = perf.dataset["mfu"].rename(on_fleets).assign_coords(fleet=names)
    cost = ms.EconomicsModel().solve(fleet=fleets, duration_days=days, mfu=mfu)
    assert perf.dims == ("hardware", "batch_size") and cost.dims == ("fleet", "batch_size")

    throughput = perf.dataset["throughput"].rename(on_fleets).assign_coords(fleet=names)  # queries/s
    per_query = cost.dataset["tco"] / (throughput * days * SECONDS_PER_DAY)  # USD
    assert per_query.dims == ("fleet", "batch_size")
    cheaper = per_query.idxmin("fleet")
    for j, batch in enumerate(batches):
        for hw, fleet in zip((A100, H100), names):
            one = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=hw, batch_size=batch)
            expected = by_hand_tco(hw, 1, days, one.mfu) / (one.throughput.to("1/s").m * days * SECONDS_PER_DAY)
            assert float(per_query.sel(fleet=fleet, batch_size=batch)) == pytest.approx(expected, rel=1e-12)
        a, h = (float(per_query.sel(fleet=n, batch_size=batch)) for n in names)
        assert cheaper.values[j] == names[int(h < a)]


def tp_group(hardware, n: int):
    """``n`` accelerators as one ideal tensor-parallel device: n× capacity, bandwidth, FLOP/s and
    TDP (communication is not charged: a first-order upper bound on what the group can do)."""
    compute = hardware.compute
    return ms.HardwareNode(
        name=f"{n}x {hardware.name} (TP{n})",
        compute=ms.ComputeCore(
            peak_flops=compute.peak_flops * n, precision_flops={k: v * n for k, v in compute.precision_flops.items()}
        ),
        memory=ms.MemoryHierarchy(capacity=hardware.memory.capacity * n, bandwidth=hardware.memory.bandwidth * n),
        tdp=hardware.tdp * n,
        unit_cost=hardware.unit_cost * n,
        dispatch_tax=hardware.dispatch_tax,
    )


def test_llama70b_on_four_h100s_within_budget():
    """ServingModel(Llama-3.1-70B, [1 H100, 4 H100 as TP4] × [fp16, fp8] × batch [1, 16],
    seq_len 4096), then EconomicsModel([1×H100, 4×H100 fleets], [1, 3] years, mfu 0.5): a
    configuration is "in" when it fits and its TCO stays within 150,000 USD.
    By hand: fp16 weights 141.2 GB > one H100's 85.9 GB (80 GiB), so one H100 serves only at fp8
    with a small KV cache; 4 × 85.9 = 343.6 GB holds the fp16 weights. 4 H100 over 3 years:
    capex 100,000 + maintenance 15,000 + energy 4·700·0.65 W · 26,280 h · 1.12 · 0.12 USD/kWh ≈
    6,429 USD → 121,429 USD < 150,000."""
    if not hasattr(ms, "ServingModel"):
        pytest.skip("ServingModel is not implemented yet (mlsysim_vec.solvers.serving)")
    group = tp_group(H100, 4)
    serving = ms.ServingModel().solve(
        model=ms.Models.Language.Llama3_70B,
        hardware=[H100, group],
        precision=["fp16", "fp8"],
        batch_size=[1, 16],
        seq_len=4096,
        fidelity="first_order",  # the by-hand ITL below is the first-order decode step
    )
    fleets = [one_node_fleet(H100, 1), one_node_fleet(H100, 4)]
    cost = ms.EconomicsModel().solve(fleet=fleets, duration_days=[365, 3 * 365], mfu=0.5)
    assert serving.dims == ("hardware", "precision", "batch_size") and cost.dims == ("fleet", "duration_days")

    fits = serving.dataset["feasible"].rename(hardware="fleet").assign_coords(fleet=[f.name for f in fleets])
    budget_ok = cost.dataset["tco"] <= 150_000.0
    answer = fits & budget_ok  # fleet × precision × batch × years
    assert set(answer.dims) == {"fleet", "precision", "batch_size", "duration_days"}

    weights_fp16 = ms.Models.Language.Llama3_70B.parameters.to("count").m * 2
    assert weights_fp16 > H100.memory.capacity.to("byte").m
    assert not bool(fits.sel(fleet="1x NVIDIA H100", precision="fp16").any())
    assert bool(fits.sel(fleet="4x NVIDIA H100", precision="fp16", batch_size=1))
    tco_4 = float(cost.dataset["tco"].sel(fleet="4x NVIDIA H100", duration_days=3 * 365))
    assert tco_4 == pytest.approx(by_hand_tco(H100, 4, 3 * 365, 0.5), rel=1e-12)
    assert bool(answer.sel(fleet="4x NVIDIA H100", precision="fp16", batch_size=1, duration_days=3 * 365))
    # the group decodes from 4x the bandwidth: ITL = (W + KV)/(4·3.35 TB/s) + 80 layers·0.01 ms
    point = {h.name: serving.dataset.sel(hardware=h.name, precision="fp8", batch_size=1) for h in (H100, group)}
    resident = float(point[group.name]["total_memory_required"])  # W + KV
    assert float(point[group.name]["itl"]) == pytest.approx(resident / (4 * 3.35e12) + 80 * 1e-5, rel=1e-12)
    assert float(point[group.name]["itl"]) < float(point[H100.name]["itl"])


def test_composed_inputs_are_dataarrays_not_loops():
    """The composition passes the first resolver's DataArray straight into the second: the
    coordinates must line up (a mismatch raises, naming the argument)."""
    perf = ms.SingleNodeModel().solve(model=ms.Models.ResNet50, hardware=[A100, H100], batch_size=[1, 8])
    mfu = perf.dataset["mfu"].rename(hardware="fleet")  # still named after the GPUs
    with pytest.raises(ValueError, match="mfu: dimension 'fleet' does not match"):
        ms.EconomicsModel().solve(fleet=[one_node_fleet(A100, 1), one_node_fleet(H100, 1)], duration_days=30, mfu=mfu)
