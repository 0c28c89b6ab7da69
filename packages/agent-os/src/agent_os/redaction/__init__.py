"""agent_os.redaction: secrets and personal data kept out of audit records and, on request, tool results.

Configured by a policy's ``redaction:`` block or ``govern(..., redaction=...)``; applied by the
kernel right before the audit sink, so a record is hashed from the redacted request and the
trail still verifies. The policy judges the request as made. See docs/redaction.md.

    from agent_os.redaction import Redactor
    Redactor().redact_text("key AKIAIOSFODNN7EXAMPLE")   # 'key [REDACTED:aws_access_key]'
"""

from __future__ import annotations

from agent_os.redaction._detectors import DETECTORS, Span, find_spans, secret_key_kind
from agent_os.redaction._redactor import REDACTION_KEY, Redactor

__all__ = ["DETECTORS", "REDACTION_KEY", "Redactor", "Span", "find_spans", "secret_key_kind"]
