import hashlib
import hmac
import re
from datetime import UTC, datetime

import pytest

from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SigningMode,
    Verified,
    WebhookUnauthorized,
    new_public_id,
    new_secret,
    sign_delivery,
    verify_delivery,
)

SECRET = "5e" * 24
OTHER_SECRET = "a1" * 24
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())
BODY = b'{"event": "deploy", "ok": true}'
WINDOW = 300

Headers = dict[str, str]


def signed(timestamp: int = T, body: bytes = BODY, secret: str = SECRET) -> Headers:
    return sign_delivery(secret, body, timestamp)


def hand_signed(sent: str, body: bytes = BODY) -> Headers:
    message = sent.encode() + b"." + body
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: sent, SIGNATURE_HEADER: digest}


def with_signature(signature: str, timestamp: int = T) -> Headers:
    return {**signed(timestamp), SIGNATURE_HEADER: signature}


def deliver(headers: Headers, body: bytes = BODY, mode: SigningMode = SigningMode.hmac_sha256) -> Verified:
    return verify_delivery(mode, SECRET, headers, body, NOW, WINDOW)


def rejection(headers: Headers, body: bytes = BODY, mode: SigningMode = SigningMode.hmac_sha256) -> str:
    with pytest.raises(WebhookUnauthorized) as info:
        deliver(headers, body, mode)
    return info.value.reason


def bearer(authorization: str) -> Headers:
    return {"Authorization": authorization}


def via_bearer(headers: Headers) -> Verified:
    return deliver(headers, mode=SigningMode.bearer)


# --- bearer ---------------------------------------------------------------


def test_bearer_accepts_the_exact_secret() -> None:
    assert via_bearer(bearer(f"Bearer {SECRET}")) == Verified(None)


def test_bearer_ignores_surrounding_whitespace() -> None:
    assert via_bearer(bearer(f"  Bearer {SECRET}\t ")) == Verified(None)


def test_bearer_header_name_is_case_insensitive() -> None:
    assert via_bearer({"authorization": f"Bearer {SECRET}"}) == Verified(None)


def test_bearer_rejects_a_missing_header() -> None:
    assert rejection({}, mode=SigningMode.bearer) == "missing_bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {OTHER_SECRET}",
        f"bearer {SECRET}",
        f"BEARER {SECRET}",
        f"Basic {SECRET}",
        f"Bearer  {SECRET}",
        f"Bearer\t{SECRET}",
        f"Bearer{SECRET}",
        f"Bearer {SECRET} extra",
        f"Bearer {SECRET.upper()}",
        SECRET,
        "Bearer",
        "Bearer " + "é" * 48,
        "Bearer " + "\udc80" * 48,
    ],
)
def test_bearer_rejects_anything_but_the_exact_credential(authorization: str) -> None:
    assert rejection(bearer(authorization), mode=SigningMode.bearer) == "bad_bearer"


def test_bearer_ignores_signature_headers() -> None:
    assert rejection(signed(), mode=SigningMode.bearer) == "missing_bearer"


# --- hmac_sha256: the valid delivery ---------------------------------------


def test_hmac_accepts_a_signed_delivery() -> None:
    assert deliver(signed()).replay_key is not None


def test_signature_is_hmac_over_timestamp_dot_raw_body() -> None:
    assert signed() == hand_signed(str(T))


def test_hmac_header_names_are_case_insensitive() -> None:
    headers = {name.lower(): value for name, value in signed().items()}
    assert deliver(headers).replay_key is not None


def test_hmac_accepts_sha256_prefix() -> None:
    signature = signed()[SIGNATURE_HEADER]
    assert deliver(with_signature(f"sha256={signature}")).replay_key is not None


def test_hmac_ignores_whitespace_around_headers() -> None:
    headers = {name: f" {value}\t" for name, value in signed().items()}
    assert deliver(headers).replay_key is not None


def test_hmac_verifies_a_non_ascii_body_over_its_exact_raw_bytes() -> None:
    body = '{"name": "café"}'.encode()
    assert deliver(signed(body=body), body=body).replay_key is not None


def test_hmac_rejects_a_non_ascii_body_in_another_encoding() -> None:
    text = '{"name": "café"}'
    latin1 = text.encode("latin-1")
    assert rejection(signed(body=text.encode()), body=latin1) == "bad_signature"


# --- hmac_sha256: missing headers ------------------------------------------


