"""Data-pipeline kernels: can storage/I/O feed the accelerator, and can the CPU preprocess fast
enough? (mlsysim 0.3.0's DataModel and TransformationModel; ``docs/equations.md``, section
"Data".)

Pure numpy functions of float arrays in canonical SI units (byte, byte/s, s); they broadcast.
Both are supply-versus-demand bounds: a pipeline stage that delivers ``supply`` bytes/s against
a consumer that needs ``demand`` bytes/s stalls the consumer when demand > supply; a
preprocessing stage overlapped with the accelerator step (perfect prefetching) costs
``max(T_cpu, T_step)`` per step (Murray et al., "tf.data: a machine learning data processing
framework", VLDB 2021, arXiv:2101.12127).

The step functions ``ingestion_step`` and ``transformation_step`` answer one question each and
return their outputs by name.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "INGESTION_PATHS",
    "ingestion_step",
    "transformation_step",
    "ingestion_supply",
    "supply_utilization",
    "transform_time",
    "overlapped_step",
]

#: Codes of the slower ingestion path (``ingestion_bottleneck``): storage device, the
#: accelerator's host interconnect, or none modelled.
INGESTION_PATHS = ("Storage", "Interconnect", "Unknown")
_STORAGE, _INTERCONNECT, _UNKNOWN = range(3)


def ingestion_step(demand, storage_bw, interconnect_bw) -> dict:
    """Is the storage/I/O path the bottleneck? Supply of the slower path against the demand.

    demand : data rate the workload consumes [byte/s]
    storage_bw : bandwidth of the storage device [byte/s], NaN or <= 0 when not modelled
    interconnect_bw : bandwidth of the accelerator's host link [byte/s], NaN or <= 0 when not
        modelled

    Returns ``is_stalled`` (utilization > 1), ``utilization`` (demand/supply, ∞ when nothing
    supplies), ``demand_bw`` [byte/s], ``supply_bw`` [byte/s] (the slower path, 0 when none),
    ``margin`` = supply − demand [byte/s] and ``ingestion_bottleneck`` (a code of
    ``INGESTION_PATHS``).
    """
    supply, path = ingestion_supply(storage_bw, interconnect_bw)
    utilization = supply_utilization(demand, supply)
    return {
        "is_stalled": utilization > 1.0,
        "utilization": utilization,
        "demand_bw": demand,
        "supply_bw": supply,
        "margin": supply - demand,
        "ingestion_bottleneck": path,
    }


def transformation_step(batch_size, sample_bytes, cpu_throughput, accelerator_step_time) -> dict:
    """Is CPU preprocessing starving the accelerator? Preprocessing overlapped with the step.

    batch_size : samples per step [count]
    sample_bytes : bytes of one raw sample [byte]
    cpu_throughput : bytes per second the preprocessing handles [byte/s], > 0
    accelerator_step_time : accelerator time of one step T_a [s]

    Returns ``transform_time`` T_x = B·s/C [s], ``is_bottleneck`` (T_x > T_a),
    ``accelerator_utilization`` T_a/max(T_x, T_a) (0 when both are 0) and ``slowdown_factor``
    max(T_x, T_a)/T_a (∞ when T_a = 0).
    """
    t_x = transform_time(batch_size, sample_bytes, cpu_throughput)
    utilization, slowdown = overlapped_step(t_x, accelerator_step_time)
    return {
        "transform_time": t_x,
        "is_bottleneck": t_x > accelerator_step_time,
        "accelerator_utilization": utilization,
        "slowdown_factor": slowdown,
    }


def ingestion_supply(storage_bw, interconnect_bw):
    """Bandwidth that can feed the accelerator [byte/s] and which path bounds it (code).

    A path counts when its bandwidth is set (not NaN) and > 0. The supply is the slower of the
    paths that count (storage wins a tie); 0 when neither counts (code ``Unknown``).
    """
    has_storage = storage_bw > 0  # False for NaN
    has_link = interconnect_bw > 0
    storage = np.where(has_storage, storage_bw, np.inf)
    link = np.where(has_link, interconnect_bw, np.inf)
    storage_binds = has_storage & (storage <= link)
    supply = np.where(has_storage | has_link, np.minimum(storage, link), 0.0)
    code = np.where(storage_binds, _STORAGE, np.where(has_link, _INTERCONNECT, _UNKNOWN)).astype(np.int8)
    return supply, code


def supply_utilization(demand, supply):
    """demand / supply (∞ when nothing can supply, even for zero demand, as mlsysim 0.3.0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(supply > 0, demand / np.where(supply > 0, supply, 1.0), np.inf)


def transform_time(batch_size, sample_bytes, cpu_throughput):
    """CPU time to preprocess one batch [s] = B · bytes per sample / CPU throughput [byte/s]."""
    return batch_size * sample_bytes / cpu_throughput


def overlapped_step(t_transform, t_step):
    """Preprocessing overlapped with the accelerator step (perfect prefetch).

    The step takes wall = max(T_x, T_a) [s]. Returns ``(accelerator_utilization, slowdown)``:
    T_a/wall (0 when wall = 0) and wall/T_a (∞ when T_a = 0).
    """
    wall = np.maximum(t_transform, t_step)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilization = np.where(wall > 0, t_step / np.where(wall > 0, wall, 1.0), 0.0)
        slowdown = np.where(t_step > 0, wall / np.where(t_step > 0, t_step, 1.0), np.inf)
    return utilization, slowdown
