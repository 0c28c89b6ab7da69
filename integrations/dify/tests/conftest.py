"""dify-plugin monkey-patches the standard library with gevent when imported (its plugin runtime).

A plugin's ``main.py`` imports it first; under pytest, ssl is already imported by then, so gevent
warns (and the root config turns warnings into errors). Import it once here with that warning
silenced.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import dify_plugin  # noqa: F401
