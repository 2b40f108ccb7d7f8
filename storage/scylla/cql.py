"""The plumbing of the `scylla` back end: session, prepared statements, writes, the unit of work
(times and timeuuids: storage/scylla/timeuuids.py).

Writes are `Write` values (table, CQL, parameters, partition key). Inside `atomic()` they are
collected by the thread's unit of work and sent at its exit as ONE logged batch (data rows and
outbox rows together: Cassandra's batch log applies all of them or, after a crash, replays them).
Counter updates cannot join a logged batch; they are sent right after it, as a counter batch (see
`UnitOfWork`). Outside `atomic()` a call's writes are sent at once (one logged batch per call).

Reads go straight to the server with prepared statements (dict rows, consistency LOCAL_QUORUM) and
do not see the writes of the current unit of work: repository methods that must, keep what they
need in the unit of work (e.g. `deleted_messages`).

Cassandra not answering (no replica up or reachable, a coordinator or client time-out) leaves this
module as kernel.errors.DependencyUnavailable("cassandra"), the driver's error as its __cause__:
the layers above answer it as they answer a database outage (503, a stream's retry close) without
knowing the driver.
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cassandra import ConsistencyLevel, OperationTimedOut, Timeout, Unavailable, WriteTimeout, WriteType
from cassandra.cluster import NoHostAvailable, Session
from cassandra.concurrent import execute_concurrent
from cassandra.connection import ConnectionException
from cassandra.pool import NoConnectionsAvailable
from cassandra.query import BatchStatement, BatchType, PreparedStatement
from django.conf import settings
from django.db import connections

from kernel.errors import DependencyUnavailable
from storage.scylla.models import ALL_TABLES

logger = logging.getLogger(__name__)

CASSANDRA_DB_ALIAS = "cassandra"
CONSISTENCY = ConsistencyLevel.LOCAL_QUORUM
SERIAL_CONSISTENCY = ConsistencyLevel.LOCAL_SERIAL
CONCURRENCY = 32  # in-flight requests of one fan-out read
IN_CHUNK = 100  # values per IN (...) restriction

COMPONENT = "cassandra"
# The driver's errors that mean Cassandra does not answer, or not in time: NoHostAvailable (every
# host down, refused or shut down), OperationTimedOut (the client's time-out), Unavailable (too few
# replicas alive for the consistency), ReadTimeout / WriteTimeout (the coordinator's time-out),
# ConnectionException / NoConnectionsAvailable (a connection lost, or none free to a host).
DRIVER_UNAVAILABLE: tuple[type[Exception], ...] = (
    NoHostAvailable,
    OperationTimedOut,
    Unavailable,
    Timeout,
    ConnectionException,
    NoConnectionsAvailable,
)

TABLES = {m.__table_name__: m for m in ALL_TABLES}
PARTITION_KEYS: dict[str, tuple[str, ...]] = {name: tuple(m._partition_keys) for name, m in TABLES.items()}

# --- statements ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """One write statement: `cql` names tables as {table}; `key` is its partition key's values."""

    table: str
    cql: str
    params: tuple[Any, ...]
    key: tuple[Any, ...]


def _key_of(table: str, values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values[name] for name in PARTITION_KEYS[table])


def insert(table: str, values: dict[str, Any], *, if_not_exists: bool = False) -> Write:
    """INSERT of the non-null values (a null would write a tombstone)."""
    present = {k: v for k, v in values.items() if v is not None}
    names = ", ".join(present)
    marks = ", ".join("?" for _ in present)
    lwt = " IF NOT EXISTS" if if_not_exists else ""
    return Write(
        table,
        f"INSERT INTO {{{table}}} ({names}) VALUES ({marks}){lwt}",
        tuple(present.values()),
        _key_of(table, values),
    )


def update(table: str, key: dict[str, Any], values: dict[str, Any], *, timestamp: int | None = None) -> Write:
    """UPDATE of `values` (None deletes the cell) in the row `key`, optionally with a write time."""
    using = " USING TIMESTAMP ?" if timestamp is not None else ""
    sets = ", ".join(f"{k} = ?" for k in values)
    where = " AND ".join(f"{k} = ?" for k in key)
    params = ((timestamp,) if timestamp is not None else ()) + tuple(values.values()) + tuple(key.values())
    return Write(table, f"UPDATE {{{table}}}{using} SET {sets} WHERE {where}", params, _key_of(table, key))


