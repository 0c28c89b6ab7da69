"""The package's public surface: `__all__`, the lazy model imports, and what ships in the wheel."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import agt_core

INIT = Path(agt_core.__file__)
# Names the package module binds for its own use; they are not API.
PLUMBING = {"TYPE_CHECKING", "Any", "annotations"}


def _isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 (isort style) keeps: CONSTANTS, then Classes, then everything else."""
    if name.isupper():
        return 0, name
    if name[:1].isupper():
        return 1, name
    return 2, name


def _private_modules() -> list[str]:
    return sorted(
        f"agt_core.{m.name}"
        for m in pkgutil.iter_modules(agt_core.__path__)
        if m.name.startswith("_") and m.name != "__main__"
    )


def test_all_is_sorted_and_unique() -> None:
    assert agt_core.__all__ == sorted(agt_core.__all__, key=_isort_key)
    assert len(agt_core.__all__) == len(set(agt_core.__all__))


def test_every_name_in_all_resolves() -> None:
    for name in agt_core.__all__:
        assert getattr(agt_core, name) is not None, name


def test_no_public_name_is_missing_from_all() -> None:
    lazy = set(agt_core._LAZY)
    eager = {
        name
        for name, value in vars(agt_core).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name not in PLUMBING
    }
    assert lazy <= set(agt_core.__all__)
    assert set(agt_core.__all__) == lazy | eager | {"__version__"}


def test_every_private_module_export_is_re_exported() -> None:
    # A name added to a private module's __all__ is meant to be public; it must reach agt_core.
    for module_name in _private_modules():
        module = importlib.import_module(module_name)
        exported = set(getattr(module, "__all__", ()))
        for name in exported:
            assert name in agt_core.__all__, f"{module_name}.{name} is not exported by agt_core"
            assert getattr(agt_core, name) is getattr(module, name)


def test_lazy_table_points_at_the_defining_module() -> None:
    for name, module_name in agt_core._LAZY.items():
        module = importlib.import_module(module_name)
        assert name in module.__all__, f"{module_name} does not export {name}"


def test_type_checking_imports_match_the_lazy_table() -> None:
    # mypy and IDEs see the TYPE_CHECKING imports; the runtime sees _LAZY. They must agree.
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    seen: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                assert stmt.module is not None
                for alias in stmt.names:
                    seen[alias.asname or alias.name] = stmt.module
    assert seen == agt_core._LAZY


def test_dir_lists_the_public_names() -> None:
    assert dir(agt_core) == sorted(agt_core.__all__)


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="module 'agt_core' has no attribute 'Policy'"):
        _ = agt_core.Policy


def test_py_typed_and_schemas_ship_in_the_package() -> None:
    package = INIT.parent
    assert (package / "py.typed").is_file()
    assert sorted(p.name for p in (package / "schemas").glob("*.json")) == [
        "audit-record.schema.json",
        "decision.schema.json",
        "policy.schema.json",
        "request.schema.json",
    ]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def test_import_does_not_load_pydantic() -> None:
    result = _run(
        """
        import sys
        import agt_core
        assert "pydantic" not in sys.modules, "import agt_core loaded pydantic"
        models = {"agt_core._policy", "agt_core._decision", "agt_core._request", "agt_core._audit_record"}
        assert not models & set(sys.modules), models & set(sys.modules)

        # What the governed-call path needs works without the models.
        assert agt_core.content_hash({"a": 1.5}).startswith("sha256:")
        try:
            agt_core.canonical_json(float("nan"))
        except agt_core.CanonicalJSONError:
            pass
        assert "pydantic" not in sys.modules

        decision = agt_core.Decision(effect="deny", allowed=False, rule="r")
        assert "pydantic" in sys.modules
        assert type(decision).__module__ == "agt_core._decision"
        assert agt_core.GovernanceDenied(decision).decision is decision
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


def test_from_import_of_a_lazy_name() -> None:
    result = _run(
        """
        from agt_core import PolicyDocument, json_schema
        assert PolicyDocument.__name__ == "PolicyDocument"
        assert json_schema("policy")["$id"].endswith("policy-v1.json")
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
