"""Mutation testing of the kernel (agent-os) and of agt-core's audit chain and canonical JSON.

The same setup as ``run_cel_mutation.py`` (mutmut 3.8.1 in a scratch project outside the
repository, the same mutmut configuration, the same process handling and score table), for two
more targets:

- ``kernel``: ``agent_os``'s governed-call path (``_kernel``, ``_audit_log``, ``_request_builder``,
  ``_approval``, ``_rate_limit``, ``_govern``, ``_gate``, ``_pipeline``, ``_python_evaluator``)
  against ``packages/agent-os/tests/kernel``;
- ``core``: ``agt_core._audit_chain`` and ``agt_core._canonical`` against ``packages/agt-core/tests``,
  the canonical JSON vectors (``conformance/test_canonical_json.py``) and the audit-log tests of
  the kernel (the chain's only caller).

The whole package is copied (the kernel imports the CEL engine and the loader); only the listed
modules are mutated. The other package comes from the repository through a link, and a small
``dist-info`` declares agent-os's ``agt.evaluators`` entry point, so nothing needs installing.

A full run of every mutant takes hours on a small machine, so the runner works in two steps:
mutmut generates the mutants and records which tests reach which function once, then each
module runs on its own with a time cap (``--time-limit`` is per module), in the order given
(security-relevant modules first by default). ``--sample N`` runs N mutants per module drawn with
a fixed seed, so a sampled score is reproducible; the report says how many were not run.

Usage (from the repository root; needs ``pip install mutmut==3.8.1 pytest hypothesis jsonschema
google-re2 pyyaml pydantic``)::

    python packages/agent-os/mutation/run_mutation.py kernel                       # every module
    python packages/agent-os/mutation/run_mutation.py kernel _kernel _audit_log    # some modules
    python packages/agent-os/mutation/run_mutation.py core --sample 60 --time-limit 600
    python packages/agent-os/mutation/run_mutation.py kernel --report-only         # last run's scores
    python packages/agent-os/mutation/run_mutation.py kernel --rerun-survivors     # after adding tests
    python packages/agent-os/mutation/run_mutation.py kernel --survivors           # list survivors

Each target has its own scratch folder (default ``$TMPDIR/agt-<target>-mutation``).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run_cel_mutation import _STATUS, _run  # noqa: E402 (one runner for every target)

ROOT = HERE.parents[2]  # where sources and tests are copied from (`--revision`: a snapshot of it)


@dataclass(frozen=True)
class _Target:
    name: str  # the import name of the mutated package
    package: str  # its folder under packages/
    modules: tuple[str, ...]  # in the order they run: security-relevant first
    tests: tuple[tuple[Path, str], ...]  # (repository folder or file, place in the scratch project)
    other: tuple[str, str]  # (import name, folder) of the package the tests import alongside


TARGETS = {
    "kernel": _Target(
        name="agent_os",
        package="agent-os",
        modules=(
            "_kernel",
            "_audit_log",
            "_request_builder",
            "_approval",
            "_rate_limit",
            "_govern",
            "_gate",
            "_pipeline",
            "_python_evaluator",
        ),
        tests=((Path("packages/agent-os/tests/kernel"), "tests/kernel"),),
        other=("agt_core", "agt-core"),
    ),
    "core": _Target(
        name="agt_core",
        package="agt-core",
        modules=("_audit_chain", "_canonical"),
        tests=(
            # seed_policy.py finds conformance/ three folders up, as in the repository
            (Path("packages/agt-core/tests"), "tests/agt-core/tests"),
            (Path("conformance/test_canonical_json.py"), "conformance/test_canonical_json.py"),
            (Path("conformance/canonical_json"), "conformance/canonical_json"),
            (
                Path("packages/agent-os/tests/kernel/test_audit_log.py"),
                "tests/kernel/test_audit_log.py",
            ),
            (Path("packages/agent-os/tests/kernel/conftest.py"), "tests/kernel/conftest.py"),
        ),
        other=("agent_os", "agent-os"),
    ),
}


def _snapshot(revision: str, folder: Path) -> Path:
    """The repository's files at `revision` (e.g. ``HEAD``), extracted into `folder`.

    In a checkout others are editing, a run on the working tree mutates (and tests) whatever is
    half-written at that moment; a committed revision is a consistent pair of sources and tests.
    """
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    paths = ["conftest.py", "conformance", "packages/agent-os", "packages/agt-core"]
    archive = subprocess.run(  # noqa: S603 (git, on our own repository)
        ["git", "-C", str(HERE.parents[2]), "archive", revision, *paths],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)  # noqa: S603, S607
    return folder


def _config(target: _Target, modules: list[str]) -> str:
    only = ", ".join(json.dumps(f"src/{target.name}/{m}.py") for m in modules)
    files = sorted(place for _, place in target.tests if place.startswith("conformance/test_"))
    selection = ["tests", *files, "-p", "no:randomly"]
    return textwrap.dedent(
        f"""\
        [tool.mutmut]
        source_paths = ["src/{target.name}"]
        only_mutate = [{only}]
        also_copy = ["conftest.py", "conformance/"]
        pytest_add_cli_args_test_selection = {json.dumps(selection)}
        use_git_change_detection = false

        [tool.pytest.ini_options]
        addopts = "-q -p no:cacheprovider --import-mode=importlib"
        xfail_strict = true
        filterwarnings = ["error"]
        """
    )


# agent-os's evaluator is found through its entry point: declare it without installing anything.
_ENTRY_POINTS = "[agt.evaluators]\npython = agent_os._python_evaluator:PythonEvaluator\n"


def _prepare(workdir: Path, target: _Target, modules: list[str]) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(
        ROOT / "packages" / target.package / "src" / target.name, workdir / "src" / target.name, ignore=ignore
    )
    # mutmut runs the tests in mutants/ with mutants/src in place of src/, and copies only the
    # mutated package there: the other package and the entry point go into both.
    other_name, other_folder = target.other
    for src in (workdir / "src", workdir / "mutants" / "src"):
        src.mkdir(parents=True, exist_ok=True)
        (src / other_name).symlink_to(ROOT / "packages" / other_folder / "src" / other_name)
        info = src / "agent_os-0.0.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: agent-os\nVersion: 0.0.0\n")
        (info / "entry_points.txt").write_text(_ENTRY_POINTS)
    for relative, place in target.tests:
        source, destination = ROOT / relative, workdir / place
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=ignore)
        else:
            shutil.copy2(source, destination)
    (workdir / "conformance").mkdir(exist_ok=True)
    shutil.copy2(ROOT / "conformance" / "seed-policy.yaml", workdir / "conformance" / "seed-policy.yaml")
    shutil.copy2(ROOT / "conftest.py", workdir / "conftest.py")  # the shared seed-policy fixtures
    (workdir / "pyproject.toml").write_text(_config(target, modules))


def _meta_folder(workdir: Path, target: _Target) -> Path:
    return workdir / "mutants" / "src" / target.name


def _mutants(workdir: Path, target: _Target, module: str) -> dict[str, int | None]:
    meta = _meta_folder(workdir, target) / f"{module}.py.meta"
    if not meta.exists():
        return {}
    codes: dict[str, int | None] = json.loads(meta.read_text()).get("exit_code_by_key", {})
    return codes


def _generate(workdir: Path, max_children: int) -> None:
    """Generates the mutants and records which tests reach which function, running no mutant.

    mutmut has no command for this alone: a run filtered to a name no mutant has stops right
    after both steps (and keeps their results for the runs that follow).
    """
    _run(workdir, max_children, None, ["no-such-mutant"])


def _select(names: list[str], sample: int | None, seed: int) -> list[str]:
    if sample is None or sample >= len(names):
        return names
    return sorted(random.Random(seed).sample(sorted(names), sample))  # noqa: S311 (a reproducible sample)


def _run_modules(
    workdir: Path,
    target: _Target,
    modules: list[str],
    args: argparse.Namespace,
) -> None:
    _generate(workdir, args.max_children)
    for module in modules:
        chosen = _select(list(_mutants(workdir, target, module)), args.sample, args.seed)
        print(f"{module}: running {len(chosen)} mutants", file=sys.stderr)
        if chosen:
            _run(workdir, args.max_children, args.time_limit, chosen)


def _survivors(workdir: Path, target: _Target) -> list[str]:
    return [
        name
        for meta in sorted(_meta_folder(workdir, target).glob("*.py.meta"))
        for name, code in json.loads(meta.read_text()).get("exit_code_by_key", {}).items()
        if code == 0
    ]


def _rerun_survivors(workdir: Path, target: _Target, args: argparse.Namespace) -> None:
    """Runs the survivors of the last run again against the tests as they are now."""
    copied = workdir / "src" / target.name
    for module in target.modules:
        source = ROOT / "packages" / target.package / "src" / target.name / f"{module}.py"
        if source.read_bytes() != (copied / source.name).read_bytes():
            raise SystemExit(f"{source.name} changed since the run: start a new one instead")
    for relative, place in target.tests:
        source, destination = ROOT / relative, workdir / place
        if source.is_dir():
            shutil.rmtree(destination)
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination)
    survivors = _survivors(workdir, target)
    print(f"running {len(survivors)} survivors again", file=sys.stderr)
    if survivors:
        _run(workdir, args.max_children, args.time_limit, survivors)


# mutmut's exit code for a mutant of a function no selected test reaches: counted as surviving.
_NO_TESTS = 33


def _report(workdir: Path, target: _Target) -> None:
    total: Counter[str] = Counter()
    print(
        f"{'module':<22} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9} {'timeout':>8} "
        f"{'not run':>8} {'score':>7}"
    )
    for meta in sorted(_meta_folder(workdir, target).glob("*.py.meta")):
        counts: Counter[str] = Counter()
        for code in json.loads(meta.read_text()).get("exit_code_by_key", {}).values():
            if code is None:
                counts["not run"] += 1
            else:
                counts["no tests" if code == _NO_TESTS else _STATUS.get(code, f"exit {code}")] += 1
        total += counts
        _line(meta.name.removesuffix(".meta"), counts)
    _line("total", total)


def _line(name: str, counts: Counter[str]) -> None:
    run = counts["killed"] + counts["survived"] + counts["no tests"] + counts["timeout"]
    score = f"{100 * (counts['killed'] + counts['timeout']) / run:.1f}%" if run else "-"
    print(
        f"{name:<22} {sum(counts.values()):>8} {counts['killed']:>7} {counts['survived']:>9} "
        f"{counts['no tests']:>9} {counts['timeout']:>8} {counts['not run']:>8} {score:>7}"
    )


def main() -> None:
    """Prepare the scratch project, generate the mutants, run them module by module, print the scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument(
        "modules", nargs="*", help="module names, e.g. _kernel (default: all, in priority order)"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per module")
    parser.add_argument("--sample", type=int, default=None, help="mutants per module, drawn with --seed")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--revision", help="copy sources and tests from this git revision, not the working tree"
    )
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--rerun-survivors", action="store_true")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    args = parser.parse_args()
    target = TARGETS[args.target]
    workdir = args.workdir or Path(tempfile.gettempdir()) / f"agt-{args.target}-mutation"
    global ROOT
    if args.revision:
        ROOT = _snapshot(args.revision, workdir.with_name(workdir.name + "-source"))
    if args.survivors:
        print("\n".join(_survivors(workdir, target)))
        return
    if args.rerun_survivors:
        _rerun_survivors(workdir, target, args)
    elif not args.report_only:
        modules = [m.removesuffix(".py") for m in args.modules] or list(target.modules)
        _prepare(workdir, target, modules)
        _run_modules(workdir, target, modules, args)
    _report(workdir, target)


if __name__ == "__main__":
    main()
