"""Procedure search for citizen wording: fold, expand aliases, fetch full-text candidates, score in Python.

Citizens say "làm lại căn cước bị mất" or "xin giay phep xay dung"; the catalogue says "Cấp lại thẻ căn
cước" and "Cấp giấy phép xây dựng mới ... nhà ở riêng lẻ". Both sides are folded (no diacritics, lower
case); a hand-made alias table maps citizen words, abbreviations, teencode and a little English to
catalogue words; PostgreSQL finds the procedures that share any of the rarer terms (an OR full-text
query; the last word as a prefix while it is being typed) and `score` ranks them in Python: query
coverage weighted by rarity, with bonuses for words in the name and at its start, for word pairs in
order, for a name without much else, and for the ward and city levels where citizens apply.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from integrations.procedures import store
from kernel.text import fold

MAX_TERMS = 40
CANDIDATES = 200  # procedures scored per query, the best full-text matches
MIN_SCORE = 0.2  # below this a procedure shares a word or two with the query and nothing more
PARTIAL = 0.7  # a half-typed last word found as the start of a word
CODE = re.compile(r"\b\d\.\d{6}\b")

# Teencode and abbreviations, one folded token to folded words.
SHORTHAND = {
    "ko": "khong", "k": "khong", "hok": "khong", "hk": "khong", "kg": "khong", "dc": "duoc", "lm": "lam",
    "mun": "muon", "mk": "minh", "mik": "minh", "e": "em", "j": "gi", "ntn": "nhu the nao", "bn": "bao nhieu",
    "vs": "voi", "ng": "nguoi", "cty": "cong ty", "dk": "dang ky", "dky": "dang ky", "gp": "giay phep",
    "gcn": "giay chung nhan", "qsdd": "quyen su dung dat", "bhxh": "bao hiem xa hoi", "bhyt": "bao hiem y te",
    "gplx": "giay phep lai xe", "gpxd": "giay phep xay dung", "lltp": "ly lich tu phap",
    "llpt": "ly lich tu phap", "mst": "ma so thue", "hkd": "ho kinh doanh", "dkkd": "dang ky kinh doanh",
    "cmnd": "chung minh nhan dan", "cmt": "chung minh thu", "cccd": "can cuoc",
    "cavet": "ca vet", "tphcm": "thanh pho ho chi minh", "hcm": "ho chi minh", "sg": "sai gon",
}

# Abbreviations the catalogue itself uses beside the full words: a query with either form matches either.
ABBREVIATIONS = {
    "tncn": "thu nhap ca nhan", "tnhh": "trach nhiem huu han", "bhxh": "bao hiem xa hoi", "bhyt": "bao hiem y te",
    "ubnd": "uy ban nhan dan", "gtgt": "gia tri gia tang", "tndn": "thu nhap doanh nghiep",
}

# Citizen phrases → catalogue phrases, written with diacritics and folded below. The weight is that of
# the catalogue words added (the citizen's own words stay, at ALIASED weight).
ALIASES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("thẻ căn cước", ("căn cước", "căn cước công dân", "thẻ căn cước công dân", "chứng minh nhân dân",
                      "chứng minh thư", "chứng minh", "id card", "identity card", "national id", "citizen id"), 1.0),
    ("cấp lại", ("làm lại", "bị mất", "làm mất", "đánh mất", "mất", "thất lạc", "rơi mất", "bị rơi", "lost",
                 "lose", "replace", "replacement", "reissue", "cấp lại"), 1.0),
    ("cấp đổi", ("đổi", "đổi mới", "hết hạn", "bị hỏng", "hư hỏng", "hỏng", "rách", "renew", "renewal",
                 "expired", "change"), 1.0),
    ("cấp", ("xin", "làm", "xin cấp", "apply", "get", "issue", "new"), 0.5),
    ("cấp giấy phép xây dựng mới", ("xin giấy phép xây dựng", "làm giấy phép xây dựng", "xin phép xây dựng",
                                   "building permit", "construction permit"), 1.0),
    ("cấp giấy phép xây dựng mới nhà ở riêng lẻ", ("xin phép xây nhà", "xin phép xây", "phép xây nhà", "xây nhà",
                                                  "xây dựng nhà", "xây nhà ở", "build a house", "build house"), 1.0),
    ("giấy phép xây dựng sửa chữa cải tạo", ("sửa nhà", "sửa chữa nhà", "cải tạo nhà", "nâng tầng",
                                            "renovate", "renovation"), 1.0),
    ("đăng ký khai sinh", ("khai sinh", "giấy khai sinh", "làm khai sinh", "sinh con", "mới sinh",
                           "birth certificate", "birth registration", "register birth", "newborn"), 1.0),
    ("bản sao trích lục giấy khai sinh", ("bản sao giấy khai sinh", "bản sao khai sinh", "trích lục khai sinh",
                                         "trích lục", "copy of birth certificate"), 1.0),
    ("đăng ký kết hôn", ("kết hôn", "cưới", "đám cưới", "lấy vợ", "lấy chồng", "marriage", "marry",
                         "married", "wedding"), 1.0),
    ("xác nhận tình trạng hôn nhân", ("độc thân", "xác nhận độc thân", "giấy độc thân", "tình trạng hôn nhân",
                                      "single status", "certificate of single status"), 1.0),
    ("đăng ký khai tử", ("khai tử", "chứng tử", "giấy chứng tử", "qua đời", "đã mất", "chết", "từ trần",
                         "death certificate", "died", "passed away"), 1.0),
    ("thay đổi cải chính bổ sung thông tin hộ tịch", ("đổi tên", "sửa tên", "cải chính", "sai tên",
                                                     "sai ngày sinh", "sửa ngày sinh", "đổi họ", "change name",
                                                     "correct name"), 1.0),
    ("đăng ký nuôi con nuôi", ("con nuôi", "nhận nuôi", "nhận con nuôi", "adopt", "adoption"), 1.0),
    ("đăng ký nhận cha mẹ con", ("nhận cha", "nhận con", "nhận cha con", "nhận mẹ con", "xác nhận cha con"), 1.0),
    ("đăng ký thường trú", ("hộ khẩu", "nhập hộ khẩu", "nhập khẩu cho", "đăng ký hộ khẩu", "chuyển hộ khẩu",
                            "thường trú", "permanent residence"), 1.0),
    ("xóa đăng ký thường trú", ("cắt khẩu", "cắt hộ khẩu", "xóa hộ khẩu", "xoá hộ khẩu"), 1.0),
    ("đăng ký tạm trú", ("tạm trú", "kt3", "temporary residence", "register address"), 1.0),
    ("khai báo tạm vắng", ("tạm vắng", "đi vắng"), 1.0),
    # The land procedures name it "Giấy chứng nhận" and sit in the field "Đất đai".
    ("giấy chứng nhận đất đai", ("sổ đỏ", "sổ hồng", "bìa đỏ", "bìa hồng", "land title", "land certificate",
                                 "land use right", "red book", "pink book"), 1.0),
    ("đăng ký đất đai cấp giấy chứng nhận quyền sử dụng đất lần đầu", ("làm sổ đỏ", "làm sổ hồng", "cấp sổ đỏ",
                                                                       "cấp sổ hồng", "xin sổ đỏ", "xin sổ hồng",
                                                                       "sổ đỏ lần đầu", "sổ hồng lần đầu"), 1.0),
    ("đăng ký biến động quyền sử dụng đất chuyển nhượng", ("sang tên sổ đỏ", "sang tên sổ hồng", "sang tên đất",
                                                           "mua bán đất", "chuyển nhượng đất", "sang tên nhà"), 1.0),
    ("tách thửa hợp thửa đất", ("tách thửa", "tách sổ", "chia đất", "hợp thửa", "gộp sổ"), 1.0),
    ("chứng nhận đăng ký xe biển số xe", ("đăng ký xe", "cà vẹt", "ca vet", "giấy đăng ký xe", "biển số",
                                         "biển số xe", "vehicle registration", "number plate",
                                         "license plate", "licence plate"), 1.0),
    ("lần đầu", ("mới mua", "vừa mua", "mua mới", "xe mới", "first time"), 1.0),
    ("đăng ký sang tên xe thay đổi chủ xe", ("sang tên xe", "mua xe cũ", "bán xe", "sang tên xe máy",
                                            "sang tên ô tô", "transfer vehicle"), 1.0),
    ("giấy phép lái xe", ("bằng lái", "bằng lái xe", "giấy phép lái xe", "driving licence", "driving license",
                          "driver license", "driver licence", "driver's license"), 1.0),
    ("hộ chiếu phổ thông", ("hộ chiếu", "passport"), 1.0),
    ("phiếu lý lịch tư pháp", ("lý lịch tư pháp", "lý lịch", "criminal record", "police check",
                               "police clearance"), 1.0),
    ("chứng thực bản sao từ bản chính", ("sao y", "sao y bản chính", "công chứng bản sao", "photo công chứng",
                                        "công chứng giấy tờ", "certified copy"), 1.0),
    ("chứng thực", ("công chứng", "notarize", "notarise", "notary"), 1.0),
    ("chứng thực chữ ký", ("chứng thực chữ ký", "công chứng chữ ký", "xác nhận chữ ký"), 1.0),
    ("đăng ký thuế mã số thuế", ("mã số thuế", "tax code", "tax id", "tax number"), 1.0),
    ("đăng ký thuế lần đầu cá nhân", ("mã số thuế cá nhân", "xin mã số thuế", "làm mã số thuế",
                                     "đăng ký mã số thuế", "personal tax code"), 1.0),
    ("đăng ký thành lập hộ kinh doanh", ("hộ kinh doanh", "kinh doanh cá thể", "hộ cá thể", "giấy phép kinh doanh",
                                        "đăng ký kinh doanh", "mở quán", "mở cửa hàng", "mở tiệm", "buôn bán",
                                        "business license", "business licence", "business registration"), 1.0),
    ("đăng ký thành lập công ty", ("thành lập công ty", "mở công ty", "lập công ty", "thành lập doanh nghiệp",
                                   "start a company", "company registration"), 1.0),
    ("hưởng bảo hiểm xã hội một lần", ("rút bảo hiểm xã hội", "bảo hiểm xã hội một lần", "bảo hiểm xã hội 1 lần",
                                      "rút bảo hiểm", "social insurance"), 1.0),
    ("cấp tài khoản định danh điện tử", ("vneid", "định danh điện tử", "tài khoản định danh", "định danh mức 2",
                                        "mức 2", "electronic id", "e id"), 1.0),
    ("nước ngoài", ("người nước ngoài", "foreigner", "foreign", "việt kiều", "nước ngoài"), 1.0),
)
ALIASED = 0.3  # weight of the citizen's words an alias replaced: kept, they still help ("mất" is in names)

# Said to us, not to the catalogue. Phrases are dropped wherever they occur; words when they stand alone.
STOP_PHRASES = (
    "thủ tục", "như thế nào", "thế nào", "làm sao", "ra sao", "ở đâu", "bao lâu", "bao nhiêu", "mất bao lâu",
    "cho hỏi", "xin hỏi", "vui lòng", "hướng dẫn", "cần gì", "cần những gì", "giấy tờ gì", "hồ sơ gì",
    "hồ sơ", "nộp hồ sơ", "kết quả", "trễ hẹn", "quá hạn", "chậm trễ", "đến nay", "đến giờ", "tại sao", "vì sao",
    # Where the citizen went (the level is in the record), and outages, which are not procedures.
    "ra phường", "lên phường", "ở phường", "tại phường", "ra quận", "lên quận", "ở quận", "tại quận",
    "công an phường", "ủy ban phường", "ubnd phường", "mất nước", "mất điện", "cúp điện", "cúp nước",
    "mất sóng", "mất mạng", "mất trật tự", "mất vệ sinh", "chết máy",
    "cho con", "cho bé", "cho cháu", "cho vợ", "cho chồng", "cho bố", "cho mẹ", "cho ba", "cho má",
    "cho ông", "cho bà", "cho em", "cho anh", "cho chị", "cho mình", "cho tôi", "how to", "how do i", "how can i",
    "i want to", "i need to", "where to", "where can i",
)
STOP_WORDS = (
    "toi tui em anh chi minh a ah oi nhe nhi thi la co khong duoc can muon phai hoi giup "
    "gi nao dau roi nay kia do day thoi va hay hoac cua de den ve voi nhung cac mot trong tren ra len "
    "sau truoc khi neu vi nen bi da se rat nhieu chua xong het "
    "how what where when why which who do does i me my we our you your to for of in on at is are am be "
    "can want need please and or with"
).split()

# Words too general to make a procedure name specific; left out of the name-precision bonus.
NAME_FILLER = frozenset("thu tuc doi voi cho cua va tai thuc hien cap trong truong hop theo ve cac nhung".split())
LEVEL_BONUS = {"cap xa": 0.03, "cap tinh": 0.02}
HEAD_WORDS = 6
NOTE_STARTS = ("truong hop", "doi voi", "neu ", "luu y", "ghi chu")
# "(thực hiện tại cấp tỉnh)": the level, which has its own column; as words it would match "cấp" (issue).
LEVEL_NOTE = re.compile(r"\(\s*(?:thuc hien\s+)?(?:tai\s+|o\s+)?cap\s+(?:trung uong|bo|tinh|huyen|xa)\b[^)]*\)")


def _tokens(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", fold(text))


def index_text(name: str, *more: str) -> str:
    """The search text of a procedure: its name's words on the first line, then the other words."""
    name_words = re.findall(r"[^\W_]+", LEVEL_NOTE.sub(" ", fold(name)))
    return " ".join(name_words) + "\n" + " ".join(t for part in more for t in _tokens(part))


