"""Catalogue entries of ParallelismOptimizer, BatchingOptimizer, PlacementOptimizer."""

from .core import Variable

VARIABLES: dict[str, Variable] = dict(
    # ---- inputs -------------------------------------------------------------------------
    max_tp=Variable("", "", "largest tensor-parallel degree searched (default: accelerators per node)"),
    max_pp=Variable("", "", "largest pipeline-parallel degree searched (default: the fleet's accelerators)"),
    sla_latency_ms=Variable("ms", "ms", "P99 request-latency target (SLA)"),
    max_search_batch=Variable("", "", "largest batch size searched (batches 1 ... max_search_batch)"),
    carbon_tax_per_ton=Variable("USD/t", "USD/t", "carbon price per tonne of CO2e"),
    region=Variable(description="grid region searched (registry key, or a GridProfile's name)", kind="text"),
    # ---- outputs ------------------------------------------------------------------------
    best_tp_size=Variable(
        description="tensor-parallel degree of the winning configuration (missing when nothing is feasible)",
        kind="text",
    ),
    best_pp_size=Variable(
        description="pipeline-parallel degree of the winning configuration (missing when nothing is feasible)",
        kind="text",
    ),
    best_microbatch_count=Variable(
        description="microbatch count of the winning configuration (missing when nothing is feasible)", kind="text"
    ),
    best_ep_size=Variable(
        description="expert-parallel degree of the winning configuration (missing when nothing is feasible)",
        kind="text",
    ),
    best_microbatch_size=Variable(
        description="microbatch size of the winning configuration (refined search; missing when nothing is feasible)",
        kind="text",
    ),
    best_activation_recomputation=Variable(
        description="activation recomputation of the winning configuration (refined search)", kind="text"
    ),
    best_zero_stage=Variable(description="ZeRO stage of the winning configuration (refined search)", kind="text"),
    best_cp_size=Variable(
        description="context-parallel degree of the winning configuration (refined search)", kind="text"
    ),
    best_batch_size=Variable(
        description="largest batch size meeting the SLA (missing when no batch does)", kind="text"
    ),
    best_region=Variable(
        description="region of least carbon-adjusted TCO (missing when nothing is feasible)", kind="text"
    ),
    batch_service_time=Variable("s", "ms", "service time of one batch: prefill of the batch + seq_len decode steps"),
    max_throughput=Variable(
        "1/s", "1/s", "token capacity at the chosen batch: replicas x batch x seq_len / batch service time (D8)"
    ),
    carbon_cost=Variable("USD", "USD", "carbon price x carbon footprint"),
    carbon_adjusted_tco=Variable("USD", "USD", "total cost of ownership + carbon price x carbon footprint"),
)
