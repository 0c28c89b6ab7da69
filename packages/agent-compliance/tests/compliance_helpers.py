"""Helpers for the agent-compliance tests (a unique module name: tests run in importlib mode)."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_compliance import main

DATA = Path(__file__).parent / "data"


@dataclass
class Result:
    code: int
    out: str
    err: str


def agt(*args: str, capsys: pytest.CaptureFixture[str] | None = None) -> Result:
    """Run agt in-process; stdout through main's stdout, stderr captured by capsys when given."""
    buffer = io.StringIO()
    code = main(list(args), stdout=buffer)
    err = capsys.readouterr().err if capsys is not None else ""
    return Result(code, buffer.getvalue(), err)


def agt_process(*args: str, cwd: Path | None = None) -> Result:
    """Run `python -m agent_compliance` in a child process (no network, same interpreter)."""
    done = subprocess.run(
        [sys.executable, "-m", "agent_compliance", *args],
        capture_output=True,
        check=False,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def needs(module: str, distribution: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not has(module), reason=f"{distribution} is not installed in this session")