def delete(table: str, key: dict[str, Any], *, condition: dict[str, Any] | None = None) -> Write:
    """DELETE of the row (or partition, or clustering range with `col <=` keys) `key`."""
    parts, params = [], []
    for k, v in key.items():
        column, _, op = k.partition(" ")
        parts.append(f"{column} {op or '='} ?")
        params.append(v)
    lwt = ""
    if condition:
        lwt = " IF " + " AND ".join(f"{k} = ?" for k in condition)
        params.extend(condition.values())
    plain_key = {k.partition(" ")[0]: v for k, v in key.items()}
    return Write(
        table, f"DELETE FROM {{{table}}} WHERE {' AND '.join(parts)}{lwt}", tuple(params), _key_of(table, plain_key)
    )


def counter_add(table: str, key: dict[str, Any], column: str, delta: int) -> Write:
    where = " AND ".join(f"{k} = ?" for k in key)
    return Write(
        table,
        f"UPDATE {{{table}}} SET {column} = {column} + ? WHERE {where}",
        (delta, *key.values()),
        _key_of(table, key),
    )


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- the connection ------------------------------------------------------------------------------


@contextmanager
def unavailable_as_dependency_error() -> Iterator[None]:
    """Raises the driver's unavailability errors (DRIVER_UNAVAILABLE) as DependencyUnavailable."""
    try:
        yield
    except DRIVER_UNAVAILABLE as exc:
        raise DependencyUnavailable(COMPONENT, f"{type(exc).__name__}: {exc}") from exc


