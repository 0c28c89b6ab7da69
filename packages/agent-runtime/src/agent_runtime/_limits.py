"""Resource limits for sandboxed execution, and the limits each privilege ring carries."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RING_LIMITS", "ResourceLimits"]

_MIB = 1024 * 1024


class ResourceLimits(BaseModel):
    """What a sandboxed process may use. Every limit is enforced by the kernel, not by polling.

    Attributes:
        cpu_seconds: CPU time (RLIMIT_CPU): SIGXCPU at the limit, SIGKILL one second later.
        memory_bytes: Address space (RLIMIT_AS): allocations beyond it fail.
        file_size_bytes: Largest file the process may write (RLIMIT_FSIZE): SIGXFSZ beyond it.
        open_files: Open file descriptors (RLIMIT_NOFILE).
        processes: Processes and threads of the sandbox's own uid (RLIMIT_NPROC).
        disk_bytes: Size of the private, memory-backed /tmp that holds the working folder
            (namespace isolation only).
        wall_seconds: Wall-clock time before the whole sandbox is killed.
        output_bytes: Captured bytes per stream (stdout, stderr); the stream is closed beyond it.
        network: Whether the process may reach the network (False: a new, empty network namespace).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_seconds: int = Field(default=5, ge=1, le=86_400)
    memory_bytes: int = Field(default=512 * _MIB, ge=16 * _MIB)
    file_size_bytes: int = Field(default=16 * _MIB, ge=0)
    open_files: int = Field(default=64, ge=4, le=1_048_576)
    processes: int = Field(default=16, ge=1, le=1_000_000)
    disk_bytes: int = Field(default=64 * _MIB, ge=_MIB)
    wall_seconds: float = Field(default=30.0, gt=0, le=86_400)
    output_bytes: int = Field(default=_MIB, ge=0)
    network: bool = False


RING_LIMITS: dict[int, ResourceLimits] = {
    1: ResourceLimits(
        cpu_seconds=120, memory_bytes=4096 * _MIB, file_size_bytes=1024 * _MIB, open_files=1024,
        processes=256, disk_bytes=1024 * _MIB, wall_seconds=600, output_bytes=16 * _MIB, network=True,
    ),
    2: ResourceLimits(
        cpu_seconds=30, memory_bytes=1024 * _MIB, file_size_bytes=128 * _MIB, open_files=256,
        processes=64, disk_bytes=256 * _MIB, wall_seconds=120, output_bytes=4 * _MIB, network=True,
    ),
    3: ResourceLimits(),
}  # fmt: skip
"""Limits per ring. Ring 0 (kernel and configuration) never runs agent code, so it has none."""
