"""Run the code in the documentation so that examples cannot rot.

Every fenced ```python block of README.md, docs/*.md and packages/*/README.md is executed. The
blocks of one file run in document order, in one namespace, in a fresh temporary working
directory. A ```yaml block whose first line is a comment naming a file (``# policy.yaml``) is
written to that file, relative to the working directory, when it is reached, so a quick start
that loads "policy.yaml" finds it.

A python block opts out with a first line ``# not-run: <reason>``. A block that is meant to show
an exception must catch it in its own code: any exception fails the test, naming the file, the
block number and the line in the Markdown file (tracebacks point at the Markdown lines too).
"""

from __future__ import annotations

import re
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = sorted(
    p
    for p in {ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("packages/*/README.md")}
    if p.is_file()
)

_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_FILE_COMMENT = re.compile(r"^#\s*(?P<name>[\w./-]+\.ya?ml)\s*$")
_NOT_RUN = re.compile(r"^#\s*not-run:(?P<reason>.*)$")


@dataclass(frozen=True)
class Block:
    lang: str
    line: int  # 1-based line of the first code line in the Markdown file
    code: str

    @property
    def first_line(self) -> str:
        return self.code.split("\n", 1)[0].strip()


def parse_blocks(text: str) -> list[Block]:
    """Fenced code blocks (CommonMark: ``` or ~~~, closed by a fence at least as long)."""
    blocks: list[Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m["fence"], len(m["indent"])
        lang = (m["info"].split() or [""])[0].lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            line = lines[j]
            strip = len(line) - len(line.lstrip(" "))
            body.append(line[min(strip, indent) :])
            j += 1
        blocks.append(Block(lang, i + 2, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def python_blocks(path: Path) -> list[Block]:
    return [b for b in parse_blocks(path.read_text(encoding="utf-8")) if b.lang in ("python", "py")]


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


FILES_WITH_CODE = [p for p in DOC_FILES if python_blocks(p)]


@pytest.mark.parametrize("path", FILES_WITH_CODE, ids=_rel)
def test_python_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(f"docs_example_{path.stem.replace('-', '_')}")
    module.__file__ = str(path)
    # Registered so that dataclasses and pydantic models defined in an example can resolve names.
    monkeypatch.setitem(sys.modules, module.__name__, module)
    number = 0
    for block in parse_blocks(path.read_text(encoding="utf-8")):
        if block.lang in ("yaml", "yml"):
            m = _FILE_COMMENT.match(block.first_line)
            if m:
                target = (tmp_path / m["name"]).resolve()
                assert target.is_relative_to(tmp_path.resolve()), (
                    f"{_rel(path)}:{block.line}: file outside the work dir"
                )
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.code, encoding="utf-8")
            continue
        if block.lang not in ("python", "py"):
            continue
        number += 1
        skip = _NOT_RUN.match(block.first_line)
        if skip:
            assert skip["reason"].strip(), f"{_rel(path)}:{block.line}: `# not-run:` needs a reason"
            continue
        where = f"{_rel(path)}: python block {number} (line {block.line})"
        # Pad with blank lines so that line numbers in tracebacks are the Markdown file's.
        source = "\n" * (block.line - 1) + block.code
        failure = None
        try:
            exec(compile(source, str(path), "exec", dont_inherit=True), module.__dict__)
        except (Exception, SystemExit) as exc:
            frames = traceback.format_exception(exc)
            # Keep the traceback from the Markdown file down: the frames of this test say nothing.
            start = next((i for i, f in enumerate(frames) if str(path) in f), 1)
            failure = f"{where} raised {type(exc).__name__}: {exc}\n{''.join(frames[start:])}"
        if failure is not None:
            pytest.fail(failure, pytrace=False)


def test_readme_quick_start_is_executed() -> None:
    blocks = python_blocks(ROOT / "README.md")
    run = [b for b in blocks if not _NOT_RUN.match(b.first_line)]
    assert any("govern(" in b.code and 'policy="policy.yaml"' in b.code for b in run), (
        "README.md must contain a run (not `# not-run:`) block with the quick start"
    )


def test_parser_handles_fences_and_line_numbers() -> None:
    text = (
        "intro\n```python\nx = 1\n```\n~~~~yaml\n# a.yaml\n```\nk: v\n~~~~\n  ```py title\n  y = 2\n  ```\n"
    )
    blocks = parse_blocks(text)
    assert [(b.lang, b.line, b.code) for b in blocks] == [
        ("python", 3, "x = 1\n"),
        ("yaml", 6, "# a.yaml\n```\nk: v\n"),
        ("py", 11, "y = 2\n"),
    ]
