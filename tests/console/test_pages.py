"""The console's pages, server side: sign-in and lockout, CSRF, scoping, the inbox, the case page, the live stream."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import pytest

import console.wards
from console import live
from kernel.http import SERVICES
from tests.conftest import auth

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _report(client, text="Ổ gà lớn giữa đường Điện Biên Phủ", **extra) -> dict:
    resp = await client.post("/api/v1/reports", json={"text": text, **extra})
    assert resp.status == 201
    code = (await resp.json())["tracking_code"]
    case_id = await client.app[SERVICES].pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    return {"id": case_id, "code": code}


async def _login_form(client) -> str:
    resp = await client.get("/console/login")
    assert resp.status == 200
    return LOGIN_CSRF.search(await resp.text()).group(1)


async def _sign_in(client, username: str, password: str | None = None):
    token = await _login_form(client)
    return await client.post("/console/login", data={"username": username, "password": password or f"{username}-secret",
                                                      "csrf_token": token, "next": "/console/"},
                             allow_redirects=False)


async def _signed_in(client, username: str) -> str:
    """Sign in through the form; return the page's CSRF token."""
    resp = await _sign_in(client, username)
    assert resp.status == 303, await resp.text()
    page = await client.get("/console/")
    assert page.status == 200
    return CSRF_META.search(await page.text()).group(1)


