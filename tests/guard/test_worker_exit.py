"""Scoring workers do not outlive a parent that was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import multiprocessing, os, signal, sys
from cites_guard import Listing, Settings
from cites_guard.batch import assess_parallel_json
from cites_guard.config import ModelSettings

def main():
    ads = [Listing(id=str(i), title="carved ivory bangle") for i in range(8)]
    settings = Settings(model=ModelSettings(enabled=False))
    results = assess_parallel_json(ads, settings=settings, workers=2, batch_size=2)
    next(results)  # the workers are up
    pids = [p.pid for p in multiprocessing.active_children()]
    print(" ".join(str(p) for p in pids), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    main()
"""


def _alive(pid: int) -> bool:
    try:
        with Path(f"/proc/{pid}/status").open() as status:
            return not any(line.startswith("State:\tZ") for line in status)
    except FileNotFoundError:
        return False


def test_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "killed_parent.py"
    script.write_text(SCRIPT)
    # Output goes to a file, not a pipe: surviving workers would hold a pipe open forever.
    log = tmp_path / "pids.txt"
    with log.open("w") as out:
        subprocess.run([sys.executable, str(script)], stdout=out, check=False, timeout=120)
    pids = [int(p) for p in log.read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [pid for pid in pids if _alive(pid)]
    for pid in survivors:  # never leave them behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors
