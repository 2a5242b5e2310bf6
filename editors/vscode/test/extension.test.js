'use strict';
// extension.js and the package manifest, without VS Code: `vscode` and
// `vscode-languageclient/node` are replaced by recording fakes, so the test
// sees which server command the extension starts, how it reacts to a changed
// `flowc.path` and to a server that cannot start, and what it folds.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const ROOT = path.join(__dirname, '..');

function fakes({ flowcPath = undefined, startError = undefined } = {}) {
  const state = { clients: [], errors: [], settings: { path: flowcPath }, commands: {}, listeners: [] };
  class FoldingRange {
    constructor(start, end, kind) {
      Object.assign(this, { start, end, kind });
    }
  }
  const vscode = {
    FoldingRange,
    FoldingRangeKind: { Comment: 1, Imports: 2, Region: 3 },
    workspace: {
      getConfiguration: (section) => {
        assert.equal(section, 'flowc');
        return { get: (key) => state.settings[key] };
      },
      createFileSystemWatcher: (glob) => ({ glob, dispose() {} }),
      onDidChangeConfiguration: (listener) => {
        state.listeners.push(listener);
        return { dispose() {} };
      },
    },
    window: { showErrorMessage: (message) => state.errors.push(message) },
    commands: {
      registerCommand: (name, fn) => {
        state.commands[name] = fn;
        return { dispose() {} };
      },
    },
    languages: {
      registerFoldingRangeProvider: (selector, provider) => {
        state.folding = { selector, provider };
        return { dispose() {} };
      },
    },
  };
  class LanguageClient {
    constructor(id, name, serverOptions, clientOptions) {
      Object.assign(this, { id, name, serverOptions, clientOptions, started: false, stopped: false });
      state.clients.push(this);
    }
    async start() {
      if (startError) throw startError;
      this.started = true;
    }
    async stop() {
      this.stopped = true;
    }
  }
  return { state, vscode, languageclient: { LanguageClient } };
}

/** A fresh copy of extension.js wired to the given fakes. */
function loadExtension(fake) {
  const original = Module._load;
  Module._load = function load(request, parent, isMain) {
    if (request === 'vscode') return fake.vscode;
    if (request === 'vscode-languageclient/node') return fake.languageclient;
    return original.call(this, request, parent, isMain);
  };
  try {
    const file = require.resolve(path.join(ROOT, 'extension.js'));
    delete require.cache[file];
    return require(file);
  } finally {
    Module._load = original;
  }
}

test('activate starts `flowc lsp` on stdio for .flow documents', async () => {
  const fake = fakes();
  const extension = loadExtension(fake);
  const context = { subscriptions: [] };
  await extension.activate(context);
  assert.equal(fake.state.clients.length, 1);
  const client = fake.state.clients[0];
  assert.equal(client.id, 'flowc');
  assert.deepEqual(client.serverOptions, { command: 'flowc', args: ['lsp'] });
  assert.equal(client.serverOptions.transport, undefined, 'no --stdio argument is added');
  assert.ok(client.started);
  assert.deepEqual(
    client.clientOptions.documentSelector.map((s) => s.language),
    ['flow', 'flow'],
  );
  assert.equal(client.clientOptions.synchronize.fileEvents.glob, '**/*.flow');
  assert.ok(context.subscriptions.length >= 3);
  assert.deepEqual(fake.state.errors, []);
  await extension.deactivate();
  assert.ok(client.stopped);
});

test('the flowc.path setting names the executable, and changing it restarts', async () => {
  const fake = fakes({ flowcPath: ' /opt/flowc/bin/flowc ' });
  const extension = loadExtension(fake);
  await extension.activate({ subscriptions: [] });
  assert.equal(fake.state.clients[0].serverOptions.command, '/opt/flowc/bin/flowc');

  fake.state.settings.path = '/usr/local/bin/flowc';
  await fake.state.listeners[0]({ affectsConfiguration: (key) => key === 'flowc.path' });
  assert.equal(fake.state.clients.length, 2);
  assert.ok(fake.state.clients[0].stopped);
  assert.equal(fake.state.clients[1].serverOptions.command, '/usr/local/bin/flowc');

  await fake.state.listeners[0]({ affectsConfiguration: () => false });
  assert.equal(fake.state.clients.length, 2, 'other settings do not restart the server');

  await fake.state.commands['flowc.restartServer']();
  assert.equal(fake.state.clients.length, 3);
  await extension.deactivate();
});

test('a server that cannot start is reported once and does not break activation', async () => {
  const fake = fakes({ startError: new Error('spawn flowc ENOENT') });
  const extension = loadExtension(fake);
  await extension.activate({ subscriptions: [] });
  assert.equal(fake.state.errors.length, 1);
  assert.match(fake.state.errors[0], /flowc lsp.*ENOENT.*flowc\.path/);
  assert.ok(fake.state.folding, 'folding still works');
  await extension.deactivate();
});

test('the folding provider folds braces', async () => {
  const fake = fakes();
  const extension = loadExtension(fake);
  await extension.activate({ subscriptions: [] });
  const { selector, provider } = fake.state.folding;
  assert.deepEqual(selector, { language: 'flow' });
  const text = 'flow f() {\n    log "x"\n}\n';
  const ranges = provider.provideFoldingRanges({ getText: () => text });
  assert.deepEqual(ranges.map((r) => [r.start, r.end, r.kind]), [[0, 1, undefined]]);
  await extension.deactivate();
});

test('package.json contributes the language, grammar, settings and command', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const [language] = manifest.contributes.languages;
  assert.equal(language.id, 'flow');
  assert.deepEqual(language.extensions, ['.flow']);
  const [grammar] = manifest.contributes.grammars;
  assert.equal(grammar.scopeName, 'source.flow');
  const tm = JSON.parse(fs.readFileSync(path.join(ROOT, grammar.path), 'utf8'));
  assert.equal(tm.scopeName, 'source.flow');
  assert.ok(manifest.contributes.configuration.properties['flowc.path']);
  assert.deepEqual(manifest.contributes.commands.map((c) => c.command), ['flowc.restartServer']);
  assert.ok(fs.existsSync(path.join(ROOT, manifest.main)));
  assert.ok(manifest.activationEvents.includes('onLanguage:flow'));
});

test('language-configuration.json: comments, brackets, ${ } inside strings, indentation', () => {
  const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'language-configuration.json'), 'utf8'));
  assert.equal(config.comments.lineComment, '#');
  assert.deepEqual(config.brackets, [['{', '}'], ['[', ']'], ['(', ')']]);
  const pairs = Object.fromEntries(config.autoClosingPairs.map((p) => [p.open, p]));
  assert.equal(pairs['${'].close, '}');
  assert.ok(!(pairs['${'].notIn || []).includes('string'), '${ closes inside strings');
  assert.deepEqual(pairs['"'].notIn, ['string', 'comment']);
  assert.ok(pairs["'"]);
  const increase = new RegExp(config.indentationRules.increaseIndentPattern);
  const decrease = new RegExp(config.indentationRules.decreaseIndentPattern);
  assert.ok(increase.test('step s = GET users "/x" {'));
  assert.ok(increase.test('    query {  # comment'));
  assert.ok(increase.test('let xs = ['));
  assert.ok(!increase.test('log "{"'));
  assert.ok(!increase.test('headers { "a": "b" }'));
  assert.ok(!increase.test('let x = 1  # {'));
  assert.ok(decrease.test('    }'));
  assert.ok(decrease.test('} else {'));
  assert.ok(!decrease.test('log "}"'));
});