async def test_signed_out_pages_redirect_to_the_sign_in_form(client, tokens):
    resp = await client.get("/console/?queue=all", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"].startswith("/console/login?next=")


async def test_sign_in_sets_the_session_cookie_the_staff_api_accepts(client, tokens):
    resp = await _sign_in(client, "agent")
    assert resp.status == 303 and resp.headers["Location"] == "/console/"
    me = await client.get("/api/v1/me")  # the same cookie, no bearer token
    assert me.status == 200 and (await me.json())["role"] == "agent"
    page = await client.get("/console/")
    text = await page.text()
    assert 'data-testid="inbox-search"' in text and "Hộp thư" in text
    assert CSRF_META.search(text).group(1)


async def test_a_wrong_password_shows_the_form_with_an_error(client, tokens):
    resp = await _sign_in(client, "agent", "not-it")
    assert resp.status == 401
    text = await resp.text()
    assert 'data-testid="login-error"' in text and "Sai tên đăng nhập hoặc mật khẩu" in text
    assert (await client.get("/api/v1/me")).status == 401


async def test_the_login_form_refuses_a_post_without_its_token(client, tokens):
    await _login_form(client)
    resp = await client.post("/console/login", data={"username": "agent", "password": "agent-secret",
                                                      "csrf_token": "forged"}, allow_redirects=False)
    assert resp.status == 403
    assert (await client.get("/api/v1/me")).status == 401


async def test_locked_out_after_repeated_failures(client, tokens):
    settings = client.app[SERVICES].settings
    for _ in range(settings.login_max_failures):
        assert (await _sign_in(client, "agent", "wrong")).status == 401
    resp = await _sign_in(client, "agent")  # even the right password, while locked
    assert resp.status == 429
    minutes = -(-settings.login_lockout_seconds // 60)
    text = await resp.text()
    assert f"thử lại sau {minutes} phút" in text and 'data-testid="login-error"' in text
    assert int(resp.headers["Retry-After"]) > 0


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(client, tokens):
    csrf = await _signed_in(client, "agent")
    refused = await client.post("/console/logout", data={"csrf_token": "wrong"}, allow_redirects=False)
    assert refused.status == 403
    assert (await client.get("/api/v1/me")).status == 200
    resp = await client.post("/console/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/console/login"
    assert (await client.get("/console/", allow_redirects=False)).status == 303


async def test_the_inbox_lists_cases_and_escapes_their_text(client, tokens):
    case = await _report(client, "Có <script>alert(1)</script> ở hẻm 12")
    await _signed_in(client, "agent")
    text = await (await client.get("/console/?queue=all")).text()
    assert f'data-case-id="{case["id"]}"' in text and case["code"] in text
    assert "&lt;script&gt;" in text and "<script>alert" not in text


async def test_the_inbox_searches_with_or_without_diacritics(client, tokens):
    flood = await _report(client, "Ngập nước sâu trên đường Nguyễn Hữu Cảnh")
    pothole = await _report(client)
    await _signed_in(client, "agent")
    for q in ("ngập nước", "ngap nuoc", "NGAP"):
        text = await (await client.get("/console/", params={"queue": "all", "q": q})).text()
        assert f'data-case-id="{flood["id"]}"' in text and f'data-case-id="{pothole["id"]}"' not in text


async def test_the_inbox_pages_with_an_older_link(client, tokens, monkeypatch):
    import console.inbox

    monkeypatch.setattr(console.inbox, "PAGE_SIZE", 2)
    ids = [(await _report(client, f"Phản ánh số {i}"))["id"] for i in range(3)]
    await _signed_in(client, "agent")
    first = await (await client.get("/console/?queue=all")).text()
    assert re.findall(r'data-case-id="(\d+)"', first) == [str(ids[2]), str(ids[1])]
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert f"after={ids[1]}" in older
    second = await (await client.get(older)).text()
    assert re.findall(r'data-case-id="(\d+)"', second) == [str(ids[0])]
    assert 'rel="next"' not in second


async def _next_event(resp, wanted: str, timeout: float = 10.0) -> str:
    """Read the stream until an event named `wanted`; return its data."""
    async def read() -> str:
        event = None
        while True:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == wanted:
                return line[6:]
            elif line == "":
                event = None
    return await asyncio.wait_for(read(), timeout)


async def test_the_event_stream_announces_a_new_case(client, tokens):
    await _signed_in(client, "agent")
    resp = await client.get("/console/events")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    assert (await resp.content.readline()).startswith(b"retry:")
    case = await _report(client)
    ids = set()
    while case["id"] not in ids:
        ids |= {int(i) for i in (await _next_event(resp, "cases")).split(",")}
    rows = await (await client.get(f"/console/inbox/rows?queue=all&ids={case['id']}")).text()
    assert f'data-case-id="{case["id"]}"' in rows and "<html" not in rows
    resp.close()


async def test_the_event_stream_tells_a_unit_only_of_its_own_cases(client, tokens):
    ours, theirs = await _report(client, "Ổ gà trước nhà"), await _report(client, "Mất điện cả khu phố")
    await _signed_in(client, "department")
    resp = await client.get("/console/events")
    await resp.content.readline()
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET department = 'evn-hcmc' WHERE id = $1", theirs["id"])
    await pool.execute("UPDATE cases SET department = 'so-xay-dung' WHERE id = $1", ours["id"])
    assert await _next_event(resp, "cases") == str(ours["id"])  # theirs came first and was not told
    resp.close()


async def test_a_unit_sees_only_its_own_cases_even_when_asking_for_another(client, tokens):
    ours, theirs = await _report(client, "Ổ gà trước nhà"), await _report(client, "Mất điện cả khu phố")
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET department = 'so-xay-dung' WHERE id = $1", ours["id"])
    await pool.execute("UPDATE cases SET department = 'evn-hcmc' WHERE id = $1", theirs["id"])
    await _signed_in(client, "department")
    for url in ("/console/", "/console/?queue=all&department=evn-hcmc", "/console/?queue=unit"):
        text = await (await client.get(url)).text()
        assert f'data-case-id="{ours["id"]}"' in text and f'data-case-id="{theirs["id"]}"' not in text, url
    rows = await (await client.get(f"/console/inbox/rows?queue=all&ids={theirs['id']},{ours['id']}")).text()
    assert f'data-case-id="{theirs["id"]}"' not in rows and f'data-case-id="{ours["id"]}"' in rows


async def test_the_inbox_filters_by_field_and_queue(client, tokens):
    flood, pothole = await _report(client, "Ngập nước"), await _report(client)
    pool = client.app[SERVICES].pool
    # Two hours past due by the clock the page reads (the app's), not the database's.
    due = client.app[SERVICES].clock() - timedelta(hours=2)
    await pool.execute("UPDATE cases SET field = 'drainage_flooding', status = 'forwarded', sla_state = 'overdue',"
                       " due_at = $2 WHERE id = $1", flood["id"], due)
    await _signed_in(client, "agent")
    overdue = await (await client.get("/console/?queue=overdue")).text()
    assert f'data-case-id="{flood["id"]}"' in overdue and f'data-case-id="{pothole["id"]}"' not in overdue
    assert "deadline-overdue" in overdue and "Quá hạn 2 giờ" in overdue
    by_field = await (await client.get("/console/?queue=all&field=drainage_flooding")).text()
    assert f'data-case-id="{flood["id"]}"' in by_field and f'data-case-id="{pothole["id"]}"' not in by_field
    triage = await (await client.get("/console/?queue=triage")).text()
    assert f'data-case-id="{pothole["id"]}"' in triage and f'data-case-id="{flood["id"]}"' not in triage
    english = await (await client.get("/console/?queue=overdue&lang=en")).text()
    assert "Drainage and flooding" in english and "Overdue by 2 h" in english


async def test_the_case_page_shows_messages_timeline_and_the_deadline_explained(client, tokens):
    case = await _report(client, "Có <script>alert(1)</script> ở hẻm 12 đường Lê Lợi", name="<i>Trần Thị Lan</i>")
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET due_at = now() + interval '3 days', deadline_reason = $2 WHERE id = $1",
                       case["id"], "15 ngày làm việc theo quy chế 1022")
    assert (await client.post(f"/api/v1/cases/{case['id']}/replies", json={"text": "Chúng tôi đã nhận <b>"},
                              headers=auth(tokens["agent"]))).status == 201
    assert (await client.post(f"/api/v1/cases/{case['id']}/notes", json={"text": "Gọi lại sau"},
                              headers=auth(tokens["agent"]))).status == 201
    await _signed_in(client, "agent")
    resp = await client.get(f"/console/cases/{case['id']}")
    assert resp.status == 200
    text = await resp.text()
    messages = text.split('data-testid="case-messages"')[1].split("</section>")[0]
    assert messages.index("&lt;script&gt;alert(1)&lt;/script&gt;") < messages.index("Chúng tôi đã nhận &lt;b&gt;")
    assert "<script>alert" not in text and 'data-direction="out"' in messages
    assert "&lt;i&gt;Trần Thị Lan&lt;/i&gt;" in text and "<i>Trần" not in text
    timeline = text.split('data-testid="case-timeline"')[1].split("</ol>")[0]
    assert 'data-kind="note"' in timeline and "Gọi lại sau" in timeline
    assert "15 ngày làm việc theo quy chế 1022" in text and 'data-testid="case-deadline"' in text
    assert 'data-testid="reply-text"' in text and 'data-testid="reply-send"' in text
    keys = re.findall(r'data-key="([^"]+)"', text)
    assert len(keys) == len(set(keys)) > 3  # one key per form, none shared
    again = await (await client.get(f"/console/cases/{case['id']}")).text()
    assert not set(keys) & set(re.findall(r'data-key="([^"]+)"', again))  # and new ones on every render


async def test_the_case_page_gives_the_reasons_in_the_readers_language(client, tokens):
    routed, older = await _report(client), await _report(client, "Cây đổ chắn lối đi")
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET routing_reason = 'Lĩnh vực Giao thông → Sở Xây dựng',"
                       " routing_reason_en = 'Traffic and road safety → Department of Construction',"
                       " deadline_reason = 'Hạn giải quyết 10 ngày làm việc', deadline_reason_en = 'Resolution due in"
                       " 10 working days' WHERE id = $1", routed["id"])
    # A case routed before the English reasons keeps its one reason, shown in either language.
    await pool.execute("UPDATE cases SET routing_reason = 'Lĩnh vực Cây xanh → Công ty Cây xanh',"
                       " deadline_reason = 'Hạn giải quyết 3 giờ' WHERE id = $1", older["id"])
    await _signed_in(client, "agent")

    def reasons(page: str) -> tuple[str, str]:
        facts = page.split('id="case-deadline-facts"')[1].split("</dl>")[0]
        return (facts.split('data-testid="routing-reason">')[1].split("</dd>")[0],
                facts.split('data-testid="deadline-reason">')[1].split("</dd>")[0])

    vi = await (await client.get(f"/console/cases/{routed['id']}?lang=vi")).text()
    assert reasons(vi) == ("Lĩnh vực Giao thông → Sở Xây dựng", "Hạn giải quyết 10 ngày làm việc")
    assert "Lý do định tuyến" in vi and "Why this unit" not in vi
    en = await (await client.get(f"/console/cases/{routed['id']}?lang=en")).text()
    assert reasons(en) == ("Traffic and road safety → Department of Construction", "Resolution due in 10 working days")
    assert "Why this unit" in en and "Lý do định tuyến" not in en
    en_older = await (await client.get(f"/console/cases/{older['id']}?lang=en")).text()
    assert reasons(en_older) == ("Lĩnh vực Cây xanh → Công ty Cây xanh", "Hạn giải quyết 3 giờ")


async def test_another_units_case_is_a_403_page(client, tokens):
    case = await _report(client)
    await client.app[SERVICES].pool.execute("UPDATE cases SET department = 'evn-hcmc' WHERE id = $1", case["id"])
    await _signed_in(client, "department")
    resp = await client.get(f"/console/cases/{case['id']}")
    assert resp.status == 403 and resp.content_type == "text/html"
    text = await resp.text()
    assert "Hồ sơ này thuộc đơn vị khác" in text and case["code"] not in text
    assert (await client.get("/console/cases/999999")).status == 404
    assert (await client.get(f"/console/events?case={case['id']}")).status == 403


async def test_typing_needs_the_csrf_token_and_reaches_others_on_the_case(client, tokens):
    case = await _report(client)
    csrf = await _signed_in(client, "agent")
    stream = await client.get(f"/console/events?case={case['id']}")
    await stream.content.readline()
    refused = await client.post(f"/console/cases/{case['id']}/typing", headers={"X-CSRF-Token": "nope"})
    assert refused.status == 403
    resp = await client.post(f"/console/cases/{case['id']}/typing", headers={"X-CSRF-Token": csrf})
    assert resp.status == 204
    beat = json.loads(await _next_event(stream, "typing"))
    assert beat["case"] == case["id"] and beat["name"] == "agent"
    stream.close()
    late = await client.get(f"/console/events?case={case['id']}")  # a page opened within the 10 s hears it too
    assert json.loads(await _next_event(late, "typing"))["case"] == case["id"]
    late.close()


async def test_the_inbox_filters_by_ward_and_dates_and_names_the_ward(client, tokens):
    here, there = await _report(client, "Rác thải ùn ứ"), await _report(client, "Cây đổ")
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET ward_code = '25750', created_at = '2026-11-02T09:00:00+07:00'"
                       " WHERE id = $1", here["id"])
    await pool.execute("UPDATE cases SET created_at = '2026-11-20T09:00:00+07:00' WHERE id = $1", there["id"])
    ward = console.wards.ward_name("25750")
    assert ward.startswith(("Phường", "Xã"))
    await _signed_in(client, "agent")
    text = await (await client.get("/console/", params={"queue": "all", "ward": "25750"})).text()
    assert f'data-case-id="{here["id"]}"' in text and f'data-case-id="{there["id"]}"' not in text
    assert f"<td>{ward}</td>" in text
    dates = {"queue": "all", "from": "2026-11-01", "to": "2026-11-10"}
    early = await (await client.get("/console/", params=dates)).text()
    assert f'data-case-id="{here["id"]}"' in early and f'data-case-id="{there["id"]}"' not in early


