import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from reporting_helpers import REPORTER, SECRET, TOKEN, make_case, make_settings

from cites_guard._specimens import find_quantity, trade_term
from cites_guard.errors import ConfigError, ReportValidationError
from cites_guard.report import (
    ModeratorOutcome,
    Report,
    ReportSettings,
    build_report,
    canonical_json,
    parse_report,
    report_json_schema,
    snapshot_sha256,
)

SRC_SCHEMA = Path(__file__).parents[2] / "src/cites_guard/schemas/report-v1.schema.json"
DOCS_SCHEMA = Path(__file__).parents[2] / "docs/report-v1.schema.json"


def test_shipped_schema_is_not_stale():
    """The packaged JSON Schema equals the one generated from the models."""
    assert json.loads(SRC_SCHEMA.read_text()) == report_json_schema()


def test_docs_schema_is_a_copy_of_the_shipped_one():
    """docs/report-v1.schema.json is identical to the packaged schema."""
    assert DOCS_SCHEMA.read_text() == SRC_SCHEMA.read_text()


def test_report_envelope(settings, case):
    """A built report carries version, UUID, UTC time, environment and reporter."""
    report = build_report(*case, settings=settings)
    data = json.loads(report.to_json_bytes())
    assert data["schema_version"] == "1.0"
    assert data["environment"] == "test"
    assert data["reporter"] == REPORTER
    assert data["created_at"].endswith("Z")
    assert len(data["report_id"]) == 36


def test_same_case_gives_same_report_id(settings, case):
    """Building the same case twice yields one report id, so it is reported once."""
    first = build_report(*case, settings=settings)
    second = build_report(*case, settings=settings, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert first.report_id == second.report_id


def test_moderator_outcome_changes_id_and_automation(settings, case):
    """A moderator-confirmed case is a distinct, partially automated report."""
    auto = build_report(*case, settings=settings)
    human = build_report(
        *case, settings=settings, moderator_outcome=ModeratorOutcome(outcome="confirmed")
    )
    assert auto.report_id != human.report_id
    assert auto.detection.automated_decision == "fully"
    assert human.detection.automated_decision == "partially"
    assert human.detection.moderator_outcome.outcome == "confirmed"


def test_listing_snapshot_hash_is_verifiable(settings, case):
    """The snapshot hash is the SHA-256 of the canonical snapshot and detects tampering."""
    report = build_report(*case, settings=settings)
    snap = report.listing.model_dump(mode="json")
    assert snapshot_sha256(snap) == report.listing.snapshot_sha256
    body = json.loads(report.to_json_bytes())
    body["listing"]["price"] = 1.0
    with pytest.raises(ReportValidationError, match="snapshot_sha256"):
        parse_report(canonical_json(body))


def test_specimens_use_cites_trade_terms(settings, case):
    """Specimens name taxon, appendix, CITES trade term and the stated quantity."""
    (specimen,) = build_report(*case, settings=settings).specimens
    assert specimen.scientific_name == "Loxodonta africana"
    assert specimen.cites_appendix == "I"
    assert (specimen.specimen_type, specimen.trade_term_code) == ("ivory carving", "IVC")
    assert (specimen.quantity, specimen.unit) == (2.0, "number")


@pytest.mark.parametrize(
    ("text", "specimen", "expected"),
    [
        ("elephant tusk 12kg", "raw part", "tusk"),
        ("pangolin scales for medicine", None, "scales"),
        ("python skin handbag", "worked item", "skin"),
        ("baby grey parrot", "live", "live"),
        ("rhino horn carving", "worked item", "horn carving"),
        ("tiger bone wine", "derivative", "bone"),
        ("statue", "worked item", "carving"),
        ("nothing stated", "whole dead", "body"),
        ("nothing stated", None, "unspecified"),
    ],
)
def test_trade_term_table(text, specimen, expected):
    """The trade term is read from the ad text, falling back to the specimen category."""
    assert trade_term(text, specimen) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2,5 kg", (2.5, "kg")), ("lot of 3 pcs", (3.0, "number")), ("500g", (500.0, "g")),
     ("model 2024", (None, None))],
)  # fmt: skip
def test_quantity_table(text, expected):
    """Quantities and units are read only when the ad states them."""
    assert find_quantity(text) == expected


def test_seller_is_off_by_default(settings, case):
    """Without seller_enabled, no seller data is in the report."""
    report = build_report(*case, settings=settings)
    assert report.seller is None
    assert b"seller-1" not in report.to_json_bytes()


def test_seller_is_pseudonymous_and_filtered(tmp_path, case):
    """An enabled seller is an HMAC pseudonym with only the allowed fields."""
    settings = make_settings(
        "https://a.example/r", tmp_path / "o.db", seller_enabled=True,
        seller_key="pepper-key", seller_fields=["country"],
    )  # fmt: skip
    report = build_report(*case, settings=settings)
    body = report.to_json_bytes()
    assert report.seller.pseudonym.startswith("hmac-sha256:")
    assert report.seller.fields == {"country": "FR"}
    assert b"seller-1" not in body
    assert b"+33" not in body
    assert b"pepper-key" not in body


