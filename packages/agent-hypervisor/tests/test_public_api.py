from __future__ import annotations

import importlib.metadata

import agent_hypervisor


def test_all_matches_the_exports() -> None:
    public = {name for name in vars(agent_hypervisor) if not name.startswith("_")}
    public -= {"annotations", "TYPE_CHECKING", "Any"}
    lazy = {"PostgresAuditLog"}  # loads on first use (optional driver)
    assert set(agent_hypervisor.__all__) == public | lazy | {"__version__"}
    assert agent_hypervisor.__all__ == sorted(agent_hypervisor.__all__)
    for name in agent_hypervisor.__all__:
        assert getattr(agent_hypervisor, name) is not None


def test_sqlite_store_entry_point_is_registered() -> None:
    found = [ep for ep in importlib.metadata.entry_points(group="agt.audit_stores") if ep.name == "sqlite"]
    assert len(found) == 1
    assert found[0].load() is agent_hypervisor._entry_points.open_sqlite_store
