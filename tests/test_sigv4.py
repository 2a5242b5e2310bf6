"""AWS Signature Version 4 (`runtime/sigv4.py`): AWS's published vectors, and
flows whose steps a server on 127.0.0.1 verifies by recomputing the signature
from the request it received."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowc.runtime.http import HttpRequest
from flowc.runtime.http_urls import url_with_params
from flowc.runtime.sigv4 import AwsCredentials, authorization_header, sign
from tests.runtime_helpers import compile_flow, run

EMPTY = hashlib.sha256(b"").hexdigest()
SUITE = AwsCredentials(
    "us-east-1", "service", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)
SUITE_HEADERS = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
SCOPE = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"


@pytest.mark.parametrize(
    ("name", "method", "query", "signature"),
    [  # AWS's signature v4 test suite (aws-sig-v4-test-suite), credentials as published
        (
            "get-vanilla",
            "GET",
            "",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "post-vanilla",
            "POST",
            "",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        (
            "get-vanilla-query-order-key-case",
            "GET",
            "Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
    ],
)
def test_aws_test_suite_vectors(name: str, method: str, query: str, signature: str) -> None:
    header = authorization_header(
        SUITE, method, "/", query, SUITE_HEADERS, EMPTY, "20150830T123600Z"
    )
    assert header == (
        f"AWS4-HMAC-SHA256 {SCOPE}, SignedHeaders=host;x-amz-date, Signature={signature}"
    ), name


def test_the_s3_get_object_example_of_the_aws_documentation() -> None:
    # "Example: GET Object" of the S3 API reference (sig-v4-header-based-auth).
    s3 = AwsCredentials(
        "us-east-1", "s3", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    )
    headers = [
        ("Host", "examplebucket.s3.amazonaws.com"),
        ("Range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY),
        ("x-amz-date", "20130524T000000Z"),
    ]
    header = authorization_header(s3, "GET", "/test.txt", "", headers, EMPTY, "20130524T000000Z")
    assert header.endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_sign_adds_the_headers_and_signs_what_is_sent() -> None:
    request = HttpRequest(
        "POST",
        "http://127.0.0.1:9/items",
        (("Content-Type", "application/json"), ("X-Other", "not signed")),
        (("b", "2"), ("a", "x y")),
        content=b'{"n":1}',
    )
    credentials = AwsCredentials("eu-west-1", "execute-api", "AK", "SK", "TOKEN")
    signed = sign(request, credentials, clock=lambda: 1_440_938_160.0)
    headers = dict(signed.headers)
    assert signed.url == "http://127.0.0.1:9/items?a=x%20y&b=2" and signed.params == ()
    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert headers["X-Amz-Content-Sha256"] == hashlib.sha256(b'{"n":1}').hexdigest()
    assert headers["X-Amz-Security-Token"] == "TOKEN"
    assert (
        "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;"
        in (headers["Authorization"])
    )
    assert "x-other" not in headers["Authorization"]


# --------------------------------------------------------------------------- a verifier


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def expected_signature(method: str, raw_path: str, headers: Any, body: bytes, secret: str) -> str:
    """The server's own computation, from the request as received."""
    auth = headers["Authorization"]
    fields = dict(part.strip().split("=", 1) for part in auth.split(" ", 1)[1].split(","))
    _, date, region, service, _ = fields["Credential"].split("/")
    names = fields["SignedHeaders"].split(";")
    path, _, query = raw_path.partition("?")
    uri = "/".join(_encode(_encode(unquote(s))) for s in path.split("/"))
    pairs = sorted(
        (_encode(unquote(k.replace("+", " "))), _encode(unquote(v.replace("+", " "))))
        for k, _, v in (item.partition("=") for item in query.split("&") if item)
    )
    canonical = "\n".join(
        [
            method,
            uri,
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    stamp = headers["X-Amz-Date"]
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class AwsLikeServer:
    def __init__(self, secret: str) -> None:
        self.verdicts: list[bool] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                given = self.headers.get("Authorization", "").rpartition("Signature=")[2]
                try:
                    wanted = expected_signature(self.command, self.path, self.headers, body, secret)
                except (KeyError, ValueError):
                    wanted = "unsigned"
                good = hmac.compare_digest(given, wanted)
                server.verdicts.append(good)
                self.send_response(200 if good else 403)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsLikeServer]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-secret-for-tests")
    server = AwsLikeServer("wJalrXUtnFEMI-secret-for-tests")
    yield server
    server.close()


SIGNED = """
    const ACCESS_KEY = secret("AWS_ACCESS_KEY_ID")
    const SECRET_KEY = secret("AWS_SECRET_ACCESS_KEY")

    service aws "@URL@" {
        auth aws_sigv4 "us-east-1", "execute-api", ACCESS_KEY, SECRET_KEY
        retry 1 when error.status == 599
    }

    flow calls() -> list[int] {
        step a = GET aws "/items/a b" { query {z: "1", a: "x y", tag: ["p", "q"]} }
        step b = POST aws "/orders" { json {item: "book", n: 2} }
        step c = GET aws "/"
        return [a.status, b.status, c.status]
    }
"""


async def test_steps_are_signed_and_the_server_verifies(aws: AwsLikeServer) -> None:
    outcome = await run(compile_flow(SIGNED, aws.url))
    assert outcome.value == [200, 200, 200]
    assert aws.verdicts == [True, True, True]
    assert "wJalrXUtnFEMI-secret-for-tests" not in outcome.trace_text
    assert "Signature=" not in outcome.trace_text


async def test_a_wrong_secret_key_is_refused(
    aws: AwsLikeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-right-secret")
    outcome = await run(compile_flow(SIGNED, aws.url))
    assert outcome.error is not None and outcome.error.status == 403
    assert aws.verdicts == [False]


class _Headers(dict[str, str]):
    """Case-insensitive lookup, as a server's header map has."""

    def __getitem__(self, name: str) -> str:
        return next(v for k, v in self.items() if k.lower() == name.lower())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3),
    st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=4),
    st.binary(max_size=64),
)
def test_any_path_query_and_body_verify_from_what_is_sent(
    segments: list[str], params: list[tuple[str, str]], body: bytes
) -> None:
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    request = HttpRequest("PUT", f"http://127.0.0.1:9{path}", (), tuple(params), content=body)
    signed = sign(request, AwsCredentials("us-east-1", "execute-api", "AK", "SK"))
    raw_path = url_with_params(signed.url, ()).raw_path.decode("ascii")
    headers = _Headers(signed.headers)
    wanted = expected_signature("PUT", raw_path, headers, body, "SK")
    assert headers["Authorization"].endswith(f"Signature={wanted}")
