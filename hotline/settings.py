"""Settings, read once from the environment and passed down."""

from __future__ import annotations

import hashlib
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the hotline can be told from outside; prefix HOTLINE_."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore", populate_by_name=True)

    # With neither URL set the hotline starts embedded servers with their data under var_dir.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "HOTLINE_DATABASE_URL")
    )
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "HOTLINE_REDIS_URL"))
    var_dir: Path = Path("var")

    host: str = "127.0.0.1"
    port: int = 8080
    # The address citizens and providers reach us at; used in status links and webhook signatures.
    # Unset, it is derived from host and port.
    public_base_url: str | None = Field(default=None, validation_alias=AliasChoices("HOTLINE_PUBLIC_URL"))

    db_pool_min: int = 2
    db_pool_max: int = 10
    # Ask the server for short TCP keepalives on each connection (a vanished worker's claims are freed
    # in about 2 minutes). PgBouncer refuses these startup parameters: set false behind a pooler.
    db_keepalives: bool = True
    # A request waits at most this long for a database connection; then it answers 503 (never hangs).
    db_acquire_timeout_seconds: float = Field(default=5.0, gt=0)
    # While the database is unreachable every endpoint answers 503 with Retry-After: this many seconds.
    retry_after_seconds: int = Field(default=5, ge=1)

    session_ttl_hours: int = 12

    # Intake limits: the JSON API takes text only; photos go in multipart bodies.
    max_json_bytes: int = 256 * 1024
    max_text_chars: int = 20_000
    max_photos: int = 5
    max_photo_bytes: int = 10 * 1024 * 1024

    # A report not processed this long after intake is re-enqueued by the sweeper.
    sweep_after_seconds: int = 60
    sweep_interval_seconds: int = 15
    job_max_tries: int = 8
    # The longest one delivery may take; a message still `sending` this long (plus a margin) after
    # it was claimed belongs to a worker that died, and goes back to the queue.
    send_timeout_seconds: int = 30
    # Workers claim this many cases (or outbox messages) at a time; an idle worker looks for work
    # this often even without a wake-up.
    process_batch_size: int = 100
    send_batch_size: int = 100
    send_concurrency: int = 20
    worker_poll_seconds: float = 1.0
    # "background": requests answer once their rows are stored and wake the workers in batches right
    # after; "inline": the request sends its wake-up itself. Either way workers also poll.
    intake_enqueue: Literal["background", "inline"] = "background"
    # Each worker writes a heartbeat (its loops' last rounds) to PostgreSQL this often. A worker whose
    # heartbeat is older than `worker_alive_seconds` counts as gone; a loop that has not finished a round
    # for `worker_stall_seconds` (or three of its own intervals, if longer) is stalled.
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    worker_alive_seconds: float = Field(default=30.0, gt=0)
    worker_stall_seconds: float = Field(default=60.0, gt=0)
    # /healthz answers 503 when no worker anywhere has a fresh heartbeat (turn off for a web-only test rig).
    healthz_require_worker: bool = True
    # The reports' legal answer limit in working days ("answered within the legal limit"): 10, the longest
    # handling limit in the codified rules of topic 44.12 (docs/metrics.md); a city may set its own.
    legal_answer_days: int = Field(default=10, ge=1, le=60)

    # "auto": the model built by `hotline train` if present; "none": every case goes to triage.
    classifier_model: str = "auto"
    queue_name: str = "hotline:queue"
    # Where the ward boundaries come from when the gazetteer is built (`make` builds it; by default the
    # shared data beside the repository). "none" turns geocoding off.
    geocoder: str = "auto"
    admin_units_dir: Path | None = None
    # Optional: a Nominatim server that refines points for addresses (needs `pip install .[online]`).
    nominatim_url: str | None = None
    # The national procedure catalogue (it carries no licence to ship it here): by default the copy
    # beside the repository. `hotline demo` imports it once when it is there.
    procedures_dir: Path = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "procedures"

    # What kind of deployment this is: `hotline demo` refuses to create its well-known sign-ins in production.
    env: Literal["development", "production", "test"] = Field(
        default="development", validation_alias=AliasChoices("HOTLINE_ENV")
    )

    # Requests per client address and window (seconds) on the public and sign-in endpoints, shared by
    # every web process through Redis; 0 requests turns one class off. Each process decides locally and
    # syncs its counts with Redis every `rate_limit_sync_seconds` at most, so several processes together
    # may let a client slightly past its limit (see hotline/ratelimit.py). When Redis is unreachable
    # every request is let through: intake is never refused for want of a counter.
    rate_limits_enabled: bool = True
    rate_limit_intake_requests: int = 60
    rate_limit_intake_window_seconds: int = 60
    rate_limit_lookup_requests: int = 60
    rate_limit_lookup_window_seconds: int = 60
    rate_limit_login_requests: int = 10
    rate_limit_login_window_seconds: int = 60
    rate_limit_open311_requests: int = 60
    rate_limit_open311_window_seconds: int = 60
    rate_limit_sync_seconds: float = 0.05
    # Reverse proxies whose X-Forwarded-For is believed, as addresses or networks (comma-separated).
    # Empty: the peer address is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = []

    # Staff sign-in: this many failures for one user name within the window lock it for the lockout
    # period, whatever the password (0 failures turns the lockout off).
    login_max_failures: int = 5
    login_failure_window_seconds: int = 900
    login_lockout_seconds: int = 900
    # API tokens issued from the command line expire after this many days unless told otherwise (0: never).
    api_token_days: int = 90
    # host:port of a second listener serving /metrics without authentication (keep it private). On the
    # main address /metrics always needs an admin token.
    metrics_listen: str | None = None

    # Phone and SMS through Twilio. With the account SID, auth token and number all set the channel is
    # on; otherwise its webhooks answer 404. The API URL is Twilio's unless a local peer stands in
    # (tests, demos, `hotline twilio peer`).
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_number: str | None = None  # E.164, the number citizens call and text
    twilio_api_url: str = "https://api.twilio.com"
    # SMS in GSM-7 (diacritics folded: cheaper, 160 characters a segment) instead of Unicode (70).
    sms_ascii: bool = False
    # A text within this many hours after our last SMS to the number joins that case (if still open).
    sms_reply_window_hours: float = Field(default=72.0, gt=0)
    # The IVR: hours when agents take calls (local time, "HH:MM-HH:MM"), callers waiting at most,
    # and how long a caller waits for an agent before leaving a voicemail.
    ivr_agent_hours: str = "07:00-21:00"
    ivr_queue_max: int = Field(default=20, ge=0)
    ivr_max_wait_seconds: int = Field(default=180, ge=10)
    # Twilio's voice for Vietnamese (Twilio's voice list: Google voices speak vi-VN).
    ivr_voice_vi: str = "Google.vi-VN-Standard-A"
    ivr_voice_en: str = "Polly.Joanna"
    # The largest media (MMS picture, recording) fetched from the provider.
    max_media_bytes: int = 10 * 1024 * 1024

    # Telegram. With a bot token the channel is on (otherwise its webhook answers 404). The API URL is
    # python-telegram-bot's base_url (the token is appended); the file URL likewise (unset: derived
    # from the API URL, ".../bot" -> ".../file/bot"). The secret is checked on every webhook call.
    telegram_token: str | None = None
    telegram_secret: str | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_url: str | None = None
    # A chat message joins the chat's case this long after our last message about it (if still open).
    telegram_reply_window_hours: float = Field(default=24.0 * 30, gt=0)

    # Email. In: an SMTP listener (host:port) inside `hotline serve` and the worker, and/or IMAP polling
    # of a mailbox (imaps://user:pass@host:port/INBOX). Out: SMTP (smtp:// or smtps://, `?starttls=true`,
    # user:pass@ for a login) from `mail_from`. Each is off while unset.
    smtp_listen: str | None = None
    imap_url: str | None = None
    imap_poll_seconds: float = Field(default=30.0, gt=0)
    smtp_url: str | None = None
    mail_from: str | None = None  # "1022 TP.HCM <tiepnhan@1022.hochiminhcity.gov.vn>"
    max_mail_bytes: int = 25 * 1024 * 1024
    # Mails from one sender within an hour beyond this are stored but not acknowledged.
    mail_rate_limit_per_hour: int = Field(default=20, ge=1)

    # Signs the links citizens rate an answer with (and any other token the hotline hands out). Required
    # with HOTLINE_ENV=production: the development key is derived from the database's URL, which is no secret.
    secret_key: SecretStr | None = None

    @model_validator(mode="after")
    def _secret_in_production(self) -> Settings:
        if self.env == "production" and (self.secret_key is None or len(self.secret_key.get_secret_value()) < 32):
            raise ValueError("HOTLINE_SECRET_KEY (at least 32 characters, e.g. `openssl rand -hex 32`) is required"
                             " with HOTLINE_ENV=production: rating links are signed with it")
        return self

    @property
    def signing_key(self) -> bytes:
        """The key links are signed with: HOTLINE_SECRET_KEY, else (development, tests) one every process of the
        same database derives alike."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        where = self.database_url or str(self.var_dir.resolve())
        return hashlib.sha256(f"hotline-1022 development key|{where}".encode()).digest()

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_listen or self.imap_url or self.smtp_url)

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_number)

    @field_validator("ivr_agent_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return value
        return [str(ip_network(str(item).strip(), strict=False)) for item in items if str(item).strip()]

    @field_validator("metrics_listen")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_host_port(value)
        return value

    @property
    def public_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def max_multipart_bytes(self) -> int:
        return self.max_photos * self.max_photo_bytes + 1024 * 1024


def parse_hours(value: str) -> tuple[int, int]:
    """Minutes after midnight of "HH:MM-HH:MM" (end may be 24:00; an end before the start spans midnight)."""
    try:
        start, end = (part.strip() for part in value.split("-"))
        minutes = []
        for part in (start, end):
            hours, mins = part.split(":")
            total = int(hours) * 60 + int(mins)
            if not (0 <= int(mins) < 60 and 0 <= total <= 24 * 60):
                raise ValueError
            minutes.append(total)
    except ValueError:
        raise ValueError(f"expected HH:MM-HH:MM, got {value!r}") from None
    return minutes[0], minutes[1]


def split_host_port(listen: str) -> tuple[str, int]:
    """Split `host:port` (`[::1]:9100` for IPv6) into its parts; ValueError when it is not that."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {listen!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)
