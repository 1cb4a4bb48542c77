"""Mixture-of-experts routing kernels.

A top-``k`` router sends each token to ``k`` of ``E`` experts (Shazeer et al., "Outrageously
large neural networks: the sparsely-gated mixture-of-experts layer", ICLR 2017; Fedus, Zoph &
Shazeer, "Switch Transformers", JMLR 2022). When the load is imbalanced, the busiest expert
sets the pace: an imbalance factor ``f >= 1`` (busiest load / mean load) acts like ``k·f``
active experts per token, at most ``E``. Under expert parallelism over ``ep`` ranks, each token's
hidden state goes to its experts' ranks and back; ``(ep−1)/ep`` of the routed bytes leave the
rank (``reference/anchor-0.3.0-spec.md`` §7).

Pure numpy functions of float arrays, broadcasting.
"""

from __future__ import annotations

import numpy as np

__all__ = ["effective_active_experts", "routed_token_bytes", "remote_fraction"]


def effective_active_experts(experts, top_k, imbalance):
    """Experts a token effectively occupies [count]: ``min(E, max(1, k)·f)``."""
    return np.minimum(experts, np.maximum(1.0, top_k) * imbalance)


def routed_token_bytes(batch, seq_len, hidden, bytes_per_el, experts_per_token):
    """Bytes of token activations routed to experts [byte]: ``B·S·h·b·k_eff`` (each token's
    hidden state once per expert it visits)."""
    return batch * seq_len * hidden * bytes_per_el * experts_per_token


def remote_fraction(ep):
    """Fraction of routed bytes that cross to another rank: ``(ep−1)/ep`` (0 for one rank)."""
    return (ep - 1.0) / ep
