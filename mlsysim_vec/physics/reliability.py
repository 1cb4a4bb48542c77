"""Reliability and operations kernels: failures, checkpointing, goodput, the job queue.

* Failures are a Poisson process: a node of independent components with exponential lifetimes
  fails at the sum of their rates, a fleet of ``n`` nodes ``n`` times as often
  (``MTBF_node = 1/Σ(n_i/MTTF_i)``, ``MTBF_fleet = MTBF_node/n``), and a job of length ``T``
  survives with probability ``exp(−T/MTBF)``.
* Checkpointing every ``τ`` at cost ``δ`` and restarting in ``R`` after a failure wastes
  ``δ/τ`` of the time writing and ``(R + τ/2)/MTBF`` recovering and redoing the half interval
  lost on average; Young's interval ``τ* = sqrt(2·δ·MTBF)`` minimises the sum (Young, "A first
  order approximation to the optimum checkpoint interval", CACM 17(9), 1974,
  doi:10.1145/361147.361115; Daly, "A higher order estimate of the optimum checkpoint interval
  for restart dumps", FGCS 22(3), 2006, doi:10.1016/j.future.2004.11.016). Goodput includes the
  rework term (docs/differences.md, D6).
* A checkpoint holds ``P·bytes-per-parameter`` (weights plus optimizer state) and is written at
  the lower of the writers' aggregate bandwidth and the file system's limit.
* The cluster scheduler is a single-server queue with Poisson arrivals and deterministic job
  lengths (M/D/1, Pollaczek–Khinchine mean-value formula; Kleinrock, "Queueing Systems, Volume
  1: Theory", Wiley, 1975, §5.6).

Component MTTFs and checkpoint bytes follow mlsysim 0.3.0 (``docs/equations.md``, section
"Reliability"). The refined failure rates (``refined=True``) are those measured on a large
training fleet: the 419 unexpected interruptions of the 54-day Llama 3 405B pre-training on
16,384 H100 in 2,048 nodes of eight (Dubey et al., "The Llama 3 herd of models", 2024,
arXiv:2407.21783, §3.3.4 and Table 5), split by root cause into accelerator (faulty GPU 148,
HBM3 72, SRAM 19, GPU system processor 17, silent data corruption 6, thermal interface and
sensor 6: 268), host (NIC 7, SSD 3, power supply 3, chassis 2, IO expansion board 2, CPU 2,
system memory 2: 21), network (switch and cable: 35) and software and operations (software
bug 54, unplanned host maintenance 32, NCCL watchdog timeouts 7, dependency 2: 95); a job
fails at the sum of the rates of the nodes it spans, as in the failure model of Kokolis et
al., "Revisiting reliability in large-scale machine learning research clusters", 2024,
arXiv:2410.21680 (HPCA 2025). Pure numpy functions of float arrays in SI units (s, byte, byte/s).
``reliability_step``, ``checkpoint_step`` and ``orchestration_step`` answer one question each
and return their outputs by name.
"""

from __future__ import annotations

import numpy as np

from .constants import select_by_code

__all__ = [
    "HOUR",
    "DAY",
    "GPU_MTTF",
    "NIC_MTTF",
    "PSU_MTTF",
    "LLAMA3_GPU_HOURS",
    "LLAMA3_NODE_HOURS",
    "LLAMA3_INTERRUPTIONS",
    "REFINED_ACCELERATOR_MTTF",
    "REFINED_HOST_MTTF",
    "REFINED_NETWORK_MTTF",
    "REFINED_SOFTWARE_MTTF",
    "refined_node_rates",
    "CHECKPOINT_BYTES_PER_PARAM",
    "FALLBACK_STORAGE_BW",
    "STORAGE_BOTTLENECK_S",
    "node_mtbf",
    "fleet_mtbf",
    "failure_probability",
    "expected_failures",
    "young_daly_interval",
    "goodput",
    "checkpoint_bytes",
    "checkpoint_write_time",
    "checkpoint_overhead_fraction",
    "md1_queue",
    "reliability_step",
    "checkpoint_step",
    "orchestration_step",
]

