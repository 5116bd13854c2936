"""`hotline classify` and `hotline eval` as real subprocesses."""

import json
import subprocess
import sys


def _run(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "hotline.cli", *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_classify_keeps_order_and_reports_bad_lines(model_path):
    lines = [
        '{"id": "a", "text": "Cúp điện cả khu từ sáng"}',
        "this is not json",
        '{"id": 7}',
        '{"id": "empty", "text": ""}',
        '[1, 2]',
        '{"id": "b", "text": "duong bi ngap nuoc qua troi"}',
        '{"text": "Karaoke all night next door"}',
        '{"id": "c", "text": 42}',
    ]
    out = _run("classify", "--model", str(model_path), stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == len(lines)
    assert rows[0]["id"] == "a" and rows[0]["field"] == "electricity"
    assert set(rows[0]) == {"id", "field", "confidence", "alternatives", "urgent", "language"}
    assert rows[1]["error"].startswith("not valid JSON") and rows[1]["id"] is None
    assert rows[2] == {"id": 7, "error": "missing text"}
    assert rows[3]["field"] == "other" and rows[3]["confidence"] == 0.0
    assert "error" in rows[4]
    assert rows[5]["field"] == "drainage_flooding" and rows[5]["language"] == "vi"
    assert rows[6]["id"] is None and rows[6]["field"] == "noise" and rows[6]["language"] == "en"
    assert rows[7] == {"id": "c", "error": "text must be a string"}
    assert all(len(r["alternatives"]) == 2 for r in rows if "field" in r and r["confidence"] > 0)


def test_classify_without_a_model_says_so(tmp_path):
    out = _run("classify", "--model", str(tmp_path / "missing.pkl"), stdin='{"text": "x"}\n')
    assert out.returncode == 2 and "no model" in out.stderr


def test_eval_prints_scores_and_draws_the_matrix(model_path, tmp_path):
    data = tmp_path / "eval.jsonl"
    rows = [{"text": "Mất nước từ tối qua", "field": "water_supply"},
            {"text": "Xe buýt 150 chạy ẩu", "field": "public_transport"},
            {"text": "alo", "field": "other"},
            {"text": "Đèn đường tắt", "field": "electricity"}]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    png = tmp_path / "confusion.png"
    out = _run("eval", str(data), "--model", str(model_path), "--plot", str(png))
    assert out.returncode == 0, out.stderr
    assert "accuracy 0.750" in out.stdout and "macro-F1" in out.stdout
    assert "abstained (sent to triage) 25.0%" in out.stdout
    assert "confusion (rows: truth, columns: predicted)" in out.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_refuses_a_file_with_unknown_fields(model_path, tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "x", "field": "astrology"}\n', encoding="utf-8")
    out = _run("eval", str(data), "--model", str(model_path))
    assert out.returncode == 2 and "unknown field" in out.stderr
