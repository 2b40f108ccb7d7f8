# OutboxEvent moved to the storage app (label `chat`): state only.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("streaming", "0002_push_notification"),
        ("chat", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name='OutboxEvent',
                ),
            ],
            # The tables stay as they are (db_table keeps their names).
            database_operations=[],
        ),
    ]
