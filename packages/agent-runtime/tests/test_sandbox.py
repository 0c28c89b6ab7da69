"""Attacks on the sandbox: each one contained, with a positive control where one shows the test can fail.

Every run is bounded (small rlimits, short wall-clock limits); nothing here can take the machine
down even when containment fails. Assertions are about outcomes, never about elapsed time.
"""

from __future__ import annotations

import os
import socket
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_runtime import ResourceLimits, SandboxError, namespaces_available, run_sandboxed

needs_ns = pytest.mark.skipif(not namespaces_available(), reason="namespace isolation needs root on Linux")
PY = "python3"  # the system interpreter, reachable by the sandbox's unprivileged uid
SMALL = ResourceLimits(
    cpu_seconds=2, memory_bytes=256 * 2**20, processes=16, wall_seconds=20, disk_bytes=8 * 2**20
)
WEAK = {"isolation": "process", "accept_weaker_isolation": True}


def processes_of(uid: int) -> list[int]:
    """Host pids running as `uid` (the sandbox's own uid); zombies are dead and not counted."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = dict(
                line.split(":", 1)
                for line in Path(f"/proc/{entry}/status").read_text().splitlines()
                if ":" in line
            )
        except OSError:
            continue
        if int(status["Uid"].split()[0]) == uid and not status["State"].strip().startswith(("Z", "X")):
            found.append(int(entry))
    return found


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


@pytest.fixture
def victim() -> Iterator[Path]:
    """A world-writable folder and file outside the sandbox's working folder (not under /tmp)."""
    folder = Path(tempfile.mkdtemp(prefix="agt-victim-", dir="/var/tmp"))
    folder.chmod(0o777)
    target = folder / "target.txt"
    target.write_text("original\n")
    target.chmod(0o666)
    yield folder
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()


# -- basics ------------------------------------------------------------------------------------


@needs_ns
def test_runs_and_reports_containment() -> None:
    result = run_sandboxed(["sh", "-c", "id -u; pwd; echo $HOME"], limits=SMALL)
    assert result.ok, result.stderr
    uid, cwd, home = result.stdout.decode().split()
    assert int(uid) == result.uid and result.uid != 0
    assert cwd == home == "/tmp/work"
    assert result.isolation == "namespaces"
    assert {"network-namespace", "pid-namespace", "read-only-root", "unprivileged-uid"} <= set(
        result.contained
    )


def test_ring_zero_never_runs() -> None:
    with pytest.raises(SandboxError, match="ring 0"):
        run_sandboxed(["true"], ring=0)


def test_process_isolation_must_be_accepted() -> None:
    with pytest.raises(SandboxError, match="accept_weaker_isolation"):
        run_sandboxed(["true"], isolation="process")


def test_without_namespaces_a_ring_refuses_unless_weaker_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent_runtime._sandbox as sandbox

    monkeypatch.setattr(sandbox, "namespaces_available", lambda: False)
    with pytest.raises(SandboxError, match="ring 3 needs Linux namespaces"):
        run_sandboxed(["true"])
    result = run_sandboxed(["true"], accept_weaker_isolation=True, limits=SMALL)
    assert result.ok and result.isolation == "process" and "network-namespace" not in result.contained


@needs_ns
def test_callable_runs_in_the_sandbox_and_returns_json(monkeypatch: pytest.MonkeyPatch) -> None:
    # The child imports the function by reference: its package must be on the path it inherits,
    # and visible inside the sandbox, whose /tmp is a private, empty one (by design).
    here = Path(__file__).resolve()
    if here.is_relative_to("/tmp"):
        pytest.skip("the checkout lives under /tmp, which the sandbox replaces with a private /tmp")
    monkeypatch.syspath_prepend(str(here.parent.parent))
    from tests._sandboxed_functions import add, fails, returns_a_set

    result = run_sandboxed(add, 2, 3, limits=SMALL)
    assert result.ok, result.stderr
    assert result.value["sum"] == 5 and result.value["uid"] == result.uid
    assert b"printed inside" in result.stderr  # prints go to stderr; stdout carries the result
    failed = run_sandboxed(fails, limits=SMALL)
    assert not failed.ok and failed.error == {"type": "ValueError", "message": "nope"}
    unjsonable = run_sandboxed(returns_a_set, limits=SMALL)
    assert unjsonable.error is not None and unjsonable.error["type"] == "TypeError"


# -- resource bombs -----------------------------------------------------------------------------