async def test_a_change_made_through_another_web_process_reaches_this_ones_stream(client, aiohttp_client, settings,
                                                                                   tokens):
    from hotline.app import create_app

    other = await aiohttp_client(create_app(settings))  # a second web process on the same database
    await _signed_in(client, "agent")
    stream = await client.get("/console/events")
    await stream.content.readline()
    case = await _report(other, "Báo qua tiến trình thứ hai")
    ids: set[int] = set()
    while case["id"] not in ids:
        ids |= {int(i) for i in (await _next_event(stream, "cases")).split(",")}
    stream.close()


async def test_mine_and_waiting_queues_and_canned_replies_with_the_cases_facts(client, tokens):
    mine, paused = await _report(client, "Của tôi"), await _report(client, "Chờ công dân bổ sung")
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET assignee = (SELECT id FROM staff_users WHERE username = 'agent'),"
                       " department = 'so-xay-dung', due_at = '2026-12-24T10:00:00+07:00' WHERE id = $1", mine["id"])
    await pool.execute("UPDATE cases SET clock_paused_at = now(), status = 'forwarded' WHERE id = $1", paused["id"])
    await _signed_in(client, "agent")
    text = await (await client.get("/console/?queue=mine")).text()
    assert f'data-case-id="{mine["id"]}"' in text and f'data-case-id="{paused["id"]}"' not in text
    text = await (await client.get("/console/?queue=waiting")).text()
    assert f'data-case-id="{paused["id"]}"' in text and f'data-case-id="{mine["id"]}"' not in text
    page = await (await client.get(f"/console/cases/{mine['id']}")).text()
    assert f"mã hồ sơ {mine['code']}" in page and "Sở Xây dựng" in page and "10:00 24/12/2026" in page


