from django.apps import AppConfig


class StorageConfig(AppConfig):
    """The chat's tables in the Django database (storage.models); label `chat` in the admin and migrations."""

    name = "storage"
    label = "chat"
    verbose_name = "Chat"
    default_auto_field = "django.db.models.BigAutoField"
