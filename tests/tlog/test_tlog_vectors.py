"""tlog.tree and tlog.proofs against published RFC 6962/9162 test vectors.

Every vector here is data from github.com/transparency-dev/merkle:
- LEAF_INPUTS, NODE_HASHES, ROOTS: testonly/constants.go (LeafInputs, NodeHashes,
  RootHashes).
- INCLUSION, CONSISTENCY: proof/verify_test.go (inclusionProofs, consistencyProofs;
  that file numbers leaves from 1, here they are 0-based indexes).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.tlog.memtree import MemoryStore
from tlog import tree
from tlog.hashes import EMPTY_ROOT, leaf_hash, node_hash
from tlog.proofs import ProofError, root_from_inclusion, verify_consistency, verify_inclusion

h = bytes.fromhex

LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]

NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]

# ROOTS[n] is the root of the tree of the first n leaves.
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# (leaf index, tree size, proof)
INCLUSION: list[tuple[int, int, list[bytes]]] = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (old size, new size, proof)
CONSISTENCY: list[tuple[int, int, list[bytes]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

# transparency-dev/merkle proof/verify_test.go: sha256SomeHash, a hash of no tree here.
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


@pytest.fixture(scope="module")
def store() -> MemoryStore:
    s = MemoryStore()
    s.append([leaf_hash(data) for data in LEAF_INPUTS])
    return s


def test_empty_root_and_hashing() -> None:
    assert EMPTY_ROOT == ROOTS[0]
    assert [leaf_hash(d) for d in LEAF_INPUTS] == NODE_HASHES[0]
    assert node_hash(NODE_HASHES[0][0], NODE_HASHES[0][1]) == NODE_HASHES[1][0]


def test_stored_nodes_are_the_published_node_hashes(store: MemoryStore) -> None:
    expected = {
        (level, index): value
        for level, row in enumerate(NODE_HASHES)
        for index, value in enumerate(row)
    }
    assert store.nodes == expected


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots(store: MemoryStore, size: int) -> None:
    assert store.root(size) == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(store: MemoryStore, index: int, size: int, proof: list[bytes]) -> None:
    assert store.inclusion(index, size) == proof
    leaf = NODE_HASHES[0][index]
    assert root_from_inclusion(index, size, leaf, proof) == ROOTS[size]
    verify_inclusion(index, size, leaf, proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_vectors(store: MemoryStore, old: int, new: int, proof: list[bytes]) -> None:
    assert store.consistency(old, new) == proof
    verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


@pytest.mark.parametrize(("index", "size", "proof"), [v for v in INCLUSION if v[2]])
def test_corrupted_inclusion_fails(index: int, size: int, proof: list[bytes]) -> None:
    # The probes of corruptInclusionProof in transparency-dev/merkle proof/verify_test.go.
    leaf, root = NODE_HASHES[0][index], ROOTS[size]
    flipped = [
        [*proof[:i], bytes([p[0] ^ 8]) + p[1:], *proof[i + 1 :]] for i, p in enumerate(proof)
    ]
    probes: list[tuple[int, int, bytes, list[bytes], bytes]] = [
        (index - 1, size, leaf, proof, root),
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, leaf_hash(b"WrongLeaf"), proof, root),
        (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, proof, SOME_HASH),
        (index, size, leaf, [*proof, b""], root),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [b"", *proof], root),
        (index, size, leaf, [root, *proof], root),
        (index, size, leaf, proof[:-1], root),
        *((index, size, leaf, f, root) for f in flipped),
    ]
    if len(proof) > 1:
        probes.append((index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root))
    for i, s, lf, p, r in probes:
        with pytest.raises(ProofError):
            verify_inclusion(i, s, lf, p, r)


@pytest.mark.parametrize(("old", "new", "proof"), [v for v in CONSISTENCY if v[2]])
def test_corrupted_consistency_fails(old: int, new: int, proof: list[bytes]) -> None:
    # The probes of corruptConsistencyProof in transparency-dev/merkle proof/verify_test.go.
    r1, r2 = ROOTS[old], ROOTS[new]
    flipped = [
        [*proof[:i], bytes([p[0] ^ 16]) + p[1:], *proof[i + 1 :]] for i, p in enumerate(proof)
    ]
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, b"WrongRoot", r2, proof),
        (old, new, r1, b"WrongRoot", proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
        *((old, new, r1, r2, f) for f in flipped),
    ]
    for o, n, a, b, p in probes:
        with pytest.raises(ProofError):
            verify_consistency(o, n, a, b, p)


# TestVerifyConsistency's table in transparency-dev/merkle proof/verify_test.go.
_R1, _R2 = b"don't care 1", b"don't care 2"


@pytest.mark.parametrize(
    ("old", "new", "r1", "r2", "proof", "ok"),
    [
        (0, 0, _R1, _R2, [], False),
        (1, 1, _R1, _R2, [], False),
        (0, 0, _R1, _R1, [], True),
        (0, 1, _R1, _R2, [], True),
        (1, 1, _R2, _R2, [], True),
        (1, 0, _R1, _R2, [], False),
        (2, 1, _R1, _R2, [], False),
        (1, 2, _R1, _R2, [], False),
        (0, 0, EMPTY_ROOT, _R2, [], False),
        (1, 1, EMPTY_ROOT, _R2, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    ],
)
def test_consistency_edge_cases(
    old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes], ok: bool
) -> None:
    if ok:
        verify_consistency(old, new, r1, r2, proof)
    else:
        with pytest.raises(ProofError):
            verify_consistency(old, new, r1, r2, proof)


def test_inclusion_edge_cases() -> None:
    # TestVerifyInclusion and TestVerifyInclusionSingleEntry in the same file.
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        for leaf, root in [(SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)]:
            with pytest.raises(ProofError):
                verify_inclusion(index, size, leaf, [], root)
    single = leaf_hash(b"data")
    verify_inclusion(0, 1, single, [], single)
    for leaf, root in [(single, b""), (b"", single), (b"", b"")]:
        with pytest.raises(ProofError):
            verify_inclusion(0, 1, leaf, [], root)


def test_out_of_range_raises_range_error() -> None:
    calls: list[Callable[[], object]] = [
        lambda: tree.inclusion_keys(0, 0),
        lambda: tree.inclusion_keys(8, 8),
        lambda: tree.inclusion_keys(-1, 8),
        lambda: tree.inclusion_proof(9, 8, {}),
        lambda: tree.consistency_keys(9, 8),
        lambda: tree.consistency_keys(-1, 8),
        lambda: tree.consistency_proof(2, 1, {}),
        lambda: tree.root_keys(-1),
        lambda: tree.root(-1, {}),
        lambda: tree.append_keys(-1),
        lambda: tree.append(-1, [], {}),
    ]
    for call in calls:
        with pytest.raises(tree.RangeError):
            call()
    with pytest.raises(tree.RangeError, match="not in a tree of size 8"):
        tree.inclusion_keys(8, 8)
    with pytest.raises(tree.RangeError, match="larger than new tree size"):
        tree.consistency_keys(5, 3)
    assert issubclass(tree.RangeError, ValueError)


def test_missing_node_is_reported(store: MemoryStore) -> None:
    keys = tree.inclusion_keys(1, 5)
    nodes = store.read(keys[1:])
    with pytest.raises(tree.MissingNodeError, match="not supplied"):
        tree.inclusion_proof(1, 5, nodes)


def test_trivial_proofs_need_nothing() -> None:
    assert tree.consistency_keys(0, 8) == [] == tree.consistency_proof(0, 8, {})
    assert tree.consistency_keys(8, 8) == [] == tree.consistency_proof(8, 8, {})
    assert tree.root_keys(0) == [] and tree.root(0, {}) == EMPTY_ROOT
    assert tree.inclusion_proof(0, 1, {}) == []


# The stored nodes each proof reads, from TestInclusion and TestConsistency in
# transparency-dev/merkle proof/proof_test.go: there a node ID (level, index) means the
# same as our key. They list a folded subtree smallest node first; only the set matters.
INCLUSION_NODES: list[tuple[int, int, set[tuple[int, int]]]] = [
    (0, 1, set()),
    (0, 2, {(0, 1)}),
    (1, 2, {(0, 0)}),
    (1, 3, {(0, 0), (0, 2)}),
    (0, 7, {(0, 1), (1, 1), (0, 6), (1, 2)}),
    (1, 7, {(0, 0), (1, 1), (0, 6), (1, 2)}),
    (2, 7, {(0, 3), (1, 0), (0, 6), (1, 2)}),
    (3, 7, {(0, 2), (1, 0), (0, 6), (1, 2)}),
    (4, 7, {(0, 5), (0, 6), (2, 0)}),
    (5, 7, {(0, 4), (0, 6), (2, 0)}),
    (6, 7, {(1, 2), (2, 0)}),
    (2, 4, {(0, 3), (1, 0)}),
    (3, 5, {(0, 2), (1, 0), (0, 4)}),
    (3, 6, {(0, 2), (1, 0), (1, 2)}),
    (4, 6, {(0, 5), (2, 0)}),
    (10, 15, {(0, 11), (1, 4), (0, 14), (1, 6), (3, 0)}),
    (24, 31, {(0, 25), (1, 13), (0, 30), (1, 14), (3, 2), (4, 0)}),
    (81, 95, {(0, 80), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)}),
]

CONSISTENCY_NODES: list[tuple[int, int, set[tuple[int, int]]]] = [
    (1, 2, {(0, 1)}),
    (1, 4, {(0, 1), (1, 1)}),
    (1, 6, {(0, 1), (1, 1), (1, 2)}),
    (2, 3, {(0, 2)}),
    (2, 8, {(1, 1), (2, 1)}),
    (3, 7, {(0, 2), (0, 3), (1, 0), (0, 6), (1, 2)}),
    (4, 7, {(0, 6), (1, 2)}),
    (5, 7, {(0, 4), (0, 5), (0, 6), (2, 0)}),
    (6, 7, {(1, 2), (0, 6), (2, 0)}),
    (7, 8, {(0, 6), (0, 7), (1, 2), (2, 0)}),
    *((n, n, set()) for n in [1, 2, 3, 4, 5, 7, 8]),
    (2, 4, {(1, 1)}),
    (3, 5, {(0, 2), (0, 3), (1, 0), (0, 4)}),
    (3, 6, {(0, 2), (0, 3), (1, 0), (1, 2)}),
    (4, 6, {(1, 2)}),
    (1, 7, {(0, 1), (1, 1), (0, 6), (1, 2)}),
    (10, 15, {(1, 4), (1, 5), (0, 14), (1, 6), (3, 0)}),
    (24, 31, {(3, 2), (0, 30), (1, 14), (2, 6), (4, 0)}),
    (81, 95, {(0, 80), (0, 81), (1, 41), (2, 21), (0, 94), (1, 46), (2, 22), (4, 4), (6, 0)}),
]


@pytest.mark.parametrize(("index", "size", "nodes"), INCLUSION_NODES)
def test_inclusion_reads_the_same_nodes(index: int, size: int, nodes: set[tuple[int, int]]) -> None:
    keys = tree.inclusion_keys(index, size)
    assert set(keys) == nodes and len(keys) == len(nodes)


@pytest.mark.parametrize(("old", "new", "nodes"), CONSISTENCY_NODES)
def test_consistency_reads_the_same_nodes(old: int, new: int, nodes: set[tuple[int, int]]) -> None:
    keys = tree.consistency_keys(old, new)
    assert set(keys) == nodes and len(keys) == len(nodes)
