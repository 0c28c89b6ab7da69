"""run_sandboxed(): run a command or a Python callable in a contained child process.

Two isolation levels, and the result always says which one ran:

``namespaces`` (needs root; the default): new mount, pid, IPC, UTS and (when the limits say no
network) network namespaces. Every mount is read-only, nosuid and nodev except a private,
size-limited /tmp holding the working folder ``/tmp/work``; /proc is the new pid namespace's
own; the process runs as an unprivileged uid of its own with ``no_new_privs`` (setuid programs
do not elevate), rlimits, and a scrubbed environment. When it ends or times out, everything it
started dies with its pid namespace.

``process``: rlimits, a scrubbed environment, a fresh temporary working folder, its own process
group killed on timeout, and (as root) an unprivileged uid of its own whose processes are all
killed at the end. No filesystem or network confinement: a ring that needs them refuses this
level unless the caller passes ``accept_weaker_isolation=True``.

Not contained at either level: reading world-readable files (use ``hidden_paths`` to mask
folders), CPU and memory *bandwidth*, and kernel vulnerabilities.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import pickle
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from agent_runtime._limits import RING_LIMITS, ResourceLimits
from agt_core import GovernanceError

__all__ = ["SandboxError", "SandboxResult", "namespaces_available", "run_sandboxed"]

Isolation = Literal["namespaces", "process"]
_HELPER = str(Path(__file__).with_name("_sandbox_helper.py"))
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_UID_BASE = 2_000_000_000
_UID_SPAN = 100_000_000
# Paths inside the sandbox's own mount namespace, where /tmp is a private, size-limited tmpfs.
_NS_TMP = "/tmp"  # noqa: S108 - not the host's /tmp
_NS_WORK = _NS_TMP + "/work"
_NS_RO = _NS_TMP + "/ro"


class SandboxError(GovernanceError):
    """The sandbox could not be set up as asked; nothing ran."""


class SandboxResult(BaseModel):
    """How a sandboxed run ended and what it used.

    Attributes:
        outcome: ``exited`` (returned an exit code), ``signaled`` (killed by a signal),
            ``timeout`` (wall-clock limit: the whole sandbox was killed).
        exit_code: The exit code when ``outcome == "exited"``.
        signal: The signal number that ended it, when one did.
        limit: Which limit ended it, when that is certain: ``cpu`` (SIGXCPU, or SIGKILL at the
            hard CPU limit), ``file_size`` (SIGXFSZ), ``wall`` (timeout), else None. A process
            whose allocation or fork fails under the memory or process limits sees an error and
            decides itself how to end.
        stdout, stderr: Captured output, at most ``limits.output_bytes`` each.
        stdout_truncated, stderr_truncated: The stream produced more and was closed.
        duration_s: Wall-clock time from start to end.
        cpu_user_s, cpu_system_s: CPU time of the process and the children it waited for.
        max_rss_bytes: Peak resident memory of the largest such process.
        isolation: ``namespaces`` or ``process``.
        uid: The unprivileged uid the process ran as (None when the caller is not root).
        contained: The containment measures that were in force.
        value: The callable's return value (JSON data), for `run_sandboxed` on a callable.
        error: The callable's exception as ``{"type", "message"}``, when it raised.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Literal["exited", "signaled", "timeout"]
    exit_code: int | None
    signal: int | None
    limit: Literal["cpu", "file_size", "wall"] | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    duration_s: float
    cpu_user_s: float
    cpu_system_s: float
    max_rss_bytes: int
    isolation: Isolation
    uid: int | None
    contained: tuple[str, ...]
    limits: ResourceLimits
    value: Any = None
    error: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        """The process exited with code 0 (and a callable returned without raising)."""
        return self.outcome == "exited" and self.exit_code == 0 and self.error is None


@cache
def namespaces_available() -> bool:
    """Whether this process can create the namespaces the ``namespaces`` level needs (root on Linux)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    probe = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-I", "-S", "-c", _PROBE],
        capture_output=True,
        env={"PATH": _DEFAULT_PATH},
        timeout=30,
        check=False,
    )
    return probe.returncode == 0


_PROBE = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
flags = 0x00020000 | 0x20000000 | 0x08000000 | 0x04000000 | 0x40000000
raise SystemExit(0 if libc.unshare(flags) == 0 else 1)
"""

