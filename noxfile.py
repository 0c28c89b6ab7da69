"""Developer sessions: one per distribution, plus lint, conformance, docs, demo, bench and `tests` (all).

Run through ./dev, which bootstraps nox and uv into .tools/ on a fresh machine.

Distributions are discovered, not listed: every folder under packages/ and integrations/ with a
pyproject.toml gets a session named after its distribution (`agent-os` -> `agent_os`), which
installs it editable together with the local distributions it depends on (read from its
pyproject, transitively) and its optional `test` extra, then runs its tests/ folder.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tomllib
from functools import cache
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests"]

ROOT = Path(__file__).parent
TEST_DEPS = ["pytest>=8", "hypothesis>=6.100"]
# Distributions whose build needs more than hatchling (the Rust extension): installed only by
# the sessions that ask for them.
NATIVE = {"agt-evaluator"}


@cache
def _distributions() -> dict[str, Path]:
    """Distribution name -> folder, for every local pyproject under packages/ and integrations/."""
    found: dict[str, Path] = {}
    for group in ("packages", "integrations"):
        for pyproject in sorted((ROOT / group).glob("*/pyproject.toml")):
            name = tomllib.loads(pyproject.read_text())["project"]["name"]
            found[name] = pyproject.parent
    return found


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


@cache
def _local_closure(name: str) -> tuple[str, ...]:
    """`name` and every local distribution it depends on, dependencies first."""
    project = tomllib.loads((_distributions()[name] / "pyproject.toml").read_text())["project"]
    order: list[str] = []
    for requirement in project.get("dependencies", []):
        dep = _requirement_name(requirement)
        if dep in _distributions():
            for item in _local_closure(dep):
                if item not in order:
                    order.append(item)
    order.append(name)
    return tuple(order)


def _has_test_extra(name: str) -> bool:
    project = tomllib.loads((_distributions()[name] / "pyproject.toml").read_text())["project"]
    return "test" in project.get("optional-dependencies", {})


def _install(session: nox.Session, *names: str) -> None:
    """Install `names` (with their `test` extras) and their local dependencies editable, in one run.

    Dependencies come without their test extras: agent-os's (the MCP SDK 2.x among them) would
    otherwise clash with frameworks that pin MCP 1.x.
    """
    wanted: list[str] = []
    for name in names:
        for item in _local_closure(name):
            if item not in wanted:
                wanted.append(item)
    args: list[str] = []
    for item in wanted:
        path = str(_distributions()[item].relative_to(ROOT))
        args += ["-e", f"{path}[test]" if item in names and _has_test_extra(item) else path]
    session.install(*args, *TEST_DEPS)


def _mypy_cache(session: nox.Session) -> list[str]:
    """A mypy cache per session: sessions with different packages installed must not share one."""
    return ["--cache-dir", str(Path(session.virtualenv.location) / ".mypy_cache")]


def _session_name(distribution: str) -> str:
    return distribution.replace("-", "_")


def _pure() -> list[str]:
    return [name for name in _distributions() if name not in NATIVE]


def _packages() -> list[str]:
    """The toolkit's own packages (not the framework adapters, whose frameworks are heavy)."""
    return [n for n in _pure() if _distributions()[n].parent.name == "packages"]


LINT_TOOLS = ["ruff==0.17.5", "mypy==2.4.1", "types-PyYAML", "import-linter==2.5"]


def _test_with(name: str) -> list[str]:
    """Local distributions a package's tests also need (``[tool.agt] test-with`` in its pyproject)."""
    config = tomllib.loads((_distributions()[name] / "pyproject.toml").read_text())
    return list(config.get("tool", {}).get("agt", {}).get("test-with", []))


def _package_session(name: str, path: Path) -> None:
    @nox.session(name=_session_name(name))
    def _session(session: nox.Session) -> None:
        _install(session, name, *_test_with(name))
        session.run("pytest", str(path.relative_to(ROOT) / "tests"), *session.posargs)
        if path.parent.name == "integrations" and not session.posargs:
            # Adapters are type-checked where their framework is installed.
            session.install("mypy==2.4.1")
            session.run("mypy", *_mypy_cache(session), str(path.relative_to(ROOT) / "src"))

    _session.__doc__ = f"Run the {path.relative_to(ROOT)} tests."


for _name, _path in _distributions().items():
    if _name not in NATIVE:
        _package_session(_name, _path)


NATIVE_WHEELS = ROOT / ".nox" / "_wheels"


