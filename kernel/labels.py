"""The names readers see for the shared codes (fields and channels), in Vietnamese and English.

Routing explains its decisions in these words and may not import casework or the console, so the
tables every context reads live here, once.
"""

from __future__ import annotations

from collections.abc import Mapping

FIELD_LABELS: dict[str, tuple[str, str]] = {
    "admin_procedures": ("Hành chính công", "Public administrative services"),
    "urban_infrastructure": ("Hạ tầng đô thị", "Urban infrastructure"),
    "traffic": ("Giao thông", "Traffic and road safety"),
    "public_transport": ("Vận tải hành khách công cộng", "Public transport"),
    "water_supply": ("Cấp nước", "Water supply"),
    "drainage_flooding": ("Thoát nước – ngập nước", "Drainage and flooding"),
    "public_lighting": ("Chiếu sáng công cộng", "Public lighting"),
    "trees": ("Cây xanh", "Trees and green space"),
    "electricity": ("Điện lực", "Electricity"),
    "telecom": ("Viễn thông", "Telecommunications"),
    "urban_order": ("Trật tự đô thị", "Urban order and construction"),
    "environment": ("Tài nguyên – môi trường", "Environment and sanitation"),
    "noise": ("Tiếng ồn", "Noise"),
    "security": ("An ninh trật tự", "Security and public order"),
    "health": ("Y tế", "Health"),
    "other": ("Khác / chưa phân loại", "Other / not yet classified"),
}

CHANNEL_LABELS: dict[str, tuple[str, str]] = {
    "web": ("Cổng thông tin", "Web form"),
    "sms": ("Tin nhắn SMS", "SMS"),
    "voice": ("Điện thoại", "Phone call"),
    "telegram": ("Telegram", "Telegram"),
    "email": ("Thư điện tử", "Email"),
    "chat": ("Trò chuyện trực tuyến", "Web chat"),
    "open311": ("Open311", "Open311"),
    "zalo": ("Zalo", "Zalo"),
}


def labels(table: Mapping[str, tuple[str, str]], code: str) -> tuple[str, str]:
    """Return the code's (Vietnamese, English) names; an unknown code stands for itself in both."""
    return table.get(code, (code, code))