HOUR = 3600.0
DAY = 86400.0
#: Mean time to failure of one component [s]: accelerator 50,000 h, NIC 150,000 h, series
#: power supply 100,000 h (mlsysim 0.3.0 ``systems/reliability.py``).
GPU_MTTF = 50_000.0 * HOUR
NIC_MTTF = 150_000.0 * HOUR
PSU_MTTF = 100_000.0 * HOUR
#: Exposure of the Llama 3 405B pre-training (Dubey et al. 2024, arXiv:2407.21783, §3.3.4):
#: 16,384 H100 in 2,048 nodes for 54 days [accelerator-hours and node-hours].
LLAMA3_GPU_HOURS = 16_384 * 54 * 24.0
LLAMA3_NODE_HOURS = 2_048 * 54 * 24.0
#: Its 419 unexpected interruptions by root-cause category (Table 5; see the module docstring).
LLAMA3_INTERRUPTIONS = {"accelerator": 268, "host": 21, "network": 35, "software": 95}
#: Refined MTTF [s]: one accelerator (per accelerator), and per node its host, its share of
#: the network and of software and operations (Llama 3 rates: 79,231 h; 126,391 h; 75,835 h;
#: 27,939 h).
REFINED_ACCELERATOR_MTTF = LLAMA3_GPU_HOURS / LLAMA3_INTERRUPTIONS["accelerator"] * HOUR
REFINED_HOST_MTTF = LLAMA3_NODE_HOURS / LLAMA3_INTERRUPTIONS["host"] * HOUR
REFINED_NETWORK_MTTF = LLAMA3_NODE_HOURS / LLAMA3_INTERRUPTIONS["network"] * HOUR
REFINED_SOFTWARE_MTTF = LLAMA3_NODE_HOURS / LLAMA3_INTERRUPTIONS["software"] * HOUR
#: Checkpoint bytes per parameter by optimizer code (``constants.OPTIMIZERS`` order: adam,
#: adamw, sgd, none): fp16 weights + fp32 master weights + two fp32 Adam moments = 14 B;
#: otherwise 4 B (mlsysim's CHECKPOINT_BYTES_PER_PARAM_ADAM / _SGD; AdamW as Adam, D14).
CHECKPOINT_BYTES_PER_PARAM = (14.0, 14.0, 4.0, 4.0)
#: Storage bandwidth of a device with none on record [byte/s] (FALLBACK_STORAGE_BANDWIDTH_GB_S).
FALLBACK_STORAGE_BW = 1e9
#: A checkpoint write longer than this [s] stalls training noticeably ("storage bottleneck").
STORAGE_BOTTLENECK_S = 60.0


def node_mtbf(accelerators, nics, series_psus):
    """Mean time between failures of one node [s]: ``1/(n_gpu/MTTF_gpu + n_nic/MTTF_nic +
    n_psu/MTTF_psu)`` (PSUs in series only: redundant supplies do not stop the node)."""
    return 1.0 / (accelerators / GPU_MTTF + nics / NIC_MTTF + series_psus / PSU_MTTF)


def refined_node_rates(accelerators):
    """Failure rates of one node [1/s] by category (accelerator, host, network, software), the
    refined rates of the Llama 3 fleet: ``(n_acc/MTTF_acc, 1/MTTF_host, 1/MTTF_net, 1/MTTF_sw)``."""
    return (
        accelerators / REFINED_ACCELERATOR_MTTF,
        1.0 / REFINED_HOST_MTTF + 0.0 * accelerators,
        1.0 / REFINED_NETWORK_MTTF + 0.0 * accelerators,
        1.0 / REFINED_SOFTWARE_MTTF + 0.0 * accelerators,
    )


def fleet_mtbf(node, nodes, override):
    """Fleet MTBF [s]: ``MTBF_node/nodes``, or ``override`` where it is set (not NaN; the fleet's
    own ``mtbf_hours``, D6)."""
    return np.where(np.isnan(override), node / nodes, override)