async def test_the_case_page_offers_routings_likely_duplicate(client, tokens):
    text = "Ổ gà rất lớn giữa đường trước nhà số 12 Lê Lợi, xe máy té ngã"
    first, again = await _report(client, text), await _report(client, text)
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET field = 'urban_infrastructure', status = 'triage', ward_code = '25750',"
                       " lat = 10.7751, lon = 106.7009, created_at = now() - ($2 || ' hours')::interval"
                       " WHERE id = $1", first["id"], "3")
    await pool.execute("UPDATE cases SET field = 'urban_infrastructure', status = 'triage', ward_code = '25750',"
                       " lat = 10.7751, lon = 106.7009, created_at = now() - ($2 || ' hours')::interval"
                       " WHERE id = $1", again["id"], "1")
    await _signed_in(client, "agent")
    page = await (await client.get(f"/console/cases/{again['id']}")).text()
    offer = page.split('data-testid="likely-duplicate"')[1].split("</section>")[0]
    assert f'href="/console/cases/{first["id"]}"' in offer and 'data-testid="duplicate-mark"' in offer
    assert f'"duplicate_of": {first["id"]}' in offer.replace("&#34;", '"')
    alone = await (await client.get(f"/console/cases/{first['id']}")).text()  # the earlier one repeats nothing
    assert 'data-testid="likely-duplicate"' not in alone


