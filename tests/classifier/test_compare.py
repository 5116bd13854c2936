"""Comparing two models' reports on the same examples: per-field deltas, overall scores, changed cases."""

import pytest

from classifier.compare import Delta, changed_predictions, compare, render
from classifier.evaluate import Report

LABELS = ["traffic", "water_supply", "noise", "health", "other"]
TRUTH = ["traffic", "traffic", "water_supply", "water_supply", "noise", "health", "other"]


def _report(predicted):
    return Report(labels=LABELS, truth=TRUTH, predicted=predicted, abstained=[p == "other" for p in predicted],
                  urgent_truth=[False] * len(TRUTH), urgent_predicted=[False] * len(TRUTH))


BEFORE = _report(["traffic", "water_supply", "water_supply", "other", "noise", "health", "other"])
AFTER = _report(["traffic", "traffic", "water_supply", "water_supply", "traffic", "health", "other"])


def test_per_field_scores_before_and_after_with_their_change():
    c = compare(BEFORE, AFTER)
    rows = {r.field: r for r in c.rows}
    assert list(rows) == ["traffic", "water_supply", "noise", "health", "other"]
    traffic = rows["traffic"]
    assert (traffic.precision.before, traffic.precision.after) == (1.0, pytest.approx(2 / 3))
    assert (traffic.recall.before, traffic.recall.after) == (0.5, 1.0)
    assert traffic.f1.before == pytest.approx(2 / 3) and traffic.f1.after == pytest.approx(0.8)
    assert traffic.f1.change == pytest.approx(0.8 - 2 / 3)
    water = rows["water_supply"]
    assert (water.precision.before, water.recall.before, water.precision.after, water.recall.after) == (
        0.5, 0.5, 1.0, 1.0)
    noise = rows["noise"]
    assert (noise.f1.before, noise.f1.after, noise.f1.change) == (1.0, 0.0, -1.0)
    assert (rows["other"].precision.before, rows["other"].precision.after) == (0.5, 1.0)
    assert rows["health"].f1 == Delta(1.0, 1.0) and rows["health"].support == (1, 1)
    assert traffic.support == (2, 2)
    assert c.changed_fields == ["traffic", "water_supply", "noise", "other"]


def test_overall_scores_before_and_after():
    c = compare(BEFORE, AFTER)
    assert c.n == (7, 7)
    assert (c.accuracy.before, c.accuracy.after) == (pytest.approx(5 / 7), pytest.approx(6 / 7))
    assert (c.abstention.before, c.abstention.after) == (pytest.approx(2 / 7), pytest.approx(1 / 7))
    assert c.macro_f1.before == pytest.approx(BEFORE.macro_f1) and c.macro_f1.after == pytest.approx(AFTER.macro_f1)
    assert c.macro_f1.change == pytest.approx(AFTER.macro_f1 - BEFORE.macro_f1)


def test_a_field_neither_had_nor_predicted_is_left_out():
    labels = [*LABELS, "trees"]
    before = Report(labels=labels, truth=TRUTH, predicted=BEFORE.predicted, abstained=BEFORE.abstained,
                    urgent_truth=BEFORE.urgent_truth, urgent_predicted=BEFORE.urgent_predicted)
    after = Report(labels=labels, truth=TRUTH, predicted=[*AFTER.predicted[:-1], "trees"],
                   abstained=AFTER.abstained, urgent_truth=AFTER.urgent_truth,
                   urgent_predicted=AFTER.urgent_predicted)
    assert "trees" in [r.field for r in compare(before, after).rows]  # predicted by one of them: shown
    assert "trees" not in [r.field for r in compare(before, before).rows]


def test_render_shows_each_field_before_arrow_after_and_the_delta():
    text = render(compare(BEFORE, AFTER))
    lines = text.splitlines()
    assert lines[0].startswith("examples 7  macro-F1 ")
    assert "accuracy 0.714 → 0.857 (+0.143)" in lines[0]
    assert lines[1] == "abstained (sent to triage) 28.6% → 14.3% (-14.3 pt)"
    traffic = next(line for line in lines if line.startswith("traffic "))
    assert "1.000→0.667 -0.333" in traffic and "0.500→1.000 +0.500" in traffic and traffic.endswith(" 2")
    health = next(line for line in lines if line.startswith("health "))
    assert health.count("=") == 3 and "+" not in health  # nothing changed: no sign, no number


def test_changed_predictions_are_fixed_broken_or_moved_by_id():
    changes = changed_predictions(
        ids=[11, 12, 13, 14, 15],
        truth=["traffic", "noise", "trees", "health", "security"],
        before=["other", "noise", "noise", "health", "security"],
        after=["traffic", "trees", "other", "health", "security"],
    )
    assert changes.fixed == (11,)
    assert changes.broken == (12,)
    assert changes.moved == (13,)
