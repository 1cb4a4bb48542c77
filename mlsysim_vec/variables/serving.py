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
    # ---- ServingModel -----------------------------------------------------------------------
    ttft=seconds(
        "time to first token: prefill + dispatch taxes (+ KV transfer when disaggregated); NaN when no "
        "request is admitted",
        optional=True,
    ),
    itl=seconds(
        "inter-token latency: one decode step (W + KV)/BW + layer tax (per accepted token with speculation); "
        "NaN when no request is admitted",
        optional=True,
    ),
    kv_cache_size=byte_count("KV cache of the batch at the full context"),
    model_weights_size=byte_count("weight bytes at the precision"),
    total_memory_required=byte_count("decode-device memory: weights + KV cache (+ draft weights and KV)"),
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
    energy_per_query=Variable("J", "J", "TDP × total reasoning time (full power, as the reference)"),
)
