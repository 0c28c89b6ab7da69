"""Which evaluator compiles a policy set: registered ones are found through entry points.

Evaluators register under the ``agt.evaluators`` entry-point group (agent-os registers ``python``;
agt-evaluator registers ``native``), so agent-os never imports them by name. The entry point
names an `agt_core.Evaluator` instance, or a class (or factory) whose no-argument call returns
one.

Selection (`select_evaluator`): ``None`` or ``"auto"`` takes ``native`` when it is installed and
imports, else ``python``; the ``AGT_EVALUATOR`` environment variable (``python`` or ``native``)
overrides ``auto``. A name that is not registered, or a registered evaluator that fails to load,
is an error that says how to install it: asking for an evaluator never silently gives another.
"""

from __future__ import annotations

import os
from importlib.metadata import EntryPoint, entry_points

from agt_core import Evaluator, PolicyError

__all__ = ["ENTRY_POINT_GROUP", "EVALUATOR_ENV", "evaluator_backend", "evaluator_names", "select_evaluator"]

ENTRY_POINT_GROUP = "agt.evaluators"
"""The entry-point group evaluators register under."""

EVALUATOR_ENV = "AGT_EVALUATOR"
"""Environment variable that chooses the evaluator when ``compile_policies`` is asked for ``auto``."""

_INSTALL = {
    "native": "pip install agt-evaluator (or pip install 'agent-governance-toolkit[full]')",
    "python": "pip install agent-os",
}


_registered_cache: tuple[object, tuple[EntryPoint, ...]] | None = None


def _registered() -> tuple[EntryPoint, ...]:
    """The ``agt.evaluators`` entry points, read once per process.

    Scanning every installed distribution's metadata cost more than loading a small policy; the
    set changes only when packages are installed, which a running process does not see anyway
    (the modules it imported stay). Re-read when `entry_points` itself is replaced (tests do).
    """
    global _registered_cache
    if _registered_cache is None or _registered_cache[0] is not entry_points:
        _registered_cache = (entry_points, tuple(entry_points(group=ENTRY_POINT_GROUP)))
    return _registered_cache[1]


def evaluator_names() -> tuple[str, ...]:
    """The names of the registered evaluators, sorted (``("native", "python")`` with agt-evaluator)."""
    return tuple(sorted({ep.name for ep in _registered()}))


def evaluator_backend() -> str:
    """The name of the evaluator `compile_policies` uses when none is named (``native`` or ``python``).

    Every decision also records the evaluator that reached it (`agt_core.Decision.evaluator`).

    Raises:
        PolicyError: If ``AGT_EVALUATOR`` names an evaluator that is not installed or fails to load.
    """
    return select_evaluator(None).name


def select_evaluator(evaluator: str | Evaluator | None) -> Evaluator:
    """The evaluator to compile with.

    Args:
        evaluator: None or ``"auto"`` (native if it loads, else python; ``AGT_EVALUATOR``
            overrides), a registered name, or an `Evaluator` object (used as given).

    Raises:
        PolicyError: If the named (or ``AGT_EVALUATOR``-named) evaluator is not installed or fails
            to load, or `evaluator` is neither a name nor an `Evaluator`.
    """
    if evaluator is None or evaluator == "auto":
        chosen = os.environ.get(EVALUATOR_ENV, "").strip()
        if chosen and chosen != "auto":
            return _load(chosen, why=f"{EVALUATOR_ENV}={chosen}")
        if "native" in evaluator_names():
            try:
                return _load("native", why="auto")
            except PolicyError:
                pass  # auto means "native when it works": a broken native install falls back
        return _load("python", why="auto")
    if isinstance(evaluator, str):
        return _load(evaluator, why=f"evaluator={evaluator!r}")
    if isinstance(evaluator, Evaluator) and not isinstance(evaluator, type):
        return evaluator
    raise PolicyError(
        f"evaluator must be a name or an Evaluator object, got `{type(evaluator).__name__}`",
        help=f"pass one of {', '.join(repr(n) for n in ('auto', *evaluator_names()))}",
    )


def _load(name: str, *, why: str) -> Evaluator:
    found = [ep for ep in _registered() if ep.name == name]
    if not found:
        registered = ", ".join(f"`{n}`" for n in evaluator_names()) or "none"
        install = _INSTALL.get(name)
        raise PolicyError(
            f"evaluator `{name}` is not installed ({why}); registered evaluators: {registered}",
            help=f"install it: {install}" if install else f"install the package that registers `{name}`",
        )
    return _instantiate(found[0], name)


def _instantiate(entry: EntryPoint, name: str) -> Evaluator:
    try:
        target = entry.load()
        made = target() if isinstance(target, type) else target
    except Exception as exc:
        raise PolicyError(
            f"evaluator `{name}` is installed but failed to load: {type(exc).__name__}: {exc}",
            help=f"reinstall it ({_INSTALL.get(name, entry.value)}), or choose another with evaluator=",
        ) from exc
    if not isinstance(made, Evaluator):
        raise PolicyError(
            f"evaluator `{name}` ({entry.value}) does not implement agt_core.Evaluator",
            help="an evaluator has a `name` and a `compile(policies)` method",
        )
    return made
