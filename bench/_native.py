"""Native (Rust) evaluator against the Python evaluator, side by side in one process and one run.

    python bench/_native.py [--quick]

Run it with the python of a venv where agent-os and the agt-evaluator wheel are installed (e.g.
`.nox/agt_evaluator`, after `./dev -s agt_evaluator`). Scenarios, each timed per call with
`_workload.measure` (the same timing loop as `run.py`):

* `evaluate`: `PolicySet.evaluate(request) -> Decision` for the generated policies of `run.py`
  (10, 100 and 1,000 rules keyed on `action.type`, ten on `args`), and for 1,000 rules none of
  which can be indexed (each reads `args`): python and native;
* where the native time goes: `convert_only` (Python dict -> engine values, nothing evaluated),
  `evaluate_effect` (conversion and evaluation, no `Decision` built) and `evaluate` (everything,
  decisions shared as in the Python evaluator);
* the conversion alone on larger requests (50 keys of mixed values; a 10 KB string; 1,000-element
  list) to show what crossing into Rust costs as a request grows;
* the governed no-op call (`govern(noop_tool, policy=<seed>)`, allow, audit on) with each
  evaluator (`AGT_EVALUATOR` chooses it when the wrapper compiles its policy); native through its
  call plan (one crossing) and, as `general_path`, through the kernel's steps.

Before timing, both evaluators must return equal decisions for every probe request (a mismatch
exits 1). Results: bench/results/native-latest.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _workload import (  # noqa: E402
    BENCH_ARGS,
    RULE_COUNTS,
    SEED_POLICY_YAML,
    Config,
    decision_probes,
    generate_policy,
    measure,
    noop_tool,
    ours_request,
)


def unindexable_policy(n_rules: int) -> tuple[str, str]:
    """`n_rules` rules that each read `args`, so no rule index can skip any; the request matches the last."""
    lines = [
        "apiVersion: governance.toolkit/v1",
        f"name: bench-args-{n_rules}",
        "default_action: deny",
        "rules:",
    ]
    for i in range(n_rules - 1):
        # `>` is no index pin: every rule must be evaluated on every request
        lines += [f"- name: a-{i:04d}", f'  condition: "args.rows > {100_000 + i}"', "  action: deny"]
    lines += [f"- name: a-{n_rules - 1:04d}", "  condition: \"args.table == 'users'\"", "  action: allow"]
    return "\n".join(lines) + "\n", f"a-{n_rules - 1:04d}"


def _same(decision: Any) -> dict[str, Any]:
    """A decision's fields but the evaluator that reached it (which differs by design)."""
    fields: dict[str, Any] = decision.model_dump()
    fields.pop("evaluator", None)
    return fields


