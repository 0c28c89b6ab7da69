"""What the command checker knows about particular programs.

Option tables of the wrappers it sees through (which options take a value, after which no
command runs), shells, interpreters and the flags that give them inline code, builtins that
are refused outright, environment names that change what runs, and the options of common
programs that make them start another command (GTFOBins-style: ``git -c core.pager``, ``tar
--to-command``, awk's ``system``, sed's ``e``). `agent_runtime._shell_commands` uses these to
follow a command line; anything a table does not cover is refused there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent_runtime._shell_parse import Word

__all__ = [
    "FOREIGN_SHELLS",
    "INLINE_CODE",
    "REFUSED_BUILTINS",
    "SHELLS",
    "VARNAME_BUILTINS",
    "WRAPPERS",
    "CommandRefused",
    "Options",
    "awk_spawns",
    "dangerous_env",
    "exec_options",
    "sed_spawns",
    "show",
    "skip_options",
]


class CommandRefused(ValueError):
    """The command line cannot be checked with certainty; it must not run."""


# -- environment names ------------------------------------------------------------------------

_DANGEROUS_ENV_EXACT = frozenset(
    [
        "PATH",
        "ENV",
        "BASH_ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "IFS",
        "CDPATH",
        "GLOBIGNORE",
        "EXECIGNORE",
        "HOME",
        "SHELL",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "MANPAGER",
        "BROWSER",
        "TERMINAL",
        "LESSOPEN",
        "LESSCLOSE",
        "LESSKEY",
        "GCONV_PATH",
        "NLSPATH",
        "LOCPATH",
        "HOSTALIASES",
        "RESOLV_HOST_CONF",
        "INPUTRC",
        "HISTFILE",
        "TERMINFO",
        "TERMINFO_DIRS",
        "MAKEFLAGS",
        "MFLAGS",
        "KUBECONFIG",
        "DOCKER_HOST",
        "CC",
        "CXX",
        "CPP",
        "LD",
        "AR",
        "AS",
    ]
)
_DANGEROUS_ENV_PREFIX = (
    "LD_", "DYLD_", "BASH_", "GIT_", "PYTHON", "PERL", "RUBY", "NODE_", "NPM_CONFIG_", "PIP_",
    "JAVA_", "_JAVA_", "JDK_", "LUA_", "PHP", "GEM_", "BUNDLE_", "CARGO_", "RUSTC", "RUSTDOC", "RUSTFLAGS",
    "SSH_", "GPG",
    "OPENSSL_", "KRB5", "LESS", "SYSTEMD_", "DBUS_", "XDG_", "GLIBC_", "MALLOC_", "GCONV", "GNUPG",
)  # fmt: skip
_DANGEROUS_ENV_SUFFIX = (
    "PATH", "_OPTIONS", "_OPTS", "OPT", "OPTS", "_COMMAND", "_CMD", "_PROGRAM", "_EXEC", "_HOOK",
    "_HOOKS", "EDITOR", "PAGER", "_SHELL", "PRELOAD", "LIB", "_RC", "_STARTUP", "_CONFIG", "_HOME",
)  # fmt: skip


# Common names under a refused prefix that only change output, logging or metadata.
_BENIGN_ENV = frozenset(
    [
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
        "PYTHONHASHSEED",
        "PYTHONUTF8",
        "PYTHONFAULTHANDLER",
        "NODE_ENV",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
        "GIT_TERMINAL_PROMPT",
    ]
)


def dangerous_env(name: str, allowed: frozenset[str]) -> bool:
    """Whether setting `name` can change which program runs or what code it loads."""
    if name in allowed or name in _BENIGN_ENV:
        return False
    upper = name.upper()
    return (
        upper in _DANGEROUS_ENV_EXACT
        or upper.startswith(_DANGEROUS_ENV_PREFIX)
        or upper.endswith(_DANGEROUS_ENV_SUFFIX)
        or upper.startswith("BASH_FUNC_")
    )


# -- option tables ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    """What a wrapper accepts before its command. Unknown options refuse the line."""

    short_arg: str = ""  # short options that take a value
    short_flag: str = ""  # short options that take none
    long_arg: frozenset[str] = frozenset()
    long_flag: frozenset[str] = frozenset()
    optional_attached: str = ""  # short options whose value, if any, is attached (xargs -i)
    digits_flag: bool = False  # `nice -10`
    no_command: str = ""  # short flags after which no command runs (taskset -p)


def _o(
    short_arg: str = "", short_flag: str = "", long_arg: str = "", long_flag: str = "", **kw: object
) -> Options:
    return Options(
        short_arg,
        short_flag,
        frozenset(long_arg.split()),
        frozenset(long_flag.split()),
        **kw,  # type: ignore[arg-type]
    )


_SUDO = _o(
    "CDghpRrTtUu", "ABbEeHiKklNnPSsVv",
    "chdir close-from group host prompt chroot role type command-timeout other-user user",
    "askpass bell background preserve-env edit help set-home login remove-timestamp reset-timestamp "
    "list no-update non-interactive preserve-groups stdin shell version validate",
)  # fmt: skip
WRAPPERS: dict[str, tuple[Options, int]] = {
    # name: (options, positional words before the command)
    "sudo": (_SUDO, 0),
    "doas": (_o("Cu", "Lns"), 0),
    "nohup": (_o(), 0),
    "nice": (_o("n", "", "adjustment", "", digits_flag=True), 0),
    "ionice": (_o("cnpPu", "t", "class classdata pid pgid uid", "ignore", no_command="pPu"), 0),
    "timeout": (_o("sk", "v", "signal kill-after", "foreground preserve-status verbose"), 1),
    "stdbuf": (_o("ioe", "", "input output error"), 0),
    "setsid": (_o("", "cfw", "", "ctty fork wait"), 0),
    "chroot": (_o("", "", "userspec groups", "skip-chdir"), 1),
    "taskset": (_o("", "apc", "", "all-tasks pid cpu-list", no_command="p"), 1),
    "chrt": (
        _o(
            "TPD",
            "bdfiorRamvpe",
            "sched-runtime sched-period sched-deadline",
            "batch deadline fifo idle other rr reset-on-fork all-tasks max pid verbose ext",
            no_command="pm",
        ),
        1,
    ),
    "time": (_o("fo", "apqv", "format output", "append portability quiet verbose"), 0),
    "command": (_o("", "p"), 0),
    "builtin": (_o(), 0),
    "exec": (_o("a", "cl"), 0),
    "xargs": (
        _o(
            "adEILnPs",
            "0oprtx",
            "arg-file delimiter eof replace max-lines max-args max-procs max-chars process-slot-var",
            "null open-tty interactive no-run-if-empty verbose exit show-limits",
            optional_attached="eil",
        ),
        0,
    ),
    "strace": (_o("abeEIoOpPsSuUX", "cCdDfFhiknqrtTvVwxyzZ", "", "", no_command="p"), 0),
    "ltrace": (_o("aAeFlnopsuDxX", "bcCfhiLrStTV", "", "", no_command="p"), 0),
    "unbuffer": (_o("", "p"), 0),
    "catchsegv": (_o(), 0),
    "fakeroot": (_o("sbi", "u"), 0),
    "proxychains": (_o("f", "q"), 0),
    "proxychains4": (_o("f", "q"), 0),
    "torsocks": (_o("uapP", "diq6"), 0),
    "firejail": (_o(), 0),
    "valgrind": (_o(), 0),
    "busybox": (_o(), 0),
    "toybox": (_o(), 0),
    "setpriv": (
        _o(
            "d",
            "",
            "reuid regid groups inh-caps ambient-caps bounding-set securebits selinux-label apparmor-profile "
            "landlock-access landlock-rule pdeathsig ptracer",
            "keep-groups clear-groups init-groups reset-env nnp no-new-privs dump",
        ),
        0,
    ),
    "prlimit": (
        _o(
            "po",
            "hruV",
            "pid output core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime "
            "sigpending stack as",
            "help raw noheadings verbose version",
            no_command="p",
        ),
        0,
    ),
    "cgexec": (_o("g", "", "", "sticky"), 0),
    "faketime": (_o("f", "m", "", "exclude-monotonic"), 1),
    "dbus-run-session": (_o("", "", "config-file dbus-daemon", ""), 0),
    "xvfb-run": (
        _o(
            "nslefpw",
            "a",
            "server-num server-args error-file auth-file xauth-protocol wait",
            "auto-servernum help",
        ),
        0,
    ),
    "pkexec": (_o("", "", "user", "disable-internal-agent keep-cwd help version"), 0),
}
SHELLS = frozenset({"sh", "bash", "dash", "ash", "rbash", "ksh", "mksh", "posh", "yash", "lksh", "pdksh"})
FOREIGN_SHELLS = frozenset({"zsh", "fish", "csh", "tcsh", "xonsh", "nu", "elvish", "rc", "es"})
INLINE_CODE: dict[str, tuple[str, frozenset[str]]] = {
    # interpreter family: (short flags whose value is code, long flags whose value is code)
    "python": ("c", frozenset()),
    "pypy": ("c", frozenset()),
    "perl": ("eE", frozenset()),
    "ruby": ("e", frozenset()),
    "node": ("ep", frozenset({"eval", "print"})),
    "nodejs": ("ep", frozenset({"eval", "print"})),
    "bun": ("e", frozenset({"eval", "print"})),
    "deno": ("", frozenset()),
    "php": ("rR", frozenset()),
    "lua": ("e", frozenset()),
    "luajit": ("e", frozenset()),
    "rscript": ("e", frozenset()),
    "r": ("e", frozenset()),
    "julia": ("eE", frozenset({"eval", "print"})),
    "osascript": ("e", frozenset()),
    "pwsh": ("c", frozenset({"command", "encodedcommand"})),
    "powershell": ("c", frozenset({"command", "encodedcommand"})),
    "tclsh": ("", frozenset()),
    "wish": ("", frozenset()),
    "expect": ("c", frozenset()),
    "gdb": ("", frozenset({"ex", "eval-command", "batch"})),
    "irb": ("", frozenset()),
    "jshell": ("", frozenset()),
    "groovy": ("e", frozenset()),
    "scala": ("e", frozenset()),
    "racket": ("e", frozenset({"eval"})),
    "guile": ("c", frozenset()),
    "elixir": ("e", frozenset({"eval"})),
    "erl": ("", frozenset({"eval"})),
    "raku": ("e", frozenset()),
    "perl6": ("e", frozenset()),
    "octave": ("", frozenset({"eval"})),
    "gnuplot": ("e", frozenset()),
    "sbcl": ("", frozenset({"eval"})),
    "clojure": ("e", frozenset()),
    "ghc": ("e", frozenset()),
}
REFUSED_BUILTINS = {
    "eval": "`eval` runs a string as code",
    "source": "`source` runs a file as code in this shell",
    ".": "`.` runs a file as code in this shell",
    "declare": "`declare` can evaluate values as arithmetic (code)",
    "typeset": "`typeset` can evaluate values as arithmetic (code)",
    "let": "`let` evaluates arithmetic, which can run code through variable values",
    "mapfile": "`mapfile` can run a callback",
    "readarray": "`readarray` can run a callback",
    "hash": "`hash` can change which program a name runs",
    "enable": "`enable` can load code into the shell",
    "alias": "`alias` can change what a name runs",
    "shopt": "`shopt` changes how the shell parses the line",
    "fc": "`fc` re-runs commands from history",
    "bind": "`bind` can attach commands to keys",
    "complete": "`complete` can register commands",
    "compgen": "`compgen` can run commands",
    "trap": "`trap` registers a command to run later",
    "coproc": "`coproc` is not supported",
    "parallel": "`parallel` builds commands at run time",
    "systemd-run": "`systemd-run` hands a command to the service manager",
    "at": "`at` schedules commands read from input",
    "batch": "`batch` schedules commands read from input",
    "crontab": "`crontab` schedules commands",
    "screen": "`screen` runs commands it reads later",
    "tmux": "`tmux` runs commands it reads later",
    "capsh": "`capsh` runs a shell with arguments it builds itself",
    "bwrap": "`bwrap` runs a command after options this checker does not follow",
    "systemd-nspawn": "`systemd-nspawn` runs a command in a container",
}
VARNAME_BUILTINS = frozenset(
    {"read", "unset", "getopts", "wait", "printf", "test", "[", "export", "local", "readonly"}
)


def skip_options(name: str, opts: Options, args: Sequence[Word]) -> tuple[int, set[str]]:
    """Index of the first word after `name`'s options, and the short flags seen."""
    seen: set[str] = set()
    i = 0
    while i < len(args):
        w = args[i]
        t = w.text
        if w.dynamic and (t.startswith("-") or not t):
            raise CommandRefused(f"`{name}` option {show(w)} is only known at run time")
        if t == "--":
            return i + 1, seen
        if t.startswith("--") and len(t) > 2:
            key = t[2:].split("=", 1)[0]
            if key in opts.long_arg:
                i += 1 if "=" in t else 2
            elif key in opts.long_flag:
                i += 1
            else:
                raise CommandRefused(f"`{name}` option {t!r} is not understood")
            continue
        if t.startswith("-") and len(t) > 1:
            if opts.digits_flag and t[1:].isdigit():
                i += 1
                continue
            j = 1
            consumed_next = False
            while j < len(t):
                ch = t[j]
                if ch in opts.short_arg:
                    seen.add(ch)
                    if j == len(t) - 1:
                        consumed_next = True
                    break
                if ch in opts.optional_attached:
                    seen.add(ch)
                    break
                if ch in opts.short_flag:
                    seen.add(ch)
                    j += 1
                    continue
                raise CommandRefused(f"`{name}` option {t!r} is not understood")
            i += 2 if consumed_next else 1
            continue
        return i, seen
    return i, seen