async def test_the_header_offers_presence_to_agents_and_keeps_filters_across_languages(client, tokens):
    csrf = await _signed_in(client, "agent")
    text = await (await client.get("/console/?queue=all&q=ngap")).text()
    assert 'data-testid="presence-toggle" aria-pressed="false"' in text
    assert 'href="/console/?queue=all&amp;q=ngap&amp;lang=en"' in text
    resp = await client.put("/api/v1/me/presence", json={"available": True}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 200
    assert 'aria-pressed="true"' in await (await client.get("/console/")).text()
    english = await client.get("/console/?lang=en")
    assert "Inbox" in await english.text() and english.cookies["console_lang"].value == "en"
    assert "Inbox" in await (await client.get("/console/")).text()  # the cookie keeps it


async def test_supervisors_see_no_presence_toggle(client, tokens):
    await _signed_in(client, "supervisor")
    text = await (await client.get("/console/")).text()
    assert 'data-testid="presence-toggle"' not in text and "Tổng quan" in text


async def test_the_stream_survives_losing_its_listen_connection(client, tokens, monkeypatch):
    import console.live

    monkeypatch.setattr(console.live, "RECONNECT_SECONDS", 0.05)
    await _signed_in(client, "agent")
    stream = await client.get("/console/events")
    await stream.content.readline()
    pool = client.app[SERVICES].pool
    killed = await pool.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                 " WHERE application_name = $1 AND datname = current_database()",
                                 console.live.APPLICATION_NAME)
    assert killed == 1
    assert await _next_event(stream, "resync") == ""  # told to catch up
    case = await _report(client)
    ids: set[int] = set()
    while case["id"] not in ids:
        ids |= {int(i) for i in (await _next_event(stream, "cases")).split(",")}
    stream.close()


@pytest.mark.parametrize("target, lands", [
    ("/console/cases/1", "/console/cases/1"),
    ("//evil.example/console/", "/console/"),
    ("https://evil.example/", "/console/"),
    ("/console/\\evil.example", "/console/"),
])
async def test_sign_in_returns_only_to_console_pages(client, tokens, target, lands):
    token = await _login_form(client)
    resp = await client.post("/console/login", data={"username": "agent", "password": "agent-secret",
                                                      "csrf_token": token, "next": target}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == lands


def _event(kind: str, changes: dict | None = None, **extra) -> dict:
    from datetime import UTC, datetime
    return {"at": datetime(2026, 3, 2, 1, 0, tzinfo=UTC), "kind": kind, "actor_name": extra.pop("actor", "system"),
            "actor_kind": extra.pop("actor_kind", "system"), "changes": changes or {}, "from_status": None,
            "to_status": None, "reason": None, "public": False, **extra}


def test_timeline_entries_read_as_sentences_in_both_languages():
    from console import case_page
    units = {"evn-hcmc": "Tổng công ty Điện lực TP.HCM", "so-xay-dung": "Sở Xây dựng"}
    rows = [
        _event("classified", {"field": "electricity", "confidence": 0.9912, "urgent": False, "model": "m1",
                              "alternatives": [["traffic", 0.01]]}),
        _event("geocoded", {"ward_code": None, "ward_name": None, "confidence": 0.2}),
        _event("routed", {"department": "evn-hcmc", "rule": 3, "due_at": "2026-03-04T02:30:00+00:00"}),
        _event("status", from_status="forwarded", to_status="in_progress", actor="Lan", actor_kind="staff"),
        _event("transferred", {"department": ["evn-hcmc", "so-xay-dung"]}, actor="Lan", actor_kind="staff"),
        _event("call_status", {"status": "no-answer", "duration_seconds": 12}),
        _event("rated", {"rating": 4, "solved": True, "channel": "sms"}, actor="citizen", actor_kind="citizen"),
        _event("media_fetched", {"message_id": 3, "attachment_id": 9, "content_type": "image/jpeg", "size": 20480}),
        _event("something_new", {"secret": {"nested": 1}}),
    ]
    vi = [e.text(units) for e in case_page.timeline(rows, "vi")]
    assert vi[0] == "Phân loại: Điện lực (độ tin cậy 99%)"
    assert vi[1] == "Không xác định được phường/xã"
    assert vi[2] == "Chuyển Tổng công ty Điện lực TP.HCM xử lý, hạn 09:30 04/03/2026"  # local time, UTC+7
    assert vi[3] == "Trạng thái: Đã chuyển đơn vị xử lý → Đang xử lý"
    assert vi[4] == "Chuyển từ Tổng công ty Điện lực TP.HCM sang Sở Xây dựng"
    assert vi[5] == "Cuộc gọi: không trả lời (12 giây)"
    assert vi[6] == "Công dân đánh giá 4/5 · đã giải quyết"
    assert vi[7] == "Đã tải tệp đính kèm, 20 KB"
    assert vi[8] == "Cập nhật khác"
    assert not any("{" in line or "nested" in line for line in vi)
    entries = case_page.timeline(rows, "en")
    assert entries[0].text(units) == "Classified: Electricity (confidence 99%)"
    assert entries[2].text({}) == "Forwarded to evn-hcmc, due 09:30 04/03/2026"  # an unknown unit: its code
    assert entries[8].text(units) == "Other update"
    assert [e.actor for e in case_page.timeline(rows, "vi")][5:7] == ["Hệ thống", "Công dân"]


def test_message_kinds_and_statuses_have_labels():
    from console import case_page
    assert (case_page.message_kind("message", "in", "vi"), case_page.message_status("received", "vi")) == (
        "Tin đến", "đã nhận")
    assert [case_page.message_kind(k, "out", "vi") for k in ("ack", "reply", "notice")] == [
        "Xác nhận", "Trả lời", "Thông báo"]
    assert [case_page.message_status(s, "en") for s in ("queued", "sending", "sent", "delivered", "failed")] == [
        "queued", "sending", "sent", "delivered", "failed"]
    assert case_page.message_status("weird", "vi") == "khác"


def timeline_html(text: str) -> str:
    return text.split('data-testid="case-timeline"')[1].split("</ol>")[0]


async def test_the_case_page_labels_messages_and_the_timeline(client, tokens):
    case = await _report(client, "Mất điện cả khu phố")
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET status = 'forwarded', department = 'so-xay-dung' WHERE id = $1", case["id"])
    assert (await client.post(f"/api/v1/cases/{case['id']}/replies", json={"text": "Đã nhận"},
                              headers=auth(tokens["agent"]))).status == 201
    assert (await client.post(f"/api/v1/cases/{case['id']}/transfer",
                              json={"department": "evn-hcmc", "reason": "Thuộc ngành điện"},
                              headers=auth(tokens["agent"]))).status == 200
    await _signed_in(client, "agent")
    text = await (await client.get(f"/console/cases/{case['id']}")).text()
    messages = text.split('data-testid="case-messages"')[1].split("</section>")[0]
    plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", messages))
    assert "Tin đến · đã nhận" in plain and "Trả lời · chờ gửi" in plain
    timeline = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text.split('data-testid="case-timeline"')[1]
                                          .split("</ol>")[0]))
    assert "Chuyển từ Sở Xây dựng sang" in timeline and "Trả lời công dân" in timeline
    assert "Tiếp nhận phản ánh qua Cổng thông tin" in timeline and "Lý do: Thuộc ngành điện" in timeline
    assert "{" not in timeline and "'department'" not in timeline
    english = await (await client.get(f"/console/cases/{case['id']}?lang=en")).text()
    assert "Transferred from Department of Construction to" in english and "Message" in english
    # For a screen reader: the title names the page as its h1 does, each reason box says which action it is for,
    # times are machine-readable, and the live region is there (empty) from the start.
    assert re.search(r"<title>Mã hồ sơ \d{10} – ", text)
    assert re.search(r'<label for="reject-reason">Lý do<span class="visually-hidden"> \(Trả lại\)</span></label>', text)
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">', timeline_html(text))
    live = text.split('id="case-updated"')[1].split("</p>")[0]
    assert " hidden" not in live and live.rstrip().endswith(">")


