"""What the public sees never carries a phone number, an email or a given name: the masker and every public view."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.privacy import MASK, mask_personal
from integrations.open311 import actions as open311
from kernel.http import SERVICES
from tests.conftest import auth

PROPERTY = settings(derandomize=True, max_examples=300, deadline=None, database=None)


# --- the masker ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Gọi 0901 234 567 giúp tôi", f"Gọi {MASK} giúp tôi"),
    ("SĐT: 090.123.4567.", f"SĐT: {MASK}."),
    ("liên hệ +84 90 123 4567 hoặc (+84) 901-234-567", f"liên hệ {MASK} hoặc {MASK}"),
    ("số bàn (028) 3822 1234", f"số bàn {MASK}"),
    ("call +1 (415) 555-0100 or +44 20 7946 0958", f"call {MASK} or {MASK}"),
    ("SĐT0901234567", f"SĐT{MASK}"),
    ("số ０９０１２３４５６７", f"số {MASK}"),
    ("email An.Nguyen@Example.VN nhé", f"email {MASK} nhé"),
    ("thư: an [at] example [dot] vn", f"thư: {MASK}"),
    ("Tôi là Nguyễn Văn An, nhà ở số 12", f"Tôi là {MASK}, nhà ở số 12"),
    ("tên tôi là trần thị mai ở phường Bến Thành", f"tên tôi là {MASK} ở phường Bến Thành"),
    ("Họ và tên: Lê Thị Hồng; ĐT 0912.345.678", f"Họ và tên: {MASK}; ĐT {MASK}"),
    ("My name is John Smith, thanks", f"My name is {MASK}, thanks"),
    ("toi ten la nguyen van an o quan 1", f"toi ten la {MASK} o quan 1"),
])
def test_personal_data_is_masked(text, expected):
    assert mask_personal(text) == expected


@pytest.mark.parametrize("text", [
    "Đã vá ổ gà trước số 12 Nguyễn Huệ.",
    "Đơn vị đã vá ổ gà ngày 27/11.",
    "Lịch thi công 27.11.2026, phạt 15.000.000 đồng, xong 2026-12-01",
    "Khẩn cấp gọi 113 hoặc 1022, hẻm 5/12 Lê Văn Sỹ, tọa độ 10.7769, 106.7009",
    "Tôi là người dân phường 12, tên đường là Lê Lợi",
    "tên đường lê lợi, Dương và Đường",
    "",
])
def test_ordinary_text_is_kept(text):
    assert mask_personal(text) == text


WORDS = ["ổ", "gà", "lớn", "đường", "Nguyễn", "Huệ", "ngập", "nước", "gọi", "số", "SĐT", "email", "phường", "Bến",
         "Thành", "đèn", "tắt", "please", "call", "12", "1022", "113", "27/11", "Q1", ",", ".", ":", "-", "("]
filler = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)
glue = st.sampled_from(["", " ", ": ", ", ", "\n", " (", ") ", "\u00a0", "\t"])


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdecimal())


@st.composite
def grouped(draw, digits: str) -> str:
    """Digits split into groups by the separators people type."""
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=4)))
    parts = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    out = parts[0]
    for part in parts[1:]:
        out += draw(st.sampled_from([" ", ".", "-", "", " - ", "\u00a0", ". ", "  "])) + part
    return out


@st.composite
def phones(draw) -> tuple[str, str]:
    """A phone number as written, and its last eight digits (what must not be published)."""
    kind = draw(st.sampled_from(["vn_mobile", "vn_landline", "international"]))
    if kind == "vn_mobile":
        national = draw(st.sampled_from("35789")) + draw(st.text("0123456789", min_size=8, max_size=8))
        prefix = draw(st.sampled_from(["0", "+84", "84", "0084", "+84 ", "(+84) ", "+84 (0)"]))
        written = prefix + draw(grouped(national))
    elif kind == "vn_landline":
        area = "2" + draw(st.text("0123456789", min_size=2, max_size=2))
        national = area + draw(st.text("0123456789", min_size=8, max_size=8))
        written = draw(st.sampled_from([f"(0{area}) ", f"0{area} ", f"0{area}.", f"+84 {area} "]))
        written += draw(grouped(national[len(area):]))
    else:
        country = draw(st.sampled_from(["1", "44", "61", "65", "81", "86", "855", "856"]))
        national = draw(st.text("123456789", min_size=1, max_size=1)) + draw(
            st.text("0123456789", min_size=7, max_size=10))
        written = draw(st.sampled_from(["+", "00", "+ "])) + country + draw(st.sampled_from(["", " ", "-"]))
        written += draw(grouped(national))
    return written, _digits(national)[-8:]


emails = st.builds(
    "{}{}{}.{}".format,
    st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._+-]{0,14}[A-Za-z0-9])?", fullmatch=True),
    st.sampled_from(["@", "@", " @ ", "＠", " [at] ", "(at)"]),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
    st.sampled_from(["vn", "com", "com.vn", "gov.vn", "org", "io"]),
)


@PROPERTY
@given(left=filler, glue_left=glue, phone=phones(), glue_right=glue, right=filler)
def test_no_phone_number_survives(left, glue_left, phone, glue_right, right):
    written, last_digits = phone
    masked = mask_personal(f"{left}{glue_left}{written}{glue_right}{right}")
    assert written not in masked
    assert last_digits not in _digits(masked)


@PROPERTY
@given(left=filler, glue_left=glue, email=emails, glue_right=glue, right=filler)
def test_no_email_survives(left, glue_left, email, glue_right, right):
    masked = mask_personal(f"{left}{glue_left}{email}{glue_right}{right}")
    assert email not in masked
    assert not re.search(r"[@＠]|\[at\]|\(at\)", masked)


SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi", "Dương", "Trương"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh"]
GIVEN = ["An", "Bình", "Mai", "Hùng", "Lan", "Tuấn", "Hồng", "Phúc"]
CUES = ["tôi là", "Tôi là", "TÔI LÀ", "tên tôi là", "Tên:", "họ tên:", "Họ và tên", "em là", "my name is",
        "My name is", "mình là"]
names = st.builds(lambda s, m, g: " ".join([s, *m, g]), st.sampled_from(SURNAMES),
                  st.lists(st.sampled_from(MIDDLE), max_size=2), st.sampled_from(GIVEN))


@PROPERTY
@given(left=filler, cue=st.sampled_from(CUES), name=names, lower=st.booleans(),
       after=st.sampled_from([",", ".", " ở", " và", "", " - SĐT", ", nhà"]), right=filler)
def test_a_name_given_after_a_cue_does_not_survive(left, cue, name, lower, after, right):
    name = name.lower() if lower else name
    masked = mask_personal(f"{left} {cue} {name}{after} {right}")
    assert name not in masked


@PROPERTY
@given(st.lists(st.sampled_from([w for w in WORDS if not any(ch.isdigit() for ch in w)]), max_size=20).map(" ".join))
def test_text_without_personal_data_is_unchanged(text):
    assert mask_personal(text) == text


@PROPERTY
@given(left=filler, phone=phones(), email=emails, cue=st.sampled_from(CUES), name=names, right=filler)
def test_masking_twice_changes_nothing_more(left, phone, email, cue, name, right):
    once = mask_personal(f"{left} {phone[0]} {email} {cue} {name} {right}")
    assert mask_personal(once) == once


# --- the public views ----------------------------------------------------------------------------

CITIZEN = ("Ổ gà lớn giữa đường Nguyễn Huệ. Tôi là Trần Thị Mai, gọi 0901 234 567 hoặc 090.765.4321, "
           "email mai.tran@example.vn")
ANSWER = ("Đã vá ổ gà trước số 12 Nguyễn Huệ. Cán bộ Lê Văn Tám (0912-345-678, tam.le@hcmc.gov.vn) "
          "đã gọi chị, tôi là Phạm Minh Hùng, số bàn (028) 3822 1234.")
SECRETS = ["Trần Thị Mai", "Thị Mai", "0901 234 567", "901234567", "090.765.4321", "907654321", "mai.tran",
           "example.vn", "0912-345-678", "912345678", "tam.le", "hcmc.gov.vn", "Phạm Minh Hùng", "Minh Hùng",
           "3822 1234", "38221234", "@"]


def _assert_clean(text: str) -> None:
    flat = re.sub(r"[\s.\-()]", "", text)
    for secret in SECRETS:
        assert secret not in text, secret
        assert re.sub(r"[\s.\-()]", "", secret) not in flat or secret == "@", secret


async def _answer(client, tokens, case_id: int) -> None:
    agent = auth(tokens["agent"])
    for status, extra in (("triage", {}), ("forwarded", {"department": "so-xay-dung"})):
        resp = await client.post(f"/api/v1/cases/{case_id}/status", json={"status": status, **extra}, headers=agent)
        assert resp.status == 200, await resp.text()
    resp = await client.post(f"/api/v1/cases/{case_id}/replies", json={"text": ANSWER, "final": True},
                             headers=auth(tokens["department"]))
    assert resp.status == 201, await resp.text()


async def test_the_status_api_and_page_mask_the_answers(client, tokens):
    resp = await client.post("/api/v1/reports", json={"text": CITIZEN})
    code = (await resp.json())["tracking_code"]
    case_id = await client.app[SERVICES].pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    await _answer(client, tokens, case_id)
    for lang in ("vi", "en"):
        api = await client.get(f"/api/v1/reports/{code}", params={"lang": lang})
        body = await api.json()
        assert body["status"] == "answered"
        (answer,) = body["answers"]
        assert answer["text"] == ("Đã vá ổ gà trước số 12 Nguyễn Huệ. Cán bộ Lê Văn Tám (***, ***) đã gọi chị, "
                                  "tôi là ***, số bàn ***.")
        _assert_clean(await api.text())
        page = await client.get(f"/track/{code}", params={"lang": lang})
        assert page.status == 200
        html = await page.text()
        assert "Đã vá ổ gà trước số 12 Nguyễn Huệ." in html
        _assert_clean(html)
    # Staff still see every word: masking is for the public only.
    detail = await (await client.get(f"/api/v1/cases/{case_id}", headers=auth(tokens["agent"]))).json()
    assert detail["description"] == CITIZEN
    assert [m["text"] for m in detail["messages"] if m["direction"] == "out" and m["kind"] == "reply"] == [ANSWER]


OPEN311_KEYS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]


async def test_open311_publishes_descriptions_and_answers_masked(client, tokens, pool):
    api_key = await open311.create_client(pool, "fixmycity")
    resp = await client.post("/open311/v2/requests.json", data={
        "api_key": api_key, "service_code": "urban_infrastructure", "description": CITIZEN,
        "address_string": "12 Nguyễn Huệ, gọi 0901 234 567", "first_name": "Thị Mai", "last_name": "Trần"})
    assert resp.status == 201, await resp.text()
    (posted,) = await resp.json()
    code = posted["service_request_id"]
    case_id = await pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)

    (before,) = await (await client.get(f"/open311/v2/requests/{code}.json")).json()
    assert list(before) == OPEN311_KEYS
    assert before["description"].startswith("Ổ gà lớn giữa đường Nguyễn Huệ. Tôi là ***, gọi ***")
    assert before["address"] == "12 Nguyễn Huệ, gọi ***"
    await _answer(client, tokens, case_id)
    for url in (f"/open311/v2/requests/{code}.json", f"/open311/v2/requests/{code}.xml",
                "/open311/v2/requests.json", "/open311/v2/requests.xml"):
        resp = await client.get(url)
        assert resp.status == 200, url
        text = await resp.text()
        assert code in text and "Đã vá ổ gà trước số 12 Nguyễn Huệ." in text, url
        _assert_clean(text)
    (after,) = await (await client.get(f"/open311/v2/requests/{code}.json")).json()
    assert list(after) == OPEN311_KEYS
    assert after["status"] == "closed" and after["status_notes"].startswith("Đã vá ổ gà trước số 12 Nguyễn Huệ.")
