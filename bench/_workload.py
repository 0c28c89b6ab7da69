"""Shared workload and timing harness for the benchmark workers.

Stdlib only: this module is imported by both workers, each in its own interpreter (ours in the
toolkit's venv, the peer's in `.nox/_peer`). It never imports either implementation. Each worker
supplies an `Adapter` that drives its implementation's public API; `run_all` runs the same
scenarios, in the same order and with the same inputs, against both.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

SEED_POLICY_YAML = """\
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

RULE_COUNTS = (10, 100, 1000)
AGENT_ID = "bench-agent"

# Tool arguments of the evaluation request. Every field a generated rule tests is present, so no
# condition errors (our engine fails closed on a missing field: a deny rule that errors matches).
BENCH_ARGS: dict[str, Any] = {
    "amount": 100,
    "table": "users",
    "region": "us-east",
    "rows": 10,
    "user": "alice",
}

# Rules that test tool arguments: (our CEL condition, the peer's condition, action). The peer has no
# `args.` prefix and wraps each scalar kwarg as {name: {"value": v}}; it spells && as `and`.
# None of them match BENCH_ARGS.
ARGS_RULES: tuple[tuple[str, str, str], ...] = (
    ("args.amount > 5000", "amount.value > 5000", "deny"),
    ("args.table == 'secrets'", "table.value == 'secrets'", "deny"),
    ("args.table in ['payroll', 'credentials']", "table.value in ['payroll', 'credentials']", "deny"),
    ("args.region == 'embargoed'", "region.value == 'embargoed'", "deny"),
    ("args.rows >= 100000", "rows.value >= 100000", "deny"),
    ("args.user == 'root'", "user.value == 'root'", "deny"),
    ("args.amount < 0", "amount.value < 0", "deny"),
    ("args.table == 'audit' && args.rows > 10", "table.value == 'audit' and rows.value > 10", "deny"),
    ("args.user in ['mallory', 'eve']", "user.value in ['mallory', 'eve']", "deny"),
    ("args.amount > 2500", "amount.value > 2500", "require_approval"),
)


@dataclass(frozen=True)
class GeneratedPolicy:
    """A generated policy in one dialect, and what evaluating the bench request must give."""

    yaml_text: str
    action_type: str
    expected_effect: str
    expected_rule: str
    n_rules: int
    n_args_rules: int


