"""The server-rendered chat pages (login, room list, create room, room) for web users."""
