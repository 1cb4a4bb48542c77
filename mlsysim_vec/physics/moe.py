"""Mixture-of-experts routing kernels.

A top-``k`` router sends each token to ``k`` of ``E`` experts (Shazeer et al., "Outrageously
large neural networks: the sparsely-gated mixture-of-experts layer", ICLR 2017,
arXiv:1701.06538; Fedus, Zoph & Shazeer, "Switch Transformers: scaling to trillion parameter
models with simple and efficient sparsity", JMLR 23, 2022, arXiv:2101.03961). When the load is
imbalanced, the busiest expert sets the pace: an imbalance factor ``f >= 1`` (busiest load /
mean load) acts like ``k·f`` active experts per token, at most ``E``. Under expert parallelism
over ``ep`` ranks, each token's hidden state goes to its experts' ranks and back; ``(ep−1)/ep``
of the routed bytes leave the rank (``docs/equations.md``, section "Mixture of experts").

Pure numpy functions of float arrays, broadcasting; ``routing_step`` is MoERoutingModel's whole
question.
"""

from __future__ import annotations

import numpy as np

from .comm import DEFAULT_FABRIC_LATENCY, all_to_all

__all__ = ["effective_active_experts", "routed_token_bytes", "remote_fraction", "routing_step"]


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


def routing_step(
    experts,
    top_k,
    active_parameters,
    hidden,
    bytes_per_el,
    batch,
    seq_len,
    ep,
    imbalance,
    fabric_bandwidth=None,
    oversubscription=1.0,
    fabric_latency=np.nan,
) -> dict:
    """How much does routing imbalance cost? (MoERoutingModel.)

    experts : ``E`` [count]; top_k : experts per token ``k`` (at least 1 is used);
    active_parameters [count]; hidden : ``h``; bytes_per_el : ``b`` [byte]; batch ``B``
    [samples]; seq_len ``S`` [tokens]; ep : expert-parallel degree; imbalance : busiest expert's
    load / mean (>= 1); fabric_bandwidth [byte/s] (None: no fleet), oversubscription, and
    fabric_latency [s] (NaN: 5 µs) of the fabric that carries the all-to-all.

    Returns ``effective_active_experts`` ``E_eff = min(E, k·f)``,
    ``effective_active_parameters`` (active parameters × ``E_eff/k``),
    ``active_parameter_multiplier`` ``E_eff/k``, ``token_dispatch_bytes``
    ``B·S·h·b·E_eff·(ep−1)/ep`` [byte] and ``all_to_all_latency`` [s]: one dispatch all-to-all of
    the batch on the fabric, ``(ep−1)/ep · M/β + (ep−1)·α`` with ``β`` = fabric bandwidth /
    oversubscription (NaN without a fabric or with ``ep = 1``).
    """
    top_k = np.maximum(1.0, top_k)
    effective = effective_active_experts(experts, top_k, imbalance)
    multiplier = effective / top_k
    payload = routed_token_bytes(batch, seq_len, hidden, bytes_per_el, effective)
    if fabric_bandwidth is None:
        latency = np.float64(np.nan)
    else:
        latency = np.where(
            ep > 1,
            all_to_all(
                payload,
                ep,
                fabric_bandwidth / oversubscription,
                np.where(np.isnan(fabric_latency), DEFAULT_FABRIC_LATENCY, fabric_latency),
            ),
            np.nan,
        )
    return {
        "effective_active_experts": effective,
        "effective_active_parameters": active_parameters * multiplier,
        "active_parameter_multiplier": multiplier,
        "token_dispatch_bytes": payload * remote_fraction(ep),
        "all_to_all_latency": latency,
    }
