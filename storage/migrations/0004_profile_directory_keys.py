"""The user directory's keys on the chat profile (Profile.sort_name, Profile.search_text).

Forwards: every user without a profile gets one (the directory lists users through their profile),
and every profile's keys are computed as Profile.refresh_keys does (copied here: a migration must not
change when the model does). On PostgreSQL, `search_text` also gets a trigram index (extension
pg_trgm), which serves the directory's `LIKE '%term%'`; other databases read the column without it.
"""

import unicodedata

from django.conf import settings
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

BATCH = 1000
TRIGRAM_INDEX = "profile_search_trgm"


def _fold(text):
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def fill_keys(apps, schema_editor):
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    profile_model = apps.get_model("chat", "Profile")
    missing = user_model.objects.filter(chat_profile__isnull=True).values_list("id", flat=True)
    profile_model.objects.bulk_create([profile_model(user_id=user_id) for user_id in missing], batch_size=BATCH)
    batch = []
    for profile in profile_model.objects.select_related("user").iterator(chunk_size=BATCH):
        user = profile.user
        full_name = f"{user.first_name} {user.last_name}".strip()
        name = profile.display_name or full_name or user.username
        profile.sort_name = _fold(name)[:150]
        profile.search_text = "\n".join(dict.fromkeys(_fold(t) for t in (name, user.username, full_name) if t))
        batch.append(profile)
        if len(batch) >= BATCH:
            profile_model.objects.bulk_update(batch, ["sort_name", "search_text"])
            batch = []
    profile_model.objects.bulk_update(batch, ["sort_name", "search_text"])


def trigram_index_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{TRIGRAM_INDEX}" ON "rooms_profile" USING gin ("search_text" gin_trgm_ops)'
        )


def trigram_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{TRIGRAM_INDEX}"')


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0003_read_watermarks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="sort_name",
            field=models.CharField(blank=True, default="", editable=False, max_length=150),
        ),
        migrations.AddField(
            model_name="profile",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="profile",
            index=models.Index(fields=["sort_name", "user"], name="profile_sort_name"),
        ),
        TrigramExtension(),
        migrations.RunPython(trigram_index_create, trigram_index_drop),
    ]
