"""agent-runtime benchmarks: ring check overhead, command-policy checks, sandbox start-to-exit.

Run: ``.nox/agent_runtime/bin/python packages/agent-runtime/bench/run.py`` (add ``--json`` for
machine-readable output). Figures are medians over repeated batches; the sandbox figures need
root for the namespace row.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import agent_os
from agent_os import AuditLog, govern
from agent_runtime import CommandPolicy, Rings, namespaces_available, run_sandboxed

POLICY = {
    "apiVersion": "governance.toolkit/v1",
    "name": "bench",
    "default_action": "allow",
    "rules": [{"name": "no-drop", "condition": "action.type == 'drop'", "action": "deny"}],
}


def per_call_us(fn: Callable[[], Any], batch: int, batches: int) -> float:
    """Median over `batches` of the mean time per call in a batch of `batch` calls, in microseconds.

    On a busy machine the minimum (``BEST``) says more about the code than the median does.
    """
    samples = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter_ns() - start) / batch / 1000)
    BEST[fn] = min(samples)
    return statistics.median(samples)


BEST: dict[Any, float] = {}


def tool(x: int) -> int:
    """The governed tool: as cheap as a tool can be, so the figures are the pipeline's."""
    return x


def ring_overhead() -> dict[str, float]:
    """What the ring guard (and enricher) add to a governed call."""
    agent_os.pipeline().reset()
    plain = govern(tool, policy=POLICY, agent_id="ops", audit=False)
    base = per_call_us(lambda: plain(x=1), 2000, 15)
    rings = Rings(assignments={"ops": 1}, tools={"tool": 2}, audit=AuditLog())
    guarded = govern(tool, policy=POLICY, agent_id="ops", audit=False, guards=[rings.guard])
    with_guard = per_call_us(lambda: guarded(x=1), 2000, 15)
    both = govern(
        tool, policy=POLICY, agent_id="ops", audit=False, guards=[rings.guard], enrichers=[rings.enricher]
    )
    with_both = per_call_us(lambda: both(x=1), 2000, 15)
    request = {"agent": {"id": "ops"}, "action": {"tool": "tool"}}
    check = rings.guard.check

    def one_check() -> None:
        check(request)

    direct = per_call_us(one_check, 20000, 15)
    return {
        "governed_call_us": base,
        "ring_guard_added_us": with_guard - base,
        "ring_guard_and_enricher_added_us": with_both - base,
        "ring_guard_check_us": direct,
        "ring_guard_check_best_us": BEST[one_check],
    }


def command_checks() -> dict[str, float]:
    """A command-policy check on a typical line and on a 4 KB line."""
    policy = CommandPolicy(deny=["rm", "curl", "wget", "nc"])
    typical = "git log --oneline -n 20 | grep -i fix | head -5"
    words = " ".join(f"file{i}.txt" for i in range(600))
    big = f"ls -la {words} | sort | uniq -c && echo done"[:4096]
    assert len(big) == 4096 or len(big) < 4096
    return {
        "typical_us": per_call_us(lambda: policy.check(typical), 500, 15),
        "4kb_us": per_call_us(lambda: policy.check(big), 20, 15),
        "4kb_length": float(len(big)),
    }


def sandbox_true() -> dict[str, float]:
    """Start-to-exit of `true` in the sandbox, without and with namespaces (wall and CPU time)."""
    import resource

    out: dict[str, float] = {}
    runs = 15
    modes: list[tuple[str, dict[str, Any]]] = [
        ("process", {"isolation": "process", "accept_weaker_isolation": True})
    ]
    if namespaces_available():
        modes.append(("namespaces", {}))
    for label, options in modes:
        samples, cpu = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            self_before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            run_sandboxed(["true"], **options)
            samples.append((time.perf_counter() - start) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            self_after = resource.getrusage(resource.RUSAGE_SELF)
            used = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) + (
                self_after.ru_utime + self_after.ru_stime - self_before.ru_utime - self_before.ru_stime
            )
            cpu.append(used * 1000)
        out[f"{label}_ms"] = statistics.median(samples)
        out[f"{label}_best_ms"] = min(samples)
        out[f"{label}_cpu_ms"] = statistics.median(cpu)
    return out


def main() -> None:
    """Print the figures (``--json`` for JSON)."""
    results = {"rings": ring_overhead(), "command_policy": command_checks(), "sandbox_true": sandbox_true()}
    if "--json" in sys.argv:
        print(json.dumps(results, indent=2))
        return
    for group, figures in results.items():
        for name, value in figures.items():
            print(f"{group:15} {name:35} {value:10.2f}")


if __name__ == "__main__":
    main()
