import pytest
from playwright.sync_api import expect

from accounts.models import Role
from accounts.tests.factories import TEST_PASSWORD, AdminFactory, ManagerFactory, UserFactory
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_logs_in_and_deactivates_a_user_in_the_panel(page):
    AdminFactory(username="chief")
    UserFactory(username="leaver", first_name="Уходящий", last_name="Сотрудник")
    page.goto("/admin/")
    assert "Tech_ticket" in page.title()
    page.fill("#id_username", "chief")
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    screenshot(page, "admin-index")

    page.goto("/admin/accounts/user/?role__exact=user")
    row = page.locator("tr", has_text="leaver")
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "deactivate_users")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("деактивирован")
    screenshot(page, "admin-users-deactivated")
    from accounts.models import User

    assert User.objects.get(username="leaver").is_active is False
    assert page.console_errors == []


def test_a_manager_cannot_enter_the_panel(page):
    ManagerFactory(username="boss", role=Role.MANAGER)
    page.goto("/admin/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_be_visible()
    assert "/admin/login/" in page.url


def test_start_page_on_a_phone_has_no_horizontal_scroll(phone_page):
    phone_page.goto("/")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    assert phone_page.locator(".navbar-toggler").is_visible()
    screenshot(phone_page, "home-phone")
