"""The data every command reports: findings with locations and evidence, and the verify risk table.

One shape for every command keeps the renderers (text, JSON, SARIF, Markdown) and the exit code
rule in one place: a run fails when a finding is at or above ``--fail-on``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LEVELS",
    "CheckResult",
    "Finding",
    "Level",
    "Location",
    "Report",
    "RiskResult",
    "RuleInfo",
    "exit_code",
]

Level = Literal["error", "warning", "note"]
"""How serious a finding is (the SARIF levels)."""

LEVELS: dict[str, int] = {"note": 1, "warning": 2, "error": 3}

Status = Literal["pass", "partial", "fail", "not-run", "not-applicable"]
CheckStatus = Literal["pass", "fail", "not-run"]


class Location(BaseModel):
    """Where a finding is: a file and, when known, a 1-based line and column."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class RuleInfo(BaseModel):
    """A check the tool can report on (a SARIF reporting descriptor)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    description: str


class Finding(BaseModel):
    """One problem found, with where it is, what to do, and the evidence that shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    level: Level
    message: str
    location: Location | None = None
    help: str | None = None
    evidence: tuple[dict[str, Any], ...] = ()


class CheckResult(BaseModel):
    """One check of one risk: passed, failed, or could not run (and why)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    status: CheckStatus
    detail: str
    requires: str | None = Field(default=None, description="The distribution the check needs.")
    kind: Literal["probe", "control", "library"] = Field(
        default="control",
        description="`probe`: an attack request decided by the policies; `control`: a configured control "
        "(command policy, breaker, kill switch, audit trail, signatures) exercised directly; `library`: "
        "an installed package attacked on fresh identities (its pass alone never lifts a risk).",
    )
    evidence: tuple[dict[str, Any], ...] = ()


class RiskResult(BaseModel):
    """The verdict on one OWASP Agentic Top 10 risk, from its checks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    status: Status
    checks: tuple[CheckResult, ...] = ()
    advice: tuple[str, ...] = Field(default=(), description="What to add to reach full coverage.")
    reason: str | None = Field(default=None, description="Why the risk was declared not applicable.")


class Report(BaseModel):
    """What a command found."""

    model_config = ConfigDict(extra="forbid")

    command: str
    findings: list[Finding] = Field(default_factory=list)
    rules: dict[str, RuleInfo] = Field(default_factory=dict)
    risks: list[RiskResult] = Field(default_factory=list)
    summary: dict[str, Any] = Field(default_factory=dict)
    lines: list[str] = Field(default_factory=list, description="Human text for the text format.")
    artifacts: list[str] = Field(default_factory=list, description="Files the command read.")


def exit_code(report: Report, fail_on: str) -> int:
    """0 when no finding is at or above `fail_on` (``never`` never fails), else 1."""
    if fail_on == "never":
        return 0
    threshold = LEVELS[fail_on]
    return 1 if any(LEVELS[f.level] >= threshold for f in report.findings) else 0
