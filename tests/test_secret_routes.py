"""The checker blocks every route by which a flow could learn or show a secret.

A secret may be sent (auth, headers, a form or a body) and built into a larger
secret (concatenation, interpolation, ``bytes()``, ``base64.encode()``);
nothing else.  Each route below is a program an attacker could write to
recover a secret -- print it, launder it into a plain value, or build an
oracle (a comparison, a length, a failure, a wait or a branch that depends on
it) -- and each must be rejected with the code it gets.  Routes through the
expression language come first, then the places a value can go.

The last tests walk the standard library's registry: every overload either
declares what it does with secrets or refuses them, in the checker and at run
time alike, and the ones that accept secrets are exactly the reviewed list.
"""

from __future__ import annotations

import pytest

from flowc.common import stdlib
from flowc.common.stdlib_core import DERIVE, REJECT, Overload
from flowc.common.typerel import contains_secret
from flowc.common.types import (
    BYTES,
    ERROR,
    JSON,
    SECRET,
    SECRET_BYTES,
    STRING,
    ListT,
    MapT,
    Type,
    TypeParam,
)
from flowc.common.values import EvalError, Secret
from flowc.compiler import compile_source
from flowc.compiler.ast import NO_SPAN
from flowc.compiler.overloads import resolve

PRELUDE = """\
service api "http://127.0.0.1:9" { timeout 1s }

flow attack(known: string, c: string, i: int) {
    let t = secret("TOKEN")
"""