_BOOTSTRAP = """
import json, os, pickle, sys, traceback
payload = sys.stdin.buffer.read()
devnull = os.open(os.devnull, os.O_RDONLY)
os.dup2(devnull, 0)
result_fd = os.dup(1)
os.dup2(2, 1)
sys.stdout = sys.stderr
try:
    path, fn, args, kwargs = pickle.loads(payload)
    sys.path[:0] = [p for p in path if p not in sys.path]
    fn = pickle.loads(fn)
    value = fn(*args, **kwargs)
    out = {"value": value}
    text = json.dumps(out)
except BaseException as exc:
    traceback.print_exc()
    text = json.dumps({"error": {"type": type(exc).__name__, "message": str(exc)[:2000]}})
    os.write(result_fd, text.encode())
    os._exit(1)
os.write(result_fd, text.encode())
os._exit(0)
"""


def _resolve_isolation(
    isolation: Literal["auto", "namespaces", "process"], accept_weaker_isolation: bool, ring: int | None
) -> Isolation:
    if isolation == "process":
        if not accept_weaker_isolation:
            raise SandboxError(
                "process isolation does not confine the filesystem or the network",
                help="pass accept_weaker_isolation=True to run with rlimits and a process group only",
            )
        return "process"
    if namespaces_available():
        return "namespaces"
    if isolation == "namespaces" or not accept_weaker_isolation:
        where = f"ring {ring} needs" if ring is not None else "namespace isolation needs"
        raise SandboxError(
            f"{where} Linux namespaces, which are not available to this process (run as root on Linux)",
            help="pass accept_weaker_isolation=True to run with rlimits and a process group only",
        )
    return "process"


