"""The console with the keyboard and a screen reader, in a real browser: every page's structure, the focus
ring and text contrast, and the keyboard-only ways through (sign in, open a case, choose a ward), live news
announced without moving focus."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Page

from console import dashboard, i18n
from console import map as console_map
from tests.console.conftest import Hotline, case_path, report, until

BEN_THANH, SAI_GON = "26743", "26740"
SITE = {lang: i18n.t("site", lang) for lang in i18n.LANGS}

# What a page has that matters to assistive technology and keyboards, as a list of problems (empty when fine).
AUDIT = """() => {
  const problems = [];
  const text = el => (el.textContent || "").replace(/\\s+/g, " ").trim();
  const byIds = ids => (ids || "").split(/\\s+/).map(id => document.getElementById(id)).filter(Boolean);
  const name = el => (el.getAttribute("aria-label") || "").trim()
    || byIds(el.getAttribute("aria-labelledby")).map(text).join(" ").trim()
    || Array.from(el.labels || []).map(text).join(" ").trim()
    || (el.tagName === "BUTTON" || el.getAttribute("role") === "button" ? text(el) : "")
    || (el.getAttribute("title") || "").trim();
  const controls = document.querySelectorAll(
    "input:not([type=hidden]), select, textarea, button, [role=button], [role=textbox], [role=combobox]");
  controls.forEach(el => { if (!name(el)) problems.push("control without a label: " + el.outerHTML.slice(0, 100)); });
  document.querySelectorAll("a").forEach(a => {
    if (!a.hasAttribute("href")) problems.push("a link without href: " + a.outerHTML.slice(0, 100));
    else if (!name(a) && !text(a) && !a.querySelector("img[alt]:not([alt=''])"))
      problems.push("a link without a name: " + a.outerHTML.slice(0, 100));
  });
  document.querySelectorAll("[tabindex]").forEach(el => {
    if (el.tabIndex > 0) problems.push("positive tabindex: " + el.outerHTML.slice(0, 100));
  });
  document.querySelectorAll("[role=img], img, canvas, svg[role]").forEach(el => {
    if (el.querySelector("a[href], button, input, select, textarea, [tabindex]"))
      problems.push("focusable inside an image: " + el.outerHTML.slice(0, 100));
  });
  document.querySelectorAll("[onclick]").forEach(el => problems.push("a click handler in markup: " + el.tagName));
  const h1 = Array.from(document.querySelectorAll("h1")).map(text);
  if (h1.length !== 1) problems.push("h1 count " + h1.length);
  const mains = document.querySelectorAll("main");
  if (mains.length !== 1 || mains[0].id !== "main") problems.push("one main#main");
  if (document.querySelectorAll("body > header").length !== 1) problems.push("one page header (banner)");
  const navs = Array.from(document.querySelectorAll("nav")).map(n => n.getAttribute("aria-label") || "");
  if (navs.some(l => !l) || new Set(navs).size !== navs.length) problems.push("navs with distinct labels: " + navs);
  const tabbable = Array.from(document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]"))
    .filter(el => el.tabIndex >= 0 && !el.disabled && !el.closest("[hidden]"));
  const first = tabbable[0];
  if (!first || !first.matches("a.skip[href='#main']")) problems.push("first focusable: " + (first && first.outerHTML));
  return {problems, lang: document.documentElement.lang, title: document.title, h1: h1[0] || "",
          navs, autofocus: !!document.querySelector("[autofocus]"),
          live: document.querySelectorAll("[role=status], [role=alert], [aria-live]").length};
}"""

# Colours, as WCAG 2.x computes contrast; the background is what is painted under an element (alpha blended).
COLOUR = """
  const rgba = s => { const m = (s || "").match(/rgba?\\(([^)]*)\\)/); if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3]));
  const behind = el => { const layers = [];
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    return layers.reverse().reduce((under, c) => over(c, under), [255, 255, 255]); };
"""

# Every visible piece of text against its background: 4.5:1, or 3:1 for large text (24px, or 18.66px bold).
CONTRAST = "() => {" + COLOUR + """
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || seen.has(el)) continue;
    if (el.closest(".skip, script, style, noscript, [hidden]")) continue;
    seen.add(el);
    const cs = getComputedStyle(el);
    if (!el.getClientRects().length || cs.visibility === "hidden" || cs.animationName !== "none") continue;
    const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
    const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    const got = ratio(over(rgba(cs.color), behind(el)), behind(el));
    if (got < need) low.push(el.tagName + "." + el.className + " '" + n.textContent.trim().slice(0, 30) + "' "
                             + got.toFixed(2) + " < " + need);
  }
  return low;
}"""

# The focused element's ring: an outline of 2px or more, 3:1 against what is around it (WCAG 1.4.11).
RING = "() => {" + COLOUR + """
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const cs = getComputedStyle(el);
  const width = cs.outlineStyle === "none" ? 0 : parseFloat(cs.outlineWidth);
  const around = behind(el.parentElement || el);
  const colour = rgba(cs.outlineColor);
  return {what: el.tagName + "#" + el.id + "." + el.className + " " + (el.textContent || "").trim().slice(0, 20),
          key: el.outerHTML.slice(0, 200), width, ratio: colour ? ratio(over(colour, around), around) : 0};
}"""


@pytest.fixture
def live_worker() -> bool:
    return False  # cases are written here as they should stand; nothing should move them meanwhile


async def add_case(pool: asyncpg.Pool, n: int, text: str, *, ward: str | None = None, sla_state: str = "ok",
                   due_at: datetime | None = None, status: str = "triage", assignee: int | None = None) -> int:
    """A processed case as the inbox, the map and the dashboard read it (a due date far from any clock's today)."""
    return await pool.fetchval(
        "INSERT INTO cases (tracking_code, status, channel, description, search_text, ward_code, sla_state, due_at,"
        " assignee, processed_at) VALUES ($1, $2, 'web', $3, $3, $4, $5, $6, $7, now()) RETURNING id",
        f"{1_000_000_000 + n}", status, text, ward, sla_state, due_at, assignee)


async def sign_in_as(page: Page, hotline: Hotline, name: str) -> None:
    resp = await page.context.request.post(f"{hotline.url}/api/v1/session",
                                           data={"username": name, "password": hotline.passwords[name]})
    assert resp.status == 200, await resp.text()


async def tab_to(page: Page, selector: str, *, most: int = 80) -> int:
    """Press Tab until the focused element matches `selector`; how many presses it took."""
    for presses in range(1, most + 1):
        await page.keyboard.press("Tab")
        if await page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"{selector} not reached with {most} presses of Tab")


