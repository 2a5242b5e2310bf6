'use strict';
// The flowc extension for VS Code.
//
// Highlighting comes from syntaxes/flow.tmLanguage.json and editing behaviour
// from language-configuration.json; this file adds what needs code:
//
// * the language client: it runs `flowc lsp` (the executable is the setting
//   `flowc.path`, default `flowc` on PATH) and talks LSP with it over the
//   process's stdin/stdout.  Diagnostics, completion, hover and whatever else
//   the server offers come from there.  The client restarts when `flowc.path`
//   changes and on the command "flowc: Restart Language Server"; when the
//   server cannot be started the extension says so once and keeps working as
//   a highlighter.
// * brace folding (folding.js), since VS Code folds by indentation otherwise.

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');
const { foldingRanges } = require('./folding');

const LANGUAGE = 'flow';

/** @type {LanguageClient | undefined} */
let client;

/** How to start the server: `<flowc.path> lsp`, speaking LSP on stdio. */
function serverOptions() {
  const configured = vscode.workspace.getConfiguration('flowc').get('path');
  const command = typeof configured === 'string' && configured.trim() !== '' ? configured.trim() : 'flowc';
  // No `transport` on purpose: with TransportKind.stdio the client would add
  // a `--stdio` argument; left out, it spawns `flowc lsp` and uses its
  // stdin/stdout as they are.
  return { command, args: ['lsp'] };
}

function clientOptions() {
  return {
    documentSelector: [
      { scheme: 'file', language: LANGUAGE },
      { scheme: 'untitled', language: LANGUAGE },
    ],
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.flow'),
    },
  };
}

async function startClient() {
  const options = serverOptions();
  const candidate = new LanguageClient('flowc', 'flowc language server', options, clientOptions());
  client = candidate;
  try {
    await candidate.start();
  } catch (error) {
    if (client === candidate) client = undefined;
    const message = error instanceof Error ? error.message : String(error);
    vscode.window.showErrorMessage(
      `Could not start the flowc language server (\`${options.command} lsp\`): ${message}. ` +
        'Install flowc or set "flowc.path" to its executable.',
    );
  }
}

async function stopClient() {
  const running = client;
  client = undefined;
  if (running !== undefined) {
    try {
      await running.stop();
    } catch {
      // Already stopped or never started: nothing to undo.
    }
  }
}

async function restartClient() {
  await stopClient();
  await startClient();
}

function foldingKind(kind) {
  if (kind === 'comment') return vscode.FoldingRangeKind.Comment;
  if (kind === 'region') return vscode.FoldingRangeKind.Region;
  return undefined;
}

/** @param {import('vscode').ExtensionContext} context */
async function activate(context) {
  context.subscriptions.push(
    vscode.languages.registerFoldingRangeProvider(
      { language: LANGUAGE },
      {
        provideFoldingRanges(document) {
          return foldingRanges(document.getText()).map(
            (r) => new vscode.FoldingRange(r.start, r.end, foldingKind(r.kind)),
          );
        },
      },
    ),
    vscode.commands.registerCommand('flowc.restartServer', restartClient),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('flowc.path')) return restartClient();
      return undefined;
    }),
    { dispose: () => void stopClient() },
  );
  await startClient();
}

function deactivate() {
  return stopClient();
}

module.exports = { activate, deactivate, serverOptions };
