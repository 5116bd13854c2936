"""POST /api/v1/reports: storing, idempotency and every kind of bad input."""

import asyncio
import io
import json
import unicodedata

import aiohttp

from kernel.http import SERVICES

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
REPORT = {"text": "Cây đổ chắn ngang đường Nguyễn Huệ, xe không qua được", "phone": "0901 234 567",
          "email": "An.Nguyen@Example.VN", "name": "Nguyễn Văn An", "address": "12 Nguyễn Huệ, Bến Nghé"}


async def _count(client, table: str) -> int:
    return await client.app[SERVICES].pool.fetchval(f"SELECT count(*) FROM {table}")


async def test_report_is_stored_before_the_response(client, run_worker):
    resp = await client.post("/api/v1/reports", json=REPORT)
    assert resp.status == 201
    body = await resp.json()
    code = body["tracking_code"]
    assert len(code) == 10 and code.isdigit()
    assert body["status_url"] == f"http://hotline.test/track/{code}"
    pool = client.app[SERVICES].pool
    case = await pool.fetchrow("SELECT * FROM cases WHERE tracking_code = $1", code)
    assert case["status"] == "received" and case["channel"] == "web"
    assert case["description"] == REPORT["text"]
    message = await pool.fetchrow("SELECT * FROM messages WHERE case_id = $1", case["id"])
    assert message["direction"] == "in" and message["raw"] == REPORT  # the payload as sent
    assert message["identities"] == [{"kind": "phone", "value": "+84901234567"},
                                     {"kind": "email", "value": "An.Nguyen@example.vn"}]
    event = await pool.fetchrow("SELECT * FROM case_events WHERE case_id = $1", case["id"])
    assert event["kind"] == "received" and event["actor_kind"] == "citizen"
    # Processing recognises the citizen behind the phone and email.
    await run_worker()
    assert await pool.fetchval("SELECT citizen_id FROM cases WHERE id = $1", case["id"]) is not None
    idents = {(r["kind"], r["value"]) for r in await pool.fetch("SELECT kind, value FROM citizen_identities")}
    assert idents == {("phone", "+84901234567"), ("email", "An.Nguyen@example.vn")}


