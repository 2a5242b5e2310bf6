"""Generated `.flow` programs of a given size, one shape each, for ``compile.py``.

Each function takes a size ``n`` (steps, flows, branches, fields: the unit that
grows) and returns the source text of a program that checks without errors.
The shapes are the ones a compiler phase could be super-linear in: a long
chain of dependent steps (the case issue 15 measured), wide runs of
independent steps, logs among steps, many flows calling each other, deep
nesting, wide ``parallel`` blocks, long ``if`` chains, many services, huge
records and lists, and many assignments to one ``var`` (whose dependency edges
are quadratic in number by definition: each assignment waits for all before).
"""

from __future__ import annotations

from collections.abc import Callable

SERVICE = 'service api "http://127.0.0.1:9"\n\n'


def _flow(header: str, body: list[str]) -> str:
    return SERVICE + "\n".join([header, *body, "}"]) + "\n"


def chain(n: int) -> str:
    """``n`` GET steps, each reading the one before (no segment: a chain runs in order)."""
    body = ['    step s0 = GET api "/items/0" -> {next: int}']
    body += [
        f'    step s{i} = GET api "/items/${{s{i - 1}.body.next}}" -> {{next: int}}'
        for i in range(1, n)
    ]
    return _flow("flow chain() -> int {", [*body, f"    return s{n - 1}.body.next"])


def independent(n: int) -> str:
    """``n`` GET steps that read only the parameter: one segment of ``n`` nodes."""
    body = [f'    step s{i} = GET api "/items/${{id}}/{i}" -> {{n: int}}' for i in range(n)]
    total = " + ".join(f"s{i}.body.n" for i in range(min(n, 20)))
    return _flow("flow wide(id: string) -> int {", [*body, f"    return {total}"])


def chain_with_logs(n: int) -> str:
    """``n`` steps, a chain, with a ``log`` after each (every log waits for its whole run)."""
    body = []
    for i in range(n):
        path = f"/items/${{s{i - 1}.body.next}}" if i else "/items/0"
        body.append(f'    step s{i} = GET api "{path}" -> {{next: int}}')
        body.append(f'    log "step {i}: ${{s{i}.body.next}}"')
    return _flow("flow logged() -> int {", [*body, f"    return s{n - 1}.body.next"])


def mixed(n: int) -> str:
    """``n`` statements: GETs, lets reading them, updates of one ``var``, POSTs."""
    body = ["    var total = 0"]
    for i in range(n):
        kind = i % 4
        if kind == 0:
            body.append(f'    step s{i} = GET api "/items/${{id}}/{i}" -> {{n: int}}')
        elif kind == 1:
            body.append(f"    let v{i} = s{i - 1}.body.n * 2")
        elif kind == 2:
            body.append(f"    total = total + v{i - 1}")
        else:
            body.append(f'    step p{i} = POST api "/totals" {{ json {{ total: total }} }}')
    return _flow("flow mixed(id: string) -> int {", [*body, "    return total"])


def many_flows(n: int) -> str:
    """``n`` flows; flow ``i`` calls flow ``(i - 1) // 2`` (a call tree of depth log n)."""
    parts = [SERVICE]
    parts.append(
        "flow f0(x: int) -> int {\n"
        '    step s = GET api "/x/${x}" -> {n: int}\n'
        "    return s.body.n\n}\n"
    )
    for i in range(1, n):
        parts.append(
            f"flow f{i}(x: int) -> int {{\n"
            f"    step c = call f{(i - 1) // 2}(x: x + 1)\n"
            "    return c.body\n}\n"
        )
    return "".join(parts)


NESTING = 40


def deep_nesting(n: int) -> str:
    """``n // 40`` flows, each with ``if`` blocks nested 40 deep around a step."""
    parts = [SERVICE]
    for f in range(max(1, n // NESTING)):
        lines = [f"flow deep{f}(x: int) -> int {{"]
        lines += ["    " * (d + 1) + f"if x > {d} {{" for d in range(NESTING)]
        pad = "    " * (NESTING + 1)
        lines += [f'{pad}step s = GET api "/x/${{x}}" -> {{n: int}}', f'{pad}log "${{s.body.n}}"']
        lines += ["    " * (d + 1) + "}" for d in range(NESTING - 1, -1, -1)]
        parts.append("\n".join([*lines, "    return x", "}"]) + "\n")
    return "".join(parts)


def wide_parallel(n: int) -> str:
    """One ``parallel`` block of ``n`` branches."""
    body = ["    parallel {"]
    body += [f'        step s{i} = GET api "/items/{i}" -> {{n: int}}' for i in range(n)]
    return _flow("flow fan() -> int {", [*body, "    }", "    return s0.body.n"])


def if_chain(n: int) -> str:
    """``if`` / ``else if`` with ``n`` arms."""
    body = ["    var r = 0", "    if x == 0 {", "        r = 0"]
    for i in range(1, n):
        body += [f"    }} else if x == {i} {{", f"        r = {i}"]
    return _flow("flow arms(x: int) -> int {", [*body, "    }", "    return r"])


def many_services(n: int) -> str:
    """``n`` services with clauses, and a flow with one step on each."""
    parts = [
        f'service api{i} "http://127.0.0.1:9/{i}" {{ timeout 2s retry 2 backoff exponential'
        " 100ms max 1s }\n"
        for i in range(n)
    ]
    parts.append("flow all() -> int {\n")
    parts += [f'    step s{i} = GET api{i} "/x" -> {{n: int}}\n' for i in range(n)]
    parts.append("    return s0.body.n\n}\n")
    return "".join(parts)


def huge_record(n: int) -> str:
    """A record type, a record literal and a list literal of ``n`` fields/items."""
    fields = ", ".join(f"f{i}: int" for i in range(n))
    values = ", ".join(f"f{i}: {i}" for i in range(n))
    items = ", ".join(str(i) for i in range(n))
    return (
        f"{SERVICE}type Big = {{{fields}}}\n\n"
        "flow record() -> Big {\n"
        f"    let r: Big = {{{values}}}\n"
        f"    let l = [{items}]\n"
        '    step s = POST api "/big" -> Big { json r }\n'
        "    return s.body\n}\n"
    )


def var_updates(n: int) -> str:
    """``n`` assignments ``x = x + 1``: each waits for every one before (n²/2 edges)."""
    return _flow("flow count() -> int {", ["    var x = 0", *["    x = x + 1"] * n, "    return x"])


SHAPES: dict[str, Callable[[int], str]] = {
    "chain": chain,
    "independent": independent,
    "chain_with_logs": chain_with_logs,
    "mixed": mixed,
    "many_flows": many_flows,
    "deep_nesting": deep_nesting,
    "wide_parallel": wide_parallel,
    "if_chain": if_chain,
    "many_services": many_services,
    "huge_record": huge_record,
    "var_updates": var_updates,
}
