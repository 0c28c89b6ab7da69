"""agt-core: the types every Agent Governance Toolkit package shares.

Errors and canonical JSON import instantly; the pydantic models load on first use so that
``import agt_core`` stays cheap on the governed-call path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agt_core._audit_chain import (
    AUDIT_RECORD_FIELDS,
    GENESIS_HASH,
    ChainHead,
    UtcClock,
    audit_record_body,
    audit_record_line,
    record_hash,
    verify_audit_lines,
    verify_chain,
)
from agt_core._canonical import (
    MAX_SAFE_INTEGER,
    canonical_json,
    canonical_json_bytes,
    content_hash,
    sha256_hex,
)
from agt_core._errors import (
    ApprovalError,
    AuditError,
    AuditIntegrityError,
    AuditWriteError,
    CanonicalJSONError,
    EnforcementError,
    GovernanceDenied,
    GovernanceError,
    PolicyError,
    PolicyWarning,
    RequestError,
)
from agt_core._extensions import AuditSink, Enforcement, Enricher, Guard, Observer, RateLimitStore
from agt_core._policy_set import PolicySet
from agt_core._version import __version__

if TYPE_CHECKING:
    from agt_core._audit_record import ApprovalRecord, AuditRecord
    from agt_core._decision import PERMISSIVE_EFFECTS, Decision, Effect, MatchedRule, RuleError
    from agt_core._policy import (
        API_VERSION,
        CONFLICT_STRATEGIES,
        REDACTION_DETECTORS,
        STAGES,
        ConflictStrategy,
        PolicyDocument,
        Redaction,
        RedactionDetector,
        Rule,
        RuleAction,
        Stage,
        parse_limit,
    )
    from agt_core._request import ActionInfo, AgentInfo, EvaluationRequest
    from agt_core._resolved import (
        EFFECT_SEVERITY,
        Evaluator,
        ResolvedPolicy,
        policy_content_hash,
        policy_set_hash,
    )
    from agt_core._schemas import json_schema

__all__ = [
    "API_VERSION",
    "AUDIT_RECORD_FIELDS",
    "CONFLICT_STRATEGIES",
    "EFFECT_SEVERITY",
    "GENESIS_HASH",
    "MAX_SAFE_INTEGER",
    "PERMISSIVE_EFFECTS",
    "REDACTION_DETECTORS",
    "STAGES",
    "ActionInfo",
    "AgentInfo",
    "ApprovalError",
    "ApprovalRecord",
    "AuditError",
    "AuditIntegrityError",
    "AuditRecord",
    "AuditSink",
    "AuditWriteError",
    "CanonicalJSONError",
    "ChainHead",
    "ConflictStrategy",
    "Decision",
    "Effect",
    "Enforcement",
    "EnforcementError",
    "Enricher",
    "EvaluationRequest",
    "Evaluator",
    "GovernanceDenied",
    "GovernanceError",
    "Guard",
    "MatchedRule",
    "Observer",
    "PolicyDocument",
    "PolicyError",
    "PolicySet",
    "PolicyWarning",
    "RateLimitStore",
    "Redaction",
    "RedactionDetector",
    "RequestError",
    "ResolvedPolicy",
    "Rule",
    "RuleAction",
    "RuleError",
    "Stage",
    "UtcClock",
    "__version__",
    "audit_record_body",
    "audit_record_line",
    "canonical_json",
    "canonical_json_bytes",
    "content_hash",
    "json_schema",
    "parse_limit",
    "policy_content_hash",
    "policy_set_hash",
    "record_hash",
    "sha256_hex",
    "verify_audit_lines",
    "verify_chain",
]

_LAZY = {
    "ApprovalRecord": "agt_core._audit_record",
    "AuditRecord": "agt_core._audit_record",
    "PERMISSIVE_EFFECTS": "agt_core._decision",
    "Decision": "agt_core._decision",
    "Effect": "agt_core._decision",
    "MatchedRule": "agt_core._decision",
    "RuleError": "agt_core._decision",
    "API_VERSION": "agt_core._policy",
    "CONFLICT_STRATEGIES": "agt_core._policy",
    "STAGES": "agt_core._policy",
    "ConflictStrategy": "agt_core._policy",
    "PolicyDocument": "agt_core._policy",
    "REDACTION_DETECTORS": "agt_core._policy",
    "Redaction": "agt_core._policy",
    "RedactionDetector": "agt_core._policy",
    "Rule": "agt_core._policy",
    "RuleAction": "agt_core._policy",
    "Stage": "agt_core._policy",
    "parse_limit": "agt_core._policy",
    "ActionInfo": "agt_core._request",
    "AgentInfo": "agt_core._request",
    "EvaluationRequest": "agt_core._request",
    "json_schema": "agt_core._schemas",
    "EFFECT_SEVERITY": "agt_core._resolved",
    "Evaluator": "agt_core._resolved",
    "ResolvedPolicy": "agt_core._resolved",
    "policy_content_hash": "agt_core._resolved",
    "policy_set_hash": "agt_core._resolved",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'agt_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
