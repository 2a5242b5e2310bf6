'use strict';
// Loads syntaxes/flow.tmLanguage.json into the real VS Code engine
// (vscode-textmate on the vscode-oniguruma WebAssembly regex library) and
// tokenizes text with it, for the tests in this folder.
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const GRAMMAR_PATH = path.join(__dirname, '..', 'syntaxes', 'flow.tmLanguage.json');

let grammarPromise = null;

/** The `source.flow` grammar, loaded once. */
function loadGrammar() {
  if (grammarPromise === null) {
    const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
    const onigLib = oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength)).then(() => ({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }));
    const registry = new vsctm.Registry({
      onigLib,
      loadGrammar: async (scopeName) => {
        if (scopeName !== 'source.flow') return null;
        const text = fs.readFileSync(GRAMMAR_PATH, 'utf8');
        return vsctm.parseRawGrammar(text, GRAMMAR_PATH);
      },
    });
    grammarPromise = registry.loadGrammar('source.flow');
  }
  return grammarPromise;
}

/**
 * Tokenize `text`; returns one array per line of
 * `{line, start, end, text, scopes}` tokens (lines and columns 0-based).
 */
async function tokenize(text) {
  const grammar = await loadGrammar();
  let state = vsctm.INITIAL;
  const lines = text.split(/\r?\n/);
  return lines.map((lineText, line) => {
    const result = grammar.tokenizeLine(lineText, state);
    state = result.ruleStack;
    return result.tokens.map((t) => ({
      line,
      start: t.startIndex,
      end: Math.min(t.endIndex, lineText.length),
      text: lineText.slice(t.startIndex, t.endIndex),
      scopes: t.scopes,
    }));
  });
}

/** The scopes of the token covering `line`:`column` (0-based). */
function scopesAt(tokens, line, column) {
  const token = tokens[line].find((t) => t.start <= column && column < t.end);
  if (!token) throw new Error(`no token at ${line}:${column}`);
  return token.scopes;
}

module.exports = { GRAMMAR_PATH, loadGrammar, tokenize, scopesAt };
