"""The evaluation request: what the policy engine sees of one action.

`govern()` builds this shape as a plain dict on its hot path; this model documents it, gives it a
JSON Schema, and validates requests built by hand.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agt_core._policy import Stage

__all__ = ["ActionInfo", "AgentInfo", "EvaluationRequest"]


class ActionInfo(BaseModel):
    """What the agent is trying to do."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: str = Field(description="The action's kind, e.g. `read`, `drop`, `send_email`.")
    tool: str | None = Field(default=None, description="The governed tool's name.")


class AgentInfo(BaseModel):
    """Who is acting. Extra fields (name, roles, DID) are kept and visible to conditions."""

    model_config = ConfigDict(extra="allow", strict=True)

    id: str = Field(description="The agent's identifier: a name, or a DID once identities exist.")


class EvaluationRequest(BaseModel):
    """One request to the policy engine. Conditions see these fields as top-level variables."""

    model_config = ConfigDict(extra="forbid", strict=True)

    action: ActionInfo
    args: dict[str, Any] = Field(default_factory=dict, description="The tool's arguments by parameter name.")
    agent: AgentInfo
    context: dict[str, Any] = Field(default_factory=dict, description="Caller-supplied context.")
    stage: Stage = "pre_tool"
    result: Any = Field(default=None, description="The tool's result; present at the post_tool stage only.")

    def to_data(self) -> dict[str, Any]:
        """Return the request as the plain JSON data conditions evaluate against."""
        data = self.model_dump(mode="json")
        if self.stage != "post_tool":
            data.pop("result", None)
        return data
