"""Merkle trees exactly as RFC 9162 section 2 defines them, as plain functions over lists of leaves.

* ``MTH({}) = SHA-256()``; a leaf hashes as ``SHA-256(0x00 || leaf)``; an inner node as
  ``SHA-256(0x01 || left || right)``.
* A list of ``n > 1`` leaves splits at ``k``, the largest power of two smaller than ``n``: the left
  subtree holds the first ``k`` leaves, the right one the rest. No padding, no duplicated leaves.
* Inclusion proofs are ``PATH(m, D[n])`` (2.1.3.1) and verify by 2.1.3.2; consistency proofs are
  ``PROOF(m, D[n])`` (2.1.4.1) and verify by 2.1.4.2.

These functions recompute everything from the leaves: they are the specification in code, used
to check the audit log's incremental tree (which never rebuilds anything) and by anyone who wants
to verify a proof without the rest of the toolkit. Hashes are raw 32-byte values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_inclusion",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of no bytes."""

_HASH_SIZE = 32


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes]) -> bytes:
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash ``MTH(D[n])`` of `leaves` (leaf data, not leaf hashes)."""
    return _mth([leaf_hash(leaf) for leaf in leaves])


def _path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, hashes[:k]), _mth(hashes[k:])]
    return [*_path(m - k, hashes[k:]), _mth(hashes[:k])]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path ``PATH(index, D[n])`` proving that leaf `index` is in the tree of `leaves`.

    Raises:
        ValueError: if `index` is not a leaf of the tree.
    """
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} is outside a tree of {len(leaves)} leaves")
    return _path(index, [leaf_hash(leaf) for leaf in leaves])


def _subproof(m: int, hashes: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [_mth(hashes)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, hashes[:k], complete), _mth(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], False), _mth(hashes[:k])]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """``PROOF(old_size, D[n])``: proves the tree of the first `old_size` leaves is a prefix of this one.

    The proof for ``old_size == 0`` or ``old_size == len(leaves)`` is empty.

    Raises:
        ValueError: if `old_size` is negative or larger than the tree.
    """
    if not 0 <= old_size <= len(leaves):
        raise ValueError(f"old size {old_size} is outside 0..{len(leaves)}")
    if old_size in (0, len(leaves)):
        return []
    return _subproof(old_size, [leaf_hash(leaf) for leaf in leaves], True)


def root_from_inclusion(leaf_hash_value: bytes, index: int, tree_size: int, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to from a leaf hash (RFC 9162 2.1.3.2 steps 1-4).

    Raises:
        ValueError: if the index, size or proof length cannot belong to a valid proof.
    """
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} is outside a tree of {tree_size} leaves")
    if len(leaf_hash_value) != _HASH_SIZE or any(len(p) != _HASH_SIZE for p in proof):
        raise ValueError("every hash in an inclusion proof must be 32 bytes")
    fn, sn = index, tree_size - 1
    r = leaf_hash_value
    for p in proof:
        if sn == 0:
            raise ValueError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether `proof` shows leaf data `leaf` at `index` in the tree of `tree_size` leaves with `root`."""
    try:
        return root_from_inclusion(leaf_hash(leaf), index, tree_size, proof) == root
    except ValueError:
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree (`old_size`, `old_root`) is a prefix of (`new_size`, `new_root`).

    Follows RFC 9162 2.1.4.2. Equal sizes need equal roots and an empty proof; an empty old tree
    is a prefix of every tree (empty proof).
    """
    if old_size < 0 or new_size < old_size or any(len(p) != _HASH_SIZE for p in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
