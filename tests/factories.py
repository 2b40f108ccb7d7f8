"""factory-boy factories for the test data."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from storage.models import Profile


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-1234")

    @factory.post_generation
    def profile(obj: Any, create: bool, extracted: dict[str, Any] | None, **kwargs: object) -> None:  # noqa: N805
        """Gives the user a chat profile, and saves the password set above."""
        if not create:
            return
        values = {"display_name": f"Name {obj.username}", "phone": "+100000", "avatar_url": ""}
        values.update(extracted or {})
        # update_or_create: outside a transaction the user's empty profile is made as it is saved (storage.models).
        Profile.objects.update_or_create(user=obj, defaults=values)
        obj.save()


def token_for(user: object) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
