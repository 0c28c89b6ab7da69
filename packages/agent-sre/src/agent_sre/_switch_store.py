"""Where kill switches live: a store shared by every process that opens it.

`SQLiteSwitchStore` (stdlib ``sqlite3``, WAL mode) shares switches between the processes of one
machine; `PostgresSwitchStore` (agent_sre._pg_store) shares them between machines. Both keep the
switches that are pulled now and an append-only history of every pull and release.

A store never repairs what it cannot read: a file that is not a database, a database whose
layout is not ours, or a row that does not parse raises `StateStoreError`, and the kill switch
refuses every call until a person fixes or replaces the store.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

from agent_sre._errors import StateStoreError

__all__ = [
    "SCOPES",
    "CircuitStateStore",
    "SQLiteSwitchStore",
    "Scope",
    "Switch",
    "SwitchEvent",
    "SwitchStore",
]

Scope = Literal["global", "agent", "tool"]
SCOPES: tuple[Scope, ...] = ("global", "agent", "tool")
FORMAT = "agent-sre/kill-switch/1"


class Switch(NamedTuple):
    """One pulled kill switch.

    Attributes:
        scope: ``global``, ``agent`` or ``tool``.
        target: The agent id or tool name; ``*`` for the global switch.
        pulled_by: Who pulled it (a person, or a component such as ``agent-sre:rogue-detector``).
        pulled_at: When, as an RFC 3339 UTC timestamp.
        reason: Why.
    """

    scope: Scope
    target: str
    pulled_by: str
    pulled_at: str
    reason: str


class SwitchEvent(NamedTuple):
    """One entry of a store's history: a pull or a release."""

    seq: int
    event: Literal["pull", "release"]
    scope: Scope
    target: str
    actor: str
    at: str
    reason: str


class SwitchStore(Protocol):
    """What a kill switch needs from its store. Every method raises `StateStoreError` on failure."""

    location: str

    def version(self) -> object:
        """A cheap token that changes whenever another connection changed the switches."""
        ...

    def load(self) -> Mapping[tuple[str, str], Switch]:
        """Every pulled switch, keyed by (scope, target)."""
        ...

    def pull(self, switch: Switch) -> None:
        """Record `switch` as pulled (replacing an earlier pull of the same switch) and log it."""
        ...

    def release(self, scope: Scope, target: str, actor: str, at: str, reason: str) -> Switch | None:
        """Release a switch and log it; return what was released, or None if it was not pulled."""
        ...

    def history(self) -> list[SwitchEvent]:
        """Every pull and release, oldest first."""
        ...

    def close(self) -> None:
        """Release the store's connection."""
        ...


class CircuitStateStore(Protocol):
    """Open circuits shared between the circuit breakers of many processes (see `CircuitBreaker`).

    Every method raises `StateStoreError` on failure.
    """

    location: str

    def version(self) -> object:
        """A cheap token that changes whenever another connection changed the stored state."""
        ...

    def open_circuits(self) -> Mapping[str, tuple[float, str]]:
        """Circuit name -> (open until, as a Unix time; why it opened)."""
        ...

    def publish_open(self, circuit: str, open_until: float, reason: str) -> None:
        """Record that `circuit` is open until `open_until` (Unix time)."""
        ...

    def publish_closed(self, circuit: str) -> None:
        """Record that `circuit` closed."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS agt_sre_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kill_switches (
    scope TEXT NOT NULL, target TEXT NOT NULL, pulled_by TEXT NOT NULL,
    pulled_at TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (scope, target));
CREATE TABLE IF NOT EXISTS kill_switch_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, scope TEXT NOT NULL,
    target TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS open_circuits (
    circuit TEXT PRIMARY KEY, open_until REAL NOT NULL, reason TEXT NOT NULL);
"""

_HELP_CORRUPT = (
    "the kill switch refuses every governed call until this is fixed; restore the file from a "
    "backup, or move it aside and re-pull the switches that should be pulled"
)


def parse_switch(row: tuple[object, ...], where: str) -> Switch:
    """Validate one stored row; a row that is not five strings with a known scope is corruption."""
    if len(row) != 5 or not all(isinstance(v, str) for v in row):
        raise StateStoreError(f"kill switch row {row!r} is malformed", location=where, help=_HELP_CORRUPT)
    scope, target, by, at, reason = row
    if scope not in SCOPES:
        raise StateStoreError(
            f"kill switch row has unknown scope {scope!r}", location=where, help=_HELP_CORRUPT
        )
    return Switch(scope, target, by, at, reason)  # type: ignore[arg-type]


