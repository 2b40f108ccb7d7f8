"""Test keyspace management on Cassandra (only imported when CHAT_STORAGE=scylla)."""

from __future__ import annotations

from cassandra.cqlengine import management

from rooms.storage.scylla import cql as c
from rooms.storage.scylla.models import ALL_TABLES


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
    deletes = []
    for table, key in written:
        where = " AND ".join(f"{k} = ?" for k in c.PARTITION_KEYS[table])
        deletes.append(c.Write(table, f"DELETE FROM {{{table}}} WHERE {where}", key, key))
    c.cql.execute_each(deletes)
    c.journal_take()  # the deletes themselves were journaled
