"""The evaluation sets unlike the corpus (classifier/data/eval/) and the harness that reports on them."""

import importlib.util
import json
import re
import subprocess
import sys
import unicodedata

import pytest

from classifier import Classification, evalsets
from classifier.corpus import FIELDS, HELDOUT_DIR, LABELS, TRAIN_DIR, load_dir
from classifier.evalsets import EVAL_DIR, SETS, EvalLine, calibration, half_of, read_set, report, top_choice
from classifier.normalize import views
from kernel.text import fold, strip_diacritics


def _module(name):
    spec = importlib.util.spec_from_file_location(f"evalsets_{name}", EVAL_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sets():
    return evalsets.load()


def test_every_set_parses_with_valid_labels_and_the_briefed_size(sets):
    assert list(sets) == list(SETS)
    for name, lines in sets.items():
        assert 80 <= len(lines) <= 150, name
        fields = {line.field for line in lines}
        assert "other" in fields, name
        if name != "other_scope":  # mostly `other`, with in-scope near misses
            assert set(FIELDS) <= fields, (name, set(FIELDS) - fields)
        assert all(line.field in LABELS and set(line.also) <= set(FIELDS) - {line.field} for line in lines)
    assert sum(line.field == "other" for line in sets["other_scope"]) >= 70


@pytest.mark.parametrize("path", sorted(EVAL_DIR.glob("*.jsonl")), ids=lambda p: p.stem)
def test_files_are_nfc_with_exactly_the_briefed_keys(path):
    for raw in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(raw)
        assert set(row) == {"text", "field", "also", "lang", "set", "urgent"}
        assert row["text"] == unicodedata.normalize("NFC", row["text"]) == row["text"].strip() != ""
        assert row["lang"] in ("vi", "en", "mixed") and isinstance(row["urgent"], bool)
        assert row["set"] == path.stem
    read_set(path)  # and the loader accepts it


def test_the_loader_refuses_a_bad_line(tmp_path):
    path = tmp_path / "sms_terse.jsonl"
    good = {"text": "mất nước", "field": "water_supply", "also": [], "lang": "vi", "set": "sms_terse", "urgent": False}
    for bad in ({"field": "roads"}, {"also": ["water_supply"]}, {"lang": "fr"}, {"set": "rambling"}, {"extra": 1}):
        path.write_text(json.dumps(good | bad, ensure_ascii=False) + "\n", encoding="utf-8")
        with pytest.raises(evalsets.EvalSetError):
            read_set(path)
    with pytest.raises(evalsets.EvalSetError):
        evalsets.load(["no_such_set"])


def test_the_split_is_stable_and_disjoint(sets):
    # Pinned: a change of the hash would silently move lines between the tuning half and the scored half.
    assert [half_of(t) for t in ("pothole", "mất nước từ tối qua", "Streetlight out")] == ["dev", "dev", "test"]
    assert half_of("ngập nước") == half_of(unicodedata.normalize("NFD", "ngập nước"))
    for name, lines in sets.items():
        dev = evalsets.load([name], half="dev")[name]
        test = evalsets.load([name], half="test")[name]
        assert not {line.text for line in dev} & {line.text for line in test}
        assert len(dev) + len(test) == len(lines)
        assert 0.3 < len(test) / len(lines) < 0.7, name


def test_no_line_is_a_training_or_heldout_line_after_folding(sets):
    corpus = load_dir(TRAIN_DIR) + load_dir(HELDOUT_DIR)
    assert len(corpus) > 4000
    keys = {views(e.text)[1] for e in corpus} | {fold(e.text) for e in corpus}
    seen: dict[str, str] = {}
    lines = [line for lines in sets.values() for line in lines] + read_set(EVAL_DIR / "noise_source.jsonl")
    for line in lines:
        assert views(line.text)[1] not in keys and fold(line.text) not in keys, line.text
        assert seen.setdefault(fold(line.text), line.set) == line.set, f"in two sets: {line.text}"


def test_each_line_was_written_from_its_scenario_card():
    cards = _module("make_cards")
    for name in SETS:
        lines = read_set(EVAL_DIR / ("noise_source.jsonl" if name == "no_diacritics_typos" else f"{name}.jsonl"))
        drawn = cards.cards(name)
        assert [c.field for c in drawn] == [line.field for line in lines], name
    assert [c.situation for c in cards.cards("rambling")] == [c.situation for c in cards.cards("rambling")]


def test_the_noise_pass_gives_the_set_from_its_source():
    noise = _module("noise")
    assert noise.render(noise.build()) == (EVAL_DIR / "no_diacritics_typos.jsonl").read_text(encoding="utf-8")
    assert noise.telex("đường") == "dduowngf" and noise.telex("ngập") == "ngaapj"
    source = read_set(EVAL_DIR / "noise_source.jsonl")
    for before, after in zip(source, read_set(EVAL_DIR / "no_diacritics_typos.jsonl"), strict=True):
        assert strip_diacritics(after.text) == after.text  # no diacritic left
        assert after.text.lower() != strip_diacritics(before.text).lower()  # and more than diacritics lost
        assert (after.field, after.also, after.urgent) == (before.field, before.also, before.urgent)


TITLE_WORDS = (  # the words of the fields' titles in fields.md, folded
    "hanh chinh", "thu tuc", "ha tang", "do thi", "giao thong", "van tai", "cong cong", "xe buyt", "cap nuoc",
    "thoat nuoc", "ngap nuoc", "chieu sang", "cay xanh", "dien luc", "vien thong", "trat tu", "tai nguyen",
    "moi truong", "tieng on", "an ninh", "y te", "administrative", "infrastructure", "traffic", "road safety",
    "public transport", "water supply", "drainage", "flooding", "lighting", "trees", "green space", "electricity",
    "telecommunications", "urban order", "construction", "environment", "sanitation", "noise", "security",
    "public order", "health",
)


def test_most_lines_avoid_the_words_of_the_field_titles(sets):
    titles = re.compile(r"\b(" + "|".join(TITLE_WORDS) + r")\b")
    assert titles.search(fold("Thoát nước – ngập nước"))
    for name, lines in sets.items():
        with_titles = sum(bool(titles.search(fold(line.text))) for line in lines)
        assert with_titles <= len(lines) / 2, name


def test_expected_calibration_error_on_a_hand_made_case():
    # Bin 0.9–1.0: four lines at 0.95, three right → |0.75 − 0.95| · 4/6; bin 0.1–0.2: two at 0.15, none right.
    ece, table = calibration([0.95, 0.95, 0.95, 0.95, 0.15, 0.15], [True, True, True, False, False, False])
    assert ece == pytest.approx(0.2 * 4 / 6 + 0.15 * 2 / 6)
    assert [(b.low, b.n) for b in table if b.n] == [(0.1, 2), (0.9, 4)]
    assert table[9].confidence == pytest.approx(0.95) and table[9].accuracy == pytest.approx(0.75)
    assert len(table) == 10
    ece, table = calibration([1.0, 0.0, 0.5, 0.5], [True, False, True, False])
    assert ece == pytest.approx(0.0) and [b.n for b in table] == [1, 0, 0, 0, 0, 2, 0, 0, 0, 1]


def _result(field, confidence, alternatives=(), urgent=False):
    return Classification(field=field, confidence=confidence, urgent=urgent, language="vi", model_version="fake",
                          alternatives=alternatives)


def test_the_top_choice_behind_an_abstention():
    assert top_choice(_result("noise", 0.9, (("security", 0.05),))) == ("noise", 0.9)
    assert top_choice(_result("other", 0.4, (("noise", 0.4), ("security", 0.3)))) == ("noise", 0.4)
    assert top_choice(_result("other", 0.7, (("noise", 0.2),))) == ("other", 0.7)
    assert top_choice(_result("other", 0.0)) == ("other", 0.0)


class FakeModel:
    """Answers from a table: text → result; records what it was asked."""

    version = "fake-1"

    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    def classify_batch(self, texts):
        self.asked.append(list(texts))
        return [self.answers[t] for t in texts]


def _line(text, field, set_name, also=(), urgent=False):
    return EvalLine(text=text, field=field, also=tuple(also), lang="vi", set=set_name, urgent=urgent)


def test_the_report_on_a_tiny_fake_model():
    terse = [
        _line("a1", "noise", "sms_terse"),  # right, sure
        _line("a2", "noise", "sms_terse", urgent=True),  # abstained: its top field was right
        _line("a3", "water_supply", "sms_terse"),  # wrong field
        _line("a4", "other", "sms_terse"),  # other, kept
        _line("a5", "other", "sms_terse"),  # other, routed
    ]
    multi = [
        _line("b1", "drainage_flooding", "multi_issue", also=["electricity"]),  # the second problem's field
        _line("b2", "drainage_flooding", "multi_issue", also=["electricity"]),  # the first
    ]
    answers = {
        "a1": _result("noise", 0.95, (("security", 0.03),)),
        "a2": _result("other", 0.45, (("noise", 0.45), ("security", 0.3)), urgent=True),
        "a3": _result("electricity", 0.85, (("water_supply", 0.1),)),
        "a4": _result("other", 0.6, (("noise", 0.2),)),
        "a5": _result("noise", 0.55, (("other", 0.4),), urgent=True),
        "b1": _result("electricity", 0.75, (("drainage_flooding", 0.2),)),
        "b2": _result("drainage_flooding", 0.75, (("electricity", 0.2),)),
    }
    model = FakeModel(answers)
    out = report(model, {"sms_terse": terse, "multi_issue": multi}, half=None)
    assert len(model.asked) == 1 and len(model.asked[0]) == 7  # one batch for every set
    s, m = out.sets
    assert (s.name, s.n, s.in_scope, s.other_lines) == ("sms_terse", 5, 3, 2)
    assert s.accuracy == pytest.approx(2 / 5)
    assert s.in_scope_to_other == pytest.approx(1 / 3)
    assert s.answered_accuracy == pytest.approx(1 / 2)
    assert s.other_recall == pytest.approx(1 / 2)
    assert (s.urgent, s.urgent_recall, s.urgent_precision) == (1, 1.0, 0.5)
    # Top fields: a1 noise .95 ✓, a2 noise .45 ✓, a3 electricity .85 ✗, a4 other .6 ✓, a5 noise .55 ✗.
    expected_ece = (abs(1 - 0.95) * 1 + abs(1 - 0.45) * 1 + abs(0 - 0.85) * 1 + abs(1 - 0.6) * 1 + abs(0 - 0.55)) / 5
    assert s.ece == pytest.approx(expected_ece)
    assert (m.accuracy, m.any_named_accuracy) == (0.5, 1.0)
    assert out.overall.n == 7 and out.overall.accuracy == pytest.approx(3 / 7)
    assert out.model_version == "fake-1" and out.half == "all"
    table = out.table()
    assert re.search(r"^sms_terse\s+5\s+0\.400\s", table, re.M) and re.search(r"^overall\s+7\s", table, re.M)
    assert json.loads(json.dumps(out.as_dict()))["sets"][1]["any_named_accuracy"] == 1.0


def test_the_report_scores_one_half_only():
    lines = [_line(t, "noise", "sms_terse") for t in ("pothole", "mất nước từ tối qua", "Streetlight out")]
    model = FakeModel({t.text: _result("noise", 0.9) for t in lines})
    assert report(model, {"sms_terse": lines}, half="test").overall.n == 1
    assert report(model, {"sms_terse": lines}, half="dev").overall.n == 2
    assert model.asked == [["Streetlight out"], ["pothole", "mất nước từ tối qua"]]


def _hotline(*args):
    return subprocess.run([sys.executable, "-m", "hotline.cli", *args], capture_output=True, text=True, timeout=180)


def test_hotline_eval_sets_prints_a_row_per_set_and_overall(model_path, sets):
    out = _hotline("eval", "--sets", "--model", str(model_path))
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0] for line in out.stdout.splitlines() if line and line.split()[0] in (*SETS, "overall")}
    assert rows == {*SETS, "overall"}
    assert "evaluation sets, test half" in out.stdout and "reliability: overall" in out.stdout

    out = _hotline("eval", "--sets", "sms_terse", "other_scope", "--half", "dev", "--json", "--model", str(model_path))
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["half"] == "dev" and [s["set"] for s in body["sets"]] == ["sms_terse", "other_scope"]
    assert body["sets"][0]["n"] == sum(line.half == "dev" for line in sets["sms_terse"])
    assert len(body["overall"]["reliability"]) == 10

    out = _hotline("eval", "--sets", "no_such_set", "--model", str(model_path))
    assert out.returncode == 2 and "unknown set" in out.stderr
