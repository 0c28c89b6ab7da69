"""The agent-lightning version."""

__version__ = "0.1.0"
