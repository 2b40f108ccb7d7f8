"""Read state as watermarks: membership periods and read marks replace one meta row per member and
message; meta rows stay only for messages hidden from one member (sender-blocked).

Forwards, from the meta rows: each participant's current period (joined_at .. removed_at), and the
earlier periods of members who rejoined (the runs of their meta rows before the current join); one
read mark per (member, room, read time) that moved the member's watermark forward (the newest message
read then); then the meta rows that are not sender-blocked are deleted. Backwards rebuilds the meta
rows from the periods and marks.
"""

from collections import defaultdict

import django.db.models.deletion
from django.db.models import F, Max, Min
from django.conf import settings
from django.db import migrations, models


SYSTEM = "system_message"


def _earlier_periods(messages, meta_ids, room_id, before):
    """Runs of the room's non-system messages before `before` that have a meta row of the user
    (`meta_ids`): (joined_at, left_at) of each, left_at the first message after the run without one."""
    periods, start = [], None
    rows = (
        messages.filter(room_id=room_id, created_at__lt=before)
        .exclude(type=SYSTEM)
        .order_by("created_at", "id")
        .values_list("id", "created_at")
    )
    for message_id, created_at in rows.iterator():
        if message_id in meta_ids and start is None:
            start = created_at
        elif message_id not in meta_ids and start is not None:
            periods.append((start, created_at))
            start = None
    if start is not None:
        periods.append((start, before))
    return periods


def forwards(apps, schema_editor):
    db = schema_editor.connection.alias
    Participant = apps.get_model("chat", "Participant")
    Message = apps.get_model("chat", "Message")
    MessageMeta = apps.get_model("chat", "MessageMeta")
    Membership = apps.get_model("chat", "Membership")
    ReadMark = apps.get_model("chat", "ReadMark")
    joined = {}
    periods = []
    for p in Participant.objects.using(db).iterator():
        joined[(p.room_id, p.user_id)] = p.joined_at
        periods.append(Membership(room_id=p.room_id, user_id=p.user_id, joined_at=p.joined_at, left_at=p.removed_at))
    firsts = MessageMeta.objects.using(db).values("room_id", "user_id").annotate(first=Min("message__created_at"))
    for row in firsts.iterator():
        key = (row["room_id"], row["user_id"])
        if key in joined and row["first"] < joined[key]:
            meta_ids = set(
                MessageMeta.objects.using(db).filter(room_id=key[0], user_id=key[1]).values_list("message_id", flat=True)
            )
            for start, end in _earlier_periods(Message.objects.using(db), meta_ids, key[0], joined[key]):
                periods.append(Membership(room_id=key[0], user_id=key[1], joined_at=start, left_at=end))
    Membership.objects.using(db).bulk_create(periods, batch_size=1000)

    reads = (
        MessageMeta.objects.using(db)
        .filter(read_at__isnull=False, is_sender_blocked=False)
        .exclude(message__sender_id=F("user_id"))
        .values("room_id", "user_id", "read_at")
        .annotate(up_to=Max("message__created_at"))
        .order_by("room_id", "user_id", "read_at")
    )
    marks, watermark = [], {}
    for row in reads.iterator():
        key = (row["room_id"], row["user_id"])
        if key not in watermark or row["up_to"] > watermark[key]:
            watermark[key] = row["up_to"]
            marks.append(ReadMark(room_id=key[0], user_id=key[1], up_to=row["up_to"], read_at=row["read_at"]))
    ReadMark.objects.using(db).bulk_create(marks, batch_size=1000)
    MessageMeta.objects.using(db).filter(is_sender_blocked=False).delete()


def backwards(apps, schema_editor):
    db = schema_editor.connection.alias
    Message = apps.get_model("chat", "Message")
    MessageMeta = apps.get_model("chat", "MessageMeta")
    Membership = apps.get_model("chat", "Membership")
    ReadMark = apps.get_model("chat", "ReadMark")
    marks = defaultdict(list)
    for mark in ReadMark.objects.using(db).order_by("up_to", "read_at").iterator():
        marks[(mark.room_id, mark.user_id)].append((mark.up_to, mark.read_at))
    hidden = set(MessageMeta.objects.using(db).values_list("message_id", "user_id"))
    rows = []
    for period in Membership.objects.using(db).iterator():
        messages = Message.objects.using(db).filter(room_id=period.room_id, created_at__gte=period.joined_at)
        if period.left_at is not None:
            messages = messages.filter(created_at__lt=period.left_at)
        for m in messages.exclude(type=SYSTEM).values("id", "sender_id", "created_at", "is_deleted").iterator():
            if (m["id"], period.user_id) in hidden:
                continue
            if m["sender_id"] == period.user_id:
                read_at = m["created_at"]
            else:
                covering = [at for up_to, at in marks[(period.room_id, period.user_id)] if up_to >= m["created_at"]]
                read_at = covering[0] if covering else None
            rows.append(
                MessageMeta(
                    message_id=m["id"],
                    room_id=period.room_id,
                    user_id=period.user_id,
                    read_at=read_at,
                    is_deleted=m["is_deleted"],
                )
            )
    MessageMeta.objects.using(db).bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0002_content_types'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Membership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('joined_at', models.DateTimeField()),
                ('left_at', models.DateTimeField(blank=True, null=True)),
                ('room', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='chat.room')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'chat_membership',
                'indexes': [models.Index(fields=['room', 'user', 'joined_at'], name='membership_room_user')],
            },
        ),
        migrations.CreateModel(
            name='ReadMark',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('up_to', models.DateTimeField()),
                ('read_at', models.DateTimeField()),
                ('room', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='chat.room')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'chat_readmark',
                'indexes': [models.Index(fields=['room', 'user', 'up_to'], name='readmark_room_user_up_to')],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
