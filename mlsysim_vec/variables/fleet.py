"""Catalogue entries of the fleet domain: DistributedModel, MoERoutingModel, TopologyModel,
NetworkRooflineModel, ReliabilityModel, CheckpointModel, OrchestrationModel."""

from .core import BOTTLENECKS, Variable, seconds

VARIABLES: dict[str, Variable] = dict(
    # ---- inputs -------------------------------------------------------------------------
    fleet=Variable(description="cluster (record name)", kind="record"),
    fabric=Variable(description="network fabric (record name)", kind="record"),
    v_stages=Variable("", "", "virtual pipeline stages per device (interleaved schedule)"),
    microbatch_count=Variable("", "", "microbatches per pipeline flush"),
    topology_override=Variable(
        description="data-parallel all-reduce algorithm (auto = mlsysim 0.3.0's choice)", kind="text"
    ),
    overlap_comm=Variable(description="the data-parallel all-reduce overlaps the backward pass", kind="bool"),
    overlap_efficiency=Variable("", "", "fraction of the data-parallel all-reduce hidden by overlap"),
    congestion_factor=Variable("", "", "multiplier on every communication time (1 = the alpha-beta model)"),
    straggler_factor=Variable("", "", "multiplier on the step time when above 1: the slowest replica"),
    moe_routing_imbalance_factor=Variable("", "", "busiest expert's load / mean load (>= 1)"),
    routing_imbalance_factor=Variable("", "", "busiest expert's load / mean load (>= 1)"),
    topology=Variable(description="network topology: fat_tree, dragonfly, torus_3d or ring", kind="text"),
    num_nodes=Variable("", "", "nodes on the network"),
    job_duration_hours=Variable("hour", "hour", "length of the training job"),
    checkpoint_time_s=Variable("s", "s", "time to write one checkpoint"),
    avg_recovery_time_s=Variable("s", "s", "time to restart after a failure"),
    checkpoint_interval_hours=Variable("hour", "hour", "time between checkpoints"),
    n_writers=Variable("", "", "accelerators writing the checkpoint in parallel"),
    filesystem_limit_gbs=Variable("GB/s", "GB/s", "aggregate write bandwidth limit of the file system"),
    arrival_rate_jobs_per_day=Variable("1/day", "1/day", "job arrival rate"),
    avg_job_duration_days=Variable("day", "day", "mean job duration"),
    # ---- DistributedModel outputs ---------------------------------------------------------
    node_latency=seconds("one replica's compute step: max(compute, memory) + overhead"),
    node_latency_compute=seconds("replica compute time: executed FLOPs / (G x peak x efficiency)"),
    node_latency_memory=seconds("replica memory time: bytes per accelerator / effective bandwidth"),
    node_latency_overhead=seconds("replica fixed overhead: dispatch tax + 3 passes x layers x 0.01 ms"),
    node_throughput=Variable("1/s", "1/s", "samples per second of one replica (local batch / node latency)"),
    node_bottleneck=Variable(
        description="binding roofline ceiling of the replica step", kind="category", categories=BOTTLENECKS
    ),
    node_mfu=Variable("", "", "model FLOPs utilisation of the replica's compute step (no communication)"),
    node_hfu=Variable("", "", "hardware FLOPs utilisation of the replica's compute step (no communication)"),
    node_energy=Variable("J", "J", "energy of one replica step: G x TDP x (0.3 + 0.7 HFU) x node latency"),
    node_latency_elementwise=seconds(
        "replica memory-bound element-wise and softmax time (refined; 0 under first_order)"
    ),
    cp_communication_latency=seconds("exposed context-parallel ring exchange of K/V per step (0 with cp_size 1)"),
    microbatches_per_flush=Variable("", "", "microbatches per pipeline flush the step was computed with"),
    dp_communication_latency=seconds("data-parallel gradient all-reduce per step"),
    tp_communication_latency=seconds("tensor-parallel all-reduces per step (4 per layer of the stage)"),
    ep_communication_latency=seconds("expert-parallel all-to-alls per step (4 per expert layer of the stage)"),
    communication_latency=seconds("dp + tp + ep communication per step (before overlap)"),
    pipeline_bubble_latency=seconds("pipeline idle time per step"),
    bubble_fraction=Variable("", "", "pipeline idle fraction (pp - 1)/(v m + pp - 1)"),
    step_latency_total=seconds("time of one distributed training step"),
    scaling_efficiency=Variable("", "", "node latency / step latency"),
    effective_throughput=Variable("1/s", "1/s", "global samples per second: global batch / step latency"),
    achieved_flops_per_gpu=Variable("flop/s", "TFLOP/s", "model FLOPs per accelerator per second of step time"),
    dp_degree=Variable("", "", "data-parallel degree (replicas)"),
    accelerators_used=Variable("", "", "accelerators used: dp x tp x pp x ep"),
    local_batch_size=Variable("", "", "samples per replica per step: ceil(global batch / dp)"),
    microbatches_exceed_local_batch=Variable(
        description=(
            "microbatch_count exceeds the local batch (fractional microbatches; computed as mlsysim 0.3.0 does, D7)"
        ),
        kind="bool",
    ),
    # ---- MoERoutingModel ----------------------------------------------------------------
    effective_active_experts=Variable("", "", "experts a token effectively occupies under imbalance"),
    effective_active_parameters=Variable("", "", "active parameters scaled by the imbalance multiplier"),
    active_parameter_multiplier=Variable("", "", "effective active experts / top-k"),
    token_dispatch_bytes=Variable("byte", "MB", "routed token bytes that leave the rank"),
    all_to_all_latency=Variable(
        "s",
        "ms",
        "one dispatch all-to-all on the fleet's fabric (None without a fleet or with ep_size 1)",
        optional=True,
    ),
    # ---- TopologyModel -------------------------------------------------------------------
    effective_bw=Variable("byte/s", "GB/s", "per-node bandwidth: link x bisection fraction / oversubscription"),
    bisection_bw=Variable("byte/s", "GB/s", "bandwidth across a bisection (fat-tree normalised)"),
    bisection_bw_fraction=Variable("", "", "fraction of full bisection bandwidth"),
    hops_avg=Variable("", "", "mean hops between two nodes"),
    # ---- NetworkRooflineModel ------------------------------------------------------------
    latency_network=seconds("gradient all-reduce time: synchronised bytes / network bandwidth"),
    sync_bytes=Variable("byte", "GB", "gradient bytes synchronised per step: 2 x parameters x bytes per element"),
    network_bandwidth=Variable(
        "byte/s",
        "GB/s",
        "bandwidth of the network link: one link of the fabric / oversubscription (fleet); the "
        "prefill-to-decode link carrying the KV cache (disaggregated serving)",
    ),
    ridge_point=Variable("flop/byte", "flop/byte", "fleet peak FLOP/s / network bandwidth"),
    # ---- ReliabilityModel ----------------------------------------------------------------
    node_mtbf=Variable("s", "hour", "mean time between failures of one node (components in series)"),
    fleet_mtbf=Variable("s", "hour", "mean time between failures of the fleet"),
    failure_probability=Variable("", "", "probability of at least one failure during the job"),
    expected_failures=Variable("", "", "expected failures (job interruptions) during the job"),
    interruptions_accelerator=Variable("", "", "expected job interruptions caused by accelerators (GPU, HBM, ...)"),
    interruptions_host=Variable(
        "", "", "expected job interruptions caused by hosts (NIC, power supply, CPU, SSD, ...)"
    ),
    interruptions_network=Variable(
        "", "", "expected job interruptions caused by the network (switches, cables; 0 under first_order)"
    ),
    interruptions_software=Variable(
        "", "", "expected job interruptions caused by software and operations (0 under first_order)"
    ),
    optimal_checkpoint_interval=Variable("s", "s", "Young-Daly interval sqrt(2 x checkpoint time x MTBF)"),
    goodput_ratio=Variable("", "", "useful fraction of time: 1 - d/t - (R + t/2)/MTBF (D6)"),
    # ---- CheckpointModel -----------------------------------------------------------------
    checkpoint_size=Variable("byte", "GB", "bytes of one checkpoint (weights and optimizer state)"),
    write_time=Variable("s", "s", "time to write one checkpoint"),
    write_bandwidth=Variable("byte/s", "GB/s", "bandwidth the checkpoint is written at"),
    storage_bandwidth=Variable("byte/s", "GB/s", "device storage bandwidth (1 GB/s when none on record)"),
    storage_bottleneck=Variable(description="a checkpoint write takes longer than 60 s", kind="bool"),
    mfu_penalty_fraction=Variable("", "", "fraction of each checkpoint interval spent writing"),
    # ---- OrchestrationModel --------------------------------------------------------------
    cluster_utilization=Variable("", "", "offered load: arrival rate x mean job duration"),
    avg_wait_time=Variable("s", "day", "mean queueing delay of a job (M/D/1)"),
    avg_queue_length=Variable("", "", "mean number of jobs waiting (M/D/1)"),
    is_stable=Variable(
        description="utilisation below 1 (arrivals below the service capacity): the queue does not grow without bound",
        kind="bool",
    ),
)
