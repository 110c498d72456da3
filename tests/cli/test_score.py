from __future__ import annotations

import gzip
import json
import shutil
from contextlib import nullcontext
from pathlib import Path

import pytest

from cites_guard.cli import main
from cites_guard.model import bundled_model_dir
from cites_guard.outbox import Outbox

GOOD = {"id": "ok-1", "title": "Carved ivory bangle", "price": 120, "currency": "EUR"}


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def test_bad_records_are_reported_and_nothing_else_is_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad record is named by line and field; every good record is still scored."""
    source = tmp_path / "in.jsonl"
    rows = [
        json.dumps(GOOD).encode(),
        b"this is not json",
        json.dumps({"id": "t", "price": "cheap"}).encode(),
        json.dumps({"title": "no id"}).encode(),
        json.dumps({"id": "huge", "description": "x" * 10_000_000}).encode(),
        b'{"id": "bytes", "title": "\xff\xfe ivory"}',
        json.dumps({**GOOD, "id": "ok-2"}).encode(),
        b"[1, 2, 3]",
    ]
    source.write_bytes(b"\n".join(rows) + b"\n")
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    status = main(["score", str(source), "-o", str(out), "--errors", str(errors)])
    assert status == 1
    assert [r["listing_id"] for r in _lines(out)] == ["ok-1", "huge", "ok-2"]
    assert _lines(out)[1]["truncated"] == ["description"]
    rejected = {r["line"]: r for r in _lines(errors)}
    assert sorted(rejected) == [2, 3, 4, 6, 8]
    assert rejected[3]["field"] == "price"
    assert rejected[4]["field"] == "id"
    assert rejected[6]["field"] == "title"
    assert rejected[2]["record"].startswith("this is not json")
    stderr = capsys.readouterr().err
    assert "line 2:" in stderr
    assert "line 6:" in stderr


def test_all_good_records_exit_zero(tmp_path: Path) -> None:
    """When every record scores, the exit status is 0 and order is kept."""
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({**GOOD, "id": str(i)}) for i in range(150)))
    out = tmp_path / "out.jsonl"
    assert main(["score", str(source), "-o", str(out), "-q"]) == 0
    assert [r["listing_id"] for r in _lines(out)] == [str(i) for i in range(150)]


def test_csv_and_gzip_inputs(tmp_path: Path) -> None:
    """CSV (with a bad row) and gzipped JSONL are read by extension."""
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("id,title,price\n1,ivory bangle,10\n2,sofa,not-a-number\n,no id,3\n")
    out = tmp_path / "out.jsonl"
    assert main(["score", str(csv_path), "-o", str(out), "-q"]) == 1
    assert [r["listing_id"] for r in _lines(out)] == ["1"]
    gz_path = tmp_path / "in.jsonl.gz"
    with gzip.open(gz_path, "wt") as handle:
        handle.write(json.dumps(GOOD) + "\n")
    assert main(["score", str(gz_path), "-o", str(out), "-q"]) == 0
    assert len(_lines(out)) == 1


def test_taxa_lookup_in_any_language(capsys: pytest.CaptureFixture[str]) -> None:
    """taxa finds a taxon by a common name in another language and prints its appendix."""
    assert main(["taxa", "穿山甲"]) == 0
    assert "Manis" in capsys.readouterr().out


def test_workers_give_identical_output_and_errors(tmp_path: Path) -> None:
    """Two worker processes write exactly what one process writes, errors included."""
    source = tmp_path / "in.jsonl"
    lines = [json.dumps({**GOOD, "id": str(i), "title": f"ivory bangle {i}"}) for i in range(300)]
    lines.insert(7, "{broken")
    source.write_text("\n".join(lines) + "\n")
    outputs = []
    for workers in ("1", "2"):
        out, errors = tmp_path / f"out{workers}.jsonl", tmp_path / f"err{workers}.jsonl"
        status = main(
            [
                "score",
                str(source),
                "-o",
                str(out),
                "--errors",
                str(errors),
                "-q",
                "--workers",
                workers,
                "--batch-size",
                "16",
            ]
        )
        assert status == 1
        outputs.append((out.read_text(), errors.read_text()))
    assert outputs[0] == outputs[1]
    assert _lines(tmp_path / "err2.jsonl")[0]["line"] == 8


@pytest.mark.parametrize("workers", ["1", "2"])
def test_score_report_enqueues_blocked_listings(tmp_path: Path, workers: str) -> None:
    """score --report puts one report per blocked listing in the outbox, none for others."""
    source = tmp_path / "in.jsonl"
    rows = [
        {
            "id": "b1",
            "title": "Pangolin scales 1kg, dried, for medicine",
            "price": 300,
            "currency": "USD",
        },
        {"id": "a1", "title": "Garden hose 20m"},
        {
            "id": "b2",
            "title": "Rhino horn, whole, 800g, cash only",
            "price": 9000,
            "currency": "USD",
        },
    ]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    outbox = tmp_path / "outbox.sqlite3"
    env = {
        "CITES_GUARD_REPORT_URL": "https://enforcement.example.test/reports",
        "CITES_GUARD_REPORT_SECRET": "whsec_dGVzdC1zZWNyZXQtZm9yLXRlc3RzLW9ubHk=",
        "CITES_GUARD_REPORTER_NAME": "Test Marketplace",
        "CITES_GUARD_REPORTER_LEGAL_URL": "https://marketplace.example.test/terms",
        "CITES_GUARD_REPORTER_CONTACT": "le-requests@marketplace.example.test",
    }
    # Evidence-only scoring keeps this test about reporting, not about the model.
    command = ["score", str(source), "-o", str(tmp_path / "out.jsonl"), "-q", "--no-model"]
    command += ["--workers", workers, "--report", "--outbox", str(outbox)]
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        assert main(command) == 0
    decisions = {r["listing_id"]: r["decision"] for r in _lines(tmp_path / "out.jsonl")}
    rows_in_outbox = Outbox(outbox).rows()
    blocked = sum(1 for d in decisions.values() if d == "block")
    assert blocked >= 1
    assert len(rows_in_outbox) == blocked


def test_workers_refuse_a_tampered_model_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With workers, an altered model file stops the run at once with exit 2 and a reason."""
    model = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), model)
    weights = model / "model.onnx"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"model": {"path": str(model)}}))
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(GOOD) + "\n")
    status = main(["score", str(source), "--config", str(settings), "--workers", "2", "-q"])
    assert status == 2
    assert "SHA-256" in capsys.readouterr().err


