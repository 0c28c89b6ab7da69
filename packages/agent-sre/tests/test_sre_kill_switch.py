"""The kill switch refuses what it covers, across threads, processes and restarts, and fails closed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from agent_os import AuditLog
from agent_sre import KillSwitch, SQLiteSwitchStore, StateStoreError
from agt_core import AuditError

from .conftest import FakeClock, make_request


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "switches.db"


def test_agent_tool_and_global_scopes(db: Path) -> None:
    ks = KillSwitch(db, max_staleness_s=0)
    assert ks.check(make_request("bot-7", "search")) is None
    ks.pull("agent", "bot-7", by="alice", reason="looping on refunds")
    reason = ks.check(make_request("bot-7", "search"))
    assert reason is not None
    assert "`agent:bot-7` pulled by `alice`" in reason and "looping on refunds" in reason
    assert ks.check(make_request("bot-8", "search")) is None

    ks.pull("tool", "delete_db", by="bob", reason="incident 42")
    assert ks.check(make_request("bot-8", "delete_db")) is not None
    assert ks.check(make_request("bot-8", "search")) is None

    ks.pull("global", by="carol", reason="stop everything")
    assert "`global`" in (ks.check(make_request("anyone", "anything")) or "")


def test_release_restores_and_history_says_who_when_why(db: Path) -> None:
    ks = KillSwitch(db, max_staleness_s=0)
    ks.pull("agent", "bot", by="alice", reason="suspicious")
    assert ks.release("agent", "bot", by="bob", reason="investigated, benign") is not None
    assert ks.check(make_request("bot")) is None
    assert ks.release("agent", "bot", by="bob", reason="again") is None  # not pulled: nothing happens
    events = ks.history()
    assert [(e.event, e.actor, e.reason) for e in events] == [
        ("pull", "alice", "suspicious"),
        ("release", "bob", "investigated, benign"),
    ]
    assert all(e.at.endswith("Z") for e in events)


@pytest.mark.parametrize(
    ("scope", "target", "by", "reason", "message"),
    [
        ("planet", "x", "a", "b", "unknown kill switch scope"),
        ("agent", None, "a", "b", "needs the agent name"),
        ("global", "bot", "a", "b", "takes no target"),
        ("agent", "bot", " ", "b", "say who"),
        ("agent", "bot", "a", "", "say why"),
    ],
)
def test_pull_rejects_bad_input_and_changes_nothing(
    db: Path, scope: str, target: str | None, by: str, reason: str, message: str
) -> None:
    ks = KillSwitch(db, max_staleness_s=0)
    with pytest.raises(ValueError, match=message):
        ks.pull(scope, target, by=by, reason=reason)  # type: ignore[arg-type]
    assert ks.pulled() == [] and ks.history() == []


def test_a_restart_keeps_the_switch_pulled(db: Path) -> None:
    first = KillSwitch(db)
    first.pull("agent", "bot", by="alice", reason="r")
    first.store.close()
    second = KillSwitch(db)
    assert second.check(make_request("bot")) is not None


def test_pull_in_another_process_stops_calls_here(db: Path, clock: FakeClock) -> None:
    ks = KillSwitch(db, max_staleness_s=0.05, clock=clock)
    assert ks.check(make_request("bot")) is None
    code = textwrap.dedent(
        f"""
        from agent_sre import KillSwitch
        KillSwitch({str(db)!r}).pull("agent", "bot", by="other-process", reason="seen elsewhere")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    # Within the staleness bound the cached state may still be used ...
    clock.advance(0.01)
    assert ks.check(make_request("bot")) is None
    # ... and once the bound has passed, the pull is seen.
    clock.advance(0.05)
    reason = ks.check(make_request("bot"))
    assert reason is not None and "other-process" in reason


def test_release_in_another_process_is_seen(db: Path) -> None:
    ks = KillSwitch(db, max_staleness_s=0)
    ks.pull("tool", "search", by="a", reason="r")
    other = KillSwitch(db, max_staleness_s=0)
    other.release("tool", "search", by="b", reason="fixed")
    assert ks.check(make_request("bot", "search")) is None


