"""The command policy's API: check_command, argument rules, the policy file, and govern() wiring."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os import AuditLog, GovernanceDenied, govern
from agent_runtime import (
    CommandFacts,
    CommandGuard,
    CommandPolicy,
    CommandRefused,
    check_command,
    invocations,
    load_command_policy,
)
from agt_core import PolicyError
from tests.conftest import ALLOW_ALL


def test_check_command_returns_a_decision() -> None:
    allowed = check_command("ls -la | grep x", allow=["ls", "grep"])
    assert allowed.allowed and allowed.effect == "allow" and allowed.policy == "command-policy"
    denied = check_command("sudo /bin/rm -rf /", deny=["rm"])
    assert not denied.allowed and denied.rule == "deny-list"
    assert denied.message == "`/bin/rm` (run through sudo) is on the deny-list"


def test_a_policy_that_checks_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="needs `deny`, `allow` or `arguments`"):
        CommandPolicy()
    with pytest.raises(ValueError, match="bare names"):
        CommandPolicy(deny=["/bin/rm"])
    with pytest.raises(ValueError, match="not one string"):
        CommandPolicy(deny="rm")


def test_argv_lists_are_checked_without_a_shell() -> None:
    policy = CommandPolicy(deny=["rm"])
    assert not policy.check(["sudo", "rm", "-rf", "/"]).allowed
    assert policy.check(["echo", "$(rm -rf /)", "; rm"]).allowed  # argv words are data, not shell
    assert not policy.check([]).allowed


def test_argument_rules() -> None:
    policy = CommandPolicy(
        deny=["curl"],
        arguments=[{"command": "git", "deny": [r"push\b.*(--force|-f\b)", r"^reset --hard"]}],
    )
    assert policy.check("git push origin main").allowed
    assert not policy.check("git push --force origin main").allowed
    assert not policy.check("sudo git reset --hard HEAD~3").allowed
    refused = policy.check("git push $REMOTE")
    assert not refused.allowed and "known only at run time" in refused.message
    assert not policy.check("xargs git push < remotes").allowed  # xargs appends unknown args


def test_invocations_expose_the_resolved_programs() -> None:
    found = invocations("sudo -u root env FOO=1 /usr/bin/python3 -c 'x'")
    assert [(i.name, i.via) for i in found] == [
        ("sudo", ()),
        ("env", ("sudo",)),
        ("python3", ("sudo", "env")),
    ]
    assert found[-1].path == "/usr/bin/python3" and found[-1].opaque is not None
    with pytest.raises(CommandRefused):
        invocations("$(x)")


def test_allow_env_lets_a_named_variable_through() -> None:
    assert not check_command("GIT_DIR=/repo git status", deny=["rm"]).allowed
    assert check_command("GIT_DIR=/repo git status", deny=["rm"], allow_env=["GIT_DIR"]).allowed


def test_script_files_can_be_refused_under_a_deny_list() -> None:
    strict = CommandPolicy(deny=["rm"], allow_script_files=False)
    assert not strict.check("bash build.sh").allowed
    assert not strict.check("python3 tool.py").allowed
    assert strict.check("python3 -m pytest").allowed


POLICY_YAML = """\
apiVersion: governance.toolkit/v1
kind: CommandPolicy
name: shell
description: what the shell tool may run
allow: [ls, git, grep]
arguments:
  - command: git
    deny: ['^push']
