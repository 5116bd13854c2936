"""Health, metrics and the error contract for unknown routes."""

from redis.asyncio import Redis

from kernel.http import SERVICES
from tests.conftest import auth


async def test_healthz_checks_database_and_redis(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


async def test_healthz_reports_a_dead_redis(client):
    services = client.app[SERVICES]
    real = services.redis
    services.redis = Redis(host="127.0.0.1", port=1)  # nothing listens on port 1
    try:
        resp = await client.get("/healthz")
    finally:
        await services.redis.aclose()
        services.redis = real
    body = await resp.json()
    assert resp.status == 503 and body["checks"]["database"] == "ok" and body["checks"]["redis"].startswith("error")


async def test_metrics_count_intake_by_channel_and_show_queue_depth(client, tokens):
    def value(text, name):
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    admin = auth(tokens["admin"])  # /metrics on the main address is admin-only
    before = value(await (await client.get("/metrics", headers=admin)).text(), 'hotline_intake_total{channel="web"}')
    await client.post("/api/v1/reports", json={"text": "Xe buýt số 19 không dừng đón khách"})
    text = await (await client.get("/metrics", headers=admin)).text()
    assert value(text, 'hotline_intake_total{channel="web"}') == before + 1
    assert value(text, "hotline_queue_depth") == 1
    assert "# TYPE hotline_job_seconds histogram" in text


async def test_unknown_api_route_is_json_404(client):
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"