def failure_probability(mtbf, duration):
    """Probability of at least one failure during ``duration`` [s]: ``1 − exp(−T/MTBF)``."""
    return -np.expm1(-duration / mtbf)


def expected_failures(mtbf, duration):
    """Expected failures during ``duration``: ``T/MTBF``."""
    return duration / mtbf


def young_daly_interval(checkpoint_time, mtbf):
    """Young's optimal checkpoint interval [s]: ``sqrt(2·δ·MTBF)``."""
    return np.sqrt(2.0 * checkpoint_time * mtbf)


def goodput(checkpoint_time, interval, recovery_time, mtbf):
    """Fraction of time doing useful work: ``max(0, 1 − δ/τ − (R + τ/2)/MTBF)`` (D6)."""
    return np.maximum(0.0, 1.0 - checkpoint_time / interval - (recovery_time + 0.5 * interval) / mtbf)


def checkpoint_bytes(parameters, bytes_per_parameter):
    """Size of a checkpoint [byte]: ``P·bytes-per-parameter``."""
    return parameters * bytes_per_parameter


def checkpoint_write_time(size, device_bandwidth, writers, limit):
    """Time to write a checkpoint [s] and the bandwidth it is written at [byte/s].

    ``bw = min(device·writers, limit)``; a device without storage bandwidth on record (NaN or 0)
    writes at 1 GB/s. Returns ``(time, bw)``.
    """
    device = np.where(np.isnan(device_bandwidth) | (device_bandwidth <= 0), FALLBACK_STORAGE_BW, device_bandwidth)
    bandwidth = np.minimum(device * writers, limit)
    return size / bandwidth, bandwidth


