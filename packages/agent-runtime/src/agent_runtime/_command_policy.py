"""The command policy: which programs a shell command line may start, checked before it runs.

A line is parsed (`agent_runtime._shell_commands.invocations`) into every program it would start,
wrappers and ``sh -c`` strings included, and each program is checked:

* **deny-list** (``deny=[...]``): no program may have a denied name. Code the checker can see
  but not read (``python -c``, a shell reading a pipe, an ``awk`` program calling ``system``)
  is refused too, because it could run a denied program.
* **allow-list** (``allow=[...]``): every program must have an allowed name, and a program named
  by path must live in a trusted directory (``./ls`` is not ``ls``). Inline code is accepted
  only for an interpreter that is itself allowed.
* either way, a program told on the line to start another command the checker cannot follow
  (``git -c core.pager=...``, ``tar --checkpoint-action=exec=...``, awk's ``system``, sed's ``e``,
  ``ssh -o ProxyCommand=...``) is refused.
* **argument rules**: regular expressions searched in a program's arguments (joined by single
  spaces); a program with a rule whose arguments are only known at run time is refused.

Names match case-insensitively, and a name also answers to its unversioned forms: ``deny=["python"]``
refuses ``python3`` and ``python3.11``; a deny-list also covers a program's other names (`ALIASES`:
``nc`` covers ``ncat`` and ``netcat``). Anything the parser cannot settle is refused.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent_runtime._shell_commands import CommandRefused, Invocation, command_family, invocations

if TYPE_CHECKING:
    from agt_core import Decision

__all__ = [
    "ArgumentRule",
    "CommandFacts",
    "CommandGuard",
    "CommandPolicy",
    "check_command",
    "load_command_policy",
]

# Programs installed under several names. A deny-list naming one denies them all (an allow-list
# allows only the names it lists: widening it would grant more than was written).
ALIASES: tuple[frozenset[str], ...] = (
    frozenset({"nc", "ncat", "netcat", "nc.openbsd", "nc.traditional", "pnetcat"}),
    frozenset({"awk", "gawk", "mawk", "nawk", "original-awk"}),
    frozenset({"vi", "vim", "nvim", "view", "ex", "rvim", "vimdiff", "vim.basic", "vim.tiny"}),
    frozenset({"node", "nodejs"}),
    frozenset({"python", "pypy", "python-dbg"}),
    frozenset({"sed", "gsed"}),
    frozenset({"tar", "gtar", "bsdtar"}),
    frozenset({"sh", "dash", "ash"}),
    frozenset({"socat", "socat1"}),
    frozenset({"telnet", "telnet.netkit"}),
    frozenset({"mkfs", "mke2fs"}),
)


def _with_aliases(family: tuple[str, ...]) -> set[str]:
    names = set(family)
    for group in ALIASES:
        if names & group:
            names |= group
    return names


DEFAULT_TRUSTED_DIRS = ("/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/local/sbin")


class ArgumentRule(BaseModel):
    """Argument patterns for one program: ``deny`` regexes searched in its joined arguments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: str = Field(min_length=1, description="Program name the rule applies to (family matching).")
    deny: tuple[str, ...] = Field(min_length=1, description="Python regular expressions; any match refuses.")

    @field_validator("deny")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return value