class Cql:
    """Prepared statements on the django-cassandra-engine connection, per keyspace."""

    def __init__(self) -> None:
        self._prepared: dict[str, PreparedStatement] = {}
        self._keyspace_override: str | None = None
        self._lock = threading.Lock()
        self._per_thread = threading.local()

    @property
    def requests(self) -> int:
        """Statements this thread sent (a first page each): what tests compare to show a read's cost
        is bounded. Per thread, as Django counts a connection's queries: a background thread's reads
        (a relay, a publisher of an earlier test) are not the call's."""
        return int(getattr(self._per_thread, "requests", 0))

    @requests.setter
    def requests(self, value: int) -> None:
        self._per_thread.requests = value

    # The keyspace is the DATABASES entry's NAME unless the tests switch to their own.
    def keyspace(self) -> str:
        if self._keyspace_override:
            return self._keyspace_override
        return str(settings.DATABASES[CASSANDRA_DB_ALIAS]["NAME"])

    def use_keyspace(self, keyspace: str | None) -> None:
        self._keyspace_override = keyspace

    def session(self) -> Session:
        with unavailable_as_dependency_error():  # django-cassandra-engine connects on first use
            session: Session = connections[CASSANDRA_DB_ALIAS].connection.session
        return session

    def table(self, name: str) -> str:
        return f"{self.keyspace()}.{name}"

    def prepare(self, template: str) -> PreparedStatement:
        keyspace = self.keyspace()
        cql = template.format(**{name: f"{keyspace}.{name}" for name in TABLES})
        statement = self._prepared.get(cql)
        if statement is None:
            with unavailable_as_dependency_error():
                statement = self.session().prepare(cql)
            statement.consistency_level = CONSISTENCY
            statement.serial_consistency_level = SERIAL_CONSISTENCY
            with self._lock:
                self._prepared[cql] = statement
        return statement

    # --- reads -----------------------------------------------------------------------------------

    def rows(self, template: str, params: Sequence[Any] = (), *, fetch_size: int | None = None) -> list[dict[str, Any]]:
        statement = self.prepare(template).bind(tuple(params))
        if fetch_size:
            statement.fetch_size = fetch_size
        self.requests += 1
        with unavailable_as_dependency_error():
            return list(self.session().execute(statement))

    def iter_rows(
        self, template: str, params: Sequence[Any] = (), *, fetch_size: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Rows, fetched page by page as the caller consumes them."""
        statement = self.prepare(template).bind(tuple(params))
        statement.fetch_size = fetch_size
        self.requests += 1
        with unavailable_as_dependency_error():  # later pages are fetched while the caller iterates
            yield from self.session().execute(statement)

    def one(self, template: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        found = self.rows(template, params)
        return found[0] if found else None

    def rows_many(self, template: str, params_list: Iterable[Sequence[Any]]) -> list[list[dict[str, Any]]]:
        """The same read for many parameter tuples, concurrently; results in the given order."""
        statement = self.prepare(template)
        bound = [statement.bind(tuple(p)) for p in params_list]
        if not bound:
            return []
        self.requests += len(bound)
        with unavailable_as_dependency_error():
            if len(bound) == 1:
                return [list(self.session().execute(bound[0]))]
            results = execute_concurrent(
                self.session(), [(b, None) for b in bound], concurrency=CONCURRENCY, raise_on_first_error=True
            )
            return [list(r.result_or_exc) for r in results]

    def rows_in(self, template: str, values: Sequence[Any], *, before: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """A read with `IN ?` bound to `values` (in chunks, concurrently), after the `before` parameters."""
        values = list(dict.fromkeys(values))
        if not values:
            return []
        return list(itertools.chain.from_iterable(self.rows_many(template, [(*before, c) for c in chunks(values)])))

    # --- writes ----------------------------------------------------------------------------------

    def execute_writes(self, writes: Sequence[Write], *, batch_type: BatchType = BatchType.LOGGED) -> None:
        if not writes:
            return
        _journal_record(writes)
        self.requests += 1
        with unavailable_as_dependency_error():
            if len(writes) == 1:
                self.session().execute(self.prepare(writes[0].cql).bind(writes[0].params))
                return
            batch = BatchStatement(batch_type=batch_type, consistency_level=CONSISTENCY)
            for w in writes:
                batch.add(self.prepare(w.cql), w.params)
            self.session().execute(batch)

    def execute_each(self, writes: Sequence[Write]) -> None:
        """Independent (idempotent) writes, each on its own, concurrently: no batch, no atomicity."""
        if not writes:
            return
        _journal_record(writes)
        self.requests += len(writes)
        statements = [(self.prepare(w.cql), w.params) for w in writes]
        with unavailable_as_dependency_error():
            execute_concurrent(self.session(), statements, concurrency=CONCURRENCY, raise_on_first_error=True)

    def lwt(self, write: Write) -> tuple[bool, dict[str, Any]]:
        """A lightweight transaction (IF ...): whether it applied, and the existing row when it did not."""
        _journal_record([write])
        self.requests += 1
        with unavailable_as_dependency_error():
            row = self.session().execute(self.prepare(write.cql).bind(write.params)).one()
        applied = bool(row.get("[applied]")) if row else False
        return applied, dict(row or {})


cql = Cql()


# --- the unit of work ------------------------------------------------------------------------------


@dataclass
class UnitOfWork:
    """What one `atomic()` block writes, sent at its outermost exit.

    - `writes`: one LOGGED batch (data rows and outbox rows: all or nothing, replayed after a crash).
    - `counters`: one COUNTER batch sent after the logged batch. Counters are not idempotent and
      cannot join a logged batch; they are a cache of `unread_by_user` (exact, in the logged batch),
      reset to its exact value whenever the user reads the room. A crash between the two batches
      leaves a count off by the unit's increments until then.
    - `undo`: compensations of lightweight transactions run during the unit (p2p pair and
      sender_message_id claims, which a batch cannot hold): run when the unit fails.
    - `deleted_messages`: messages this unit deleted (reads inside the unit skip them).
    - `pending_rows`: rows this unit wrote that its own later reads must see, by (table, primary key)
      (None: deleted); e.g. a reaction, read back to build the event that announces it.
    """

    writes: list[Write] = field(default_factory=list)
    counters: list[Write] = field(default_factory=list)
    undo: list[Callable[[], object]] = field(default_factory=list)
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    deleted_messages: set[uuid.UUID] = field(default_factory=set)
    pending_rows: dict[tuple[str, tuple[Any, ...]], dict[str, Any] | None] = field(default_factory=dict)

    def mark(self) -> tuple[int, int, int, int]:
        return len(self.writes), len(self.counters), len(self.undo), len(self.callbacks)

    def rollback_to(self, mark: tuple[int, int, int, int]) -> None:
        writes, counters, undo, callbacks = mark
        compensations = self.undo[undo:]
        del self.writes[writes:], self.counters[counters:], self.undo[undo:], self.callbacks[callbacks:]
        _run_compensations(compensations)


def _run_compensations(compensations: Sequence[Callable[[], object]]) -> None:
    for compensate in reversed(compensations):
        try:
            compensate()
        except Exception:
            logger.exception("scylla: a compensation of a failed unit of work failed")


_local = threading.local()


def current_unit() -> UnitOfWork | None:
    unit: UnitOfWork | None = getattr(_local, "unit", None)
    return unit


@contextmanager
def atomic() -> Iterator[None]:
    """A unit of work; nested blocks join it, and roll back only their own part when they raise."""
    unit = current_unit()
    if unit is not None:
        mark = unit.mark()
        try:
            yield
        except BaseException:
            unit.rollback_to(mark)
            raise
        return
    unit = UnitOfWork()
    _local.unit = unit
    try:
        yield
    except BaseException:
        _local.unit = None
        _run_compensations(unit.undo)
        raise
    _local.unit = None
    _commit(unit)


def reached_batch_log(exc: BaseException) -> bool:
    """Whether a failed logged batch timed out only after the batch log took it (write type BATCH,
    not BATCH_LOG): Cassandra then applies all of it, so the unit of work stands."""
    cause = exc.__cause__ if isinstance(exc, DependencyUnavailable) else exc
    return isinstance(cause, WriteTimeout) and cause.write_type == WriteType.BATCH


def _commit(unit: UnitOfWork) -> None:
    try:
        cql.execute_writes(unit.writes)
    except DependencyUnavailable as exc:
        if not reached_batch_log(exc):
            _run_compensations(unit.undo)
            raise
        logger.warning("scylla: logged batch timed out after reaching the batch log; it will be applied")
    except BaseException:
        _run_compensations(unit.undo)
        raise
    apply_counters(unit.counters)
    for callback in unit.callbacks:
        callback()


def apply_counters(counters: Sequence[Write]) -> None:
    if not counters:
        return
    try:
        cql.execute_writes(counters, batch_type=BatchType.COUNTER)
    except Exception:
        logger.exception("scylla: unread counters not updated (%d updates); they heal on the next read", len(counters))


def write(*writes: Write) -> None:
    """Adds writes to the current unit of work, or sends them at once (one logged batch)."""
    unit = current_unit()
    if unit is not None:
        unit.writes.extend(writes)
    else:
        cql.execute_writes(list(writes))


def count(*updates: Write) -> None:
    """Adds counter updates to the current unit of work, or sends them at once."""
    unit = current_unit()
    if unit is not None:
        unit.counters.extend(updates)
    else:
        apply_counters(list(updates))


def on_commit(callback: Callable[[], None]) -> None:
    unit = current_unit()
    if unit is not None:
        unit.callbacks.append(callback)
    else:
        callback()


def on_rollback(compensation: Callable[[], object]) -> None:
    """Registers the undo of an immediate write (a lightweight transaction) of the current unit."""
    unit = current_unit()
    if unit is not None:
        unit.undo.append(compensation)


def pending_rows(table: str) -> dict[tuple[Any, ...], dict[str, Any] | None]:
    """The rows of `table` written by the current unit of work (None: deleted), by primary key."""
    unit = current_unit()
    if unit is None:
        return {}
    return {key: row for (name, key), row in unit.pending_rows.items() if name == table}


def remember_row(table: str, key: tuple[Any, ...], row: dict[str, Any] | None) -> None:
    """Records a row written (or deleted) by the current unit of work for its own later reads."""
    unit = current_unit()
    if unit is not None:
        unit.pending_rows[(table, key)] = row


def deleted_in_unit() -> set[uuid.UUID]:
    unit = current_unit()
    return unit.deleted_messages if unit is not None else set()


# --- the tests' journal of written partitions ------------------------------------------------------

_journal: set[tuple[str, tuple[Any, ...]]] | None = None
_journal_lock = threading.Lock()


def journal_start() -> None:
    """Starts recording the partitions every write touches (tests delete them afterwards)."""
    global _journal
    _journal = set()


def journal_take() -> set[tuple[str, tuple[Any, ...]]]:
    """The partitions written since journal_start() or the last take (recording goes on)."""
    global _journal
    with _journal_lock:
        taken, _journal = (_journal or set()), (set() if _journal is not None else None)
    return taken


def _journal_record(writes: Iterable[Write]) -> None:
    if _journal is None:
        return
    with _journal_lock:
        if _journal is not None:
            _journal.update((w.table, w.key) for w in writes)


def fetch_all(reads: Sequence[tuple[str, Sequence[Any]]]) -> list[list[dict[str, Any]]]:
    """Different reads, concurrently; results in the given order."""
    if not reads:
        return []
    session = cql.session()
    cql.requests += len(reads)
    with unavailable_as_dependency_error():
        futures = [session.execute_async(cql.prepare(template).bind(tuple(params))) for template, params in reads]
        return [list(f.result()) for f in futures]
