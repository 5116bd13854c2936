"""Language identification for hotline messages: Vietnamese, English, or another language by script."""

from __future__ import annotations

import re

from classifier.normalize import strip_diacritics

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Letters that only Vietnamese uses among the languages citizens write to 1022 in.
_VI_LETTERS = set("ăâđêôơưĂÂĐÊÔƠƯ")
_VI_TONED = re.compile(r"[àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.IGNORECASE)

# Frequent words, folded; Vietnamese syllables written without diacritics still look like these.
_VI_WORDS = frozenset(
    "khong co duoc nguoi nha duong bi da dang roi cho toi em anh chi la va cua nay o tai phuong quan xin "
    "gi sao nuoc dien cay rac tieng hem so xe troi qua luon nhieu mot hai ba ngay dem sang toi gio lam "
    "ko dc j vs mn k r voi thi ma nhung de nen can phan anh kien nghi xu ly giup hoi oi a nhe".split()
)
_EN_WORDS = frozenset(
    "the a an is are was were be been being to of and or but in on at for with my our your their this that these "
    "those there here it its not no yes please help street road lane alley near next door front back behind "
    "have has had from by can could would will should shall must may might i me we us you they them he him she "
    "her who what when where why how which all any some every each many much more most very too so just "
    "also only still again ever never always now today tonight yesterday tomorrow night day days week weeks "
    "month hour hours morning evening since ago after before until while because about over under out up down "
    "off into through again broken fixed working work works doing done do does did get got go going gone come "
    "came see saw look looks need needs want wants know think says said tell told call called report hotline "
    "water power electricity bus noise garbage trash rubbish light lights tree trees flood flooded smell dog "
    "loud music people neighbour neighbor building house apartment shop car motorbike hello hi thanks thank "
    "sorry anyone someone nobody everyone".split()
)

_SCRIPTS = [
    (re.compile(r"[\u3040-\u30ff]"), "ja"),
    (re.compile(r"[\uac00-\ud7af]"), "ko"),
    (re.compile(r"[\u4e00-\u9fff]"), "zh"),
    (re.compile(r"[\u0400-\u04ff]"), "ru"),
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
    (re.compile(r"[\u1780-\u17ff]"), "km"),
    (re.compile(r"[\u0600-\u06ff]"), "ar"),
]
_LATIN_OTHER = {
    "fr": frozenset("le la les des est une pour pas avec dans je vous nous rue merci bonjour".split()),
    "de": frozenset("der die das und ist nicht ich mit auf ein eine strasse danke bitte".split()),
    "es": frozenset("el la los las es una por para con calle gracias hola no muy".split()),
}


def detect(text: str) -> str:
    """Return an ISO 639-1 code: 'vi', 'en', or another language's code; 'vi' when unsure."""
    if not text or not text.strip():
        return "vi"
    for pattern, code in _SCRIPTS:
        if pattern.search(text):
            return code
    if any(ch in _VI_LETTERS for ch in text) or len(_VI_TONED.findall(text)) >= 2:
        return "vi"
    words = [w.lower() for w in _WORD.findall(strip_diacritics(text))]
    if not words:
        return "vi"
    vi = sum(w in _VI_WORDS for w in words)
    en = sum(w in _EN_WORDS for w in words)
    others = {code: sum(w in vocab for w in words) for code, vocab in _LATIN_OTHER.items()}
    best_other = max(others, key=others.get)
    if others[best_other] >= 2 and others[best_other] > max(vi, en):
        return best_other
    return "en" if en > vi else "vi"
