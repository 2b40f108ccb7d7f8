"""Settings of the baseline chat: Channels on the same Redis pubsub layer as the project, no database."""

from __future__ import annotations

import os

SECRET_KEY = "baseline-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
ASGI_APPLICATION = "bench.baseline.asgi.application"
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")],
            "prefix": os.environ.get("CHAT_CHANNEL_LAYER_PREFIX", "baseline"),
        },
    }
}
