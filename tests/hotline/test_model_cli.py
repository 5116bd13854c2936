"""Learning from agents: corrections split apart, a candidate trained with them, compared, promoted, rolled back.

The models here are trained on a small slice of the corpus (a few seconds) and live in a temporary folder
(HOTLINE_CLASSIFIER_MODEL / --live), never classifier/build/.
"""

import asyncio
import itertools
import json
import os
import subprocess
import sys

import pytest

from casework import actions
from casework.intake import InboundEvent
from casework.models import Actor, Role, Status
from classifier.corpus import HELDOUT_DIR, TRAIN_DIR, load_dir
from hotline import pipeline
from hotline.corrections import share_of, split, usable
from hotline.services import Services
from tests.conftest import auth

AGENT = Actor(kind="staff", name="agent", id=1, role=Role.AGENT)  # the tokens fixture's first user


# --- the corrections' two shares --------------------------------------------------------------------

def test_the_split_is_stable_disjoint_and_one_in_five():
    ids = range(1, 5001)
    shares = [share_of(i) for i in ids]
    assert shares == [share_of(i) for i in ids]  # the same case stays in its share
    # Pinned: changing the hash would move evaluation cases into training.
    assert [i for i in range(1, 30) if share_of(i) == "evaluation"] == [11, 15, 20, 25, 26, 27, 29]
    assert 0.18 < shares.count("evaluation") / len(shares) < 0.22
    corrections, _ = usable([_row(i, "traffic", "other") for i in ids])
    parts = split(corrections)
    train, held = {c.case_id for c in parts.train}, {c.case_id for c in parts.evaluation}
    assert not train & held and train | held == set(ids)
    assert held == {i for i in ids if share_of(i) == "evaluation"}


def _row(case_id, field, model_field, *, text="Đèn đường hư cả tuần", duplicate=False):
    return {"case_id": case_id, "description": text, "urgent": False, "duplicate": duplicate, "field": field,
            "model_field": model_field, "model_version": "clf-a"}


def test_noise_duplicates_empty_texts_and_unknown_fields_are_ignored():
    corrections, ignored = usable([
        _row(1, "public_lighting", "electricity"),
        _row(2, "public_lighting", "public_lighting"),  # changed and changed back: the model had it right
        _row(3, "public_lighting", "electricity", duplicate=True),
        _row(4, "public_lighting", "electricity", text="   "),
        _row(5, "weather", "electricity"),
        _row(6, "trees", None),  # corrected before any model spoke
    ])
    assert [(c.case_id, c.example.field, c.model_field, c.model_version) for c in corrections] == [
        (1, "public_lighting", "electricity", "clf-a"), (6, "trees", None, "clf-a")]
    assert corrections[0].example.source == "staff-corrections"
    assert dict(ignored) == {"the model had it right": 1, "duplicate case": 1, "empty text": 1, "unknown field": 1}


def test_another_set_of_corrections_has_another_fingerprint():
    a, _ = usable([_row(1, "public_lighting", "electricity")])
    b, _ = usable([_row(1, "electricity", "public_lighting")])
    assert split(a).fingerprint != split(b).fingerprint
    assert split(a).fingerprint == split(list(a)).fingerprint


# --- on a real database -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small slice of the corpus: 25 training lines and 12 held-out lines per file."""
    root = tmp_path_factory.mktemp("corpus")
    for source, name, lines in ((TRAIN_DIR, "train", 25), (HELDOUT_DIR, "heldout", 12)):
        (root / name).mkdir()
        for path in sorted(source.glob("*.jsonl")):
            kept = path.read_text(encoding="utf-8").splitlines()[:lines]
            (root / name / path.name).write_text("\n".join(kept) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def small_model(corpus, tmp_path_factory):
    from classifier.training import build

    model = build(train_dir=corpus / "train", heldout_dir=corpus / "heldout")
    path = tmp_path_factory.mktemp("small") / "model.pkl"
    model.save(path)
    return model, path


@pytest.fixture
def live(small_model, tmp_path):
    """The live model file of this test, a copy of the small model."""
    path = tmp_path / "build" / "model.pkl"
    path.parent.mkdir()
    path.write_bytes(small_model[1].read_bytes())
    return path


def _misread(model, corpus, n):
    """Held-out lines (other writers than the corpus) the small model gets wrong: what staff would correct."""
    from classifier.predict import TextClassifier

    clf = TextClassifier(model, with_entities=False)
    train = {e.text.casefold() for e in load_dir(TRAIN_DIR) + load_dir(corpus / "heldout")}
    examples = [e for e in load_dir(HELDOUT_DIR) if e.text.casefold() not in train]
    results = clf.classify_batch([e.text for e in examples])
    by_field: dict[str, list] = {}
    for e, r in zip(examples, results, strict=True):
        if r.field != e.field:
            by_field.setdefault(e.field, []).append(e)
    wrong = [e for row in itertools.zip_longest(*by_field.values()) for e in row if e is not None]  # fields in turn
    assert len(wrong) >= n
    return wrong[:n]


async def _corrected_cases(settings, pool, client, tokens, live, model, corpus):
    """16 cases classified by the live model and corrected through the API; 14 worth learning from.

    Case ids start at 1 in each test: 11 and 15 fall in the evaluation share. Case 14 is marked a duplicate
    of 13, and case 16 is corrected and then set back to what the model said (noise).
    """
    wrong = _misread(model, corpus, 16)
    for i, e in enumerate(wrong, 1):
        await actions.record_inbound(pool, InboundEvent(channel="web", provider_message_id=f"q4:{i}", text=e.text))
    services = await Services.start(settings.model_copy(update={"classifier_model": str(live)}))
    try:
        await pipeline.process_pending(services)
    finally:
        await services.close()
    said = {r["id"]: r["field"] for r in await pool.fetch("SELECT id, field FROM cases")}
    for i, e in enumerate(wrong, 1):
        resp = await client.patch(f"/api/v1/cases/{i}", json={"field": e.field}, headers=auth(tokens["agent"]))
        assert resp.status == 200, await resp.text()
    await client.patch("/api/v1/cases/16", json={"field": said[16]}, headers=auth(tokens["agent"]))
    await actions.change_status(pool, 14, Status.DUPLICATE, AGENT, duplicate_of=13, reason="cùng một chỗ")
    return wrong, said


@pytest.fixture
def hotline(settings, live, monkeypatch, capsys):
    """Run a `hotline` command in this process (a subprocess would import scikit-learn again each time)."""
    from hotline.cli import build_parser

    for name, value in (("DATABASE_URL", settings.database_url), ("REDIS_URL", settings.redis_url),
                        ("HOTLINE_VAR_DIR", str(settings.var_dir)), ("HOTLINE_CLASSIFIER_MODEL", str(live))):
        monkeypatch.setenv(name, value)

    async def run(*argv):
        args = build_parser().parse_args(argv)
        capsys.readouterr()
        code = await asyncio.to_thread(args.func, args)  # the commands run their own event loop
        out = capsys.readouterr()
        return subprocess.CompletedProcess(argv, code, out.out, out.err)

    return run


async def test_corrections_keep_what_the_model_said_and_the_latest_field(settings, pool, client, tokens, live,
                                                                          small_model, corpus):
    from hotline.corrections import load_split

    model = small_model[0]
    wrong, said = await _corrected_cases(settings, pool, client, tokens, live, model, corpus)
    await client.patch("/api/v1/cases/3", json={"field": "health" if wrong[2].field != "health" else "noise"},
                       headers=auth(tokens["agent"]))
    await client.patch("/api/v1/cases/3", json={"field": wrong[2].field}, headers=auth(tokens["agent"]))
    parts = await load_split(pool)
    assert [c.case_id for c in parts.evaluation] == [11, 15]
    assert [c.case_id for c in parts.train] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13]
    assert dict(parts.ignored) == {"duplicate case": 1, "the model had it right": 1}
    by_id = {c.case_id: c for c in [*parts.train, *parts.evaluation]}
    for i, c in by_id.items():
        assert c.example.field == wrong[i - 1].field  # the latest correction wins
        assert c.model_field == said[i] and c.model_version == model.version  # from the `classified` event
    # The version is on the case, in its JSON and in its `classified` event.
    body = await (await client.get("/api/v1/cases/1", headers=auth(tokens["agent"]))).json()
    assert body["classifier_version"] == model.version
    event = await pool.fetchrow("SELECT changes FROM case_events WHERE case_id = 1 AND kind = 'classified'")
    assert event["changes"]["model"] == model.version


async def test_train_writes_a_candidate_and_compare_shows_what_changes(settings, pool, client, tokens, live,
                                                                        small_model, corpus, hotline):
    model = small_model[0]
    wrong, _ = await _corrected_cases(settings, pool, client, tokens, live, model, corpus)
    before = live.read_bytes()

    out = await hotline("train", "--with-corrections", "--train-dir", str(corpus / "train"),
                   "--heldout-dir", str(corpus / "heldout"))
    assert out.returncode == 0, out.stderr
    assert "12 staff correction(s) added to the training data; 2 held apart for evaluation, never trained on" \
        in out.stdout
    assert "ignored: 1 (duplicate case), 1 (the model had it right)" in out.stdout
    candidates = list((live.parent / "candidates").glob("*.pkl"))
    assert len(candidates) == 1 and live.read_bytes() == before  # a candidate; the live model is untouched
    version = candidates[0].stem
    assert f"model {version} written to {candidates[0]}" in out.stdout
    assert "-corr-" in version and version != model.version
    from classifier.model import TrainedModel

    trained = TrainedModel.load(candidates[0])
    assert trained.version == version
    assert trained.info["corrections"]["train"] == 12 and trained.info["corrections"]["evaluation"] == 2
    assert trained.info["train_examples"] == model.info["train_examples"] + 12

    out = await hotline("model", "compare", "--train-dir", str(corpus / "train"),
                   "--heldout-dir", str(corpus / "heldout"))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"before: {model.version}" in text and f"after:  {version}" in text
    assert "== corpus held-out test half (" in text
    assert "== staff corrections held apart, never trained on (2 cases) ==" in text
    assert "when they were corrected the model had said otherwise on all 2" in text
    header = next(line for line in text.splitlines() if line.startswith("field "))
    assert header.split() == ["field", "precision", "recall", "F1", "n"]
    held = text.split("== staff corrections held apart")[1].split("== evaluation sets")[0].splitlines()
    rows = {line.split()[0] for line in held if "→" in line and not line.startswith(("examples", "abstained"))}
    assert {wrong[10].field, wrong[14].field} <= rows  # the corrected fields of cases 11 and 15
    listed = [line for line in held if line.startswith("  case ")]
    assert {line.split(":")[0] for line in listed} <= {"  case 11", "  case 15"}
    assert all(e.text not in text for e in wrong)  # ids and fields only, never a citizen's words
    assert "== evaluation sets, test halves" in text

    # `hotline eval` without a file: the same comparison, newest candidate against the live model.
    out = await hotline("eval")
    assert out.returncode == 0, out.stderr
    assert f"after:  {version}" in out.stdout and "== staff corrections held apart" in out.stdout