def test_hostile_records_are_rejected_not_fatal(tmp_path: Path) -> None:
    """Deeply nested JSON, lone surrogates and ambiguous CSV prices are rejected by line."""
    source = tmp_path / "in.jsonl"
    nested = '{"id": "n", "title": ' + "[" * 100_000 + "]" * 100_000 + "}"
    lines = [
        json.dumps(GOOD),
        nested,
        '{"id": "s", "title": "ivory \\ud800 tusk"}',
        json.dumps({**GOOD, "id": "last"}),
    ]
    source.write_text("\n".join(lines) + "\n")
    out, errors = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    assert (
        main(
            ["score", str(source), "-o", str(out), "--errors", str(errors), "-q", "--workers", "1"]
        )
        == 1
    )
    assert [r["listing_id"] for r in _lines(out)] == ["ok-1", "last"]
    rejected = {r["line"]: r for r in _lines(errors)}
    assert sorted(rejected) == [2, 3]
    assert rejected[3]["field"] == "title"
    csv_path = tmp_path / "prices.csv"
    csv_path.write_text('id,title,price\na,sofa,"1,200.50"\nb,sofa,"12,50"\n')
    assert main(["score", str(csv_path), "-o", str(out), "--errors", str(errors), "-q"]) == 1
    assert _lines(out)[0]["listing_id"] == "a"
    assert _lines(errors)[0]["field"] == "price"


@pytest.mark.parametrize(
    "arguments",
    [
        ["score", "missing.jsonl", "-o", "out.jsonl"],
        ["eval", "missing.jsonl"],
        ["score", "in.jsonl", "--batch-size", "0"],
    ],
)
def test_unusable_commands_exit_2_without_touching_outputs(
    tmp_path: Path, arguments: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing input or an invalid option exits 2 and leaves existing output untouched."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text(json.dumps(GOOD) + "\n")
    (tmp_path / "out.jsonl").write_text("previous run\n")
    with pytest.raises(SystemExit) if "--batch-size" in arguments else nullcontext():
        assert main(arguments) == 2
    assert (tmp_path / "out.jsonl").read_text() == "previous run\n"
