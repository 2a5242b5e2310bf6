"""The language server: documents, checking in the background, and the features.

``FlowServer`` is a pygls ``LanguageServer`` speaking LSP over stdio.  The
event loop (asyncio, pygls' own) answers requests; the checker runs on a
single worker thread so that a long analysis never delays a completion.

Document life cycle.  ``didOpen`` and ``didSave`` check the document at
once; ``didChange`` (re)starts a short timer (``debounce``, 50 ms by
default, ``initializationOptions.debounceMs`` to change it), so a burst of
keystrokes is checked once, after the last.  When the timer fires the
document's text, and the text of every other open document (the *overlay*:
imports that are open are read from their buffers), are handed to the
worker.  While a check of a document runs, further changes only mark it
dirty; it is checked again as soon as the running check ends, so at most one
check per document is running and one waiting.  A change to a document also
re-checks the open documents that import it.

Publishing.  An analysis reports on every file of its program.  For each
file the server publishes the union of what the open documents' analyses
say about it — except that an open document's own analysis is the only
authority on that document.  Files whose set changed are published (an
empty list clears a file that no longer has diagnostics), and the analysed
document always is, with the version that was analysed.  A result that is
already out of date (the document changed meanwhile and is being checked
again) is not published, but still becomes the document's last analysis.

Features read the document's *last good* snapshot (one whose file parsed),
with positions mapped between its text and the current buffer
(``positions.TextChange``), so hover, definition and completion keep
working while the text does not parse.  Rename needs an up-to-date analysis
and waits for one.

Robustness: every handler runs under ``guard``, which logs an unexpected
exception (to stderr and the client's log) and answers with an empty result;
an exception in a check is logged and the check is dropped.  Nothing a client
sends can stop the server short of ``exit``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from flowc import __version__
from flowc.lsp import completion, diagnostics, formatting, hover, navigation
from flowc.lsp.analysis import Analyzer, Snapshot, path_to_uri, uri_to_path
from flowc.lsp.locate import Resolver, Target
from flowc.lsp.positions import UTF16, LineIndex, TextChange

logger = logging.getLogger("flowc.lsp")

DEFAULT_DEBOUNCE: Final = 0.05
FRESH_TIMEOUT: Final = 10.0
SWITCH_INTERVAL: Final = 0.001

T = TypeVar("T")


@attrs.define(eq=False)
class Document:
    """What the server knows about one open document."""

    uri: str
    path: str
    latest: Snapshot | None = None
    good: Snapshot | None = None
    timer: asyncio.TimerHandle | None = None
    running: bool = False
    dirty: bool = False
    checked: asyncio.Event = attrs.field(factory=asyncio.Event)
    requested: float = 0.0  # when the first change not yet checked arrived


@attrs.define(eq=False)
class View:
    """A snapshot seen from the current buffer: positions mapped between the two texts."""

    snapshot: Snapshot
    text: str
    index: LineIndex
    change: TextChange

    def point(self, position: types.Position) -> tuple[int, int] | None:
        """A buffer position as a (1-based) point of the snapshot's text, if unedited."""
        offset = self.index.offset_of(position)
        change = self.change
        if not change.identical and change.prefix < offset < change.new_length - change.suffix:
            return None
        line, col = self.snapshot.index.line_col(change.to_old(offset))
        return line + 1, col + 1

    def range(self, span: Any) -> types.Range | None:
        """A span of the snapshot's root file as a range of the buffer (None if edited)."""
        start, end = self.snapshot.index.span_offsets(span)
        new_start, new_end = self.change.to_new(start), self.change.to_new(end)
        if new_start is None or new_end is None:
            return None
        return types.Range(
            start=self.index.position_of(new_start), end=self.index.position_of(new_end)
        )


