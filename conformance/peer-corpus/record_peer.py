"""Record what the peer (Microsoft's Agent Governance Toolkit) does with each corpus policy.

Run inside the peer's own environment, never ours (the peer is not a test dependency):
``./dev -s peer_corpus_record`` does it, or by hand::

    uv venv /tmp/peer && uv pip install --python /tmp/peer/bin/python \
        'agent-governance-toolkit==4.1.0' 'sqlglot>=30,<31'
    /tmp/peer/bin/python conformance/peer-corpus/record_peer.py

(``./dev bench`` creates such an environment in ``.nox/_peer``; the peer needs sqlglot for its
``sql.*`` facets, which it otherwise reads as ``UNKNOWN``.)

For every policy under ``peer/`` and ``ours/`` it records whether the peer loads it
(``Policy.from_yaml_file``, the loader behind the peer's ``govern()``) and, for the ones it loads,
its decision on requests generated from the policy's own conditions: every tool name and literal
the conditions compare with, a value that matches none, the field absent, numbers on both sides of
each threshold, a request built to satisfy each rule, and fixed SQL and Kubernetes samples for
policies that read ``sql.*`` or ``k8s.*``. Each request is evaluated by a fresh engine with the
peer's ``govern()`` defaults (``deny_overrides``; a policy naming no agent applies to all), so rate
limits never carry over. The result is written to ``peer_decisions.json`` beside this script;
``test_peer_corpus.py`` compares our decisions with it.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import re
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "peer_decisions.json"
MAX_REQUESTS = 80

SQL_SAMPLES = [
    "SELECT * FROM orders",
    "SELECT * FROM payroll",
    "SELECT * FROM protected",
    "DROP TABLE orders",
    "TRUNCATE orders",
    "DELETE FROM orders WHERE id = 1",
    "UPDATE protected SET x = 1",
    "INSERT INTO orders VALUES (1)",
    "ALTER TABLE orders ADD c INT",
    "GRANT ALL ON orders TO bob",
    "SELECT 1; DROP TABLE orders",
    "SELECT 'DROP TABLE orders'",
    "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d",
    "DR/**/OP TABLE orders",
]
K8S_SAMPLES = [
    ("GET", "/api/v1/namespaces/dev/pods"),
    ("GET", "/api/v1/namespaces/production/pods/web-1"),
    ("DELETE", "/api/v1/namespaces/production/pods/web-1"),
    ("DELETE", "/api/v1/namespaces/dev/pods/web-1"),
    ("DELETE", "/api/v1/namespaces/dev/pods"),
    ("POST", "/api/v1/namespaces/dev/pods/web-1/exec"),
    ("GET", "/api/v1/nodes"),
    ("GET", "/api/v1/pods"),
    ("DELETE", "/api/v1/namespaces/production"),
    ("GET", "/apis/apps/v1/namespaces/production/deployments?watch=true"),
]

_PATH = r"([A-Za-z_]\w*(?:\.\w+)*)"
_EQ = re.compile(_PATH + r"\s*(==|!=)\s*(?:'([^']*)'|\"([^\"]*)\")")
_IN = re.compile(_PATH + r"\s+in\s+\[([^\]]*)\]")
_CMP = re.compile(_PATH + r"\s*(>=|<=|>|<)\s*(\d+(?:\.\d+)?)")
_BARE = re.compile(r"^\s*" + _PATH + r"\s*$")
_TOOL_PATHS = ("tool_name", "action.type", "action.tool")
_AGENT_PATHS = ("agent_did", "agent_id")


def main() -> None:
    from agentmesh.governance.policy import Policy

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    files = sorted((HERE / "peer").rglob("*.yaml")) + sorted((HERE / "ours").rglob("*.yaml"))
    entries = []
    for path in files:
        entry: dict[str, Any] = {"file": path.relative_to(HERE).as_posix()}
        try:
            policy = Policy.from_yaml_file(str(path))
        except Exception as exc:  # whatever the peer raises is its refusal to load
            entry["peer_loads"] = False
            lines = [line.strip() for line in str(exc).splitlines()[:3] if line.strip()]
            text = " / ".join(lines).replace(f"{HERE}/", "")
            entry["peer_error"] = f"{type(exc).__name__}: {text[:300]}"
            entries.append(entry)
            continue
        entry["peer_loads"] = True
        entry["requests"] = [{**request, "peer": _decide(policy, request)} for request in _generate(policy)]
        entries.append(entry)
    document = {
        "description": (
            "The peer's load result for every corpus policy and its decisions on generated requests; "
            "written by record_peer.py, read by test_peer_corpus.py"
        ),
        "peer": f"agent-governance-toolkit {importlib.metadata.version('agent-governance-toolkit')}",
        "sqlglot": importlib.metadata.version("sqlglot"),
        "conflict_strategy": "deny_overrides",
        "policies": entries,
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    loaded = sum(1 for e in entries if e["peer_loads"])
    requests = sum(len(e.get("requests", ())) for e in entries)
    print(f"{len(entries)} policies, {loaded} load in the peer, {requests} requests recorded -> {OUT}")


def _atoms(condition: str) -> list[str]:
    # The peer's own split: `or` first, then `and` (not quote-aware, which the corpus records).
    return [atom.strip() for part in condition.split(" or ") for atom in part.split(" and ")]


def _generate(policy: Any) -> list[dict[str, Any]]:
    tools: list[str] = []
    agent_literals: list[str] = []
    values: dict[str, list[Any]] = {}
    satisfying: list[tuple[str | None, dict[str, Any]]] = []
    reads_sql = reads_k8s = False
    for rule in policy.rules:
        condition = rule.condition
        reads_sql = reads_sql or "sql." in condition
        reads_k8s = reads_k8s or "k8s." in condition
        # literals the peer's naive split cuts apart (`'salt and pepper'`) are values too
        for m in _EQ.finditer(condition):
            path, literal = m.group(1), m.group(3) if m.group(3) is not None else m.group(4)
            if path not in _TOOL_PATHS + _AGENT_PATHS and not path.startswith(("sql.", "k8s.")):
                _add(values.setdefault(path, []), literal)
        for atoms in ([a.strip() for a in part.split(" and ")] for part in condition.split(" or ")):
            tool: str | None = None
            fields: dict[str, Any] = {}
            for atom in atoms:
                if (m := _EQ.match(atom)) is not None:
                    path, op, literal = (
                        m.group(1),
                        m.group(2),
                        m.group(3) if m.group(3) is not None else m.group(4),
                    )
                    if path in _TOOL_PATHS and op == "==":
                        tool = literal
                        _add(tools, literal)
                    elif path in _AGENT_PATHS:
                        _add(agent_literals, literal)
                    elif not path.startswith(("sql.", "k8s.")):
                        _add(values.setdefault(path, []), literal)
                        fields[path] = literal if op == "==" else "zz-other"
                elif (m := _IN.match(atom)) is not None:
                    path = m.group(1)
                    items = [s.strip().strip("'\"") for s in m.group(2).split(",") if s.strip()]
                    if path in _TOOL_PATHS:
                        for item in items:
                            _add(tools, item)
                        tool = items[0] if items else None
                    elif not path.startswith(("sql.", "k8s.")):
                        for item in items:
                            _add(values.setdefault(path, []), item)
                        if items:
                            fields[path] = items[0]
                elif (m := _CMP.match(atom)) is not None:
                    path, op, number = m.group(1), m.group(2), float(m.group(3))
                    threshold = int(number) if number.is_integer() else number
                    for value in (threshold - 1, threshold, threshold + 1):
                        _add(values.setdefault(path, []), value)
                    fields[path] = threshold + 1 if op in (">", ">=") else threshold - 1
                elif (m := _BARE.match(atom)) is not None and m.group(1) not in ("true", "false"):
                    path = m.group(1)
                    for value in (True, False):
                        _add(values.setdefault(path, []), value)
                    fields[path] = True
            satisfying.append((tool, fields))
    named = ([policy.agent] if policy.agent else []) + list(policy.agents) + agent_literals
    agents = [a for i, a in enumerate(named) if a and a != "*" and a not in named[:i]]
    agent_ids = [*agents, "did:example:other"] if agents else ["did:example:agent"]
    base_tools = tools or ["some_tool"]
    requests: list[dict[str, Any]] = []
    for agent in agent_ids:
        for tool in [*base_tools, "unlisted_tool"]:
            _push(requests, {"tool": tool, "agent": agent, "fields": {}})
    # the agent is the caller's identity: one request per named agent with every tool, not a free field
    agent = agent_ids[0]
    for i, (path, options) in enumerate(sorted(values.items())):
        for j, value in enumerate([*options, "zz-other"]):
            tool = base_tools[(i + j) % len(base_tools)]
            _push(requests, {"tool": tool, "agent": agent, "fields": {path: value}})
    for tool, fields in satisfying:
        _push(requests, {"tool": tool or base_tools[0], "agent": agent, "fields": dict(fields)})
        _push(requests, {"tool": "unlisted_tool", "agent": agent, "fields": dict(fields)})
    if reads_sql:
        for query in SQL_SAMPLES:
            _push(requests, {"tool": "db_query", "agent": agent, "fields": {}, "sql": query})
    if reads_k8s:
        for method, path in K8S_SAMPLES:
            _push(
                requests,
                {"tool": "kube_api", "agent": agent, "fields": {}, "k8s": {"method": method, "path": path}},
            )
    return requests[:MAX_REQUESTS]


def _add(items: list[Any], value: Any) -> None:
    if value not in items:
        items.append(value)


def _push(requests: list[dict[str, Any]], request: dict[str, Any]) -> None:
    if request not in requests:
        requests.append(request)


def _context(request: dict[str, Any]) -> dict[str, Any]:
    """The flat context the peer evaluates: its govern() shape plus the request's fields."""
    context: dict[str, Any] = {
        "tool_name": request["tool"],
        "action": {"type": request["tool"]},
        "agent_did": request["agent"],
    }
    for path, value in request["fields"].items():
        node = context
        *parents, last = path.split(".")
        for key in parents:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[last] = value
    if "sql" in request:
        context["sql"] = {"query": request["sql"]}
    if "k8s" in request:
        context["k8s"] = dict(request["k8s"])
    return context


def _decide(policy: Any, request: dict[str, Any]) -> dict[str, Any]:
    from agentmesh.governance.policy import PolicyEngine

    fresh = policy.model_copy(deep=True)
    if not fresh.agent and not fresh.agents:
        fresh.agents = ["*"]  # what the peer's govern() does
    engine = PolicyEngine(conflict_strategy="deny_overrides")
    engine.load_policy(fresh)
    decision = engine.evaluate(request["agent"], _context(request))
    return {"action": decision.action, "allowed": decision.allowed, "rule": decision.matched_rule}


if __name__ == "__main__":
    main()