class CommandPolicy(BaseModel):
    """A command policy: a deny-list, an allow-list, or both, plus argument rules.

    Attributes:
        name: Names the policy in decisions (``decision.policy``).
        deny: Program names that must never run.
        allow: When set, the only program names that may run.
        arguments: Argument rules per program.
        allow_env: Environment names that may be set on the line although they can change what
            runs (``PATH``, ``LD_PRELOAD``, ``GIT_*``, ... are refused by default).
        allow_script_files: Whether ``bash x.sh`` / ``python x.py`` may run under a deny-list
            (the file's contents are not on the line and cannot be checked).
        trusted_dirs: Directories a path-qualified program must be in under an allow-list.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "command-policy"
    deny: frozenset[str] = frozenset()
    allow: frozenset[str] | None = None
    arguments: tuple[ArgumentRule, ...] = ()
    allow_env: frozenset[str] = frozenset()
    allow_script_files: bool = True
    trusted_dirs: tuple[str, ...] = DEFAULT_TRUSTED_DIRS

    @field_validator("deny", "allow", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            raise ValueError("give a list of program names, not one string")
        names = [str(v) for v in value]
        bad = [n for n in names if not n or "/" in n or n != n.strip()]
        if bad:
            raise ValueError(f"program names are bare names without `/` or spaces, got {bad[0]!r}")
        return frozenset(n.casefold() for n in names)

    def model_post_init(self, _context: Any) -> None:
        if not self.deny and self.allow is None and not self.arguments:
            raise ValueError("a command policy needs `deny`, `allow` or `arguments`")

    @property
    def mode(self) -> Literal["allow", "deny"]:
        """``allow`` when an allow-list is set, else ``deny``."""
        return "allow" if self.allow is not None else "deny"

    def check(self, command: str | Sequence[str]) -> Decision:
        """Decide whether `command` (a shell line, or an argv list run without a shell) may run."""
        from agt_core import Decision

        reason, rule = self._refusal(command)
        if reason is None:
            return Decision(effect="allow", allowed=True, policy=self.name, message="command allowed")
        return Decision(effect="deny", allowed=False, policy=self.name, rule=rule, message=reason)

    def programs(self, command: str | Sequence[str]) -> list[Invocation]:
        """Every program `command` would start. Raises `CommandRefused` if it cannot be followed."""
        return invocations(_as_line(command), allow_env=self.allow_env)

    def _refusal(self, command: str | Sequence[str]) -> tuple[str | None, str]:
        try:
            found = self.programs(command)
        except CommandRefused as exc:
            return str(exc), "unparseable"
        except ValueError as exc:
            return f"cannot check the command: {exc}", "unparseable"
        if not found:
            return None, ""
        for inv in found:
            reason = self._check_one(inv)
            if reason is not None:
                return reason
        return None, ""

    def _check_one(self, inv: Invocation) -> tuple[str, str] | None:
        family = command_family(inv.name)
        shown = _describe(inv)
        if self.deny.intersection(_with_aliases(family)):
            return f"{shown} is on the deny-list", "deny-list"
        if inv.spawns is not None:
            return f"cannot check {shown}: {inv.spawns}", "unparseable"
        if self.allow is not None:
            if not self.allow.intersection(family):
                return f"{shown} is not on the allow-list", "allow-list"
            if inv.path is not None:
                norm = inv.path
                parent = posixpath.dirname(norm)
                if ".." in norm.split("/") or "." in norm.split("/")[:-1] or parent not in self.trusted_dirs:
                    return (
                        f"{shown} is named by a path outside the trusted directories "
                        f"({', '.join(self.trusted_dirs)})",
                        "allow-list",
                    )
        elif inv.opaque is not None:
            return f"cannot check {shown} against the deny-list: {inv.opaque}", "deny-list"
        elif inv.script is not None and not self.allow_script_files:
            return f"cannot check {shown}: it runs the script file {inv.script!r}", "deny-list"
        for rule in self.arguments:
            if rule.command.casefold() not in family:
                continue
            if inv.dynamic_args:
                return (
                    f"{shown} has arguments known only at run time; its argument rules cannot be checked",
                    ("arguments"),
                )
            joined = " ".join(inv.args)
            for pattern in rule.deny:
                if re.search(pattern, joined):
                    return f"{shown} has arguments matching {pattern!r}", "arguments"
        return None


def _describe(inv: Invocation) -> str:
    shown = f"`{inv.path or inv.name}`"
    if inv.via:
        shown += f" (run through {' -> '.join(inv.via)})"
    return shown


def _as_line(command: str | Sequence[str]) -> str:
    if isinstance(command, str):
        return command
    if isinstance(command, Sequence) and all(isinstance(part, str) for part in command) and command:
        return shlex.join(command)
    raise CommandRefused("a command must be a string or a non-empty list of strings")


def check_command(
    command: str | Sequence[str],
    *,
    deny: Iterable[str] | None = None,
    allow: Iterable[str] | None = None,
    allow_env: Iterable[str] = (),
) -> Decision:
    """Check one command line against a deny-list or an allow-list of program names.

    Example::

        check_command("ls -la | grep x", allow=["ls", "grep"]).allowed   # True
        check_command("sudo /bin/rm -rf /", deny=["rm"]).allowed          # False

    Returns:
        An `agt_core.Decision`; a refusal names the rule (``deny-list``, ``allow-list``,
        ``unparseable``) and says why in ``message``.
    """
    policy = CommandPolicy(
        deny=frozenset(deny or ()),
        allow=None if allow is None else frozenset(allow),
        allow_env=frozenset(allow_env),
    )
    return policy.check(command)


def load_command_policy(source: str | Path | Mapping[str, Any]) -> CommandPolicy:
    """Load a command policy document (``kind: CommandPolicy``) from a file, YAML text or mapping.

    Raises:
        agt_core.PolicyError: if the document is not a valid command policy.
    """
    from agt_core import PolicyError

    file: str | None = None
    data: Any
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        import yaml

        text = str(source)
        if isinstance(source, Path) or ("\n" not in text and text.endswith((".yaml", ".yml"))):
            file = str(source)
            try:
                text = Path(source).read_text(encoding="utf-8")
            except OSError as exc:
                raise PolicyError(f"cannot read command policy {file!r}: {exc.strerror}", file=file) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise PolicyError(
                "command policy is not valid YAML",
                file=file,
                line=None if mark is None else mark.line + 1,
                column=None if mark is None else mark.column + 1,
            ) from None
    if not isinstance(data, dict):
        raise PolicyError("a command policy must be a mapping", file=file)
    if data.get("apiVersion") != "governance.toolkit/v1":
        raise PolicyError(
            "command policy needs `apiVersion: governance.toolkit/v1`", file=file, path="apiVersion"
        )
    if data.get("kind") != "CommandPolicy":
        raise PolicyError("command policy needs `kind: CommandPolicy`", file=file, path="kind")
    body = {k: v for k, v in data.items() if k not in ("apiVersion", "kind", "description")}
    try:
        return CommandPolicy.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or None
        raise PolicyError(f"invalid command policy: {first['msg']}", file=file, path=path) from None
    except ValueError as exc:
        raise PolicyError(f"invalid command policy: {exc}", file=file) from None


def _command_of(request: Mapping[str, Any], tools: Mapping[str, str] | None, arg: str) -> tuple[bool, Any]:
    """Whether the request is a governed shell call, and the command argument's value."""
    action = request.get("action")
    tool = action.get("tool") if isinstance(action, Mapping) else None
    if tools is not None:
        if not isinstance(tool, str) or tool not in tools:
            return False, None
        arg = tools[tool]
    args = request.get("args")
    if not isinstance(args, Mapping) or arg not in args:
        return True, _MISSING
    return True, args[arg]


