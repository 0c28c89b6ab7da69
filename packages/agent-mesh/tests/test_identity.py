"""Signatures over canonical JSON, and passphrase-encrypted key files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from agentmesh import AgentIdentity, IdentityError, PublicIdentity, SignatureError
from agentmesh._encoding import b64d, b64e

PAYLOAD = {"type": "test/v1", "b": [1, 2, {"z": "é", "a": None}], "a": "x"}
FAST = 2**14  # scrypt cost for tests; the default is 2**15


def test_sign_and_verify(alice: AgentIdentity) -> None:
    signature = alice.sign(PAYLOAD)
    alice.public().verify(PAYLOAD, signature)
    # Canonical JSON: key order of the payload does not matter.
    PublicIdentity(alice.did).verify(dict(reversed(list(PAYLOAD.items()))), signature)


def test_forged_signature_is_refused(alice: AgentIdentity) -> None:
    with pytest.raises(SignatureError, match="does not verify") as info:
        alice.public().verify(PAYLOAD, b64e(os.urandom(64)))
    assert info.value.reason == "bad-signature"


def test_signature_from_another_key_is_refused(alice: AgentIdentity, mallory: AgentIdentity) -> None:
    with pytest.raises(SignatureError, match=alice.did):
        alice.public().verify(PAYLOAD, mallory.sign(PAYLOAD))


def test_altered_payload_is_refused(alice: AgentIdentity) -> None:
    signature = alice.sign(PAYLOAD)
    with pytest.raises(SignatureError):
        alice.public().verify({**PAYLOAD, "a": "y"}, signature)


@pytest.mark.parametrize("bad", ["", "abc", b64e(bytes(63)), b64e(bytes(65)), b64e(bytes(64)) + "==", 17])
def test_malformed_signature_is_refused(alice: AgentIdentity, bad: object) -> None:
    with pytest.raises(SignatureError):
        alice.public().verify(PAYLOAD, bad)  # type: ignore[arg-type]


def test_non_canonical_base64_is_refused() -> None:
    text = b64e(bytes([0xFF]))  # "_w": the low bits of the last character must be zero
    with pytest.raises(ValueError, match="canonical"):
        b64d(text[:-1] + "x")


def test_values_without_canonical_form_cannot_be_signed(alice: AgentIdentity) -> None:
    with pytest.raises(IdentityError, match="canonical JSON"):
        alice.sign({"x": float("nan")})


def test_identity_equality_and_repr(alice: AgentIdentity, bob: AgentIdentity) -> None:
    assert alice.public() == PublicIdentity(alice.did)
    assert alice.public() != bob.public()
    assert "alice" in repr(alice)
    assert len({alice.public(), PublicIdentity(alice.did)}) == 1


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(IdentityError, match="32 bytes"):
        AgentIdentity.from_seed(b"short", name="x")


def test_key_file_roundtrip(tmp_path: Path, alice: AgentIdentity) -> None:
    path = tmp_path / "alice.key"
    alice.save(path, "correct horse", scrypt_n=FAST)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert alice.did in path.read_text()
    assert b64e(alice._seed()) not in path.read_text()
    loaded = AgentIdentity.load(path, "correct horse")
    assert loaded.did == alice.did and loaded.name == "alice"
    loaded.public().verify(PAYLOAD, alice.sign(PAYLOAD))
    alice.public().verify(PAYLOAD, loaded.sign(PAYLOAD))


def test_wrong_passphrase(tmp_path: Path, alice: AgentIdentity) -> None:
    path = tmp_path / "k"
    alice.save(path, "right", scrypt_n=FAST)
    with pytest.raises(IdentityError, match="wrong passphrase") as info:
        AgentIdentity.load(path, "wrong")
    assert info.value.reason == "bad-passphrase"


@pytest.mark.parametrize("field", ["did", "name", "nonce", "ciphertext"])
def test_tampered_key_file_is_refused(
    tmp_path: Path, alice: AgentIdentity, bob: AgentIdentity, field: str
) -> None:
    path, other = tmp_path / "a", tmp_path / "b"
    alice.save(path, "pw", scrypt_n=FAST)
    bob.save(other, "pw", scrypt_n=FAST)
    data, donor = json.loads(path.read_text()), json.loads(other.read_text())
    data[field] = donor[field]  # e.g. claim bob's DID, or splice in bob's encrypted key
    path.write_text(json.dumps(data))
    with pytest.raises(IdentityError):
        AgentIdentity.load(path, "pw")


def test_weak_or_missing_passphrase_and_bad_files(tmp_path: Path, alice: AgentIdentity) -> None:
    with pytest.raises(IdentityError, match="non-empty passphrase"):
        alice.save(tmp_path / "k", "")
    with pytest.raises(IdentityError, match="scrypt_n"):
        alice.save(tmp_path / "k", "pw", scrypt_n=1024)
    with pytest.raises(IdentityError, match="cannot read key file"):
        AgentIdentity.load(tmp_path / "missing", "pw")
    (tmp_path / "junk").write_text("not json")
    with pytest.raises(IdentityError, match="not JSON"):
        AgentIdentity.load(tmp_path / "junk", "pw")
    alice.save(tmp_path / "k", "pw", scrypt_n=FAST)
    data = json.loads((tmp_path / "k").read_text())
    data["kdf"]["n"] = 2**30  # would take minutes and gigabytes
    (tmp_path / "k").write_text(json.dumps(data))
    with pytest.raises(IdentityError, match="unsupported or malformed"):
        AgentIdentity.load(tmp_path / "k", "pw")
    assert not list(tmp_path.glob("*.tmp"))
