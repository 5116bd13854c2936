"""The Twilio adapter against a minimal fake of Twilio's REST API: SMS out, media in."""

from __future__ import annotations

import base64
import itertools
from typing import Any

import pytest
from aiohttp import web

from channels.base import OutboundMessage, PermanentSendError, TransientSendError
from channels.twilio.adapter import TwilioAdapter
from channels.twilio.gsm import segments
from tests.channels.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, CITIZEN, HOTLINE_NUMBER

ACK = "Đường dây nóng 1022 đã tiếp nhận phản ánh của bạn. Mã hồ sơ: 123 456 789 0. Tra cứu tại https://x.vn/t"
MEDIA_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'a1' * 16}/Media/ME{'b2' * 16}"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8


def twilio_sid(prefix: str, n: int) -> str:
    """A Twilio SID: two letters and 32 hex digits, with letters among them as in real ones."""
    return f"{prefix}{'5f' * 15}{n:02x}"


def _basic(sid: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()


class FakeTwilio:
    """POST /2010-04-01/Accounts/{sid}/Messages.json and media URLs, as Twilio answers them; records requests."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.failures: list[tuple[int, dict[str, Any] | str]] = []  # answered before any success, in order
        self.media: dict[str, web.StreamResponse | None] = {}
        self.media_auth: list[str | None] = []
        self._sids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.create_message)
        app.router.add_get("/2010-04-01/Accounts/{sid}/Messages/{mm}/Media/{me}", self.media_item)
        return app

    async def create_message(self, request: web.Request) -> web.Response:
        if (request.headers.get("Authorization") != _basic(ACCOUNT_SID, AUTH_TOKEN)
                or request.match_info["sid"] != ACCOUNT_SID):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        form = dict(await request.post())
        self.messages.append(form)
        if self.failures:
            status, body = self.failures.pop(0)
            if isinstance(body, str):
                return web.Response(status=status, text=body)
            return web.json_response(body, status=status)
        sid = twilio_sid("SM", next(self._sids))
        return web.json_response({
            "account_sid": ACCOUNT_SID, "api_version": "2010-04-01", "body": form["Body"],
            "date_created": "Thu, 03 Dec 2026 09:00:00 +0000", "date_sent": None,
            "date_updated": "Thu, 03 Dec 2026 09:00:00 +0000", "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": form["From"], "messaging_service_sid": None, "num_media": "0",
            "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json"},
            "to": form["To"], "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
        }, status=201)

    async def media_item(self, request: web.Request) -> web.StreamResponse:
        self.media_auth.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != _basic(ACCOUNT_SID, AUTH_TOKEN):
            return web.Response(status=401)
        answer = self.media.get(request.path)
        if answer is None:
            return web.json_response({"code": 20404, "message": "The requested resource was not found",
                                      "status": 404}, status=404)
        return answer


@pytest.fixture
async def fake(aiohttp_server) -> tuple[FakeTwilio, str]:
    twilio = FakeTwilio()
    server = await aiohttp_server(twilio.app())
    return twilio, str(server.make_url("/")).rstrip("/")


@pytest.fixture
async def make_adapter(twilio_settings, fake):
    """Adapters on the fake's URL (settings overridable); each is closed after the test."""
    made: list[TwilioAdapter] = []

    def make(**overrides: Any) -> TwilioAdapter:
        adapter = TwilioAdapter(twilio_settings.model_copy(update={"twilio_api_url": fake[1], **overrides}))
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.close()


def _message(text: str = ACK, recipient: str | None = CITIZEN, message_id: int = 42) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, channel="sms", recipient=recipient, text=text, case_code="1234567890")


async def test_send_posts_the_message_as_twilio_expects(fake, make_adapter):
    twilio, _ = fake
    receipt = await make_adapter().send(_message())
    assert receipt.provider_message_id == twilio_sid("SM", 1)
    assert receipt.status == "sent"
    assert receipt.segments == segments(ACK) == 2  # Unicode: 70 characters a segment
    assert twilio.messages == [{
        "To": CITIZEN, "From": HOTLINE_NUMBER, "Body": ACK,
        "StatusCallback": "https://hotline.example.gov.vn/channels/twilio/sms/status?m=42",
    }]


async def test_ascii_setting_folds_the_text_into_gsm7(fake, make_adapter):
    twilio, _ = fake
    receipt = await make_adapter(sms_ascii=True).send(_message())
    body = twilio.messages[0]["Body"]
    assert body.startswith("Duong day nong 1022 da tiep nhan phan anh cua ban. Ma ho so: 123 456 789 0.")
    assert receipt.segments == 1


async def test_wrong_credentials_are_refused_for_good(fake, make_adapter):
    with pytest.raises(PermanentSendError) as e:
        await make_adapter(twilio_auth_token="wrong").send(_message())
    assert e.value.provider_code == "20003"


@pytest.mark.parametrize(("status", "body", "code"), [
    (429, {"code": 20429, "message": "Too Many Requests", "status": 429}, "20429"),
    (500, {"code": 20500, "message": "Internal Server Error", "status": 500}, "20500"),
    (503, "<html>Service Unavailable</html>", "503"),
])
async def test_busy_or_failing_twilio_is_transient(fake, make_adapter, status, body, code):
    twilio, _ = fake
    twilio.failures.append((status, body))
    with pytest.raises(TransientSendError) as e:
        await make_adapter().send(_message())
    assert e.value.provider_code == code
    assert str(status) in e.value.reason


