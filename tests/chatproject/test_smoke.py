import pytest


@pytest.mark.django_db
def test_schema_is_served(api) -> None:
    response = api().get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi" in response.content


@pytest.mark.django_db
def test_anonymous_api_call_gets_401_with_code(api) -> None:
    response = api().get("/api/chat/v1/room/list")
    assert response.status_code in (401, 404)
