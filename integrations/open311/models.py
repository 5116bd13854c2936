"""Open311 GeoReport v2 types: the service catalogue, the POST form, the GET filters and the pure mappings."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from casework import codes
from casework.intake import InboundEvent
from casework.models import FIELD_LABELS, STATUS_LABELS, Status
from casework.privacy import mask_optional, mask_personal
from channels.contact import EmailAddress, PhoneNumber
from channels.contact import identities as contact_identities
from kernel.errors import BadRequest, NotFound
from kernel.inputs import clean_text
from kernel.text import clean
from kernel.time import LOCAL_TZ

CHANNEL = "open311"
# The one jurisdiction this server answers for; clients may also leave jurisdiction_id out.
JURISDICTION_ID = "hcmc.gov.vn"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When the service list or its definitions last changed; bump it with the catalogue below.
CHANGESET = "2026-11-27T00:00:00Z"
# The specification's limits for GET requests: a 90-day window and at most 1000 requests.
WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
MAX_IDS = 1000
MAX_FORM_FIELDS = 200
ATTRIBUTE_KEY = re.compile(r"^attribute\[([A-Za-z0-9_]{1,64})\](\[\])?$")

# Statuses the public calls "closed": the hotline considers the matter answered or settled.
# `rejected` is not here: a rejected case is back in triage at once, so it is still open.
CLOSED_STATUSES = frozenset({Status.ANSWERED, Status.CLOSED, Status.DUPLICATE})

# (group code, Vietnamese, English) and the fields in each group.
GROUPS: tuple[tuple[tuple[str, str, str], tuple[str, ...]], ...] = (
    (("infrastructure", "Hạ tầng – giao thông", "Infrastructure and transport"),
     ("urban_infrastructure", "traffic", "public_transport", "public_lighting")),
    (("utilities", "Điện – nước – viễn thông", "Utilities"),
     ("water_supply", "drainage_flooding", "electricity", "telecom")),
    (("environment", "Môi trường – trật tự đô thị", "Environment and urban order"),
     ("trees", "environment", "noise", "urban_order")),
    (("public_services", "Dịch vụ công – an ninh – y tế", "Public services, security and health"),
     ("admin_procedures", "security", "health")),
)
GROUP_OF: dict[str, tuple[str, str, str]] = {code: group for group, fields in GROUPS for code in fields}
# The services are the hotline's fields except `other`, which is the classifier's "unsure", not a choice.
SERVICE_CODES: tuple[str, ...] = tuple(code for code in FIELD_LABELS if code != "other")

# A short description of each service (Vietnamese, English) and search keywords (folded Vietnamese).
DESCRIPTIONS: dict[str, tuple[str, str, str]] = {
    "admin_procedures": ("Hồ sơ, thủ tục hành chính, thái độ phục vụ của cán bộ",
                         "Administrative procedures, applications and service at public offices",
                         "thu tuc, ho so, giay to, mot cua"),
    "urban_infrastructure": ("Đường hư hỏng, ổ gà, vỉa hè, cầu, công trình công cộng",
                             "Damaged roads, potholes, pavements, bridges and public works",
                             "o ga, mat duong, via he, cau"),
    "traffic": ("Ùn tắc, đèn tín hiệu, biển báo, vi phạm giao thông",
                "Congestion, traffic lights, road signs and traffic violations",
                "un tac, den giao thong, bien bao"),
    "public_transport": ("Xe buýt, metro, bến xe, tuyến và giờ chạy",
                         "Buses, metro, stations, routes and timetables",
                         "xe buyt, metro, tram"),
    "water_supply": ("Mất nước, nước yếu, nước bẩn, vỡ ống cấp nước",
                     "No water, low pressure, dirty water and broken mains",
                     "mat nuoc, nuoc yeu, vo ong"),
    "drainage_flooding": ("Ngập nước, cống nghẹt, nắp cống hư, triều cường",
                          "Flooding, blocked drains, broken manhole covers and tidal flooding",
                          "ngap, cong, trieu cuong"),
    "public_lighting": ("Đèn đường không sáng, cột đèn hư hỏng",
                        "Street lights out and damaged lamp posts",
                        "den duong, cot den"),
    "trees": ("Cây ngã đổ, nhánh gãy, cây cần cắt tỉa",
              "Fallen trees, broken branches and trees needing pruning",
              "cay nga, cay do, cat tia"),
    "electricity": ("Mất điện, dây điện võng, trụ điện nguy hiểm",
                    "Power cuts, sagging lines and dangerous poles",
                    "mat dien, day dien, tru dien"),
    "telecom": ("Cáp viễn thông rối, võng, mất sóng",
                "Tangled or sagging cables and no mobile signal",
                "cap, day mang, song"),
    "urban_order": ("Lấn chiếm vỉa hè, xây dựng trái phép, quảng cáo sai quy định",
                    "Pavement encroachment, illegal construction and unlawful advertising",
                    "lan chiem, xay dung trai phep"),
    "environment": ("Rác thải, ô nhiễm không khí, nước, mùi hôi",
                    "Rubbish, air and water pollution and bad smells",
                    "rac, o nhiem, mui hoi"),
    "noise": ("Tiếng ồn từ karaoke, công trình, cơ sở kinh doanh",
              "Noise from karaoke, building sites and businesses",
              "on, karaoke"),
    "security": ("An ninh trật tự, tụ tập gây rối, trộm cắp (khẩn cấp: gọi 113)",
                 "Public order, disturbances and theft (emergencies: call 113)",
                 "an ninh, trom, gay roi"),
    "health": ("Cơ sở y tế, an toàn thực phẩm, dịch bệnh",
               "Health facilities, food safety and disease outbreaks",
               "y te, thuc pham, dich benh"),
}

# The one attribute every service takes: whether there is immediate danger.
URGENT = "urgent"
URGENT_VALUES = {"yes": ("Có", "Yes"), "no": ("Không", "No")}
URGENT_QUESTION = ("Có nguy hiểm trước mắt cho người hoặc tài sản không?",
                   "Is there an immediate danger to people or property?")

SERVICE_NOTICE = {
    "vi": "Đường dây nóng 1022 đã tiếp nhận và chuyển phản ánh đến đơn vị có thẩm quyền. Mã hồ sơ: {code}. "
          "Tra cứu tại {url}",
    "en": "The 1022 hotline has received the request and passes it to the responsible unit. Case code: {code}. "
          "Follow it at {url}",
}


def language(value: str | None) -> str:
    """`en` for an English locale (`en`, `en-US`), else Vietnamese."""
    return "en" if value and value.lower().startswith("en") else "vi"


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def service_name(code: str | None, lang: str) -> str | None:
    labels = FIELD_LABELS.get(code or "")
    return _pick(labels, lang) if labels else None


def service(code: str, lang: str) -> dict[str, Any]:
    """One entry of the service list."""
    vi, en, keywords = DESCRIPTIONS[code]
    group = GROUP_OF[code]
    return {
        "service_code": code,
        "service_name": service_name(code, lang),
        "description": en if lang == "en" else vi,
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join([code, keywords, *FIELD_LABELS[code]]),
        "group": group[2] if lang == "en" else group[1],
    }


def service_definition(code: str, lang: str) -> dict[str, Any]:
    """The attributes a service takes."""
    return {
        "service_code": code,
        "attributes": [{
            "variable": True,
            "code": URGENT,
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": None,
            "order": 1,
            "description": _pick(URGENT_QUESTION, lang),
            "values": [{"key": key, "name": _pick(names, lang)} for key, names in URGENT_VALUES.items()],
        }],
    }


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": "Tổng đài 1022 TP. Hồ Chí Minh: gọi 1022 hoặc gửi phản ánh tại "
                   f"{base_url}/ (HCMC 1022 hotline: call 1022 or report at {base_url}/)",
        "key_service": "API keys are issued by the 1022 hotline's operators (`hotline open311 key NAME`); "
                       "reading services and requests needs no key.",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": f"{base_url}/open311/v2",
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    }


def check_jurisdiction(value: str | None) -> None:
    """Accept our jurisdiction or none; the specification answers 404 for an unknown one."""
    if value and value.strip() and value.strip() != JURISDICTION_ID:
        raise NotFound(f"jurisdiction_id not found: this server serves {JURISDICTION_ID}")


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


class RequestForm(BaseModel):
    """The fields of POST requests, as the specification names them."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    jurisdiction_id: str | None = None
    service_code: str
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180, alias="long")
    address_string: str | None = Field(default=None, max_length=500)
    address_id: str | None = Field(default=None, max_length=100)
    email: EmailAddress | None = None
    device_id: str | None = Field(default=None, max_length=200)
    account_id: str | None = Field(default=None, max_length=200)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: PhoneNumber | None = None
    description: str | None = None
    media_url: str | None = Field(default=None, max_length=2000)
    locale: str = "vi"
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("description", "address_string", "first_name", "last_name")
    @classmethod
    def _clean(cls, v: str | None) -> str | None:
        return (clean(v) or None) if v is not None else None

    @field_validator("service_code")
    @classmethod
    def _known_service(cls, v: str) -> str:
        if v not in SERVICE_CODES:
            raise ValueError("service_code not found; see services.json")
        return v

    @field_validator("media_url")
    @classmethod
    def _media_url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+\S*$", v):
            raise ValueError("an http or https URL")
        return v

    @field_validator("locale", mode="before")
    @classmethod
    def _locale(cls, v: Any) -> str:
        return language(v if isinstance(v, str) else None)

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, v: dict[str, str]) -> dict[str, str]:
        # Attributes this server does not define are ignored: a client may send another city's set.
        known = {k: value.strip().lower() for k, value in v.items() if k == URGENT and value.strip()}
        if known.get(URGENT, "no") not in URGENT_VALUES:
            raise ValueError("attribute[urgent] must be yes or no")
        return known

    @model_validator(mode="after")
    def _location(self) -> RequestForm:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and long, or neither")
        if self.lat is None and not self.address_string and not self.address_id:
            raise ValueError("a location is required: lat and long, address_string or address_id")
        return self

    @property
    def display_name(self) -> str | None:
        # Family name first, as Vietnamese names are written (Nguyễn Văn An).
        return " ".join(p for p in (self.last_name, self.first_name) if p) or None

    @property
    def urgent(self) -> bool:
        return self.attributes.get(URGENT) == "yes"


