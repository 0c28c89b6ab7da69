"""Request facets: ``sql.*`` and ``k8s.*`` derived from a tool's declared arguments, on the governed path.

Every refusal claim here is attacked through `govern()` or `ToolGate` with a real policy and the
real SQL parser; the facts the policy judged are read back from the audit record.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent_os import AuditLog, GovernanceDenied, Kernel, PolicyError, ToolGate, compile_policies, govern
from agent_os._facets import MAX_SQL_CHARS, compile_facets, k8s_facets, sql_facets

# These policies read the facets without a tool scope on purpose (the tools here differ in name);
# the loader's warning about that is tested in tests/loader/test_missing_field_lint.py.
pytestmark = pytest.mark.filterwarnings(
    "ignore:rule .* every request without .(sql|k8s):agt_core.PolicyWarning"
)

DENY_DESTRUCTIVE = """
apiVersion: governance.toolkit/v1
name: sql-guard
default_action: allow
rules:
  - name: no-destructive-sql
    condition: "sql.verbs.exists(v, v in ['DROP', 'TRUNCATE', 'DELETE'])"
    action: deny
  - name: no-single-drop
    condition: "sql.verb == 'DROP'"
    action: deny
  - name: users-is-read-only
    condition: "'users' in sql.tables && sql.writes"
    action: deny
"""

ALLOW_SELECT_ONLY = """
apiVersion: governance.toolkit/v1
name: read-only
default_action: deny
rules:
  - name: reads
    condition: "sql.verb == 'SELECT' && sql.tables.all(t, t in ['orders', 'products'])"
    action: allow
