"""`manage.py chat_user NAME`: an ordinary chat user (not staff), with its chat profile.

Staff are made with `createsuperuser` or in the admin: a staff user reads every conversation there,
which a chat user must not.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from storage.models import Profile


class Command(BaseCommand):
    help = "Create an ordinary (non-staff) chat user with a profile; prints its id (and a token with --token)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="The name others see (default: the username).")
        parser.add_argument("--email", default="")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--password", help="The password (default: asked for; it shows in the process list).")
        secret.add_argument("--no-password", action="store_true", help="No password: API access by token only.")
        parser.add_argument("--token", action="store_true", help="Also create an API token and print it.")

    def handle(self, *args: Any, username: str, name: str, email: str, **options: Any) -> None:
        user_model = get_user_model()
        username = user_model.normalize_username(username.strip())
        if not username:
            raise CommandError("The username must not be empty.")
        if user_model.objects.filter(username=username).exists():
            raise CommandError(f"A user named {username!r} exists already.")
        password = None if options["no_password"] else options["password"]
        if password is None and not options["no_password"]:
            password = self._password_prompt()
        user = user_model(username=username, email=user_model.objects.normalize_email(email))
        if password is not None:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError("Password refused: " + " ".join(exc.messages)) from None
            user.set_password(password)
        else:
            user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
                Profile.objects.create(user=user, display_name=name.strip())
                token = Token.objects.create(user=user) if options["token"] else None
        except IntegrityError:  # made by someone else since the check above
            raise CommandError(f"A user named {username!r} exists already.") from None
        self.stdout.write(f"id: {user.pk}")
        if token is not None:
            self.stdout.write(f"token: {token.key}")

    def _password_prompt(self) -> str:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        if not password:
            raise CommandError("The password must not be empty (or pass --no-password).")
        return password
