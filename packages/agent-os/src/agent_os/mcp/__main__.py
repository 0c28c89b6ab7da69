"""``python -m agent_os.mcp proxy --policy PATH -- <server command>``."""

from agent_os.mcp._proxy import main

raise SystemExit(main())
