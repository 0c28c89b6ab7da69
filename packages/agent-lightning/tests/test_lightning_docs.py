"""Run every python block of docs/agent-lightning.md, including those the docs session skips.

The docs session marks the gymnasium examples ``# not-run: needs gymnasium``; here gymnasium is
installed, so they run, in document order, in one namespace, with the page's YAML files written.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "agent-lightning.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


@pytest.mark.skipif(not DOC.is_file(), reason="docs/ is not beside this checkout")
def test_doc_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = DOC.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "docs_agent_lightning"}
    ran = 0
    for match in _FENCE.finditer(text):
        lang, code = match.group(1), match.group(2)
        first = code.split("\n", 1)[0].strip()
        if lang == "yaml" and re.fullmatch(r"#\s*[\w.-]+\.ya?ml", first):
            (tmp_path / first.lstrip("# ").strip()).write_text(code, encoding="utf-8")
        elif lang == "python":
            if first.startswith("# not-run:"):
                assert "needs gymnasium" in first, first
            line = text.count("\n", 0, match.start(2))
            exec(compile("\n" * line + code, str(DOC), "exec"), namespace)
            ran += 1
    assert ran >= 6


README = Path(__file__).resolve().parents[1] / "README.md"
SEED_POLICY = """\
apiVersion: governance.toolkit/v1
name: frozen
default_action: allow
rules:
- name: never-right
  condition: "action.type == 'right'"
  action: deny
"""


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text(SEED_POLICY, encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "readme_agent_lightning"}
    blocks = [
        m.group(2) for m in _FENCE.finditer(README.read_text(encoding="utf-8")) if m.group(1) == "python"
    ]
    for code in blocks:
        exec(compile(code, str(README), "exec"), namespace)
    env = namespace["env"]
    env.reset(seed=0)  # type: ignore[attr-defined]
    *_, info = env.step(2)  # type: ignore[attr-defined]
    assert info["governance"]["rule"] == "never-right" and info["cost"] == 1.0
    assert len(blocks) == 2
