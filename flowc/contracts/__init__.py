"""Service contracts: the documents that describe the services a flow calls.

A service declared ``service petstore openapi "specs/petstore.yaml"`` is checked
against its OpenAPI document.  This package is the document's side of that check:
it reads documents, validates and indexes them, resolves their references, turns
their schemas into flowc types and keeps them in stores.  It sits *below* the
compiler and imports only ``flowc.common``: it knows nothing of flowc's syntax
tree or diagnostics.  Checking a step against an operation, typing a service and
lowering it are compiler phases (``compiler/openapi_service.py``,
``openapi_check.py``, ``openapi_body.py``, ``openapi_lowering.py``), which ask this
package what an operation needs and report in the compiler's words.

Modules:

* ``openapi_document`` reads a document's text (JSON with the standard library,
  YAML with ruamel.yaml) into plain values and finds the line and column of any JSON
  pointer in it, for diagnostics;
* ``openapi_model`` validates the structure flowc relies on, indexes the operations,
  resolves ``$ref``s (inside the document and across files) and keeps the document as
  independently decodable pieces, so a cached document costs only what a flow uses;
* ``openapi_store`` caches loaded documents in memory and on disk, keyed by path and
  content digest, like ``compiler/parse_store.py`` does for parsed flows;
* ``openapi_types`` turns JSON Schemas into flowc types;
* ``openapi_operations`` spells one operation out: parameters, request body,
  responses, security;
* ``openapi_paths`` matches a step's path (as text with numbered placeholders)
  against the document's path templates.

The YAML library is imported only when a YAML document is read, so a program without
an OpenAPI service never pays for it.
"""
