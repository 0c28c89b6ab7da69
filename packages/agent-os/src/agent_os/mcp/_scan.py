"""Tool poisoning and typosquatting: deterministic checks on MCP tool definitions.

A tool's description and input schema go straight into the model's context, so a malicious
server can hide instructions there ("tool poisoning"): text invisible to the user (Unicode tag
characters, zero-width and bidirectional controls), "ignore previous instructions", orders to
read secrets or send data elsewhere, or orders about *another* server's tools (cross-tool
shadowing). Every check here is a fixed rule on normalised text: the same definition always
gives the same findings, each with the rule that fired and where.

Two severities:

- ``block``: the definition is withheld from the client and calls to the tool are refused.
- ``flag``: the definition passes; the finding travels with every call to the tool as
  ``context.mcp.flags`` / ``context.mcp.findings``, so a policy can decide.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Character-level normalisation is shared with the injection detector (agent_os.detection).
from agent_os.detection._models import DetectionError
from agent_os.detection._pipeline import strings_in as _strings
from agent_os.detection._text import decoded_tags as _decoded_tags
from agent_os.detection._text import fold as _normalise
from agent_os.detection._text import is_hidden as _hidden

__all__ = ["Finding", "name_skeleton", "resembles", "scan_tool"]

Severity = Literal["block", "flag"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired on a tool definition.

    Attributes:
        kind: The rule: ``hidden-characters``, ``instruction-override``, ``concealment``,
            ``sensitive-file``, ``exfiltration``, ``file-relay``, ``shadowing``,
            ``tool-mention``, ``typosquat``, ``name-collision`` or ``too-deep`` (a definition
            nested too deep to scan whole, refused rather than half-scanned).
        severity: ``block`` (withheld, refused) or ``flag`` (passed on to the policy).
        where: The field it fired in (``description``, ``inputSchema.properties.path.description``, ``name``).
        reason: One line saying what was found.
    """

    kind: str
    severity: Severity
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} in {self.where}: {self.reason}"


_W = r"[\s\S]{0,60}?"
_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "instruction-override",
        re.compile(
            r"\b(ignore|disregard|forget|override|bypass)\b"
            + _W
            + r"\b(previous|prior|above|earlier|preceding|all|any|other|system|safety|original)\b"
            + _W
            + r"\b(instructions?|prompts?|rules?|directions?|guidelines?|messages?|context|polic(y|ies))\b"
        ),
        "tells the model to disregard its instructions",
    ),
    (
        "instruction-override",
        re.compile(
            r"<\s*/?\s*(important|system|instructions?|secret|hidden|admin|override)\s*>|\[\s*(system|inst)\s*\]"
        ),
        "carries a hidden-instruction marker",
    ),
    (
        "concealment",
        re.compile(
            r"\b(do not|don't|dont|never|without)\b"
            + _W
            + r"\b(tell|telling|inform|informing|mention|mentioning|reveal|revealing|show|showing|notify|"
            r"notifying|disclose|disclosing|alert|alerting|ask|asking)\b"
            + _W
            + r"\b(the )?(user|human|operator)s?\b"
        ),
        "tells the model to hide what it does from the user",
    ),
    (
        "sensitive-file",
        re.compile(
            r"(~|\$home|%userprofile%|/home/[^\s/]+|/root|/users/[^\s/]+)?/?\.(ssh|aws|gnupg|kube|docker|azure|"
            r"config/gcloud)\b|\bid_(rsa|dsa|ecdsa|ed25519)\b|(^|[\s/\"'`])\.env\b|/etc/(passwd|shadow|sudoers)\b|"
            r"\bcredentials\.json\b|\bmcp\.json\b|\.netrc\b|\.npmrc\b|\.pypirc\b|\.git-credentials\b"
        ),
        "refers to credentials or a sensitive file",
    ),
    (
        "file-relay",
        re.compile(
            r"\b(read|cat|open|load|fetch|get|collect|gather|attach)\b"
            + _W
            + r"\b(and|then)\b"
            + _W
            + r"\b(pass|send|include|put|add|append|upload|post|provide|insert|copy)\b"
            + _W
            + r"\b(as|in|into|inside|via|through)\b"
            + _W
            + r"(\b(parameters?|arguments?|fields?|params?|sidenotes?|notes?)\b|'[^']+'|\"[^\"]+\"|`[^`]+`)"
        ),
        "tells the model to read data and smuggle it into a call",
    ),
    (
        "exfiltration",
        re.compile(
            r"\b(send|forward|post|upload|exfiltrate|transmit|copy|bcc|cc|leak|report|redirect)\b"
            + _W
            + r"\b(to|into|at)\b\s*\S{0,20}?(https?://|ftp://|[\w.+-]+@[\w-]+\.[\w.-]+|\bwebhook\b|\bexternal\b|"
            r"\bremote (server|host|endpoint)\b|\battacker\b)"
        ),
        "tells the model to send data to an outside address",
    ),
)

