"""Where agent-sre records its own actions (pulls, releases, SLO alerts and exhaustion)."""

from __future__ import annotations

from typing import Any

from agt_core import AuditSink

__all__ = ["AuditTarget", "record", "resolve"]

AuditTarget = AuditSink | bool | None
"""True: the process pipeline's default audit sink (where govern() audits); False/None: none."""


def resolve(target: AuditTarget) -> AuditSink | None:
    """The sink to append to now (the pipeline's default is looked up at each record)."""
    if target is True:
        from agent_os import pipeline

        return pipeline().default_audit()
    if target is False or target is None:
        return None
    return target


def record(target: AuditTarget, action: str, actor: str, args: dict[str, Any], message: str) -> None:
    """Append one record of an agent-sre action, shaped like a governed request with a `log` decision.

    Raises:
        AuditError (or whatever the sink raises): if the record cannot be stored.
    """
    sink = resolve(target)
    if sink is None:
        return
    from agt_core import Decision

    request = {
        "action": {"type": action, "tool": None},
        "args": args,
        "agent": {"id": actor},
        "context": {},
        "stage": "pre_tool",
    }
    sink.append(request, Decision(effect="log", allowed=True, message=message))