async def test_same_idempotency_key_gives_the_same_case(client):
    headers = {"Idempotency-Key": "form-7f3a"}
    first = await client.post("/api/v1/reports", json=REPORT, headers=headers)
    second = await client.post("/api/v1/reports", json=REPORT, headers=headers)
    assert first.status == second.status == 201
    assert (await first.json())["tracking_code"] == (await second.json())["tracking_code"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert await _count(client, "cases") == 1
    assert await _count(client, "messages") == 1


async def test_reused_idempotency_key_with_another_body_is_refused(client):
    headers = {"Idempotency-Key": "k-1"}
    assert (await client.post("/api/v1/reports", json=REPORT, headers=headers)).status == 201
    resp = await client.post("/api/v1/reports", json={**REPORT, "text": "khác"}, headers=headers)
    assert resp.status == 422
    assert (await resp.json())["error"] == "idempotency_key_reused"
    assert await _count(client, "cases") == 1


async def test_reports_without_a_key_are_separate_cases(client, run_worker):
    for _ in range(2):
        assert (await client.post("/api/v1/reports", json=REPORT)).status == 201
    assert await _count(client, "cases") == 2
    await run_worker()
    # The same phone and email are one citizen across both reports.
    assert await _count(client, "citizens") == 1


async def test_malformed_json_is_400_with_a_reason(client):
    resp = await client.post("/api/v1/reports", data=b'{"text": "ngap', headers={"Content-Type": "application/json"})
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "malformed_json" and "malformed JSON" in body["detail"]["message"]
    assert await _count(client, "cases") == 0


async def test_missing_text_names_the_field(client):
    for payload in ({"name": "An"}, {"text": "   "}, {"text": 42}):
        resp = await client.post("/api/v1/reports", json=payload)
        assert resp.status == 400, payload
        assert (await resp.json())["detail"]["field"] == "text"


async def test_bad_phone_email_and_point_name_the_field(client):
    cases = [({"phone": "12"}, "phone"), ({"email": "not-an-email"}, "email"), ({"lat": 95, "lon": 106}, "lat"),
             ({"lat": 10.77}, "lon")]
    for extra, field in cases:
        resp = await client.post("/api/v1/reports", json={"text": "Đèn đường hỏng", **extra})
        assert resp.status == 400, extra
        assert (await resp.json())["detail"]["field"] == field


async def test_wrong_content_type_is_415(client):
    resp = await client.post("/api/v1/reports", data="text=hello", headers={"Content-Type": "text/plain"})
    assert resp.status == 415
    assert (await resp.json())["error"] == "unsupported_media_type"


async def test_oversized_json_is_413(client):
    body = json.dumps({"text": "x" * (300 * 1024)})
    resp = await client.post("/api/v1/reports", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert await _count(client, "cases") == 0


async def test_text_longer_than_the_limit_is_400(client):
    resp = await client.post("/api/v1/reports", json={"text": "ngập " * 5000})
    assert resp.status == 400 and (await resp.json())["detail"]["field"] == "text"


async def test_text_is_nfc_normalised(client):
    decomposed = unicodedata.normalize("NFD", "Đường ngập nước")
    assert decomposed != "Đường ngập nước"
    resp = await client.post("/api/v1/reports", json={"text": decomposed})
    code = (await resp.json())["tracking_code"]
    stored = await client.app[SERVICES].pool.fetchval("SELECT description FROM cases WHERE tracking_code = $1", code)
    assert stored == "Đường ngập nước"


async def test_html_is_kept_as_text(client):
    text = "<script>alert(1)</script> <b>đèn</b> hỏng"
    resp = await client.post("/api/v1/reports", json={"text": text})
    code = (await resp.json())["tracking_code"]
    stored = await client.app[SERVICES].pool.fetchval("SELECT description FROM cases WHERE tracking_code = $1", code)
    assert stored == text


def _multipart(photos, text="Rác ứ đọng ở đầu hẻm 45"):
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("text", text)
    for name, data, ctype in photos:
        form.add_field("photos", io.BytesIO(data), filename=name, content_type=ctype)
    return form


async def test_multipart_report_keeps_photos(client):
    resp = await client.post("/api/v1/reports", data=_multipart([("ảnh 1.png", PNG, "image/png")] * 2))
    assert resp.status == 201
    rows = await client.app[SERVICES].pool.fetch("SELECT filename, content_type, size, data FROM attachments")
    assert [(r["filename"], r["content_type"], r["size"]) for r in rows] == [("ảnh 1.png", "image/png", len(PNG))] * 2
    assert rows[0]["data"] == PNG


async def test_six_photos_are_refused(client):
    resp = await client.post("/api/v1/reports", data=_multipart([("a.png", PNG, "image/png")] * 6))
    assert resp.status == 400
    assert (await resp.json())["detail"]["field"] == "photos"
    assert await _count(client, "cases") == 0


async def test_a_photo_over_10_mb_is_413(client):
    big = PNG + b"\x00" * (10 * 1024 * 1024)
    resp = await client.post("/api/v1/reports", data=_multipart([("big.png", big, "image/png")]))
    assert resp.status == 413
    assert await _count(client, "cases") == 0


async def test_a_file_that_is_not_an_image_is_415(client):
    resp = await client.post("/api/v1/reports", data=_multipart([("x.png", b"%PDF-1.7 not an image", "image/png")]))
    assert resp.status == 415
    assert (await resp.json())["detail"]["field"] == "photos"
    assert await _count(client, "cases") == 0


async def test_bad_idempotency_key_is_400(client):
    resp = await client.post("/api/v1/reports", json=REPORT, headers={"Idempotency-Key": "x" * 300})
    assert resp.status == 400
    assert (await resp.json())["detail"]["field"] == "Idempotency-Key"


async def test_report_is_stored_even_when_redis_is_down(client):
    await client.app[SERVICES].redis.aclose()
    client.app[SERVICES].redis.connection_pool.connection_kwargs["port"] = 1  # nothing listens there
    client.app[SERVICES].redis.connection_pool.connection_kwargs.pop("path", None)
    resp = await client.post("/api/v1/reports", json=REPORT)
    assert resp.status == 201
    assert await _count(client, "cases") == 1


BOUNDARY = "hotline-slow-client"
# About 21,000 bytes of Vietnamese: more than a single buffered read holds, well under the 20,000-character limit.
LONG_TEXT = " ".join(
    f"Đoạn {i}: nước ngập sâu ở hẻm 45 đường Trần Xuân Soạn, xe máy chết máy hàng loạt, cống thoát nước bị nghẹt."
    for i in range(144)
)


def _text_part_body(text: str) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="text"\r\n\r\n{text}\r\n'
            f"--{BOUNDARY}--\r\n").encode()


async def _post_slowly(client, path: str, body: bytes, piece: int = 4096) -> tuple[int, dict]:
    """POST a multipart body as a slow client would: chunked transfer encoding, 4 KB at a time."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write((f"POST {path} HTTP/1.1\r\nHost: {client.server.host}:{client.server.port}\r\n"
                      f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode())
        for start in range(0, len(body), piece):
            chunk = body[start:start + piece]
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, payload = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(payload)


async def test_long_text_from_a_slow_chunked_client_is_kept_whole(client):
    assert 20_000 < len(LONG_TEXT.encode()) < 22_000 and len(LONG_TEXT) < 20_000
    status, body = await _post_slowly(client, "/api/v1/reports", _text_part_body(LONG_TEXT))
    assert status == 201, body
    stored = await client.app[SERVICES].pool.fetchval(
        "SELECT description FROM cases WHERE tracking_code = $1", body["tracking_code"])
    assert stored == LONG_TEXT


async def test_text_part_over_the_byte_cap_is_413_and_stores_nothing(client):
    max_bytes = client.app[SERVICES].settings.max_text_chars * 4
    text = "ngập " * (max_bytes // len("ngập ".encode()) + 10)
    status, body = await _post_slowly(client, "/api/v1/reports", _text_part_body(text))
    assert status == 413
    assert body == {"error": "payload_too_large", "detail": {"field": "text", "max_bytes": max_bytes}}
    assert await _count(client, "cases") == 0
    assert await _count(client, "messages") == 0


async def test_multipart_text_over_the_character_limit_is_400_not_cut(client):
    text = "ngập " * 4001  # 20,005 characters, fewer bytes than the cap
    resp = await client.post("/api/v1/reports", data=_multipart([], text=text))
    assert resp.status == 400
    body = await resp.json()
    assert body["detail"]["field"] == "text" and body["detail"]["max_chars"] == 20_000
    assert await _count(client, "cases") == 0


async def test_multipart_idempotency_key_field_gives_the_same_case(client):
    codes = []
    for _ in range(2):
        form = _multipart([("a.png", PNG, "image/png")])
        form.add_field("idempotency_key", "form-key-1")
        resp = await client.post("/api/v1/reports", data=form)
        assert resp.status == 201
        codes.append((await resp.json())["tracking_code"])
    assert codes[0] == codes[1]
    assert await _count(client, "cases") == 1
    assert await _count(client, "attachments") == 1


async def _small_limits_client(aiohttp_client, settings):
    from hotline.app import create_app

    return await aiohttp_client(create_app(settings.model_copy(update={"max_photos": 1, "max_photo_bytes": 1000})))


async def test_a_chunked_body_past_the_whole_limit_is_413_even_in_parts_we_skip(aiohttp_client, settings):
    client = await _small_limits_client(aiohttp_client, settings)
    limit = client.app[SERVICES].settings.max_multipart_bytes
    junk = b"x" * 65536
    parts = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="unused{i}"\r\n\r\n'.encode() + junk + b"\r\n"
        for i in range(limit // len(junk) + 2))
    body = parts + _text_part_body("Rác ứ đọng ở đầu hẻm 45")
    status, answer = await _post_slowly(client, "/api/v1/reports", body, piece=65536)
    assert status == 413 and answer["detail"]["max_bytes"] == limit
    assert await _count(client, "cases") == 0


async def test_a_body_of_too_many_parts_is_refused(client):
    parts = b"".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="p{i}"\r\n\r\nx\r\n'.encode()
                     for i in range(100))
    status, answer = await _post_slowly(client, "/api/v1/reports", parts + _text_part_body("Đèn đường tắt"))
    assert status == 400 and answer["error"] == "too_many_parts"
    assert await _count(client, "cases") == 0