def test_garbage_file_is_reported_not_repaired(db: Path) -> None:
    db.parent.mkdir(parents=True)
    garbage = b"this is not a database" * 100
    db.write_bytes(garbage)
    with pytest.raises(StateStoreError, match=r"cannot|not a database|failed") as info:
        KillSwitch(db)
    assert info.value.location == str(db)
    assert db.read_bytes() == garbage


def test_deleting_the_file_does_not_release_the_switches(db: Path) -> None:
    ks = KillSwitch(db, max_staleness_s=0)
    ks.pull("agent", "bot", by="a", reason="b")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    reason = ks.check(make_request("innocent"))
    assert reason is not None and "was removed" in reason
    # A process that tried to start over from a fresh, empty file in its place is refused too.
    KillSwitch(db).close()
    assert "was replaced" in (ks.check(make_request("bot")) or "")


def test_a_missing_store_is_refused_when_creation_is_off(db: Path) -> None:
    with pytest.raises(StateStoreError, match="does not exist"):
        SQLiteSwitchStore(db, create=False)
    assert not db.exists()
    SQLiteSwitchStore(db).close()
    SQLiteSwitchStore(db, create=False).close()


def test_a_foreign_database_is_refused(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE kill_switches (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StateStoreError, match="no format record"):
        SQLiteSwitchStore(db)


def test_a_corrupt_row_written_later_refuses_every_call(db: Path) -> None:
    ks = KillSwitch(db, max_staleness_s=0)
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO kill_switches VALUES ('planet', 'x', 'a', 'b', 'c')")
    conn.commit()
    reason = ks.check(make_request("innocent"))
    assert reason is not None and "cannot be read" in reason and "unknown scope" in reason
    # Fixing the store lets calls through again; nothing was silently dropped meanwhile.
    conn.execute("DELETE FROM kill_switches WHERE scope='planet'")
    conn.commit()
    conn.close()
    assert ks.check(make_request("innocent")) is None


def test_a_dropped_table_refuses_every_call(db: Path) -> None:
    ks = KillSwitch(db, max_staleness_s=0)
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE kill_switches")
    conn.commit()
    conn.close()
    reason = ks.check(make_request())
    assert reason is not None and "cannot be read" in reason


class _Unreachable:
    location = "postgresql://db.invalid/agt"

    def version(self) -> object:
        raise StateStoreError("connection refused", location=self.location)

    def load(self) -> dict[tuple[str, str], object]:
        raise StateStoreError("connection refused", location=self.location)

    def pull(self, switch: object) -> None:
        raise StateStoreError("connection refused", location=self.location)

    def release(self, *args: object) -> None:
        raise StateStoreError("connection refused", location=self.location)

    def history(self) -> list[object]:
        return []

    def close(self) -> None:
        pass


def test_an_unreachable_store_refuses_calls_and_pulls_fail_loudly() -> None:
    ks = KillSwitch(_Unreachable(), max_staleness_s=0)  # type: ignore[arg-type]
    reason = ks.check(make_request())
    assert reason is not None and "connection refused" in reason
    with pytest.raises(StateStoreError):
        ks.pull("agent", "bot", by="a", reason="b")


def test_a_store_raising_a_foreign_error_still_fails_closed() -> None:
    class Broken(_Unreachable):
        def version(self) -> object:
            raise RuntimeError("driver bug")

    ks = KillSwitch(Broken(), max_staleness_s=0)  # type: ignore[arg-type]
    assert "RuntimeError: driver bug" in (ks.check(make_request()) or "")


def test_request_without_agent_is_refused_when_switches_are_pulled(db: Path) -> None:
    ks = KillSwitch(db, max_staleness_s=0)
    ks.pull("tool", "x", by="a", reason="b")
    assert ks.check({"action": {"type": "y"}}) is not None


def test_pulls_and_releases_are_audited(db: Path) -> None:
    log = AuditLog()
    ks = KillSwitch(db, audit=log, max_staleness_s=0)
    ks.pull("agent", "bot", by="alice", reason="drift")
    ks.release("agent", "bot", by="bob", reason="ok now")
    records = log.records()
    assert [r.request["action"]["type"] for r in records] == ["kill_switch.pull", "kill_switch.release"]
    assert records[0].request["agent"]["id"] == "alice" and "drift" in records[0].decision.message
    log.verify()


def test_release_refused_by_the_audit_log_keeps_the_switch_pulled(db: Path) -> None:
    def failing_sink(line: str) -> None:
        raise OSError("disk full")

    ks = KillSwitch(db, audit=AuditLog(sink=failing_sink), max_staleness_s=0)
    with pytest.raises(AuditError):
        ks.pull("agent", "bot", by="a", reason="b")  # pulled, and the caller is told the audit failed
    with pytest.raises(AuditError):
        ks.release("agent", "bot", by="a", reason="b")
    assert ks.check(make_request("bot")) is not None


def test_concurrent_pulls_releases_and_checks_are_consistent(db: Path) -> None:
    ks = KillSwitch(db, max_staleness_s=0)
    errors: list[BaseException] = []
    refused_unpulled: list[str] = []

    def operator(i: int) -> None:
        try:
            for n in range(20):
                ks.pull("agent", f"bot-{i}-{n}", by=f"op{i}", reason="r")
                if n % 2:
                    ks.release("agent", f"bot-{i}-{n}", by=f"op{i}", reason="r")
        except BaseException as exc:
            errors.append(exc)

    def checker() -> None:
        for _ in range(300):
            if ks.check(make_request("never-pulled")) is not None:
                refused_unpulled.append("x")

    threads = [threading.Thread(target=operator, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=checker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and refused_unpulled == []
    assert {s.target for s in ks.pulled()} == {f"bot-{i}-{n}" for i in range(4) for n in range(0, 20, 2)}
    assert len(ks.history()) == 4 * 30


def test_concurrent_processes_pulling_all_land(db: Path) -> None:
    KillSwitch(db).store.close()  # create the file first
    code = textwrap.dedent(
        """
        import sys
        from agent_sre import KillSwitch
        ks = KillSwitch(sys.argv[1])
        for n in range(15):
            ks.pull("agent", f"{sys.argv[2]}-{n}", by=sys.argv[2], reason="race")
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db), f"p{i}"]) for i in range(3)]
    assert [p.wait() for p in procs] == [0, 0, 0]
    ks = KillSwitch(db)
    assert len(ks.pulled()) == 45 and len(ks.history()) == 45


def test_a_killed_writer_leaves_a_consistent_store(db: Path) -> None:
    """A process killed mid-loop never leaves a switch without its history entry (one transaction)."""
    KillSwitch(db).store.close()
    code = textwrap.dedent(
        """
        import os, sys
        from agent_sre import KillSwitch
        ks = KillSwitch(sys.argv[1])
        n = 0
        while True:
            ks.pull("agent", f"bot-{n}", by="writer", reason="r")
            n += 1
            if n == 50:
                print("ready", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    proc.kill()
    proc.wait()
    proc.stdout.close()
    ks = KillSwitch(db, max_staleness_s=0)
    pulled = {s.target for s in ks.pulled()}
    logged = {e.target for e in ks.history()}
    assert len(pulled) >= 50 and pulled == logged
    assert ks.check(make_request("bot-0")) is not None


def test_by_default_pulls_go_to_the_pipelines_default_audit_sink(db: Path) -> None:
    from agent_os import pipeline

    pipeline().reset()
    try:
        ks = KillSwitch(db)
        ks.pull("tool", "x", by="alice", reason="r")
        records = pipeline().default_audit().records()  # type: ignore[attr-defined]
        assert [r.request["action"]["type"] for r in records] == ["kill_switch.pull"]
        quiet = KillSwitch(db, audit=False)
        quiet.release("tool", "x", by="bob", reason="r")
        assert len(pipeline().default_audit().records()) == 1  # type: ignore[attr-defined]
    finally:
        pipeline().reset()
