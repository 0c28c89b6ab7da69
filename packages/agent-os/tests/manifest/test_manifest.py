"""Signed tool manifests: every way the supply chain can be broken is refused, audited, by the manifest guard."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_os import AuditLog, GovernanceDenied, ToolGate, govern
from agent_os.manifest import (
    ManifestError,
    ManifestGuard,
    ManifestVersions,
    generate_keypair,
    load_private_key,
    load_trusted_keys,
    read_manifest,
    verify_manifest,
)
from agent_os.manifest._cli import main

from .conftest import POLICY, Publisher


def _refused(log: AuditLog, match: str) -> None:
    record = log.records()[-1]
    assert record.decision.refused_by == "guard:manifest", record
    assert not record.decision.allowed
    assert match in record.decision.message, record.decision.message


def _governed(publisher: Publisher, manifest: Path, log: AuditLog, **options: object) -> object:
    return govern(
        publisher.tool(),
        policy=POLICY,
        audit=log,
        manifest=str(manifest),
        trusted_keys=str(publisher.public),
        **options,
    )


def test_a_verified_tool_runs(publisher: Publisher) -> None:
    log = AuditLog()
    tool = _governed(publisher, publisher.sign(), log)
    assert tool("q3") == "report for q3"  # type: ignore[operator]
    assert log.records()[-1].decision.allowed


def test_a_file_changed_after_govern_is_refused_at_the_next_call(publisher: Publisher) -> None:
    log = AuditLog()
    tool = _governed(publisher, publisher.sign(), log)
    assert tool("q3") == "report for q3"  # type: ignore[operator]
    source = publisher.root / "report_tool.py"
    source.write_text(source.read_text() + "\nimport os  # injected\n")
    with pytest.raises(GovernanceDenied):
        tool("q3")  # type: ignore[operator]
    _refused(log, "changed since the manifest was signed")


def test_a_rewrite_that_restores_size_and_mtime_is_still_caught(publisher: Publisher) -> None:
    log = AuditLog()
    tool = _governed(publisher, publisher.sign(), log)
    tool("q3")  # type: ignore[operator]
    source = publisher.root / "report_tool.py"
    before = source.stat()
    text = source.read_text()
    source.write_text(text.replace("report for", "rep0rt f0r"))  # same length
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert source.stat().st_size == before.st_size and source.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(GovernanceDenied):
        tool("q3")  # type: ignore[operator]
    _refused(log, "changed since the manifest was signed")


def test_a_file_tampered_before_govern_refuses_every_call(publisher: Publisher) -> None:
    manifest = publisher.sign()
    (publisher.root / "report_tool.py").write_text("def fetch_report(period):\n    return 'pwned'\n")
    log = AuditLog()
    tool = _governed(publisher, manifest, log)
    for _ in range(2):
        with pytest.raises(GovernanceDenied):
            tool("q3")  # type: ignore[operator]
        _refused(log, "changed since the manifest was signed")


def test_a_deleted_file_is_refused(publisher: Publisher) -> None:
    manifest = publisher.sign(paths=("report_tool.py", "helpers.py"))
    log = AuditLog()
    tool = _governed(publisher, manifest, log)
    tool("q3")  # type: ignore[operator]
    (publisher.root / "helpers.py").unlink()
    with pytest.raises(GovernanceDenied):
        tool("q3")  # type: ignore[operator]
    _refused(log, "is missing")


def test_a_manifest_signed_by_an_untrusted_key_is_refused(publisher: Publisher, stranger_key: Path) -> None:
    log = AuditLog()
    tool = govern(
        publisher.tool(),
        policy=POLICY,
        audit=log,
        manifest=str(publisher.sign()),
        trusted_keys=str(stranger_key),
    )
    with pytest.raises(GovernanceDenied):
        tool("q3")  # type: ignore[operator]
    _refused(log, "which is not trusted")


def test_a_manifest_edited_after_signing_is_refused(publisher: Publisher) -> None:
    path = publisher.sign()
    data = json.loads(path.read_text())
    data["manifest"]["capabilities"].append("drop_database")
    path.write_text(json.dumps(data))
    log = AuditLog()
    tool = _governed(publisher, path, log)
    with pytest.raises(GovernanceDenied):
        tool("q3")  # type: ignore[operator]
    _refused(log, "does not verify")


def test_a_signature_moved_onto_another_manifest_is_refused(publisher: Publisher) -> None:
    first = json.loads(publisher.sign(out="a.json").read_text())
    second = json.loads(publisher.sign(out="b.json", version="1.0.1").read_text())
    second["signature"] = first["signature"]
    path = publisher.root / "forged.json"
    path.write_text(json.dumps(second))
    with pytest.raises(ManifestError) as info:
        verify_manifest(path, str(publisher.public), versions=ManifestVersions())
    assert info.value.reason == "bad-signature"


def test_an_expired_manifest_is_refused(publisher: Publisher) -> None:
    old = datetime.now(UTC) - timedelta(days=10)
    log = AuditLog()
    tool = _governed(publisher, publisher.sign(issued_at=old, valid_for=timedelta(days=1)), log)
    with pytest.raises(GovernanceDenied):
        tool("q3")  # type: ignore[operator]
    _refused(log, "expired at")


def test_a_manifest_that_expires_while_in_use_is_refused_then(publisher: Publisher) -> None:
    guard = ManifestGuard(
        publisher.sign(), str(publisher.public), tool="fetch_report", versions=ManifestVersions()
    )
    assert guard.verified is not None
    request = {"action": {"type": "fetch_report", "tool": "fetch_report"}, "args": {}, "agent": {"id": "a"}}
    assert guard.check(request) is None
    later = datetime.now(UTC) + timedelta(days=31)
    with pytest.raises(ManifestError) as info:
        guard.verified.check_time(later)
    assert info.value.reason == "expired"


def test_a_manifest_issued_in_the_future_is_refused(publisher: Publisher) -> None:
    future = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(ManifestError) as info:
        verify_manifest(publisher.sign(issued_at=future), str(publisher.public), versions=ManifestVersions())
    assert info.value.reason == "not-yet-valid"


def test_an_action_outside_the_declared_capabilities_is_refused(publisher: Publisher) -> None:
    manifest = publisher.sign(name="files", capabilities=("read",))
    log = AuditLog()
    tool = govern(
        publisher.tool("files"),
        policy=POLICY,
        audit=log,
        manifest=str(manifest),
        trusted_keys=str(publisher.public),
    )
    assert tool("read", "/tmp/x") == "read /tmp/x"
    with pytest.raises(GovernanceDenied):
        tool("delete", "/tmp/x")
    _refused(log, "action `delete` is not among the capabilities")


def test_a_manifest_for_another_tool_is_refused(publisher: Publisher) -> None:
    manifest = publisher.sign(name="files", capabilities=("files",))
    log = AuditLog()
    tool = govern(
        publisher.tool("fetch_report"),
        policy=POLICY,
        audit=log,
        manifest=str(manifest),
        trusted_keys=str(publisher.public),
    )
    with pytest.raises(GovernanceDenied):
        tool("q3")
    _refused(log, "the manifest is for tool `files`, not `fetch_report`")


def test_a_callable_other_than_the_entry_point_is_refused(publisher: Publisher) -> None:
    def fetch_report(period: str) -> str:  # same name, defined here: not the signed code
        return "impostor"

    log = AuditLog()
    tool = govern(
        fetch_report,
        policy=POLICY,
        audit=log,
        manifest=str(publisher.sign()),
        trusted_keys=str(publisher.public),
    )
    with pytest.raises(GovernanceDenied):
        tool("q3")
    _refused(log, "entry point")


def test_code_the_manifest_does_not_cover_is_refused(publisher: Publisher) -> None:
    manifest = publisher.sign(paths=("helpers.py",), entry_point="")
    log = AuditLog()
    tool = _governed(publisher, manifest, log)
    with pytest.raises(GovernanceDenied):
        tool("q3")  # type: ignore[operator]
    _refused(log, "does not list")


def test_a_replayed_older_version_is_refused(publisher: Publisher, tmp_path: Path) -> None:
    versions = ManifestVersions(tmp_path / "versions.json")
    old = publisher.sign(version="1.0.0", out="v1.json")
    new = publisher.sign(version="1.2.0", out="v2.json")
    verify_manifest(new, str(publisher.public), versions=versions)
    with pytest.raises(ManifestError) as info:
        verify_manifest(old, str(publisher.public), versions=versions)
    assert info.value.reason == "replayed"
    # Across restarts: the store is a file.
    with pytest.raises(ManifestError, match="replayed"):
        verify_manifest(old, str(publisher.public), versions=ManifestVersions(tmp_path / "versions.json"))
    # And through govern(), whose default store is the process's.
    verify_manifest(new, str(publisher.public))
    log = AuditLog()
    tool = _governed(publisher, old, log)
    with pytest.raises(GovernanceDenied):
        tool("q3")  # type: ignore[operator]
    _refused(log, "a replayed old manifest")


def test_a_corrupt_version_store_is_reported_not_reset(tmp_path: Path) -> None:
    path = tmp_path / "versions.json"
    path.write_text("{not json")
    with pytest.raises(ManifestError, match="unreadable"):
        ManifestVersions(path)


def test_bad_trusted_keys_and_missing_keys_are_errors(publisher: Publisher) -> None:
    with pytest.raises(TypeError, match="trusted_keys= applies only with manifest="):
        govern(publisher.tool(), policy=POLICY, trusted_keys=str(publisher.public))
    log = AuditLog()
    tool = govern(publisher.tool(), policy=POLICY, audit=log, manifest=str(publisher.sign()))
    with pytest.raises(GovernanceDenied):
        tool("q3")
    _refused(log, "trusted_keys")
    with pytest.raises(ManifestError, match="not an Ed25519 public key"):
        verify_manifest(publisher.sign(), "not-a-key")
    private = load_private_key(publisher.private)
    with pytest.raises(ManifestError, match="public key, not a private one"):
        verify_manifest(publisher.sign(), [private])


def test_a_malformed_manifest_is_refused(publisher: Publisher) -> None:
    path = publisher.root / "bad.json"
    path.write_text('{"manifest": {"name": "x"}}')
    with pytest.raises(ManifestError, match="not a signed manifest"):
        read_manifest(path)
    data = json.loads(publisher.sign().read_text())
    data["manifest"]["files"] = {"../outside.py": "sha256:" + "0" * 64}
    with pytest.raises(ManifestError, match="must be relative"):
        read_manifest(data)


def test_a_tool_gate_with_a_manifest_refuses_other_tools(publisher: Publisher) -> None:
    log = AuditLog()
    gate = ToolGate(
        policy=POLICY, audit=log, manifest=str(publisher.sign()), trusted_keys=str(publisher.public)
    )
    assert gate.check("fetch_report", {"period": "q3"}).allowed
    assert not gate.check("send_money", {"to": "x"}).allowed
    _refused(log, "the manifest is for tool `fetch_report`, not `send_money`")


def test_keys_are_written_private_and_never_overwritten(tmp_path: Path) -> None:
    generate_keypair(tmp_path / "k.pem", tmp_path / "k.pub")
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    with pytest.raises(ManifestError, match="exists already"):
        generate_keypair(tmp_path / "k.pem", tmp_path / "k2.pub")
    data = json.loads((tmp_path / "k.pub").read_text())
    data["key_id"] = "ed25519:" + "0" * 32
    (tmp_path / "forged.pub").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="names key"):
        load_trusted_keys(str(tmp_path / "forged.pub"))


def test_command_line_keygen_sign_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = tmp_path / "tool"
    (tool / "pkg").mkdir(parents=True)
    (tool / "pkg" / "__init__.py").write_text("def run(): return 1\n")
    (tool / "pkg" / "__pycache__").mkdir()
    (tool / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert main(["keygen", "--out", str(tmp_path / "pub")]) == 0
    out = str(tool / "manifest.json")
    args = ["sign", "--key", str(tmp_path / "pub.pem"), "--name", "run", "--version", "2.0.1"]
    args += [
        "--entry-point",
        "pkg:run",
        "--capability",
        "run",
        "--root",
        str(tool),
        "--out",
        out,
        str(tool / "pkg"),
    ]
    assert main(args) == 0
    signed, _ = read_manifest(out)
    assert list(signed.manifest.files) == ["pkg/__init__.py"]  # caches are not code
    assert (
        main(
            [
                "verify",
                "--trusted-key",
                str(tmp_path / "pub.pub"),
                "--versions",
                str(tmp_path / "v.json"),
                out,
            ]
        )
        == 0
    )
    (tool / "pkg" / "__init__.py").write_text("def run(): return 2\n")
    assert main(["verify", "--trusted-key", str(tmp_path / "pub.pub"), out]) == 1
    assert "changed since the manifest was signed" in capsys.readouterr().err
    assert main([*args[:-1], "--out", str(tmp_path / "elsewhere.json"), str(tool / "pkg")]) == 2


def test_a_tool_name_with_capitals_matches_its_declared_capability(publisher: Publisher) -> None:
    manifest = publisher.sign(name="FetchReport", capabilities=("FetchReport",))
    log = AuditLog()
    tool = govern(
        publisher.tool("FetchReport"),
        policy=POLICY,
        audit=log,
        manifest=str(manifest),
        trusted_keys=str(publisher.public),
    )
    assert tool("q3") == "q3"
