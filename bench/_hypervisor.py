"""agent-hypervisor audit log benchmarks, side by side with the peer's audit log in the same run.

    python bench/_hypervisor.py [--records N] [--quick] [--peer-python PATH] [--keep DIR]

Run it with the python of a venv where agent-hypervisor is installed (e.g. `.nox/agent_hypervisor`).
Measures, at N records (default 1,000,000; `--quick`: 100,000):

* in-memory append rate, per-append p50/p99/max (the max is the worst single append across all N);
* SQLite append rate in `batched` mode (N records) and `sync` mode (one thread, and 8 threads
  sharing group commits; fewer records: every commit waits for fsync);
* verify time of all N records (in memory and on SQLite);
* inclusion-proof generation and verification at N records; consistency-proof generation;
* bytes per record on disk (database + WAL) and in memory (RSS growth).

Each append is the record govern() writes for an allowed `noop_tool(action="read", table="users")`
under the seed policy, the request serialised by the append itself. The peer (agent-governance-
toolkit 4.1.0, `--peer-python`, its own venv) is measured in the same run on the same workload
as bench/_peer.py does: `AuditLog().log(...)` appends, then `verify_integrity()`. Targets
(issue 17): in-memory >= 100,000 appends/s; SQLite batched >= 50,000/s; no single append above
5 ms; verify 1,000,000 records in under 5 s. Missing a target is reported, never fatal.
Results: bench/results/hypervisor-latest.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent

SEED_POLICY = """\
apiVersion: governance.toolkit/v1
name: production-policy
default_action: allow
rules:
- name: block-destructive
  condition: "action.type in ['drop', 'delete', 'truncate']"
  action: deny
- name: require-approval-for-send
  condition: "action.type == 'send_email'"
  action: require_approval
  approvers: ["security-team"]
"""

REQUEST = {
    "action": {"tool": "noop_tool", "type": "read"},
    "agent": {"id": "bench-agent"},
    "args": {"action": "read", "table": "users"},
    "context": {},
    "stage": "pre_tool",
}

PEER_SNIPPET = r"""
import json, sys, time
from agentmesh.governance import AuditLog
n = int(sys.argv[1])
log = AuditLog()
data = {"rule": "", "reason": "", "evaluation_ms": 0.05}
perf = time.perf_counter_ns
samples = [0] * n
t_start = perf()
for i in range(n):
    t0 = perf()
    log.log(event_type="policy_evaluation", agent_did="bench-agent", action="read",
            outcome="allow", policy_decision="allow", data=data)
    samples[i] = perf() - t0
total = perf() - t_start
t0 = perf()
ok, err = log.verify_integrity()
verify = perf() - t0
print(json.dumps({"n": n, "total_ns": total, "samples": samples, "verify_ns": verify, "ok": bool(ok)}))
"""


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def stats(samples: list[int], total_ns: int, cpu: list[int] | None = None) -> dict[str, float]:
    ordered = sorted(samples)
    n = len(ordered)
    out = {
        "n": n,
        "rate_per_s": n / (total_ns / 1e9),
        "p50_us": ordered[n // 2] / 1e3,
        "p99_us": ordered[min(n - 1, int(n * 0.99))] / 1e3,
        "max_ms": ordered[-1] / 1e6,
    }
    if cpu:
        # CPU time of the appending thread: what an append costs, without the time other
        # processes held the core (the 2-core machine is shared while benchmarks run).
        out["cpu_rate_per_s"] = n / (sum(cpu) / 1e9)
        out["cpu_max_ms"] = max(cpu) / 1e6
    return out


def timed_appends(append: Any, decision: Any, n: int) -> tuple[list[int], int, list[int]]:
    perf, cpu_now = time.perf_counter_ns, time.thread_time_ns
    samples, cpu = [0] * n, [0] * n
    start = perf()
    for i in range(n):
        c0 = cpu_now()
        t0 = perf()
        append(REQUEST, decision)
        samples[i] = perf() - t0
        cpu[i] = cpu_now() - c0
    return samples, perf() - start, cpu


def timed_appends_json(append: Any, decision: Any, n: int) -> tuple[list[int], int, list[int]]:
    """Appends given the request's canonical JSON, as the kernel hands it to the audit sink."""
    from agt_core import canonical_json

    request_json = canonical_json(REQUEST)
    perf, cpu_now = time.perf_counter_ns, time.thread_time_ns
    samples, cpu = [0] * n, [0] * n
    start = perf()
    for i in range(n):
        c0 = cpu_now()
        t0 = perf()
        append(REQUEST, decision, None, request_json=request_json)
        samples[i] = perf() - t0
        cpu[i] = cpu_now() - c0
    return samples, perf() - start, cpu


