"""``python -m agent_os.manifest``: create keys, sign manifests, verify them."""

from __future__ import annotations

import sys

from agent_os.manifest._cli import main

sys.exit(main())
