"""Resolve ``extends``: a policy builds on parent policy files, and can never weaken them.

Resolution walks the parents depth first, in ``extends`` order, and lists each parent file once
(a file reached twice through a diamond contributes its rules once): the resolved rules are the
parents' rules in that order, then the policy's own. What a child may not do:

* redefine an inherited rule (same name), and two parents may not define the same rule name;
* say ``default_action: allow`` below a parent whose default is deny (deny is also the default
  when ``default_action`` is absent);
* override an inherited ``deny`` or ``require_approval`` rule: those are *sealed*, and the
  engine lets them win under every conflict strategy.

Parent paths are relative to the folder of the file that names them and, after resolving
symlinks, must stay inside the confinement folder (the root policy's folder, or ``base_dir``):
a policy cannot pull in ``/etc/...`` or ``../../elsewhere.yaml``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent_os._loading._document import ParsedPolicy, validate_rule_count
from agent_os._loading._source_map import DocPath, format_path
from agt_core import PolicyDocument, PolicyError, Rule

__all__ = ["MAX_EXTENDS_DEPTH", "Resolution", "resolve_extends"]

MAX_EXTENDS_DEPTH = 16
"""Longest chain of ``extends`` from a policy to its most distant ancestor."""

_RESTRICTIVE = frozenset({"deny", "require_approval"})

LoadParent = Callable[[str, str], ParsedPolicy]
"""Loads a parent file: (real path, path as shown) -> its single parsed document."""


@dataclass(frozen=True)
class Resolution:
    """A policy with its ``extends`` resolved.

    Attributes:
        document: Parents' rules first, then the policy's own; ``extends`` empty.
        sealed_rules: Inherited rules whose action is deny or require_approval.
        origins: For each rule of ``document``, the parsed policy it comes from and its index there.
        root: The policy being loaded (its own fields, such as ``default_action``, are here).
    """

    document: PolicyDocument
    sealed_rules: frozenset[str]
    origins: tuple[tuple[ParsedPolicy, int], ...]
    root: ParsedPolicy


def resolve_extends(root: ParsedPolicy, *, boundary: str | None, load_parent: LoadParent) -> Resolution:
    """Resolve the ``extends`` of `root`.

    Args:
        root: The policy being loaded.
        boundary: The real folder every parent file must lie in, or None when the policy has
            no file and no ``base_dir`` (then ``extends`` is refused).
        load_parent: Reads and checks one parent file (cached by the caller).

    Returns:
        The resolved policy.

    Raises:
        PolicyError: For a missing, absolute, escaping or cyclic parent path, a chain deeper than
            `MAX_EXTENDS_DEPTH`, a redefined rule, a weakened default, or a conflicting
            request_schema field.
    """
    if not root.document.extends:
        return Resolution(
            document=root.document,
            sealed_rules=frozenset(),
            origins=tuple((root, i) for i in range(len(root.document.rules))),
            root=root,
        )
    return _Resolver(root, boundary, load_parent).resolve()


class _Resolver:
    def __init__(self, root: ParsedPolicy, boundary: str | None, load_parent: LoadParent) -> None:
        self.root = root
        self.boundary = boundary
        self.load_parent = load_parent
        self.parents: list[ParsedPolicy] = []  # post-order: every file after its own parents
        self.done: dict[str, ParsedPolicy] = {}

    def resolve(self) -> Resolution:
        stack = [self.root.real_path] if self.root.real_path else []
        self._visit(self.root, stack, [self._shown(self.root)])
        rules: list[Rule] = []
        origins: list[tuple[ParsedPolicy, int]] = []
        owners: dict[str, ParsedPolicy] = {}
        sealed: set[str] = set()
        schema: dict[str, Any] | None = None
        for policy in [*self.parents, self.root]:
            inherited = policy is not self.root
            for i, rule in enumerate(policy.document.rules):
                owner = owners.get(rule.name)
                if owner is not None:
                    raise self._redefined(policy, i, rule.name, owner)
                owners[rule.name] = policy
                rules.append(rule)
                origins.append((policy, i))
                if inherited and rule.action in _RESTRICTIVE:
                    sealed.add(rule.name)
            if policy.document.request_schema is not None:
                schema = _merge_schema(schema, policy.document.request_schema, policy, ("request_schema",))
        validate_rule_count(len(rules), self.root.source_map)
        data = self.root.document.model_dump(by_alias=True)
        data.update(extends=[], rules=[rule.model_dump() for rule in rules], request_schema=schema)
        # A policy's own redaction block replaces its parents'; without one it inherits the last parent's.
        redaction = next(
            (p.document.redaction for p in reversed([*self.parents, self.root]) if p.document.redaction), None
        )
        if redaction is not None:
            data["redaction"] = redaction.model_dump()
        return Resolution(
            document=PolicyDocument.model_validate(data),
            sealed_rules=frozenset(sealed),
            origins=tuple(origins),
            root=self.root,
        )

    def _shown(self, policy: ParsedPolicy) -> str:
        """A file's name relative to the confinement folder, for cycle and chain messages."""
        if policy.real_path is None or self.boundary is None:
            return policy.file or "<policy>"
        return os.path.relpath(policy.real_path, self.boundary)

    def _visit(self, policy: ParsedPolicy, stack: list[str], chain: list[str]) -> None:
        for k, entry in enumerate(policy.document.extends):
            real, shown = self._locate(policy, k, entry)
            if real in stack:
                # chain[0] is the root; stack holds the root's path only when it is a file.
                start = stack.index(real) + (0 if self.root.real_path else 1)
                cycle = [*chain[start:], chain[start]]
                raise self._error(
                    policy,
                    _extends_path(policy, k),
                    f"extends cycle: {' -> '.join(cycle)}",
                    help_text="a policy cannot extend itself, directly or through its parents",
                )
            parent = self.done.get(real)
            if parent is None:
                if len(chain) > MAX_EXTENDS_DEPTH:
                    raise self._error(
                        policy,
                        _extends_path(policy, k),
                        f"extends chain is deeper than {MAX_EXTENDS_DEPTH} levels: {' -> '.join([*chain, shown])}",
                        help_text="flatten the chain: a policy may extend several parents directly",
                    )
                parent = self.load_parent(real, shown)
                self._visit(parent, [*stack, real], [*chain, self._shown(parent)])
                self.done[real] = parent
                self.parents.append(parent)
            self._check_default(policy, parent)

    def _locate(self, policy: ParsedPolicy, k: int, entry: str) -> tuple[str, str]:
        """The real path of the `k`-th parent named by `policy`, checked to stay confined."""
        path = _extends_path(policy, k)
        if policy.folder is None or self.boundary is None:
            raise self._error(
                policy,
                path,
                "`extends` needs a policy file or `base_dir`",
                help_text="load the policy from a file, or pass base_dir= to say where its parents are",
            )
        if not entry.strip():
            raise self._error(policy, path, "empty `extends` path")
        if "\0" in entry:
            # The OS refuses such a path with a ValueError; it is a policy error like any other.
            raise self._error(policy, path, "`extends` path holds a NUL character")
        if os.path.isabs(entry) or entry.startswith(("/", "\\")) or os.path.splitdrive(entry)[0]:
            raise self._error(
                policy,
                path,
                f"`extends` path `{entry}` is absolute",
                help_text="extends paths are relative to the folder of the policy that names them",
            )
        real = os.path.realpath(os.path.join(policy.folder, entry))
        boundary = self.boundary
        if os.path.commonpath([real, boundary]) != boundary:
            raise self._error(
                policy,
                path,
                f"`extends` path `{entry}` leads outside the policy folder `{boundary}`",
                help_text=(
                    "a policy may only extend files inside the folder of the policy being loaded "
                    "(or base_dir), after following symlinks"
                ),
            )
        shown = os.path.normpath(os.path.join(policy.display_folder or "", entry))
        if not os.path.exists(real):
            raise self._error(
                policy,
                path,
                f"parent policy `{entry}` does not exist",
                help_text=f"looked for `{shown}`; extends takes a file path such as `base.yaml`",
            )
        if not os.path.isfile(real):
            raise self._error(policy, path, f"parent policy `{entry}` is not a file")
        return real, shown

    def _check_default(self, policy: ParsedPolicy, parent: ParsedPolicy) -> None:
        if policy.document.default_action == "allow" and parent.document.default_action == "deny":
            name = parent.file or parent.document.name
            raise self._error(
                policy,
                ("default_action",),
                f"`default_action: allow` would weaken parent `{name}`, whose default is deny",
                help_text=(
                    "a policy that extends a deny-by-default policy must deny by default too "
                    "(a policy without default_action denies by default); keep default_action deny "
                    "and add allow rules for what should pass"
                ),
            )

    def _redefined(self, policy: ParsedPolicy, index: int, name: str, owner: ParsedPolicy) -> PolicyError:
        owner_name = owner.file or owner.document.name
        if policy is self.root:
            return self._error(
                policy,
                ("rules", index, "name"),
                f"rule `{name}` is already defined by parent `{owner_name}`",
                help_text=(
                    "a policy cannot override an inherited rule; give this rule another name "
                    "(inherited deny and require_approval rules always apply)"
                ),
            )
        return self._error(
            policy,
            ("rules", index, "name"),
            f"rule `{name}` is defined both here and in `{owner_name}`",
            help_text="every rule a policy inherits must have its own name; rename one of them",
        )

    def _error(
        self, policy: ParsedPolicy, path: DocPath, message: str, *, help_text: str | None = None
    ) -> PolicyError:
        loc = policy.source_map.location(path)
        return PolicyError(
            message,
            file=policy.file,
            line=loc.line if loc else None,
            column=loc.column if loc else None,
            path=format_path(path),
            help=help_text,
        )