async def test_the_403_and_404_pages_carry_the_nav_and_sign_out(client, tokens):
    case = await _report(client)
    await client.app[SERVICES].pool.execute("UPDATE cases SET department = 'evn-hcmc' WHERE id = $1", case["id"])
    await _signed_in(client, "department")
    for url, status in ((f"/console/cases/{case['id']}", 403), ("/console/cases/999999", 404),
                        ("/console/dashboard", 403)):
        resp = await client.get(url)
        assert resp.status == status, url
        text = await resp.text()
        assert 'data-testid="sign-out"' in text and 'href="/console/map"' in text, url
        assert CSRF_META.search(text).group(1), url


async def test_a_unit_hears_of_a_case_transferred_away_and_its_row_comes_back_empty(client, tokens):
    case = await _report(client, "Ổ gà trước nhà")
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET status = 'forwarded', department = 'so-xay-dung' WHERE id = $1", case["id"])
    other = await _report(client, "Mất điện cả khu phố")
    await pool.execute("UPDATE cases SET status = 'forwarded', department = 'evn-hcmc' WHERE id = $1", other["id"])
    await _signed_in(client, "department")  # so-xay-dung; this process has not seen either case's unit change
    stream = await client.get("/console/events")
    await stream.content.readline()
    assert (await client.post(f"/api/v1/cases/{case['id']}/transfer",
                              json={"department": "evn-hcmc", "reason": "Thuộc ngành điện"},
                              headers=auth(tokens["agent"]))).status == 200
    assert await _next_event(stream, "cases") == str(case["id"])  # told, though the case is no longer its own
    rows = await (await client.get(f"/console/inbox/rows?queue=unit&ids={case['id']}")).text()
    assert f'data-case-id="{case["id"]}"' not in rows  # so the page drops the row
    # Changes after the move are not told to the unit it left, nor are other units' cases.
    await pool.execute("UPDATE cases SET urgent = true WHERE id = $1", other["id"])
    await pool.execute("UPDATE cases SET urgent = true WHERE id = $1", case["id"])
    mine = await _report(client, "Cây đổ chắn đường")
    await pool.execute("UPDATE cases SET status = 'forwarded', department = 'so-xay-dung' WHERE id = $1", mine["id"])
    assert await _next_event(stream, "cases") == str(mine["id"])
    stream.close()


