"""The main flows of SPEC §6 clicked through in a real Chromium: registration, a ticket's whole
life from the requester's photo to the manager's closing, a stale edit, the phone layout and the
English switch. Each user works in a browser context of their own, as on separate computers."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD
from tests.browser.conftest import login, screenshot
from tickets import services
from tickets.models import Priority, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "Сломался принтер в бухгалтерии"
DESCRIPTION = "Принтер HP у окна не печатает, на экране «замятие бумаги»."
INTERNAL_NOTE = "Картридж списан в прошлом месяце, заказать новый у поставщика"
REQUIRED = "Обязательное поле."


@pytest.fixture
def photo(tmp_path):
    """A real PNG, as a phone camera would hand it over (only smaller)."""
    path = tmp_path / "фото-принтера.png"
    Image.new("RGB", (320, 240), (200, 60, 40)).save(path, format="PNG")
    return path


@pytest.fixture
def report(tmp_path):
    path = tmp_path / "акт-осмотра.txt"
    path.write_text("Осмотр: ролик подачи бумаги изношен.\n", encoding="utf-8")
    return path


def open_ticket_page(page, ticket_id: int):
    page.goto(f"/tickets/{ticket_id}/")
    expect(page.locator("#ticket-title")).to_contain_text(f"#{ticket_id}")


def run_action(page, action: str, **fields: str) -> None:
    """Open an action's panel (or press its plain button), fill its fields and submit."""
    control = page.locator(f"[data-action={action}]")
    expect(control).to_be_visible()
    is_plain_button = control.evaluate("element => element.tagName") == "BUTTON"
    control.click()
    if is_plain_button:
        return
    form = page.locator(f"form[action$='/{action}/']")
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if name == "assignee":
            field.select_option(label=value)
        else:
            field.fill(value)
    form.locator("[type=submit]").click()


def expect_status(page, label: str) -> None:
    expect(page.locator("#ticket-status")).to_have_text(label)


def expect_success(page, text: str) -> None:
    expect(page.locator(".messages .alert-success").last).to_contain_text(text)


