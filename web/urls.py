"""Routes of the chat pages (mounted at the site root by chatproject/urls.py)."""

from django.urls import path

from web import views

app_name = "chat"

urlpatterns = [
    path("", views.room_list, name="rooms"),
    path("rooms/new/", views.room_create, name="room-create"),
    path("rooms/<uuid:room_id>/", views.room_detail, name="room"),
    path("web/users/", views.users_search, name="users"),
]
