"""RFC 9162 Merkle functions: the published CT vectors, attacks on proofs, and the incremental tree
checked against the from-scratch definitions (and an independent, obviously-correct implementation)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_hypervisor import merkle
from agent_hypervisor._tree import (
    Frontier,
    consistency_path,
    frontier_from_nodes,
    inclusion_path,
    subtree_hash,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "rfc6962_ct.json").read_text())
LEAVES = [bytes.fromhex(x) for x in VECTORS["leaves"]]
ROOTS = [bytes.fromhex(x) for x in VECTORS["roots"]]


def h(x: str) -> bytes:
    return bytes.fromhex(x)


# -- published vectors ---------------------------------------------------------------------


def test_empty_root() -> None:
    assert merkle.root([]) == h(VECTORS["empty_root"]) == merkle.EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_ct_vectors(size: int) -> None:
    assert merkle.root(LEAVES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-of-{c['size']}")
def test_inclusion_vectors(case: dict) -> None:
    index, size, path = case["index"], case["size"], [h(p) for p in case["path"]]
    assert merkle.inclusion_proof(LEAVES[:size], index) == path
    assert merkle.verify_inclusion(LEAVES[index], index, size, path, ROOTS[size - 1])


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['old']}-to-{c['new']}")
def test_consistency_vectors(case: dict) -> None:
    old, new, path = case["old"], case["new"], [h(p) for p in case["path"]]
    assert merkle.consistency_proof(LEAVES[:new], old) == path
    assert merkle.verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], path)


# -- attacks on proofs ---------------------------------------------------------------------

SOME = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def _inclusion_probes(index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes):
    yield index - 1, size, proof, root, leaf
    yield index + 1, size, proof, root, leaf
    yield index ^ 2, size, proof, root, leaf
    yield index, size * 2, proof, root, leaf
    yield index, size // 2, proof, root, leaf
    yield index, size, proof, root, b"WrongLeaf"
    yield index, size, proof, merkle.EMPTY_ROOT, leaf
    yield index, size, proof, SOME, leaf
    yield index, size, [*proof, root], root, leaf
    yield index, size, [root, *proof], root, leaf
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        yield index, size, bad, root, leaf
    if proof:
        yield index, size, proof[:-1], root, leaf
    if len(proof) > 1:
        yield index, size, [proof[0], SOME, *proof[1:]], root, leaf


@pytest.mark.parametrize(
    "case", [c for c in VECTORS["inclusion"] if c["path"]], ids=lambda c: str(c["index"])
)
def test_tampered_inclusion_proofs_fail(case: dict) -> None:
    index, size, path = case["index"], case["size"], [h(p) for p in case["path"]]
    probes = list(_inclusion_probes(index, size, path, ROOTS[size - 1], LEAVES[index]))
    assert probes
    for i, s, p, r, leaf in probes:
        assert not merkle.verify_inclusion(leaf, i, s, p, r), (i, s)


@pytest.mark.parametrize(
    "case", [c for c in VECTORS["consistency"] if c["path"]], ids=lambda c: str(c["old"])
)
def test_tampered_consistency_proofs_fail(case: dict) -> None:
    old, new, path = case["old"], case["new"], [h(p) for p in case["path"]]
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    probes = [
        (old - 1, new, r1, r2, path),
        (old + 1, new, r1, r2, path),
        (old ^ 2, new, r1, r2, path),
        (old, new * 2, r1, r2, path),
        (old, new // 2, r1, r2, path),
        (old, new, SOME, r2, path),
        (old, new, r1, SOME, path),
        (old, new, r2, r1, path),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*path, r1]),
        (old, new, r1, r2, [*path, r2]),
        (old, new, r1, r2, [r1, *path]),
        (old, new, r1, r2, [path[0], *path]),
        (old, new, r1, r2, path[:-1]),
    ]
    for i in range(len(path)):
        bad = list(path)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((old, new, r1, r2, bad))
    for o, n, a, b, p in probes:
        assert not merkle.verify_consistency(o, n, a, b, p), (o, n)


def test_trivial_consistency_rules() -> None:
    r = ROOTS[0]
    assert merkle.verify_consistency(0, 5, SOME, r, [])
    assert merkle.verify_consistency(3, 3, r, r, [])
    assert not merkle.verify_consistency(3, 3, r, SOME, [])
    assert not merkle.verify_consistency(3, 3, r, r, [r])
    assert not merkle.verify_consistency(2, 1, r, r, [])
    assert not merkle.verify_consistency(1, 2, r, r, [])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(LEAVES, 8)
    with pytest.raises(ValueError, match="outside"):
        merkle.consistency_proof(LEAVES, 9)
    assert not merkle.verify_inclusion(LEAVES[0], 0, 0, [], ROOTS[0])
    assert not merkle.verify_inclusion(LEAVES[0], 0, 2, [b"short"], ROOTS[1])


# -- an independent implementation: RFC 6962's tree built bottom-up with explicit levels -----
# Different algorithm (level-by-level with a promoted odd node, as CT's reference C++ log does),
# so that agreeing with it is evidence rather than a tautology.


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    level = [hashlib.sha256(b"\x00" + x).digest() for x in leaves]
    out = [level]
    while len(level) > 1:
        nxt = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])  # promoted, not duplicated: RFC 6962's unbalanced right edge
        level = nxt
        out.append(level)
    return out


def _bottom_up_root(leaves: list[bytes]) -> bytes:
    return hashlib.sha256(b"").digest() if not leaves else _levels(leaves)[-1][0]


def _bottom_up_path(leaves: list[bytes], index: int) -> list[bytes]:
    path = []
    for level in _levels(leaves)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index >>= 1
    return path


@pytest.mark.parametrize("n", range(70))
def test_reference_agrees_with_independent_bottom_up(n: int) -> None:
    leaves = [i.to_bytes(4, "big") for i in range(n)]
    assert merkle.root(leaves) == _bottom_up_root(leaves)
    for index in range(n):
        assert merkle.inclusion_proof(leaves, index) == _bottom_up_path(leaves, index)


# -- the incremental tree against the definitions -------------------------------------------


class _Stored:
    """Nodes stored as an append-only writer stores them."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.frontier = Frontier()

    def append(self, leaf: bytes) -> None:
        index = self.frontier.size
        for level, node in enumerate(self.frontier.push(merkle.leaf_hash(leaf))):
            self.nodes[(level, index >> level)] = node

    def node(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]


