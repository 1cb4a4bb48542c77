"""The user guides' code examples (shared/seeds) run with only the import changed."""

from __future__ import annotations

import pytest

import mlsysim_vec as mlsysim
from mlsysim_vec import SingleNodeModel, TrainingMemoryModel


@pytest.fixture(autouse=True)
def _first_order():
    """The numbers asserted here are mlsysim 0.3.0's (its first-order physics): pinned with
    ``set_options``, whatever the default fidelity is (the default is "refined")."""
    with mlsysim.set_options(fidelity="first_order"):
        yield


def test_single_node_roofline_example(capsys):
    solver = SingleNodeModel()
    profile = solver.solve(model=mlsysim.Models.ResNet50, hardware=mlsysim.Hardware.Cloud.A100, batch_size=1)
    print(f"Bottleneck: {profile.bottleneck}")  # → Memory
    print(f"Latency: {profile.latency.to('ms'):~.2f}")
    print(f"MFU: {profile.mfu:.1%}")
    out = capsys.readouterr().out
    # mlsysim 0.3.0 prints Compute (the guide's "→ Memory" comment is from 0.1.1; spec §12.8)
    assert out == "Bottleneck: Compute\nLatency: 0.57 ms\nMFU: 4.6%\n"


def test_training_memory_example(capsys):
    memory = TrainingMemoryModel().solve(
        model=mlsysim.Models.Language.Llama3_8B,
        hardware=mlsysim.Hardware.Cloud.H100,
        batch_size=8,
        seq_len=2048,
        zero_stage=2,
        dp_size=8,
    )
    print(f"Total: {memory.total_memory:~.2f}")
    print(f"Weights: {memory.weights:~.2f}")
    print(f"Optimizer: {memory.optimizer_state:~.2f}")
    print(f"Activations: {memory.activations:~.2f}")
    print(f"Fits: {memory.feasible}")
    out = capsys.readouterr().out
    assert out == "Total: 39.34 GB\nWeights: 16.06 GB\nOptimizer: 12.04 GB\nActivations: 9.13 GB\nFits: True\n"


def test_parameter_sweep_example(capsys):
    solver = SingleNodeModel()
    targets = [
        mlsysim.Hardware.Cloud.T4,
        mlsysim.Hardware.Cloud.A100,
        mlsysim.Hardware.Cloud.H100,
        mlsysim.Hardware.Cloud.B200,
    ]
    for hw in targets:
        p = solver.solve(model=mlsysim.Models.ResNet50, hardware=hw, batch_size=32)
        print(f"{hw.name:20s} {p.latency.to('ms'):>8.2f~} {p.bottleneck}")
    lines = capsys.readouterr().out.splitlines()
    # reference §12.2: 8.6038, 2.1971, 1.0406, 0.7412 ms, all compute-bound
    assert lines == [
        "NVIDIA T4                8.60 ms Compute",
        "NVIDIA A100              2.20 ms Compute",
        "NVIDIA H100              1.04 ms Compute",
        "NVIDIA B200              0.74 ms Compute",
    ]


def test_custom_solver_example(capsys):
    from mlsysim_vec.hardware.types import HardwareNode

    class PowerEfficiencyModel:
        """Compare hardware on performance-per-watt."""

        def solve(self, hardware: HardwareNode) -> dict:
            if hardware.tdp is None:
                raise ValueError(f"{hardware.name}: no TDP specified")
            flops_per_watt = hardware.compute.peak_flops / hardware.tdp
            return {
                "device": hardware.name,
                "peak_flops": hardware.compute.peak_flops,
                "tdp": hardware.tdp,
                "flops_per_watt": flops_per_watt.to("TFLOPs/s/kW"),
            }

    # Use it
    solver = PowerEfficiencyModel()
    for hw in [
        mlsysim.Hardware.Cloud.H100,
        mlsysim.Hardware.Cloud.A100,
        mlsysim.Hardware.Cloud.T4,
        mlsysim.Hardware.Edge.JetsonOrinNX,
    ]:
        r = solver.solve(hw)
        print(f"{r['device']:25s} {r['flops_per_watt']:>10.1f~}")
    lines = capsys.readouterr().out.splitlines()
    # 989 TFLOP/s / 0.7 kW = 1412.9; 312/0.4 = 780; 65/0.07 = 928.6; 25/0.025 = 1000
    values = [float(line[25:].split()[0]) for line in lines]
    assert values == [1412.9, 780.0, 928.6, 1000.0]
    assert lines[0].startswith("NVIDIA H100") and lines[0].endswith("TFLOPs / kW / s")
