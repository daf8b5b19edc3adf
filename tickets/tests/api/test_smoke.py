"""The main path through the API, end to end, as an integrator would drive it."""

from io import BytesIO

import pytest
from PIL import Image

pytestmark = pytest.mark.django_db


def _png() -> BytesIO:
    buffer = BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "фото поломки.png"
    return buffer


def test_full_workflow_through_the_api(api_client, requester, technician, manager):
    me = api_client(requester)
    created = me.post(
        "/api/v1/tickets/",
        {"title": "Не печатает принтер", "description": "Зажёвывает бумагу", "priority": "high"},
    )
    assert created.status_code == 201, created.json()
    ticket = created.json()
    assert created["ETag"] == '"1"'
    assert (ticket["status"], ticket["allowed_actions"]) == ("new", ["cancel"])
    url = f"/api/v1/tickets/{ticket['id']}/"

    boss = api_client(manager)
    technicians = boss.get("/api/v1/users/").json()["results"]
    assert [t["username"] for t in technicians] == ["technician"]
    assigned = boss.post(url + "assign/", {"assignee": technician.pk}, headers={"If-Match": '"1"'})
    assert assigned.status_code == 200, assigned.json()
    assert assigned.json()["assignee"]["username"] == "technician"

    tech = api_client(technician)
    assert tech.post(url + "accept/").json()["status"] == "in_progress"
    comment = tech.post(url + "comments/", {"text": "Нужен ролик", "internal": True})
    assert comment.status_code == 201
    upload = tech.post(url + "attachments/", {"file": [_png()]}, format="multipart")
    assert upload.status_code == 201, upload.json()
    download = tech.get(upload.json()[0]["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert "filename*=utf-8''" in download["Content-Disposition"]
    assert "sandbox" in download["Content-Security-Policy"]
    done = tech.post(url + "complete/", {"resolution": "Заменил ролик"})
    assert done.json()["status"] == "resolved"
    closed = boss.post(url + "close/")
    assert closed.json()["status"] == "closed"

    history = me.get(url + "history/").json()
    events = [entry["event"] for entry in history]
    assert events == [
        "created",
        "assigned",
        "accepted",
        "attachment_added",
        "completed",
        "closed",
    ], "the requester does not see the internal note"
    assert me.get(url + "comments/").json() == []
    assert me.get(url).json()["comments_count"] == 0


def test_errors_have_one_shape(api_client, requester, other_requester):
    me = api_client(requester)
    ticket = me.post("/api/v1/tickets/", {"title": "A", "description": "B"}).json()
    url = f"/api/v1/tickets/{ticket['id']}/"
    cases = [
        (api_client().get("/api/v1/tickets/"), 401),
        (api_client(other_requester).get(url), 404),
        (me.post(url + "close/"), 403),
        (me.patch(url, {"status": "closed"}), 400),
        (me.patch(url, {"title": "C"}, headers={"If-Match": '"7"'}), 412),
        (me.get("/api/v1/nowhere/"), 404),
        (me.put(url, {"title": "C"}), 405),
        (me.post("/api/v1/tickets/", "{bad json", content_type="application/json"), 400),
        (me.post("/api/v1/tickets/", "x", content_type="text/plain"), 415),
    ]
    for response, expected in cases:
        assert response.status_code == expected, (expected, response.content)
        body = response.json()
        assert set(body) == {"type", "errors"}
        assert body["errors"][0].keys() == {"code", "detail", "attr"}
        assert "X-Request-ID" in response


def test_invalid_transition_is_409(api_client, requester, manager):
    ticket = (
        api_client(requester).post("/api/v1/tickets/", {"title": "A", "description": "B"}).json()
    )
    response = api_client(manager).post(f"/api/v1/tickets/{ticket['id']}/close/")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "invalid_transition"
