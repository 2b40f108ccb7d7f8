"""The domain rules shared by the apps: room permissions, access checks, the room cache."""