def request_form(fields: Mapping[str, str], attributes: Mapping[str, str], max_text_chars: int) -> RequestForm:
    """Validate the POST fields; 400 with the first problem in the specification's words."""
    if not fields.get("service_code", "").strip():
        raise BadRequest("service_code was not provided")
    try:
        form = RequestForm.model_validate({**fields, "attributes": dict(attributes)})
    except ValidationError as e:
        raise BadRequest(_problem(e)) from None
    if form.description and len(form.description) > max_text_chars:
        raise BadRequest(f"description: at most {max_text_chars} characters")
    return form


def form_pairs(body: bytes) -> list[tuple[str, str]]:
    """The fields of a urlencoded POST body; 400 when it is not UTF-8 form-encoded fields."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form body is not UTF-8 form-encoded fields") from None
    # %00 decodes to NUL, which PostgreSQL text and jsonb cannot hold: a citizen's request is cleaned, not refused.
    return [(clean_text(key), clean_text(value)) for key, value in pairs]


def split_form(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, str]]:
    """Plain fields and attribute[code] values; the first of repeated fields counts."""
    fields: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for key, value in pairs:
        match = ATTRIBUTE_KEY.match(key)
        if match:
            attributes.setdefault(match.group(1), value)
        else:
            fields.setdefault(key, value)
    return fields, attributes


def build_event(form: RequestForm, *, client_id: int, token: str, idempotency_key: str | None,
                raw: dict[str, Any]) -> InboundEvent:
    """Turn a validated request into the channel-neutral inbound event."""
    identities = contact_identities(form.phone, form.email)
    key = f"key:{idempotency_key}" if idempotency_key else token
    return InboundEvent(
        channel=CHANNEL,
        provider_message_id=f"{CHANNEL}:{client_id}:{key}",
        text=form.description or service_name(form.service_code, "vi") or form.service_code,
        sender=identities[0] if identities else None,
        other_identities=tuple(identities[1:]),
        display_name=form.display_name,
        locale=form.locale,
        address=form.address_string,
        lat=form.lat,
        lon=form.lon,
        raw=raw,
        request_hash=hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        if idempotency_key else None,
    )


def parse_datetime(name: str, value: str) -> datetime:
    """A W3C datetime (2010-01-01T00:00:00Z, with an offset, or a bare date); local time when no zone is given."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"{name}: not a W3C datetime such as 2010-01-01T00:00:00Z") from None
    parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=LOCAL_TZ)
    try:
        parsed.astimezone(UTC)  # the database stores UTC: 0001-01-01 in Ho Chi Minh City time has no UTC
    except OverflowError:
        raise BadRequest(f"{name}: a datetime between the years 1 and 9999 in UTC") from None
    return parsed


