"""A conservative parser for POSIX/bash command lines: finds every simple command that would run.

It is not a shell. It reads the part of the bash grammar that agents type (quoting, escapes,
``|``, ``;``, ``&``, ``&&``, ``||``, newlines, subshells, ``{ ...; }``, ``if/while/until/for``,
``$(...)``, backticks, process substitution, redirections, here-documents, here-strings and
environment-assignment prefixes) and returns a flat list of the simple commands in it, nested
substitutions included. Anything whose meaning it cannot settle from the text alone raises
`ShellSyntaxError` so that callers refuse it: unterminated quotes, ``case``, ``[[``, ``((``,
function definitions, array assignments, ``$"..."``, arithmetic that names variables (bash
evaluates variable *values* as expressions, and ``a[$(cmd)]`` inside one runs ``cmd``),
parameter expansions beyond the plain forms, control characters, and lines past the limits.

A word whose value is only known at run time (a parameter expansion, an unquoted glob or brace
expansion, a command substitution) is marked ``dynamic``; its ``text`` then holds the static
parts only and must not be trusted as the word's value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "Redirect", "ShellSyntaxError", "SimpleCommand", "Word", "parse"]

MAX_LENGTH = 65_536
"""Longest command line accepted, in characters."""
MAX_DEPTH = 16
"""Deepest nesting of substitutions, subshells and ``sh -c`` strings accepted."""

_OPERATOR_CHARS = frozenset("|&;()<>")
_BLANKS = frozenset(" \t")
_WORD_END = _OPERATOR_CHARS | _BLANKS | {"\n"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN = re.compile(r"[^ \t\n|&;()<>\\'\"$`\x00-\x1f\x7f]+")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?(\+?=)")
# Parameter expansions whose evaluation runs nothing: ${name}, ${#name}, ${name:-word} and
# friends, ${name#pat}, ${name%pat}, ${name/pat/rep}, ${name^}, ${name,}. Offsets (${x:1}) and
# subscripts are arithmetic and so can run code through a variable's value; @-operators such as
# ${x@P} run prompt expansion. Both are refused.
_SAFE_PARAM = re.compile(
    r"#?(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]|[@*#?$!-])"
    r"(?:(?::?[-=+?]|##?|%%?|//?|\^\^?|,,?)[A-Za-z0-9_./:@%+=,~ \-\^*?\[\]]*)?"
)
_SAFE_ARITH = re.compile(r"[0-9\s+\-*/%()<>=!&|^~?:,]*")
_RESERVED_OPEN = frozenset({"{", "!", "if", "then", "else", "elif", "do", "while", "until"})
_RESERVED_CLOSE = frozenset({"}", "fi", "done"})
_REFUSED_KEYWORDS = {
    "case": "`case` statements are not supported",
    "select": "`select` loops are not supported",
    "function": "function definitions are not supported",
    "coproc": "`coproc` is not supported",
    "[[": "`[[ ... ]]` evaluates variables as arithmetic and is not supported; use `[ ... ]`",
    "]]": "`[[ ... ]]` is not supported",
    "esac": "`case` statements are not supported",
    "in": "unexpected `in`",
}


class ShellSyntaxError(ValueError):
    """The command line cannot be parsed with certainty; it must be refused.

    Attributes:
        position: 0-based offset in the text being parsed where the problem was found.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True, slots=True)
class Word:
    """One shell word after quote removal.

    Attributes:
        text: The word's value; for a dynamic word, only its static parts.
        dynamic: Part of the value is only known at run time (expansion, glob, brace expansion).
        quoted: Some part of the word was quoted or escaped.
        unquoted_prefix: The leading part of the word as typed, up to the first quote or escape
            (used to recognise assignments and reserved words, which must be unquoted).
        process_substitution: The word is exactly one ``<(...)`` or ``>(...)`` (a /dev/fd path).
    """

    text: str
    dynamic: bool = False
    quoted: bool = False
    unquoted_prefix: str = ""
    process_substitution: bool = False


@dataclass(frozen=True, slots=True)
class Redirect:
    """One redirection: ``op`` is ``>``, ``>>``, ``<``, ``<<``, ``<<<``, ``>&``, ... .

    Attributes:
        op: The operator.
        fd: The explicit file descriptor before the operator, if any.
        target: The target word (None for a here-document).
        heredoc: A here-document's body, or a here-string's text (None when not static).
    """

    op: str
    fd: str | None
    target: Word | None
    heredoc: str | None = None


