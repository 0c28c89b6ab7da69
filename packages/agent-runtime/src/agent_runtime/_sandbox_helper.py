"""Sandbox launcher: runs as its own single-threaded process (``python -I -S this_file``).

It never imports the toolkit: it starts fast, and what runs as root before privileges are dropped
is this file and the standard library only. Protocol with `agent_runtime._sandbox`:

* argv[1]: a file descriptor to read the configuration from (`marshal` data, read to EOF; no
  json import keeps the start fast);
* argv[2]: a file descriptor to write status lines to: ``init <pid>`` (namespaces), ``ready``
  once the target is started, then ``done <wait status> <utime> <stime> <maxrss kB>`` or
  ``error <message>``;
* fds 0-2: passed to the target unchanged.

With namespaces (root only) the process tree is::

    helper (host pid ns, root)  --fork-->  init (pid 1 of a new pid ns, root: mounts, then reaps)
                                            --fork-->  target (unprivileged uid, rlimits, execve)

When init exits, the kernel kills every process left in the pid namespace: nothing outlives the
target. Without namespaces, the helper forks the target directly and, running as root with a
uid of its own for the target, kills every process of that uid when it ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import marshal
import os
import resource
import signal
import sys
import time

TYPE_CHECKING = False  # typing is not imported at run time: every millisecond of start-up counts
if TYPE_CHECKING:
    from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
SYS_MOUNT_SETATTR = {"x86_64": 442, "aarch64": 442}
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4

TMP = "/tmp"  # noqa: S108 - a private tmpfs in the sandbox's own mount namespace, not the host's
WORK, RO, PYTHON = TMP + "/work", TMP + "/ro", TMP + "/.python"

_libc = ctypes.CDLL(None, use_errno=True)
_status_fd = 4


class SetupError(Exception):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what} failed: {os.strerror(err)} (errno {err})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            None if source is None else source.encode(),
            target.encode(),
            None if fstype is None else fstype.encode(),
            ctypes.c_ulong(flags),
            None if data is None else data.encode(),
        ),
        f"mount {target}",
    )


def _prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


def _status(*fields: object) -> None:
    """Write one status line: words separated by spaces (an error's message last, on one line)."""
    text = " ".join(str(f) for f in fields).replace("\n", " ")
    with contextlib.suppress(OSError):  # the caller is gone: nobody to tell
        os.write(_status_fd, (text + "\n").encode())


def _read_only_root() -> None:
    """Make every mount in this (private) mount namespace read-only and nosuid."""

    class MountAttr(ctypes.Structure):
        _fields_ = [
            ("attr_set", ctypes.c_uint64),
            ("attr_clr", ctypes.c_uint64),
            ("propagation", ctypes.c_uint64),
            ("userns_fd", ctypes.c_uint64),
        ]

    number = SYS_MOUNT_SETATTR.get(os.uname().machine)
    if number is None:
        raise SetupError(f"mount_setattr is not known on {os.uname().machine}")
    # Not nodev: /dev/null and friends must keep working; device permissions still apply.
    attr = MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    _check(
        _libc.syscall(number, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)),
        "mount_setattr(/, read-only, recursive)",
    )


def _setup_namespaces(cfg: dict[str, Any]) -> None:
    """In the new namespaces: private mounts, fresh /proc, read-only everything, private /tmp, lo up."""
    source_fd = python_fd = None
    if cfg.get("readonly_dir"):
        source_fd = os.open(cfg["readonly_dir"], os.O_RDONLY | os.O_DIRECTORY)
    if cfg.get("python_prefix"):
        python_fd = os.open(cfg["python_prefix"], os.O_RDONLY | os.O_DIRECTORY)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for hidden in cfg.get("hidden_paths", []):
        if os.path.isdir(hidden):
            _mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000")
    _read_only_root()
    uid = cfg["uid"]
    _mount("tmpfs", TMP, "tmpfs", MS_NOSUID | MS_NODEV, f"size={cfg['disk_bytes']},mode=1777,nr_inodes=65536")
    os.mkdir(WORK, 0o700)
    os.chown(WORK, uid, uid)
    if source_fd is not None:
        os.mkdir(RO, 0o755)
        _mount(f"/proc/self/fd/{source_fd}", RO, None, MS_BIND | MS_REC)
        _mount(None, RO, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(source_fd)
    if python_fd is not None:
        # The interpreter lives under a folder the sandbox uid cannot enter (e.g. /root/.pyenv):
        # show its installation read-only at /tmp/.python instead.
        os.mkdir(PYTHON, 0o755)
        _mount(f"/proc/self/fd/{python_fd}", PYTHON, None, MS_BIND | MS_REC)
        _mount(None, PYTHON, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(python_fd)
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=1777")  # noqa: S108
    _libc.sethostname(b"sandbox", 7)  # best effort: the UTS namespace is ours either way
    if not cfg["network"]:
        _loopback_up()


def _loopback_up() -> None:
    """Bring up `lo` in the new network namespace: the sandbox may talk to itself, not the host."""
    import fcntl
    import socket
    import struct

    siocsifflags, iff_up_loopback_running = 0x8914, 0x1 | 0x8 | 0x40
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", b"lo", iff_up_loopback_running))


def _which(program: str, path: str) -> str | None:
    if "/" in program:
        return program
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _exec_target(cfg: dict[str, Any]) -> None:
    """In the target process: limits, unprivileged identity, clean fds, then execve. Never returns."""
    try:
        limits = cfg["limits"]
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_bytes"], limits["file_size_bytes"]))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
        if cfg["uid"] is not None or os.geteuid() != 0:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
        if cfg["uid"] is not None:
            uid = cfg["uid"]
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            if os.geteuid() == 0 or os.getuid() == 0:  # pragma: no cover - setresuid guarantees this
                raise SetupError("could not drop root")
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.chdir(cfg["cwd"])
        env = cfg["env"]
        program = _which(cfg["argv"][0], env.get("PATH", "/usr/bin:/bin"))
        if program is None:
            os.write(2, f"sandbox: {cfg['argv'][0]}: command not found\n".encode())
            os._exit(127)
        os.closerange(3, 65536)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        os.execve(program, cfg["argv"], env)  # noqa: S606 - the sandbox's whole purpose
    except BaseException as exc:
        try:
            os.write(2, f"sandbox: cannot start {cfg['argv'][0]!r}: {exc}\n".encode())
        finally:
            os._exit(126)


def _done(status: int, ru: resource.struct_rusage) -> None:
    _status("done", status, ru.ru_utime, ru.ru_stime, ru.ru_maxrss)


def _alive(uid: int) -> bool:
    """Whether a process of `uid` other than this one exists that is not a zombie (dead, unreaped)."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or entry == me:
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid and not fields.get("State", "").strip().startswith(
            ("Z", "X")
        ):
            return True
    return False


def _kill_uid(uid: int) -> None:
    """Kill every process running as `uid` (the target's own uid), and wait until none runs."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setresuid(uid, uid, uid)
            for _ in range(400):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
                if not _alive(uid):
                    break
                time.sleep(0.005)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _run_init(cfg: dict[str, Any]) -> None:
    """PID 1 of the new pid namespace: set up the filesystem, start the target, reap, report."""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _setup_namespaces(cfg)
    except (SetupError, OSError) as exc:
        _status("error", f"sandbox setup failed: {exc}")
        os._exit(125)
    target = os.fork()
    if target == 0:
        _exec_target(cfg)
    _status("ready")
    while True:
        try:
            pid, status, ru = os.wait4(-1, 0)
        except ChildProcessError:  # pragma: no cover - the target is always ours to reap
            os._exit(125)
        if pid == target:
            _done(status, ru)
            os._exit(0)  # pid 1 exits: the kernel kills whatever the target left behind


def main() -> None:
    global _status_fd
    if sys.argv[1] == "--sweep":
        _kill_uid(int(sys.argv[2]))
        return
    config_fd, _status_fd = int(sys.argv[1]), int(sys.argv[2])
    os.set_inheritable(_status_fd, False)
    with os.fdopen(config_fd, "rb") as f:
        cfg = marshal.loads(f.read())  # noqa: S302 - written by our own caller, plain data only
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if cfg["namespaces"]:
        flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
        if not cfg["network"]:
            flags |= CLONE_NEWNET
        if _libc.unshare(flags) != 0:
            err = ctypes.get_errno()
            _status("error", f"unshare failed: {os.strerror(err)} (errno {err})")
            sys.exit(125)
        init = os.fork()
        if init == 0:
            _run_init(cfg)
        # The caller kills init (by this pid) on timeout. Our wait returns only once the kernel
        # has killed and reaped every process of the pid namespace.
        _status("init", init)
        _, status = os.waitpid(init, 0)
        sys.exit(0 if status == 0 else 125)
    target = os.fork()
    if target == 0:
        _exec_target(cfg)
    _status("ready")
    _, status, ru = os.wait4(target, 0)
    _done(status, ru)
    if cfg["uid"] is not None:
        _kill_uid(cfg["uid"])
    sys.exit(0)


if __name__ == "__main__":
    main()