_MISSING = object()


class CommandGuard:
    """A `agt_core.Guard` that refuses governed shell calls whose command the policy refuses.

    Args:
        policy: The command policy.
        tools: Tool name -> name of its command argument. None applies the guard to every tool,
            reading `arg`, and refuses any call without that argument (fail closed): give
            `tools` when the guard is registered for a whole pipeline.
        arg: The argument holding the command when `tools` is None.
    """

    def __init__(
        self, policy: CommandPolicy, *, tools: Mapping[str, str] | None = None, arg: str = "command"
    ) -> None:
        self.policy = policy
        self.tools = dict(tools) if tools is not None else None
        self.arg = arg
        self.name = f"command-policy:{policy.name}"

    def check(self, request: Mapping[str, Any]) -> str | None:
        """Return the reason the call's command must not run, or None."""
        applies, value = _command_of(request, self.tools, self.arg)
        if not applies:
            return None
        if value is _MISSING:
            return "the call has no command argument to check"
        if not isinstance(value, (str, list, tuple)):
            return f"the command argument is a {type(value).__name__}, not a string or a list of strings"
        decision = self.policy.check(value)
        return None if decision.allowed else decision.message


class CommandFacts:
    """An `agt_core.Enricher` adding ``context.command`` so policy conditions can judge commands.

    Adds ``{"parsed": true, "programs": [...names...], "opaque": bool, "via": [...]}``, or
    ``{"parsed": false, "error": "..."}`` when the line cannot be followed. Example rule::

        condition: "action.tool == 'shell' && context.command.programs.exists(p, p in ['rm', 'curl'])"
    """

    name = "command-facts"

    def __init__(
        self, *, tools: Mapping[str, str] | None = None, arg: str = "command", allow_env: Iterable[str] = ()
    ) -> None:
        self.tools = dict(tools) if tools is not None else None
        self.arg = arg
        self.allow_env = frozenset(allow_env)

    def enrich(self, request: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]] | None:
        """Add the programs the call's command would start to ``context.command``."""
        applies, value = _command_of(request, self.tools, self.arg)
        if not applies:
            return None
        try:
            if value is _MISSING or not isinstance(value, (str, list, tuple)):
                raise CommandRefused("the call has no command argument (a string or a list of strings)")
            found = invocations(_as_line(value), allow_env=self.allow_env)
        except CommandRefused as exc:
            return {"context": {"command": {"parsed": False, "error": str(exc)}}}
        programs: list[str] = []
        for inv in found:
            for name in command_family(inv.name):
                if name not in programs:
                    programs.append(name)
        return {
            "context": {
                "command": {
                    "parsed": True,
                    "programs": programs,
                    "opaque": any(inv.opaque is not None for inv in found),
                    "scripts": [inv.script for inv in found if inv.script is not None],
                }
            }
        }
