# The chat's tables, first created by the rooms, messaging and streaming apps, belong to the storage
# layer from here on: only Django's state moves; the tables keep their names (db_table).

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("rooms", "0002_unaccent"),
        ("messaging", "0001_initial"),
        ("streaming", "0002_push_notification"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Message',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('sender_message_id', models.CharField(blank=True, default='', max_length=128)),
                        ('type', models.CharField(choices=[('user_message', 'User message'), ('system_message', 'System message'), ('contact', 'Contact')], default='user_message', max_length=16)),
                        ('event', models.CharField(blank=True, default='', max_length=32)),
                        ('content', models.TextField(blank=True, default='')),
                        ('text', models.TextField(blank=True, default='')),
                        ('status', models.CharField(choices=[('SENDING', 'Sending'), ('SENT', 'Sent'), ('DELIVERED', 'Delivered'), ('READ', 'Read'), ('ERROR', 'Error')], default='SENT', max_length=10)),
                        ('lifetime', models.IntegerField(default=0)),
                        ('origin', models.CharField(blank=True, default='', max_length=64)),
                        ('location_name', models.CharField(blank=True, default='', max_length=255)),
                        ('location_latitude', models.FloatField(blank=True, null=True)),
                        ('location_longitude', models.FloatField(blank=True, null=True)),
                        ('contact_id', models.CharField(blank=True, default='', max_length=64)),
                        ('contact_name', models.CharField(blank=True, default='', max_length=255)),
                        ('contact_phone', models.CharField(blank=True, default='', max_length=32)),
                        ('file', models.CharField(blank=True, default='', max_length=1000)),
                        ('audio_transcription', models.TextField(blank=True, default='')),
                        ('edited', models.BooleanField(default=False)),
                        ('is_deleted', models.BooleanField(default=False)),
                        ('deleted_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(db_index=True)),
                        ('updated_at', models.DateTimeField(db_index=True)),
                        ('forwarded_from', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='chat.message')),
                        ('reply_to', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='chat.message')),
                        ('sender', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='chat_messages', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'messaging_message',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='Mention',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('tag', models.CharField(max_length=150)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('message', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='mentions', to='chat.message')),
                    ],
                    options={
                        'db_table': 'messaging_mention',
                    },
                ),
                migrations.CreateModel(
                    name='OutboxEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('event_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ('subject', models.CharField(max_length=200)),
                        ('event_type', models.CharField(db_index=True, max_length=32)),
                        ('room_id', models.CharField(blank=True, db_index=True, default='', max_length=64)),
                        ('actor_user_id', models.CharField(blank=True, default='', max_length=64)),
                        ('data', models.JSONField()),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('published_at', models.DateTimeField(blank=True, db_index=True, null=True)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('last_error', models.TextField(blank=True, default='')),
                    ],
                    options={
                        'db_table': 'streaming_outboxevent',
                        'ordering': ['id'],
                        'indexes': [models.Index(fields=['published_at', 'id'], name='outbox_unpublished')],
                    },
                ),
                migrations.CreateModel(
                    name='Profile',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('display_name', models.CharField(blank=True, max_length=150)),
                        ('phone', models.CharField(blank=True, max_length=32)),
                        ('avatar_url', models.URLField(blank=True, max_length=500)),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='chat_profile', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'rooms_profile',
                    },
                ),
                migrations.CreateModel(
                    name='Room',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('type', models.CharField(choices=[('p2p', 'Person to person'), ('group', 'Group'), ('channel', 'Channel')], db_index=True, max_length=16)),
                        ('name', models.CharField(blank=True, max_length=255)),
                        ('description', models.TextField(blank=True)),
                        ('photo_url', models.URLField(blank=True, max_length=500)),
                        ('encryption_data', models.TextField(editable=False)),
                        ('join_all_user', models.BooleanField(default=False)),
                        ('send_message', models.BooleanField(default=True)),
                        ('add_member', models.BooleanField(default=False)),
                        ('edit_group', models.BooleanField(default=False)),
                        ('p2p_key', models.CharField(blank=True, editable=False, max_length=64, null=True, unique=True)),
                        ('last_message_id', models.UUIDField(blank=True, null=True)),
                        ('last_message_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True, db_index=True)),
                        ('deleted_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'rooms_room',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.AddField(
                    model_name='message',
                    name='room',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='chat.room'),
                ),
                migrations.CreateModel(
                    name='Reaction',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('reaction', models.CharField(max_length=64)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('message', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reactions', to='chat.message')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'messaging_reaction',
                        'constraints': [models.UniqueConstraint(fields=('message', 'user'), name='reaction_unique_message_user')],
                    },
                ),
                migrations.CreateModel(
                    name='Participant',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('role', models.CharField(choices=[('OWNER', 'Owner'), ('ADMIN', 'Admin'), ('MEMBER', 'Member')], default='MEMBER', max_length=8)),
                        ('is_muted', models.BooleanField(default=False)),
                        ('is_pinned', models.BooleanField(default=False)),
                        ('is_partner_blocked', models.BooleanField(default=False)),
                        ('joined_at', models.DateTimeField()),
                        ('removed_at', models.DateTimeField(blank=True, null=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='chat_participations', to=settings.AUTH_USER_MODEL)),
                        ('room', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='participants', to='chat.room')),
                    ],
                    options={
                        'db_table': 'rooms_participant',
                        'indexes': [models.Index(fields=['user', 'removed_at'], name='participant_user_active')],
                        'constraints': [models.UniqueConstraint(fields=('room', 'user'), name='participant_unique_room_user')],
                    },
                ),
                migrations.CreateModel(
                    name='MessageMeta',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('read_at', models.DateTimeField(blank=True, null=True)),
                        ('is_deleted', models.BooleanField(default=False)),
                        ('is_sender_blocked', models.BooleanField(default=False)),
                        ('message', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='meta', to='chat.message')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('room', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='chat.room')),
                    ],
                    options={
                        'db_table': 'messaging_messagemeta',
                        'indexes': [models.Index(fields=['user', 'room', 'read_at'], name='meta_user_room_read')],
                        'constraints': [models.UniqueConstraint(fields=('message', 'user'), name='meta_unique_message_user')],
                    },
                ),
                migrations.AddIndex(
                    model_name='message',
                    index=models.Index(fields=['room', '-created_at'], name='message_room_created'),
                ),
                migrations.AddConstraint(
                    model_name='message',
                    constraint=models.UniqueConstraint(condition=models.Q(('sender_message_id', ''), _negated=True), fields=('sender', 'sender_message_id'), name='message_unique_sender_message_id'),
                ),
            ],
            # The tables stay as they are (db_table keeps their names).
            database_operations=[],
        ),
    ]
