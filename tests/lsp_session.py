"""A synchronous driver for `flowc lsp`, built on pytest-lsp's client.

pytest-lsp's ``LanguageClient`` is asyncio code, while this repository runs
pytest-trio in ``trio_mode``: every ``async def`` test is claimed by trio, and
an asyncio client cannot run inside ``trio.run``.  So the LSP tests are plain
(synchronous) functions, and ``LspSession`` owns an asyncio event loop on a
background thread: the client lives there, reading the server's output all
the time, and each call from a test is submitted to that loop with
``run_coroutine_threadsafe`` and waited for with a timeout.  Trio never sees
the client, and pytest-asyncio is not involved.

The server is started exactly as an editor does: ``python -m flowc.cli lsp``
over stdio.  Every ``publishDiagnostics`` notification is recorded in order
(``published``), so tests can wait for the state they expect and count how
many notifications a burst of edits produced.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import attrs
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from flowc.lsp.positions import LineIndex

TIMEOUT = 20.0  # seconds for any single request or wait (server start-up included)

T = TypeVar("T")


@attrs.define
class Published:
    uri: str
    version: int | None
    diagnostics: list[types.Diagnostic]


def position_of(text: str, needle: str, nth: int = 0, shift: int = 0) -> types.Position:
    """The position of the ``nth`` occurrence of ``needle`` (plus ``shift`` characters)."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += shift
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    return types.Position(line=line, character=column)


