"""Kernels of the optimizers' own objectives: the carbon-adjusted cost PlacementOptimizer
minimises over regions, and the batch service time and token capacity BatchingOptimizer
evaluates per batch size (``docs/equations.md``, section "Optimizers").

Pure functions of arrays in canonical SI units (s, USD, kg, USD/kg); they broadcast (numpy
arrays, or xarray DataArrays by dimension name).
"""

from __future__ import annotations

__all__ = ["batch_service_time", "batch_token_capacity", "carbon_cost", "carbon_adjusted_cost"]


def batch_service_time(ttft, itl, seq_len):
    """Time to serve one batch [s]: its prefill then ``seq_len`` decode steps,
    ``s_b = TTFT(b) + seq_len·ITL(b)`` (ttft, itl [s]; seq_len [tokens])."""
    return ttft + seq_len * itl


def batch_token_capacity(replicas, batch, seq_len, service_time):
    """Tokens per second ``c`` servers deliver when each serves batches of ``b`` requests of
    ``seq_len`` tokens back to back: ``c·b·seq_len/s_b`` [1/s] (docs/differences.md, D8)."""
    return replicas * batch * seq_len / service_time


def carbon_cost(carbon_footprint, carbon_price):
    """Carbon price of an operation [USD]: footprint [kg CO2e] × price [USD/kg]."""
    return carbon_footprint * carbon_price


def carbon_adjusted_cost(tco, carbon_footprint, carbon_price):
    """``(carbon cost, carbon-adjusted TCO)`` [USD]: ``τ·C`` and ``TCO + τ·C``."""
    cost = carbon_cost(carbon_footprint, carbon_price)
    return cost, tco + cost
