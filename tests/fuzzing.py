"""Inputs for fuzzing the front end: generated programs and mutated ones.

Random text mostly dies in the lexer, so this module makes inputs that get
further.  ``ProgramGenerator`` writes whole programs from the grammar with
their names in scope — types, constants, services and flows that exist,
locals declared before use, sub-flow calls (recursive ones too), every kind
of statement and clause, library calls, secrets in odd places, and edge-case
literals (huge numbers, empty strings, long durations) — so most of them
parse and many check, and the checker and the lowering see real work.
``Mutator`` takes a corpus (the examples, the checker's expectation files,
generated programs) and damages it token by token: deletions, duplications,
swaps, identifiers replaced by others of the same file, vocabulary
inserted (keywords, operators, brackets, literals), fragments of generated
code inserted, and lines spliced from another file.

Both are driven by a ``random.Random``, so an input is reproducible from its
seed; ``tests/test_robustness.py`` draws seeds with hypothesis for a bounded
run in CI, and ``bench/fuzz.py`` runs the same generators for as long as
asked.  ``compile_everything`` is the oracle of both: the whole pipeline
(parse, resolve, check, budget; lowering when there are no errors) must
return diagnostics and never raise.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from flowc.compiler import Compilation, compile_source

ROOT: Final = Path(__file__).resolve().parent.parent
EXAMPLES: Final = ROOT / "examples"


def corpus() -> list[str]:
    """The examples (library files included) and the checker's expectation files."""
    paths = [
        *sorted(EXAMPLES.glob("*.flow")),
        *sorted((EXAMPLES / "lib").glob("*.flow")),
        *sorted((ROOT / "tests" / "checker").glob("*.flow")),
    ]
    return [p.read_text(encoding="utf-8") for p in paths]


def compile_everything(text: str) -> Compilation:
    """Parse, check and (when clean) lower ``text``; whatever it raises is a bug.

    The file is named as if it sat in ``examples/`` so that mutated imports of
    ``lib/...`` still resolve."""
    compilation = compile_source(text, str(EXAMPLES / "fuzz.flow"))
    for diagnostic in compilation.diagnostics:
        assert diagnostic.code[0] in "EW" and diagnostic.span.line >= 0, diagnostic
    if compilation.ok:
        from flowc.compiler.lowering import lower_program

        assert compilation.result is not None
        lower_program(compilation.result)
    return compilation


# --------------------------------------------------------------------------- generation


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PRIMITIVE_TYPES: Final = _words(
    "int uint float bool string bytes duration timestamp json secret dyn"
)
EDGE_INTS: Final = (
    *_words("0 1 -1 3 1_000 0x7f 9223372036854775807 -9223372036854775808 2u 0u"),
    "9223372036854775808",
    "9" * 60,
)
EDGE_FLOATS: Final = _words("0.5 1e999 1e-3 .5 3.14")
EDGE_DURATIONS: Final = _words("0s 1ms 250ms 2s 1m30s 1h 2562047h 1.5s")
EDGE_STRINGS: Final = (
    *_words(r'''"" "x" 'y' r"\d+" "a\nb" "\u00e9" b"\x00\xff"'''),
    '"""multi\nline"""',
)
BINARY: Final = _words("+ - * / % == != < <= > >= && || ?? in")
#: Library calls, ``{}`` standing for generated arguments.
CALLS: Final = _words("""
    size({}) int({}) uint({}) double({}) string({}) bytes({}) bool({}) type({}) dyn({})
    duration({}) timestamp({}) json_encode({}) json_decode({}) lower({}) upper({}) trim({})
    keys({}) values({}) range({}) sum({}) base64.encode({}) base64.decode({}) math.abs({})
    math.greatest({},{}) math.least({}) {}.startsWith({}) {}.contains({}) {}.matches({})
    {}.size() {}.charAt({}) {}.indexOf({}) {}.split({}) {}.substring({},{}) {}.join({})
    {}.format({}) split({},{}) join({},{}) replace({},{},{}) has({}.a) {}.map(x,{})
    {}.filter(x,{}) {}.all(x,{}) {}.exists(x,{}) {}.exists_one(x,{}) cel.bind(y,{},{})
    env("HOME") env("FLOWC_NOPE",{}) secret("TOKEN") now() uuid() {}.getFullYear()
    {}.getHours()
    """)
METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class ProgramGenerator:
    """Writes random, mostly well-scoped programs; see the module docstring."""

    def __init__(self, rng: random.Random, depth: int = 3) -> None:
        self.rng = rng
        self.depth = depth
        self.types: list[str] = []
        self.consts: list[str] = []
        self.services: list[str] = []
        self.flows: list[str] = []

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options: Sequence[str]) -> str:
        return self.rng.choice(options)

    def program(self) -> str:
        rng = self.rng
        self.types = [f"T{i}" for i in range(rng.randint(0, 2))]
        self.consts = [f"C{i}" for i in range(rng.randint(0, 2))]
        self.services = [f"s{i}" for i in range(rng.randint(0, 2))]
        self.flows = [f"f{i}" for i in range(rng.randint(1, 4))]
        parts = [f"type {name} = {self.type_expr(2)}" for name in self.types]
        parts += [f"const {name} = {self.expr([], 1)}" for name in self.consts]
        parts += [self.service(name) for name in self.services]
        parts += [self.flow(name) for name in self.flows]
        rng.shuffle(parts)
        return "\n\n".join(parts) + "\n"

    # ------------------------------------------------------------------- types

    def type_expr(self, depth: int) -> str:
        choice = self.rng.random()
        if depth <= 0 or choice < 0.45:
            return self.pick([*PRIMITIVE_TYPES, *self.types] if self.types else PRIMITIVE_TYPES)
        if choice < 0.6:
            return f"list[{self.type_expr(depth - 1)}]"
        if choice < 0.7:
            return f"map[string, {self.type_expr(depth - 1)}]"
        if choice < 0.85:
            fields = [
                f"{n}{'?' if self.chance(0.3) else ''}: {self.type_expr(depth - 1)}"
                for n in self.rng.sample(["a", "b", "id", "name", "token"], self.rng.randint(0, 3))
            ]
            return "{" + ", ".join(fields) + "}"
        inner = self.type_expr(depth - 1)
        return inner if inner.endswith("?") else inner + "?"

    # ------------------------------------------------------------------- expressions

    def literal(self) -> str:
        pools = (EDGE_INTS, EDGE_FLOATS, EDGE_DURATIONS, EDGE_STRINGS, ("true", "false", "null"))
        return self.pick(self.rng.choice(pools))

    def expr(self, scope: list[str], depth: int) -> str:
        rng = self.rng
        choice = rng.random()
        names = scope + self.consts
        if depth <= 0 or choice < 0.25:
            if names and rng.random() < 0.6:
                return self.pick(names)
            return self.literal()
        if choice < 0.45:
            left, right = self.expr(scope, depth - 1), self.expr(scope, depth - 1)
            return f"{left} {self.pick(BINARY)} {right}"
        if choice < 0.65:
            template = self.pick(CALLS)
            args = [self.expr(scope, depth - 1) for _ in range(template.count("{}"))]
            return template.format(*args)
        if choice < 0.72:
            return f"{self.pick(['!', '-'])}{self.expr(scope, depth - 1)}"
        if choice < 0.78:
            c, a, b = (self.expr(scope, depth - 1) for _ in range(3))
            return f"({c}) ? ({a}) : ({b})"
        if choice < 0.84:
            return (
                "[" + ", ".join(self.expr(scope, depth - 1) for _ in range(rng.randint(0, 3))) + "]"
            )
        if choice < 0.9:
            keys = rng.sample(["a", "b", "token", "id"], rng.randint(0, 3))
            return "{" + ", ".join(f"{k}: {self.expr(scope, depth - 1)}" for k in keys) + "}"
        if choice < 0.95:
            field = self.pick(["body", "status", "ok", "a", "headers", "error", "id", "kind"])
            return f"{self.expr(scope, depth - 1)}.{field}"
        if choice < 0.98:
            return f'"x${{{self.embedded(scope, depth - 1)}}}y"'
        return f"({self.expr(scope, depth - 1)})[{self.expr(scope, depth - 1)}]"

    def embedded(self, scope: list[str], depth: int) -> str:
        """An expression for inside ``${...}`` of a double-quoted string."""
        text = self.expr(scope, depth).replace('"', "'").replace("\n", " ")
        return text if "${" not in text else "1"  # no string is left inside two templates

    # ------------------------------------------------------------------- declarations

    def service(self, name: str) -> str:
        clauses = self.clauses([], service=True)
        return f'service {name} "http://127.0.0.1:9" {{\n{clauses}}}'

    def flow(self, name: str) -> str:
        rng = self.rng
        params = [f"p{i}" for i in range(rng.randint(0, 3))]
        signature = ", ".join(f"{p}: {self.type_expr(1)}" for p in params)
        result = f" -> {self.type_expr(1)}" if self.chance(0.4) else ""
        timeout = f" timeout {self.pick(EDGE_DURATIONS)}" if self.chance(0.3) else ""
        body = self.block(["run", *params], self.depth, in_loop=False)
        return f"flow {name}({signature}){result}{timeout} {body}"

    def clauses(self, scope: list[str], service: bool = False) -> str:
        rng = self.rng
        options: list[Callable[[], str]] = [
            lambda: f'headers {{ "X-A": {self.expr(scope, 1)} }}',
            lambda: f"query {{ q: {self.expr(scope, 1)} }}",
            lambda: f"timeout {self.pick(EDGE_DURATIONS)}",
            lambda: self.retry_clause(scope),
            lambda: f"auth bearer {self.expr(scope, 1)}",
            lambda: f'auth header "X-Key", {self.expr(scope, 1)}',
            lambda: f"accept 200..299, {self.pick(['404', '500', '404', '500'] * 3 + ['99'])}",
        ]
        if service:
            options += [
                lambda: f"circuit_breaker {self.pick(EDGE_INTS)} failures within 1s cooldown 2s",
                lambda: f"rate_limit {self.pick(EDGE_INTS)} per {self.pick(EDGE_DURATIONS)}",
                lambda: f"concurrency {self.pick(EDGE_INTS)}",
            ]
        else:
            options += [
                lambda: f"json {self.expr(scope, 2)}",
                lambda: f"body {self.expr(scope, 1)}",
                lambda: f"form {{ a: {self.expr(scope, 1)} }}",
                lambda: f"idempotency_key {self.expr(scope, 1)}",
                lambda: f"fallback {self.expr(scope, 1)}",
                lambda: "on error skip",
            ]
        chosen = [rng.choice(options)() for _ in range(rng.randint(0, 3))]
        return "".join(f"    {c}\n" for c in chosen)

    def retry_clause(self, scope: list[str]) -> str:
        count = self.pick(EDGE_INTS)
        backoff = self.pick(
            [
                "",
                f" backoff fixed {self.pick(EDGE_DURATIONS)}",
                f" backoff linear {self.pick(EDGE_DURATIONS)}",
                f" backoff exponential {self.pick(EDGE_DURATIONS)} max {self.pick(EDGE_DURATIONS)}",
                f" backoff exponential {self.pick(EDGE_DURATIONS)} factor {self.pick(EDGE_FLOATS)}",
            ]
        )
        when = f" when {self.expr(['error'], 1)}" if self.chance(0.3) else ""
        jitter = " jitter" if self.chance(0.2) else ""
        return f"retry {count}{backoff}{jitter}{when}"

    # ------------------------------------------------------------------- statements

    def block(self, scope: list[str], depth: int, in_loop: bool, value_loop: bool = False) -> str:
        scope = list(scope)
        lines = [
            self.statement(scope, depth, in_loop, value_loop) for _ in range(self.rng.randint(0, 4))
        ]
        if value_loop:
            lines.append(f"yield {self.expr(scope, 1)}")
        inner = "\n".join(lines)
        return "{\n" + _indent(inner) + "\n}" if inner else "{ }"

    def statement(self, scope: list[str], depth: int, in_loop: bool, value_loop: bool) -> str:
        rng = self.rng
        simple: list[Callable[[], str]] = [
            lambda: self.binding(scope, "let"),
            lambda: self.binding(scope, "var"),
            lambda: f"log {self.expr(scope, 2)}",
            lambda: f"sleep {self.pick(EDGE_DURATIONS)}",
            lambda: f"assert {self.expr(scope, 2)}, {self.expr(scope, 1)}",
            lambda: self.step(scope),
            lambda: self.step(scope),
        ]
        if scope:
            simple.append(lambda: f"{self.pick(scope)} = {self.expr(scope, 2)}")
        if rng.random() < 0.05:
            simple.append(lambda: f"fail {self.expr(scope, 1)}")
            simple.append(lambda: f"return {self.expr(scope, 2)}")
        if in_loop and rng.random() < 0.1:
            simple.append(lambda: self.pick(["break", "continue"]))
        if depth <= 0 or rng.random() < 0.55:
            return rng.choice(simple)()
        compound: list[Callable[[], str]] = [
            lambda: (
                f"if {self.expr(scope, 2)} {self.block(scope, depth - 1, in_loop)}"
                + (f" else {self.block(scope, depth - 1, in_loop)}" if self.chance(0.5) else "")
            ),
            lambda: self.for_loop(scope, depth),
            lambda: (
                f"while {self.expr(scope, 1)} max {self.pick(EDGE_INTS)} "
                + self.block(scope, depth - 1, True)
            ),
            lambda: (
                "parallel {\n"
                + _indent(
                    "\n".join(
                        self.statement(scope, depth - 1, False, False)
                        for _ in range(rng.randint(0, 3))
                    )
                )
                + "\n}"
            ),
            lambda: (
                f"try {self.block(scope, depth - 1, in_loop)} catch e "
                + self.block([*scope, "e"], depth - 1, in_loop)
                + (f" finally {self.block(scope, depth - 1, in_loop)}" if self.chance(0.3) else "")
            ),
            lambda: f"{self.retry_clause(scope)} {self.block(scope, depth - 1, in_loop)}",
            lambda: f"timeout {self.pick(EDGE_DURATIONS)} {self.block(scope, depth - 1, in_loop)}",
            lambda: self.value_loop(scope, depth),
        ]
        return rng.choice(compound)()

    def binding(self, scope: list[str], kind: str) -> str:
        name = f"v{len(scope)}"
        annotation = f": {self.type_expr(1)}" if self.chance(0.3) else ""
        text = f"{kind} {name}{annotation} = {self.expr(scope, 2)}"
        scope.append(name)
        return text

    def for_loop(self, scope: list[str], depth: int) -> str:
        iterable = self.pick([f"range({self.pick(EDGE_INTS)})", self.expr(scope, 1), "[1, 2, 3]"])
        parallel = self.pick(["", " parallel", f" parallel {self.pick(['0', '1', '3', 'C0'])}"])
        body = self.block([*scope, "it"], depth - 1, True)
        return f"for it in {iterable}{parallel} {body}"

    def value_loop(self, scope: list[str], depth: int) -> str:
        name = f"v{len(scope)}"
        body = self.block([*scope, "it"], depth - 1, True, value_loop=True)
        scope.append(name)
        return f"let {name} = for it in [1, 2] {body}"

    def step(self, scope: list[str]) -> str:
        rng = self.rng
        name = f"st{rng.randint(0, 999)}"
        if self.chance(0.25) and self.flows:
            callee = self.pick(self.flows)
            args = ", ".join(f"p{i}: {self.expr(scope, 1)}" for i in range(rng.randint(0, 2)))
            target = f"call {callee}({args})"
        elif self.services and self.chance(0.6):
            path = self.embedded(scope, 0)
            target = f'{self.pick(METHODS)} {self.pick(self.services)} "/x/${{{path}}}"'
        else:
            target = f'{self.pick(METHODS)} "http://127.0.0.1:9/" + {self.expr(scope, 0)}'
        result = f" -> {self.type_expr(1)}" if self.chance(0.3) and "call" not in target else ""
        clauses = self.clauses(scope)
        if self.chance(0.15):
            clauses += "    compensate " + _indent(self.block(scope, 1, False)).strip() + "\n"
        scope.append(name)
        return f"step {name} = {target}{result}" + (f" {{\n{clauses}}}" if clauses else "")


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.splitlines())


