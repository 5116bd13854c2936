"""Demo data: a few units, one user per role and some sample reports. Running it twice changes nothing."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from casework import actions, store
from casework.intake import InboundEvent, SenderIdentity
from hotline.settings import Settings
from kernel.errors import HotlineError

# Demo sign-ins; documented in the README as demo-only.
USERS = [
    ("agent", "Nguyễn Thị Lan (tổng đài viên)", "agent", None),
    ("xaydung", "Trần Văn Bình (Sở Xây dựng)", "department", "so-xay-dung"),
    ("supervisor", "Lê Minh Châu (giám sát)", "supervisor", None),
    ("admin", "Quản trị hệ thống", "admin", None),
]
DEMO_PASSWORD_SUFFIX = "-1022"


class DemoRefused(HotlineError):
    code = "demo_refused"
    http_status = 409


def refuse_in_production(settings: Settings) -> None:
    """Refuse demo data in production: the demo sign-ins' passwords are printed for anyone to read."""
    if settings.env == "production":
        raise DemoRefused("không tạo tài khoản demo khi HOTLINE_ENV=production: mật khẩu của chúng ai cũng biết"
                          " (refusing to create demo accounts when HOTLINE_ENV=production: their passwords are public)")

REPORTS = [
    ("demo-1", "Đường Lê Lợi đoạn trước chợ Bến Thành bị ngập sâu khoảng 40cm sau cơn mưa chiều nay, xe máy chết máy.",
     "Đường Lê Lợi, phường Bến Thành", "+84901234567", None),
    ("demo-2", "den duong hem 12 Nguyen Trai bi hu 3 dem roi, toi om rat nguy hiem", "Hẻm 12 Nguyễn Trãi", None,
     "an.nguyen@example.vn"),
    ("demo-3", "Quán karaoke số 45 hát đến 1 giờ sáng mỗi đêm, không ai ngủ được.", "45 Bùi Viện", None, None),
    ("demo-4", "The bus on route 19 skipped the stop near the university three times this week.", None, None, None),
]


async def seed(conn: asyncpg.Connection) -> dict[str, int]:
    """The shipped units, wards, routing rules and SLA policies (kept when already there)."""
    from routing import store as routing_store
    from routing.sla import default_policies

    return await routing_store.seed(conn, default_policies())


async def load(pool: asyncpg.Pool) -> dict[str, int]:
    """Insert the demo units, users and reports that are not there yet; return what was added."""
    from casework.staff import hash_password

    added = {"units": 0, "users": 0, "reports": 0}
    async with pool.acquire() as conn, conn.transaction():
        seeded = await seed(conn)
        added["units"] = seeded["units"] + seeded["wards"]
        for username, name, role, unit in USERS:
            user_id = await store.insert_user(conn, username, display_name=name, role=role, department=unit,
                                              password_hash=hash_password(username + DEMO_PASSWORD_SUFFIX))
            added["users"] += int(user_id is not None)
    for key, text, address, phone, email in REPORTS:
        sender = SenderIdentity("phone", phone) if phone else SenderIdentity("email", email) if email else None
        result = await actions.record_inbound(pool, InboundEvent(
            channel="web", provider_message_id=f"demo:{key}", text=text, sender=sender, address=address,
            locale="en" if key == "demo-4" else "vi", raw={"demo": key},
        ))
        added["reports"] += int(result.created)
    return added


async def load_procedures(pool: asyncpg.Pool, catalogue: Path) -> int | None:
    """Import the procedure catalogue once, when the table is empty."""
    from integrations.procedures import import_procedures
    from integrations.procedures import store as procedures_store

    if await procedures_store.count(pool):
        return None
    return (await import_procedures(pool, catalogue)).inserted
