from django.apps import AppConfig

# psycopg_pool retries a failed connect after 1, 2, 4, 8 ... s. After a short database outage the
# pool could wait seconds more before trying again, and every request and stream handshake meanwhile
# failed (503, close 4013): one second apart instead, one connect attempt a second per process.
RECONNECT_BACKOFF = 1.0


def retry_connects_every_second() -> None:
    try:
        from psycopg_pool.base import AttemptWithBackoff
    except ImportError:  # psycopg's pool not installed: SQLite, or the pool turned off
        return
    AttemptWithBackoff.DELAY_BACKOFF = RECONNECT_BACKOFF


class StorageConfig(AppConfig):
    """The chat's tables in the Django database (storage.models); label `chat` in the admin and migrations."""

    name = "storage"
    label = "chat"
    verbose_name = "Chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        retry_connects_every_second()