#: name -> (statements using the secret `t`, the code the checker gives)
ROUTES: dict[str, tuple[str, str]] = {
    # conversions of a secret are secrets, so printing them is a leak
    "string(bytes(t)) printed": ("log string(bytes(t))", "E0404"),
    "bytes(t) printed": ('log "${bytes(t)}"', "E0407"),
    "base64 of bytes(t) printed": ("log base64.encode(bytes(t))", "E0401"),
    "string(t) printed": ("log string(t)", "E0401"),
    "int(t)": ("let n = int(t)", "E0404"),
    "double(t)": ("let n = double(t)", "E0404"),
    "bool(t)": ("let b = bool(t)", "E0404"),
    "duration(t)": ("let d = duration(t)", "E0404"),
    "base64.decode(t)": ("let b = base64.decode(t)", "E0404"),
    "json_decode(t)": ("let j = json_decode(t)", "E0404"),
    # oracles: anything that computes a plain value from a secret
    "startsWith a guess": ("let hit = t.startsWith(known + c)", "E0404"),
    "endsWith a guess": ("let hit = t.endsWith(c)", "E0404"),
    "contains a guess": ("let hit = t.contains(c)", "E0404"),
    "guess contains it": ("let hit = known.contains(t)", "E0404"),
    "charAt compared": ("let hit = t.charAt(i) == c", "E0404"),
    "indexOf": ("let at = t.indexOf(c)", "E0404"),
    "size(t)": ("let n = size(t)", "E0404"),
    "t.size()": ("let n = t.size()", "E0404"),
    "equality": ("let hit = t == known", "E0404"),
    "inequality": ("let hit = known != t", "E0404"),
    "ordering": ("let hit = t < known", "E0404"),
    "in a list": ("let hit = t in [known, c]", "E0404"),
    "a list element compared": ("let hit = [t][0] == known", "E0404"),
    "matches": ("let hit = t.matches('^a')", "E0404"),
    "matches(t, re)": ("let hit = matches(t, '^a')", "E0404"),
    "substring": ("let s = t.substring(0, 1)", "E0404"),
    "split": ("let parts = split(t, ':')", "E0404"),
    "lower": ("let s = lower(t)", "E0404"),
    "replace": ("let s = replace(t, 'a', '')", "E0404"),
    "json_encode": ("let s = json_encode({k: t})", "E0404"),
    "type(t)": ("let k = type(t)", "E0404"),
    "dyn(t)": ("let j = dyn(t)", "E0404"),
    "format": ("let s = '%s'.format([t])", "E0404"),
    "join of secrets": ("let s = join([t, known], ',')", "E0404"),
    "env named by it": ("let e = env(t)", "E0404"),
    "secret named by it": ("let e = secret(t)", "E0404"),
    "macro predicate": ("let hit = [t].exists(x, x == known)", "E0404"),
    "two-variable macro": ("let hit = {a: t}.all(k, v, v.startsWith(c))", "E0404"),
    # control flow that depends on a secret
    "if on a secret": ('if t.startsWith(c) { log "yes" }', "E0404"),
    "while on a secret": ("while t != known max 3 { }", "E0404"),
    "?: on a secret": ("let x = t == known ? 1 : 2", "E0404"),
    "&& on a secret": ("let x = true && t == known", "E0404"),
    "assert on a secret": ("assert t != known", "E0404"),
    "when predicate on a secret": ("retry 1 when t == known { }", "E0404"),
    "sleep as long as a secret": ("sleep duration(t)", "E0404"),
    "sleep by size": ("sleep duration(string(size(t)) + 's')", "E0404"),
    "timeout by a secret": ("timeout duration(t) { }", "E0404"),
    "loop bound": ("for x in range(size(t)) { }", "E0404"),
    "while max": ("while true max size(t) { }", "E0404"),
    "parallel limit": ("for x in [1] parallel (size(t)) { }", "E0404"),
    # keys and indexes compare what they look up
    "map key": ("let m = {(t): 1}", "E0406"),
    "index by a secret": ("let v = {'a': 1}[t]", "E0406"),
    "header name from a secret": ('let h = {(t): "x"}', "E0406"),
    # laundering: a secret that stops being typed a secret
    "into json": ("let j: json = t", "E0405"),
    "into a string": ("let s: string = t", "E0201"),
    "record field into json": ("let r: {a: json} = {a: t}", "E0405"),
    "dropped by width subtyping": ("let r: {a: int} = {a: 1, s: t}", "E0405"),
    "mixed into a json list": ("let xs = [t, 1]", "E0405"),
    "?: with a number": ("let x = i > 0 ? t : 1", "E0405"),
    "?? with a number": ("let x = t ?? 1", "E0405"),
    "record values iterated": ("for k, v in {a: t, b: 1} { }", "E0405"),
    "values() of a record": ("let vs = values({a: t, b: 1})", "E0404"),
    "loop yields": ("let ys = for n in [1] {\n    yield t\n    yield n\n}", "E0405"),
    # where values go: logs, failures, results, URLs, records kept by the run
    "log": ("log t", "E0401"),
    "log an interpolation": ('log "token: ${t}"', "E0401"),
    "fail": ("fail t", "E0401"),
    "fail a record": ("fail {token: t}", "E0401"),
    "assert message": ('assert i > 0, "${t}"', "E0401"),
    "URL": ('step s = GET api "/users/${t}"', "E0402"),
    "full URL": ('step s = GET "http://127.0.0.1:9/" + t', "E0402"),
    "query string": ('step s = GET api "/x" { query { key: t } }', "E0402"),
    "idempotency key": ('step s = POST api "/x" { idempotency_key t }', "E0408"),
    "auth header name": ('step s = GET api "/x" { auth header t, "v" }', "E0408"),
    "fallback body": ('step s = GET api "/x" { fallback t }', "E0405"),
    "call argument as json": ("step s = call sink(value: t)", "E0405"),
}


def program(statements: str) -> str:
    body = "\n".join("    " + line if line else line for line in statements.splitlines())
    return (
        PRELUDE
        + body
        + '\n    log "${known}${c}${i}"\n}\n\nflow sink(value: json) {\n    log "${value}"\n}\n'
    )


@pytest.mark.parametrize(("statements", "code"), ROUTES.values(), ids=list(ROUTES))
def test_the_checker_blocks_every_secret_route(statements: str, code: str) -> None:
    compilation = compile_source(program(statements), "attack.flow")
    errors = [d for d in compilation.diagnostics if d.is_error]
    assert errors, "the route was not blocked"
    assert code in {d.code for d in errors}, [(d.code, d.message) for d in errors]
    assert not [d for d in errors if d.code == "E0104"], "the test program itself is wrong"


