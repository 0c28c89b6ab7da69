"""The README's example runs as written: the refused call never executes and the model is told why."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from agt_integrations.testing import readme_example

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Run as a script file: smolagents' @tool reads the function's source code from its file.
    script = tmp_path / "readme_example.py"
    script.write_text(readme_example(README), encoding="utf-8")
    runpy.run_path(str(script), run_name="readme_example")
    assert "was refused by rule `block-destructive`" in capsys.readouterr().out
