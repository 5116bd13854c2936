"""The worker's provider work: nothing is sent to a number that said STOP; provider media are fetched and attached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from casework import actions
from casework.intake import InboundEvent, SenderIdentity
from channels.base import DeliveryReceipt, OutboundMessage, PermanentSendError, TransientSendError
from hotline import pipeline
from hotline.services import Services
from kernel.time import FixedClock

PHONE = "+84901234567"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Provider:
    """A stand-in for a provider's API: records what is sent, serves media by URL."""

    name = "sms"

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.media: dict[str, object] = {}

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        self.sent.append(message)
        return DeliveryReceipt(f"SM{message.message_id}", "sent", segments=2)

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        found = self.media[url]
        if isinstance(found, Exception):
            raise found
        return found  # type: ignore[return-value]


async def _services(settings) -> tuple[Services, Provider]:
    services = await Services.start(settings)
    provider = Provider()
    services.adapters["sms"] = provider
    services.clock = FixedClock(datetime.now(UTC))
    return services, provider


async def _sms_case(pool, sid: str = "SM1", media: tuple = ()) -> actions.IntakeResult:
    return await actions.record_inbound(pool, InboundEvent(
        channel="sms", provider_message_id=sid, text="Cống nghẹt", sender=SenderIdentity("phone", PHONE),
        reply_window=timedelta(hours=72), remote_media=media))


async def _queue(pool, case_id: int, key: str) -> int:
    async with pool.acquire() as conn:
        case = await conn.fetchrow("SELECT id, channel, citizen_id, locale FROM cases WHERE id = $1", case_id)
        return await actions.queue_outbound(conn, case, text="Trả lời", kind="reply", key=key, author_id=None,
                                            recipient=PHONE)


async def test_nothing_goes_to_a_number_that_said_stop_until_start(settings, pool):
    services, provider = await _services(settings)
    try:
        case = await _sms_case(pool)
        assert await actions.set_opt_out(pool, "sms", PHONE, True)
        assert not await actions.set_opt_out(pool, "sms", PHONE, True)  # said twice: nothing changes
        stopped = await _queue(pool, case.case_id, "a")
        await pipeline.send_pending(services)
        assert provider.sent == []
        row = await pool.fetchrow("SELECT status, error FROM messages WHERE id = $1", stopped)
        assert row["status"] == "failed" and row["error"].startswith("opted_out")
        assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'delivery_failed'") == 1
        assert await actions.set_opt_out(pool, "sms", PHONE, False)
        again = await _queue(pool, case.case_id, "b")
        await pipeline.send_pending(services)
        assert [m.message_id for m in provider.sent] == [again]
        row = await pool.fetchrow("SELECT status, segments, external_id FROM messages WHERE id = $1", again)
        assert (row["status"], row["segments"], row["external_id"]) == ("sent", 2, f"SM{again}")
    finally:
        await services.close()


async def test_provider_media_are_fetched_once_and_attached(settings, pool):
    services, provider = await _services(settings)
    try:
        url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
        provider.media[url] = (PNG, "image/png")
        case = await _sms_case(pool, media=((url, "image/png"), (url, "image/png")))
        assert await pool.fetchval("SELECT count(*) FROM media_fetches") == 1
        assert await pipeline.fetch_media_pending(services) == 1
        assert await pipeline.fetch_media_pending(services) == 0
        attachment = await pool.fetchrow("SELECT * FROM attachments")
        assert attachment["data"] == PNG and attachment["content_type"] == "image/png"
        assert attachment["message_id"] == case.message_id and attachment["filename"].endswith(".png")
        meta = await pool.fetchval("SELECT attachments FROM messages WHERE id = $1", case.message_id)
        assert meta == [{"filename": attachment["filename"], "content_type": "image/png", "size": len(PNG)}]
        event = await pool.fetchrow("SELECT changes FROM case_events WHERE kind = 'media_fetched'")
        assert event["changes"]["attachment_id"] == attachment["id"]
    finally:
        await services.close()


async def test_a_failing_fetch_is_retried_later_and_a_refused_one_is_said_on_the_case(settings, pool):
    services, provider = await _services(settings)
    try:
        busy, gone = "https://media.example/busy", "https://media.example/gone"
        provider.media[busy] = TransientSendError("503 from the provider")
        provider.media[gone] = PermanentSendError("404: no such media")
        await _sms_case(pool, media=((busy, None), (gone, None)))
        assert await pipeline.fetch_media_pending(services) == 2
        rows = {r["url"]: r for r in await pool.fetch("SELECT * FROM media_fetches")}
        assert rows[busy]["status"] == "queued" and rows[busy]["next_attempt_at"] > services.clock()
        assert rows[gone]["status"] == "failed" and "404" in rows[gone]["error"]
        assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'media_failed'") == 1
        # Not before its time; then it succeeds.
        assert await pipeline.fetch_media_pending(services) == 0
        provider.media[busy] = (b"RIFF....WAVE", "audio/x-wav")
        services.clock = FixedClock(rows[busy]["next_attempt_at"] + timedelta(seconds=1))
        assert await pipeline.fetch_media_pending(services) == 1
        assert await pool.fetchval("SELECT status FROM media_fetches WHERE url = $1", busy) == "done"
    finally:
        await services.close()