def test_visitor_registers_logs_out_and_logs_in_again(page):
    page.goto("/accounts/register/")
    page.fill("#id_username", "newcomer")
    page.fill("#id_email", "newcomer@example.com")
    page.fill("#id_first_name", "Ольга")
    page.fill("#id_last_name", "Новикова")
    page.fill("#id_department", "Склад")
    page.fill("#id_password", TEST_PASSWORD)
    page.fill("#id_password_confirm", TEST_PASSWORD)
    page.locator("main form [type=submit]").click()

    page.wait_for_url("**/tickets/?view=mine")
    expect(page.locator(".messages")).to_contain_text("Учётная запись создана")
    expect(page.locator("h1")).to_have_text("Заявки")
    expect(page.locator("nav")).to_contain_text("Ольга Новикова")

    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/accounts/login/")
    expect(page.locator("#main-nav").get_by_role("link", name="Войти")).to_be_visible()
    page.goto("/tickets/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))

    login(page, "newcomer")
    expect(page.locator("h1")).to_have_text("Заявки")
    expect(page.locator("nav")).to_contain_text("Ольга Новикова")
    assert page.console_errors == []


def test_ticket_goes_from_a_photo_to_closed_and_the_requester_sees_its_history(
    new_page, requester, technician, manager, photo, report
):
    asker, boss, tech = new_page(), new_page(), new_page()

    # The requester reports the broken printer with a photo and lands on the card.
    login(asker, "requester")
    asker.get_by_role("link", name="Новая заявка").first.click()
    asker.fill("#id_title", TITLE)
    asker.fill("#id_description", DESCRIPTION)
    asker.select_option("#id_priority", "high")
    asker.set_input_files("input[name=file]", photo)
    expect(asker.locator(".file-count")).to_have_text(photo.name)
    screenshot(asker, "ticket-create-form")
    asker.get_by_role("button", name="Создать заявку").click()
    asker.wait_for_url(re.compile(r"/tickets/\d+/$"))
    ticket_id = int(asker.url.rstrip("/").rsplit("/", 1)[1])
    expect(asker.locator("#ticket-title")).to_have_text(f"#{ticket_id} {TITLE}")
    thumb = asker.locator("img.attachment-thumb")
    expect(thumb).to_have_attribute("alt", photo.name)
    thumb.scroll_into_view_if_needed()
    # The thumbnail really loads from the permission-checked download view.
    expect(thumb).to_have_js_property("naturalWidth", 320)

    # The manager finds it by another form of a word, with the match highlighted.
    login(boss, "manager")
    boss.fill("#id_search", "принтеры")
    boss.get_by_role("button", name="Найти").click()
    boss.wait_for_url(re.compile(r"search="))
    row_link = boss.locator(".ticket-table tbody a", has_text=TITLE)
    expect(row_link.locator("mark")).to_have_text("принтер")
    screenshot(boss, "ticket-list-search")
    row_link.click()
    expect(boss.locator("#ticket-title")).to_contain_text(TITLE)
    run_action(boss, "assign", assignee="Пётр Мастеров")
    expect_status(boss, "Назначена")
    expect(boss.locator("#ticket-assignee")).to_have_text("Пётр Мастеров")

    # The technician accepts, comments, notes internally, attaches a report and completes.
    login(tech, "technician")
    expect(tech.locator(".ticket-table")).to_contain_text(TITLE)
    open_ticket_page(tech, ticket_id)
    run_action(tech, "accept")
    expect_status(tech, "В работе")
    comment_form = tech.locator("form.comment-form")
    comment_form.locator("[name=text]").fill("Посмотрю сегодня после обеда.")
    comment_form.get_by_role("button", name="Добавить комментарий").click()
    expect_success(tech, "Комментарий добавлен")
    comment_form.locator("[name=text]").fill(INTERNAL_NOTE)
    comment_form.locator("[name=internal]").check()
    comment_form.get_by_role("button", name="Добавить комментарий").click()
    expect(tech.locator("article.internal-note")).to_contain_text(INTERNAL_NOTE)
    upload_form = tech.locator("form.upload-form")
    upload_form.locator("input[name=file]").set_input_files(report)
    upload_form.get_by_role("button", name="Загрузить").click()
    expect(tech.locator(".attachment-list")).to_contain_text(report.name)
    run_action(tech, "complete", resolution="Заменил ролик подачи бумаги.")
    expect_status(tech, "Выполнена")

    # The manager returns it: first without the required reason, then with one.
    open_ticket_page(boss, ticket_id)
    run_action(boss, "reopen")
    expect(boss.locator(".messages .alert-danger")).to_contain_text(REQUIRED)
    expect_status(boss, "Выполнена")
    run_action(boss, "reopen", reason="Принтер снова зажёвывает бумагу.")
    expect_status(boss, "В работе")

    open_ticket_page(tech, ticket_id)
    run_action(tech, "complete", resolution="Почистил тракт, заменил лоток.")
    expect_status(tech, "Выполнена")

    open_ticket_page(boss, ticket_id)
    run_action(boss, "close")
    expect_status(boss, "Закрыта")

    # The requester sees the whole story in order, and nothing of the internal note.
    open_ticket_page(asker, ticket_id)
    expect_status(asker, "Закрыта")
    sentences = [
        "Ирина Заявкина создала заявку",
        "Михаил Диспетчеров назначил исполнителя Пётр Мастеров",
        "Пётр Мастеров принял заявку в работу",
        "Пётр Мастеров выполнил работу",
        "Михаил Диспетчеров вернул заявку в работу",
        "Пётр Мастеров выполнил работу",
        "Михаил Диспетчеров проверил и закрыл заявку",
    ]
    entries = asker.locator(".timeline-entry")
    expect(entries.last).to_contain_text(sentences[-1])
    texts = entries.all_inner_texts()
    positions = []
    for sentence in sentences:
        start = positions[-1] + 1 if positions else 0
        found = next((i for i in range(start, len(texts)) if sentence in texts[i]), None)
        assert found is not None, f"{sentence!r} missing (in order) from {texts}"
        positions.append(found)
    expect(asker.locator("#comments")).to_contain_text("Посмотрю сегодня после обеда.")
    assert INTERNAL_NOTE not in asker.content()
    assert "служебн" not in asker.locator("main").inner_text().lower()
    screenshot(asker, "ticket-card-timeline")

    for someone in (asker, boss, tech):
        assert someone.console_errors == []


def test_stale_edit_is_refused_and_keeps_the_requesters_text(new_page, requester, manager):
    ticket = services.ticket_create(actor=requester, title=TITLE, description=DESCRIPTION)
    asker, boss = new_page(), new_page()

    login(asker, "requester")
    asker.goto(f"/tickets/{ticket.pk}/edit/")
    asker.fill("#id_title", "Сломался принтер и сканер в бухгалтерии")
    asker.fill("#id_description", "Теперь и сканер не видит компьютер.")

    login(boss, "manager")
    boss.goto(f"/tickets/{ticket.pk}/edit/")
    boss.select_option("#id_priority", "critical")
    boss.get_by_role("button", name="Сохранить").click()
    expect_success(boss, "Заявка сохранена")

    asker.get_by_role("button", name="Сохранить").click()
    expect(asker.locator("form.ticket-form .alert")).to_contain_text(
        "Михаил Диспетчеров изменил заявку, пока вы её редактировали"
    )
    expect(asker.locator("#id_title")).to_have_value("Сломался принтер и сканер в бухгалтерии")
    expect(asker.locator("#id_description")).to_have_value("Теперь и сканер не видит компьютер.")
    ticket.refresh_from_db()
    assert (ticket.title, ticket.priority) == (TITLE, Priority.CRITICAL)
    assert asker.console_errors == [] and boss.console_errors == []


def test_phone_layout_fits_375px_and_takes_a_camera_photo(phone_page, technician, manager, photo):
    ticket = services.ticket_create(
        actor=manager,
        title="Не открывается дверь серверной: электронный замок мигает красным",
        description="Карта не срабатывает ни у кого из отдела. " * 8,
    )
    services.ticket_apply_action(
        actor=manager, ticket=ticket.pk, action="assign", assignee=technician
    )
    page = phone_page

    login(page, "technician")
    expect(page.locator(".ticket-table")).to_contain_text("электронный замок")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    menu = page.locator("#main-nav")
    expect(menu).to_be_hidden()
    page.locator(".navbar-toggler").tap()
    expect(menu).to_be_visible()
    # Bootstrap ignores a second tap while the menu is still sliding open.
    expect(menu).to_have_class(re.compile(r"\bcollapse show\b"))
    expect(page.locator(".navbar-toggler")).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_role("button", name="Выйти")).to_be_visible()
    screenshot(page, "phone-list-menu-open")
    page.locator(".navbar-toggler").tap()
    expect(menu).to_be_hidden()
    screenshot(page, "phone-list")

    page.locator(".ticket-table a", has_text="электронный замок").tap()
    expect(page.locator("#ticket-title")).to_contain_text("электронный замок")
    file_input = page.locator("form.upload-form input[name=file]")
    assert "image/*" in (file_input.get_attribute("accept") or "")
    file_input.set_input_files(photo)
    page.locator("form.upload-form").get_by_role("button", name="Загрузить").tap()
    expect(page.locator("img.attachment-thumb")).to_have_attribute("alt", photo.name)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "phone-card")
    assert Ticket.objects.get(pk=ticket.pk).attachments.count() == 1
    assert page.console_errors == []


def test_language_switch_to_english_and_back(page, requester):
    services.ticket_create(actor=requester, title=TITLE, description=DESCRIPTION)
    login(page, "requester")
    nav = page.locator("#main-nav")
    expect(nav.get_by_role("link", name="Заявки", exact=True)).to_be_visible()

    page.select_option("#language-select", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav.get_by_role("link", name="Tickets", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="New ticket", exact=True)).to_be_visible()
    expect(page.locator("h1")).to_have_text("Tickets")
    expect(page.locator("#found-count")).to_have_text("1 ticket found")
    expect(page.locator(".ticket-table")).to_contain_text(TITLE)
    screenshot(page, "list-english")

    page.select_option("#language-select", "ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(nav.get_by_role("link", name="Заявки", exact=True)).to_be_visible()
    expect(page.locator("h1")).to_have_text("Заявки")
    assert page.console_errors == []
