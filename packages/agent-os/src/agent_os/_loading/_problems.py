"""Several policy problems as one `PolicyError`, so one load reports everything there is to fix."""

from __future__ import annotations

from collections.abc import Sequence

from agt_core import PolicyError

__all__ = ["PolicyProblems", "combine"]


class PolicyProblems(PolicyError):
    """A `PolicyError` for several problems found in one load.

    Its own attributes (file, line, column, path, expected, help) are those of the first problem,
    so code that reads one position keeps working; `problems` holds them all, each with its own
    file, line and column, and ``str()`` shows every one.

    Attributes:
        problems: Every problem, in the order found (document order within each document).
    """

    def __init__(self, problems: Sequence[PolicyError]) -> None:
        first = problems[0]
        super().__init__(
            f"{first.reason} (first of {len(problems)} errors)",
            file=first.file,
            line=first.line,
            column=first.column,
            path=first.path,
            expected=first.expected,
            help=first.help,
        )
        self.problems: tuple[PolicyError, ...] = tuple(problems)

    def __str__(self) -> str:
        return "\n".join([super().__str__(), *(str(problem) for problem in self.problems[1:])])


def combine(errors: Sequence[PolicyError]) -> PolicyError:
    """One error for `errors`: the error itself when there is one, else a `PolicyProblems`.

    Raises:
        ValueError: If `errors` is empty (a caller bug: there is nothing to report).
    """
    flat: list[PolicyError] = []
    seen: set[str] = set()
    for error in errors:
        for problem in error.problems if isinstance(error, PolicyProblems) else (error,):
            # A broken parent shared by two policies is one problem, not two.
            if str(problem) not in seen:
                seen.add(str(problem))
                flat.append(problem)
    if not flat:
        raise ValueError("no policy errors to combine")
    return flat[0] if len(flat) == 1 else PolicyProblems(flat)
