"""The user guide's fleet examples (shared/seeds/000_*.txt) run with only the import changed.

Expected strings are mlsysim 0.3.0's printed values (``reference/anchor-0.3.0-spec.md`` §12.6,
§12.7): no docs/differences.md entry changes these two examples (the distributed one has GA = 1, a dense
model, ``batch/dp`` = 2048/256 exact and ``topology_override`` unset, so D7 leaves every number as
it is; its 16 microbatches on a local batch of 8 are flagged, not rejected).
"""

from __future__ import annotations

import pytest

import mlsysim_vec as mlsysim
from mlsysim_vec import DistributedModel, MoERoutingModel, SparseTransformerWorkload, Systems, ureg


@pytest.fixture(autouse=True)
def _first_order():
    """The numbers asserted here are mlsysim 0.3.0's (its first-order physics): pinned with
    ``set_options``, whatever the default fidelity is (the default is "refined")."""
    with mlsysim.set_options(fidelity="first_order"):
        yield


def test_distributed_training_at_scale_example(capsys):
    dist = DistributedModel()
    result = dist.solve(
        model=mlsysim.Models.Language.Llama3_70B,
        fleet=Systems.Clusters.Frontier_8K,
        batch_size=2048,
        tp_size=8,
        pp_size=4,
        microbatch_count=16,
    )
    print(f"Scaling efficiency: {result.scaling_efficiency:.1%}")
    print(f"Bubble fraction: {result.bubble_fraction:.1%}")
    print(f"DP comm latency: {result.dp_communication_latency.to('ms'):~.2f}")
    out = capsys.readouterr().out
    # reference: scaling_efficiency 0.5609825105855499, bubble_fraction 3/19, dp 0.178360546875 s
    assert out == "Scaling efficiency: 56.1%\nBubble fraction: 15.8%\nDP comm latency: 178.36 ms\n"
    assert result.microbatches_exceed_local_batch is True  # 16 microbatches of 8 samples (D7)
    assert result.feasible is True and result.dp_degree == 256


def test_moe_routing_imbalance_example(capsys):
    moe = SparseTransformerWorkload(
        name="Toy-MoE-64B",
        architecture="Sparse Transformer",
        parameters=64e9 * ureg.count,
        active_parameters=8e9 * ureg.count,
        experts=8,
        active_experts_per_token=2,
        layers=32,
        hidden_dim=4096,
        heads=32,
    )
    routing = MoERoutingModel().solve(
        model=moe,
        batch_size=4,
        seq_len=2048,
        ep_size=8,
        routing_imbalance_factor=1.25,
        fleet=Systems.Clusters.Research_256,
    )
    print(f"Active experts: {routing.effective_active_experts:.2f}")
    print(f"Routed bytes: {routing.token_dispatch_bytes:~.2f}")
    print(f"All-to-all: {routing.all_to_all_latency:~.2f}")
    out = capsys.readouterr().out
    # reference: 2.5 experts, 146.80064 MB, 12.0940512 ms
    assert out == "Active experts: 2.50\nRouted bytes: 146.80 MB\nAll-to-all: 12.09 ms\n"