def awk_spawns(args: Sequence[Word]) -> str | None:
    program: str | None = None
    i = 0
    while i < len(args):
        t = args[i].text
        if t in ("-f", "--file", "-E", "--exec"):
            return None  # program from a file: not on the line (see the documented limits)
        if t in ("-v", "-F", "--assign", "--field-separator"):
            i += 2
            continue
        if t in ("-e", "--source"):
            program = args[i + 1].text if i + 1 < len(args) else ""
            break
        if t.startswith("-") and t != "-":
            i += 1
            continue
        program = t
        break
    if program is None:
        return None
    if re.search(r"\bsystem\s*\(", program):
        return "the awk program calls `system`"
    if "@load" in program or "@include" in program:
        return "the awk program loads code (`@load`, `@include`)"
    # Regex literals and strings may hold `|` and `>` as data; drop them, then look for pipes
    # (`print | "cmd"`, `"cmd" | getline`) and output redirections of print statements.
    code = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', program)
    code = re.sub(r"/(?:[^/\\\n]|\\.)+/", "//", code)
    if "|" in code.replace("||", ""):
        return "the awk program pipes to or from a command (`|`)"
    if re.search(r"\bprintf?\b[^;}\n]*>", code):
        return "the awk program writes to a file or command (`print >`)"
    return None


