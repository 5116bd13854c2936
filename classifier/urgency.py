"""Hazard rules for urgency, on the folded (diacritics-free) text.

The model learns urgency from the corpus; these rules catch the plain statements of danger that
must never be missed however a message is worded around them. A rule fires on a hazard described
as happening now, not on a risk ("cây sắp đổ" is a risk, "cây đổ" is a hazard).
"""

from __future__ import annotations

import re

_RISK_ONLY = r"(?<!sap )(?<!co the )(?<!nguy co )(?<!so )(?<!lo )"

HAZARDS: list[tuple[str, re.Pattern[str]]] = [
    ("fallen_tree", re.compile(r"\b(cay|canh cay|nhanh cay)( \w+){0,3} " + _RISK_ONLY
                               + r"(do|nga|gay|bat goc|do ngang|do de)\b"
                               r"( \w+){0,6} (duong|xe|nguoi|nha|day dien|chan)")),
    ("fallen_tree_en", re.compile(r"\b(tree|branch)( \w+){0,3} (fell|fallen|has fallen|collapsed|came down)\b")),
    ("live_wire", re.compile(r"\bday dien( \w+){0,4} (chay|phat lua|toe lua|no|chap|dut|dut roi|rot|roi xuong|"
                             r"sa xuong|nga|xet)\b|\b(chap dien|dien giat|giat dien|phong dien|toe lua)\b")),
    ("live_wire_en", re.compile(r"\b(sparking|live wire|power line down|wire (fell|down|sparking)|electrocut\w*)")),
    ("fire", re.compile(r"\b(chay nha|dam chay|bi chay|dang chay|boc chay|chay lon|chay to|ngon lua|lua chay|"
                        r"khoi den|no lon|phat no|vu no|no tung|ro ri gas|ro gas|xi gas|mui gas|ro khi)\b")),
    ("fire_en", re.compile(r"\b(fire|on fire|burning building|explosion|exploded|gas leak|smell of gas)\b")),
    ("trapped", re.compile(r"\b(mac ket|bi ket|ket trong|bi cuon|duoi nuoc|chet duoi|keu cuu|cuu voi|"
                           r"cuu gap|nguoi bi thuong|bi thuong nang|bat tinh|nga xuong ho|roi xuong ho|"
                           r"te xuong ho|bi nuoc cuon|nuoc cuon troi)\b")),
    ("trapped_en", re.compile(r"\b(trapped|swept away|drowning|unconscious|injured|bleeding|collapsed|collapsing|"
                              r"someone fell|help us|emergency)\b")),
    ("open_manhole", re.compile(r"\b(mat nap|khong co nap|ho ga ho|ho ga khong nap|nap cong( \w+){0,2} (mat|vo|"
                                r"sap|bung)|mat nap cong|ho sau giua duong|sut lun sau)\b")),
    ("open_manhole_en", re.compile(r"\b(open manhole|missing manhole cover|manhole (is )?open|sinkhole)\b")),
    ("poisoning", re.compile(r"\b(ngo doc|ngo doc thuc pham)( \w+){0,4} (nhieu|hang loat|tap the|nhap vien|cap cuu)"
                             r"|\b(tap the|hang loat|ca xom|ca khu|ca lop|ca nha|nhieu nguoi|chuc nguoi)( \w+){0,3} "
                             r"ngo doc\b")),
    ("attack", re.compile(r"\b(dam nguoi|chem nguoi|cam dao|cam hung khi|dang danh nhau|hon chien|bat coc|"
                          r"de doa giet|doa giet|tu tu|nhay cau|muon chet)\b")),
    ("attack_en", re.compile(r"\b(stabbed|stabbing|knife attack|kidnap\w*|suicide|kill (my|him|her)self)\b")),
]


# A rule can only match when one of its words is in the text; checking for the words first (a
# substring test) skips most of the regular-expression work on the many messages with no hazard.
NEEDLES: dict[str, tuple[str, ...]] = {
    "fallen_tree": ("cay",), "fallen_tree_en": ("tree", "branch"), "live_wire": ("dien", "lua"),
    "live_wire_en": ("spark", "wire", "power line", "electrocut"),
    "fire": ("chay", "lua", "khoi", "no", "gas", "khi"), "fire_en": ("fire", "burning", "explo", "gas"),
    "trapped": ("ket", "cuon", "duoi", "cuu", "thuong", "bat tinh", "xuong ho"),
    "trapped_en": ("trapped", "swept", "drown", "unconscious", "injur", "bleed", "collaps", "help", "emergency"),
    "open_manhole": ("nap", "ho ga", "ho sau", "sut lun"), "open_manhole_en": ("manhole", "sinkhole"),
    "poisoning": ("ngo doc",), "attack": ("dam", "chem", "dao", "hung khi", "danh nhau", "hon chien", "bat coc",
                                         "giet", "tu tu", "nhay cau", "muon chet"),
    "attack_en": ("stab", "knife", "kidnap", "suicide", "kill"),
}


def hazards(folded_text: str) -> list[str]:
    """Names of the hazard rules the text matches."""
    return [name for name, pattern in HAZARDS
            if any(needle in folded_text for needle in NEEDLES[name]) and pattern.search(folded_text)]
