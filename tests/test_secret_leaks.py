"""No byte sequence of a secret leaves a run: the runtime's routes (the checker's are in
`tests/checker/secrets.flow` and the golden files).

A secret token (with characters that JSON escaping and URL encoding change) is sent to
the fault server's `/echo` route, which quotes it back in error bodies and a header,
transformed as careless servers do: plain, lower- and upper-cased, its first 14
characters, JSON-escaped, URL-encoded, base64-encoded.  The flows then push that text
down every route out of the process: error messages (stderr), `catch` records returned
as the result (stdout), `log` lines of caught errors, retries, `fail` and `assert`
messages, a 200 body and a header echoing the token, a protocol error quoting it,
transport errors, the trace file, the run store (the SQLite file's bytes, journal and run
record) and what `flowc runs show` prints; and, in-process, the `FlowError`s and events
an embedder receives.

`leaks(text)` looks, case-insensitively, for every 8-character window of the token, of
its JSON and URL encodings and of its base64 at the three byte alignments; each test
first checks that the server really received the token and echoed it (so that a
silent route cannot make the test pass) and that the mask `***` stands where it was.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import textwrap
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from flowc.api import compile_source
from flowc.common.errors import FlowError
from flowc.runtime.engine import Engine
from flowc.runtime.hooks import Event
from flowc.runtime.store.sqlite import SQLiteStore
from flowc.runtime.trace import event_record
from tests.cli_process import Finished, run_flowc
from tests.fault_server import ECHOES, FaultServer, echo
from tests.runtime_helpers import closed_port

TOKEN = 'S3cr3tT0k3n/+"q"=9f8e7d6c5b4a'
"""The secret: `/`, `+`, `=`, `"` change under URL encoding, `"` under JSON escaping."""
PASSWORD = "hunter2-pa55"


def needles(secret: str) -> set[str]:
    """Every lower-cased 8-character window of the secret and of its encodings."""
    raw = secret.encode()
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
    }
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw).decode()
        core = encoded[4 if offset else 0 : (offset + len(raw)) // 3 * 4]
        forms |= {core, core.replace("+", "-").replace("/", "_")}
    return {form[i : i + 8].lower() for form in forms for i in range(len(form) - 7)}


SENT = [f"Bearer {TOKEN}", TOKEN, "Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode()]
"""What the flows send: `auth bearer`, `auth header` and `auth basic` header values."""
NEEDLES = set().union(*map(needles, [*SENT, PASSWORD]))


def leaks(text: str | bytes) -> list[str]:
    """The windows of a secret found in `text` (bytes are read as Latin-1: every byte)."""
    haystack = (text.decode("latin-1") if isinstance(text, bytes) else text).lower()
    return sorted(needle for needle in NEEDLES if needle in haystack)


def test_the_needles_find_every_transformed_echo() -> None:
    """The search itself: each echo of the fault server holds windows of the token."""
    for kind in ECHOES:
        assert leaks(echo(f"Bearer {TOKEN}", kind)), kind
    assert leaks(base64.b64encode(f"user:{PASSWORD}".encode()).decode())
    assert leaks('...0k3n/+"q' + "...")  # an 8-character fragment
    assert leaks("Bearer S3cr3tT...")  # 14 characters of the header value
    assert not leaks("id=S3cr3tT...")  # 7 characters of the token alone: below the bar


def store_bytes(directory: Path) -> bytes:
    """Every byte of the SQLite store files (the database, its journal and WAL)."""
    return b"".join(path.read_bytes() for path in sorted(directory.glob("runs.db*")))


SERVICES = """
service echoing env("FAULTS_URL") { auth bearer secret("LEAK_TOKEN") retry 0 }
service keyed env("FAULTS_URL") { auth header "X-Api-Key", secret("LEAK_TOKEN") retry 0 }
service basic env("FAULTS_URL") { auth basic "user", secret("LEAK_PASSWORD") retry 0 }
"""

FLOWS = """
flow caught() -> list[json] {
    var messages: list[json] = []
    for kind in ["plain", "lower", "upper", "prefix", "json", "url", "base64", "all"] {
        step bearer = GET echoing "/echo?as=${kind}" { on error skip }
        step keyed_echo = GET keyed "/echo?as=${kind}" { on error skip }
        step basic_echo = GET basic "/echo?as=${kind}" { on error skip }
        try {
            step thrown = GET echoing "/echo?as=${kind}&status=500"
        } catch e {
            log "caught: ${e.message}"
            messages = messages + [e]
        }
        messages = messages + [bearer.error, keyed_echo.error, basic_echo.error]
    }
    return messages
}

