'use strict';
// Every file in the repository's examples/ directory (whatever is there when
// the test runs): tokenized by the real engine without an `invalid` scope,
// and snapshotted by vscode-tmgrammar-snap.  The snapshots are written to a
// temporary directory and checked for `invalid` scopes rather than compared
// with committed copies, so that editing an example does not break this test.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tokenize, GRAMMAR_PATH } = require('./textmate');

const ROOT = path.join(__dirname, '..');
// FLOW_EXAMPLES points the test at another directory (to try it out).
const EXAMPLES = process.env.FLOW_EXAMPLES || path.join(ROOT, '..', '..', 'examples');
const SNAP = path.join(ROOT, 'node_modules', 'vscode-tmgrammar-test', 'dist', 'snapshot.js');

/** Every .flow file under examples/, subdirectories (lib/) included. */
function examples(dir = EXAMPLES) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return examples(full);
      return entry.name.endsWith('.flow') ? [full] : [];
    });
}

/** A flat, unique file name for an example: lib/checkout.flow -> lib--checkout.flow */
const flatName = (file) => path.relative(EXAMPLES, file).split(path.sep).join('--');

test('examples tokenize without an invalid scope', async (t) => {
  const files = examples();
  if (files.length === 0) return t.skip('examples/ has no .flow file yet');
  const invalid = [];
  for (const file of files) {
    const tokens = await tokenize(fs.readFileSync(file, 'utf8'));
    for (const token of tokens.flat()) {
      if (token.scopes.some((s) => s.startsWith('invalid'))) {
        invalid.push(`${flatName(file)}:${token.line + 1}:${token.start + 1} ${JSON.stringify(token.text)}`);
      }
    }
  }
  assert.deepEqual(invalid, []);
});

test('vscode-tmgrammar-snap snapshots of the examples have no invalid scope', async (t) => {
  const files = examples();
  if (files.length === 0) return t.skip('examples/ has no .flow file yet');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flow-snap-'));
  try {
    for (const file of files) fs.copyFileSync(file, path.join(dir, flatName(file)));
    const run = spawnSync(process.execPath, [SNAP, '-g', GRAMMAR_PATH, '-u', path.join(dir, '*.flow')], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const invalid = [];
    for (const file of files) {
      const snap = fs.readFileSync(path.join(dir, `${flatName(file)}.snap`), 'utf8');
      snap.split('\n').forEach((line, i) => {
        if (/\binvalid\./.test(line)) invalid.push(`${flatName(file)}.snap:${i + 1}: ${line}`);
      });
    }
    assert.deepEqual(invalid, []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