def sed_spawns(args: Sequence[Word]) -> str | None:
    scripts: list[str] = []
    i = 0
    first_positional_is_script = True
    while i < len(args):
        t = args[i].text
        if t in ("-e", "--expression"):
            scripts.append(args[i + 1].text if i + 1 < len(args) else "")
            first_positional_is_script = False
            i += 2
            continue
        if t in ("-f", "--file"):
            return None  # script from a file: not on the line (see the documented limits)
        if t.startswith("--expression="):
            scripts.append(t.split("=", 1)[1])
            first_positional_is_script = False
        elif t.startswith("-e") and len(t) > 2:
            scripts.append(t[2:])
            first_positional_is_script = False
        elif not t.startswith("-") and first_positional_is_script:
            scripts.append(t)
            first_positional_is_script = False
        i += 1
    for script in scripts:
        # GNU sed's `e` command and the `e` flag of `s` run commands; `w`/`W` write files.
        if re.search(r"(^|[;{}\n]|\d|\$|/)\s*!?\s*[eEwWrR](\s|$|;|/)", script) or _sed_s_flags(script) & {
            "e",
            "w",
        }:
            return "the sed script can run commands or write files (`e`, `w`)"
    return None


def _sed_s_flags(script: str) -> set[str]:
    """The flags of every ``s`` command in a sed script (any ``s`` followed by a delimiter counts)."""
    flags: set[str] = set()
    i = 0
    while i < len(script):
        if (
            script[i] == "s"
            and i + 1 < len(script)
            and not script[i + 1].isalnum()
            and script[i + 1] not in " \n\\"
        ):
            delim = script[i + 1]
            j, parts = i + 2, 0
            while j < len(script) and parts < 2:
                if script[j] == "\\":
                    j += 2
                    continue
                if script[j] == delim:
                    parts += 1
                j += 1
            if parts < 2:
                return flags | {"e"}  # unterminated: cannot tell, assume the worst
            k = j
            while k < len(script) and script[k].isalnum():
                k += 1
            flags.update(script[j:k])
            i = k
            continue
        i += 1
    return flags


