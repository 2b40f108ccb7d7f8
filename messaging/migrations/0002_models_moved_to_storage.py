# Message, MessageMeta, Reaction and Mention moved to the storage app (label `chat`): state only.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0001_initial"),
        ("chat", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='message',
                    name='forwarded_from',
                ),
                migrations.RemoveField(
                    model_name='message',
                    name='reply_to',
                ),
                migrations.RemoveField(
                    model_name='message',
                    name='room',
                ),
                migrations.RemoveField(
                    model_name='message',
                    name='sender',
                ),
                migrations.RemoveField(
                    model_name='reaction',
                    name='message',
                ),
                migrations.RemoveField(
                    model_name='messagemeta',
                    name='message',
                ),
                migrations.RemoveField(
                    model_name='messagemeta',
                    name='room',
                ),
                migrations.RemoveField(
                    model_name='messagemeta',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='reaction',
                    name='user',
                ),
                migrations.DeleteModel(
                    name='Mention',
                ),
                migrations.DeleteModel(
                    name='Message',
                ),
                migrations.DeleteModel(
                    name='MessageMeta',
                ),
                migrations.DeleteModel(
                    name='Reaction',
                ),
            ],
            # The tables stay as they are (db_table keeps their names).
            database_operations=[],
        ),
    ]
