"""The field lexicon inside the model: its terms as training lines, its prior on the scores, `also` (none of
these messages is in the corpus or the evaluation sets)."""

import copy

import pytest

from classifier.lexicon import Entry, Lexicon
from classifier.model import lexicon_examples
from classifier.predict import TextClassifier


def test_the_lexicon_prior_turns_a_terse_report_from_other_to_its_field(model):
    without = copy.copy(model)
    without.lexicon_weight = 0.0
    text = "Unlit alley"
    assert TextClassifier(without, with_entities=False).classify(text).field == "other"
    assert TextClassifier(model, with_entities=False).classify(text).field == "public_lighting"


@pytest.mark.parametrize("text, field", [
    ("Pothole outside number 40", "urban_infrastructure"),
    ("Streetlight out on our lane", "public_lighting"),
    ("Fly-tipping by the canal", "environment"),
    ("Missed bin collection", "environment"),
    ("Car blocking driveway", "traffic"),
    ("Sign missing at junction", "traffic"),
    ("Tree down", "trees"),
    ("Cracked pavement", "urban_infrastructure"),
    ("Blocked drain", "drainage_flooding"),
    ("Flyposting on the wall", "urban_order"),
    ("Burst water main", "water_supply"),
    ("Jackhammer at 6am", "noise"),
])
def test_terse_category_reports_get_their_field(clf, text, field):
    assert clf.classify(text).field == field


def test_the_model_keeps_the_lexicon_it_was_built_with(model):
    assert model.lexicon is not None and len(model.lexicon.entries) > 2000
    assert model.lexicon_weight > 0 and model.info["lexicon_examples"] > 1000


def _lexicon(*rows: tuple[str, str, int]) -> Lexicon:
    return Lexicon(Entry(field, "en", term, "core", weight, "writer") for field, term, weight in rows)


def test_lexicon_terms_become_training_lines_when_they_name_a_problem():
    lexicon = _lexicon(("urban_infrastructure", "pothole", 3), ("trees", "tree", 2),
                       ("trees", "fallen branch", 2), ("environment", "litter", 1), ("trees", "tree down", 3),
                       ("environment", "dumped mattress", 2))
    lines = lexicon_examples(lexicon, ["The tree down the road is fine", "tree down"])
    # A single word of weight 2 names a thing, weight 1 only suggests, and a whole corpus line keeps its label.
    assert [(e.text, e.field, e.source) for e in lines] == [
        ("pothole", "urban_infrastructure", "lexicon"), ("fallen branch", "trees", "lexicon"),
        ("dumped mattress", "environment", "lexicon")]


@pytest.mark.parametrize("text, field, also", [
    ("Quán karaoke hát tới 2 giờ sáng, lại còn lấn chiếm hết vỉa hè", "noise", ("urban_order",)),
    ("Streetlight out on Hai Ba Trung and the pothole under it keeps catching bikes", "public_lighting",
     ("urban_infrastructure",)),
])
def test_a_message_naming_two_problems_keeps_the_second_in_also(clf, text, field, also):
    result = clf.classify(text)
    assert (result.field, result.also) == (field, also)


@pytest.mark.parametrize("text", ["Xe buýt số 19 bỏ trạm", "Đường Lê Lợi ngập sâu sau mưa", "alo có ai không"])
def test_a_message_with_one_problem_or_none_has_no_also(clf, text):
    assert clf.classify(text).also == ()


def test_an_answer_sent_to_triage_names_no_other_field(clf, model):
    text = "Quán karaoke hát tới 2 giờ sáng, lại còn lấn chiếm hết vỉa hè"
    original = model.threshold
    try:
        model.threshold = 1.01
        result = clf.classify(text)
        assert result.field == "other" and result.also == ()
    finally:
        model.threshold = original
