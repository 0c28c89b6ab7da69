"""The policy from the article the toolkit was created from, as its YAML loads; shared by the tests."""

from __future__ import annotations

from typing import Any

SEED_POLICY: dict[str, Any] = {
    "apiVersion": "governance.toolkit/v1",
    "name": "production-policy",
    "default_action": "allow",
    "rules": [
        {
            "name": "block-destructive",
            "condition": "action.type in ['drop', 'delete', 'truncate']",
            "action": "deny",
        },
        {
            "name": "require-approval-for-send",
            "condition": "action.type == 'send_email'",
            "action": "require_approval",
            "approvers": ["security-team"],
        },
    ],
}
