from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cryptography", reason="signed manifests need: pip install 'agent-os[signing]'")

from agent_os.manifest import (
    create_manifest,
    generate_keypair,
    load_private_key,
    sign_manifest,
    write_manifest,
)

TOOL_SOURCE = """
def fetch_report(period: str) -> str:
    return f"report for {period}"


def files(action: str, path: str) -> str:
    return f"{action} {path}"


def FetchReport(period: str) -> str:  # noqa: N802 - a tool whose name has capitals
    return period
"""

POLICY = """
apiVersion: governance.toolkit/v1
name: allow-all
default_action: allow
rules:
- name: never-drop
  condition: "action.type == 'drop'"
  action: deny
"""


@dataclass
class Publisher:
    """A tool folder with its code, a keypair, and a way to sign manifests for it."""

    root: Path
    private: Path
    public: Path
    module: Any

    def sign(
        self,
        *,
        name: str = "fetch_report",
        version: str = "1.0.0",
        capabilities: tuple[str, ...] = ("fetch_report",),
        entry_point: str | None = None,
        paths: tuple[str, ...] = ("report_tool.py",),
        valid_for: timedelta | None = timedelta(days=30),
        out: str = "manifest.json",
        **extra: Any,
    ) -> Path:
        ep = entry_point if entry_point is not None else f"{self.module.__name__}:{name}"
        manifest = create_manifest(
            self.root,
            paths,
            name=name,
            version=version,
            capabilities=capabilities,
            entry_point=ep,
            valid_for=valid_for,
            **extra,
        )
        path = self.root / out
        write_manifest(sign_manifest(manifest, load_private_key(self.private)), path)
        return path

    def tool(self, name: str = "fetch_report") -> Callable[..., Any]:
        fn: Callable[..., Any] = getattr(self.module, name)
        return fn


def _load(path: Path) -> Any:
    name = f"d2_tool_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    root = tmp_path / "tool"
    root.mkdir()
    (root / "report_tool.py").write_text(TOOL_SOURCE)
    (root / "helpers.py").write_text("X = 1\n")
    keys = tmp_path / "keys"
    keys.mkdir()
    generate_keypair(keys / "publisher.pem", keys / "publisher.pub")
    return Publisher(root, keys / "publisher.pem", keys / "publisher.pub", _load(root / "report_tool.py"))


@pytest.fixture
def stranger_key(tmp_path: Path) -> Path:
    generate_keypair(tmp_path / "stranger.pem", tmp_path / "stranger.pub")
    return tmp_path / "stranger.pub"


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> Any:
    import agent_os

    agent_os.pipeline().reset()
    yield
    agent_os.pipeline().reset()
