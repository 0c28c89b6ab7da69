"""The README's two commands are the ones CI and a new user run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^(\./dev \w+)\s+#", readme, flags=re.MULTILINE)
    assert commands == ["./dev demo", "./dev test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert [line.strip() for line in ci.splitlines() if line.strip().startswith("./dev")] == ["./dev test"]


def test_dev_maps_the_commands_to_the_nox_sessions_that_exist() -> None:
    dev = (ROOT / "dev").read_text(encoding="utf-8")
    assert "test) shift; exec nox -s tests" in dev
    assert "demo) shift; exec nox -s demo" in dev
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    for session in ("def tests(", "def demo(", "def lint(", "def bench(", "def conformance(", "def docs("):
        assert session in noxfile
