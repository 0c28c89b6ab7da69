"""Haystack sends usage telemetry by default: off for the tests (before haystack is imported)."""

import os

os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"
