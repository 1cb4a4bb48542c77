"""Data domain: is the input pipeline the bottleneck? ``DataModel`` (storage/I/O supply versus
the workload's data rate) and ``TransformationModel`` (CPU preprocessing versus the accelerator
step). Thin facades over ``physics.data``.
"""

from __future__ import annotations

import numpy as np

from ..grid import Arg, Grid
from ..physics import data as dp
from ..variables import BOTTLENECKS
from .base import HARDWARE, Resolver

__all__ = ["DataModel", "TransformationModel"]


class DataModel(Resolver):
    """Is my storage/IO the bottleneck? Ingestion supply against the workload's data rate.

    The candidate ingestion paths are the hardware's storage bandwidth and its host
    interconnect bandwidth (as stored); a path counts when it is set and positive. A data rate
    must be bytes per time: a rate in ``1/s`` or ``USD/s`` raises ``TypeError``
    (docs/differences.md, "Also different, by design of a grid tool": units).

    Notes
    -----
    With ``S`` the bandwidth of the slower path that counts (storage wins a tie; ``S = 0`` and
    ``ingestion_bottleneck`` "Unknown" when none counts) and ``D`` the workload's data rate::

        utilization = D / S        (inf when S = 0)
        is_stalled  = utilization > 1
        margin      = S - D

    A producer that delivers less than its consumer needs throttles it to the producer's rate.
    See ``docs/equations.md``, section "Data".

    References
    ----------
    Murray, D. G., Simsa, J., Klimovic, A., Indyk, I. (2021). tf.data: a machine learning data
    processing framework. Proc. VLDB Endowment 14(12). arXiv:2101.12127.
    """

    ARGS = (Arg("workload_data_rate", unit="GB/s", low=0.0), HARDWARE)
    OUTPUTS = ("is_stalled", "utilization", "demand_bw", "supply_bw", "margin", "ingestion_bottleneck")

    def _compute(self, g: Grid) -> dict:
        return dp.ingestion_step(
            g["workload_data_rate"],
            g.field("hardware", "storage_bandwidth"),
            g.field("hardware", "host_link_bandwidth_raw"),
        )


_CPU, _ACCELERATOR = BOTTLENECKS.index("CPU"), BOTTLENECKS.index("Compute")


class TransformationModel(Resolver):
    """Is CPU preprocessing starving my GPU? Preprocessing time against the accelerator step.

    The CPU preprocesses the next batch while the accelerator computes the current one
    (perfect prefetch), so a step takes the longer of the two. Sizes must be bytes and rates
    bytes per time: counts, parameters or dollars raise ``TypeError``. The accelerator step
    time is an input, echoed as a coordinate.

    Notes
    -----
    With ``B`` samples of ``s`` bytes, CPU throughput ``C`` and accelerator step ``T_a``::

        T_x = B s / C                               (transform_time)
        T   = max(T_x, T_a)                         (perfect prefetch)
        accelerator_utilization = T_a / T           (0 when T = 0)
        slowdown_factor         = T / T_a           (inf when T_a = 0)
        is_bottleneck           = T_x > T_a

    ``bottleneck`` is "CPU" when preprocessing binds, else "Compute" (the accelerator step).
    See ``docs/equations.md``, section "Data".

    References
    ----------
    Murray, D. G., Simsa, J., Klimovic, A., Indyk, I. (2021). tf.data: a machine learning data
    processing framework. Proc. VLDB Endowment 14(12). arXiv:2101.12127.
    """

    ARGS = (
        Arg("batch_size", "integer", low=1),
        Arg("sample_size_bytes", unit="byte", low=0.0),
        Arg("cpu_throughput", unit="GB/s", low=0.0, low_open=True),
        Arg("accelerator_step_time", unit="ms", low=0.0),
    )
    OUTPUTS = ("transform_time", "is_bottleneck", "accelerator_utilization", "slowdown_factor", "bottleneck")

    def _compute(self, g: Grid) -> dict:
        out = dp.transformation_step(
            g["batch_size"], g["sample_size_bytes"], g["cpu_throughput"], g["accelerator_step_time"]
        )
        out["bottleneck"] = np.where(out["is_bottleneck"], _CPU, _ACCELERATOR).astype(np.int8)
        return out
