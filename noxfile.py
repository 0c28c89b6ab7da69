"""Developer sessions: one per package, plus lint, conformance, docs, demo, bench and `tests` (all).

Run through ./dev, which bootstraps nox and uv into .tools/ on a fresh machine.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests"]

ROOT = Path(__file__).parent
# Dependency order: a package only depends on packages before it.
PACKAGES = {
    "agt_core": "packages/agt-core",
    "agent_os": "packages/agent-os",
    "agent_mesh": "packages/agent-mesh",
}
TEST_DEPS = ["pytest>=8", "hypothesis>=6.100"]


def _install_packages(session: nox.Session, upto: str | None = None) -> None:
    """Install our packages editable, in one resolver run so local copies satisfy each other."""
    args: list[str] = []
    for name, path in PACKAGES.items():
        args += ["-e", path]
        if name == upto:
            break
    session.install(*args, *TEST_DEPS)


def _package_session(name: str, path: str) -> None:
    @nox.session(name=name)
    def _session(session: nox.Session) -> None:
        _install_packages(session, upto=name)
        session.run("pytest", f"{path}/tests", *session.posargs)

    _session.__doc__ = f"Run the {path} tests."


for _name, _path in PACKAGES.items():
    _package_session(_name, _path)


@nox.session
def conformance(session: nox.Session) -> None:
    """Run the language-neutral policy and canonical-JSON vectors in conformance/."""
    _install_packages(session)
    session.run("pytest", "conformance", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Execute the code in README.md and docs/*.md so examples cannot rot."""
    _install_packages(session)
    session.run("pytest", "docs/tests", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (lint and format check) and mypy --strict on every package's src/."""
    _install_packages(session)
    session.install("ruff==0.17.5", "mypy==2.4.1", "types-PyYAML")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", *[f"{p}/src" for p in PACKAGES.values()])


@nox.session
def demo(session: nox.Session) -> None:
    """Run the offline demo: a scripted agent's tool calls through govern()."""
    _install_packages(session)
    session.run("python", "demo/run_demo.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks side by side with the peer (agent-governance-toolkit==4.1.0 in its own venv)."""
    _install_packages(session)
    peer = ROOT / ".nox" / "_peer"
    if not (peer / "bin" / "python").exists():
        session.run("uv", "venv", "--python", "3.11", str(peer), external=True)
    session.run(
        "uv", "pip", "install", "--python", str(peer / "bin" / "python"),
        "agent-governance-toolkit[full]==4.1.0", external=True,
    )  # fmt: skip
    session.run("python", "bench/run.py", "--peer-python", str(peer / "bin" / "python"), *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Run everything CI runs: lint, every package, conformance, docs examples and the demo."""
    for name in ["lint", *PACKAGES, "conformance", "docs", "demo"]:
        session.notify(name)
