"""`dsr classify|train|eval`: the external contract, through typer and through the real `dsr`."""

import json
import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import typer
from typer.testing import CliRunner

from bot.cli.intents import register
from intents.corpus import CORPUS_DIR, corpus_files

KEYS = {"id", "intent", "intents", "scores", "language", "needs_review", "review_reason", "cited"}
app = typer.Typer()
register(app)
runner = CliRunner()


def test_classify_stdin_contract() -> None:
    lines = [
        {"id": 1, "text": "Please delete my account and all my data."},
        {"id": "b", "text": "Quiero una copia de mis datos personales."},
        {"id": None, "text": ""},
    ]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\n\n"
    result = runner.invoke(app, ["classify"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == [1, "b", None]
    assert all(set(o) == KEYS for o in out)
    assert out[0]["intent"] == "delete" and "delete" in out[0]["intents"]
    assert out[1]["intent"] == "see" and out[1]["language"] == "es"
    assert out[2]["needs_review"] is True and out[2]["review_reason"] == "no_text"
    assert out[0]["cited"] == [] and out[0]["review_reason"] == ""
    assert set(out[0]["scores"]) == {"see", "change", "delete", "concern", "unsubscribe", "other"}


def test_classify_reports_bad_lines_and_goes_on() -> None:
    result = runner.invoke(app, ["classify"], input='not json\n{"id": 2, "text": "hi"}\n')
    assert [json.loads(x)["id"] for x in result.stdout.splitlines()] == [2]
    assert "stdin line 1" in result.stderr


def test_classify_eml_files(tmp_path: Path) -> None:
    message = EmailMessage()
    message["Subject"] = "Auskunftsersuchen"
    message["From"] = "kunde@example.com"
    message.set_content("Bitte schicken Sie mir eine Kopie aller Daten, die Sie über mich haben.")
    path = tmp_path / "m.eml"
    path.write_bytes(bytes(message))
    html = EmailMessage()
    html["Subject"] = "newsletter"
    html.set_content("<p>Please <b>unsubscribe</b> me from your newsletter.</p>", subtype="html")
    html_path = tmp_path / "h.eml"
    html_path.write_bytes(bytes(html))
    result = runner.invoke(app, ["classify", str(path), str(html_path)])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(x) for x in result.stdout.splitlines())
    assert first["id"] == str(path) and first["intent"] == "see" and first["language"] == "de"
    assert second["intent"] == "unsubscribe"


def test_threshold_option_overrides_model() -> None:
    text = json.dumps({"id": 1, "text": "Please delete my account."})
    out = json.loads(runner.invoke(app, ["classify", "--threshold", "1.0"], input=text).stdout)
    assert out["intents"] == [] and out["needs_review"] is True


def test_eval_file_and_baseline(tmp_path: Path) -> None:
    rows = [
        {"text": "Please delete my account.", "label": "delete", "lang": "en"},
        {"text": "Send me a copy of my data.", "labels": ["see"], "lang": "en"},
        {"text": "Stop sending me the newsletter.", "label": "unsubscribe"},
    ]
    file = tmp_path / "eval.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(app, ["eval", str(file)])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout and "confusion" in result.stdout
    as_json = json.loads(runner.invoke(app, ["eval", str(file), "--json"]).stdout)
    assert as_json["overall"]["n"] == 3 and set(as_json["per_language"]) >= {"en"}
    baseline = json.loads(
        runner.invoke(app, ["eval", str(file), "--baseline", "keywords", "--json"]).stdout
    )
    assert baseline["overall"]["n"] == 3


def test_eval_rejects_bad_file(tmp_path: Path) -> None:
    file = tmp_path / "bad.jsonl"
    file.write_text('{"text": "x", "label": "access"}\n')
    result = runner.invoke(app, ["eval", str(file)])
    assert result.exit_code == 2
    assert "bad.jsonl:1" in result.stderr and "unknown label" in result.stderr


def _tiny_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in corpus_files(CORPUS_DIR)[:3]:
        lines = path.read_text(encoding="utf-8").splitlines()[:40]
        (corpus / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return corpus


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_train_is_deterministic_and_records_the_corpus(tmp_path: Path) -> None:
    corpus = _tiny_corpus(tmp_path)
    labels = tmp_path / "staff.jsonl"
    labels.write_text(json.dumps({"text": "bitte alles weg", "labels": ["delete"]}) + "\n")
    runs = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        out = tmp_path / name
        args = ["train", "--seed", str(seed), "--corpus", str(corpus), "--out", str(out)]
        result = runner.invoke(app, [*args, "--include-labels", str(labels)])
        assert result.exit_code == 0, result.output
        runs.append(_files(out))
    assert runs[0] == runs[1]  # byte-identical model files
    assert runs[0] != runs[2]
    meta = json.loads(runs[0]["meta.json"])["dsr"]
    assert meta["seed"] == 7 and meta["sizes"]["extra"] == 1 and meta["extra_sha256"]
    assert len(meta["corpus_sha256"]) == 64
    assert "cue_weight" in meta and "article cue" in result.output
    assert meta["max_wrong"] == 0.0125 and "at most 1.25% wrong" in result.output
    result = runner.invoke(app, ["classify", "--model", str(tmp_path / "a")], input='{"text":"x"}')
    assert result.exit_code == 0


def test_train_takes_the_teams_wrong_automatic_budget(tmp_path: Path) -> None:
    corpus = _tiny_corpus(tmp_path)
    out = tmp_path / "m"
    args = ["train", "--corpus", str(corpus), "--out", str(out)]
    result = runner.invoke(app, [*args, "--max-wrong", "0.05"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text())["dsr"]
    assert meta["max_wrong"] == 0.05 and "at most 5.00% wrong" in result.output
    # The budget the abstention was tuned for holds on the messages it was tuned on.
    assert meta["tuned_wrong_automatic"] <= 0.05 + 1e-9
    assert 0.0 <= meta["test"]["wrong_automatic"] <= meta["test"]["automatic"] <= 1.0
    refused = runner.invoke(app, [*args, "--max-wrong", "0.5"])
    assert refused.exit_code == 2 and "--max-wrong" in refused.output


def test_real_dsr_command() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "classify"],
        input=json.dumps({"id": 9, "text": "Bitte löschen Sie mein Konto."}) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == KEYS and out["id"] == 9 and out["intent"] == "delete"
