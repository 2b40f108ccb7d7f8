from django.apps import AppConfig


class ScyllaStorageConfig(AppConfig):
    """Makes `rooms.storage.scylla.models` an app models module, where `manage.py sync_cassandra`
    (django-cassandra-engine) finds the cqlengine tables. Installed only when CHAT_STORAGE=scylla."""

    name = "rooms.storage.scylla"
    label = "scylla_storage"
    verbose_name = "Chat storage on ScyllaDB / Cassandra"
