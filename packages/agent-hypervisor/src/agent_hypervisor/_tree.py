"""The audit log's Merkle tree, grown one leaf at a time without ever being rebuilt.

Every *complete* node of the tree (a perfect subtree of ``2**level`` leaves starting at
``index * 2**level``) is stored once, when the leaf that completes it is appended: appending leaf
``n`` stores its leaf hash and one node per trailing 1 bit of ``n`` (on average one node, at most
``log2(n)``). The *frontier* (the complete subtrees that make up the current tree, one per 1 bit of
the size) gives the root in O(log n). RFC 9162 splits every tree at the largest power of two below
its size, so every left subtree in a proof is a complete, stored node, and every right subtree
is a handful of stored nodes combined: an inclusion or consistency proof reads O(log n) nodes.

`merkle` holds the same definitions computed from scratch; tests compare the two on every size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from agent_hypervisor.merkle import EMPTY_ROOT

__all__ = [
    "Frontier",
    "NodeReader",
    "completed_count",
    "consistency_path",
    "frontier_from_nodes",
    "inclusion_path",
    "leaf_hash_of_record",
    "subtree_hash",
]

NodeReader = Callable[[int, int], bytes]
"""``node(level, index)``: the hash of the stored complete node covering
``[index * 2**level, (index + 1) * 2**level)``."""

_sha256 = hashlib.sha256


def leaf_hash_of_record(record_hash_hex: str) -> bytes:
    """The Merkle leaf hash of an audit record: the leaf data is the 32 raw bytes of its record hash."""
    return _sha256(b"\x00" + bytes.fromhex(record_hash_hex)).digest()


def completed_count(index: int) -> int:
    """How many nodes appending leaf `index` completes: the leaf itself plus one per trailing 1 bit."""
    return 1 + ((index + 1) & -(index + 1)).bit_length() - 1


class Frontier:
    """The complete subtrees that make up a tree of `size` leaves, largest (leftmost) first."""

    __slots__ = ("nodes", "size")

    def __init__(self, size: int = 0, nodes: list[bytes] | None = None) -> None:
        self.size = size
        self.nodes: list[bytes] = nodes if nodes is not None else []

    def copy(self) -> Frontier:
        """An independent copy (a writer extends a copy and keeps it only when its commit succeeds)."""
        return Frontier(self.size, list(self.nodes))

    def push(self, leaf: bytes) -> list[bytes]:
        """Append one leaf hash; return the nodes it completes, lowest level (the leaf) first."""
        completed = [leaf]
        current = leaf
        n = self.size
        nodes = self.nodes
        while n & 1:
            current = _sha256(b"\x01" + nodes.pop() + current).digest()
            completed.append(current)
            n >>= 1
        nodes.append(current)
        self.size += 1
        return completed

    def root(self) -> bytes:
        """The root hash of the tree (SHA-256 of nothing for the empty tree)."""
        if not self.nodes:
            return EMPTY_ROOT
        r = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            r = _sha256(b"\x01" + left + r).digest()
        return r


def frontier_from_nodes(node: NodeReader, size: int) -> Frontier:
    """The frontier of a tree of `size` leaves, read from its stored nodes (O(log n) reads)."""
    nodes: list[bytes] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append(node(level, start >> level))
            start += 1 << level
    return Frontier(size, nodes)


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(node: NodeReader, start: int, end: int) -> bytes:
    """``MTH(D[start:end])`` for a range RFC 9162's recursion produces (`start` aligned to the split)."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return node(level, start >> level)
    k = _split(n)
    return _sha256(
        b"\x01" + subtree_hash(node, start, start + k) + subtree_hash(node, start + k, end)
    ).digest()


def inclusion_path(node: NodeReader, index: int, size: int) -> list[bytes]:
    """``PATH(index, D[size])`` from stored nodes (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtree_hash(node, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(node, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_path(node: NodeReader, old_size: int, new_size: int) -> list[bytes]:
    """``PROOF(old_size, D[new_size])`` from stored nodes (RFC 9162 2.1.4.1); empty for 0 or equal sizes."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"old size {old_size} is outside 0..{new_size}")
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                path.append(subtree_hash(node, start, end))
            break
        k = _split(n)
        if m <= k:
            path.append(subtree_hash(node, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(node, start, start + k))
            start += k
            m -= k
            complete = False
    path.reverse()
    return path
