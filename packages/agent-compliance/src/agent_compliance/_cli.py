"""The `agt` command line (argparse: it starts fast; the engines load only for the command run).

Exit codes, for every command: 0 nothing at or above ``--fail-on``; 1 findings at or above it;
2 bad usage, a policy or input that does not load, or an internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from agent_compliance._formats import FORMATS
from agent_compliance._version import __version__

if TYPE_CHECKING:
    from agent_compliance._report import Report

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

_MAIN_EPILOG = """\
examples:
  agt verify --policy policies/                 attack the policies per OWASP ASI01-ASI10
  agt verify --config agt.yaml --format sarif --output agt.sarif
  agt policy lint policies/                     load errors and lints with file:line:column
  agt policy test policy.yaml --cases cases.yaml
  agt policy eval policy.yaml --request '{"action": "drop"}'
  agt policy migrate peer.yaml -o policy.yaml  rewrite a Microsoft AGT policy, listing every change
  agt red-team scan prompts/ tools.json         grade prompts and tool manifests
  agt audit verify trail.jsonl --head <hash>
  agt doctor

exit codes: 0 pass; 1 findings at or above --fail-on; 2 usage, load or internal error
"""

_EPILOGS = {
    "verify": """\
examples:
  agt verify --policy policy.yaml
  agt verify --policy policies/ --format md --output compliance.md
  agt verify --config agt.yaml --format sarif --output agt.sarif --fail-on warning

Each risk is PASS, PARTIAL, FAIL, NOT RUN or N/A, with every attack request, its decision and
the deciding rule as evidence. Checks that need a package that is not installed are NOT RUN,
never PASS. A failed risk is an error finding, a partial one a warning, a check not run a note.
""",
    "lint": """\
examples:
  agt policy lint policy.yaml
  agt policy lint policies/ --format sarif --output lint.sarif

A policy that does not load is reported at its file, line and column, with exit code 2.
""",
    "test": """\
examples:
  agt policy test policy.yaml --cases cases.yaml

cases.yaml:
  cases:
  - name: drops are denied
    request: {action: drop, args: {table: users}}
    expect: deny
    rule: block-destructive
""",
    "eval": """\
examples:
  agt policy eval policy.yaml --request '{"action": "drop", "args": {"table": "users"}}'
  agt policy eval policies/ --request @request.yaml --format json
""",
    "migrate": """\
examples:
  agt policy migrate peer-policy.yaml -o policy.yaml
  agt policy migrate peer-policies/ -o policies/

Rewrites policies written for Microsoft's Agent Governance Toolkit into this toolkit's format and
prints every change and why (docs/migrating.md). A policy that cannot be translated faithfully is
not written; its reason is printed and the exit code is 2.
""",
    "schema": """\
examples:
  agt policy schema > policy.schema.json
  agt policy schema --kind request
""",
    "scan": """\
examples:
  agt red-team scan prompts/system.md
  agt red-team scan prompts/ mcp-tools.json --format sarif --output redteam.sarif
""",
    "attack": """\
examples:
  agt red-team attack --policy policy.yaml
""",
    "audit-verify": """\
examples:
  agt audit verify trail.jsonl --head 3f2a...             exported lines, pinned to a published head
  agt audit verify trail.jsonl --count 1200
  agt audit verify audit.db --checkpoint cp.json --public-key signer.pem.pub   (needs agent-hypervisor)
""",
    "audit-export": """\
examples:
  agt audit export audit.db --out trail.jsonl            (needs agent-hypervisor)
  agt audit export audit.db --format cloudevents --out events.jsonl
""",
    "audit-checkpoint": """\
examples:
  agt audit checkpoint audit.db --key signer.pem --out cp.json   (needs agent-hypervisor)
""",
    "doctor": """\
examples:
  agt doctor
  agt doctor --config agt.yaml --format json