def run_sandboxed(
    target: Sequence[str] | str | Callable[..., Any],
    *args: Any,
    ring: int = 3,
    limits: ResourceLimits | None = None,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    readonly_dir: str | os.PathLike[str] | None = None,
    hidden_paths: Sequence[str] = (),
    isolation: Literal["auto", "namespaces", "process"] = "auto",
    accept_weaker_isolation: bool = False,
    **kwargs: Any,
) -> SandboxResult:
    """Run `target` in a sandbox and wait for it to end.

    Args:
        target: An argv list (run without a shell), a string (run as ``/bin/sh -c target``), or
            a Python callable (called as ``target(*args, **kwargs)`` in a fresh interpreter; it
            must be importable by reference, and it must return JSON data).
        *args: Arguments for a callable target.
        ring: The privilege ring whose limits apply (1-3; ring 0 never runs agent code).
        limits: Limits to use instead of the ring's.
        stdin: Bytes given to the process as its input (default: nothing).
        env: Extra environment variables; the rest of the environment is not inherited.
        readonly_dir: A folder to show read-only as the working directory (``/tmp/ro``).
        hidden_paths: Folders to mask with an empty, unreadable mount (namespaces only).
        isolation: ``auto`` (namespaces when available), ``namespaces`` or ``process``.
        accept_weaker_isolation: Allow ``process`` isolation where namespaces are unavailable.
        **kwargs: Keyword arguments for a callable target.

    Raises:
        SandboxError: if the sandbox cannot be set up as asked (nothing ran).
    """
    if ring not in RING_LIMITS:
        raise SandboxError(
            f"ring {ring} cannot run sandboxed code",
            help="rings 1, 2 and 3 run agent code; ring 0 never does",
        )
    lim = limits if limits is not None else RING_LIMITS[ring]
    level = _resolve_isolation(isolation, accept_weaker_isolation, ring)
    if hidden_paths and level != "namespaces":
        raise SandboxError("hidden_paths needs namespace isolation")

    payload: bytes | None = None
    if callable(target) and not isinstance(target, (str, bytes)):
        try:
            fn_bytes = pickle.dumps(target)
            payload = pickle.dumps((list(sys.path), fn_bytes, args, kwargs))
        except Exception as exc:
            raise SandboxError(f"cannot send the callable to the sandbox: {exc}") from None
        argv = [sys.executable, "-I", "-S", "-c", _BOOTSTRAP]
        stdin = payload
    elif isinstance(target, str):
        if args or kwargs:
            raise SandboxError("arguments are only accepted for a callable target")
        argv = ["/bin/sh", "-c", target]
    else:
        argv = [str(part) for part in target]
        if not argv or args or kwargs:
            raise SandboxError("give a non-empty argv list (and no extra arguments)")

    is_root = os.geteuid() == 0
    uid = _UID_BASE + secrets.randbelow(_UID_SPAN) if is_root else None
    scratch: str | None = None
    if level == "namespaces":
        cwd = _NS_RO if readonly_dir is not None else _NS_WORK
        home, tmpdir = _NS_WORK, _NS_TMP
    else:
        scratch = tempfile.mkdtemp(prefix="agt-sandbox-")
        if uid is not None:
            os.chown(scratch, uid, uid)
        cwd = str(readonly_dir) if readonly_dir is not None else scratch
        home = tmpdir = scratch
    child_env = {"PATH": _DEFAULT_PATH, "HOME": home, "TMPDIR": tmpdir, "LANG": "C.UTF-8"}
    if env:
        child_env.update({str(k): str(v) for k, v in env.items()})
    python_prefix: str | None = None
    if payload is not None and uid is not None and not _reachable(os.path.realpath(sys.executable)):
        if level != "namespaces":
            raise SandboxError(
                f"the Python interpreter {sys.executable!r} is in a folder an unprivileged user cannot enter",
                help="install Python in a world-readable location, or use namespace isolation",
            )
        python_prefix = os.path.realpath(sys.base_prefix)
        real = os.path.realpath(sys.executable)
        if not real.startswith(python_prefix + os.sep):
            raise SandboxError(f"the Python interpreter {real!r} is not under its prefix {python_prefix!r}")
        argv[0] = _NS_TMP + "/.python/" + os.path.relpath(real, python_prefix)
    config = {
        "python_prefix": python_prefix,
        "argv": argv,
        "env": child_env,
        "cwd": cwd,
        "uid": uid,
        "namespaces": level == "namespaces",
        "network": lim.network,
        "disk_bytes": lim.disk_bytes,
        "readonly_dir": None if readonly_dir is None else str(Path(readonly_dir).resolve()),
        "hidden_paths": [str(p) for p in hidden_paths],
        "limits": lim.model_dump(),
    }
    try:
        return _launch(config, lim, level, stdin, payload is not None)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _contained(level: Isolation, lim: ResourceLimits, uid: int | None) -> tuple[str, ...]:
    out = ["rlimits", "wall-timeout", "clean-environment"]
    if uid is not None:
        out += ["unprivileged-uid", "no-new-privs"]
    else:
        out += ["no-new-privs"]
    if level == "namespaces":
        out += [
            "pid-namespace",
            "mount-namespace",
            "read-only-root",
            "private-tmp",
            "ipc-namespace",
            "uts-namespace",
        ]
        if not lim.network:
            out.append("network-namespace")
    else:
        out += ["process-group", "temporary-cwd"]
        if uid is not None:
            out.append("uid-sweep")
    return tuple(out)


