"""Entities in a citizen's message, found with spaCy rules on pyvi-segmented text.

A spaCy pipeline (`spacy.blank("vi")`, whose tokenizer is pyvi's word segmenter) gets a component
that writes a diacritics-free form of each token into `token.norm_`, then an EntityRuler whose
token patterns match on that form: "phường", "phuong", "P." and "p" all introduce a ward.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from classifier.normalize import strip_diacritics

_PHONE = re.compile(r"^(\+?84|0)\d{9,10}$")
_CODE_DIGITS = re.compile(r"\D")

# Keywords match on the lower-case text with or without diacritics, never on the folded form:
# folding would make "quán" (a shop) a "quận", "phương" a "phường" and "dương" a "đường".
WARD_WORDS = ["phường", "phuong", "p", "p.", "xã", "xa", "x.", "đặc khu", "dac khu", "thị trấn", "thi tran", "tt",
              "tt."]
DISTRICT_WORDS = ["quận", "quan", "q", "q.", "huyện", "huyen", "h.", "thị xã", "thi xa", "tx", "tx.", "thành phố",
                  "thanh pho", "tp", "tp."]
ALLEY_WORDS = ["hẻm", "hem", "kiệt", "kiet", "ngõ", "ngo", "ngách", "ngach", "h", "hxh"]
HOUSE_WORDS = ["số", "so", "số nhà", "so nha", "nhà số", "nha so"]
STREET_WORDS = ["đường", "duong", "đ.", "d.", "đg", "dg", "phố", "pho", "đại lộ", "dai lo", "xa lộ", "xa lo",
                "quốc lộ", "quoc lo", "ql", "ql.", "tỉnh lộ", "tinh lo", "tl"]
CITY_NAMES = ["tp.hcm", "tphcm", "tp hcm", "hcm", "hcm.", "tp.hcm.", "tphcm.",
              "sai gon", "ho chi minh", "tp. hcm", "tp.ho chi minh",
              "thanh pho ho chi minh", "sg", "binh duong", "vung tau", "ba ria vung tau", "ba ria - vung tau"]
# Words that end a place name written in lower case without diacritics ("phuong tan dinh bi ngap").
STOP = frozenset(
    "bi co o tai la va thi da dang rat qua khong nen can cua nay kia do gan truoc sau ben canh cho voi "
    "nhung nhu ma de mot hai ba nhieu rat luc tu den tren duoi trong ngoai xin toi em anh chi ong ba "
    "phuong p quan q huyen duong hem kiet ngo so tp thanh pho xa , . ; : ! ? ( ) - /".split()
)

NUM = {"TEXT": {"REGEX": r"^\d{1,4}[a-zA-Z]?$"}}
NAME = {"NORM": {"NOT_IN": sorted(STOP)}, "IS_ALPHA": True}


def _patterns() -> list[dict[str, Any]]:
    def place(label: str, words: list[str]) -> list[dict[str, Any]]:
        return [
            {"label": label, "pattern": [{"LOWER": {"IN": words}}, NUM]},
            {"label": label, "pattern": [{"LOWER": {"IN": words}}, {"IS_TITLE": True, "OP": "+"}]},
            {"label": label, "pattern": [{"LOWER": {"IN": words}}, NAME, NAME, NAME]},
            {"label": label, "pattern": [{"LOWER": {"IN": words}}, NAME, NAME]},
        ]

    return [
        {"label": "EMAIL", "pattern": [{"LIKE_EMAIL": True}]},
        {"label": "PHONE", "pattern": [{"TEXT": {"REGEX": r"^(\+?84|0)\d{9,10}$"}}]},
        {"label": "PHONE", "pattern": [{"TEXT": {"REGEX": r"^(\+?84|0)\d{2,4}$"}},
                                       {"TEXT": {"REGEX": r"^\d{3,4}$"}}, {"TEXT": {"REGEX": r"^\d{3,4}$"}}]},
        {"label": "CASE_CODE", "pattern": [{"TEXT": {"REGEX": r"^[1-9]\d{9}$"}}]},
        {"label": "CASE_CODE", "pattern": [{"TEXT": {"REGEX": r"^[1-9]\d{2}$"}}, {"TEXT": {"REGEX": r"^\d{3}$"}},
                                           {"TEXT": {"REGEX": r"^\d{3}$"}}, {"TEXT": {"REGEX": r"^\d$"}}]},
        {"label": "PLATE", "pattern": [{"TEXT": {"REGEX": r"^\d{2}[A-Za-z]{1,2}\d?-?\d{3,5}(\.\d{2})?$"}}]},
        {"label": "PLATE", "pattern": [{"TEXT": {"REGEX": r"^\d{2}[A-Za-z]{1,2}\d?$"}}, {"TEXT": "-", "OP": "?"},
                                       {"TEXT": {"REGEX": r"^\d{3,5}(\.\d{2})?$"}}]},
        {"label": "PLATE", "pattern": [{"TEXT": {"REGEX": r"^\d{2}$"}}, {"TEXT": "-"},
                                       {"TEXT": {"REGEX": r"^[A-Za-z]{1,2}\d?$"}},
                                       {"TEXT": {"REGEX": r"^\d{3,5}(\.\d{2})?$"}}]},
        {"label": "ALLEY", "pattern": [{"LOWER": {"IN": ALLEY_WORDS}}, NUM, {"TEXT": "/", "OP": "?"},
                                       {"TEXT": {"REGEX": r"^\d{1,4}[a-zA-Z]?$"}, "OP": "?"}]},
        {"label": "HOUSE_NUMBER", "pattern": [{"LOWER": {"IN": HOUSE_WORDS}}, NUM,
                                              {"TEXT": "/", "OP": "?"}, {"TEXT": {"REGEX": r"^\d{1,4}[a-zA-Z]?$"},
                                                                         "OP": "?"}]},
        {"label": "HOUSE_NUMBER", "pattern": [NUM, {"TEXT": "/"}, NUM]},
        {"label": "WARD", "pattern": [{"TEXT": {"REGEX": r"^[pP]\.?\d{1,2}$"}}]},
        {"label": "DISTRICT", "pattern": [{"TEXT": {"REGEX": r"^[qQ]\.?\d{1,2}$"}}]},
        {"label": "DISTRICT", "pattern": [{"TEXT": {"REGEX": r"^[qQ]\.[A-Z]{2,3}$"}}]},
        *place("WARD", WARD_WORDS),
        *place("DISTRICT", DISTRICT_WORDS),
        *place("STREET", STREET_WORDS),
        {"label": "CITY", "pattern": [{"NORM": {"IN": CITY_NAMES}}]},
        {"label": "CITY", "pattern": [{"LOWER": {"IN": ["tp", "tp.", "thành phố", "thanh pho"]}},
                                      {"NORM": {"IN": CITY_NAMES}}]},
    ]


class EntityExtractor:
    """Phones, emails, case codes, plates and address parts from one text."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import spacy
            from spacy.language import Language

        if not Language.has_factory("hotline_fold_norm"):
            @Language.component("hotline_fold_norm")
            def fold_norm(doc):  # noqa: ANN001, ANN202 - spaCy's component signature
                for token in doc:
                    token.norm_ = strip_diacritics(token.lower_).replace("_", " ")
                return doc

        self.nlp = spacy.blank("vi")
        self.nlp.add_pipe("hotline_fold_norm")
        ruler = self.nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "NORM", "validate": True})
        ruler.add_patterns(_patterns())

    def extract(self, text: str) -> dict[str, Any]:
        return self._from_doc(self.nlp(text))

    def extract_many(self, texts: list[str]) -> list[dict[str, Any]]:
        """Entities of many texts through one spaCy pipe (cheaper per text than one call each)."""
        return [self._from_doc(doc) for doc in self.nlp.pipe(texts, batch_size=64)]

    def _from_doc(self, doc: Any) -> dict[str, Any]:
        found: dict[str, list[str]] = {}
        for ent in doc.ents:
            value = ent.text.strip().rstrip(".") if ent.label_ == "CITY" else ent.text.strip()
            if ent.label_ == "PHONE":
                digits = re.sub(r"[^\d+]", "", value)
                if not _PHONE.match(digits):
                    continue
                value = "+84" + digits[1:] if digits.startswith("0") else ("+" + digits.lstrip("+"))
            elif ent.label_ == "CASE_CODE":
                # Candidates only: the hub checks the check digit (the classifier imports no casework).
                value = _CODE_DIGITS.sub("", value)
            found.setdefault(ent.label_, [])
            if value not in found[ent.label_]:
                found[ent.label_].append(value)
            if ent.label_ in ("ALLEY", "HOUSE_NUMBER") and "STREET" not in found:
                # "hẻm 42/7 Nguyễn Trãi": a capitalised name right after the number is the street.
                names = []
                for token in doc[ent.end:ent.end + 4]:
                    if not token.is_title or token.ent_type_:
                        break
                    names.append(token.text)
                if names:
                    found["STREET"] = [" ".join(names)]
        address = {key: found[label][0] for key, label in (
            ("house_number", "HOUSE_NUMBER"), ("alley", "ALLEY"), ("street", "STREET"), ("ward", "WARD"),
            ("district", "DISTRICT"), ("city", "CITY")) if label in found}
        return {
            "phones": found.get("PHONE", []),
            "emails": found.get("EMAIL", []),
            "case_codes": found.get("CASE_CODE", []),
            "plates": found.get("PLATE", []),
            "address": address,
            "address_text": ", ".join(address[k] for k in ("house_number", "alley", "street", "ward", "district",
                                                            "city") if k in address) or None,
        }
