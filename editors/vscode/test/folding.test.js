'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { foldingRanges } = require('../folding');

const ranges = (text) => foldingRanges(text).map((r) => (r.kind ? [r.start, r.end, r.kind] : [r.start, r.end]));

test('braces, brackets and parens that span lines fold; the closing line stays visible', () => {
  const text = [
    'flow f(',          // 0
    '    a: int,',      // 1
    ') {',              // 2
    '    if a > 1 {',   // 3
    '        log "x"',  // 4
    '    } else {',     // 5
    '        log "y"',  // 6
    '    }',            // 7
    '    let xs = [1,', // 8
    '        2]',       // 9
    '}',                // 10
  ].join('\n');
  assert.deepEqual(ranges(text), [[0, 1], [2, 9], [3, 4], [5, 6], [8, 9]]);
});

test('brackets in strings and comments do not count; triple strings and comments fold', () => {
  const text = [
    '# one',                   // 0
    '# two',                   // 1
    'let s = "{ ${x} ("  # {', // 2
    'let t = """',             // 3
    '  { text',                // 4
    '"""',                     // 5
    '# region setup',          // 6
    'let y = 1',               // 7
    '# endregion',             // 8
  ].join('\n');
  assert.deepEqual(ranges(text), [[0, 1, 'comment'], [3, 5], [6, 8, 'region']]);
});

test('the registration sample folds its service, flow and step blocks', () => {
  const text = fs.readFileSync(path.join(__dirname, 'samples', 'registration.flow'), 'utf8');
  const lines = text.split('\n');
  const found = foldingRanges(text);
  const starts = found.map((r) => lines[r.start].trim());
  assert.ok(starts.includes('service users "http://localhost:8081" {'));
  assert.ok(starts.includes('{'), 'the flow body');
  assert.ok(starts.includes('compensate {'));
  for (const r of found) assert.ok(r.end > r.start);
});