def _launch(
    config: dict[str, Any], lim: ResourceLimits, level: Isolation, stdin: bytes | None, is_callable: bool
) -> SandboxResult:
    cfg_r, cfg_w = os.pipe()
    status_r, status_w = os.pipe()
    start = time.monotonic()
    try:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-I", "-S", _HELPER, str(cfg_r), str(status_w)],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(cfg_r, status_w),
            env={"PATH": _DEFAULT_PATH},
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        os.close(cfg_r)
        os.close(cfg_w)
        os.close(status_r)
        os.close(status_w)
        raise SandboxError(f"cannot start the sandbox helper: {exc}") from None
    os.close(cfg_r)
    os.close(status_w)
    with os.fdopen(cfg_w, "wb") as f:
        f.write(marshal.dumps(config))
    if stdin and proc.stdin is not None:
        _feed(proc.stdin, stdin)
    out = _Collector(proc, status_r, lim.output_bytes)
    finished = out.run(start + lim.wall_seconds)
    if not finished:
        init = next((s.get("pid") for s in out.statuses() if s.get("stage") == "init"), None)
        if isinstance(init, int) and init > 1:
            # Killing pid 1 of the namespace kills everything in it; the helper (still alive,
            # so the pid cannot have been reused) returns once all of it is reaped.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(init, signal.SIGKILL)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    duration = time.monotonic() - start
    if level == "process" and config["uid"] is not None and not finished:
        # The helper sweeps the uid itself after a normal exit; after a timeout it is dead.
        _sweep_uid(config["uid"])
    statuses = out.statuses()
    errors = [s for s in statuses if s.get("stage") == "error"]
    if errors:
        raise SandboxError(str(errors[0].get("message", "sandbox setup failed")))
    done = next((s for s in statuses if s.get("stage") == "done"), None)
    timed_out = done is None and not finished
    if not timed_out and done is None:
        raise SandboxError(
            f"the sandbox helper ended without a status (exit {proc.returncode}): "
            + out.stderr.decode(errors="replace")[-500:]
        )
    return _result(config, lim, level, done, timed_out, duration, out, is_callable)


def _feed(pipe: Any, data: bytes) -> None:
    """Write stdin from a thread so a process that never reads it cannot block us."""
    import threading

    def write() -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            pipe.write(data)
        with contextlib.suppress(BrokenPipeError, OSError):
            pipe.close()

    threading.Thread(target=write, daemon=True).start()


class _Collector:
    """Reads stdout, stderr and the status pipe until all close or the deadline passes."""

    def __init__(self, proc: subprocess.Popen[bytes], status_fd: int, cap: int) -> None:
        self.proc = proc
        self.cap = cap
        self.buffers: dict[int, bytearray] = {}
        self.truncated: dict[int, bool] = {}
        self.status = bytearray()
        self.status_fd = status_fd
        self.done_at: float | None = None
        self.status_closed = False
        assert proc.stdout is not None
        assert proc.stderr is not None
        self.stdout_fd = proc.stdout.fileno()
        self.stderr_fd = proc.stderr.fileno()

    @property
    def stdout(self) -> bytes:
        return bytes(self.buffers.get(self.stdout_fd, b""))

    @property
    def stderr(self) -> bytes:
        return bytes(self.buffers.get(self.stderr_fd, b""))

    def run(self, deadline: float) -> bool:
        """Collect until every stream closes (True) or the deadline passes (False)."""
        sel = selectors.DefaultSelector()
        for fd in (self.stdout_fd, self.stderr_fd, self.status_fd):
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
            self.buffers.setdefault(fd, bytearray())
            self.truncated[fd] = False
        open_fds = 3
        try:
            while open_fds:
                if self.done_at is not None:
                    # The target ended; what still holds its output (a background child) gets a
                    # short grace, then is killed with the rest of the sandbox.
                    deadline = min(deadline, self.done_at + 0.5)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                for key, _ in sel.select(remaining):
                    fd = int(key.fd)
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(fd)
                        open_fds -= 1
                        continue
                    if fd == self.status_fd:
                        self.status += chunk[: 65536 - len(self.status)]
                        if self.done_at is None and (
                            self.status.startswith(b"done") or b"\ndone" in self.status
                        ):
                            self.done_at = time.monotonic()
                        continue
                    buf = self.buffers[fd]
                    room = self.cap - len(buf)
                    if len(chunk) > room:
                        buf += chunk[: max(room, 0)]
                        self.truncated[fd] = True
                        # Stop reading: the writer gets EPIPE/SIGPIPE instead of filling our memory.
                        sel.unregister(fd)
                        self._close(fd)
                        open_fds -= 1
                    else:
                        buf += chunk
            return True
        finally:
            sel.close()
            for fd in (self.stdout_fd, self.stderr_fd, self.status_fd):
                self._close(fd)

    def _close(self, fd: int) -> None:
        stream = {self.stdout_fd: self.proc.stdout, self.stderr_fd: self.proc.stderr}.get(fd)
        if stream is not None:
            stream.close()
        elif fd == self.status_fd and not self.status_closed:
            self.status_closed = True
            os.close(fd)

    def statuses(self) -> list[dict[str, Any]]:
        """The helper's status lines, as dicts (see `agent_runtime._sandbox_helper`)."""
        found: list[dict[str, Any]] = []
        for raw in bytes(self.status).decode(errors="replace").splitlines():
            stage, _, rest = raw.partition(" ")
            parts = rest.split()
            with contextlib.suppress(ValueError, IndexError):
                if stage == "init":
                    found.append({"stage": "init", "pid": int(parts[0])})
                elif stage == "ready":
                    found.append({"stage": "ready"})
                elif stage == "done":
                    rusage = {"utime": float(parts[1]), "stime": float(parts[2]), "maxrss_kb": int(parts[3])}
                    found.append({"stage": "done", "status": int(parts[0]), "rusage": rusage})
                elif stage == "error":
                    found.append({"stage": "error", "message": rest})
        return found


