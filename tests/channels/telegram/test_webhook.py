"""The bot end to end: real-shaped updates pushed by the local Bot API peer to the webhook (with the secret that
set-webhook registered), python-telegram-bot answering through the peer, and the worker's own steps
(processing, the outbox, media fetches) on a real PostgreSQL and Redis."""

from __future__ import annotations

import json

from casework import actions, codes, conversation
from casework.models import Actor, Role, Status
from channels.telegram import texts
from hotline import pipeline
from tests.channels.telegram.conftest import CHAT, SECRET, post, text_update, update

AGENT = Actor(kind="staff", name="agent", id=None, role=Role.AGENT)
REPORT = "Đèn đường trước nhà số 12 Lê Lợi, phường Bến Thành bị hỏng 3 ngày nay"


async def cases(pool) -> list[dict]:
    return [dict(r) for r in await pool.fetch("SELECT id, channel, description, locale, status, lat, lon, tracking_code"
                                              " FROM cases ORDER BY id")]


async def inbound(pool) -> list[dict]:
    return [dict(r) for r in await pool.fetch(
        "SELECT case_id, provider_message_id, sender, display_name, text, raw, edits FROM messages"
        " WHERE direction = 'in' ORDER BY id")]


async def acknowledge(bot) -> None:
    """What the worker does next: process the new cases (acknowledgements queued), then send the outbox."""
    await pipeline.process_pending(bot.worker)
    await pipeline.send_pending(bot.worker)


# Reports


async def test_a_text_opens_a_case_and_the_chat_gets_its_code(bot, pool):
    data = update("text")
    assert await bot.push(data) == 200
    [case] = await cases(pool)
    assert (case["channel"], case["description"], case["locale"], case["status"]) == (
        "telegram", REPORT, "vi", "received")
    [message] = await inbound(pool)
    assert (message["provider_message_id"], message["sender"], message["display_name"]) == (
        f"{CHAT}:41", str(CHAT), "Lan Nguyễn")
    assert message["raw"] == data
    assert bot.peer.sent == []  # nothing is said before the case is processed
    await acknowledge(bot)
    [ack] = bot.peer.sent_to(CHAT)
    assert codes.display(case["tracking_code"]) in ack.text and ack.text.startswith("Đường dây nóng 1022")
    row = await pool.fetchrow("SELECT status, recipient, external_id FROM messages WHERE kind = 'ack'")
    assert dict(row) == {"status": "sent", "recipient": str(CHAT), "external_id": f"{CHAT}:{ack.message_id}"}


async def test_an_english_user_is_answered_in_english(bot, pool):
    data = update("text", text="The street light in front of 12 Le Loi is broken")
    data["message"]["from"] = {**data["message"]["from"], "language_code": "en"}
    await bot.push(data)
    assert (await cases(pool))[0]["locale"] == "en"
    await acknowledge(bot)
    assert bot.peer.sent[0].text.startswith("The 1022 hotline has received your report")


async def test_a_retried_update_stores_one_message(bot, pool):
    data = update("text")
    await bot.push(data)
    assert await bot.peer.post_to_webhook(data) == 200  # Telegram did not hear back in time and sent it again
    data = {**update("text"), "update_id": 999}  # the same message in another update: still one message
    assert await bot.peer.post_to_webhook(data) == 200
    assert len(await cases(pool)) == 1 and len(await inbound(pool)) == 1


async def test_photos_documents_voice_notes_and_videos_are_fetched_by_the_worker(bot, pool):
    peer = bot.peer
    files = {
        "photo": (b"\xff\xd8\xff\xe0 large photo", "photos/file_7.jpg", "AgACAgUAAxkBAAMqZ2Xh1_large", "image/jpeg"),
        "document": (b"%PDF-1.7 don", "documents/file_8.pdf", "BQACAgUAAxkBAAMrZ2Xh2_doc", "application/pdf"),
        "voice": (b"OggS voice", "voice/file_9.oga", "AwACAgUAAxkBAAMsZ2Xh3_voice", "audio/ogg"),
        "video": (b"\x00\x00\x00\x18ftypmp42", "videos/file_10.mp4", "BAACAgUAAxkBAAMtZ2Xh4_video", "video/mp4"),
    }
    for name, (data, path, file_id, _) in files.items():
        peer.add_file(data, path, file_id=file_id)
        # Each from another chat, so that each opens a case of its own.
        fixture = update(name, chat={"id": CHAT + len(path), "type": "private", "first_name": "Lan"})
        assert await bot.push(fixture) == 200
    found = await cases(pool)
    assert [c["description"] for c in found] == [
        "Rác đổ trộm ở góc đường Hàm Nghi", "Đơn phản ánh về tiếng ồn công trình ban đêm", texts.VOICE, texts.VIDEO]
    assert await pipeline.fetch_media_pending(bot.worker) == 4
    rows = await pool.fetch("SELECT m.case_id, a.content_type, a.data FROM attachments a"
                            " JOIN messages m ON m.id = a.message_id ORDER BY m.case_id")
    assert [(r["case_id"], r["content_type"], bytes(r["data"])) for r in rows] == [
        (case["id"], files[name][3], files[name][0]) for case, name in zip(found, files, strict=True)]
    assert len(peer.calls_to("getFile")) == 4 and len(peer.calls_to("file")) == 4


