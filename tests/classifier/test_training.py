"""Training is a deterministic step, and staff corrections feed the next model."""

import json
import pickle

import numpy as np

from classifier.corpus import Example, load_dir
from classifier.training import build
from tests.conftest import auth


def _small_corpus(tmp_path, per_field=25):
    from classifier.corpus import TRAIN_DIR

    out = tmp_path / "train"
    out.mkdir()
    for path in sorted(TRAIN_DIR.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()[:per_field]
        (out / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_training_twice_gives_the_same_model(tmp_path):
    train_dir = _small_corpus(tmp_path)
    empty = tmp_path / "none"
    a = build(train_dir=train_dir, heldout_dir=empty)
    b = build(train_dir=train_dir, heldout_dir=empty)
    assert a.version == b.version
    assert np.array_equal(a.classifier.coef_, b.classifier.coef_)
    assert a.featurizer.words.vocabulary_ == b.featurizer.words.vocabulary_
    assert (a.threshold, a.temperature) == (b.threshold, b.temperature)
    assert pickle.dumps(a.classifier) == pickle.dumps(b.classifier)
    assert (a.lexicon_weight, a.also_threshold, a.info["lexicon_examples"]) == (
        b.lexicon_weight, b.also_threshold, b.info["lexicon_examples"])
    assert a.lexicon is not None and a.lexicon.entries == b.lexicon.entries
    assert pickle.dumps(a) == pickle.dumps(b)


def test_another_lexicon_gives_another_model(tmp_path):
    from classifier.lexicon import LEXICON

    train_dir = _small_corpus(tmp_path)
    empty = tmp_path / "none"
    lexicon = tmp_path / "lexicon.tsv"
    lexicon.write_text(LEXICON.read_text(encoding="utf-8") + "trees\ten\tlimb on the sidewalk\tcore\t3\twriter\n",
                       encoding="utf-8")
    a = build(train_dir=train_dir, heldout_dir=empty)
    b = build(train_dir=train_dir, heldout_dir=empty, lexicon_path=lexicon)
    none = build(train_dir=train_dir, heldout_dir=empty, lexicon_path=None)
    assert len({a.version, b.version, none.version}) == 3
    assert b.info["lexicon_examples"] == a.info["lexicon_examples"] + 1
    assert none.lexicon is None and none.lexicon_weight == 0.0 and none.info["lexicon_examples"] == 0


def test_a_model_without_the_lexicon_classifies_as_before_and_names_no_other_field(tmp_path):
    from classifier.model import softmax
    from classifier.predict import TextClassifier

    model = build(train_dir=_small_corpus(tmp_path), heldout_dir=tmp_path / "none", lexicon_path=None)
    texts = ["Quán karaoke hát tới 2 giờ sáng, lại còn lấn chiếm hết vỉa hè", "Pothole outside number 40"]
    results = TextClassifier(model, with_entities=False).classify_batch(texts)
    probs = softmax(model.scores(model.featurizer.transform(texts)), model.temperature)
    assert [r.confidence for r in results] == [round(float(p.max()), 4) for p in probs]
    assert all(r.also == () for r in results)


def test_another_corpus_gives_another_version(tmp_path):
    train_dir = _small_corpus(tmp_path)
    empty = tmp_path / "none"
    a = build(train_dir=train_dir, heldout_dir=empty)
    extra = [Example(text="Bãi giữ xe thông minh quét mã QR không được", field="traffic")]
    b = build(train_dir=train_dir, heldout_dir=empty, extra=extra)
    assert a.version != b.version


def test_heldout_data_is_never_trained_on(model):
    from classifier.corpus import HELDOUT_DIR, TRAIN_DIR

    train = {e.text.casefold() for e in load_dir(TRAIN_DIR)}
    heldout = load_dir(HELDOUT_DIR)
    assert model.info["train_examples"] == len(train)
    assert model.info["heldout_examples"] == sum(e.text.casefold() not in train for e in heldout)
    assert model.info["test_examples"] > 400


async def test_staff_corrections_feed_retraining(client, tokens, run_worker, tmp_path):
    from hotline.corrections import load_corrections
    from kernel.http import SERVICES

    text = "Ứng dụng gửi xe thông minh ở chung cư báo lỗi mã QR hoài, ai quản lý vậy"
    resp = await client.post("/api/v1/reports", json={"text": text})
    code = (await resp.json())["tracking_code"]
    pool = client.app[SERVICES].pool
    case_id = await pool.fetchval("SELECT id FROM cases WHERE tracking_code = $1", code)
    for field in ("telecom", "traffic"):  # the last correction wins
        await client.patch(f"/api/v1/cases/{case_id}", json={"field": field}, headers=auth(tokens["agent"]))
    corrections = await load_corrections(pool)
    assert [(c.text, c.field) for c in corrections] == [(text, "traffic")]

    train_dir = _small_corpus(tmp_path)
    from classifier.predict import TextClassifier

    before = TextClassifier(build(train_dir=train_dir, heldout_dir=tmp_path / "none"), with_entities=False)
    after = TextClassifier(build(train_dir=train_dir, heldout_dir=tmp_path / "none", extra=corrections),
                           with_entities=False)
    assert before.classify(text).field != "traffic"
    assert after.classify(text).field == "traffic"


def test_corpus_meets_the_data_card(model):
    from classifier.corpus import LABELS, TRAIN_DIR

    rows = [json.loads(line) for p in TRAIN_DIR.glob("*.jsonl") for line in p.read_text(encoding="utf-8").splitlines()]
    for label in LABELS:
        vi = sum(r["field"] == label and r["lang"] == "vi" for r in rows)
        en = sum(r["field"] == label and r["lang"] == "en" for r in rows)
        assert vi >= (300 if label == "other" else 200), (label, vi)
        assert en >= 40, (label, en)
    assert sum(r["urgent"] for r in rows) >= 150


def test_fast_features_equal_scikit_learn(model):
    from classifier.corpus import HELDOUT_DIR
    from classifier.model import full_scores
    from classifier.normalize import views

    texts = [e.text for e in load_dir(HELDOUT_DIR)][:300] + ["", "a", "ok ok ok", "道路被淹", "x" * 50]
    folded = [views(t)[1] for t in texts]
    reference = model.featurizer.sklearn_transform_folded(folded).toarray()
    batch = model.featurizer.transform_folded(folded).toarray()
    one_by_one = np.vstack([model.featurizer.transform_folded([f]).toarray() for f in folded])
    assert np.allclose(batch, reference, atol=1e-6) and np.allclose(one_by_one, reference, atol=1e-6)
    x = model.featurizer.transform_folded(folded)
    assert np.allclose(model.scores(x), full_scores(model.classifier, x, len(model.labels)), atol=1e-4)
    assert np.allclose(model.urgent_probability(x), model.urgent_classifier.predict_proba(x)[:, 1], atol=1e-5)
