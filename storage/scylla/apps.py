import warnings

from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from django.apps import AppConfig
from django.conf import settings


class ScyllaStorageConfig(AppConfig):
    """Makes `storage.scylla.models` an app models module, where `manage.py sync_cassandra`
    (django-cassandra-engine) finds the cqlengine tables. Installed only when CHAT_STORAGE=scylla."""

    name = "storage.scylla"
    label = "scylla_storage"
    verbose_name = "Chat storage on ScyllaDB / Cassandra"


def _use_asyncore_reactor() -> None:
    """The driver's default libev reactor holds every process for 5 s at exit (its event loop thread
    does not join, even after Cluster.shutdown()); the asyncore reactor is as fast and exits at once.
    Set here, at app loading, before django-cassandra-engine connects (when models are imported)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.11 deprecates asyncore
        # Local: imported inside the filter, which silences its import-time warning.
        from cassandra.io.asyncorereactor import AsyncoreConnection

    Cluster.connection_class = AsyncoreConnection


def _default_load_balancing() -> None:
    """Token-aware routing to the local data centre (the driver warns when none is given; the
    settings cannot name a driver class, only this package imports cassandra modules)."""
    database = settings.DATABASES.get("cassandra")
    if database is not None:
        options = database.setdefault("OPTIONS", {}).setdefault("connection", {})
        if "load_balancing_policy" not in options and "execution_profiles" not in options:
            policy = TokenAwarePolicy(DCAwareRoundRobinPolicy())
            options["execution_profiles"] = {EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=policy)}


_use_asyncore_reactor()
_default_load_balancing()
