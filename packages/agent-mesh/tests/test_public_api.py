"""The package's public API is what `__all__` says, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

import agentmesh


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert list(agentmesh.__all__) == sorted(agentmesh.__all__, key=lambda n: (not n.isupper(), n))
    for name in agentmesh.__all__:
        assert getattr(agentmesh, name) is not None, name
    assert sorted(dir(agentmesh)) == sorted(agentmesh.__all__)


def test_no_private_name_leaks() -> None:
    with pytest.raises(AttributeError):
        _ = agentmesh._binding_secret  # type: ignore[attr-defined]


def test_errors_derive_from_the_toolkit_root() -> None:
    from agt_core import GovernanceError

    for name in (
        "ChannelError",
        "DelegationError",
        "HandshakeError",
        "IdentityError",
        "SignatureError",
        "TrustError",
    ):
        assert issubclass(getattr(agentmesh, name), agentmesh.MeshError)
    assert issubclass(agentmesh.MeshError, GovernanceError)
    assert issubclass(agentmesh.SignatureError, agentmesh.IdentityError)


def test_import_does_not_load_cryptography_or_pydantic() -> None:
    code = (
        "import sys, agentmesh, agentmesh.governance; "
        "print(','.join(m for m in ('cryptography', 'pydantic', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
