"""The runtime against a server that misbehaves: one test per fault of `tests/fault_server.py`.

Each test writes a `.flow` file with two flows and runs both with the real console script
in child processes (`tests/cli_process.py`, in parallel): `fragile`, with no resilience,
must fail with exactly one `flowc: error:` line naming the step and the error kind, exit
status 1 (never 70), no traceback, before its timeout; `sturdy`, with `retry`, `timeout`,
`fallback`, `accept`, `try`/`catch` or `on error skip`, must succeed. In both, the
child's peak RSS must stay under `RSS_BOUND_MIB`, however large the body the server
sends (200 MiB, or a gzip bomb of 1 GiB decompressed: 2 GB of RSS before bodies were
bounded). Runs are durable (each child has its own SQLite store), so the journal sees
the faults too.

A few faults are also driven through the Python API in-process: following redirects is an
`HttpInvoker` option the language does not offer, and a 30% rate of 503s is checked over
many requests.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from flowc.api import compile_source
from flowc.common.errors import FlowError
from flowc.runtime.engine import Engine
from flowc.runtime.http import HttpInvoker
from tests.cli_process import Finished, finish, start_flowc
from tests.fault_server import FaultServer

RSS_BOUND_MIB = 150
"""Peak RSS a `flowc run` child may reach whatever the server sends (a bare run: ~50 MiB)."""

HEADER = 'service faults env("FAULTS_URL") { retry 0 }\n'


def run_pair(
    tmp_path: Path, faults: FaultServer, source: str, timeout: float = 40
) -> tuple[Finished, Finished]:
    """Run `fragile` and `sturdy` from `source` in parallel; check `sturdy` succeeded."""
    path = tmp_path / "faults.flow"
    path.write_text(HEADER + textwrap.dedent(source))
    began = time.monotonic()
    children = [
        start_flowc(
            [
                *("run", str(path), "--flow", name),
                *("--store", f"sqlite:///{tmp_path}/{name}.db"),
                *("--trace", str(tmp_path / f"{name}.jsonl")),
            ],
            {"FAULTS_URL": faults.url},
        )
        for name in ("fragile", "sturdy")
    ]
    fragile, sturdy = (finish(child, timeout, began) for child in children)
    assert sturdy.code == 0, sturdy.stderr
    assert sturdy.error_lines == []
    assert sturdy.peak_rss_mib < RSS_BOUND_MIB, f"{sturdy.peak_rss_mib:.0f} MiB"
    return fragile, sturdy


def run_seconds(trace: Path) -> float:
    """How long a run took, from its trace: `run_started` to `run_finished` (start-up
    excluded, which a loaded machine can stretch to seconds)."""
    events = {event["event"]: event for event in map(json.loads, trace.read_text().splitlines())}
    return float(events["run_finished"]["time"]) - float(events["run_started"]["time"])


def assert_failed_cleanly(
    finished: Finished, step: str | None, kind: str, within: float = 30, trace: Path | None = None
) -> str:
    """One error line naming `step` (None: the flow itself) and `kind`, exit 1, no
    traceback, under `RSS_BOUND_MIB`; with `trace`, a run of at most `within` seconds."""
    assert not finished.killed, "the run did not end"
    assert finished.code == 1, finished.stderr
    assert "Traceback" not in finished.stderr and "internal error" not in finished.stderr
    assert len(finished.error_lines) == 1, finished.stderr
    line = finished.error_lines[0]
    assert f"{kind}: " in line, line
    assert (f"at step `{step}`" in line) if step else ("at step" not in line), line
    if trace is not None:
        assert run_seconds(trace) < within
    assert finished.peak_rss_mib < RSS_BOUND_MIB, f"{finished.peak_rss_mib:.0f} MiB"
    assert finished.stdout == ""
    return line


# --------------------------------------------------------------------------- status faults


def _first_failing_key(rate: float) -> str:
    """A key whose first request the flaky route answers with 503 (the rule is seeded)."""
    import random

    return next(f"k{i}" for i in range(1000) if random.Random(f"/flaky/k{i}#1").random() < rate)


def test_thirty_percent_of_503s(tmp_path: Path, faults: FaultServer) -> None:
    key = _first_failing_key(0.3)
    fragile, _ = run_pair(
        tmp_path,
        faults,
        f"""
        flow fragile() -> int {{
            step call = GET faults "/flaky/{key}"
            return call.status
        }}
        flow sturdy() -> int {{
            let got = for i in range(40) parallel 8 {{
                step call = GET faults "/flaky/s${{i}}" {{ retry 8 backoff fixed 10ms }}
                yield call.status
            }}
            return size(got.filter(s, s == 200))
        }}
        """,
    )
    line = assert_failed_cleanly(fragile, "call", "status")
    assert "HTTP 503" in line
    assert 40 < sum(faults.hits(f"/flaky/s{i}") for i in range(40)) < 120  # some were retried


async def test_thirty_percent_of_503s_spread_over_many_requests(faults: FaultServer) -> None:
    program = compile_source(
        HEADER.replace('env("FAULTS_URL")', f'"{faults.url}"')
        + """
        flow f() -> list[int] {
            return for i in range(200) parallel 20 {
                step call = GET faults "/flaky/many${i}" { on error skip }
                yield call.status
            }
        }
        """
    )
    statuses = await program.run()
    failed = statuses.count(503)
    assert statuses.count(200) + failed == 200
    assert 30 <= failed <= 90  # 30% of 200, give or take what chance allows


def test_retry_after_in_seconds_is_honoured(tmp_path: Path, faults: FaultServer) -> None:
    fragile, sturdy = run_pair(
        tmp_path,
        faults,
        """
        flow fragile() -> int {
            step call = GET faults "/fail-first/a?n=1&retry_after=1"
            return call.status
        }
        flow sturdy() -> duration {
            step call = GET faults "/fail-first/b?n=1&retry_after=1" { retry 1 }
            return call.elapsed
        }
        """,
    )
    assert "HTTP 503" in assert_failed_cleanly(fragile, "call", "status")
    assert faults.hits("/fail-first/b") == 2
    assert sturdy.wall >= 1.0  # it waited as long as the server asked


def test_retry_after_as_an_http_date_is_honoured(tmp_path: Path, faults: FaultServer) -> None:
    path = tmp_path / "after.flow"
    path.write_text(
        HEADER
        + """
        flow f() -> int {
            step call = GET faults "/fail-first/date?n=1&retry_after=1&date=1" { retry 1 }
            return call.status
        }
        """
    )
    began = time.monotonic()
    finished = finish(
        start_flowc(["run", "--ephemeral", str(path)], {"FAULTS_URL": faults.url}), 30, began
    )
    assert finished.code == 0, finished.stderr
    assert finished.stdout.strip() == "200"
    assert faults.hits("/fail-first/date") == 2
    assert finished.wall >= 1.0  # the date was at least a second ahead


def test_redirect_loops_are_a_status_error(tmp_path: Path, faults: FaultServer) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        """
        flow fragile() -> int {
            step call = GET faults "/redirect-loop"
            return call.status
        }
        flow sturdy() -> string {
            step call = GET faults "/redirect-loop" { accept 200..399 }
            return call.headers["location"]
        }
        """,
    )
    assert "HTTP 302" in assert_failed_cleanly(fragile, "call", "status")
    assert faults.hits("/redirect-loop") == 2  # redirects are not followed


async def test_followed_redirect_loops_stop_after_ten(faults: FaultServer) -> None:
    from flowc.runtime.http import MAX_REDIRECTS, HttpRequest, TransportError

    async with HttpInvoker(follow_redirects=True) as http:
        with pytest.raises(TransportError) as caught:
            await http.send(HttpRequest("GET", f"{faults.url}/redirect-loop"))
    assert caught.value.kind == "protocol"
    assert f"more than {MAX_REDIRECTS} redirects" in str(caught.value)
    assert faults.hits("/redirect-loop") == MAX_REDIRECTS + 1


# --------------------------------------------------------------------------- broken connections


@pytest.mark.parametrize("fault", ["reset-before", "reset-during", "truncated"])
def test_broken_connections_are_protocol_errors(
    tmp_path: Path, faults: FaultServer, fault: str
) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        f"""
        flow fragile() -> int {{
            step call = GET faults "/{fault}"
            return call.status
        }}
        flow sturdy() -> list[int] {{
            step again = GET faults "/{fault}/k?times=2" {{ retry 3 backoff fixed 10ms }}
            step instead = GET faults "/{fault}" {{ fallback {{ok: false}} }}
            return [again.status, again.attempts, instead.status]
        }}
        """,
    )
    assert_failed_cleanly(fragile, "call", "protocol")
    assert faults.hits(f"/{fault}/k") == 3


@pytest.mark.parametrize("fault", ["stall-headers", "stall-body"])
def test_stalls_end_at_the_timeout(tmp_path: Path, faults: FaultServer, fault: str) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        f"""
        flow fragile() -> int timeout 1s {{
            step call = GET faults "/{fault}?seconds=30"
            return call.status
        }}
        flow sturdy() -> int {{
            step call = GET faults "/{fault}/k?seconds=30&times=1" {{
                timeout 300ms
                retry 1
            }}
            return call.attempts
        }}
        """,
    )
    trace = tmp_path / "fragile.jsonl"
    line = assert_failed_cleanly(fragile, None, "timeout", within=1.5, trace=trace)
    assert "flow `fragile` timed out after 1s" in line
    assert faults.hits(f"/{fault}/k") == 2


def test_a_stalled_step_fails_at_its_own_timeout(tmp_path: Path, faults: FaultServer) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        """
        flow fragile() -> int {
            step call = GET faults "/stall-body?seconds=30" { timeout 500ms }
            return call.status
        }
        flow sturdy() -> int {
            step call = GET faults "/stall-body?seconds=30" { timeout 500ms fallback {ok: false} }
            return call.status
        }
        """,
    )
    trace = tmp_path / "fragile.jsonl"
    line = assert_failed_cleanly(fragile, "call", "timeout", within=1.0, trace=trace)
    assert "no response within 0.5s" in line


# --------------------------------------------------------------------------- bodies


def test_invalid_json_is_a_decode_error(tmp_path: Path, faults: FaultServer) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        """
        flow fragile() -> json {
            step call = GET faults "/invalid-json"
            return call.body
        }
        flow sturdy() -> json {
            step call = GET faults "/invalid-json/k?times=1" {
                retry 1 when error.kind == "decode"
            }
            return call.body
        }
        """,
    )
    assert "invalid JSON" in assert_failed_cleanly(fragile, "call", "decode")


def test_html_with_200_is_a_decode_error(tmp_path: Path, faults: FaultServer) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        """
        flow fragile() -> int {
            step call = GET faults "/html" -> {id: int}
            return call.body.id
        }
        flow sturdy() -> int {
            step call = GET faults "/html" -> {id: int} { fallback {id: 0} }
            return call.body.id
        }
        """,
    )
    line = assert_failed_cleanly(fragile, "call", "decode")
    assert "expected {id: int}, found string" in line


@pytest.mark.parametrize("kind", ["string", "list", "bytes"])
def test_huge_bodies_stop_at_max_body(tmp_path: Path, faults: FaultServer, kind: str) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        f"""
        flow fragile() -> int {{
            step call = GET faults "/huge?mb=200&kind={kind}"
            return call.status
        }}
        flow sturdy() -> list[int] {{
            step small = GET faults "/huge?mb=0.5&kind={kind}" {{ max_body "1MiB" }}
            step big = GET faults "/huge?mb=200&kind={kind}" {{ fallback null }}
            return [small.status, big.attempts]
        }}
        """,
    )
    line = assert_failed_cleanly(fragile, "call", "body_limit")
    assert "larger than 10000000 bytes (max_body)" in line


def test_max_body_may_be_raised_for_a_service(tmp_path: Path, faults: FaultServer) -> None:
    path = tmp_path / "raised.flow"
    path.write_text(
        """
        service roomy env("FAULTS_URL") { max_body "25MB" }
        flow f() -> int {
            step call = GET roomy "/huge?mb=20&kind=bytes"
            return size(call.body)
        }
        """
    )
    began = time.monotonic()
    child = start_flowc(["run", "--ephemeral", str(path)], {"FAULTS_URL": faults.url})
    finished = finish(child, 30, began)
    # 20 MiB of bytes fit the body limit but not the 10 MB value cap: a decode error
    assert_failed_cleanly(finished, "call", "decode")
    assert "body larger than 10000000 bytes" in finished.stderr


def test_gzip_bombs_stop_at_max_body(tmp_path: Path, faults: FaultServer) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        """
        flow fragile() -> int {
            step call = GET faults "/gzip-bomb?mb=1024"
            return call.status
        }
        flow sturdy() -> list[int] {
            step small = GET faults "/gzip-bomb?mb=2" { max_body "3MiB" }
            step big = GET faults "/gzip-bomb?mb=1024" { on error skip }
            return [size(small.body), big.status]
        }
        """,
    )
    assert_failed_cleanly(fragile, "call", "body_limit")


def test_huge_headers_are_protocol_errors(tmp_path: Path, faults: FaultServer) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        """
        flow fragile() -> int {
            step call = GET faults "/huge-headers?count=1&size=200000"
            return call.status
        }
        flow sturdy() -> list[string] {
            step big = GET faults "/huge-headers?count=1&size=200000" { on error skip }
            step many = GET faults "/huge-headers?count=2000&size=8" { on error skip }
            step fine = GET faults "/huge-headers?count=50&size=100"
            return [big.error.message ?? "", many.error.message ?? "", fine.headers["x-filler-1"]]
        }
        """,
    )
    line = assert_failed_cleanly(fragile, "call", "protocol")
    assert "the response headers are larger than 100 KiB" in line


@pytest.mark.parametrize("digits", [400, 5000])  # (every length: tests/test_decode.py)
def test_huge_numbers_are_decode_errors_caught_like_any_other(
    tmp_path: Path, faults: FaultServer, digits: int
) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        f"""
        flow fragile() -> json {{
            step call = GET faults "/huge-number?digits={digits}"
            return call.body
        }}
        flow sturdy() -> list[string] {{
            step retried = GET faults "/huge-number/k?digits={digits}&times=1" {{
                retry 1 when error.kind == "decode"
            }}
            step skipped = GET faults "/huge-number?digits={digits}" {{ on error skip }}
            var caught = ""
            try {{
                step thrown = GET faults "/huge-number?digits={digits}"
            }} catch e {{
                caught = e.kind
            }}
            return [string(retried.attempts), skipped.error.kind ?? "", caught]
        }}
        """,
    )
    line = assert_failed_cleanly(fragile, "call", "decode")
    assert "a number out of the range of double" in line
    assert "set_int_max_str_digits" not in fragile.stderr


def test_deep_json_is_a_decode_error(tmp_path: Path, faults: FaultServer) -> None:
    fragile, _ = run_pair(
        tmp_path,
        faults,
        """
        flow fragile() -> json {
            step call = GET faults "/deep-json?depth=100000"
            return call.body
        }
        flow sturdy() -> json {
            step call = GET faults "/deep-json?depth=100000" { fallback [] }
            step shallow = GET faults "/deep-json?depth=50"
            return [call.body, shallow.status]
        }
        """,
    )
    assert "nested too deeply" in assert_failed_cleanly(fragile, "call", "decode")


# --------------------------------------------------------------------------- the API


async def test_the_api_raises_flow_errors_for_every_fault(faults: FaultServer) -> None:
    """No fault reaches an embedder as anything but a FlowError naming the step."""
    paths = [
        "/reset-before", "/reset-during", "/truncated", "/invalid-json", "/huge?mb=50",
        "/gzip-bomb?mb=200", "/huge-headers", "/huge-number?digits=5000", "/deep-json",
    ]  # fmt: skip
    program = compile_source(
        f'service faults "{faults.url}" {{ retry 0 }}\n'
        'flow f(path: string) -> int { step call = GET faults "${path}" return call.status }'
    )
    async with Engine() as engine:
        for path in paths:
            with pytest.raises(FlowError) as caught:
                await engine.run(program, "f", {"path": path})
            assert caught.value.step == "call", path
            assert caught.value.kind in ("protocol", "decode", "body_limit"), path