def n_args_rules(n_rules: int) -> int:
    """How many of `n_rules` test `args` fields: ten, or a third of the rules for tiny policies."""
    return min(len(ARGS_RULES), n_rules // 3)


def generate_policy(n_rules: int, dialect: str, *, description: str = "") -> GeneratedPolicy:
    """Build a policy of `n_rules` rules in `dialect` ("ours": CEL, or "peer").

    Most rules are keyed on action.type (`==` or `in [...]`, alternating deny/allow); a few test
    `args` fields and are spread evenly through the list. The default is deny, and the bench request
    matches exactly one keyed allow rule placed about 80 % of the way down the keyed rules, so a
    broken or short-circuited engine gives a different decision.
    """
    if dialect not in ("ours", "peer"):
        raise ValueError(f"unknown dialect {dialect!r}")
    n_args = n_args_rules(n_rules)
    n_keyed = n_rules - n_args
    # The target: an `in` rule (i % 3 == 0) with action allow (odd i), about 80 % of the way down.
    target = max(i for i in range(n_keyed) if i % 6 == 3 and i <= max(3, int(n_keyed * 0.8)))
    keyed: list[str] = []
    for i in range(n_keyed):
        cond = f"action.type in ['op_{i}', 'op_{i}_b']" if i % 3 == 0 else f"action.type == 'op_{i}'"
        action = "allow" if i % 2 else "deny"
        keyed.append(_rule_yaml(f"keyed-{i:04d}", cond, action))
    args_rules = [
        _rule_yaml(f"args-{j:02d}", ours if dialect == "ours" else peer, action)
        for j, (ours, peer, action) in enumerate(ARGS_RULES[:n_args])
    ]
    rules = list(keyed)
    step = max(1, n_rules // max(1, n_args))
    for j, rule in enumerate(args_rules):
        rules.insert(min(len(rules), j * step), rule)
    header = [
        "apiVersion: governance.toolkit/v1",
        f"name: bench-{n_rules}-rules",
        f"description: {json.dumps(description or f'generated, {n_rules} rules')}",
        "default_action: deny",
    ]
    if dialect == "peer":
        header.append('agents: ["*"]')  # the peer applies a policy only to listed agents
    text = "\n".join([*header, "rules:", *rules]) + "\n"
    return GeneratedPolicy(
        yaml_text=text,
        action_type=f"op_{target}_b",
        expected_effect="allow",
        expected_rule=f"keyed-{target:04d}",
        n_rules=n_rules,
        n_args_rules=n_args,
    )


def generate_unindexable_policy(n_rules: int, dialect: str) -> GeneratedPolicy:
    """`n_rules` rules that each test `args` (no rule index can skip any); the bench request matches the last.

    Rule i denies ``args.rows > 100000 + i`` (never true for the bench request); the last allows
    ``args.table == 'users'``. An engine that skipped rules or misread them answers deny (the
    default) or names another rule.
    """
    if dialect not in ("ours", "peer"):
        raise ValueError(f"unknown dialect {dialect!r}")
    rows, table = ("args.rows", "args.table") if dialect == "ours" else ("rows.value", "table.value")
    rules = [_rule_yaml(f"a-{i:04d}", f"{rows} > {100_000 + i}", "deny") for i in range(n_rules - 1)]
    last = f"a-{n_rules - 1:04d}"
    rules.append(_rule_yaml(last, f"{table} == 'users'", "allow"))
    header = [
        "apiVersion: governance.toolkit/v1",
        f"name: bench-unindexable-{n_rules}",
        "default_action: deny",
    ]
    if dialect == "peer":
        header.append('agents: ["*"]')
    return GeneratedPolicy(
        yaml_text="\n".join([*header, "rules:", *rules]) + "\n",
        action_type="read",
        expected_effect="allow",
        expected_rule=last,
        n_rules=n_rules,
        n_args_rules=n_rules,
    )


def unindexable_probes(gen: GeneratedPolicy) -> list[tuple[str, dict[str, Any], tuple[str, str | None]]]:
    """The timed request (allowed by the last rule), and one no rule matches (the default denies)."""
    return [
        (gen.action_type, BENCH_ARGS, (gen.expected_effect, gen.expected_rule)),
        (gen.action_type, {**BENCH_ARGS, "table": "orders"}, ("deny", None)),
    ]


def _rule_yaml(name: str, condition: str, action: str) -> str:
    lines = [f"- name: {name}", f"  condition: {json.dumps(condition)}", f"  action: {action}"]
    if action == "require_approval":
        lines.append('  approvers: ["security-team"]')
    return "\n".join(lines)


def ours_request(action_type: str, args: dict[str, Any]) -> dict[str, Any]:
    """The evaluation request our engine takes (plain data shaped like agt_core.EvaluationRequest)."""
    return {
        "action": {"type": action_type, "tool": "t"},
        "args": dict(args),
        "agent": {"id": AGENT_ID},
        "context": {},
        "stage": "pre_tool",
    }


def peer_context(action_type: str, args: dict[str, Any]) -> dict[str, Any]:
    """The context the peer's govern() builds for `t(action=..., **args)`."""
    ctx: dict[str, Any] = {"action": {"type": action_type}}
    ctx.update({k: {"value": v} for k, v in args.items()})
    return ctx


def noop_tool(action: str, table: str) -> str:
    """The governed tool: does nothing."""
    return "ok"


# --------------------------------------------------------------------------------------------------
# Timing


@dataclass(frozen=True)
class Config:
    """How long and how often to measure (the same for both workers)."""

    max_iterations: int
    min_iterations: int
    min_slow_iterations: int  # floor for the scenarios that take milliseconds per call (5, 6)
    budget_s: float
    warmup: int
    audit_entries: int
    quick: bool

    @classmethod
    def from_args(cls, quick: bool, audit_entries: int | None) -> Config:
        if quick:
            return cls(2_000, 30, 5, 0.4, 200, audit_entries or 2_000, True)
        return cls(20_000, 200, 30, 3.0, 1_000, audit_entries or 10_000, False)


def percentile(sorted_ns: list[int], q: float) -> int:
    """Nearest-rank percentile of sorted samples."""
    return sorted_ns[max(0, min(len(sorted_ns) - 1, math.ceil(q * len(sorted_ns)) - 1))]


def summarize(samples: list[int], warmup: int) -> dict[str, Any]:
    s = sorted(samples)
    return {
        "n": len(s),
        "warmup": warmup,
        "p50_ns": percentile(s, 0.50),
        "p99_ns": percentile(s, 0.99),
        "mean_ns": round(sum(s) / len(s)),
        "min_ns": s[0],
        "max_ns": s[-1],
    }


def measure(
    fn: Callable[..., object],
    cfg: Config,
    *,
    arg_for: Callable[[int], Any] | None = None,
    min_iterations: int | None = None,
) -> dict[str, Any]:
    """Warm up, then time each call of `fn()` (or `fn(arg_for(i))`) with perf_counter_ns.

    The number of timed iterations is the time budget divided by the warm-up's mean cost, clamped
    to [min_iterations, max_iterations]. Arguments are built before the timed loop. `fn` is called
    directly (pass a functools.partial rather than a lambda) so no extra frame is timed.
    """
    lo = min_iterations if min_iterations is not None else cfg.min_iterations
    gc.collect()
    perf = time.perf_counter_ns
    warm_deadline = perf() + int(cfg.budget_s * 0.2e9)
    t_start = perf()
    done = 0
    while done < cfg.warmup and (done < 3 or perf() < warm_deadline):
        if arg_for is None:
            fn()
        else:
            fn(arg_for(-1 - done))
        done += 1
    per_call = max(1, (perf() - t_start) // done)
    n = max(lo, min(cfg.max_iterations, int(cfg.budget_s * 1e9) // per_call))
    samples = [0] * n
    if arg_for is None:
        gc.collect()
        for i in range(n):
            t0 = perf()
            fn()
            samples[i] = perf() - t0
    else:
        args = [arg_for(i) for i in range(n)]
        gc.collect()
        for i in range(n):
            a = args[i]
            t0 = perf()
            fn(a)
            samples[i] = perf() - t0
    return summarize(samples, done)


# --------------------------------------------------------------------------------------------------
# Scenarios


class Adapter(Protocol):
    """What a worker provides to drive one implementation through its public API."""

    name: str
    denied: type[BaseException]

    def info(self) -> dict[str, Any]: ...
    def govern(self, fn: Callable[..., Any], policy_path: str, *, audit: bool) -> Callable[..., Any]: ...
    def compile(self, yaml_text: str) -> Any: ...
    def evaluator(
        self, compiled: Any, action_type: str, args: dict[str, Any]
    ) -> Callable[[], tuple[str, str | None]]: ...
    def audit_fill(self, policy_path: str, n: int) -> tuple[list[int], Callable[[], object]]: ...


def decision_probes(gen: GeneratedPolicy) -> list[tuple[str, dict[str, Any], tuple[str, str | None]]]:
    """(action type, args, expected (effect, rule)) triples every engine must agree on.

    The first is the timed bench request; the others prove the `args` rules are understood (the
    peer's parser silently never matches a condition it cannot read).
    """
    probes: list[tuple[str, dict[str, Any], tuple[str, str | None]]] = [
        (gen.action_type, BENCH_ARGS, (gen.expected_effect, gen.expected_rule))
    ]
    probes.append((gen.action_type, {**BENCH_ARGS, "amount": 9999}, ("deny", "args-00")))
    if gen.n_args_rules >= 8:
        probes.append((gen.action_type, {**BENCH_ARGS, "table": "audit", "rows": 50}, ("deny", "args-07")))
    probes.append(("op_0", BENCH_ARGS, ("deny", "keyed-0000")))
    probes.append(("unknown_op", BENCH_ARGS, ("deny", None)))
    return probes


def check_decisions(
    adapter: Adapter,
    compiled: Any,
    gen: GeneratedPolicy,
    probes: list[tuple[str, dict[str, Any], tuple[str, str | None]]] | None = None,
) -> list[dict[str, Any]]:
    """Assert the compiled policy decides every probe as expected, so we never time a broken path."""
    results = []
    for action_type, args, expected in decision_probes(gen) if probes is None else probes:
        got = adapter.evaluator(compiled, action_type, args)()
        results.append({"action_type": action_type, "args": args, "expected": expected, "got": got})
        if tuple(got) != expected:
            raise AssertionError(f"{action_type} {args}: got {got}, expected {expected}")
    return results


def run_all(adapter: Adapter, cfg: Config, policy_path: str) -> dict[str, Any]:
    """Run every in-process scenario; a failing scenario records its error and the rest go on."""
    out: dict[str, Any] = {"scenarios": {}, "checks": {}, "errors": {}}
    scen: dict[str, Any] = out["scenarios"]

    @contextmanager
    def scenario(key: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        except Exception as exc:
            out["errors"][key] = f"{type(exc).__name__}: {exc}"
            print(f"[{adapter.name}] {key}: ERROR {type(exc).__name__}: {exc}", file=sys.stderr)
        else:
            print(f"[{adapter.name}] {key}: done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    with scenario("raw_call"):
        scen["raw_call"] = measure(partial(noop_tool, action="read", table="users"), cfg)

    with scenario("governed_allow_audit"):
        safe = adapter.govern(noop_tool, policy_path, audit=True)
        if safe(action="read", table="users") != "ok":
            raise AssertionError("governed allow call did not return the tool's result")
        scen["governed_allow_audit"] = measure(partial(safe, action="read", table="users"), cfg)

    with scenario("governed_deny_audit"):
        safe = adapter.govern(noop_tool, policy_path, audit=True)
        denied = adapter.denied

        def deny_call() -> None:
            try:
                safe(action="drop", table="users")
            except denied:
                return
            raise AssertionError("drop was not denied")

        deny_call()
        scen["governed_deny_audit"] = measure(deny_call, cfg)

    with scenario("governed_allow_no_audit"):
        safe = adapter.govern(noop_tool, policy_path, audit=False)
        if safe(action="read", table="users") != "ok":
            raise AssertionError("governed allow call did not return the tool's result")
        scen["governed_allow_no_audit"] = measure(partial(safe, action="read", table="users"), cfg)

    for n_rules in RULE_COUNTS:
        key = f"eval_{n_rules}"
        with scenario(key):
            gen = generate_policy(n_rules, adapter.name)
            compiled = adapter.compile(gen.yaml_text)
            checks = out["checks"][key] = check_decisions(adapter, compiled, gen)
            ev = adapter.evaluator(compiled, gen.action_type, BENCH_ARGS)
            scen[key] = measure(ev, cfg, min_iterations=cfg.min_slow_iterations)
            if ev() != checks[0]["got"]:
                raise AssertionError("the decision changed while timing")

    with scenario("eval_1000_unindexable"):
        gen = generate_unindexable_policy(1000, adapter.name)
        compiled = adapter.compile(gen.yaml_text)
        checks = out["checks"]["eval_1000_unindexable"] = check_decisions(
            adapter, compiled, gen, unindexable_probes(gen)
        )
        ev = adapter.evaluator(compiled, gen.action_type, BENCH_ARGS)
        scen["eval_1000_unindexable"] = measure(ev, cfg, min_iterations=cfg.min_slow_iterations)
        if ev() != checks[0]["got"]:
            raise AssertionError("the decision changed while timing")

    for n_rules in RULE_COUNTS:
        key = f"load_{n_rules}"
        with scenario(key):
            # Every iteration compiles a distinct text (the description differs), so no cache can help.
            gen = generate_policy(n_rules, adapter.name)
            marker = "description: "
            head, _, rest = gen.yaml_text.partition(marker)
            tail = rest.split("\n", 1)[1]

            def text_for(i: int, head: str = head + marker, tail: str = tail) -> str:
                return f"{head}{json.dumps(f'load iteration {i}')}\n{tail}"

            check_decisions(adapter, adapter.compile(text_for(0)), gen)
            scen[key] = measure(
                adapter.compile, cfg, arg_for=text_for, min_iterations=cfg.min_slow_iterations
            )

    with scenario("audit_append"):
        samples, verify = adapter.audit_fill(policy_path, cfg.audit_entries)
        verify()  # a broken log must fail before we time anything
        stats = summarize(samples, 0)
        total_ns = sum(samples)
        stats["entries"] = len(samples)
        stats["per_second"] = round(len(samples) / (total_ns / 1e9))
        scen["audit_append"] = stats
        runs = []
        for _ in range(3):
            t0 = time.perf_counter_ns()
            verify()
            runs.append(time.perf_counter_ns() - t0)
        vstats = summarize(runs, 0)
        vstats["entries"] = len(samples)
        scen["audit_verify"] = vstats

    out["info"] = adapter.info()
    return out


def settle_cpu(seconds: float = 0.3) -> None:
    """Spin briefly before the first scenario so it is not timed on a core still clocking up."""
    deadline = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < deadline:
        x += 1


def worker_main(make_adapter: Callable[[], Adapter]) -> None:
    """Entry point shared by both workers: parse args, run, print one JSON document on stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy-file", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--audit-entries", type=int, default=None)
    ns = parser.parse_args()
    cfg = Config.from_args(ns.quick, ns.audit_entries)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # anything the implementation prints must not corrupt the JSON
    try:
        adapter = make_adapter()
        settle_cpu()
        result = run_all(adapter, cfg, ns.policy_file)
    except Exception as exc:
        result = {"fatal": f"{type(exc).__name__}: {exc}"}
    finally:
        sys.stdout = real_stdout
    result["python"] = sys.version.split()[0]
    result["executable"] = sys.executable
    result["pid"] = os.getpid()
    json.dump(result, real_stdout)
    real_stdout.write("\n")
    real_stdout.flush()
