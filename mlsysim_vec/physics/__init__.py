"""Physics kernels: pure numpy functions of float arrays in canonical SI units, one module per domain."""
