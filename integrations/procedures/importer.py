"""Read a procedure catalogue (JSONL records, CSV summaries) and upsert it into the procedures table.

The shapes are those of the national portal's scraped catalogue (see ../shared/data/procedures/SOURCE.md):
JSONL records carry the portal's fields with its tables flattened into text; the CSV summary carries the
key columns only. Text parsing here is best effort: a field that cannot be parsed is left empty, never
guessed.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrations.procedures import store
from integrations.procedures.search import index_text
from integrations.procedures.store import Procedure
from kernel.text import clean, fold

log = logging.getLogger(__name__)

BATCH = 500
CHANNELS = ("Trực tuyến", "Trực tiếp", "Dịch vụ bưu chính")
NO_INFO = "Không có thông tin"


@dataclass(frozen=True, slots=True)
class RecordError:
    """An input line or row that could not be imported."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportReport:
    inserted: int = 0
    updated: int = 0
    skipped: int = 0  # unchanged, or a summary row for a procedure already stored in full
    errors: tuple[RecordError, ...] = ()
    duplicates: int = 0  # input records whose code was already read (a JSONL record wins over a CSV row)


# --- Flattened portal tables ---------------------------------------------------------------------

_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff]")  # zero-width marks pasted into the portal's text


def _clean(text: str) -> str:
    """clean(), without zero-width marks, each line's runs of spaces (non-breaking ones too) as one space."""
    return "\n".join(" ".join(line.split()) for line in clean(_INVISIBLE.sub("", text)).split("\n"))


def _one_line(text: str) -> str:
    return " ".join(text.split())


_TIME = re.compile(r"\d[\d.,]*(?:\s*(?:ngày làm việc|ngày|giờ|tháng|năm|phút))?", re.IGNORECASE)
_AMOUNT = re.compile(r"Miễn phí|Không có thông tin|\d[\d.,]*\s*(?:Việt Nam Đồng|VNĐ|VND|đồng|Đồng)")
_TRIVIAL_NOTE = re.compile(r"^\(?\s*(không|không có|không quy định|miễn phí)?\s*[.)]?\s*$", re.IGNORECASE)
_PLACE_START = re.compile(r"^(tai|nop (ho so )?(truc tiep )?tai|truc tiep tai|gui ho so truc tiep tai)\b")


@dataclass(frozen=True, slots=True)
class Way:
    """One row of the portal's "how to apply" table."""

    channel: str
    time: str | None
    fee: str | None
    description: str


def _is_cell_start(text: str, at: int) -> bool:
    return at >= len(text) or text[at].isdigit() or text[at].isupper()


