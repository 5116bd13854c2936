"""The public procedure API: search, one procedure, and the error answers."""

from __future__ import annotations


async def test_search_answers_ranked_hits_without_authentication(api):
    resp = await api.get("/api/v1/procedures", params={"q": "làm lại căn cước bị mất", "limit": "3"})
    assert resp.status == 200
    body = await resp.json()
    assert body["query"] == "làm lại căn cước bị mất" and body["count"] == 3
    first = body["results"][0]
    assert set(first) == {"code", "name", "field", "level", "agency", "processing_time", "fees", "documents",
                          "channels", "where_to_apply", "link", "score"}
    assert first["code"] == "1.014064" and first["processing_time"] == "7 Ngày làm việc"
    assert isinstance(first["documents"], list) and isinstance(first["score"], float)
    assert [r["score"] for r in body["results"]] == sorted((r["score"] for r in body["results"]), reverse=True)


async def test_search_without_diacritics_answers_the_same(api):
    a = await (await api.get("/api/v1/procedures", params={"q": "xin giấy phép xây dựng"})).json()
    b = await (await api.get("/api/v1/procedures", params={"q": "xin giay phep xay dung"})).json()
    assert [r["code"] for r in a["results"]] == [r["code"] for r in b["results"]]


async def test_search_with_no_match_is_an_empty_list(api):
    body = await (await api.get("/api/v1/procedures", params={"q": "xyzzy"})).json()
    assert body == {"query": "xyzzy", "count": 0, "results": []}


async def test_search_needs_q(api):
    for params in ({}, {"q": ""}, {"q": "   "}, {"q": "x" * 501}):
        resp = await api.get("/api/v1/procedures", params=params)
        assert resp.status == 400
        body = await resp.json()
        assert body["error"] == "bad_request" and body["detail"]["field"] == "q"


async def test_search_refuses_a_bad_limit(api):
    for limit in ("0", "51", "ten"):
        resp = await api.get("/api/v1/procedures", params={"q": "hộ chiếu", "limit": limit})
        assert resp.status == 400 and (await resp.json())["detail"]["field"] == "limit"


async def test_one_procedure_in_full(api):
    resp = await api.get("/api/v1/procedures/1.013225")
    assert resp.status == 200
    body = await resp.json()
    assert body["code"] == "1.013225" and body["name"].startswith("Cấp giấy phép xây dựng mới")
    assert body["level"] == "Cấp xã, Cơ quan khác" and body["source"] == "bo-xay-dung"
    assert body["documents"][0] == {
        "name": body["documents"][0]["name"], "quantity": "1 bản chính, 1 bản sao",
        "group": "(1.1) Đối với công trình không theo tuyến"}
    assert body["channels"] == ["Trực tuyến", "Dịch vụ bưu chính", "Trực tiếp"]
    assert body["updated_at"]


async def test_unknown_procedure_is_404(api):
    for code in ("9.999999", "not a code!"):
        resp = await api.get(f"/api/v1/procedures/{code}")
        assert resp.status == 404
        assert (await resp.json())["error"] == "not_found"