def _native_sources_digest(folder: Path) -> str:
    """SHA-256 over the paths and bytes of everything the agt-evaluator wheel is built from."""
    digest = hashlib.sha256()
    files = [folder / "Cargo.toml", folder / "Cargo.lock", folder / "pyproject.toml", folder / "README.md"]
    for sub in ("crates", "src"):
        files += [p for p in (folder / sub).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for path in sorted(files):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _native_wheel(session: nox.Session) -> Path:
    """The agt-evaluator wheel, built with maturin once per state of its sources and reused."""
    folder = _distributions()["agt-evaluator"]
    out = NATIVE_WHEELS / _native_sources_digest(folder)
    wheels = sorted(out.glob("agt_evaluator-*.whl"))
    if not wheels:
        session.install("maturin>=1.7,<2")
        with session.chdir(folder):
            session.run("maturin", "build", "--release", "--locked", "--out", str(out))
        wheels = sorted(out.glob("agt_evaluator-*.whl"))
    return wheels[-1]


@nox.session(name="agt_evaluator")
def agt_evaluator(session: nox.Session) -> None:
    """The native evaluator: cargo fmt/clippy/test, the wheel (built once per source state), its tests."""
    folder = _distributions()["agt-evaluator"]
    with session.chdir(folder):
        session.run("cargo", "fmt", "--check", external=True)
        session.run("cargo", "clippy", "--all-targets", "--locked", "--", "-D", "warnings", external=True)
        session.run("cargo", "test", "-p", "agt-engine", "-p", "agt-rego", "--locked", external=True)
    _install(session, "agent-os")
    session.install("--no-deps", str(_native_wheel(session)))
    session.install("mypy==2.4.1")
    session.run("mypy", *_mypy_cache(session), str(folder.relative_to(ROOT) / "src"))
    session.run("pytest", str(folder.relative_to(ROOT) / "tests"), *session.posargs)


@nox.session
def conformance(session: nox.Session) -> None:
    """Run the language-neutral policy and canonical-JSON vectors in conformance/ (both evaluators)."""
    _install(session, "agent-os")
    session.install("--no-deps", str(_native_wheel(session)))
    session.run("pytest", "conformance", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Execute the code in README.md and docs/*.md so examples cannot rot."""
    _install(session, *_packages())
    if "agt-evaluator" in _distributions():  # its README's examples need the native module
        session.install("--no-deps", str(_native_wheel(session)))
    session.run("pytest", "docs/tests", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (lint, format) everywhere; mypy --strict and the import contracts on every package."""
    _install(session, *_packages())
    session.install(*LINT_TOOLS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run(
        "mypy",
        *_mypy_cache(session),
        *[str(_distributions()[n].relative_to(ROOT) / "src") for n in _packages()],
    )
    # agt-evaluator's Python sources are read, not imported: its Rust extension is built elsewhere.
    native_src = [str(_distributions()[n] / "src") for n in NATIVE if n in _distributions()]
    session.run("lint-imports", env={"PYTHONPATH": ":".join(native_src)})


@nox.session
def demo(session: nox.Session) -> None:
    """Run the offline demos: the flagship finance-team story (demo/run_demo.py, walked through in
    docs/tour.md), its tests, then the agent-lightning and agent-hypervisor stories."""
    _install(session, *_packages())
    session.install("-e", "packages/agent-os[sql]")  # the ledger_query tool's SQL facet
    session.run("python", "demo/run_demo.py", *session.posargs)
    session.run("pytest", "demo/tests", "-q")
    # agent-lightning: a Q-learner that learns to stay within policy (exits 1 if the claim fails).
    session.run("python", "-m", "agent_lightning.demo", "--episodes", "200")
    # agent-hypervisor: a session, deltas, a commitment and a saga, verified from the SQLite file.
    session.run("python", "packages/agent-hypervisor/examples/multi_agent_story.py")


@nox.session(default=False)
def mutation(session: nox.Session) -> None:
    """Mutation testing (mutmut) of the CEL engine, the kernel, and agt-core's audit chain and canonical JSON.

    Not in CI: every mutant takes hours on two cores; the scores go to docs/status.md. With no
    arguments each target runs a fixed-seed sample of 40 mutants per module, from the last
    commit, under a per-module time cap. Arguments go to the scripts, e.g.
    ``./dev -s mutation -- kernel _kernel``, ``./dev -s mutation -- core --report-only``,
    ``./dev -s mutation -- cel --time-limit 600``.
    """
    session.install(
        "mutmut==3.8.1", *TEST_DEPS, "jsonschema>=4.18", "pyyaml>=6.0", "google-re2>=1.1", "pydantic>=2.7,<3"
    )
    folder = "packages/agent-os/mutation"
    if session.posargs[:1] == ["cel"]:
        session.run("python", f"{folder}/run_cel_mutation.py", *session.posargs[1:])
    elif session.posargs:
        session.run("python", f"{folder}/run_mutation.py", *session.posargs)
    else:
        session.run("python", f"{folder}/run_cel_mutation.py", "--time-limit", "3600")
        for target in ("kernel", "core"):
            session.run(
                "python", f"{folder}/run_mutation.py", target,
                "--revision", "HEAD", "--sample", "40", "--time-limit", "300",
            )  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks side by side with the peer (agent-governance-toolkit==4.1.0 in its own venv)."""
    _install(session, "agent-mesh", "agent-runtime", "agent-sre", "agent-hypervisor")
    if "agt-evaluator" in _distributions():
        session.install("--no-deps", str(_native_wheel(session)))
    peer = ROOT / ".nox" / "_peer"
    if not (peer / "bin" / "python").exists():
        session.run("uv", "venv", "--python", "3.11", str(peer), external=True)
    session.run(
        "uv", "pip", "install", "--python", str(peer / "bin" / "python"),
        "agent-governance-toolkit[full]==4.1.0", external=True,
    )  # fmt: skip
    peer_python = str(peer / "bin" / "python")
    quick = ["--quick"] if "--quick" in session.posargs else []
    results = ROOT / "bench" / "results"
    session.run("python", "bench/run.py", "--peer-python", peer_python, *session.posargs)
    # Each package's own figures (the peer side by side where it has the same feature).
    session.run("python", "bench/_hypervisor.py", "--peer-python", peer_python, *quick)
    session.run("python", "bench/_formats.py", *quick)
    session.run(
        "python", "packages/agent-sre/bench/bench_sre.py", *quick, "--json", str(results / "agent-sre.json")
    )
    session.run(
        "python",
        "packages/agent-mesh/bench/mesh_bench.py",
        *quick,
        "--json",
        str(results / "mesh-latest.json"),
    )
    session.run("python", "packages/agent-runtime/bench/run.py", "--json")


def _build_wheels(session: nox.Session) -> Path:
    """A wheel of every distribution (and of the meta-distribution) in dist/, replacing older ones."""
    out = ROOT / "dist"
    out.mkdir(exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    # One environment with the build backend, instead of an isolated one per distribution.
    session.install("hatchling>=1.25")
    python = str(Path(session.bin) / "python")
    for name in _pure():
        session.run(
            "uv", "build", "--wheel", "--quiet", "--no-build-isolation", "--python", python,
            "--out-dir", str(out), str(_distributions()[name]), external=True,
        )  # fmt: skip
    if "agt-evaluator" in _distributions():
        shutil.copy(_native_wheel(session), out)  # built once per source state, shared with its session
    session.run(
        "uv", "build", "--wheel", "--quiet", "--no-build-isolation", "--python", python,
        "--out-dir", str(out), str(ROOT), external=True,
    )  # fmt: skip
    return out


@nox.session
def wheels(session: nox.Session) -> None:
    """Write a wheel of every distribution to dist/: `pip install --find-links dist agent-os` then works."""
    out = _build_wheels(session)
    session.log(f"{len(list(out.glob('*.whl')))} wheels in {out}")


INSTALL_CHECK = """
import pathlib, sys
pathlib.Path("policy.yaml").write_text(pathlib.Path(sys.argv[1]).read_text())
import importlib
entry = importlib.import_module(sys.argv[2])
GovernanceDenied, govern = entry.GovernanceDenied, entry.govern

def my_tool(action: str, table: str) -> str:
    return f"{action} on {table}: done"

safe_tool = govern(my_tool, policy="policy.yaml")
assert safe_tool(action="read", table="users") == "read on users: done"
try:
    safe_tool(action="drop", table="users")
except GovernanceDenied as exc:
    assert exc.decision.rule == "block-destructive"
else:
    raise SystemExit("the seed's deny rule did not refuse `drop`")
assert safe_tool.audit_log.verify(deep=True) == 2
for module in sys.argv[3:]:
    importlib.import_module(module)
print(f"quick start ran from the installed wheels through {sys.argv[2]}; also imported", ", ".join(sys.argv[3:]) or "nothing else")
"""


def _full_modules() -> list[str]:
    """The import names of the packages the meta-distribution's `full` extra installs."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["full"]
    names = [_requirement_name(r) for r in meta]
    return [_IMPORT_NAMES.get(n, n.replace("-", "_")) for n in names]


_IMPORT_NAMES = {"agent-mesh": "agentmesh", "agent-governance-toolkit": "agent_os"}


@nox.session
def install(session: nox.Session) -> None:
    """From the wheels in dist/, in fresh virtual environments: the README's install lines, then the quick start."""
    import tempfile

    out = _build_wheels(session)
    seed = ROOT / "conformance" / "seed-policy.yaml"
    # requirement -> (module the quick start imports govern from, modules that must import too)
    imports = {
        "agent-os": ["agent_os"],
        # Pinned: the peer publishes `agent-governance-toolkit` on PyPI with higher versions.
        "agent-governance-toolkit[full]==0.1.0": ["agentmesh.governance", *_full_modules()],
    }
    for requirement, modules in imports.items():
        with tempfile.TemporaryDirectory() as tmp:
            venv = Path(tmp) / "venv"
            session.run("python3", "-m", "venv", str(venv), external=True)
            pip = str(venv / "bin" / "pip")
            session.run(
                pip,
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--find-links",
                str(out),
                requirement,
                external=True,
            )
            _run_install_check(session, venv, Path(tmp), seed, modules)
    # The seed's own line: editable installs straight from the checkout, with plain pip (no
    # index holds agt-core; tools/build_backend/agt_build.py carries it as source).
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        session.run("python3", "-m", "venv", str(venv), external=True)
        with session.chdir(ROOT):
            session.run(
                str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                "-e", "packages/agent-os[dev]", "-e", "packages/agent-mesh[dev]", external=True,
            )  # fmt: skip
        session.run(str(venv / "bin" / "pip"), "check", external=True)
        _run_install_check(session, venv, Path(tmp), seed, ["agent_os", "agentmesh"])


def _run_install_check(session: nox.Session, venv: Path, tmp: Path, seed: Path, modules: list[str]) -> None:
    """The quick start against the seed policy, in `venv`, from the folder `tmp`."""
    check = tmp / "check.py"
    check.write_text(INSTALL_CHECK)
    with session.chdir(tmp):
        session.run(str(venv / "bin" / "python"), str(check), str(seed), *modules, external=True)


def _postgres_for_tests(session: nox.Session) -> None:
    """Start a throwaway PostgreSQL server for this run and point the PostgreSQL store tests at it.

    The sessions that follow inherit ``AGT_TEST_POSTGRES_DSN``. Without server binaries the tests
    that need one skip, saying so; an explicit ``AGT_TEST_POSTGRES_DSN`` is used as it is.
    """
    import atexit
    import os
    import socket
    import subprocess
    import tempfile

    if os.environ.get("AGT_TEST_POSTGRES_DSN"):
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        session.warn("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): PostgreSQL store tests skip")
        return
    pg = bins[-1].parent
    base = Path(tempfile.mkdtemp(prefix="agt-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def run(*command: str) -> None:
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)

    run(*as_user, str(pg / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off"
    pg_ctl = [*as_user, str(pg / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o", options]
    run(*pg_ctl, "start")
    atexit.register(subprocess.run, [*pg_ctl, "-m", "fast", "stop"], check=False, stdout=subprocess.DEVNULL)
    run(*as_user, str(pg / "createdb"), "-h", str(sock), "-p", str(port), "-U", "postgres", "agt_test")
    os.environ["AGT_TEST_POSTGRES_DSN"] = f"postgresql://postgres@/agt_test?host={sock}&port={port}"
    session.log(f"PostgreSQL {pg.parent.name} for the store tests: {os.environ['AGT_TEST_POSTGRES_DSN']}")


# Sessions for the non-Python parts (SDKs and the like) live in nox/<name>.py, one file per
# owner, so they can be added without editing this file. A session tagged "ci" runs in `tests`.
_EXTRA = ROOT / "nox"
if _EXTRA.is_dir():
    import importlib.util
    import sys

    sys.path.insert(0, str(_EXTRA))
    for _file in sorted(_EXTRA.glob("[!_]*.py")):
        _spec = importlib.util.spec_from_file_location(f"_agt_nox_{_file.stem}", _file)
        if _spec is None or _spec.loader is None:
            raise RuntimeError(f"cannot load nox sessions from {_file}")
        _spec.loader.exec_module(importlib.util.module_from_spec(_spec))


def _ci_extra_sessions() -> list[str]:
    """Names of the sessions from nox/*.py tagged "ci", in file order; those also tagged "ci-last"
    (which use what the others built, like the cross-language audit test) at the end."""
    first: list[str] = []
    last: list[str] = []
    for name, func in nox.registry.get().items():
        tags = getattr(func, "tags", [])
        if "ci" in tags and getattr(func, "__module__", "").startswith("_agt_nox_"):
            (last if "ci-last" in tags else first).append(name)
    return first + last


@nox.session
def tests(session: nox.Session) -> None:
    """Run everything CI runs: lint, every distribution, conformance, docs examples and the demo."""
    _postgres_for_tests(session)
    for name in [
        "lint",
        *[_session_name(n) for n in _pure()],
        "agt_evaluator",
        "conformance",
        "docs",
        "demo",
        "install",
        *_ci_extra_sessions(),
    ]:
        session.notify(name)
