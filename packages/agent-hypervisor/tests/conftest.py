"""The test helpers beside this file (hv_support, the worker scripts) import by plain name.

The repository runs pytest with ``--import-mode=importlib``, which does not put test folders on
``sys.path``; the helpers' names are unique to this package.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
