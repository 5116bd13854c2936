"""Outbound SMS through Twilio's REST API, and fetching the media Twilio keeps for us (MMS pictures, recordings)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client

from channels.base import DeliveryReceipt, OutboundMessage, PermanentSendError, TransientSendError
from channels.twilio.client import local_url, rest_client
from channels.twilio.gsm import segments, to_gsm7

log = logging.getLogger(__name__)

STATUS_PATH = "/channels/twilio/sms/status"
MEDIA_CHUNK = 64 * 1024
MEDIA_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)

# Twilio's error codes we meet most when sending (https://www.twilio.com/docs/api/errors/<code>).
SEND_ERRORS = {
    "21211": "invalid 'To' phone number",
    "21408": "sending to this region is not enabled on the account",
    "21610": "the number has opted out (it replied STOP to this number): Twilio refuses to send until it replies START",
    "21612": "Twilio cannot route a message from this number to that one",
    "21614": "the 'To' number is not a mobile number",
    "21617": "the message body is too long",
}


# Under an SMS that answers its case (a final reply, the closing notice): a reply "1"-"5" or "0" is the
# rating (casework.conversation.parse_rating reads it). Both fit GSM-7 once folded.
RATING_PROMPT = {
    "vi": "Đánh giá: trả lời 1-5 (5 = rất hài lòng), 0 nếu chưa được giải quyết.",
    "en": "Rate this answer: reply 1-5 (5 = very satisfied), 0 if not solved.",
}


def sms_body(message: OutboundMessage, *, ascii_only: bool) -> str:
    """The SMS as sent: the text, the rating prompt under an answer, folded to GSM-7 when the hotline saves."""
    text = message.text
    if message.rating_url is not None:
        text = f"{text.rstrip()}\n{RATING_PROMPT.get(message.locale, RATING_PROMPT['vi'])}"
    return to_gsm7(text) if ascii_only else text


def send_error(status: int, code: Any) -> TransientSendError | PermanentSendError:
    """What a Twilio API error means for the outbox: 429 and 5xx are worth another try, other 4xx are not."""
    provider_code = str(code if code is not None else status)
    if status == 429 or status >= 500:
        return TransientSendError(f"Twilio is busy or failing (HTTP {status})", provider_code=provider_code)
    meaning = SEND_ERRORS.get(provider_code, "see Twilio's error reference")
    # Twilio's own message is not kept: it quotes the phone number.
    return PermanentSendError(f"Twilio refused the message (HTTP {status}): {meaning}", provider_code=provider_code)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the outbox's own back-off applies


class TwilioAdapter:
    """SMS out (acknowledgements, replies, notices) and media in (MMS pictures, call recordings).

    One REST client and one HTTP session, made on first use (inside the running loop) and closed by close().
    """

    name = "sms"

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._session: aiohttp.ClientSession | None = None

    def _rest(self) -> Client:
        if self._client is None:
            self._client = rest_client(self.settings)
        return self._client

    def _media_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=MEDIA_TIMEOUT)
        return self._session

    async def close(self) -> None:
        """Close the REST client's and the media session's connections."""
        if self._client is not None:
            await self._client.http_client.close()
            self._client = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Send one SMS; Twilio reports its fate later to the status callback, which names our message id."""
        if not message.recipient:
            raise PermanentSendError("no phone number to send the SMS to")
        settings = self.settings
        body = sms_body(message, ascii_only=settings.sms_ascii)
        callback = f"{settings.public_url}{STATUS_PATH}?m={message.message_id}"
        try:
            created = await self._rest().messages.create_async(
                to=message.recipient, from_=settings.twilio_number, body=body, status_callback=callback)
        except (TwilioRestException, TwilioServiceException) as e:
            raise send_error(int(e.status), e.code) from None
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransientSendError(f"Twilio unreachable: {type(e).__name__}") from e
        return DeliveryReceipt(provider_message_id=created.sid, status="sent", segments=segments(body))

    def _twilio_origin(self, url: str) -> bool:
        """Whether a URL is Twilio's (or the configured API's): only there do our account's credentials go."""
        parts = urlsplit(url)
        api = urlsplit(self.settings.twilio_api_url)
        host = (parts.hostname or "").lower()
        return (parts.scheme, parts.netloc) == (api.scheme, api.netloc) or (
            parts.scheme == "https" and (host == "twilio.com" or host.endswith(".twilio.com")))

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        """The media's bytes and content type, with the account's credentials, read up to max_media_bytes.

        Twilio answers a media URL with a redirect to its storage, which never sees the credentials.
        """
        target = local_url(self.settings, url)
        if not self._twilio_origin(target):
            raise PermanentSendError("not a Twilio media URL: the account's credentials are not sent there")
        limit = self.settings.max_media_bytes
        # aiohttp drops this header when a redirect leaves the origin.
        auth = {"Authorization": aiohttp.encode_basic_auth(self.settings.twilio_account_sid,
                                                           self.settings.twilio_auth_token)}
        try:
            async with self._media_session().get(target, headers=auth, allow_redirects=True) as resp:
                if resp.status == 429 or resp.status >= 500:
                    raise TransientSendError(f"media: HTTP {resp.status}", provider_code=str(resp.status),
                                             retry_after=_retry_after(resp.headers.get("Retry-After")))
                if resp.status != 200:
                    raise PermanentSendError(f"media: HTTP {resp.status}", provider_code=str(resp.status))
                if resp.content_length is not None and resp.content_length > limit:
                    raise PermanentSendError(f"media larger than {limit} bytes")
                data = bytearray()
                async for chunk in resp.content.iter_chunked(MEDIA_CHUNK):
                    data += chunk
                    if len(data) > limit:
                        raise PermanentSendError(f"media larger than {limit} bytes")
                content_type = resp.headers.get("Content-Type", "application/octet-stream")
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransientSendError(f"media unreachable: {type(e).__name__}") from e
        return bytes(data), content_type
