"""Signing, hashing, encodings, regex capture and ``merge`` (``stdlib_crypto``,
``stdlib_strings``): published vectors, properties, the secret rule at run
time, and a webhook signed by a flow and verified by a server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowc.common.stdlib import call_dynamic
from flowc.common.values import EvalError, Secret
from tests.runtime_helpers import compile_flow, run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def call(name: str, *args: object) -> object:
    return call_dynamic(name, False, list(args))


# RFC 4231 section 4: test cases 1, 2 and 6 (a key longer than the block size).
RFC4231 = [
    (
        bytes([0x0B] * 20),
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    ),
    (
        bytes([0xAA] * 131),
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
        "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
    ),
]


@pytest.mark.parametrize(("key", "data", "sha256", "sha512"), RFC4231)
def test_hmac_rfc4231_vectors(key: bytes, data: bytes, sha256: str, sha512: str) -> None:
    assert call("hex.encode", call("hmac_sha256", key, data)) == sha256
    assert call("hex.encode", call("hmac_sha512", key, data)) == sha512


def test_hmac_takes_strings_as_utf8_and_a_secret_key() -> None:
    expected = call("hmac_sha256", b"Jefe", b"what do ya want for nothing?")
    assert call("hmac_sha256", "Jefe", "what do ya want for nothing?") == expected
    assert call("hmac_sha256", Secret("Jefe"), "what do ya want for nothing?") == expected
    result = call("hmac_sha256", Secret(b"Jefe"), b"what do ya want for nothing?")
    assert type(result) is bytes and result == expected  # plain: not a Secret


@pytest.mark.parametrize(
    ("data", "digest"),
    [  # FIPS 180-2 appendix B examples (and the empty message)
        (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ],
)
def test_sha256_nist_vectors(data: bytes, digest: str) -> None:
    assert call("hex.encode", call("sha256", data)) == digest
    assert call("hex.encode", call("sha256", data.decode())) == digest


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("hmac_sha256", ("key", Secret("message"))),
        ("hmac_sha512", (Secret("k"), Secret("m"))),
        ("sha256", (Secret("pin"),)),
        ("hex.encode", (Secret(b"raw"),)),
    ],
)
def test_secrets_are_refused_except_as_an_hmac_key(name: str, args: tuple[object, ...]) -> None:
    with pytest.raises(EvalError) as caught:
        call(name, *args)
    assert caught.value.kind == "type" and "secret" in str(caught.value)
    assert "message" not in str(caught.value) and "pin" not in str(caught.value)


@given(st.binary(max_size=200))
def test_hex_and_base64url_round_trip(data: bytes) -> None:
    text = call("hex.encode", data)
    assert text == data.hex() and call("hex.decode", text) == data
    assert call("hex.decode", str(text).upper()) == data
    url = call("base64url.encode", data)
    assert isinstance(url, str) and "=" not in url and "+" not in url and "/" not in url
    assert call("base64url.decode", url) == data
    assert call("base64url.decode", base64.urlsafe_b64encode(data).decode()) == data


@given(st.binary(max_size=64), st.binary(max_size=300))
def test_hmac_agrees_with_the_reference(key: bytes, message: bytes) -> None:
    assert call("hmac_sha256", key, message) == hmac.new(key, message, hashlib.sha256).digest()
    assert call("hmac_sha512", key, message) == hmac.new(key, message, hashlib.sha512).digest()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("hex.decode", "abc"),
        ("hex.decode", "zz"),
        ("hex.decode", "ab cd"),
        ("base64url.decode", "a+b/"),
        ("base64url.decode", "a*"),
    ],
)
def test_bad_encoded_text_is_an_invalid_argument(name: str, text: str) -> None:
    with pytest.raises(EvalError) as caught:
        call(name, text)
    assert caught.value.kind == "invalid argument"


def test_regex_extract_and_extract_all() -> None:
    assert call("regex.extract", "order-123 order-456", r"order-(\d+)") == "123"
    assert call("regex.extract", "hello world", r"w\w+") == "world"
    assert call("regex.extract", "nothing", r"\d+") is None
    assert call("regex.extractAll", "order-1 order-22 x", r"order-(\d+)") == ["1", "22"]
    assert call("regex.extractAll", "a1b2", r"\d") == ["1", "2"]
    assert call("regex.extractAll", "12-a 3-", r"\d+-(\w)?") == ["a"]
    assert call("regex.extractAll", "none", r"\d") == []
    for name in ("regex.extract", "regex.extractAll"):
        with pytest.raises(EvalError, match="at most one capture group"):
            call(name, "ab", "(a)(b)")
        with pytest.raises(EvalError, match="invalid regular expression"):
            call(name, "ab", "(")


def test_regex_extract_is_linear_time_on_a_pathological_pattern() -> None:
    started = time.perf_counter()
    assert call("regex.extract", "a" * 30_000 + "!", "(a+)+$") is None
    assert call("regex.extractAll", "a" * 30_000 + "!", "(a+)+$") == []
    assert time.perf_counter() - started < 2.0


@given(
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=8),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=8),
)
def test_merge_is_right_biased_union(left: dict[str, int], right: dict[str, int]) -> None:
    merged = call("merge", dict(left), dict(right))
    assert merged == {**left, **right}
    assert call("merge", merged, {}) == merged and call("merge", {}, merged) == merged


def test_merge_carries_secrets_unseen() -> None:
    merged = call("merge", {"a": Secret("x")}, {"b": "y"})
    assert isinstance(merged, dict) and isinstance(merged["a"], Secret)


# --------------------------------------------------------------------------- a webhook


class WebhookReceiver:
    """Verifies `X-Signature: sha256=hex(HMAC(key, timestamp + "." + body))`."""

    def __init__(self, key: bytes) -> None:
        self.verdicts: list[bool] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stamp = self.headers.get("X-Timestamp", "")
                expected = hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256)
                given = self.headers.get("X-Signature", "")
                good = hmac.compare_digest(given, "sha256=" + expected.hexdigest())
                receiver.verdicts.append(good and json.loads(body)["event"] == "paid")
                self.send_response(204 if good else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(b"whsec-test-key")
    yield server
    server.close()


async def test_the_webhook_example_signs_and_the_receiver_verifies(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_KEY", "whsec-test-key")
    monkeypatch.setenv("FLOWC_HOOKS_URL", receiver.url)
    source = (EXAMPLES / "webhook_signature.flow").read_text()
    outcome = await run(compile_flow(source), inputs={"event": "paid", "order_id": "o-7"})
    assert outcome.value["status"] == 204
    assert receiver.verdicts == [True]
    signature = outcome.value["signature"]
    assert len(signature) == 64 and any(signature in line for line in outcome.logs)
    assert "whsec-test-key" not in outcome.trace_text + "".join(outcome.logs)


async def test_a_wrong_key_is_rejected_by_the_receiver(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_KEY", "not-the-key")
    monkeypatch.setenv("FLOWC_HOOKS_URL", receiver.url)
    source = (EXAMPLES / "webhook_signature.flow").read_text()
    outcome = await run(compile_flow(source), inputs={"event": "paid", "order_id": "o-7"})
    assert outcome.error is not None and outcome.error.status == 401
    assert receiver.verdicts == [False]