async def test_promote_rollback_list_and_the_worker_loads_the_new_model(settings, pool, live, small_model, corpus,
                                                                        hotline):
    from classifier.corpus import Example
    from classifier.training import build

    old = small_model[0]
    candidate = build(train_dir=corpus / "train", heldout_dir=corpus / "heldout",
                      extra=[Example(text="Bãi giữ xe thông minh quét mã QR không được", field="traffic")])
    candidate.version += "-corr-test"
    path = live.parent / "candidates" / f"{candidate.version}.pkl"
    candidate.save(path)
    assert candidate.version != old.version
    old_bytes, new_bytes = live.read_bytes(), path.read_bytes()

    worker_settings = settings.model_copy(update={"classifier_model": str(live)})
    services = await Services.start(worker_settings)
    try:
        assert services.classifier.version == old.version
        assert await services.refresh_classifier() is False  # nothing changed: no reload

        out = await hotline("model", "promote", candidate.version[:20], "--by", "lan")
        assert out.returncode == 0, out.stderr
        assert f"model {candidate.version} is live" in out.stdout
        assert live.read_bytes() == new_bytes and (live.parent / "previous.pkl").read_bytes() == old_bytes
        assert not [p for p in live.parent.iterdir() if p.name.startswith(".")]  # no temporary file left behind
        log = [json.loads(line) for line in (live.parent / "models.jsonl").read_text().splitlines()]
        assert [(e["action"], e["version"], e["replaced"], e["by"]) for e in log] == [
            ("promote", candidate.version, old.version, "lan")]

        # The worker picks the new model up between batches, and the next case carries its version.
        assert await services.refresh_classifier() is True
        assert services.classifier.version == candidate.version
        result = await actions.record_inbound(pool, InboundEvent(channel="web", provider_message_id="q4:new",
                                                                 text="Cúp điện cả khu từ sáng"))
        await pipeline.process_pending(services)
        assert await pool.fetchval("SELECT classifier_version FROM cases WHERE id = $1",
                                   result.case_id) == candidate.version

        out = await hotline("model", "list")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].startswith(f"live: {candidate.version}  created ")
        assert "promoted by lan at" in out.stdout
        assert any(line.startswith(f"previous: {old.version}") for line in lines)
        assert any(line.startswith(f"candidate: {candidate.version}") for line in lines)

        out = await hotline("model", "rollback", "--by", "lan")
        assert out.returncode == 0, out.stderr
        assert f"model {old.version} is live again" in out.stdout
        assert live.read_bytes() == old_bytes and (live.parent / "previous.pkl").read_bytes() == new_bytes
        assert await services.refresh_classifier() is True
        assert services.classifier.version == old.version

        # A file that is not a model is refused, and a worker keeps its model when the live file breaks.
        junk = live.parent / "junk.pkl"
        junk.write_bytes(b"not a model")
        out = await hotline("model", "promote", str(junk))
        assert out.returncode == 2 and "is not a model" in out.stderr
        assert live.read_bytes() == old_bytes
        live.write_bytes(b"broken")
        assert await services.refresh_classifier() is False
        assert services.classifier.version == old.version
    finally:
        await services.close()


def test_promote_without_such_a_candidate_says_so(tmp_path):
    live = tmp_path / "model.pkl"
    env = {**os.environ, "HOTLINE_CLASSIFIER_MODEL": str(live)}
    out = subprocess.run([sys.executable, "-m", "hotline.cli", "model", "promote", "clf-nothing"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and "no single model 'clf-nothing'" in out.stderr
    out = subprocess.run([sys.executable, "-m", "hotline.cli", "model", "rollback"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 2 and "no previous model" in out.stderr
    assert not live.exists()
