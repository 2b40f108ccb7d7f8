"""Test keyspace management on Cassandra (only imported when CHAT_STORAGE=scylla)."""

from __future__ import annotations

from cassandra.cqlengine import management

from storage.scylla import cql as c
from storage.scylla import timeuuids as t
from storage.scylla.models import ALL_TABLES

# Partitions that several tests share (time buckets of the outbox, the marker partitions): their
# deletes carry the current time, so that the next test's writes are not shadowed.
SHARED_PARTITIONS = {"outbox_pending", "outbox_pending_buckets", "outbox_published", "outbox_published_buckets"}
# Counter deletes take no custom timestamp (and counters are never written with one).
NOW_DELETES = SHARED_PARTITIONS | {"unread_counters"}
# Other partitions are keyed by ids no later test reuses (uuids; user ids from a sequence that the test
# database never resets): deleted "a day from now", which also removes the cells that the repository
# writes with the time of their message (room_details.last_message_*) when a test uses future times.
FUTURE_US = 86_400_000_000


def prepare(keyspace: str) -> None:
    """Creates (once) and syncs the test keyspace, empties it, and points the repository at it."""
    management.create_keyspace_simple(keyspace, 1, connections=[c.CASSANDRA_DB_ALIAS])
    for model in ALL_TABLES:
        management.sync_table(model, keyspaces=[keyspace], connections=[c.CASSANDRA_DB_ALIAS])
    c.cql.use_keyspace(keyspace)
    session = c.cql.session()
    futures = [session.execute_async(f"TRUNCATE {keyspace}.{m.__table_name__}") for m in ALL_TABLES]
    for future in futures:
        future.result()
    c.journal_start()


def delete_written_partitions() -> None:
    """Deletes every partition written since the last call (the repository's journal)."""
    written = c.journal_take()
    later = t.monotonic_now_us() + FUTURE_US
    deletes = []
    for table, key in written:
        where = " AND ".join(f"{k} = ?" for k in c.PARTITION_KEYS[table])
        if table in NOW_DELETES:
            deletes.append(c.Write(table, f"DELETE FROM {{{table}}} WHERE {where}", key, key))
        else:
            deletes.append(
                c.Write(table, f"DELETE FROM {{{table}}} USING TIMESTAMP ? WHERE {where}", (later, *key), key)
            )
    c.cql.execute_each(deletes)
    c.journal_take()  # the deletes themselves were journaled
