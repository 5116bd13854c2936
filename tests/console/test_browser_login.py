"""Signing in to the console with its form: the inbox on success, an error on a wrong password, a lockout."""

from __future__ import annotations

from playwright.async_api import Page

from casework.auth import SESSION_COOKIE
from console.i18n import t
from tests.console.conftest import LOGIN_MAX_FAILURES, Hotline


async def submit_login(page: Page, hotline: Hotline, username: str, password: str) -> None:
    await page.goto(f"{hotline.url}/console/login")
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_load_state()


async def session_cookie(page: Page) -> str | None:
    return next((c["value"] for c in await page.context.cookies() if c["name"] == SESSION_COOKIE), None)


async def test_signing_in_with_the_form_opens_the_inbox(page, hotline):
    await page.goto(f"{hotline.url}/console/")
    assert page.url.startswith(f"{hotline.url}/console/login")  # signed out: sent to the sign-in page

    await submit_login(page, hotline, "agent", "agent-secret")

    await page.get_by_test_id("inbox-search").wait_for()
    assert page.url == f"{hotline.url}/console/"
    assert await page.get_by_test_id("login-error").count() == 0
    assert await session_cookie(page) is not None


async def test_a_wrong_password_shows_the_error_and_signs_nobody_in(page, hotline):
    await submit_login(page, hotline, "agent", "not-the-password")

    error = page.get_by_test_id("login-error")
    await error.wait_for()
    assert (await error.text_content() or "").strip() == t("login_wrong", "vi")
    assert await session_cookie(page) is None
    await page.goto(f"{hotline.url}/console/")
    assert page.url.startswith(f"{hotline.url}/console/login")


async def test_too_many_wrong_passwords_lock_the_account_even_for_the_right_one(page, hotline):
    for _ in range(LOGIN_MAX_FAILURES):
        await submit_login(page, hotline, "agent", "not-the-password")
        assert (await page.get_by_test_id("login-error").text_content() or "").strip() == t("login_wrong", "vi")

    await submit_login(page, hotline, "agent", "agent-secret")

    locked = t("login_locked", "vi").format(minutes=hotline.settings.login_lockout_seconds // 60)
    assert (await page.get_by_test_id("login-error").text_content() or "").strip() == locked
    assert await session_cookie(page) is None


async def test_english_is_kept_once_chosen_and_signing_out_ends_the_session(page, hotline):
    await submit_login(page, hotline, "supervisor", "supervisor-secret")
    nav = page.locator("nav")
    await nav.get_by_text(t("nav_inbox", "vi"), exact=True).wait_for()

    await page.goto(f"{hotline.url}/console/?lang=en")
    await nav.get_by_text(t("nav_dashboard", "en"), exact=True).wait_for()
    await page.goto(f"{hotline.url}/console/map")  # the choice is kept in a cookie
    await nav.get_by_text(t("nav_map", "en"), exact=True).wait_for()
    assert await page.locator("html").get_attribute("lang") == "en"

    await page.get_by_test_id("sign-out").click()
    await page.get_by_test_id("login-username").wait_for()
    assert await session_cookie(page) is None
    await page.goto(f"{hotline.url}/console/")
    assert page.url.startswith(f"{hotline.url}/console/login")
