"""Token authentication for the API in one plain statement.

DRF's TokenAuthentication looks a token up with `Token.objects.select_related("user").get(key=...)`;
compiling that query cost more CPU than the database spent answering it, on every request. Here the
statement is fixed and the user is built by `Manager.raw`; the answers are DRF's: the same user, the
same 401s for an unknown key or an inactive user. The stream's handshake looks tokens up the same way.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


@functools.cache
def _statement() -> str:
    user = get_user_model()
    return (
        f'SELECT u.* FROM "{user._meta.db_table}" u JOIN "{Token._meta.db_table}" t ON t.user_id = u.id'
        f" WHERE t.key = %s"
    )


def token_user(key: str) -> Any | None:
    """The user of an API token key (one plain statement), active or not; None for an unknown key."""
    found = list(get_user_model().objects.raw(_statement(), [key]))
    return found[0] if found else None


class TokenAuthentication(authentication.TokenAuthentication):
    """settings REST_FRAMEWORK DEFAULT_AUTHENTICATION_CLASSES: `Authorization: Token <key>`."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user = token_user(key)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, Token(key=key, user=user)