def test_seller_needs_a_key(tmp_path):
    """Enabling the seller without an HMAC key is a configuration error."""
    with pytest.raises(ValueError, match="seller_key"):
        make_settings("https://a.example/r", tmp_path / "o.db", seller_enabled=True)


def test_mismatched_assessment_is_refused(settings):
    """A report cannot pair a listing with another listing's assessment."""
    listing, _ = make_case(1)
    _, other = make_case(2)
    with pytest.raises(ReportValidationError):
        build_report(listing, other, settings=settings)


def test_invalid_body_lists_every_problem():
    """parse_report names each invalid field."""
    with pytest.raises(ReportValidationError) as info:
        parse_report(b'{"schema_version": "9", "report_id": "x"}')
    message = str(info.value)
    assert "schema_version" in message
    assert "report_id" in message
    assert "reporter" in message


def test_reports_are_frozen(settings, case):
    """A built report cannot be modified after the fact."""
    report = build_report(*case, settings=settings)
    with pytest.raises(ValueError, match="frozen"):
        report.environment = "production"  # type: ignore[misc]


def test_report_round_trips(settings, case):
    """Serialising and parsing a report gives an equal report."""
    report = build_report(*case, settings=settings)
    assert parse_report(report.to_json_bytes()) == report
    assert isinstance(report, Report)


# -- settings -----------------------------------------------------------------------------


ENV = {
    "CITES_GUARD_REPORT_URL": "https://agency.example/in",
    "CITES_GUARD_REPORTER_NAME": "Shop",
    "CITES_GUARD_REPORTER_LEGAL_URL": "https://shop.example/legal",
    "CITES_GUARD_REPORTER_CONTACT": "le@shop.example",
}


def test_settings_from_env_with_secret():
    """CITES_GUARD_REPORT_URL and _SECRET configure endpoint and secrets."""
    s = ReportSettings.from_env({**ENV, "CITES_GUARD_REPORT_SECRET": f"{SECRET} second"})
    assert s.endpoint_url == "https://agency.example/in"
    assert s.secret_values() == [SECRET, "second"]


def test_settings_from_env_with_secret_file(tmp_path):
    """CITES_GUARD_REPORT_SECRET_FILE is read, one secret per line."""
    path = tmp_path / "secret"
    path.write_text(f"{SECRET}\nold-secret\n")
    s = ReportSettings.from_env({**ENV, "CITES_GUARD_REPORT_SECRET_FILE": str(path)})
    assert s.secret_values() == [SECRET, "old-secret"]


def test_settings_from_env_names_missing_variables():
    """Missing variables are listed by name."""
    with pytest.raises(ConfigError, match="CITES_GUARD_REPORT_SECRET or"):
        ReportSettings.from_env(ENV)


def test_settings_refuse_cleartext_to_remote_hosts(tmp_path):
    """http:// is refused except for loopback receivers."""
    with pytest.raises(ConfigError, match="https"):
        ReportSettings.load(
            {"endpoint_url": "http://agency.example", "secrets": ["k"], "reporter": REPORTER}
        )
    assert make_settings("http://127.0.0.1:9/r", tmp_path / "o.db").endpoint_url


def test_settings_from_toml_and_json(tmp_path):
    """A TOML ([report] table) or JSON config maps to ReportSettings."""
    toml = tmp_path / "r.toml"
    toml.write_text(
        '[report]\nendpoint_url = "https://a.example/r"\nsecrets = ["k1", "k2"]\n'
        'environment = "production"\n[report.reporter]\nplatform_name = "S"\n'
        'legal_url = "https://s.example"\nlaw_enforcement_contact = "x@s.example"\n'
    )
    assert ReportSettings.from_file(toml).environment == "production"
    js = tmp_path / "r.json"
    js.write_text(
        json.dumps({"endpoint_url": "https://a.example/r", "secrets": "k", "reporter": REPORTER})
    )
    assert ReportSettings.from_file(js).secret_values() == ["k"]


def test_invalid_settings_never_echo_secrets(caplog):
    """A validation error about a secret-bearing config does not contain the secret."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as info:
        ReportSettings.load(
            {"endpoint_url": "ftp://x", "secrets": [SECRET], "bearer_token": TOKEN,
             "reporter": REPORTER, "seller_key": {"nested": TOKEN}}
        )  # fmt: skip
    assert SECRET not in str(info.value)
    assert TOKEN not in str(info.value)
    assert info.value.__cause__ is None


def test_settings_repr_hides_secrets(tmp_path):
    """repr and str of settings mask the secrets, the token and the seller key."""
    s = make_settings(
        "https://a.example/r", tmp_path / "o.db", bearer_token=TOKEN, dsa_token="dsa-tok-999",  # noqa: S106
        seller_enabled=True, seller_key="pepper-key",
    )  # fmt: skip
    for text in (repr(s), str(s), str(s.model_dump())):
        for secret in (SECRET, TOKEN, "dsa-tok-999", "pepper-key"):
            assert secret not in text


def test_lease_must_outlive_one_request(tmp_path):
    """A lease shorter than connect plus read timeout is refused."""
    with pytest.raises(ValueError, match="lease_seconds"):
        make_settings("https://a.example/r", tmp_path / "o.db", lease_seconds=0.5)