_IMPERATIVE = re.compile(
    r"\b(when|whenever|before|after|instead|rather than|must|always|never|do not|don't|also|every time|"
    r"first|only|replace|override|redirect)\b"
)


def _mentions(text: str, name: str) -> bool:
    spelled = re.escape(_normalise(name))
    # snake_case, kebab-case and spaced spellings of the same name.
    spelled = re.sub(r"(\\ |_|\\-)", r"[ _-]", spelled)
    return re.search(rf"(?<![\w-]){spelled}(?![\w-])", text) is not None


def scan_tool(
    tool: Mapping[str, Any],
    *,
    same_server: Iterable[str] = (),
    other_servers: Mapping[str, Iterable[str]] | None = None,
) -> tuple[Finding, ...]:
    """Check one tool definition (the wire form from ``tools/list``) for hidden instructions.

    Args:
        tool: The definition: ``name``, ``title``, ``description``, ``inputSchema``, ...
        same_server: Names of the other tools of the same server (a mention is flagged).
        other_servers: Tool names of other servers, by server (a mention with an instruction
            blocks: cross-tool shadowing; a near-identical name is flagged as a typosquat).

    Returns:
        The findings, in a fixed order (field order, then rule order); empty when clean.
    """
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, severity: Severity, where: str, reason: str) -> None:
        if (kind, where) not in seen:
            seen.add((kind, where))
            findings.append(Finding(kind, severity, where, reason))

    texts: list[tuple[str, str]] = []
    for key in ("name", "title", "description", "inputSchema", "outputSchema", "annotations"):
        if key in tool:
            try:
                texts.extend(_strings(tool[key], key))
            except DetectionError as exc:
                # A definition nested too deep to read whole is refused, never half-scanned.
                add("too-deep", "block", key, str(exc))
    own = tool.get("name") if isinstance(tool.get("name"), str) else ""
    others = {server: sorted(set(names)) for server, names in (other_servers or {}).items()}
    siblings = sorted(set(same_server) - {own})
    for where, raw in texts:
        hidden = sorted({f"U+{ord(ch):04X}" for ch in raw if _hidden(ch)})
        if hidden:
            tags = _decoded_tags(raw)
            shown = f" spelling {tags[:80]!r}" if tags else ""
            add("hidden-characters", "block", where, f"invisible characters {', '.join(hidden[:6])}{shown}")
        text = _normalise(raw + " " + _decoded_tags(raw))
        for kind, pattern, reason in _RULES:
            match = pattern.search(text)
            if match:
                add(kind, "block", where, f"{reason}: {match.group(0)[:80]!r}")
        if where == "name":
            continue
        for server, names in others.items():
            for name in names:
                if len(name) >= 3 and name != own and _mentions(text, name):
                    severity: Severity = "block" if _IMPERATIVE.search(text) else "flag"
                    add(
                        "shadowing",
                        severity,
                        where,
                        f"mentions tool `{name}` of server `{server}`"
                        + (" with an instruction" if severity == "block" else ""),
                    )
        for name in siblings:
            if len(name) >= 3 and _mentions(text, name):
                add("tool-mention", "flag", where, f"mentions tool `{name}` of the same server")
    if own:
        for server, names in others.items():
            for name in names:
                if name == own:
                    add("name-collision", "flag", "name", f"server `{server}` has a tool of the same name")
                elif resembles(own, name):
                    add("typosquat", "flag", "name", f"`{own}` resembles `{name}` of server `{server}`")
    return tuple(findings)


_CONFUSABLE = str.maketrans(
    {"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "i": "l"}
)


def name_skeleton(name: str) -> str:
    """A name as it looks: NFKC, case-folded, invisible characters and separators dropped, look-alikes merged."""
    text = _normalise(name).translate(_CONFUSABLE)
    text = re.sub(r"[\s_.\-]+", "", text)
    return text.replace("rn", "m").replace("vv", "w")


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, prev2[j - 2] + 1)
            row.append(value)
        prev2, prev = prev, row
    return prev[-1]


def resembles(name: str, known: str) -> bool:
    """Whether `name` looks like `known` without being it: same skeleton, or one edit apart (5+ characters)."""
    if name == known:
        return False
    a, b = name_skeleton(name), name_skeleton(known)
    if a == b:
        return True
    return min(len(a), len(b)) >= 5 and _distance(a, b) <= 1