@needs_ns
def test_fork_bomb_is_bounded_and_leaves_nothing() -> None:
    result = run_sandboxed(
        ["bash", "-c", ":(){ :|:& };:"], limits=SMALL.model_copy(update={"wall_seconds": 3})
    )
    assert result.uid is not None
    assert processes_of(result.uid) == []


@needs_ns
def test_process_limit_caps_forks() -> None:
    code = """
        import os, time
        n = 0
        try:
            while n < 200:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                n += 1
        except OSError:
            pass
        print(n)
    """
    result = run_sandboxed(py(code), limits=SMALL.model_copy(update={"processes": 8}))
    assert result.ok, result.stderr
    assert int(result.stdout) < 8  # the python process itself counts
    assert processes_of(result.uid or -1) == []


@needs_ns
def test_memory_bomb_fails_allocation() -> None:
    result = run_sandboxed(
        py("x = bytearray(2 * 1024**3)"), limits=SMALL.model_copy(update={"memory_bytes": 128 * 2**20})
    )
    assert result.outcome == "exited" and result.exit_code == 1
    assert b"MemoryError" in result.stderr
    assert result.max_rss_bytes < 128 * 2**20


@needs_ns
def test_cpu_bomb_is_killed_at_the_cpu_limit() -> None:
    result = run_sandboxed(
        py("while True: pass"), limits=SMALL.model_copy(update={"cpu_seconds": 1, "wall_seconds": 120})
    )
    assert result.outcome == "signaled" and result.limit == "cpu"
    assert result.cpu_user_s + result.cpu_system_s > 0.5


@needs_ns
def test_time_bomb_is_killed_with_everything_it_started() -> None:
    script = "setsid sleep 1000 & (trap '' TERM; sleep 1000) & sleep 1000"
    result = run_sandboxed(["bash", "-c", script], limits=SMALL.model_copy(update={"wall_seconds": 1}))
    assert result.outcome == "timeout" and result.limit == "wall"
    assert processes_of(result.uid or -1) == []


@needs_ns
def test_no_orphans_after_a_normal_exit() -> None:
    result = run_sandboxed(
        ["bash", "-c", "setsid nohup sleep 1000 >/dev/null 2>&1 & disown; echo started"], limits=SMALL
    )
    assert result.ok and result.stdout == b"started\n"
    assert processes_of(result.uid or -1) == []


def test_no_orphans_with_process_isolation_as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the uid sweep needs root")
    result = run_sandboxed(
        ["bash", "-c", "setsid sleep 1000 >/dev/null 2>&1 & echo ok"], limits=SMALL, **WEAK
    )
    assert result.ok
    assert processes_of(result.uid or -1) == []


@needs_ns
def test_disk_fill_is_bounded() -> None:
    fill = "i=0; while [ $i -lt 100 ]; do head -c 1000000 /dev/zero > f$i || { echo full at $i; exit 3; }; i=$((i+1)); done"
    result = run_sandboxed(["sh", "-c", fill], limits=SMALL.model_copy(update={"disk_bytes": 4 * 2**20}))
    assert result.exit_code == 3 and b"full at" in result.stdout
    assert b"No space left" in result.stderr


@needs_ns
def test_file_size_limit() -> None:
    result = run_sandboxed(
        ["dd", "if=/dev/zero", "of=big", "bs=1M", "count=64"],
        limits=SMALL.model_copy(update={"file_size_bytes": 2**20}),
    )
    assert result.outcome == "signaled" and result.limit == "file_size"


@needs_ns
def test_output_is_capped() -> None:
    result = run_sandboxed(["yes"], limits=SMALL.model_copy(update={"output_bytes": 1000}))
    assert result.stdout_truncated and len(result.stdout) == 1000
    assert result.outcome != "timeout"


# -- escapes --------------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0)
    yield server
    server.close()


def _connect_code(port: int) -> list[str]:
    return py(f"""
        import socket, sys
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=3).sendall(b"exfiltrated")
        except OSError as exc:
            print("blocked:", exc)
            sys.exit(3)
        print("connected")
    """)


def _accepted(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


@needs_ns
def test_network_egress_to_a_host_listener_is_blocked(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    result = run_sandboxed(_connect_code(port), limits=SMALL)
    assert result.exit_code == 3 and b"blocked" in result.stdout
    assert not _accepted(listener)


@needs_ns
def test_loopback_inside_the_sandbox_works() -> None:
    code = """
        import socket
        server = socket.create_server(("127.0.0.1", 0))
        socket.create_connection(server.getsockname(), timeout=3).sendall(b"x")
        conn, _ = server.accept()
        print(conn.recv(1).decode())
    """
    result = run_sandboxed(py(code), limits=SMALL)
    assert result.ok and result.stdout == b"x\n", result.stderr


@needs_ns
def test_network_control_a_ring_with_network_connects(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    result = run_sandboxed(_connect_code(port), limits=SMALL.model_copy(update={"network": True}))
    assert result.ok and b"connected" in result.stdout, result.stderr
    assert _accepted(listener)


@needs_ns
def test_writes_outside_the_working_folder_fail(victim: Path) -> None:
    target = victim / "target.txt"
    script = f"""
        set +e
        echo pwned > {target} && echo WROTE-DIRECT
        echo pwned > {victim}/new.txt && echo WROTE-NEW
        ln -s {target} link && echo pwned > link && echo WROTE-SYMLINK
        ln -s {victim} dirlink && echo pwned > dirlink/via-dir.txt && echo WROTE-DIRLINK
        echo pwned > /etc/agt-pwned && echo WROTE-ETC
        echo pwned > /dev/shm/x; echo pwned > /var/tmp/agt-pwned && echo WROTE-VARTMP
        mount -t tmpfs none /tmp/work 2>/dev/null && echo MOUNTED
        echo inside > ok.txt && cat ok.txt
    """
    result = run_sandboxed(["sh", "-c", textwrap.dedent(script)], limits=SMALL)
    assert b"WROTE" not in result.stdout and b"MOUNTED" not in result.stdout, result.stdout
    assert result.stdout.endswith(b"inside\n")
    assert target.read_text() == "original\n"
    assert sorted(p.name for p in victim.iterdir()) == ["target.txt"]
    assert not Path("/etc/agt-pwned").exists() and not Path("/var/tmp/agt-pwned").exists()


def test_write_control_process_isolation_does_not_confine_the_filesystem(victim: Path) -> None:
    """Shows the write test can fail: without namespaces a world-writable file is writable."""
    target = victim / "target.txt"
    result = run_sandboxed(["sh", "-c", f"echo pwned > {target}"], limits=SMALL, **WEAK)
    assert result.ok
    assert target.read_text() == "pwned\n"


@needs_ns
def test_setuid_programs_do_not_elevate() -> None:
    result = run_sandboxed(["sh", "-c", "su -c id root </dev/null; sudo -n id; id -u"], limits=SMALL)
    assert result.stdout.strip().splitlines()[-1] == str(result.uid).encode()
    assert b"uid=0" not in result.stdout


@pytest.mark.parametrize("mode", ["namespaces", "process"])
def test_parent_environment_secrets_are_not_visible(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if mode == "namespaces" and not namespaces_available():
        pytest.skip("namespace isolation needs root")
    secret = "agt-secret-" + os.urandom(8).hex()
    monkeypatch.setenv("AGT_TEST_SECRET", secret)
    script = f"env; cat /proc/1/environ /proc/{os.getpid()}/environ /proc/{os.getppid()}/environ; cat /proc/*/environ"
    kw = {} if mode == "namespaces" else WEAK
    result = run_sandboxed(["sh", "-c", script + " 2>&1; true"], limits=SMALL, env={"GIVEN": "yes"}, **kw)
    assert secret.encode() not in result.stdout + result.stderr
    assert b"GIVEN=yes" in result.stdout


@needs_ns
def test_readonly_dir_is_visible_but_not_writable(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("hello\n")
    tmp_path.chmod(0o755)
    (tmp_path / "data.txt").chmod(0o644)
    result = run_sandboxed(
        ["sh", "-c", "pwd; cat data.txt; echo x > data.txt && echo WROTE; echo y > new && echo WROTE"],
        readonly_dir=tmp_path,
        limits=SMALL,
    )
    assert result.stdout == b"/tmp/ro\nhello\n"
    assert (tmp_path / "data.txt").read_text() == "hello\n" and sorted(os.listdir(tmp_path)) == ["data.txt"]


@needs_ns
def test_hidden_paths_are_masked() -> None:
    here = str(Path(__file__).resolve().parent)
    result = run_sandboxed(["sh", "-c", f"ls {here} && echo LISTED"], hidden_paths=[here], limits=SMALL)
    assert b"LISTED" not in result.stdout