_GIT_EXEC_KEYS = re.compile(
    r"(alias\..*|core\.(pager|editor|sshcommand|fsmonitor|hookspath|askpass|gitproxy)|.*\.(command|cmd|"
    r"helper|program|textconv|driver|clean|smudge|process|sshcommand)|diff\.external|sequence\.editor|"
    r"credential\..*|gpg\..*|uploadpack\..*|protocol\..*|include\..*|includeif\..*|ssh\..*|http\..*proxy.*)",
    re.IGNORECASE,
)


def exec_options(key: str, args: Sequence[Word]) -> str | None:
    """Options of common programs that run arbitrary commands (GTFOBins-style)."""
    texts = [w.text for w in args]
    if key == "git":
        words: list[str] = []
        skip = False
        for t in texts:
            if skip:
                skip = False
            elif t in (
                "-C",
                "-c",
                "--git-dir",
                "--work-tree",
                "--namespace",
                "--exec-path",
                "--super-prefix",
            ):
                skip = not words  # global options before the subcommand take a value
            elif not t.startswith("-"):
                words.append(t)
        for sub in (
            ("submodule", "foreach"),
            ("bisect", "run"),
            ("filter-branch",),
            ("difftool",),
            ("mergetool",),
        ):
            if words[: len(sub)] == list(sub):
                return f"`git {' '.join(sub)}` runs a command"
        if words[:1] == ["rebase"] and any(t in ("-x", "--exec") or t.startswith("--exec=") for t in texts):
            return "`git rebase --exec` runs a command"
        for i, t in enumerate(texts):
            if t == "-c" and i + 1 < len(texts) and _GIT_EXEC_KEYS.match(texts[i + 1].split("=", 1)[0]):
                return f"`git -c {texts[i + 1].split('=', 1)[0]}` runs a configured command"
            if t.startswith(("--config-env", "--upload-pack", "--receive-pack", "--exec")):
                return f"`git {t.split('=', 1)[0]}` runs a configured command"
        return None
    if key in ("tar", "gtar", "bsdtar"):
        for t in texts:
            if t.startswith(("--to-command", "--checkpoint-action", "--use-compress-program", "--rsh-command",
                             "--info-script", "--new-volume-script", "--rmt-command")):  # fmt: skip
                return f"`tar {t.split('=', 1)[0]}` runs a command"
            if re.fullmatch(r"-[A-Za-z]*[IF][A-Za-z]*", t) or t.startswith(("-I", "-F")):
                return f"`tar {t}` runs a program"
        return None
    if key in ("rsync",):
        for t in texts:
            if t.startswith(("-e", "--rsh", "--rsync-path")) or re.fullmatch(r"-[a-zA-Z]*e[a-zA-Z]*", t):
                return f"`rsync {t.split('=', 1)[0]}` runs a remote-shell command"
        return None
    if key == "ip":
        if [t for t in texts if not t.startswith("-")][:2] == ["netns", "exec"]:
            return "`ip netns exec` runs a command"
        return None
    if key in ("sqlite3", "sqlite"):
        if any(".shell" in t or ".system" in t or ".output |" in t or ".once |" in t for t in texts):
            return "sqlite3's `.shell`/`.system` runs a command"
        return None
    if key in ("psql", "mysql", "mariadb"):
        if any("\\!" in t or re.search(r"(^|\s)system\s", t) for t in texts):
            return f"`{key}`'s `\\!`/`system` runs a command"
        return None
    if key == "dc":
        if any("!" in t for t in texts):
            return "`dc`'s `!` runs a command"
        return None
    if key in ("ssh", "scp", "sftp"):
        for i, t in enumerate(texts):
            joined = t + (" " + texts[i + 1] if t == "-o" and i + 1 < len(texts) else "")
            if re.search(r"(proxycommand|localcommand|permitlocalcommand|knownhostscommand|"
                         r"match\s+exec)", joined, re.IGNORECASE):  # fmt: skip
                return f"`{key} {joined}` runs a local command"
            if t.startswith("-F") or (key != "ssh" and t.startswith("-S")):
                return f"`{key} {t}` runs a program or reads a config that can"
        return None
    if key in ("zip",):
        if any(t in ("-TT", "--unzip-command") or t.startswith("--unzip-command") for t in texts):
            return "`zip -TT` runs a command"
        return None
    if key in ("vi", "vim", "nvim", "ex", "view", "vimdiff", "rvim"):
        if any(t in ("-c", "--cmd", "-S", "-s") or t.startswith("+") for t in texts):
            return f"`{key}` runs editor commands given on the line"
        return None
    if key in ("man",):
        if any(t.startswith(("-P", "--pager", "-H", "--html")) for t in texts):
            return "`man -P` runs a pager command"
        return None
    if key in ("make", "gmake"):
        if any(t.startswith("--eval") or t in {"-f-", "-"} for t in texts):
            return "`make --eval` runs inline make code"
        return None
    return None


def show(word: Word) -> str:
    return repr(word.text) if not word.dynamic else f"{word.text!r} (dynamic)"
