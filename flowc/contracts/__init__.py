"""Service contracts: the documents that describe the services a flow calls.

A service declared ``service petstore openapi "specs/petstore.yaml"`` is checked
against its OpenAPI document: the checker asks this package whether a step's method
and path are an operation of the document, which parameters it needs and of which
types, what its request body looks like, and what each of its responses decodes to.
The package sits on the compiler's floor (it reports through the compiler's
messages and checks expressions with the compiler's checker) and never imports the
runtime; the runtime sees only what lowering puts in the IR (base URL, auth scheme,
the types a response body is validated against).

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
* ``openapi_paths`` matches a step's path against the document's path templates;
* ``openapi_check`` checks a step against its operation and gives its value's type;
* ``openapi_auth`` maps the document's security schemes to the service's ``auth``.

The YAML library is imported only when a YAML document is read, so a program without
an OpenAPI service never pays for it.
"""