def _shift(value: datetime, delta: timedelta) -> datetime:
    """value + delta, held at the ends of the datetime range (a window from 9999-12-31 ends there)."""
    try:
        return value + delta
    except OverflowError:
        return (datetime.max if delta > timedelta(0) else datetime.min).replace(tzinfo=UTC)


def window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime | None]:
    """The requested_datetime range to search: the last 90 days by default, never more than 90 days.

    The default range has no end: nothing was requested after now, and the requests are stamped by the
    database's clock, which need not agree to the second with this process's.
    """
    if start is None and end is None:
        return now - WINDOW, None
    if start is None:
        assert end is not None
        return _shift(end, -WINDOW), end
    if end is None:
        return start, _shift(start, WINDOW)
    if end < start:
        raise BadRequest("end_date is before start_date")
    if end - start > WINDOW:
        raise BadRequest("start_date and end_date may not span more than 90 days")
    return start, end


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """What GET requests asks for; ids override every other filter, as the specification says."""

    ids: tuple[str, ...] | None = None
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None


def request_query(params: Mapping[str, str], now: datetime | None = None) -> RequestQuery:
    """Validate the GET requests parameters."""
    ids = _list(params.get("service_request_id"))
    if ids:
        if len(ids) > MAX_IDS:
            raise BadRequest(f"service_request_id: at most {MAX_IDS} ids")
        return RequestQuery(ids=tuple(c for c in (codes.normalise(i) for i in ids) if c))
    service_codes = _list(params.get("service_code"))
    unknown = [c for c in service_codes if c not in SERVICE_CODES]
    if unknown:
        raise BadRequest(f"service_code not found: {unknown[0]}")
    statuses = _list(params.get("status"))
    if any(s not in ("open", "closed") for s in statuses):
        raise BadRequest("status: open or closed, comma-separated")
    start = parse_datetime("start_date", params["start_date"]) if params.get("start_date") else None
    end = parse_datetime("end_date", params["end_date"]) if params.get("end_date") else None
    start, end = window(start, end, now or datetime.now(UTC))
    return RequestQuery(service_codes=tuple(service_codes), statuses=tuple(statuses), start=start, end=end)


