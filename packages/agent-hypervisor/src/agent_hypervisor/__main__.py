"""``python -m agent_hypervisor``: see `agent_hypervisor._cli`."""

from agent_hypervisor._cli import main

raise SystemExit(main())
