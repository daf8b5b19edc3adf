import pytest
from django.urls import reverse

from accounts.models import Role, User
from accounts.tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_admin_panel_is_branded_and_reachable_by_an_admin(admin_client_):
    response = admin_client_.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "Tech_ticket" in response.content.decode()


@pytest.mark.parametrize("persona", ["manager_client", "technician_client", "requester_client"])
def test_non_admins_are_sent_to_the_login_page(request, persona):
    client = request.getfixturevalue(persona)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_admin_logs_in_through_the_login_form(client, admin_user):
    response = client.post(
        reverse("admin:login"),
        {"username": "admin", "password": TEST_PASSWORD, "next": reverse("admin:index")},
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_user_list_shows_role_department_and_filters(admin_client_, technician):
    url = reverse("admin:accounts_user_changelist")
    response = admin_client_.get(url, {"role__exact": "technician", "q": "technician"})
    body = response.content.decode()
    assert response.status_code == 200
    assert technician.username in body
    assert "Служба эксплуатации" in body
    assert "manager" not in response.context["cl"].queryset.values_list("username", flat=True)


def test_bulk_deactivate_action(admin_client_, admin_user):
    users = UserFactory.create_batch(3)
    response = admin_client_.post(
        reverse("admin:accounts_user_changelist"),
        {
            "action": "deactivate_users",
            "_selected_action": [u.pk for u in users] + [admin_user.pk],
        },
        follow=True,
    )
    assert response.status_code == 200
    assert User.objects.filter(pk__in=[u.pk for u in users], is_active=False).count() == 3
    admin_user.refresh_from_db()
    assert admin_user.is_active, "an admin never deactivates their own account"


def test_admin_changes_a_role_through_the_change_form(admin_client_, requester):
    url = reverse("admin:accounts_user_change", args=[requester.pk])
    form = admin_client_.get(url).context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields if name != "password"}
    data.update(role=Role.MANAGER, is_active="on", email=requester.email)
    response = admin_client_.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    requester.refresh_from_db()
    assert requester.role == Role.MANAGER
    assert requester.is_dispatcher


def test_admin_creates_a_user_with_a_role(admin_client_):
    response = admin_client_.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "fresh_tech",
            "email": "fresh@example.com",
            "role": Role.TECHNICIAN,
            "department": "Связь",
            "usable_password": "true",
            "password1": "Fresh-Tech-Pass-9",
            "password2": "Fresh-Tech-Pass-9",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="fresh_tech")
    assert user.role == Role.TECHNICIAN
    assert user.check_password("Fresh-Tech-Pass-9")


def test_admin_resets_a_password(admin_client_, requester):
    url = reverse("admin:auth_user_password_change", args=[requester.pk])
    response = admin_client_.post(
        url,
        {
            "password1": "Reset-By-Admin-88",
            "password2": "Reset-By-Admin-88",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    requester.refresh_from_db()
    assert requester.check_password("Reset-By-Admin-88")


def test_users_cannot_be_deleted_in_the_admin(admin_client_, requester):
    response = admin_client_.post(
        reverse("admin:accounts_user_delete", args=[requester.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert User.objects.filter(pk=requester.pk).exists()