async def test_an_album_is_one_report(bot, pool):
    for message_id, file_id in ((60, "AgACAgUAAxkBAAMqZ2Xh1_large"), (61, "AgACAgUAAxkBAAMqZ2Xh1_other")):
        album = update("photo", update_id=message_id, message_id=message_id, media_group_id="13891725309137124",
                       photo=[{"file_id": file_id, "file_unique_id": file_id[-8:], "file_size": 68433,
                               "width": 1280, "height": 960}])
        if message_id == 61:
            album["message"].pop("caption")  # Telegram puts the caption on the first photo only
        await bot.push(album)
    [case] = await cases(pool)
    assert [m["case_id"] for m in await inbound(pool)] == [case["id"], case["id"]]
    assert await pool.fetchval("SELECT count(*) FROM media_fetches") == 2
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE direction = 'out'") == 0  # no notice per photo


async def test_a_location_opens_a_case_or_places_the_open_one(bot, pool):
    await bot.push(update("location"))
    [case] = await cases(pool)
    assert (case["description"], case["lat"], case["lon"]) == (texts.LOCATION, 10.772105, 106.698285)

    await bot.push(update("text", chat={"id": CHAT + 1, "type": "private", "first_name": "Minh"}))
    await acknowledge(bot)  # both acknowledged: a later message of each chat is a follow-up
    moved = update("location", update_id=2, message_id=70, location={"latitude": 10.7769, "longitude": 106.7009},
                   chat={"id": CHAT + 1, "type": "private", "first_name": "Minh"})
    await bot.push(moved)
    first, second = await cases(pool)
    assert (second["lat"], second["lon"]) == (10.7769, 106.7009)
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1 AND kind = 'located'",
                               second["id"]) == 1


async def test_an_edit_replaces_the_text_and_keeps_the_first(bot, pool):
    await bot.push(update("text"))
    await bot.push(update("edited_message"))
    [message] = await inbound(pool)
    edited = "Đèn đường trước nhà số 12 Lê Lợi, phường Bến Thành bị hỏng 5 ngày nay"
    assert message["text"] == edited and [e["text"] for e in message["edits"]] == [REPORT]
    assert (await cases(pool))[0]["description"] == edited


# Conversations


async def test_a_message_from_a_chat_with_an_open_case_joins_it_and_offers_a_new_case(bot, pool):
    await bot.push(update("text"))
    await acknowledge(bot)
    await bot.push(text_update(2, 50, "Tối nay đèn vẫn chưa sáng"))
    [case] = await cases(pool)
    assert [m["case_id"] for m in await inbound(pool)] == [case["id"], case["id"]]
    await pipeline.send_pending(bot.worker)
    ack, notice = bot.peer.sent_to(CHAT)
    assert notice.text == conversation.follow_up_text("vi", case["tracking_code"], reopened=False)
    assert notice.buttons() == [[("Mở hồ sơ mới", "new")]]

    # The citizen meant something else: the button, then the next message opens a case.
    await bot.push(update("callback_query", update_id=3, data="new"))
    assert bot.peer.callback_answers[-1]["callback_query_id"] == "3011865741283910871"
    assert bot.peer.sent_to(CHAT)[-1].text == texts.NEW_PROMPT["vi"]
    await bot.push(text_update(4, 53, "Cây đổ chắn ngang đường Pasteur"))
    await bot.push(text_update(5, 54, "Cây to lắm"))  # the request was for one message
    found = await cases(pool)
    assert [c["description"] for c in found] == [REPORT, "Cây đổ chắn ngang đường Pasteur"]
    assert [m["case_id"] for m in await inbound(pool)][2:] == [found[1]["id"], found[0]["id"]]


async def test_new_opens_a_new_case_with_the_next_message_or_at_once(bot, pool):
    await bot.push(update("text"))
    await acknowledge(bot)
    await bot.push(update("command", text="/new", entities=[{"offset": 0, "length": 4, "type": "bot_command"}]))
    assert bot.peer.sent_to(CHAT)[-1].text == texts.NEW_PROMPT["vi"]
    await bot.push(text_update(2, 60, "Nắp cống bị mất trên đường Hai Bà Trưng"))
    await bot.push(text_update(3, 61, "/new Rác ùn ứ ở chợ Tân Định"))
    assert [c["description"] for c in await cases(pool)] == [
        REPORT, "Nắp cống bị mất trên đường Hai Bà Trưng", "Rác ùn ứ ở chợ Tân Định"]


