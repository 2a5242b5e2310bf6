"""The flowc language server: editor support for `.flow` files over LSP.

``flowc lsp`` starts it on stdin/stdout (``flowc.lsp.server.serve``).  The
package is split by concern so that each piece can be read, and tested, on
its own:

* ``positions`` — LSP positions (0-based lines, UTF-16 columns by default)
  against compiler spans (1-based lines, code-point columns), and the map from
  a stale analysis' text to the current buffer;
* ``chunks`` — an incremental parse cache: a file is split at its top-level
  declarations and only the declarations whose text changed are re-parsed;
* ``analysis`` — running the checker on a document with unsaved buffers
  overlaid, and the ``Snapshot`` of one analysis that every feature reads;
* ``locate`` and ``scopes`` — what is at a position, what is in scope there;
* ``hover``, ``navigation`` (definition, rename, document symbols),
  ``completion``, ``formatting`` and ``diagnostics`` — the features;
* ``server`` — the pygls server: document events, debouncing, publishing.

Nothing here is imported by ``flowc check``: the ``lsp`` sub-command imports
the server only when it runs.
"""