class LspSession:
    """A running `flowc lsp` process and a client connected to it."""

    def __init__(
        self,
        initialization_options: dict[str, Any] | None = None,
        server_args: tuple[str, ...] = (),
    ) -> None:
        self.server_args = server_args
        self.published: list[Published] = []
        self.versions: dict[str, int] = {}
        self.texts: dict[str, str] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client: LanguageClient = self.call(self._start(initialization_options))

    # ----------------------------------------------------------- plumbing

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
        """Run a coroutine on the client's loop and wait (at most ``timeout``) for it."""
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coroutine, timeout), self.loop)
        return future.result(timeout + 5)

    def _client(self) -> LanguageClient:
        published = self.published

        def record(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
            client.diagnostics[params.uri] = params.diagnostics
            published.append(Published(params.uri, params.version, list(params.diagnostics)))

        client = LanguageClient(converter_factory=default_converter)
        features = dict(DEFAULT_CLIENT_FEATURES)
        features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
        register_lsp_features(client, features)
        return client

    async def _start(self, options: dict[str, Any] | None) -> LanguageClient:
        config = ClientServerConfig(
            server_command=[sys.executable, "-m", "flowc.cli", "lsp", *self.server_args],
            client_factory=self._client,
        )
        client = await config.start()
        assert isinstance(client, LanguageClient)
        self.initialize_result = await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                initialization_options=options,
            )
        )
        return client

    def close(self) -> None:
        try:
            self.call(self._stop(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)

    async def _stop(self) -> None:
        await self.client.shutdown_session()
        await self.client.stop()

    def notify(self, send: Callable[[Any], None], params: Any) -> None:
        """Send a notification from the client's loop (the client is not thread-safe)."""

        async def on_loop() -> None:
            send(params)

        self.call(on_loop())

    @property
    def alive(self) -> bool:
        server = self.client._server
        return server is not None and server.returncode is None

    # ----------------------------------------------------------- documents

    def open(self, path: Path, text: str | None = None) -> str:
        """Open ``path`` (with ``text``, or its contents on disk) in the editor."""
        text = path.read_text(encoding="utf-8") if text is None else text
        uri = path.resolve().as_uri()
        self.versions[uri] = 1
        self.texts[uri] = text
        self.notify(
            self.client.text_document_did_open,
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="flow", version=1, text=text
                )
            ),
        )
        return uri

    def change(self, uri: str, text: str) -> int:
        """Replace the whole buffer; returns the new version."""
        version = self.versions[uri] = self.versions[uri] + 1
        self.texts[uri] = text
        self.notify(
            self.client.text_document_did_change,
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            ),
        )
        return version

    def change_quickly(self, uri: str, texts: list[str]) -> list[int]:
        """Several whole-buffer changes sent back to back, as fast typing does."""
        batch = []
        for text in texts:
            version = self.versions[uri] = self.versions[uri] + 1
            self.texts[uri] = text
            batch.append(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                )
            )

        async def on_loop() -> None:
            for params in batch:
                self.client.text_document_did_change(params)

        self.call(on_loop())
        return [params.text_document.version for params in batch]

    def edit(self, uri: str, start: types.Position, end: types.Position, new_text: str) -> int:
        """An incremental change, as editors send them while typing."""
        index = LineIndex(self.texts[uri])
        old = self.texts[uri]
        self.texts[uri] = old[: index.offset_of(start)] + new_text + old[index.offset_of(end) :]
        version = self.versions[uri] = self.versions[uri] + 1
        self.notify(
            self.client.text_document_did_change,
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=start, end=end), text=new_text
                    )
                ],
            ),
        )
        return version

    def close_document(self, uri: str) -> None:
        self.notify(
            self.client.text_document_did_close,
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)),
        )

    def save(self, uri: str) -> None:
        self.notify(
            self.client.text_document_did_save,
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)),
        )

    # ----------------------------------------------------------- diagnostics

    def mark(self) -> int:
        """A bookmark in the notifications received so far."""
        return len(self.published)

    def wait_for_diagnostics(
        self,
        uri: str,
        accept: Callable[[Published], bool] = lambda p: True,
        since: int = 0,
        timeout: float = TIMEOUT,
    ) -> Published:
        """The first notification for ``uri`` after ``since`` that ``accept`` likes."""
        deadline = time.monotonic() + timeout
        while True:
            for published in self.published[since:]:
                if published.uri == uri and accept(published):
                    return published
            if time.monotonic() > deadline:
                seen = [(p.uri, p.version, len(p.diagnostics)) for p in self.published[since:]]
                raise TimeoutError(f"no matching diagnostics for {uri}; received {seen}")
            if not self.alive:
                raise RuntimeError("the language server exited")
            time.sleep(0.01)

    def publications(self, uri: str, since: int = 0) -> list[Published]:
        return [p for p in self.published[since:] if p.uri == uri]

    # ----------------------------------------------------------- requests

    def hover(self, uri: str, position: types.Position) -> types.Hover | None:
        return self.call(
            self.client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=uri), position=position
                )
            )
        )

    def hover_text(self, uri: str, position: types.Position) -> str:
        found = self.hover(uri, position)
        assert found is not None, f"no hover at {position}"
        contents = found.contents
        assert isinstance(contents, types.MarkupContent)
        return contents.value

    def definition(self, uri: str, position: types.Position) -> list[types.Location]:
        found = self.call(
            self.client.text_document_definition_async(
                types.DefinitionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri), position=position
                )
            )
        )
        if found is None:
            return []
        items = found if isinstance(found, list) else [found]
        return [item for item in items if isinstance(item, types.Location)]

    def completion(self, uri: str, position: types.Position) -> list[types.CompletionItem]:
        found = self.call(
            self.client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri), position=position
                )
            )
        )
        if found is None:
            return []
        return list(found.items if isinstance(found, types.CompletionList) else found)

    def labels(self, uri: str, position: types.Position) -> list[str]:
        return [item.label for item in self.completion(uri, position)]

    def symbols(self, uri: str) -> list[types.DocumentSymbol]:
        found = self.call(
            self.client.text_document_document_symbol_async(
                types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))
            )
        )
        return [s for s in found or [] if isinstance(s, types.DocumentSymbol)]

    def prepare_rename(self, uri: str, position: types.Position) -> Any:
        return self.call(
            self.client.text_document_prepare_rename_async(
                types.PrepareRenameParams(
                    text_document=types.TextDocumentIdentifier(uri=uri), position=position
                )
            )
        )

    def rename(self, uri: str, position: types.Position, new_name: str) -> types.WorkspaceEdit:
        found = self.call(
            self.client.text_document_rename_async(
                types.RenameParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=position,
                    new_name=new_name,
                )
            )
        )
        assert found is not None
        return found

    def formatting(self, uri: str) -> list[types.TextEdit]:
        found = self.call(
            self.client.text_document_formatting_async(
                types.DocumentFormattingParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    options=types.FormattingOptions(tab_size=4, insert_spaces=True),
                )
            )
        )
        return list(found or [])


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """The text after applying LSP edits (non-overlapping, any order)."""
    index = LineIndex(text)
    ordered = sorted(
        edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
    )
    for edit in ordered:
        start, end = index.offset_of(edit.range.start), index.offset_of(edit.range.end)
        text = text[:start] + edit.new_text + text[end:]
    return text
