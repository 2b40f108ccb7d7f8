from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/chat/v1/", include("rooms.urls")),
    path("api/chat/v1/", include("messaging.urls")),
    # Web pages: login/logout (django.contrib.auth views) and the chat pages.
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("web.urls")),
]

# Static files (static/chat/*) through Django when DEBUG is on (`make run`, the browser tests);
# production serves STATIC_ROOT (collectstatic) from the web server or CDN.
urlpatterns += staticfiles_urlpatterns()
