"""Settings, read once from the environment and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # "background": intake responds once the report is stored and enqueues in batches right after;
    # "inline": the request waits for Redis too. Either way the sweeper is the backstop.
    intake_enqueue: Literal["background", "inline"] = "background"

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

    @property
    def public_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def max_multipart_bytes(self) -> int:
        return self.max_photos * self.max_photo_bytes + 1024 * 1024
