"""The seed's policy, read from the repository's one copy (conformance/seed-policy.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SEED_POLICY: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[3] / "conformance" / "seed-policy.yaml").read_text(encoding="utf-8")
)