async def focus_rings(page: Page, *, most: int = 120) -> list[str]:
    """Tab through the whole page from the top; the focused elements whose ring is missing or too faint."""
    await page.locator("a.skip").focus()  # the first stop (after a key press, so the ring shows as for Tab)
    faint, seen = [], set()
    for presses in range(most):
        if presses:
            await page.keyboard.press("Tab")
        ring = await page.evaluate(RING)
        if ring is None or ring["key"] in seen:
            return faint
        seen.add(ring["key"])
        if ring["width"] < 2 or ring["ratio"] < 3:
            faint.append(f"{ring['what']}: {ring['width']}px, {ring['ratio']:.2f}:1")
    raise AssertionError(f"Tab did not leave the page after {most} presses")


async def audit(page: Page, url: str, lang: str, where: str, *, live: bool) -> dict[str, Any]:
    """Load `url` in `lang`; the page's problems (an empty dict when there are none)."""
    await page.goto(f"{url}{'&' if '?' in url else '?'}lang={lang}")
    await page.wait_for_load_state("networkidle")
    found = await page.evaluate(AUDIT)
    problems: dict[str, Any] = {}
    structure = found["problems"]
    if structure:
        problems["structure"] = structure
    if found["lang"] != lang:
        problems["lang"] = found["lang"]
    if where not in found["title"] or not found["title"].endswith(SITE[lang]) or where not in found["h1"]:
        problems["title"] = (found["title"], found["h1"], where)
    if live and not found["live"]:
        problems["live region"] = "none"
    if not found["autofocus"]:  # the very first Tab of a fresh page lands on the skip link
        await page.keyboard.press("Tab")
        if not await page.evaluate("document.activeElement.matches('a.skip')"):
            problems["first tab"] = await page.evaluate("document.activeElement.outerHTML.slice(0, 100)")
    await page.locator("a.skip").focus()
    await page.keyboard.press("Enter")
    if await page.evaluate("document.activeElement.id") != "main":
        problems["skip link"] = await page.evaluate("document.activeElement.outerHTML.slice(0, 100)")
    low = await page.evaluate(CONTRAST)
    if low:
        problems["contrast"] = low
    faint = await focus_rings(page)
    if faint:
        problems["focus ring"] = faint
    return problems


