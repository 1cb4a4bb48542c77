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

    workload_data_rate : demand [GB/s for plain numbers; any bytes/time Quantity, e.g.
        ``19 * ureg("TB/hour")``], >= 0. A rate that is not bytes per time (``1/s``, ``USD/s``)
        raises TypeError (P12).
    hardware : HardwareNode record: ``storage.bandwidth`` and the host ``interconnect.bandwidth``
        (as stored) are the candidate paths; a path counts when set and > 0.

    Equations (``reference/anchor-0.3.0-spec-part2.md`` §4): supply = the slower path (storage on
    a tie; 0 with ``ingestion_bottleneck`` "Unknown" when there is none); utilization =
    demand/supply (∞ when supply is 0); is_stalled = utilization > 1; margin = supply − demand.

    Outputs: is_stalled, utilization, demand_bw, supply_bw, margin [byte/s; GB/s as scalars],
    ingestion_bottleneck.
    """

    ARGS = (Arg("workload_data_rate", unit="GB/s", low=0.0), HARDWARE)

    def _compute(self, g: Grid) -> dict:
        supply, path = dp.ingestion_supply(
            g.field("hardware", "storage_bandwidth"), g.field("hardware", "host_link_bandwidth_raw")
        )
        demand = g["workload_data_rate"]
        utilization = dp.supply_utilization(demand, supply)
        return {
            "is_stalled": utilization > 1.0,
            "utilization": utilization,
            "demand_bw": demand,
            "supply_bw": supply,
            "margin": supply - demand,
            "ingestion_bottleneck": path,
        }


_CPU, _ACCELERATOR = BOTTLENECKS.index("CPU"), BOTTLENECKS.index("Compute")


class TransformationModel(Resolver):
    """Is CPU preprocessing starving my GPU? Preprocessing time against the accelerator step.

    batch_size : samples per step, a whole number >= 1 (P14)
    sample_size_bytes : bytes per raw sample [byte for plain numbers; any bytes Quantity], >= 0
    cpu_throughput : preprocessing rate [GB/s for plain numbers; bytes/time Quantity], > 0 (P14)
    accelerator_step_time : accelerator time per step [ms for plain numbers; time Quantity], >= 0

    Sizes must be bytes and rates bytes per time: counts, parameters or dollars raise TypeError
    (P12). Equations (part 2 §5): ``T_x = B·s/C``; with perfect prefetch the step takes
    ``max(T_x, T_a)``; accelerator_utilization ``T_a/max`` (0 when both are 0); slowdown_factor
    ``max/T_a`` (∞ when T_a = 0); is_bottleneck ``T_x > T_a``.

    Outputs: transform_time [s; ms as scalars], is_bottleneck, accelerator_utilization,
    slowdown_factor, bottleneck ("CPU" when preprocessing binds, else "Compute": the accelerator
    step). The step time itself is the input, echoed as a coordinate.
    """

    ARGS = (
        Arg("batch_size", "integer", low=1),
        Arg("sample_size_bytes", unit="byte", low=0.0),
        Arg("cpu_throughput", unit="GB/s", low=0.0, low_open=True),
        Arg("accelerator_step_time", unit="ms", low=0.0),
    )

    def _compute(self, g: Grid) -> dict:
        t_x = dp.transform_time(g["batch_size"], g["sample_size_bytes"], g["cpu_throughput"])
        t_a = g["accelerator_step_time"]
        utilization, slowdown = dp.overlapped_step(t_x, t_a)
        cpu_binds = t_x > t_a
        return {
            "transform_time": t_x,
            "is_bottleneck": cpu_binds,
            "accelerator_utilization": utilization,
            "slowdown_factor": slowdown,
            "bottleneck": np.where(cpu_binds, _CPU, _ACCELERATOR).astype(np.int8),
        }