"""


def run_sql(query: str) -> str:
    return f"ran {query}"


def _governed(policy: str, **options: Any) -> Any:
    return govern(run_sql, policy=policy, audit=AuditLog(), facets={"sql": "query"}, **options)


def _last_request(tool: Any) -> dict[str, Any]:
    record = tool.audit_log.records()[-1]
    request: dict[str, Any] = record.request
    return request


def test_plain_select_runs_and_its_facts_are_audited() -> None:
    tool = _governed(DENY_DESTRUCTIVE)
    assert tool("SELECT name FROM Orders WHERE id = 1") == "ran SELECT name FROM Orders WHERE id = 1"
    sql = _last_request(tool)["sql"]
    assert sql == {
        "statements": 1,
        "verbs": ["SELECT"],
        "verb": "SELECT",
        "writes": False,
        "tables": ["orders"],
        "qualified_tables": ["orders"],
        "functions": [],
    }


@pytest.mark.parametrize(
    "query",
    [
        "DROP TABLE orders",
        "drop   table\n\torders",
        "SELECT 1; DROP TABLE orders",
        "SELECT 1 /* harmless */; TRUNCATE orders",
        "WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone",
        "UPDATE users SET admin = true",
        "INSERT INTO users SELECT * FROM staging",
    ],
)
def test_destructive_sql_is_refused_however_it_is_written(query: str) -> None:
    tool = _governed(DENY_DESTRUCTIVE)
    with pytest.raises(GovernanceDenied):
        tool(query)
    assert tool.audit_log.records()[-1].decision.allowed is False


def test_keywords_inside_string_literals_and_comments_do_not_count() -> None:
    tool = _governed(DENY_DESTRUCTIVE)
    tool("SELECT 'DROP TABLE users' AS note FROM orders -- DROP TABLE users")
    assert _last_request(tool)["sql"]["verbs"] == ["SELECT"]


def test_sql_that_does_not_parse_fails_closed_with_the_reason() -> None:
    tool = _governed(DENY_DESTRUCTIVE)
    with pytest.raises(GovernanceDenied) as info:
        tool("DR/**/OP TABLE users")
    assert "SQL facet: the SQL does not parse" in str(info.value)
    reader = _governed(ALLOW_SELECT_ONLY)
    with pytest.raises(GovernanceDenied):
        reader("SELEC * FROM orders")


def test_an_allow_rule_cannot_be_satisfied_by_a_stacked_write() -> None:
    tool = _governed(ALLOW_SELECT_ONLY)
    assert tool("SELECT * FROM orders JOIN products ON true")
    for query in (
        "SELECT * FROM orders; DELETE FROM orders",
        "SELECT * FROM users",
        "WITH x AS (UPDATE orders SET p = 0 RETURNING *) SELECT * FROM x",
        "VACUUM orders",
        "",
        "-- nothing but a comment",
    ):
        with pytest.raises(GovernanceDenied):
            tool(query)


def test_a_tool_without_facets_gets_no_root_and_a_rule_reading_it_fails_closed() -> None:
    def search(query: str) -> str:
        return query

    tool = govern(search, policy=DENY_DESTRUCTIVE, audit=AuditLog())
    with pytest.raises(GovernanceDenied) as info:
        tool("DROP TABLE users")
    assert "variable `sql` is not set" in str(info.value)
    assert "sql" not in _last_request(tool)
    assert tool.kernel.facets is None


def test_a_forged_sql_root_is_replaced_by_the_derived_one() -> None:
    kernel = Kernel(
        compile_policies(DENY_DESTRUCTIVE), audit=AuditLog(), facets=compile_facets({"sql": "query"})
    )
    forged = {"verbs": ["SELECT"], "verb": "SELECT", "tables": [], "writes": False}
    outcome = kernel.enforce(
        {
            "action": {"type": "run_sql", "tool": "run_sql"},
            "args": {"query": "DROP TABLE users"},
            "agent": {"id": "a"},
            "context": {},
            "sql": forged,
        }
    )
    assert not outcome.allowed
    assert outcome.request["sql"]["verb"] == "DROP"


def test_a_declared_argument_the_call_lacks_fails_closed() -> None:
    def tool_fn(text: str = "x") -> str:
        return text

    tool = govern(tool_fn, policy=DENY_DESTRUCTIVE, audit=AuditLog(), facets={"sql": "statement"})
    with pytest.raises(GovernanceDenied) as info:
        tool()
    assert "the call has no argument `statement`" in str(info.value)


def test_a_dotted_argument_path_and_a_dialect() -> None:
    def execute(request: dict[str, Any]) -> str:
        return "ok"

    tool = govern(
        execute,
        policy=DENY_DESTRUCTIVE,
        audit=AuditLog(),
        facets={"sql": {"arg": "request.sql", "dialect": "mysql"}},
    )
    assert tool({"sql": "SELECT 1 # DROP TABLE users\n"}) == "ok"
    with pytest.raises(GovernanceDenied):
        tool({"sql": "SELECT 1; DROP TABLE `users`"})


def test_async_tools_get_facets_too() -> None:
    async def run(query: str) -> str:
        return query

    tool = govern(run, policy=DENY_DESTRUCTIVE, audit=AuditLog(), facets={"sql": "query"})
    assert asyncio.run(tool("SELECT 1")) == "SELECT 1"
    with pytest.raises(GovernanceDenied):
        asyncio.run(tool("SELECT 1; DROP TABLE t"))


def test_tool_gate_takes_facets() -> None:
    gate = ToolGate(policy=DENY_DESTRUCTIVE, audit=AuditLog(), facets={"sql": "query"})
    assert gate.check("run_sql", {"query": "SELECT 1"}).allowed
    assert not gate.check("run_sql", {"query": "TRUNCATE orders"}).allowed


def test_oversized_sql_is_refused_before_parsing() -> None:
    facts = sql_facets("SELECT 1 " + " " * MAX_SQL_CHARS)
    assert facts == {"$opaque": f"SQL facet: the SQL is longer than {MAX_SQL_CHARS} characters"}


def test_deep_nesting_is_a_facet_error_not_a_crash() -> None:
    facts = sql_facets("SELECT " + "(" * 5000 + "1" + ")" * 5000)
    assert "$opaque" in facts or facts["verb"] == "SELECT"


@pytest.mark.parametrize(
    ("spec", "phrase"),
    [
        ({"redis": "cmd"}, "unknown facet `redis`"),
        ({"sql": {"arg": "q", "dialect": "no-such-dialect"}}, "unknown SQL dialect"),
        ({"sql": {"dialect": "postgres"}}, "the sql facet is"),
        ({"sql": ""}, "non-empty string"),
        ({"k8s": "path"}, "the k8s facet is"),
        (["sql"], "must be a mapping"),
    ],
)
def test_malformed_declarations_are_refused_when_the_tool_is_governed(spec: Any, phrase: str) -> None:
    with pytest.raises(PolicyError) as info:
        govern(run_sql, policy=DENY_DESTRUCTIVE, facets=spec)
    assert phrase in str(info.value)


# -- Kubernetes ---------------------------------------------------------------------------------

K8S_POLICY = """
apiVersion: governance.toolkit/v1
name: k8s-guard
default_action: allow
rules:
  - name: hands-off-production
    condition: "k8s.namespace == 'production' && k8s.verb != 'get'"
    action: deny
  - name: no-exec
    condition: "k8s.subresource == 'exec'"
    action: deny
  - name: no-bulk-delete
    condition: "k8s.verb == 'deletecollection'"
    action: deny