@pytest.mark.parametrize("n", [*range(1, 40), 63, 64, 65, 100, 127, 128, 129])
def test_incremental_tree_equals_definition(n: int) -> None:
    leaves = [f"leaf {i}".encode() for i in range(n)]
    stored = _Stored()
    for size, leaf in enumerate(leaves, start=1):
        stored.append(leaf)
        assert stored.frontier.root() == merkle.root(leaves[:size])
    assert frontier_from_nodes(stored.node, n).root() == merkle.root(leaves)
    for size in range(n + 1):
        assert subtree_hash(stored.node, 0, size) == merkle.root(leaves[:size])
    for index in range(n):
        assert inclusion_path(stored.node, index, n) == merkle.inclusion_proof(leaves, index)
    for old in range(n + 1):
        assert consistency_path(stored.node, old, n) == merkle.consistency_proof(leaves, old)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_incremental_proofs_verify_for_any_size(n: int, data: st.DataObject) -> None:
    leaves = [random.Random(i).randbytes(8) for i in range(n)]
    stored = _Stored()
    for leaf in leaves:
        stored.append(leaf)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    root = subtree_hash(stored.node, 0, size)
    path = inclusion_path(stored.node, index, size)
    assert merkle.verify_inclusion(leaves[index], index, size, path, root)
    proof = consistency_path(stored.node, old, size)
    assert merkle.verify_consistency(old, size, subtree_hash(stored.node, 0, old), root, proof)