async def test_an_answer_is_rated_and_not_solved_reopens_the_case(bot, pool):
    await bot.push(update("text"))
    await acknowledge(bot)
    [case] = await cases(pool)
    code = case["tracking_code"]
    await actions.reply(pool, case["id"], AGENT, "Đã thay bóng đèn mới.", final=True, now=bot.clock())
    await pipeline.send_pending(bot.worker)
    answer = bot.peer.sent_to(CHAT)[-1]
    assert answer.text.startswith("Đã thay bóng đèn mới.") and answer.buttons()[0][4] == ("5⭐", f"rate:{code}:5")

    await bot.push(update("callback_query", data=f"rate:{code}:4"))
    assert bot.peer.callback_answers[-1]["text"] == texts.RATED["rated"]["vi"]
    rating = await pool.fetchrow("SELECT rating, solved, channel FROM case_ratings WHERE case_id = $1", case["id"])
    assert dict(rating) == {"rating": 4, "solved": True, "channel": "telegram"}

    await bot.push(update("callback_query", update_id=2, data=f"unsolved:{code}"))
    assert bot.peer.callback_answers[-1]["text"] == texts.RATED["reopened"]["vi"].format(code=codes.display(code))
    assert (await cases(pool))[0]["status"] == "reopened"
    rating = await pool.fetchrow("SELECT rating, solved FROM case_ratings WHERE case_id = $1", case["id"])
    assert (rating["rating"], rating["solved"]) == (4, False)


async def test_a_retried_button_is_done_once_and_a_stranger_cannot_rate(bot, pool):
    await bot.push(update("text"))
    await acknowledge(bot)
    [case] = await cases(pool)
    await actions.reply(pool, case["id"], AGENT, "Đã xử lý.", final=True, now=bot.clock())
    press = update("callback_query", data=f"rate:{case['tracking_code']}:5")
    await bot.push(press)
    await bot.peer.post_to_webhook(press)
    assert len(bot.peer.callback_answers) == 1
    stranger = update("callback_query", update_id=7, data=f"unsolved:{case['tracking_code']}")
    stranger["callback_query"]["message"]["chat"] = {"id": 5550001, "type": "private"}
    await bot.push(stranger)
    assert bot.peer.callback_answers[-1]["text"] == texts.RATED["not_found"]["vi"]
    assert (await cases(pool))[0]["status"] == "answered"


async def test_staff_replies_and_status_changes_reach_the_chat(bot, pool, units):
    await bot.push(update("text"))
    await acknowledge(bot)
    [case] = await cases(pool)
    await actions.change_status(pool, case["id"], Status.FORWARDED, AGENT, department=units[0], now=bot.clock())
    await actions.change_status(pool, case["id"], Status.IN_PROGRESS, AGENT, now=bot.clock())
    await actions.reply(pool, case["id"], AGENT, "Đội điện đang trên đường tới.", now=bot.clock())
    await pipeline.send_pending(bot.worker)
    texts_sent = [m.text for m in bot.peer.sent_to(CHAT)]
    display = codes.display(case["tracking_code"])
    assert texts_sent[1:] == [f"1022: Hồ sơ {display} đã được đơn vị tiếp nhận và đang xử lý.",
                              "Đội điện đang trên đường tới."]
    assert all(m.buttons() == [] for m in bot.peer.sent_to(CHAT))  # no rating before the answer


# Commands


async def test_start_greets_in_vietnamese_or_in_the_user_s_english(bot):
    await bot.push(update("command"))
    assert bot.peer.sent_to(CHAT)[-1].text == texts.START["vi"]
    english = update("command", update_id=2)
    english["message"]["from"] = {**english["message"]["from"], "language_code": "en"}
    await bot.push(english)
    assert bot.peer.sent_to(CHAT)[-1].text == texts.START["en"]


async def test_lang_changes_the_language_of_answers_and_cases(bot, pool):
    await bot.push(text_update(1, 80, "/lang en"))
    assert bot.peer.sent_to(CHAT)[-1].text == texts.LANG_SET["en"]
    await bot.push(update("command", update_id=2))
    assert bot.peer.sent_to(CHAT)[-1].text == texts.START["en"]
    await bot.push(update("text", update_id=3))
    assert (await cases(pool))[0]["locale"] == "en"
    await bot.push(text_update(4, 81, "/lang"))
    assert bot.peer.sent_to(CHAT)[-1].text == texts.LANG_USAGE["en"]
    await bot.push(text_update(5, 82, "/lang vi"))
    assert bot.peer.sent_to(CHAT)[-1].text == texts.LANG_SET["vi"]


