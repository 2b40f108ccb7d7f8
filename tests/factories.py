"""factory-boy factories for the test data."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from rooms.models import Profile


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-1234")

    @factory.post_generation
    def profile(self, create: bool, extracted: dict | None, **kwargs: object) -> None:
        if not create:
            return
        values = {"display_name": f"Name {self.username}", "phone": "+100000", "avatar_url": ""}
        values.update(extracted or {})
        Profile.objects.create(user=self, **values)
        self.save()


def token_for(user: object) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
