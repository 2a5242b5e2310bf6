"""``call: http`` of a Serverless Workflow run, sent by flowc's own HTTP invoker.

The task's ``with`` is evaluated first (``${...}`` strings anywhere in it); the
endpoint is a URI template whose ``{name}`` parts are taken from the task's input
(the specification's "simple interpolation, only possible with top level
variables"), percent-encoded.  ``authentication`` may be ``basic`` or ``bearer``,
inline or by ``use`` from ``use.authentications``; the credential is taught to the
run's ``Redactor`` before the request leaves.  The request goes through
``HttpInvoker`` (the same pool, ``--resolve`` host map, limits and TLS settings as a
`.flow` step).

``output`` chooses the task's raw output: ``content`` (the default: the body,
decoded as JSON when its media type says so), ``response`` (``request``,
``statusCode``, ``headers``, ``content``) or ``raw`` (the body in base64).  A status
of 400 or more faults with the ``communication`` error type and that status,
unless ``redirect``/the status is in the 2xx (and 3xx with ``redirect: true``) range.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from typing import Any, Final

from flowc.runtime.http import HttpInvoker, HttpRequest, HttpResponse, TransportError
from flowc.runtime.redaction import Redactor
from flowc.runtime.serverless_values import Fault, fault

_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def expand_uri(template: str, data: Any) -> str:
    """``https://x/pet/{petId}`` with ``{petId}`` taken from ``data`` (top-level keys)."""

    def value(match: re.Match[str]) -> str:
        found = data.get(match.group(1)) if isinstance(data, dict) else None
        if found is None:
            return match.group(0) if not isinstance(data, dict) else ""
        text = found if isinstance(found, str) else json.dumps(found)
        return urllib.parse.quote(text, safe="")

    return _PLACEHOLDER.sub(value, template)


def endpoint_uri(endpoint: Any) -> tuple[str, Any]:
    """The URI template of an endpoint and its authentication, if any."""
    if isinstance(endpoint, str):
        return endpoint, None
    if isinstance(endpoint, dict):
        return str(endpoint.get("uri", "")), endpoint.get("authentication")
    return "", None


def authorization(policy: Any, use: dict[str, Any], redactor: Redactor, where: str) -> str | None:
    """The ``Authorization`` header value of an authentication policy."""
    if not isinstance(policy, dict):
        return None
    if "use" in policy:
        named = use.get("authentications", {}).get(policy["use"])
        return authorization(named, use, redactor, where)
    if "basic" in policy:
        basic = policy["basic"] or {}
        pair = f"{basic.get('username', '')}:{basic.get('password', '')}"
        token = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        redactor.add(str(basic.get("password", "")))
        redactor.add(token)
        return f"Basic {token}"
    if "bearer" in policy:
        token = str((policy["bearer"] or {}).get("token", ""))
        redactor.add(token)
        return f"Bearer {token}"
    raise fault("configuration", 400, "Unsupported Authentication", where)


async def call_http(
    http: HttpInvoker,
    arguments: dict[str, Any],
    data: Any,
    use: dict[str, Any],
    redactor: Redactor,
    where: str,
) -> Any:
    """Send the request of an evaluated ``with`` and give the task's raw output."""
    template, policy = endpoint_uri(arguments.get("endpoint"))
    url = expand_uri(template, data)
    method = str(arguments.get("method", "get")).upper()
    headers = [(str(k), str(v)) for k, v in (arguments.get("headers") or {}).items()]
    auth = authorization(policy, use, redactor, where)
    if auth is not None:
        headers.append(("Authorization", auth))
    query = tuple((str(k), str(v)) for k, v in (arguments.get("query") or {}).items())
    content = None
    if "body" in arguments and arguments["body"] is not None:
        body = arguments["body"]
        if isinstance(body, str):
            content = body.encode("utf-8")
        else:
            content = json.dumps(body).encode("utf-8")
            if not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("Content-Type", "application/json"))
    request = HttpRequest(method, url, tuple(headers), query, content)
    try:
        response = await http.send(request)
    except TransportError as error:
        detail = redactor.redact(str(error))
        raise fault("communication", 503, "Communication Error", where, detail) from None
    redirect = bool(arguments.get("redirect", False))
    if response.status >= 400 or (300 <= response.status < 400 and not redirect):
        raise _status_fault(response, redactor, where)
    return _output(str(arguments.get("output", "content")), method, url, headers, response)


def _status_fault(response: HttpResponse, redactor: Redactor, where: str) -> Fault:
    detail = redactor.redact(response.body[:200].decode("utf-8", "replace"))
    return fault("communication", response.status, "Communication Error", where, detail or None)


def _content(response: HttpResponse) -> Any:
    media = (response.header("content-type") or "").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.loads(response.body)
        except ValueError:
            pass
    return response.body.decode("utf-8", "replace")


def _output(
    kind: str, method: str, url: str, headers: list[tuple[str, str]], response: HttpResponse
) -> Any:
    if kind == "raw":
        return base64.b64encode(response.body).decode("ascii")
    if kind != "response":
        return _content(response)
    shown = {k: ("***" if k.lower() == "authorization" else v) for k, v in headers}
    return {
        "request": {"method": method, "uri": url, "headers": shown},
        "statusCode": response.status,
        "headers": dict(response.headers),
        "content": _content(response),
    }
