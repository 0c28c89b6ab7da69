"""Hypervisor events (session, state delta, commitment transitions) as ordinary audit records.

An event is written through any `agt_core.AuditSink` with the same record layout as a decision,
so it is chained, covered by the Merkle tree and verified like everything else:

* ``request.action`` is ``{"tool": "agent_hypervisor", "type": "<event kind>"}``;
* ``request.args`` holds the event's data, ``request.context.session`` its session;
* ``decision`` is a ``log`` effect (an annotation: events never grant anything) whose message
  names the event.

`python -m agent_hypervisor replay` skips them: they were never policy decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agt_core import AuditSink, Decision

__all__ = ["EVENT_TOOL", "is_event", "record_event"]

EVENT_TOOL = "agent_hypervisor"


def record_event(
    audit: AuditSink | None,
    kind: str,
    *,
    agent: str,
    data: Mapping[str, Any],
    session: str | None = None,
) -> str | None:
    """Append one event to `audit` (if any) and return its record hash.

    Raises:
        AuditError: if the sink cannot store it (the caller's operation must then not go ahead).
    """
    if audit is None:
        return None
    request = {
        "action": {"tool": EVENT_TOOL, "type": kind},
        "agent": {"id": agent},
        "args": dict(data),
        "context": {"session": session} if session is not None else {},
        "stage": "pre_tool",
    }
    decision = Decision(effect="log", allowed=True, message=f"hypervisor event `{kind}`")
    return audit.append(request, decision)


def is_event(request: Mapping[str, Any]) -> bool:
    """Whether a recorded request is a hypervisor event rather than a governed call."""
    action = request.get("action")
    return isinstance(action, Mapping) and action.get("tool") == EVENT_TOOL