async def test_a_unit_hears_when_a_case_goes_back_to_triage_or_is_reassigned(client, tokens):
    returned, corrected = await _report(client, "Ổ gà trước nhà"), await _report(client, "Rác thải ven kênh")
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET status = 'forwarded', department = 'so-xay-dung' WHERE id = ANY($1)",
                       [returned["id"], corrected["id"]])
    await _signed_in(client, "department")
    stream = await client.get("/console/events")
    await stream.content.readline()
    assert (await client.patch(f"/api/v1/cases/{corrected['id']}", json={"department": "evn-hcmc"},
                               headers=auth(tokens["agent"]))).status in (200, 204)
    assert await _next_event(stream, "cases") == str(corrected["id"])
    assert (await client.post(f"/api/v1/cases/{returned['id']}/status",
                              json={"status": "rejected", "reason": "Không thuộc thẩm quyền"},
                              headers=auth(tokens["department"]))).status == 200
    assert await _next_event(stream, "cases") == str(returned["id"])
    stream.close()


def test_the_unit_a_case_left_is_read_from_its_history():
    moves = [{"changes": {"department": "so-xay-dung"}}, {"changes": {"department": ["so-xay-dung", "evn-hcmc"]}},
             {"changes": {"text": "note"}}]
    assert live.last_unit_change(moves, "evn-hcmc") == "so-xay-dung"
    assert live.last_unit_change(moves, "so-xay-dung") is None  # the latest move went elsewhere
    assert live.last_unit_change(moves[:1], "so-xay-dung") is None  # routed there first: it left nothing
    assert live.last_unit_change([{"changes": {"department": ["evn-hcmc", None]}}], None) == "evn-hcmc"


async def test_the_case_page_has_a_small_map_or_says_there_is_no_point(client, tokens):
    located, nowhere = await _report(client, "Đèn đường hỏng"), await _report(client, "Không rõ địa chỉ")
    pool = client.app[SERVICES].pool
    await pool.execute("UPDATE cases SET lat = 10.7725, lon = 106.698, ward_code = '26743' WHERE id = $1",
                       located["id"])
    await _signed_in(client, "agent")
    text = await (await client.get(f"/console/cases/{located['id']}")).text()
    box = re.search(r'<div id="case-map"[^>]*>', text).group(0)
    assert 'data-ward="26743"' in box and 'data-lat="10.7725"' in box and 'data-lon="106.698"' in box
    assert "/console/static/vendor/leaflet-1.9.4/leaflet.js" in text and 'data-testid="case-no-point"' not in text
    bare = await (await client.get(f"/console/cases/{nowhere['id']}?lang=en")).text()
    assert 'id="case-map"' not in bare and "No coordinates" in bare


# --- assign inside the unit, link and unlink duplicates ---------------------------------------------

async def _forwarded(client, tokens, text="Ổ gà lớn giữa đường Điện Biên Phủ", unit="so-xay-dung") -> dict:
    case = await _report(client, text)
    for body in ({"status": "triage"}, {"status": "forwarded", "department": unit}):
        resp = await client.post(f"/api/v1/cases/{case['id']}/status", json=body, headers=auth(tokens["agent"]))
        assert resp.status == 200, await resp.text()
    return case


def _options(page: str) -> dict[str, str]:
    select = page.split('data-testid="assign-to"')[1].split("</select>")[0]
    return dict(re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select))


async def test_a_unit_assigns_its_case_from_the_case_page_which_names_the_assignee(client, tokens):
    from casework import staff

    pool = client.app[SERVICES].pool
    colleague = await staff.create_user(pool, "hoa", role="department", department="so-xay-dung",
                                        display_name="Nguyễn Thị Hoa", password="hoa-secret-1")
    case = await _forwarded(client, tokens)
    other = await _forwarded(client, tokens, "Cột điện nghiêng", unit="evn-hcmc")
    busy = await _forwarded(client, tokens, "Vỉa hè hư hỏng")
    await pool.execute("UPDATE cases SET assignee = $1 WHERE id = $2", colleague, busy["id"])
    await _signed_in(client, "department")
    page = await (await client.get(f"/console/cases/{case['id']}")).text()
    options = _options(page)
    mine = await pool.fetchval("SELECT id FROM staff_users WHERE username = 'department'")
    assert set(options) == {str(mine), str(colleague)}  # the unit's staff only: no agent, no other unit
    assert options[str(colleague)].startswith("Nguyễn Thị Hoa · 1/10 hồ sơ đang mở")  # her open load
    assert 'data-testid="case-unassign"' not in page and 'data-testid="case-assignee">—<' in page
    assert 'data-testid="link-code"' not in page  # a unit does not link duplicates
    resp = await client.post(f"/api/v1/cases/{case['id']}/assign", json={"assignee": colleague},
                             headers=auth(tokens["department"]))
    assert resp.status == 200
    page = await (await client.get(f"/console/cases/{case['id']}")).text()
    assert 'data-testid="case-assignee">Nguyễn Thị Hoa<' in page and 'data-testid="case-unassign"' in page
    assert re.search(rf'<option value="{colleague}" selected>', page)
    timeline = page.split('data-testid="case-timeline"')[1].split("</ol>")[0]
    assert "Giao cho Nguyễn Thị Hoa" in timeline
    english = await (await client.get(f"/console/cases/{case['id']}?lang=en")).text()
    assert "Assigned to Nguyễn Thị Hoa" in english and "Assign to" in english
    # Another unit's case is refused whole; a case in the centre's hands has no assign form for a unit.
    assert (await client.get(f"/console/cases/{other['id']}")).status == 403
    await pool.execute("UPDATE cases SET status = 'triage' WHERE id = $1", busy["id"])
    assert 'data-testid="assign-to"' not in await (await client.get(f"/console/cases/{busy['id']}")).text()


