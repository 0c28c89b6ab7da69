from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from compliance_helpers import agt, agt_process, needs

import agent_compliance

COMMANDS = [
    ("verify",),
    ("policy", "lint"),
    ("policy", "test"),
    ("policy", "eval"),
    ("policy", "schema"),
    ("policy", "migrate"),
    ("red-team", "scan"),
    ("red-team", "attack"),
    ("audit", "verify"),
    ("audit", "export"),
    ("audit", "checkpoint"),
    ("doctor",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code = agent_compliance.main([*command, "--help"])
    out = capsys.readouterr().out
    assert code == 0
    assert "examples:" in out and f"agt {' '.join(command)}" in out


def test_top_level_help_and_exit_codes_documented() -> None:
    result = agt_process("--help")
    assert result.code == 0
    assert (
        "exit codes: 0 pass; 1 findings at or above --fail-on; 2 usage, load or internal error" in result.out
    )


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert agent_compliance.main([]) == 2
    assert agent_compliance.main(["verify", "--format", "xml"]) == 2
    assert agent_compliance.main(["policy", "lint", "--fail-on", "sometimes", "x.yaml"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_version() -> None:
    result = agt_process("--version")
    assert (result.code, result.out.strip()) == (0, f"agt {agent_compliance.__version__}")


def test_console_script_runs() -> None:
    script = shutil.which("agt", path=os.path.dirname(sys.executable)) or shutil.which("agt")
    if script is None:
        pytest.skip("the `agt` console script is not installed in this environment")
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.startswith("agt ")


def test_import_is_light() -> None:
    code = (
        "import sys, agent_compliance; "
        "heavy = [m for m in ('pydantic', 'yaml', 'agent_os._compile', 'agentmesh', 'agent_sre') if m in sys.modules]; "
        "print(heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_output_file(data: Path) -> None:
    result = agt("verify", "--policy", "weak.yaml", "--format", "sarif", "--output", "out.sarif")
    assert result.code == 1 and result.out == ""
    assert '"version": "2.1.0"' in (data / "out.sarif").read_text()


@needs("agent_sre", "agent-sre")
def test_bad_breaker_settings_exit_2(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data / "agt.yaml").write_text("policies: weak.yaml\ncircuit_breaker: {failure_threshold: -1}\n")
    result = agt("verify", "--config", "agt.yaml", capsys=capsys)
    assert result.code == 2 and "circuit_breaker settings" in result.err


def test_doctor(data: Path) -> None:
    result = agt("doctor", "--format", "json")
    assert result.code == 0
    import json

    report = json.loads(result.out)
    assert report["summary"]["evaluator"] in report["summary"]["evaluators"]
    assert report["summary"]["versions"]["agent-compliance"] == agent_compliance.__version__
    (data / "agt.yaml").write_text("policies: missing.yaml\n")
    result = agt("doctor", "--config", "agt.yaml", "--format", "json")
    assert result.code == 1
    messages = [f["message"] for f in json.loads(result.out)["findings"]]
    assert any("`policies` names" in m and "missing.yaml" in m for m in messages)


def test_public_api_matches_all() -> None:
    assert len(set(agent_compliance.__all__)) == len(agent_compliance.__all__)
    assert dir(agent_compliance) == sorted(agent_compliance.__all__)
    for name in agent_compliance.__all__:
        value = getattr(agent_compliance, name)
        assert value is not None
        module = getattr(value, "__module__", "agent_compliance")
        assert module.startswith(("agent_compliance", "builtins", "typing")), (name, module)
    with pytest.raises(AttributeError):
        _ = agent_compliance.nothing_here


def test_action_runs_the_commands_it_documents() -> None:
    """The composite action's commands parse with this CLI (the action itself runs on GitHub)."""
    import yaml

    action = yaml.safe_load((Path(__file__).resolve().parents[1] / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    scripts = "\n".join(step.get("run", "") for step in action["runs"]["steps"])
    assert "agt policy lint" in scripts and "agt verify" in scripts
    parser = __import__("agent_compliance._cli", fromlist=["build_parser"]).build_parser()
    ns = parser.parse_args(
        ["policy", "lint", "p", "--format", "sarif", "--output", "x", "--fail-on", "error"]
    )
    assert ns.format == "sarif"
    ns = parser.parse_args(
        ["verify", "--config", "c", "--format", "md", "--output", "x", "--fail-on", "never"]
    )
    assert ns.fail_on == "never"
