"""The toolkit's error hierarchy.

Every error the toolkit raises derives from `GovernanceError`::

    GovernanceError                  root: a governed action did not go through as asked
    ├── PolicyError                  policy: could not be loaded or compiled (file, line, column)
    ├── RequestError                 request: could not be built or exceeds the configured limits
    ├── CanonicalJSONError           a value has no RFC 8785 canonical form
    ├── EnforcementError             enforcement: the action was refused
    │   ├── GovernanceDenied         the policy (or a guard, or the kernel) refused it (.decision)
    │   └── ApprovalError            an approval handler failed; the action is refused
    └── AuditError                   audit: something is wrong with the audit trail
        ├── AuditWriteError          a record could not be written; the action is refused
        └── AuditIntegrityError      a stored trail failed verification (record index)

    PolicyWarning (UserWarning)      a policy loads but looks wrong (e.g. a field its request_schema lacks)

Errors that can change an allow/deny outcome form a closed set: `GovernanceDenied`,
`ApprovalError`, `AuditWriteError` and `RequestError` all mean "the action did not run". Nothing
else a governed call raises comes from the toolkit. Messages are one line, lowercase, with user
values quoted; longer guidance lives in ``help``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agt_core._decision import Decision

__all__ = [
    "ApprovalError",
    "AuditError",
    "AuditIntegrityError",
    "AuditWriteError",
    "CanonicalJSONError",
    "EnforcementError",
    "GovernanceDenied",
    "GovernanceError",
    "PolicyError",
    "PolicyWarning",
    "RequestError",
]


class GovernanceError(Exception):
    """Root of every error the toolkit raises.

    Attributes:
        help: Optional longer guidance on what to do about the error.
    """

    def __init__(self, message: str, *, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.help = help

    def __str__(self) -> str:
        if self.help:
            return f"{self.message}\n  help: {self.help}"
        return self.message


class PolicyError(GovernanceError):
    """A policy could not be loaded or compiled.

    Attributes:
        file: The policy file, or None for policies given as strings or dicts.
        line: 1-based line in ``file`` (or in the YAML string), when known.
        column: 1-based column, when known.
        path: Where in the document the problem is, e.g. ``rules[2].condition``.
        expected: What the loader expected to find there.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
        expected: str | None = None,
        help: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.expected = expected
        where = file or "<policy>"
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        text = f"{where}: "
        if path:
            text += f"{path}: "
        text += message
        if expected:
            text += f" (expected {expected})"
        super().__init__(text, help=help)
        self.reason = message


class RequestError(GovernanceError):
    """A request could not be built, or it exceeds the configured size, depth or shape limits."""


class CanonicalJSONError(GovernanceError):
    """A value cannot be written as RFC 8785 canonical JSON (NaN, a huge integer, a non-string key)."""


class EnforcementError(GovernanceError):
    """The governed action was refused (by the policy, a guard, the kernel, or a failed approval)."""


class GovernanceDenied(EnforcementError):
    """The action must not run: the policy, a guard or the kernel refused it.

    Attributes:
        decision: The `Decision` that refused the action.
        approval: The approval outcome, when the rule required one.
    """

    def __init__(self, decision: Decision, *, approval: Any = None, help: str | None = None) -> None:
        self.decision = decision
        self.approval = approval
        if decision.rule is not None:
            text = f"action denied by rule `{decision.rule}`"
            if decision.policy:
                text += f" of policy `{decision.policy}`"
        elif decision.refused_by is not None:
            text = f"action refused by {decision.refused_by}"
        else:
            text = "action denied"
            if decision.policy:
                text += f" by policy `{decision.policy}`"
        if decision.message:
            text += f": {decision.message}"
        if approval is not None and not getattr(approval, "approved", False):
            approvers = ", ".join(f"`{a}`" for a in decision.approvers) or "an approver"
            text += f"; approval from {approvers} was refused"
            reason = getattr(approval, "reason", "")
            if reason:
                text += f": {reason}"
        # The enforcing layer knows how to fix a refusal (e.g. which approval handler to configure).
        super().__init__(text, help=help)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the decision so the exception survives pickling (process pools, queues).
        return (_rebuild_denied, (self.decision, self.approval, self.help))


class ApprovalError(EnforcementError):
    """An approval handler failed or timed out in a way it could not report; the action is refused."""


class AuditError(GovernanceError):
    """Something is wrong with an audit trail: a record could not be written, or a trail failed verification."""


class AuditWriteError(AuditError):
    """An audit record could not be written; the action it describes is refused."""


class AuditIntegrityError(AuditError):
    """An audit trail failed verification.

    Attributes:
        index: Sequence number of the first record that failed.
    """

    def __init__(self, message: str, *, index: int | None = None, help: str | None = None) -> None:
        super().__init__(message, help=help)
        self.index = index


class PolicyWarning(UserWarning):
    """A policy loaded, but something in it is probably a mistake (a field its request_schema does not declare)."""


def _rebuild_policy_error(
    reason: str,
    file: str | None,
    line: int | None,
    column: int | None,
    path: str | None,
    expected: str | None,
    help: str | None,
) -> PolicyError:
    return PolicyError(reason, file=file, line=line, column=column, path=path, expected=expected, help=help)


def _rebuild_denied(decision: Decision, approval: Any, help: str | None = None) -> GovernanceDenied:
    return GovernanceDenied(decision, approval=approval, help=help)
