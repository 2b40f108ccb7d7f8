from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Local: these modules import models, which are ready only now.
        from events.emit import add_after_commit_record_listener
        from streaming.publisher import publish_on_commit
        from streaming.revocation import connect_signals

        # Publishes every unit of work's events after commit, in the background (never blocks it).
        add_after_commit_record_listener(publish_on_commit)
        # Open sockets re-check their token or session when it may have been revoked.
        connect_signals()
