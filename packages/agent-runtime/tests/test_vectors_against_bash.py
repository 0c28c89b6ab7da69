"""Ground truth for the command vectors: run them in real bash, inside the sandbox, and see what ran.

Every denied program name is a logging stub first on PATH. For each vector the policy *allows*
under a deny-list, bash must not start a denied program; for a set of evasions the policy
refuses, bash must start one (the harness can see executions, and those evasions are real).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agent_runtime import ResourceLimits, namespaces_available, run_sandboxed

VECTORS = json.loads((Path(__file__).parent / "vectors" / "commands.json").read_text())
# Refused evasions that are safe to run with every denied name stubbed (no absolute paths).
REAL_EVASIONS = [
    "backslash-alias-bypass", "empty-single-quotes", "escaped-letter", "ansi-c-hex", "semicolon",
    "command-substitution", "backticks", "bash-c", "nested-sh-c", "bash-heredoc", "pipe-to-sh",
    "env-prefix", "timeout", "nice", "find-exec", "assigned-variable-command", "ifs-split",
    "brace-expansion", "xargs", "flock-c", "eval",
]  # fmt: skip

DRIVER = textwrap.dedent("""
    import json, os, signal, subprocess, sys
    results = {}
    for name, command, deny in json.loads(sys.stdin.read()):
        home = "/tmp/work/" + name
        os.makedirs(home + "/bin")
        log = home + "/ran.log"
        for program in deny:
            stub = home + "/bin/" + program
            with open(stub, "w") as f:
                f.write("#!/bin/sh\\necho " + program + " >> " + log + "\\n")
            os.chmod(stub, 0o755)
        open(home + "/files", "w").write("a\\n")
        env = {"PATH": home + "/bin:/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C"}
        proc = subprocess.Popen(["bash", "-c", command], cwd=home, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        results[name] = open(log).read().split() if os.path.exists(log) else []
    print(json.dumps(results))
""")


@pytest.mark.skipif(
    not namespaces_available() or shutil.which("bash") is None, reason="needs bash and namespaces"
)
def test_bash_runs_no_denied_program_for_allowed_vectors_and_does_for_evasions() -> None:
    default = VECTORS["default_deny"]
    cases: list[Any] = [
        (c["name"], c["command"], c.get("deny", default))
        for c in VECTORS["cases"]
        if "allow" not in c and (c["expect"] == "allow" or c["name"] in REAL_EVASIONS)
    ]
    limits = ResourceLimits(cpu_seconds=60, wall_seconds=240, processes=64, output_bytes=1 << 20)
    result = run_sandboxed(["python3", "-c", DRIVER], stdin=json.dumps(cases).encode(), limits=limits)
    assert result.ok, result.stderr.decode()[-2000:]
    ran: dict[str, list[str]] = json.loads(result.stdout)
    allowed = {c["name"] for c in VECTORS["cases"] if c["expect"] == "allow" and "allow" not in c}
    assert {name: ran[name] for name in allowed if ran[name]} == {}
    assert [name for name in REAL_EVASIONS if not ran[name]] == []
