"""Building a step's HTTP request from its clauses and its service's.

``build_request`` evaluates, once per step execution, everything a request
needs: the service's base URL joined with the step's path (or the step's full
URL), service headers overlaid by step headers (a null value removes one),
authentication, the ``Idempotency-Key``, the query string (lists repeat a
key, null leaves it out), a body encoded by kind (``json``, ``form`` or raw
``body``) and the most bytes the response body may have (``max_body``: an int
of bytes or a size such as ``"50MB"``; ``bodies.DEFAULT_MAX_BODY`` without
one).  Secrets are revealed here and only here, on their way into the
request; each revealed secret is taught to the run's ``Redactor``
(``redaction.py``), and so is the whole value of the authentication header,
so that whatever echoes it, transformed or cut, can be redacted.

Unsafe steps (``POST``, ``PUT``, ``PATCH``, ``DELETE``) without an
``idempotency_key`` clause get a default key derived from the run id and the
step key, the same in every attempt and every resume of the run, so a server
that honours ``Idempotency-Key`` drops the duplicates a crash can cause;
``idempotency_key null`` sends none.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from flowc.common import errors
from flowc.common.values import SIZE_SYNTAX, EvalError, Secret, parse_byte_size, to_text
from flowc.compiler import ir

if TYPE_CHECKING:
    from flowc.runtime.http import HttpRequest
    from flowc.runtime.stepexec import StepExecution

UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def build_request(step: StepExecution) -> HttpRequest:
    from flowc.runtime.http import HttpRequest

    try:
        url = _url(step)
        headers = request_headers(step)
        params = _query(step)
        content = _content(step, headers)
        max_body = _max_body(step)
    except EvalError as error:
        raise step.fail(errors.EVAL, str(error)) from None
    return HttpRequest(
        step.node.method, url, tuple(headers.values()), params, content, max_body=max_body
    )


def _max_body(step: StepExecution) -> int:
    """The ``max_body`` clause (the step's, else its service's) in bytes, or the default."""
    from flowc.runtime.bodies import DEFAULT_MAX_BODY

    setting = step.setting("max_body")
    if setting is None:
        return DEFAULT_MAX_BODY
    value = step.invocation.evaluate(*setting)
    if type(value) is int and value > 0:
        return value
    if isinstance(value, str):
        return parse_byte_size(value)
    raise EvalError("invalid argument", f"`max_body` must be {SIZE_SYNTAX}, found {to_text(value)}")


def _url(step: StepExecution) -> str:
    target = step.evaluate(step.node.target) if step.node.target is not None else ""
    text = target.reveal() if hasattr(target, "reveal") else str(target)
    if step.service is None:
        if not text.startswith(("http://", "https://")):
            raise step.fail(
                errors.INVALID_REQUEST,
                f"the URL must start with http:// or https://, found {text!r}",
            )
        return text
    base = step.service.base_url()
    if not text:
        return base
    return base.rstrip("/") + ("" if text.startswith(("/", "?")) else "/") + text


def request_headers(step: StepExecution) -> dict[str, tuple[str, str]]:
    """The headers of the step's request by lower-cased name: the service's overlaid
    by the step's, authentication and the ``Idempotency-Key`` (a gRPC step sends
    them as metadata)."""
    from flowc.runtime.decode import text_of

    merged: dict[str, tuple[str, str]] = {}
    for name, value in _layered(step, "headers"):
        if value is None:  # a null header is left out (and removes a service default)
            merged.pop(name.lower(), None)
            continue
        merged[name.lower()] = (name, text_of(value))
        _note_secrets(step, value)
    auth = step.setting("auth")
    if auth is not None and auth[0][0] not in ir.SIGNING_SCHEMES:  # those: per attempt
        name, value = _auth_header(auth[0], step, auth[1])
        merged[name.lower()] = (name, value)
        step.invocation.run.redactor.add(value)  # credentials, even when written as plain text
    key = idempotency_key(step)
    if key is not None:
        merged["idempotency-key"] = ("Idempotency-Key", key)
    return merged


def idempotency_key(step: StepExecution) -> str | None:
    """The step's ``Idempotency-Key``: its clause's value, else a default for unsafe steps."""
    from flowc.runtime.decode import text_of

    node = step.node
    if node.idempotency_key is not None:
        value = step.evaluate(node.idempotency_key)
        return None if value is None else text_of(value)
    if node.method in UNSAFE_METHODS:
        return f"{step.invocation.run.run_id}/{step.key}"
    return None


def _auth_header(
    auth: tuple[str, tuple[ir.Expr, ...]], step: StepExecution, frame: list[Any]
) -> tuple[str, str]:
    from flowc.runtime.decode import text_of

    scheme, exprs = auth
    evaluated = [step.invocation.evaluate(e, frame) for e in exprs]
    for value in evaluated[1:] if scheme == "header" else evaluated:
        _note_secrets(step, value)
    values = [text_of(value) for value in evaluated]
    if scheme == "bearer":
        return "Authorization", f"Bearer {values[0]}"
    if scheme == "basic":
        token = base64.b64encode(f"{values[0]}:{values[1]}".encode()).decode("ascii")
        return "Authorization", f"Basic {token}"
    return values[0], values[1]


def _query(step: StepExecution) -> tuple[tuple[str, str], ...]:
    from flowc.runtime.decode import text_of

    pairs: list[tuple[str, str]] = []
    for name, value in _layered(step, "query"):
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        pairs += [(name, text_of(item)) for item in items]
    return tuple(pairs)


def _layered(step: StepExecution, clause: str) -> Iterator[tuple[str, Any]]:
    """The entries of a map clause (``headers``, ``query``): the service's first,
    then the step's own, which therefore win where the caller merges by name."""
    service = step.service
    if service is not None and getattr(service.ir, clause) is not None:
        yield from _pairs(
            step.invocation.evaluate(getattr(service.ir, clause), service.new_frame())
        )
    own = getattr(step.node, clause)
    if own is not None:
        yield from _pairs(step.evaluate(own))


def _content(step: StepExecution, headers: dict[str, tuple[str, str]]) -> bytes | None:
    from flowc.runtime.decode import form_encode, to_request_json

    node = step.node
    if node.body is None:
        return None
    value = step.evaluate(node.body)
    _note_secrets(step, value)
    if node.body_kind == "json":
        headers.setdefault("content-type", ("Content-Type", "application/json"))
        return to_request_json(value)
    if node.body_kind == "form":
        headers.setdefault("content-type", ("Content-Type", "application/x-www-form-urlencoded"))
        return form_encode(value)
    if isinstance(value, Secret):  # revealed here, on its way into the request
        value = value.reveal()
    if isinstance(value, bytes):
        headers.setdefault("content-type", ("Content-Type", "application/octet-stream"))
        return value
    text = value if isinstance(value, str) else str(value)
    headers.setdefault("content-type", ("Content-Type", "text/plain; charset=utf-8"))
    return text.encode("utf-8")


def _pairs(value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        raise EvalError("type", f"expected a map, found {to_text(value)}")
    from flowc.common.values import user_key

    return [(str(user_key(k)), v) for k, v in value.items()]


def _note_secrets(step: StepExecution, value: Any) -> None:
    """Teach the run's redactor the text of every secret in ``value``."""
    step.invocation.run.redactor.note(value)
