"""The shell parser: what it finds, and what it refuses (with the offset of the problem)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_runtime._shell_parse import (
    MAX_DEPTH,
    MAX_LENGTH,
    ShellSyntaxError,
    SimpleCommand,
    _parse_simple_line,
    _Parser,
    parse,
)


def names(line: str) -> list[str]:
    return [c.words[0].text for c in parse(line) if c.words and not c.header]


def test_quote_removal_and_escapes() -> None:
    assert names("'r'\"m\" x") == ["rm"]
    assert names("r\\m x") == ["rm"]
    assert names("$'\\x72\\x6d' x") == ["rm"]
    assert [w.text for w in parse("echo 'a b' \"c $'d\" e\\ f")[0].words] == ["echo", "a b", "c $'d", "e f"]


def test_every_list_operator_separates_commands() -> None:
    assert names("a; b && c || d | e |& f & g\nh") == list("abcdefgh")


def test_substitutions_are_parsed_recursively() -> None:
    assert names("echo $(a `b` $(c))") == ["b", "c", "a", "echo"]
    assert names('echo "$(a)" "`b`"') == ["a", "b", "echo"]
    assert names("cat <(a) >(b)") == ["a", "b", "cat"]


def test_dynamic_words_are_marked() -> None:
    words = parse("echo $x ${y} * {a,b} [ab] plain")[0].words
    assert [w.dynamic for w in words] == [False, True, True, True, True, True, False]


def test_assignments_are_not_commands() -> None:
    cmd = parse("A=1 B='x y' cmd arg")[0]
    assert [a[0] for a in cmd.assignments] == ["A", "B"]
    assert [w.text for w in cmd.words] == ["cmd", "arg"]
    assert parse("cmd A=1")[0].words[1].text == "A=1"
    assert parse("'A'=1 x")[0].words[0].text == "A=1"  # quoted name: a command word


def test_heredoc_bodies() -> None:
    quoted = parse("cat <<'E'\n$(rm x)\nE\n")
    assert names("cat <<'E'\n$(rm x)\nE\n") == ["cat"]
    assert quoted[0].redirects[0].heredoc == "$(rm x)\n"
    assert names("cat <<E\n$(rm x)\nE\n") == ["cat", "rm"]
    assert parse("cat <<-E\n\tbody\n\tE\n")[0].redirects[0].heredoc == "body\n"


def test_reserved_words_only_at_command_position() -> None:
    assert names("if a; then b; elif c; then d; else e; fi") == list("abcde")
    assert names("echo if then fi") == ["echo"]
    assert names("while a; do b; done > out") == ["a", "b"]
    assert names("for x in 1 2; do b; done") == ["b"]


@pytest.mark.parametrize(
    ("line", "offset"),
    [
        ("echo 'open", 5),
        ('echo "open', 10),
        ("echo $(open", 11),
        ("echo `open", 5),
        ("case x in esac", 0),
        ("a |", 3),
        ("echo \\", 5),
        ("f() { :; }", 1),
        ("x=(1 2)", 0),
        ("echo $((x + 1))", 5),
        ("echo ${x:1}", 5),
        ("[[ -f x ]]", 0),
        ("(( x++ ))", 0),
        ("cat <<E\nno end", 14),
    ],
)
def test_refusals_carry_the_offset(line: str, offset: int) -> None:
    with pytest.raises(ShellSyntaxError) as info:
        parse(line)
    assert info.value.position == offset


def test_limits() -> None:
    with pytest.raises(ShellSyntaxError, match="longer than"):
        parse("x" * (MAX_LENGTH + 1))
    deep = "echo " + "$(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(ShellSyntaxError, match="nesting"):
        parse(deep)
    with pytest.raises(ShellSyntaxError, match="NUL"):
        parse("ls\0rm")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab $`'\"\\(){};|&<>#=\n*?[]~!-")), max_size=40))
def test_fuzz_only_ever_raises_shell_syntax_error(line: str) -> None:
    with contextlib.suppress(ShellSyntaxError):
        parse(line)


def _full_parse(line: str) -> list[SimpleCommand] | str:
    out: list[SimpleCommand] = []
    try:
        _Parser(line, 0, out).parse_list(None)
    except ShellSyntaxError as exc:
        return str(exc)
    return out


_SIMPLE_TOKENS = ["ls", "-la", "git", "A=1", "B+=x", "x=", "if", "then", "fi", "for", "do", "done", "time", "{", "}",
                  "a/b", "./x", "1", "%1", "@x", ":", "-", "|", "||", "&&", "&", ";", "|&", " ", " ", "\t"]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_SIMPLE_TOKENS), max_size=12).map(" ".join))
def test_fast_path_agrees_with_the_full_parser(line: str) -> None:
    fast = _parse_simple_line(line, 0)
    if fast is None:
        return
    assert fast == _full_parse(line)


def test_fast_path_is_taken_for_plain_lines() -> None:
    assert _parse_simple_line("git log -n 5 | grep -i fix && A=1 make", 0) is not None
    assert _parse_simple_line("echo 'quoted'", 0) is None
