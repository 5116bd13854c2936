"""bench/load.py's Twilio drivers: the webhooks it posts are ones the hotline's Twilio channels take."""

from __future__ import annotations

import asyncpg

from bench import load
from channels.twilio import ivr
from hotline.settings import Settings

PUBLIC = "https://hotline.example.gov.vn"


def twilio_on(settings: Settings, account: load.TwilioAccount) -> Settings:
    return settings.model_copy(update={
        "twilio_account_sid": account.account_sid, "twilio_auth_token": account.auth_token,
        "twilio_number": account.number, "twilio_api_url": "http://127.0.0.1:9", "public_base_url": PUBLIC})


def test_sids_are_twilio_shaped_and_derived_from_the_key() -> None:
    sid = load.twilio_sid("SM", "load-x-1")
    assert sid == load.twilio_sid("SM", "load-x-1")
    assert sid.startswith("SM") and len(sid) == 34 and int(sid[2:], 16) >= 0
    assert sid != load.twilio_sid("SM", "load-x-2")
    assert sid[2:] == load.twilio_sid("CA", "load-x-1")[2:]


def test_spoken_code_reads_the_code_the_ivr_says(settings: Settings) -> None:
    cfg = ivr.Config.from_settings(settings)
    said = str(ivr.report(cfg, ivr.State(), ivr.Receipt(code="7936041822", sms=True))).encode()
    assert load.spoken_code(said) == "7936041822"
    try:
        load.spoken_code(str(ivr.welcome(cfg, ivr.State())).encode())
    except ValueError:
        pass
    else:
        raise AssertionError("a menu that reads no code gave one")


def test_the_default_mix_drives_every_registered_channel_with_a_driver() -> None:
    forms = load.TwilioForms(load.TwilioAccount(public_url=PUBLIC))
    available = load.drivers("key", 1, forms)
    registered = set(load.registered_channels())
    mixed = {driver.channel for driver, _ in load.parse_mix(load.DEFAULT_MIX, available)}
    assert {"web", "open311", "sms", "voice"} <= registered
    assert mixed == registered & set(available) == {"web", "open311", "sms", "voice"}


async def test_sms_and_voice_items_each_open_their_own_case(aiohttp_client, settings: Settings,
                                                            pool: asyncpg.Pool) -> None:
    from hotline.app import create_app

    account = load.TwilioAccount(public_url=PUBLIC)
    client = await aiohttp_client(create_app(twilio_on(settings, account)))
    available = load.drivers("key", 1, load.TwilioForms(account))
    payloads = load.Payloads(1022)
    answers = {}
    for n, channel in enumerate(("sms", "voice", "sms", "voice")):
        driver, key = available[channel], f"load-test-{n}"
        req = driver.build(payloads, key)
        resp = await client.post(req.path, data=req.body, headers=req.headers)
        assert resp.status == driver.ok_status, await resp.text()
        answers[key] = (channel, driver.code_of(await resp.read()))

    rows = {(r["channel"], r["provider_message_id"]): r for r in await pool.fetch(
        "SELECT m.channel, m.provider_message_id, m.sender, c.id, c.tracking_code"
        " FROM messages m JOIN cases c ON c.id = m.case_id WHERE m.direction = 'in'")}
    assert len(rows) == 4
    assert len({r["id"] for r in rows.values()}) == 4  # no item joined another's case
    assert len({r["sender"] for r in rows.values()}) == 4
    for key, (channel, code) in answers.items():
        row = rows[(channel, available[channel].provider_id(key))]
        # The SMS is answered with an empty TwiML; the call hears its case's code.
        assert code == (row["tracking_code"] if channel == "voice" else None)
