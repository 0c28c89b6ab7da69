"""``python -m agent_compliance``: the same as the `agt` command."""

import sys

from agent_compliance import main

sys.exit(main())
