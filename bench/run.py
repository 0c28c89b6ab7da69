"""Benchmarks, side by side with the peer in the same run: `./dev bench` (or `./dev bench -- --quick`).

Run with the python of the venv our packages are installed in. Each implementation runs in its
own subprocess: ours under this interpreter, the peer's (agent-governance-toolkit 4.1.0) under
`--peer-python`. Neither process ever imports the other implementation. Workers print one JSON
document on stdout; this script checks that both engines took the same decisions, prints the
table and writes bench/results/latest.json. Missing a target is reported, never fatal; a broken
worker or a decision mismatch exits 1.

On a shared machine the load changes while the two sides run one after the other, and it moves
the ratios. ``--rounds N`` runs the two workers N times, alternating (ours, peer, ours, peer,
...), and keeps for each side and scenario the round with the lowest p50: the same rule for both
sides, so a burst of load during one side's run does not decide a ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _workload import SEED_POLICY_YAML  # noqa: E402

IMPORT_STATEMENT = "from agentmesh.governance import govern"
COLD_IMPORT_CODE = f"""\
import sys, time
_n0 = len(sys.modules)
_t0 = time.perf_counter_ns()
{IMPORT_STATEMENT}
_t1 = time.perf_counter_ns()
_mods = len(sys.modules) - _n0
import json, resource
print(json.dumps({{"import_ns": _t1 - _t0, "modules": _mods,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""

# (key, label, target) in table order. A target is (kind, threshold): "ratio_p50" compares
# peer p50 / ours p50 with the threshold; "ours_p50_below_ns" compares our p50 with it.
ROWS: list[tuple[str, str, tuple[str, float] | None]] = [
    ("raw_call", "1  raw no-op tool call", None),
    ("governed_allow_audit", "2  governed call, allow, audit on", ("ratio_p50", 25.0)),
    ("governed_deny_audit", "3  governed call, deny, audit on", None),
    ("governed_allow_no_audit", "4  governed call, allow, audit off", None),
    ("eval_10", "5  evaluate, 10 rules", None),
    ("eval_100", "5  evaluate, 100 rules", None),
    ("eval_1000", "5  evaluate, 1,000 rules", ("ratio_p50", 3000.0)),
    ("eval_1000_unindexable", "5  evaluate, 1,000 rules on args", ("ratio_p50", 100.0)),
    ("load_10", "6  YAML load+compile, 10 rules", None),
    ("load_100", "6  YAML load+compile, 100 rules", None),
    ("load_1000", "6  YAML load+compile, 1,000 rules", None),
    ("cold_import", "7  cold import (median; max in p99)", ("ours_p50_below_ns", 100e6)),
    ("audit_append", "8  audit append (direct, fresh log)", None),
    ("audit_verify", "8  audit verify (median of 3; max)", None),
]


def clean_env() -> dict[str, str]:
    """The environment for child processes: nothing that could leak one venv into the other."""
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONWARNINGS"):
        env.pop(var, None)
    return env


def best_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's results over several rounds: per scenario, the round with the lowest p50."""
    merged = dict(rounds[0])
    scenarios: dict[str, Any] = dict(merged.get("scenarios") or {})
    for key in scenarios:
        timed = [r["scenarios"][key] for r in rounds if key in (r.get("scenarios") or {})]
        timed = [s for s in timed if isinstance(s, dict) and "p50_ns" in s]
        if timed:
            scenarios[key] = {**min(timed, key=lambda s: s["p50_ns"]), "rounds": len(rounds)}
    merged["scenarios"] = scenarios
    errors: dict[str, Any] = {}
    for r in rounds:  # a problem in any round invalidates the run
        errors.update(r.get("errors") or {})
        if "fatal" in r:
            merged["fatal"] = r["fatal"]
    merged["errors"] = errors
    return merged


def run_worker(impl: str, python: str, policy_file: Path, ns: argparse.Namespace) -> dict[str, Any]:
    cmd = [python, str(BENCH / f"_{impl}.py"), "--policy-file", str(policy_file)]
    if ns.quick:
        cmd.append("--quick")
    if ns.audit_entries:
        cmd += ["--audit-entries", str(ns.audit_entries)]
    print(f"--- {impl}: {shlex.join(cmd)}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, env=clean_env(), text=True, check=False)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"fatal": f"worker exited {proc.returncode} without a JSON result"}
    result["worker_wall_s"] = round(wall, 2)
    result["command"] = shlex.join(cmd)
    return result


def cold_import(python: str, runs: int) -> dict[str, Any]:
    """Median of `runs` fresh processes (after one discarded run that warms .pyc and file caches)."""
    env = clean_env()
    samples: list[dict[str, Any]] = []
    bare: list[float] = []
    with tempfile.TemporaryDirectory() as cwd:  # no local directory can shadow a package
        for i in range(runs + 1):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [python, "-c", COLD_IMPORT_CODE],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
            t0 = time.perf_counter()
            subprocess.run([python, "-c", "pass"], cwd=cwd, env=env, check=True)
            bare_wall = time.perf_counter() - t0
            if i == 0:
                continue
            sample = json.loads(proc.stdout.strip().splitlines()[-1])
            sample["wall_ns"] = round(wall * 1e9)
            sample["deprecation_warnings"] = proc.stderr.count("DeprecationWarning")
            samples.append(sample)
            bare.append(bare_wall)
    imports = sorted(s["import_ns"] for s in samples)
    return {
        "statement": IMPORT_STATEMENT,
        "runs": runs,
        "p50_ns": round(statistics.median(imports)),
        "p99_ns": imports[-1],
        "min_ns": imports[0],
        "wall_p50_ns": round(statistics.median(s["wall_ns"] for s in samples)),
        "bare_python_wall_p50_ns": round(statistics.median(bare) * 1e9),
        "modules": round(statistics.median(s["modules"] for s in samples)),
        "maxrss_mib": round(statistics.median(s["maxrss_kib"] for s in samples) / 1024, 1),
        "deprecation_warnings": max(s["deprecation_warnings"] for s in samples),
        "samples": samples,
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def fmt_ns(ns: float | None) -> str:
    if ns is None:
        return "n/a"
    if ns < 1e3:
        return f"{ns / 1e3:.2f} µs"
    if ns < 1e6:
        return f"{ns / 1e3:.1f} µs" if ns >= 1e4 else f"{ns / 1e3:.2f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.2f} s"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "n/a"
    return f"{r:,.0f}×" if r >= 100 else f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def ratio(peer: float | None, ours: float | None) -> float | None:
    return peer / ours if peer and ours else None


def build_rows(ours: dict[str, Any], peer: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, label, target in ROWS:
        o = ours.get(key) or {}
        p = peer.get(key) or {}
        row: dict[str, Any] = {
            "key": key,
            "label": label,
            "ours_p50_ns": o.get("p50_ns"),
            "ours_p99_ns": o.get("p99_ns"),
            "peer_p50_ns": p.get("p50_ns"),
            "peer_p99_ns": p.get("p99_ns"),
            "ours_n": o.get("n", o.get("runs")),
            "peer_n": p.get("n", p.get("runs")),
        }
        row["ratio_p50"] = ratio(row["peer_p50_ns"], row["ours_p50_ns"])
        row["ratio_p99"] = ratio(row["peer_p99_ns"], row["ours_p99_ns"])
        if target is not None:
            kind, threshold = target
            if kind == "ratio_p50":
                row["target"] = f"≥{threshold:g}× faster at p50"
                met = None if row["ratio_p50"] is None else row["ratio_p50"] >= threshold
            else:
                row["target"] = f"ours < {threshold / 1e6:g} ms"
                met = None if row["ours_p50_ns"] is None else row["ours_p50_ns"] < threshold
            row["target_met"] = met
            row["verdict"] = "n/a" if met is None else "PASS" if met else "MISS"
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = [
        "scenario",
        "ours p50",
        "ours p99",
        "peer p50",
        "peer p99",
        "peer/ours p50",
        "peer/ours p99",
        "target",
    ]
    body = [
        [
            r["label"],
            fmt_ns(r["ours_p50_ns"]),
            fmt_ns(r["ours_p99_ns"]),
            fmt_ns(r["peer_p50_ns"]),
            fmt_ns(r["peer_p99_ns"]),
            fmt_ratio(r["ratio_p50"]),
            fmt_ratio(r["ratio_p99"]),
            f"{r['verdict']} ({r['target']})" if "verdict" in r else "",
        ]
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(line(head))
    print("  ".join("-" * w for w in widths))
    for cells in body:
        print(line(cells))


def compare_decisions(ours: dict[str, Any], peer: dict[str, Any]) -> list[str]:
    """Both engines must have taken the same decision on every probe (effect and deciding rule)."""
    problems = []
    for key, ochecks in (ours.get("checks") or {}).items():
        pchecks = (peer.get("checks") or {}).get(key)
        if pchecks is None:
            continue
        for oc, pc in zip(ochecks, pchecks, strict=False):
            if oc["got"] != pc["got"]:
                problems.append(f"{key} {oc['action_type']} {oc['args']}: ours {oc['got']}, peer {pc['got']}")
    return problems


def check_isolation(impl: str, result: dict[str, Any], peer_prefix: str) -> list[str]:
    """The peer's modules must come from its venv; ours must not."""
    problems = []
    for mod, path in ((result.get("info") or {}).get("modules") or {}).items():
        inside = os.path.realpath(path).startswith(peer_prefix + os.sep)
        if (impl == "peer") != inside:
            problems.append(f"{impl} worker loaded {mod} from {path}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--peer-python", help="python of the venv holding agent-governance-toolkit==4.1.0")
    parser.add_argument("--quick", action="store_true", help="fewer iterations and a smaller time budget")
    parser.add_argument("--audit-entries", type=int, default=None, help="entries for scenario 8 (10,000)")
    parser.add_argument("--import-runs", type=int, default=None, help="fresh processes for scenario 7 (5)")
    parser.add_argument("--only", choices=["ours", "peer"], help="run one side only (development)")
    parser.add_argument("--output", type=Path, default=BENCH / "results" / "latest.json")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternating runs of both sides; best p50 per scenario (1)"
    )
    ns = parser.parse_args()
    if ns.only != "ours" and not ns.peer_python:
        parser.error("--peer-python is required (or --only ours)")
    import_runs = ns.import_runs or (3 if ns.quick else 5)
    command = shlex.join([sys.executable, *sys.argv])
    peer_prefix = os.path.realpath(Path(ns.peer_python).absolute().parent.parent) if ns.peer_python else ""
    mach = machine()

    peer_python = os.path.abspath(ns.peer_python) if ns.peer_python else None  # children run elsewhere
    sides = {"ours": sys.executable, "peer": peer_python}
    if ns.only:
        sides = {ns.only: sides[ns.only]}
    results: dict[str, dict[str, Any]] = {"ours": {}, "peer": {}}
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        policy_file = Path(tmp) / "policy.yaml"
        policy_file.write_text(SEED_POLICY_YAML)
        rounds: dict[str, list[dict[str, Any]]] = {impl: [] for impl in sides}
        for _ in range(max(1, ns.rounds)):
            for impl, python in sides.items():
                assert python is not None
                rounds[impl].append(run_worker(impl, python, policy_file, ns))
        for impl in sides:
            results[impl] = best_of(rounds[impl])
    for impl, python in sides.items():
        assert python is not None
        print(f"--- {impl}: cold import x{import_runs}", file=sys.stderr, flush=True)
        results[impl].setdefault("scenarios", {})["cold_import"] = cold_import(python, import_runs)

    for impl in sides:
        res = results[impl]
        if "fatal" in res:
            problems.append(f"{impl} worker failed: {res['fatal']}")
        problems += [f"{impl} {k}: {v}" for k, v in (res.get("errors") or {}).items()]
        cold = res["scenarios"]["cold_import"]
        if "error" in cold:
            problems.append(f"{impl} cold import failed: {cold['error']}")
        if peer_prefix:
            problems += check_isolation(impl, res, peer_prefix)
    problems += compare_decisions(results["ours"], results["peer"])

    rows = build_rows(results["ours"].get("scenarios", {}), results["peer"].get("scenarios", {}))
    print()
    print("Agent Governance Toolkit benchmarks: ours vs the peer (agent-governance-toolkit 4.1.0)")
    print(f"command:  {command}")
    print(f"cwd:      {Path.cwd()}")
    cores = f"{mach['cores']} cores ({mach['cores_usable']} usable)"
    print(f"machine:  {mach['cpu']}, {cores}, {mach['platform']}, load avg {mach['loadavg_at_start']}")
    for impl in ("ours", "peer"):
        res = results[impl]
        if res:
            versions = ", ".join(
                f"{k} {v}" for k, v in ((res.get("info") or {}).get("versions") or {}).items()
            )
            print(f"{impl}:     Python {res.get('python', '?')} ({res.get('executable', '?')}); {versions}")
    rounds_text = f"; best p50 of {ns.rounds} alternating rounds per side" if ns.rounds > 1 else ""
    print(
        "mode:     "
        + ("--quick" if ns.quick else "full")
        + "; times per call, perf_counter_ns; ratio = peer / ours"
        + rounds_text
    )
    print()
    print_table(rows)
    print()
    for impl in ("ours", "peer"):
        s = results[impl].get("scenarios") or {}
        cold, app, ver = s.get("cold_import") or {}, s.get("audit_append") or {}, s.get("audit_verify") or {}
        if "p50_ns" in cold:
            print(
                f"{impl}: cold import {fmt_ns(cold['p50_ns'])} in-process,"
                f" process wall {fmt_ns(cold['wall_p50_ns'])}"
                f" (bare python {fmt_ns(cold['bare_python_wall_p50_ns'])}), {cold['modules']} modules,"
                f" peak RSS {cold['maxrss_mib']} MiB,"
                f" {cold['deprecation_warnings']} DeprecationWarning(s) printed"
            )
        if "per_second" in app:
            print(
                f"{impl}: audit, {app['entries']:,} direct appends to a fresh log: {app['per_second']:,}/s,"
                f" max {fmt_ns(app['max_ns'])}; verify {fmt_ns(ver.get('p50_ns'))}"
            )
    print()
    print("sample counts (ours/peer): " + ", ".join(f"{r['key']} {r['ours_n']}/{r['peer_n']}" for r in rows))

    report = {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "cwd": str(Path.cwd()),
        "machine": mach,
        "quick": ns.quick,
        "rounds": ns.rounds,
        "rows": rows,
        "ours": results["ours"],
        "peer": results["peer"],
        "problems": problems,
    }
    ns.output.parent.mkdir(parents=True, exist_ok=True)
    ns.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"results:  {ns.output}")
    if problems:
        print("\nPROBLEMS (the run is not valid):")
        for p in problems:
            print(f"  - {p}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
