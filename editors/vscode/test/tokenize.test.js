'use strict';
// The TextMate grammar run by the real VS Code engine (vscode-textmate +
// vscode-oniguruma) over the samples in test/samples/: specific scopes at
// specific places, no `invalid` scope anywhere, and every word of
// flowc/grammar/keywords.py highlighted in its context.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { tokenize, scopesAt } = require('./textmate');

const SAMPLES = path.join(__dirname, 'samples');
const KEYWORDS_PY = path.join(__dirname, '..', '..', '..', 'flowc', 'grammar', 'keywords.py');

function sample(name) {
  return fs.readFileSync(path.join(SAMPLES, name), 'utf8');
}

/** Scopes of the `nth` occurrence of `needle` on the line that contains `lineNeedle`. */
function scopesOf(text, tokens, lineNeedle, needle, nth = 0) {
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes(lineNeedle));
  assert.notEqual(line, -1, `no line containing ${JSON.stringify(lineNeedle)}`);
  let column = -1;
  for (let i = 0; i <= nth; i++) {
    column = lines[line].indexOf(needle, column + 1);
    assert.notEqual(column, -1, `no ${JSON.stringify(needle)} #${nth} on line ${line + 1}`);
  }
  const scopes = scopesAt(tokens, line, column);
  const token = tokens[line].find((t) => t.start <= column && column < t.end);
  assert.equal(token.text.slice(column - token.start, column - token.start + needle.length), needle);
  return scopes;
}

function assertScope(text, tokens, lineNeedle, needle, scope, nth = 0) {
  const scopes = scopesOf(text, tokens, lineNeedle, needle, nth);
  assert.ok(
    scopes.includes(scope),
    `${JSON.stringify(needle)} on the line with ${JSON.stringify(lineNeedle)}: ` +
      `expected ${scope}, got ${scopes.join(' ')}`,
  );
}

test('every sample tokenizes without an invalid scope', async () => {
  for (const name of fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.flow'))) {
    const tokens = await tokenize(sample(name));
    const invalid = tokens.flat().filter((t) => t.scopes.some((s) => s.startsWith('invalid')));
    assert.deepEqual(invalid.map((t) => `${name}:${t.line + 1}:${t.start + 1} ${t.text}`), []);
  }
});

test('declarations: names of flows, steps, services, types, consts, bindings', async () => {
  const text = sample('registration.flow');
  const tokens = await tokenize(text);
  const cases = [
    ['flow user_registration(', 'flow', 'storage.type.function.flow'],
    ['flow user_registration(', 'user_registration', 'entity.name.function.flow'],
    ['flow user_registration(', 'user_id', 'variable.parameter.flow'],
    ['step check = GET', 'step', 'storage.type.step.flow'],
    ['step check = GET', 'check', 'entity.name.function.step.flow'],
    ['step check = GET', 'users', 'entity.name.namespace.service.flow'],
    ['service users', 'users', 'entity.name.namespace.service.flow'],
    ['type User =', 'User', 'entity.name.type.flow'],
    ['const PAGE_SIZE', 'PAGE_SIZE', 'entity.name.constant.flow'],
    ['let started', 'started', 'variable.other.declaration.flow'],
    ['var attempts', 'attempts', 'variable.other.declaration.flow'],
    ['import "billing.flow" as billing', 'billing', 'entity.name.namespace.flow', 1],
    ['catch err', 'err', 'variable.other.declaration.flow'],
    ['for i, tag in', 'i', 'variable.other.declaration.flow'],
    ['for i, tag in', 'tag', 'variable.other.declaration.flow'],
    ['call billing.charge', 'charge', 'entity.name.function.flow', 1],
  ];
  for (const [line, needle, scope, nth] of cases) assertScope(text, tokens, line, needle, scope, nth);
});

test('keywords, clause words, HTTP methods, types and builtins are told apart', async () => {
  const text = sample('registration.flow');
  const tokens = await tokenize(text);
  const cases = [
    ['if check.body.exists', 'if', 'keyword.control.flow'],
    ['} else if attempts', 'else', 'keyword.control.flow'],
    ['return {status: "created"', 'return', 'keyword.control.flow'],
    ['import "common.flow"', 'import', 'keyword.control.import.flow'],
    ['retry 3 backoff exponential 100ms', 'retry', 'keyword.other.clause.flow'],
    ['retry 3 backoff exponential 100ms', 'backoff', 'keyword.other.clause.flow'],
    ['circuit_breaker 5', 'circuit_breaker', 'keyword.other.clause.flow'],
    ['on error skip', 'error', 'keyword.other.clause.flow'],
    ['step check = GET', 'GET', 'support.function.http-method.flow'],
    ['step undo = DELETE', 'DELETE', 'support.function.http-method.flow'],
    ['type Page =', 'list', 'support.type.builtin.flow'],
    ['type Page =', 'map', 'support.type.builtin.flow'],
    ['-> json', 'json', 'support.type.builtin.flow'],
    ['json { user_id', 'json', 'keyword.other.clause.flow'],
    ['auth bearer secret(', 'secret', 'support.function.builtin.flow'],
    ['let kind = type(total)', 'type', 'support.function.builtin.flow'],
    ['names.all(n,', 'all', 'support.function.builtin.flow'],
    ['return {status: "exists", user: null}', 'null', 'constant.language.null.flow'],
    ['notify: bool = true', 'true', 'constant.language.boolean.flow'],
    ['when error.status >= 500', 'error', 'variable.other.readwrite.flow'],
    ['when error.status >= 500', 'status', 'variable.other.property.flow'],
  ];
  for (const [line, needle, scope, nth] of cases) assertScope(text, tokens, line, needle, scope, nth);
});

