"""The PostgreSQL kill switch store, against a real server.

Runs when ``AGT_TEST_POSTGRES_DSN`` names a server the tests may create schemas in, or when
``AGT_TEST_POSTGRES=start`` and ``initdb``/``pg_ctl`` are on PATH (a throwaway server is started
in a temporary folder, on a Unix socket only). Skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_sre import KillSwitch, PostgresSwitchStore, StateStoreError

from .conftest import make_request

SKIP = (
    "PostgreSQL tests need AGT_TEST_POSTGRES_DSN=postgresql://... (a server where schemas may be "
    "created) or AGT_TEST_POSTGRES=start with initdb and pg_ctl on PATH"
)


def _as_postgres_user() -> list[str]:
    """initdb refuses to run as root: run the server as the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser: cannot start a throwaway PostgreSQL")
    return [runuser, "-u", "postgres", "--"]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    dsn = os.environ.get("AGT_TEST_POSTGRES_DSN")
    if dsn:
        yield dsn
        return
    if os.environ.get("AGT_TEST_POSTGRES") != "start":
        pytest.skip(SKIP)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip(f"initdb/pg_ctl not found on PATH; {SKIP}")
    prefix = _as_postgres_user()
    folder = Path(tempfile.mkdtemp(prefix="agt-pg-"))
    if prefix:
        shutil.chown(folder, "postgres")
    data, sock = folder / "data", folder
    subprocess.run([*prefix, initdb, "-D", str(data), "-U", "agt", "--auth=trust", "-E", "UTF8"], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-w", "start",
         "-o", f"-c listen_addresses='' -c unix_socket_directories='{sock}' -p 54329"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql://agt@/postgres?host={sock}&port=54329"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], check=False, capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def schema() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def stores() -> Iterator[list[PostgresSwitchStore]]:
    opened: list[PostgresSwitchStore] = []
    yield opened
    for store in opened:
        store.close()


def open_store(stores: list[PostgresSwitchStore], server: str, schema: str) -> PostgresSwitchStore:
    store = PostgresSwitchStore(server, schema=schema)
    stores.append(store)
    return store


def test_pull_release_and_history(server: str, schema: str, stores: list[PostgresSwitchStore]) -> None:
    ks = KillSwitch(open_store(stores, server, schema), max_staleness_s=0)
    ks.pull("agent", "bot", by="alice", reason="drift")
    assert "alice" in (ks.check(make_request("bot")) or "")
    ks.release("agent", "bot", by="bob", reason="ok")
    assert ks.check(make_request("bot")) is None
    assert [e.event for e in ks.history()] == ["pull", "release"]


def test_a_pull_through_another_connection_is_seen(
    server: str, schema: str, stores: list[PostgresSwitchStore]
) -> None:
    here = KillSwitch(open_store(stores, server, schema), max_staleness_s=0)
    code = textwrap.dedent(
        f"""
        from agent_sre import KillSwitch, PostgresSwitchStore
        ks = KillSwitch(PostgresSwitchStore({server!r}, schema={schema!r}))
        ks.pull("global", by="other-machine", reason="fleet stop")
        ks.close()
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert "other-machine" in (here.check(make_request()) or "")


def test_a_lost_connection_refuses_calls_and_recovers(
    server: str, schema: str, stores: list[PostgresSwitchStore]
) -> None:
    store = open_store(stores, server, schema)
    ks = KillSwitch(store, max_staleness_s=0)
    assert ks.check(make_request()) is None
    # Kill our backend: the next read fails, so the call is refused; the one after reconnects.
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND datname = current_database() AND usename = current_user"
        )
    reason = ks.check(make_request())
    assert reason is not None and "cannot be read" in reason
    assert ks.check(make_request()) is None


def test_an_unreachable_server_is_an_error() -> None:
    with pytest.raises(StateStoreError) as info:
        PostgresSwitchStore(
            "postgresql://agt:secret@/nowhere?host=/nonexistent-socket-dir&port=1", connect_timeout_s=1
        )
    assert "secret" not in str(info.value)


def test_a_foreign_schema_is_refused(server: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        admin.execute(f"CREATE TABLE {schema}.kill_switches (x int)")
    with pytest.raises(StateStoreError, match="no format record"):
        PostgresSwitchStore(server, schema=schema)


def test_bad_schema_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="identifier"):
        PostgresSwitchStore("postgresql:///x", schema="x; DROP TABLE y")


def test_concurrent_processes_pulling_all_land(
    server: str, schema: str, stores: list[PostgresSwitchStore]
) -> None:
    open_store(stores, server, schema)  # create the schema first
    code = textwrap.dedent(
        f"""
        import sys
        from agent_sre import KillSwitch, PostgresSwitchStore
        ks = KillSwitch(PostgresSwitchStore({server!r}, schema={schema!r}))
        for n in range(10):
            ks.pull("agent", f"{{sys.argv[1]}}-{{n}}", by=sys.argv[1], reason="race")
        ks.close()
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, f"p{i}"]) for i in range(3)]
    assert [p.wait() for p in procs] == [0, 0, 0]
    ks = KillSwitch(open_store(stores, server, schema))
    assert len(ks.pulled()) == 30 and len(ks.history()) == 30


def test_shared_circuit_breakers(server: str, schema: str, stores: list[PostgresSwitchStore]) -> None:
    from agent_sre import CircuitBreaker

    a = CircuitBreaker(shared=open_store(stores, server, schema), max_staleness_s=0)
    b = CircuitBreaker(shared=open_store(stores, server, schema), max_staleness_s=0)
    a.trip("payments", reason="provider outage")
    assert "provider outage" in (b.check(make_request(tool="payments")) or "")
    a.reset("payments")
    assert b.check(make_request(tool="payments")) is None


def test_shared_rate_limits_across_processes(server: str, schema: str) -> None:
    from agent_sre import PostgresRateStore

    PostgresRateStore(server, schema=schema).close()
    code = textwrap.dedent(
        f"""
        from agent_sre import PostgresRateStore, SharedRateLimiter
        limiter = SharedRateLimiter(PostgresRateStore({server!r}, schema={schema!r}))
        print(sum(limiter.acquire("bot", [("p", "r", "10/hour")]) is None for _ in range(25)))
        limiter.close()
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    assert sum(int(p.communicate()[0]) for p in procs) == 10