async def test_status_answers_the_case_s_status(bot, pool):
    await bot.push(update("text"))
    await acknowledge(bot)
    [case] = await cases(pool)
    code = codes.display(case["tracking_code"])
    await bot.push(text_update(2, 90, f"/status {code}"))
    answer = bot.peer.sent_to(CHAT)[-1].text
    assert answer.startswith(f"Hồ sơ {code}: Đang phân loại")
    assert f"https://hotline.example.gov.vn/track/{case['tracking_code']}" in answer
    await bot.push(text_update(3, 91, "/status"))
    assert bot.peer.sent_to(CHAT)[-1].text == texts.STATUS_USAGE["vi"]
    wrong = case["tracking_code"][:-1] + str((int(case["tracking_code"][-1]) + 1) % 10)
    await bot.push(text_update(4, 92, f"/status {wrong}"))
    assert bot.peer.sent_to(CHAT)[-1].text == texts.STATUS_INVALID["vi"]
    await bot.push(text_update(5, 93, "/status 1234567894"))
    assert bot.peer.sent_to(CHAT)[-1].text == texts.STATUS_NOT_FOUND["vi"].format(code="123 456 789 4")
    assert len(await inbound(pool)) == 1  # commands are not reports


async def test_a_sticker_is_answered_with_what_we_take(bot, pool):
    await bot.push(update("sticker"))
    assert bot.peer.sent_to(CHAT)[-1].text == texts.UNSUPPORTED["vi"]
    assert await cases(pool) == []


# Blocked bots


async def test_a_user_who_blocked_the_bot_is_not_sent_to(bot, pool):
    await bot.push(update("text"))
    await bot.push(update("my_chat_member_blocked"))
    assert await pool.fetchval("SELECT count(*) FROM contact_opt_outs WHERE channel = 'telegram' AND address = $1",
                               str(CHAT)) == 1
    await acknowledge(bot)
    ack = await pool.fetchrow("SELECT status, error FROM messages WHERE kind = 'ack'")
    assert ack["status"] == "failed" and ack["error"].startswith("opted_out")
    assert bot.peer.sent == []

    unblocked = update("my_chat_member_blocked", update_id=2)
    unblocked["my_chat_member"]["new_chat_member"]["status"] = "member"
    await bot.push(unblocked)
    assert await pool.fetchval("SELECT count(*) FROM contact_opt_outs") == 0


async def test_a_block_the_bot_learns_of_only_when_sending_fails_the_message_for_good(bot, pool):
    await bot.push(update("text"))
    bot.peer.block(CHAT)
    await acknowledge(bot)
    ack = await pool.fetchrow("SELECT status, error, attempts FROM messages WHERE kind = 'ack'")
    assert (ack["status"], ack["attempts"]) == ("failed", 1) and ack["error"].startswith("blocked:")


# The webhook's door


async def test_a_wrong_or_missing_secret_is_refused_and_stores_nothing(bot, pool):
    for secret in ("not-the-secret", None, ""):
        response = await post(bot.client, update("text"), secret=secret)
        assert response.status == 403, secret
    assert await inbound(pool) == [] and bot.peer.sent == []


async def test_without_a_configured_secret_every_update_is_refused(aiohttp_client, telegram_settings, pool):
    from hotline.app import create_app

    client = await aiohttp_client(create_app(telegram_settings.model_copy(update={"telegram_secret": None})))
    for secret in (SECRET, None, ""):
        assert (await post(client, update("text"), secret=secret)).status == 403
    assert await inbound(pool) == []


async def test_the_webhook_is_not_found_while_the_channel_is_off(client, pool):
    assert (await post(client, update("text"))).status == 404
    assert await inbound(pool) == []


async def test_bad_bodies_are_refused(bot, pool):
    assert (await post(bot.client, "{not json")).status == 400
    assert (await post(bot.client, "[1, 2]")).status == 400
    assert (await post(bot.client, json.dumps({"message": {}}))).status == 400
    too_large = json.dumps(update("text", text="x" * 300_000))
    assert (await post(bot.client, too_large)).status == 413
    assert await inbound(pool) == []


async def test_unknown_update_kinds_are_acknowledged_and_stored_nowhere(bot, pool):
    assert await bot.push(update("channel_post")) == 200
    assert await bot.push({"message_reaction": {"chat": {"id": CHAT, "type": "private"}, "message_id": 41,
                                                "date": 1764216000, "old_reaction": [],
                                                "new_reaction": [{"type": "emoji", "emoji": "👍"}]}}) == 200
    assert await inbound(pool) == [] and bot.peer.sent == []
