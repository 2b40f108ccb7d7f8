# Room, Participant and Profile moved to the storage app (label `chat`): state only.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("rooms", "0002_unaccent"),
        ("messaging", "0002_models_moved_to_storage"),
        ("chat", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='profile',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='room',
                    name='created_by',
                ),
                migrations.DeleteModel(
                    name='Participant',
                ),
                migrations.DeleteModel(
                    name='Profile',
                ),
                migrations.DeleteModel(
                    name='Room',
                ),
            ],
            # The tables stay as they are (db_table keeps their names).
            database_operations=[],
        ),
    ]
