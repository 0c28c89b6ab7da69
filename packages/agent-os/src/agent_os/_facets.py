"""Request facets: what a tool's SQL or Kubernetes request does, derived from its arguments.

A tool declares which of its arguments carry SQL or a Kubernetes API request::

    govern(run_sql, policy=..., facets={"sql": "query"})
    govern(run_sql, policy=..., facets={"sql": {"arg": "query", "dialect": "postgres"}})
    govern(kube, policy=..., facets={"k8s": {"method": "method", "path": "path"}})
    govern(kubectl, policy=..., facets={"k8s": {"command": "cmd"}})

and the kernel adds the request roots ``sql`` and ``k8s`` before anything else sees the request,
so conditions can say ``sql.verb in ['DROP', 'TRUNCATE']`` or ``k8s.namespace == 'production'``
and the audit record holds what was judged. A tool that declares no facet gets no root and pays
nothing. Declaration is explicit, not guessed from argument names: ``query`` is as often a search
query as SQL, and a guessed facet would refuse every such call as unparsable SQL.

``sql`` (parsed with sqlglot, every statement of the string, comments and string literals
understood by the parser, never by pattern matching):

* ``statements``: how many statements the string holds;
* ``verbs``: the sorted distinct verbs (``SELECT``, ``DROP``...) of every statement and of every
  write nested inside one (``WITH d AS (DELETE ...) SELECT ...`` has ``DELETE`` and ``SELECT``);
* ``verb``: the one verb when ``verbs`` has exactly one; otherwise a value conditions cannot read
  (an error: a deny rule reading it matches, an allow rule does not), so ``SELECT 1; DROP TABLE
  t`` can never pass for a ``SELECT``;
* ``writes``: whether any verb is other than ``SELECT``, ``SHOW``, ``DESCRIBE``, ``BEGIN``,
  ``COMMIT``, ``ROLLBACK`` (statements the parser keeps as unparsed commands count as writes);
* ``tables`` and ``qualified_tables``: the sorted distinct table names (lower case; bare, and with
  schema and catalog), CTE names included;
* ``functions``: the sorted distinct function names, upper case.

When a statement is one the parser keeps as an unparsed command (``VACUUM``, ``LOCK``,
``EXPLAIN ...``), its tables and functions are unknown, so ``tables``, ``qualified_tables`` and
``functions`` cannot be read (an error, fail closed); ``verb``, ``verbs`` and ``writes`` still
can. SQL that does not parse, an empty string, a value that is not a string or is longer than
`MAX_SQL_CHARS` make the whole ``sql`` root unreadable, with the reason.

``k8s`` (a Kubernetes API request: HTTP method and URL path; or a kubectl command line, see
`agent_os._kubectl`): ``verb`` (``get``, ``list``, ``watch``, ``create``, ``update``, ``patch``,
``delete``, ``deletecollection``), ``group``, ``version``, ``resource``, ``name``,
``subresource``, ``namespace`` (``''`` where it does not apply: a collection has no name, a
cluster-scoped resource no namespace) and ``command`` (the kubectl subcommand; ``''`` for an API
request). A request across every
namespace (``GET /api/v1/pods``) has a ``namespace`` conditions cannot read: it touches
``production`` too. Deleting or reading the namespace object ``/api/v1/namespaces/production``
has ``namespace: production``. Paths with ``.``/``..``/empty segments or percent-encoding, and
paths that are not resource paths, make the whole root unreadable.

"Unreadable" is the request builder's opaque value (``{"$opaque": "<why>"}``): every evaluator
fails on it, so a restrictive rule that reads it matches and a permissive one does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agt_core import PolicyError

__all__ = [
    "FACET_ROOTS",
    "MAX_SQL_CHARS",
    "Facets",
    "compile_facets",
    "k8s_facets",
    "sql_available",
    "sql_facets",
    "unreadable",
]

FACET_ROOTS = ("k8s", "sql")
"""The request roots facets add."""

MAX_SQL_CHARS = 100_000
"""Longest SQL string a facet parses; a longer one is refused (parsing is not free)."""

_SQL_INSTALL = "pip install 'agent-os[sql]'"
_READ_ONLY = frozenset({"SELECT", "SHOW", "DESCRIBE", "BEGIN", "COMMIT", "ROLLBACK"})
_K8S_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
_NAMED_VERBS = {
    "GET": "get",
    "HEAD": "get",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_COLLECTION_VERBS = {
    "GET": "list",
    "HEAD": "list",
    "POST": "create",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "deletecollection",
}
# Built-in resources that live outside namespaces; any other resource requested without a
# namespace in its path is read as "every namespace" (unknown custom resources included).
_CLUSTER_SCOPED = frozenset(
    {
        "namespaces",
        "nodes",
        "persistentvolumes",
        "componentstatuses",
        "clusterroles",
        "clusterrolebindings",
        "customresourcedefinitions",
        "storageclasses",
        "csidrivers",
        "csinodes",
        "volumeattachments",
        "priorityclasses",
        "runtimeclasses",
        "ingressclasses",
        "apiservices",
        "certificatesigningrequests",
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "tokenreviews",
        "subjectaccessreviews",
        "selfsubjectaccessreviews",
        "selfsubjectrulesreviews",
        "flowschemas",
        "prioritylevelconfigurations",
    }
)
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")


def unreadable(reason: str) -> dict[str, str]:
    """A value conditions cannot read: every evaluator fails on it (see the module docstring)."""
    return {"$opaque": reason}


# -- SQL -------------------------------------------------------------------------------------


def _sqlglot() -> Any:
    try:
        import sqlglot  # type: ignore[import-not-found,unused-ignore]  # optional: agent-os[sql]
    except ImportError as exc:
        raise ImportError(f"SQL facets need sqlglot: {_SQL_INSTALL}") from exc
    return sqlglot


def sql_available() -> bool:
    """Tells whether sqlglot can be imported (SQL facets and policies reading ``sql`` need it)."""
    try:
        _sqlglot()
    except ImportError:
        return False
    return True


def sql_facets(text: Any, dialect: str | None = None) -> dict[str, Any]:
    """The ``sql`` facts of one SQL string (see the module docstring); never raises for bad SQL.

    Args:
        text: The argument's value (judged form).
        dialect: A sqlglot dialect name (``postgres``, ``mysql``, ``tsql``...), or None for
            sqlglot's default.
    """
    if type(text) is not str:
        return unreadable(f"SQL facet: the argument is not a string but {_kind(text)}")
    if len(text) > MAX_SQL_CHARS:
        return unreadable(f"SQL facet: the SQL is longer than {MAX_SQL_CHARS} characters")
    sqlglot = _sqlglot()
    from sqlglot import exp  # type: ignore[import-not-found,unused-ignore]

    try:
        parsed = sqlglot.parse(text, read=dialect)
    except Exception as exc:  # sqlglot's ParseError/TokenError, or RecursionError on deep nesting
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return unreadable(f"SQL facet: the SQL does not parse: {first[:200]}")
    # An empty statement (`;;`, or a comment between semicolons) parses as None or a bare Semicolon.
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        return unreadable("SQL facet: the SQL holds no statement")
    verbs: set[str] = set()
    tables: set[str] = set()
    qualified: set[str] = set()
    functions: set[str] = set()
    opaque: str | None = None
    for statement in statements:
        verbs.add(_verb(statement, exp))
        writes = (exp.DML, exp.DDL, exp.Drop, exp.Alter, exp.TruncateTable, exp.Grant, exp.Revoke, exp.Into)
        for node in statement.find_all(*writes, exp.Command):
            if node is not statement:
                verbs.add("CREATE" if isinstance(node, exp.Into) else _verb(node, exp))
        if isinstance(statement, exp.Command):
            opaque = (
                opaque
                or f"statement `{_verb(statement, exp)}` is not parsed, so its tables and functions are unknown"
            )
        for table in statement.find_all(exp.Table):
            name = table.name.lower()
            if name:
                tables.add(name)
                qualified.add(
                    ".".join(part.lower() for part in (table.catalog, table.db, table.name) if part)
                )
        for function in statement.find_all(exp.Func):
            fname = function.name if isinstance(function, exp.Anonymous) else function.sql_name()
            if fname:
                functions.add(fname.upper())
    ordered = sorted(verbs)
    facts: dict[str, Any] = {
        "statements": len(statements),
        "verbs": ordered,
        "verb": ordered[0]
        if len(ordered) == 1
        else unreadable(f"SQL facet: several verbs ({', '.join(ordered)}): read sql.verbs"),
        "writes": not verbs <= _READ_ONLY,
        "tables": sorted(tables),
        "qualified_tables": sorted(qualified),
        "functions": sorted(functions),
    }
    if opaque is not None:
        for key in ("tables", "qualified_tables", "functions"):
            facts[key] = unreadable(f"SQL facet: {opaque}")
    return facts


def _verb(node: Any, exp: Any) -> str:
    """The SQL verb of one statement node (``SELECT`` for set operations; a command's keyword)."""
    if isinstance(node, exp.Command):
        return str(node.this or "COMMAND").upper()
    if isinstance(node, (exp.Select, exp.SetOperation)):
        return "SELECT"
    name = _VERB_NAMES.get(type(node).__name__)
    return name if name is not None else type(node).__name__.upper()


_VERB_NAMES = {
    "TruncateTable": "TRUNCATE",
    "Transaction": "BEGIN",
    "Commit": "COMMIT",
    "Rollback": "ROLLBACK",
    "Alter": "ALTER",
    "AlterColumn": "ALTER",
    "Execute": "EXECUTE",
}


# -- Kubernetes ------------------------------------------------------------------------------


def k8s_facets(method: Any, path: Any) -> dict[str, Any]:
    """The ``k8s`` facts of one Kubernetes API request (see the module docstring); never raises."""
    if type(method) is not str or method.upper() not in _K8S_METHODS:
        return unreadable(f"Kubernetes facet: method `{_short(method)}` is not an HTTP method of the API")
    if type(path) is not str or not path.startswith("/"):
        return unreadable(f"Kubernetes facet: path `{_short(path)}` is not an absolute URL path")
    method = method.upper()
    path, _, query = path.partition("?")
    segments = path[1:].removesuffix("/").split("/")
    bad = next((s for s in segments if not _SEGMENT.match(s)), None)
    if bad is not None:
        return unreadable(f"Kubernetes facet: path `{_short(path)}` has the segment `{_short(bad)}`")
    if segments[0] == "api" and len(segments) >= 2:
        group, version, rest = "", segments[1], segments[2:]
    elif segments[0] == "apis" and len(segments) >= 3:
        group, version, rest = segments[1].lower(), segments[2], segments[3:]
    else:
        return unreadable(f"Kubernetes facet: path `{_short(path)}` is not a resource path (/api or /apis)")
    watch = False
    if rest[:1] == ["watch"]:
        watch, rest = True, rest[1:]  # the legacy /watch/ prefix
    namespace: Any = None
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return unreadable(f"Kubernetes facet: path `{_short(path)}` names no resource")
    resource = rest[0].lower()
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2].lower() if len(rest) >= 3 else ""
    if len(rest) > 3 and subresource != "proxy":
        return unreadable(f"Kubernetes facet: path `{_short(path)}` is longer than a resource path")
    if namespace is None:
        if resource == "namespaces" and name:
            namespace = name  # the namespace object itself
        elif resource in _CLUSTER_SCOPED:
            namespace = ""
        else:
            namespace = unreadable(
                f"Kubernetes facet: `{resource}` without a namespace means every namespace"
            )
    if name:
        verb = _NAMED_VERBS[method]
    else:
        watch = watch or any(
            part.split("=", 1)[0] == "watch" and part.split("=", 1)[-1] in ("1", "true", "")
            for part in query.split("&")
        )
        verb = "watch" if watch and method in ("GET", "HEAD") else _COLLECTION_VERBS[method]
    return {
        "verb": verb,
        "group": group,
        "version": version,
        "resource": resource,
        "name": name,
        "subresource": subresource,
        "namespace": namespace,
        "command": "",
    }


