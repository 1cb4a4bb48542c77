"""Network-topology kernels: bisection bandwidth and hop count of the classic fabrics.

For ``N`` nodes on links of bandwidth ``β`` with oversubscription ``r``, a topology keeps a
fraction ``φ`` of full bisection bandwidth; the per-node effective bandwidth is ``β·φ/r`` and
the bisection bandwidth ``β·φ·N/2/r`` (fat-tree normalised: a non-blocking fat tree has
``φ = 1``). After mlsysim 0.3.0 (``docs/equations.md``, section "Topology"):

* fat tree (Leiserson, "Fat-trees: universal networks for hardware-efficient supercomputing",
  IEEE TC 34(10), 1985, doi:10.1109/TC.1985.6312192; Al-Fares, Loukissas & Vahdat, "A scalable,
  commodity data center network architecture", SIGCOMM 2008, doi:10.1145/1402958.1402967):
  ``φ = 1``, 4 hops on average;
* dragonfly (Kim, Dally, Scott & Abts, "Technology-driven, highly-scalable dragonfly
  topology", ISCA 2008, doi:10.1109/ISCA.2008.19): ``φ = 0.85``, 3 hops;
* 3-D torus: ``φ = 2·N^(−1/3)``, ``0.75·N^(1/3)`` hops (``N^(1/3)`` nodes per ring, mean
  distance a quarter of it in each of three dimensions);
* ring: ``φ = 2/N`` (two links cut by a bisection), ``N/4`` hops.

``φ`` is at most 1 (full bisection): the torus and ring formulas exceed it below 8 and 2 nodes,
where mlsysim 0.3.0 reports, for example, 2 for a ring of one node (docs/differences.md, D22).
Pure numpy functions of float arrays, broadcasting.
"""

from __future__ import annotations

import numpy as np

from .constants import select_by_code

__all__ = [
    "TOPOLOGIES",
    "FAT_TREE",
    "DRAGONFLY",
    "TORUS_3D",
    "RING",
    "bisection_fraction",
    "average_hops",
    "effective_bandwidth",
    "bisection_bandwidth",
    "topology_step",
]

#: Topology codes.
TOPOLOGIES = ("fat_tree", "dragonfly", "torus_3d", "ring")
FAT_TREE, DRAGONFLY, TORUS_3D, RING = range(4)
#: Bisection fraction and mean hop count of the fixed-shape topologies.
FAT_TREE_BISECTION, DRAGONFLY_BISECTION = 1.0, 0.85
FAT_TREE_HOPS, DRAGONFLY_HOPS = 4.0, 3.0


def bisection_fraction(topology, nodes):
    """Fraction of full bisection bandwidth φ of a topology code at ``nodes`` nodes."""
    torus = np.minimum(2.0 * nodes ** (-1.0 / 3.0), 1.0)
    ring = np.minimum(2.0 / np.maximum(nodes, 1.0), 1.0)
    return select_by_code(topology, (FAT_TREE_BISECTION, DRAGONFLY_BISECTION, torus, ring))


def average_hops(topology, nodes):
    """Mean switch/router hops between two nodes [count]."""
    return select_by_code(topology, (FAT_TREE_HOPS, DRAGONFLY_HOPS, 0.75 * nodes ** (1.0 / 3.0), nodes / 4.0))


def effective_bandwidth(link_bandwidth, fraction, oversubscription):
    """Per-node bandwidth under all-to-all load [byte/s]: ``β·φ/r``."""
    return link_bandwidth * fraction / oversubscription


def bisection_bandwidth(link_bandwidth, fraction, nodes, oversubscription):
    """Bandwidth across a cut into two halves [byte/s]: ``β·φ·N/2/r``."""
    return link_bandwidth * fraction * nodes / 2.0 / oversubscription


def topology_step(topology, nodes, link_bandwidth, oversubscription) -> dict:
    """What does a topology give? (TopologyModel.)

    topology : code into ``TOPOLOGIES``; nodes : ``N`` [count]; link_bandwidth : ``β``
    [byte/s]; oversubscription : ``r`` (>= 1).

    Returns ``effective_bw`` ``β·φ/r`` and ``bisection_bw`` ``β·φ·N/2/r`` [byte/s],
    ``bisection_bw_fraction`` ``φ`` and ``hops_avg`` [count].
    """
    fraction = bisection_fraction(topology, nodes)
    return {
        "effective_bw": effective_bandwidth(link_bandwidth, fraction, oversubscription),
        "bisection_bw": bisection_bandwidth(link_bandwidth, fraction, nodes, oversubscription),
        "bisection_bw_fraction": fraction,
        "hops_avg": average_hops(topology, nodes),
    }
