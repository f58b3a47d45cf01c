"""Numpy kernels for candidate edges and distributed connected components.

Connected components use the alternating Large-Star / Small-Star algorithm (Kiveris et al.,
"Connected Components in MapReduce and Beyond", 2014). Every step is a group-by on one
endpoint, so each partition only ever holds its own edges, and the number of rounds grows as
O(log^2 n) in the worst case (a handful in practice). Nodes are uint64 and ordered by value.

* Large-Star, at node u with neighbours N(u): every neighbour v > u is linked to
  m = min(N(u) + {u}).
* Small-Star, at node u with its smaller neighbours S(u): every v in S(u) + {u} is linked to
  m = min(S(u) + {u}).

The edge set is final when it is a forest of stars centred on each component's minimum: every
node either has only larger neighbours (a centre) or exactly one neighbour, smaller (a leaf).
Large-Star counts the nodes of its input that break this, so the driver stops as soon as a
round's input has none.
"""

from __future__ import annotations

import numpy as np

from cc_curate.dedup.keep import group_starts


def star_edges(keys: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group (key, node) rows by key; link every node of a group to the group's smallest node.

    Returns (members, centres, group_keys, group_centres): one edge member -> centre per
    non-centre row, and per distinct key its smallest node.
    """
    order = np.lexsort((nodes, keys))
    keys, nodes = keys[order], nodes[order]
    starts = group_starts(keys)
    centre_of_row = nodes[starts][np.cumsum(starts) - 1]
    linked = ~starts & (nodes != centre_of_row)
    return nodes[linked], centre_of_row[linked], keys[starts], nodes[starts]


def both_directions(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges as directed pairs both ways (each endpoint sees the edge)."""
    return np.concatenate((src, dst)), np.concatenate((dst, src))


def unique_edges(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (src, dst) pairs without self-loops, sorted by src then dst."""
    keep = src != dst
    src, dst = src[keep], dst[keep]
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    distinct = group_starts(src, dst)
    return src[distinct], dst[distinct]


def _groups(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For src-sorted edges: row -> group index, group start rows, min dst per group."""
    starts = group_starts(src)
    first = np.flatnonzero(starts)
    return np.cumsum(starts) - 1, first, np.minimum.reduceat(dst, first)


def large_star(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """One Large-Star step over the edges of the nodes ``src`` (both directions present).

    Returns (larger, smaller) edges — to be grouped by ``larger`` for Small-Star — and the
    number of input nodes that are neither a star centre nor a leaf.
    """
    src, dst = unique_edges(src, dst)
    if src.size == 0:
        return src, dst, 0
    group, first, min_neighbour = _groups(src, dst)
    owner = src[first]
    counts = np.diff(np.append(first, src.size))
    violations = int(np.count_nonzero((min_neighbour < owner) & (counts > 1)))
    star_min = np.minimum(min_neighbour, owner)[group]
    larger = dst > src
    return dst[larger], star_min[larger], violations


def small_star(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One Small-Star step over (larger, smaller) edges grouped by ``larger``.

    Returns the new undirected edges (each once; callers send them both ways).
    """
    src, dst = unique_edges(src, dst)
    if src.size == 0:
        return src, dst
    group, first, min_smaller = _groups(src, dst)
    row_min = min_smaller[group]
    keep = dst != row_min
    # Every smaller neighbour v (but the minimum itself) and the node itself go to the minimum.
    return np.concatenate((dst[keep], src[first])), np.concatenate((row_min[keep], min_smaller))


def roots(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """On a converged star forest: (node, root) for every node of ``src``."""
    src, dst = unique_edges(src, dst)
    if src.size == 0:
        return src, dst
    _, first, min_neighbour = _groups(src, dst)
    owner = src[first]
    return owner, np.minimum(min_neighbour, owner)