def case_statuses(open311_statuses: tuple[str, ...]) -> list[str] | None:
    """The case statuses behind Open311's open/closed; None means any."""
    if not open311_statuses or set(open311_statuses) == {"open", "closed"}:
        return None
    closed = "closed" in open311_statuses
    return sorted(s.value for s in Status if (s in CLOSED_STATUSES) == closed)


def open311_status(status: str) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


def w3c(value: datetime | None) -> str | None:
    """A W3C datetime in Ho Chi Minh City time, e.g. 2026-11-27T09:30:00+07:00."""
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if value else None


def status_notes(row: Mapping[str, Any], lang: str) -> str | None:
    """The latest answer to the citizen when it is current (personal data masked), else what the status means."""
    reply_at, status_at = row["reply_at"], row["status_at"]
    if row["reply_text"] and (row["status"] in (Status.ANSWERED, Status.CLOSED)
                              or status_at is None or reply_at >= status_at):
        return mask_personal(row["reply_text"])
    labels = STATUS_LABELS.get(row["status"])
    return _pick(labels, lang) if labels else None


def notice(tracking_code: str, base_url: str, lang: str) -> str:
    return SERVICE_NOTICE[lang].format(code=codes.display(tracking_code), url=f"{base_url}/track/{tracking_code}")


def service_request(row: Mapping[str, Any], lang: str, base_url: str) -> dict[str, Any]:
    """One request as GET requests shows it: the case's public facts, never who sent it.

    The citizen's description and address are free text that may hold a phone number, an email or a
    name, so they are published masked, under the specification's field names.
    """
    unit = row["unit_en"] if lang == "en" else row["unit_vi"]
    return {
        "service_request_id": row["tracking_code"],
        "status": open311_status(row["status"]),
        "status_notes": status_notes(row, lang),
        "service_name": service_name(row["service_code"], lang),
        "service_code": row["service_code"],
        "description": mask_optional(row["description"]),
        "agency_responsible": unit,
        "service_notice": notice(row["tracking_code"], base_url, lang),
        "requested_datetime": w3c(row["created_at"]),
        "updated_datetime": w3c(row["updated_at"]),
        "expected_datetime": w3c(row["due_at"]),
        "address": mask_optional(row["address"]),
        "address_id": row["address_id"],
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": row["media_url"],
    }


@dataclass(frozen=True, slots=True)
class Client:
    """An application allowed to post requests."""

    id: int
    name: str
    jurisdiction_id: str