test('literals, strings, escapes and interpolation', async () => {
  const text = sample('lexical.flow');
  const tokens = await tokenize(text);
  const cases = [
    ['let ints', '1_000', 'constant.numeric.integer.decimal.flow'],
    ['let ints', '0x1F', 'constant.numeric.integer.hexadecimal.flow'],
    ['let floats', '2.5e10', 'constant.numeric.float.flow'],
    ['let durations', '1m30s', 'constant.numeric.duration.flow'],
    ['let durations', '1.5s', 'constant.numeric.duration.flow'],
    ['let statuses', '..', 'keyword.operator.range.flow'],
    ['let escapes =', '\\U0001F600', 'constant.character.escape.flow'],
    ['let escapes =', '\\$', 'constant.character.escape.flow'],
    ['let interp', '${', 'punctuation.section.interpolation.begin.flow'],
    ['let interp', 'size', 'meta.interpolation.flow'],
    ['let interp', 'size', 'meta.embedded.line.flow'],
    ['let interp', 'size', 'support.function.builtin.flow'],
    ['let nested', 'Accept', 'string.quoted.single.flow'],
    ['let nested', 'm', 'variable.other.property.flow'],
    ['let nested', '}', 'punctuation.section.braces.end.flow'],
    ['let nested', '}', 'punctuation.section.interpolation.end.flow', 2],
    ['let raw =', '{not_interpolated}', 'string.quoted.double.raw.flow'],
    ['let bytes', '${not}', 'string.quoted.double.bytes.flow'],
    ['let triple =', '"""', 'string.quoted.triple.flow'],
    ['multi-line', 'interp', 'meta.interpolation.flow'],
    ['let ops', '??', 'keyword.operator.null-coalescing.flow'],
    ['let record', 'json', 'variable.other.property.flow'],
    ['let retry = 3', 'retry', 'variable.other.declaration.flow'],
    ['let t: map', 'map', 'support.type.builtin.flow'],
    ['let t: map', 'null', 'constant.language.null.flow'],
    ['let fields', 'step', 'variable.other.property.flow'],
    ['let fields', 'fail', 'variable.other.property.flow'],
    ['let fields', 'fail', 'variable.other.property.flow', 1],
    ['let fields', 'step', 'variable.other.property.flow', 1],
    ['type Keyed', 'step', 'variable.other.property.flow'],
    ['type Keyed', 'for', 'variable.other.property.flow'],
  ];
  for (const [line, needle, scope, nth] of cases) assertScope(text, tokens, line, needle, scope, nth);
  const scopes = scopesOf(text, tokens, 'let interp', 'user', 1);
  assert.ok(scopes.includes('string.quoted.double.flow'), 'interpolation stays inside its string');
});

test('invalid characters are marked, so that the checks above can fail', async () => {
  const tokens = await tokenize('let x = 1; y = `z` \u00a7\n');
  const invalid = tokens.flat().filter((t) => t.scopes.includes('invalid.illegal.character.flow'));
  assert.deepEqual(invalid.map((t) => t.text), [';', '`', '`', '\u00a7']);
});

/** The tuples of keywords.py, read with a regex (keywords.py is plain data). */
function keywordLists() {
  const source = fs.readFileSync(KEYWORDS_PY, 'utf8');
  const lists = {};
  for (const m of source.matchAll(/^([A-Z_]+): Final = \(([^)]*)\)/gm)) {
    lists[m[1]] = [...m[2].matchAll(/"([^"]+)"/g)].map((w) => w[1]);
  }
  assert.ok(lists.STATEMENT_KEYWORDS && lists.HTTP_METHODS && lists.BUILTIN_FUNCTIONS);
  return lists;
}

test('every word of keywords.py gets a keyword-like scope in its context', async () => {
  const lists = keywordLists();
  const keywords = [
    ...lists.DECLARATION_KEYWORDS,
    ...lists.STATEMENT_KEYWORDS,
    ...lists.LITERAL_KEYWORDS,
    ...lists.STATEMENT_CLAUSE_KEYWORDS,
    ...lists.CLAUSE_KEYWORDS,
  ];
  const checks = [
    ...keywords.map((w) => [w, `${w}\n`, 0, /^(keyword|storage\.type|constant\.language)\./]),
    ...lists.HTTP_METHODS.map((w) => [w, `${w}\n`, 0, /^support\.function\.http-method\.flow$/]),
    ...lists.BUILTIN_TYPES.map((w) => [w, `let x: ${w} = y\n`, 7, /^support\.type\.builtin\.flow$/]),
    ...lists.BUILTIN_FUNCTIONS.map((w) => [w, `${w}(x)\n`, 0, /^support\.function\.builtin\.flow$/]),
    ...lists.BUILTIN_FUNCTIONS.map((w) => [w, `l.${w}(x)\n`, 2, /^support\.function\.builtin\.flow$/]),
  ];
  const missed = [];
  for (const [word, text, column, expected] of checks) {
    const tokens = await tokenize(text);
    const token = tokens[0].find((t) => t.start === column);
    const last = token ? token.scopes[token.scopes.length - 1] : '(none)';
    if (!token || token.text !== word || !expected.test(last)) missed.push(`${JSON.stringify(text)}: ${last}`);
  }
  assert.deepEqual(missed, []);
});