def proof_figures(log: Any, n: int, rounds: int) -> dict[str, float]:
    rng = random.Random(7)
    root = log.root()
    gen, ver = [], []
    perf = time.perf_counter_ns
    for _ in range(rounds):
        index = rng.randrange(n)
        t0 = perf()
        proof = log.inclusion_proof(index, n)
        t1 = perf()
        assert proof.verify(root)
        t2 = perf()
        gen.append(t1 - t0)
        ver.append(t2 - t1)
    cons = []
    for _ in range(max(10, rounds // 10)):
        old = rng.randrange(1, n)
        t0 = perf()
        proof = log.consistency_proof(old, n)
        cons.append(perf() - t0)
        assert proof.verify()
    return {
        "inclusion_gen_p50_us": statistics.median(gen) / 1e3,
        "inclusion_verify_p50_us": statistics.median(ver) / 1e3,
        "consistency_gen_p50_us": statistics.median(cons) / 1e3,
        "proof_length": len(log.inclusion_proof(n // 3, n).path),
    }


def bench_memory(decision: Any, n: int) -> dict[str, Any]:
    from agent_hypervisor import MerkleAuditLog

    gc.collect()
    before = rss_bytes()
    log = MerkleAuditLog()
    samples, total, cpu = timed_appends(log.append, decision, n)
    gc.collect()
    grown = rss_bytes() - before
    out: dict[str, Any] = {"append": stats(samples, total, cpu), "bytes_per_record_memory": grown / n}
    t0, c0 = time.perf_counter_ns(), time.process_time_ns()
    report = log.verify()
    out["verify_s"] = (time.perf_counter_ns() - t0) / 1e9
    out["verify_cpu_s"] = (time.process_time_ns() - c0) / 1e9
    assert report.ok, report
    assert report.records == n, report
    out.update(proof_figures(log, n, 1000))
    del log
    gc.collect()
    prepared = MerkleAuditLog()
    samples, total, cpu = timed_appends_json(prepared.append, decision, n)
    out["append_request_json"] = stats(samples, total, cpu)
    return out


def bench_sqlite_batched(decision: Any, n: int, folder: Path) -> dict[str, Any]:
    from agent_hypervisor import SqliteAuditLog

    path = folder / "batched.db"
    log = SqliteAuditLog(path, durability="batched")
    samples, total, cpu = timed_appends(log.append, decision, n)
    t0 = time.perf_counter_ns()
    log.flush()
    flush_ns = time.perf_counter_ns() - t0
    out: dict[str, Any] = {"append": stats(samples, total + flush_ns, cpu)}
    size = sum(p.stat().st_size for p in folder.glob("batched.db*"))
    out["bytes_per_record_disk"] = size / n
    t0, c0 = time.perf_counter_ns(), time.process_time_ns()
    report = log.verify()
    out["verify_s"] = (time.perf_counter_ns() - t0) / 1e9
    out["verify_cpu_s"] = (time.process_time_ns() - c0) / 1e9
    assert report.ok, report
    assert report.records == n, report
    out.update(proof_figures(log, n, 300))
    log.close()
    return out


def bench_sqlite_sync(decision: Any, n: int, folder: Path, threads: int) -> dict[str, Any]:
    from agent_hypervisor import SqliteAuditLog

    log = SqliteAuditLog(folder / f"sync-{threads}.db", durability="sync")
    per = n // threads
    all_samples: list[list[int]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(t: int) -> None:
        barrier.wait()
        all_samples[t], _, _ = timed_appends(log.append, decision, per)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    t0 = time.perf_counter_ns()
    for w in workers:
        w.join()
    total = time.perf_counter_ns() - t0
    log.close()
    return {"threads": threads, "append": stats([s for ss in all_samples for s in ss], total)}


def bench_peer(python: str, n: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONWARNINGS")}
    proc = subprocess.run(
        [python, "-c", PEER_SNIPPET, str(n)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"append": stats(data["samples"], data["total_ns"]), "verify_s": data["verify_ns"] / 1e9, "n": n}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 records")
    parser.add_argument("--peer-python", help="python of a venv with agent-governance-toolkit 4.1.0")
    parser.add_argument("--peer-records", type=int, default=100_000)
    parser.add_argument("--sync-records", type=int, default=2_000)
    parser.add_argument("--keep", help="folder for the database files (default: a temporary one)")
    ns = parser.parse_args()
    n = 100_000 if ns.quick else ns.records

    from agent_os import compile_policies

    decision = compile_policies(SEED_POLICY).evaluate(REQUEST)
    results: dict[str, Any] = {"records": n, "python": sys.version.split()[0], "load_before": os.getloadavg()}
    print(
        f"agent-hypervisor audit benchmarks at {n:,} records; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results["memory"] = bench_memory(decision, n)
    gc.collect()
    with tempfile.TemporaryDirectory(dir=ns.keep) as tmp:
        folder = Path(tmp)
        results["sqlite_batched"] = bench_sqlite_batched(decision, n, folder)
        results["sqlite_sync_1"] = bench_sqlite_sync(decision, ns.sync_records, folder, 1)
        results["sqlite_sync_8"] = bench_sqlite_sync(decision, ns.sync_records * 4, folder, 8)
    if ns.peer_python:
        results["peer"] = bench_peer(ns.peer_python, min(n, ns.peer_records))

    mem, bat = results["memory"], results["sqlite_batched"]
    s1, s8 = results["sqlite_sync_1"], results["sqlite_sync_8"]
    peer = results.get("peer", {})

    def row(label: str, ours: str, theirs: str = "", target: str = "") -> None:
        print(f"{label:<52} {ours:>26} {theirs:>24} {target}")

    def fmt(a: dict[str, float]) -> str:
        return f"{a['rate_per_s']:>9,.0f}/s max {a['max_ms']:.2f} ms"

    def fmt_cpu(a: dict[str, float]) -> str:
        return f"{a['cpu_rate_per_s']:>9,.0f}/s max {a['cpu_max_ms']:.2f} ms"

    def check(ok: bool, text: str) -> str:
        return ("met: " if ok else "MISSED: ") + text

    print()
    row("figure", "ours", "peer (same run)", "target")
    peer_append = peer.get("append")
    row(
        "in-memory append (rate, worst single append)",
        fmt(mem["append"]),
        fmt(peer_append) if peer_append else "(8.7 k/s reference)",
        check(mem["append"]["rate_per_s"] >= 100_000, ">= 100,000/s"),
    )
    row("in-memory append, request JSON given (as govern())", fmt(mem["append_request_json"]))
    row(
        "  in CPU time of the appending thread",
        fmt_cpu(mem["append"]),
        "",
        check(mem["append"]["cpu_rate_per_s"] >= 100_000, ">= 100,000/s"),
    )
    row("  in CPU time, request JSON given", fmt_cpu(mem["append_request_json"]))
    row(
        "  p50 / p99",
        f"{mem['append']['p50_us']:.1f} / {mem['append']['p99_us']:.1f} µs",
        f"{peer_append['p50_us']:.1f} / {peer_append['p99_us']:.1f} µs" if peer_append else "",
    )
    row(
        "SQLite append, batched",
        fmt(bat["append"]),
        "(signed file sink 4.8 k/s ref.)",
        check(bat["append"]["rate_per_s"] >= 50_000, ">= 50,000/s"),
    )
    row(
        "  in CPU time of the appending thread",
        fmt_cpu(bat["append"]),
        "",
        check(bat["append"]["cpu_rate_per_s"] >= 50_000, ">= 50,000/s"),
    )
    row("SQLite append, sync, 1 thread", fmt(s1["append"]))
    row("SQLite append, sync, 8 threads (group commit)", fmt(s8["append"]))
    worst = max(mem["append"]["max_ms"], mem["append_request_json"]["max_ms"], bat["append"]["max_ms"])
    row("worst single append (memory, batched)", f"{worst:.2f} ms", "", check(worst <= 5, "<= 5 ms"))
    row(
        f"verify {n:,} records, in memory",
        f"{mem['verify_s']:.2f} s",
        f"{peer['verify_s']:.2f} s ({peer['n']:,} records)" if "verify_s" in peer else "",
        check(mem["verify_s"] < 5 * n / 1_000_000, "< 5 s per 1,000,000"),
    )
    row(
        "  in CPU time",
        f"{mem['verify_cpu_s']:.2f} s",
        "",
        check(mem["verify_cpu_s"] < 5 * n / 1_000_000, "< 5 s per 1,000,000"),
    )
    row(
        f"verify {n:,} records, SQLite",
        f"{bat['verify_s']:.2f} s",
        "",
        check(bat["verify_s"] < 5 * n / 1_000_000, "< 5 s per 1,000,000"),
    )
    row("  in CPU time", f"{bat['verify_cpu_s']:.2f} s")
    worst_cpu = max(
        mem["append"]["cpu_max_ms"], mem["append_request_json"]["cpu_max_ms"], bat["append"]["cpu_max_ms"]
    )
    row("worst single append in CPU time", f"{worst_cpu:.2f} ms", "", check(worst_cpu <= 5, "<= 5 ms"))
    row(
        "inclusion proof: generate / verify (memory)",
        f"{mem['inclusion_gen_p50_us']:.0f} / {mem['inclusion_verify_p50_us']:.0f} µs",
    )
    row(
        "inclusion proof: generate / verify (SQLite)",
        f"{bat['inclusion_gen_p50_us']:.0f} / {bat['inclusion_verify_p50_us']:.0f} µs",
    )
    row(
        "consistency proof: generate (memory / SQLite)",
        f"{mem['consistency_gen_p50_us']:.0f} / {bat['consistency_gen_p50_us']:.0f} µs",
    )
    row(
        "bytes per record: memory / disk",
        f"{mem['bytes_per_record_memory']:.0f} / {bat['bytes_per_record_disk']:.0f}",
    )
    if "error" in peer:
        print(f"peer run failed: {peer['error']}")
    results["load_after"] = os.getloadavg()
    print(f"load average after the run: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores)")
    out = BENCH / "results" / "hypervisor-latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