def _parenthetical(text: str, at: int) -> int:
    """The index just past the balanced parenthetical opening at text[at], or at when there is none."""
    if at >= len(text) or text[at] != "(":
        return at
    depth = 0
    for i in range(at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return at


def parse_ways(text: str) -> list[Way]:
    """Split the flattened table (channel | time | fee | description) into rows."""
    text = _clean(text)
    body = text.split("Mô tả", 1)[1] if text.startswith("Hình thức nộp") and "Mô tả" in text else text
    # A channel name starts a row only where the next cell starts (a digit or a capital): descriptions
    # also say "Trực tuyến: nộp hồ sơ ..." or "Trực tiếp tại ...".
    starts = [(m.start(), m.group(0)) for m in re.finditer("|".join(CHANNELS), body)
              if _is_cell_start(body, m.end())]
    ways = []
    for i, (start, channel) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(body)
        cell = body[start + len(channel):end]
        time = None
        m = _TIME.match(cell)
        if m:
            time, rest = m.group(0).strip(), cell[m.end():]
        else:
            fee_at = _AMOUNT.search(cell[:200])
            rest = cell[fee_at.start():] if fee_at else cell
        fees = []
        while (m := _AMOUNT.match(rest)) is not None:
            end_note = _parenthetical(rest, m.end())
            note = re.sub(r"\.\s*\)$", ")", rest[m.end():end_note])  # "(... tỉnh.)" and "(... tỉnh)" are one fee
            amount = m.group(0)
            if amount != NO_INFO:
                fees.append(amount + (f" {note}" if note and not _TRIVIAL_NOTE.match(note) else ""))
            rest = rest[end_note:]
        ways.append(Way(channel, time, "; ".join(fees) or None, rest.strip()))
    return ways


def _join_unique(values: list[str | None], limit: int = 1000) -> str | None:
    seen = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    return "; ".join(seen)[:limit] or None


def _place(ways: list[Way]) -> str | None:
    """Where to apply in person, when the in-person row's description says so."""
    for way in ways:
        if way.channel == "Trực tiếp" and _PLACE_START.match(fold(way.description)):
            return way.description.split("\n", 1)[0].strip()[:500]
    return None


_DOC_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
_QUANTITY = re.compile(r"(\d+)( bản (?:chính|sao))(?:\s*,\s*(\d+)( bản (?:chính|sao)))?")
_TEMPLATE_EXT = re.compile(r"\.(?:docx?|pdf|xlsx?|rtf|zip|rar)$", re.IGNORECASE)


def _strip_templates(name: str) -> str:
    """Drop the attached form names the flattening glued on ("... theo mẫuMẫu số 01.docx")."""
    while (m := _TEMPLATE_EXT.search(name)) is not None:
        head = name[:m.start()]
        # The form's name starts where a capital follows a lower-case letter or punctuation with no space.
        cut = next((i for i in range(len(head) - 1, 0, -1)
                    if head[i].isupper() and (head[i - 1].islower() or head[i - 1] in ".;:)")), 0)
        if cut == 0:
            return head
        name = head[:cut]
    return name


def _count(digits: str) -> tuple[str, str]:
    """Split "20231" (a year run into a count) into ("2023", "1"); counts have one digit or a leading zero."""
    if len(digits) <= 2 and (len(digits) == 1 or digits[0] == "0"):
        return "", digits
    return digits[:-1], digits[-1]


def _quantity(*parts: str | None) -> str:
    counts = [(str(int(n)) + unit) for n, unit in zip(parts[::2], parts[1::2], strict=True) if n and int(n)]
    return ", ".join(counts)


def parse_documents(text: str) -> list[dict[str, str]]:
    """The documents to submit: name, quantity and, when the record lists several cases, the case."""
    text = _clean(text)
    if _DOC_HEADER not in text:
        rest = _one_line(text)
        return [{"name": rest[:500]}] if rest and rest != NO_INFO else []
    docs = []
    group = None
    for i, part in enumerate(text.split(_DOC_HEADER)):
        tail = part
        if i > 0:
            last_end = 0
            for m in _QUANTITY.finditer(part):
                spill, first = _count(m.group(1))
                name = _strip_templates(part[last_end:m.start()] + spill).strip(" \t\n-+•;.")
                last_end = m.end()
                if name:
                    doc = {"name": _one_line(name)[:500]}
                    if quantity := _quantity(first, m.group(2), m.group(3), m.group(4)):
                        doc["quantity"] = quantity
                    if group:
                        doc["group"] = group
                    docs.append(doc)
            tail = part[last_end:]
        group = _one_line(tail).strip(" -:")[:300] or None
    return docs


def _keywords(result_text: str) -> str:
    """The keywords the portal lists with a procedure's results, if any."""
    m = re.search(r"Từ khóa(.*?)Mô tả", _clean(result_text), re.DOTALL)
    return _text(m.group(1)) if m else ""


def _text(value: Any, *, lines: bool = False) -> str:
    """A field's text, NFC (the portal mixes composed and decomposed letters) on one line or its lines
    kept, and empty for the portal's "no information"."""
    text = _clean(str(value)) if value is not None else ""
    text = "\n".join(filter(None, text.split("\n"))) if lines else _one_line(text)
    return "" if text == NO_INFO else text


def from_record(data: dict[str, Any], source: str) -> Procedure:
    """A full portal record (one JSONL line) as a procedure; ValueError when it has no code or name."""
    code, name = _text(data.get("ma_thu_tuc")), _text(data.get("ten_thu_tuc"))
    if not code or not name:
        raise ValueError("missing ma_thu_tuc or ten_thu_tuc")
    field_name = _text(data.get("linh_vuc"))
    ways = parse_ways(str(data.get("cach_thuc_thuc_hien") or ""))
    return Procedure(
        code=code,
        name=name,
        field=field_name,
        level=_text(data.get("cap_thuc_hien")),
        agency=_text(data.get("co_quan_thuc_hien")) or _text(data.get("co_quan_co_tham_quyen")),
        processing_time=_join_unique([w.time for w in ways]),
        fees=_join_unique([w.fee for w in ways]),
        documents=parse_documents(str(data.get("thanh_phan_ho_so") or "")),
        channels=list(dict.fromkeys(w.channel for w in ways)),
        where_to_apply=_text(data.get("dia_chi_tiep_nhan"), lines=True)[:1000] or _place(ways),
        link=_text(data.get("detail_url")) or None,
        source=_text(data.get("source_folder")) or source,
        detailed=True,
        search_text=index_text(name, field_name, _keywords(str(data.get("ket_qua_xu_ly") or ""))),
    )


def from_summary(row: dict[str, Any], source: str) -> Procedure:
    """A summary row (the CSV) as a procedure; ValueError when it has no code or name."""
    code, name = _text(row.get("ma_thu_tuc")), _text(row.get("ten_thu_tuc"))
    if not code or not name:
        raise ValueError("missing ma_thu_tuc or ten_thu_tuc")
    field_name = _text(row.get("linh_vuc"))
    channels = [c for c in (_text(p) for p in str(row.get("channels") or "").split(";")) if c in CHANNELS]
    return Procedure(
        code=code,
        name=name,
        field=field_name,
        level=_text(row.get("cap_thuc_hien")),
        agency=_text(row.get("co_quan_thuc_hien")) or _text(row.get("co_quan_co_tham_quyen")),
        processing_time=_join_unique(str(row.get("processing_times") or "").split(";")),
        fees="Miễn phí" if _text(row.get("fee_flag")) == "free" else None,
        channels=list(dict.fromkeys(channels)),
        link=_text(row.get("detail_url")) or None,
        source=_text(row.get("source_folder")) or source,
        detailed=False,
        search_text=index_text(name, field_name),
    )


# --- Files ---------------------------------------------------------------------------------------

Item = Procedure | RecordError


def _files(path: Path) -> list[Path]:
    """JSONL files before CSV files, so a full record is read before a summary of the same code."""
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".jsonl", ".csv")]
        return sorted(found, key=lambda p: (p.suffix.lower() != ".jsonl", str(p)))
    if path.suffix.lower() not in (".jsonl", ".csv"):
        raise ValueError(f"not a .jsonl or .csv file: {path}")
    return [path]


