"""The README's example runs as written: the refused call never executes and the model is told why."""

from __future__ import annotations

from pathlib import Path

import pytest

from agt_integrations.testing import readme_example

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = compile(readme_example(README), str(README), "exec")
    exec(code, {"__name__": "readme_example"})
    assert "was refused by rule `block-destructive`" in capsys.readouterr().out
