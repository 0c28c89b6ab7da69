from __future__ import annotations

import pytest

pytest.importorskip("mcp", reason="the MCP gateway tests need the extra: pip install 'agent-os[mcp]'")

POLICY = """
apiVersion: governance.toolkit/v1
name: mcp-policy
default_action: allow
rules:
- name: block-drop
  condition: "action.type == 'drop_table'"
  action: deny
- name: no-secret-resources
  condition: "action.type == 'resources/read' && args.uri.startsWith('secret://')"
  action: deny
- name: no-admin-prompts
  condition: "action.type == 'prompts/get' && args.name == 'admin'"
  action: deny
- name: no-flagged-tools
  condition: "action.type == 'send_emall' && 'typosquat' in context.mcp.flags"
  action: deny
- name: only-billing-may-charge
  condition: "action.type == 'charge' && agent.id != 'billing-bot'"
  action: deny
"""


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> object:
    import agent_os

    agent_os.pipeline().reset()
    yield
    agent_os.pipeline().reset()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