def _read_jsonl(path: Path) -> Iterator[Item]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                if not line.strip():
                    continue
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                yield from_record(data, path.stem)
            except UnicodeDecodeError:
                yield RecordError(path.name, number, "not UTF-8")
            except ValueError as e:  # json.JSONDecodeError is a ValueError
                yield RecordError(path.name, number, str(e)[:200])


def _read_csv(path: Path) -> Iterator[Item]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        try:
            if not reader.fieldnames or "ma_thu_tuc" not in reader.fieldnames:
                yield RecordError(path.name, 1, "no ma_thu_tuc column in the header")
                return
            for row in reader:
                try:
                    yield from_summary(row, path.stem)
                except ValueError as e:
                    yield RecordError(path.name, reader.line_num, str(e)[:200])
        except (csv.Error, UnicodeDecodeError) as e:  # the rest of the file cannot be read
            yield RecordError(path.name, reader.line_num + 1, f"unreadable from here on: {e}"[:200])


def iter_items(path: str | Path) -> Iterator[Item]:
    """Every record of a file or folder, and an error for each line that could not be read, undeduplicated."""
    for file in _files(Path(path)):
        yield from (_read_jsonl(file) if file.suffix.lower() == ".jsonl" else _read_csv(file))


def iter_records(path: str | Path, errors: list[RecordError] | None = None) -> Iterator[Procedure]:
    """The procedures in a .jsonl/.csv file or a folder of them, one per code; errors go to `errors`."""
    seen: set[str] = set()
    for item in iter_items(path):
        if isinstance(item, RecordError):
            if errors is not None:
                errors.append(item)
        elif item.code not in seen:
            seen.add(item.code)
            yield item


def count_records(path: str | Path) -> int:
    """How many input records (non-blank JSONL lines, CSV rows) there are: a progress bar's total."""
    total = 0
    for file in _files(Path(path)):
        with file.open(encoding="utf-8-sig", errors="replace", newline="") as f:
            if file.suffix.lower() == ".jsonl":
                total += sum(1 for line in f if line.strip())
            else:
                total += max(sum(1 for _ in csv.reader(f)) - 1, 0)  # less the header
    return total


@dataclass
class _Tally:
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    duplicates: int = 0
    errors: list[RecordError] = field(default_factory=list)


async def import_procedures(
    pool: store.Db, path: str | Path, progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Upsert a catalogue file or folder in batches, in one transaction; bad lines are counted, not fatal.

    `progress(n)` is called with the number of input records handled since the last call (tqdm's
    `update` fits; `count_records(path)` gives the total).
    """
    tally = _Tally()
    seen: set[str] = set()
    batch: list[Procedure] = []
    handled = 0
    async with store.connection(pool) as conn, conn.transaction():

        async def flush() -> None:
            nonlocal handled
            if batch:
                counts = await store.upsert(conn, batch)
                tally.inserted += counts.inserted
                tally.updated += counts.updated
                tally.skipped += counts.skipped
                batch.clear()
            if progress is not None and handled:
                progress(handled)
            handled = 0

        for item in iter_items(path):
            handled += 1
            if isinstance(item, RecordError):
                tally.errors.append(item)
            elif item.code in seen:
                tally.duplicates += 1
            else:
                seen.add(item.code)
                batch.append(item)
            if len(batch) >= BATCH or handled >= BATCH * 4:
                await flush()
        await flush()
    for error in tally.errors[:20]:
        log.warning("procedure import: skipped %s", error)
    log.info("procedure import: %d inserted, %d updated, %d skipped, %d duplicates, %d errors",
             tally.inserted, tally.updated, tally.skipped, tally.duplicates, len(tally.errors))
    return ImportReport(tally.inserted, tally.updated, tally.skipped, tuple(tally.errors), tally.duplicates)
