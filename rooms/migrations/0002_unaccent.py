# The `unaccent` extension for accent-insensitive room and participant search (GetRooms `search`).
# A no-op on databases other than PostgreSQL.

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0001_initial"),
    ]

    operations = [
        UnaccentExtension(),
    ]