def checkpoint_overhead_fraction(write_time, interval):
    """Fraction of a checkpoint interval spent writing: ``min(t_w/τ, 1)`` (1 when ``τ = 0``).

    A write that takes longer than the interval leaves no time to train: the job writes all the
    time, a fraction of 1, as for ``τ = 0`` (mlsysim 0.3.0 reports ``t_w/τ`` above 1, e.g. 4.46;
    docs/differences.md, D22)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(interval > 0, np.minimum(write_time / interval, 1.0), 1.0)


def md1_queue(arrival_rate, service_time):
    """M/D/1 queue: ``(ρ, mean wait [unit of service_time], mean queue length)``.

    ``ρ = λ·D``; for ``ρ < 1``: ``W_q = ρ·D/(2(1 − ρ))``, ``L_q = ρ²/(2(1 − ρ))``; otherwise
    both are ∞ (the queue grows without bound). ``arrival_rate`` in jobs per unit of
    ``service_time``.
    """
    rho = arrival_rate * service_time
    stable = rho < 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        slack = 2.0 * (1.0 - rho)
        wait = np.where(stable, rho * service_time / slack, np.inf)
        length = np.where(stable, rho * rho / slack, np.inf)
    return rho, wait, length


def reliability_step(
    accelerators_per_node,
    nics_per_node,
    series_psus,
    nodes,
    fleet_mtbf_override,
    duration,
    checkpoint_time,
    recovery_time,
    refined=False,
) -> dict:
    """How often will the cluster fail during a job? (ReliabilityModel.)

    accelerators_per_node, nics_per_node, series_psus [count]; nodes [count];
    fleet_mtbf_override [s] (NaN: from the components, D6); duration : the job's length ``T``
    [s]; checkpoint_time ``δ`` [s]; recovery_time ``R`` [s]; refined (bool or array) : the
    measured rates of ``refined_node_rates`` instead of mlsysim 0.3.0's component MTTFs.

    Returns ``node_mtbf`` and ``fleet_mtbf`` [s], ``failure_probability`` ``1 − exp(−T/MTBF)``,
    ``expected_failures`` ``T/MTBF`` (the job's expected interruptions),
    ``optimal_checkpoint_interval`` ``sqrt(2·δ·MTBF)`` [s], ``goodput_ratio``
    ``max(0, 1 − δ/τ − (R + τ/2)/MTBF)`` at that interval, and the expected interruptions by
    category ``interruptions_accelerator``, ``_host``, ``_network``, ``_software``: ``T/MTBF``
    times the category's share of the node rate (first_order: accelerators, and NICs plus power
    supplies as the host; no network or software term). They add up to ``expected_failures``,
    also when the fleet's own MTBF overrides the rate.
    """
    first = (
        accelerators_per_node / GPU_MTTF,
        nics_per_node / NIC_MTTF + series_psus / PSU_MTTF,
        0.0 * accelerators_per_node,
        0.0 * accelerators_per_node,
    )
    if isinstance(refined, (bool, np.bool_)) and not refined:
        rates = first
    else:
        rates = tuple(np.where(refined, r, f) for r, f in zip(refined_node_rates(accelerators_per_node), first))
    total = rates[0] + rates[1] + rates[2] + rates[3]
    node = 1.0 / total
    if isinstance(refined, (bool, np.bool_)) and not refined:
        node = node_mtbf(accelerators_per_node, nics_per_node, series_psus)  # bit for bit as before
    mtbf = fleet_mtbf(node, nodes, fleet_mtbf_override)
    interval = young_daly_interval(checkpoint_time, mtbf)
    expected = expected_failures(mtbf, duration)
    out = {
        "node_mtbf": node,
        "fleet_mtbf": mtbf,
        "failure_probability": failure_probability(mtbf, duration),
        "expected_failures": expected,
        "optimal_checkpoint_interval": interval,
        "goodput_ratio": goodput(checkpoint_time, interval, recovery_time, mtbf),
    }
    for name, rate in zip(("accelerator", "host", "network", "software"), rates):
        out[f"interruptions_{name}"] = expected * (rate / total)
    return out


def checkpoint_step(parameters, optimizer, storage_bandwidth, writers, filesystem_limit, interval) -> dict:
    """How much time do checkpoints cost? (CheckpointModel.)

    parameters [count]; optimizer : code into ``constants.OPTIMIZERS`` (bytes per parameter
    from ``CHECKPOINT_BYTES_PER_PARAM``); storage_bandwidth : one device's [byte/s] (NaN or
    <= 0: 1 GB/s); writers [count]; filesystem_limit : aggregate limit [byte/s]; interval :
    time between checkpoints [s].

    Returns ``checkpoint_size`` [byte], ``storage_bandwidth`` (the device's, after the
    fallback) and ``write_bandwidth`` ``min(device·writers, limit)`` [byte/s], ``write_time``
    [s], ``storage_bottleneck`` (write time > 60 s) and ``mfu_penalty_fraction`` (write time /
    interval, at most 1; 1 for a zero interval; D22).
    """
    size = checkpoint_bytes(parameters, select_by_code(optimizer, CHECKPOINT_BYTES_PER_PARAM))
    device = np.where(np.isnan(storage_bandwidth) | (storage_bandwidth <= 0), FALLBACK_STORAGE_BW, storage_bandwidth)
    write, bandwidth = checkpoint_write_time(size, storage_bandwidth, writers, filesystem_limit)
    return {
        "checkpoint_size": size,
        "storage_bandwidth": device,
        "write_bandwidth": bandwidth,
        "write_time": write,
        "storage_bottleneck": write > STORAGE_BOTTLENECK_S,
        "mfu_penalty_fraction": checkpoint_overhead_fraction(write, interval),
    }


def orchestration_step(arrival_rate, job_duration) -> dict:
    """How busy is the cluster? The job queue as an M/D/1 queue (OrchestrationModel).

    arrival_rate : jobs per second ``λ`` [1/s]; job_duration : mean job length ``D`` [s].

    Returns ``cluster_utilization`` ``ρ = λ·D``, ``avg_wait_time`` ``ρ·D/(2(1−ρ))`` [s],
    ``avg_queue_length`` ``ρ²/(2(1−ρ))`` (∞ for both when ρ >= 1) and ``is_stable`` (ρ < 1).
    """
    rho, wait, length = md1_queue(arrival_rate, job_duration)
    return {
        "cluster_utilization": rho,
        "avg_wait_time": wait,
        "avg_queue_length": length,
        "is_stable": rho < 1.0,
    }