def _phrase_table() -> dict[tuple[str, ...], tuple[tuple[str, ...] | None, float]]:
    """Folded source phrase → (folded catalogue words, weight), or None to drop it."""
    table: dict[tuple[str, ...], tuple[tuple[str, ...] | None, float]] = {}
    for phrase in STOP_PHRASES:
        table[tuple(_tokens(phrase))] = (None, 0.0)
    for target, sources, weight in ALIASES:
        for source in sources:
            table[tuple(_tokens(source))] = (tuple(_tokens(target)), weight)
    return table


PHRASES = _phrase_table()
LONGEST = max(len(k) for k in PHRASES)
STOP = frozenset(STOP_WORDS)


@dataclass(frozen=True, slots=True)
class Query:
    """A citizen's question as weighted catalogue terms, the word pairs worth finding in order, and the
    last word when it may be half-typed."""

    terms: Mapping[str, float]
    pairs: frozenset[tuple[str, str]]
    prefix: str | None = None
    # Words that are one concept in two spellings ("tncn" / "thu nhập cá nhân"): each alternative is a
    # tuple of terms; a procedure with either covers the concept. Terms in no group stand alone.
    alternatives: tuple[tuple[tuple[str, ...], ...], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def tsquery(self, terms: Iterable[str]) -> str:
        """An OR of the terms for to_tsquery('simple', ...); terms are folded letters and digits only."""
        return " | ".join(f"{t}:*" if t == self.prefix else t for t in terms)


def _expand_shorthand(tokens: Iterable[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        out.extend(SHORTHAND.get(token, token).split())
    return out


def parse_query(text: str, max_terms: int = MAX_TERMS) -> Query:
    """Fold, expand shorthand, apply aliases (longest phrase first) and drop what is said to us."""
    tokens = _expand_shorthand(_tokens(text))
    terms: dict[str, float] = {}
    pairs: set[tuple[str, str]] = set()
    run: list[str] = []  # consecutive kept words of the citizen, for pairs
    last_kept = None

    def add(token: str, weight: float) -> None:
        if len(token) > 1 or token.isdigit():
            terms[token] = max(terms.get(token, 0.0), weight)

    def end_run() -> None:
        pairs.update(zip(run, run[1:], strict=False))
        run.clear()

    i = 0
    while i < len(tokens) and len(terms) < max_terms:
        for n in range(min(LONGEST, len(tokens) - i), 0, -1):
            hit = PHRASES.get(tuple(tokens[i:i + n]))
            if hit is not None:
                break
        else:
            n, hit = 1, None
        last_kept = None
        if hit is None:
            token = tokens[i]
            if token in STOP:
                end_run()
            else:
                add(token, 1.0)
                run.append(token)
                last_kept = token
        else:
            target, weight = hit
            end_run()
            if target is not None:
                for token in tokens[i:i + n]:
                    if token not in STOP:
                        add(token, ALIASED)
                for token in target:
                    add(token, weight)
                pairs.update(zip(target, target[1:], strict=False))
        i += n
    end_run()
    # Syllables are whole words ("can" must not find "canh"), so only a last word typed without a
    # space after it is matched as a prefix: it may be half-typed.
    typing = bool(text) and not text[-1].isspace() and text.rstrip()[-1:].isalnum()
    prefix = last_kept if typing and last_kept in terms and i >= len(tokens) else None
    alternatives = []
    grouped: set[str] = set()
    for short, long in ABBREVIATIONS.items():
        words = tuple(long.split())
        if (short in terms or all(w in terms for w in words)) and grouped.isdisjoint((short, *words)):
            weight = max(terms.get(w, 0.0) for w in (short, *words))
            for w in (short, *words):
                terms[w] = weight
            grouped.update((short, *words))
            alternatives.append(((short,), words))
    return Query(terms=terms, pairs=frozenset(pairs), prefix=prefix, alternatives=tuple(alternatives))


@dataclass(frozen=True, slots=True)
class Candidate:
    code: str
    level: str
    search_text: str  # from index_text


Concept = tuple[float, tuple[tuple[tuple[str, float], ...], ...]]  # (weight, alternatives of (term, weight))


def concepts(query: Query, doc_freq: Mapping[str, int], total: int) -> list[Concept]:
    """The query's concepts, each weighted by its words' rarity (inverse document frequency).

    A term is a concept of its own unless it is one spelling of an abbreviation. Terms no procedure
    has are left out: they cannot tell procedures apart.
    """
    def idf(term: str) -> float:
        return query.terms[term] * math.log((total + 1) / (doc_freq[term] + 0.5))

    grouped = {t for group in query.alternatives for alt in group for t in alt}
    groups = [group for group in query.alternatives] + [((t,),) for t in query.terms if t not in grouped]
    out: list[Concept] = []
    for group in groups:
        alts = tuple(tuple((t, idf(t)) for t in alt) for alt in group if all(doc_freq.get(t) for t in alt))
        if alts:
            out.append((max(sum(w for _, w in alt) for alt in alts), alts))
    return out


@functools.lru_cache(maxsize=256)
def level_bonus(level: str) -> float:
    folded = fold(level)
    return max((b for lv, b in LEVEL_BONUS.items() if lv in folded), default=0.0)


def _found(term: str, words: set[str], prefix: str | None) -> float:
    if term in words:
        return 1.0
    if term == prefix and any(w.startswith(term) for w in words):
        return PARTIAL
    return 0.0


def _covered(weighted: Sequence[Concept], words: set[str], prefix: str | None) -> float:
    """The weight of the concepts found among the words, each by its best-covered alternative."""
    total = 0.0
    for weight, alts in weighted:
        if len(alts) == 1 and len(alts[0]) == 1:  # most concepts are one word: the fast path
            term = alts[0][0][0]
            total += weight if term in words else weight * _found(term, words, prefix) if term == prefix else 0.0
            continue
        best = max(sum(w * _found(t, words, prefix) for t, w in alt) / (sum(w for _, w in alt) or 1.0)
                   for alt in alts)
        total += weight * best
    return total


def score(query: Query, candidate: Candidate, weighted: Sequence[Concept]) -> float:
    """How well a procedure answers the query, from 0 to about 1, given the query's weighted concepts. Pure."""
    norm = sum(weight for weight, _ in weighted)
    if norm <= 0:
        return 0.0
    name_line, _, rest = candidate.search_text.partition("\n")
    name = name_line.split()
    text = name + rest.split()
    content = [w for w in name if w not in NAME_FILLER]
    coverage = _covered(weighted, set(text), query.prefix) / norm
    in_name = _covered(weighted, set(name), query.prefix) / norm
    # A name starts with what the procedure does ("Cấp lại Giấy chứng nhận ..." against "Thu hồi Giấy
    # chứng nhận ... và cấp lại ..."), so the query's words among its first words count once more.
    in_head = _covered(weighted, set(content[:HEAD_WORDS]), None) / norm
    in_order = 0.0
    if query.pairs:
        name_pairs, text_pairs = set(zip(name, name[1:], strict=False)), set(zip(text, text[1:], strict=False))
        in_order = sum(1.0 if p in name_pairs else 0.5 for p in query.pairs if p in text_pairs) / len(query.pairs)
    precision = sum(1 for w in content if w in query.terms) / len(content) if content else 0.0
    return (0.40 * coverage + 0.15 * in_name + 0.15 * in_head + 0.13 * in_order + 0.12 * precision
            + level_bonus(candidate.level))


def rank(query: Query, candidates: Iterable[Candidate], doc_freq: Mapping[str, int], total: int,
         limit: int, min_score: float = MIN_SCORE) -> list[tuple[str, float]]:
    """The best (code, score) pairs, best first; ties broken by code for a stable order."""
    weighted = concepts(query, doc_freq, total)
    scored = [(c.code, score(query, c, weighted)) for c in candidates]
    scored = [(code, s) for code, s in scored if s >= min_score]
    scored.sort(key=lambda cs: (-cs[1], cs[0]))
    return scored[:limit]


@dataclass(frozen=True, slots=True)
class ProcedureHit:
    code: str
    name: str
    field: str
    level: str
    agency: str
    processing_time: str | None
    fees: str | None
    documents: list[str]
    channels: list[str]
    where_to_apply: str | None
    link: str | None
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "name": self.name, "field": self.field, "level": self.level, "agency": self.agency,
            "processing_time": self.processing_time, "fees": self.fees, "documents": self.documents,
            "channels": self.channels, "where_to_apply": self.where_to_apply, "link": self.link,
            "score": self.score,
        }


def document_line(doc: Mapping[str, str], limit: int = 200) -> str:
    name = doc.get("name", "")
    name = name if len(name) <= limit else name[:limit - 1].rstrip() + "…"
    return f"{name} ({doc['quantity']})" if doc.get("quantity") else name


def _to_bring(doc: Mapping[str, str]) -> bool:
    """A paper to bring (it has a quantity), not a note ("Trường hợp ...", a "Lưu ý" section)."""
    name, group = fold(doc.get("name", "")), fold(doc.get("group", ""))
    return bool(doc.get("quantity")) and "luu y" not in group and not name.startswith(NOTE_STARTS)


def short_documents(documents: Sequence[Mapping[str, str]], count: int) -> list[str]:
    """The first papers to bring, then notes, as one line each."""
    ordered = [d for d in documents if _to_bring(d)] + [d for d in documents if not _to_bring(d)]
    return [document_line(d) for d in ordered[:count]]


def hit_from_row(row: Mapping[str, Any], score_value: float, max_documents: int = 8) -> ProcedureHit:
    return ProcedureHit(
        code=row["code"], name=row["name"], field=row["field"], level=row["level"], agency=row["agency"],
        processing_time=row["processing_time"], fees=row["fees"],
        documents=short_documents(row["documents"] or [], max_documents),
        channels=list(row["channels"] or []), where_to_apply=row["where_to_apply"], link=row["link"],
        score=round(score_value, 4),
    )


async def search(db: store.Db, query: str, limit: int = 10, *, min_score: float = MIN_SCORE) -> list[ProcedureHit]:
    """The procedures that best answer a citizen's question, best first."""
    parsed = parse_query(query)
    codes = list(dict.fromkeys(CODE.findall(query)))
    async with store.connection(db) as conn:
        ranked: list[tuple[str, float]] = [(c, 1.0) for c in codes]
        if not parsed.empty:
            terms = list(parsed.terms)
            total, counts = await store.document_frequencies(conn, [parsed.tsquery([t]) for t in terms])
            doc_freq = dict(zip(terms, counts, strict=True))
            present = [t for t in terms if doc_freq[t]]
            # A word in more procedures than are scored ("cấp", "đăng ký") cannot pick them: it ranks
            # the candidates the rarer words fetch.
            rare = [t for t in present if doc_freq[t] <= CANDIDATES] or present
            if rare:
                rows = await store.candidates(conn, parsed.tsquery(rare), CANDIDATES)
                found = (Candidate(r["code"], r["level"], r["search_text"]) for r in rows)
                ranked += [cs for cs in rank(parsed, found, doc_freq, total, limit, min_score) if cs[0] not in codes]
        rows = await store.get_many(conn, [code for code, _ in ranked[:limit + len(codes)]])
    return [hit_from_row(rows[code], s) for code, s in ranked if code in rows][:limit]
