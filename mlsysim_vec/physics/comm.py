"""Collective-communication kernels: the α–β (latency–bandwidth) cost model.

A message of ``M`` bytes over a link of bandwidth ``β`` [byte/s] with a per-step latency ``α``
[s] costs ``α + M/β`` (Hockney, "The communication challenge for MPP: Intel Paragon and Meiko
CS-2", Parallel Computing 20(3), 1994, doi:10.1016/S0167-8191(06)80021-9). Collectives over
``n`` participants are sums of such steps (Thakur, Rabenseifner & Gropp, "Optimization of
collective communication operations in MPICH", IJHPCA 19(1), 2005,
doi:10.1177/1094342005051521; Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for
clusters of workstations", JPDC 69(2), 2009, doi:10.1016/j.jpdc.2008.09.002). The formulas and
constants follow mlsysim 0.3.0 (``docs/equations.md``, section "Collectives").

All functions are pure numpy, broadcast over their arguments and return seconds. ``n`` is a
float array of whole numbers >= 1; one participant communicates nothing (0 s).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DEFAULT_INTRA_NODE_LATENCY",
    "DEFAULT_FABRIC_LATENCY",
    "DBT_LATENCY_FACTOR",
    "DBT_BANDWIDTH_FACTOR",
    "point_to_point",
    "ring_allreduce",
    "tree_allreduce",
    "double_binary_tree_allreduce",
    "hierarchical_allreduce",
    "all_to_all",
    "ALGORITHMS",
    "allreduce_by_algorithm",
]

#: Per-step latency of an intra-node (NVLink-class) link when the accelerator has none on
#: record [s] (mlsysim 0.3.0's ``Hardware.Tech`` NVLink figure, 500 ns).
DEFAULT_INTRA_NODE_LATENCY = 500e-9
#: Per-step latency of the scale-out fabric when the fabric has none on record [s] (the
#: mlsysim 0.3.0's InfiniBand NDR figure, 5 µs).
DEFAULT_FABRIC_LATENCY = 5e-6
#: Double-binary-tree overheads relative to the ideal (NCCL's two complementary trees;
#: Sanders, Speck & Träff, "Two-tree algorithms for full bandwidth broadcast, reduction and
#: scan", Parallel Computing 35(12), 2009): latency ×1.2, bandwidth term ×1.05.
DBT_LATENCY_FACTOR = 1.2
DBT_BANDWIDTH_FACTOR = 1.05


def point_to_point(message, bandwidth, latency):
    """One message between two ranks [s]: ``α + M/β``."""
    return latency + message / bandwidth


def ring_allreduce(message, n, bandwidth, latency):
    """Ring all-reduce [s]: reduce-scatter then all-gather, ``2(n−1)`` steps of ``M/n`` bytes.

    ``T = 2(n−1)/n · M/β + 2(n−1)·α``; 0 for ``n = 1``.
    """
    steps = 2.0 * (n - 1.0)
    return steps / n * message / bandwidth + steps * latency


def tree_allreduce(message, n, bandwidth, latency):
    """Binary-tree all-reduce [s]: a reduction up and a broadcast down a tree of depth
    ``⌈log2 n⌉``, the whole message at each level.

    ``T = 2⌈log2 n⌉ · (M/β + α)``; 0 for ``n = 1``.
    """
    levels = 2.0 * np.ceil(np.log2(n))
    return levels * (message / bandwidth) + levels * latency


def double_binary_tree_allreduce(message, n, bandwidth, latency):
    """Double-binary-tree all-reduce [s] (NCCL's tree algorithm): the message is split over two
    complementary trees, so it is bandwidth-optimal like the ring up to a small overhead, with
    logarithmic latency.

    ``T = 1.2 · 2 log2(n) · α + 1.05 · 2(n−1)/n · M/β``; 0 for ``n = 1``.
    """
    return (
        DBT_LATENCY_FACTOR * 2.0 * np.log2(n) * latency
        + DBT_BANDWIDTH_FACTOR * 2.0 * (n - 1.0) / n * message / bandwidth
    )


def hierarchical_allreduce(message, nodes, per_node, bw_intra, bw_inter, lat_intra, lat_inter):
    """Two-level all-reduce [s] over ``nodes`` nodes of ``per_node`` ranks each.

    Intra-node reduce-scatter, an inter-node ring all-reduce of the ``M/g`` shard each rank
    owns, intra-node all-gather:
    ``T = 2·[(g−1)/g · M/β_intra + (g−1)·α_intra] + ring(M/g, nodes, β_inter, α_inter)``.
    With one node it is the intra-node ring; with one rank per node the inter-node ring.
    """
    g = per_node
    intra = 2.0 * ((g - 1.0) / g * message / bw_intra + (g - 1.0) * lat_intra)
    return intra + ring_allreduce(message / g, nodes, bw_inter, lat_inter)


def all_to_all(message, n, bandwidth, latency):
    """All-to-all (personalised exchange) [s]: each rank sends ``(n−1)/n`` of its ``M`` bytes,
    in ``n−1`` steps. ``T = (n−1)/n · M/β + (n−1)·α``; 0 for ``n = 1``."""
    return (n - 1.0) / n * message / bandwidth + (n - 1.0) * latency


#: Codes of the data-parallel all-reduce algorithm (DistributedModel's ``topology_override``,
#: docs/differences.md, D7): "auto" is mlsysim 0.3.0's choice (intra-node ring, inter-node ring or
#: hierarchical, by how the ranks sit on nodes).
ALGORITHMS = ("auto", "ring", "tree", "double_binary_tree", "hierarchical")


def allreduce_by_algorithm(algorithm, message, n, per_node, bw_intra, bw_inter, lat_intra, lat_inter, present=None):
    """All-reduce of ``message`` bytes over ``n`` ranks placed ``per_node`` to a node [s], by
    algorithm code (``ALGORITHMS``).

    Ranks span ``nodes = ⌈n/per_node⌉`` nodes. A flat algorithm (ring, tree, double binary
    tree) runs over the intra-node link when all ranks share one node, else over the
    inter-node fabric (its slowest link). "hierarchical" is ``hierarchical_allreduce`` over the
    ``min(per_node, n)`` ranks that share a node, with the node's own link latency. "auto" is
    mlsysim 0.3.0's rule: one node → intra-node ring; one rank per node → inter-node ring;
    otherwise hierarchical with the 500 ns intra-node latency default
    (``docs/equations.md``, section "Collectives"). ``present`` lists the codes that occur (default
    all), so that only those are evaluated.
    """
    nodes = np.ceil(n / per_node)
    one_node = nodes <= 1.0
    flat_bw = np.where(one_node, bw_intra, bw_inter)
    flat_lat = np.where(one_node, lat_intra, lat_inter)

    def auto():
        hier = hierarchical_allreduce(
            message, nodes, per_node, bw_intra, bw_inter, DEFAULT_INTRA_NODE_LATENCY, lat_inter
        )
        return np.where(
            one_node,
            ring_allreduce(message, n, bw_intra, lat_intra),
            np.where(per_node <= 1.0, ring_allreduce(message, n, bw_inter, lat_inter), hier),
        )

    kernels = (
        auto,
        lambda: ring_allreduce(message, n, flat_bw, flat_lat),
        lambda: tree_allreduce(message, n, flat_bw, flat_lat),
        lambda: double_binary_tree_allreduce(message, n, flat_bw, flat_lat),
        lambda: hierarchical_allreduce(
            message, nodes, np.minimum(per_node, n), bw_intra, bw_inter, lat_intra, lat_inter
        ),
    )
    codes = range(len(ALGORITHMS)) if present is None else sorted(set(int(c) for c in present))
    if len(codes) == 1:
        return kernels[codes[0]]()
    out = np.nan
    for code in codes:
        out = np.where(algorithm == code, kernels[code](), out)
    return out
