import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cites_guard._signing import secret_key, sign, signature_headers, verify
from cites_guard.errors import ReportSignatureError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - Standard Webhooks test vector


def test_signature_matches_the_standard_webhooks_construction():
    """The signature is base64 HMAC-SHA256 of id.timestamp.body under the decoded secret."""
    body = b'{"test": 2432232314}'
    expected = base64.b64encode(
        hmac.new(
            base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + body,
            hashlib.sha256,
        ).digest()
    ).decode()
    assert sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, [SECRET]) == f"v1,{expected}"


def test_standard_webhooks_reference_vector_verifies():
    """The published Standard Webhooks example signature verifies with its secret."""
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert verify(headers, b'{"test": 2432232314}', [SECRET], now=1614265330) == (
        "msg_p5jXN8AQM9LWM0D4loKWxJek"
    )


def test_one_signature_per_active_secret():
    """Signing with two secrets yields two space-separated v1 entries."""
    value = sign("m", 1, b"x", ["a", "b"])
    assert len(value.split(" ")) == 2
    assert all(v.startswith("v1,") for v in value.split(" "))


def test_receiver_accepts_any_rotated_secret():
    """A receiver that knows only the new secret accepts a delivery signed with old and new."""
    headers = signature_headers("m1", b"{}", ["old", "new"], timestamp=1000)
    assert verify(headers, b"{}", ["new"], now=1000) == "m1"


def test_tampered_body_is_refused():
    """Changing one byte of the body makes verification fail."""
    headers = signature_headers("m1", b'{"a":1}', ["k"], timestamp=1000)
    with pytest.raises(ReportSignatureError):
        verify(headers, b'{"a":2}', ["k"], now=1000)


def test_wrong_secret_is_refused():
    """A signature made with another secret is refused."""
    headers = signature_headers("m1", b"{}", ["k1"], timestamp=1000)
    with pytest.raises(ReportSignatureError, match="no webhook-signature"):
        verify(headers, b"{}", ["k2"], now=1000)


@pytest.mark.parametrize("skew", [-301, 301, 10_000])
def test_stale_or_future_timestamp_is_refused(skew):
    """A timestamp more than five minutes from the receiver clock is refused."""
    headers = signature_headers("m1", b"{}", ["k"], timestamp=1_000_000)
    with pytest.raises(ReportSignatureError, match="300 s"):
        verify(headers, b"{}", ["k"], now=1_000_000 + skew)


def test_timestamp_within_tolerance_is_accepted():
    """A timestamp 299 seconds old still verifies."""
    headers = signature_headers("m1", b"{}", ["k"], timestamp=1_000_000)
    assert verify(headers, b"{}", ["k"], now=1_000_299) == "m1"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_refused(missing):
    """A delivery lacking one of the three headers is refused."""
    headers = signature_headers("m1", b"{}", ["k"], timestamp=1000)
    del headers[missing]
    with pytest.raises(ReportSignatureError, match="missing"):
        verify(headers, b"{}", ["k"], now=1000)


def test_header_names_are_case_insensitive():
    """Headers arrive capitalised from HTTP stacks and still verify."""
    headers = {k.title(): v for k, v in signature_headers("m", b"{}", ["k"], timestamp=5).items()}
    assert verify(headers, b"{}", ["k"], now=5) == "m"


def test_invalid_whsec_secret_does_not_leak():
    """A malformed whsec_ secret raises without echoing the secret."""
    with pytest.raises(ReportSignatureError) as info:
        secret_key("whsec_!!not-base64-TOPSECRET")
    assert "TOPSECRET" not in str(info.value)


@given(
    body=st.binary(max_size=256), msg_id=st.text(min_size=1, max_size=40), ts=st.integers(0, 2**40)
)
def test_sign_then_verify_round_trips(body, msg_id, ts):
    """Any body signed with a secret verifies with that secret at the same time."""
    headers = signature_headers(msg_id, body, ["k"], timestamp=ts)
    assert verify(headers, body, ["k"], now=ts) == msg_id
