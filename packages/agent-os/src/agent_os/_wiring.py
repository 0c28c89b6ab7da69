"""What `govern()` and `ToolGate` share: their options, and turning them into a kernel.

The options are written once, as a TypedDict, so govern()'s signature, ToolGate's and their
documentation cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Required, TypedDict

from agent_os._request_builder import DEFAULT_REQUEST_LIMITS, RequestLimits
from agt_core import PolicyError, PolicySet

if TYPE_CHECKING:
    from agent_os._approval import ApprovalHandler
    from agent_os._kernel import Kernel
    from agent_os._pipeline import Pipeline
    from agt_core import AuditSink, Decision, Enricher, Guard, Observer, RateLimitStore

__all__ = [
    "AUDIT_STORE_GROUP",
    "GovernOptions",
    "open_audit_store",
    "resolve_audit",
    "resolve_policy",
    "with_manifest",
]

AUDIT_STORE_GROUP = "agt.audit_stores"
"""Entry-point group of durable audit stores: ``name = "module:open_store"``, ``open_store(location) -> AuditSink``."""

_SUFFIX_STORES = {".db": "sqlite", ".sqlite": "sqlite", ".sqlite3": "sqlite"}


class GovernOptions(TypedDict, total=False):
    """Keyword options of `govern()` and `ToolGate` (only ``policy`` is required).

    Attributes:
        policy: A policy file or folder path, YAML text, a dict, a list of those, or a compiled
            `PolicySet`.
        audit: True (default) appends to the pipeline's default audit sink; False turns auditing
            off; an `AuditSink` (e.g. an `AuditLog`) appends there; a path or URL opens a durable
            store registered under the ``agt.audit_stores`` entry points (``audit.db``,
            ``sqlite:///path``, ``postgresql://...``; agent-hypervisor provides them).
        agent_id: The acting agent's id, ``agent.id`` in conditions (default ``"default"``).
        agent: Extra agent attributes (roles, team), ``agent.<name>`` in conditions; or an identity
            object with ``govern_options()`` (e.g. agentmesh's `AgentIdentity`), which supplies the
            agent id and the enrichers, guards and observers that bind calls to it.
        context: Fixed context for every call, ``context.<name>``; add per-call context with
            `governance_context`.
        on_deny: Called with the `Decision` instead of raising `GovernanceDenied`; its return
            value becomes the call's result.
        approval_handler: Decides require_approval rules; the default refuses them.
        approval_timeout: Seconds to wait for the approval handler before refusing (default 300).
        tool_name: The tool's name in requests (default: the function's name).
        request_limits: Size and depth bounds on requests (default `RequestLimits()`).
        base_dir: Folder that ``extends`` paths of an inline (non-file) policy are relative to.
        rate_limiter: Where rule limits are counted; by default every tool governed by the same
            policy set in this pipeline shares one limiter.
        pipeline: Where process-wide extensions and state live (default `agent_os.pipeline()`).
        enrichers: This tool's own enrichers, run after the pipeline's.
        guards: This tool's own guards, run after the pipeline's.
        observers: This tool's own observers, run after the pipeline's.
        evaluator: Which evaluator compiles the policy (``"python"``, ``"native"``; default: the
            fastest installed).
        strict: Turn policy warnings into load errors.
        lint: ``False`` silences the missing-field lint when the policy is loaded here.
        consume_iterators: Read iterator and generator arguments into lists before judging them
            (the tool then receives an iterator over the list); by default they are refused.
        check_types: Check arguments against the tool's simple type annotations (default True).
        session: A session object (agent-hypervisor's `Session`): it runs as this tool's enricher
            (``context.session``) and guard (only agents that joined may act).
        redaction: Secrets to keep out of audit records (and results), on top of the policy's
            ``redaction:`` block: True, an `agent_os.redaction.Redactor`, or an
            `agt_core.Redaction` (or its mapping). It can add to the policy's, never remove.
        manifest: A signed tool manifest (`agent_os.manifest`): the tool runs only while it
            verifies against ``trusted_keys`` and the files on disk match it.
        trusted_keys: Public keys a ``manifest`` must be signed by.
        facets: Which arguments carry SQL or a Kubernetes API request, e.g. ``{"sql": "query"}``:
            the kernel adds ``sql.*``/``k8s.*`` facts to every request (docs/policy-format.md).
    """

    policy: Required[Any]
    audit: bool | AuditSink | str | os.PathLike[str]
    agent_id: str
    agent: Any
    context: Mapping[str, Any] | None
    on_deny: Callable[[Decision], Any] | None
    approval_handler: ApprovalHandler | None
    approval_timeout: float | None
    tool_name: str | None
    request_limits: RequestLimits
    base_dir: str | None
    rate_limiter: RateLimitStore | None
    pipeline: Pipeline | None
    enrichers: Sequence[Enricher]
    guards: Sequence[Guard]
    observers: Sequence[Observer]
    evaluator: Any
    strict: bool
    lint: bool
    consume_iterators: bool
    check_types: bool
    session: Any
    redaction: Any
    manifest: Any
    trusted_keys: Any
    facets: Mapping[str, Any] | None


def expand_agent(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options with an identity object given as ``agent=`` turned into what it stands for.

    ``agent=`` is usually a mapping of attributes. It may also be an object with a
    ``govern_options()`` method (agentmesh's `AgentIdentity` and `MeshBinding` have one) that
    returns options of its own: its ``agent_id`` (unless one was given), and enrichers, guards and
    observers that run after the ones given here. agent-os does not know what the object is.
    """
    agent = options.get("agent")
    if agent is None or isinstance(agent, Mapping):
        return _with_session(options)
    provider = getattr(agent, "govern_options", None)
    if not callable(provider):
        raise TypeError(
            f"agent= must be a mapping of attributes or an identity with govern_options(), "
            f"not `{type(agent).__name__}`"
        )
    extra = provider()
    unknown = set(extra) - {"agent_id", "agent", "enrichers", "guards", "observers", "context"}
    if unknown:
        raise TypeError(
            f"{type(agent).__name__}.govern_options() returned unsupported option(s): {sorted(unknown)}"
        )
    merged = _with_session(options)
    merged["agent"] = extra.get("agent")
    if "agent_id" not in options and "agent_id" in extra:
        merged["agent_id"] = extra["agent_id"]
    if "context" in extra:
        merged["context"] = {**(extra["context"] or {}), **(options.get("context") or {})}
    for key in ("enrichers", "guards", "observers"):
        merged[key] = (*options.get(key, ()), *extra.get(key, ()))
    return merged


def with_manifest(options: Mapping[str, Any], tool: str | None, target: Any = None) -> Mapping[str, Any]:
    """``manifest=`` becomes a guard (`agent_os.manifest.ManifestGuard`) checked before every call."""
    if options.get("manifest") is None:
        if options.get("trusted_keys") is not None:
            raise TypeError("trusted_keys= applies only with manifest=")
        return options
    from agent_os.manifest import ManifestGuard

    guard = ManifestGuard(options["manifest"], options.get("trusted_keys"), tool=tool, target=target)
    merged = dict(options)
    merged["guards"] = (guard, *merged.get("guards", ()))
    return merged


def _with_session(options: Mapping[str, Any]) -> dict[str, Any]:
    """``session=s`` is ``enrichers=[..., s], guards=[..., s]`` for whichever of the two roles `s` plays."""
    merged = dict(options)
    session = merged.pop("session", None)
    if session is None:
        return merged
    roles = 0
    if callable(getattr(session, "enrich", None)):
        merged["enrichers"] = (*merged.get("enrichers", ()), session)
        roles += 1
    if callable(getattr(session, "check", None)):
        merged["guards"] = (*merged.get("guards", ()), session)
        roles += 1
    if not roles:
        raise TypeError(
            f"session= must be an enricher and/or guard (e.g. agent_hypervisor.Session), not `{type(session).__name__}`"
        )
    return merged


def resolve_policy(options: Mapping[str, Any]) -> PolicySet:
    """The compiled policy set the options name (compiled now when given as a source)."""
    policy = options["policy"]
    if isinstance(policy, PolicySet):
        return policy
    from agent_os._compile import compile_policies

    kwargs: dict[str, Any] = {"base_dir": options.get("base_dir")}
    if options.get("evaluator") is not None:
        kwargs["evaluator"] = options["evaluator"]
    if options.get("strict"):
        kwargs["strict"] = True
    if options.get("lint") is False:
        kwargs["lint"] = False
    if isinstance(policy, str | os.PathLike) and not _looks_like_text(policy):
        path = os.fspath(policy)
        if isinstance(path, str) and not os.path.exists(path):
            raise PolicyError(
                f"policy file `{os.path.abspath(path)}` does not exist (working directory: `{os.getcwd()}`)",
                file=path,
                help="pass the path of a .yaml policy file or folder, or the policy text itself",
            )
    return compile_policies(policy, **kwargs)


def _looks_like_text(policy: Any) -> bool:
    return isinstance(policy, str) and ("\n" in policy or "\r" in policy or policy.startswith("{"))


def resolve_audit(audit: Any, pipeline: Pipeline) -> AuditSink | None:
    """The audit sink the ``audit=`` option names."""
    if audit is True:
        return pipeline.default_audit()
    if audit is False or audit is None:
        return None
    if isinstance(audit, str | os.PathLike):
        return open_audit_store(str(os.fspath(audit)))
    if callable(getattr(audit, "append", None)):
        sink: AuditSink = audit
        return sink
    raise TypeError(
        f"audit must be True, False, an AuditSink (e.g. AuditLog()) or a store path/URL, not `{type(audit).__name__}`"
    )


def open_audit_store(location: str) -> AuditSink:
    """Open the durable audit store registered for `location`'s URL scheme or file suffix.

    Raises:
        ValueError: when no store handles `location`, naming what to install.
    """
    from importlib.metadata import entry_points

    scheme = location.split("://", 1)[0].lower() if "://" in location else None
    if scheme is None:
        suffix = os.path.splitext(location)[1].lower()
        scheme = _SUFFIX_STORES.get(suffix)
        if scheme is None:
            raise ValueError(
                f"audit location `{location}` names no store: use a `.db`/`.sqlite` file or a URL such as "
                "`sqlite:///path` or `postgresql://...`"
            )
    elif scheme.startswith("postgres"):
        scheme = "postgresql"
    found = [ep for ep in entry_points(group=AUDIT_STORE_GROUP) if ep.name == scheme]
    if not found:
        package = "agent-hypervisor[postgresql]" if scheme == "postgresql" else "agent-hypervisor"
        raise ValueError(
            f"no audit store for `{scheme}` is installed (entry-point group `{AUDIT_STORE_GROUP}`); "
            f"pip install '{package}'"
        )
    opener = found[0].load()
    sink: AuditSink = opener(location)
    return sink


def build_kernel(options: Mapping[str, Any], policy_set: PolicySet) -> Kernel:
    """The kernel the options describe."""
    from agent_os._facets import compile_facets
    from agent_os._kernel import DEFAULT_APPROVAL_TIMEOUT, Kernel
    from agent_os._pipeline import pipeline as process_pipeline

    pipe = options.get("pipeline") or process_pipeline()
    return Kernel(
        policy_set,
        audit=resolve_audit(options.get("audit", True), pipe),
        approval_handler=options.get("approval_handler"),
        approval_timeout=options.get("approval_timeout", DEFAULT_APPROVAL_TIMEOUT),
        rate_limiter=options.get("rate_limiter"),
        pipeline=pipe,
        enrichers=tuple(options.get("enrichers", ())),
        guards=tuple(options.get("guards", ())),
        observers=tuple(options.get("observers", ())),
        redaction=options.get("redaction"),
        facets=compile_facets(options.get("facets")),
    )


def agent_data(options: Mapping[str, Any]) -> dict[str, Any]:
    """The fixed agent facts: ``agent`` with ``id`` set from ``agent_id``."""
    agent_id = options.get("agent_id", "default")
    if type(agent_id) is not str or not agent_id:
        raise TypeError("agent_id must be a non-empty string")
    return {**(options.get("agent") or {}), "id": agent_id}


def request_limits(options: Mapping[str, Any]) -> RequestLimits:
    limits = options.get("request_limits", DEFAULT_REQUEST_LIMITS)
    if not isinstance(limits, RequestLimits):
        raise TypeError("request_limits must be a RequestLimits")
    return limits
