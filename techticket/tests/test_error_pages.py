import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_404_page_is_friendly_and_in_the_site_layout(client):
    response = client.get("/nowhere/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Tech_ticket" in body
    assert "Страница не найдена" in body


def test_500_page_shows_the_request_id_and_no_traceback(settings, app_log):
    settings.ROOT_URLCONF = "techticket.tests.urls_for_tests"
    client = Client(raise_request_exception=False)
    response = client.get("/explode/", headers={"X-Request-ID": "req-500-abc"})
    assert response.status_code == 500
    body = response.content.decode()
    assert "req-500-abc" in body
    assert "secret internals" not in body
    assert "Traceback" not in body
    logged = app_log()
    assert "[req-500-abc]" in logged
    assert "RuntimeError: boom: secret internals" in logged


def test_security_headers_on_pages(client):
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
