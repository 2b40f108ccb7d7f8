# The moved models keep their content types (and so the admin permissions and log entries that point at
# them): on a database migrated before the move, their rows are relabelled from the old apps to `chat`.
# On a new database there is nothing to relabel (content types are made after migrating).

from django.db import migrations

MOVED = {
    "rooms": ["profile", "room", "participant"],
    "messaging": ["message", "messagemeta", "reaction", "mention"],
    "streaming": ["outboxevent"],
}


def relabel(apps, schema_editor, *, forward=True):  # type: ignore[no-untyped-def]
    content_type = apps.get_model("contenttypes", "ContentType")
    for old_label, models in MOVED.items():
        source, target = (old_label, "chat") if forward else ("chat", old_label)
        for model in models:
            if not content_type.objects.filter(app_label=target, model=model).exists():
                content_type.objects.filter(app_label=source, model=model).update(app_label=target)


def unrelabel(apps, schema_editor):  # type: ignore[no-untyped-def]
    relabel(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(relabel, unrelabel)]
