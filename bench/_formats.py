"""Rego and Cedar policies against YAML: governed call and compile time, in one process and run.

    python bench/_formats.py [--quick] [--json PATH]

Run it with the python of a venv where agent-os is installed with its ``rego`` and ``cedar``
extras (e.g. ``.nox/agent_os`` after ``./dev -s agent_os``). Scenarios, each timed per call
with `_workload.measure` (the timing loop of `run.py`):

* ``governed_call``: ``govern(noop_tool, policy=<file>)`` called with an allowed action (audit
  on, in memory), for the seed policy and for 100 generated rules, written in YAML (the
  evaluator ``compile_policies`` selects), Rego and Cedar;
* ``evaluate``: ``PolicySet.evaluate(request)`` alone for the same files;
* ``compile``: ``compile_policies(<file>)`` for 100 and 1,000 generated rules in each language
  (median of a few runs; each run parses and compiles from the file).

The generated rules deny ``op_<i>`` one by one (in Rego: one ``decision`` definition per rule,
as a user would write them; in Cedar: one ``forbid`` per rule), with a default allow. Before
timing, the three languages must agree on probe requests (a mismatch exits 1). Results:
bench/results/formats-latest.json. There is no peer column: the peer runs ``opa eval`` as a
process per call (and has no in-process Cedar engine), which this script does not install.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _workload import Config, measure, noop_tool  # noqa: E402

SEED = {
    "yaml": """apiVersion: governance.toolkit/v1
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
""",
    "rego": """package production_policy
import rego.v1

default decision := {"effect": "allow"}

decision := {"effect": "deny", "rule": "block-destructive"} if input.action.type in ["drop", "delete", "truncate"]

decision := {"effect": "require_approval", "rule": "require-approval-for-send", "approvers": ["security-team"]} if {
	input.action.type == "send_email"
}
""",
    "cedar": """permit(principal, action, resource);
@id("block-destructive") forbid(principal, action in [Action::"drop", Action::"delete", Action::"truncate"], resource);
@id("require-approval-for-send") @effect("require_approval") @approvers("security-team")
forbid(principal, action == Action::"send_email", resource);
""",
}
LANGUAGES = ("yaml", "rego", "cedar")


def generated(language: str, n: int) -> str:
    """`n` rules denying ``op_<i>``, default allow."""
    if language == "yaml":
        rules = "".join(
            f"- name: keyed-{i:04d}\n  condition: \"action.type == 'op_{i}'\"\n  action: deny\n"
            for i in range(n)
        )
        return f"apiVersion: governance.toolkit/v1\nname: generated\ndefault_action: allow\nrules:\n{rules}"
    if language == "rego":
        rules = "".join(
            f'decision := {{"effect": "deny", "rule": "keyed-{i:04d}"}} if input.action.type == "op_{i}"\n'
            for i in range(n)
        )
        return f'package generated\nimport rego.v1\n\ndefault decision := {{"effect": "allow"}}\n\n{rules}'
    rules = "".join(
        f'@id("keyed-{i:04d}") forbid(principal, action == Action::"op_{i}", resource);\n' for i in range(n)
    )
    return "permit(principal, action, resource);\n" + rules


def request(action_type: str) -> dict[str, Any]:
    return {
        "action": {"type": action_type, "tool": "noop_tool"},
        "args": {"action": action_type, "table": "users"},
        "agent": {"id": "default"},
        "context": {},
        "stage": "pre_tool",
    }


def write(folder: Path, name: str, language: str, text: str) -> str:
    path = folder / f"{name}.{language}"
    path.write_text(text, encoding="utf-8")
    return str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller time budget")
    parser.add_argument("--json", default=str(BENCH / "results" / "formats-latest.json"))
    ns = parser.parse_args()
    cfg = Config.from_args(ns.quick, None)
    import agent_os
    from agent_os import compile_policies

    out: dict[str, Any] = {
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "governed_call": {},
        "evaluate": {},
        "compile": {},
    }
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for policy in ("seed", "100_rules"):
            for language in LANGUAGES:
                text = SEED[language] if policy == "seed" else generated(language, 100)
                path = write(folder, f"{policy}_{language}", language, text)
                compiled = compile_policies(path)
                probes = (
                    {"read": "allow", "drop": "deny"}
                    if policy == "seed"
                    else {"read": "allow", "op_42": "deny"}
                )
                for action_type, effect in probes.items():
                    got = compiled.evaluate(request(action_type)).effect
                    if got != effect:
                        problems.append(f"{policy}.{language}: {action_type} -> {got}, expected {effect}")
                key = f"{policy}/{language}"
                out["evaluate"][key] = measure(functools.partial(compiled.evaluate, request("read")), cfg)
                governed = agent_os.govern(noop_tool, policy=path)
                out["governed_call"][key] = measure(
                    functools.partial(governed, action="read", table="users"), cfg
                )
                agent_os.pipeline().reset()
                print(
                    f"{key:22} governed p50 {out['governed_call'][key]['p50_ns'] / 1e3:9.1f} us"
                    f"   evaluate p50 {out['evaluate'][key]['p50_ns'] / 1e3:9.1f} us",
                    flush=True,
                )
        runs = 3 if ns.quick else 5
        for n in (100, 1000):
            for language in LANGUAGES:
                path = write(folder, f"gen{n}", language, generated(language, n))
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter_ns()
                    compile_policies(path)
                    times.append(time.perf_counter_ns() - t0)
                key = f"{n}_rules/{language}"
                out["compile"][key] = {
                    "runs": runs,
                    "median_ns": round(statistics.median(times)),
                    "min_ns": min(times),
                }
                print(f"{key:22} compile median {statistics.median(times) / 1e6:9.1f} ms", flush=True)
    out["machine"]["load_after"] = os.getloadavg()
    out["problems"] = problems
    Path(ns.json).parent.mkdir(parents=True, exist_ok=True)
    Path(ns.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"load average {out['machine']['load']} -> {out['machine']['load_after']}; results: {ns.json}")
    for problem in problems:
        print("MISMATCH", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
