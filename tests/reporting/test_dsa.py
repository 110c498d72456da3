import json
import re

import pytest
import requests
import responses
from pydantic import ValidationError
from reporting_helpers import make_case, make_settings

from cites_guard.dsa import (
    MAX_BATCH,
    PUID_PATTERN,
    DsaClient,
    StatementOfReasons,
    statement_from_report,
)
from cites_guard.errors import ReportAuthError, ReportDeliveryError
from cites_guard.report import ModeratorOutcome, build_report

BASE = "https://dsa.example"
ENDPOINT = f"{BASE}/api/v1/statements"


@pytest.fixture
def dsa_settings(tmp_path):
    return make_settings("https://a.example/r", tmp_path / "o.db", seller_enabled=True,
                         seller_key="k", seller_fields=["country"])  # fmt: skip


def _statement(settings, i=1, **outcome):
    listing, assessment = make_case(i)
    mod = ModeratorOutcome(**outcome) if outcome else None
    report = build_report(listing, assessment, settings=settings, moderator_outcome=mod)
    return statement_from_report(report, settings=settings)


def test_statement_has_the_required_database_values(dsa_settings):
    """A statement carries the mandatory fields with values the database accepts."""
    payload = _statement(dsa_settings).payload()
    assert payload["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert payload["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert payload["category"] == "STATEMENT_CATEGORY_ANIMAL_WELFARE"
    assert payload["category_specification"] == ["KEYWORD_UNLAWFUL_SALE_ANIMALS"]
    assert payload["content_type"] == ["CONTENT_TYPE_PRODUCT", "CONTENT_TYPE_TEXT"]
    assert payload["source_type"] == "SOURCE_VOLUNTARY"
    assert payload["automated_detection"] == "Yes"
    assert payload["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert payload["content_language"] == "EN"
    assert re.fullmatch(PUID_PATTERN, payload["puid"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", payload["application_date"])
    assert len(payload["territorial_scope"]) == 27


def test_statement_has_no_personal_data(dsa_settings):
    """No title, description, URL, price, seller id, pseudonym or seller field reaches DSA."""
    text = json.dumps(_statement(dsa_settings).payload())
    for needle in ("Carved ivory bangle", "no papers", "market.example", "seller-", "hmac",
                   "121", "+33", "seller"):  # fmt: skip
        assert needle not in text


def test_moderated_decision_is_partially_automated(dsa_settings):
    """A moderator-confirmed case is reported as partially automated."""
    payload = _statement(dsa_settings, outcome="confirmed").payload()
    assert payload["automated_decision"] == "AUTOMATED_DECISION_PARTIALLY"


def test_prohibited_products_category_uses_its_keyword(tmp_path):
    """The alternative category is paired with KEYWORD_PROHIBITED_PRODUCTS."""
    category = "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS"
    settings = make_settings("https://a.example/r", tmp_path / "o.db", dsa_category=category)
    payload = _statement(settings).payload()
    assert payload["category_specification"] == ["KEYWORD_PROHIBITED_PRODUCTS"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"puid": "has space"}, "puid"),
        ({"puid": "x" * 501}, "puid"),
        ({"decision_facts": "x" * 5001}, "decision_facts"),
        ({"illegal_content_legal_ground": "x" * 501}, "illegal_content_legal_ground"),
        ({"illegal_content_explanation": "x" * 2001}, "illegal_content_explanation"),
        ({"territorial_scope": ["US"]}, "territorial_scope"),
        ({"content_language": "eng"}, "content_language"),
        ({"category": "STATEMENT_CATEGORY_VIOLENCE"}, "category"),
        ({"decision_visibility": []}, "decision_visibility"),
        ({"content_date": "1999-12-31"}, "content_date"),
        ({"application_date": "2000-01-01", "content_date": "2001-01-01"}, "application_date"),
    ],
)
def test_invalid_values_are_caught_before_sending(dsa_settings, change, field):
    """Values the database would refuse fail validation locally, naming the field."""
    payload = {**_statement(dsa_settings).payload(), **change}
    with pytest.raises(ValidationError, match=field):
        StatementOfReasons.model_validate(payload)


def test_batches_hold_at_most_100_statements(dsa_settings):
    """250 statements are sent as three calls of 100, 100 and 50, with bearer auth."""
    statements = [_statement(dsa_settings, i) for i in range(250)]
    with responses.RequestsMock() as rsps:
        rsps.post(ENDPOINT, status=200, json={"statements": []})
        result = DsaClient(BASE, "dsa-token").submit(statements)
        sizes = [len(json.loads(c.request.body)["statements"]) for c in rsps.calls]
        assert sizes == [MAX_BATCH, MAX_BATCH, 50]
        assert rsps.calls[0].request.headers["Authorization"] == "Bearer dsa-token"
    assert len(result.delivered) == 250


def test_duplicate_puid_counts_as_delivered_and_errors_map_to_rows(dsa_settings):
    """A 422 marks duplicates delivered, rejects the invalid row and resubmits the rest."""
    statements = [_statement(dsa_settings, i) for i in range(3)]
    with responses.RequestsMock() as rsps:
        rsps.post(ENDPOINT, status=422, json={
            "message": "The given data was invalid.",
            "errors": {
                "statements.0.puid": ["The identifier given is not unique within this platform."],
                "statements.2.content_date": ["The content date is not a valid date."],
            },
        })  # fmt: skip
        rsps.post(ENDPOINT, status=200, json={"statements": []})
        result = DsaClient(BASE, "t").submit(statements)
        resent = json.loads(rsps.calls[1].request.body)["statements"]
    assert [s["puid"] for s in resent] == [statements[1].puid]
    assert set(result.delivered) == {statements[0].puid, statements[1].puid}
    assert result.duplicates == [statements[0].puid]
    assert list(result.rejected) == [statements[2].puid]
    assert "content_date" in result.rejected[statements[2].puid][0]


def test_single_statement_duplicate_with_plain_keys(dsa_settings):
    """A one-statement batch whose 422 uses plain field keys is understood."""
    statement = _statement(dsa_settings)
    with responses.RequestsMock() as rsps:
        rsps.post(ENDPOINT, status=422,
                  json={"errors": {"puid": ["The puid has already been taken."]}})  # fmt: skip
        result = DsaClient(BASE, "t").submit([statement])
    assert result.duplicates == [statement.puid]


@pytest.mark.parametrize("status", [401, 403])
def test_dsa_auth_failure_raises(dsa_settings, status):
    """A refused DSA token raises ReportAuthError."""
    with responses.RequestsMock() as rsps:
        rsps.post(ENDPOINT, status=status)
        with pytest.raises(ReportAuthError):
            DsaClient(BASE, "t").submit([_statement(dsa_settings)])


@pytest.mark.parametrize("failure", [500, 429, requests.ConnectionError("down")])
def test_dsa_transient_failure_raises_delivery_error_with_partial(dsa_settings, failure):
    """A 5xx, 429 or network error raises ReportDeliveryError carrying what was delivered."""
    statements = [_statement(dsa_settings, i) for i in range(150)]
    with responses.RequestsMock() as rsps:
        rsps.post(ENDPOINT, status=200, json={})
        if isinstance(failure, int):
            rsps.post(ENDPOINT, status=failure)
        else:
            rsps.post(ENDPOINT, body=failure)
        with pytest.raises(ReportDeliveryError) as info:
            DsaClient(BASE, "t").submit(statements)
    assert len(info.value.partial.delivered) == 100


def test_client_repr_hides_token():
    """The DSA client's repr shows the base URL, not the token."""
    assert "secret-token" not in repr(DsaClient(BASE, "secret-token"))


def test_client_from_settings_needs_a_token(dsa_settings):
    """Without dsa_token, building a client says which setting is missing."""
    with pytest.raises(ReportAuthError, match="dsa_token"):
        DsaClient.from_settings(dsa_settings)