# -- declaration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facet:
    root: str
    args: tuple[tuple[str, ...], ...]
    derive: Callable[..., dict[str, Any]]


class Facets:
    """The facets one tool declares, compiled; `apply` adds them to a request.

    Build with `compile_facets`. Immutable and safe to share between threads.
    """

    def __init__(self, facets: tuple[_Facet, ...]) -> None:
        self._facets = facets

    @property
    def roots(self) -> tuple[str, ...]:
        """The request roots this tool's requests get (``sql``, ``k8s``)."""
        return tuple(f.root for f in self._facets)

    def apply(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """`request` with every declared facet root added (replacing any already there).

        Never raises: a facet that cannot be derived is an unreadable value naming why.
        """
        out = dict(request)
        args = request.get("args")
        for facet in self._facets:
            values = [_arg(args, path) for path in facet.args]
            missing = next(
                (path for path, value in zip(facet.args, values, strict=True) if value is _ABSENT), None
            )
            if missing is not None:
                out[facet.root] = unreadable(
                    f"{facet.root} facet: the call has no argument `{'.'.join(missing)}`"
                )
                continue
            try:
                out[facet.root] = facet.derive(*values)
            except Exception as exc:  # a parser bug must refuse, not crash or pass
                out[facet.root] = unreadable(f"{facet.root} facet failed: {type(exc).__name__}: {exc}")
        return out

    def __repr__(self) -> str:
        return f"Facets({', '.join(self.roots)})"


_ABSENT: Any = object()


def _arg(args: Any, path: tuple[str, ...]) -> Any:
    value = args
    for key in path:
        if type(value) is not dict or key not in value:
            return _ABSENT
        value = value[key]
    return value


def compile_facets(spec: Mapping[str, Any] | None) -> Facets | None:
    """Check a tool's ``facets=`` declaration; None when it declares none.

    Args:
        spec: ``{"sql": "query"}`` or ``{"sql": {"arg": "query", "dialect": "postgres"}}``;
            ``{"k8s": {"method": "method", "path": "path"}}``. Argument names may be dotted
            paths into an argument (``"request.sql"``).

    Raises:
        PolicyError: For an unknown facet, a malformed declaration or an unknown dialect.
        ImportError: For an SQL facet without sqlglot installed (names the pip command).
    """
    if spec is None or not spec:
        return None
    if not isinstance(spec, Mapping):
        raise _bad(f"facets= must be a mapping like {{'sql': 'query'}}, not `{type(spec).__name__}`")
    facets: list[_Facet] = []
    for root, declared in spec.items():
        if root == "sql":
            facets.append(_sql_facet(declared))
        elif root == "k8s":
            facets.append(_k8s_facet(declared))
        else:
            raise _bad(f"unknown facet `{root}`; the facets are {', '.join(FACET_ROOTS)}")
    return Facets(tuple(facets))


def _sql_facet(declared: Any) -> _Facet:
    if isinstance(declared, str):
        declared = {"arg": declared}
    if not isinstance(declared, Mapping) or set(declared) - {"arg", "dialect"} or "arg" not in declared:
        raise _bad("the sql facet is `'<argument>'` or `{'arg': '<argument>', 'dialect': '<dialect>'}`")
    dialect = declared.get("dialect")
    sqlglot = _sqlglot()
    if dialect is not None:
        try:
            sqlglot.Dialect.get_or_raise(dialect)
        except Exception as exc:
            raise _bad(f"unknown SQL dialect `{dialect}`: {exc}") from None

    def derive(text: Any) -> dict[str, Any]:
        return sql_facets(text, dialect)

    return _Facet("sql", (_path(declared["arg"], "sql"),), derive)


def _k8s_facet(declared: Any) -> _Facet:
    if isinstance(declared, Mapping) and set(declared) == {"command"}:
        return _Facet("k8s", (_path(declared["command"], "k8s"),), _kubectl)
    if not isinstance(declared, Mapping) or set(declared) != {"method", "path"}:
        raise _bad(
            "the k8s facet is `{'method': '<argument>', 'path': '<argument>'}` (an API request) "
            "or `{'command': '<argument>'}` (a kubectl command line)"
        )
    return _Facet("k8s", (_path(declared["method"], "k8s"), _path(declared["path"], "k8s")), k8s_facets)


def _kubectl(command: Any) -> dict[str, Any]:
    from agent_os._kubectl import kubectl_facets

    return kubectl_facets(command, _CLUSTER_SCOPED)


def _path(name: Any, root: str) -> tuple[str, ...]:
    if not isinstance(name, str) or not name or any(not part for part in name.split(".")):
        raise _bad(f"the {root} facet names its argument with a non-empty string, not `{name!r}`")
    return tuple(name.split("."))


def _bad(reason: str) -> PolicyError:
    return PolicyError(reason, help="see docs/policy-format.md#request-facets")


def _kind(value: Any) -> str:
    if isinstance(value, dict) and "$opaque" in value:
        return "an unreadable value"
    return {type(None): "null", bool: "a boolean", int: "an integer", float: "a number"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _short(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
