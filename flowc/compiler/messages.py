"""Every message text the compiler can show, with its code.

Keeping them in one module means one place to word them consistently, one
place to translate them, and a test (``tests/test_messages.py``) that checks
each code is documented in ``docs/diagnostics.md``.

Codes are grouped by phase:

* ``E00xx`` — lexical and syntax errors (parser);
* ``E01xx`` — declarations, imports and names (resolver);
* ``E02xx`` — types (checker);
* ``E03xx`` — statements, steps, services and clauses (checker);
* ``E04xx`` — secrets and data races (checker);
* ``E05xx`` — flow definitions in JSON/YAML (``compiler/definitions``);
* ``E06xx`` — service contracts: OpenAPI documents, ``.proto`` files and the steps
  checked against them (``flowc/contracts``, ``openapi_*.py``, ``grpc_*.py``);
* ``W0xxx`` — warnings (``W06xx`` for service contracts).

A ``Message`` is called like a function to make a ``Diagnostic``::

    UNKNOWN_NAME(span, name="user_idd", help="did you mean `user_id`?")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import attrs

from flowc.compiler.ast import Span
from flowc.compiler.diagnostics import ERROR, WARNING, Diagnostic, Note

ALL: Final[dict[str, Message]] = {}


@attrs.frozen(slots=True)
class Message:
    code: str
    severity: str
    text: str

    def __call__(
        self,
        span: Span,
        *,
        help: str | None = None,
        notes: Iterable[Note] = (),
        **args: object,
    ) -> Diagnostic:
        return Diagnostic(
            self.code, self.severity, self.text.format(**args), span, help, tuple(notes)
        )


def _error(code: str, text: str) -> Message:
    message = Message(code, ERROR, text)
    ALL[code] = message
    return message


def _warning(code: str, text: str) -> Message:
    message = Message(code, WARNING, text)
    ALL[code] = message
    return message


# --------------------------------------------------------------------------- E00xx syntax

UNEXPECTED_TOKEN = _error("E0001", "unexpected {found}, expected {expected}")
UNEXPECTED_CHARACTER = _error("E0002", "unexpected character {char}")
UNTERMINATED_STRING = _error("E0003", "unterminated string literal")
UNEXPECTED_EOF = _error("E0004", "unexpected end of file, expected {expected}")
INVALID_ESCAPE = _error("E0005", "invalid escape sequence `{escape}`")
RESERVED_WORD = _error("E0006", "`{word}` is a reserved word and cannot be used as a name")
TOO_DEEP = _error("E0007", "nesting is too deep (more than {limit} levels)")
UNKNOWN_GENERIC = _error("E0008", "`{name}[...]` is not a type; the generic types are {known}")
GENERIC_ARITY = _error("E0009", "`{name}` takes {expected} type argument{s}, found {found}")
BAD_STATUS_RANGE = _error("E0010", "invalid status range {low}..{high}")
BAD_INTERPOLATION = _error("E0011", "invalid interpolation: {problem}")
BAD_STRING_KIND = _error("E0013", "{what} must be a plain string literal")
EMPTY_FILE = _error("E0014", "the file is empty: it declares no flow, service, type or constant")
SOURCE_TOO_LARGE = _error("E0020", "the file is {size}, more than the source limit of {limit}")


def note(span: Span, text: str) -> Note:
    """A secondary location for a diagnostic ("first defined here")."""
    return Note(span, text)


# --------------------------------------------------------------------------- E01xx names

IMPORT_CYCLE = _error("E0101", "import cycle: {chain}")
IMPORT_UNREADABLE = _error("E0102", 'cannot import "{path}": {reason}')
DUPLICATE_DECLARATION = _error("E0103", "`{name}` is declared more than once in this file")
UNKNOWN_NAME = _error("E0104", "unknown name `{name}`")
UNKNOWN_MEMBER = _error("E0105", "module `{module}` has no constant `{name}`")
MODULE_AS_VALUE = _error("E0106", "`{name}` is an imported module, not a value")
UNKNOWN_TYPE = _error("E0107", "unknown type `{name}`")
RECURSIVE_TYPE = _error(
    "E0108", "type `{name}` refers to itself; recursive types are not supported"
)
DUPLICATE_FIELD = _error("E0109", "field `{field}` is declared twice")
DUPLICATE_BINDING = _error("E0110", "`{name}` is already defined")
DUPLICATE_STEP = _error(
    "E0111", "step name `{name}` is used twice in this flow; step names are unique"
)
UNKNOWN_SERVICE = _error("E0112", "unknown service `{name}`")
UNKNOWN_FLOW = _error("E0113", "unknown flow `{name}`")
UNKNOWN_FUNCTION = _error("E0114", "unknown function `{name}`")
NOT_ASSIGNABLE = _error("E0115", "cannot assign to `{name}`: it is a {kind}, not a `var`")
CANNOT_INFER = _error("E0116", "cannot infer the type of `{name}` from `null`")

# --------------------------------------------------------------------------- E02xx types

TYPE_MISMATCH = _error("E0201", "{what} must be {expected}, found {found}")
INT_OUT_OF_RANGE = _error("E0202", "{kind} literal out of range")
SELECT_ON_OPTIONAL = _error(
    "E0203", "cannot read `{field}` of a value of type `{type}`: it may be null"
)
NO_FIELDS = _error("E0204", "type `{type}` has no fields (reading `{field}`)")
UNKNOWN_FIELD = _error("E0205", "no field `{field}` in `{type}`")
BAD_INDEX = _error("E0206", "cannot index `{type}` with `{index}`")
NOT_INDEXABLE = _error("E0207", "type `{type}` cannot be indexed")
NEVER_EQUAL = _error("E0208", "`{op}` compares `{left}` with `{right}`, which can never be equal")
BAD_MAP_KEY = _error("E0209", "map keys must be strings, ints, uints or bools, found `{type}`")
DUPLICATE_KEY = _error("E0210", "key `{key}` appears twice in this record")
BAD_HAS = _error("E0211", "`has()` takes one field selection, like `has(user.email)`")
NOT_ITERABLE = _error("E0212", "cannot iterate over `{type}`; expected a list or a map")
NO_OVERLOAD = _error("E0213", "no overload of {name} takes ({args})")

# ---------------------------------------------------------------------- E03xx statements, clauses

MISSING_RETURN = _error(
    "E0301", "flow `{flow}` must return a `{type}` on every path, but can reach its end"
)
MISPLACED_JUMP = _error("E0302", "`{stmt}` is not allowed inside {place}")
JUMP_OUTSIDE_LOOP = _error("E0303", "`{stmt}` outside a loop{where}")
BREAK_IN_PARALLEL = _error(
    "E0304", "`break` cannot leave a parallel loop; use `fail` to stop it, or `continue`"
)
YIELD_OUTSIDE_VALUE_LOOP = _error(
    "E0305",
    "`yield` is only allowed in a loop used as a value (`let xs = for x in ... {{ yield ... }}`)",
)
LOOP_NEVER_YIELDS = _error("E0306", "this loop is used as a value but never `yield`s")
MISPLACED_CLAUSE = _error("E0307", "`{clause}` is not a {place} clause; it belongs to {home}")
DUPLICATE_CLAUSE = _error("E0308", "`{clause}` is given twice")
BAD_ERROR_KIND = _error("E0321", "`{kind}` cannot name an error: {why}")
BAD_FAIL_OPTION = _error(
    "E0322", '`fail KIND "message" {{...}}` takes only `status` and `data`, each once'
)
SEVERAL_BODIES = _error("E0309", "a step has one body: use only one of `json`, `form` and `body`")
AUTH_ARITY = _error("E0310", "`auth {scheme}` takes {expected} value(s), found {found}")
SERVICE_ONLY_AUTH = _error(
    "E0314",
    "`auth {scheme}` belongs on a service, whose steps share its credentials",
)
CALL_RESULT_TYPE = _error(
    "E0311", "a `call` step's type is the called flow's result; remove `-> ...`"
)
BAD_ARGUMENT = _error("E0312", "bad call of flow `{flow}`: {problem}")
BAD_BACKOFF_FACTOR = _error(
    "E0313", "the backoff factor must be greater than 0 (each wait is the last one times it)"
)
BAD_SIZE = _error(
    "E0320", "`{clause}` must be {syntax} or a positive number of bytes, found {found}"
)

# --------------------------------------------------------------------------- E04xx secrets, races

SECRET_LEAK = _error("E0401", "a secret must not reach {sink}")
SECRET_IN_URL = _error(
    "E0402", "a secret must not be part of a URL or its query string; send it in a header"
)
DATA_RACE = _error(
    "E0403", "`{name}` is assigned inside parallel code but declared outside it (a data race)"
)
SECRET_OPERATION = _error("E0404", "{operation} cannot be applied to a secret")
SECRET_HIDDEN = _error(
    "E0405", "{what} would hide a secret in a value of type `{type}`, which is not a secret"
)
SECRET_KEY = _error("E0406", "a secret cannot be {what}")
SECRET_BYTES_AS_TEXT = _error("E0407", "secret bytes cannot be interpolated into text")
SECRET_RECORDED = _error("E0408", "a secret cannot be {what}: it is kept in the run's records")

#: The help of the secret errors: what may be done with a secret, and why nothing else.
SECRET_RULE_HELP: Final = (
    "a secret may only be sent (auth, headers, a form or a body) or built into a larger "
    "secret (`+`, `${...}`, `bytes()`, `base64.encode()`) or be an HMAC key "
    "(`hmac_sha256(key, message)`); anything else computed from it, "
    "or decided by it, could reveal it"
)

# --------------------------------------------------------------------------- warnings

UNUSED_BINDING = _warning("W0101", "{kind} `{name}` is never used")
UNUSED_STEP = _warning("W0102", "the result of step `{name}` is never used")
UNUSED_IMPORT = _warning("W0103", 'import "{path}" is never used')
UNREACHABLE = _warning("W0201", "unreachable code")
WHILE_WITHOUT_MAX = _warning("W0301", "`while` without `max`")
UNRAISED_ERROR_KIND = _warning("W0304", "nothing in this `try` can raise an error of kind `{kind}`")
CATCH_SHADOWED = _warning(
    "W0305", "this `catch` never runs: an earlier `catch` without `when` takes every error"
)
RETRY_NOT_IDEMPOTENT = _warning(
    "W0302", "{method} step `{step}` may be retried ({source}) but has no `idempotency_key`"
)
DEADLINE_EXCEEDED = _warning(
    "W0303", "{what} can take {worst} in the worst case, more than its timeout of {limit}"
)

# --------------------------------------------------------------------------- E05xx definitions
# Flows written as JSON or YAML data (the step-list form, ``compiler/definitions``).

DOCUMENT_SYNTAX = _error("E0501", "invalid {kind}: {problem}")
DEFINITION_UNKNOWN_KEY = _error("E0502", "unknown key `{key}` in {place}")
DEFINITION_MISSING_KEY = _error("E0503", "{place} needs `{key}`")
DEFINITION_WRONG_VALUE = _error("E0504", "{place} must be {expected}, found {found}")
DEFINITION_INVALID = _error("E0505", "{place}: {problem}")
DEFINITION_DUPLICATE_KEY = _error("E0506", "key `{key}` appears twice in this mapping")
WAIT_NOT_SUPPORTED = _error(
    "E0507", "`wait` steps are not supported yet: the language has no `wait signal` statement"
)
UNKNOWN_INPUT = _error("E0508", "no input `{name}` is declared under `input`")
BARE_INPUT = _error(
    "E0509", "`input` must be followed by the name of an input, as in `input.{example}`"
)
NOT_REPRESENTABLE = _error("E0510", "{construct} cannot be written in the step-list form")

# Serverless Workflow 1.0 documents (``compiler/definitions/serverless*.py``).
SW_SCHEMA = _error("E0511", "{place}: {problem}")
SW_DUPLICATE_TASK = _error("E0512", "a task named `{name}` is already in this task list")
SW_UNKNOWN_TARGET = _error(
    "E0513", "`then: {target}` names no task of this task list (nor continue, exit or end)"
)
SW_UNKNOWN_USE = _error("E0514", "no {kind} `{name}` is defined under `use.{section}`")
SW_UNSUPPORTED = _error("E0515", "{what} cannot be run by flowc")
SW_BAD_EXPRESSION = _error("E0516", "the jq expression does not parse: {problem}")
SW_NEEDS_PACKAGE = _error(
    "E0517", "Serverless Workflow documents need the `{package}` package: {install}"
)
SW_NOT_CONVERTIBLE = _error(
    "E0518", "a Serverless Workflow document cannot be converted; flowc runs it as it is"
)
SW_BAD_TASK = _error("E0519", "a task is a mapping with exactly one key, its name")


# ----------------------------------------------------------------------- E06xx service contracts

OPENAPI_UNREADABLE = _error("E0601", 'cannot read OpenAPI document "{path}": {reason}')
OPENAPI_SYNTAX = _error("E0602", "the OpenAPI document does not parse: {problem}")
OPENAPI_INVALID = _error("E0603", "not a valid OpenAPI document: {problem}")
OPENAPI_VERSION = _error("E0604", "{problem}")
OPENAPI_BAD_REF = _error("E0605", "{problem}")
OPENAPI_NO_SERVER = _error(
    "E0606", "service `{service}` has no base URL: the document's servers give {found}"
)
UNKNOWN_OPERATION = _error("E0607", "`{method} {path}` is not an operation of service `{service}`")
UNKNOWN_OPERATION_ID = _error("E0608", "service `{service}` has no operation `{name}`")
BAD_OPERATION_ARGUMENT = _error("E0609", "bad call of operation `{operation}`: {problem}")
MISSING_PARAMETER = _error("E0610", "`{operation}` needs the {place} parameter `{name}`")
UNKNOWN_PARAMETER = _error("E0611", "`{operation}` has no {place} parameter `{name}`")
PARAMETER_TYPE = _error(
    "E0612", "the {place} parameter `{name}` of `{operation}` must be {expected}, found {found}"
)
NOT_IN_ENUM = _error("E0613", "{value} is not a value {what} allows (it allows {allowed})")
MISSING_BODY_FIELD = _error("E0614", "{what} lacks the required field{s} {fields}")
BODY_REQUIRED = _error("E0615", "`{operation}` needs a request body ({media})")
NO_REQUEST_BODY = _error("E0616", "`{operation}` takes no request body")
BODY_MEDIA = _error("E0617", "`{operation}` does not take a `{clause}` body; it takes {media}")
OPENAPI_ONLY = _error("E0618", "{what} is only for services described by an OpenAPI document")
AUTH_UNSUPPORTED = _error("E0619", "security scheme `{scheme}` cannot be used: {reason}")
NO_SECURITY_SCHEME = _error(
    "E0620", "`auth` without a scheme needs the document's security scheme, but {problem}"
)
AMBIGUOUS_OPERATION_CALL = _error(
    "E0621", "`{name}` is both an imported module and {kind} service; rename one"
)
UNKNOWN_BODY_FIELD_STRICT = _error("E0622", "{what} has no field `{field}`")
PROTO_UNREADABLE = _error("E0623", 'cannot read .proto file "{path}": {reason}')
PROTO_ERROR = _error("E0624", "the .proto file does not compile: {problem}")
PROTO_NO_SERVICE = _error("E0625", '"{path}" defines no service')
UNKNOWN_METHOD = _error("E0626", "service `{service}` has no method `{name}`")
AMBIGUOUS_METHOD = _error("E0627", "`{name}` is a method of {services}; say which")
STREAMING_METHOD = _error(
    "E0628", "`{method}` is a {kind} streaming method; flowc calls unary methods only"
)
UNKNOWN_MESSAGE_FIELD = _error("E0629", "{what} has no field `{field}`")
ONEOF_CONFLICT = _error("E0630", "{what} sets {fields}, which are one `oneof {oneof}`")
GRPC_ONLY = _error("E0631", "{what} is only for gRPC services")
NOT_FOR_GRPC = _error("E0632", "{what} is not for gRPC services: {why}")
BAD_METHOD_ARGUMENT = _error("E0633", "bad call of method `{method}`: {problem}")
OUT_OF_RANGE = _error("E0634", "{value} does not fit {what} ({kind}: {low}..{high})")
BAD_SIGNAL_NAME = _error("E0330", "bad signal name {name}: 1-100 letters, digits, `_`, `.` or `-`")
SIGNAL_PAYLOAD_TYPE = _error("E0331", "a signal's payload cannot be {type}: {why}")
WAIT_NOT_BOUND = _error("E0332", "`wait signal` must be bound: `let answer = wait signal ...`")

UNKNOWN_BODY_FIELD = _warning("W0601", "{what} has no field `{field}`")
AUTH_MISMATCH = _warning(
    "W0602", "service `{service}` sends {given}, but its document asks for {wanted}"
)
AUTH_MISSING = _warning(
    "W0603",
    "`{operation}` requires authentication ({schemes}) but service `{service}` has no `auth`",
)
