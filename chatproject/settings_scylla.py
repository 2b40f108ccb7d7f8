"""Settings of the `scylla` storage back end, star-imported at the end of settings.py when
CHAT_STORAGE=scylla (and only then: django-cassandra-engine connects to every Cassandra database
listed in DATABASES when Django starts, so with this module every process needs Cassandra up).

- DATABASES["cassandra"]: ScyllaDB / Apache Cassandra through django-cassandra-engine; keyspace
  CASSANDRA_KEYSPACE, contact points CASSANDRA_HOSTS, SimpleStrategy with
  CASSANDRA_REPLICATION_FACTOR replicas (default 1).
- INSTALLED_APPS gains `django_cassandra_engine` (its `manage.py sync_cassandra` creates the
  keyspace and the tables) and `storage.scylla`, whose models module holds the cqlengine
  tables that sync_cassandra finds.

Users, sessions, tokens and push records stay in the Django database (DATABASE_URL).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from chatproject import settings as _settings  # the module star-importing this one; complete by now

_base: Any = _settings  # (a module in the middle of its import: no static types)

CASSANDRA_DB_ALIAS = "cassandra"


def cassandra_database(*, hosts: list[str], keyspace: str, replication_factor: int) -> dict[str, Any]:
    """The DATABASES entry of django-cassandra-engine; a bad value fails naming its variable."""
    hosts = [h.strip() for h in hosts if h.strip()]
    if not hosts:
        raise ImproperlyConfigured("CASSANDRA_HOSTS must list at least one host (comma-separated)")
    if not keyspace or not keyspace[0].isalpha() or not keyspace.replace("_", "").isalnum() or len(keyspace) > 48:
        raise ImproperlyConfigured(
            f"CASSANDRA_KEYSPACE must be a CQL name (a letter, then letters, digits or _), got {keyspace!r}"
        )
    if replication_factor < 1:
        raise ImproperlyConfigured(f"CASSANDRA_REPLICATION_FACTOR must be at least 1, got {replication_factor}")
    return {
        "ENGINE": "django_cassandra_engine",
        "NAME": keyspace,
        "HOST": ",".join(hosts),
        "OPTIONS": {
            "replication": {"strategy_class": "SimpleStrategy", "replication_factor": replication_factor},
            "connection": {"connect_timeout": 10},
        },
    }


DATABASES = {
    **_base.DATABASES,
    CASSANDRA_DB_ALIAS: cassandra_database(
        hosts=_base.CASSANDRA_HOSTS,
        keyspace=_base.CASSANDRA_KEYSPACE,
        replication_factor=_base.env.int("CASSANDRA_REPLICATION_FACTOR", default=1),
    ),
}
INSTALLED_APPS = [*_base.INSTALLED_APPS, "django_cassandra_engine", "storage.scylla"]
LOGGING = {**_base.LOGGING, "loggers": {**_base.LOGGING["loggers"], "cassandra": {"level": "WARNING"}}}

__all__ = ["CASSANDRA_DB_ALIAS", "DATABASES", "INSTALLED_APPS", "LOGGING"]
