"""JSON Schemas for the policy format and the evaluation request, generated from the models.

The published copies live in ``agt_core/schemas/`` (shipped in the wheel); a test regenerates
them and fails if they drift from the models.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["json_schema"]

_IDS = {
    "policy": "https://agent-governance-toolkit.dev/schemas/policy-v1.json",
    "request": "https://agent-governance-toolkit.dev/schemas/request-v1.json",
    "decision": "https://agent-governance-toolkit.dev/schemas/decision-v1.json",
    "audit-record": "https://agent-governance-toolkit.dev/schemas/audit-record-v1.json",
}


def json_schema(kind: Literal["policy", "request", "decision", "audit-record"]) -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of one of the toolkit's documents."""
    from agt_core._audit_record import AuditRecord
    from agt_core._decision import Decision
    from agt_core._policy import PolicyDocument
    from agt_core._request import EvaluationRequest

    model: Any = {
        "policy": PolicyDocument,
        "request": EvaluationRequest,
        "decision": Decision,
        "audit-record": AuditRecord,
    }[kind]
    schema: dict[str, Any] = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _IDS[kind], **schema}
