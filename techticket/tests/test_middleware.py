import re

import pytest

pytestmark = pytest.mark.django_db


def test_request_id_is_generated_when_absent(client):
    response = client.get("/")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_request_id_sent_by_the_client_is_echoed(client):
    response = client.get("/", headers={"X-Request-ID": "abc-123.req"})
    assert response["X-Request-ID"] == "abc-123.req"


@pytest.mark.parametrize("bad", ["evil\nline", "<script>", "x" * 500, "a b"])
def test_unsafe_request_id_is_replaced(client, bad):
    response = client.get("/", headers={"X-Request-ID": bad})
    assert response["X-Request-ID"] != bad
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_request_id_on_404_pages(client):
    response = client.get("/no-such-page/", headers={"X-Request-ID": "req-404"})
    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-404"


def test_log_lines_carry_the_request_id_and_cannot_be_forged(client, settings, app_log):
    settings.ROOT_URLCONF = "techticket.tests.urls_for_tests"
    client.get("/log-warning/", headers={"X-Request-ID": "trace-me-42"})
    (line,) = [line for line in app_log().splitlines() if "user input" in line]
    assert "[trace-me-42]" in line
    assert "user input: forged\\nline" in line
