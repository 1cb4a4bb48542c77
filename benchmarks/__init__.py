"""Timing and memory benchmarks of mlsysim_vec (``python -m benchmarks.bench_spine``)."""