# --------------------------------------------------------------------------- mutation

TOKEN: Final = re.compile(
    r'"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|[A-Za-z_][A-Za-z0-9_]*'
    r"|[0-9][0-9_.a-zA-Z]*|\?\?|->|\.\.|[=!<>]=|&&|\|\||\$\{|\s+|#[^\n]*|."
)
VOCABULARY: Final = (
    *_words("""{ } ( ) [ ] " ' ${ , : . ? ?? -> = ! - + * / == < && || # step let var if else for
    in while max parallel branch try catch finally retry timeout return yield break continue
    log assert fail call GET POST json body headers query fallback compensate null true 0
    -1 0x 1e999 1h 0s [] {} type import flow service const json_encode( size(
    .startsWith("""),
    "\n",
    " == ",
    "on error skip",
    'secret("T")',
    '"${x}"',
    'b"\\xff"',
    '"lib/x.flow"',
    "9" * 40,
)


class Mutator:
    """Damages programs of a corpus token by token; see the module docstring."""

    def __init__(self, rng: random.Random, sources: Sequence[str]) -> None:
        self.rng = rng
        self.sources = list(sources)

    def mutate(self, text: str | None = None) -> str:
        rng = self.rng
        text = text if text is not None else rng.choice(self.sources)
        tokens = TOKEN.findall(text) or [""]
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 8))):
            tokens = self._once(tokens)
        return "".join(tokens)

    def touch(self, text: str | None = None) -> str:
        """One word, number or string replaced by another of the file: the
        mutant usually still parses, and often still checks and lowers."""
        rng = self.rng
        text = text if text is not None else rng.choice(self.sources)
        tokens = TOKEN.findall(text) or [""]
        words = [i for i, t in enumerate(tokens) if t[:1].isalnum() or t[:1] in "\"'"]
        if words:
            i = rng.choice(words)
            tokens[i] = tokens[rng.choice(words)]
        return "".join(tokens)

    def _once(self, tokens: list[str]) -> list[str]:
        """One mutation; those that keep the syntax whole (a word or a literal in
        place of another) are the likeliest, so that many mutants still check."""
        rng = self.rng
        at = rng.randrange(len(tokens) + 1)
        operation = rng.random()
        words = [i for i, t in enumerate(tokens) if t[:1].isalnum() or t[:1] in "\"'"]
        if operation < 0.3 and words:  # a word, number or string of the file for another
            i = rng.choice(words)
            return [*tokens[:i], tokens[rng.choice(words)], *tokens[i + 1 :]]
        if operation < 0.4 and words:  # an edge-case literal for a word
            i = rng.choice(words)
            pool = rng.choice((EDGE_INTS, EDGE_FLOATS, EDGE_DURATIONS, EDGE_STRINGS))
            return [*tokens[:i], rng.choice(pool), *tokens[i + 1 :]]
        if operation < 0.5 and tokens:  # delete a run of tokens
            return tokens[:at] + tokens[at + rng.randint(1, 6) :]
        if operation < 0.6 and tokens:  # duplicate a run
            end = min(len(tokens), at + rng.randint(1, 12))
            return tokens[:end] + tokens[at:end] + tokens[end:]
        if operation < 0.65 and len(tokens) > 1:  # swap two tokens
            i, j = rng.randrange(len(tokens)), rng.randrange(len(tokens))
            tokens = list(tokens)
            tokens[i], tokens[j] = tokens[j], tokens[i]
            return tokens
        if operation < 0.8:  # a word or symbol of the language
            return [*tokens[:at], rng.choice(VOCABULARY), *tokens[at:]]
        if operation < 0.92:  # a generated expression or statement
            generator = ProgramGenerator(rng, depth=1)
            piece = (
                generator.expr(["x"], 2)
                if rng.random() < 0.5
                else generator.statement(["x"], 1, False, False)
            )
            return [*tokens[:at], " ", piece, " ", *tokens[at:]]
        other = rng.choice(self.sources).splitlines(keepends=True) or [""]  # splice lines
        start = rng.randrange(len(other))
        return [*tokens[:at], *other[start : start + rng.randint(1, 6)], *tokens[at:]]


def inputs(rng: random.Random, sources: Sequence[str]) -> Callable[[], tuple[str, str]]:
    """A source of (kind, text) inputs, each kind in turn: generated, generated
    then mutated, a mutated corpus file, a corpus file with one word changed."""
    mutator = Mutator(rng, sources)
    kinds = ("generated", "mutated generated", "mutated corpus", "touched corpus")
    counter = [0]

    def next_input() -> tuple[str, str]:
        kind = kinds[counter[0] % len(kinds)]
        counter[0] += 1
        if kind == "mutated corpus":
            return kind, mutator.mutate()
        if kind == "touched corpus":
            return kind, mutator.touch()
        program = ProgramGenerator(rng).program()
        return kind, (program if kind == "generated" else mutator.mutate(program))

    return next_input
