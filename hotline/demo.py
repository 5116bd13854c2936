"""Demo data: a few units, one user per role and some sample reports. Running it twice changes nothing."""

from __future__ import annotations

import asyncpg

from casework import actions
from channels.base import InboundEvent, SenderIdentity

UNITS = [
    ("tiep-nhan-1022", "Trung tâm tiếp nhận 1022", "1022 Intake Centre", "hotline", None),
    ("so-xay-dung", "Sở Xây dựng", "Department of Construction", "department", None),
    ("so-nong-nghiep-moi-truong", "Sở Nông nghiệp và Môi trường", "Department of Agriculture and Environment",
     "department", None),
    ("so-y-te", "Sở Y tế", "Department of Health", "department", None),
    ("cong-an-tp", "Công an Thành phố", "City Police", "department", None),
    ("evn-hcmc", "Tổng công ty Điện lực TP.HCM", "HCMC Power Corporation", "agency", None),
    ("sawaco", "Tổng công ty Cấp nước Sài Gòn", "Saigon Water Corporation", "agency", None),
    ("ttqlhtkt", "Trung tâm Quản lý hạ tầng kỹ thuật", "Technical Infrastructure Management Centre", "agency", None),
    ("ubnd-ben-thanh", "UBND phường Bến Thành", "Ben Thanh Ward People's Committee", "ward", "26743"),
]

# Demo sign-ins; documented in the README as demo-only.
USERS = [
    ("agent", "Nguyễn Thị Lan (tổng đài viên)", "agent", None),
    ("xaydung", "Trần Văn Bình (Sở Xây dựng)", "department", "so-xay-dung"),
    ("supervisor", "Lê Minh Châu (giám sát)", "supervisor", None),
    ("admin", "Quản trị hệ thống", "admin", None),
]
DEMO_PASSWORD_SUFFIX = "-1022"

REPORTS = [
    ("demo-1", "Đường Lê Lợi đoạn trước chợ Bến Thành bị ngập sâu khoảng 40cm sau cơn mưa chiều nay, xe máy chết máy.",
     "Đường Lê Lợi, phường Bến Thành", "+84901234567", None),
    ("demo-2", "den duong hem 12 Nguyen Trai bi hu 3 dem roi, toi om rat nguy hiem", "Hẻm 12 Nguyễn Trãi", None,
     "an.nguyen@example.vn"),
    ("demo-3", "Quán karaoke số 45 hát đến 1 giờ sáng mỗi đêm, không ai ngủ được.", "45 Bùi Viện", None, None),
    ("demo-4", "The bus on route 19 skipped the stop near the university three times this week.", None, None, None),
]


async def load(pool: asyncpg.Pool) -> dict[str, int]:
    """Insert the demo units, users and reports that are not there yet; return what was added."""
    from casework.staff import hash_password

    added = {"units": 0, "users": 0, "reports": 0}
    async with pool.acquire() as conn, conn.transaction():
        for code, vi, en, kind, ward in UNITS:
            added["units"] += int((await conn.execute(
                "INSERT INTO departments (code, name_vi, name_en, kind, ward_code) VALUES ($1,$2,$3,$4,$5)"
                " ON CONFLICT (code) DO NOTHING", code, vi, en, kind, ward)).split()[-1])
        for username, name, role, unit in USERS:
            added["users"] += int((await conn.execute(
                "INSERT INTO staff_users (username, display_name, role, department, password_hash)"
                " VALUES ($1,$2,$3,$4,$5) ON CONFLICT (username) DO NOTHING",
                username, name, role, unit, hash_password(username + DEMO_PASSWORD_SUFFIX))).split()[-1])
    for key, text, address, phone, email in REPORTS:
        sender = SenderIdentity("phone", phone) if phone else SenderIdentity("email", email) if email else None
        result = await actions.record_inbound(pool, InboundEvent(
            channel="web", provider_message_id=f"demo:{key}", text=text, sender=sender, address=address,
            locale="en" if key == "demo-4" else "vi", raw={"demo": key},
        ))
        added["reports"] += int(result.created)
    return added
