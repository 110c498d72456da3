import argparse
import json

import pytest
import responses
from reporting_helpers import REPORTER, SECRET, make_case, make_settings

from cites_guard._cli_reports import main, open_reporter, register
from cites_guard.report import Reporter


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({
        "endpoint_url": "https://agency.example/reports", "secrets": [SECRET],
        "reporter": REPORTER, "outbox_path": str(tmp_path / "o.db"),
        "dsa_base_url": "https://dsa.example", "dsa_token": "dsa-t",
    }))  # fmt: skip
    return path


def _fill(config, n=3):
    reporter = open_reporter(str(config), None)
    ids = [reporter.enqueue(*make_case(i)) for i in range(n)]
    reporter.close()
    return ids


def test_register_adds_both_commands():
    """register() adds reports and receiver commands that set a handler."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    for argv in (["reports", "flush"], ["reports", "list", "--state", "dead"],
                 ["reports", "retry-dead"], ["reports", "export-dsa", "--submit"],
                 ["receiver", "serve", "--port", "0", "--secret", "s", "--db", "x"],
                 ["receiver", "dump", "--db", "x"]):  # fmt: skip
        assert callable(parser.parse_args(argv).handler)


def test_open_reporter_applies_the_outbox_override(config, tmp_path):
    """open_reporter reads the config and lets --outbox override its path."""
    reporter = open_reporter(str(config), str(tmp_path / "other.db"))
    assert isinstance(reporter, Reporter)
    assert reporter.outbox.path == tmp_path / "other.db"
    reporter.close()


def test_open_reporter_uses_environment_without_config(monkeypatch, tmp_path):
    """Without a config file the CITES_GUARD_REPORT_* variables configure the reporter."""
    monkeypatch.setenv("CITES_GUARD_REPORT_URL", "https://agency.example/in")
    monkeypatch.setenv("CITES_GUARD_REPORT_SECRET", SECRET)
    monkeypatch.setenv("CITES_GUARD_REPORTER_NAME", "S")
    monkeypatch.setenv("CITES_GUARD_REPORTER_LEGAL_URL", "https://s.example")
    monkeypatch.setenv("CITES_GUARD_REPORTER_CONTACT", "le@s.example")
    reporter = open_reporter(None, str(tmp_path / "o.db"))
    assert reporter.settings.endpoint_url == "https://agency.example/in"
    reporter.close()


def test_status_json_prints_counts(config, capsys):
    """reports status --json prints the count of every state."""
    _fill(config)
    assert main(["reports", "status", "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == {"pending": 3, "sent": 0, "dead": 0}


def test_flush_then_list(config, capsys):
    """reports flush delivers and reports list shows the receipts."""
    ids = _fill(config)
    with responses.RequestsMock() as rsps:
        rsps.post("https://agency.example/reports", status=201, json={"ok": True})
        assert main(["reports", "flush", "--config", str(config)]) == 0
    capsys.readouterr()
    main(["reports", "list", "--config", str(config), "--state", "sent"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["report_id"] for r in rows] == ids
    assert rows[0]["receipt"]["status"] == 201


def test_flush_exit_code_on_auth_failure(config, capsys):
    """reports flush exits 3 and says so when the endpoint refuses the credentials."""
    _fill(config, 1)
    with responses.RequestsMock() as rsps:
        rsps.post("https://agency.example/reports", status=401)
        assert main(["reports", "flush", "--config", str(config)]) == 3
    err = capsys.readouterr().err
    assert "refused our credentials" in err
    assert SECRET not in err


def test_retry_dead_command(config, capsys):
    """reports retry-dead requeues exhausted rows and says how many."""
    _fill(config, 1)
    with responses.RequestsMock() as rsps:
        rsps.post("https://agency.example/reports", status=500)
        settings = make_settings("https://agency.example/reports", config.parent / "o.db",
                                 max_attempts=1)  # fmt: skip
        Reporter(settings, sleep=lambda _s: None).flush()
    assert main(["reports", "retry-dead", "--outbox", str(config.parent / "o.db")]) == 0
    assert "requeued 1" in capsys.readouterr().out


def test_export_dsa_writes_and_submits(config, tmp_path):
    """reports export-dsa writes statements as JSONL and --submit records the DSA state."""
    ids = _fill(config, 2)
    out = tmp_path / "sor.jsonl"
    with responses.RequestsMock() as rsps:
        rsps.post("https://dsa.example/api/v1/statements", status=200, json={})
        code = main(["reports", "export-dsa", "--config", str(config), "--out", str(out),
                     "--submit"])  # fmt: skip
    assert code == 0
    statements = [json.loads(line) for line in out.read_text().splitlines()]
    assert {s["puid"] for s in statements} == {f"cites-guard-{i}" for i in ids}
    reporter = open_reporter(str(config), None)
    assert {r.dsa_state for r in reporter.outbox.rows()} == {"sent"}
    reporter.close()
    assert main(["reports", "export-dsa", "--config", str(config), "--out", str(out)]) == 0
    assert out.read_text() == ""


def test_bad_config_is_exit_1_without_traceback(tmp_path, capsys):
    """An invalid config prints one error line and exits 1."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"endpoint_url": "ftp://x", "secrets": ["TOPSECRET"]}')
    assert main(["reports", "flush", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: invalid report config")
    assert "TOPSECRET" not in err