def _reachable(path: str) -> bool:
    """Whether a user with no special rights can reach `path` (every parent folder is o+x)."""
    parent = os.path.dirname(path)
    while True:
        try:
            if not os.stat(parent).st_mode & 0o001:
                return False
        except OSError:
            return False
        if parent == "/":
            return True
        parent = os.path.dirname(parent)


def _sweep_uid(uid: int) -> None:
    """Kill every process of the sandbox's uid: what left the process group (setsid) dies too."""
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-I", "-S", _HELPER, "--sweep", str(uid)],
        env={"PATH": _DEFAULT_PATH},
        check=False,
        timeout=30,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _result(
    config: dict[str, Any],
    lim: ResourceLimits,
    level: Isolation,
    done: dict[str, Any] | None,
    timed_out: bool,
    duration: float,
    out: _Collector,
    is_callable: bool,
) -> SandboxResult:
    exit_code: int | None = None
    sig: int | None = None
    limit: Literal["cpu", "file_size", "wall"] | None = None
    rusage = done.get("rusage", {}) if done else {}
    if timed_out or done is None:
        outcome: Literal["exited", "signaled", "timeout"] = "timeout"
        sig = signal.SIGKILL
        limit = "wall"
    else:
        status = int(done["status"])
        if os.WIFEXITED(status):
            outcome, exit_code = "exited", os.WEXITSTATUS(status)
        else:
            outcome, sig = "signaled", os.WTERMSIG(status)
            cpu = float(rusage.get("utime", 0.0)) + float(rusage.get("stime", 0.0))
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= lim.cpu_seconds):
                limit = "cpu"
            elif sig == signal.SIGXFSZ:
                limit = "file_size"
    value: Any = None
    error: dict[str, str] | None = None
    stdout = out.stdout
    if is_callable and outcome != "timeout":
        try:
            decoded = json.loads(stdout) if stdout else None
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and "value" in decoded:
            value = decoded["value"]
        elif isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
            error = {str(k): str(v) for k, v in decoded["error"].items()}
        else:
            error = {"type": "SandboxError", "message": "the callable produced no result"}
    elif is_callable:
        error = {"type": "TimeoutError", "message": f"killed after {lim.wall_seconds} s"}
    return SandboxResult(
        outcome=outcome,
        exit_code=exit_code,
        signal=sig,
        limit=limit,
        stdout=stdout,
        stderr=out.stderr,
        stdout_truncated=out.truncated.get(out.stdout_fd, False),
        stderr_truncated=out.truncated.get(out.stderr_fd, False),
        duration_s=duration,
        cpu_user_s=float(rusage.get("utime", 0.0)),
        cpu_system_s=float(rusage.get("stime", 0.0)),
        max_rss_bytes=int(rusage.get("maxrss_kb", 0)) * 1024,
        isolation=level,
        uid=config["uid"],
        contained=_contained(level, lim, config["uid"]),
        limits=lim,
        value=value,
        error=error,
    )