async def test_an_agent_assigns_a_triage_case_among_the_agents(client, tokens):
    case = await _report(client)
    await client.post(f"/api/v1/cases/{case['id']}/status", json={"status": "triage"}, headers=auth(tokens["agent"]))
    await _signed_in(client, "agent")
    page = await (await client.get(f"/console/cases/{case['id']}")).text()
    agent = await client.app[SERVICES].pool.fetchval("SELECT id FROM staff_users WHERE username = 'agent'")
    assert set(_options(page)) == {str(agent)}


async def test_the_case_page_links_by_code_and_offers_to_unlink_a_duplicate(client, tokens):
    parent = await _forwarded(client, tokens)
    child = await _report(client, "Đường Điện Biên Phủ có ổ gà to")
    await _signed_in(client, "agent")
    page = await (await client.get(f"/console/cases/{child['id']}")).text()
    form = page.split('data-testid="link-code"')[0].rsplit("<form", 1)[1]
    assert f'data-api="/api/v1/cases/{child["id"]}/status"' in form and '"status": "duplicate"' in form
    assert 'name="duplicate_of_code"' in page and 'data-testid="duplicate-unlink"' not in page
    resp = await client.post(f"/api/v1/cases/{child['id']}/status", headers=auth(tokens["agent"]), json={
        "status": "duplicate", "reason": "cùng ổ gà", "duplicate_of_code": parent["code"]})
    assert resp.status == 200
    page = await (await client.get(f"/console/cases/{child['id']}")).text()
    assert 'data-testid="duplicate-unlink"' in page and 'data-testid="link-code"' not in page
    assert f'href="/console/cases/{parent["id"]}"' in page
    resp = await client.post(f"/api/v1/cases/{child['id']}/duplicate/unlink", json={"reason": "khác địa điểm"},
                             headers=auth(tokens["agent"]))
    assert resp.status == 200
    page = await (await client.get(f"/console/cases/{child['id']}")).text()
    timeline = page.split('data-testid="case-timeline"')[1].split("</ol>")[0]
    code = " ".join((parent["code"][:3], parent["code"][3:6], parent["code"][6:9], parent["code"][9:]))
    assert f"Không trùng: tách khỏi hồ sơ {code}" in timeline
    assert f"trùng với: — → {code}" in timeline  # the link itself, by code too
    assert 'data-testid="duplicate-unlink"' not in page and 'data-testid="link-code"' in page


def test_assignments_and_unlinks_read_as_sentences():
    from console import case_page
    rows = [
        _event("assigned", {"assignee": 7}),  # the queue's own, one id
        _event("assigned", {"assignee": [7, 9]}, actor="Lan", actor_kind="staff"),
        _event("assigned", {"assignee": [9, None]}, actor="Lan", actor_kind="staff"),
        _event("assigned", {"assignee": [None, 404]}, actor="Lan", actor_kind="staff"),
        _event("duplicate_unlinked", {"duplicate_of": [12, None]}, actor="Lan", actor_kind="staff"),
        _event("duplicate_unlinked", {"duplicate_of": [13, None]}, actor="Lan", actor_kind="staff"),
    ]
    people, cases = case_page.named_in(rows)
    assert (people, cases) == ({7, 9, 404}, {12, 13})
    names = {7: "Trần Văn Minh", 9: "Lê Thu"}
    vi = [e.text() for e in case_page.timeline(rows, "vi", people=names, cases={12: "4830196275"})]
    assert vi == ["Giao cho Trần Văn Minh", "Giao cho Lê Thu", "Bỏ giao Lê Thu, trả hồ sơ về hàng đợi",
                  "Giao cho cán bộ #404", "Không trùng: tách khỏi hồ sơ 483 019 627 5",
                  "Không trùng: tách khỏi hồ sơ #13"]
    en = [e.text() for e in case_page.timeline(rows, "en", people=names, cases={12: "4830196275"})]
    assert en[1:5] == ["Assigned to Lê Thu", "Unassigned from Lê Thu, back to the queue",
                       "Assigned to staff member #404", "Not a duplicate: unlinked from case 483 019 627 5"]
