"""Long polling and webhook registration against the local Bot API peer, in process and through the `hotline` CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from channels.telegram import polling
from channels.telegram.polling import ALLOWED_UPDATES, Poller
from hotline.services import Services
from tests.channels.telegram.conftest import CHAT, SECRET, TOKEN, text_update, update

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
async def services(telegram_settings, peer):
    started = await Services.start(telegram_settings.model_copy(update={"telegram_api_url": peer.api_url}),
                                   processing=False)
    yield started
    await started.close()


async def stored(pool) -> list[tuple[str, str]]:
    return [(r["provider_message_id"], r["text"]) for r in await pool.fetch(
        "SELECT provider_message_id, text FROM messages WHERE direction = 'in' ORDER BY id")]


async def test_polled_updates_are_handled_as_the_webhook_handles_them(services, peer, pool):
    await peer.push(update("text"))
    await peer.push(update("command"))
    await peer.push(update("edited_message"))
    poller = Poller(services, timeout=0)
    assert await poller.poll_once() == 3
    assert poller.offset == 483920109 + 1  # served in update_id order
    edited = "Đèn đường trước nhà số 12 Lê Lợi, phường Bến Thành bị hỏng 5 ngày nay"
    assert await stored(pool) == [(f"{CHAT}:41", edited)]
    [greeting] = peer.sent_to(CHAT)
    assert greeting.text.startswith("Xin chào!")
    [get_updates] = peer.calls_to("getUpdates")
    assert get_updates.params["allowed_updates"] == ALLOWED_UPDATES
    assert await poller.poll_once() == 0  # the offset confirmed them: Telegram forgets them
    assert peer.pending_updates == []


async def test_the_offset_moves_only_past_stored_updates(telegram_settings, services, peer, pool):
    await peer.push(text_update(501, 1, "Ngập nước ở hẻm 45 Trần Hưng Đạo"))
    broken = await Services.start(services.settings, processing=False)
    await broken.pool.close()  # the database is gone for this process
    poller = Poller(broken, timeout=0)
    with pytest.raises(Exception):  # noqa: B017 - whatever the closed pool raises, the update must stay
        await poller.poll_once()
    await broken.close()
    assert poller.offset is None and [u["update_id"] for u in peer.pending_updates] == [501]
    assert await stored(pool) == []
    poller.services = services
    assert await poller.poll_once() == 1
    assert await stored(pool) == [(f"{CHAT}:1", "Ngập nước ở hẻm 45 Trần Hưng Đạo")]


async def test_run_removes_the_webhook_and_polls_until_stopped(services, peer, pool):
    await polling.set_webhook(services.adapters["telegram"], "https://hotline.example.gov.vn/channels/telegram/webhook",
                              SECRET)
    stop = asyncio.Event()
    running = asyncio.ensure_future(Poller(services, timeout=5).run(stop))
    for _ in range(100):
        if peer.webhook is None and peer.calls_to("getUpdates"):
            break
        await asyncio.sleep(0.02)
    assert peer.webhook is None
    await peer.push(text_update(601, 1, "Cột điện nghiêng sắp đổ ở đường Nguyễn Huệ"))
    for _ in range(200):
        if await stored(pool):
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(running, 5)  # a long poll in progress is cut short
    assert await stored(pool) == [(f"{CHAT}:1", "Cột điện nghiêng sắp đổ ở đường Nguyễn Huệ")]


async def test_polling_waits_out_flood_control_and_outages(services, peer, pool):
    peer.fail_next(502, method="getUpdates")
    await peer.push(text_update(701, 1, "Rác ùn ứ trước chợ"))
    stop = asyncio.Event()
    running = asyncio.ensure_future(Poller(services, timeout=1).run(stop))
    for _ in range(300):  # the first round fails; the next comes after a back-off of 2 s
        if await stored(pool):
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert [call.status for call in peer.calls_to("getUpdates")][:2] == [502, 200]
    assert await stored(pool) == [(f"{CHAT}:1", "Rác ùn ứ trước chợ")]


async def test_set_webhook_needs_a_secret_telegram_accepts(services):
    adapter = services.adapters["telegram"]
    for secret in (None, "", "có dấu", "x" * 257):
        with pytest.raises(ValueError):
            await polling.set_webhook(adapter, "https://hotline.example.gov.vn/channels/telegram/webhook", secret)


def _cli_env(settings, peer) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOTLINE_")}
    env.update({
        "HOTLINE_TELEGRAM_TOKEN": TOKEN, "HOTLINE_TELEGRAM_SECRET": SECRET, "HOTLINE_TELEGRAM_API_URL": peer.api_url,
        "HOTLINE_PUBLIC_URL": "https://hotline.example.gov.vn", "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url, "HOTLINE_VAR_DIR": str(settings.var_dir), "HOTLINE_CLASSIFIER_MODEL": "none",
        "HOTLINE_GEOCODER": "none",
    })
    return env


async def _hotline(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.cli", *args, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_the_set_webhook_command_registers_the_public_url_with_the_secret(telegram_settings, peer):
    process = await _hotline(_cli_env(telegram_settings, peer), "telegram", "set-webhook")
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith("webhook set: https://hotline.example.gov.vn/channels/telegram/webhook")
    assert peer.webhook is not None
    assert (peer.webhook.url, peer.webhook.secret_token, peer.webhook.allowed_updates) == (
        "https://hotline.example.gov.vn/channels/telegram/webhook", SECRET, ALLOWED_UPDATES)


async def test_the_poll_command_stores_updates_and_stops_on_sigterm(telegram_settings, peer, pool):
    await peer.push(text_update(801, 1, "Cây xanh ngã đè lên dây điện ở đường Điện Biên Phủ"))
    process = await _hotline(_cli_env(telegram_settings, peer), "telegram", "poll", "--timeout", "2")
    try:
        for _ in range(600):
            if await stored(pool) or process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert await stored(pool) == [(f"{CHAT}:1", "Cây xanh ngã đè lên dây điện ở đường Điện Biên Phủ")]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith("polling Telegram for updates")
