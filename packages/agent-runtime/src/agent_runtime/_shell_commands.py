"""From parsed shell to the programs that would run: wrappers, shells, interpreters, builtins.

`invocations(command)` parses a command line and returns one `Invocation` per program it would
start, seeing through the ways a program is started by another: ``sudo``/``doas``/``env``/
``nohup``/``timeout``/``nice``/``xargs``/``find -exec``/... prefixes, ``bash -c`` and ``sh -c``
strings (parsed recursively), shells fed a static here-document, ``watch``/``su -c``/``flock -c``
strings. What it cannot follow with certainty raises `CommandRefused`, independent of any list:
a command name known only at run time, ``eval``/``source``, builtins that evaluate variable
names as arithmetic, environment assignments that change what runs (``PATH``, ``LD_PRELOAD``,
``BASH_ENV``, ...), ``/dev/tcp`` redirections, wrappers with options it does not know.

Code it can see is run but cannot read (``python -c``, ``perl -e``, a shell reading a pipe, an
``awk`` program calling ``system``, ``git -c core.pager=...``) is reported on the invocation as
``opaque``; the command policy decides what that means (a deny-list refuses it, an allow-list
accepts it only when the interpreter itself is allowed).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent_runtime._shell_parse import MAX_DEPTH, ShellSyntaxError, SimpleCommand, Word, parse
from agent_runtime._shell_programs import (
    FOREIGN_SHELLS,
    INLINE_CODE,
    REFUSED_BUILTINS,
    SHELLS,
    VARNAME_BUILTINS,
    WRAPPERS,
    CommandRefused,
    awk_spawns,
    dangerous_env,
    exec_options,
    sed_spawns,
    show,
    skip_options,
)

__all__ = ["CommandRefused", "Invocation", "command_family", "invocations"]


@dataclass(frozen=True, slots=True)
class Invocation:
    """One program the command line would start.

    Attributes:
        name: The program's name as looked up: the basename of the command word.
        path: The command word when it names a path (``/bin/rm``, ``./rm``), else None.
        args: The arguments' static text (dynamic parts elided).
        dynamic_args: Some argument is only known at run time (or more are appended, as by xargs).
        via: The wrappers it was found through, outermost first (``("sudo", "bash -c")``).
        opaque: Why the program runs code on the line (or piped in) that the checker cannot read.
        script: The script file the program runs (``bash x.sh``, ``python x.py``), whose contents
            are not part of the line.
        spawns: Why the program will start another command given on the line that the checker
            cannot follow (``git -c core.pager=...``, ``tar --to-command``, awk's ``system``).
    """

    name: str
    path: str | None
    args: tuple[str, ...]
    dynamic_args: bool = False
    via: tuple[str, ...] = ()
    opaque: str | None = None
    script: str | None = None
    spawns: str | None = None


_VERSION_SUFFIX = re.compile(r"[-.]?\d+(?:\.\d+)*$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def command_family(name: str) -> tuple[str, ...]:
    """The names a program answers to for matching: itself, then without version suffixes.

    ``python3.11`` -> ``("python3.11", "python3", "python")``; ``gcc-12`` -> ``("gcc-12", "gcc")``.
    """
    out = [name.casefold()]
    current = out[0]
    while True:
        stripped = _VERSION_SUFFIX.sub("", current, count=1)
        if not stripped or stripped == current:
            return tuple(out)
        # Strip one component at a time: python3.11 -> python3 -> python.
        m = re.search(r"[-.]?\d+$", current)
        if m is None:  # pragma: no cover - the suffix regex matched, so this does too
            return tuple(out)
        current = current[: m.start()]
        if not current:
            return tuple(out)
        out.append(current)


class _Analyzer:
    def __init__(self, allow_env: frozenset[str]) -> None:
        self.allow_env = allow_env
        self.found: list[Invocation] = []

    def script(self, text: str, depth: int, via: tuple[str, ...]) -> None:
        try:
            commands = parse(text, depth=depth)
        except ShellSyntaxError as exc:
            where = f" in the string run by `{via[-1]}`" if via else ""
            raise CommandRefused(
                f"cannot parse the command{where}: {exc} (at offset {exc.position})"
            ) from None
        for cmd in commands:
            self.simple(cmd, via)

    def simple(self, cmd: SimpleCommand, via: tuple[str, ...]) -> None:
        for name, _value in cmd.assignments:
            if dangerous_env(name, self.allow_env):
                raise CommandRefused(f"setting `{name}` can change which program runs or what it loads")
        stdin: str | None = None
        stdin_given = False
        for r in cmd.redirects:
            target = r.target.text if r.target is not None else ""
            if r.target is not None and re.match(
                r"/dev/(tcp|udp)/", posixpath.normpath(target) if target else ""
            ):
                raise CommandRefused(f"redirection to `{target}` opens a network connection")
            if (
                r.target is not None
                and r.target.dynamic
                and r.op != "<<<"
                and not r.target.process_substitution
            ):
                # bash opens /dev/tcp/HOST/PORT itself, after expansion: a target known only at
                # run time could be a network connection.
                raise CommandRefused(
                    f"redirection target {show(r.target)} is only known at run time "
                    "(it could name /dev/tcp/...); write the path literally"
                )
            if r.op in ("<<", "<<-", "<<<") and (r.fd in (None, "0")):
                stdin, stdin_given = r.heredoc, True
            elif r.op in ("<", "<>", "<&") and r.fd in (None, "0"):
                stdin, stdin_given = None, True
        if cmd.header or not cmd.words:
            return
        self.command(cmd.words, via, stdin if stdin_given else None, stdin_given, cmd.depth)

    def command(
        self, words: Sequence[Word], via: tuple[str, ...], stdin: str | None, stdin_given: bool, depth: int
    ) -> None:
        first = words[0]
        if first.dynamic:
            raise CommandRefused(
                "the command name is only known at run time (expansion, substitution or glob)"
            )
        typed = first.text
        if not typed:
            raise CommandRefused("empty command name")
        path = typed if "/" in typed else None
        name = posixpath.basename(typed) if path else typed
        if not name:
            raise CommandRefused(f"command {typed!r} names a directory")
        args = words[1:]
        family = command_family(name)
        key = family[-1]
        inv_args = tuple(w.text for w in args)
        dyn = any(w.dynamic for w in args)

        if name in REFUSED_BUILTINS:
            raise CommandRefused(REFUSED_BUILTINS[name])
        if name in VARNAME_BUILTINS:
            self.check_varname_builtin(name, args)
        if name == "set":
            self.check_set(args)

        if name in WRAPPERS:
            self.wrapper(name, path, words, via, stdin, stdin_given, depth)
            return
        if name == "env":
            self.env(path, words, via, stdin, stdin_given, depth)
            return
        if name == "find":
            self.emit(name, path, inv_args, dyn, via)
            self.find_exec(args, via, stdin, stdin_given, depth)
            return
        if name in SHELLS or key in SHELLS:
            self.shell(name, path, args, via, stdin, stdin_given, depth)
            return
        if name in FOREIGN_SHELLS or key in FOREIGN_SHELLS:
            opaque = None
            if any(w.text.startswith("-") and "c" in w.text[1:] for w in args if not w.text.startswith("--")):
                opaque = f"`{name} -c` runs code in a shell language this checker does not parse"
            elif not [w for w in args if not w.text.startswith("-")]:
                opaque = f"`{name}` reads commands from its input"
            self.emit(name, path, inv_args, dyn, via, opaque)
            return
        if name == "ssh" and not exec_options("ssh", args):
            self.ssh(path, args, via, depth)
            return
        if name in ("su", "runuser", "sg", "script", "flock", "watch", "unshare", "nsenter"):
            self.string_runner(name, path, args, via, stdin, stdin_given, depth)
            return
        if key in INLINE_CODE or name in INLINE_CODE:
            self.interpreter(key if key in INLINE_CODE else name, name, path, args, via, stdin, stdin_given)
            return
        if key in ("awk", "gawk", "mawk", "nawk") or name in ("awk", "gawk", "mawk", "nawk"):
            spawns = awk_spawns(args)
        elif key == "sed" or name in ("sed", "gsed"):
            spawns = sed_spawns(args)
        else:
            spawns = exec_options(key, args)
        self.found.append(Invocation(name, path, inv_args, dyn, via, None, None, spawns))

    def emit(
        self,
        name: str,
        path: str | None,
        args: tuple[str, ...],
        dynamic: bool,
        via: tuple[str, ...],
        opaque: str | None = None,
    ) -> None:
        self.found.append(Invocation(name, path, args, dynamic, via, opaque))

    # -- builtins ---------------------------------------------------------------------------

    def check_varname_builtin(self, name: str, args: Sequence[Word]) -> None:
        """Refuse variable names that bash would evaluate as arithmetic (``a[$(cmd)]`` runs cmd)."""
        texts = [w.text for w in args]
        if name in ("test", "["):
            for i, t in enumerate(texts):
                if t in ("-v", "-R") and not args[i].quoted:
                    nxt = args[i + 1] if i + 1 < len(args) else None
                    if nxt is None or nxt.dynamic or not _NAME.fullmatch(nxt.text):
                        raise CommandRefused(f"`{name} {t}` with a non-plain variable name can run code")
            return
        if name == "printf":
            for i, t in enumerate(texts):
                if t == "-v":
                    nxt = args[i + 1] if i + 1 < len(args) else None
                    if nxt is None or nxt.dynamic or not _NAME.fullmatch(nxt.text):
                        raise CommandRefused("`printf -v` with a non-plain variable name can run code")
                if t.startswith("-v") and len(t) > 2 and not _NAME.fullmatch(t[2:]):
                    raise CommandRefused("`printf -v` with a non-plain variable name can run code")
            return
        if name in ("export", "local", "readonly"):
            for w in args:
                if w.text.startswith("-") and not w.dynamic:
                    if set(w.text[1:]) & set("in"):
                        raise CommandRefused(f"`{name} {w.text}` can evaluate values as code")
                    continue
                var = w.unquoted_prefix.split("=", 1)[0]
                if not _NAME.fullmatch(var) or (
                    "=" not in w.unquoted_prefix and (w.dynamic or w.text != var)
                ):
                    raise CommandRefused(f"`{name}` needs plain variable names, got {show(w)}")
                if dangerous_env(var, self.allow_env):
                    raise CommandRefused(f"setting `{var}` can change which program runs or what it loads")
            return
        # read, unset, getopts, wait: every word that is not an option must be a plain name
        # (option values such as `read -p prompt` are allowed through as literal text).
        for w in args:
            if w.dynamic or "[" in w.text:
                raise CommandRefused(f"`{name}` with {show(w)} can evaluate a variable name as code")

    def check_set(self, args: Sequence[Word]) -> None:
        """Allow `set` flags that do not change how the line is parsed (not -k / -o keyword)."""
        i = 0
        while i < len(args):
            w = args[i]
            if w.dynamic:
                raise CommandRefused("`set` with options known only at run time")
            t = w.text
            if t == "--" or (t == "-" and i == 0):
                return
            if not re.fullmatch(r"[-+][abefhmnopuvxBCEHPT]+", t):
                if not t.startswith(("-", "+")):
                    return  # positional parameters: data, not options
                raise CommandRefused(f"`set {t}` changes how the shell runs the line")
            if "o" in t:
                option = args[i + 1].text if i + 1 < len(args) else ""
                if option in ("keyword", "") or args[i + 1].dynamic:
                    raise CommandRefused(f"`set {t} {option}` changes how the shell runs the line")
                i += 1
            i += 1

    # -- wrappers ---------------------------------------------------------------------------

    def wrapper(
        self,
        name: str,
        path: str | None,
        words: Sequence[Word],
        via: tuple[str, ...],
        stdin: str | None,
        stdin_given: bool,
        depth: int,
    ) -> None:
        opts, positional = WRAPPERS[name]
        args = words[1:]
        self.emit(name, path, tuple(w.text for w in args), any(w.dynamic for w in args), via)
        if name in ("busybox", "toybox"):
            if args and not args[0].text.startswith("-"):
                self.command(args, (*via, name), stdin, stdin_given, depth)
            return
        idx, seen = skip_options(name, opts, args)
        if seen & set(opts.no_command):
            return
        if name == "command" and seen & {"v", "V"}:
            return
        idx += positional
        inner = args[idx:]
        if name == "sudo" and seen & {"e"}:
            self.emit(
                "sudoedit", None, tuple(w.text for w in inner), any(w.dynamic for w in inner), (*via, name)
            )
            return
        if not inner:
            if (name == "sudo" and seen & {"s", "i"}) or (name == "doas" and "s" in seen):
                self.emit(
                    "sh", None, (), False, (*via, name), f"`{name}` starts a shell that reads its input"
                )
            return
        if name == "xargs":
            # xargs appends arguments read from its input: the inner command's args are dynamic,
            # and with -I/-i every word holding the replace string is only known at run time
            # (`xargs -I% % -rf /` runs whatever the input names).
            replace = _xargs_replace_string(args[:idx])
            if replace is not None:
                inner = [_unknown_if(w, replace) for w in inner]
            before = len(self.found)
            self.command(inner, (*via, name), None, False, depth)
            for k in range(before, len(self.found)):
                inv = self.found[k]
                if inv.via[: len(via) + 1] == (*via, name):
                    self.found[k] = Invocation(
                        inv.name, inv.path, inv.args, True, inv.via, inv.opaque, inv.script, inv.spawns
                    )
            return
        self.command(inner, (*via, name), stdin, stdin_given, depth)

    def env(
        self,
        path: str | None,
        words: Sequence[Word],
        via: tuple[str, ...],
        stdin: str | None,
        stdin_given: bool,
        depth: int,
    ) -> None:
        args = words[1:]
        self.emit("env", path, tuple(w.text for w in args), any(w.dynamic for w in args), via)
        i = 0
        while i < len(args):
            w = args[i]
            if w.dynamic:
                raise CommandRefused(f"`env` argument {show(w)} is only known at run time")
            t = w.text
            if t in ("-S", "--split-string") or t.startswith(("-S", "--split-string")):
                raise CommandRefused("`env -S` splits a string into a command; not supported")
            if t == "--":
                i += 1
                break
            if t in ("-u", "--unset", "-C", "--chdir"):
                i += 2
                continue
            if t.startswith(
                ("--unset=", "--chdir=", "--default-signal", "--ignore-signal", "--block-signal")
            ):
                i += 1
                continue
            if t in (
                "-",
                "-i",
                "--ignore-environment",
                "-0",
                "--null",
                "-v",
                "--debug",
                "--list-signal-handling",
            ):
                i += 1
                continue
            if re.fullmatch(r"-[i0v]+", t) or re.fullmatch(r"-[i0v]*[uC]\S+", t):
                i += 1
                continue
            if t.startswith("-"):
                raise CommandRefused(f"`env` option {t!r} is not understood")
            break
        while i < len(args):
            m = re.match(r"([^=]+)=", args[i].unquoted_prefix) if "=" in args[i].text else None
            if m is None:
                break
            if not _NAME.fullmatch(m.group(1)):
                raise CommandRefused(f"`env` assignment to {m.group(1)!r} is not a plain variable name")
            if dangerous_env(m.group(1), self.allow_env):
                raise CommandRefused(f"setting `{m.group(1)}` can change which program runs or what it loads")
            i += 1
        if i < len(args):
            self.command(args[i:], (*via, "env"), stdin, stdin_given, depth)

    def find_exec(
        self, args: Sequence[Word], via: tuple[str, ...], stdin: str | None, given: bool, depth: int
    ) -> None:
        i = 0
        while i < len(args):
            t = args[i].text
            if t in ("-exec", "-execdir", "-ok", "-okdir") and not args[i].dynamic:
                j = i + 1
                while j < len(args) and args[j].text not in (";", "+"):
                    j += 1
                if j >= len(args):
                    raise CommandRefused(f"`find {t}` without a terminating ';' or '+'")
                # find puts the file name wherever `{}` appears: such words are known only at run time.
                inner = [_unknown_if(w, "{}") for w in args[i + 1 : j]]
                if not inner:
                    raise CommandRefused(f"`find {t}` without a command")
                self.command(inner, (*via, f"find {t}"), None, False, depth)
                i = j + 1
                continue
            i += 1

    def shell(
        self,
        name: str,
        path: str | None,
        args: Sequence[Word],
        via: tuple[str, ...],
        stdin: str | None,
        stdin_given: bool,
        depth: int,
    ) -> None:
        inv_args = tuple(w.text for w in args)
        dyn = any(w.dynamic for w in args)
        command_string = False
        reads_stdin = False
        i = 0
        while i < len(args):
            w = args[i]
            if w.dynamic:
                raise CommandRefused(f"`{name}` argument {show(w)} is only known at run time")
            t = w.text
            if t in {"--", "-"}:
                i += 1
                break
            if t.startswith("--"):
                if t in ("--rcfile", "--init-file"):
                    i += 2
                    continue
                i += 1
                continue
            if t[:1] in "-+" and len(t) > 1:
                flags = t[1:]
                if "c" in flags and t[0] == "-":
                    command_string = True
                if "s" in flags:
                    reads_stdin = True
                i += 1
                if "o" in flags or "O" in flags:
                    i += 1  # -o option-name
                continue
            break
        rest = args[i:]
        if command_string:
            if not rest:
                raise CommandRefused(f"`{name} -c` without a command string")
            self.emit(name, path, inv_args, dyn, via)
            self.script(rest[0].text, depth + 1, (*via, f"{name} -c"))
            return
        if rest and not reads_stdin:
            # A script file: its contents are not part of the line.
            self.found.append(Invocation(name, path, inv_args, dyn, via, None, rest[0].text))
            return
        if stdin is not None:
            self.emit(name, path, inv_args, dyn, via)
            self.script(stdin, depth + 1, (*via, f"{name} <<"))
            return
        why = "from a redirected file" if stdin_given else "from its input (a pipe or the terminal)"
        self.emit(name, path, inv_args, dyn, via, f"`{name}` reads commands {why}")

    def string_runner(
        self,
        name: str,
        path: str | None,
        args: Sequence[Word],
        via: tuple[str, ...],
        stdin: str | None,
        stdin_given: bool,
        depth: int,
    ) -> None:
        """su/runuser/sg/script/flock/watch/unshare/nsenter: a command string or argv after options."""
        texts = tuple(w.text for w in args)
        self.emit(name, path, texts, any(w.dynamic for w in args), via)
        if any(w.dynamic for w in args):
            raise CommandRefused(f"`{name}` arguments known only at run time")
        here = (*via, name)
        if name == "watch":
            i, exec_direct = 0, False
            while i < len(texts) and texts[i].startswith("-"):
                t = texts[i]
                if t in ("-x", "--exec"):
                    exec_direct = True
                elif t in ("-n", "--interval", "-q", "--equexit"):
                    i += 1
                elif not re.fullmatch(r"-[bcdegprtwx]+|--\w[\w-]*(=\S*)?|-n\S+", t):
                    raise CommandRefused(f"`watch` option {t!r} is not understood")
                i += 1
            if i < len(texts):
                if exec_direct:
                    self.command(args[i:], here, None, False, depth)
                else:
                    self.script(" ".join(texts[i:]), depth + 1, (*here, "sh -c"))
            return
        cmd_string: str | None = None
        argv_start: int | None = None
        for k, t in enumerate(texts):
            clustered_c = re.fullmatch(r"-[A-Za-z]*c", t) is not None and name not in ("unshare", "nsenter")
            if t in ("--command", "--session-command") or clustered_c:
                if k + 1 >= len(texts):
                    raise CommandRefused(f"`{name} {t}` without a command")
                self.script(texts[k + 1], depth + 1, (*here, "-c"))
                return
            if t.startswith(("--command=", "--session-command=")):
                self.script(t.split("=", 1)[1], depth + 1, (*here, "-c"))
                return
        i = 0
        while i < len(texts):
            t = texts[i]
            if t in ("-c", "--command", "--session-command"):
                if i + 1 >= len(texts):
                    raise CommandRefused(f"`{name} {t}` without a command")
                cmd_string = texts[i + 1]
                i += 2
                continue
            if t.startswith(("--command=", "--session-command=")):
                cmd_string = t.split("=", 1)[1]
                i += 1
                continue
            if name in ("su", "runuser") and t in ("-s", "--shell", "-g", "--group", "-G", "--supp-group", "-w",
                                                     "--whitelist-environment"):  # fmt: skip
                i += 2
                continue
            if name == "runuser" and t in ("-u", "--user"):
                if i + 2 < len(texts) + 1:
                    argv_start = i + 2
                break
            if name == "flock" and t in ("-w", "--wait", "--timeout", "-E", "--conflict-exit-code"):
                i += 2
                continue
            if name == "script" and t in (
                "-E",
                "--echo",
                "-I",
                "--log-in",
                "-O",
                "--log-out",
                "-B",
                "--log-io",
                "-T",
                "--log-timing",
                "-m",
                "--logging-format",
                "-o",
                "--output-limit",
            ):
                i += 2  # fmt: skip
                continue
            if name == "nsenter" and t in ("-t", "--target", "-S", "--setuid", "-G", "--setgid", "-r", "-w"):
                i += 2
                continue
            if name == "unshare" and t in (
                "--propagation",
                "--setgroups",
                "-S",
                "--setuid",
                "-G",
                "--setgid",
                "-R",
                "--root",
                "-w",
                "--wd",
                "--map-user",
                "--map-group",
            ):
                i += 2  # fmt: skip
                continue
            if t.startswith("-") and t != "-":
                i += 1
                continue
            if t == "-":
                i += 1
                continue
            # positional
            if name in ("flock",) and argv_start is None:
                argv_start = i + 1  # after the lock file
                break
            if name in ("sg", "su", "runuser") and argv_start is None:
                i += 1  # the user or group
                if name == "sg" and i < len(texts) and cmd_string is None:
                    cmd_string = " ".join(texts[i:])
                    i = len(texts)
                continue
            if name in ("unshare", "nsenter"):
                argv_start = i
                break
            if name == "script":
                i += 1  # the typescript file
                continue
            i += 1
        if cmd_string is not None:
            self.script(cmd_string, depth + 1, (*here, "-c"))
            return
        if argv_start is not None and argv_start < len(args) and texts[argv_start] == "--":
            argv_start += 1
        if argv_start is not None and argv_start < len(args):
            self.command(args[argv_start:], here, stdin, stdin_given, depth)
            return
        if name in ("su", "runuser", "script", "unshare", "nsenter"):
            self.emit("sh", None, (), False, here, f"`{name}` starts a shell that reads its input")

    def ssh(self, path: str | None, args: Sequence[Word], via: tuple[str, ...], depth: int) -> None:
        """For `ssh HOST CMD...` the remote shell runs CMD (the words joined by spaces): check it too.

        The host may be this machine, and a policy that refuses a program means it everywhere.
        """
        texts = tuple(w.text for w in args)
        self.emit("ssh", path, texts, any(w.dynamic for w in args), via)
        i = 0
        while i < len(args):
            t = texts[i]
            if args[i].dynamic:
                raise CommandRefused(f"`ssh` argument {show(args[i])} is only known at run time")
            if t == "--":
                i += 1
                break
            if t.startswith("-") and len(t) > 1:
                last = t[-1]
                i += 2 if last in "BbcDEeFIiJLlmOoPpQRSWw" and len(t) == 2 else 1
                continue
            break
        remote = args[i + 1 :]
        if not remote:
            return
        if any(w.dynamic for w in remote):
            raise CommandRefused("the remote command of `ssh` is only known at run time")
        self.script(" ".join(w.text for w in remote), depth + 1, (*via, "ssh"))

    def interpreter(
        self,
        key: str,
        name: str,
        path: str | None,
        args: Sequence[Word],
        via: tuple[str, ...],
        stdin: str | None,
        stdin_given: bool,
    ) -> None:
        shorts, longs = INLINE_CODE[key]
        texts = tuple(w.text for w in args)
        dyn = any(w.dynamic for w in args)
        opaque: str | None = None
        positional: list[str] = []
        takes_value = {"python": "mWXQ", "pypy": "mWXQ"}.get(key, "")
        skip = False
        for t in texts:
            if skip:
                skip = False
            elif t.startswith("-") and t != "-":
                skip = len(t) == 2 and t[1] in takes_value
            else:
                positional.append(t)
        module = takes_value and "-m" in texts
        for t in texts:
            if t.startswith("--"):
                if t[2:].split("=", 1)[0].lower() in longs:
                    opaque = f"`{name} {t.split('=', 1)[0]}` runs inline code"
            elif t.startswith("-") and len(t) > 1:
                flag_part = t[1:]
                if (key in ("pwsh", "powershell") and flag_part.lower() in longs | {"c", "ec", "e"}) or any(
                    ch in shorts for ch in flag_part.split("=", 1)[0][:4]
                ):
                    opaque = f"`{name} {t}` runs inline code"
            if opaque:
                break
        if opaque is None and key in ("deno", "bun") and texts[:1] in (("eval",), ("-e",)):
            opaque = f"`{name} eval` runs inline code"
        info_only = module or any(t in ("--version", "-V", "--help", "-h", "-v", "-version") for t in texts)
        if opaque is None and not info_only and (not positional or "-" in texts) and key not in ("gdb",):
            why = (
                "a here-document"
                if stdin is not None
                else ("a redirected file" if stdin_given else "its input")
            )
            opaque = f"`{name}` runs code read from {why}"
        script = None
        if opaque is None and positional and not module and key not in ("gdb", "deno", "bun"):
            script = positional[0]
        self.found.append(Invocation(name, path, texts, dyn, via, opaque, script))


def _unknown_if(word: Word, marker: str) -> Word:
    """`word`, marked dynamic when it holds `marker` (a placeholder a wrapper fills in at run time)."""
    if marker in word.text:
        return Word(word.text, True, word.quoted, word.unquoted_prefix, word.process_substitution)
    return word


def _xargs_replace_string(options: Sequence[Word]) -> str | None:
    """The replace string of ``xargs -I R``/``-iR``/``--replace[=R]``, or None without one."""
    replace: str | None = None
    for i, w in enumerate(options):
        t = w.text
        if t == "-I" and i + 1 < len(options):
            replace = options[i + 1].text
        elif t.startswith("-I") and len(t) > 2:
            replace = t[2:]
        elif t in {"-i", "--replace"}:
            replace = "{}"
        elif t.startswith("-i") and len(t) > 2:
            replace = t[2:]
        elif t.startswith("--replace="):
            replace = t.split("=", 1)[1] or "{}"
    return replace


def invocations(command: str, *, allow_env: Iterable[str] = ()) -> list[Invocation]:
    """Every program `command` would start, in the order they appear.

    Raises:
        CommandRefused: if the line cannot be parsed or followed with certainty.
    """
    analyzer = _Analyzer(frozenset(allow_env))
    analyzer.script(command, 0, ())
    if any(len(inv.via) > MAX_DEPTH for inv in analyzer.found):  # pragma: no cover - parse depth bounds it
        raise CommandRefused("wrappers nested too deeply")
    return analyzer.found
