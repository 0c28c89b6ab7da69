"""The public API is exactly `agent_sre.__all__` (ruff keeps it sorted), and every implementation module is private."""

from __future__ import annotations

import importlib
import pkgutil
import types

import agent_sre


def test_all_matches_the_exports() -> None:
    assert len(set(agent_sre.__all__)) == len(agent_sre.__all__)
    assert dir(agent_sre) == sorted(agent_sre.__all__)
    assert set(agent_sre._LAZY) <= set(agent_sre.__all__)
    for name in agent_sre.__all__:
        assert getattr(agent_sre, name) is not None, name
    # After loading everything, nothing public exists that __all__ does not name.
    public = {
        name
        for name, value in vars(agent_sre).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in ("annotations", "TYPE_CHECKING", "Any")
    }
    assert public == set(agent_sre.__all__) - {"__version__"}
    try:
        agent_sre.NoSuchThing
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("unknown names must raise AttributeError")


def test_every_module_is_private_and_declares_all() -> None:
    for info in pkgutil.iter_modules(agent_sre.__path__):
        assert info.name.startswith("_"), f"agent_sre.{info.name} should be private"
        module = importlib.import_module(f"agent_sre.{info.name}")
        if info.name != "_version":
            assert isinstance(getattr(module, "__all__", None), list), info.name