def parse_circuits(rows: list[Any], where: str) -> dict[str, tuple[float, str]]:
    """Validate stored open circuits: (name, open-until number, reason) each."""
    circuits: dict[str, tuple[float, str]] = {}
    for row in rows:
        name, until, reason = tuple(row)
        if not isinstance(name, str) or not isinstance(until, (int, float)) or not isinstance(reason, str):
            raise StateStoreError(
                f"open circuit row {tuple(row)!r} is malformed", location=where, help=_HELP_CORRUPT
            )
        circuits[name] = (float(until), reason)
    return circuits


def parse_event(row: tuple[object, ...], where: str) -> SwitchEvent:
    """Validate one history row."""
    if len(row) != 7 or not isinstance(row[0], int) or not all(isinstance(v, str) for v in row[1:]):
        raise StateStoreError(f"kill switch event {row!r} is malformed", location=where, help=_HELP_CORRUPT)
    seq, event, scope, target, actor, at, reason = row
    if event not in ("pull", "release") or scope not in SCOPES:
        raise StateStoreError(f"kill switch event {row!r} is malformed", location=where, help=_HELP_CORRUPT)
    return SwitchEvent(seq, event, scope, target, actor, at, reason)  # type: ignore[arg-type]


class SQLiteSwitchStore:
    """Kill switches in a SQLite file (WAL mode), shared by every process on the machine.

    Opening checks the file (``PRAGMA quick_check``) and its layout; a file that fails either is
    reported, never rewritten. Writes are durable (``synchronous=FULL``): a pulled switch survives
    a crash or a restart. Thread-safe.

    The file must stay where it was opened: if it is removed or replaced while open (which would
    otherwise make other processes start from an empty store, releasing every switch), reads fail
    and the kill switch refuses calls.

    Args:
        path: The database file.
        create: Create the file (and its folder) if it does not exist. Pass False in production
            once the store exists, so that a lost file refuses calls instead of starting empty.
        timeout_s: How long to wait for another process's write lock before failing.

    Raises:
        StateStoreError: if the file is missing (with ``create=False``), cannot be opened, is not
            a database, or is not ours.
    """

    def __init__(self, path: str | Path, *, create: bool = True, timeout_s: float = 5.0) -> None:
        self.location = str(path)
        self._path = Path(path).absolute()  # a later chdir must not change which file is checked
        self._lock = threading.Lock()
        if not create and not self._path.is_file():
            raise StateStoreError(
                f"kill switch store {self.location!r} does not exist",
                location=self.location,
                help="restore it from a backup, or pass create=True to start a new, empty store",
            )
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.location, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StateStoreError(
                f"cannot open kill switch store {self.location!r}: {exc}",
                location=self.location,
                help="check that the folder exists and is writable by this process",
            ) from exc
        try:
            self._open()
        except BaseException:
            self._conn.close()
            raise

    def _fail(self, action: str, exc: Exception) -> StateStoreError:
        if isinstance(exc, StateStoreError):
            return exc
        return StateStoreError(
            f"kill switch store {self.location!r}: {action} failed: {exc}",
            location=self.location,
            help=_HELP_CORRUPT if isinstance(exc, sqlite3.DatabaseError) else None,
        )

    def _open(self) -> None:
        conn = self._conn
        try:
            check = conn.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise StateStoreError(
                    f"kill switch store {self.location!r} failed its integrity check: {check[:3]!r}",
                    location=self.location,
                    help=_HELP_CORRUPT,
                )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            ours = {"agt_sre_meta", "kill_switches", "kill_switch_events"}
            if tables & ours and "agt_sre_meta" not in tables:
                raise StateStoreError(
                    f"kill switch store {self.location!r} has kill switch tables but no format record",
                    location=self.location,
                    help=_HELP_CORRUPT,
                )
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                row = conn.execute("SELECT value FROM agt_sre_meta WHERE key='format'").fetchone()
                if row is None:
                    conn.execute("INSERT INTO agt_sre_meta VALUES ('format', ?)", (FORMAT,))
                elif row[0] != FORMAT:
                    raise StateStoreError(
                        f"kill switch store {self.location!r} has format {row[0]!r}, expected {FORMAT!r}",
                        location=self.location,
                        help="open it with the agent-sre version that wrote it",
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self.load()  # every row must parse now, not on the first governed call
            self._identity = self._file_identity()
        except (sqlite3.Error, OSError, StateStoreError) as exc:
            raise self._fail("open", exc) from exc

    def _file_identity(self) -> tuple[int, int]:
        st = self._path.stat()
        return st.st_dev, st.st_ino

    def version(self) -> object:
        """SQLite's ``data_version``: it changes when another connection commits.

        Raises:
            StateStoreError: also when the file was removed or replaced since it was opened.
        """
        with self._lock:
            try:
                if self._file_identity() != self._identity:
                    raise StateStoreError(
                        f"kill switch store {self.location!r} was replaced since it was opened",
                        location=self.location,
                        help="restore the original file, then reopen the store (restart the process or build a new KillSwitch)",
                    )
                row = self._conn.execute("PRAGMA data_version").fetchone()
            except FileNotFoundError as exc:
                raise StateStoreError(
                    f"kill switch store {self.location!r} was removed since it was opened",
                    location=self.location,
                    help="restore the file from a backup and reopen the store; until then every call is refused",
                ) from exc
            except (sqlite3.Error, OSError) as exc:
                raise self._fail("reading the version", exc) from exc
        return row[0]

    def load(self) -> dict[tuple[str, str], Switch]:
        """Every pulled switch."""
        with self._lock:
            try:
                rows = self._conn.execute(
                    "SELECT scope, target, pulled_by, pulled_at, reason FROM kill_switches"
                ).fetchall()
            except sqlite3.Error as exc:
                raise self._fail("reading switches", exc) from exc
        switches = (parse_switch(tuple(r), self.location) for r in rows)
        return {(s.scope, s.target): s for s in switches}

    def pull(self, switch: Switch) -> None:
        """Record a pull (durably) and its history entry, in one transaction."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.execute("INSERT OR REPLACE INTO kill_switches VALUES (?, ?, ?, ?, ?)", switch)
                    self._conn.execute(
                        "INSERT INTO kill_switch_events (event, scope, target, actor, at, reason)"
                        " VALUES ('pull', ?, ?, ?, ?, ?)",
                        switch,
                    )
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._fail("pulling a switch", exc) from exc

    def release(self, scope: Scope, target: str, actor: str, at: str, reason: str) -> Switch | None:
        """Delete a pulled switch and log the release, in one transaction."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    row = self._conn.execute(
                        "SELECT scope, target, pulled_by, pulled_at, reason FROM kill_switches"
                        " WHERE scope=? AND target=?",
                        (scope, target),
                    ).fetchone()
                    if row is None:
                        self._conn.execute("ROLLBACK")
                        return None
                    self._conn.execute(
                        "DELETE FROM kill_switches WHERE scope=? AND target=?", (scope, target)
                    )
                    self._conn.execute(
                        "INSERT INTO kill_switch_events (event, scope, target, actor, at, reason)"
                        " VALUES ('release', ?, ?, ?, ?, ?)",
                        (scope, target, actor, at, reason),
                    )
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._fail("releasing a switch", exc) from exc
        return parse_switch(tuple(row), self.location)

    def history(self) -> list[SwitchEvent]:
        """Every pull and release, oldest first."""
        with self._lock:
            try:
                rows = self._conn.execute(
                    "SELECT seq, event, scope, target, actor, at, reason FROM kill_switch_events ORDER BY seq"
                ).fetchall()
            except sqlite3.Error as exc:
                raise self._fail("reading history", exc) from exc
        return [parse_event(tuple(r), self.location) for r in rows]

    # -- shared circuit breaker state ----------------------------------------------------------

    def open_circuits(self) -> dict[str, tuple[float, str]]:
        """Circuit name -> (open until, reason)."""
        with self._lock:
            try:
                rows = self._conn.execute("SELECT circuit, open_until, reason FROM open_circuits").fetchall()
            except sqlite3.Error as exc:
                raise self._fail("reading open circuits", exc) from exc
        return parse_circuits(rows, self.location)

    def publish_open(self, circuit: str, open_until: float, reason: str) -> None:
        """Record an open circuit."""
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO open_circuits VALUES (?, ?, ?)", (circuit, open_until, reason)
                )
            except sqlite3.Error as exc:
                raise self._fail("recording an open circuit", exc) from exc

    def publish_closed(self, circuit: str) -> None:
        """Forget an open circuit."""
        with self._lock:
            try:
                self._conn.execute("DELETE FROM open_circuits WHERE circuit = ?", (circuit,))
            except sqlite3.Error as exc:
                raise self._fail("recording a closed circuit", exc) from exc

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