@dataclass(slots=True)
class SimpleCommand:
    """One simple command: assignments, words and redirections, as bash would run it.

    ``header`` marks the word list of a ``for NAME in WORDS`` loop: its words are not a command,
    only the substitutions inside them run (and appear as commands of their own).
    """

    assignments: list[tuple[str, Word]] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    header: bool = False
    depth: int = 0


@dataclass(slots=True)
class _PendingHeredoc:
    delimiter: str
    strip_tabs: bool
    expand: bool
    command: SimpleCommand
    index: int


class _Parser:
    def __init__(self, text: str, depth: int, out: list[SimpleCommand]) -> None:
        self.s = text
        self.i = 0
        self.depth = depth
        self.out = out
        self.pending: list[_PendingHeredoc] = []

    # -- helpers ------------------------------------------------------------------------------

    def error(self, message: str, at: int | None = None) -> ShellSyntaxError:
        return ShellSyntaxError(message, self.i if at is None else at)

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.s[j] if j < len(self.s) else ""

    def skip_blanks(self) -> None:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in _BLANKS:
                self.i += 1
            elif c == "\\" and self.peek(1) == "\n":
                self.i += 2
            else:
                break

    def skip_comment(self) -> None:
        if self.peek() == "#":
            while self.i < len(self.s) and self.s[self.i] != "\n":
                self.i += 1

    def newline(self) -> None:
        """Consume a newline and any here-document bodies that start after it."""
        self.i += 1
        pending, self.pending = self.pending, []
        for doc in pending:
            self.read_heredoc(doc)

    # -- lists --------------------------------------------------------------------------------

    def parse_list(self, closer: str | None) -> None:
        """Parse commands until EOF or the unmatched `closer` (``)``), which is consumed."""
        expect_command = True
        last_op = ""
        while True:
            self.skip_blanks()
            if self.i >= len(self.s):
                if expect_command and last_op in ("|", "|&", "&&", "||"):
                    raise self.error(f"command line ends after {last_op!r}")
                if self.pending:
                    raise self.error(f"here-document delimited by {self.pending[0].delimiter!r} has no end")
                if closer is not None:
                    raise self.error(f"missing closing {closer!r}")
                return
            c = self.s[self.i]
            if c == "#":
                self.skip_comment()
                continue
            if c == "\n":
                self.newline()
                expect_command = True
                if last_op not in ("|", "|&", "&&", "||"):
                    last_op = "\n"
                continue
            if closer is not None and c == closer:
                if expect_command and last_op in ("|", "|&", "&&", "||"):
                    raise self.error(f"{last_op!r} is followed by {closer!r}")
                if self.pending:
                    raise self.error("here-document not terminated before `)`")
                self.i += 1
                return
            if c in ";&|":
                op = self.read_operator()
                if op in {";;", ";&", ";;&"}:
                    raise self.error(f"unexpected {op!r}")
                if expect_command and op != ";":
                    raise self.error(f"syntax error near {op!r}")
                if expect_command and op == ";":
                    raise self.error("syntax error near ';'")
                expect_command = True
                last_op = op
                continue
            if not expect_command:
                raise self.error(f"syntax error near {c!r}")
            expect_command = self.parse_command()
            last_op = ""

    def read_operator(self) -> str:
        s, i = self.s, self.i
        for op in (";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|"):
            if s.startswith(op, i):
                self.i += len(op)
                return op
        raise self.error(f"unexpected {s[i]!r}")  # pragma: no cover - callers check the char

    # -- commands -----------------------------------------------------------------------------

    def parse_command(self) -> bool:
        """Parse one command at command position; return True if another command must follow."""
        if self.peek() == "(":
            if self.peek(1) == "(":
                raise self.error("`(( ... ))` arithmetic is not supported")
            self.i += 1
            self.nested_list(")")
            self.parse_trailing_redirects()
            return False
        start = self.i
        cmd = SimpleCommand(depth=self.depth)
        word = self.read_word_or_redirect(cmd)
        if word is None:
            # Only redirections so far (or none): continue as a simple command.
            return self.finish_simple(cmd)
        bare = word.unquoted_prefix if not word.quoted and not word.dynamic else None
        if bare is not None:
            if bare in _REFUSED_KEYWORDS:
                raise self.error(_REFUSED_KEYWORDS[bare], start)
            if bare in _RESERVED_OPEN:
                return True
            if bare in _RESERVED_CLOSE:
                self.parse_trailing_redirects()
                return False
            if bare == "for":
                self.parse_for()
                return True
            if bare == "time":
                # The `time` keyword (optionally -p) prefixes a pipeline.
                self.skip_blanks()
                if self.s.startswith("-p", self.i) and (self.peek(2) in _WORD_END or self.peek(2) == ""):
                    self.i += 2
                return True
        match = _ASSIGNMENT.match(word.unquoted_prefix)
        if match is not None:
            self.add_assignment(cmd, word, match, start)
        else:
            cmd.words.append(word)
        return self.finish_simple(cmd)

    def add_assignment(self, cmd: SimpleCommand, word: Word, match: re.Match[str], start: int) -> None:
        if match.group(2) is not None:
            raise self.error("array element assignments are not supported", start)
        if self.peek() == "(" and word.text == match.group(0):
            raise self.error("array assignments are not supported", start)
        value = Word(word.text[len(match.group(0)) :], word.dynamic, word.quoted)
        cmd.assignments.append((match.group(1), value))

    def finish_simple(self, cmd: SimpleCommand) -> bool:
        """Read the rest of a simple command (words and redirections) and record it."""
        while True:
            self.skip_blanks()
            c = self.peek()
            if c in {"", "\n", ")"} or (c in ";&|" and not self.s.startswith("&>", self.i)):
                break
            if c == "#":
                self.skip_comment()
                break
            if c == "&" and self.peek(1) == ">":
                self.read_redirect(cmd, None)
                continue
            if c == "(":
                raise self.error("function definitions and unexpected `(` are not supported")
            start = self.i
            word = self.read_word_or_redirect(cmd)
            if word is None:
                if self.i == start:  # pragma: no cover - every other character starts a word
                    raise self.error(f"unexpected {c!r}")
                continue
            if not cmd.words:
                match = _ASSIGNMENT.match(word.unquoted_prefix)
                if match is not None:
                    self.add_assignment(cmd, word, match, start)
                    continue
            cmd.words.append(word)
        if cmd.words or cmd.assignments or cmd.redirects:
            self.out.append(cmd)
        return False

    def parse_trailing_redirects(self) -> None:
        holder = SimpleCommand(depth=self.depth)
        while True:
            self.skip_blanks()
            c = self.peek()
            if c in {"", "\n", "#"} or c in ";&|)":
                break
            start = self.i
            word = self.read_word_or_redirect(holder)
            if word is not None:
                raise self.error(f"unexpected word {word.text!r} after a compound command", start)
            if self.i == start:
                raise self.error(f"unexpected {c!r}")
        if holder.redirects:
            self.out.append(holder)

    def parse_for(self) -> None:
        self.skip_blanks()
        if self.peek() == "(":
            raise self.error("arithmetic `for ((...))` loops are not supported")
        header = SimpleCommand(header=True, depth=self.depth)
        name = self.read_word_or_redirect(header)
        if name is None or name.quoted or name.dynamic or not _NAME.fullmatch(name.text):
            raise self.error("`for` needs a variable name")
        self.skip_blanks()
        words: list[Word] = []
        if self.peek() not in (";", "\n"):
            kw = self.read_word_or_redirect(header)
            if kw is None or kw.quoted or kw.text != "in":
                raise self.error("expected `in` after the `for` variable")
            while True:
                self.skip_blanks()
                c = self.peek()
                if c in ("", ";", "\n"):
                    break
                if c in _OPERATOR_CHARS:
                    raise self.error(f"unexpected {c!r} in a `for` word list")
                w = self.read_word_or_redirect(header)
                if w is not None:
                    words.append(w)
        if header.redirects:
            raise self.error("redirections are not allowed in a `for` header")
        header.words = words
        self.out.append(header)
        if self.peek() == ";":
            self.i += 1
        elif self.peek() == "\n":
            self.newline()
        else:
            raise self.error("`for` needs `do`")

    def nested_list(self, closer: str) -> None:
        if self.depth + 1 > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels")
        self.depth += 1
        saved_pending, self.pending = self.pending, []
        try:
            self.parse_list(closer)
        finally:
            self.depth -= 1
            self.pending = saved_pending + self.pending

    # -- redirections -------------------------------------------------------------------------

    def read_word_or_redirect(self, cmd: SimpleCommand) -> Word | None:
        """Read one word, or one redirection into `cmd` (returning None)."""
        s, i = self.s, self.i
        j = i
        while j < len(s) and s[j].isdigit():
            j += 1
        fd: str | None = s[i:j] if j > i else None
        if s.startswith("{", i):
            m = re.match(r"\{[A-Za-z_][A-Za-z0-9_]*\}[<>]", s[i:])
            if m:
                raise self.error("`{var}>` file descriptor allocation is not supported")
        c = s[j] if j < len(s) else ""
        if (c != "" and c in "<>") or (fd is None and s.startswith("&>", i)):
            if c != "" and c in "<>" and j + 1 < len(s) and s[j + 1] == "(" and fd is None:
                return self.read_word()  # process substitution starts a word
            self.i = j
            self.read_redirect(cmd, fd)
            return None
        return self.read_word()

    def read_redirect(self, cmd: SimpleCommand, fd: str | None) -> None:
        s = self.s
        for op in ("<<<", "<<-", "<<", "&>>", "&>", ">>", ">&", "<&", "<>", ">|", ">", "<"):
            if s.startswith(op, self.i):
                break
        self.i += len(op)
        self.skip_blanks()
        if op in ("<<", "<<-"):
            start = self.i
            delim = self.read_word()
            if delim is None or delim.dynamic:
                raise self.error("here-document needs a static delimiter", start)
            cmd.redirects.append(Redirect(op, fd, None))
            self.pending.append(
                _PendingHeredoc(delim.text, op == "<<-", not delim.quoted, cmd, len(cmd.redirects) - 1)
            )
            return
        start = self.i
        target = self.read_word()
        if target is None:
            raise self.error(f"redirection {op!r} needs a target", start)
        if op == "<<<":
            cmd.redirects.append(Redirect(op, fd, target, None if target.dynamic else target.text + "\n"))
        else:
            cmd.redirects.append(Redirect(op, fd, target))

    def read_heredoc(self, doc: _PendingHeredoc) -> None:
        s = self.s
        lines: list[str] = []
        while True:
            if self.i >= len(s):
                raise self.error(f"here-document delimited by {doc.delimiter!r} has no end")
            end = s.find("\n", self.i)
            line = s[self.i : end if end >= 0 else len(s)]
            self.i = end + 1 if end >= 0 else len(s)
            check = line.lstrip("\t") if doc.strip_tabs else line
            if check == doc.delimiter:
                break
            lines.append(check)
        body = "".join(line + "\n" for line in lines)
        dynamic = False
        if doc.expand:
            # An unquoted delimiter: the body undergoes parameter, command and arithmetic
            # expansion, so substitutions in it run.
            sub = _Parser(body, self.depth, self.out)
            dynamic = sub.scan_expansions()
        old = doc.command.redirects[doc.index]
        doc.command.redirects[doc.index] = Redirect(old.op, old.fd, None, None if dynamic else body)

    # -- words --------------------------------------------------------------------------------

    def read_word(self) -> Word | None:
        s = self.s
        start = self.i
        parts: list[str] = []
        unquoted: list[str] = []  # the word as typed with quoted characters masked, for globs/braces
        prefix_done = False
        prefix: list[str] = []
        dynamic = quoted = procsub = False
        while self.i < len(s):
            plain = _PLAIN.match(s, self.i)
            if plain is not None:
                # Fast path: a run of characters with no special meaning.
                chunk = plain.group(0)
                parts.append(chunk)
                unquoted.append(chunk)
                if not prefix_done:
                    prefix.append(chunk)
                self.i = plain.end()
                continue
            c = s[self.i]
            if c in _WORD_END:
                if c in "<>" and self.peek(1) == "(" and self.i == start:
                    self.i += 2
                    self.nested_list(")")
                    dynamic = procsub = prefix_done = True
                    continue
                break
            if c == "\\":
                nxt = self.peek(1)
                if nxt == "":
                    raise self.error("trailing backslash")
                self.i += 2
                if nxt == "\n":
                    continue
                parts.append(nxt)
                unquoted.append("\0")
                quoted = prefix_done = True
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise self.error("unterminated single quote")
                parts.append(s[self.i + 1 : end])
                unquoted.append("\0")
                self.i = end + 1
                quoted = prefix_done = True
            elif c == '"':
                self.i += 1
                text, dyn = self.read_double_quoted()
                parts.append(text)
                unquoted.append("\0")
                dynamic |= dyn
                quoted = prefix_done = True
            elif c == "$":
                nxt = self.peek(1)
                if nxt == "'":
                    self.i += 2
                    parts.append(self.read_ansi_c())
                    unquoted.append("\0")
                    quoted = prefix_done = True
                elif nxt == '"':
                    raise self.error('locale-translated strings ($"...") are not supported')
                else:
                    text, dyn = self.read_dollar()
                    parts.append(text)
                    unquoted.append("\0" if dyn else text)
                    dynamic |= dyn
                    if dyn:
                        prefix_done = True
                    elif not prefix_done:
                        prefix.append(text)
            elif c == "`":
                self.read_backticks()
                dynamic = prefix_done = True
                unquoted.append("\0")
            elif c < " " or c == "\x7f":
                raise self.error(f"control character {c!r} in command")
            else:
                parts.append(c)
                unquoted.append(c)
                if not prefix_done:
                    prefix.append(c)
                self.i += 1
        if self.i == start:
            return None
        typed = "".join(unquoted)
        if _is_globbed(typed):
            dynamic = True
        text = "".join(parts)
        return Word(text, dynamic, quoted, "".join(prefix), procsub and not text and len(unquoted) == 0)

    def read_double_quoted(self) -> tuple[str, bool]:
        s = self.s
        parts: list[str] = []
        dynamic = False
        while True:
            if self.i >= len(s):
                raise self.error("unterminated double quote")
            c = s[self.i]
            if c == '"':
                self.i += 1
                return "".join(parts), dynamic
            if c == "\\":
                nxt = self.peek(1)
                if nxt in ("$", "`", '"', "\\"):
                    parts.append(nxt)
                    self.i += 2
                elif nxt == "\n":
                    self.i += 2
                else:
                    parts.append("\\")
                    self.i += 1
            elif c == "$":
                text, dyn = self.read_dollar()
                parts.append(text)
                dynamic |= dyn
            elif c == "`":
                self.read_backticks()
                dynamic = True
            elif c < " " and c not in "\t\n":
                raise self.error(f"control character {c!r} in command")
            else:
                parts.append(c)
                self.i += 1

    def scan_expansions(self) -> bool:
        """Scan here-document text: run nested parses for substitutions; True if any expansion."""
        s = self.s
        dynamic = False
        while self.i < len(s):
            c = s[self.i]
            if c == "\\":
                self.i += 2
            elif c == "$":
                _, dyn = self.read_dollar()
                dynamic |= dyn
            elif c == "`":
                self.read_backticks()
                dynamic = True
            else:
                self.i += 1
        return dynamic

    def read_dollar(self) -> tuple[str, bool]:
        """Read an expansion starting at ``$``; return (static text, dynamic)."""
        s = self.s
        nxt = self.peek(1)
        if nxt == "(":
            if self.peek(2) == "(":
                end = s.find("))", self.i + 3)
                if end < 0:
                    raise self.error("unterminated arithmetic expansion")
                body = s[self.i + 3 : end]
                if not _SAFE_ARITH.fullmatch(body):
                    raise self.error(
                        "arithmetic expansion with names or substitutions is not supported "
                        "(bash evaluates variable values as code)"
                    )
                self.i = end + 2
                return "", True
            self.i += 2
            self.nested_list(")")
            return "", True
        if nxt == "{":
            end = s.find("}", self.i + 2)
            if end < 0:
                raise self.error("unterminated parameter expansion")
            body = s[self.i + 2 : end]
            if not _SAFE_PARAM.fullmatch(body) or "$" in body or "`" in body:
                raise self.error(f"parameter expansion ${{{body}}} is not supported")
            self.i = end + 1
            return "", True
        if nxt == "[":
            raise self.error("$[ ... ] arithmetic is not supported")
        if nxt != "" and (nxt.isalpha() or nxt == "_"):
            m = _NAME.match(s, self.i + 1)
            assert m is not None
            self.i = m.end()
            return "", True
        if nxt != "" and (nxt.isdigit() or nxt in "@*#?$!-"):
            self.i += 2
            return "", True
        self.i += 1
        return "$", False

    def read_backticks(self) -> None:
        s = self.s
        j = self.i + 1
        inner: list[str] = []
        while True:
            if j >= len(s):
                raise self.error("unterminated backquote")
            c = s[j]
            if c == "`":
                break
            if c == "\\" and j + 1 < len(s) and s[j + 1] in "$`\\":
                inner.append(s[j + 1])
                j += 2
                continue
            inner.append(c)
            j += 1
        self.i = j + 1
        if self.depth + 1 > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels")
        sub = _Parser("".join(inner), self.depth + 1, self.out)
        sub.parse_list(None)

    def read_ansi_c(self) -> str:
        """Decode a ``$'...'`` string (the opening ``$'`` already consumed)."""
        s = self.s
        out: list[str] = []
        simple = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r"}
        simple |= {"t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
        while True:
            if self.i >= len(s):
                raise self.error("unterminated $'...' string")
            c = s[self.i]
            if c == "'":
                self.i += 1
                break
            if c != "\\":
                out.append(c)
                self.i += 1
                continue
            e = self.peek(1)
            self.i += 2
            if e == "":
                raise self.error("unterminated $'...' string")
            if e in simple:
                out.append(simple[e])
            elif e in "01234567":
                m = re.match(r"[0-7]{0,2}", s[self.i :])
                assert m is not None
                out.append(chr(int(e + m.group(0), 8) & 0xFF))
                self.i += m.end()
            elif e in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[e]
                m = re.match(f"[0-9A-Fa-f]{{1,{width}}}", s[self.i :])
                if m is None:
                    raise self.error(f"invalid \\{e} escape in $'...'")
                out.append(chr(int(m.group(0), 16)))
                self.i += m.end()
            else:
                raise self.error(f"escape \\{e} in $'...' is not supported")
        text = "".join(out)
        if "\0" in text:
            # bash truncates at NUL: what runs is not what is written.
            raise self.error("NUL in $'...' string")
        return text


def _is_globbed(typed: str) -> bool:
    """Whether the unquoted characters of a word make bash expand it (pathname or brace expansion)."""
    if "*" in typed or "?" in typed:
        return True
    if "[" in typed and "]" in typed[typed.index("[") :]:
        return True
    if "{" in typed:
        inner = typed[typed.index("{") :]
        if "}" in inner and ("," in inner or ".." in inner):
            return True
    return False


_SIMPLE_LINE = re.compile(r"[A-Za-z0-9 \t_./:,+@%^=|;&-]*")
_SIMPLE_TOKEN = re.compile(r"\|\||&&|\|&|[|;&]|[^ \t|;&]+")
_KEYWORDS = _RESERVED_OPEN | _RESERVED_CLOSE | frozenset(_REFUSED_KEYWORDS) | {"for", "time"}


def _parse_simple_line(command: str, depth: int) -> list[SimpleCommand] | None:
    """Fast path for lines of plain words and list operators only; None means "use the parser".

    With no quotes, escapes, expansions, globs, braces, redirections, parentheses, comments or
    newlines, a line is words separated by blanks and operators, and every word is literal. Any
    doubt (a keyword, an operator out of place) falls back to the full parser, which gives the
    same answer: `tests/test_shell_parse.py` checks the two agree on generated lines.
    """
    if not _SIMPLE_LINE.fullmatch(command):
        return None
    out: list[SimpleCommand] = []
    cmd = SimpleCommand(depth=depth)
    last_op = ";"
    for token in _SIMPLE_TOKEN.findall(command):
        if token[0] in "|;&":
            if not cmd.words and not cmd.assignments:
                return None  # an operator with no command before it: let the parser report it
            out.append(cmd)
            cmd = SimpleCommand(depth=depth)
            last_op = token
            continue
        if not cmd.words:
            if token in _KEYWORDS:
                return None
            match = _ASSIGNMENT.match(token)
            if match is not None:
                if match.group(2) is not None:
                    return None
                cmd.assignments.append((match.group(1), Word(token[match.end() :])))
                continue
        cmd.words.append(Word(token, False, False, token))
    if cmd.words or cmd.assignments:
        out.append(cmd)
    elif last_op in ("|", "|&", "&&", "||"):
        return None
    return out


def parse(command: str, *, depth: int = 0) -> list[SimpleCommand]:
    """Parse `command` and return every simple command in it, substitutions included.

    Raises:
        ShellSyntaxError: if the line cannot be parsed with certainty.
    """
    if not isinstance(command, str):
        raise ShellSyntaxError(f"a command must be a string, not {type(command).__name__}", 0)
    if len(command) > MAX_LENGTH:
        raise ShellSyntaxError(f"command longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if "\0" in command:
        raise ShellSyntaxError("NUL character in command", command.index("\0"))
    if depth > MAX_DEPTH:
        raise ShellSyntaxError(f"nesting deeper than {MAX_DEPTH} levels", 0)
    fast = _parse_simple_line(command, depth)
    if fast is not None:
        return fast
    out: list[SimpleCommand] = []
    _Parser(command, depth, out).parse_list(None)
    return out