class FlowServer(LanguageServer):
    """The flowc language server."""

    def __init__(self) -> None:
        super().__init__("flowc", __version__)
        self.analyzer = Analyzer()
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="flowc-check"
        )
        self.documents: dict[str, Document] = {}
        self.reports: dict[str, dict[str, list[types.Diagnostic]]] = {}  # root uri -> path -> list
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.debounce = DEFAULT_DEBOUNCE

    # ----------------------------------------------------------- helpers

    @property
    def encoding(self) -> str:
        try:
            value = self.workspace.position_encoding
        except Exception:  # before initialisation
            return UTF16
        return str(getattr(value, "value", value) or UTF16)

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # logging must never fail a request
            logger.debug("could not send a log message", exc_info=True)

    def guard(self, handler: Callable[[Any], T], params: Any, default: T) -> T:
        """Run a handler; log an unexpected exception and answer ``default``."""
        try:
            return handler(params)
        except JsonRpcException:
            raise
        except Exception as error:  # the server must survive anything
            logger.exception("%s failed", getattr(handler, "__name__", "handler"))
            self.log(
                f"flowc: internal error in {handler.__name__}: {error!r}", types.MessageType.Error
            )
            return default

    def uri_of(self, path: str) -> str:
        for document in self.documents.values():
            if document.path == path:
                return document.uri
        return path_to_uri(path)

    def text_of(self, uri: str) -> tuple[str, int | None]:
        document = self.workspace.get_text_document(uri)
        return document.source, document.version

    def overlay(self) -> dict[str, str]:
        texts = {}
        for document in self.documents.values():
            texts[document.path] = self.workspace.get_text_document(document.uri).source
        return texts

    # ----------------------------------------------------------- checking

    def open(self, uri: str) -> None:
        document = self.documents.get(uri)
        if document is None:
            document = self.documents[uri] = Document(uri, uri_to_path(uri))
        self.schedule(uri, 0.0)
        self.schedule_dependents(document.path, 0.0)  # they now read its buffer

    def close(self, uri: str) -> None:
        document = self.documents.pop(uri, None)
        if document is None:
            return
        if document.timer is not None:
            document.timer.cancel()
        report = self.reports.pop(uri, {})
        self.publish_changes({document.path, *report}, analysed=None)
        self.schedule_dependents(document.path)
        with contextlib.suppress(RuntimeError):  # the parse cache is the worker's
            self.executor.submit(self.analyzer.forget, document.path)

    def schedule(self, uri: str, delay: float) -> None:
        document = self.documents.get(uri)
        if document is None:
            return
        if document.timer is None and not document.running:
            document.requested = time.perf_counter()
        if document.timer is not None:
            document.timer.cancel()
        loop = asyncio.get_running_loop()
        document.timer = loop.call_later(delay, self.start_check, uri)

    def schedule_dependents(self, path: str, delay: float | None = None) -> None:
        for document in list(self.documents.values()):
            latest = document.latest
            if document.path != path and latest is not None and path in latest.module_paths:
                self.schedule(document.uri, self.debounce if delay is None else delay)

    def start_check(self, uri: str) -> None:
        document = self.documents.get(uri)
        if document is None:
            return
        document.timer = None
        if document.running:
            document.dirty = True
            return
        try:
            text, version = self.text_of(uri)
        except KeyError:
            return
        request = (uri, document.path, text, version, self.overlay(), self.encoding)
        try:
            future = asyncio.get_running_loop().run_in_executor(
                self.executor, self.analyse, request
            )
        except RuntimeError:  # the executor is shut down: the server is exiting
            return
        document.running = True
        document.checked.clear()
        future.add_done_callback(lambda done: self.finish_check(uri, done))

    def analyse(
        self, request: tuple[str, str, str, int | None, dict[str, str], str]
    ) -> Snapshot | None:
        """Runs on the worker thread."""
        try:
            return self.analyzer.analyze(*request)
        except Exception:  # a checker bug must not stop the server
            logger.exception("checking %s failed", request[0])
            return None

    def finish_check(self, uri: str, done: asyncio.Future[Snapshot | None]) -> None:
        document = self.documents.get(uri)
        snapshot = None if done.cancelled() else done.result()
        if document is None:
            return
        document.running = False
        if snapshot is not None:
            document.latest = snapshot
            if snapshot.good:
                document.good = snapshot
            if not document.dirty and document.timer is None:
                self.guard(self.report, snapshot, None)
                logger.info(
                    "checked %s (version %s) in %.0f ms; %.0f ms after the change",
                    uri,
                    snapshot.version,
                    snapshot.seconds * 1000,
                    (time.perf_counter() - document.requested) * 1000,
                )
        document.checked.set()
        if document.dirty:
            document.dirty = False
            self.start_check(uri)

    def report(self, snapshot: Snapshot) -> None:
        found = diagnostics.by_file(snapshot, self.uri_of)
        previous = self.reports.get(snapshot.uri, {})
        self.reports[snapshot.uri] = found
        self.publish_changes(set(previous) | set(found), analysed=snapshot)

    def diagnostics_for(self, path: str) -> list[types.Diagnostic]:
        for document in self.documents.values():
            if document.path == path and document.uri in self.reports:
                return self.reports[document.uri].get(path, [])
        merged: dict[tuple[Any, ...], types.Diagnostic] = {}
        for report in self.reports.values():
            for item in report.get(path, []):
                start, end = item.range.start, item.range.end
                key = (
                    start.line,
                    start.character,
                    end.line,
                    end.character,
                    item.code,
                    item.message,
                )
                merged.setdefault(key, item)
        return list(merged.values())

    def publish_changes(self, paths: set[str], analysed: Snapshot | None) -> None:
        for path in sorted(paths):
            uri = self.uri_of(path)
            items = self.diagnostics_for(path)
            is_root = analysed is not None and path == analysed.path
            if not is_root and self.published.get(uri, []) == items:
                continue  # unchanged, or nothing to clear
            self.published[uri] = items
            version = analysed.version if is_root and analysed is not None else None
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=items, version=version)
            )

    async def fresh_snapshot(self, uri: str) -> Snapshot | None:
        """The analysis of the document's current text (waiting for it if needed)."""
        document = self.documents.get(uri)
        if document is None:
            return None
        deadline = time.monotonic() + FRESH_TIMEOUT
        while time.monotonic() < deadline:
            text, _ = self.text_of(uri)
            latest = document.latest
            if latest is not None and latest.text == text and not document.running:
                return latest
            if not document.running:
                if document.timer is not None:  # no need to wait for the debounce
                    document.timer.cancel()
                    document.timer = None
                self.start_check(uri)
                if not document.running:
                    return None
            try:
                await asyncio.wait_for(document.checked.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return None

    # ----------------------------------------------------------- views

    def view(self, uri: str) -> View | None:
        """The last good analysis of a document, mapped onto its current text."""
        document = self.documents.get(uri)
        snapshot = document.good if document is not None else None
        if snapshot is None:
            return None
        text, _ = self.text_of(uri)
        return View(snapshot, text, LineIndex(text, self.encoding), TextChange(snapshot.text, text))

    def target_at(self, uri: str, position: types.Position) -> tuple[View, Target] | None:
        view = self.view(uri)
        point = view.point(position) if view is not None else None
        if view is None or point is None:
            return None
        resolver = Resolver(view.snapshot)
        target = resolver.resolve(*point)
        if target is None and point[1] > 1:  # the cursor just after a name
            target = resolver.resolve(point[0], point[1] - 1)
        return (view, target) if target is not None else None

    # ----------------------------------------------------------- features

    def hover(self, params: types.HoverParams) -> types.Hover | None:
        found = self.target_at(params.text_document.uri, params.position)
        if found is None:
            return None
        view, target = found
        text = hover.hover_markdown(view.snapshot, target)
        if text is None:
            return None
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
            range=view.range(target.span),
        )

    def definition(self, params: types.DefinitionParams) -> list[types.Location] | None:
        found = self.target_at(params.text_document.uri, params.position)
        if found is None:
            return None
        view, target = found
        declared = navigation.definition_span(view.snapshot, target)
        if declared is None:
            return None
        path, span = declared
        location = navigation.location(view.snapshot, path, span, self.uri_of)
        if path == view.snapshot.path:
            mapped = view.range(span)
            if mapped is None:
                return None
            location = types.Location(uri=location.uri, range=mapped)
        return [location]

    def completion(self, params: types.CompletionParams) -> types.CompletionList:
        uri = params.text_document.uri
        document = self.documents.get(uri)
        text, _ = self.text_of(uri)
        index = LineIndex(text, self.encoding)
        offset = index.offset_of(params.position)
        snapshot = document.good if document is not None else None
        items = completion.complete(text, offset, snapshot, index)
        return types.CompletionList(is_incomplete=False, items=items)

    def document_symbols(
        self, params: types.DocumentSymbolParams
    ) -> list[types.DocumentSymbol] | None:
        view = self.view(params.text_document.uri)
        if view is None:
            return None
        mapped = (self.map_symbol(view, s) for s in navigation.document_symbols(view.snapshot))
        return [symbol for symbol in mapped if symbol is not None]

    def map_symbol(self, view: View, symbol: types.DocumentSymbol) -> types.DocumentSymbol | None:
        """A document symbol of the snapshot, with ranges of the current buffer."""
        if view.change.identical:
            return symbol
        whole = self.map_range(view, symbol.range)
        selection = self.map_range(view, symbol.selection_range)
        if whole is None or selection is None:
            return None
        mapped = (self.map_symbol(view, child) for child in symbol.children or [])
        children = [child for child in mapped if child is not None]
        return attrs.evolve(symbol, range=whole, selection_range=selection, children=children)

    @staticmethod
    def map_range(view: View, old: types.Range) -> types.Range | None:
        old_index = view.snapshot.index
        start = view.change.to_new(old_index.offset_of(old.start))
        end = view.change.to_new(old_index.offset_of(old.end))
        if start is None or end is None:
            return None
        return types.Range(start=view.index.position_of(start), end=view.index.position_of(end))

    def formatting(self, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
        uri = params.text_document.uri
        text, _ = self.text_of(uri)
        return formatting.format_edits(text, uri_to_path(uri), self.encoding)

    async def prepare_rename(
        self, params: types.PrepareRenameParams
    ) -> types.PrepareRenamePlaceholder | None:
        snapshot = await self.fresh_snapshot(params.text_document.uri)
        if snapshot is None or not snapshot.good:
            return None
        line, col = snapshot.index.line_col(snapshot.index.offset_of(params.position))
        target = Resolver(snapshot).resolve(line + 1, col + 1)
        symbol = navigation.rename_symbol(snapshot, target)
        if symbol is None or target is None:
            return None
        return types.PrepareRenamePlaceholder(
            range=snapshot.index.span_range(target.span), placeholder=symbol.name
        )

    async def rename(self, params: types.RenameParams) -> types.WorkspaceEdit | None:
        uri = params.text_document.uri
        snapshot = await self.fresh_snapshot(uri)
        if snapshot is None or not snapshot.good:
            return None
        line, col = snapshot.index.line_col(snapshot.index.offset_of(params.position))
        target = Resolver(snapshot).resolve(line + 1, col + 1)
        symbol = navigation.rename_symbol(snapshot, target)
        if symbol is None:
            raise JsonRpcInvalidParams(
                "only bindings and steps declared in this file can be renamed"
            )
        try:
            edits = navigation.rename_edits(snapshot, symbol, params.new_name)
        except navigation.RenameError as error:
            raise JsonRpcInvalidParams(str(error)) from None
        return types.WorkspaceEdit(changes={uri: edits})

    def warm_up(self) -> None:
        """Load both parsers and the standard library on the worker thread."""

        def work() -> None:
            from flowc.compiler import compile_source
            from flowc.compiler.parser_interactive import interactive_grammar

            started = time.perf_counter()
            compile_source('flow warm_up(n: int) { log "${size([n])}" }', "<warm-up>.flow")
            interactive_grammar()
            gc.collect()
            gc.freeze()  # start-up objects (grammars, protocol types) are never freed
            logger.info("warmed up in %.0f ms", (time.perf_counter() - started) * 1000)

        self.executor.submit(work)


def build_server() -> FlowServer:
    """A server with every feature registered."""
    server = FlowServer()

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict) and isinstance(options.get("debounceMs"), int | float):
            server.debounce = max(0.0, float(options["debounceMs"]) / 1000)
        server.warm_up()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        server.guard(server.open, params.text_document.uri, None)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri

        def changed(uri: str) -> None:
            server.schedule(uri, server.debounce)
            document = server.documents.get(uri)
            if document is not None:
                server.schedule_dependents(document.path)

        server.guard(changed, uri, None)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri

        def saved(uri: str) -> None:
            server.schedule(uri, 0.0)
            document = server.documents.get(uri)
            if document is not None:
                server.schedule_dependents(document.path, 0.0)

        server.guard(saved, uri, None)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        server.guard(server.close, params.text_document.uri, None)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        for change in params.changes:
            server.guard(server.schedule_dependents, uri_to_path(change.uri), None)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(params: types.HoverParams) -> types.Hover | None:
        return server.guard(server.hover, params, None)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def on_definition(params: types.DefinitionParams) -> list[types.Location] | None:
        return server.guard(server.definition, params, None)

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=[".", " ", '"', "/"]),
    )
    def on_completion(params: types.CompletionParams) -> types.CompletionList:
        empty = types.CompletionList(is_incomplete=False, items=[])
        return server.guard(server.completion, params, empty)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(params: types.DocumentSymbolParams) -> list[types.DocumentSymbol] | None:
        return server.guard(server.document_symbols, params, None)

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def on_formatting(params: types.DocumentFormattingParams) -> list[types.TextEdit]:
        return server.guard(server.formatting, params, [])

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    async def on_prepare_rename(
        params: types.PrepareRenameParams,
    ) -> types.PrepareRenamePlaceholder | None:
        try:
            return await server.prepare_rename(params)
        except Exception:
            logger.exception("prepareRename failed")
            return None

    @server.feature(types.TEXT_DOCUMENT_RENAME)
    async def on_rename(params: types.RenameParams) -> types.WorkspaceEdit | None:
        try:
            return await server.rename(params)
        except JsonRpcException:
            raise
        except Exception:
            logger.exception("rename failed")
            return None

    @server.feature(types.SHUTDOWN)
    def on_shutdown(params: None) -> None:
        for document in server.documents.values():
            if document.timer is not None:
                document.timer.cancel()
        server.executor.shutdown(wait=False, cancel_futures=True)

    return server


def serve() -> None:
    """Run the server on stdin/stdout until the client says ``exit``.

    The checker thread and the event loop share the GIL; a short switch
    interval lets a request that arrives during a check get the interpreter
    within a millisecond instead of five.
    """
    sys.setswitchinterval(SWITCH_INTERVAL)
    build_server().start_io()
