"""Capability names and patterns: what a delegation grants and what a call needs.

A capability is a name made of ``:``-separated segments (``email:send``, ``files:read:tmp``);
segments use lowercase letters, digits, ``_``, ``-`` and ``.``. A pattern is a name, or a
prefix wildcard that ends in ``:*`` (``read:*`` covers ``read`` itself and every name under
it, such as ``read:users``), or ``*`` (everything). Nothing else is a wildcard: ``re*d``,
``*:send`` and ``read:*:x`` are refused, so what a grant means is never ambiguous.

Attenuation: a set of patterns is *within* another when every pattern is covered by one of the
other's, so a delegate can hold ``read:users`` under ``read:*`` but never ``read:*`` under
``read:users``, and nobody gets ``*`` unless it was granted ``*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["capability_covers", "check_capability", "check_pattern", "covered_by", "patterns_within"]

_NAME = re.compile(r"[a-z0-9_.\-]+(?::[a-z0-9_.\-]+)*")


def check_capability(name: object) -> str:
    """Return `name` if it is a capability name (no wildcard).

    Raises:
        ValueError: describing what is wrong with it.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"`{name}` is not a capability name (segments of a-z, 0-9, `_`, `-`, `.` separated by `:`)"
        )
    return name


def check_pattern(pattern: object) -> str:
    """Return `pattern` if it is a name, ``prefix:*`` or ``*``.

    Raises:
        ValueError: describing what is wrong with it.
    """
    if pattern == "*":
        return "*"
    if isinstance(pattern, str) and pattern.endswith(":*") and _NAME.fullmatch(pattern[:-2]):
        return pattern
    if isinstance(pattern, str) and _NAME.fullmatch(pattern):
        return pattern
    raise ValueError(
        f"`{pattern}` is not a capability pattern: use a name (`email:send`), a prefix wildcard "
        "(`read:*`) or `*`"
    )


def capability_covers(pattern: str, name: str) -> bool:
    """Whether `pattern` grants the capability `name`."""
    if pattern == "*":
        return True
    if pattern.endswith(":*"):
        prefix = pattern[:-2]
        return name == prefix or name.startswith(prefix + ":")
    return pattern == name


def covered_by(pattern: str, parent: str) -> bool:
    """Whether everything `pattern` grants is also granted by `parent`."""
    if parent == "*":
        return True
    if pattern == "*":
        return False
    if pattern.endswith(":*"):
        # A wildcard fits only under a wildcard at the same or a shorter prefix.
        return parent.endswith(":*") and capability_covers(parent, pattern[:-2])
    return capability_covers(parent, pattern)


def patterns_within(patterns: Iterable[str], parents: Iterable[str]) -> list[str]:
    """The patterns of `patterns` that no pattern of `parents` covers (empty when all are within)."""
    parent_list = list(parents)
    return [p for p in patterns if not any(covered_by(p, q) for q in parent_list)]
