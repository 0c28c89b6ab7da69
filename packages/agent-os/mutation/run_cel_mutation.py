"""Mutation testing of the CEL engine (``agent_os._cel``) with mutmut, in a scratch folder.

mutmut mutates a copy of the source and runs the tests against each mutant. It wants to run
from a project root with its own configuration, so this script builds one outside the
repository: ``agent_os/_cel`` (under an empty ``agent_os`` package: the engine imports nothing
else of ours) and ``tests/cel``, then runs mutmut there and prints the score per module.

The generated-input tests (``test_cel_fuzz.py`` and the 1,500-example pin property) are left
out of the run: each mutant would cost them about half a minute. The score is therefore what
the example-based tests (and the smaller property tests) kill on their own.

Usage (from the repository root; needs ``pip install mutmut==3.8.1 pytest hypothesis google-re2``)::

    python packages/agent-os/mutation/run_cel_mutation.py                  # every module
    python packages/agent-os/mutation/run_cel_mutation.py _values _macros  # some modules
    python packages/agent-os/mutation/run_cel_mutation.py --report-only    # scores of the last run
    python packages/agent-os/mutation/run_cel_mutation.py --rerun-survivors  # after adding tests

Options: ``--workdir`` (default ``$TMPDIR/agt-cel-mutation``), ``--max-children`` (default 2),
``--time-limit`` seconds after which mutmut is stopped and the partial scores are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent
SOURCE = PACKAGE / "src" / "agent_os" / "_cel"
TESTS = PACKAGE / "tests" / "cel"
SLOW_TESTS = (
    "tests/cel/test_cel_analysis.py::test_a_pin_that_excludes_a_request_means_the_condition_is_false",
)


def _config(modules: list[str]) -> str:
    only = ", ".join(json.dumps(f"src/agent_os/_cel/{m}.py") for m in modules)
    selection = ["tests/cel", "--ignore=tests/cel/test_cel_fuzz.py", "-p", "no:randomly"]
    selection += [f"--deselect={test}" for test in SLOW_TESTS]
    return textwrap.dedent(
        f"""\
        [tool.mutmut]
        source_paths = ["src/agent_os"]
        only_mutate = [{only}]
        pytest_add_cli_args_test_selection = {json.dumps(selection)}
        use_git_change_detection = false

        [tool.pytest.ini_options]
        addopts = "-q -p no:cacheprovider"
        xfail_strict = true
        filterwarnings = ["error"]
        """
    )


# Compiled programs are cached. mutmut forks each mutant's worker from a process whose cache the
# clean run has filled with programs built by unmutated code, so without this every mutant of
# the compiler would survive: each test starts with empty caches.
_CONFTEST = """\
import pytest

from agent_os._cel import _functions, _program


@pytest.fixture(autouse=True)
def _fresh_caches():
    _program._compile.cache_clear()
    _functions._dynamic_regex.cache_clear()
"""


def _prepare(workdir: Path, modules: list[str]) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    package = workdir / "src" / "agent_os"
    shutil.copytree(SOURCE, package / "_cel", ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").write_text('"""Only the CEL engine, for mutation testing."""\n')
    shutil.copytree(TESTS, workdir / "tests" / "cel", ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / "tests" / "__init__.py").write_text("")
    (workdir / "tests" / "conftest.py").write_text(_CONFTEST)
    (workdir / "pyproject.toml").write_text(_config(modules))


def _run(
    workdir: Path, max_children: int, time_limit: float | None, mutants: list[str] | None = None
) -> None:
    env = {**os.environ, "PYTHONPATH": str(workdir / "src")}
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *(mutants or [])]
    # its own process group, so a time limit stops mutmut and every worker it forked
    with (workdir / "mutmut.log").open("wb") as log:  # its progress display, kept out of the way
        process = subprocess.Popen(  # noqa: S603 (our own interpreter running mutmut)
            command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            process.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            print(f"stopped after {time_limit:.0f} s; the scores below are partial", file=sys.stderr)


_STATUS = {
    0: "survived",
    1: "killed",
    3: "killed",
    -24: "timeout",
    24: "timeout",
    36: "timeout",
    152: "timeout",
}


def _rerun_survivors(workdir: Path, max_children: int, time_limit: float | None) -> None:
    """Runs the survivors of the last run again against the tests as they are now."""
    copied = workdir / "src" / "agent_os" / "_cel"
    for source in SOURCE.glob("*.py"):
        if source.read_bytes() != (copied / source.name).read_bytes():
            raise SystemExit(f"{source.name} changed since the run: start a new one instead")
    shutil.rmtree(workdir / "tests" / "cel")
    shutil.copytree(TESTS, workdir / "tests" / "cel", ignore=shutil.ignore_patterns("__pycache__"))
    survivors = [
        name
        for meta in (workdir / "mutants" / "src" / "agent_os" / "_cel").glob("*.py.meta")
        for name, code in json.loads(meta.read_text()).get("exit_code_by_key", {}).items()
        if code == 0
    ]
    print(f"running {len(survivors)} survivors again", file=sys.stderr)
    if survivors:
        _run(workdir, max_children, time_limit, survivors)


def _scores(workdir: Path) -> dict[str, Counter[str]]:
    scores: dict[str, Counter[str]] = {}
    for meta in sorted((workdir / "mutants" / "src" / "agent_os" / "_cel").glob("*.py.meta")):
        data = json.loads(meta.read_text())
        counts: Counter[str] = Counter()
        for code in data.get("exit_code_by_key", {}).values():
            counts["not run" if code is None else _STATUS.get(code, f"exit {code}")] += 1
        scores[meta.name.removesuffix(".meta")] = counts
    return scores


def _report(workdir: Path) -> None:
    total: Counter[str] = Counter()
    print(
        f"{'module':<16} {'mutants':>8} {'killed':>7} {'survived':>9} {'timeout':>8} {'not run':>8} {'score':>7}"
    )
    for module, counts in _scores(workdir).items():
        total += counts
        _line(module, counts)
    _line("total", total)


def _line(name: str, counts: Counter[str]) -> None:
    run = counts["killed"] + counts["survived"] + counts["timeout"]
    score = f"{100 * (counts['killed'] + counts['timeout']) / run:.1f}%" if run else "-"
    print(
        f"{name:<16} {sum(counts.values()):>8} {counts['killed']:>7} {counts['survived']:>9} "
        f"{counts['timeout']:>8} {counts['not run']:>8} {score:>7}"
    )


def main() -> None:
    """Prepare the scratch project, run mutmut, print the scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module names under agent_os/_cel, e.g. _values")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "agt-cel-mutation")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--rerun-survivors", action="store_true")
    args = parser.parse_args()
    if args.rerun_survivors:
        _rerun_survivors(args.workdir, args.max_children, args.time_limit)
    elif not args.report_only:
        modules = args.modules or sorted(p.stem for p in SOURCE.glob("_*.py") if p.stem != "__init__")
        _prepare(args.workdir, [m.removesuffix(".py") for m in modules])
        _run(args.workdir, args.max_children, args.time_limit)
    _report(args.workdir)


if __name__ == "__main__":
    main()
