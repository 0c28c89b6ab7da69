"""Faults the durable store must survive: racing threads and processes, SIGKILL, full disk, read-only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hv_support import decision, fill, request

from agent_hypervisor import MerkleAuditLog, SqliteAuditLog
from agt_core import AuditError

HERE = Path(__file__).parent


def _spawn(path: Path, durability: str, count: int, tag: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    return subprocess.Popen(
        [sys.executable, str(HERE / "hv_worker.py"), str(path), durability, str(count), tag],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("kind", ["memory", "sync", "batched"])
def test_concurrent_appends_from_many_threads_lose_nothing(tmp_path: Path, kind: str) -> None:
    log = MerkleAuditLog() if kind == "memory" else SqliteAuditLog(tmp_path / "a.db", durability=kind)  # type: ignore[arg-type]
    threads, per_thread = 8, 150
    results: list[list[str]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            results[t].append(log.append(request(i, agent=f"agent-{t}"), decision(i)))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    log.flush()
    returned = [h for r in results for h in r]
    assert len(returned) == len(set(returned)) == threads * per_thread
    assert len(log) == threads * per_thread
    assert {r.hash for r in log} == set(returned)
    for t in range(threads):  # each thread's records are in the order it appended them
        seqs = [r.seq for r in log.query(agent=f"agent-{t}")]
        assert seqs == sorted(seqs) and len(seqs) == per_thread
    assert log.verify(deep=True).ok
    if isinstance(log, SqliteAuditLog):
        log.close()


def test_concurrent_appends_from_several_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    SqliteAuditLog(path).close()
    procs = [_spawn(path, "sync", 120, f"p{n}") for n in range(3)]
    procs.append(_spawn(path, "batched", 200, "pb"))
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    returned = [h for out in outputs for h in out if h != "ready"]
    with SqliteAuditLog(path) as log:
        assert len(log) == 3 * 120 + 200 == len(set(returned))
        assert {r.hash for r in log} == set(returned)
        report = log.verify(deep=True)
        assert report.ok, report.reason


def test_sigkill_mid_stream_loses_no_returned_sync_append(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    proc = _spawn(path, "sync", 1_000_000, "victim")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    returned = [proc.stdout.readline().strip() for _ in range(150)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    returned += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    proc.stdout.close()
    with SqliteAuditLog(path) as log:
        report = log.verify(deep=True)
        assert report.ok, report.reason
        stored = {r.hash for r in log}
        assert set(returned) <= stored
        assert len(log) >= len(returned)
        fill(log, 3)  # and the store takes appends again
        assert log.verify().ok


def test_sigkill_in_batched_mode_leaves_a_verifiable_prefix(tmp_path: Path) -> None:
    path = tmp_path / "killed-batched.db"
    proc = _spawn(path, "batched", 1_000_000, "victim")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    returned = [proc.stdout.readline().strip() for _ in range(3000)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with SqliteAuditLog(path) as log:
        report = log.verify(deep=True)
        assert report.ok, report.reason
        stored = [r.hash for r in log]
        # What survived is exactly a prefix of what was returned (the open batch may be lost).
        assert stored == returned[: len(stored)] or returned == stored[: len(returned)]


def test_full_disk_refuses_the_append_and_keeps_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "small.db"
    with SqliteAuditLog(path, max_bytes=64 * 1024) as log:
        written = 0
        error = None
        for i in range(10_000):
            try:
                log.append(request(i), decision(i))
            except AuditError as exc:
                error = exc
                break
            written += 1
        assert error is not None and "full" in str(error)
        assert "free disk space" in str(error)
        assert 0 < written < 10_000
        assert len(log) == written
        assert log.verify().ok


def test_full_disk_in_batched_mode_reports_the_lost_batch(tmp_path: Path) -> None:
    path = tmp_path / "small-batched.db"
    with SqliteAuditLog(path, durability="batched", batch_size=50, max_bytes=128 * 1024) as log:
        returned: list[str] = []
        error = None
        for i in range(10_000):
            try:
                returned.append(log.append(request(i), decision(i)))
            except AuditError as exc:
                error = exc
                break
        # The open batch died with the failed write: the error says so, and what was committed stays.
        assert error is not None and "full" in str(error)
        assert "were lost" in str(error)
        log.flush()
        assert 0 < len(log) < len(returned)
        assert [r.hash for r in log] == returned[: len(log)]
        assert log.verify().ok


def test_read_only_store_refuses_appends(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    with SqliteAuditLog(path) as log:
        fill(log, 3)
    with SqliteAuditLog(path, readonly=True) as ro:
        with pytest.raises(AuditError, match="read-only"):
            ro.append(request(1), decision(1))
        assert ro.verify().ok


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_file_refuses_appends(tmp_path: Path) -> None:
    path = tmp_path / "perm.db"
    with SqliteAuditLog(path) as log:
        fill(log, 3)
    os.chmod(path, 0o444)
    os.chmod(tmp_path, 0o555)
    try:
        with pytest.raises(AuditError):
            SqliteAuditLog(path).append(request(1), decision(1))
    finally:
        os.chmod(tmp_path, 0o755)
        os.chmod(path, 0o644)


@pytest.fixture
def tiny_fs(tmp_path: Path):
    """A real 512 KiB filesystem (tmpfs), so a full or read-only disk is the kernel's, not simulated."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def test_a_really_full_disk_refuses_the_append_and_the_governed_call(tiny_fs: Path) -> None:
    import agent_os

    log = SqliteAuditLog(tiny_fs / "audit.db")
    ran: list[int] = []
    tool = agent_os.govern(
        lambda action, blob: ran.append(1), policy=POLICY, audit=log, pipeline=agent_os.Pipeline()
    )
    error = None
    for _ in range(10_000):
        try:
            tool(action="read", blob="x" * 2000)
        except AuditError as exc:
            error = exc
            break
    assert error is not None and "full" in str(error)
    assert len(ran) == len(log) > 0  # the refused call did not run; every call that ran is recorded
    assert log.verify().ok
    log.close()


def test_a_read_only_filesystem_refuses_appends(tiny_fs: Path) -> None:
    path = tiny_fs / "audit.db"
    with SqliteAuditLog(path) as log:
        fill(log, 3)
    assert subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=False).returncode == 0

    def open_and_append() -> None:
        SqliteAuditLog(path).append(request(9), decision(9))  # opening or appending must refuse

    with pytest.raises(AuditError):
        open_and_append()


POLICY = """\
apiVersion: governance.toolkit/v1
name: fault-policy
default_action: allow
rules:
- name: no-drops
  condition: "action.type == 'drop'"
  action: deny
"""
