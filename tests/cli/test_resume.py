from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import pytest

from cites_guard.cli import main
from cites_guard.errors import OutboxError

CLI = [sys.executable, "-m", "cites_guard.cli"]


def _write_input(path: Path, count: int) -> None:
    titles = ["Carved ivory bangle", "Garden hose 20m", "Pangolin scales 1kg", "Kids bike 16in"]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            if i == 17:
                handle.write("{not json\n")
            handle.write(json.dumps({"id": f"ad-{i}", "title": titles[i % 4]}) + "\n")


def _start(source: Path, out: Path, errors: Path, workers: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *CLI,
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
            "--no-model",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(path: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} never appeared")
        time.sleep(0.05)


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["listing_id"] for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    ("stop", "workers"), [(signal.SIGINT, "1"), (signal.SIGKILL, "1"), (signal.SIGKILL, "2")]
)
def test_interrupted_run_resumes_without_duplicates_or_gaps(
    tmp_path: Path, stop: signal.Signals, workers: str
) -> None:
    """After Ctrl-C or a crash, --resume completes the output with every record exactly once."""
    source, out, errors = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    count = 40_000
    _write_input(source, count)
    process = _start(source, out, errors, workers)
    _wait_for(Path(f"{out}.checkpoint.json"))
    process.send_signal(stop)
    process.wait(timeout=60)
    if stop == signal.SIGINT:
        assert process.returncode == 130
    done_before = len(out.read_text().splitlines())
    assert done_before < count
    resumed = subprocess.run(
        [
            *CLI,
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
            "--no-model",
            "--resume",
        ],
        capture_output=True,
        check=False,
    )
    assert resumed.returncode == 1, resumed.stderr  # the one bad line keeps status 1
    assert _ids(out) == [f"ad-{i}" for i in range(count)]
    rejected = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [r["line"] for r in rejected] == [18]
    assert not Path(f"{out}.checkpoint.json").exists()


def test_resume_needs_an_output_file(tmp_path: Path) -> None:
    """--resume without -o is refused with a clear message."""
    source = tmp_path / "in.jsonl"
    _write_input(source, 3)
    result = subprocess.run(
        [*CLI, "score", str(source), "--resume"], capture_output=True, check=False, text=True
    )
    assert result.returncode == 2
    assert "--resume needs -o OUTPUT" in result.stderr


class _FailingReporter:
    """A reporter whose outbox breaks on the third report."""

    def __init__(self) -> None:
        self.calls = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def enqueue(self, listing: object, assessment: object) -> str:
        del listing, assessment
        self.calls += 1
        if self.calls == 3:
            raise OutboxError("disk full")
        return "id"


def test_failure_while_reporting_resumes_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record whose report could not be stored is redone once on --resume, not twice."""
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": f"ad-{i}", "title": "Pangolin scales 1kg"}) + "\n" for i in range(6)
        )
    )
    monkeypatch.setattr("cites_guard._cli_score.open_reporter", lambda *_: _FailingReporter())
    base = ["score", str(source), "-o", str(out), "-q", "--workers", "1", "--no-model"]
    assert main([*base, "--report"]) == 2
    assert main([*base, "--resume"]) == 0
    assert _ids(out) == [f"ad-{i}" for i in range(6)]