@pytest.mark.parametrize("dropped", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_hmac_rejects_a_missing_header(dropped: str) -> None:
    headers = {name: value for name, value in signed().items() if name != dropped}
    assert rejection(headers) == "missing_signature"


@pytest.mark.parametrize("blanked", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_hmac_rejects_a_blank_header(blanked: str) -> None:
    assert rejection({**signed(), blanked: "  "}) == "missing_signature"


def test_hmac_rejects_bearer_credentials() -> None:
    assert rejection(bearer(f"Bearer {SECRET}")) == "missing_signature"


# --- hmac_sha256: the signature --------------------------------------------


def test_hmac_rejects_the_wrong_secret() -> None:
    assert rejection(signed(secret=OTHER_SECRET)) == "bad_signature"


def test_hmac_rejects_a_tampered_body() -> None:
    assert rejection(signed(), body=BODY + b" ") == "bad_signature"


def test_hmac_rejects_uppercase_hex() -> None:
    upper = signed()[SIGNATURE_HEADER].upper()
    assert rejection(with_signature(upper)) == "bad_signature"


def test_hmac_rejects_an_uppercase_prefix() -> None:
    signature = signed()[SIGNATURE_HEADER]
    assert rejection(with_signature(f"SHA256={signature}")) == "bad_signature"


def test_hmac_rejects_a_bare_prefix() -> None:
    assert rejection(with_signature("sha256=")) == "bad_signature"


def test_hmac_rejects_a_truncated_signature() -> None:
    assert rejection(with_signature(signed()[SIGNATURE_HEADER][:-1])) == "bad_signature"


@pytest.mark.parametrize("signature", ["é" * 64, "sha256=" + "é" * 64, "\udc80" * 64, "\x00" * 64])
def test_hmac_rejects_a_non_ascii_signature_as_unauthorized(signature: str) -> None:
    assert rejection(with_signature(signature)) == "bad_signature"


def test_hmac_rejects_a_signature_for_another_timestamp() -> None:
    headers = {**signed(T - 1), TIMESTAMP_HEADER: str(T)}
    assert rejection(headers) == "bad_signature"


def test_hmac_signs_the_timestamp_exactly_as_sent() -> None:
    headers = {**signed(), TIMESTAMP_HEADER: f"{T}.0"}
    assert rejection(headers) == "bad_signature"
    assert deliver(hand_signed(f"{T}.0")).replay_key is not None


# --- hmac_sha256: the timestamp --------------------------------------------


@pytest.mark.parametrize("offset", [-WINDOW, -1, 0, 1, WINDOW])
def test_hmac_accepts_a_timestamp_inside_the_window(offset: int) -> None:
    assert deliver(signed(T + offset)).replay_key is not None


@pytest.mark.parametrize("offset", [-WINDOW - 1, WINDOW + 1, -86_400, 86_400])
def test_hmac_rejects_a_stale_or_future_timestamp(offset: int) -> None:
    assert rejection(signed(T + offset)) == "stale_timestamp"


@pytest.mark.parametrize("offset_ms", [-WINDOW * 1000, -1, 0, 1, WINDOW * 1000])
def test_hmac_accepts_milliseconds_inside_the_window(offset_ms: int) -> None:
    assert deliver(signed(T * 1000 + offset_ms)).replay_key is not None


@pytest.mark.parametrize("offset_ms", [-WINDOW * 1000 - 1, WINDOW * 1000 + 1])
def test_hmac_rejects_milliseconds_just_outside_the_window(offset_ms: int) -> None:
    assert rejection(signed(T * 1000 + offset_ms)) == "stale_timestamp"


def test_hmac_accepts_fractional_seconds_inside_the_window() -> None:
    assert deliver(hand_signed(f"{T - WINDOW}.000")).replay_key is not None
    assert rejection(hand_signed(f"{T - WINDOW - 1}.5")) == "stale_timestamp"


@pytest.mark.parametrize(
    "sent",
    [
        "abc",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "1e9",
        "0x10",
        f"{T}abc",
        f"{T:_}",
        f"{T}.",
        "٣" * 10,
        "9" * 400,
        "9" * 400 + ".5",
    ],
)
def test_hmac_rejects_a_garbage_timestamp(sent: str) -> None:
    assert rejection(hand_signed(sent)) == "bad_timestamp"


# --- replay key --------------------------------------------------------------


def test_replay_key_is_stable_for_the_same_delivery() -> None:
    assert deliver(signed()).replay_key == deliver(signed()).replay_key


def test_replay_key_ignores_the_sha256_prefix() -> None:
    prefixed = with_signature("sha256=" + signed()[SIGNATURE_HEADER])
    assert deliver(prefixed).replay_key == deliver(signed()).replay_key


def test_replay_key_differs_for_a_different_timestamp() -> None:
    assert deliver(signed(T)).replay_key != deliver(signed(T + 1)).replay_key


def test_replay_key_differs_for_a_different_body() -> None:
    other = b'{"event": "rollback"}'
    first, second = deliver(signed()), deliver(signed(body=other), body=other)
    assert first.replay_key != second.replay_key


def test_replay_key_is_hex_sha256_that_reveals_neither_secret_nor_signature() -> None:
    key = deliver(signed()).replay_key
    assert key is not None and re.fullmatch(r"[0-9a-f]{64}", key)
    assert key not in (SECRET, signed()[SIGNATURE_HEADER])


# --- the exception -------------------------------------------------------------


def test_unauthorized_never_shows_its_reason_to_the_caller() -> None:
    with pytest.raises(WebhookUnauthorized) as info:
        deliver(signed(secret=OTHER_SECRET))
    assert isinstance(info.value, Unauthorized)
    assert str(info.value) == info.value.message == "Unauthorized"
    assert info.value.details is None


# --- ids and secrets -----------------------------------------------------------


def test_new_secret_is_48_lowercase_hex_and_fresh_each_time() -> None:
    assert re.fullmatch(r"[0-9a-f]{48}", new_secret())
    assert new_secret() != new_secret()


def test_new_public_id_is_24_lowercase_hex_and_fresh_each_time() -> None:
    assert re.fullmatch(r"[0-9a-f]{24}", new_public_id())
    assert new_public_id() != new_public_id()


def test_a_new_secret_signs_deliveries_it_alone_verifies() -> None:
    secret = new_secret()
    headers = sign_delivery(secret, BODY, T)
    mode = SigningMode.hmac_sha256
    assert verify_delivery(mode, secret, headers, BODY, NOW, WINDOW).replay_key
    assert rejection(headers) == "bad_signature"