async def seed(pool: asyncpg.Pool) -> dict[str, int]:
    agent = await pool.fetchval("UPDATE staff_users SET available = true, capacity = 1 WHERE username = 'agent'"
                                " RETURNING id")
    return {
        "lamp": await add_case(pool, 1, "Đèn đường hỏng trước nhà số 12 Lê Lợi", ward=BEN_THANH,
                               due_at=datetime(2020, 1, 1, tzinfo=UTC)),
        "drain": await add_case(pool, 2, "Cống thoát nước bị tắc ở hẻm 42 Nguyễn Trãi", ward=BEN_THANH,
                                sla_state="at_risk", due_at=datetime(2100, 1, 1, tzinfo=UTC)),
        "tree": await add_case(pool, 3, "Cây xanh đổ chắn ngang đường Hai Bà Trưng", ward=SAI_GON,
                               status="in_progress", assignee=agent),
    }


def each_lang(words: Any) -> dict[str, str]:
    return {lang: words(lang) for lang in i18n.LANGS}


# name: (path, who signs in, what the title and the h1 say by language, whether it tells news in a live region)
PAGES = {
    "login": ("/console/login", None, each_lang(lambda lang: i18n.t("login_title", lang)), False),
    "inbox": ("/console/?queue=all", "supervisor", each_lang(lambda lang: i18n.t("nav_inbox", lang)), True),
    "case": ("case", "supervisor", each_lang(lambda lang: "1000000001"), True),
    "map": ("/console/map", "supervisor", each_lang(lambda lang: console_map.TEXT[lang]["title"]), True),
    "dashboard": ("/console/dashboard", "supervisor", each_lang(lambda lang: dashboard.TEXT[lang]["title"]), False),
    "not found": ("/console/cases/999999", "supervisor", each_lang(lambda lang: i18n.t("not_found_title", lang)),
                  False),
}

@pytest.mark.parametrize("name", PAGES)
async def test_each_page_has_its_language_one_h1_labels_landmarks_a_skip_link_and_visible_focus(
        page, hotline, name):
    ids = await seed(hotline.pool)
    path, who, where, live = PAGES[name]
    if who:
        await sign_in_as(page, hotline, who)
    url = hotline.url + (case_path(ids["lamp"]) if path == "case" else path)
    for lang in i18n.LANGS:
        assert await audit(page, url, lang, where[lang], live=live) == {}, (name, lang)


async def test_signing_in_with_the_keyboard_only_and_a_wrong_password_announced(page, hotline):
    await page.goto(f"{hotline.url}/console/login")
    assert await page.evaluate("document.activeElement.id") == "username"
    await page.keyboard.type("agent")
    await page.keyboard.press("Tab")
    await page.keyboard.type("not-the-password")
    await page.keyboard.press("Enter")

    error = page.get_by_role("alert")
    await error.wait_for()
    assert (await error.text_content() or "").strip() == i18n.t("login_wrong", "vi")
    assert await page.title() == f"{i18n.t('error_prefix', 'vi')}: {i18n.t('login_title', 'vi')} – {SITE['vi']}"
    # The field to fix has the focus, and the error is read with it.
    focused = await page.evaluate("({id: document.activeElement.id, invalid: document.activeElement.ariaInvalid,"
                                  " described: document.activeElement.getAttribute('aria-describedby')})")
    assert focused == {"id": "password", "invalid": "true", "described": "login-error"}
    assert await page.locator("#username").input_value() == "agent"

    await page.keyboard.type("agent-secret")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{hotline.url}/console/")
    await page.get_by_test_id("inbox-search").wait_for()


async def test_a_case_is_opened_from_the_inbox_with_the_keyboard_only(page, hotline):
    ids = await seed(hotline.pool)
    await sign_in_as(page, hotline, "agent")
    await page.goto(f"{hotline.url}/console/?queue=all")
    await page.get_by_test_id("inbox-row").nth(2).wait_for()

    await tab_to(page, "a.code")  # past the header, the queues and the filters, to the newest case
    assert await page.evaluate("document.activeElement.closest('tr').dataset.caseId") == str(ids["tree"])
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.closest('tr').dataset.caseId") == str(ids["drain"])
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{hotline.url}{case_path(ids['drain'])}")
    await page.get_by_test_id("case-description").get_by_text("Cống thoát nước bị tắc").wait_for()