"""


def kube(method: str, path: str) -> str:
    return f"{method} {path}"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/v1/namespaces/dev/pods", True),
        ("DELETE", "/api/v1/namespaces/dev/pods/web-1", True),
        ("GET", "/api/v1/nodes", True),
        ("GET", "/api/v1/namespaces/production/pods/web-1", True),
        ("DELETE", "/api/v1/namespaces/production/pods/web-1", False),
        ("delete", "/apis/apps/v1/namespaces/production/deployments/web", False),
        # the namespace object itself is in the namespace it names
        ("DELETE", "/api/v1/namespaces/production", False),
        # every namespace includes production
        ("GET", "/api/v1/pods", False),
        ("GET", "/api/v1/watch/pods", False),
        ("POST", "/api/v1/namespaces/dev/pods/web-1/exec", False),
        ("DELETE", "/api/v1/namespaces/dev/pods", False),
        # path tricks are facet errors
        ("DELETE", "/api/v1/namespaces/dev/../production/pods/web-1", False),
        ("DELETE", "/api/v1/namespaces/dev/pods/%2e%2e", False),
        ("DELETE", "//api/v1/namespaces/production/pods/x", False),
        ("BREW", "/api/v1/namespaces/dev/pods", False),
        ("GET", "/healthz", False),
    ],
)
def test_kubernetes_requests(method: str, path: str, allowed: bool) -> None:
    tool = govern(
        kube, policy=K8S_POLICY, audit=AuditLog(), facets={"k8s": {"method": "method", "path": "path"}}
    )
    if allowed:
        tool(method, path)
    else:
        with pytest.raises(GovernanceDenied):
            tool(method, path)


def test_kubernetes_facts() -> None:
    assert k8s_facets("GET", "/apis/apps/v1/namespaces/prod/deployments?watch=true") == {
        "verb": "watch",
        "group": "apps",
        "version": "v1",
        "resource": "deployments",
        "name": "",
        "subresource": "",
        "namespace": "prod",
        "command": "",
    }
    assert k8s_facets("PATCH", "/api/v1/namespaces/prod/pods/web/status")["verb"] == "patch"
    assert k8s_facets("GET", "/api/v1/namespaces/prod/pods/web/proxy/metrics")["subresource"] == "proxy"
    assert "$opaque" in k8s_facets("GET", "/api/v1/namespaces/prod/pods/web/log/extra")
    assert "$opaque" in k8s_facets("GET", "/api/v1/pods")["namespace"]
    assert k8s_facets("GET", "/api/v1/persistentvolumes")["namespace"] == ""


def test_a_policy_reading_sql_without_the_parser_installed_is_a_load_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sqlglot", None)  # `import sqlglot` now raises ImportError
    with pytest.raises(PolicyError) as info:
        compile_policies(DENY_DESTRUCTIVE)
    assert "reads `sql`, the SQL request facet, and its parser (sqlglot) is not installed" in str(info.value)
    assert info.value.help == "pip install 'agent-os[sql]'"
    assert (info.value.line, info.value.path) == (7, "rules[0].condition")
    with pytest.raises(ImportError, match=r"pip install 'agent-os\[sql\]'"):
        compile_facets({"sql": "query"})
    compile_policies(K8S_POLICY)  # the Kubernetes facet needs no parser
