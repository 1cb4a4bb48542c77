"""Catalogue entries of LLM serving: ServingModel, ContinuousBatchingModel, WeightStreamingModel,
TailLatencyModel, ServingCapacityModel, InferenceScalingModel."""

from .core import Variable, byte_count, count, seconds

VARIABLES: dict[str, Variable] = dict(
    # ---- inputs -----------------------------------------------------------------------------
    decode_hardware=Variable(
        description="decode accelerator of disaggregated serving (None: the prefill one)", kind="record"
    ),
    network_bandwidth=Variable(
        "byte/s",
        "GB/s",
        "bandwidth of the network link: one link of the fabric / oversubscription (fleet); the "
        "prefill-to-decode link carrying the KV cache (disaggregated serving)",
    ),
    draft_model=Variable(description="draft model of speculative decoding (None: no speculation)", kind="record"),
    draft_acceptance_rate=Variable("", "", "probability that the target model accepts a draft token"),
    cached_prefix_len=Variable("", "", "tokens of the context already in the KV cache (prompt caching)"),
    prefill_chunk_tokens=Variable("", "", "tokens per prefill chunk (chunked prefill; None: one pass)"),
    max_seq_len=Variable("", "", "maximum tokens per request (prompt + output)"),
    mean_request_tokens=Variable("", "", "mean tokens per request (exponential lengths capped at max_seq_len)"),
    max_batch_size=Variable("", "", "concurrent requests the scheduler allows per replica"),
    page_size=Variable("", "", "tokens per KV-cache page (paged attention)"),
    phase=Variable(description="inference phase: decode or prefill", kind="text"),
    arrival_rate_qps=Variable("1/s", "1/s", "request arrival rate λ"),
    service_latency_ms=Variable("ms", "ms", "mean service time of one request (one server)"),
    num_replicas=Variable("", "", "servers (replicas) of the queue"),
    service_time_cv=Variable("", "", "coefficient of variation of the service time (1: exponential)"),
    qps=Variable("1/s", "1/s", "aggregate request arrival rate"),
    target_p99_latency_ms=Variable("ms", "ms", "P99 request-latency target"),
    output_tokens=Variable("", "", "tokens generated per request"),
    max_replicas=Variable("", "", "largest replica count searched"),
    reasoning_steps=Variable("", "", "reasoning steps per query (chain of thought)"),
    context_length=Variable("", "", "context tokens of a reasoning query"),
    tokens_per_step=Variable("", "", "tokens generated per reasoning step"),
    interconnect_bandwidth=Variable(
        "byte/s",
        "GB/s",
        "per-direction bandwidth of the links inside a serving group (None: the accelerator's intra-node link, "
        "else its host link)",
    ),
    kv_precision=Variable(description="precision of the KV cache (None: precision)", kind="text"),
    compute_precision=Variable(
        description="precision of the GEMMs, whose peak FLOP/s is used (None: precision)", kind="text"
    ),
    allow_emulation=Variable(
        description="run a compute precision the accelerator has no peak for at its headline peak (refined; "
        "else such a point is infeasible, precision_unsupported)",
        kind="bool",
    ),
    bandwidth_efficiency=Variable(
        "", "", "fraction of peak HBM bandwidth a forward achieves (refined; STREAM-like kernels reach 0.8-0.9)"
    ),
    forward_overhead=seconds("fixed time of one forward pass: sampling, scheduling, launches (refined)"),
    layer_overhead=seconds("launch time per layer per forward pass (refined)"),
    memory_reserve_fraction=Variable(
        "", "", "share of device memory the serving framework keeps for itself (refined; vLLM keeps 0.1)"
    ),
    gpu_hour_price=Variable(
        "USD/s",
        "USD/h",
        "rental price of one accelerator per hour (None: the hardware record's published on-demand price, "
        "HardwareNode.rental_price; no cost where it has none)",
        optional=True,
    ),
    concurrency=Variable("", "", "users of a closed loop, each sending its next request when the last completes"),
    input_tokens=Variable("", "", "prompt tokens per request"),
    # ---- ServingModel -----------------------------------------------------------------------
    ttft=seconds(
        "time to first token: the prefill (first order: compute + dispatch taxes; refined: max(compute, memory) + "
        "communication + overheads), + KV transfer when disaggregated, + the admission wait in a closed loop; NaN "
        "when no request is admitted",
        optional=True,
    ),
    itl=seconds(
        "inter-token latency: one decode step (first order: (W + KV)/BW + layer tax; refined: max(compute, memory) "
        "+ communication + overheads), per accepted token with speculation; NaN when no request is admitted",
        optional=True,
    ),
    kv_cache_size=byte_count(
        "KV cache of the batch at the full context (with output_tokens: the prompt and the tokens decoded after "
        "the first)"
    ),
    model_weights_size=byte_count("weight bytes at the precision"),
    total_memory_required=byte_count(
        "memory per accelerator of the decode device: weights + KV cache (+ draft weights and KV), split over the "
        "serving group; refined: + working memory, and it must fit in the capacity less the framework reserve"
    ),
    prompt_cache_hit_ratio=Variable("", "", "cached prefix / context"),
    prefill_chunks=count("prefill passes (chunks)"),
    prefill_chunk_time=seconds("time of the largest prefill chunk (NaN without chunking)", optional=True),
    decode_stall_bound=seconds("longest decode stall behind one prefill chunk (NaN without chunking)", optional=True),
    kv_transfer_time=seconds("KV-cache transfer to the decode device (NaN when colocated)", optional=True),
    prefill_memory_utilization=Variable(
        "", "", "prefill-device memory (weights + KV) / capacity (NaN when colocated)", optional=True
    ),
    # ---- ContinuousBatchingModel ------------------------------------------------------------
    throughput_tokens_per_sec=Variable("1/s", "1/s", "decode throughput: tokens generated per second"),
    max_active_requests=count("requests a paged KV allocator admits"),
    static_throughput_tokens_per_sec=Variable("1/s", "1/s", "decode throughput with static max-length reservations"),
    static_max_active_requests=count("requests a static max-length allocator admits"),
    paged_internal_fragmentation=Variable("", "", "unused fraction of the paged allocation"),
    static_internal_fragmentation=Variable("", "", "unused fraction of a max-length reservation"),
    paged_kv_cache_size=byte_count("KV cache allocated by the paged allocator"),
    static_kv_cache_size=byte_count("KV cache reserved by the static allocator"),
    speedup_vs_static=Variable("", "", "paged / static decode throughput"),
    # ---- WeightStreamingModel ---------------------------------------------------------------
    layer_compute_time=seconds("compute time of one layer (+ one dispatch tax)"),
    layer_injection_time=seconds("time to stream one layer's weights onto the device"),
    optimal_batch_size=count("decode batch at which a layer's compute equals its weight injection"),
    wafer_memory_utilization=Variable("", "", "on-device memory needed (KV + 10 %) / capacity"),
    wafer_memory_required=byte_count("on-device memory needed: KV cache + 10 %"),
    # ---- TailLatencyModel -------------------------------------------------------------------
    p50_latency=seconds("median request latency: wait median + mean service time (inf when unstable)"),
    p99_latency=seconds("P99 request latency: wait P99 + mean service time (inf when unstable)"),
    queue_utilization=Variable("", "", "ρ = λ/(c·μ) (1 when unstable)"),
    is_stable=Variable(
        description="utilisation below 1 (arrivals below the service capacity): the queue does not grow without bound",
        kind="bool",
    ),
    slo_headroom_ratio=Variable("", "", "P99 wait / (5 × service time) (1 when unstable)"),
    wait_probability=Variable("", "", "Erlang C: probability that a request waits (1 when unstable)"),
    # ---- ServingCapacityModel ---------------------------------------------------------------
    required_replicas=count(
        "smallest replica count meeting the P99 target (max_replicas when none does; "
        "NaN when one request alone misses it, D9)",
        optional=True,
    ),
    qps_target=Variable("1/s", "1/s", "arrival rate to serve"),
    qps_capacity=Variable("1/s", "1/s", "requests/s the replicas sustain", optional=True),
    per_replica_qps_capacity=Variable("1/s", "1/s", "requests/s one replica sustains (continuous batching)"),
    utilization=Variable("", "", "demand / capacity of the resource (> 1: over capacity)", optional=True),
    target_p99_latency=seconds("P99 latency target"),
    estimated_p99_latency=seconds("base request latency + P99 queueing wait"),
    base_request_latency=seconds("one request alone: TTFT + output tokens × ITL"),
    queue_wait_p99=seconds("P99 queueing wait at the chosen replica count", optional=True),
    active_batch_size=count("concurrent requests per replica (continuous batching)"),
    # ---- InferenceScalingModel --------------------------------------------------------------
    total_reasoning_time=seconds("TTFT + reasoning steps × time per step"),
    time_per_step=seconds("tokens per step × ITL"),
    tokens_generated=count("reasoning steps × tokens per step"),
    energy_per_query=Variable("J", "J", "TDP × accelerators × total reasoning time (full power, as the reference)"),
    # ---- serving groups, generation, cost, closed loop --------------------------------------
    generation_latency=seconds(
        "wall time of a static batch: the prefill (first token), then output_tokens - 1 decode steps over the "
        "growing context"
    ),
    output_throughput=Variable("1/s", "1/s", "generated tokens per second of the serving group", optional=True),
    output_throughput_per_gpu=Variable(
        "1/s", "1/s", "generated tokens per second per accelerator of the serving group", optional=True
    ),
    cost_per_million_output_tokens=Variable(
        "USD",
        "USD",
        "rental cost of a million generated tokens: price × accelerators / output tokens per second × 1e6 "
        "(NaN without a price)",
        optional=True,
    ),
    cost_per_million_input_tokens=Variable(
        "USD",
        "USD",
        "rental cost of a million prompt tokens: price × accelerators / prompt tokens per second × 1e6 "
        "(NaN without a price)",
        optional=True,
    ),
    accelerators=count("accelerators of the serving group: tp × pp × ep (both devices' when disaggregated)"),
    runtime_memory=byte_count(
        "working memory beyond weights and KV cache per accelerator: activations of the largest forward and "
        "communication buffers (refined; 0 in first order); total_memory_required adds the framework reserve"
    ),
    decode_compute_time=seconds(
        "compute part of the decode step (refined; NaN in first order, where decode is memory-bound)", optional=True
    ),
    decode_memory_time=seconds("memory part of the decode step: weights and KV cache read / bandwidth"),
    communication_time=seconds("communication of the serving group in one decode step (0 on one accelerator)"),
    running_requests=count(
        "requests in the running batch of the closed loop: min(concurrency, admitted)", optional=True
    ),
    e2e_latency=seconds(
        "request latency of the closed loop, admission wait included: concurrency / requests_per_s", optional=True
    ),
    requests_per_s=Variable("1/s", "1/s", "requests completed per second by the closed loop", optional=True),
)