flow echoed_ok() -> json {
    step ok = GET echoing "/echo?as=all&status=200"
    log "body: ${ok.body}; header: ${ok.headers['x-echo']}"
    return {body: ok.body, header: ok.headers["x-echo"]}
}

flow retried() -> int {
    step again = GET echoing "/echo?as=json&status=503" { retry 2 backoff fixed 10ms }
    return again.status
}

flow failed() -> int {
    step fetch = GET echoing "/echo?as=all&status=200"
    fail "the server said: ${fetch.body}"
}

flow asserted() -> int {
    step fetch = GET keyed "/echo?as=lower&status=200"
    assert fetch.status == 500, "got ${fetch.body}"
    return 0
}

flow garbage() -> int {
    step broken = GET echoing "/echo-garbage"
    return broken.status
}

flow compensated() -> int {
    step made = GET echoing "/echo?as=url&status=200" {
        compensate {
            step undo = GET echoing "/echo?as=json&status=500"
        }
    }
    fail "after ${made.status}"
}

flow from_input(token: secret) -> int {
    step sent = GET "${env('FAULTS_URL')}/echo?as=upper&header=x-token" {
        headers { "X-Token": token }
    }
    return sent.status
}
"""


@pytest.fixture
def leak_file(tmp_path: Path) -> Path:
    path = tmp_path / "leaks.flow"
    path.write_text(textwrap.dedent(SERVICES + FLOWS))
    return path


def run_leaking(
    tmp_path: Path, faults: FaultServer, path: Path, flow: str, *extra: str
) -> tuple[Finished, str]:
    """`flowc run` of one flow with the secrets in its environment, a trace and a store."""
    trace = tmp_path / f"{flow}.jsonl"
    finished = run_flowc(
        [
            *("run", str(path), "--flow", flow, "--trace", str(trace)),
            *("--store", f"sqlite:///{tmp_path}/runs.db", *extra),
        ],
        {"FAULTS_URL": faults.url, "LEAK_TOKEN": TOKEN, "LEAK_PASSWORD": PASSWORD},
    )
    assert not finished.killed
    assert "Traceback" not in finished.stderr and "internal error" not in finished.stderr
    return finished, trace.read_text()


def assert_no_leak(finished: Finished, trace: str, tmp_path: Path) -> None:
    assert leaks(finished.stdout) == []
    assert leaks(finished.stderr) == []
    assert leaks(trace) == []
    assert leaks(store_bytes(tmp_path)) == []


@pytest.mark.parametrize(
    ("flow", "code", "masked"),
    [
        ("caught", 0, True),
        ("echoed_ok", 0, True),
        ("retried", 1, True),
        ("failed", 1, True),
        ("asserted", 1, True),
        ("garbage", 1, False),  # a protocol error's details are never quoted at all
        ("compensated", 1, True),
    ],
)
def test_no_route_leaks_the_secret(
    tmp_path: Path, faults: FaultServer, leak_file: Path, flow: str, code: int, masked: bool
) -> None:
    finished, trace = run_leaking(tmp_path, faults, leak_file, flow)
    assert finished.code == code, finished.stderr
    assert faults.received, "the secret was never sent"
    assert all(TOKEN in value or value.startswith("Basic ") for value in faults.received)
    assert_no_leak(finished, trace, tmp_path)
    if masked:  # the echo was there, and was masked, not silently dropped
        assert "***" in finished.stdout + finished.stderr + trace


def test_caught_errors_keep_their_shape_with_the_secret_masked(
    tmp_path: Path, faults: FaultServer, leak_file: Path
) -> None:
    finished, _ = run_leaking(tmp_path, faults, leak_file, "caught")
    records = json.loads(finished.stdout)
    assert len(records) == 8 * 4
    assert {record["kind"] for record in records} == {"status"}
    prefix = next(r["message"] for r in records if r["status"] == 500 and "prefix" in r["message"])
    assert prefix == "HTTP 500 Internal Server Error: prefix: ***..."  # the 14-character cut
    logs = [line for line in finished.stderr.splitlines() if "caught: " in line]
    assert len(logs) == 8  # the echo of every form but `all` (several lines: not quoted) masked
    assert sum("***" in line for line in logs) == 7


def test_the_store_keeps_no_echoed_value_and_runs_show_prints_none(
    tmp_path: Path, faults: FaultServer, leak_file: Path
) -> None:
    finished, _ = run_leaking(tmp_path, faults, leak_file, "echoed_ok")
    assert finished.code == 0
    assert json.loads(finished.stdout)["header"] == "***"
    run_id = finished.stderr.split("flowc: run ", 1)[1].split()[0]
    with sqlite3.connect(tmp_path / "runs.db") as database:
        dumped = "\n".join(database.iterdump())
    assert run_id in dumped and leaks(dumped) == []
    shown = run_flowc(["runs", "show", run_id, "--store", f"sqlite:///{tmp_path}/runs.db"])
    assert shown.code == 0, shown.stderr
    assert leaks(shown.stdout + shown.stderr) == []
    store = f"sqlite:///{tmp_path}/runs.db"
    again = run_flowc(
        ["run", str(leak_file), "--flow", "echoed_ok", "--run-id", run_id, "--store", store],
        {"FAULTS_URL": faults.url, "LEAK_TOKEN": TOKEN, "LEAK_PASSWORD": PASSWORD},
    )
    assert again.code == 0 and leaks(again.stdout + again.stderr) == []


def test_secret_inputs_are_redacted_too(
    tmp_path: Path, faults: FaultServer, leak_file: Path
) -> None:
    finished, trace = run_leaking(tmp_path, faults, leak_file, "from_input", "-i", f"token={TOKEN}")
    assert finished.code == 1, finished.stderr
    assert faults.received == [TOKEN]
    assert_no_leak(finished, trace, tmp_path)
    assert "***" in finished.stderr


def test_transport_errors_never_quote_the_secret(tmp_path: Path, faults: FaultServer) -> None:
    path = tmp_path / "transport.flow"
    path.write_text(
        textwrap.dedent(
            f"""
            service dead "http://127.0.0.1:{closed_port()}" {{ auth bearer secret("LEAK_TOKEN") }}
            service live env("FAULTS_URL") {{ }}
            flow unreachable() -> int {{
                step call = GET dead "/x"
                return call.status
            }}
            flow malformed() -> int {{
                step call = GET live "/ok" {{
                    headers {{ "X-Bad": "${{secret('LEAK_TOKEN')}}\\n" }}
                }}
                return call.status
            }}
            """
        )
    )
    for flow, kind in [("unreachable", "connect"), ("malformed", "invalid_request")]:
        finished = run_flowc(
            ["run", "--ephemeral", str(path), "--flow", flow, "--trace", str(tmp_path / "t")],
            {"LEAK_TOKEN": TOKEN, "FAULTS_URL": faults.url},
        )
        assert finished.code == 1, finished.stderr
        assert f"{kind}: " in finished.stderr
        assert leaks(finished.stderr + finished.stdout + (tmp_path / "t").read_text()) == []


# --------------------------------------------------------------------------- in-process


async def test_embedders_receive_no_secret_in_errors_or_events(
    faults: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAULTS_URL", faults.url)
    monkeypatch.setenv("LEAK_TOKEN", TOKEN)
    monkeypatch.setenv("LEAK_PASSWORD", PASSWORD)
    program = compile_source(textwrap.dedent(SERVICES + FLOWS))
    events: list[Event] = []
    logged: list[str] = []
    async with Engine(hooks=[events.append]) as engine:
        caught = await engine.run(
            program, "caught", log=lambda flow, text, span: logged.append(text)
        )
        failures: list[FlowError] = []
        for flow in ("retried", "failed", "asserted", "garbage", "compensated"):
            with pytest.raises(FlowError) as raised:
                await engine.run(program, flow)
            failures.append(raised.value)
    assert len(faults.received) >= 8 * 4
    texts: list[Any] = [caught, logged]
    texts += [[str(f), f.message, f.describe(), f.record(), f.value] for f in failures]
    texts += [event_record(event) for event in events]
    assert leaks(json.dumps(texts, default=str)) == []
    assert any("***" in failure.message for failure in failures)


async def test_a_durable_run_store_holds_no_secret(
    faults: FaultServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAULTS_URL", faults.url)
    monkeypatch.setenv("LEAK_TOKEN", TOKEN)
    monkeypatch.setenv("LEAK_PASSWORD", PASSWORD)
    program = compile_source(textwrap.dedent(SERVICES + FLOWS))
    store = SQLiteStore(str(tmp_path / "runs.db"))
    async with Engine(store=store) as engine:
        result = await engine.run(program, "echoed_ok", log=lambda flow, text, span: None)
        with pytest.raises(FlowError):
            await engine.run(program, "failed", log=lambda flow, text, span: None)
    assert TOKEN in result["header"]  # what an embedder gets back is its own data
    store.close()
    assert faults.received and leaks(store_bytes(tmp_path)) == []
