from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from chatproject.health import healthz, readyz
from chatproject.metrics import metrics
from chatproject.stream_docs import stream_docs
from kernel.exceptions import api_not_found

handler500 = "kernel.exceptions.server_error"

# Swagger UI: its bundle from the app's static files (drf-spectacular-sidecar: offline, no CDN), its
# script in a file of its own (no inline script); its page keeps one inline <style>.
api_docs = csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="schema"))

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/docs/stream/", stream_docs, name="api-docs-stream"),
    path("api/chat/v1/", include("rooms.urls")),
    path("api/chat/v1/", include("messaging.urls")),
    re_path(r"^api/", api_not_found),  # no operation there: a JSON 404, never a page
    # Web pages: login and logout (django.contrib.auth views; no password reset: it needs mail, which
    # this project does not set up) and the chat pages.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("web.urls")),
]

# Static files (static/chat/*) through Django when DEBUG is on (`make run`, the browser tests); with
# DEBUG off WhiteNoise serves STATIC_ROOT (collectstatic) from each web process (settings.py).
urlpatterns += staticfiles_urlpatterns()
