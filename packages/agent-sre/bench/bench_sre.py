# ruff: noqa: D103, S311, S603 - a benchmark script: seeded randomness, our own subprocesses
"""agent-sre benchmarks: overhead on a governed call, kill-switch propagation, SLO evaluation.

Run with a python that has agt-core, agent-os and agent-sre[test] installed::

    .nox/agent_sre/bin/python packages/agent-sre/bench/bench_sre.py [--quick] [--json out.json]

Figures are medians (p50) and p99 of per-call times measured with ``time.perf_counter_ns``
after a warm-up; overheads are the difference to the same governed call without the extension.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

POLICY = """
apiVersion: governance.toolkit/v1
name: bench
default_action: allow
rules:
- name: no-drop
  condition: "action.type == 'drop'"
  action: deny
"""


def timed(fn: Callable[[], Any], n: int, warmup: int = 1000) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    samples.sort()
    return {
        "n": n,
        "p50_ns": samples[n // 2],
        "p99_ns": samples[int(n * 0.99)],
        "mean_ns": statistics.fmean(samples),
    }


def governed_calls(n: int) -> dict[str, dict[str, float]]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from agent_os import AuditLog, govern, pipeline
    from agent_sre import CircuitBreaker, KillSwitch, OTelObserver, SQLiteSwitchStore

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    def tool(action: str, table: str) -> str:
        return table

    folder = Path(tempfile.mkdtemp(prefix="agt-sre-bench-"))
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    variants: dict[str, dict[str, Any]] = {
        "baseline (no extension; telemetry off)": {},
        "kill switch, SQLite, cache 20 ms": {"guards": [KillSwitch(SQLiteSwitchStore(folder / "a.db"))]},
        "kill switch, SQLite, re-checked every call": {
            "guards": [KillSwitch(SQLiteSwitchStore(folder / "b.db"), max_staleness_s=0)]
        },
        "circuit breaker (closed)": {"guards": [cb := CircuitBreaker()], "observers": [cb]},
        "telemetry on (OTel SDK, spans discarded)": {
            "observers": [OTelObserver(tracer_provider=tracer_provider, meter_provider=meter_provider)]
        },
    }
    pipeline().reset()
    results = {}
    for label, extensions in variants.items():
        safe = govern(tool, policy=POLICY, audit=AuditLog(), **extensions)
        results[label] = timed(lambda safe=safe: safe(action="read", table="t"), n)
    return results


def check_costs(n: int) -> dict[str, dict[str, float]]:
    from agent_sre import CircuitBreaker, KillSwitch

    folder = Path(tempfile.mkdtemp(prefix="agt-sre-bench-"))
    request = {"action": {"type": "read", "tool": "db"}, "agent": {"id": "bot"}, "args": {}, "context": {}}
    cached = KillSwitch(folder / "c.db")
    cached.pull("agent", "someone-else", by="bench", reason="a pulled switch that does not match")
    every = KillSwitch(folder / "c.db", max_staleness_s=0)
    breaker = CircuitBreaker()
    return {
        "KillSwitch.check, cache 20 ms": timed(lambda: cached.check(request), n),
        "KillSwitch.check, data_version every call": timed(lambda: every.check(request), n),
        "CircuitBreaker.check (closed)": timed(lambda: breaker.check(request), n),
    }


PROPAGATION_CHILD = textwrap.dedent(
    """
    import sys, time
    from agent_sre import KillSwitch
    ks = KillSwitch(sys.argv[1], max_staleness_s=float(sys.argv[2]))
    request = {"action": {"type": "t", "tool": "t"}, "agent": {"id": "bot"}}
    print("ready", flush=True)
    while ks.check(request) is None:
        pass
    print(time.time(), flush=True)
    """
)


def propagation(rounds: int, staleness: float) -> dict[str, float]:
    """Time from a pull's commit in one process to the first refusal in another (busy-polling) process."""
    from agent_sre import KillSwitch

    delays = []
    for i in range(rounds):
        db = Path(tempfile.mkdtemp(prefix="agt-sre-prop-")) / "ks.db"
        KillSwitch(db).close()
        child = subprocess.Popen(
            [sys.executable, "-c", PROPAGATION_CHILD, str(db), str(staleness)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.05 + random.random() * 0.05)  # pull at a random phase of the child's cache
        ks = KillSwitch(db)
        ks.pull("agent", "bot", by="bench", reason=f"round {i}")
        committed = time.time()
        seen = float(child.stdout.readline())
        child.wait()
        child.stdout.close()
        ks.close()
        delays.append(seen - committed)
    delays.sort()
    return {
        "rounds": rounds,
        "p50_ms": delays[len(delays) // 2] * 1e3,
        "max_ms": delays[-1] * 1e3,
    }


def slo_million(events: int) -> dict[str, float]:
    from agent_sre import SLO, SuccessRate

    now = [0.0]
    slo = SLO("bench", sli=SuccessRate(), target=0.999, clock=lambda: now[0])
    rng = random.Random(1)
    span = 30 * 86400.0
    t0 = time.perf_counter()
    for i in range(events):
        now[0] = span * i / events
        slo.record(rng.random() > 0.0005, at=now[0])
    recorded = time.perf_counter() - t0
    t1 = time.perf_counter_ns()
    status = slo.status(now=span)
    evaluated = time.perf_counter_ns() - t1
    return {
        "events": events,
        "record_total_s": recorded,
        "record_per_event_ns": recorded / events * 1e9,
        "evaluate_ns": evaluated,
        "buckets": len(slo._series),
        "budget_remaining": status.budget_remaining,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    n = 5_000 if args.quick else 50_000
    results: dict[str, Any] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
        "governed_call": governed_calls(n),
        "checks": check_costs(n),
        "propagation_20ms": propagation(5 if args.quick else 20, 0.02),
        "propagation_every_call": propagation(5 if args.quick else 20, 0.0),
        "slo": slo_million(100_000 if args.quick else 1_000_000),
    }
    base = results["governed_call"]["baseline (no extension; telemetry off)"]["p50_ns"]
    print(f"python {results['machine']['python']}, {results['machine']['platform']}, {os.cpu_count()} cores")
    print(f"\n{'governed call (allow, audit on)':<48} {'p50 µs':>8} {'p99 µs':>8} {'overhead µs':>12}")
    for label, r in results["governed_call"].items():
        print(
            f"{label:<48} {r['p50_ns'] / 1e3:8.2f} {r['p99_ns'] / 1e3:8.2f} {(r['p50_ns'] - base) / 1e3:12.2f}"
        )
    print(f"\n{'check alone':<48} {'p50 µs':>8} {'p99 µs':>8}")
    for label, r in results["checks"].items():
        print(f"{label:<48} {r['p50_ns'] / 1e3:8.2f} {r['p99_ns'] / 1e3:8.2f}")
    for key, label in (
        ("propagation_20ms", "cache 20 ms"),
        ("propagation_every_call", "re-checked every call"),
    ):
        p = results[key]
        print(f"\nswitch propagation across processes ({label}): p50 {p['p50_ms']:.1f} ms, "
              f"max {p['max_ms']:.1f} ms over {p['rounds']} rounds")  # fmt: skip
    s = results["slo"]
    print(f"\nSLO over {s['events']:,} events (30 days, 3 workbook alerts): record {s['record_per_event_ns'] / 1e3:.2f} µs/event "
          f"({s['record_total_s']:.2f} s total), evaluate {s['evaluate_ns'] / 1e3:.1f} µs, {s['buckets']:,} buckets")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
