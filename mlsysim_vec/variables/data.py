"""Catalogue entries of DataModel, TransformationModel."""

from ..physics.data import INGESTION_PATHS
from .core import Variable

VARIABLES: dict[str, Variable] = dict(
    # ---- inputs -------------------------------------------------------------------------
    workload_data_rate=Variable("GB/s", "GB/s", "bytes per second the workload consumes"),
    sample_size_bytes=Variable("byte", "byte", "bytes of one raw sample read by the preprocessing"),
    cpu_throughput=Variable("GB/s", "GB/s", "bytes per second the CPU preprocessing handles"),
    accelerator_step_time=Variable("ms", "ms", "time of one accelerator step on a batch"),
    # ---- DataModel outputs --------------------------------------------------------------
    is_stalled=Variable(description="the data supply cannot keep up with the demand", kind="bool"),
    utilization=Variable("", "", "demand / capacity of the resource (> 1: over capacity)", optional=True),
    demand_bw=Variable("byte/s", "GB/s", "data rate the workload needs"),
    supply_bw=Variable("byte/s", "GB/s", "data rate the slower ingestion path delivers (0 when none is modelled)"),
    margin=Variable("byte/s", "GB/s", "supply - demand (negative: stalled)"),
    ingestion_bottleneck=Variable(
        description="the slower ingestion path: Storage, Interconnect (the "
        "accelerator's host link) or Unknown (neither is modelled)",
        kind="category",
        categories=INGESTION_PATHS,
    ),
    # ---- TransformationModel outputs ----------------------------------------------------
    transform_time=Variable("s", "ms", "CPU time to preprocess one batch"),
    is_bottleneck=Variable(description="CPU preprocessing is slower than the accelerator step", kind="bool"),
    accelerator_utilization=Variable("", "", "fraction of the wall time the accelerator computes"),
    slowdown_factor=Variable("", "", "step wall time / accelerator step time (inf when the step takes no time)"),
)