async def test_the_inbox_shortcuts_are_listed_and_never_taken_while_typing(page, hotline):
    ids = await seed(hotline.pool)
    await sign_in_as(page, hotline, "agent")
    await page.goto(f"{hotline.url}/console/?queue=all")
    await page.get_by_test_id("inbox-row").nth(2).wait_for()
    hint = await page.locator("#shortcuts kbd").all_text_contents()
    assert hint == ["j", "k", "Enter", "/"]

    await page.keyboard.press("/")  # to the search box
    assert await page.evaluate("document.activeElement.id") == "q"
    await page.keyboard.type("jk/ Lê Lợi")
    assert await page.get_by_test_id("inbox-search").input_value() == "jk/ Lê Lợi"
    assert await page.locator('[data-testid="inbox-row"].selected').count() == 0

    await page.keyboard.press("Escape")
    await page.evaluate("document.activeElement.blur()")
    for key in ("j", "j", "j", "k"):
        await page.keyboard.press(key)
    selected = page.locator('[data-testid="inbox-row"].selected')
    assert await selected.get_attribute("data-case-id") == str(ids["drain"])
    assert await page.evaluate("document.activeElement.closest('tr').dataset.caseId") == str(ids["drain"])


async def test_a_ward_is_chosen_on_the_maps_list_with_the_keyboard_and_opens_its_inbox(page, hotline):
    await seed(hotline.pool)
    await sign_in_as(page, hotline, "supervisor")
    await page.goto(f"{hotline.url}/console/map")
    await page.locator("#map-wards tbody tr").nth(1).wait_for()

    await tab_to(page, '[data-testid="to-ward-list"]')
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "map-wards"
    await page.keyboard.press("Tab")
    first = await page.evaluate("document.activeElement.textContent")
    assert first == "Phường Bến Thành"  # the ward with the most open cases comes first
    await page.keyboard.press("Enter")

    await page.wait_for_url(f"{hotline.url}/console/?queue=open&ward={BEN_THANH}")
    rows = page.get_by_test_id("inbox-row")
    await rows.nth(1).wait_for()
    assert await rows.count() == 2


async def test_a_case_arriving_live_is_announced_politely_and_focus_stays(browser, page, hotline):
    await sign_in_as(page, hotline, "agent")
    await page.goto(f"{hotline.url}/console/")
    await page.get_by_test_id("inbox-search").wait_for()
    await page.wait_for_load_state("networkidle")
    status = page.locator("#live-status")
    assert (await status.get_attribute("role"), await status.get_attribute("aria-live")) == ("status", "polite")
    await page.evaluate("""() => { window.heard = [];
      new MutationObserver(() => window.heard.push(document.getElementById('live-status').textContent))
        .observe(document.getElementById('live-status'), {childList: true, characterData: true, subtree: true}); }""")
    await page.keyboard.press("/")
    await page.keyboard.type("cống")

    citizen = await browser.new_context(locale="vi-VN")
    try:
        case_id = await report(await citizen.new_page(), hotline, "Cống thoát nước bị tắc ở hẻm 42 Nguyễn Trãi")
    finally:
        await citizen.close()

    await page.locator(f'[data-testid="inbox-row"][data-case-id="{case_id}"]').wait_for()
    await until(lambda: page.evaluate("window.heard.includes('1 hồ sơ mới')"), what="the new case announced")
    assert await page.evaluate("document.activeElement.id") == "q"  # the agent's typing is not interrupted
    assert await page.get_by_test_id("inbox-search").input_value() == "cống"


async def test_deadline_states_and_staff_load_are_said_in_words_and_charts_have_tables(page, hotline):
    ids = await seed(hotline.pool)
    await sign_in_as(page, hotline, "supervisor")
    await page.goto(f"{hotline.url}/console/?queue=all")

    async def deadline(case_id: int) -> str:
        return (await page.locator(f'[data-testid="inbox-row"][data-case-id="{case_id}"] td.deadline')
                .text_content() or "").strip()

    drain, lamp = await deadline(ids["drain"]), await deadline(ids["lamp"])
    assert drain.endswith(f"({i18n.t('at_risk_flag', 'vi')})")  # amber, and said
    assert lamp.startswith(i18n.t("overdue_by", "vi").split("{")[0])  # red, and said

    await page.goto(f"{hotline.url}/console/dashboard")
    staff = page.get_by_test_id("dashboard-staff").locator("tbody tr").filter(has_text="agent")
    assert "(" + i18n.t("full", "vi") + ")" in (await staff.text_content() or "")  # 1 of 1: red, and said
    tables = await page.evaluate("""() => Array.from(document.querySelectorAll('canvas.chart')).map(c => {
        const t = document.getElementById(c.dataset.table);
        return t ? t.querySelectorAll('tbody tr').length : 0; })""")
    assert tables and all(rows > 0 for rows in tables)