def big_requests() -> dict[str, dict[str, Any]]:
    mixed = {f"k{i}": v for i, v in enumerate([1, 2.5, "text", True, None, [1, 2], {"a": "b"}] * 7 + [0])}
    return {
        "args_50_mixed": ours_request("read", mixed),
        "args_10kb_string": ours_request("read", {"body": "x" * 10_000}),
        "args_1000_list": ours_request("read", {"items": list(range(1000))}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small time budget (smoke run)")
    ns = parser.parse_args()
    cfg = Config.from_args(ns.quick, None)

    import agent_os
    import agt_evaluator

    results: dict[str, Any] = {
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "engine_version": agt_evaluator.ENGINE_VERSION,
        "scenarios": {},
    }
    scen: dict[str, Any] = results["scenarios"]

    def both(yaml_text: str) -> dict[str, Any]:
        return {name: agent_os.compile_policies(yaml_text, evaluator=name) for name in ("python", "native")}

    # -- evaluation, python vs native -------------------------------------------------------
    cases: list[tuple[str, str, list[tuple[dict[str, Any], str | None]]]] = []
    for n in RULE_COUNTS:
        gen = generate_policy(n, "ours")
        probes = [(ours_request(a, args), rule) for a, args, (_, rule) in decision_probes(gen)]
        cases.append((f"eval_{n}", gen.yaml_text, probes))
    text, last = unindexable_policy(1000)
    cases.append(("eval_1000_unindexable", text, [(ours_request("read", BENCH_ARGS), last)]))

    for key, yaml_text, probes in cases:
        sets = both(yaml_text)
        for request, expected_rule in probes:
            py, nat = (sets[name].evaluate(request) for name in ("python", "native"))
            if _same(py) != _same(nat) or nat.rule != expected_rule:
                print(
                    f"{key}: decisions differ on {request}:\n  python {py!r}\n  native {nat!r}",
                    file=sys.stderr,
                )
                sys.exit(1)
        request = probes[0][0]
        native = sets["native"]
        scen[key] = {
            "python": measure(functools.partial(sets["python"].evaluate, request), cfg),
            "native": measure(functools.partial(native.evaluate, request), cfg),
            "native_convert_only": measure(functools.partial(native._native.convert_only, request), cfg),
            "native_no_decision": measure(functools.partial(native._native.evaluate_effect, request), cfg),
        }

    # -- conversion cost as requests grow ----------------------------------------------------
    seed_sets = both(SEED_POLICY_YAML)
    for key, request in big_requests().items():
        if _same(seed_sets["python"].evaluate(request)) != _same(seed_sets["native"].evaluate(request)):
            print(f"{key}: decisions differ", file=sys.stderr)
            sys.exit(1)
        scen[f"request_{key}"] = {
            "python": measure(functools.partial(seed_sets["python"].evaluate, request), cfg),
            "native": measure(functools.partial(seed_sets["native"].evaluate, request), cfg),
            "native_convert_only": measure(
                functools.partial(seed_sets["native"]._native.convert_only, request), cfg
            ),
        }

    # -- governed call, allow, audit on ------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        policy_path = Path(tmp) / "policy.yaml"
        policy_path.write_text(SEED_POLICY_YAML, encoding="utf-8")
        governed: dict[str, Any] = {}
        for name in ("python", "native"):
            os.environ["AGT_EVALUATOR"] = name
            safe = agent_os.govern(noop_tool, policy=str(policy_path))
            if safe(action="read", table="users") != "ok":
                print(f"governed call with {name} did not return the tool's result", file=sys.stderr)
                sys.exit(1)
            governed[name] = measure(functools.partial(safe, action="read", table="users"), cfg)
        # The native evaluator on the kernel's general path: the call plan switched off
        # (measurement only; govern() takes the plan whenever it applies).
        import agent_os._call_plan as call_plan

        made = call_plan.native_call_plan
        call_plan.native_call_plan = lambda *args, **kwargs: None  # type: ignore[assignment]
        try:
            general = agent_os.govern(noop_tool, policy=str(policy_path))
        finally:
            call_plan.native_call_plan = made  # type: ignore[assignment]
        governed["native_general_path"] = measure(
            functools.partial(general, action="read", table="users"), cfg
        )
        os.environ.pop("AGT_EVALUATOR", None)
        scen["governed_allow_audit"] = governed

    out = BENCH / "results" / "native-latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    print(f"command: {results['command']}")
    print(f"machine: {results['machine']}")
    print(f"{'scenario':34} {'python p50':>11} {'native p50':>11} {'ratio':>7}  native parts (p50)")
    for key, row in scen.items():
        py, nat = row["python"]["p50_ns"], row["native"]["p50_ns"]
        parts = "  ".join(
            f"{part.removeprefix('native_')}={row[part]['p50_ns'] / 1000:.2f}us"
            for part in ("native_convert_only", "native_no_decision", "native_general_path")
            if part in row
        )
        print(f"{key:34} {py / 1000:9.2f}us {nat / 1000:9.2f}us {py / max(nat, 1):6.1f}x  {parts}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