def _extends_path(policy: ParsedPolicy, k: int) -> DocPath:
    # `extends: base.yaml` has no list index in the source; `extends: [a, b]` has.
    return ("extends", k) if policy.source_map.has(("extends", k)) else ("extends",)


def _merge_schema(
    into: dict[str, Any] | None, add: dict[str, Any], policy: ParsedPolicy, path: DocPath
) -> dict[str, Any]:
    """Deep-merge `add` into a copy of `into`: a child adds fields, it cannot change one."""
    out = dict(into or {})
    for key, value in add.items():
        here = (*path, key)
        if key not in out:
            out[key] = _copy_schema(value)
        elif isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = _merge_schema(out[key], value, policy, here)
        elif out[key] != value:
            loc = policy.source_map.location(here)
            raise PolicyError(
                f"request_schema field `{'.'.join(str(p) for p in here[1:])}` is already declared "
                f"as `{_shown_type(out[key])}` by a parent policy",
                file=policy.file,
                line=loc.line if loc else None,
                column=loc.column if loc else None,
                path=format_path(here),
                help="a policy may add request_schema fields to its parents', not change them",
            )
    return out


def _copy_schema(value: Any) -> Any:
    return {k: _copy_schema(v) for k, v in value.items()} if isinstance(value, dict) else value


def _shown_type(value: Any) -> str:
    return "a mapping" if isinstance(value, dict) else str(value)
