"""The two errors the condition engine raises.

``CelSyntaxError`` comes out of :func:`compile_condition` (the policy loader turns it into a
``PolicyError`` with file, line and column); ``CelEvalError`` comes out of ``Program.evaluate``
and ``Program.evaluate_bool`` and is the only exception they raise.
"""

from __future__ import annotations

__all__ = ["CelEvalError", "CelSyntaxError"]


class CelSyntaxError(Exception):
    """A condition could not be compiled.

    Attributes:
        message: One-line description of the problem.
        offset: 0-based character offset into the source where the problem is.
        line: 1-based line of ``offset`` within the source.
        column: 1-based column of ``offset`` within its line.
        source: The condition's text.
    """

    def __init__(self, message: str, offset: int, source: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.source = source
        before = source[:offset]
        self.line = before.count("\n") + 1
        self.column = offset - (before.rfind("\n") + 1) + 1

    def __reduce__(self) -> tuple[type[CelSyntaxError], tuple[str, int, str]]:
        # keep offset and source when the error crosses a process boundary
        return (type(self), (self.message, self.offset, self.source))


class CelEvalError(Exception):
    """A condition could not be evaluated against a request.

    The policy engine fails closed on it: a restrictive rule whose condition raises counts as
    matched, a permissive one as not matched.

    Attributes:
        message: One-line description of the problem.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
