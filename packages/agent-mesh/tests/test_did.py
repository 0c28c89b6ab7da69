"""did:key: the W3C CCG test vectors, and every way a DID can be malformed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agentmesh import AgentIdentity, IdentityError, PublicIdentity, did_document, did_from_public_key
from agentmesh._base58 import b58decode, b58encode
from agentmesh._did import _P, public_key_from_did, x25519_private_from_ed25519_seed

VECTORS = json.loads((Path(__file__).parent / "vectors" / "did_key_ed25519.json").read_text())["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["did"][-8:] for v in VECTORS])
def test_spec_vector_seed_to_did(vector: dict[str, str]) -> None:
    identity = AgentIdentity.from_seed(bytes.fromhex(vector["seed"]), name="v")
    assert identity.did == vector["did"]
    assert b58encode(identity.public_key) == vector["public_key_base58"]
    assert public_key_from_did(vector["did"]) == b58decode(vector["public_key_base58"])


@pytest.mark.parametrize("vector", VECTORS, ids=[v["did"][-8:] for v in VECTORS])
def test_spec_vector_key_agreement(vector: dict[str, str]) -> None:
    document = did_document(vector["did"])
    ka = document["verificationMethod"][1]
    assert ka["id"] == f"{vector['did']}#{vector['key_agreement_fingerprint']}"
    assert ka["publicKeyBase58"] == vector["x25519_public_base58"]
    x_private = x25519_private_from_ed25519_seed(bytes.fromhex(vector["seed"]))
    assert b58encode(x_private) == vector["x25519_private_base58"]
    # The converted private key really is the key agreement key's private half.
    derived = (
        X25519PrivateKey.from_private_bytes(x_private)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    assert b58encode(derived) == vector["x25519_public_base58"]


def test_spec_vector_document_shape() -> None:
    v = VECTORS[0]
    did, fp, kafp = v["did"], v["did"][len("did:key:") :], v["key_agreement_fingerprint"]
    expected: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/suites/ed25519-2018/v1",
            "https://w3id.org/security/suites/x25519-2019/v1",
        ],
        "id": did,
        "verificationMethod": [
            {
                "id": f"{did}#{fp}",
                "type": "Ed25519VerificationKey2018",
                "controller": did,
                "publicKeyBase58": v["public_key_base58"],
            },
            {
                "id": f"{did}#{kafp}",
                "type": "X25519KeyAgreementKey2019",
                "controller": did,
                "publicKeyBase58": v["x25519_public_base58"],
            },
        ],
        "assertionMethod": [f"{did}#{fp}"],
        "authentication": [f"{did}#{fp}"],
        "capabilityInvocation": [f"{did}#{fp}"],
        "capabilityDelegation": [f"{did}#{fp}"],
        "keyAgreement": [f"{did}#{kafp}"],
    }
    assert did_document(did) == expected
    assert PublicIdentity(did).document() == expected


def test_roundtrip_fresh_identities() -> None:
    for _ in range(20):
        identity = AgentIdentity.create("x")
        assert identity.did.startswith("did:key:z6Mk")
        assert did_from_public_key(identity.public_key) == identity.did
        assert PublicIdentity(identity.did).public_key == identity.public_key


def _did_of(raw: bytes) -> str:
    return "did:key:z" + b58encode(raw)


def _encode_y(y: int, sign: int = 0) -> bytes:
    return (y | (sign << 255)).to_bytes(32, "little")


GOOD = VECTORS[0]["did"]


@pytest.mark.parametrize(
    ("did", "fragment"),
    [
        ("did:web:example.com", "not a did:key"),
        ("did:key:" + GOOD[len("did:key:z") :], "not a did:key"),  # no multibase prefix
        ("did:key:m" + GOOD[len("did:key:z") :], "not a did:key"),  # base64 multibase
        (GOOD[:-1] + "0", "base58btc"),  # `0` is not in the alphabet
        ("did:key:z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW", "does not hold an Ed25519 key"),
        ("did:key:zTjsVPtY", "holds 3 key bytes"),
        (_did_of(b"\xed\x01" + bytes(31)), "holds 31 key bytes"),
        (_did_of(b"\xed\x01" + bytes(33)), "holds 33 key bytes"),
        ("did:key:z1" + GOOD[len("did:key:z") :], "does not hold an Ed25519 key"),  # leading zero byte
        (_did_of(b"\xed\x01" + _encode_y(1)), "small-order"),  # the identity point
        (_did_of(b"\xed\x01" + _encode_y(_P - 1)), "small-order"),  # order 2
        (_did_of(b"\xed\x01" + _encode_y(_P + 1)), "not canonically encoded"),
        (_did_of(b"\xed\x01" + _encode_y(2)), "not a point on the curve"),
        (123, "not a did:key"),
    ],
)
def test_malformed_dids_are_refused(did: Any, fragment: str) -> None:
    with pytest.raises(IdentityError, match=fragment) as info:
        PublicIdentity(did)
    assert info.value.reason in {"bad-did", "bad-key"}


def test_tampered_did_document_is_refused(alice: AgentIdentity, mallory: AgentIdentity) -> None:
    document = alice.document()
    assert PublicIdentity.from_document(document) == alice.public()
    swapped = json.loads(json.dumps(document))
    swapped["verificationMethod"][0]["publicKeyBase58"] = b58encode(mallory.public_key)
    added = json.loads(json.dumps(document))
    added["authentication"].append(mallory.did + "#" + mallory.did[8:])
    relabelled = json.loads(json.dumps(document))
    relabelled["id"] = mallory.did
    for bad in (swapped, added, relabelled, {**document, "service": []}):
        with pytest.raises(IdentityError, match="tampered") as info:
            PublicIdentity.from_document(bad)
        assert info.value.reason == "tampered-document"
