"""Open311 use cases: issue and revoke API keys, check a key, and take a request in as a case."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import asyncpg

from casework import actions as casework
from casework.models import Actor
from integrations.open311 import store
from integrations.open311.models import JURISDICTION_ID, Client, RequestForm, build_event, service_name
from kernel.errors import Forbidden

log = logging.getLogger(__name__)

KEY_PREFIX = "o311_"


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


async def create_client(pool: asyncpg.Pool, name: str) -> str:
    """Issue an API key for a client application; the key is shown once and stored hashed."""
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    async with pool.acquire() as conn:
        client_id = await store.insert_client(conn, name.strip(), key_hash(api_key), JURISDICTION_ID)
    log.info("open311 client %s: key issued", client_id)
    return api_key


async def revoke_client(pool: asyncpg.Pool, name: str) -> int:
    """Revoke every key of a client application; return how many were live."""
    async with pool.acquire() as conn:
        return await store.revoke_clients(conn, name.strip())


async def authenticate(pool: asyncpg.Pool, api_key: str | None) -> Client:
    """The client behind an API key; 403 as the specification says when it is missing, unknown or revoked."""
    if not api_key or not api_key.strip():
        raise Forbidden("api_key was not provided")
    async with pool.acquire() as conn:
        row = await store.client_by_key_hash(conn, key_hash(api_key.strip()))
    if row is None:
        raise Forbidden("invalid api_key")
    return Client(id=row["id"], name=row["name"], jurisdiction_id=row["jurisdiction_id"])


@dataclass(frozen=True, slots=True)
class Submitted:
    case_id: int
    tracking_code: str
    token: str
    created: bool


async def submit_request(pool: asyncpg.Pool, client: Client, form: RequestForm, *, raw: dict[str, Any],
                         idempotency_key: str | None = None) -> Submitted:
    """Open a case for a service request through casework intake, and remember its token and service.

    The case, its note and the Open311 request row are one transaction: if any write fails, no case is
    left behind without the token the client was promised.
    """
    token = secrets.token_hex(16)
    event = build_event(form, client_id=client.id, token=token, idempotency_key=idempotency_key, raw=raw)
    # The classifier decides the case's field; the citizen's choice is kept for the agent who triages.
    chosen = f"{form.service_code} ({service_name(form.service_code, 'vi')})"
    urgent = "; the citizen says there is immediate danger" if form.urgent else ""
    note = (Actor(kind="system", name=f"open311:{client.name}"),
            f"Open311 request from {client.name}: the citizen chose the service {chosen}{urgent}.")
    async with pool.acquire() as conn, conn.transaction():
        result = await casework.record_inbound_on(conn, event, note=note)
        token = await store.save_request(conn, token=token, case_id=result.case_id, client_id=client.id,
                                         service_code=form.service_code, address_id=form.address_id,
                                         media_url=form.media_url)
    if result.created:
        log.info("open311 client %s: case %s opened", client.id, result.case_id)
    return Submitted(result.case_id, result.tracking_code, token, result.created)
