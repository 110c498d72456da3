from __future__ import annotations

import gzip
import io
import time
from pathlib import Path

from cites_guard._cli_score import _count_lines, _Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_rate_and_eta_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal the progress line shows the rate, the share done and an ETA."""
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n" * 1000)
    stream = _Terminal()
    progress = _Progress(stream, enabled=True, path=str(source))
    deadline = time.monotonic() + 10
    while not progress._total and time.monotonic() < deadline:
        time.sleep(0.01)
    progress.update(250, 1, line=251)
    assert "ETA" in stream.getvalue()
    assert "25.1%" in stream.getvalue()


def test_progress_is_silent_off_a_terminal(tmp_path: Path) -> None:
    """Output that is not a terminal gets no progress line."""
    stream = io.StringIO()
    _Progress(stream, enabled=True, path=str(tmp_path / "none.jsonl")).update(5, 0, line=5)
    assert stream.getvalue() == ""


def test_lines_are_counted_in_gzip_inputs_too(tmp_path: Path) -> None:
    """The ETA's line count reads gzip inputs."""
    source = tmp_path / "in.jsonl.gz"
    with gzip.open(source, "wb") as handle:
        handle.write(b"{}\n" * 42)
    total: list[int] = []
    _count_lines(str(source), total)
    assert total == [42]