async def test_invalid_number_is_permanent_and_the_number_is_not_kept(fake, make_adapter):
    twilio, _ = fake
    twilio.failures.append((400, {"code": 21211, "message": f"The 'To' number {CITIZEN} is not a valid phone number.",
                                  "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}))
    with pytest.raises(PermanentSendError) as e:
        await make_adapter().send(_message())
    assert e.value.provider_code == "21211"
    assert "invalid 'To' phone number" in e.value.reason and CITIZEN not in e.value.reason


async def test_opted_out_number_is_permanent(fake, make_adapter):
    twilio, _ = fake
    twilio.failures.append((400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                                  "status": 400}))
    with pytest.raises(PermanentSendError) as e:
        await make_adapter().send(_message())
    assert e.value.provider_code == "21610" and "opted out" in e.value.reason


async def test_no_recipient_is_permanent_and_nothing_is_sent(fake, make_adapter):
    twilio, _ = fake
    with pytest.raises(PermanentSendError):
        await make_adapter().send(_message(recipient=None))
    assert twilio.messages == []


async def test_unreachable_twilio_is_transient(make_adapter, unused_tcp_port):
    adapter = make_adapter(twilio_api_url=f"http://127.0.0.1:{unused_tcp_port}")
    with pytest.raises(TransientSendError) as e:
        await adapter.send(_message())
    assert "unreachable" in e.value.reason


async def test_one_client_serves_every_send(fake, make_adapter):
    twilio, _ = fake
    adapter = make_adapter()
    first = await adapter.send(_message(message_id=1))
    client = adapter._client
    second = await adapter.send(_message(message_id=2))
    assert adapter._client is client is not None
    assert first.provider_message_id != second.provider_message_id
    assert [m["StatusCallback"][-4:] for m in twilio.messages] == ["?m=1", "?m=2"]
    await adapter.close()
    assert adapter._client is None


# Media: Twilio answers a media URL with a redirect to its storage, which must not see our credentials.


@pytest.fixture
async def storage(aiohttp_server):
    """Another origin, standing in for the storage Twilio redirects media requests to."""
    seen: list[str | None] = []

    async def item(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.Response(body=JPEG, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/media/{name}", item)
    server = await aiohttp_server(app)
    return seen, str(server.make_url("/media/photo.jpg"))


async def test_fetch_media_follows_the_redirect_without_credentials(fake, make_adapter, storage):
    twilio, _ = fake
    seen, storage_url = storage
    twilio.media[MEDIA_PATH] = web.Response(status=307, headers={"Location": storage_url})
    data, content_type = await make_adapter().fetch_media(f"https://api.twilio.com{MEDIA_PATH}")
    assert (data, content_type) == (JPEG, "image/jpeg")
    assert twilio.media_auth == [_basic(ACCOUNT_SID, AUTH_TOKEN)]
    assert seen == [None]


async def test_fetch_media_served_directly(fake, make_adapter):
    twilio, base = fake
    twilio.media[MEDIA_PATH] = web.Response(body=b"GIF89a...", content_type="image/gif")
    assert await make_adapter().fetch_media(base + MEDIA_PATH) == (b"GIF89a...", "image/gif")


async def test_fetch_media_404_is_permanent(fake, make_adapter):
    with pytest.raises(PermanentSendError) as e:
        await make_adapter().fetch_media(f"https://api.twilio.com{MEDIA_PATH}")
    assert e.value.provider_code == "404"


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_fetch_media_server_errors_are_transient(fake, make_adapter, status):
    twilio, _ = fake
    twilio.media[MEDIA_PATH] = web.Response(status=status, headers={"Retry-After": "7"})
    with pytest.raises(TransientSendError) as e:
        await make_adapter().fetch_media(f"https://api.twilio.com{MEDIA_PATH}")
    assert e.value.provider_code == str(status) and e.value.retry_after == 7


async def test_fetch_media_too_large_by_its_length(fake, make_adapter):
    twilio, _ = fake
    twilio.media[MEDIA_PATH] = web.Response(body=JPEG, content_type="image/jpeg")
    with pytest.raises(PermanentSendError) as e:
        await make_adapter(max_media_bytes=len(JPEG) - 1).fetch_media(f"https://api.twilio.com{MEDIA_PATH}")
    assert "larger than" in e.value.reason


async def test_fetch_media_too_large_while_streaming(fake, make_adapter, aiohttp_server):
    twilio, _ = fake
    async def endless(request: web.Request) -> web.StreamResponse:
        # Chunked, without Content-Length: only reading shows the size.
        resp = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(64):
            await resp.write(b"\0" * 65536)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/big", endless)
    other = await aiohttp_server(app)
    twilio.media[MEDIA_PATH] = web.Response(status=302, headers={"Location": str(other.make_url("/big"))})
    with pytest.raises(PermanentSendError) as e:
        await make_adapter(max_media_bytes=100_000).fetch_media(f"https://api.twilio.com{MEDIA_PATH}")
    assert "larger than 100000 bytes" in e.value.reason


async def test_fetch_media_refuses_other_hosts_before_sending_credentials(fake, make_adapter, storage):
    seen, storage_url = storage
    with pytest.raises(PermanentSendError):
        await make_adapter().fetch_media(storage_url)
    assert seen == []


async def test_fetch_media_unreachable_is_transient(make_adapter, unused_tcp_port):
    adapter = make_adapter(twilio_api_url=f"http://127.0.0.1:{unused_tcp_port}")
    with pytest.raises(TransientSendError):
        await adapter.fetch_media(f"https://api.twilio.com{MEDIA_PATH}")
