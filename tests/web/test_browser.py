"""Browser tests in Debian's chromium: a member of the public files a report on a phone
screen with and without JavaScript; a reviewer logs in and triages it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.web._server import Server
from watchfloor.services.auth import create_user
from watchfloor.settings import Settings
from watchfloor.storage.db import open_database, upgrade_database

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
PASSWORD = "reviewer password 123"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("browser") / "home"
    settings = Settings(home=home, secret_key="test-secret-key-0123456789abcdef")
    upgrade_database(settings)
    database = open_database(settings)
    with database.session() as session:
        create_user(session, "rita", role="reviewer", password=PASSWORD)
    database.dispose()
    srv = Server(home)
    srv.start()
    yield srv
    srv.stop()


def _phone(browser, *, javascript: bool, **extra):
    return browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=javascript, **extra
    )


def test_report_without_javascript_on_a_phone(server: Server, browser) -> None:
    context = _phone(browser, javascript=False)
    page = context.new_page()
    page.goto(server.url + "/")
    # The first thing on the page is the 999 line.
    first = page.locator("body *:visible").first
    assert "call 999" in (first.inner_text() + page.locator(".emergency").inner_text())
    page.get_by_label("A suspicious item or vehicle").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("What happened?").fill(
        "A holdall with wires left under the bench by platform 1"
    )
    page.get_by_label("Place or address").fill("Oakham railway station")
    page.get_by_role("button", name="Send report").click()
    reference = page.locator("#reference").inner_text()
    assert reference.startswith("WF")
    assert len(page.locator("#receipt-code").inner_text().replace("-", "")) == 16
    context.close()


def test_happening_now_stops_the_form(server: Server, browser) -> None:
    context = _phone(browser, javascript=False)
    page = context.new_page()
    page.goto(server.url + "/")
    page.get_by_label("Yes, it is happening now").check()
    page.get_by_label("Suspicious behaviour").check()
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_role("heading", name="Call 999 now").is_visible()
    assert page.locator("form[action='/report']").count() == 0
    context.close()


def test_missing_fields_are_named_and_linked(server: Server, browser) -> None:
    context = _phone(browser, javascript=False)
    page = context.new_page()
    page.goto(server.url + "/report?kind=hate_incident")
    page.get_by_role("button", name="Send report").click()
    summary = page.locator(".error-summary")
    assert "There is a problem" in summary.inner_text()
    assert summary.locator("a[href='#description']").count() == 1
    context.close()


def test_report_with_javascript_uses_the_phone_location(server: Server, browser) -> None:
    context = _phone(
        browser,
        javascript=True,
        geolocation={"longitude": -0.7270, "latitude": 52.6700},
        permissions=["geolocation"],
    )
    page = context.new_page()
    page.goto(server.url + "/report?kind=hate_incident")
    page.get_by_label("What happened?").fill("Abuse shouted at people leaving Friday prayers")
    page.get_by_label("Religion or belief").check()
    page.get_by_label("No, I saw it or heard about it").check()
    page.get_by_role("button", name="Use where I am now").click()
    page.get_by_text("Location added").wait_for()
    assert page.locator("#lat").input_value() == "52.670000"
    page.get_by_role("button", name="Send report").click()
    assert page.locator("#reference").inner_text().startswith("WF")
    context.close()


def test_reviewer_logs_in_and_triages(server: Server, browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(server.url + "/staff/queues")
    # Not logged in: sent to the login page.
    assert page.url.endswith("/staff/login")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.url.endswith("/staff/queues")
    page.locator("tbody a").first.click()
    assert page.get_by_role("heading", name="What they told us").is_visible()
    page.get_by_label("Queue", exact=True).select_option("neighbourhood")
    page.get_by_label("Priority").select_option("4")
    page.get_by_label("Reason").fill("no threat, local matter")
    page.get_by_role("button", name="Save triage").click()
    assert page.locator("#queue-value").inner_text() == "Neighbourhood"
    assert page.locator("#status-value").inner_text() == "triaged"
    context.close()


def _count_reports(server: Server) -> int:
    engine = create_engine(Settings(home=server.home).resolved_database_url)
    with engine.connect() as conn:
        count = int(conn.execute(text("SELECT count(*) FROM reports")).scalar_one())
    engine.dispose()
    return count


def test_a_link_from_another_site_in_a_second_tab_does_not_spoil_the_form(
    server: Server, browser
) -> None:
    context = _phone(browser, javascript=False)
    form = context.new_page()
    form.goto(server.url + "/report?kind=suspicious_behaviour")
    form.get_by_label("What happened?").fill("Two men filming the station entrances for an hour")
    # Another site (served by the browser itself) links to the service; opened in a second tab.
    elsewhere = context.new_page()
    elsewhere.route(
        "http://elsewhere.test/**",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<a id="go" href="{server.url}/">Report it to the police</a>',
        ),
    )
    elsewhere.goto("http://elsewhere.test/news")
    elsewhere.click("#go")
    elsewhere.wait_for_url(server.url + "/")
    # Back in the first tab, the half-written report is finished and sent.
    form.get_by_label("Place or address").fill("Oakham railway station")
    form.get_by_role("button", name="Send report").click()
    assert form.locator("#reference").inner_text().startswith("WF")
    context.close()


def test_without_cookies_a_report_is_sent(server: Server, browser) -> None:
    context = _phone(browser, javascript=False)
    # Refuse every cookie the service sets, as a browser with cookies off does.
    context.route(
        "**/*",
        lambda route: route.continue_(
            headers={k: v for k, v in route.request.headers.items() if k != "cookie"}
        ),
    )
    page = context.new_page()
    page.goto(server.url + "/report?kind=suspicious_item")
    context.clear_cookies()
    page.get_by_label("What happened?").fill("A rucksack left by the bins for an hour")
    page.get_by_label("Place or address").fill("Rutland Water car park")
    page.get_by_role("button", name="Send report").click()
    assert page.locator("#reference").inner_text().startswith("WF")
    context.close()


def test_double_click_refresh_and_resend_store_one_report(server: Server, browser) -> None:
    context = _phone(browser, javascript=False)
    page = context.new_page()
    page.goto(server.url + "/report?kind=suspicious_item")
    page.get_by_label("What happened?").fill("A van parked on the pavement by the mosque all day")
    page.get_by_label("Place or address").fill("Oakham High Street")
    before = _count_reports(server)
    page.get_by_role("button", name="Send report").dblclick()
    reference = page.locator("#reference").inner_text()
    code = page.locator("#receipt-code").inner_text()
    # A refresh of the receipt page shows the same receipt and sends nothing.
    page.reload()
    assert page.locator("#reference").inner_text() == reference
    # Back to the form and send it again: the same report, the same receipt.
    page.go_back()
    assert page.get_by_label("What happened?").input_value().startswith("A van parked")
    page.get_by_role("button", name="Send report").click()
    assert page.locator("#reference").inner_text() == reference
    assert page.locator("#receipt-code").inner_text() == code
    assert _count_reports(server) == before + 1
    context.close()


def test_api_docs_render_under_the_apps_own_csp(server: Server, browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    blocked: list[str] = []
    page.on(
        "console", lambda msg: blocked.append(msg.text) if "Content Security" in msg.text else None
    )
    outside: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(server.url) else outside.append(request.url),
    )
    page.goto(server.url + "/api/docs")
    page.get_by_text("/api/reports/{reference}/status").first.wait_for()
    assert page.locator(".opblock").count() >= 3
    assert blocked == []
    assert [url for url in outside if not url.startswith("data:")] == []
    context.close()


def test_with_javascript_too_many_photos_are_named_before_sending(server: Server, browser) -> None:
    context = _phone(browser, javascript=True)
    page = context.new_page()
    page.goto(server.url + "/report?kind=suspicious_item")
    page.get_by_label("What happened?").fill("Someone photographing the gates of the school")
    page.get_by_label("Place or address").fill("Oakham School")
    png = bytes.fromhex("89504e470d0a1a0a")
    files = [{"name": f"p{i}.png", "mimeType": "image/png", "buffer": png} for i in range(4)]
    page.set_input_files("#photos", files)
    assert page.locator("#photos-check").inner_text() == "Choose at most 3 photos."
    before = _count_reports(server)
    page.get_by_role("button", name="Send report").click()
    assert page.get_by_label("What happened?").input_value().startswith("Someone photographing")
    assert page.locator("#reference").count() == 0
    assert _count_reports(server) == before
    context.close()