ALLOWED: dict[str, str] = {
    "headers": 'step s = GET api "/x" { headers { "Authorization": "Bearer ${t}" } }',
    "auth": 'step s = GET api "/x" { auth bearer t }',
    "auth header": 'step s = GET api "/x" { auth header "X-Key", t }',
    "basic auth": 'step s = GET api "/x" { auth basic known, t }',
    "form": 'step s = POST api "/x" { form { password: t } idempotency_key known }',
    "json body": 'step s = POST api "/x" { json { password: t, tokens: [t] } }',
    "text body": 'step s = POST api "/x" { body "k=" + t }',
    "bytes body": 'step s = POST api "/x" { body bytes(t) + b"\\n" }',
    "basic by hand": (
        'let basic = "Basic " + base64.encode(bytes(known + ":" + t))\n'
        'step s = GET api "/x" { headers { "Authorization": basic } }'
    ),
    "secret params": "step s = call keep(token: t, tokens: [t, string(t)])",
    "records of secrets": (
        'let creds = {user: known, token: t}\nstep s = POST api "/x" { json creds }'
    ),
    "lists of secrets have a size": "let n = size([t, t])\nlog n",
    "a secret's presence": (
        'let maybe: secret? = i > 0 ? t : null\nif maybe != null { log "set" }'
    ),
    "?: and ?? keep it secret": (
        'let pick = i > 0 ? t : "none" ?? t\nstep s = GET api "/x" { headers { "X": pick } }'
    ),
}


@pytest.mark.parametrize("statements", ALLOWED.values(), ids=list(ALLOWED))
def test_sending_and_building_secrets_is_allowed(statements: str) -> None:
    source = program(statements).replace(
        "flow sink(value: json)",
        'flow keep(token: secret, tokens: list[secret]) {\n    step k = GET api "/k" {'
        ' headers { "A": token, "B": tokens[0] } }\n}\n\nflow sink(value: json)',
    )
    compilation = compile_source(source, "allowed.flow")
    problems = [(d.code, d.message) for d in compilation.diagnostics if d.code != "W0102"]
    assert not problems


def test_the_secrets_example_checks_without_warnings() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "secrets.flow"
    compilation = compile_source(path.read_text(encoding="utf-8"), str(path))
    assert compilation.diagnostics == []


# --------------------------------------------------------------------------- the registry

#: Every overload that accepts secrets, and how: reviewed one by one.  A function
#: added to the library refuses secrets unless it is declared here as well.
ACCEPTING_SECRETS: dict[str, str] = {
    "add_string": "derive",
    "add_bytes": "derive",
    "string_to_string": "derive",
    "string_to_bytes": "derive",
    "bytes_to_bytes": "derive",
    "base64_encode_bytes": "derive",
    "add_list": "carry(A)",
    "conditional": "carry(A)",
    "index_list": "carry(A)",
    "index_map": "carry(B)",
    "size_list": "carry(A)",
    "size_map": "carry(A, B)",
    "list_size": "carry(A)",
    "map_size": "carry(A, B)",
    "keys_map": "carry(A, B)",
    "values_map": "carry(A, B)",
    "merge_map_map": "carry(A, B)",
    # an HMAC reveals nothing about its key (docs/language.md, Secrets)
    **{
        f"{name}_{key}_{message}": "declassify(0)"
        for name in ("hmac_sha256", "hmac_sha512")
        for key in ("string", "bytes")
        for message in ("string", "bytes")
    },
}


def all_overloads() -> list[Overload]:
    return list(stdlib.OVERLOADS_BY_ID.values())


def test_the_overloads_that_accept_secrets_are_the_reviewed_ones() -> None:
    declared = {o.id: str(o.secrets) for o in all_overloads() if o.secrets is not REJECT}
    assert declared == ACCEPTING_SECRETS


def _secret_versions(param: Type) -> list[Type]:
    """Argument types that put a secret where ``param`` is (if one fits there)."""
    if param in (STRING, JSON) or isinstance(param, TypeParam):
        return [SECRET]
    if param == BYTES:
        return [SECRET_BYTES]
    if isinstance(param, ListT):
        return [ListT(t) for t in _secret_versions(param.elem)]
    if isinstance(param, MapT):
        return [MapT(STRING, t) for t in _secret_versions(param.value)]
    return []


def _plain(param: Type) -> Type:
    return STRING if isinstance(param, TypeParam) else param


def _cases() -> list[tuple[Overload, int, list[Type]]]:
    cases = []
    for overload in all_overloads():
        if overload.dynamic_only:
            continue
        params = list(overload.params)
        for index, param in enumerate(params):
            for secret in _secret_versions(param):
                args = [_plain(p) for p in params]
                args[index] = secret
                cases.append((overload, index, args))
    return cases


CASES = _cases()


@pytest.mark.parametrize(
    ("overload", "index", "args"),
    CASES,
    ids=[f"{o.id}[{i}]" for o, i, _ in CASES],
)
def test_every_overload_obeys_its_secret_rule_in_the_checker(
    overload: Overload, index: int, args: list[Type]
) -> None:
    result, _, problem = resolve(NO_SPAN, overload.name, overload.receiver, args)
    allowed = {o.id for o in stdlib.overloads_for(overload.name, overload.receiver)} & set(
        ACCEPTING_SECRETS
    )
    if problem is not None:
        assert problem.code in ("E0404", "E0213"), problem.message
        assert result == ERROR
        if problem.code == "E0404":
            return
    if not allowed:
        assert problem is not None, f"{overload.id} took a secret at {index}"
        return
    if problem is None and overload.secrets is DERIVE:
        assert result in (SECRET, SECRET_BYTES), (overload.id, result)
    elif problem is None:
        assert (
            contains_secret(result)
            or result in (STRING, JSON)
            or not contains_secret(overload.result)
        ), (overload.id, result)


def _value_for(param: Type) -> object:
    if param == BYTES:
        return Secret(b"hunter2")
    return Secret("hunter2")


@pytest.mark.parametrize(
    ("overload", "index", "args"),
    [(o, i, a) for o, i, a in CASES if a[i] in (SECRET, SECRET_BYTES)],
    ids=[f"{o.id}[{i}]" for o, i, a in CASES if a[i] in (SECRET, SECRET_BYTES)],
)
def test_every_overload_obeys_its_secret_rule_at_run_time(
    overload: Overload, index: int, args: list[Type]
) -> None:
    """The same rule when the checker cannot see the secret (a `json` value)."""
    values: list[object] = [_sample(p) for p in overload.params]
    values[index] = _value_for(overload.params[index])
    try:
        result = stdlib.call_dynamic(overload.name, overload.receiver, values)
    except EvalError as error:
        assert "hunter2" not in error.message
        if (
            overload.secrets is DERIVE
            and stdlib.resolve_dynamic(
                overload.name, overload.receiver, [_reveal(v) for v in values]
            )
            is overload
        ):
            pytest.fail(f"{overload.id} refused a secret it derives from: {error}")
        return
    if overload.secrets is DERIVE:
        assert isinstance(result, Secret)
        return
    if overload.secrets.kind == "declassify":
        # The one plain result computed from a secret: only at a declared position.
        assert index in overload.secrets.positions, overload.id
        assert type(result) is bytes, overload.id
        return
    # Only a type parameter the overload carries takes a secret as it is; what
    # comes out is that secret, moved, never something computed from it.
    param = overload.params[index]
    assert isinstance(param, TypeParam) and param.name in overload.secrets.carries, overload.id
    moved = any(result is value for value in values)
    assert moved or not isinstance(result, str | bytes | int | float | bool), overload.id


def _reveal(value: object) -> object:
    return value.reveal() if isinstance(value, Secret) else value


def _sample(param: Type) -> object:
    """A plain value of a parameter type, for the arguments beside the secret."""
    from flowc.common.types import BOOL, DURATION, FLOAT, INT, TIMESTAMP, UINT
    from flowc.common.values import Duration, Timestamp, UInt

    samples: dict[Type, object] = {
        STRING: "x",
        BYTES: b"x",
        INT: 1,
        UINT: UInt(1),
        FLOAT: 1.0,
        BOOL: True,
        DURATION: Duration(1),
        TIMESTAMP: Timestamp(0),
    }
    if param in samples:
        return samples[param]
    if isinstance(param, ListT):
        return ["x"]
    if isinstance(param, MapT):
        return {"x": "x"}
    return "x"
