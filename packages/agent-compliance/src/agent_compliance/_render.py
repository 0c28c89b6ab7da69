"""Report renderers: text for people, JSON for scripts, SARIF 2.1.0 for code scanning, Markdown for reviews."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from agent_compliance._report import Finding, Report
from agent_compliance._version import __version__

__all__ = ["render"]


_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub code scanning ranks security results by this property (0.1-10).
_SECURITY_SEVERITY = {"error": "8.0", "warning": "5.0", "note": "2.0"}
_STATUS_MARK = {
    "pass": "PASS",
    "partial": "PARTIAL",
    "fail": "FAIL",
    "not-run": "NOT RUN",
    "not-applicable": "N/A",
}


def render(report: Report, fmt: str) -> str:
    """Render `report` in `fmt` (one of `FORMATS`)."""
    if fmt == "json":
        return json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True)
    if fmt == "sarif":
        return json.dumps(_sarif(report), indent=2)
    if fmt == "md":
        return _markdown(report)
    return _text(report)


def _where(finding: Finding) -> str:
    return f"{finding.location}: " if finding.location is not None else ""


def _text(report: Report) -> str:
    out = list(report.lines)
    for risk in report.risks:
        passed = sum(1 for c in risk.checks if c.status == "pass")
        out.append(
            f"{risk.id} {risk.name}: {_STATUS_MARK[risk.status]} ({passed}/{len(risk.checks)} checks passed)"
        )
        if risk.reason:
            out.append(f"    declared not applicable: {risk.reason}")
        # Text shows what needs attention; --format json or md lists every check with its evidence.
        for check in risk.checks:
            if check.status != "pass":
                out.append(f"    [{check.status}] {check.name}: {check.detail}")
        out.extend(f"    to do: {advice}" for advice in risk.advice)
    # A verify report's findings repeat its risk table: the table is the text form.
    for finding in [] if report.risks else report.findings:
        out.append(f"{_where(finding)}{finding.level}[{finding.rule_id}]: {finding.message}")
        if finding.help:
            out.append(f"  help: {finding.help}")
    counts = {
        level: sum(1 for f in report.findings if f.level == level) for level in ("error", "warning", "note")
    }
    out.append(
        f"agt {report.command}: {counts['error']} error(s), {counts['warning']} warning(s), {counts['note']} note(s)"
    )
    return "\n".join(out)


def _uri(path: str) -> str:
    pure = PurePath(path)
    if pure.is_absolute():
        return pure.as_posix() if path.startswith("/") else "file:///" + pure.as_posix()
    return pure.as_posix()


def _sarif(report: Report) -> dict[str, Any]:
    rule_ids = sorted({f.rule_id for f in report.findings} | set(report.rules))
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    rules = []
    for rule_id in rule_ids:
        info = report.rules.get(rule_id)
        rules.append(
            {
                "id": rule_id,
                "name": info.name if info else rule_id,
                "shortDescription": {"text": info.name if info else rule_id},
                "fullDescription": {"text": info.description if info else rule_id},
                "properties": {"tags": ["security"]},
            }
        )
    results = []
    for finding in report.findings:
        result: dict[str, Any] = {
            "ruleId": finding.rule_id,
            "ruleIndex": index[finding.rule_id],
            "level": finding.level,
            "message": {"text": finding.message + (f"\nhelp: {finding.help}" if finding.help else "")},
            "properties": {"security-severity": _SECURITY_SEVERITY[finding.level]},
        }
        if finding.evidence:
            result["properties"]["evidence"] = list(finding.evidence)
        if finding.location is not None:
            physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(finding.location.file)}}
            if finding.location.line is not None:
                region: dict[str, Any] = {"startLine": finding.location.line}
                if finding.location.column is not None:
                    region["startColumn"] = finding.location.column
                physical["region"] = region
            result["locations"] = [{"physicalLocation": physical}]
        results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "agt",
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        "results": results,
        "properties": {"command": report.command},
    }
    if report.artifacts:
        run["artifacts"] = [{"location": {"uri": _uri(path)}} for path in report.artifacts]
    return {"$schema": _SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(report: Report) -> str:
    out = [f"# agt {report.command} report", ""]
    if report.risks:
        out += ["| risk | name | status | checks passed |", "|---|---|---|---|"]
        for risk in report.risks:
            passed = sum(1 for c in risk.checks if c.status == "pass")
            out.append(
                f"| {risk.id} | {risk.name} | {_STATUS_MARK[risk.status]} | {passed}/{len(risk.checks)} |"
            )
        out.append("")
        for risk in report.risks:
            out += [f"## {risk.id} {risk.name}: {_STATUS_MARK[risk.status]}", ""]
            if risk.reason:
                out += [f"Declared not applicable: {risk.reason}", ""]
            for check in risk.checks:
                out.append(f"- **{check.status}** {check.name}: {_cell(check.detail)}")
                for item in check.evidence:
                    out.append(f"  - `{_cell(json.dumps(item, sort_keys=True))}`")
            if risk.advice:
                out += ["", "To reach full coverage:", ""]
                out += [f"- {advice}" for advice in risk.advice]
            out.append("")
    if report.findings:
        out += ["## Findings", "", "| level | rule | where | message |", "|---|---|---|---|"]
        for f in report.findings:
            where = str(f.location) if f.location else ""
            out.append(f"| {f.level} | {f.rule_id} | {_cell(where)} | {_cell(f.message)} |")
        out.append("")
    elif not report.risks:
        out += ["No findings.", ""]
    return "\n".join(out)