""",
}


def _sub(
    parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str, epilog_key: str
) -> argparse.ArgumentParser:
    return parent.add_parser(
        name,
        help=help,
        description=help,
        epilog=_EPILOGS[epilog_key],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _output_options(parser: argparse.ArgumentParser, *, default_fail_on: str = "error") -> None:
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning", "note", "never"),
        default=default_fail_on,
        help=f"exit 1 when a finding is at or above this level (default: {default_fail_on})",
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(
        prog="agt",
        description="Agent Governance Toolkit: verify deployments against the OWASP Agentic Top 10, lint and "
        "test policies, red-team prompts, verify audit trails.",
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"agt {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    verify = _sub(
        commands, "verify", "attack the deployment per OWASP ASI01-ASI10 and report evidence", "verify"
    )
    verify.add_argument(
        "--policy", action="append", default=[], metavar="PATH", help="policy file or folder (repeatable)"
    )
    verify.add_argument(
        "--agent-id", metavar="ID", help="the agent the probes act as (overrides agent_id: of --config)"
    )
    verify.add_argument(
        "--config",
        metavar="FILE",
        help="deployment file (agt.yaml): policies, command policy, "
        "kill switch, circuit breaker, audit trail",
    )
    _output_options(verify)
    verify.set_defaults(handler=_verify)

    policy = commands.add_parser(
        "policy",
        help="lint, test, evaluate policies; print the policy JSON Schema",
        description="lint, test, evaluate policies; print the policy JSON Schema",
    )
    policy_commands = policy.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    lint = _sub(
        policy_commands, "lint", "report load errors and policies that load but do not protect", "lint"
    )
    lint.add_argument("paths", nargs="+", metavar="PATH")
    _output_options(lint, default_fail_on="warning")
    lint.set_defaults(handler=_lint)
    test = _sub(policy_commands, "test", "run table-driven test cases against policies", "test")
    test.add_argument("paths", nargs="+", metavar="PATH")
    test.add_argument("--cases", required=True, metavar="FILE", help="YAML file of cases")
    _output_options(test)
    test.set_defaults(handler=_test)
    evaluate = _sub(policy_commands, "eval", "decide one request and show every matched rule", "eval")
    evaluate.add_argument("paths", nargs="+", metavar="PATH")
    evaluate.add_argument(
        "--request", required=True, metavar="JSON|@FILE", help="the request, as JSON or @file"
    )
    _output_options(evaluate)
    evaluate.set_defaults(handler=_eval)
    migrate = _sub(
        policy_commands, "migrate", "rewrite peer (Microsoft AGT) policies into this format", "migrate"
    )
    migrate.add_argument("source", metavar="IN", help="a peer policy file, or a folder of them")
    migrate.add_argument(
        "--output", "-o", required=True, metavar="OUT", help="the migrated file (a folder when IN is one)"
    )
    migrate.set_defaults(handler=_migrate)
    schema = _sub(policy_commands, "schema", "print a JSON Schema of the toolkit's documents", "schema")
    schema.add_argument("--kind", choices=("policy", "request", "decision", "audit-record"), default="policy")
    schema.set_defaults(handler=_schema)

    red = commands.add_parser(
        "red-team",
        help="grade prompts for injection exposure; replay injected tool calls",
        description="grade prompts for injection exposure; replay injected tool calls",
    )
    red_commands = red.add_subparsers(dest="red_command", metavar="COMMAND", required=True)
    scan = _sub(red_commands, "scan", "grade system prompts, tool descriptions and MCP manifests", "scan")
    scan.add_argument("paths", nargs="+", metavar="PATH")
    _output_options(scan)
    scan.set_defaults(handler=_scan)
    attack = _sub(red_commands, "attack", "replay injection-driven tool calls against the policy", "attack")
    attack.add_argument("--policy", action="append", required=True, metavar="PATH")
    attack.add_argument("--agent-id", default="agt-verify-probe", help="the agent id the calls act as")
    _output_options(attack)
    attack.set_defaults(handler=_attack)

    audit = commands.add_parser(
        "audit",
        help="verify, export and checkpoint audit trails",
        description="verify, export and checkpoint audit trails",
    )
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    averify = _sub(
        audit_commands, "verify", "verify an audit trail (JSON lines, or a SQLite store)", "audit-verify"
    )
    averify.add_argument("trail", metavar="FILE")
    averify.add_argument("--head", metavar="HASH", help="hash the last record must have (JSON lines)")
    averify.add_argument("--count", type=int, metavar="N", help="records the trail must hold (JSON lines)")
    averify.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="check JSON lines without a head or count (truncation goes unnoticed)",
    )
    averify.add_argument("--checkpoint", metavar="FILE", help="signed checkpoint (SQLite store)")
    averify.add_argument("--public-key", metavar="FILE", help="the checkpoint signer's public key")
    averify.add_argument(
        "--deep", action="store_true", help="also check canonical form and SQLite's integrity"
    )
    _output_options(averify)
    averify.set_defaults(handler=_audit_verify)
    export = _sub(
        audit_commands, "export", "export a SQLite store as JSON lines or CloudEvents", "audit-export"
    )
    export.add_argument("store", metavar="STORE")
    export.add_argument("--format", choices=("jsonl", "cloudevents"), default="jsonl")
    export.add_argument("--out", metavar="FILE")
    export.set_defaults(handler=_audit_export)
    checkpoint = _sub(audit_commands, "checkpoint", "sign a checkpoint of a SQLite store", "audit-checkpoint")
    checkpoint.add_argument("store", metavar="STORE")
    checkpoint.add_argument("--key", required=True, metavar="PEM")
    checkpoint.add_argument("--out", metavar="FILE")
    checkpoint.set_defaults(handler=_audit_checkpoint)

    doctor = _sub(commands, "doctor", "show versions, the active evaluator and setup problems", "doctor")
    doctor.add_argument("--config", metavar="FILE")
    _output_options(doctor, default_fail_on="error")
    doctor.set_defaults(handler=_doctor)
    return parser


class _Run:
    def __init__(self, ns: argparse.Namespace, out: TextIO) -> None:
        self.ns = ns
        self.out = out

    def emit(self, report: Report) -> None:
        from agent_compliance._render import render

        text = render(report, self.ns.format)
        if getattr(self.ns, "output", None):
            with open(self.ns.output, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        else:
            print(text, file=self.out)

    def finish(self, report: Report) -> int:
        from agent_compliance._report import exit_code

        self.emit(report)
        return exit_code(report, self.ns.fail_on)


def _verify(run: _Run) -> int:
    from agent_compliance._config import DeploymentConfig, load_config
    from agent_compliance._verify import run_verify

    config = load_config(run.ns.config) if run.ns.config else DeploymentConfig()
    if run.ns.agent_id is not None:
        config = config.model_copy(update={"agent_id": run.ns.agent_id})
    return run.finish(run_verify(run.ns.policy, config, run.ns.config))


def _lint(run: _Run) -> int:
    from agent_compliance._lint import lint_policies

    return run.finish(lint_policies(run.ns.paths))


def _compile(paths: Sequence[str]) -> object:
    import warnings

    from agent_compliance._lint import LoadFailed, load_error_finding
    from agent_compliance._report import Report
    from agent_os import compile_policies
    from agt_core import PolicyError, PolicyWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicyWarning)
            return compile_policies(list(paths))
    except PolicyError as err:
        raise LoadFailed(Report(command="policy", findings=[load_error_finding(err)])) from err


def _test(run: _Run) -> int:
    from agent_compliance._policy_cases import run_cases

    return run.finish(run_cases(_compile(run.ns.paths), run.ns.cases))  # type: ignore[arg-type]


def _eval(run: _Run) -> int:
    from agent_compliance._policy_cases import eval_request
    from agent_compliance._requests import read_request_argument

    request = read_request_argument(run.ns.request)
    return run.finish(eval_request(_compile(run.ns.paths), request))  # type: ignore[arg-type]


def _migrate(run: _Run) -> int:
    """A thin command over `agent_os.migrate_policy`: read, migrate, write, print the changes."""
    from pathlib import Path

    import yaml

    from agent_os import MigrationError, migrate_policy

    source, target = Path(run.ns.source), Path(run.ns.output)
    if source.is_dir():
        pairs = [(p, target / p.relative_to(source)) for p in sorted(source.rglob("*.y*ml"))]
    else:
        pairs = [(source, target)]
    code = EXIT_OK
    for src, dst in pairs:
        try:
            data = yaml.safe_load(src.read_text(encoding="utf-8"))
            result = migrate_policy(data, name=src.stem)
        except (OSError, yaml.YAMLError, MigrationError) as exc:
            print(f"{src}: not migrated: {exc}", file=run.out)
            code = EXIT_USAGE
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(yaml.safe_dump(result.document, sort_keys=False, allow_unicode=True), encoding="utf-8")
        print(f"{src} -> {dst}: {len(result.changes)} change(s)", file=run.out)
        for change in result.changes:
            print(f"  {change}", file=run.out)
    return code


def _schema(run: _Run) -> int:
    import json

    from agt_core import json_schema

    print(json.dumps(json_schema(run.ns.kind), indent=2, sort_keys=True), file=run.out)
    return EXIT_OK


def _scan(run: _Run) -> int:
    from agent_compliance._redteam import scan_paths

    return run.finish(scan_paths(run.ns.paths))


def _attack(run: _Run) -> int:
    from agent_compliance._redteam import attack_policies

    return run.finish(attack_policies(_compile(run.ns.policy), run.ns.agent_id, run.ns.policy[0]))  # type: ignore[arg-type]


def _audit_verify(run: _Run) -> int:
    from agent_compliance._audit import verify_audit
    from agent_compliance._report import Finding, Location, Report, RuleInfo

    ns = run.ns
    verdict = verify_audit(
        ns.trail,
        head=ns.head,
        count=ns.count,
        allow_unpinned=ns.allow_unpinned,
        checkpoint=ns.checkpoint,
        public_key=ns.public_key,
        deep=ns.deep,
    )
    rule = RuleInfo(
        id="AGT-A001", name="audit-trail-tampered", description="The audit trail does not verify."
    )
    report = Report(command="audit verify", rules={rule.id: rule}, artifacts=[ns.trail])
    report.lines.append(f"{ns.trail}: {verdict.summary}")
    report.summary = {
        "ok": verdict.ok,
        "records": verdict.records,
        "head": verdict.head,
        "first_bad_index": verdict.first_bad_index,
        "pinned": verdict.pinned,
    }
    if not verdict.ok:
        report.findings.append(
            Finding(
                rule_id=rule.id,
                level="error",
                message=f"{ns.trail}: {verdict.summary}",
                location=Location(file=ns.trail, line=verdict.first_bad_index + 1)
                if verdict.first_bad_index is not None
                and not ns.trail.endswith((".db", ".sqlite", ".sqlite3"))
                else Location(file=ns.trail),
            )
        )
    return run.finish(report)


def _hypervisor_cli(args: list[str], out: TextIO) -> int:
    from agent_compliance._optional import installed, missing_note
    from agent_compliance._requests import UsageError

    if not installed("agent-hypervisor"):
        raise UsageError(f"this command needs agent-hypervisor; {missing_note('agent-hypervisor')}")
    from agent_hypervisor import run_cli

    return int(run_cli(args, out))


def _audit_export(run: _Run) -> int:
    args = ["export", run.ns.store, "--format", run.ns.format]
    return _hypervisor_cli(args + (["--out", run.ns.out] if run.ns.out else []), run.out)


def _audit_checkpoint(run: _Run) -> int:
    args = ["checkpoint", run.ns.store, "--key", run.ns.key]
    return _hypervisor_cli(args + (["--out", run.ns.out] if run.ns.out else []), run.out)


def _doctor(run: _Run) -> int:
    from agent_compliance._doctor import run_doctor

    return run.finish(run_doctor(run.ns.config))


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    """Run `agt` with `argv` (default: the process arguments) and return the exit code.

    The console script calls this and exits with the result; call it in-process from tests or
    tools. Usage errors exit through argparse with code 2.
    """
    out = stdout or sys.stdout
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    handler: Callable[[_Run], int] = ns.handler
    run = _Run(ns, out)
    from agent_compliance._lint import LoadFailed
    from agent_compliance._requests import UsageError

    try:
        return handler(run)
    except LoadFailed as exc:
        if getattr(ns, "format", "text") in FORMATS:
            run.emit(exc.report)
        for finding in exc.report.findings:
            where = f"{finding.location}: " if finding.location else ""
            print(f"agt: error: {where}{finding.message}", file=sys.stderr)
            if finding.help:
                print(f"  help: {finding.help}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"agt: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"agt: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # fail closed: an internal error is never a pass
        if os.environ.get("AGT_DEBUG"):
            traceback.print_exc()
        print(
            f"agt: internal error: {type(exc).__name__}: {exc} (set AGT_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_USAGE