"""


def test_load_command_policy_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "commands.yaml"
    path.write_text(POLICY_YAML)
    policy = load_command_policy(path)
    assert policy.name == "shell" and policy.mode == "allow"
    assert policy.check("git status | grep x").allowed
    assert not policy.check("git push").allowed
    assert load_command_policy(POLICY_YAML) == policy


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("apiVersion: governance.toolkit/v1\nkind: Policy\nallow: [ls]\n", "kind", "kind: CommandPolicy"),
        ("kind: CommandPolicy\nallow: [ls]\n", "apiVersion", "apiVersion"),
        ("apiVersion: governance.toolkit/v1\nkind: CommandPolicy\nalow: [ls]\n", "alow", "extra"),
        (
            "apiVersion: governance.toolkit/v1\nkind: CommandPolicy\ndeny: [ls]\narguments:\n  - command: git\n    deny: ['(']\n",
            "arguments.0.deny",
            "invalid regular expression",
        ),
    ],
)
def test_load_errors_name_the_field(text: str, path: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_command_policy(text)
    assert info.value.path == path
    assert message.lower() in str(info.value).lower()


def test_load_error_for_bad_yaml_has_a_position() -> None:
    with pytest.raises(PolicyError) as info:
        load_command_policy("apiVersion: [\nkind: x\n")
    assert info.value.line is not None


# -- through govern() ----------------------------------------------------------------------------


def run_shell(command: str) -> str:
    return f"ran {command}"


def test_command_guard_refuses_before_the_tool_runs_and_audits() -> None:
    log = AuditLog()
    guard = CommandGuard(CommandPolicy(deny=["rm", "curl"]), tools={"run_shell": "command"})
    shell = govern(run_shell, policy=ALLOW_ALL, audit=log, guards=[guard])
    assert shell(command="ls -la") == "ran ls -la"
    with pytest.raises(GovernanceDenied) as info:
        shell(command="ls; sudo /bin/rm -rf /")
    decision = info.value.decision
    assert decision.refused_by == "guard:command-policy:command-policy"
    assert "deny-list" in decision.message
    assert log.records()[-1].decision.refused_by == decision.refused_by


def test_command_guard_fails_closed_on_missing_or_odd_arguments() -> None:
    guard = CommandGuard(CommandPolicy(deny=["rm"]))
    assert guard.check({"action": {"tool": "x"}, "args": {}}) == "the call has no command argument to check"
    assert guard.check({"action": {"tool": "x"}, "args": {"command": 42}}) is not None
    other_tool = CommandGuard(CommandPolicy(deny=["rm"]), tools={"shell": "cmd"})
    assert other_tool.check({"action": {"tool": "calc"}, "args": {"x": "rm"}}) is None


def test_command_facts_let_policy_rules_judge_programs() -> None:
    policy = {
        "apiVersion": "governance.toolkit/v1",
        "name": "shell-rules",
        "default_action": "allow",
        "rules": [
            {
                "name": "unparsed",
                "condition": "action.tool == 'run_shell' && !context.command.parsed",
                "action": "deny",
            },
            {
                "name": "no-network-tools",
                "condition": "action.tool == 'run_shell' && context.command.programs.exists(p, p in ['curl', 'wget', 'nc'])",
                "action": "deny",
            },
        ],
    }
    shell = govern(
        run_shell, policy=policy, audit=False, enrichers=[CommandFacts(tools={"run_shell": "command"})]
    )
    assert shell(command="git status") == "ran git status"
    with pytest.raises(GovernanceDenied) as info:
        shell(command="timeout 5 curl -s http://x")
    assert info.value.decision.rule == "no-network-tools"
    with pytest.raises(GovernanceDenied) as info:
        shell(command="eval $x")
    assert info.value.decision.rule == "unparsed"


_TOKENS = ["sudo", "-u", "bash", "-c", "'", '"', "env", "X=1", "find", "-exec", ";", "\\;", "xargs", "rm", "$x",
           "$(", ")", "`", "|", "&&", "<<<", "python3", "-", "awk", "sed", "-e", "git", "su", "watch", "set", "-o",
           "export", "read", "test", "-v", "[", "busybox", "sh", "-s", "<", ">", "a", " ", "\n", "--"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=14).map(" ".join))
def test_fuzz_the_checker_only_refuses_or_decides(line: str) -> None:
    decision = CommandPolicy(deny=["rm"]).check(line)
    assert decision.effect in ("allow", "deny")
    if "rm" in line and decision.allowed:
        # An allowed line with "rm" in it must not run rm: check it is only ever an argument.
        assert all(i.name != "rm" for i in invocations(line))
